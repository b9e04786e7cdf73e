//! The shared check of the blocking-call families (IL101–IL105, IL107): a call in async context
//! whose callee the blocking table assigns to the rule.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{Call, Context, FileModel, Function, FunctionKind};

/// Reports the calls in async code that the blocking table assigns to `code`.
/// `why` completes the sentence "`callee` in async function `f` …".
pub fn check(model: &FileModel, code: Code, why: &str, out: &mut Vec<Diagnostic>) {
    for (function, call) in model.calls() {
        if call.context != Context::Async || call.non_blocking || call.awaited {
            continue;
        }
        if is_future_result_after_await(function, call) {
            continue;
        }
        let Some(api) = &call.blocking else {
            continue;
        };
        if api.rule != code {
            continue;
        }
        let callee = display_callee(call);
        let place = describe(function, model);
        let mut diagnostic = Diagnostic::new(
            code,
            model.path.clone(),
            call.span.clone(),
            format!("{callee} in {place} {why}"),
        )
        .with_label(format!("{callee} blocks the event loop here"));
        if let Some(alternative) = &api.alternative {
            diagnostic = diagnostic.with_help(format!("use {alternative}"));
        }
        out.push(diagnostic);
    }
}

/// `fut.result()` after an `await` in the same function: the future has almost always been
/// awaited to completion (`await asyncio.wrap_future(fut)`, `await done_event.wait()`), and
/// `result()` of a finished future returns at once.
fn is_future_result_after_await(function: &Function, call: &Call) -> bool {
    let is_future_result = call
        .callee
        .as_deref()
        .is_some_and(|c| c.ends_with("Future.result") || c.ends_with("Future.exception"));
    is_future_result && function.awaits.iter().any(|a| a.start < call.span.start)
}

/// `time.sleep()`, `.run_until_complete()`.
fn display_callee(call: &Call) -> String {
    match (&call.callee, &call.method) {
        (Some(callee), _) => format!("`{callee}()`"),
        (None, Some(method)) => format!("`.{method}()`"),
        (None, None) => "this call".to_string(),
    }
}

/// "async function `serve`", "an async block in `main`".
pub fn describe(function: &Function, model: &FileModel) -> String {
    match function.kind {
        FunctionKind::AsyncBlock => match function.parent.map(|p| &model.functions[p]) {
            Some(parent) if parent.kind != FunctionKind::Module => {
                format!("an async block in `{}`", parent.name)
            }
            _ => "an async block".to_string(),
        },
        FunctionKind::Closure => "an async closure".to_string(),
        _ => format!("async function `{}`", function.name),
    }
}

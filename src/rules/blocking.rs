//! The shared check of the blocking-call families (IL101–IL105, IL107): a call in async context
//! whose callee the blocking table assigns to the rule.

use rustc_hash::FxHashMap as HashMap;

use super::ProjectContext;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::{CallSite, Project};
use crate::knowledge::{LanguageTables, Returns};
use crate::model::{
    BlockingApi, Call, Context, FileModel, Function, FunctionKind, Language, Receiver, concat,
};

/// Completes "`l.blocking_read()` in async function `f` …" (IL107).
const BLOCKING_HALF: &str = "blocks the runtime's thread until an async lock or channel is ready: Tokio panics (\"Cannot block the current thread from within a runtime\"), and without that check the task that would make it ready could never run on this thread";

/// Reports the calls in async code that the blocking table assigns to `code`.
/// `why` completes the sentence "`callee` in async function `f` …".
pub fn check(model: &FileModel, code: Code, why: &str, out: &mut Vec<Diagnostic>) {
    for function in &model.functions {
        for (index, call) in function.calls.iter().enumerate() {
            if let Some(api) = &call.blocking
                && api.rule == code
                && reportable(function, call)
            {
                let callee = display_callee(call);
                let mut found = diagnostic(model, function, call, api, callee, code, why);
                show_file_uses(model, function, index, &mut found);
                out.push(found);
            }
        }
    }
}

/// Adds the blocking method calls on the file a call opened (`f.read()` after `f = open(p)`)
/// as related sites: one finding for the file's I/O, at the `open()`.
fn show_file_uses(model: &FileModel, function: &Function, opening: usize, found: &mut Diagnostic) {
    for (_, span) in function
        .file_uses
        .iter()
        .filter(|(by, _)| *by as usize == opening)
    {
        found.related.push(Related {
            path: model.path.clone(),
            span: span.clone(),
            message: "the opened file is read or written here, blocking too".into(),
        });
    }
}

/// [`check`] for the calls that block only once the project's types are known
/// ([`late_blocking`]): `jobs.get()` after `from app.queues import jobs`.
pub fn check_late(context: &ProjectContext, code: Code, why: &str, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    for (site, late) in context.late_blocking() {
        let (function, call) = (project.function(site.caller), project.call(*site));
        if late.api.rule == code && reportable(function, call) {
            let model = project.model(site.caller);
            let callee = format!("{} (`{}()`)", display_late_callee(call), late.typed);
            out.push(diagnostic(
                model, function, call, &late.api, callee, code, why,
            ));
        }
    }
}

/// Whether a blocking call is reported where it is: in async code, not asked to be
/// non-blocking, not awaited, not the result of a future already awaited.
fn reportable(function: &Function, call: &Call) -> bool {
    call.context == Context::Async
        && !call.non_blocking
        && !call.awaited
        && !is_future_result_after_await(function, call)
}

fn diagnostic(
    model: &FileModel,
    function: &Function,
    call: &Call,
    api: &BlockingApi,
    callee: String,
    code: Code,
    why: &str,
) -> Diagnostic {
    let place = describe(function, model);
    // tokio's blocking halves of its primitives (`blocking_lock`, `blocking_recv`) start no
    // loop: they wait for an async primitive on the runtime's own thread.
    let why = match (code, call.method.as_deref()) {
        (Code::IL107, Some(method)) if method.starts_with("blocking_") => BLOCKING_HALF,
        (Code::IL107, _) if model.language == Language::Rust => {
            super::nested_event_loop::why_rust(call.callee.as_deref())
        }
        _ => why,
    };
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
    diagnostic
}

/// A call that blocks once the project's types are known.
#[derive(Clone, Debug)]
pub struct LateBlocking {
    /// The callee with its receiver's type (`queue.Queue.get`).
    pub typed: String,
    pub api: BlockingApi,
}

/// Every call of the project that the blocking tables assign to a rule only once the project's
/// types are known: a method called on a module-level object or class attribute another file
/// defines (`jobs.get()` after `from app.queues import jobs`, `repo.inbox.get()` with `repo:
/// Repo` from another module).
pub fn late_blocking<'t>(
    project: &Project,
    tables: impl Fn(usize) -> &'t LanguageTables,
) -> HashMap<CallSite, LateBlocking> {
    let mut found = HashMap::default();
    let mut reexported: HashMap<(usize, &str, Option<&str>), Option<LateBlocking>> =
        HashMap::default();
    let mut method_names: HashMap<usize, rustc_hash::FxHashSet<&'t str>> = HashMap::default();
    // Receivers repeat (`self.sock`, `os.path`): each is typed once.
    let mut receiver_types: HashMap<(&str, &str), Option<&str>> = HashMap::default();
    for (caller, function) in project.functions() {
        let model = project.model(caller);
        let separator = model.language.path_separator();
        for (index, call) in function.calls.iter().enumerate() {
            let (None, Some(callee)) = (&call.blocking, &call.callee) else {
                continue;
            };
            let site = CallSite {
                caller,
                call: index,
            };
            // A function re-exported by another file (`helix_lsp::block_on` is `pub use
            // futures_executor::block_on`). Callees repeat across files: each is looked up once
            // per set of tables.
            if project.target(site).is_none() {
                let file_tables = tables(caller.file);
                let key = (
                    std::ptr::from_ref(file_tables) as usize,
                    callee.as_str(),
                    call.method.as_deref(),
                );
                let reexported = reexported.entry(key).or_insert_with(|| {
                    let std::borrow::Cow::Owned(typed) = project.index.unalias(callee, separator)
                    else {
                        return None;
                    };
                    let api = file_tables.blocking_api(Some(&typed), call.method.as_deref())?;
                    Some(LateBlocking {
                        typed,
                        api: api.clone(),
                    })
                });
                if let Some(late) = reexported {
                    found.insert(site, late.clone());
                    continue;
                }
            }
            let Some(method) = &call.method else {
                continue;
            };
            // A method of the project itself is followed by the summaries instead, unless it
            // overrides a blocking library method: an override keeps the contract of what it
            // overrides (`shutdown(wait=True)` of a `ThreadPoolExecutor` subclass waits).
            if let Some(target) = project.target(site) {
                // Only a method named like a blocking library method can override one.
                let file_tables = tables(caller.file);
                let names = method_names
                    .entry(std::ptr::from_ref(file_tables) as usize)
                    .or_insert_with(|| {
                        file_tables
                            .blocking
                            .keys()
                            .filter_map(|name| name.rsplit_once('.').map(|(_, last)| last))
                            .collect()
                    });
                if !names.contains(method.as_str()) {
                    continue;
                }
                if let Some((typed, api)) =
                    overridden_blocking(project, target, method, file_tables)
                {
                    found.insert(site, LateBlocking { typed, api });
                }
                continue;
            }
            let Some((receiver, _)) = crate::source::rsplit_separator(callee, separator) else {
                continue;
            };
            let ty = *receiver_types
                .entry((receiver, separator))
                .or_insert_with(|| project.index.type_of(receiver, separator));
            let Some(ty) = ty else {
                continue;
            };
            let typed = concat(&[ty, separator, method]);
            if let Some(api) = tables(caller.file).blocking_api(Some(&typed), Some(method)) {
                let api = api.clone();
                found.insert(
                    CallSite {
                        caller,
                        call: index,
                    },
                    LateBlocking { typed, api },
                );
            }
        }
    }
    found
}

/// The blocking library method a project method overrides and reimplements (without calling
/// it), found through its class's bases (project classes first, up to the first library base
/// that has the method).
fn overridden_blocking(
    project: &Project,
    method_id: crate::graph::FunctionId,
    method: &str,
    tables: &LanguageTables,
) -> Option<(String, BlockingApi)> {
    // Python classes only: a Rust `impl Trait for Type` is not an override of a blocking body.
    if project.model(method_id).language != crate::model::Language::Python {
        return None;
    }
    let function = project.function(method_id);
    let separator = ".";
    let (class, name) = crate::source::rsplit_separator(&function.canonical, separator)?;
    if name != method || !project.index.is_class(class) {
        return None;
    }
    // An override that calls what it overrides (`super().get(block=False)`) shows how it
    // blocks: its body decides, through the summaries.
    let delegates = function.calls.iter().any(|call| {
        call.receiver == Receiver::Own
            && call.method.as_deref() == Some(method)
            && call.callee.is_some()
    });
    if delegates {
        return None;
    }
    let mut classes = vec![class];
    for _ in 0..8 {
        let mut next = Vec::new();
        for class in classes {
            for base in project.index.bases(class) {
                if project.index.is_class(base) {
                    next.push(*base);
                    continue;
                }
                // A library class under the name the tables know it by
                // (`concurrent.futures.thread.ThreadPoolExecutor`).
                let known = match tables.returns.get(*base) {
                    Some(Returns::One(ty)) => ty.as_str(),
                    _ => base,
                };
                let typed = concat(&[known, separator, method]);
                if let Some(api) = tables.blocking_api(Some(&typed), Some(method)) {
                    return Some((typed, api.clone()));
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        classes = next;
    }
    None
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
/// A call typed in the project phase, by its receiver's last name and its method
/// (`spool_path.unlink()` for `app.types.Message.frame_ref.spool_path.unlink`): its type is
/// shown next to it.
fn display_late_callee(call: &Call) -> String {
    let (Some(callee), Some(method)) = (&call.callee, &call.method) else {
        return display_callee(call);
    };
    let receiver = callee
        .strip_suffix(method.as_str())
        .map(|r| r.trim_end_matches(['.', ':']))
        .and_then(|r| r.rsplit(['.', ':']).next())
        .filter(|r| !r.is_empty() && !r.contains('('));
    match receiver {
        Some(receiver) => format!("`{receiver}.{method}()`"),
        None => display_callee(call),
    }
}

fn display_callee(call: &Call) -> String {
    match (&call.callee, &call.method) {
        // A method of what another call returns (`f.into_std().await.write_all(..)`): the
        // callee is named after that call, which means nothing to a reader.
        (Some(callee), Some(method)) if callee.contains(".()") => format!("`.{method}()`"),
        (Some(callee), _) => format!("`{callee}()`"),
        (None, Some(method)) => format!("`.{method}()`"),
        (None, None) => "this call".to_string(),
    }
}

/// "async function `serve`", "an async block in `main`", "a closure that runs on the event
/// loop in `read`".
pub fn describe(function: &Function, model: &FileModel) -> String {
    match function.kind {
        FunctionKind::AsyncBlock => match function.parent.map(|p| &model.functions[p]) {
            Some(parent) if parent.kind != FunctionKind::Module => {
                format!("an async block in `{}`", parent.name)
            }
            _ => "an async block".to_string(),
        },
        FunctionKind::Closure => "an async closure".to_string(),
        // A sync function's call that runs on the event loop: in a closure given to a future
        // combinator whose future is awaited or spawned (`stream.for_each(|x| ..)`).
        _ if !function.is_async && model.language == crate::model::Language::Rust => {
            format!(
                "a closure that runs on the event loop in `{}`",
                function.name
            )
        }
        // A callback the event loop calls (`asyncio.Protocol.data_received`).
        _ if !function.is_async
            && function
                .name
                .rsplit('.')
                .next()
                .is_some_and(|name| crate::model::PROTOCOL_CALLBACKS.contains(&name)) =>
        {
            format!(
                "`{}`, which the event loop calls on its own thread,",
                function.name
            )
        }
        _ => format!("async function `{}`", function.name),
    }
}

//! IL502 dangling-task (Python): the task returned by `asyncio.create_task`/`ensure_future`/
//! `loop.create_task` is discarded, so the event loop's weak reference is the only one left.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::{Call, FileModel, Language, ResultUse};

pub const RULE: Rule = Rule {
    code: Code::IL502,
    check: Check::File(check),
};

fn check(model: &FileModel, knowledge: &Knowledge, out: &mut Vec<Diagnostic>) {
    if model.language != Language::Python {
        return;
    }
    for (index, function) in model.functions.iter().enumerate() {
        for call in &function.calls {
            check_call(model, knowledge, index, call, out);
        }
    }
}

fn check_call(
    model: &FileModel,
    knowledge: &Knowledge,
    function: usize,
    call: &Call,
    out: &mut Vec<Diagnostic>,
) {
    let Some(callee) = call.callee.as_deref() else {
        return;
    };
    if !knowledge.task_spawners.contains(callee) {
        return;
    }
    let awaits_later = || {
        model.functions[function]
            .awaits
            .iter()
            .any(|a| a.start > call.span.end)
    };
    let what = match &call.result {
        ResultUse::Discarded => "is discarded".to_string(),
        // `task = loop.create_task(...)` and `task` never read: dropped when the function
        // returns. A function that awaits afterwards keeps it alive meanwhile on purpose.
        ResultUse::Bound(variable)
            if !model.reads_name(function, variable, true) && !awaits_later() =>
        {
            format!("is stored in `{variable}`, which is never used before the function returns")
        }
        _ => return,
    };
    let short = callee.rsplit('.').next().unwrap_or(callee);
    out.push(
        Diagnostic::new(
            RULE.code,
            model.path.clone(),
            call.span.clone(),
            format!(
                "the task returned by `{short}()` {what}: the event loop keeps only a weak reference to it, so it can be garbage-collected before it finishes, and its exceptions are never seen"
            ),
        )
        .with_label("task created and dropped here")
        .with_help("keep a reference (`task = …; background.add(task); task.add_done_callback(background.discard)`), await it, or use `asyncio.TaskGroup`"),
    );
}

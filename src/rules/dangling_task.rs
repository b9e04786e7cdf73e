//! IL502 dangling-task (Python): the task returned by `asyncio.create_task`/`ensure_future`/
//! `loop.create_task` is discarded, so the event loop's weak reference is the only one left.

use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::knowledge::Knowledge;
use crate::model::{Call, FileModel, Language, ResultUse};

pub const RULE: Rule = Rule {
    code: Code::IL502,
    check: Check::FileAndProject(check, check_project),
};

fn check(model: &FileModel, knowledge: &Knowledge, out: &mut Vec<Diagnostic>) {
    if model.language != Language::Python {
        return;
    }
    for (index, function) in model.functions.iter().enumerate() {
        for (position, call) in function.calls.iter().enumerate() {
            if let Some(callee) = call.callee.as_deref()
                && knowledge.task_spawners.contains(callee)
                && !wraps_future(call, argument_call(&function.calls, position))
            {
                let short = callee.rsplit('.').next().unwrap_or(callee);
                report_if_dropped(model, index, call, short, None, out);
            }
        }
    }
}

/// The call made among the arguments of the call at `position` (the one recorded after it,
/// within its parentheses), if there is one.
fn argument_call(calls: &[Call], position: usize) -> Option<&Call> {
    let call = calls.get(position)?;
    calls.get(position + 1).filter(|argument| {
        argument.span.start > call.span.start && argument.span.end <= call.span.end
    })
}

/// `ensure_future(loop.run_in_executor(pool, f))`: given a future, not a coroutine,
/// `ensure_future` returns it as it is and creates no task (the executor's callback keeps the
/// future alive). `argument` is the call among its arguments (see [`argument_call`]).
fn wraps_future(call: &Call, argument: Option<&Call>) -> bool {
    call.callee.as_deref() == Some("asyncio.ensure_future")
        && argument.is_some_and(|argument| {
            argument.scheduled
                && matches!(
                    argument.method.as_deref(),
                    Some("run_in_executor" | "create_future" | "wrap_future")
                )
        })
}

/// Calls of a project function that creates a task and returns it without keeping a
/// reference itself (`def spawn(coro) -> asyncio.Task: return asyncio.create_task(coro)`):
/// dropping its result drops the task. Also `create_task` of an object only the project types
/// as an event loop (`self.loop = self._context.loop`, the context given by its creator).
fn check_project(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    for (id, function) in project.functions() {
        let model = project.model(id);
        if model.language != Language::Python {
            continue;
        }
        let knowledge = &context.file(id).settings.knowledge;
        for (position, call) in function.calls.iter().enumerate() {
            let site = crate::graph::CallSite {
                caller: id,
                call: position,
            };
            let (Some(callee), Some(method)) = (call.callee.as_deref(), call.method.as_deref())
            else {
                continue;
            };
            // Only a method some spawner has may be one once its receiver is typed.
            let spawner_method = knowledge
                .task_spawners
                .iter()
                .any(|spawner| spawner.rsplit('.').next() == Some(method));
            if !spawner_method
                || knowledge.task_spawners.contains(callee)
                || project.target(site).is_some()
            {
                continue;
            }
            let Some((receiver, _)) = callee.rsplit_once('.') else {
                continue;
            };
            let Some(ty) = project.index.type_of(receiver, ".") else {
                continue;
            };
            let typed = crate::model::concat(&[ty, ".", method]);
            if knowledge.task_spawners.contains(&typed)
                && !wraps_future(call, argument_call(&function.calls, position))
            {
                report_if_dropped(model, id.index, call, method, None, out);
            }
        }
        for (position, call, target) in project.resolved_calls(id) {
            if !matches!(call.result, ResultUse::Discarded | ResultUse::Bound(_)) {
                continue;
            }
            let wrapper = project.function(target);
            // `def fire(obj): return asyncio.ensure_future(obj)`: a task when the caller gives
            // it a coroutine (`fire(send(msg))`).
            let task = match project.index.returned_type(&wrapper.canonical) {
                Some("asyncio.Task") => true,
                Some("asyncio.Future") => given_coroutine(project, id, position),
                _ => false,
            };
            if !task
                // A wrapper that stores the task (`self._tasks.add(task)`) keeps it alive.
                || !wrapper.container_changes.is_empty()
                || !wrapper.state_writes.is_empty()
            {
                continue;
            }
            let knowledge = &context.file(target).settings.knowledge;
            let Some(spawn) = wrapper.calls.iter().find(|c| {
                c.callee
                    .as_deref()
                    .is_some_and(|callee| knowledge.task_spawners.contains(callee))
            }) else {
                continue;
            };
            // A wrapper that files the task after creating it (`self.children.append(task)`)
            // keeps it alive too.
            let files_it = wrapper.calls.iter().any(|c| {
                c.span.start > spawn.span.end
                    && c.method.as_deref().is_some_and(|m| STORES.contains(&m))
            });
            if files_it {
                continue;
            }
            let related = Related {
                path: project.model(target).path.clone(),
                span: spawn.span.clone(),
                message: format!("`{}` creates the task here and returns it", wrapper.name),
            };
            report_if_dropped(model, id.index, call, &wrapper.name, Some(related), out);
        }
    }
}

/// Whether the call at `position` of `caller` is given a coroutine: a call of a project
/// `async def` among its arguments (see [`argument_call`]).
fn given_coroutine(
    project: &crate::graph::Project,
    caller: crate::graph::FunctionId,
    position: usize,
) -> bool {
    let argument = crate::graph::CallSite {
        caller,
        call: position + 1,
    };
    argument_call(&project.function(caller).calls, position).is_some_and(|inner| {
        !inner.awaited
            && project
                .target(argument)
                .is_some_and(|target| project.function(target).is_async)
    })
}

/// Methods that put their argument into a container (a list, set, deque or queue).
const STORES: &[&str] = &[
    "append",
    "appendleft",
    "add",
    "extend",
    "insert",
    "put",
    "put_nowait",
];

/// Reports the task `call` returns (named `name` in the message) if the caller drops it;
/// `created` points at where a project wrapper creates it.
fn report_if_dropped(
    model: &FileModel,
    function: usize,
    call: &Call,
    name: &str,
    created: Option<Related>,
    out: &mut Vec<Diagnostic>,
) {
    // The function lets the loop run while its locals live: it awaits, yields (a generator
    // coroutine: tornado's `yield`), or runs the loop itself (`loop.run_forever()`).
    let awaits_later = || {
        let caller = &model.functions[function];
        caller.generator
            || caller.awaits.iter().any(|a| a.start > call.span.end)
            || caller.calls.iter().any(|c| {
                c.span.start > call.span.end
                    && matches!(
                        c.method.as_deref(),
                        Some("run_forever" | "run_until_complete")
                    )
            })
    };
    let what = match &call.result {
        ResultUse::Discarded => "is discarded".to_string(),
        // `task = loop.create_task(...)` and `task` never read: dropped when the function
        // returns. A function that awaits afterwards keeps it alive meanwhile on purpose.
        // Registering a callback with it is no use of it (see `TASK_CALLBACK_METHODS`).
        ResultUse::Bound(variable)
            if !model.reads_name(function, variable, true, call.span.end)
                && !model.returns_name(function, variable, call.span.end)
                && !awaits_later() =>
        {
            format!("is stored in `{variable}`, which nothing keeps once the function returns")
        }
        _ => return,
    };
    let mut diagnostic = Diagnostic::new(
        RULE.code,
        model.path.clone(),
        call.span.clone(),
        format!(
            "the task returned by `{name}()` {what}: the event loop keeps only a weak reference to it, so it can be garbage-collected before it finishes, and its exceptions are never seen"
        ),
    )
    .with_label("task created and dropped here")
    .with_help("keep a reference (`task = …; background.add(task); task.add_done_callback(background.discard)`), await it, or use `asyncio.TaskGroup`");
    diagnostic.related.extend(created);
    out.push(diagnostic);
}

//! IL501 coroutine-never-awaited: a coroutine function is called and its coroutine is thrown
//! away (or bound to a name that is never used), so its body never runs; in Rust, an `async
//! fn`'s future dropped by a statement.

use rustc_hash::FxHashMap as HashMap;

use super::{Check, ProjectContext, Rule, call_site};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::graph::{CallSite, FunctionId, Project};
use crate::model::{Context, FunctionKind, Language, ResultUse};

pub const RULE: Rule = Rule {
    code: Code::IL501,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    discarded_like_awaited(context.project, out);
    let project = context.project;
    for (caller, function) in project.functions() {
        let model = project.model(caller);
        if model.language == Language::Rust {
            dropped_futures(context, caller, out);
            continue;
        }
        for (index, call) in function.calls.iter().enumerate() {
            if call.awaited {
                continue;
            }
            // A coroutine returned from a sync function is the caller's to await (a factory);
            // from an async one, its caller's `await` gets the coroutine, not its result.
            let returned_unawaited = call.result == ResultUse::Returned && function.is_async;
            if call.result == ResultUse::Used
                || (call.result == ResultUse::Returned && !returned_unawaited)
            {
                continue;
            }
            let site = CallSite {
                caller,
                call: index,
            };
            // A decorator may run the coroutine or wrap it in something else (`@work` starts a
            // worker, `@gen_test` runs it): only undecorated ones, and those whose decorators
            // keep a coroutine function one, surely return a coroutine.
            let target = project.target(site);
            let project_coroutine = target.filter(|id| is_coroutine_function(project, *id));
            // A sync factory (`def load(self): return self._engine.load()`) hands back the
            // coroutine of the coroutine function it calls.
            let factory = target
                .filter(|_| project_coroutine.is_none())
                .and_then(|id| returned_coroutine(project, id));
            let reported = project_coroutine.or_else(|| factory.and(target));
            let name = match (reported, call.callee.as_deref()) {
                (Some(target), _) => project.function(target).name.clone(),
                (None, Some(callee))
                    if context
                        .file(caller)
                        .settings
                        .knowledge
                        .coroutine_functions
                        .contains(callee) =>
                {
                    callee.to_string()
                }
                _ => continue,
            };
            // A call of an object: `SyncToAsync(...)()` reads better than its `__call__`.
            let name = match name.strip_suffix(".__call__") {
                Some(class) => format!("{class}(...)"),
                None => name,
            };
            // Only for coroutine calls: whether a bound result is read (a scan of the file); an
            // attribute read (`grade.score`) is not a use: a coroutine has none of the result's.
            // Reads before the binding (`raid = Raid.from_data(raid)`) are of another value.
            let bound_at = call.span.end;
            if let ResultUse::Bound(variable) = &call.result
                && model.reads_name(caller.index, variable, false, bound_at)
            {
                continue;
            }
            // `data = describe(df); return data` from an async function: returned un-awaited.
            let returned_local = matches!(&call.result, ResultUse::Bound(variable)
                if model.returns_name(caller.index, variable, bound_at));
            let never_awaited = "coroutine created and never awaited";
            let (message, label, help) = match &call.result {
                ResultUse::Bound(variable) if returned_local => (
                    format!(
                        "the coroutine returned by `{name}()` is stored in `{variable}` and returned un-awaited from async function `{0}`: whoever awaits `{0}()` gets this coroutine object instead of its result, and its body never runs",
                        function.name
                    ),
                    "coroutine returned without `await`",
                    format!("`{variable} = await {name}(...)`"),
                ),
                ResultUse::Bound(variable)
                    if model.tests_name(caller.index, variable, bound_at) =>
                {
                    (
                        format!(
                            "the coroutine returned by `{name}()` is stored in `{variable}`, which is only tested for truth or against `None`: a coroutine object is always true and never `None`, so the test never sees the result, and the coroutine's body never runs"
                        ),
                        never_awaited,
                        format!("`{variable} = await {name}(...)`"),
                    )
                }
                ResultUse::Bound(variable)
                    if model.reads_name(caller.index, variable, true, bound_at) =>
                {
                    (
                    format!(
                        "the coroutine returned by `{name}()` is stored in `{variable}`, which is only used as its result would be (`{variable}.…`, `{variable}[…]`, `**{variable}`, `for … in {variable}`, `isinstance({variable}, …)`, `typing.cast(…, {variable})`): a coroutine object has none of its result's attributes, type or items, so that use raises `AttributeError` or `TypeError` or takes the wrong branch, and the coroutine's body never runs"
                    ),
                    never_awaited,
                    format!(
                        "`{variable} = await {name}(...)` (in sync code: `asyncio.run({name}(...))`)"
                    ),
                    )
                }
                ResultUse::Unpacked => (
                    format!(
                        "the coroutine returned by `{name}()` is unpacked, iterated or subscripted as its result would be: a coroutine object has no items, so this raises `TypeError`, and the coroutine's body never runs"
                    ),
                    never_awaited,
                    format!("`(await {name}(...))` before using its items"),
                ),
                ResultUse::Consumed(consumer) => (
                    format!(
                        "the coroutine returned by `{name}()` is given to `{consumer}()`, which uses it as a plain value: it gets a coroutine object instead of the result, and the coroutine's body never runs"
                    ),
                    never_awaited,
                    format!("`{consumer}(await {name}(...))`"),
                ),
                ResultUse::CalledBy(user) => (
                    format!(
                        "`{user}()` calls `{name}()` of the object it is given, and that is a coroutine: `{user}()` never awaits it, {}",
                        match name.ends_with(".write") {
                            true => "so nothing is written",
                            false =>
                                "so it gets a coroutine object instead of the file's contents and fails",
                        }
                    ),
                    "an async file given to a function that does plain file I/O",
                    "do the I/O yourself with `await`: serialise to a string, then `await f.write(text)` (or read with `await f.read()`, then parse)".to_string(),
                ),
                ResultUse::Tested => (
                    format!(
                        "the coroutine returned by `{name}()` is tested for truth (or against `None`) instead of awaited: a coroutine object is always true and never `None`, so the test never sees the result, and the coroutine's body never runs"
                    ),
                    never_awaited,
                    format!("`if await {name}(...):`"),
                ),
                ResultUse::Returned => (
                    format!(
                        "the coroutine returned by `{name}()` is returned un-awaited from async function `{0}`: whoever awaits `{0}()` gets this coroutine object instead of its result, and its body never runs",
                        function.name
                    ),
                    "coroutine returned without `await`",
                    format!("`return await {name}(...)`"),
                ),
                result => {
                    let what = match result {
                        ResultUse::Bound(variable) => {
                            format!("is stored in `{variable}`, which is never used")
                        }
                        _ => "is discarded".to_string(),
                    };
                    (
                        format!("the coroutine returned by `{name}()` {what}: its body never runs (Python only warns \"coroutine was never awaited\" at run time)"),
                        never_awaited,
                        "`await` it, or schedule it with `asyncio.create_task(...)` and keep the task".to_string(),
                    )
                }
            };
            let message = match factory {
                Some(inner) => format!(
                    "{message} (`{name}()` returns the coroutine of `{}()` without awaiting it)",
                    project.function(inner).name
                ),
                None => message,
            };
            out.push(
                Diagnostic::new(RULE.code, model.path.clone(), call.span.clone(), message)
                    .with_label(label)
                    .with_help(help),
            );
        }
    }
}

/// Rust: a call of an `async fn` (of the project, or a library's in `coroutine-functions`)
/// whose future a statement drops (`self.publish(n);`, `let _ = publish(n);`): a future does
/// nothing until it is polled, so the body never runs. (rustc's `unused_must_use` warns about
/// the first form only, and a warning is easy to lose among others.)
fn dropped_futures(context: &ProjectContext, caller: FunctionId, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let function = project.function(caller);
    let model = project.model(caller);
    let known = &context.file(caller).settings.knowledge.coroutine_functions;
    for (index, call) in function.calls.iter().enumerate() {
        if call.result != ResultUse::Discarded || call.awaited || call.scheduled {
            continue;
        }
        let site = CallSite {
            caller,
            call: index,
        };
        // An `async fn` under `#[tokio::main]` is a plain function to its callers.
        let target = project.target(site).filter(|id| {
            let f = project.function(*id);
            f.is_async && f.kind == FunctionKind::Function && f.decorators.is_empty()
        });
        // A method of a type another module names by an alias (`type EventPublisher =
        // Sender<EventMessage>;`): the aliased type's.
        let through_alias = |callee: &str| {
            let (owner, method) = callee.rsplit_once("::")?;
            let ty = project.index.type_of(owner, "::")?;
            Some(format!("{ty}::{method}")).filter(|aliased| known.contains(aliased))
        };
        let name = match (target, call.callee.as_deref()) {
            (Some(target), _) => project.function(target).name.clone(),
            (None, Some(callee)) if known.contains(callee) => callee.to_string(),
            (None, Some(callee)) => match through_alias(callee) {
                Some(aliased) => aliased,
                None => continue,
            },
            _ => continue,
        };
        let message = format!(
            "the future returned by `{name}()` is dropped without being awaited: a Rust future does nothing until it is polled, so this call has no effect"
        );
        out.push(
            Diagnostic::new(RULE.code, model.path.clone(), call.span.clone(), message)
                .with_label("future created and never awaited")
                .with_help(
                    "add `.await`, or hand the future to `tokio::spawn(..)` to run it on its own",
                ),
        );
    }
}

/// Whether calling the function returns a coroutine: an `async def` (not an async generator)
/// whose decorators keep it one.
fn is_coroutine_function(project: &Project, id: crate::graph::FunctionId) -> bool {
    coroutine_function_within(project, id, 4)
}

/// [`is_coroutine_function`], looking at most `depth` levels of overrides down.
fn coroutine_function_within(project: &Project, id: crate::graph::FunctionId, depth: u8) -> bool {
    let f = project.function(id);
    f.is_async
        && !f.generator
        && f.kind == FunctionKind::Function
        && f.decorators.iter().all(|d| keeps_coroutine(project, d))
        // An abstract stub stands for its overrides: what they return is what a call gives
        // (`@async_contextmanager async def open` in every driver: a context manager).
        && project.overrides(id).iter().all(|&o| {
            o == id || depth > 0 && coroutine_function_within(project, o, depth - 1)
        })
}

/// The coroutine function whose coroutine a sync function returns un-awaited (`return
/// self._engine.load()`), if every `return` of it returns such a coroutine (not a factory
/// only in one mode: `if self.async_mode: return self.acall()`).
fn returned_coroutine(
    project: &Project,
    id: crate::graph::FunctionId,
) -> Option<crate::graph::FunctionId> {
    let function = project.function(id);
    if function.is_async || function.generator || function.kind != FunctionKind::Function {
        return None;
    }
    let coroutines: Vec<_> = function
        .calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.result == ResultUse::Returned && !c.awaited)
        .filter_map(|(call, _)| {
            let site = CallSite { caller: id, call };
            project
                .target(site)
                .filter(|target| is_coroutine_function(project, *target))
        })
        .collect();
    let every_return = coroutines.len() == usize::from(function.value_returns);
    coroutines.first().copied().filter(|_| every_return)
}

/// Whether calling an `async def` decorated with `decorator` still returns a coroutine: a
/// known library decorator, or a project decorator that wraps it in an `async def` of its own
/// (`def retry(f): @wraps(f) async def wrapper(...): ...`), also through one factory level
/// (`@retry(3)`).
fn keeps_coroutine(project: &Project, decorator: &str) -> bool {
    if matches!(
        decorator,
        "staticmethod"
            | "classmethod"
            | "abc.abstractmethod"
            | "typing.override"
            | "typing_extensions.override"
            | "typing.final"
            | "typing_extensions.final"
            | "typing.no_type_check"
            | "functools.wraps"
    ) {
        return true;
    }
    let Some(id) = project.index.resolve(decorator, ".") else {
        return false;
    };
    let model = project.model(id);
    model
        .nested_in(id.index)
        .any(|(inner, f)| f.is_async || model.nested_in(inner).any(|(_, g)| g.is_async))
}

/// How often the project awaits calls of one shape before a discarded one is taken for a
/// coroutine.
const MIN_AWAITED_ELSEWHERE: usize = 3;

/// How a project uses the calls of one shape as written (`message.channel.send`) on receivers
/// of unknown type.
#[derive(Default)]
struct ShapeUses {
    awaited: Vec<CallSite>,
    /// Used as a plain value, or called for its effect in sync code: not a coroutine there.
    plain: usize,
    /// Thrown away by a statement of async code, or stored in a local there that is only used
    /// as the result would be (`member = bot.get_chat_member(..)`, then `member.status`).
    discarded: Vec<CallSite>,
}

/// Python: a call on a receiver of unknown type (a parameter of a library's type the project
/// does not annotate: `message.channel.send("…")`) thrown away by a statement of async code,
/// where the project awaits calls written the same way in several other places and never uses
/// one as a plain value: the project's own code says it returns a coroutine.
fn discarded_like_awaited(project: &Project, out: &mut Vec<Diagnostic>) {
    let mut shapes: HashMap<u64, ShapeUses> = HashMap::default();
    for (caller, function) in project.functions() {
        let model = project.model(caller);
        for &(call, shape) in &function.unknown_calls {
            let call = call as usize;
            let c = &function.calls[call];
            let uses = shapes.entry(shape).or_default();
            let site = CallSite { caller, call };
            let in_async = function.is_async && c.context == Context::Async;
            let after = c.span.end;
            match &c.result {
                _ if c.awaited || c.scheduled => uses.awaited.push(site),
                ResultUse::Discarded if in_async => uses.discarded.push(site),
                ResultUse::Bound(variable)
                    if in_async
                        && !model.reads_name(caller.index, variable, false, after)
                        && model.reads_name(caller.index, variable, true, after) =>
                {
                    uses.discarded.push(site)
                }
                ResultUse::Bound(_) | ResultUse::Returned => {}
                _ => uses.plain += 1,
            }
        }
    }
    let mut reported: Vec<(usize, &ShapeUses)> = shapes
        .values()
        .filter(|uses| {
            let awaited = uses.awaited.len();
            !uses.discarded.is_empty()
                && uses.plain == 0
                && awaited >= MIN_AWAITED_ELSEWHERE
                && awaited >= MIN_AWAITED_ELSEWHERE * uses.discarded.len()
        })
        .map(|uses| (uses.awaited.len(), uses))
        .collect();
    reported.sort_by_key(|(_, uses)| (uses.discarded[0].caller, uses.discarded[0].call));
    for (awaited, uses) in reported {
        for site in &uses.discarded {
            let call = project.call(*site);
            let method = call.method.as_deref().unwrap_or_default();
            let function = project.function(site.caller);
            let fate = match &call.result {
                ResultUse::Bound(variable) => format!(
                    "which is stored in `{variable}` and only used as its result would be (a coroutine object has none of its attributes or items)"
                ),
                _ => "which is discarded here".to_string(),
            };
            let message = format!(
                "this `.{method}(...)` call is not awaited in async function `{}`, but the project awaits calls written the same way in {awaited} other places: it returns a coroutine, {fate}, so the call never runs (Python only warns \"coroutine was never awaited\" at run time)",
                function.name
            );
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                project.model(site.caller).path.clone(),
                call.span.clone(),
                message,
            )
            .with_label("coroutine created and never awaited")
            .with_help(format!("`await` it, as elsewhere: `await ….{method}(...)`"));
            diagnostic.related = uses
                .awaited
                .iter()
                .take(2)
                .map(|awaited| call_site(project, *awaited, "awaited here".to_string()))
                .collect();
            out.push(diagnostic);
        }
    }
}

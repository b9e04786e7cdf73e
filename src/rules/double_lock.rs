//! IL202 double-lock: a non-reentrant lock is taken while the same thread already holds it —
//! in the same function (including a guard kept alive by a `match`/`if let` scrutinee) or
//! through calls — or a read-write lock is taken for writing under its own read guard (or the
//! other way round). The thread waits for itself forever.

use super::lock_sites::{acquisition, chain_names, hold, inner_sites, short_name};
use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::graph::locks::{Evidence, Inner};
use crate::model::Language;

pub const RULE: Rule = Rule {
    code: Code::IL202,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let mut seen = std::collections::HashSet::new();
    for double in &context.lock_graph().double_locks {
        let evidence = Evidence {
            outer: double.outer,
            inner: double.inner.clone(),
            gates: Vec::new(),
        };
        let model = project.model(double.outer.function);
        let site = evidence.inner_site(project);
        if !seen.insert((double.outer.function.file, site.start)) {
            continue;
        }
        let outer = hold(project, double.outer);
        // A guard another file's function returns is written as that call: name the lock too.
        let lock_graph = context.lock_graph();
        // So is a lock a Python decorator of another file holds: name the decorator too.
        let outer_lock = match outer.kind.starts_with("?guard:") {
            true if model.language == Language::Python => format!(
                "{}` via `@{}",
                short_name(&lock_graph.graph[double.lock].identity),
                outer.lock
            ),
            true => format!(
                "{}` guard from `{}",
                short_name(&lock_graph.graph[double.lock].identity),
                outer.lock
            ),
            false => outer.lock.clone(),
        };

        // The lock's type as its definition tells (the hold may only know `::read`).
        let kind = context.lock_graph().graph[double.lock].kind.as_str();
        let waiter = match model.language {
            Language::Python
                if kind.starts_with("asyncio")
                    || kind.starts_with("anyio")
                    || kind.starts_with("trio") =>
            {
                "task"
            }
            _ if kind.starts_with("tokio")
                || kind.starts_with("futures")
                || kind.starts_with("async_") =>
            {
                "task"
            }
            _ => "thread",
        };
        let upgradable = |hold: &crate::model::LockHold| hold.kind.ends_with("::upgradable_read");
        let outer_hold = &project.function(double.outer.function).lock_holds[double.outer.hold];
        let why = if upgradable(outer_hold) && !double.mixed_modes {
            format!(
                "only one upgradable read guard of `{kind}` can exist at a time, so the {waiter} waits for itself forever"
            )
        } else if double.recursive_read {
            format!(
                "`{kind}` queues a read behind a waiting writer, so once another {waiter} waits to write, this second read waits for it and it waits for the first read: the {waiter} waits for itself forever (use one guard, or a lock with recursive reads such as `parking_lot::RwLock::read_recursive`)"
            )
        } else if double.mixed_modes {
            "a read-write lock cannot be locked for writing while this thread holds a read guard on it (or for reading under its own write guard), so the thread waits for itself forever".to_string()
        } else if kind.is_empty() {
            format!("the lock is not reentrant, so the {waiter} waits for itself forever")
        } else {
            format!("`{kind}` is not reentrant, so the {waiter} waits for itself forever")
        };
        let inner_kind = match &double.inner {
            Inner::Direct(k) => project.function(double.outer.function).lock_holds[*k]
                .kind
                .as_str(),
            Inner::Call { .. } => "",
        };
        let filled_alike = &double.filled_alike;
        // A lock handed to a function of the file that takes it: that function, by name.
        let handed_to = match &double.inner {
            Inner::Direct(k) => {
                let function = project.function(double.outer.function);
                let inner = &function.lock_holds[*k];
                inner
                    .argument
                    .and_then(|_| function.calls.iter().find(|c| c.span == inner.span))
                    .and_then(|call| call.callee.as_deref())
            }
            Inner::Call { .. } => None,
        };
        let what = match &double.inner {
            // A lock handed to a function of another file that locks it (`?callee#index`).
            Inner::Direct(_)
                if inner_kind.starts_with('?') && !inner_kind.starts_with("?guard:") =>
            {
                format!(
                    "`{}` is held while it is passed to `{}`, which takes it again",
                    outer_lock,
                    inner_kind[1..]
                        .trim_start_matches(['=', '>'])
                        .rsplit_once('#')
                        .map_or(inner_kind, |(callee, _)| callee)
                )
            }
            Inner::Direct(_) if let Some(callee) = handed_to => format!(
                "`{}` is held while it is passed to `{}`, which takes it again",
                outer_lock,
                short_name(callee)
            ),
            Inner::Direct(_) => format!(
                "`{}` is taken again in `{}` while this {waiter} already holds it",
                outer_lock,
                project.function(double.outer.function).name
            ),
            Inner::Call { .. } => format!(
                "`{}` is held while calling into code that takes it again ({}){}",
                outer_lock,
                chain_names(project, &evidence),
                filled_alike
                    .as_ref()
                    .map(|other| format!(
                        "; `{other}` is the same lock: a constructor fills both with one value"
                    ))
                    .unwrap_or_default()
            ),
        };
        let help = match model.language {
            Language::Python => {
                "release the lock before the second acquisition, or split the helper into a variant that expects the lock to be held (e.g. `_update_locked`); use `threading.RLock` only if re-entry is intended"
            }
            Language::Rust => {
                "drop the first guard before locking again (end its block or `drop(guard)`), or pass the locked data to the helper; a guard in a `match` or `if let` scrutinee lives until the end of the whole statement (before edition 2024 also through the `else`): bind what you need with `let` first"
            }
        };
        let mut diagnostic = Diagnostic::new(
            RULE.code,
            model.path.clone(),
            site,
            format!("double lock: {what}; {why}"),
        )
        .with_label(match &double.inner {
            Inner::Direct(_) => format!("`{}` taken again while already held", outer_lock),
            Inner::Call { .. } => format!("this call takes `{}` again", outer_lock),
        })
        .with_help(help);
        diagnostic.related.push(acquisition(
            project,
            double.outer,
            format!("`{}` first taken here", outer_lock),
        ));
        diagnostic.related.extend(inner_sites(
            project,
            &evidence,
            &outer_lock,
            filled_alike.as_deref().unwrap_or(&outer_lock),
            true,
        ));
        out.push(diagnostic);
    }
}

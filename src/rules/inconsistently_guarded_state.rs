//! IL402 inconsistently-guarded-state: state written with a lock held in one place and without
//! it in another (outside constructors). The lock shows the state is shared; the unguarded
//! write races with the guarded ones.

use super::shared_state::{guarded_writes, held_at, held_by_every_caller, is_constructor};
use super::{Check, ProjectContext, Rule};
use crate::diagnostic::{Diagnostic, Related};

pub const RULE: Rule = Rule {
    code: "IL402",
    name: "inconsistently-guarded-state",
    summary: "state written under a lock in one place and without it in another",
    doc: include_str!("../../rules/IL402-inconsistently-guarded-state.md"),
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let guarded = guarded_writes(context);
    for (id, function) in project.functions() {
        // Constructors and top-level code run before the state is shared.
        if is_constructor(function) || function.kind == crate::model::FunctionKind::Module {
            continue;
        }
        let model = project.model(id);
        for write in &function.state_writes {
            let Some(guard) = guarded.get(write.state.as_str()) else {
                continue;
            };
            if held_at(function, write.span.start).is_some()
                || (write.via_self != guard.write.via_self)
                || held_by_every_caller(project, id, 4)
            {
                continue;
            }
            let guard_model = project.model(guard.function);
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                write.span.clone(),
                format!(
                    "`{}` is written here without a lock, but `{}` holds `{}` when it writes it: the lock shows other threads use this state, and this write races with theirs",
                    write.written,
                    project.function(guard.function).name,
                    guard.lock.lock
                ),
            )
            .with_label("written without the lock")
            .with_help(format!(
                "hold `{}` here too (or, if this code only runs before any thread starts, move it into the constructor)",
                guard.lock.lock
            ));
            diagnostic.related = vec![
                Related {
                    path: guard_model.path.clone(),
                    span: guard.write.span.clone(),
                    message: format!("`{}` written with the lock held", guard.write.written),
                },
                Related {
                    path: guard_model.path.clone(),
                    span: guard.lock.span.clone(),
                    message: format!("`{}` taken here", guard.lock.lock),
                },
            ];
            out.push(diagnostic);
        }
    }
}

//! IL303 thread-primitive-passed-to-process: a `threading` or `asyncio` primitive (or a
//! `queue.Queue`) passed to code that runs in another process, where it is a useless copy or
//! cannot be pickled at all.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Handoff};

pub const RULE: Rule = Rule {
    code: Code::IL303,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    for function in &model.functions {
        for handoff in &function.process_handoffs {
            let Handoff::ThreadPrimitive { value, kind } = &handoff.what else {
                continue;
            };
            let replacement = kind
                .rsplit('.')
                .next()
                .map(|name| match name {
                    "SimpleQueue" | "LifoQueue" | "PriorityQueue" => {
                        "multiprocessing.Queue".to_string()
                    }
                    name => format!("multiprocessing.{name}"),
                })
                .unwrap_or_default();
            out.push(
                Diagnostic::new(
                    RULE.code,
                    model.path.clone(),
                    handoff.span.clone(),
                    format!(
                        "`{value}` ({kind}) is passed to `{}`, which runs in another process: a `{kind}` only synchronizes threads of one process, so the child gets an unpicklable object (`TypeError: cannot pickle`) under spawn/forkserver, or a private copy under fork that nothing else sees",
                        handoff.api
                    ),
                )
                .with_label("only works between threads")
                .with_help(format!(
                    "use `{replacement}` (or one from a `multiprocessing.Manager()`), created before the process starts"
                )),
            );
        }
    }
}

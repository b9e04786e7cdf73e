//! Condition variables: `wait`/`wait_while`/`notify_*` on a `Condvar` (by type), and whether a
//! `wait` sits in a loop that re-checks its predicate (IL206).

use super::Lowerer;
use super::syntax::written;
use crate::knowledge::Returns;
use crate::model::{ConditionOp, ConditionUse, Span};

/// The waits of a condition variable that do not check a predicate themselves.
const WAITS: &[&str] = &["wait", "wait_timeout", "wait_for", "wait_until"];

impl Lowerer<'_> {
    /// Records `cvar.wait(guard)`, `wait_timeout`, `wait_while` and `notify_*` on a condition
    /// variable.
    pub(super) fn condition_use(&mut self, call: &syn::ExprMethodCall, method: &str, span: &Span) {
        let op = match method {
            _ if WAITS.contains(&method) => ConditionOp::Wait,
            "wait_while" | "wait_timeout_while" | "wait_while_for" | "wait_while_until" => {
                ConditionOp::WaitFor
            }
            "notify_one" | "notify_all" => ConditionOp::Notify,
            _ => return,
        };
        let is_condition = matches!(self.semantic.type_of(&call.receiver), Some(Returns::One(ty)) if self.tables.conditions.contains(&ty));
        if !is_condition {
            return;
        }
        // A wrapper's own `wait`, given the guard to wait with (`fn wait(&self, mut g:
        // MutexGuard<'_, T>) { self.1.wait(&mut g.1); .. }`): its callers are the ones to loop.
        let function = &self.model.functions[self.current].canonical;
        let wrapper = op == ConditionOp::Wait
            && self.takes_guard
            && function
                .rsplit("::")
                .next()
                .is_some_and(|name| WAITS.contains(&name));
        if wrapper {
            return;
        }
        let used = ConditionUse {
            span: span.clone(),
            condition: written(&call.receiver),
            identity: String::new(),
            op,
            in_loop: self.loop_depth > 0 && self.loop_rechecks,
            timed: method != "wait" && method != "wait_while",
            maybe_held: false,
        };
        self.model.functions[self.current].condition_uses.push(used);
    }
}

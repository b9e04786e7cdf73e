//! Thread joins: which thread a `join()` waits for, and which callable a thread object runs
//! (what IL201 needs to see a thread joined while a lock its function takes is held).

use ruff_python_ast::{self as ast, Expr};
use thin_vec::ThinVec;

use super::Lowerer;
use super::semantic::Binding;
use super::syntax::is_false_literal;
use crate::knowledge::Returns;
use crate::model::{ThreadJoin, concat};

impl<'a> Lowerer<'a> {
    /// The key a thread object is known by through what holds it: `Class.attr` for
    /// `self.attr`, the canonical name of a module-level or imported name, the
    /// function-qualified name of a local (`shop.main#t`).
    pub(super) fn thread_holder(&self, holder: &Expr) -> Option<String> {
        match holder {
            Expr::Attribute(attribute) => {
                let Expr::Name(base) = attribute.value.as_ref() else {
                    return None;
                };
                if self.semantic.self_name() != Some(base.id.as_str()) {
                    return None;
                }
                let class = self.semantic.self_type()?;
                Some(concat(&[class, ".", attribute.attr.id.as_str()]))
            }
            Expr::Name(name) => {
                let name = name.id.as_str();
                match self.semantic.lookup_with_depth(name)? {
                    (_, Binding::Alias(canonical)) => Some(canonical.clone()),
                    (0, _) => Some(self.model.join(name)),
                    _ => {
                        let function = &self.model.functions[self.current].canonical;
                        Some(concat(&[function, "#", name]))
                    }
                }
            }
            _ => None,
        }
    }

    /// `holder = threading.Thread(target=f)`: the thread object `holder` keeps runs `f`.
    pub(super) fn note_thread_target(&mut self, holder: &Expr, value: &'a Expr) {
        let Expr::Call(call) = value else {
            return;
        };
        let Some(callee) = self.semantic.resolve(&call.func) else {
            return;
        };
        let Some(entry) = self.tables.thread_entry(Some(&callee), None) else {
            return;
        };
        // A thread object (the call constructs it), not a pool or a call that returns
        // something else.
        let constructs =
            matches!(self.semantic.type_of(value), Some(Returns::One(ty)) if ty == callee);
        if entry.pool || entry.handler || !constructs {
            return;
        }
        let target = self
            .started_callable(&call.arguments, entry)
            .and_then(|callable| self.semantic.resolve(callable));
        if let Some(target) = target {
            self.note_thread_runs(holder, &target);
        }
    }

    /// The thread object or executor `holder` keeps runs `target` (`self._pool.submit(
    /// self._work)`: what its `shutdown()` waits for).
    pub(super) fn note_thread_runs(&mut self, holder: &Expr, target: &str) {
        if let Some(holder) = self.thread_holder(holder) {
            self.model.thread_targets.push((holder, target.to_string()));
        }
    }

    /// `thread.join()` or `thread.join(timeout)` (call `index` of the current function), or an
    /// executor's `shutdown()` (it waits for its workers unless `wait=False`): notes the thread
    /// it waits for, by its holder and by its class — each thread of a loop over a literal
    /// tuple (`for t in (self._reader, self._writer): t.join()`).
    pub(super) fn note_thread_join(&mut self, call: &ast::ExprCall, index: usize) {
        let Expr::Attribute(attribute) = call.func.as_ref() else {
            return;
        };
        let arguments = &call.arguments;
        let method = attribute.attr.id.as_str();
        let timeout = match (method, &*arguments.args, &*arguments.keywords) {
            ("join", [], []) => false,
            ("join", [value], []) => !value.is_none_literal_expr(),
            ("join", [], [_]) => match arguments.find_keyword("timeout") {
                Some(timeout) => !timeout.value.is_none_literal_expr(),
                None => return,
            },
            ("shutdown", [], _)
                if !arguments
                    .find_keyword("wait")
                    .is_some_and(|wait| is_false_literal(&wait.value)) =>
            {
                false
            }
            ("shutdown", [wait, ..], _) if !is_false_literal(wait) => false,
            _ => return,
        };
        let receiver = attribute.value.as_ref();
        let elements = match receiver {
            Expr::Name(name) => self
                .loop_elements
                .iter()
                .rev()
                .find(|(target, _)| *target == name.id.as_str())
                .map(|(_, elements)| *elements),
            _ => None,
        };
        let mut threads = ThinVec::new();
        for thread in elements.unwrap_or(std::slice::from_ref(receiver)) {
            threads.extend(self.thread_holder(thread));
            if let Some(Returns::One(class)) = self.semantic.type_of(thread) {
                threads.push(class);
            }
        }
        if !threads.is_empty() {
            let join = ThreadJoin {
                call: index as u32,
                threads,
                timeout,
            };
            self.model.functions[self.current].thread_joins.push(join);
        }
    }
}

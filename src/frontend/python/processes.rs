//! Processes: what a call hands to another process that cannot go there (IL302, IL303).

use ruff_python_ast::{self as ast, Expr};

use super::Lowerer;
use super::semantic::{Binding, ClassInfo, ScopeKind};
use super::syntax::{span, written};
use crate::knowledge::{ProcessTarget, Returns};
use crate::model::{FunctionKind, Handoff, ProcessHandoff, concat};

impl<'a> Lowerer<'a> {
    /// Records what a call hands to another process that cannot go there: a lambda, a nested
    /// function or a local class's method as the callable or among its arguments (not
    /// picklable), and threading or asyncio primitives among its arguments (IL302, IL303).
    pub(super) fn process_handoffs(
        &mut self,
        call: &ast::ExprCall,
        api: &str,
        target: &ProcessTarget,
    ) {
        let arguments = &call.arguments;
        let keyword = |name: &str| arguments.find_keyword(name).map(|k| &k.value);
        let mut found = Vec::new();
        let callable = keyword(&target.callable).or_else(|| arguments.args.get(target.position));
        let mut passed: Vec<&Expr> = Vec::new();
        if let Some(callable) = callable {
            // `functools.partial(f, lock)`: `f` is the callable, `lock` an argument.
            let callable = match callable {
                Expr::Call(partial)
                    if self.semantic.resolve(&partial.func).as_deref()
                        == Some("functools.partial") =>
                {
                    passed.extend(partial.arguments.args.iter().skip(1));
                    passed.extend(partial.arguments.keywords.iter().map(|k| &k.value));
                    partial.arguments.args.first()
                }
                other => Some(other),
            };
            if let Some(callable) = callable
                && !target.forked
                && let Some(what) = self.unpicklable(callable)
            {
                found.push((span(callable), what));
            } else if let Some(callable) = callable
                && let Some(what) = self.bound_to_thread_primitive(callable)
            {
                found.push((span(callable), what));
            }
        }
        let tuple = target
            .args
            .as_deref()
            .and_then(keyword)
            .or_else(|| target.args_position.and_then(|p| arguments.args.get(p)));
        if let Some(
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }),
        ) = tuple
        {
            passed.extend(elts.iter());
        }
        if let Some(Expr::Dict(dict)) = target.kwargs.as_deref().and_then(keyword) {
            passed.extend(dict.items.iter().map(|item| &item.value));
        }
        if target.rest {
            passed.extend(arguments.args.iter().skip(target.position + 1));
        }
        for value in passed {
            if let Some(what) = self.thread_primitive(value) {
                found.push((span(value), what));
            } else if let Some(what) = self.holds_thread_primitive(value) {
                found.push((span(value), what));
            } else if !target.forked
                && let Some(what) = self.unpicklable(value)
            {
                // `args=(cmd, _pre_exec)`: an argument is pickled like the callable.
                found.push((span(value), what));
            } else if !target.forked
                && let Some(Returns::One(class)) = self.semantic.type_of(value)
                && self.defined_in_function(&class)
            {
                let what = Handoff::LocalClassObject {
                    value: written(value),
                    class: class.rsplit('.').next().unwrap_or_default().to_string(),
                };
                found.push((span(value), what));
            }
        }
        self.push_handoffs(api, found);
    }

    /// Records what a call to `api` hands to another process that cannot go there.
    fn push_handoffs(&mut self, api: &str, found: Vec<(crate::model::Span, Handoff)>) {
        for (span, what) in found {
            let handoff = ProcessHandoff {
                span,
                api: api.to_string(),
                what,
            };
            self.model.functions[self.current]
                .process_handoffs
                .push(handoff);
        }
    }

    /// Whether a class of the file derives from `multiprocessing.Process` (its objects are
    /// pickled, attributes and all, to start them under spawn).
    pub(super) fn is_process_subclass(&self, class: &str) -> bool {
        let mut class = class;
        for _ in 0..8 {
            let Some(info) = self.semantic.classes.get(class) else {
                return false;
            };
            let Some(base) = info.bases.first() else {
                return false;
            };
            if base.starts_with("multiprocessing.") && base.ends_with("Process") {
                return true;
            }
            class = base;
        }
        false
    }

    /// `TaskProcess(task, on_status)` of a `Process` subclass: what its constructor is given
    /// is kept on the object, which is pickled to start it under spawn (IL302), and so is
    /// what its constructor makes (`self.lock = threading.Lock()` in `__init__`, IL303).
    pub(super) fn process_object_arguments(&mut self, call: &ast::ExprCall, class: &str) {
        let arguments = &call.arguments;
        let values = arguments
            .args
            .iter()
            .chain(arguments.keywords.iter().map(|k| &k.value));
        let mut found: Vec<(crate::model::Span, Handoff)> = values
            .filter_map(|value| {
                let what = self
                    .thread_primitive(value)
                    .or_else(|| self.unpicklable(value))?;
                Some((span(value), what))
            })
            .collect();
        if let Some((attribute, kind)) = self.constructed_thread_primitive(class) {
            let object = concat(&[&written(&call.func), "(…).", &attribute]);
            found.push((
                span(call),
                Handoff::ThreadPrimitive {
                    value: object,
                    kind,
                },
            ));
        }
        self.push_handoffs(class.rsplit('.').next().unwrap_or(class), found);
    }

    /// The attribute (and its type) in which the constructor of `class` or of a base keeps a
    /// thread primitive: made in the parent, it goes to the child with the object. One
    /// `run()` makes is the child's own.
    fn constructed_thread_primitive(&self, class: &str) -> Option<(String, String)> {
        let mut class = class;
        for _ in 0..8 {
            let info = self.semantic.classes.get(class)?;
            if let Some(constructed) = info.assigned_by.get("__init__")
                && let Some((attribute, kind)) =
                    self.primitive_attribute(info, |attribute, _| constructed.contains(attribute))
            {
                return Some((attribute.clone(), kind.clone()));
            }
            class = info.bases.first()?;
        }
        None
    }

    /// A value that is a thread primitive itself (`threading.Lock()`, a local holding one).
    fn thread_primitive(&self, value: &Expr) -> Option<Handoff> {
        match self.semantic.type_of(value)? {
            Returns::One(kind) if self.tables.thread_primitives.contains(&kind) => {
                Some(Handoff::ThreadPrimitive {
                    value: written(value),
                    kind,
                })
            }
            _ => None,
        }
    }

    /// The first attribute, by name, in which a class keeps a thread primitive, among those
    /// `keep` accepts (attribute, type).
    fn primitive_attribute<'i>(
        &self,
        info: &'i ClassInfo,
        keep: impl Fn(&String, &String) -> bool,
    ) -> Option<(&'i String, &'i String)> {
        let mut attributes: Vec<(&String, &String)> = info.attributes.iter().collect();
        attributes.sort();
        attributes.into_iter().find(|(attribute, kind)| {
            self.tables.thread_primitives.contains(kind.as_str()) && keep(attribute, kind)
        })
    }

    /// Why a callable cannot be pickled for another process, if it cannot.
    /// A bound method (`self.run`) whose object holds a threading or asyncio primitive in an
    /// attribute (`self._lock = threading.Lock()`): the object goes to the process with it.
    fn bound_to_thread_primitive(&self, callable: &Expr) -> Option<Handoff> {
        let Expr::Attribute(method) = callable else {
            return None;
        };
        // A method of the object's class: not a function kept in an attribute
        // (`initializer=self.worker_pool_init`), which is pickled without the object.
        let Some(Returns::One(class)) = self.semantic.type_of(&method.value) else {
            return None;
        };
        let bound = concat(&[&class, ".", method.attr.id.as_str()]);
        self.semantic.defining_method(&bound)?;
        self.holds_thread_primitive(&method.value)
    }

    /// An object of a class of the file (or of its bases) with a thread primitive in an
    /// attribute (`WriteLock()` with `self.th_lock = threading.RLock()`): pickling it for the
    /// child pickles that primitive.
    fn holds_thread_primitive(&self, object: &Expr) -> Option<Handoff> {
        let Some(Returns::One(class)) = self.semantic.type_of(object) else {
            return None;
        };
        // The method's own object: what its body assigned so far wins (`self.q =
        // multiprocessing.Queue()` in this branch, `queue.Queue()` in another).
        let assigned = match (object, self.semantic.method_scope()) {
            (Expr::Name(name), Some(scope))
                if scope.self_name.as_deref() == Some(name.id.as_str()) =>
            {
                Some(&scope.assigned_attributes)
            }
            _ => None,
        };
        let mut class = class.as_str();
        for _ in 0..8 {
            let info = self.semantic.classes.get(class)?;
            let current =
                |attribute: &String, kind: &String| match assigned.and_then(|a| a.get(attribute)) {
                    Some(Some(now)) => now == kind,
                    _ => true,
                };
            if let Some((attribute, kind)) = self.primitive_attribute(info, current) {
                return Some(Handoff::ThreadPrimitive {
                    value: concat(&[&written(object), ".", attribute]),
                    kind: kind.clone(),
                });
            }
            if let Some(attribute) = info.lambda_attributes.first() {
                return Some(Handoff::LambdaAttribute(concat(&[
                    &written(object),
                    ".",
                    attribute,
                ])));
            }
            class = info.bases.first()?;
        }
        None
    }

    pub(super) fn unpicklable(&self, callable: &Expr) -> Option<Handoff> {
        match callable {
            Expr::Lambda(_) => Some(Handoff::Lambda),
            Expr::Name(name) => {
                let (depth, binding) = self.semantic.lookup_with_depth(name.id.as_str())?;
                let scope = &self.semantic.scopes[depth];
                let Binding::Alias(canonical) = binding else {
                    return None;
                };
                // A `def` in a function's body is bound to its qualified name there.
                let qualified = concat(&[&scope.prefix, ".", name.id.as_str()]);
                let nested =
                    scope.kind == ScopeKind::Function && *canonical == self.model.join(&qualified);
                nested.then(|| Handoff::NestedFunction(name.id.to_string()))
            }
            Expr::Attribute(attr) => {
                let Some(Returns::One(class)) = self.semantic.type_of(&attr.value) else {
                    return None;
                };
                self.defined_in_function(&class)
                    .then(|| Handoff::LocalClassMethod(written(callable)))
            }
            _ => None,
        }
    }

    /// Whether a class of this file is defined inside a function (pickle finds a class by its
    /// qualified name, which another process cannot import).
    fn defined_in_function(&self, class: &str) -> bool {
        let Some((owner, _)) = class.rsplit_once('.') else {
            return false;
        };
        self.model
            .functions
            .iter()
            .any(|f| f.kind == FunctionKind::Function && f.canonical == owner)
    }
}

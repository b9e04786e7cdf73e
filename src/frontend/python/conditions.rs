//! Which inputs decide whether a call runs: the branches around it as formulas over the
//! function's parameters and its object's attributes, the values a call gives its callee's
//! parameters, a function's parameters with their defaults, and what a method sets on its
//! object before it calls another method (see [`crate::model::condition`]).

use rustc_hash::FxHashSet as HashSet;
use std::sync::Arc;
use thin_vec::ThinVec;

use ruff_python_ast::visitor::Visitor;
use ruff_python_ast::{self as ast, Expr, Stmt};

use super::Lowerer;
use super::semantic::{Binding, ScopeKind};
use super::syntax::{is_staticmethod, span};
use crate::knowledge::Returns;
use crate::model::condition::key;
use crate::model::condition::{
    ArgumentFact, CallCondition, DISTINCT_BUILTINS, Formula, Input, Parameter, ParameterKind, Slot,
    Test, Value,
};
use crate::model::{FunctionKind, ParameterAttribute, Passed, PassedObject, Span, concat};

/// The longest string literal kept as a value (a longer one is only known to be a `str`).
const MAX_LITERAL: usize = 64;
/// The longest test kept as written for messages.
const MAX_WRITTEN: usize = 80;
/// How many properties deep a test is followed (`self.ready` returning `self.other`).
const MAX_PROPERTY_DEPTH: usize = 4;

/// A branch the code being lowered is in: the formula that holds there, and the test that
/// decides it as written (negated on the `else` side).
pub(super) struct Branch {
    formula: Formula,
    test: Span,
    holds: bool,
    /// Whether messages name it: not a precondition checked by `if not ok: raise …`.
    shown: bool,
}

/// What the current function's conditions may mention: its parameters that it never
/// rebinds, and the attributes of its object that it does not set.
#[derive(Default)]
pub(super) struct Inputs {
    /// By [`key`].
    parameters: HashSet<u32>,
    attributes_set: HashSet<u32>,
}

impl<'a> Lowerer<'a> {
    /// Whether `name` is a parameter of the function being lowered that its body does not
    /// bind again (not its receiver).
    pub(super) fn is_input_parameter(&self, name: &str) -> bool {
        self.inputs.parameters.contains(&key(name))
    }

    /// The parameters of a function being defined, with their defaults' values (taken in the
    /// scope around the definition, where defaults are evaluated).
    pub(super) fn parameters(
        &self,
        def: &ast::StmtFunctionDef,
        in_class: bool,
    ) -> ThinVec<Parameter> {
        let params = &def.parameters;
        let mut parameters = ThinVec::new();
        let positional = params.posonlyargs.iter().chain(&params.args);
        for (i, param) in positional.enumerate() {
            let kind = if i == 0 && in_class && !is_staticmethod(def) {
                ParameterKind::Receiver
            } else {
                ParameterKind::Positional
            };
            parameters.push(Parameter {
                name: key(param.parameter.name.id.as_str()),
                kind,
                default: param.default.as_deref().map(|d| self.value_in(d, false)),
            });
        }
        let variadic = [&params.vararg, &params.kwarg];
        for param in variadic.into_iter().flatten() {
            parameters.push(Parameter {
                name: key(param.name.id.as_str()),
                kind: ParameterKind::Variadic,
                default: None,
            });
        }
        for param in &params.kwonlyargs {
            parameters.push(Parameter {
                name: key(param.parameter.name.id.as_str()),
                kind: ParameterKind::KeywordOnly,
                default: param.default.as_deref().map(|d| self.value_in(d, false)),
            });
        }
        parameters.shrink_to_fit();
        parameters
    }

    /// Notes the inputs of the function whose body is about to be lowered (its parameters
    /// are in the model already, `rebound` those its body binds again) and what it sets on
    /// its object; returns the enclosing
    /// function's inputs and branches, to restore after the body.
    pub(super) fn enter_inputs(
        &mut self,
        body: &[Stmt],
        rebound: &[&str],
    ) -> (Inputs, Vec<Branch>) {
        let rebound: HashSet<u32> = rebound.iter().map(|name| key(name)).collect();
        let function = &self.model.functions[self.current];
        let parameters = function
            .parameters
            .iter()
            .filter(|p| p.kind != ParameterKind::Receiver && !rebound.contains(&p.name))
            .map(|p| p.name)
            .collect();
        let inputs = Inputs {
            parameters,
            attributes_set: HashSet::default(),
        };
        self.condition = None;
        let saved = (
            std::mem::replace(&mut self.inputs, inputs),
            std::mem::take(&mut self.branches),
        );
        self.note_attribute_values(body);
        saved
    }

    /// `self.x = value` in the method's body: at the top level of the body, the value; nested
    /// in a branch or loop, unknown.
    fn note_attribute_values(&mut self, body: &[Stmt]) {
        let Some(self_name) = self.semantic.self_name().map(str::to_string) else {
            return;
        };
        let mut values: ThinVec<(u32, Value, u32)> = ThinVec::new();
        for stmt in body {
            let top_level = match stmt {
                Stmt::Assign(assign) => match assign.targets.as_slice() {
                    [target] => Some((target, Some(&*assign.value))),
                    _ => None,
                },
                Stmt::AnnAssign(ann) => Some((&*ann.target, ann.value.as_deref())),
                _ => None,
            };
            if let Some((Expr::Attribute(target), value)) = top_level
                && matches!(&*target.value, Expr::Name(n) if n.id.as_str() == self_name)
            {
                let value = value.map_or(Value::Unknown, |v| self.value_in(v, true));
                let attribute = key(target.attr.id.as_str());
                values.push((attribute, value, span(stmt).start as u32));
                continue;
            }
            let mut nested = SetAttributes {
                self_name: &self_name,
                found: Vec::new(),
            };
            nested.visit_stmt(stmt);
            for (attribute, at) in nested.found {
                values.push((attribute, Value::Unknown, at as u32));
            }
        }
        self.inputs.attributes_set = values.iter().map(|(a, _, _)| *a).collect();
        self.model.functions[self.current].attribute_values = values;
    }

    /// Restores the enclosing function's inputs and branches.
    pub(super) fn leave_inputs(&mut self, saved: (Inputs, Vec<Branch>)) {
        self.condition = None;
        (self.inputs, self.branches) = saved;
    }

    /// What an expression holds as far as a condition may tell: one of the current
    /// function's inputs, or what the function set an attribute of its object to before.
    fn subject(&self, expr: &Expr) -> Value {
        match expr {
            Expr::Name(name) => {
                let hash = key(name.id.as_str());
                // Not a name of a lambda that shadows the parameter.
                let innermost = matches!(
                    self.semantic
                        .scopes
                        .last()
                        .and_then(|s| s.bindings.get(name.id.as_str())),
                    Some(Binding::Local(_))
                );
                if innermost && self.inputs.parameters.contains(&hash) {
                    Value::Input(Input::Parameter(hash))
                } else {
                    Value::Unknown
                }
            }
            Expr::Attribute(attribute) => {
                let Expr::Name(base) = &*attribute.value else {
                    return Value::Unknown;
                };
                if self.semantic.self_name() != Some(base.id.as_str()) {
                    return Value::Unknown;
                }
                let hash = key(attribute.attr.id.as_str());
                if !self.inputs.attributes_set.contains(&hash) {
                    return Value::Input(Input::Attribute(hash));
                }
                // `self.reload = reload` earlier in this function: what it was set to.
                let at = span(expr).start;
                self.model.functions[self.current]
                    .attribute_values
                    .iter()
                    .rfind(|(attribute, _, set)| *attribute == hash && (*set as usize) < at)
                    .map_or(Value::Input(Input::Attribute(hash)), |(_, value, _)| *value)
            }
            _ => Value::Unknown,
        }
    }

    /// The expression a simple property of the method's class returns (`@property def
    /// should_reload(self): return isinstance(self.app, str) and self.reload`), when `expr`
    /// reads one through `self`.
    fn property_body(&self, expr: &Expr) -> Option<&'a Expr> {
        let Expr::Attribute(attribute) = expr else {
            return None;
        };
        let Expr::Name(base) = &*attribute.value else {
            return None;
        };
        if self.semantic.self_name() != Some(base.id.as_str()) {
            return None;
        }
        let class = self.semantic.self_type()?;
        let getter = concat(&[class, ".", attribute.attr.id.as_str()]);
        let (self_name, body) = self.property_returns.get(&getter)?;
        (Some(self_name.as_str()) == self.semantic.self_name()).then_some(*body)
    }

    /// The formula a test is, over the current function's inputs.
    pub(super) fn formula(&self, test: &Expr) -> Formula {
        self.formula_within(test, MAX_PROPERTY_DEPTH)
    }

    fn formula_within(&self, test: &Expr, depth: usize) -> Formula {
        let on = |subject: Value, test: Test, holds: bool| match subject {
            Value::Input(input) => Formula::Test { input, test, holds },
            value => match test.evaluate(&value) {
                Some(result) => Formula::Known(result == holds),
                None => Formula::Unknown,
            },
        };
        match test {
            Expr::Attribute(_)
                if let Some(body) = self.property_body(test)
                    && let Some(depth) = depth.checked_sub(1) =>
            {
                self.formula_within(body, depth)
            }
            Expr::Name(_) | Expr::Attribute(_) => on(self.subject(test), Test::Truthy, true),
            Expr::UnaryOp(op) if op.op == ast::UnaryOp::Not => {
                self.formula_within(&op.operand, depth).negate()
            }
            Expr::BoolOp(op) => {
                let parts = op.values.iter().map(|v| self.formula_within(v, depth));
                match op.op {
                    ast::BoolOp::And => Formula::all(parts),
                    ast::BoolOp::Or => Formula::any(parts),
                }
            }
            Expr::Compare(compare) => {
                let ([op], [right]) = (&*compare.ops, &*compare.comparators) else {
                    return Formula::Unknown;
                };
                let (subject, other) = match self.subject(&compare.left) {
                    Value::Unknown => (self.subject(right), &*compare.left),
                    subject => (subject, right),
                };
                let holds = matches!(op, ast::CmpOp::Is | ast::CmpOp::Eq);
                match (op, other) {
                    (
                        ast::CmpOp::Is | ast::CmpOp::IsNot | ast::CmpOp::Eq | ast::CmpOp::NotEq,
                        Expr::NoneLiteral(_),
                    ) => on(subject, Test::IsNone, holds),
                    // `verify is True`.
                    (ast::CmpOp::Is | ast::CmpOp::IsNot, Expr::BooleanLiteral(b)) => {
                        on(subject, Test::Equals(Value::Bool(b.value)), holds)
                    }
                    (ast::CmpOp::Eq | ast::CmpOp::NotEq, other) => {
                        match self.value_in(other, false) {
                            value @ (Value::Bool(_) | Value::Int(_) | Value::Str(_)) => {
                                on(subject, Test::Equals(value), holds)
                            }
                            _ => Formula::Unknown,
                        }
                    }
                    _ => Formula::Unknown,
                }
            }
            Expr::Call(call)
                if self.semantic.resolve(&call.func).as_deref() == Some("isinstance")
                    && call.arguments.keywords.is_empty() =>
            {
                let [subject, types] = &*call.arguments.args else {
                    return Formula::Unknown;
                };
                let listed: Vec<&Expr> = match types {
                    Expr::Tuple(tuple) => tuple.elts.iter().collect(),
                    single => vec![single],
                };
                let resolved: Option<Vec<u32>> = listed
                    .iter()
                    .map(|t| self.semantic.resolve(t).map(|ty| key(&ty)))
                    .collect();
                match resolved {
                    Some(types) => on(
                        self.subject(subject),
                        Test::IsInstance(types.into_boxed_slice()),
                        true,
                    ),
                    None => Formula::Unknown,
                }
            }
            _ => Formula::Unknown,
        }
    }

    /// The value an expression has, as far as its syntax tells; with `inputs`, the current
    /// function's inputs are values too (not in a default, which is evaluated outside).
    pub(super) fn value_in(&self, expr: &Expr, inputs: bool) -> Value {
        let instance = Value::instance;
        match expr {
            Expr::NoneLiteral(_) => Value::None,
            Expr::BooleanLiteral(b) => Value::Bool(b.value),
            Expr::NumberLiteral(number) => match &number.value {
                ast::Number::Int(int) => int.as_i64().map_or_else(|| instance("int"), Value::Int),
                ast::Number::Float(_) => instance("float"),
                ast::Number::Complex { .. } => instance("complex"),
            },
            Expr::StringLiteral(literal) => {
                let text = literal.value.to_str();
                if text.len() <= MAX_LITERAL {
                    Value::string(text)
                } else {
                    instance("str")
                }
            }
            Expr::FString(_) => instance("str"),
            Expr::BytesLiteral(_) => instance("bytes"),
            Expr::Dict(_) | Expr::DictComp(_) => instance("dict"),
            Expr::List(_) | Expr::ListComp(_) => instance("list"),
            Expr::Tuple(_) => instance("tuple"),
            Expr::Set(_) | Expr::SetComp(_) => instance("set"),
            Expr::Name(_) | Expr::Attribute(_) => {
                if inputs {
                    let subject = self.subject(expr);
                    if subject != Value::Unknown {
                        return subject;
                    }
                }
                // A module constant of a known type (`LOGGING: dict[str, Any] = {…}`).
                if !expr.is_name_expr() {
                    return Value::Unknown;
                }
                match self.semantic.type_of(expr) {
                    Some(Returns::One(ty)) => instance(&ty),
                    _ => Value::Unknown,
                }
            }
            Expr::Call(call) => match self.semantic.resolve(&call.func) {
                Some(ty) if DISTINCT_BUILTINS.contains(&ty.as_str()) => instance(&ty),
                _ => match self.semantic.type_of(expr) {
                    Some(Returns::One(ty)) => instance(&ty),
                    _ => Value::Unknown,
                },
            },
            _ => Value::Unknown,
        }
    }

    /// Notes the condition call number `index` of the current function is made under, and
    /// what its arguments tell; returns how many positional arguments it gives.
    pub(super) fn note_call_inputs(
        &mut self,
        index: usize,
        call: &ast::ExprCall,
        callee: Option<&str>,
    ) -> u16 {
        self.note_condition(index);
        // A builtin (`print("…")`) or a call the file cannot name is not a project function's.
        let builtin = callee.is_none_or(|c| !c.contains('.'))
            && matches!(&*call.func, Expr::Name(name) if self.semantic.lookup(name.id.as_str()).is_none());
        let given = &call.arguments;
        let positional = given
            .args
            .iter()
            .take_while(|a| !a.is_starred_expr())
            .count();
        if builtin || callee.is_none() {
            return u16::try_from(positional).unwrap_or(u16::MAX);
        }
        let call_index = index as u32;
        let mut facts = Vec::new();
        let mut fact = |slot, value| facts.push(ArgumentFact::new(call_index, slot, value));
        let mut passed = Vec::new();
        for (position, argument) in given.args.iter().take(positional).enumerate() {
            let value = self.value_in(argument, true);
            let position = u32::try_from(position).unwrap_or(u32::MAX - 1);
            passed.push((argument, value, position, u32::MAX));
            if value != Value::Unknown {
                fact(
                    Slot::Position(u16::try_from(position).unwrap_or(u16::MAX)),
                    value,
                );
            }
        }
        if positional < given.args.len() {
            fact(Slot::Unpacked, Value::Unknown);
        }
        for keyword in &given.keywords {
            match &keyword.arg {
                Some(name) => {
                    let value = self.value_in(&keyword.value, true);
                    passed.push((&keyword.value, value, u32::MAX, key(name.id.as_str())));
                    fact(Slot::Keyword(key(name.id.as_str())), value);
                }
                None => fact(Slot::Unpacked, Value::Unknown),
            }
        }
        let through_class = self.through_class(call);
        if through_class {
            fact(Slot::ThroughClass, Value::Unknown);
        }
        // Only to a callee of this package: the project's own functions.
        let own_callee = callee.is_some_and(|callee| self.own_name(callee));
        for (argument, value, position, keyword) in passed.into_iter().filter(|_| own_callee) {
            // Counting `self`, which a call through the class passes first.
            let position = match position {
                u32::MAX => u32::MAX,
                p if through_class => p,
                p => p + 1,
            };
            self.note_passed_object(
                callee.unwrap_or_default(),
                argument,
                value,
                position,
                keyword,
            );
        }
        self.model.functions[self.current]
            .call_arguments
            .extend(facts);
        u16::try_from(positional).unwrap_or(u16::MAX)
    }

    /// `node.run()` on a parameter of the current function that the file cannot type (`def
    /// worker(node):`): the callee named after the parameter (`app.jobs.worker.node.run`), and
    /// the parameter's own name (`app.jobs.worker.node`),
    /// which the project types from the objects the function's callers pass there, as it types
    /// `self.storage = storage` (see [`crate::model::FileModel::parameter_attributes`]). Not a
    /// `@classmethod`'s or `@staticmethod`'s parameter: a call through the class passes their
    /// arguments one position earlier than a call through an object.
    pub(super) fn parameter_callee(&mut self, func: &Expr) -> Option<(String, String)> {
        fn chain(expr: &Expr) -> Option<&str> {
            match expr {
                Expr::Attribute(attribute) => chain(&attribute.value),
                Expr::Name(name) => Some(name.id.as_str()),
                _ => None,
            }
        }
        let root = chain(func)?;
        let parameter = self.typed_parameter(root)?;
        let written = super::syntax::dotted(func);
        let rest = written.strip_prefix(root).unwrap_or_default();
        Some((concat(&[&parameter, rest]), parameter))
    }

    /// Where the current function takes the parameter `root`, when `root` still names it:
    /// its position counting `self` (`u32::MAX` for a keyword-only one) and its name's key.
    pub(super) fn parameter_slot(&self, root: &str) -> Option<(u32, u32)> {
        if !matches!(self.semantic.lookup(root), Some(Binding::Local(None))) {
            return None;
        }
        self.parameter_position(root)
    }

    /// [`Self::parameter_slot`], whatever the file knows of the parameter's type.
    pub(super) fn parameter_position(&self, root: &str) -> Option<(u32, u32)> {
        if self.closure != 0
            || !self.is_input_parameter(root)
            || !matches!(self.semantic.lookup(root), Some(Binding::Local(_)))
        {
            return None;
        }
        self.position_in(self.current, root)
    }

    /// Where the function at `index` takes the parameter `root` (see
    /// [`Self::parameter_position`]).
    fn position_in(&self, index: usize, root: &str) -> Option<(u32, u32)> {
        let function = &self.model.functions[index];
        if function
            .decorators
            .iter()
            .any(|d| matches!(d.as_str(), "classmethod" | "staticmethod"))
        {
            return None;
        }
        let name = key(root);
        let method = function
            .parameters
            .first()
            .is_some_and(|p| p.kind == ParameterKind::Receiver);
        let mut position = u32::from(!method);
        let mut found = None;
        for parameter in &function.parameters {
            match parameter.kind {
                ParameterKind::Receiver | ParameterKind::Positional => {
                    if parameter.name == name {
                        found = Some(position);
                        break;
                    }
                    position += 1;
                }
                ParameterKind::KeywordOnly if parameter.name == name => {
                    found = Some(u32::MAX);
                    break;
                }
                _ => {}
            }
        }
        Some((found?, name))
    }

    /// The name the project types a parameter of the current function by (see
    /// [`Self::parameter_callee`]): `app.jobs.worker.node` for `node` of `worker`, when the
    /// file cannot type it and the body does not bind it again. Registers it with the project.
    pub(super) fn typed_parameter(&mut self, root: &str) -> Option<String> {
        let (index, (position, name)) = match self.parameter_slot(root) {
            Some(slot) => (self.current, slot),
            None => self.enclosing_parameter_slot(root)?,
        };
        let function = &self.model.functions[index];
        let attribute = concat(&[&function.canonical, ".", root]);
        if self.typed_parameters.insert((index, name)) {
            let given = ParameterAttribute {
                attribute: attribute.clone(),
                method: function.canonical.clone(),
                position,
                keyword: name,
                rebound: None,
            };
            self.model.parameter_attributes.push(given);
        }
        Some(attribute)
    }

    /// A parameter of an enclosing function that a nested `def` uses (`def run(api_fn): def
    /// _sync(): return api_fn()`), when neither of them binds the name again: that function
    /// and where it takes the parameter.
    fn enclosing_parameter_slot(&self, root: &str) -> Option<(usize, (u32, u32))> {
        let (depth, binding) = self.semantic.lookup_with_depth(root)?;
        let innermost = self.semantic.scopes.len() - 1;
        if depth == innermost
            || self.semantic.scopes[depth].kind != ScopeKind::Function
            || !matches!(binding, Binding::Local(None))
        {
            return None;
        }
        let name = key(root);
        let mut index = self.model.functions[self.current].parent?;
        for _ in 0..8 {
            let function = &self.model.functions[index];
            if function.kind != FunctionKind::Function {
                return None;
            }
            if function.parameters.iter().any(|p| p.name == name) {
                return Some((index, self.position_in(index, root)?));
            }
            index = function.parent?;
        }
        None
    }

    /// The objects a thread or task start hands to the callable it runs (`Thread(target=work,
    /// args=(node,))`, `pool.submit(work, node)`), noted as passed to that callable (see
    /// [`Self::note_passed_object`]), its first argument after `self`.
    pub(super) fn note_started_arguments(
        &mut self,
        arguments: &ast::Arguments,
        callable: &Expr,
        target: &str,
    ) {
        let keyword = |name: &str| arguments.find_keyword(name).map(|k| &k.value);
        let positional: &[Expr] = match keyword("args") {
            Some(
                Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }),
            ) => elts,
            Some(_) => return,
            // `submit(work, node)`: what follows the callable.
            None => match arguments
                .args
                .iter()
                .position(|a| std::ptr::eq(a, callable))
            {
                Some(at) => &arguments.args[at + 1..],
                None => &[],
            },
        };
        let mut passed = Vec::new();
        for (position, argument) in positional.iter().enumerate() {
            if argument.is_starred_expr() {
                break;
            }
            let position = u32::try_from(position + 1).unwrap_or(u32::MAX - 1);
            passed.push((argument, position, u32::MAX));
        }
        if let Some(Expr::Dict(dict)) = keyword("kwargs") {
            for item in &dict.items {
                if let Some(Expr::StringLiteral(name)) = &item.key {
                    passed.push((&item.value, u32::MAX, key(name.value.to_str())));
                }
            }
        }
        if !self.own_name(target) {
            return;
        }
        for (argument, position, keyword) in passed {
            let value = self.value_in(argument, true);
            self.note_passed_object(target, argument, value, position, keyword);
        }
    }

    /// Notes an argument that is an object of a known type, not a builtin (see
    /// [`crate::model::FileModel::passed_objects`]); a parameter or an attribute of `self` the
    /// project types (passed on from a caller), or a function or method of the package (a
    /// callback).
    fn note_passed_object(
        &mut self,
        callee: &str,
        argument: &Expr,
        value: Value,
        position: u32,
        keyword: u32,
    ) {
        if !matches!(argument, Expr::Name(_) | Expr::Attribute(_) | Expr::Call(_)) {
            return;
        }
        let typed = match self.semantic.type_of(argument) {
            Some(Returns::One(ty)) if matches!(value, Value::Instance(_) | Value::Input(_)) => {
                (!DISTINCT_BUILTINS.contains(&ty.as_str())).then_some((ty, Passed::Instance))
            }
            Some(_) => None,
            None => match argument {
                Expr::Name(name) => self.typed_parameter(name.id.as_str()).or_else(|| {
                    matches!(
                        self.semantic.lookup(name.id.as_str()),
                        Some(Binding::Alias(_))
                    )
                    .then(|| self.semantic.resolve(argument))
                    .flatten()
                }),
                // `self.aspace` (set from a parameter), `self.on_data` (a method).
                Expr::Attribute(_) => self.semantic.resolve(argument),
                _ => None,
            }
            .map(|name| (name, Passed::Named)),
        };
        if let Some((ty, kind)) = typed
            && (kind == Passed::Instance || self.own_name(&ty))
        {
            self.model.passed_objects.push(PassedObject {
                callee: callee.to_string(),
                position,
                keyword,
                ty,
                kind,
                repeated: self.repeat_depth > 0,
            });
        }
    }

    /// Notes the condition call number `index` of the current function is made under.
    pub(super) fn note_condition(&mut self, index: usize) {
        if let Some(condition) = self.call_condition() {
            self.model.functions[self.current]
                .call_conditions
                .push((index as u32, condition));
        }
    }

    /// `Base.__init__(self, …)`: a method reached through its class, which takes the receiver
    /// as its first positional argument.
    fn through_class(&self, call: &ast::ExprCall) -> bool {
        let Expr::Attribute(method) = &*call.func else {
            return false;
        };
        if !matches!(&*method.value, Expr::Name(_) | Expr::Attribute(_))
            || self.semantic.type_of(&method.value).is_some()
        {
            return false;
        }
        self.semantic.resolve(&method.value).is_some_and(|owner| {
            let last = owner.rsplit('.').next().unwrap_or(&owner);
            last.trim_start_matches('_')
                .starts_with(|c: char| c.is_ascii_uppercase())
        })
    }

    /// Lowers `visit` inside a branch where `formula` (of `test`) is `holds`.
    pub(super) fn in_branch(
        &mut self,
        formula: Formula,
        test: &Expr,
        holds: bool,
        visit: impl FnOnce(&mut Self),
    ) {
        self.enter_branch(formula, test, holds);
        visit(self);
        self.leave_branches(1);
    }

    /// From here to the end of the enclosing block (or the branch's end), `formula` holds.
    pub(super) fn enter_branch(&mut self, formula: Formula, test: &Expr, holds: bool) {
        self.condition = None;
        let formula = if holds { formula } else { formula.negate() };
        // `if not names: return`: the rest runs when `names` holds.
        let (test, holds) = match test {
            Expr::UnaryOp(op) if !holds && op.op == ast::UnaryOp::Not => (&*op.operand, true),
            test => (test, holds),
        };
        self.branches.push(Branch {
            formula,
            test: span(test),
            holds,
            shown: true,
        });
    }

    /// From here on, the test of `if not ok: raise …` held: a precondition, which messages do
    /// not name.
    pub(super) fn enter_precondition(&mut self, formula: Formula, test: &Expr) {
        self.enter_branch(formula, test, false);
        if let Some(branch) = self.branches.last_mut() {
            branch.shown = false;
        }
    }

    /// Leaves the innermost `count` branches.
    pub(super) fn leave_branches(&mut self, count: usize) {
        self.condition = None;
        self.branches
            .truncate(self.branches.len().saturating_sub(count));
    }

    /// The condition a call made here runs under, when the branches around it decide one
    /// (one object for the calls of a branch).
    fn call_condition(&mut self) -> Option<Arc<CallCondition>> {
        if let Some(known) = &self.condition {
            return known.clone();
        }
        let condition = self.branch_condition().map(Arc::new);
        self.condition = Some(condition.clone());
        condition
    }

    fn branch_condition(&self) -> Option<CallCondition> {
        let decisive = || {
            self.branches
                .iter()
                .filter(|b| !b.formula.is_unconditional())
        };
        decisive().next_back()?;
        let formula = Formula::all(decisive().map(|b| b.formula.clone()));
        if formula.is_unconditional() {
            return None;
        }
        let Some(innermost) = decisive().rfind(|b| b.shown) else {
            return Some(CallCondition {
                formula,
                written: "".into(),
            });
        };
        let test = self.source.get(innermost.test.clone()).unwrap_or("");
        let mut written = if innermost.holds {
            test.to_string()
        } else {
            format!("not ({test})")
        };
        if written.len() > MAX_WRITTEN {
            let mut end = MAX_WRITTEN;
            while !written.is_char_boundary(end) {
                end -= 1;
            }
            written.truncate(end);
            written.push('…');
        }
        Some(CallCondition {
            formula,
            written: written.into(),
        })
    }
}

/// Whether a block ends by raising (a precondition's failure).
pub(super) fn raises(body: &[Stmt]) -> bool {
    matches!(body.last(), Some(Stmt::Raise(_)))
}

/// Whether a block always leaves before its end (`return`, `raise`, `continue`, `break`):
/// the code after an `if` whose body does runs only when the test was false.
pub(super) fn always_leaves(body: &[Stmt]) -> bool {
    matches!(
        body.last(),
        Some(Stmt::Return(_) | Stmt::Raise(_) | Stmt::Continue(_) | Stmt::Break(_))
    )
}

/// The expression a body only returns (after its docstring, if any).
pub(super) fn single_return(body: &[Stmt]) -> Option<&Expr> {
    let body = match body {
        [Stmt::Expr(doc), rest @ ..] if doc.value.is_string_literal_expr() => rest,
        body => body,
    };
    match body {
        [
            Stmt::Return(ast::StmtReturn {
                value: Some(value), ..
            }),
        ] => Some(value),
        _ => None,
    }
}

/// Finds assignments to `self.x` nested in a statement (not in nested functions).
struct SetAttributes<'s> {
    self_name: &'s str,
    found: Vec<(u32, usize)>,
}

impl<'b> Visitor<'b> for SetAttributes<'_> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            _ => ruff_python_ast::visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'b Expr) {
        if let Expr::Attribute(attribute) = expr
            && attribute.ctx == ast::ExprContext::Store
            && matches!(&*attribute.value, Expr::Name(n) if n.id.as_str() == self.self_name)
        {
            self.found
                .push((key(attribute.attr.id.as_str()), span(expr).start));
        }
        ruff_python_ast::visitor::walk_expr(self, expr);
    }
}

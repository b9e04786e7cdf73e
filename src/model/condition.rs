//! Conditions on a function's inputs under which one of its calls runs (`if trust_env:`,
//! `if isinstance(self.config, str):`), and the values a call site gives those inputs. A
//! summary that follows a call down to a blocking one carries the condition up, rewritten in
//! each caller's inputs, so a caller whose arguments make it false does not inherit the call.

use super::name_hash;

/// The key a name is kept under in conditions and arguments: 30 bits of its
/// [`super::name_hash`] (a project has many; they are only compared, and an [`ArgumentFact`]
/// packs one with two bits of its own).
pub fn key(name: &str) -> u32 {
    (name_hash(name) & 0x3FFF_FFFF) as u32
}

/// An input of a function that a condition can test, by its name's [`key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// A parameter the function never rebinds.
    Parameter(u32),
    /// An attribute of the method's own object (`self.config`) that the method does not set.
    Attribute(u32),
}

/// What a condition asks of an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// `if x:`.
    Truthy,
    /// `x is None`.
    IsNone,
    /// `isinstance(x, (str, bytes))`: the [`key`]s of the types' canonical names.
    IsInstance(Box<[u32]>),
    /// `x == "json"`.
    Equals(Value),
}

/// What a call site (or a default) gives an input, as far as the syntax tells. Strings and
/// types are kept by their [`super::name_hash`]: a test only compares them, and a project's
/// calls have many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A string literal.
    Str(u64),
    /// An object of a known type (a dict display, an f-string, `LOGGING: dict = …`,
    /// `Config()`), by the type's canonical name.
    Instance(u32),
    /// Whatever the caller's own input holds.
    Input(Input),
    Unknown,
}

impl Value {
    /// A string literal's value.
    pub fn string(text: &str) -> Value {
        Value::Str(name_hash(text))
    }

    /// An object of the type with this canonical name.
    pub fn instance(ty: &str) -> Value {
        Value::Instance(key(ty))
    }
}

/// A condition over a function's inputs, in three-valued logic: a call under a condition that
/// cannot be decided is kept, so only a condition that is known to be false removes a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Formula {
    /// Decided.
    Known(bool),
    /// Depends on something no input decides (a local, a call's result).
    Unknown,
    /// `test` of `input` is `holds`.
    Test {
        input: Input,
        test: Test,
        holds: bool,
    },
    All(Vec<Formula>),
    Any(Vec<Formula>),
}

/// How many tests a formula may hold before it is given up as [`Formula::Unknown`], which
/// keeps the calls under it: composing conditions down long chains stays cheap.
const MAX_TESTS: usize = 24;

/// The builtin types whose instances are distinct (an `isinstance` test of one of these
/// against another is false); `bool` is an `int`.
pub const DISTINCT_BUILTINS: &[&str] = &[
    "str",
    "bytes",
    "int",
    "float",
    "complex",
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "bytearray",
    "bool",
];

fn is_builtin(ty: u32) -> bool {
    DISTINCT_BUILTINS.iter().any(|b| key(b) == ty)
}

impl Formula {
    pub fn always() -> Self {
        Formula::Known(true)
    }

    /// Whether the formula is known to be false: a call under it never runs.
    pub fn is_false(&self) -> bool {
        *self == Formula::Known(false)
    }

    /// Whether the formula can never be found false, whatever the inputs are.
    pub fn is_unconditional(&self) -> bool {
        matches!(self, Formula::Known(true) | Formula::Unknown)
    }

    pub fn negate(self) -> Self {
        match self {
            Formula::Known(value) => Formula::Known(!value),
            Formula::Unknown => Formula::Unknown,
            Formula::Test { input, test, holds } => Formula::Test {
                input,
                test,
                holds: !holds,
            },
            Formula::All(parts) => Formula::any(parts.into_iter().map(Formula::negate)),
            Formula::Any(parts) => Formula::all(parts.into_iter().map(Formula::negate)),
        }
    }

    /// The conjunction, simplified: a false part decides it, true parts drop out.
    pub fn all(parts: impl IntoIterator<Item = Formula>) -> Self {
        match Formula::gather(parts, true) {
            Err(decided) => decided,
            Ok(mut kept) => Formula::bounded(match kept.len() {
                0 => Formula::Known(true),
                1 => kept.pop().expect("one part"),
                _ if kept.iter().all(|p| *p == Formula::Unknown) => Formula::Unknown,
                _ => Formula::All(kept),
            }),
        }
    }

    /// The disjunction, simplified: a true part decides it, false parts drop out, and an
    /// unknown part makes it unknown (it can no longer be found false).
    pub fn any(parts: impl IntoIterator<Item = Formula>) -> Self {
        match Formula::gather(parts, false) {
            Err(decided) => decided,
            Ok(mut kept) => Formula::bounded(match kept.len() {
                0 => Formula::Known(false),
                1 => kept.pop().expect("one part"),
                _ => Formula::Any(kept),
            }),
        }
    }

    /// The parts of a conjunction (`unit` true) or a disjunction (`unit` false), flattened
    /// and without repeats, or the value that decides it.
    fn gather(parts: impl IntoIterator<Item = Formula>, unit: bool) -> Result<Vec<Formula>, Self> {
        let mut kept = Vec::new();
        for part in parts {
            let nested = match part {
                Formula::Known(value) if value == unit => continue,
                Formula::Known(value) => return Err(Formula::Known(value)),
                Formula::Unknown if !unit => return Err(Formula::Unknown),
                Formula::All(inner) if unit => inner,
                Formula::Any(inner) if !unit => inner,
                part => vec![part],
            };
            for part in nested {
                if !kept.contains(&part) {
                    kept.push(part);
                }
            }
        }
        Ok(kept)
    }

    fn bounded(self) -> Self {
        if self.tests() > MAX_TESTS {
            Formula::Unknown
        } else {
            self
        }
    }

    fn tests(&self) -> usize {
        match self {
            Formula::Known(_) | Formula::Unknown => 0,
            Formula::Test { .. } => 1,
            Formula::All(parts) | Formula::Any(parts) => parts.iter().map(Formula::tests).sum(),
        }
    }

    /// The formula with each input replaced by the value `value_of` gives it: a known value
    /// decides the test, another input renames it, an unknown value makes it unknown.
    pub fn substitute(&self, value_of: &mut dyn FnMut(&Input) -> Value) -> Formula {
        match self {
            Formula::Known(_) | Formula::Unknown => self.clone(),
            Formula::Test { input, test, holds } => match value_of(input) {
                Value::Input(input) => Formula::Test {
                    input,
                    test: test.clone(),
                    holds: *holds,
                },
                value => match test.evaluate(&value) {
                    Some(result) => Formula::Known(result == *holds),
                    None => Formula::Unknown,
                },
            },
            Formula::All(parts) => Formula::all(parts.iter().map(|p| p.substitute(value_of))),
            Formula::Any(parts) => Formula::any(parts.iter().map(|p| p.substitute(value_of))),
        }
    }
}

impl Test {
    /// The test's result on a value, when the value decides it.
    pub fn evaluate(&self, value: &Value) -> Option<bool> {
        match (self, value) {
            (_, Value::Unknown | Value::Input(_)) => None,
            (Test::IsNone, value) => Some(*value == Value::None),
            (Test::Truthy, Value::None) => Some(false),
            (Test::Truthy, Value::Bool(b)) => Some(*b),
            (Test::Truthy, Value::Int(i)) => Some(*i != 0),
            (Test::Truthy, Value::Str(s)) => Some(*s != name_hash("")),
            // An empty container is false; an object of a class may define `__bool__`.
            (Test::Truthy, Value::Instance(_)) => None,
            (Test::IsInstance(types), value) => {
                let has = |name: &str| types.contains(&key(name));
                let own = match value {
                    Value::None => return Some(has("NoneType") || has("types.NoneType")),
                    Value::Bool(_) if has("int") => return Some(true),
                    Value::Bool(_) => key("bool"),
                    Value::Int(_) => key("int"),
                    Value::Str(_) => key("str"),
                    Value::Instance(ty) => *ty,
                    Value::Unknown | Value::Input(_) => return None,
                };
                if types.contains(&own) {
                    return Some(true);
                }
                // A builtin is none of the other builtins (a subclass of one is another type).
                (is_builtin(own) && types.iter().all(|t| is_builtin(*t))).then_some(false)
            }
            (Test::Equals(expected), value) => match (expected, value) {
                (Value::Instance(_), _) | (_, Value::Instance(_)) => None,
                (Value::Unknown | Value::Input(_), _) => None,
                (Value::Bool(a), Value::Int(b)) | (Value::Int(b), Value::Bool(a)) => {
                    Some(i64::from(*a) == *b)
                }
                (expected, value) => Some(expected == value),
            },
        }
    }
}

/// A call's condition: the formula, and the test that decides it as written, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallCondition {
    pub formula: Formula,
    /// The innermost test as written (`trust_env`, `not isinstance(cfg, dict)`).
    pub written: Box<str>,
}

/// A parameter of a Python function: its name's [`key`] and the value of its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameter {
    pub name: u32,
    pub kind: ParameterKind,
    /// `None`: no default (required); the default's value otherwise.
    pub default: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterKind {
    /// The method's own object (`self`, `cls`), given by the call's receiver.
    Receiver,
    Positional,
    KeywordOnly,
    /// `*args` or `**kwargs`.
    Variadic,
}

/// One thing a call's arguments tell a callee's conditions, beyond how many positional
/// arguments it gives (see [`super::Call::positional_arguments`]). A function keeps these for
/// all its calls in one list (see [`super::Function::call_arguments`]): a project has many
/// calls, and most tell nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgumentFact {
    /// The call's index in its function.
    pub call: u32,
    slot: u32,
    pub value: Value,
}

/// Which argument an [`ArgumentFact`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The positional argument at this index, of a known value.
    Position(u16),
    /// The keyword argument of this name (by [`key`]), of any value.
    Keyword(u32),
    /// `*xs` or `**kw`: a parameter not named here may still be given.
    Unpacked,
    /// A method called through its class (`Base.__init__(self, …)`): the receiver is the
    /// first positional argument.
    ThroughClass,
}

const SLOT_TAG: u32 = 0xC000_0000;
const POSITION: u32 = 0x4000_0000;
const UNPACKED: u32 = 0x8000_0000;
const THROUGH_CLASS: u32 = 0xC000_0000;

impl ArgumentFact {
    pub fn new(call: u32, slot: Slot, value: Value) -> Self {
        let slot = match slot {
            Slot::Keyword(key) => key & !SLOT_TAG,
            Slot::Position(index) => POSITION | u32::from(index),
            Slot::Unpacked => UNPACKED,
            Slot::ThroughClass => THROUGH_CLASS,
        };
        ArgumentFact { call, slot, value }
    }

    pub fn slot(&self) -> Slot {
        match self.slot & SLOT_TAG {
            0 => Slot::Keyword(self.slot),
            POSITION => Slot::Position((self.slot & 0xFFFF) as u16),
            UNPACKED => Slot::Unpacked,
            _ => Slot::ThroughClass,
        }
    }
}

/// The value a call with `given` positional arguments and the facts `arguments` gives the
/// parameter named `name` (hashed) of a function with `parameters`.
pub fn argument(
    parameters: &[Parameter],
    given: usize,
    arguments: &[ArgumentFact],
    name: u32,
) -> Value {
    let Some(index) = parameters.iter().position(|p| p.name == name) else {
        return Value::Unknown;
    };
    let parameter = &parameters[index];
    let fact = |slot: Slot| arguments.iter().find(|a| a.slot() == slot).map(|a| a.value);
    if let Some(value) = fact(Slot::Keyword(name)) {
        return value;
    }
    let skipped = usize::from(
        fact(Slot::ThroughClass).is_none()
            && parameters
                .first()
                .is_some_and(|p| p.kind == ParameterKind::Receiver),
    );
    match parameter.kind {
        ParameterKind::Receiver | ParameterKind::Variadic => return Value::Unknown,
        ParameterKind::Positional => {
            if let Some(position) = index.checked_sub(skipped)
                && position < given
            {
                let slot = Slot::Position(u16::try_from(position).unwrap_or(u16::MAX));
                return fact(slot).unwrap_or(Value::Unknown);
            }
        }
        ParameterKind::KeywordOnly => {}
    }
    if fact(Slot::Unpacked).is_some() {
        return Value::Unknown;
    }
    parameter.default.unwrap_or(Value::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str) -> Input {
        Input::Parameter(key(name))
    }

    fn test(name: &str, test: Test, holds: bool) -> Formula {
        Formula::Test {
            input: param(name),
            test,
            holds,
        }
    }

    #[test]
    fn a_false_argument_decides_a_truth_test() {
        let when = Formula::all([Formula::Unknown, test("trust_env", Test::Truthy, true)]);
        let decided = when.substitute(&mut |_| Value::Bool(false));
        assert!(decided.is_false());
        let undecided = when.substitute(&mut |_| Value::Unknown);
        assert!(!undecided.is_false());
    }

    #[test]
    fn isinstance_of_distinct_builtins_is_decided() {
        let is_str = Test::IsInstance(vec![key("str")].into());
        assert_eq!(is_str.evaluate(&Value::instance("dict")), Some(false));
        assert_eq!(is_str.evaluate(&Value::string("a.json")), Some(true));
        assert_eq!(is_str.evaluate(&Value::instance("shop.Config")), None);
        let is_int = Test::IsInstance(vec![key("int")].into());
        assert_eq!(is_int.evaluate(&Value::Bool(true)), Some(true));
    }

    #[test]
    fn negation_follows_de_morgan() {
        let either = Formula::any([test("a", Test::IsNone, true), test("b", Test::Truthy, true)]);
        let neither = either.negate();
        let values = |input: &Input| match input {
            Input::Parameter(name) if *name == key("a") => Value::None,
            _ => Value::Unknown,
        };
        assert!(neither.substitute(&mut { values }).is_false());
    }

    #[test]
    fn an_unknown_alternative_keeps_the_call() {
        let either = Formula::any([Formula::Unknown, test("a", Test::Truthy, true)]);
        assert_eq!(either, Formula::Unknown);
    }

    #[test]
    fn arguments_bind_by_position_keyword_and_default() {
        let parameter = |name: &str, kind, default| Parameter {
            name: key(name),
            kind,
            default,
        };
        let parameters = vec![
            parameter("self", ParameterKind::Receiver, None),
            parameter("auth", ParameterKind::Positional, None),
            parameter(
                "trust_env",
                ParameterKind::Positional,
                Some(Value::Bool(false)),
            ),
        ];
        let trust_env = key("trust_env");
        assert_eq!(argument(&parameters, 1, &[], trust_env), Value::Bool(false));
        // Given positionally, of unknown value: not the default.
        assert_eq!(argument(&parameters, 2, &[], trust_env), Value::Unknown);
        let fact = |slot, value| ArgumentFact::new(0, slot, value);
        let by_keyword = [fact(Slot::Keyword(trust_env), Value::Bool(true))];
        assert_eq!(
            argument(&parameters, 1, &by_keyword, trust_env),
            Value::Bool(true)
        );
        let by_position = [fact(Slot::Position(1), Value::Input(param("env")))];
        assert_eq!(
            argument(&parameters, 2, &by_position, trust_env),
            Value::Input(param("env"))
        );
        let unpacked = [fact(Slot::Unpacked, Value::Unknown)];
        assert_eq!(
            argument(&parameters, 1, &unpacked, trust_env),
            Value::Unknown
        );
    }
}

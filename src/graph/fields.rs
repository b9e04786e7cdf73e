//! Fields of one struct (or attributes of one object) that hold the same value, as its
//! constructors fill them: `FinalState::new(db)` stores `db` and builds `pos_state` with
//! `PosState::new(db.clone())`, which stores its argument in `PosState.db`; so `FinalState.db`
//! and `FinalState.pos_state.db` are one `Arc`, and a lock taken through one is taken through
//! the other (Python: `self.listener = Listener(self.lock)` with `self._lock = lock`). The
//! lock graph uses it for locks, the shared-state rules for containers.

use rustc_hash::FxHashMap as HashMap;

use super::Project;
use crate::model::{FieldFlow, FlowArgument, FlowSource, Function, ITEMS, concat};

/// How many constructors deep a value is followed (`A::new` → `B::new` → `C::new`).
const MAX_DEPTH: usize = 3;

/// How many paths one constructor parameter may reach (generated code, huge structs).
const MAX_PATHS: usize = 16;

/// Field paths of one value: each path of a struct or class (`ledger::FinalState` and
/// `pos_state.db`, kept as `ledger::FinalState#pos_state.db`) → the path that stands for every
/// path of the same value of that type (the first by name).
#[derive(Debug, Default)]
pub struct SharedFields {
    representative: HashMap<String, String>,
    /// Rust: fields of different structs that one function fills with one value
    /// (`DevContext { clients: Arc::clone(&clients) }` and `Self { clients, .. }` in
    /// `DevEngine::new`), by field identity; a field filled so in two groups is in neither.
    across: Vec<Vec<String>>,
}

/// One flow with the function it is in and that function's own type.
struct Located<'a> {
    function: &'a str,
    owner: &'a str,
    flow: &'a FieldFlow,
    separator: &'static str,
}

impl SharedFields {
    pub fn new(project: &Project) -> SharedFields {
        let flows: Vec<Located> = project
            .functions()
            .flat_map(|(id, function)| {
                let separator = project.models[id.file].language.path_separator();
                let canonical = function.canonical.as_str();
                let owner = canonical.rsplit_once(separator).map_or("", |(o, _)| o);
                function.field_flows.iter().map(move |flow| Located {
                    function: canonical,
                    owner,
                    flow,
                    separator,
                })
            })
            .collect();
        if flows.is_empty() {
            return SharedFields::default();
        }
        // A constructor by the name a call gives it (Python: the class's `__init__`).
        let callee = |name: &str, separator: &str| {
            let id = match separator {
                "." => project
                    .index
                    .resolve(&concat(&[name, ".__init__"]), separator)
                    .or_else(|| project.index.resolve(name, separator)),
                _ => project.index.resolve(name, separator),
            }?;
            Some(project.function(id))
        };
        // (constructor, parameter) → the paths of its own type it stores that parameter in.
        let mut stored: HashMap<(&str, u8), Vec<String>> = HashMap::default();
        for _ in 0..MAX_DEPTH {
            let mut next: HashMap<(&str, u8), Vec<String>> = HashMap::default();
            for one in &flows {
                let FlowSource::Parameter(parameter) = one.flow.source else {
                    continue;
                };
                if one.flow.field.rsplit_once('.').map(|(ty, _)| ty) != Some(one.owner) {
                    continue;
                }
                let paths = next.entry((one.function, parameter)).or_default();
                paths.extend(paths_of(one, &stored, &callee));
                paths.sort_unstable();
                paths.dedup();
                paths.truncate(MAX_PATHS);
            }
            if next == stored {
                break;
            }
            stored = next;
        }
        // Per function, per value: the paths of each type it fills.
        let mut shared = SharedFields::default();
        let mut by_value: HashMap<(&str, &FlowSource), Vec<String>> = HashMap::default();
        for one in &flows {
            let Some((ty, _)) = one.flow.field.rsplit_once('.') else {
                continue;
            };
            let paths = by_value
                .entry((one.function, &one.flow.source))
                .or_default();
            paths.extend(
                paths_of(one, &stored, &callee)
                    .into_iter()
                    .map(|path| concat(&[ty, "#", &path])),
            );
            // Python: `self.lock` given on is the method's own object's `lock`.
            if let FlowSource::Local(name) = &one.flow.source
                && let Some(attribute) = name.strip_prefix("self.")
            {
                paths.push(concat(&[one.owner, "#", attribute]));
            }
        }
        shared.across = across_structs(&flows);
        for mut paths in by_value.into_values() {
            paths.sort_unstable();
            paths.dedup();
            paths.truncate(MAX_PATHS);
            for pair in paths.windows(2) {
                // Only paths of one type are one value of one object.
                let ty = |path: &str| path.split_once('#').map(|(ty, _)| ty.to_string());
                if ty(&pair[0]) == ty(&pair[1]) {
                    shared.union(&pair[0], &pair[1]);
                }
            }
        }
        shared
    }

    /// Rust: groups of fields of different structs one function fills with one value (see
    /// [`Self::across`](SharedFields)).
    pub fn across(&self) -> &[Vec<String>] {
        &self.across
    }

    /// The key standing for every key of the same value.
    fn representative<'p>(&'p self, key: &'p str) -> &'p str {
        let mut current = key;
        while let Some(next) = self.representative.get(current) {
            current = next;
        }
        current
    }

    /// Whether two paths of the fields of one object of type `ty` hold the same value.
    pub fn same(&self, ty: &str, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        let (a, b) = (concat(&[ty, "#", a]), concat(&[ty, "#", b]));
        self.representative(&a) == self.representative(&b)
    }

    /// Every group of two or more paths of one value: the type and the paths.
    fn groups(&self) -> Vec<(&str, Vec<&str>)> {
        let mut groups: HashMap<&str, Vec<&str>> = HashMap::default();
        for key in self.representative.keys() {
            groups
                .entry(self.representative(key))
                .or_default()
                .push(key.as_str());
        }
        groups
            .into_iter()
            .filter_map(|(representative, mut keys)| {
                keys.push(representative);
                keys.sort_unstable();
                let ty = representative.split_once('#')?.0;
                let paths = keys
                    .iter()
                    .filter_map(|key| key.split_once('#').map(|(_, path)| path))
                    .collect();
                Some((ty, paths))
            })
            .collect()
    }

    /// Fields that hold what another field of the object that built them holds
    /// (`discovery.HostBrowser._devices`, given `CastBrowser.devices` by `CastBrowser`) → the
    /// creator's field, the shortest path of its group (see [`Self::agreed`]).
    pub fn aliases(&self, project: &Project) -> HashMap<String, String> {
        let mut aliases = HashMap::default();
        for group in self.agreed(|ty, path| field_identity(project, ty, path)) {
            let Some((first, others)) = group.split_first() else {
                continue;
            };
            for other in others {
                aliases.insert(other.clone(), first.clone());
                aliases.insert(concat(&[other, ITEMS]), concat(&[first, ITEMS]));
            }
        }
        aliases
    }

    /// Per group of paths of one value, what `resolve` names each path (a field's identity,
    /// a lock node's), without repeats, the shortest path's first. A name that constructors
    /// fill from different values (`Listener._lock` given `Browser.lock` here,
    /// `Relay.route_lock` there) stands for none of them: a group with a name that is in
    /// another group is left out.
    pub fn agreed(&self, resolve: impl Fn(&str, &str) -> Option<String>) -> Vec<Vec<String>> {
        let groups: Vec<Vec<String>> = self
            .groups()
            .into_iter()
            .map(|(ty, mut paths)| {
                paths.sort_by_key(|path| (path.matches('.').count(), *path));
                let mut names: Vec<String> = Vec::new();
                for name in paths.iter().filter_map(|path| resolve(ty, path)) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                names
            })
            .collect();
        let mut groups_of: HashMap<&str, usize> = HashMap::default();
        for name in groups.iter().filter(|g| g.len() > 1).flatten() {
            *groups_of.entry(name.as_str()).or_default() += 1;
        }
        let agreed =
            |group: &Vec<String>| group.iter().all(|n| groups_of.get(n.as_str()) == Some(&1));
        groups.iter().filter(|g| agreed(g)).cloned().collect()
    }

    fn union(&mut self, a: &str, b: &str) {
        let (a, b) = (
            self.representative(a).to_string(),
            self.representative(b).to_string(),
        );
        if a != b {
            let (first, second) = if a < b { (a, b) } else { (b, a) };
            self.representative.insert(second, first);
        }
    }
}

/// Rust: the fields of two or more structs that one function fills with one value itself
/// (not through a call); a field filled so in two groups (from different values) is left out.
fn across_structs(flows: &[Located]) -> Vec<Vec<String>> {
    let mut by_value: HashMap<(&str, &FlowSource), Vec<&str>> = HashMap::default();
    for one in flows {
        if one.separator == "::" && one.flow.through.is_none() {
            by_value
                .entry((one.function, &one.flow.source))
                .or_default()
                .push(one.flow.field.as_str());
        }
    }
    let owner = |field: &str| field.rsplit_once('.').map(|(owner, _)| owner.to_string());
    let mut groups: Vec<Vec<String>> = by_value
        .into_values()
        .filter_map(|mut fields| {
            fields.sort_unstable();
            fields.dedup();
            let first = owner(fields.first()?);
            let across = fields.iter().any(|field| owner(field) != first);
            across.then(|| fields.into_iter().map(str::to_string).collect())
        })
        .collect();
    let mut groups_of: HashMap<String, usize> = HashMap::default();
    for field in groups.iter().flatten() {
        *groups_of.entry(field.clone()).or_default() += 1;
    }
    groups.retain(|group| group.iter().all(|field| groups_of[field] == 1));
    groups.sort_unstable();
    groups
}

/// The paths a flow fills in its type (`db`, or through a constructor that stores the argument
/// in `PosState.db`, `pos_state.db`).
fn paths_of<'a>(
    one: &Located,
    stored: &HashMap<(&str, u8), Vec<String>>,
    callee: &impl Fn(&str, &str) -> Option<&'a Function>,
) -> Vec<String> {
    let Some((_, field)) = one.flow.field.rsplit_once('.') else {
        return Vec::new();
    };
    match &one.flow.through {
        None => vec![field.to_string()],
        Some((name, argument)) => {
            let Some(function) = callee(name, one.separator) else {
                return Vec::new();
            };
            let position = match *argument {
                FlowArgument::Position(position) => Some(position),
                FlowArgument::Keyword(name) => function
                    .parameters
                    .iter()
                    .position(|p| p.name == name)
                    .and_then(|p| u8::try_from(p).ok()),
            };
            let Some(position) = position else {
                return Vec::new();
            };
            stored
                .get(&(function.canonical.as_str(), position))
                .into_iter()
                .flatten()
                .map(|inner| concat(&[field, ".", inner]))
                .collect()
        }
    }
}

/// The identity of the field at a path of fields of a type (`pos_state.db` of
/// `ledger::FinalState`: `pos::PosState.db`), following each field's type.
pub fn field_identity(project: &Project, ty: &str, path: &str) -> Option<String> {
    let index = &project.index;
    let separator = if ty.contains("::") { "::" } else { "." };
    let (fields, last) = path.rsplit_once('.').unwrap_or(("", path));
    let mut owner = ty.to_string();
    for field in fields.split('.').filter(|f| !f.is_empty()) {
        let next = index.type_of(&concat(&[&owner, ".", field]), separator)?;
        owner = index.unalias(next, separator).into_owned();
    }
    Some(concat(&[&owner, ".", last]))
}

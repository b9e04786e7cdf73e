//! Fields of one struct that hold the same value, as its constructors fill them (Rust):
//! `FinalState::new(db)` stores `db` and builds `pos_state` with `PosState::new(db.clone())`,
//! which stores its argument in `PosState.db`; so `FinalState.db` and `FinalState.pos_state.db`
//! are one `Arc`, and a lock taken through one is taken through the other.

use rustc_hash::FxHashMap as HashMap;

use super::Project;
use crate::model::{FieldFlow, FlowSource, concat};

/// How many constructors deep a value is followed (`A::new` → `B::new` → `C::new`).
const MAX_DEPTH: usize = 3;

/// How many paths one constructor parameter may reach (generated code, huge structs).
const MAX_PATHS: usize = 16;

/// Field paths of one value: each path (`ledger::FinalState.pos_state.db`) → the path that
/// stands for all paths of the same value in the struct (the first by name).
#[derive(Debug, Default)]
pub struct SharedFields {
    representative: HashMap<String, String>,
}

impl SharedFields {
    pub fn new(project: &Project) -> SharedFields {
        let flows: Vec<(&str, &str, &FieldFlow)> = project
            .functions()
            .flat_map(|(_, function)| {
                let owner = function.canonical.rsplit_once("::").map_or("", |(o, _)| o);
                let canonical = function.canonical.as_str();
                function
                    .field_flows
                    .iter()
                    .map(move |f| (canonical, owner, f))
            })
            .collect();
        if flows.is_empty() {
            return SharedFields::default();
        }
        let callee = |name: &str| {
            let id = project.index.resolve(name, "::")?;
            Some(project.function(id).canonical.as_str())
        };
        // (constructor, parameter) → the paths of its own struct it stores that parameter in.
        let mut stored: HashMap<(&str, u8), Vec<String>> = HashMap::default();
        for _ in 0..MAX_DEPTH {
            let mut next: HashMap<(&str, u8), Vec<String>> = HashMap::default();
            for &(function, owner, flow) in &flows {
                let FlowSource::Parameter(parameter) = flow.source else {
                    continue;
                };
                let Some((ty, _)) = flow.field.rsplit_once('.') else {
                    continue;
                };
                if ty != owner {
                    continue;
                }
                let paths = next.entry((function, parameter)).or_default();
                paths.extend(paths_of(flow, &stored, &callee));
                paths.sort_unstable();
                paths.dedup();
                paths.truncate(MAX_PATHS);
            }
            if next == stored {
                break;
            }
            stored = next;
        }
        // Per function, per value: the paths it fills.
        let mut shared = SharedFields::default();
        let mut by_value: HashMap<(&str, &FlowSource), Vec<String>> = HashMap::default();
        for &(function, _, flow) in &flows {
            by_value
                .entry((function, &flow.source))
                .or_default()
                .extend(paths_of(flow, &stored, &callee));
        }
        for mut paths in by_value.into_values() {
            paths.sort_unstable();
            paths.dedup();
            paths.truncate(MAX_PATHS);
            for pair in paths.windows(2) {
                // Only paths of one struct are one value of one object.
                let owner = |path: &str| path.split_once('.').map(|(ty, _)| ty.to_string());
                if owner(&pair[0]) == owner(&pair[1]) {
                    shared.union(&pair[0], &pair[1]);
                }
            }
        }
        shared
    }

    /// The path standing for every path of the same value.
    pub fn representative<'p>(&'p self, path: &'p str) -> &'p str {
        let mut current = path;
        while let Some(next) = self.representative.get(current) {
            current = next;
        }
        current
    }

    /// Whether two paths of one object's fields hold the same value.
    pub fn same(&self, a: &str, b: &str) -> bool {
        a == b || self.representative(a) == self.representative(b)
    }

    /// Every group of two or more paths of one value.
    pub fn groups(&self) -> Vec<Vec<&str>> {
        let mut groups: HashMap<&str, Vec<&str>> = HashMap::default();
        for path in self.representative.keys() {
            groups
                .entry(self.representative(path))
                .or_default()
                .push(path.as_str());
        }
        groups
            .into_iter()
            .map(|(representative, mut paths)| {
                paths.push(representative);
                paths.sort_unstable();
                paths
            })
            .collect()
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

/// The paths a flow fills (`ledger::FinalState.db`, or through a constructor that stores the
/// argument in `PosState.db`, `ledger::FinalState.pos_state.db`).
fn paths_of<'a>(
    flow: &FieldFlow,
    stored: &HashMap<(&str, u8), Vec<String>>,
    callee: &impl Fn(&str) -> Option<&'a str>,
) -> Vec<String> {
    match &flow.through {
        None => vec![flow.field.clone()],
        Some((name, position)) => {
            let Some(function) = callee(name) else {
                return Vec::new();
            };
            stored
                .get(&(function, *position))
                .into_iter()
                .flatten()
                .filter_map(|inner| {
                    let (_, fields) = inner.split_once('.')?;
                    Some(concat(&[&flow.field, ".", fields]))
                })
                .collect()
        }
    }
}

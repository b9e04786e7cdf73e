//! What the lock rules (IL201, IL202) say about sites: short lock names, and the related
//! locations of a lock taken directly or through a call chain.

use super::call_hop;
use crate::diagnostic::Related;
use crate::graph::Project;
use crate::graph::locks::{Acquisition, Evidence, Inner, LockGraph};
use crate::model::LockHold;

/// A lock's identity without its module path: `Ledger.audit_lock`, `Bank.accounts`,
/// `REGISTRY`, or a local's name.
pub fn short_name(identity: &str) -> String {
    // A Rust local that shadows another of its name (`store#1`) reads as written.
    let identity = identity.split_once('#').map_or(identity, |(name, _)| name);
    let (owner, member) = match identity.rsplit_once('.') {
        // Python paths: keep the class if the owner is one.
        Some((owner, member)) if !owner.contains("::") => {
            let class = owner.rsplit('.').next().unwrap_or(owner);
            let is_class = class.starts_with(|c: char| c.is_ascii_uppercase());
            (is_class.then_some(class), member)
        }
        // Rust fields: `ledger::bank::Bank.accounts`.
        Some((owner, member)) => (Some(owner.rsplit("::").next().unwrap_or(owner)), member),
        None => (None, identity.rsplit("::").next().unwrap_or(identity)),
    };
    // Any element of a collection of locks (`Core.levels[]`) reads as one: `Core.levels[..]`.
    let member = match member.strip_suffix(crate::model::ITEMS) {
        Some(collection) => format!("{collection}[..]"),
        None => member.to_string(),
    };
    match owner {
        Some(owner) => format!("{owner}.{member}"),
        None => member,
    }
}

/// The lock an acquisition takes as the code there names it: a field that shares one lock
/// with another field whose name the graph's node bears (`Reporter.stats` for the node
/// `Shop.stats`), else `node`.
pub fn site_name(project: &Project, locks: &LockGraph, at: Acquisition, node: &str) -> String {
    let taken = hold(project, at);
    match locks.shared.contains_key(&taken.identity) {
        true => short_name(&taken.identity),
        false => node.to_string(),
    }
}

/// The acquisition an edge's inner lock is taken at.
pub fn inner_acquisition(evidence: &Evidence) -> Acquisition {
    match &evidence.inner {
        Inner::Direct(hold) => Acquisition {
            function: evidence.outer.function,
            hold: *hold,
        },
        Inner::Call { leaf, .. } => *leaf,
    }
}

pub fn hold<'p>(project: &Project<'p>, at: Acquisition) -> &'p LockHold {
    &project.function(at.function).lock_holds[at.hold]
}

/// `f` in messages: the function's name.
pub fn function_name(project: &Project, at: Acquisition) -> String {
    format!("`{}`", project.function(at.function).name)
}

/// The related site of an acquisition.
pub fn acquisition(project: &Project, at: Acquisition, message: String) -> Related {
    Related {
        path: project.model(at.function).path.clone(),
        span: hold(project, at).span.clone(),
        message,
    }
}

/// The call chain of an inner acquisition as `f → g → h`, or empty when it is direct.
pub fn chain_names(project: &Project, evidence: &Evidence) -> String {
    match &evidence.inner {
        Inner::Direct(_) => String::new(),
        Inner::Call { chain, .. } => {
            let mut names = vec![project.function(evidence.outer.function).name.clone()];
            for site in chain {
                if let Some(callee) = project.target(*site) {
                    names.push(project.function(callee).name.clone());
                }
            }
            names.join(" → ")
        }
    }
}

/// The related sites of how `inner_lock` is taken while `outer_lock` is held: the direct
/// acquisition, or every call of the chain and the acquisition at its end. `skip_first` leaves
/// out the first site (when it is the diagnostic's primary location).
pub fn inner_sites(
    project: &Project,
    evidence: &Evidence,
    outer_lock: &str,
    inner_lock: &str,
    skip_first: bool,
) -> Vec<Related> {
    let mut related = Vec::new();
    match &evidence.inner {
        Inner::Direct(hold) => {
            let at = Acquisition {
                function: evidence.outer.function,
                hold: *hold,
            };
            related.push(acquisition(
                project,
                at,
                format!("`{inner_lock}` taken here while `{outer_lock}` is held"),
            ));
        }
        Inner::Call { chain, leaf } => {
            for site in chain {
                let Some(callee) = project.target(*site) else {
                    continue;
                };
                let rest = format!(" while `{outer_lock}` is held");
                related.push(call_hop(project, *site, callee, &rest));
            }
            related.push(acquisition(
                project,
                *leaf,
                format!(
                    "`{inner_lock}` taken here, in `{}`",
                    project.function(leaf.function).name
                ),
            ));
        }
    }
    if skip_first && !related.is_empty() {
        related.remove(0);
    }
    related
}

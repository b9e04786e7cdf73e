//! IL201 lock-order-inversion: two (or more) locks are taken in conflicting orders somewhere in
//! the project — a cycle in the lock-acquisition graph, directly or through calls — so threads
//! can each hold one lock and wait forever for the next.

use super::lock_sites::{
    acquisition, chain_names, function_name, inner_acquisition, inner_sites, short_name, site_name,
};
use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;

pub const RULE: Rule = Rule {
    code: Code::IL201,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let locks = context.lock_graph();
    let cycles = locks.cycles(|evidence| !context.evidence_suppressed(evidence, RULE.code));
    for cycle in cycles {
        let names: Vec<String> = cycle
            .iter()
            .map(|(from, _, _)| short_name(&locks.graph[*from].identity))
            .collect();
        let name_of = |i: usize| &names[i % names.len()];
        let mut orders = Vec::new();
        let mut related = Vec::new();
        let mut first_label = None;
        // Fields that hold one shared lock under another name than the graph's.
        let mut aliases: Vec<(String, String)> = Vec::new();
        for (i, (_, _, evidence)) in cycle.iter().enumerate() {
            // As each site names them (one lock may be reached through several fields).
            let outer = &site_name(project, locks, evidence.outer, name_of(i));
            let inner = &site_name(project, locks, inner_acquisition(evidence), name_of(i + 1));
            for (site, node) in [(outer, name_of(i)), (inner, name_of(i + 1))] {
                if site != node && !aliases.contains(&(site.clone(), node.clone())) {
                    aliases.push((site.clone(), node.clone()));
                }
            }
            first_label.get_or_insert_with(|| format!("`{inner}` taken while `{outer}` is held"));
            let chain = chain_names(project, evidence);
            let in_closure =
                project.function(evidence.outer.function).lock_holds[evidence.outer.hold].closure
                    != 0;
            let place = if chain.is_empty() && in_closure {
                format!("in a closure in {}", function_name(project, evidence.outer))
            } else if chain.is_empty() {
                format!("in {}", function_name(project, evidence.outer))
            } else {
                format!("through {chain}")
            };
            orders.push(format!("`{outer}` before `{inner}` {place}"));
            related.push(acquisition(
                project,
                evidence.outer,
                format!("`{outer}` taken here"),
            ));
            related.extend(inner_sites(project, evidence, outer, inner, i == 0));
        }
        let (_, _, first) = &cycle[0];
        let mut order = match orders.as_slice() {
            [a, b] => format!("{a}, but {b}"),
            _ => orders.join(", then "),
        };
        if !aliases.is_empty() {
            let same: Vec<String> = aliases
                .iter()
                .map(|(site, node)| format!("`{site}` is `{node}`"))
                .collect();
            order.push_str(&format!(" ({}: one `Arc`-shared lock)", same.join(", ")));
        }
        let global: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let mut diagnostic = Diagnostic::new(
            RULE.code,
            project.model(first.outer.function).path.clone(),
            first.inner_site(project),
            format!(
                "lock-order inversion: {order}; threads running these at the same time can each hold one lock and wait forever for the other (deadlock)"
            ),
        )
        .with_label(first_label.unwrap_or_default())
        .with_help(format!(
            "take these locks in one global order everywhere (for example {}), or hold only one at a time; `interlock graph --kind locks` draws the lock graph with this cycle in red",
            global.join(" before ")
        ));
        diagnostic.related = related;
        out.push(diagnostic);
    }
}

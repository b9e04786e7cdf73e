//! IL201 lock-order-inversion: two (or more) locks are taken in conflicting orders somewhere in
//! the project — a cycle in the lock-acquisition graph, directly or through calls — so threads
//! can each hold one lock and wait forever for the next. Waiting for a thread (`join()`) is
//! taking its end: joining it while holding a lock its function takes is the same cycle.

use super::lock_sites::{
    acquisition, chain_names, function_name, inner_acquisition, inner_sites, short_name, site_name,
};
use super::{Check, ProjectContext, Rule, call_hop, call_site};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::graph::locks::JoinWait;
use crate::graph::summary::Policy;

pub const RULE: Rule = Rule {
    code: Code::IL201,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    inversions(context, out);
    for wait in &context.lock_graph().join_waits {
        if !join_wait_suppressed(context, wait) {
            out.push(join_wait(context, wait));
        }
    }
}

fn inversions(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let locks = context.lock_graph();
    let cycles = locks.cycles(|evidence| !context.evidence_suppressed(evidence, RULE.code));
    for cycle in cycles {
        // Reads only: a read waits for another read's lock only behind a queued writer.
        let reads = cycle.iter().all(|(_, _, evidence)| {
            [evidence.outer, inner_acquisition(evidence)]
                .into_iter()
                .all(|at| {
                    locks
                        .hold_type(at)
                        .is_some_and(|t| t.shared && !t.upgradable)
                })
        });
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
                "lock-order inversion: {order}; threads running these at the same time can each hold one lock and wait forever for the other (deadlock){}",
                match reads {
                    true => " — every acquisition here is a read, so they block each other only once a writer waits for each lock, which makes a later read wait behind it",
                    false => "",
                }
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

/// Whether a suppression comment covers IL201 at any site of a join wait.
fn join_wait_suppressed(context: &ProjectContext, wait: &JoinWait) -> bool {
    let (chain, leaf) = &wait.taken;
    context.suppressed_at(wait.outer, RULE.code)
        || context.suppressed_at(*leaf, RULE.code)
        || wait
            .join
            .iter()
            .chain(chain)
            .any(|site| Policy::suppressed(context, context.project, *site, RULE.code))
}

/// A thread joined while a lock its function takes is held.
fn join_wait(context: &ProjectContext, wait: &JoinWait) -> Diagnostic {
    let project = context.project;
    let locks = context.lock_graph();
    let lock = short_name(&locks.graph[wait.lock].identity);
    let holder = function_name(project, wait.outer);
    let run = project.function(wait.thread).name.as_str();
    let (chain, leaf) = &wait.taken;
    let mut related = vec![acquisition(
        project,
        wait.outer,
        format!("`{lock}` taken here"),
    )];
    let join = *wait.join.last().expect("a join wait ends at its join");
    for site in &wait.join[..wait.join.len() - 1] {
        if let Some(callee) = project.target(*site) {
            related.push(call_hop(
                project,
                *site,
                callee,
                &format!(" while `{lock}` is held"),
            ));
        }
    }
    // An executor's `shutdown()` waits for its workers as `join()` waits for a thread.
    let shutdown = project.call(join).method.as_deref() == Some("shutdown");
    let (waits, joins) = match shutdown {
        true => (
            "`shutdown()` waits here",
            "shuts down the executor whose workers run",
        ),
        false => ("`join()` waits here", "joins the thread running"),
    };
    related.push(call_site(
        project,
        join,
        format!("{waits} for the thread running `{run}` to finish"),
    ));
    let mut taken_through = vec![run.to_string()];
    for site in chain {
        if let Some(callee) = project.target(*site) {
            related.push(call_hop(project, *site, callee, " on that thread"));
            taken_through.push(project.function(callee).name.clone());
        }
    }
    related.push(acquisition(
        project,
        *leaf,
        format!("the thread takes `{lock}` here"),
    ));
    let taken_through = match taken_through.len() {
        1 => format!("in `{run}`"),
        _ => format!("through {}", taken_through.join(" → ")),
    };
    let joined_in = match wait.join.len() {
        1 => String::new(),
        _ => format!(" (in `{}`)", project.function(join.caller).name),
    };
    let timed = project
        .function(join.caller)
        .thread_joins
        .iter()
        .any(|j| j.call as usize == join.call && j.timeout);
    let outcome = match timed {
        true => {
            "once it waits for the lock, the join cannot succeed: it always waits out its whole timeout, and returns with the thread still running"
        }
        false => "once it waits for the lock, neither can go on (deadlock)",
    };
    let first = wait.join[0];
    let mut diagnostic = Diagnostic::new(
        RULE.code,
        project.model(wait.outer.function).path.clone(),
        project.call(first).span.clone(),
        format!(
            "{holder} {joins} `{run}`{joined_in} while holding `{lock}`, and that thread takes `{lock}` {taken_through}: {outcome}"
        ),
    )
    .with_label(format!("waits for the thread while `{lock}` is held"))
    .with_help(format!(
        "release `{lock}` before joining: signal the thread to stop while holding it, then call `join()` after the lock is released"
    ));
    diagnostic.related = related;
    diagnostic
}

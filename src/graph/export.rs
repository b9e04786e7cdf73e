//! Pictures of the project graphs: the call graph or the await graph (what each async function
//! awaits or spawns), as Graphviz DOT or JSON, optionally only the part reachable from a
//! function. Functions that may block are highlighted, with their blocking calls as leaves.

use std::collections::{BTreeSet, HashSet, VecDeque};

use rustc_hash::FxHashMap as HashMap;
use std::fmt::Write as _;

use petgraph::visit::EdgeRef;
use serde::Serialize;

use super::locks::LockGraph;
use super::summary::{BlocksVia, Summaries};
use super::{FunctionId, Project};
use crate::codes::Code;
use crate::source::LineIndex;
use petgraph::graph::NodeIndex;

/// Which graph to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphKind {
    /// Every resolved call between project functions.
    Calls,
    /// Only awaited or spawned calls (`await f()`, `create_task(f())`, `f().await`).
    Awaits,
    /// The lock-acquisition graph: locks, and an edge when one is taken while another is held.
    Locks,
}

/// Output format of `interlock graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Json,
}

#[derive(Serialize)]
struct Node {
    id: String,
    name: String,
    file: String,
    line: usize,
    is_async: bool,
    /// The rule of the blocking call this function may reach, if any.
    blocks: Option<&'static str>,
}

#[derive(Serialize)]
struct Edge {
    from: String,
    to: String,
    file: String,
    line: usize,
}

#[derive(Serialize)]
struct Picture {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

/// Draws the graph; `from` restricts it to what functions matching that name reach
/// (a canonical name, or its last segments: `serve`, `Service.handle`).
pub fn render(
    project: &Project,
    lines: &[&LineIndex],
    summaries: &Summaries,
    kind: GraphKind,
    format: GraphFormat,
    from: Option<&str>,
) -> Result<String, String> {
    let line_of = |file: usize, offset: usize| lines[file].line_of(offset) + 1;

    let edges: Vec<(FunctionId, FunctionId, usize)> = project
        .graph
        .edge_references()
        .filter(|e| kind == GraphKind::Calls || project.call(e.weight().site).awaited)
        .map(|e| {
            let site = e.weight().site;
            (
                project.graph[e.source()],
                project.graph[e.target()],
                project.call(site).span.start,
            )
        })
        .collect();
    let included: BTreeSet<FunctionId> = match from {
        Some(name) => {
            let starts: Vec<FunctionId> = project
                .functions()
                .filter(|(_, f)| matches_name(&f.canonical, name))
                .map(|(id, _)| id)
                .collect();
            if starts.is_empty() {
                return Err(format!("no function named `{name}` in the analysed files"));
            }
            reachable(&starts, &edges)
        }
        None => edges.iter().flat_map(|(a, b, _)| [*a, *b]).collect(),
    };

    let node = |id: FunctionId| {
        let function = project.function(id);
        Node {
            id: function.canonical.clone(),
            name: function.name.clone(),
            file: project.model(id).path.display().to_string(),
            line: line_of(id.file, function.span.start),
            is_async: function.is_async,
            blocks: blocking_rule(project, summaries, id).map(Code::as_str),
        }
    };
    let picture = Picture {
        nodes: included.iter().map(|&id| node(id)).collect(),
        edges: edges
            .iter()
            .filter(|(a, b, _)| included.contains(a) && included.contains(b))
            .map(|&(a, b, offset)| Edge {
                from: project.function(a).canonical.clone(),
                to: project.function(b).canonical.clone(),
                file: project.model(a).path.display().to_string(),
                line: line_of(a.file, offset),
            })
            .collect(),
    };
    match format {
        GraphFormat::Json => serde_json::to_string_pretty(&picture).map_err(|e| e.to_string()),
        GraphFormat::Dot => Ok(dot(project, summaries, &picture, &included, kind)),
    }
}

fn matches_name(canonical: &str, name: &str) -> bool {
    canonical == name
        || canonical
            .strip_suffix(name)
            .is_some_and(|rest| rest.ends_with('.') || rest.ends_with("::"))
}

/// Every function reachable from `starts` along `edges`.
fn reachable(
    starts: &[FunctionId],
    edges: &[(FunctionId, FunctionId, usize)],
) -> BTreeSet<FunctionId> {
    let mut next: HashMap<FunctionId, Vec<FunctionId>> = HashMap::default();
    for (a, b, _) in edges {
        next.entry(*a).or_default().push(*b);
    }
    let mut seen: HashSet<FunctionId> = starts.iter().copied().collect();
    let mut queue: VecDeque<FunctionId> = starts.iter().copied().collect();
    while let Some(id) = queue.pop_front() {
        for &callee in next.get(&id).into_iter().flatten() {
            if seen.insert(callee) {
                queue.push_back(callee);
            }
        }
    }
    seen.into_iter().collect()
}

/// The rule of the blocking call a function may reach.
fn blocking_rule(project: &Project, summaries: &Summaries, id: FunctionId) -> Option<Code> {
    super::summary::chain(summaries, id, 0)
        .last()
        .and_then(|via| match via {
            BlocksVia::Leaf { site } => project.call(*site).blocking.as_ref().map(|api| api.rule),
            BlocksVia::Call { .. } => None,
        })
}

#[derive(Serialize)]
struct LockNodeOut {
    id: String,
    kind: String,
    /// Where the lock is defined, when it is a module, class or struct-level lock.
    file: Option<String>,
    line: Option<usize>,
    in_cycle: bool,
}

#[derive(Serialize)]
struct LockEdgeOut {
    from: String,
    to: String,
    /// Where the second lock is taken (or the call that takes it) while the first is held.
    sites: Vec<LockSite>,
    in_cycle: bool,
}

#[derive(Serialize)]
struct LockSite {
    function: String,
    file: String,
    line: usize,
}

#[derive(Serialize)]
struct LockPicture {
    nodes: Vec<LockNodeOut>,
    edges: Vec<LockEdgeOut>,
}

/// Draws the lock-acquisition graph: locks with their definition sites, edges labelled with the
/// function and line where the second lock is taken while the first is held, cycles in red.
pub fn render_locks(
    project: &Project,
    lines: &[&LineIndex],
    locks: &LockGraph,
    format: GraphFormat,
) -> Result<String, String> {
    let line_of = |file: usize, offset: usize| lines[file].line_of(offset) + 1;
    let mut cycle_edges: HashSet<(NodeIndex, NodeIndex)> = HashSet::new();
    for cycle in locks.cycles(|_| true) {
        cycle_edges.extend(cycle.iter().map(|(a, b, _)| (*a, *b)));
    }
    let in_cycle = |n: NodeIndex| cycle_edges.iter().any(|(a, b)| *a == n || *b == n);
    let picture = LockPicture {
        nodes: locks
            .graph
            .node_indices()
            .map(|n| {
                let node = &locks.graph[n];
                LockNodeOut {
                    id: node.identity.clone(),
                    kind: node.kind.clone(),
                    file: node
                        .definition
                        .as_ref()
                        .map(|(file, _)| project.models[*file].path.display().to_string()),
                    line: node
                        .definition
                        .as_ref()
                        .map(|(file, span)| line_of(*file, span.start)),
                    in_cycle: in_cycle(n),
                }
            })
            .collect(),
        edges: locks
            .graph
            .edge_references()
            .map(|e| LockEdgeOut {
                from: locks.graph[e.source()].identity.clone(),
                to: locks.graph[e.target()].identity.clone(),
                sites: e
                    .weight()
                    .iter()
                    .map(|evidence| {
                        let id = evidence.outer.function;
                        LockSite {
                            function: project.function(id).name.clone(),
                            file: project.model(id).path.display().to_string(),
                            line: line_of(id.file, evidence.inner_site(project).start),
                        }
                    })
                    .collect(),
                in_cycle: cycle_edges.contains(&(e.source(), e.target())),
            })
            .collect(),
    };
    match format {
        GraphFormat::Json => serde_json::to_string_pretty(&picture).map_err(|e| e.to_string()),
        GraphFormat::Dot => Ok(lock_dot(&picture)),
    }
}

fn lock_dot(picture: &LockPicture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph locks {{");
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontsize=9];"
    );
    for node in &picture.nodes {
        let place = match (&node.file, node.line) {
            (Some(file), Some(line)) => format!("\\n{file}:{line}"),
            _ => String::new(),
        };
        let colour = if node.in_cycle {
            ", color=red, fontcolor=red, penwidth=2"
        } else {
            ""
        };
        let label = format!("{}\\n{}{place}", node.id, node.kind);
        let _ = writeln!(
            out,
            "  {} [label={}{colour}];",
            quote(&node.id),
            quote(&label)
        );
    }
    for edge in &picture.edges {
        let label: Vec<String> = edge
            .sites
            .iter()
            .map(|s| format!("{} (line {})", s.function, s.line))
            .collect();
        let colour = if edge.in_cycle {
            ", color=red, fontcolor=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}{colour}];",
            quote(&edge.from),
            quote(&edge.to),
            quote(&label.join("\\n"))
        );
    }
    let _ = writeln!(out, "}}");
    out
}

/// A DOT string literal (`\n` sequences in `text` stay line breaks).
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}

fn dot(
    project: &Project,
    summaries: &Summaries,
    picture: &Picture,
    included: &BTreeSet<FunctionId>,
    kind: GraphKind,
) -> String {
    let name = match kind {
        GraphKind::Calls => "calls",
        GraphKind::Awaits | GraphKind::Locks => "awaits",
    };
    let mut out = String::new();
    let _ = writeln!(out, "digraph {name} {{");
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontsize=9];"
    );
    for node in &picture.nodes {
        let mut attributes = vec![format!(
            "label={}",
            quote(&format!("{}\\n{}:{}", node.name, node.file, node.line))
        )];
        if node.is_async {
            attributes.push("style=\"rounded\"".into());
        }
        if node.blocks.is_some() {
            attributes.push("color=orange, penwidth=2".into());
        }
        let _ = writeln!(out, "  {} [{}];", quote(&node.id), attributes.join(", "));
    }
    for edge in &picture.edges {
        let _ = writeln!(
            out,
            "  {} -> {} [label={}];",
            quote(&edge.from),
            quote(&edge.to),
            quote(&format!("line {}", edge.line))
        );
    }
    // The blocking calls themselves, as red leaves of the functions that make them.
    for &id in included {
        let first = summaries.get(&id).and_then(|routes| routes.first());
        if let Some(BlocksVia::Leaf { site }) = first.map(|route| &route.via) {
            let call = project.call(*site);
            let rule = call.blocking.as_ref().map_or("", |api| api.rule.as_str());
            let leaf = call
                .callee
                .clone()
                .or_else(|| call.method.clone())
                .unwrap_or_default();
            let leaf_id = format!("{leaf}() [{rule}]");
            let _ = writeln!(
                out,
                "  {} [label={}, color=red, fontcolor=red, shape=ellipse];",
                quote(&leaf_id),
                quote(&format!("{leaf}()\\n{rule}"))
            );
            let _ = writeln!(
                out,
                "  {} -> {} [color=red];",
                quote(&project.function(id).canonical),
                quote(&leaf_id)
            );
        }
    }
    let _ = writeln!(out, "}}");
    out
}

//! interlock: a static analyzer for concurrency bugs in Python and Rust.
//!
//! Front ends (`frontend`) lower each file into one language-neutral `model`; `rules` read the
//! model (with the API tables of `knowledge`) and emit `diagnostic`s; `analysis` drives the
//! files in parallel; `report` renders the results; `cli` ties it together; `server` is the
//! language server. `codes` is the registry of rule codes that all of them share.

pub mod analysed;
pub mod analysis;
pub mod cli;
pub mod codes;
pub mod config;
pub mod decode;
pub mod diagnostic;
pub mod discover;
pub mod frontend;
#[doc(hidden)]
pub mod fuzz;
pub mod graph;
pub mod guard;
pub mod knowledge;
pub mod model;
pub mod project;
pub mod report;
pub mod rules;
pub mod server;
pub mod source;
pub mod suppress;

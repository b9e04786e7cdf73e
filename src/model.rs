//! The language-neutral model of concurrency facts that both front ends lower into.
//!
//! A [`FileModel`] holds the functions of one source file (index 0 is the module's top-level
//! code) and, per function, the ordered facts the rules read: calls with their canonical callee
//! and the execution context they run in, and await points. Later analyses add locks, spawns and
//! shared-state accesses here.

use std::ops::Range;
use std::path::PathBuf;

/// Source language of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Rust,
}

impl Language {
    /// The language of a path, judged by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(Language::Python),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }

    /// Separator between the segments of a canonical name (`time.sleep`, `std::fs::read`).
    pub fn path_separator(self) -> &'static str {
        match self {
            Language::Python => ".",
            Language::Rust => "::",
        }
    }
}

/// A byte range in a file's text.
pub type Span = Range<usize>;

/// Where a piece of code runs, as far as blocking is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Ordinary synchronous code.
    Sync,
    /// Code that runs on an event loop: an `async def`/`async fn` body, an async block or closure.
    Async,
    /// Code handed to another thread (`asyncio.to_thread`, `spawn_blocking`, `thread::spawn`…).
    Offloaded,
}

/// What kind of code region a [`Function`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// The top-level code of a module.
    Module,
    /// A `def`/`fn`, including methods.
    Function,
    /// A lambda or closure.
    Closure,
    /// A Rust `async { … }` block.
    AsyncBlock,
}

/// One call site.
#[derive(Clone, Debug)]
pub struct Call {
    /// Canonical name of the callee (`time.sleep`, `queue.Queue.get`, `std::fs::read`) when the
    /// front end could resolve it through imports, `use` items and simple type evidence.
    pub callee: Option<String>,
    /// Method name when the call has method syntax (`x.get()`), resolved or not.
    pub method: Option<String>,
    /// The whole call expression.
    pub span: Span,
    /// The context this call runs in.
    pub context: Context,
    /// The call asks not to block (`get(block=False)`, `acquire(timeout=0)`).
    pub non_blocking: bool,
    /// The call's result is awaited or scheduled as an awaitable (`await f()`, `f().await`,
    /// `asyncio.create_task(f())`): it returns a coroutine or future and does not block.
    pub awaited: bool,
}

/// A function, method, closure, async block or a module's top-level code.
#[derive(Clone, Debug)]
pub struct Function {
    /// Qualified name inside the file (`Service.handle`, `<module>`).
    pub name: String,
    pub kind: FunctionKind,
    pub is_async: bool,
    /// The span of the definition's name (or of the whole region for closures and blocks).
    pub span: Span,
    /// Index of the enclosing function in [`FileModel::functions`].
    pub parent: Option<usize>,
    /// Calls in source order.
    pub calls: Vec<Call>,
    /// `await` / `.await` points in source order.
    pub awaits: Vec<Span>,
}

/// Everything interlock knows about one file.
#[derive(Clone, Debug)]
pub struct FileModel {
    pub path: PathBuf,
    pub language: Language,
    /// Index 0 is the module's top-level code.
    pub functions: Vec<Function>,
}

impl FileModel {
    /// An empty model with only the top-level region.
    pub fn new(path: PathBuf, language: Language) -> Self {
        let module = Function {
            name: "<module>".to_string(),
            kind: FunctionKind::Module,
            is_async: false,
            span: 0..0,
            parent: None,
            calls: Vec::new(),
            awaits: Vec::new(),
        };
        FileModel {
            path,
            language,
            functions: vec![module],
        }
    }

    /// All calls of the file with the function they belong to.
    pub fn calls(&self) -> impl Iterator<Item = (&Function, &Call)> {
        self.functions
            .iter()
            .flat_map(|f| f.calls.iter().map(move |c| (f, c)))
    }
}

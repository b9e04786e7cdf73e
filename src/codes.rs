//! The registry of rule codes (as Ruff's `codes.rs`): every code with its name, whether it is
//! enabled by default, its one-line summary and its documentation page. A leaf: config,
//! rules, graphs, the driver, the reporters and the language server all read it, and it uses
//! no other module.
//!
//! Inside interlock a code is a [`Code`]; strings appear only at the edges (configuration,
//! suppression comments, API tables, output), parsed once with [`Code::from_str`].
//! Codes are a public interface: never renumber them.

use std::fmt;
use std::str::FromStr;

/// Declares [`Code`] and its registry from one table: the variant (the code itself), the
/// rule's name, whether it is enabled by default and its summary. The page is
/// `rules/<CODE>-<name>.md`.
macro_rules! codes {
    ($($code:ident $name:literal $default:literal $summary:literal;)*) => {
        /// A rule code (`IL101`). Ordered as its text, as findings are sorted; debug-printed
        /// as its quoted text (as the model snapshots show it).
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($code,)*
        }

        /// Every code, in code order.
        pub const ALL: &[Code] = &[$(Code::$code,)*];

        impl Code {
            /// The code as written (`IL101`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// The rule's name (`blocking-sleep-in-async`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Code::$code => $name,)*
                }
            }

            /// Whether the rule is enabled when no configuration selects rules.
            pub const fn default_enabled(self) -> bool {
                match self {
                    $(Code::$code => $default,)*
                }
            }

            /// One line for `interlock rules` and SARIF.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Code::$code => $summary,)*
                }
            }

            /// The rule's page in `rules/`, embedded at build time.
            pub const fn doc(self) -> &'static str {
                match self {
                    $(Code::$code => include_str!(
                        concat!("../rules/", stringify!($code), "-", $name, ".md")
                    ),)*
                }
            }
        }
    };
}

codes! {
    IL001 "parse-error" true "the file has a syntax error (or nests too deeply) and was not analysed";
    IL002 "invalid-utf8" true "the file is not valid UTF-8 and was not analysed";
    IL101 "blocking-sleep-in-async" true "`time.sleep` / `std::thread::sleep` in async code";
    IL102 "blocking-file-io-in-async" true "synchronous file, stdin or SQLite I/O in async code";
    IL103 "blocking-network-in-async" true "synchronous HTTP, socket and database calls in async code";
    IL104 "blocking-subprocess-in-async" true "running or waiting for a subprocess synchronously in async code";
    IL105 "blocking-wait-in-async" true "thread queues, events, joins, futures and channels that block in async code";
    IL106 "transitive-blocking-call-in-async" true "async code calls a helper that blocks, through any number of calls and files";
    IL107 "nested-event-loop" true "`asyncio.run` / `block_on` inside code already running on an event loop";
    IL201 "lock-order-inversion" true "locks are taken in conflicting orders (a cycle in the lock graph): a deadlock";
    IL202 "double-lock" true "a non-reentrant lock is taken again by the thread that already holds it";
    IL203 "sync-lock-held-across-await" true "a thread-blocking lock or `RefCell` borrow is held across an await";
    IL204 "acquire-without-release" true "a lock's release is not guaranteed (acquire without try/finally, forgotten guard)";
    IL205 "lock-protects-nothing" true "a lock created where it is acquired, local to each call, or released at once";
    IL206 "condition-wait-misuse" true "a condition wait outside a predicate loop, or wait/notify without holding the lock";
    IL301 "process-spawn-without-main-guard" true "processes started at import time, outside `if __name__ == \"__main__\":`";
    IL302 "unpicklable-process-target" true "a lambda, nested function or local class's method is sent to another process";
    IL303 "thread-primitive-passed-to-process" true "a threading/asyncio primitive or `queue.Queue` is passed to another process";
    IL401 "unprotected-shared-write" true "a read-modify-write of shared state in code that runs on threads, with no lock";
    IL402 "inconsistently-guarded-state" true "state written under a lock in one place and without it in another";
    IL403 "check-then-act" true "shared state is checked, then acted on, without a lock across both";
    IL404 "split-read-modify-write" true "state read, then an await or a released lock, then written from the old value";
    IL501 "coroutine-never-awaited" true "a coroutine function is called but its coroutine is never awaited, so it never runs";
    IL502 "dangling-task" true "the task returned by `asyncio.create_task` is discarded and may be garbage-collected mid-flight";
    IL503 "busy-wait-loop" true "a loop that only polls a condition and sleeps, instead of waiting for an event";
}

/// The codes a blocking API may be assigned to, in the built-in tables (`rules/blocking.toml`)
/// and in user configuration (`[blocking]`).
pub const BLOCKING_API_CODES: &[Code] = &[
    Code::IL101,
    Code::IL102,
    Code::IL103,
    Code::IL104,
    Code::IL105,
    Code::IL107,
];

impl Code {
    /// The file could not be analysed at all (IL001, IL002): reported as an error, and not
    /// suppressible by a comment (only rule selection turns it off).
    pub const fn is_file_error(self) -> bool {
        matches!(self, Code::IL001 | Code::IL002)
    }
}

/// A code that is not in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCode(pub String);

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown rule code `{}`", self.0)
    }
}

impl std::error::Error for UnknownCode {}

impl FromStr for Code {
    type Err = UnknownCode;

    /// Parses a code in any case (`il101` is `IL101`).
    fn from_str(text: &str) -> Result<Code, UnknownCode> {
        ALL.iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownCode(text.to_string()))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Code) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Code) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_listed_in_order_and_parse_back() {
        assert!(ALL.windows(2).all(|pair| pair[0] < pair[1]));
        for &code in ALL {
            assert_eq!(code.as_str().parse(), Ok(code));
            assert_eq!(code.as_str().to_lowercase().parse(), Ok(code));
        }
        assert_eq!(
            "IL9999".parse::<Code>(),
            Err(UnknownCode("IL9999".to_string()))
        );
    }

    #[test]
    fn every_code_has_a_page_that_starts_with_its_code_and_name() {
        for &code in ALL {
            let title = format!("# {} {}", code, code.name());
            assert!(
                code.doc().starts_with(&title),
                "{code} page must start with `{title}`"
            );
        }
    }
}

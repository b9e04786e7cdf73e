//! Panics turned into errors: [`catch`] runs a closure and returns its panic message instead of
//! unwinding, and the process's panic hook stays quiet about panics that are caught this way
//! (the caller reports them, once, where they belong: a file's error, a finding drawn plainly).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`; a panic becomes `Err` with its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_hook();
    let was_catching = CATCHING.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.set(was_catching);
    result.map_err(|payload| message(&*payload))
}

/// The message a panic was raised with (`panic!("…")`'s text).
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Keeps the default hook from printing panics that [`catch`] handles, and panics on the
/// analysis threads (their jobs are all run under [`catch`], or under a caller that is). Every
/// other panic is still printed.
pub fn install_quiet_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let on_analysis_thread = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("interlock-"));
            if !CATCHING.get() && !on_analysis_thread {
                default(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(catch(|| 1), Ok(1));
        let caught = catch(|| -> u8 { panic!("boom {}", 7) });
        assert_eq!(caught, Err("boom 7".to_string()));
        assert_eq!(catch(|| -> u8 { panic!("static") }), Err("static".into()));
    }
}

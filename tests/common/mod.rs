//! Helpers shared by the integration tests that drive other programs (Neovim, pre-commit).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` to completion, killing it after `timeout`: (exit code, stdout + stderr).
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).ok();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for nvim") {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            child.kill().ok();
            break child.wait().expect("wait for the killed nvim");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout.join().expect("stdout"),
        stderr.join().expect("stderr")
    );
    assert!(
        !timed_out,
        "nvim still running after {timeout:?}, killed\n{text}"
    );
    (status.code(), text)
}

//! The stdio transport. `lsp_server::Connection::stdio` stops reading at the first malformed
//! message, which would kill the server; this one reports it to the client as a log message
//! and goes on reading.

use std::io::{self, BufReader, Write};
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use lsp_server::{Connection, Message, Notification};

/// The connection over stdin/stdout and the threads that serve it.
pub fn stdio() -> (Connection, thread::JoinHandle<()>, thread::JoinHandle<()>) {
    let (to_server, from_client) = unbounded::<Message>();
    let (to_client, from_server) = unbounded::<Message>();
    let reader = {
        let to_client = to_client.clone();
        thread::Builder::new()
            .name("lsp-reader".into())
            .spawn(move || read_messages(&mut BufReader::new(io::stdin()), &to_server, &to_client))
            .expect("the reader thread starts")
    };
    let writer = thread::Builder::new()
        .name("lsp-writer".into())
        .spawn(move || write_messages(&from_server))
        .expect("the writer thread starts");
    let connection = Connection {
        sender: to_client,
        receiver: from_client,
    };
    (connection, reader, writer)
}

/// Reads messages until end of input or `exit`. A message that is not valid JSON-RPC is
/// skipped with a log message to the client; only a failing stream ends the loop.
pub fn read_messages(
    input: &mut impl io::BufRead,
    to_server: &Sender<Message>,
    to_client: &Sender<Message>,
) {
    loop {
        match Message::read(input) {
            Ok(None) => return,
            Ok(Some(message)) => {
                let is_exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                if to_server.send(message).is_err() || is_exit {
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                let _ = to_client.send(log_message(
                    2,
                    &format!("interlock: ignored a malformed message: {error}"),
                ));
            }
            Err(_) => return,
        }
    }
}

fn write_messages(from_server: &Receiver<Message>) {
    let mut stdout = io::stdout().lock();
    for message in from_server {
        if message
            .write(&mut stdout)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
    }
}

/// A `window/logMessage` notification (`level`: 1 error, 2 warning, 3 info, 4 log).
pub fn log_message(level: u8, text: &str) -> Message {
    Notification::new(
        "window/logMessage".into(),
        serde_json::json!({"type": level, "message": text}),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_message_is_skipped_and_reading_goes_on() {
        let good = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let bad = "{not json";
        let stream = format!(
            "Content-Length: {}\r\n\r\n{bad}Content-Length: {}\r\n\r\n{good}",
            bad.len(),
            good.len()
        );
        let (to_server, from_client) = unbounded();
        let (to_client, from_server) = unbounded();
        read_messages(&mut stream.as_bytes(), &to_server, &to_client);
        let received: Vec<Message> = from_client.try_iter().collect();
        assert!(
            matches!(received.as_slice(), [Message::Notification(n)] if n.method == "initialized")
        );
        let logged: Vec<Message> = from_server.try_iter().collect();
        assert!(
            matches!(logged.as_slice(), [Message::Notification(n)] if n.method == "window/logMessage")
        );
    }
}

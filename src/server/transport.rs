//! The stdio transport. `lsp_server::Connection::stdio` stops reading at the first malformed
//! message, which would kill the server; this one reports it to the client as a log message,
//! finds the next frame and goes on reading.
//!
//! Framing: header lines end with CRLF, or LF alone (an unambiguous tolerance: a header line
//! ends at its LF either way); header names are case-insensitive; only `Content-Length` is
//! used. A frame that cannot be read (bad or missing length, header section over
//! [`MAX_HEADER_BYTES`], body over [`MAX_FRAME_BYTES`], body that is not a JSON-RPC message,
//! often because its length was wrong) is logged once, and reading resumes at the next
//! `Content-Length:` after the start of that frame, inside its body if need be.

use std::io::{self, BufRead, BufReader, Write};
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use lsp_server::{Connection, Message, Notification};

/// The largest message body accepted (64 MiB); a frame declaring more is never held in memory:
/// reading resumes at the next header.
pub const MAX_FRAME_BYTES: u64 = 64 << 20;

/// The largest header section accepted (8 KiB), so that a line that never ends cannot grow
/// memory without bound.
pub const MAX_HEADER_BYTES: usize = 8 << 10;

/// Where a frame starts after a framing error.
const HEADER: &[u8] = b"content-length:";

/// The connection over stdin/stdout and the threads that serve it.
pub fn stdio() -> (Connection, thread::JoinHandle<()>, thread::JoinHandle<()>) {
    let (to_server, from_client) = unbounded::<Message>();
    let (to_client, from_server) = unbounded::<Message>();
    let reader = {
        let to_client = to_client.clone();
        thread::Builder::new()
            .name("lsp-reader".into())
            .spawn(move || {
                let mut input = BufReader::with_capacity(64 << 10, io::stdin());
                read_messages(&mut input, &to_server, &to_client)
            })
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

/// Reads messages until end of input or `exit`. A frame that cannot be read is skipped with
/// one log message to the client; only the end of the stream (or a read error) ends the loop.
pub fn read_messages(
    input: &mut impl BufRead,
    to_server: &Sender<Message>,
    to_client: &Sender<Message>,
) {
    let mut reader = FrameReader::new(input);
    loop {
        match reader.next_frame() {
            Frame::End => return,
            Frame::Message(message) => {
                let is_exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                if to_server.send(message).is_err() || is_exit {
                    return;
                }
            }
            Frame::Malformed(reason) => {
                let _ = to_client.send(log_message(
                    2,
                    &format!("interlock: ignored a malformed message: {reason}"),
                ));
            }
        }
    }
}

/// What [`FrameReader::next_frame`] found.
#[derive(Debug)]
pub enum Frame {
    Message(Message),
    /// A frame that could not be read, and why; reading resumes at the next header.
    Malformed(String),
    /// End of input (or a read error).
    End,
}

/// Why a frame was not a message.
enum Bad {
    End,
    /// The frame was delimited well (its body is valid JSON); reading goes on after it.
    Skip(String),
    /// The framing is wrong: look for the next header after the frame's first byte.
    Resync(String),
}

/// Reads LSP frames with bounded memory, resynchronising after malformed ones.
pub struct FrameReader<R> {
    input: R,
    /// Bytes read; those before `start` are used up. The current frame starts at 0.
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    /// The last frame was malformed: look for the next header before reading on. Done on the
    /// next call, so that the malformed frame is reported at once, not when more input comes.
    resync_pending: bool,
}

impl<R: BufRead> FrameReader<R> {
    pub fn new(input: R) -> Self {
        FrameReader {
            input,
            buf: Vec::new(),
            start: 0,
            eof: false,
            resync_pending: false,
        }
    }

    /// The next message, malformed frame, or the end of input.
    pub fn next_frame(&mut self) -> Frame {
        if std::mem::take(&mut self.resync_pending) {
            self.resync(1);
        }
        self.buf.drain(..self.start);
        self.start = 0;
        // Give back the memory of a large message once it is handled.
        self.buf.shrink_to(1 << 20);
        match self.frame() {
            Ok(message) => Frame::Message(message),
            Err(Bad::End) => Frame::End,
            Err(Bad::Skip(reason)) => Frame::Malformed(reason),
            Err(Bad::Resync(reason)) => {
                self.resync_pending = true;
                Frame::Malformed(reason)
            }
        }
    }

    fn frame(&mut self) -> Result<Message, Bad> {
        // Blank lines between frames are tolerated.
        loop {
            let blank = self
                .buf
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.buf.drain(..blank);
            if !self.buf.is_empty() {
                break;
            }
            if !self.fill() {
                return Err(Bad::End);
            }
        }
        let mut length = None;
        let mut line_start = 0;
        loop {
            let line_end = loop {
                if let Some(i) = memchr::memchr(b'\n', &self.buf[line_start..]) {
                    break line_start + i;
                }
                if self.buf.len() > MAX_HEADER_BYTES {
                    return Err(Bad::Resync("header section over 8 KiB".into()));
                }
                if !self.fill() {
                    return Err(Bad::Resync("input ends inside a header".into()));
                }
            };
            if line_end > MAX_HEADER_BYTES {
                return Err(Bad::Resync("header section over 8 KiB".into()));
            }
            let line = &self.buf[line_start..line_end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line_start = line_end + 1;
            if line.is_empty() {
                break;
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                return Err(Bad::Resync("a header line without `:`".into()));
            };
            if line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(b"content-length")
            {
                let value = line[colon + 1..].trim_ascii();
                match std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    Some(value) => length = Some(value),
                    None => {
                        let shown: String =
                            String::from_utf8_lossy(value).chars().take(40).collect();
                        return Err(Bad::Resync(format!("invalid Content-Length `{shown}`")));
                    }
                }
            }
        }
        let Some(length) = length else {
            return Err(Bad::Resync("no Content-Length header".into()));
        };
        if length > MAX_FRAME_BYTES {
            return Err(Bad::Resync(format!(
                "Content-Length {length} is over the limit of {MAX_FRAME_BYTES} bytes"
            )));
        }
        let body_end = line_start + length as usize;
        while self.buf.len() < body_end {
            if !self.fill() {
                return Err(Bad::Resync(format!(
                    "input ends inside a {length}-byte body"
                )));
            }
        }
        self.start = body_end;
        let body = &self.buf[line_start..body_end];
        serde_json::from_slice(body).map_err(|error| {
            // Checked apart: `Message` is untagged, so `{}` then more text fails as data first.
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => Bad::Skip(format!("not a JSON-RPC message: {error}")),
                Err(error) => Bad::Resync(format!(
                    "the body is not JSON (wrong Content-Length?): {error}"
                )),
            }
        })
    }

    /// Moves to the next `Content-Length:` (any case) at or after `buf[from]`, reading on as
    /// needed but keeping only the last few bytes searched.
    fn resync(&mut self, from: usize) {
        let mut from = from.min(self.buf.len());
        loop {
            if let Some(at) = self.buf[from..]
                .windows(HEADER.len())
                .position(|w| w.eq_ignore_ascii_case(HEADER))
            {
                self.start = from + at;
                return;
            }
            // A header may be split between this read and the next.
            let keep = self.buf.len().saturating_sub(HEADER.len() - 1).max(from);
            self.buf.drain(..keep);
            from = 0;
            if !self.fill() {
                self.start = self.buf.len();
                return;
            }
        }
    }

    /// Appends what the input has to the buffer; false at end of input or on a read error.
    fn fill(&mut self) -> bool {
        while !self.eof {
            match self.input.fill_buf() {
                Ok([]) => self.eof = true,
                Ok(bytes) => {
                    let n = bytes.len();
                    self.buf.extend_from_slice(bytes);
                    self.input.consume(n);
                    return true;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
        false
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

    /// A frame holding `body`.
    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn request(id: i32) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"shutdown"}}"#)
    }

    /// Fifty valid requests, ids 0 to 49.
    fn fifty() -> String {
        (0..50).map(|id| frame(&request(id))).collect()
    }

    /// What the server and the client receive when `stream` is read.
    fn read(stream: &[u8]) -> (Vec<Message>, Vec<Message>) {
        let (to_server, from_client) = unbounded();
        let (to_client, from_server) = unbounded();
        read_messages(&mut &stream[..], &to_server, &to_client);
        (
            from_client.try_iter().collect(),
            from_server.try_iter().collect(),
        )
    }

    /// The request ids received.
    fn ids(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m {
                Message::Request(r) => r.id.to_string(),
                other => panic!("not a request: {other:?}"),
            })
            .collect()
    }

    fn expected_ids() -> Vec<String> {
        (0..50).map(|id| id.to_string()).collect()
    }

    /// `prefix` then fifty valid requests: all fifty arrive, and the prefix is logged once.
    fn recovers_after(prefix: &[u8]) {
        let mut stream = prefix.to_vec();
        stream.extend_from_slice(fifty().as_bytes());
        let (received, logged) = read(&stream);
        assert_eq!(
            ids(&received),
            expected_ids(),
            "after {:?}",
            prefix.escape_ascii().to_string()
        );
        assert_eq!(logged.len(), 1, "{logged:?}");
    }

    #[test]
    fn a_malformed_message_is_skipped_and_reading_goes_on() {
        let good = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let stream = format!("{}{}", frame("{not json"), frame(good));
        let (received, logged) = read(stream.as_bytes());
        assert!(
            matches!(received.as_slice(), [Message::Notification(n)] if n.method == "initialized")
        );
        assert!(
            matches!(logged.as_slice(), [Message::Notification(n)] if n.method == "window/logMessage")
        );
    }

    #[test]
    fn a_bad_length_header_is_skipped() {
        recovers_after(b"Content-Length: abc\r\n\r\n{}");
        recovers_after(b"Content-Length: 99999999999999999999999\r\n\r\n{}");
        recovers_after(b"Content-Type: text/plain\r\n\r\n{}");
        recovers_after(b"garbage\r\n\r\n");
        recovers_after(b"Content-Length: 10\n\n");
        recovers_after(frame(r#"{"valid":"json, not a message"}"#).as_bytes());
    }

    #[test]
    fn a_length_too_short_resyncs_at_the_next_header() {
        let body = request(99);
        recovers_after(format!("Content-Length: 10\r\n\r\n{body}").as_bytes());
    }

    #[test]
    fn a_length_too_long_resumes_inside_the_swallowed_bytes() {
        let body = request(99);
        let long = body.len() + 30; // takes the next frame's header and the start of its body
        recovers_after(format!("Content-Length: {long}\r\n\r\n{body}").as_bytes());
        recovers_after(b"Content-Length: 30\r\n\r\n{}");
        // At the end of the input, too.
        let stream = format!("Content-Length: 500\r\n\r\n{body}{}", frame(&request(1)));
        let (received, logged) = read(stream.as_bytes());
        assert_eq!(ids(&received), ["1"]);
        assert_eq!(logged.len(), 1);
    }

    #[test]
    fn huge_lengths_are_refused_without_allocating() {
        recovers_after(b"Content-Length: 18446744073709551615\r\n\r\n{}");
        recovers_after(b"Content-Length: 1000000000000\r\n\r\n{}");
        let over = format!("Content-Length: {}\r\n\r\n{{}}", MAX_FRAME_BYTES + 1);
        recovers_after(over.as_bytes());
    }

    #[test]
    fn an_endless_header_line_is_cut_short() {
        recovers_after(&vec![b'x'; 1 << 20]);
        let mut long_value = b"Content-Length: 1".to_vec();
        long_value.resize(100 << 10, b'0');
        recovers_after(&long_value);
    }

    #[test]
    fn lf_line_ends_and_any_header_case_are_accepted() {
        let body = request(7);
        let stream = format!("content-LENGTH:{}\n\n{body}{}", body.len(), fifty());
        let (received, logged) = read(stream.as_bytes());
        let mut expected = vec!["7".to_string()];
        expected.extend(expected_ids());
        assert_eq!(ids(&received), expected);
        assert!(logged.is_empty(), "{logged:?}");
    }

    #[test]
    fn a_malformed_frame_is_reported_before_more_input_is_read() {
        // What follows the bad frame is not there yet (an editor waiting for the answer):
        // reading it would block, here it panics.
        struct NotYet;
        impl io::Read for NotYet {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                panic!("read past the malformed frame")
            }
        }
        let bad = "Content-Length: 9\r\n\r\n{not json";
        let mut reader =
            FrameReader::new(io::BufReader::new(io::Read::chain(bad.as_bytes(), NotYet)));
        assert!(matches!(reader.next_frame(), Frame::Malformed(_)));
    }

    #[test]
    fn garbage_alone_ends_cleanly_with_one_log() {
        let mut state = 0x2545_f491_u32;
        let garbage: Vec<u8> = (0..1 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let (received, logged) = read(&garbage);
        assert!(received.is_empty());
        assert!(logged.len() <= 1, "{} logs", logged.len());
        let (received, logged) = read(b"");
        assert!(received.is_empty() && logged.is_empty());
    }
}

//! HTTP pieces of the scripted OpenAI-compatible endpoints in cairn-llm's tests: reading one
//! request, writing a response, an SSE stream. Used by the unit tests in `src/remote/tests.rs`
//! and by `tests/keychain.rs` (each includes this file with `#[path]`).

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP request (head and body, by Content-Length), or what arrived before 5 s passed.
pub fn read_request(conn: &mut TcpStream) -> String {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = conn.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A complete `Connection: close` response.
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

/// A `200 OK` server-sent-events stream of `events` (each a `data:` line).
pub fn sse(events: &[&str]) -> String {
    let body: String = events
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect();
    response("200 OK", &[("Content-Type", "text/event-stream")], &body)
}

//! A scripted teacher: a small HTTP server speaking the chat-completions protocol on
//! `127.0.0.1`, for tests (and for trying `mote label` without a language model).
//!
//! [`FakeTeacher::start`] serves each request on a background thread by calling a handler with
//! the parsed request ([`FakeRequest`]: model, system prompt, the message to label); the
//! handler returns a [`FakeReply`]. Requests that do not follow the protocol (`POST
//! /v1/chat/completions`, a JSON body with `model`, `messages`, `temperature: 0`,
//! `response_format: {"type": "json_object"}`) get a 400 without reaching the handler.
//! [`keyword_answer`] labels by keywords, as a crude teacher would.

use super::prompt::text_of_user_prompt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One request as the handler sees it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// 0-based number of the request (protocol errors included).
    pub index: usize,
    /// The `model` field.
    pub model: String,
    /// The system message.
    pub system: String,
    /// The message to label (taken from the user turn's markers).
    pub text: String,
}

/// What the server sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReply {
    /// Status code.
    pub status: u16,
    /// Response body.
    pub body: String,
    /// Send the body with chunked transfer coding instead of `Content-Length`.
    pub chunked: bool,
}

impl FakeReply {
    /// A 200 chat completion whose answer text is `content`.
    pub fn completion(content: &str) -> FakeReply {
        let body = serde_json::json!({
            "id": "fake",
            "object": "chat.completion",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop"
            }]
        });
        FakeReply {
            status: 200,
            body: body.to_string(),
            chunked: false,
        }
    }

    /// An error status with a JSON error body.
    pub fn error(status: u16, message: &str) -> FakeReply {
        FakeReply {
            status,
            body: serde_json::json!({"error": {"message": message}}).to_string(),
            chunked: false,
        }
    }

    /// The same reply sent chunked.
    pub fn chunked(self) -> FakeReply {
        FakeReply {
            chunked: true,
            ..self
        }
    }
}

/// `{"labels": {...}}` with 1 for every category one of whose keywords occurs in `text`
/// (ASCII case-insensitive), 0 for the others.
pub fn keyword_answer(rules: &[(&str, &[&str])], text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let labels: serde_json::Map<String, serde_json::Value> = rules
        .iter()
        .map(|(category, words)| {
            let hit = words
                .iter()
                .any(|w| lower.contains(&w.to_ascii_lowercase()));
            (category.to_string(), serde_json::Value::from(u8::from(hit)))
        })
        .collect();
    serde_json::json!({ "labels": labels }).to_string()
}

type Handler = dyn Fn(&FakeRequest) -> FakeReply + Send + Sync;

/// A running fake teacher; stops when dropped.
pub struct FakeTeacher {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeTeacher {
    /// Starts serving on `127.0.0.1` at a free port.
    pub fn start(
        handler: impl Fn(&FakeRequest) -> FakeReply + Send + Sync + 'static,
    ) -> std::io::Result<FakeTeacher> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let index = requests.fetch_add(1, Ordering::SeqCst);
                        // A client that hangs up early is its own problem.
                        let _ = serve(stream, index, &*handler);
                    }
                }
            })
        };
        Ok(FakeTeacher {
            addr,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// The base URL to give `mote label --teacher`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeTeacher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn protocol_error(why: &str) -> FakeReply {
    FakeReply::error(400, why)
}

/// Checks a request body against the protocol and extracts what the handler needs.
fn parse_request(index: usize, body: &[u8]) -> Result<FakeRequest, FakeReply> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| protocol_error(&format!("body: {e}")))?;
    let model = v["model"]
        .as_str()
        .ok_or_else(|| protocol_error("no model"))?
        .to_string();
    if v["temperature"].as_f64() != Some(0.0) {
        return Err(protocol_error("temperature must be 0"));
    }
    if v["response_format"]["type"].as_str() != Some("json_object") {
        return Err(protocol_error("response_format must be json_object"));
    }
    let messages = v["messages"]
        .as_array()
        .ok_or_else(|| protocol_error("no messages"))?;
    let content = |role: &str| {
        messages
            .iter()
            .find(|m| m["role"] == role)
            .and_then(|m| m["content"].as_str())
            .map(str::to_string)
    };
    let system = content("system").ok_or_else(|| protocol_error("no system message"))?;
    let user = content("user").ok_or_else(|| protocol_error("no user message"))?;
    let text = text_of_user_prompt(&user)
        .ok_or_else(|| protocol_error("the user message has no <<< >>> markers"))?
        .to_string();
    Ok(FakeRequest {
        index,
        model,
        system,
        text,
    })
}

fn serve(stream: TcpStream, index: usize, handler: &Handler) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let reply = if !request_line.starts_with("POST /v1/chat/completions ") {
        FakeReply::error(404, &format!("no route for {}", request_line.trim_end()))
    } else {
        match parse_request(index, &body) {
            Ok(request) => handler(&request),
            Err(reply) => reply,
        }
    };
    let mut out = stream;
    let head = format!(
        "HTTP/1.1 {} Fake\r\nContent-Type: application/json\r\nConnection: close\r\n",
        reply.status
    );
    if reply.chunked {
        let mut text = format!("{head}Transfer-Encoding: chunked\r\n\r\n");
        // Odd chunk sizes, to split UTF-8 and JSON tokens.
        for chunk in reply.body.as_bytes().chunks(7) {
            text.push_str(&format!("{:x}\r\n", chunk.len()));
            out.write_all(text.as_bytes())?;
            out.write_all(chunk)?;
            text = String::from("\r\n");
        }
        text.push_str("0\r\n\r\n");
        out.write_all(text.as_bytes())?;
    } else {
        out.write_all(format!("{head}Content-Length: {}\r\n\r\n", reply.body.len()).as_bytes())?;
        out.write_all(reply.body.as_bytes())?;
    }
    out.flush()
}

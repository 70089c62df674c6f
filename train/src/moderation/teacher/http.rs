//! A minimal HTTP/1.1 client over `std::net::TcpStream`: one `POST` per connection, plain
//! `http://` only (teachers are local servers), `Content-Length` request bodies, responses
//! with `Content-Length`, chunked transfer coding, or a body that ends when the connection does.

use core::fmt;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where a server is: host, port and a base path (no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or address as written.
    pub host: String,
    /// TCP port (80 when not written).
    pub port: u16,
    /// Path prefix, empty or starting with `/`, without a trailing `/`.
    pub base: String,
}

impl Url {
    /// Parses `http://host[:port][/base]`.
    pub fn parse(url: &str) -> Result<Url, HttpError> {
        let bad = |why: &str| HttpError::BadUrl(format!("{url}: {why}"));
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(bad("https is not supported; use a local http:// server"));
        } else {
            return Err(bad("expected http://host[:port][/path]"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !authority.ends_with(']') => {
                let port = p.parse().map_err(|_| bad("the port is not a number"))?;
                (h.to_string(), port)
            }
            _ => (authority.to_string(), 80),
        };
        Ok(Url {
            host,
            port,
            base: path.trim_end_matches('/').to_string(),
        })
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.base)
    }
}

/// A response: status code, headers (names lower-cased) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request failed before a whole response was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not one this client speaks.
    BadUrl(String),
    /// Connecting, writing or reading failed (connection refused, timeout, reset).
    Transport(String),
    /// The server sent something that is not HTTP/1.x.
    Protocol(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::BadUrl(m) => write!(f, "bad teacher URL {m}"),
            HttpError::Transport(m) | HttpError::Protocol(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HttpError {}

/// Sends `POST {url.base}{path}` with a JSON body and reads the whole response.
pub fn post_json(
    url: &Url,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    let target = format!("{url}{path}");
    let transport =
        |what: &str, e: std::io::Error| HttpError::Transport(format!("{what} {target}: {e}"));
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, url.port)
        .to_socket_addrs()
        .map_err(|e| transport("cannot resolve", e))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(10))) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = match stream {
        Some(s) => s,
        None => {
            let e = last.unwrap_or_else(|| std::io::Error::other("no address"));
            return Err(transport("cannot connect to", e));
        }
    };
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| transport("cannot configure the connection to", e))?;
    let head = format!(
        "POST {}{} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\
         User-Agent: mote\r\n\r\n",
        url.base,
        path,
        url.host,
        url.port,
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .and_then(|_| stream.flush())
        .map_err(|e| transport("cannot send the request to", e))?;
    read_response(BufReader::new(stream)).map_err(|e| match e {
        HttpError::Transport(m) => {
            HttpError::Transport(format!("reading the answer of {target}: {m}"))
        }
        HttpError::Protocol(m) => HttpError::Protocol(format!("{target} answered: {m}")),
        other => other,
    })
}

fn read_line(reader: &mut impl BufRead) -> Result<String, HttpError> {
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    if line.is_empty() {
        return Err(HttpError::Protocol("the connection closed early".into()));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| HttpError::Protocol("a header line is not UTF-8".into()))
}

/// Reads a status line, headers and the body (`Content-Length`, chunked, or to the end).
pub fn read_response(mut reader: impl BufRead) -> Result<Response, HttpError> {
    let status_line = read_line(&mut reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    let status = match status {
        Some(s) if version.starts_with("HTTP/1.") => s,
        _ => {
            return Err(HttpError::Protocol(format!(
                "not an HTTP/1.x status line: {:?}",
                status_line.chars().take(80).collect::<String>()
            )))
        }
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HttpError::Protocol(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let io = |e: std::io::Error| HttpError::Transport(e.to_string());
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = read_line(&mut reader)?;
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Protocol(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line (or the end of the stream).
                while let Ok(line) = read_line(&mut reader) {
                    if line.is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).map_err(io)?;
            let end = read_line(&mut reader)?;
            if !end.is_empty() {
                return Err(HttpError::Protocol(
                    "a chunk is longer than its size".into(),
                ));
            }
        }
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| HttpError::Protocol(format!("bad Content-Length {length:?}")))?;
        body.resize(length, 0);
        reader.read_exact(&mut body).map_err(io)?;
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        reader.read_to_end(&mut body).map_err(io)?;
    }
    Ok(Response { body, ..response })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.base.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let u = Url::parse("http://localhost/api/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.base.as_str()),
            ("localhost", 80, "/api")
        );
        assert_eq!(u.to_string(), "http://localhost:80/api");
        assert!(Url::parse("https://x")
            .unwrap_err()
            .to_string()
            .contains("https is not supported"));
        assert!(Url::parse("localhost:80").is_err());
        assert!(Url::parse("http://h:xx").is_err());
    }

    #[test]
    fn content_length_chunked_and_to_the_end() {
        let r =
            read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA"[..])
                .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.header("x-a")),
            (200, &b"hello"[..], Some("b"))
        );
        let r = read_response(
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\nT: v\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!(r.body, b"Wikipedia ");
        let r = read_response(&b"HTTP/1.0 503 Busy\r\n\r\nlater"[..]).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"later"[..]));
        assert!(matches!(
            read_response(&b"SSH-2.0\r\n"[..]),
            Err(HttpError::Protocol(_))
        ));
        assert!(read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"[..]).is_err());
    }

    #[test]
    fn connection_refused_names_the_url() {
        // A port that was just free: nobody listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = post_json(&url, "/v1/chat/completions", b"{}", Duration::from_secs(2)).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, HttpError::Transport(_)));
        assert!(
            text.contains(&format!("http://127.0.0.1:{port}/v1/chat/completions")),
            "{text}"
        );
    }
}

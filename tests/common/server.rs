//! A fake publisher: a real HTTP/1.1 server on 127.0.0.1, port 0, whose answers (and failures)
//! the test sets, and which records every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the fake publisher answers one path: well, or in one of the ways real servers fail.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response. With an `ETag` or `Last-Modified` among the headers, a request
    /// carrying the matching validator gets 304.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers at once, then the body one byte at a time, `every` apart.
    Trickle { body: Vec<u8>, every: Duration },
    /// Reads the request and never answers.
    Hang,
    /// Announces `declared` bytes, sends `sent`, then resets the connection.
    ResetMidBody { declared: usize, sent: Vec<u8> },
    /// Announces `declared` bytes, sends `sent`, then closes cleanly: a truncated body.
    Truncated { declared: usize, sent: Vec<u8> },
    /// A chunked body that never ends.
    Endless,
    /// Waits, then answers with `Respond`'s status 200 and this body.
    Slow { delay: Duration, body: Vec<u8> },
    /// 401 unless the request carries `header` (lower case) with exactly `value`; then `then`.
    Guarded {
        header: String,
        value: String,
        then: Box<Reply>,
    },
}

/// One request as the fake publisher saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    replies: Mutex<HashMap<String, Reply>>,
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// A publisher's web server (HTTP/1.1 on 127.0.0.1, port 0) whose feeds and failures the test
/// sets, and which records every request.
pub struct FeedServer {
    pub base: String,
    shared: Arc<Shared>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, accepting.clone()));
            }
        });
        FeedServer { base, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `body` at `path` with 200 and an XML content type.
    pub fn serve(&self, path: &str, body: String) {
        self.respond(
            path,
            200,
            &[("Content-Type", "application/xml")],
            body.into_bytes(),
        );
    }

    pub fn respond(&self, path: &str, status: u16, headers: &[(&str, &str)], body: Vec<u8>) {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.set(
            path,
            Reply::Respond {
                status,
                headers,
                body,
            },
        );
    }

    /// Answers `path` with a redirect to `to` (a path on this server or a whole URL).
    pub fn redirect(&self, path: &str, status: u16, to: &str) {
        self.respond(path, status, &[("Location", to)], Vec::new());
    }

    /// Serves `body` at `path` only to requests carrying `header: value`; 401 to others.
    pub fn serve_guarded(&self, path: &str, header: &str, value: &str, body: String) {
        self.set(
            path,
            Reply::Guarded {
                header: header.to_ascii_lowercase(),
                value: value.to_string(),
                then: Box::new(Reply::Respond {
                    status: 200,
                    headers: vec![("Content-Type".into(), "application/xml".into())],
                    body: body.into_bytes(),
                }),
            },
        );
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.shared
            .replies
            .lock()
            .unwrap()
            .insert(path.to_string(), reply);
    }

    /// How many requests `path` has had.
    pub fn requests(&self, path: &str) -> usize {
        self.seen(path).len()
    }

    /// The requests `path` has had, oldest first.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    /// The bodies of the requests `path` has had, as text.
    pub fn bodies(&self, path: &str) -> Vec<String> {
        self.seen(path)
            .iter()
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect()
    }

    /// The most requests this server was answering at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
    shared.seen.lock().unwrap().push(seen.clone());
    let reply = shared.replies.lock().unwrap().get(&seen.path).cloned();
    let _ = answer(&mut stream, &seen, reply).await;
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        path,
        headers,
        body,
    })
}

async fn answer(stream: &mut TcpStream, seen: &Seen, reply: Option<Reply>) -> std::io::Result<()> {
    let head = |status: u16, headers: &[(String, String)], length: Option<usize>| {
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
            reason(status)
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        match length {
            Some(n) => head.push_str(&format!("Content-Length: {n}\r\n\r\n")),
            None => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
        }
        head.into_bytes()
    };
    let reply = match reply {
        Some(Reply::Guarded {
            header,
            value,
            then,
        }) => {
            if seen.headers.get(&header) != Some(&value) {
                let challenge = [("WWW-Authenticate".to_string(), "Basic".to_string())];
                return stream.write_all(&head(401, &challenge, Some(0))).await;
            }
            Some(*then)
        }
        other => other,
    };
    match reply {
        None => stream.write_all(&head(404, &[], Some(0))).await,
        Some(Reply::Guarded { .. }) => stream.write_all(&head(500, &[], Some(0))).await,
        Some(Reply::Respond {
            status,
            headers,
            body,
        }) => {
            let validator = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            let matches = |ours: Option<String>, theirs: &str| {
                ours.is_some_and(|v| seen.headers.get(theirs) == Some(&v))
            };
            if status == 200
                && (matches(validator("etag"), "if-none-match")
                    || matches(validator("last-modified"), "if-modified-since"))
            {
                return stream.write_all(&head(304, &[], Some(0))).await;
            }
            stream
                .write_all(&head(status, &headers, Some(body.len())))
                .await?;
            stream.write_all(&body).await
        }
        Some(Reply::Trickle { body, every }) => {
            stream.write_all(&head(200, &[], Some(body.len()))).await?;
            for byte in body {
                stream.write_all(&[byte]).await?;
                tokio::time::sleep(every).await;
            }
            Ok(())
        }
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            Ok(())
        }
        Some(Reply::ResetMidBody { declared, sent }) => {
            stream.write_all(&head(200, &[], Some(declared))).await?;
            stream.write_all(&sent).await?;
            stream.flush().await?;
            // SO_LINGER of zero turns the close into a reset (and does not block).
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
            Ok(())
        }
        Some(Reply::Truncated { declared, sent }) => {
            stream.write_all(&head(200, &[], Some(declared))).await?;
            stream.write_all(&sent).await?;
            stream.shutdown().await
        }
        Some(Reply::Endless) => {
            stream.write_all(&head(200, &[], None)).await?;
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
            loop {
                stream.write_all(chunk.as_bytes()).await?;
            }
        }
        Some(Reply::Slow { delay, body }) => {
            tokio::time::sleep(delay).await;
            stream.write_all(&head(200, &[], Some(body.len()))).await?;
            stream.write_all(&body).await
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

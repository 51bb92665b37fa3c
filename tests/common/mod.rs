//! Test support: a fake publisher (a real HTTP server on 127.0.0.1, port 0), feed builders,
//! and helpers to run the `tributary` binary and read back what it left.

#![allow(dead_code)] // each test file uses a different part of this module

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
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
    match reply {
        None => stream.write_all(&head(404, &[], Some(0))).await,
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
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

/// One item of a test feed.
#[derive(Clone)]
pub struct TestItem {
    pub guid: String,
    pub title: String,
    pub body: String,
    pub date: String,
}

pub fn item(guid: &str, title: &str, date: &str) -> TestItem {
    TestItem {
        guid: guid.into(),
        title: title.into(),
        body: format!("<p>About {title}.</p>"),
        date: date.into(),
    }
}

/// An RSS 2.0 feed; `date` is RFC 2822.
pub fn rss(title: &str, site: &str, items: &[TestItem]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{title}</title><link>{site}</link><description>d</description>\n"
    );
    for i in items {
        xml.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{}</guid><title>{}</title><link>{site}{}</link>\
             <description><![CDATA[{}]]></description><pubDate>{}</pubDate></item>\n",
            i.guid, i.title, i.guid, i.body, i.date
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

/// An Atom feed; `date` is RFC 3339.
pub fn atom(title: &str, site: &str, items: &[TestItem]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>{title}</title><id>{site}</id><link href=\"{site}\"/><updated>2025-01-01T00:00:00Z</updated>\n"
    );
    for i in items {
        xml.push_str(&format!(
            "<entry><id>{site}{}</id><title>{}</title><link href=\"{site}{}\"/>\
             <updated>{}</updated><content type=\"html\">{}</content></entry>\n",
            i.guid,
            i.title,
            i.guid,
            i.date,
            i.body.replace('<', "&lt;")
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// A temporary folder holding a config file, the database and the outputs.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose `tributary.toml` holds `config` (database and output paths are
    /// `state/tributary.db` and `public/feed.xml` unless the config says otherwise).
    pub fn new(config: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tributary.toml"), config).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config(&self) -> PathBuf {
        self.path("tributary.toml")
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Runs `tributary --config <this config> <args>` to its end.
    pub async fn tributary(&self, args: &[&str]) -> Output {
        self.tributary_with_env(args, &[]).await
    }

    pub async fn tributary_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"));
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG");
        tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("tributary did not finish within 60 s")
            .unwrap()
    }

    /// The merged feed at `relative`, parsed back.
    pub fn feed(&self, relative: &str) -> feed_rs::model::Feed {
        let bytes = std::fs::read(self.path(relative)).unwrap();
        feed_rs::parser::parse(bytes.as_slice()).unwrap()
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("state/tributary.db")).unwrap()
    }

    /// Asserts that SQLite finds the database intact.
    pub fn assert_intact(&self) {
        let check: String = self
            .db()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}

/// Each entry's title and the name its `atom:source` gives its publisher, in feed order.
pub fn entries_with_publishers(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let child_text = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .unwrap_or_default()
            .to_string()
    };
    doc.root_element()
        .children()
        .filter(|n| n.has_tag_name("entry"))
        .map(|entry| {
            let source = entry
                .children()
                .find(|c| c.has_tag_name("source"))
                .expect("every entry names its source");
            (child_text(entry, "title"), child_text(source, "title"))
        })
        .collect()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls `condition` every 50 ms until it holds or `limit` passes.
pub async fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

/// `STATE_AND_OUTPUT` and a named source for each (name, path on `server`).
pub fn config_with_sources(server: &FeedServer, sources: &[(&str, &str)]) -> String {
    let mut config = STATE_AND_OUTPUT.to_string();
    for (name, path) in sources {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url(path)
        ));
    }
    config
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The config lines for a database and one output inside the workspace. Test feeds carry
/// fixed dates from 2025, so retention keeps everything here; retention's own tests set it.
pub const STATE_AND_OUTPUT: &str = r#"
[database]
path = "state/tributary.db"

[retention]
max_age = "0"
initial_items = 0

[[outputs]]
path = "public/feed.xml"
title = "Merged"
max_items = 100
"#;

/// A `tributary run` daemon started on a workspace, its log written to `daemon.log` there.
/// Killed when dropped.
pub struct Daemon {
    pub child: tokio::process::Child,
    log: PathBuf,
}

impl Daemon {
    pub fn start(ws: &Workspace) -> Daemon {
        Daemon::start_with_env(ws, &[])
    }

    /// As [`Daemon::start`], with these environment variables set.
    pub fn start_with_env(ws: &Workspace, env: &[(&str, &str)]) -> Daemon {
        let log = ws.path("daemon.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg("--config")
            .arg(ws.config())
            .arg("run")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal`. Any but SIGKILL waits first for the daemon to be ready: before it has
    /// installed its handlers, SIGTERM, SIGINT or SIGHUP would kill it outright.
    pub async fn signal(&self, signal: rustix::process::Signal) {
        if signal != rustix::process::Signal::KILL {
            self.ready().await;
        }
        let pid = rustix::process::Pid::from_raw(self.child.id().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits until the daemon says it has started (its signal handlers are in place by then).
    pub async fn ready(&self) {
        let started = wait_for(Duration::from_secs(60), || {
            self.log().contains("daemon started")
        })
        .await;
        assert!(started, "the daemon did not start: {}", self.log());
    }

    /// Sends SIGTERM and asserts that the daemon exits 0 within 15 s.
    pub async fn stop(&mut self) {
        self.signal(rustix::process::Signal::TERM).await;
        let status = self.exit(Duration::from_secs(15)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}: {}",
            self.log()
        );
    }

    /// Waits up to `limit` for the daemon to exit, and returns how.
    pub async fn exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

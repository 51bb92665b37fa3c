//! Test support: a fake publisher (a real HTTP server on 127.0.0.1, port 0), feed builders,
//! and helpers to run the `tributary` binary and read back what it left.

#![allow(dead_code)] // each test file uses a different part of this module

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// What the fake publisher answers for one path.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

#[derive(Default)]
struct Served {
    replies: HashMap<String, Reply>,
    requests: Vec<String>,
}

/// A publisher's web server whose feeds the test changes between polls.
pub struct FeedServer {
    pub base: String,
    served: Arc<Mutex<Served>>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let served = Arc::new(Mutex::new(Served::default()));
        let app = Router::new().fallback(answer).with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FeedServer { base, served }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `body` at `path` with 200 and an XML content type.
    pub fn serve(&self, path: &str, body: String) {
        self.reply(path, StatusCode::OK, "application/xml", body);
    }

    pub fn reply(&self, path: &str, status: StatusCode, content_type: &'static str, body: String) {
        self.served.lock().unwrap().replies.insert(
            path.to_string(),
            Reply {
                status,
                content_type,
                body,
            },
        );
    }

    /// How many requests `path` has had.
    pub fn requests(&self, path: &str) -> usize {
        let served = self.served.lock().unwrap();
        served.requests.iter().filter(|p| *p == path).count()
    }
}

async fn answer(State(served): State<Arc<Mutex<Served>>>, uri: Uri) -> Response {
    let mut served = served.lock().unwrap();
    served.requests.push(uri.path().to_string());
    match served.replies.get(uri.path()) {
        Some(reply) => (
            reply.status,
            [(header::CONTENT_TYPE, reply.content_type)],
            reply.body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
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

/// The config lines for a database and one output inside the workspace.
pub const STATE_AND_OUTPUT: &str = r#"
[database]
path = "state/tributary.db"

[[outputs]]
path = "public/feed.xml"
title = "Merged"
max_items = 100
"#;

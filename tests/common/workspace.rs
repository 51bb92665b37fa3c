//! A temporary folder with a config, the database and the outputs; running the binary on it
//! and reading back what it left.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::server::FeedServer;

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
        self.tributary_with(&self.config(), args, env).await
    }

    /// Runs `tributary --config <config> <args>` to its end, with these environment variables.
    pub async fn tributary_with(
        &self,
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"));
        command
            .arg("--config")
            .arg(config)
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

/// An entry's content, else its summary: what a reader shows of it.
pub fn text_of(entry: &feed_rs::model::Entry) -> String {
    entry
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
        .unwrap_or_default()
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

/// The one number `sql` selects from the workspace's database.
pub fn count(ws: &Workspace, sql: &str) -> i64 {
    ws.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// How many items the source named `source` stored.
pub fn items_of(ws: &Workspace, source: &str) -> i64 {
    ws.db()
        .query_row(
            "SELECT count(*) FROM items i JOIN sources s ON s.id = i.source_id WHERE s.name = ?1",
            [source],
            |r| r.get(0),
        )
        .unwrap()
}

/// The titles of the entries of `public/feed.xml`, in feed order.
pub fn titles(ws: &Workspace) -> Vec<String> {
    ws.feed("public/feed.xml")
        .entries
        .into_iter()
        .map(|e| e.title.map(|t| t.content).unwrap_or_default())
        .collect()
}

/// The titles of the entries of the feed at `path` in the workspace, sorted.
pub fn feed_titles(ws: &Workspace, path: &str) -> Vec<String> {
    let mut titles: Vec<String> = ws
        .feed(path)
        .entries
        .into_iter()
        .map(|e| e.title.map(|t| t.content).unwrap_or_default())
        .collect();
    titles.sort();
    titles
}

/// `once`'s line for the source named `name` (`NAME: 3 new, …`).
pub fn once_line<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no line for {name}:\n{out}"))
}

/// Copies the repository's files and folders (`config/demo.toml`, `config/demo`) into `dir`,
/// at the same relative paths.
pub fn copy_into(dir: &Path, files: &[&str]) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in files {
        let from = repo.join(file);
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if from.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(&from).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        } else {
            std::fs::copy(from, to).unwrap();
        }
    }
}

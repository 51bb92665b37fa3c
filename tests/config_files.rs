//! The shipped config files stay valid, and bad configs are refused before anything is written.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use tributary::config::{self, SourceLocation};

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

// Shipped configs are copied into a temp dir (`copy_into`), so that loading them probes and
// writes nothing inside the repository.

#[test]
fn the_example_config_documents_valid_options() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(dir.path(), &["config/example.toml"]);
    let config = config::load(&dir.path().join("config/example.toml")).unwrap();
    assert_eq!(config.poll.concurrency, 32);
    assert_eq!(config.poll.per_host_concurrency, 2);
    assert_eq!(config.poll.max_body, 16 * 1024 * 1024);
    assert_eq!(config.poll.adopt_redirect_after, 3);
    assert!(!config.poll.allow_private_redirects);
    assert_eq!(
        config.poll.user_agent, "Tributary/0.1.0 (+mailto:ops@example.org)",
        "the example's contact is in the User-Agent"
    );
    assert!(config.health.is_some());
    assert_eq!(
        config.items,
        tributary::config::ItemRules::default(),
        "the example shows the real defaults"
    );
    let stories = config.stories.as_ref().expect("stories are on");
    assert_eq!(
        (stories.similarity, stories.within_secs),
        (0.5, 3 * 24 * 3600)
    );
    assert_eq!(
        stories.never,
        [
            tributary::stories::Never::Links(
                "https://ministry-north.example/statement".into(),
                "https://ministry-south.example/other".into()
            ),
            tributary::stories::Never::Sources(
                "https://publisher.example/rss.xml".into(),
                "https://council.example/news".into()
            ),
        ]
    );
    assert_eq!(config.outputs.len(), 3);
    assert_eq!(config.outputs[0].max_items, 200);
    let saved = config.outputs[2]
        .query
        .as_ref()
        .expect("the third output is a saved search");
    assert!(saved.text.starts_with("(cycle OR cycling OR bike)"));
    assert!(config.webhooks[0].query.is_some());
    assert_eq!(
        config.outputs[1].format,
        tributary::config::OutputFormat::Rss
    );
    assert_eq!(config.outputs[1].per_source, Some(5));
    assert!(config.outputs[0].html.is_some());
    assert!(config.publishing.hub.is_some() && config.publishing.listen.is_some());
    assert_eq!(
        config.publishing.limits,
        tributary::config::ServeLimits::default(),
        "the example shows the server's real limits"
    );
    let source = &config.sources[0];
    assert_eq!(source.name.as_deref(), Some("Example publisher"));
    assert_eq!(source.interval.as_secs(), 3600);
    assert_eq!(source.tags, ["defence", "research"]);
    assert_eq!(source.fetch.headers.len(), 1);
    assert_eq!(source.fetch.headers[0].0, "accept-language");
    assert_eq!(source.fetch.headers[0].1.expose(), "en");
    assert!(!source.fetch.ignore_cache);
    let tributary::config::SourceLocation::Command(inbox) = &config.sources[1].location else {
        panic!("the second example source runs a program");
    };
    assert_eq!(inbox.timeout.as_secs(), 60);
    assert_eq!(
        config.sources[1].url,
        "command:/usr/local/bin/inbox-to-feed --folder press"
    );
    let tributary::config::SourceKind::Html(page) = &config.sources[2].kind else {
        panic!("the second example source reads a page");
    };
    assert_eq!(page.item_written, "article.press-release");
    assert_eq!(page.link.attribute.as_deref(), Some("href"));
    let tributary::config::SourceKind::Json(fields) = &config.sources[3].kind else {
        panic!("the second example source reads a JSON API");
    };
    assert_eq!(fields.items, "data.releases");
    assert_eq!(fields.author.as_deref(), Some("author.name"));
    assert_eq!(config.rules.len(), 3);
    assert_eq!(config.rules[2].when.reported_by_at_least, Some(3));
    assert_eq!(config.rules[0].sources, ["Example publisher"]);
    assert!(config.rules[0].when.older_than.is_some() && config.rules[0].when.link.is_some());
    assert_eq!(
        config.rules[1].action,
        tributary::config::Action::Tag("ukraine".into())
    );
    assert_eq!(source.rules.len(), 1);
    assert_eq!(
        source.rules[0].label,
        "sources[0] (\"Example publisher\").rules[0]"
    );
    assert_eq!(source.rewrites.remove.len(), 3);
    assert_eq!(source.rewrites.replace[0].pattern.as_str(), "^\\[PRESS\\] ");
    assert_eq!(source.rewrites.strip_query, ["ref", "src_*"]);
    let full_text = source
        .full_text
        .as_ref()
        .expect("the first source fetches full text");
    assert!(full_text.selector.is_some());
    assert_eq!(
        source.hub.as_ref().map(|h| h.as_str()),
        Some("https://pubsubhubbub.appspot.com/")
    );
    let subscribing = config.subscribing.as_ref().expect("the example subscribes");
    assert_eq!(subscribing.lease.as_secs(), 10 * 86_400);
    assert_eq!(
        subscribing.callback_url.as_str(),
        "https://feeds.example.org/websub/"
    );
    assert_eq!(
        config.poll.pushed_interval.map(|d| d.as_secs()),
        Some(6 * 3600)
    );
    assert!(!config.poll.adaptive);
    assert_eq!(config.poll.min_interval.as_secs(), 300);
    assert_eq!(config.webhooks.len(), 1);
    assert_eq!(config.webhooks[0].tags, ["defence"]);
    assert_eq!(config.webhooks[0].exclude, ["weather"]);
}

#[test]
fn the_example_config_names_every_key_the_loader_accepts() {
    let text = std::fs::read_to_string(repo("config/example.toml")).unwrap();
    for key in [
        "[database]",
        "# url = \"postgres://",
        "# password =",
        "# lease = \"2m\"",
        "path =",
        "[poll]",
        "interval =",
        "concurrency =",
        "timeout =",
        "connect_timeout =",
        "first_byte_timeout =",
        "per_host_concurrency =",
        "max_body =",
        "user_agent =",
        "contact =",
        "max_interval =",
        "max_backoff =",
        "adopt_redirect_after =",
        "allow_private_redirects =",
        "query =",
        "header_timeout =",
        "idle_timeout =",
        "max_connections =",
        "proxy =",
        "headers =",
        "{ env =",
        "{ file =",
        "auth = { username",
        "auth = { bearer",
        "ignore_cache =",
        "tls = { ca",
        "accept_invalid_certs",
        "kind = \"json\"",
        "kind = \"html\"",
        "kind = \"command\"",
        "command = [",
        "[sources.html]",
        "item =",
        "date_format =",
        "[sources.json]",
        "items =",
        "link =",
        "date =",
        "summary =",
        "content =",
        "author =",
        "provenance =",
        "[[rules]]",
        "[[sources.rules]]",
        "when = { title",
        "any =",
        "category =",
        "older_than =",
        "newer_than =",
        "action = \"drop\"",
        "action = \"tag\"",
        "tag = \"ukraine\"",
        "remove = [",
        "replace = [{ field",
        "strip_query =",
        "full_text = true",
        "full_text_selector =",
        "[health]",
        "[retention]",
        "max_age =",
        "initial_items =",
        "[dedup]",
        "across_sources =",
        "[content]",
        "max_size =",
        "[service]",
        "shutdown_timeout =",
        "watch_config =",
        "[log]",
        "level =",
        "format =",
        "[[outputs]]",
        "title =",
        "max_items =",
        "keep_removed_sources =",
        "format =",
        "sources = []",
        "max_age = \"7d\"",
        "per_source =",
        "include =",
        "exclude =",
        "html =",
        "[site]",
        "base_url =",
        "pages =",
        "templates =",
        "items_per_page =",
        "[opml]",
        "[serve]",
        "listen =",
        "root =",
        "status = false",
        "[websub]",
        "[metrics]",
        "per_source =",
        "hub =",
        "[[sources]]",
        "name =",
        "url =",
        "tags =",
        "sources.d",
        "TRIBUTARY_POLL__CONCURRENCY",
        "[stories]",
        "similarity =",
        "within =",
        "[[stories.never]]",
        "links =",
        "stories = \"collapse\"",
        "reported_by_at_least",
    ] {
        assert!(
            text.contains(key),
            "config/example.toml does not document {key}"
        );
    }
}

#[test]
fn the_default_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(dir.path(), &["config/tributary.toml"]);
    config::load(&dir.path().join("config/tributary.toml")).unwrap();
}

#[tokio::test]
async fn the_demo_runs_from_files_shipped_in_the_repo() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(dir.path(), &["config/demo.toml", "config/demo"]);
    let config_file = dir.path().join("config/demo.toml");
    let config = config::load(&config_file).unwrap();
    assert!(config.sources.len() >= 3);
    assert!(
        config
            .sources
            .iter()
            .all(|s| matches!(s.location, SourceLocation::File(_))),
        "the demo needs no network"
    );

    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(&config_file)
        .arg("once")
        .output()
        .await
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("4 sources, 4 ok, 0 failed,"),
        "{}",
        stdout(&run)
    );
    let database = config.database.parent().unwrap();
    for output in &config.outputs {
        let folder = output.path.parent().unwrap();
        assert!(
            !database.starts_with(folder),
            "the demo's database lies outside what it publishes"
        );
    }

    let merged = entries_with_publishers(&config.outputs[0].path);
    assert_eq!(merged.len(), 10);
    let mut publishers: Vec<&str> = merged.iter().map(|(_, p)| p.as_str()).collect();
    publishers.sort();
    publishers.dedup();
    assert_eq!(
        publishers,
        [
            "Coastal Science Network",
            "Harbour Institute",
            "Northfield District Council",
            "Open Rail Quarterly"
        ]
    );
}

#[tokio::test]
async fn check_refuses_a_bad_config_naming_file_and_key_and_writes_nothing() {
    let ws = Workspace::new(
        "[database]\npath = \"state/tributary.db\"\n[[sources]]\nname = \"RUSI\"\nurl = \"https://a.example/feed\"\nintervall = \"1h\"\n",
    );
    for command in ["check", "once", "status"] {
        let run = ws.tributary(&[command]).await;
        assert_eq!(run.status.code(), Some(2), "{command}");
        let err = stderr(&run);
        assert!(err.contains("tributary.toml"), "{err}");
        assert!(err.contains("intervall"), "{err}");
        assert!(err.contains("sources[0]"), "{err}");
    }
    assert!(
        !ws.path("state").exists(),
        "nothing written for a bad config"
    );
}

#[tokio::test]
async fn check_lists_sources_and_environment_overrides_apply() {
    let ws = Workspace::new(
        "[poll]\nconcurrency = 32\n[[sources]]\nname = \"RUSI\"\nurl = \"https://a.example/feed\"\ntags = [\"defence\"]\n",
    );
    let run = ws
        .tributary_with_env(&["check"], &[("TRIBUTARY_POLL__CONCURRENCY", "8")])
        .await;
    assert!(run.status.success(), "{}", stderr(&run));
    let out = stdout(&run);
    assert!(out.contains("concurrency 8"), "{out}");
    let stray = ws
        .tributary_with_env(&["check"], &[("TRIBUTARY_BOGUS", "1")])
        .await;
    assert_eq!(stray.status.code(), Some(2));
    assert!(
        stderr(&stray).contains("bogus: unknown key")
            && stderr(&stray).contains("in the environment: TRIBUTARY_BOGUS"),
        "{}",
        stderr(&stray)
    );
    assert!(
        out.lines().any(|l| l.starts_with("RUSI")
            && l.contains("https://a.example/feed")
            && l.contains("every 30m")
            && l.contains("tags: defence")),
        "{out}"
    );
}

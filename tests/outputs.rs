//! Feeds that every reader accepts: the outputs in each format parsed back and compared with
//! the stored items, checked against RFC 4287, read by Python's feedparser, validated against
//! the JSON Feed 1.1 schema, filtered per output, served over HTTP, announced to a WebSub hub,
//! and subscribed to by newsboat.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

struct Setup {
    server: FeedServer,
    ws: Workspace,
}

/// Two publishers (one prolific) and outputs in every format, with an HTML page and OPML.
async fn setup(extra: &str) -> Setup {
    let server = FeedServer::start().await;
    server.serve(
        "/defence.xml",
        podcast(
            "Harbour Defence",
            "https://harbour.example/",
            "defence",
            &[
                ("d3", "Fleet review", "Wed, 20 Aug 2025 10:00:00 GMT"),
                (
                    "d2",
                    "Sponsored: buy ships",
                    "Tue, 19 Aug 2025 10:00:00 GMT",
                ),
                ("d1", "Drones & doctrine", "Mon, 18 Aug 2025 10:00:00 GMT"),
            ],
        ),
    );
    server.serve(
        "/economy.xml",
        podcast(
            "Market Weekly",
            "https://market.example/",
            "economy",
            &[("e1", "Rates hold", "Tue, 19 Aug 2025 12:00:00 GMT")],
        ),
    );
    let config = format!(
        r#"[database]
path = "state/tributary.db"
[retention]
max_age = "0"
initial_items = 0
[site]
base_url = "https://feeds.example.org/news"
[opml]
path = "public/sources.opml"
{extra}
[[outputs]]
path = "public/feed.xml"
title = "All news"
html = "public/index.html"
[[outputs]]
path = "public/feed.rss"
title = "All news (RSS)"
[[outputs]]
path = "public/feed.json"
title = "All news (JSON)"
[[outputs]]
path = "public/defence.xml"
title = "Defence"
tags = ["defence"]
exclude = ["sponsored"]
[[outputs]]
path = "public/market.rss"
title = "Latest news from Market Weekly"
sources = ["Market"]
[[outputs]]
path = "public/sampler.json"
title = "One of each"
per_source = 1
[[sources]]
name = "Harbour"
url = "{}"
tags = ["defence"]
[[sources]]
name = "Market"
url = "{}"
tags = ["economy"]
"#,
        server.url("/defence.xml"),
        server.url("/economy.xml")
    );
    let ws = Workspace::new(&config);
    let run = ws.tributary(&["once"]).await;
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    Setup { server, ws }
}

fn parse(ws: &Workspace, file: &str) -> feed_rs::model::Feed {
    ws.feed(&format!("public/{file}"))
}

fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|e| {
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect()
}

const ALL: [&str; 4] = [
    "Fleet review",
    "Rates hold",
    "Sponsored: buy ships",
    "Drones & doctrine",
];

#[tokio::test]
async fn every_format_carries_the_stored_items_with_their_publishers_and_media() {
    let Setup { ws, server } = setup("").await;
    let db = ws.db();
    let stored: Vec<(String, String)> = db
        .prepare("SELECT public_id, link FROM items ORDER BY sort_at DESC, id DESC")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for file in ["feed.xml", "feed.rss", "feed.json"] {
        let feed = parse(&ws, file);
        assert_eq!(titles(&feed), ALL, "{file}");
        let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
        let links: Vec<&str> = feed
            .entries
            .iter()
            .map(|e| e.links[0].href.as_str())
            .collect();
        assert_eq!(
            ids,
            stored.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            "{file}"
        );
        assert_eq!(
            links,
            stored.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
            "{file}"
        );
        let fleet = &feed.entries[0];
        assert_eq!(
            fleet.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2025-08-20T10:00:00+00:00"),
            "{file}"
        );
        let categories: Vec<&str> = fleet.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(categories, ["defence", "audio"], "{file}");
        let media_urls: Vec<String> = fleet
            .media
            .iter()
            .flat_map(|m| m.content.iter())
            .filter_map(|c| c.url.as_ref().map(|u| u.to_string()))
            .chain(
                fleet
                    .links
                    .iter()
                    .filter(|l| l.rel.as_deref() == Some("enclosure"))
                    .map(|l| l.href.clone()),
            )
            .collect();
        // feed-rs does not read JSON Feed attachments; they are checked below.
        if file != "feed.json" {
            assert!(
                media_urls.contains(&"https://harbour.example/d3.mp3".to_string()),
                "{file}: {media_urls:?}"
            );
        }
    }
    // Provenance in each format's own way.
    let atom = entries_with_publishers(&ws.path("public/feed.xml"));
    assert_eq!(atom[1], ("Rates hold".into(), "Market".into()));
    let rss = std::fs::read_to_string(ws.path("public/feed.rss")).unwrap();
    let source = format!(
        r#"<source url="{}">Harbour</source>"#,
        server.url("/defence.xml")
    );
    assert!(rss.contains(&source), "{rss}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path("public/feed.json")).unwrap()).unwrap();
    let first = &json["items"][1];
    assert_eq!(first["_tributary"]["source_title"], "Market");
    assert_eq!(
        first["_tributary"]["source_link"],
        "https://market.example/"
    );
    assert!(
        first["_tributary"]["source_feed"]
            .as_str()
            .unwrap()
            .ends_with("/economy.xml")
    );
    assert_eq!(first["attachments"][0]["mime_type"], "audio/mpeg");
    assert_eq!(first["attachments"][0]["size_in_bytes"], 123456);
    assert_eq!(json["feed_url"], "https://feeds.example.org/news/feed.json");
}

#[tokio::test]
async fn atom_meets_every_must_of_rfc_4287() {
    let Setup { ws, .. } = setup("").await;
    let text = std::fs::read_to_string(ws.path("public/feed.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let feed = doc.root_element();
    assert_eq!(
        feed.tag_name().namespace(),
        Some("http://www.w3.org/2005/Atom")
    );
    let children = |node: roxmltree::Node<'_, '_>, name: &str| -> Vec<String> {
        node.children()
            .filter(|c| c.has_tag_name(name))
            .map(|c| c.text().unwrap_or_default().to_string())
            .collect()
    };
    let one = |node: roxmltree::Node<'_, '_>, name: &str| {
        let found = children(node, name);
        assert_eq!(found.len(), 1, "exactly one atom:{name}");
        found[0].clone()
    };
    let is_iri = |s: &str| url::Url::parse(s).is_ok();
    let is_date = |s: &str| chrono::DateTime::parse_from_rfc3339(s).is_ok();
    assert!(is_iri(&one(feed, "id")));
    one(feed, "title");
    assert!(is_date(&one(feed, "updated")));
    let self_link = feed
        .children()
        .find(|c| c.has_tag_name("link") && c.attribute("rel") == Some("self"))
        .and_then(|l| l.attribute("href"));
    assert_eq!(self_link, Some("https://feeds.example.org/news/feed.xml"));
    let feed_has_author = feed.children().any(|c| c.has_tag_name("author"));
    let entries: Vec<_> = feed
        .children()
        .filter(|c| c.has_tag_name("entry"))
        .collect();
    assert_eq!(entries.len(), 4);
    for entry in entries {
        assert!(is_iri(&one(entry, "id")));
        one(entry, "title");
        assert!(is_date(&one(entry, "updated")));
        for published in children(entry, "published") {
            assert!(is_date(&published));
        }
        let has_author = entry.children().any(|c| c.has_tag_name("author"))
            || entry
                .children()
                .find(|c| c.has_tag_name("source"))
                .is_some_and(|s| s.children().any(|c| c.has_tag_name("author")));
        assert!(
            has_author || feed_has_author,
            "an author is reachable for every entry"
        );
        let content = entry.children().find(|c| c.has_tag_name("content"));
        let has_alternate = entry
            .children()
            .any(|c| c.has_tag_name("link") && c.attribute("rel") == Some("alternate"));
        assert!(
            content.is_some() || has_alternate,
            "content or an alternate link"
        );
        if content.is_some_and(|c| c.attribute("src").is_some()) {
            one(entry, "summary");
        }
        let alternates: Vec<_> = entry
            .children()
            .filter(|c| c.has_tag_name("link") && c.attribute("rel") == Some("alternate"))
            .collect();
        assert!(alternates.len() <= 1, "at most one alternate link per type");
    }
}

#[tokio::test]
async fn feedparser_and_the_json_feed_schema_accept_the_outputs() {
    let probe = Command::new("python3")
        .args(["-c", "import feedparser, jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        say_skipped(
            "SKIPPED: python3 with feedparser and jsonschema is not installed (.ci/run installs them)",
        );
        return;
    }
    let Setup { ws, .. } = setup("").await;
    let script = Path::new(FIXTURES).join("read_with_feedparser.py");
    let files: Vec<String> = ["feed.xml", "feed.rss", "defence.xml", "market.rss"]
        .iter()
        .map(|f| {
            ws.path(&format!("public/{f}"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let out = Command::new("python3")
        .arg(&script)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let readings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let db = ws.db();
    for reading in readings.as_array().unwrap() {
        let path = reading["path"].as_str().unwrap();
        assert_eq!(reading["bozo"], 0, "{path}: {}", reading["bozo_exception"]);
        for entry in reading["entries"].as_array().unwrap() {
            let title = entry["title"].as_str().unwrap();
            let (link, published, publisher): (String, i64, String) = db
                .query_row(
                    "SELECT i.link, i.published, s.name FROM items i JOIN sources s ON s.id = i.source_id WHERE i.title = ?1",
                    [title],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!(entry["link"], link.as_str(), "{path}");
            let when = chrono::DateTime::from_timestamp(published, 0).unwrap();
            assert_eq!(
                entry["published"],
                when.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "{path}"
            );
            assert_eq!(entry["publisher"], publisher.as_str(), "{path}");
        }
    }
    let schema = Path::new(FIXTURES).join("jsonfeed-1.1.schema.json");
    for file in ["feed.json", "sampler.json"] {
        let out = Command::new("python3")
            .arg(&script)
            .arg("--schema")
            .arg(&schema)
            .arg(ws.path(&format!("public/{file}")))
            .output()
            .unwrap();
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["errors"], serde_json::json!([]), "{file}");
    }
}

#[tokio::test]
async fn outputs_filter_by_tag_source_keyword_and_per_source() {
    let Setup { ws, .. } = setup("").await;
    assert_eq!(
        titles(&parse(&ws, "defence.xml")),
        ["Fleet review", "Drones & doctrine"],
        "tag defence, without the sponsored item"
    );
    let market = parse(&ws, "market.rss");
    assert_eq!(titles(&market), ["Rates hold"]);
    assert_eq!(
        market.title.unwrap().content,
        "Latest news from Market Weekly"
    );
    assert_eq!(
        titles(&parse(&ws, "sampler.json")),
        ["Fleet review", "Rates hold"],
        "one per source"
    );
}

#[tokio::test]
async fn max_age_keeps_only_recent_items_in_an_output() {
    let server = FeedServer::start().await;
    let now = chrono::Utc::now();
    let date = |days: i64| (now - chrono::Duration::days(days)).to_rfc2822();
    server.serve(
        "/a.xml",
        rss(
            "A",
            "https://a.example/",
            &[item("new", "New", &date(1)), item("old", "Old", &date(10))],
        ),
    );
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[outputs]]\npath = \"public/week.json\"\nmax_age = \"7d\"\n\n[[sources]]\nname = \"A\"\nurl = \"{}\"\n",
        server.url("/a.xml")
    ));
    ws.tributary(&["once"]).await;
    assert_eq!(titles(&ws.feed("public/feed.xml")), ["New", "Old"]);
    assert_eq!(titles(&ws.feed("public/week.json")), ["New"]);
}

#[tokio::test]
async fn the_same_stored_items_give_byte_identical_outputs() {
    let Setup { ws, .. } = setup("").await;
    let files = [
        "feed.xml",
        "feed.rss",
        "feed.json",
        "index.html",
        "sources.opml",
    ];
    let read = |ws: &Workspace| -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|f| std::fs::read(ws.path(&format!("public/{f}"))).unwrap())
            .collect()
    };
    let before = read(&ws);
    // Rendered again from the same database, from scratch: the same bytes.
    for file in files {
        std::fs::remove_file(ws.path(&format!("public/{file}"))).unwrap();
    }
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(read(&ws), before);
}

#[tokio::test]
async fn the_html_page_is_a_readable_river_without_scripts() {
    let Setup { ws, .. } = setup("").await;
    let page = std::fs::read_to_string(ws.path("public/index.html")).unwrap();
    assert!(!page.to_lowercase().contains("<script"));
    let wednesday = page
        .find("Wednesday 20 August 2025")
        .expect("a day heading");
    let tuesday = page.find("Tuesday 19 August 2025").expect("a day heading");
    assert!(wednesday < tuesday, "newest day first");
    let html = scraper::Html::parse_document(&page);
    let links: Vec<(String, String)> = html
        .select(&scraper::Selector::parse("article a").unwrap())
        .map(|a| {
            let href = a.value().attr("href").unwrap_or_default().to_string();
            (a.text().collect::<String>(), href)
        })
        .collect();
    assert!(
        links.contains(&("Fleet review".into(), "https://harbour.example/d3".into())),
        "{links:?}"
    );
    assert!(
        links.contains(&("Harbour".into(), "https://harbour.example/".into())),
        "{links:?}"
    );
    assert!(
        page.contains("Drones &amp; doctrine"),
        "titles are escaped: {page}"
    );
    assert!(page.contains("Episode Fleet review &amp; more."), "{page}");
}

#[tokio::test]
async fn opml_is_written_exported_and_imported_keeping_the_config_as_written() {
    let Setup { ws, server } = setup("").await;
    let opml = std::fs::read_to_string(ws.path("public/sources.opml")).unwrap();
    let expected = format!(
        r#"<outline type="rss" text="Harbour" title="Harbour" xmlUrl="{}" category="defence"/>"#,
        server.url("/defence.xml")
    );
    assert!(opml.contains(&expected), "{opml}");
    let exported = stdout(&ws.tributary(&["export-opml"]).await);
    assert_eq!(exported, opml);

    ws.write(
        "subscriptions.opml",
        &format!(
            r#"<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>
<outline text="Science"><outline type="rss" text="Coastal &amp; Marine" xmlUrl="https://coast.example/rss"/></outline>
<outline type="rss" text="Harbour again" xmlUrl="{}"/>
</body></opml>"#,
            server.url("/defence.xml")
        ),
    );
    let printed = stdout(
        &ws.tributary(&[
            "import-opml",
            &ws.path("subscriptions.opml").to_string_lossy(),
        ])
        .await,
    );
    assert_eq!(
        printed.trim(),
        "[[sources]]\nname = \"Coastal & Marine\"\nurl = \"https://coast.example/rss\"\ntags = [\"Science\"]",
        "only the new feed"
    );
    let before = std::fs::read_to_string(ws.config()).unwrap();
    let run = ws
        .tributary(&[
            "import-opml",
            &ws.path("subscriptions.opml").to_string_lossy(),
            "--append",
        ])
        .await;
    assert!(run.status.success(), "{}", stderr(&run));
    let after = std::fs::read_to_string(ws.config()).unwrap();
    assert!(after.starts_with(&before), "the config is kept as written");
    assert!(after.contains("url = \"https://coast.example/rss\""));
    assert!(
        ws.tributary(&["check"]).await.status.success(),
        "still valid"
    );
}

#[tokio::test]
async fn the_built_in_server_serves_the_outputs_with_types_validators_and_gzip() {
    let port = free_port();
    let Setup { ws, .. } = setup(&format!("[serve]\nlisten = \"127.0.0.1:{port}\"\n")).await;
    let _daemon = Daemon::start(&ws);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().gzip(false).build().unwrap();
    let mut response = None;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/feed.xml")).send().await {
            response = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = response.expect("the server answers");
    assert_eq!(response.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/atom+xml; charset=utf-8")
    );
    let etag = header(&response, "etag").expect("an ETag");
    let modified = header(&response, "last-modified").expect("a Last-Modified");
    let body = response.bytes().await.unwrap();
    assert_eq!(body, std::fs::read(ws.path("public/feed.xml")).unwrap());

    let again = client
        .get(format!("{base}/feed.xml"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let again = client
        .get(format!("{base}/feed.xml"))
        .header("If-Modified-Since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let types = [
        ("feed.rss", "application/rss+xml; charset=utf-8"),
        ("feed.json", "application/feed+json; charset=utf-8"),
        ("index.html", "text/html"),
    ];
    for (file, expected) in types {
        let r = client.get(format!("{base}/{file}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(
            header(&r, "content-type").unwrap().starts_with(expected),
            "{file}"
        );
    }
    let gzipped = client
        .get(format!("{base}/feed.rss"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&gzipped, "content-encoding").as_deref(),
        Some("gzip")
    );

    // Nothing outside the folder: not the config, not the database.
    for path in [
        "/../tributary.toml",
        "/..%2ftributary.toml",
        "/../state/tributary.db",
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn websub_hubs_are_announced_and_pinged_when_an_output_changes() {
    let hub = FeedServer::start().await;
    hub.respond("/hub", 204, &[], Vec::new());
    let Setup { ws, .. } = setup(&format!("[websub]\nhub = \"{}\"\n", hub.url("/hub"))).await;
    let atom = std::fs::read_to_string(ws.path("public/feed.xml")).unwrap();
    assert!(atom.contains(&format!(r#"<link rel="hub" href="{}"/>"#, hub.url("/hub"))));
    assert!(atom.contains(r#"<link rel="self" href="https://feeds.example.org/news/feed.xml"/>"#));
    let rss = std::fs::read_to_string(ws.path("public/feed.rss")).unwrap();
    assert!(rss.contains(&format!(
        r#"<atom:link rel="hub" href="{}"/>"#,
        hub.url("/hub")
    )));
    let pings = hub.seen("/hub");
    assert_eq!(pings.len(), 6, "one per feed written");
    let bodies: Vec<String> = hub.bodies("/hub");
    assert!(
        bodies.iter().any(|b| b
            == "hub.mode=publish&hub.topic=https%3A%2F%2Ffeeds.example.org%2Fnews%2Ffeed.xml\
                    &hub.url=https%3A%2F%2Ffeeds.example.org%2Fnews%2Ffeed.xml"),
        "{bodies:?}"
    );

    // Nothing changed: no more pings.
    ws.tributary(&["once"]).await;
    assert_eq!(hub.seen("/hub").len(), 6);
}

#[tokio::test]
async fn newsboat_subscribes_to_the_served_feed() {
    if Command::new("newsboat").arg("--version").output().is_err() {
        say_skipped("SKIPPED: newsboat is not installed (.ci/run installs it)");
        return;
    }
    let port = free_port();
    let Setup { ws, .. } = setup(&format!("[serve]\nlisten = \"127.0.0.1:{port}\"\n")).await;
    let _daemon = Daemon::start(&ws);
    let url = format!("http://127.0.0.1:{port}/feed.xml");
    let client = reqwest::Client::new();
    assert!(
        wait_for_async(Duration::from_secs(10), || {
            let client = client.clone();
            let url = url.clone();
            async move { client.get(&url).send().await.is_ok() }
        })
        .await
    );
    ws.write("newsboat/urls", &format!("{url}\n"));
    ws.write("newsboat/config", "");
    let cache = ws.path("newsboat/cache.db");
    let run = Command::new("newsboat")
        .arg("-u")
        .arg(ws.path("newsboat/urls"))
        .arg("-c")
        .arg(&cache)
        .arg("-C")
        .arg(ws.path("newsboat/config"))
        .args(["-x", "reload"])
        .env("HOME", ws.path("newsboat"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let db = rusqlite::Connection::open(&cache).unwrap();
    let mut listed: Vec<String> = db
        .prepare("SELECT title FROM rss_item")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    listed.sort();
    let mut expected: Vec<String> = ALL.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn the_html_page_names_the_publisher_once_and_links_its_feed_without_a_base_url() {
    let server = FeedServer::start().await;
    let item = |guid: &str, author: &str| {
        format!(
            "<item><guid>{guid}</guid><title>{guid}</title><link>https://coast.example/{guid}</link>\
             <dc:creator>{author}</dc:creator><pubDate>Mon, 18 Aug 2025 10:00:00 GMT</pubDate></item>"
        )
    };
    server.serve(
        "/c.xml",
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\
             <channel><title>Coastal</title><link>https://coast.example/</link><description>d</description>\
             {}{}</channel></rss>",
            item("by-the-desk", "Coastal"),
            item("by-a-person", "Ada Lovelace")
        ),
    );
    let config = format!(
        "{STATE_AND_OUTPUT}html = \"public/pages/index.html\"\n\n[[sources]]\nname = \"Coastal\"\nurl = \"{}\"\n",
        server.url("/c.xml")
    );
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    let page = std::fs::read_to_string(ws.path("public/pages/index.html")).unwrap();
    let html = scraper::Html::parse_document(&page);
    let metas: Vec<String> = html
        .select(&scraper::Selector::parse("article .meta").unwrap())
        .map(|m| {
            m.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(metas.len(), 2, "{page}");
    assert!(
        metas.iter().any(|m| m.ends_with("UTC · Ada Lovelace")),
        "{metas:?}"
    );
    assert!(
        metas
            .iter()
            .any(|m| m.ends_with("UTC") && m.matches("Coastal").count() == 1),
        "{metas:?}"
    );
    // The feed, relative to the page, as no base_url says where it is served.
    let subscribe: Vec<&str> = html
        .select(&scraper::Selector::parse("main > p.meta a, link[rel=alternate]").unwrap())
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(subscribe, ["../feed.xml", "../feed.xml"], "{page}");
}

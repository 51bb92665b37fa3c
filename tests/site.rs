//! The aggregator's own site: the river, item pages with their provenance, publisher and tag
//! pages; links that all resolve; templates a user overrides; incremental writes; retention.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;

/// Every `.html` file under `folder`, relative to it.
fn pages(folder: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let relative = path.strip_prefix(folder).unwrap();
                found.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

/// The `href`/`src` attributes of a page, unescaped.
fn links(html: &str) -> Vec<(String, String)> {
    let document = scraper::Html::parse_document(html);
    let any = scraper::Selector::parse("[href], [src]").unwrap();
    let mut links = Vec::new();
    for element in document.select(&any) {
        for attr in ["href", "src"] {
            if let Some(value) = element.value().attr(attr) {
                links.push((element.value().name().to_string(), value.to_string()));
            }
        }
    }
    links
}

/// Checks every link of every page under `folder`: a relative one must name a file there.
/// Returns the absolute links found, by page.
fn check_links(folder: &Path) -> Vec<(String, String, String)> {
    let mut outside = Vec::new();
    for page in pages(folder) {
        let html = std::fs::read_to_string(folder.join(&page)).unwrap();
        assert!(!html.contains("<script"), "{page} holds a script");
        for (element, link) in links(&html) {
            if link.contains("://") || link.starts_with("mailto:") {
                outside.push((page.clone(), element, link));
                continue;
            }
            assert!(!link.is_empty(), "{page}: an empty link on <{element}>");
            let path = link.split(['#', '?']).next().unwrap();
            let from = Path::new(&page).parent().unwrap_or(Path::new(""));
            let target = normalize(&folder.join(from).join(path));
            assert!(
                target.starts_with(folder) && target.is_file(),
                "{page}: the link {link:?} leads to no file written ({})",
                target.display()
            );
        }
    }
    outside
}

/// `path` with its `..` and `.` parts resolved, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn item_pages(folder: &Path) -> Vec<String> {
    pages(folder)
        .into_iter()
        .filter(|p| p.starts_with("items/"))
        .collect()
}

fn read(ws: &Workspace, relative: &str) -> String {
    std::fs::read_to_string(ws.path(relative)).unwrap()
}

#[tokio::test]
async fn the_demo_site_holds_every_item_with_its_provenance_and_every_link_resolves() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(dir.path(), &["config/demo.toml", "config/demo"]);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(dir.path().join("config/demo.toml"))
        .arg("once")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let site = dir.path().join("demo-out/public");
    let written = pages(&site);
    for page in [
        "index.html",
        "sources/index.html",
        "sources/harbour-institute.html",
        "sources/open-rail-quarterly.html",
        "tags/defence.html",
        "tags/science.html",
    ] {
        assert!(written.contains(page), "{page} missing from {written:?}");
    }
    // One page per stored item.
    let db = rusqlite::Connection::open(dir.path().join("demo-out/state/tributary.db")).unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .unwrap();
    let stored = stored as usize;
    assert_eq!(item_pages(&site).len(), stored);
    assert_eq!(stored, 10);

    let outside = check_links(&site);
    // Outside links are the items' originals and publishers' sites, never a resource the page
    // itself loads from elsewhere.
    for (page, element, link) in &outside {
        assert!(
            element == "a",
            "{page} loads {link} from another host in <{element}>"
        );
    }

    // The river links every item's page, and the feed.
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    for item in item_pages(&site) {
        assert!(index.contains(&format!("href=\"{item}\"")), "{item}");
    }
    assert!(index.contains(r#"<link rel="alternate" type="application/atom+xml""#));
    assert!(
        index.contains(r#"href="feed.xml""#),
        "a relative subscribe link"
    );
    assert!(index.contains(r#"<meta property="og:title" content="Tributary demo">"#));

    // Each item page: the original, the channel website, the publisher's latest.
    let mut with_latest = 0;
    for item in item_pages(&site) {
        let html = std::fs::read_to_string(site.join(&item)).unwrap();
        let document = scraper::Html::parse_document(&html);
        let original = document
            .select(&scraper::Selector::parse("a.original").unwrap())
            .next()
            .and_then(|a| a.value().attr("href"))
            .unwrap_or_else(|| panic!("{item}: no original link"));
        assert!(original.starts_with("https://"), "{item}: {original}");
        assert!(html.contains(&format!(
            "<dt>Original article link</dt><dd><a href=\"{original}\">"
        )));
        assert!(html.contains("<dt>Channel website</dt>"), "{item}");
        assert!(html.contains(r#"<meta property="og:type" content="article">"#));
        assert!(html.contains(r#"href="../feed.xml""#), "{item}");
        if html.contains("Latest news from") {
            with_latest += 1;
        }
    }
    // Every demo publisher has more than one item.
    assert_eq!(with_latest, stored);
}

fn config(server: &FeedServer, extra: &str) -> String {
    format!(
        r#"[database]
path = "state/tributary.db"

[retention]
max_age = "0"

[site]
base_url = "https://news.example.org/"
pages = "public/"
items_per_page = 3
{extra}

[[outputs]]
path = "public/feed.xml"
title = "All the news"

[[outputs]]
path = "public/ports.xml"
title = "Ports"
tags = ["ports"]

[[sources]]
name = "Harbour Institute"
url = "{}"
tags = ["ports"]

[[sources]]
name = "Wire"
url = "{}"
"#,
        server.url("/h.xml"),
        server.url("/w.xml")
    )
}

fn harbour(server: &FeedServer, count: usize) {
    let items: Vec<String> = (1..=count)
        .map(|n| {
            raw_item(
                Some(&format!("h{n}")),
                &format!("Harbour story {n}"),
                Some(&format!("https://harbour.example/news/{n}")),
                &format!("<p>Story {n} <script>alert(1)</script>text.</p>"),
                &format!("Mon, {:02} Aug 2025 10:00:00 GMT", n),
            )
        })
        .collect();
    server.serve("/h.xml", channel("Harbour Institute", &items));
}

fn wire(server: &FeedServer, count: usize) {
    let items: Vec<String> = (1..=count)
        .map(|n| {
            raw_item(
                Some(&format!("w{n}")),
                &format!("Wire story {n}"),
                Some(&format!("https://wire.example/{n}")),
                "Plain text.",
                &format!("Tue, {:02} Jul 2025 10:00:00 GMT", n),
            )
        })
        .collect();
    server.serve("/w.xml", channel("Wire", &items));
}

fn page_of(ws: &Workspace, title: &str) -> String {
    let folder = ws.path("public");
    item_pages(&folder)
        .into_iter()
        .find(|p| read(ws, &format!("public/{p}")).contains(&format!("<h1>{title}</h1>")))
        .unwrap_or_else(|| panic!("no page for {title}"))
}

#[tokio::test]
async fn an_item_page_names_its_publisher_once_links_the_original_and_lists_five_others() {
    let server = FeedServer::start().await;
    harbour(&server, 7);
    wire(&server, 2);
    let ws = Workspace::new(&config(&server, ""));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    check_links(&ws.path("public"));

    let page = page_of(&ws, "Harbour story 7");
    let html = read(&ws, &format!("public/{page}"));
    assert!(html.contains(
        r#"<a class="original" href="https://harbour.example/news/7">Read the full release at harbour.example</a>"#
    ));
    assert!(
        html.contains(
            r#"<dt>Channel website</dt><dd><a href="https://harbour-institute.example/">"#
        )
    );
    assert!(!html.contains("alert(1)"), "content sanitized");
    assert!(html.contains("<p>Story 7 text.</p>"));
    assert!(html.contains(&format!(
        r#"<link rel="canonical" href="https://news.example.org/{page}">"#
    )));
    assert!(html.contains(r#"<meta property="og:description" content="Story 7 text.">"#));
    // The publisher's five newest others, newest first, not itself, not the wire's.
    let latest = html.split("Latest news from").nth(1).unwrap();
    let titles: Vec<&str> = latest
        .match_indices("Harbour story ")
        .map(|(at, _)| &latest[at..at + 15])
        .collect();
    assert_eq!(
        titles,
        [
            "Harbour story 6",
            "Harbour story 5",
            "Harbour story 4",
            "Harbour story 3",
            "Harbour story 2"
        ]
    );
    assert!(!latest.contains("Wire story"));
    // No author: the publisher is named in the byline once.
    let byline = html.split("<div class=\"meta\">").nth(1).unwrap();
    let byline = byline.split("</div>").next().unwrap();
    assert_eq!(byline.matches("Harbour Institute").count(), 1, "{byline}");
    // Its tag page exists, with the tag's own feed as its alternate.
    assert!(html.contains(r##"href="../tags/ports.html">#ports</a>"##));
    let tag = read(&ws, "public/tags/ports.html");
    assert!(tag.contains(r#"href="https://news.example.org/ports.xml""#));
    assert_eq!(tag.matches("<article class=\"entry\">").count(), 3);

    // The index: the newest 3, then the archive by day (one item a day here), newest first,
    // linked both ways.
    let index = read(&ws, "public/index.html");
    assert!(index.contains("Harbour story 7") && !index.contains("Harbour story 4"));
    assert!(index.contains(r#"<a rel="next" href="archive/2025-08-04.html">"#));
    let day = read(&ws, "public/archive/2025-08-04.html");
    assert!(day.contains("Harbour story 4") && !day.contains("Harbour story 3"));
    assert!(day.contains(r#"<a rel="next" href="../archive/2025-08-03.html">"#));
    assert!(day.contains(r#"<a rel="prev" href="../archive/2025-08-05.html">"#));
    let oldest = read(&ws, "public/archive/2025-07-01.html");
    assert!(oldest.contains("Wire story 1"));
    assert!(oldest.contains(r#"<a rel="prev" href="../archive/2025-07-02.html">"#));
    assert!(!oldest.contains(r#"rel="next""#));
    assert!(!ws.path("public/page").exists());

    // The publishers' list: counts and pages.
    let sources = read(&ws, "public/sources/index.html");
    assert!(sources.contains(r#"<a href="../sources/harbour-institute.html">Harbour Institute</a> <span class="meta">· 7 items"#), "{sources}");
    assert!(sources.contains("· 2 items"));
    let source = read(&ws, "public/sources/harbour-institute.html");
    assert!(source.contains(&server.url("/h.xml")), "its feed URL");
}

#[tokio::test]
async fn a_user_template_replaces_the_built_in_one_and_a_broken_one_is_refused() {
    let server = FeedServer::start().await;
    harbour(&server, 2);
    wire(&server, 1);
    let ws = Workspace::new(&config(&server, "templates = \"my-templates/\""));
    ws.write(
        "my-templates/item.html",
        "{% extends \"base.html\" %}\n{% block content %}<h1>{{ item.title }}</h1><p>MINE: {{ item.publisher }}</p>{% endblock %}\n",
    );
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let page = page_of(&ws, "Harbour story 2");
    let html = read(&ws, &format!("public/{page}"));
    assert!(html.contains("<p>MINE: Harbour Institute</p>"), "{html}");
    assert!(!html.contains("Latest news from"));
    // The river is still the built-in one.
    assert!(read(&ws, "public/index.html").contains("<article class=\"entry\">"));
    let before = pages(&ws.path("public"));
    let index_before = read(&ws, "public/index.html");

    // A template that fails only on some item, met when rendering: no page is written, not
    // even those rendered before it; the next good render catches up.
    ws.write(
        "my-templates/item.html",
        "{% extends \"base.html\" %}\n{% block content %}<h1>{{ item.title }}</h1>\n{% if item.title == \"Harbour story 3\" %}{{ no.such.thing }}{% endif %}{% endblock %}\n",
    );
    harbour(&server, 3);
    let out = ws.tributary(&["once"]).await;
    assert!(
        stderr(&out).contains("site not written"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("item.html line 3"),
        "{}",
        stderr(&out)
    );
    assert_eq!(pages(&ws.path("public")), before, "no page written");
    assert_eq!(read(&ws, "public/index.html"), index_before);
    let leftovers: Vec<_> = std::fs::read_dir(ws.path("public/items"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A syntax error, then an error met only when rendering: both refused before any page is
    // written, naming the file and the line.
    for (broken, line) in [
        ("<h1>{{ item.title }}</h1>\n<p>\n{% if %}</p>\n", 3),
        ("<h1>\n{{ item.title | no_such_filter }}</h1>\n", 2),
    ] {
        ws.write("my-templates/item.html", broken);
        harbour(&server, 3);
        let out = ws.tributary(&["once"]).await;
        assert!(!out.status.success(), "a broken template is refused");
        let err = stderr(&out);
        let file = ws.path("my-templates/item.html");
        assert!(
            err.contains(&format!("{} line {line}", file.display())),
            "{err}"
        );
        assert_eq!(pages(&ws.path("public")), before, "no page written");
        assert_eq!(read(&ws, "public/index.html"), index_before);
        let check = ws.tributary(&["check"]).await;
        assert!(!check.status.success());
    }
}

/// Sets every file's mtime under `folder` to long ago, so that a rewrite shows without sleeping.
fn age(folder: &Path) -> SystemTime {
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for page in pages(folder) {
        let file = std::fs::File::options()
            .write(true)
            .open(folder.join(page))
            .unwrap();
        file.set_modified(old).unwrap();
    }
    old
}

fn mtime(ws: &Workspace, relative: &str) -> SystemTime {
    std::fs::metadata(ws.path(relative))
        .unwrap()
        .modified()
        .unwrap()
}

#[tokio::test]
async fn a_new_item_rewrites_only_the_pages_it_changes() {
    let server = FeedServer::start().await;
    harbour(&server, 2);
    wire(&server, 2);
    let ws =
        Workspace::new(&config(&server, "items_per_page = 50").replace("items_per_page = 3\n", ""));
    assert!(ws.tributary(&["once"]).await.status.success());
    let old = age(&ws.path("public"));
    let wire_pages: Vec<String> = ["Wire story 1", "Wire story 2"]
        .iter()
        .map(|t| page_of(&ws, t))
        .collect();
    let harbour_old: Vec<String> = ["Harbour story 1", "Harbour story 2"]
        .iter()
        .map(|t| page_of(&ws, t))
        .collect();

    // Nothing new: nothing rewritten.
    assert!(ws.tributary(&["once"]).await.status.success());
    for page in pages(&ws.path("public")) {
        assert_eq!(mtime(&ws, &format!("public/{page}")), old, "{page}");
    }

    // A new harbour item: its page, its publisher's page and the publishers' list, its tag's
    // page, the index, and the archive's page of its day (a new day: the day before links it
    // now). Nothing else: the older items' pages list the items before them, which stay.
    harbour(&server, 3);
    assert!(ws.tributary(&["once"]).await.status.success());
    let new = page_of(&ws, "Harbour story 3");
    let mut rewritten: Vec<String> = pages(&ws.path("public"))
        .into_iter()
        .filter(|page| mtime(&ws, &format!("public/{page}")) != old)
        .collect();
    rewritten.sort();
    let mut expected = vec![
        new,
        "archive/2025-08-02.html".to_string(),
        "archive/2025-08-03.html".to_string(),
        "index.html".to_string(),
        "sources/harbour-institute.html".to_string(),
        "sources/index.html".to_string(),
        "tags/ports.html".to_string(),
    ];
    expected.sort();
    assert_eq!(rewritten, expected);
    for page in harbour_old.iter().chain(&wire_pages) {
        assert!(ws.path(&format!("public/{page}")).exists(), "{page}");
    }
}

/// Source `s`'s feed of items `0..count`, an hour apart from 1 August 2025, sources a minute
/// apart: ~1,000 items a day over the sources of `at_scale`.
fn hourly(server: &FeedServer, s: usize, count: usize) {
    let start = chrono::DateTime::parse_from_rfc3339("2025-08-01T00:00:00Z").unwrap();
    let items: Vec<String> = (0..count)
        .map(|n| {
            let at =
                start + chrono::Duration::hours(n as i64) + chrono::Duration::minutes(s as i64);
            raw_item(
                Some(&format!("s{s}-{n}")),
                &format!("Story {n} of source {s}"),
                Some(&format!("https://s{s}.example/{n}")),
                "<p>Text.</p>",
                &at.to_rfc2822(),
            )
        })
        .collect();
    server.serve(
        &format!("/s{s}.xml"),
        channel(&format!("Source {s}"), &items),
    );
}

/// 4,000 items: a render of them all takes seconds; one new item rewrites a handful of pages,
/// the ones it belongs to, and no other.
#[tokio::test]
async fn at_scale_one_new_item_rewrites_only_its_own_pages() {
    const SOURCES: usize = 40;
    const ITEMS: usize = 100;
    let server = FeedServer::start().await;
    let mut config = String::from(
        "[database]\npath = \"state/tributary.db\"\n[retention]\nmax_age = \"0\"\ninitial_items = 0\n\
         [site]\npages = \"public/\"\n[[outputs]]\npath = \"public/feed.xml\"\n",
    );
    for s in 0..SOURCES {
        hourly(&server, s, ITEMS);
        config.push_str(&format!(
            "[[sources]]\nname = \"Source {s}\"\nurl = \"{}\"\ntags = [\"t{}\"]\n",
            server.url(&format!("/s{s}.xml")),
            s % 4
        ));
    }
    let ws = Workspace::new(&config);
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let site = ws.path("public");
    let before = pages(&site);
    assert_eq!(item_pages(&site).len(), SOURCES * ITEMS);
    let old = age(&site);

    // Source 7 gains its 101st item, the newest of all: 5 August 2025, 04:07.
    hourly(&server, 7, ITEMS + 1);
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let new = page_of(&ws, "Story 100 of source 7");
    let after = pages(&site);
    let rewritten: BTreeSet<String> = after
        .iter()
        .filter(|page| {
            std::fs::metadata(site.join(page))
                .unwrap()
                .modified()
                .unwrap()
                != old
        })
        .cloned()
        .collect();
    for page in [
        new.as_str(),
        "index.html",
        "sources/index.html",
        "sources/source-7.html",
        "tags/t3.html",
    ] {
        assert!(
            rewritten.contains(page),
            "{page} not rewritten: {rewritten:?}"
        );
    }
    // Its day's newest archive page, and (when the item opened it) the one before, which
    // links it now: nothing older.
    let archive: Vec<&String> = rewritten
        .iter()
        .filter(|p| p.starts_with("archive/"))
        .collect();
    assert!(
        !archive.is_empty()
            && archive.len() <= 2
            && archive.iter().all(|p| p.starts_with("archive/2025-08-05")),
        "{archive:?}"
    );
    assert_eq!(
        rewritten.len(),
        5 + archive.len(),
        "{} of {} pages rewritten: {rewritten:?}",
        rewritten.len(),
        after.len()
    );
    assert_eq!(
        after.len(),
        before.len() + 1 + usize::from(archive.len() == 2)
    );
    check_links(&site);
}

#[tokio::test]
async fn pages_of_items_gone_by_retention_are_deleted() {
    let server = FeedServer::start().await;
    let now = chrono::Utc::now();
    let dated = |n: i64, days: i64| {
        raw_item(
            Some(&format!("r{n}")),
            &format!("Recent {n}"),
            Some(&format!("https://harbour.example/r/{n}")),
            "Text.",
            &(now - chrono::Duration::days(days)).to_rfc2822(),
        )
    };
    server.serve(
        "/h.xml",
        channel("Harbour Institute", &[dated(1, 1), dated(2, 10)]),
    );
    wire(&server, 1);
    let ws = Workspace::new(&config(&server, ""));
    // Wire's story is dated July 2025: keep everything at first.
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(item_pages(&ws.path("public")).len(), 3);
    let older = page_of(&ws, "Recent 2");
    let wire_page = page_of(&ws, "Wire story 1");
    // A user's own file in an owned folder that is not a page stays.
    ws.write("public/items/notes.txt", "mine");

    let shorter = read(&ws, "tributary.toml").replace("max_age = \"0\"", "max_age = \"5d\"");
    ws.write("tributary.toml", &shorter);
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let left = item_pages(&ws.path("public"));
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!ws.path(&format!("public/{older}")).exists());
    assert!(!ws.path(&format!("public/{wire_page}")).exists());
    assert!(
        !ws.path("public/sources/wire.html").exists(),
        "a publisher with no items left"
    );
    assert!(ws.path("public/items/notes.txt").exists());
    check_links(&ws.path("public"));
}

#[tokio::test]
async fn the_built_in_server_serves_the_site_compressed_and_follows_its_changes() {
    let server = FeedServer::start().await;
    harbour(&server, 2);
    wire(&server, 1);
    let port = free_port();
    let serve = format!("[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n");
    // The wire comes later, by a reload.
    let full = config(&server, "") + &serve;
    let (head, wire_source) = full.split_at(full.find("[[sources]]\nname = \"Wire\"").unwrap());
    let (wire_source, serve_part) = wire_source.split_at(wire_source.find("[serve]").unwrap());
    let ws = Workspace::new(&format!("{head}{serve_part}"));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let get = |path: String, encoding: Option<&'static str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(encoding) = encoding {
            request = request.header("Accept-Encoding", encoding);
        }
        request.send()
    };
    // Served once the first polls are rendered.
    assert!(
        wait_for_async(Duration::from_secs(30), || async {
            match get("/".into(), None).await {
                Ok(r) => r.text().await.is_ok_and(|t| t.contains("Harbour story 2")),
                Err(_) => false,
            }
        })
        .await,
        "{}",
        daemon.log()
    );
    let item = page_of(&ws, "Harbour story 2");
    for (path, file) in [
        ("/".to_string(), "index.html".to_string()),
        ("/sources/".into(), "sources/index.html".into()),
        (format!("/{item}"), item.clone()),
    ] {
        let on_disk = std::fs::read(ws.path(&format!("public/{file}"))).unwrap();
        let plain = get(path.clone(), None).await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert_eq!(
            plain.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(plain.bytes().await.unwrap(), on_disk, "{path}");

        let br = get(path.clone(), Some("gzip, br")).await.unwrap();
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
        let etag = br.headers()["etag"].to_str().unwrap().to_string();
        let mut unpacked = Vec::new();
        brotli::BrotliDecompress(&mut &br.bytes().await.unwrap()[..], &mut unpacked).unwrap();
        assert_eq!(unpacked, on_disk, "{path}");

        let gz = get(path.clone(), Some("gzip")).await.unwrap();
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{path}");
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..]),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, on_disk, "{path}");

        let again = client
            .get(format!("{base}{path}"))
            .header("Accept-Encoding", "br")
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // Only what Tributary wrote: not the config, not the database, not a user's file.
    ws.write("public/items/notes.txt", "private");
    for path in [
        "/tributary.toml",
        "/../tributary.toml",
        "/state/tributary.db",
        "/items/notes.txt",
        "/items/",
        "/nothing.html",
    ] {
        let r = get(path.into(), None).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    // A source added by a reload: its pages are served once written.
    ws.write(
        "tributary.toml",
        &format!("{head}{wire_source}{serve_part}"),
    );
    daemon.signal(rustix::process::Signal::HUP).await;
    assert!(
        wait_for_async(Duration::from_secs(30), || async {
            get("/sources/wire.html".into(), None)
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await,
        "{}",
        daemon.log()
    );
    let index = get("/".into(), Some("br")).await.unwrap();
    let mut unpacked = Vec::new();
    brotli::BrotliDecompress(&mut &index.bytes().await.unwrap()[..], &mut unpacked).unwrap();
    assert!(
        String::from_utf8(unpacked)
            .unwrap()
            .contains("Wire story 1")
    );
    daemon.stop().await;
}

//! End to end: the `tributary` binary against a fake publisher on 127.0.0.1, asserting on the
//! SQLite rows and on the merged feed parsed back.

mod common;

use std::time::Duration;

use common::*;

const D1: &str = "Mon, 18 Aug 2025 10:00:00 GMT";
const D2: &str = "Tue, 19 Aug 2025 10:00:00 GMT";
const D3: &str = "Wed, 20 Aug 2025 10:00:00 GMT";
const D4: &str = "Thu, 21 Aug 2025 10:00:00 GMT";

#[tokio::test]
async fn once_stores_each_item_once_and_merges_them_naming_each_publisher() {
    let server = FeedServer::start().await;
    server.serve(
        "/harbour.xml",
        rss(
            "Harbour Feed",
            "https://harbour.example/",
            &[item("h2", "Harbour two", D2), item("h1", "Harbour one", D1)],
        ),
    );
    server.serve(
        "/council.atom",
        atom(
            "Council Feed",
            "https://council.example/",
            &[item("c1", "Council one", "2025-08-20T10:00:00Z")],
        ),
    );
    let ws = Workspace::new(&config_with_sources(
        &server,
        &[("Harbour", "/harbour.xml"), ("Council", "/council.atom")],
    ));

    let run = ws.tributary(&["once"]).await;
    assert!(run.status.success(), "{}", stderr(&run));
    let out = stdout(&run);
    assert!(
        out.contains("Harbour: 2 new, 0 updated, 0 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("Council: 1 new, 0 updated, 0 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("total: 2 sources, 2 ok, 0 failed, 0 rate limited, 0 gone, 0 skipped; 3 new"),
        "{out}"
    );

    let db = ws.db();
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 3);
    let merged = entries_with_publishers(&ws.path("public/feed.xml"));
    assert_eq!(
        merged,
        [
            ("Council one".to_string(), "Council".to_string()),
            ("Harbour two".to_string(), "Harbour".to_string()),
            ("Harbour one".to_string(), "Harbour".to_string()),
        ]
    );
    let feed = ws.feed("public/feed.xml");
    assert_eq!(feed.title.unwrap().content, "Merged");
    // Entries carry the ids Tributary minted for them, and the publishers' links.
    let ids: Vec<String> = feed.entries.iter().map(|e| e.id.clone()).collect();
    let minted: String = db
        .query_row(
            "SELECT public_id FROM items WHERE guid = 'https://council.example/c1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ids[0], minted);
    assert!(minted.starts_with("urn:uuid:"), "{minted}");
    assert_eq!(feed.entries[1].links[0].href, "https://harbour.example/h2");

    // Polling the same feeds again adds nothing.
    let again = ws.tributary(&["once"]).await;
    assert!(stdout(&again).contains("Harbour: 0 new, 0 updated, 2 unchanged"));
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 3);
    let again: Vec<String> = ws
        .feed("public/feed.xml")
        .entries
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(again, ids, "ids are stable");
}

#[tokio::test]
async fn a_changed_feed_adds_new_items_once_updates_changed_ones_and_keeps_removed_ones() {
    let server = FeedServer::start().await;
    let site = "https://harbour.example/";
    server.serve(
        "/feed.xml",
        rss(
            "Harbour",
            site,
            &[
                item("a3", "Third", D3),
                item("a2", "Second", D2),
                item("a1", "First", D1),
            ],
        ),
    );
    let ws = Workspace::new(&config_with_sources(&server, &[("Harbour", "/feed.xml")]));
    assert!(ws.tributary(&["once"]).await.status.success());
    let db = ws.db();
    let second_row: i64 = db
        .query_row("SELECT id FROM items WHERE guid = 'a2'", [], |r| r.get(0))
        .unwrap();

    // The publisher adds a4, rewrites a2's title and drops a1 from its feed.
    server.serve(
        "/feed.xml",
        rss(
            "Harbour",
            site,
            &[
                item("a4", "Fourth", D4),
                item("a3", "Third", D3),
                item("a2", "Second, corrected", D2),
            ],
        ),
    );
    let run = ws.tributary(&["once"]).await;
    assert!(
        stdout(&run).contains("Harbour: 1 new, 1 updated, 1 unchanged"),
        "{}",
        stdout(&run)
    );

    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 4);
    let (row, title, updated): (i64, String, i64) = db
        .query_row(
            "SELECT id, title, updated FROM items WHERE guid = 'a2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(row, second_row, "updated in place, not added again");
    assert_eq!(title, "Second, corrected");
    assert!(
        updated > chrono::Utc::now().timestamp() - 120,
        "its updated time moved to when the change was seen"
    );
    assert_eq!(
        count(&ws, "SELECT count(*) FROM items WHERE guid = 'a1'"),
        1,
        "an item gone from the feed stays stored"
    );

    let titles: Vec<String> = ws
        .feed("public/feed.xml")
        .entries
        .into_iter()
        .map(|e| e.title.unwrap().content)
        .collect();
    assert_eq!(titles, ["Fourth", "Third", "Second, corrected", "First"]);
}

#[tokio::test]
async fn a_failing_source_does_not_stop_the_others() {
    let server = FeedServer::start().await;
    server.serve(
        "/good.xml",
        rss(
            "Good",
            "https://good.example/",
            &[item("g1", "Good news", D1)],
        ),
    );
    server.respond(
        "/broken.xml",
        500,
        &[("Content-Type", "text/plain")],
        b"oops".to_vec(),
    );
    server.serve("/page.html", "<html><body>not a feed</body></html>".into());
    server.serve(
        "/cut.xml",
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Cut</title><item><title>x"
            .into(),
    );
    // A port nothing listens on, for as long as the test runs.
    let (_refusing, port) = refusing_port();
    let closed = format!("127.0.0.1:{port}");
    let mut config = config_with_sources(
        &server,
        &[
            ("Broken", "/broken.xml"),
            ("Page", "/page.html"),
            ("Cut", "/cut.xml"),
            ("Good", "/good.xml"),
        ],
    );
    config.push_str(&format!(
        "\n[[sources]]\nname = \"Closed\"\nurl = \"http://{closed}/feed.xml\"\n"
    ));
    let ws = Workspace::new(&config);

    let run = ws.tributary(&["once"]).await;
    assert!(run.status.success(), "failing sources are not a failed run");
    let out = stdout(&run);
    assert!(out.contains("Broken: failed: HTTP 500"), "{out}");
    assert!(out.contains("Page: failed: not a feed"), "{out}");
    assert!(out.contains("Cut: failed: unreadable feed"), "{out}");
    assert!(out.contains("Closed: failed: connection failed"), "{out}");
    assert!(out.contains("Good: 1 new"), "{out}");
    assert!(out.contains("5 sources, 1 ok, 4 failed,"), "{out}");
    assert_eq!(ws.feed("public/feed.xml").entries.len(), 1);
    assert!(stderr(&run).contains("Broken"), "the log names the source");

    let status = stdout(&ws.tributary(&["status"]).await);
    let line = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no status line for {name}:\n{status}"))
            .to_string()
    };
    assert!(
        line("Broken").contains("failing (1 in a row): HTTP 500"),
        "{status}"
    );
    assert!(line("Good").ends_with("ok"), "{status}");
    assert!(line("Good").contains("  1  "), "one item stored: {status}");
}

#[tokio::test]
async fn the_output_is_not_rewritten_when_nothing_changed() {
    let server = FeedServer::start().await;
    server.serve(
        "/feed.xml",
        rss("P", "https://p.example/", &[item("p1", "One", D1)]),
    );
    let ws = Workspace::new(&config_with_sources(&server, &[("P", "/feed.xml")]));
    assert!(ws.tributary(&["once"]).await.status.success());
    let path = ws.path("public/feed.xml");
    let before = std::fs::read(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);

    server.serve(
        "/feed.xml",
        rss(
            "P",
            "https://p.example/",
            &[item("p2", "Two", D2), item("p1", "One", D1)],
        ),
    );
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_ne!(std::fs::read(&path).unwrap(), before, "a change is written");
    let leftovers: Vec<_> = std::fs::read_dir(ws.path("public"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(leftovers, ["feed.xml"], "no temp files left behind");
}

#[tokio::test]
async fn the_daemon_picks_up_new_items_on_its_next_poll_and_stops_cleanly_on_sigterm() {
    let server = FeedServer::start().await;
    let site = "https://p.example/";
    server.serve("/feed.xml", rss("P", site, &[item("d1", "One", D1)]));
    let mut config = config_with_sources(&server, &[("Daemon source", "/feed.xml")]);
    config = config.replace(
        "[database]",
        "[poll]\ninterval = \"1s\"\ntimeout = \"5s\"\n\n[database]",
    );
    let ws = Workspace::new(&config);
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(ws.config())
        .arg("run")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let output = ws.path("public/feed.xml");
    let entries = || {
        std::fs::read(&output)
            .ok()
            .and_then(|b| feed_rs::parser::parse(b.as_slice()).ok())
            .map_or(0, |f| f.entries.len())
    };
    assert!(
        wait_for(Duration::from_secs(15), || entries() == 1).await,
        "first poll at start"
    );

    server.serve(
        "/feed.xml",
        rss(
            "P",
            site,
            &[item("d2", "Two", D2), item("d1", "One, edited", D1)],
        ),
    );
    assert!(
        wait_for(Duration::from_secs(15), || entries() == 2).await,
        "the new item arrives on a later poll"
    );
    let polls_so_far = server.requests("/feed.xml");
    assert!(
        wait_for(Duration::from_secs(10), || server.requests("/feed.xml")
            >= polls_so_far + 2)
        .await,
        "polled again every second"
    );

    let pid = rustix::process::Pid::from_raw(daemon.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(15), daemon.wait())
        .await
        .expect("the daemon stops within the deadline")
        .unwrap();
    assert!(status.success(), "exit 0 on SIGTERM, got {status}");

    let mut log = String::new();
    use tokio::io::AsyncReadExt;
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("Daemon source") && l.contains("polled") && l.contains("new=")),
        "one log line per poll naming the source:\n{log}"
    );

    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 2, "no duplicates");
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM items WHERE title = 'One, edited'"
        ),
        1
    );
    ws.assert_intact();
}

#[tokio::test]
async fn sources_in_sources_d_are_polled_beside_the_main_config() {
    let server = FeedServer::start().await;
    server.serve(
        "/main.xml",
        rss(
            "Main",
            "https://main.example/",
            &[item("m1", "Main item", D1)],
        ),
    );
    server.serve(
        "/dropped.xml",
        rss(
            "Dropped In",
            "https://drop.example/",
            &[item("x1", "Dropped item", D2)],
        ),
    );
    let ws = Workspace::new(&config_with_sources(&server, &[("Main", "/main.xml")]));
    // No name: the feed's own title names it.
    ws.write(
        "sources.d/extra.toml",
        &format!("[[sources]]\nurl = \"{}\"\n", server.url("/dropped.xml")),
    );

    let run = ws.tributary(&["once"]).await;
    assert!(
        stdout(&run).contains("Dropped In: 1 new"),
        "{}",
        stdout(&run)
    );
    assert_eq!(server.requests("/dropped.xml"), 1);
    let merged = entries_with_publishers(&ws.path("public/feed.xml"));
    assert!(merged.contains(&("Dropped item".to_string(), "Dropped In".to_string())));
}

#[tokio::test]
async fn a_removed_source_keeps_its_items_in_outputs_unless_configured_otherwise() {
    let server = FeedServer::start().await;
    server.serve(
        "/a.xml",
        rss("A", "https://a.example/", &[item("a1", "From A", D1)]),
    );
    server.serve(
        "/b.xml",
        rss("B", "https://b.example/", &[item("b1", "From B", D2)]),
    );
    let both = config_with_sources(&server, &[("A", "/a.xml"), ("B", "/b.xml")]);
    let ws = Workspace::new(&both);
    ws.tributary(&["once"]).await;
    let titles = |ws: &Workspace| -> Vec<String> {
        ws.feed("public/feed.xml")
            .entries
            .into_iter()
            .map(|e| e.title.unwrap().content)
            .collect()
    };
    assert_eq!(titles(&ws), ["From B", "From A"]);

    let only_a = config_with_sources(&server, &[("A", "/a.xml")]);
    std::fs::write(ws.config(), &only_a).unwrap();
    ws.tributary(&["once"]).await;
    assert_eq!(titles(&ws), ["From B", "From A"], "kept by default");

    let dropping = only_a.replace(
        "max_items = 100",
        "max_items = 100\nkeep_removed_sources = false",
    );
    std::fs::write(ws.config(), dropping).unwrap();
    ws.tributary(&["once"]).await;
    assert_eq!(titles(&ws), ["From A"]);
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 2, "still stored");
}

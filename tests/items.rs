//! Items you can trust, end to end: identity that survives real feeds (guid churn, missing and
//! duplicate guids, the same article via two sources), capped updates, retention, and content
//! that is safe in every reader. Asserts on the SQLite rows and the merged feed parsed back.

mod common;

use common::*;

const D1: &str = "Mon, 18 Aug 2025 10:00:00 GMT";
const D2: &str = "Tue, 19 Aug 2025 10:00:00 GMT";
const D3: &str = "Wed, 20 Aug 2025 10:00:00 GMT";

#[tokio::test]
async fn guid_churn_is_matched_by_link_and_never_reaches_readers() {
    let server = FeedServer::start().await;
    let feed = |round: u32, extra: bool| {
        let mut items = vec![];
        if extra {
            items.push(raw_item(
                Some(&format!("r{round}-new")),
                "Brand new",
                Some("https://churn.example/new"),
                "<p>new</p>",
                D3,
            ));
        }
        for (n, date) in [(2, D2), (1, D1)] {
            items.push(raw_item(
                Some(&format!("r{round}-{n}")),
                &format!("Story {n}"),
                Some(&format!("https://churn.example/story/{n}")),
                "<p>text</p>",
                date,
            ));
        }
        channel("Churn", &items)
    };
    server.serve("/churn.xml", feed(1, false));
    let ws = Workspace::new(&config_with_sources(&server, &[("Churn", "/churn.xml")]));
    ws.tributary(&["once"]).await;
    let ids_before: Vec<String> = ws
        .feed("public/feed.xml")
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();

    // Every guid changes on every fetch; the links stay. One item is really new.
    server.serve("/churn.xml", feed(2, true));
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(
        once_line(&out, "Churn").starts_with("Churn: 1 new, 0 updated, 2 unchanged"),
        "{out}"
    );
    server.serve("/churn.xml", feed(3, true));
    ws.tributary(&["once"]).await;

    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 3);
    assert_eq!(titles(&ws), ["Brand new", "Story 2", "Story 1"]);
    let ids_after: Vec<String> = ws
        .feed("public/feed.xml")
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids_after[1..],
        ids_before[..],
        "the readers' ids never change"
    );
}

#[tokio::test]
async fn items_without_guids_or_with_duplicate_guids_are_stored_once() {
    let server = FeedServer::start().await;
    let items = vec![
        raw_item(None, "Linked only", Some("https://nog.example/a"), "a", D3),
        raw_item(None, "Neither guid nor link", None, "b", D2),
        raw_item(
            Some("dup"),
            "First of a pair",
            Some("https://nog.example/c"),
            "c",
            D1,
        ),
        raw_item(
            Some("dup"),
            "Second of a pair",
            Some("https://nog.example/d"),
            "d",
            D1,
        ),
    ];
    server.serve("/nog.xml", channel("No Guids", &items));
    let ws = Workspace::new(&config_with_sources(&server, &[("NoGuids", "/nog.xml")]));
    let first = stdout(&ws.tributary(&["once"]).await);
    assert!(once_line(&first, "NoGuids").contains("3 new"), "{first}");
    let again = stdout(&ws.tributary(&["once"]).await);
    assert!(
        once_line(&again, "NoGuids").contains("0 new, 0 updated, 3 unchanged"),
        "{again}"
    );
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 3);
    assert_eq!(
        titles(&ws),
        ["Linked only", "Neither guid nor link", "First of a pair"]
    );
}

#[tokio::test]
async fn the_same_article_via_two_sources_appears_once_under_the_publisher_that_stored_it_first() {
    let server = FeedServer::start().await;
    let article = "https://www.publisher.example/research/guarantees";
    // The publisher's own feed, and an aggregator that republishes it a day later with
    // tracking parameters, an upper-case host, a trailing slash and a fragment.
    server.serve(
        "/publisher.xml",
        channel(
            "Publisher",
            &[raw_item(
                Some("p-1"),
                "Guarantees",
                Some(article),
                "<p>Original</p>",
                D1,
            )],
        ),
    );
    let republished =
        "https://WWW.Publisher.example/research/guarantees/?utm_source=wire&amp;fbclid=x#top";
    server.serve(
        "/wire.xml",
        channel(
            "Wire",
            &[
                raw_item(
                    Some("w-9"),
                    "Guarantees (via Wire)",
                    Some(republished),
                    "<p>Copy</p>",
                    D2,
                ),
                raw_item(
                    Some("w-10"),
                    "Wire exclusive",
                    Some("https://wire.example/x"),
                    "x",
                    D2,
                ),
            ],
        ),
    );
    let ws = Workspace::new(&config_with_sources(
        &server,
        &[("Wire", "/wire.xml"), ("Publisher", "/publisher.xml")],
    ));
    // The publisher is polled first; the wire's copy, found after, only adds "also via" (an
    // earlier date claimed by a later source moves nothing: tests/open_internet.rs).
    let first = ws.tributary(&["poll", "Publisher"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&ws.tributary(&["once"]).await);
    let out2 = stdout(&ws.tributary(&["once"]).await);
    let merged = entries_with_publishers(&ws.path("public/feed.xml"));
    assert_eq!(
        merged,
        [
            ("Wire exclusive".to_string(), "Wire".to_string()),
            ("Guarantees".to_string(), "Publisher".to_string()),
        ],
        "once, named for the publisher who stored it first\n{out}\n{out2}"
    );
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 2);
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM item_sources s JOIN sources src ON src.id = s.source_id
             WHERE src.name = 'Wire'"
        ),
        1,
        "the other source is recorded"
    );
    assert!(
        once_line(&out2, "Wire").contains("0 new")
            && once_line(&out2, "Publisher").contains("0 new"),
        "{out2}"
    );
}

#[tokio::test]
async fn dedup_across_sources_can_be_turned_off() {
    let server = FeedServer::start().await;
    let link = "https://p.example/story";
    server.serve(
        "/a.xml",
        channel("A", &[raw_item(Some("a1"), "Story", Some(link), "a", D1)]),
    );
    server.serve(
        "/b.xml",
        channel("B", &[raw_item(Some("b1"), "Story", Some(link), "b", D1)]),
    );
    let on = Workspace::new(&config_with_sources(
        &server,
        &[("A", "/a.xml"), ("B", "/b.xml")],
    ));
    on.tributary(&["once"]).await;
    assert_eq!(
        titles(&on),
        ["Story"],
        "the same link, no tracking: once by default"
    );

    let mut text = config_with_sources(&server, &[("A", "/a.xml"), ("B", "/b.xml")]);
    text.push_str("\n[dedup]\nacross_sources = false\n");
    let off = Workspace::new(&text);
    off.tributary(&["once"]).await;
    assert_eq!(titles(&off), ["Story", "Story"]);
}

#[tokio::test]
async fn title_changes_update_in_place_and_content_only_churn_is_capped() {
    let server = FeedServer::start().await;
    let feed = |title: &str, body: &str| {
        channel(
            "Stamp",
            &[raw_item(
                Some("s1"),
                title,
                Some("https://stamp.example/1"),
                body,
                D1,
            )],
        )
    };
    server.serve("/stamp.xml", feed("Title", "<p>built at 0</p>"));
    let ws = Workspace::new(&config_with_sources(&server, &[("Stamp", "/stamp.xml")]));
    ws.tributary(&["once"]).await;
    let mut updated = 0;
    for build in 1..=6 {
        server.serve(
            "/stamp.xml",
            feed("Title", &format!("<p>built at {build}</p>")),
        );
        let out = stdout(&ws.tributary(&["once"]).await);
        if once_line(&out, "Stamp").contains("1 updated") {
            updated += 1;
        }
    }
    assert_eq!(
        updated,
        tributary::identity::MAX_CONTENT_UPDATES,
        "content-only changes stop counting after the cap"
    );
    let summary: String = ws
        .db()
        .query_row("SELECT summary FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(summary, "<p>built at 3</p>");

    // A new title is always news, and the item is updated in place.
    server.serve("/stamp.xml", feed("Title, corrected", "<p>built at 7</p>"));
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(
        once_line(&out, "Stamp").contains("0 new, 1 updated"),
        "{out}"
    );
    assert_eq!(titles(&ws), ["Title, corrected"]);
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 1);
}

#[tokio::test]
async fn retention_prunes_old_items_and_they_never_come_back() {
    let server = FeedServer::start().await;
    let now = chrono::Utc::now();
    let date = |days: i64| (now - chrono::Duration::days(days)).to_rfc2822();
    let items = vec![
        raw_item(
            Some("fresh"),
            "Fresh",
            Some("https://r.example/fresh"),
            "f",
            &date(1),
        ),
        raw_item(
            Some("aging"),
            "Aging",
            Some("https://r.example/aging"),
            "a",
            &date(20),
        ),
        raw_item(
            Some("ancient"),
            "Ancient",
            Some("https://r.example/ancient"),
            "x",
            &date(400),
        ),
    ];
    server.serve("/r.xml", channel("R", &items));
    let state =
        "[database]\npath = \"state/tributary.db\"\n[[outputs]]\npath = \"public/feed.xml\"\n";
    let source = format!(
        "[[sources]]\nname = \"R\"\nurl = \"{}\"\n",
        server.url("/r.xml")
    );
    let ws = Workspace::new(&format!("{state}[retention]\nmax_age = \"30d\"\n{source}"));
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(
        once_line(&out, "R").contains("2 new") && once_line(&out, "R").contains("1 left out"),
        "the 400-day-old item is never ingested: {out}"
    );

    // The retention shrinks: "Aging" is pruned, and stays pruned though the feed still has it.
    std::fs::write(
        ws.config(),
        format!("{state}[retention]\nmax_age = \"10d\"\n{source}"),
    )
    .unwrap();
    ws.tributary(&["once"]).await;
    assert_eq!(titles(&ws), ["Fresh"]);
    std::fs::write(
        ws.config(),
        format!("{state}[retention]\nmax_age = \"30d\"\n{source}"),
    )
    .unwrap();
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(once_line(&out, "R").contains("0 new"), "{out}");
    assert_eq!(
        titles(&ws),
        ["Fresh"],
        "a pruned item is not ingested again"
    );
}

#[tokio::test]
async fn a_new_source_contributes_only_its_newest_items() {
    let server = FeedServer::start().await;
    let items: Vec<String> = (0..30)
        .map(|n| {
            let date = format!("2025-08-{:02}T10:00:00Z", 30 - n);
            raw_item(
                Some(&format!("a{n}")),
                &format!("Archive {n}"),
                Some(&format!("https://arch.example/{n}")),
                "x",
                &date,
            )
        })
        .collect();
    server.serve("/archive.xml", channel("Archive", &items));
    let text = config_with_sources(&server, &[("Archive", "/archive.xml")])
        .replace("initial_items = 0", "initial_items = 5");
    let ws = Workspace::new(&text);
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(
        once_line(&out, "Archive").contains("5 new")
            && once_line(&out, "Archive").contains("25 left out"),
        "{out}"
    );
    assert_eq!(
        titles(&ws),
        [
            "Archive 0",
            "Archive 1",
            "Archive 2",
            "Archive 3",
            "Archive 4"
        ]
    );
    // The rest do not trickle in on later polls.
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(once_line(&out, "Archive").contains("0 new"), "{out}");
    assert_eq!(count(&ws, "SELECT count(*) FROM items"), 5);
}

#[tokio::test]
async fn bogus_dates_cannot_pin_items_to_the_top() {
    let server = FeedServer::start().await;
    let items = vec![
        raw_item(
            Some("future"),
            "From the future",
            Some("https://d.example/f"),
            "f",
            "Fri, 01 Jan 2100 00:00:00 GMT",
        ),
        raw_item(
            Some("ancient"),
            "From 1970",
            Some("https://d.example/a"),
            "a",
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ),
        raw_item(
            Some("real"),
            "Real date",
            Some("https://d.example/r"),
            "r",
            D1,
        ),
    ];
    server.serve("/d.xml", channel("D", &items));
    let ws = Workspace::new(&config_with_sources(&server, &[("D", "/d.xml")]));
    ws.tributary(&["once"]).await;
    let feed = ws.feed("public/feed.xml");
    let now = chrono::Utc::now();
    for entry in &feed.entries {
        let published = entry.published.unwrap();
        assert!(published <= now, "{:?}: {published}", entry.title);
        assert!(
            published.timestamp() > 788_918_400,
            "not before 1995: {published}"
        );
    }
    let real = feed
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == "Real date")
        .unwrap();
    assert_eq!(
        real.published.unwrap().to_rfc2822(),
        "Mon, 18 Aug 2025 10:00:00 +0000"
    );
}

#[tokio::test]
async fn classic_attacks_are_stripped_and_harmless_markup_kept_in_the_merged_feed() {
    let server = FeedServer::start().await;
    let attacks = [
        r#"<p>Para <script>alert(1)</script><b>bold</b></p>"#,
        r#"<SCRIPT SRC=//evil.example/x.js></SCRIPT><ul><li>one</li></ul>"#,
        r#"<img src="https://ok.example/a.png" onerror="alert(2)" alt="pic">"#,
        r#"<a href="javascript:alert(3)">js link</a> <a href="https://ok.example/">fine link</a>"#,
        r#"<a href="jav&#x09;ascript:alert(4)">tab</a><a href="&#106;avascript:alert(5)">entity</a>"#,
        r#"<a href="vbscript:msgbox(6)">vb</a><img src="data:image/svg+xml;base64,PHN2Zy8+">"#,
        r#"<iframe src="https://evil.example/"></iframe><form action="/x"><input name=q></form>"#,
        r#"<div style="background:url(javascript:alert(7));width:expression(alert(8))">styled</div>"#,
        r#"<svg><script>alert(9)</script><a xlink:href="javascript:alert(10)">s</a></svg>"#,
        r#"<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=https://evil.example/">"#,
        r#"<p><em>em</em> <strong>strong</strong><<script>alert(11)//<</script></p><object data="x.swf"></object>"#,
        r#"<math><mtext><table><mglyph><style><img src=x onerror=alert(12)></style></mglyph></table></mtext></math>"#,
    ];
    let items: Vec<String> = attacks
        .iter()
        .enumerate()
        .map(|(n, body)| {
            raw_item(
                Some(&format!("x{n}")),
                &format!("Attack {n}"),
                Some(&format!("https://x.example/{n}")),
                body,
                D1,
            )
        })
        .collect();
    // Publisher-controlled text fields: the feed's title and an item's title and author.
    let hostile_title = "Evil &lt;script&gt;alert('feed')&lt;/script&gt; News";
    let mut xml = channel("Hostile", &items).replace(
        "<title>Hostile</title>",
        &format!("<title>{hostile_title}</title>"),
    );
    xml = xml.replace(
        "<title>Attack 0</title>",
        "<title>&lt;img src=x onerror=alert('title')&gt;Title</title><author>&lt;script&gt;alert('author')&lt;/script&gt; Ann</author>",
    );
    server.serve("/hostile.xml", xml);
    // No name in the config: the feed's own (hostile) title names the publisher.
    let text = format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nurl = \"{}\"\n",
        server.url("/hostile.xml")
    );
    let ws = Workspace::new(&text);
    ws.tributary(&["once"]).await;

    let raw = std::fs::read_to_string(ws.path("public/feed.xml")).unwrap();
    let feed = ws.feed("public/feed.xml");
    assert_eq!(feed.entries.len(), attacks.len());
    let mut html = String::new();
    for entry in &feed.entries {
        if let Some(summary) = &entry.summary {
            html.push_str(&summary.content.to_lowercase());
        }
    }
    for forbidden in [
        "<script",
        "onerror",
        "javascript:",
        "vbscript:",
        "data:",
        "<iframe",
        "<form",
        "<input",
        "style=",
        "expression(",
        "<svg",
        "<base",
        "<meta",
        "<object",
        "<style",
        "xlink",
    ] {
        assert!(!html.contains(forbidden), "{forbidden} survived:\n{html}");
    }
    for kept in [
        "<p>para",
        "<b>bold</b>",
        "<ul><li>one</li></ul>",
        r#"src="https://ok.example/a.png""#,
        r#"href="https://ok.example/""#,
        "<em>em</em>",
        "<strong>strong</strong>",
        "styled",
    ] {
        assert!(html.contains(kept), "{kept} was lost:\n{html}");
    }
    // Titles and names are text: whatever markup they hold is shown, never run.
    let first = feed
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content.ends_with("Title"))
        .unwrap();
    assert_eq!(
        first.title.as_ref().unwrap().content_type.to_string(),
        "text/plain"
    );
    assert!(
        !raw.contains("<img src=x"),
        "a title's markup reached the XML as markup"
    );
    assert!(
        !raw.contains("<script>"),
        "markup reached the XML unescaped"
    );
    let merged = entries_with_publishers(&ws.path("public/feed.xml"));
    assert!(
        merged
            .iter()
            .all(|(_, publisher)| publisher == "Evil <script>alert('feed')</script> News"),
        "the publisher's name is carried as text: {merged:?}"
    );
}

#[tokio::test]
async fn explain_tells_what_a_poll_would_do_and_stores_nothing() {
    let server = FeedServer::start().await;
    let items = vec![
        raw_item(
            Some("e1"),
            "Kept",
            Some("https://e.example/kept/?utm_medium=rss#top"),
            r#"<p onclick="steal()">Hello<script>bad()</script></p>"#,
            D2,
        ),
        raw_item(
            None,
            "Later",
            Some("https://e.example/later"),
            "<p>ok</p>",
            D1,
        ),
    ];
    server.serve("/e.xml", channel("Explained", &items[1..]));
    let ws = Workspace::new(&config_with_sources(&server, &[("Explained", "/e.xml")]));
    ws.tributary(&["once"]).await;
    server.serve("/e.xml", channel("Explained", &items));

    let run = ws.tributary(&["explain", "Explained"]).await;
    assert!(run.status.success(), "{}", stderr(&run));
    let out = stdout(&run);
    for expected in [
        "Format: RSS 2.0; encoding: UTF-8",
        "2 items:",
        "key:        guid:e1",
        "canonical:  https://e.example/kept",
        "published:  2025-08-19 10:00:00Z -> 2025-08-19 10:00:00Z",
        "sanitizer removed: <script> ×1, onclick= ×1",
        "a poll would store it as: new",
        "key:        link:https://e.example/later",
        "a poll would store it as: unchanged (already stored)",
        "Next poll: ",
    ] {
        assert!(out.contains(expected), "{expected}\n{out}");
    }
    assert_eq!(
        count(&ws, "SELECT count(*) FROM items"),
        1,
        "explain stores nothing"
    );

    // Any URL works too, configured or not.
    let run = ws.tributary(&["explain", &server.url("/e.xml")]).await;
    assert!(stdout(&run).contains("2 items:"), "{}", stdout(&run));
    let run = ws
        .tributary(&["explain", &server.url("/missing.xml")])
        .await;
    assert!(!run.status.success());
    assert!(
        stdout(&run).contains("Failed: HTTP 404"),
        "{}",
        stdout(&run)
    );
}

//! Provenance every reader shows: who published an item, at the end of its content, in every
//! format, built at render time.

mod common;

use common::*;

fn config(server: &FeedServer, provenance: bool) -> String {
    format!(
        r#"{STATE_AND_OUTPUT}
provenance = {provenance}

[[outputs]]
path = "public/feed.rss"
title = "RSS"
provenance = {provenance}

[[outputs]]
path = "public/feed.json"
title = "JSON"
provenance = {provenance}

[[outputs]]
path = "public/plain.xml"
title = "Plain"

[[sources]]
name = "Harbour Institute"
url = "{}"

[[sources]]
name = "Wire"
url = "{}"
"#,
        server.url("/h.xml"),
        server.url("/w.xml")
    )
}

#[tokio::test]
async fn every_format_ends_each_item_with_its_provenance_and_turning_it_off_restores_the_content() {
    let server = FeedServer::start().await;
    let story = |guid: &str, date: &str| {
        raw_item(
            Some(guid),
            "Harbour reopens",
            Some("https://harbour.example/news/reopens"),
            "<p>The harbour reopens.</p>",
            date,
        )
    };
    server.serve(
        "/h.xml",
        channel(
            "Harbour Institute",
            &[story("h1", "Mon, 18 Aug 2025 10:00:00 GMT")],
        ),
    );
    // The same article, carried a day later by a wire.
    server.serve(
        "/w.xml",
        channel("Wire", &[story("w1", "Tue, 19 Aug 2025 10:00:00 GMT")]),
    );
    let ws = Workspace::new(&config(&server, true));
    // The institute stores it first: the item is its own, the wire an "also via".
    let first = ws.tributary(&["poll", "Harbour Institute"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["public/feed.xml", "public/feed.rss", "public/feed.json"] {
        let feed = ws.feed(file);
        assert_eq!(feed.entries.len(), 1, "{file}");
        let text = text_of(&feed.entries[0]);
        assert!(
            text.starts_with("<p>The harbour reopens.</p>"),
            "{file}: {text}"
        );
        for part in [
            "Channel website: <a href=\"https://harbour-institute.example/\"",
            ">Harbour Institute</a>",
            "Original article link: <a href=\"https://harbour.example/news/reopens\"",
            "Also via Wire",
        ] {
            assert!(text.contains(part), "{file} lacks {part}: {text}");
        }
    }
    assert!(!text_of(&ws.feed("public/plain.xml").entries[0]).contains("Channel website"));
    // Off: the plain content again, from the same stored item.
    ws.write("tributary.toml", &config(&server, false));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["public/feed.xml", "public/feed.rss", "public/feed.json"] {
        let text = text_of(&ws.feed(file).entries[0]);
        assert_eq!(text, "<p>The harbour reopens.</p>", "{file}");
    }
}

//! Arbitrary bytes through parse → normalize → sanitize → render: no panic, and whatever is
//! read renders to feeds that parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::model::{Publisher, StoredItem};
use tributary::parse::{ParseOptions, parse_feed};
use tributary::render::{FeedInfo, atom, json, rss};

fuzz_target!(|data: &[u8]| {
    let base = url::Url::parse("https://publisher.example/feed.xml").ok();
    let options = ParseOptions {
        base: base.as_ref(),
        max_content: 64 * 1024,
        ..ParseOptions::default()
    };
    let Ok(feed) = parse_feed(data, options) else {
        return;
    };
    let items: Vec<StoredItem> = feed
        .items
        .into_iter()
        .enumerate()
        .map(|(n, item)| StoredItem {
            id: format!("urn:uuid:00000000-0000-0000-0000-{n:012}"),
            item,
            first_seen: chrono::DateTime::UNIX_EPOCH,
            publisher: Publisher {
                name: feed.meta.title.clone().unwrap_or_default(),
                feed_url: "https://publisher.example/feed.xml".into(),
                site: feed.meta.link.clone(),
                id: feed.meta.id.clone(),
            },
        })
        .collect();
    let info = FeedInfo {
        id: "urn:uuid:00000000-0000-0000-0000-000000000000".into(),
        title: "Fuzz",
        self_url: None,
        self_href: "feed.xml".into(),
        hub: None,
        home: None,
        updated: chrono::DateTime::UNIX_EPOCH,
    };
    for bytes in [
        atom::render(&info, &items).expect("renders"),
        rss::render(&info, &items).expect("renders"),
        json::render(&info, &items).expect("renders"),
    ] {
        let back = tributary::parse::parse_feed(&bytes, ParseOptions::default())
            .expect("an output parses back");
        assert_eq!(back.items.len(), items.len(), "every item comes back");
    }
});

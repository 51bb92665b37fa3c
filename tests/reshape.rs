//! A re-shape of every stored item after the rules change runs in batches, each a turn of the
//! store of its own, so that polls are written between them, whatever the archive's size.

use std::sync::Arc;

use chrono::Utc;
use tributary::config::{self, ItemRules};
use tributary::model::{FeedMeta, FetchState};
use tributary::parse::{ParseOptions, parse_feed};
use tributary::refresh::Pipeline;
use tributary::store::Poll;

const SOURCES: usize = 20;
const PER_SOURCE: usize = 500;

fn feed(source: usize, items: std::ops::Range<usize>) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>\
         <link>https://r.example/</link><description>d</description>",
    );
    for n in items {
        xml.push_str(&format!(
            "<item><guid>{source}-{n}</guid><title>Item {n} about the harbour</title>\
             <link>https://r.example/{source}/{n}</link>\
             <pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate>\
             <description>Text of item {n}.</description></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

fn config_text(tag: &str) -> String {
    let mut text = format!(
        "[database]\npath = \"state/tributary.db\"\n[retention]\nmax_age = \"0\"\n\
         [[rules]]\nwhen = {{ title = \"harbour\" }}\naction = \"tag\"\ntag = \"{tag}\"\n"
    );
    for n in 0..SOURCES {
        text.push_str(&format!(
            "[[sources]]\nname = \"S{n}\"\nurl = \"https://r.example/{n}.xml\"\n"
        ));
    }
    text
}

/// Stores the items `items` of the first `sources` sources, a poll each.
async fn store_polls(
    ctx: &Pipeline,
    config: &config::Config,
    sources: usize,
    items: std::ops::Range<usize>,
) {
    for (n, source) in config.sources.iter().take(sources).enumerate() {
        let parsed = parse_feed(&feed(n, items.clone()), ParseOptions::default())
            .unwrap()
            .items;
        let (source, shaping) = (Arc::clone(source), ctx.shaping.get());
        ctx.store
            .record(move |store| {
                let rules = ItemRules {
                    max_age: None,
                    initial_items: None,
                    ..ItemRules::default()
                };
                let poll = Poll {
                    at: Utc::now(),
                    state: Some(&FetchState::default()),
                    webhooks: &[],
                    feed: Some((&FeedMeta::default(), &parsed)),
                    event: None,
                    rules: &rules,
                    shaping: &shaping,
                };
                store.record_poll(&*source, &poll).unwrap();
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn polls_are_written_between_the_batches_of_a_reshape() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tributary.toml");
    std::fs::write(&file, config_text("old")).unwrap();
    let config = config::load(&file).unwrap();
    let ctx = Pipeline::open(&config).unwrap();
    ctx.apply_rules().await;
    store_polls(&ctx, &config, SOURCES, 0..PER_SOURCE).await;
    ctx.store.with(|_| ()).await.unwrap(); // committed
    let db = rusqlite::Connection::open(dir.path().join("state/tributary.db")).unwrap();
    let tagged = |tag: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM items WHERE tags LIKE ?1",
            [format!("%\"{tag}\"%")],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(tagged("old"), (SOURCES * PER_SOURCE) as i64);

    // The rule changes: all 10,000 items are shaped again, 1,000 a batch.
    std::fs::write(&file, config_text("new")).unwrap();
    let config = config::load(&file).unwrap();
    ctx.shaping.set(config.shaping());
    let reshaping = tokio::spawn({
        let ctx = ctx.clone();
        async move { ctx.apply_rules().await }
    });
    // Once the first batch is committed…
    while tagged("new") == 0 && !reshaping.is_finished() {
        tokio::task::yield_now().await;
    }
    // …a poll is written before the re-shape ends: it waited for one batch, not all ten.
    store_polls(&ctx, &config, 1, PER_SOURCE..PER_SOURCE + 1).await;
    let during = tagged("new");
    assert!(
        !reshaping.is_finished() && during < (SOURCES * PER_SOURCE) as i64,
        "the poll waited for the whole re-shape ({during} items shaped again before it)"
    );
    assert!(reshaping.await.unwrap(), "items changed");
    ctx.store.with(|_| ()).await.unwrap();
    // Every item, the new ones too, shaped by the new rule, once.
    assert_eq!(tagged("old"), 0);
    assert_eq!(tagged("new"), (SOURCES * PER_SOURCE + 1) as i64);
}

//! Micro-benchmarks of the hot stages: parse + normalize + sanitize per MB of feed, store per
//! 1,000 items, render of 1,000 merged items in each format. `cargo bench --bench stages`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tributary::config::{ItemRules, SourceConfig, SourceLocation};
use tributary::model::{FeedMeta, FetchState, Item};
use tributary::parse::{ParseOptions, parse_feed};
use tributary::render::{FeedInfo, atom, json, rss};
use tributary::rules::Shaping;
use tributary::store::{ItemFilter, Poll, Store};

/// An RSS feed of `items` items with a few paragraphs of HTML each.
fn feed(items: usize, salt: &str) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Bench</title><link>https://b.example/</link><description>d</description>",
    );
    for n in 0..items {
        xml.push_str(&format!(
            "<item><guid>{salt}-{n}</guid><title>Item {n} about rivers &amp; harbours</title>\
             <link>https://b.example/{salt}/{n}?utm_source=rss</link>\
             <pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate><description><![CDATA[{}]]></description></item>",
            "<p>Some <b>text</b> with a <a href=\"/rel\">link</a> and <script>x()</script>.</p>".repeat(12)
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

fn items(count: usize, salt: &str) -> Vec<Item> {
    let body = feed(count, salt);
    parse_feed(&body, ParseOptions::default()).unwrap().items
}

static NO_SHAPING: std::sync::LazyLock<Shaping> = std::sync::LazyLock::new(Shaping::default);

fn source(n: usize) -> SourceConfig {
    SourceConfig {
        name: Some(format!("Source {n}")),
        url: format!("https://b.example/{n}.xml"),
        location: SourceLocation::File(PathBuf::from("x")),
        interval: Duration::from_secs(60),
        tags: vec![],
        declared_in: PathBuf::from("tributary.toml"),
        declared_line: None,
        fetch: Default::default(),
        kind: Default::default(),
        rules: Vec::new(),
        rewrites: Default::default(),
        full_text: None,
        hub: None,
    }
}

/// A successful fetch of `batch`, to record.
fn fetched<'a>(
    state: &'a FetchState,
    meta: &'a FeedMeta,
    batch: &'a [Item],
    rules: &'a ItemRules,
) -> Poll<'a> {
    Poll {
        at: Utc::now(),
        state: Some(state),
        feed: Some((meta, batch)),
        event: None,
        rules,
        shaping: &NO_SHAPING,
        webhooks: &[],
    }
}

fn stages(c: &mut Criterion) {
    let body = feed(100, "p");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse+normalize+sanitize", |b| {
        b.iter(|| parse_feed(black_box(&body), ParseOptions::default()).unwrap())
    });
    group.finish();

    let rules = ItemRules {
        max_age: None,
        initial_items: None,
        ..ItemRules::default()
    };
    let batch = items(1000, "s");
    let (state, meta) = (FetchState::default(), FeedMeta::default());
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    group.bench_function("1000 new items", |b| {
        b.iter_with_setup(
            || Store::open_in_memory().unwrap(),
            |mut store| {
                let poll = fetched(&state, &meta, &batch, &rules);
                store.record_poll(&source(0), &poll).unwrap()
            },
        )
    });
    let mut warm = Store::open_in_memory().unwrap();
    let poll = fetched(&state, &meta, &batch, &rules);
    warm.record_poll(&source(0), &poll).unwrap();
    group.bench_function("1000 unchanged items", |b| {
        b.iter(|| warm.record_poll(&source(0), &poll).unwrap())
    });
    group.finish();

    let mut store = Store::open_in_memory().unwrap();
    for n in 0..10 {
        let batch = items(100, &format!("r{n}"));
        let poll = fetched(&state, &meta, &batch, &rules);
        store.record_poll(&source(n), &poll).unwrap();
    }
    let merged = store
        .items(&ItemFilter {
            limit: 1000,
            ..ItemFilter::default()
        })
        .unwrap();
    let info = FeedInfo {
        id: "urn:uuid:00000000-0000-0000-0000-000000000000".into(),
        title: "Bench",
        self_url: None,
        self_href: "feed.xml".into(),
        hub: None,
        home: None,
        updated: Utc::now(),
    };
    let mut group = c.benchmark_group("render 1000 items");
    group.bench_function("read from the store", |b| {
        b.iter(|| {
            store
                .items(&ItemFilter {
                    limit: 1000,
                    ..ItemFilter::default()
                })
                .unwrap()
        })
    });
    group.bench_function("atom", |b| {
        b.iter(|| atom::render(&info, black_box(&merged)).unwrap())
    });
    group.bench_function("rss", |b| {
        b.iter(|| rss::render(&info, black_box(&merged)).unwrap())
    });
    group.bench_function("json", |b| {
        b.iter(|| json::render(&info, black_box(&merged)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);

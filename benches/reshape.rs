//! Shaping every stored item again after a rule change: 100,000 items of 100 sources, 20 rules
//! (half of them reading HTML as text). `cargo bench --bench reshape`; `RESHAPE_ITEMS` sets
//! the count. Prints the median of 3 re-evaluations, each after a change of the rules.

use std::time::Instant;

use chrono::Utc;
use tributary::config::{self, ItemRules};
use tributary::model::{FeedMeta, FetchState};
use tributary::parse::{ParseOptions, parse_feed};
use tributary::rules::Shaping;
use tributary::store::{Poll, Store};

const SOURCES: usize = 100;

/// An RSS feed of `items` items with a few paragraphs of HTML each.
fn feed(items: usize, salt: &str) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Bench</title>\
         <link>https://b.example/</link><description>d</description>",
    );
    for n in 0..items {
        xml.push_str(&format!(
            "<item><guid>{salt}-{n}</guid><title>Item {n} about rivers &amp; harbours</title>\
             <link>https://b.example/{salt}/{n}?utm_source=rss</link><author>desk@b.example (Desk)</author>\
             <category>News</category><pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate>\
             <description><![CDATA[{}]]></description></item>",
            "<p>Some <b>text</b> about the council's budget and a <a href=\"/rel\">link</a>.</p>"
                .repeat(12)
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

/// A config of `SOURCES` sources and twenty rules, the last one's pattern given.
fn config_text(last: &str) -> String {
    let mut text = String::from(
        "[database]\npath = \"state/tributary.db\"\n[retention]\nmax_age = \"0\"\n\
         [dedup]\nstrip_query = [\"utm_*\", \"fbclid\"]\n",
    );
    for word in [
        "ukrain", "budget", "harbour", "council", "election", "climate", "energy",
    ] {
        text.push_str(&format!(
            "[[rules]]\nwhen = {{ any = \"(?i)\\\\b{word}\" }}\naction = \"tag\"\ntag = \"{word}\"\n"
        ));
    }
    for word in ["sponsored", "advertorial", "job ad", "webinar", "promo"] {
        text.push_str(&format!(
            "[[rules]]\nwhen = {{ title = \"(?i){word}\" }}\naction = \"drop\"\n"
        ));
    }
    text.push_str(
        "[[rules]]\nwhen = { author = \"^Press Office$\" }\naction = \"drop\"\n\
         [[rules]]\nwhen = { category = \"(?i)^ads$\" }\naction = \"drop\"\n\
         [[rules]]\nwhen = { link = \"/sponsored/\" }\naction = \"drop\"\n\
         [[rules]]\nwhen = { summary = \"(?i)partner content\" }\naction = \"drop\"\n\
         [[rules]]\nwhen = { content = \"(?i)this post is sponsored\" }\naction = \"drop\"\n\
         [[rules]]\nwhen = { title = \"(?i)digest\", older_than = \"3650d\" }\naction = \"drop\"\n\
         [[rules]]\ntags = [\"none\"]\nwhen = { title = \"x\" }\naction = \"keep\"\n",
    );
    text.push_str(&format!(
        "[[rules]]\nwhen = {{ title = \"{last}\" }}\naction = \"tag\"\ntag = \"last\"\n"
    ));
    for n in 0..SOURCES {
        text.push_str(&format!(
            "[[sources]]\nname = \"Source {n}\"\nurl = \"https://b.example/{n}.xml\"\n"
        ));
    }
    text
}

fn main() {
    let total: usize = std::env::var("RESHAPE_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("tributary.toml");
    std::fs::write(&file, config_text("Item 1 ")).expect("writing the config");
    let config = config::load(&file).expect("a valid config");
    let mut store = Store::open(&config.database).expect("the database");
    store.sync_sources(&config.sources).expect("sources");
    let rules = ItemRules {
        max_age: None,
        initial_items: None,
        ..ItemRules::default()
    };
    let none = Shaping::default();
    let per_source = total / SOURCES;
    let started = Instant::now();
    for (n, source) in config.sources.iter().enumerate() {
        let items = parse_feed(&feed(per_source, &n.to_string()), ParseOptions::default())
            .expect("the bench feed")
            .items;
        let poll = Poll {
            at: Utc::now(),
            state: Some(&FetchState::default()),
            webhooks: &[],
            feed: Some((&FeedMeta::default(), &items)),
            event: None,
            rules: &rules,
            shaping: &none,
        };
        store.record_poll(source, &poll).expect("storing");
    }
    println!(
        "stored {} items in {:.1} s",
        per_source * SOURCES,
        started.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    for round in 0..3 {
        // Each round changes one rule, so that every item is shaped again.
        std::fs::write(&file, config_text(&format!("Item {round} "))).expect("writing");
        let config = config::load(&file).expect("a valid config");
        let shaping = config.shaping();
        let started = Instant::now();
        let changed = store
            .reshape_if_changed(&shaping, Utc::now())
            .expect("shaping")
            .expect("the rules changed");
        let took = started.elapsed().as_secs_f64();
        println!("round {round}: {changed} items changed in {took:.2} s");
        times.push(took);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "re-evaluating {} stored items with 20 rules: median {:.2} s",
        per_source * SOURCES,
        times[1]
    );
}

//! Writing the site: 10,000 stored items of 100 sources (`SITE_ITEMS` sets the count), rendered
//! from the store as the daemon does (read, render, write only what changed, delete what is
//! gone). `cargo bench --bench site`. Prints the medians of 3 runs of: the whole site written
//! into an empty folder, the same again with nothing changed, and the update after 10 new
//! items.

use std::time::Instant;

use chrono::Utc;
use tributary::config::{self, Config, ItemRules};
use tributary::model::{FeedMeta, FetchState};
use tributary::parse::{ParseOptions, parse_feed};
use tributary::render::{self, RenderContext};
use tributary::rules::Shaping;
use tributary::store::{Poll, Store};

const SOURCES: usize = 100;

/// An RSS feed of items `from..to`, each with a few paragraphs of HTML.
fn feed(source: usize, from: usize, to: usize) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Bench</title>\
         <link>https://b.example/</link><description>A publisher of the bench.</description>",
    );
    for n in from..to {
        // One item an hour, going back; spread over the sources.
        let hours = (to - n) * SOURCES + source;
        let date = (Utc::now() - chrono::Duration::hours(hours as i64)).to_rfc2822();
        xml.push_str(&format!(
            "<item><guid>{source}-{n}</guid><title>Item {n} of source {source}</title>\
             <link>https://b.example/{source}/{n}</link><author>desk@b.example (Desk)</author>\
             <pubDate>{date}</pubDate><description><![CDATA[{}]]></description></item>",
            "<p>Some <b>text</b> about the council's budget and a <a href=\"/rel\">link</a>.</p>"
                .repeat(12)
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

fn store_items(store: &mut Store, config: &Config, from: usize, to: usize, sources: usize) {
    let rules = ItemRules {
        max_age: None,
        initial_items: None,
        ..ItemRules::default()
    };
    let none = Shaping::default();
    for (n, source) in config.sources.iter().enumerate().take(sources) {
        let items = parse_feed(&feed(n, from, to), ParseOptions::default())
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
}

/// Reads, renders and writes every output and the site; returns the seconds it took.
fn render_all(store: &mut Store, config: &Config) -> f64 {
    let started = Instant::now();
    let ctx = RenderContext {
        sources: &config.sources,
        publishing: &config.publishing,
        now: Utc::now(),
    };
    let rendered = render::render_now(store, &config.outputs, None, ctx);
    assert!(rendered.iter().all(|r| r.result.is_ok()), "{rendered:?}");
    started.elapsed().as_secs_f64()
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let total: usize = std::env::var("SITE_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let per_source = total / SOURCES;
    let (mut whole, mut same, mut ten_new) = (Vec::new(), Vec::new(), Vec::new());
    // Kept to the end: deleting 10,000 files just before the next round writes 10,000 makes
    // ext4 without a journal skip the recently freed inodes one by one (`recently_deleted`),
    // which would measure the round before rather than this one.
    let mut dirs = Vec::new();
    for round in 0..3 {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut text = String::from(
            "[database]\npath = \"state/tributary.db\"\n[retention]\nmax_age = \"0\"\n\
             [site]\npages = \"public/\"\n[[outputs]]\npath = \"public/feed.xml\"\n",
        );
        for n in 0..SOURCES {
            text.push_str(&format!(
                "[[sources]]\nname = \"Source {n}\"\nurl = \"https://b.example/{n}.xml\"\n\
                 tags = [\"topic-{}\"]\n",
                n % 10
            ));
        }
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, text).expect("writing the config");
        let config = config::load(&file).expect("a valid config");
        let mut store = Store::open(&config.database).expect("the database");
        store.sync_sources(&config.sources).expect("sources");
        store_items(&mut store, &config, 0, per_source, SOURCES);
        whole.push(render_all(&mut store, &config));
        same.push(render_all(&mut store, &config));
        // Ten new items: one each from ten sources.
        store_items(&mut store, &config, per_source, per_source + 1, 10);
        ten_new.push(render_all(&mut store, &config));
        let pages = tributary::render::site::written_pages(&dir.path().join("public")).len();
        println!(
            "round {round}: {pages} pages; whole site {:.2} s, unchanged {:.2} s, 10 new items {:.2} s",
            whole[round], same[round], ten_new[round]
        );
        dirs.push(dir);
    }
    println!(
        "{} items: whole site {:.2} s, nothing changed {:.2} s, after 10 new items {:.2} s (medians of 3)",
        per_source * SOURCES,
        median(whole),
        median(same),
        median(ten_new)
    );
}

//! Golden files for the parser's odd cases: each feed under `tests/fixtures/feeds/` is read and
//! summarized (format, encoding, the feed, each item's identity, links, dates, texts, what was
//! dropped), and the summary must equal the `.expected` file beside it. After a deliberate
//! change, `UPDATE_GOLDEN=1 cargo test --test golden` rewrites them; review the diff.

use std::fmt::Write as _;
use std::path::PathBuf;

use tributary::parse::{ParseOptions, parse_feed};
use url::Url;

fn summary(bytes: &[u8]) -> String {
    let base = Url::parse("https://fixtures.example/feed").unwrap();
    let options = ParseOptions {
        base: Some(&base),
        ..ParseOptions::default()
    };
    let feed = match parse_feed(bytes, options) {
        Ok(feed) => feed,
        Err(error) => return format!("refused: {error}\n"),
    };
    let mut out = String::new();
    let none = || "-".to_string();
    let _ = writeln!(out, "format: {}; encoding: {}", feed.format, feed.encoding);
    let _ = writeln!(
        out,
        "feed: {} | {}",
        feed.meta.title.clone().unwrap_or_else(none),
        feed.meta.link.clone().unwrap_or_else(none)
    );
    for (index, item) in feed.items.iter().enumerate() {
        let _ = writeln!(out, "item {}: {}", index + 1, item.key);
        let _ = writeln!(out, "  title: {}", item.title.clone().unwrap_or_else(none));
        let _ = writeln!(out, "  link: {}", item.link.clone().unwrap_or_else(none));
        let date =
            |d: Option<chrono::DateTime<chrono::Utc>>| d.map_or_else(none, |d| d.to_rfc3339());
        let _ = writeln!(out, "  published: {}", date(item.published));
        let _ = writeln!(out, "  updated: {}", date(item.updated));
        for (name, text) in [("summary", &item.summary), ("content", &item.content)] {
            if let Some(text) = text {
                let kind = if text.is_html { "html" } else { "text" };
                let _ = writeln!(out, "  {name} ({kind}): {}", text.body);
            }
        }
        for dropped in &feed.dropped[index] {
            let _ = writeln!(out, "  {dropped}");
        }
    }
    out
}

#[test]
fn odd_feeds_read_as_their_golden_files_say() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let mut feeds: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "expected"))
        .collect();
    feeds.sort();
    assert!(feeds.len() >= 6, "{feeds:?}");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut differing = Vec::new();
    for feed in &feeds {
        let got = summary(&std::fs::read(feed).unwrap());
        let golden = feed.with_extension("expected");
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            differing.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                feed.display()
            ));
        }
    }
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

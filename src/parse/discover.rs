//! HTML pages that are not feeds: recognising them, and finding the feed they link to.

use url::Url;

use super::decode;
use crate::sanitize::{MAX_NESTING, limit_nesting};

pub(super) fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

/// The first feed an HTML page links to with `<link rel="alternate" type="…">`, made absolute
/// against `base` (autodiscovery).
pub fn discover_feed_link(html: &[u8], base: Option<&Url>) -> Option<Url> {
    const FEED_TYPES: [&str; 5] = [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
        "application/json",
    ];
    let text = decode(html, None);
    let document = scraper::Html::parse_document(&limit_nesting(&text, MAX_NESTING));
    let selector = scraper::Selector::parse(r#"link[rel~="alternate"][href][type]"#).ok()?;
    document.select(&selector).find_map(|link| {
        let kind = link.value().attr("type")?.trim().to_ascii_lowercase();
        if !FEED_TYPES.contains(&kind.as_str()) {
            return None;
        }
        let href = link.value().attr("href")?.trim();
        match base {
            Some(base) => base.join(href).ok(),
            None => Url::parse(href).ok(),
        }
        .filter(|u| u.scheme() == "http" || u.scheme() == "https" || u.scheme() == "file")
    })
}

//! Feed bytes → normalized, sanitized items with their identity keys. Pure.
//!
//! feed-rs reads RSS 0.9x/1.0/2.0, Atom and JSON Feed; this module decides what an item *is*
//! for Tributary: which key identifies it within its source, which link is its own, and which of
//! its texts are HTML (cleaned) or plain.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Link, Person, Text as FeedText};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Author, FeedMeta, Item, Text};
use crate::sanitize::{clean_html, fold_whitespace, html_to_text};

/// A parsed feed: what it says of itself and its items, each key appearing once.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    pub meta: FeedMeta,
    pub items: Vec<Item>,
}

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty response, not a feed")]
    Empty,
    #[error("not a feed: no RSS, Atom or JSON Feed document found")]
    NotAFeed,
    #[error("unreadable feed: {0}")]
    Malformed(String),
}

/// Parses a feed body; `base` (the URL it was fetched from) resolves relative links.
pub fn parse_feed(body: &[u8], base: Option<&Url>) -> Result<ParsedFeed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let feed = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // An empty id tells "the feed gave none" apart from an id feed-rs made up.
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(body)
        .map_err(|e| match e {
            feed_rs::parser::ParseFeedError::ParseError(
                feed_rs::parser::ParseErrorKind::NoFeedRoot,
            ) => ParseError::NotAFeed,
            other => ParseError::Malformed(other.to_string()),
        })?;

    let meta = FeedMeta {
        title: feed.title.as_ref().and_then(plain_text),
        link: alternate_link(&feed.links),
        id: non_empty(&feed.id),
    };
    // In Atom an entry without authors has the feed's (RFC 4287, 4.2.1).
    let feed_authors = authors(&feed.authors);
    let mut seen = HashSet::new();
    let items = feed
        .entries
        .iter()
        .map(|entry| {
            let mut item = normalize_entry(entry, base);
            if item.authors.is_empty() {
                item.authors = feed_authors.clone();
            }
            item
        })
        .filter(|item| seen.insert(item.key.clone()))
        .collect();
    Ok(ParsedFeed { meta, items })
}

fn normalize_entry(entry: &Entry, feed_base: Option<&Url>) -> Item {
    let guid = non_empty(&entry.id);
    let link = alternate_link(&entry.links);
    let title = entry.title.as_ref().and_then(plain_text);
    let published = entry.published.or(entry.updated);
    let key = identity_key(
        guid.as_deref(),
        link.as_deref(),
        title.as_deref(),
        published,
    );

    // Relative URLs inside the item resolve against its own page first, then the feed's.
    let link_url = link.as_deref().and_then(|l| Url::parse(l).ok());
    let base = link_url.as_ref().or(feed_base);
    let summary = entry
        .summary
        .as_ref()
        .and_then(|t| text(&t.content, is_html(t.content_type.subty().as_str()), base));
    let content = entry.content.as_ref().and_then(|c| {
        text(
            c.body.as_deref()?,
            is_html(c.content_type.subty().as_str()),
            base,
        )
    });
    Item {
        key,
        guid,
        link,
        title,
        summary,
        content,
        authors: authors(&entry.authors),
        published: entry.published,
        updated: entry.updated,
    }
}

fn authors(people: &[Person]) -> Vec<Author> {
    people
        .iter()
        .filter_map(|p| {
            let name = p
                .name
                .as_deref()
                .or(p.email.as_deref())
                .map(fold_whitespace)
                .filter(|n| !n.is_empty())?;
            Some(Author {
                name,
                uri: p.uri.as_deref().and_then(non_empty),
                email: p.email.as_deref().and_then(non_empty),
            })
        })
        .collect()
}

/// An item's identity within its source: its guid, else its link, else a hash of its title and
/// date (an item with none of them is identified by its title alone).
pub fn identity_key(
    guid: Option<&str>,
    link: Option<&str>,
    title: Option<&str>,
    date: Option<DateTime<Utc>>,
) -> String {
    if let Some(guid) = guid {
        return format!("guid:{guid}");
    }
    if let Some(link) = link {
        return format!("link:{link}");
    }
    let mut hasher = Sha256::new();
    hasher.update(title.unwrap_or_default().as_bytes());
    hasher.update([0]);
    if let Some(date) = date {
        hasher.update(date.to_rfc3339().as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("hash:{hex}")
}

/// The link to the item's (or feed's) own page: `alternate` or unlabelled, never `self`,
/// `enclosure` and the like.
fn alternate_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| non_empty(&l.href))
}

/// A title-like text as plain text, whatever markup the feed wrapped it in.
fn plain_text(text: &FeedText) -> Option<String> {
    let plain = if is_html(text.content_type.subty().as_str()) {
        html_to_text(&text.content)
    } else {
        fold_whitespace(&text.content)
    };
    (!plain.is_empty()).then_some(plain)
}

/// Whether a media subtype is HTML or XHTML; any other text is shown as plain text.
fn is_html(subtype: &str) -> bool {
    subtype.contains("html")
}

fn text(body: &str, is_html: bool, base: Option<&Url>) -> Option<Text> {
    let body = if is_html {
        clean_html(body, base).trim().to_string()
    } else {
        body.trim().to_string()
    };
    (!body.is_empty()).then_some(Text { body, is_html })
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> ParsedFeed {
        let base = Url::parse("https://publisher.example/feed.xml").unwrap();
        parse_feed(xml.as_bytes(), Some(&base)).unwrap()
    }

    #[test]
    fn rss_items_are_identified_by_guid_then_link_then_hash() {
        let feed = parse(
            r#"<?xml version="1.0"?>
            <rss version="2.0"><channel><title>Pub</title><link>https://publisher.example/</link>
              <item><guid isPermaLink="false">g-1</guid><title>One</title><link>https://publisher.example/1</link></item>
              <item><title>Two</title><link>/2</link></item>
              <item><title>Three</title><pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate></item>
            </channel></rss>"#,
        );
        assert_eq!(feed.meta.title.as_deref(), Some("Pub"));
        assert_eq!(
            feed.meta.link.as_deref(),
            Some("https://publisher.example/")
        );
        let keys: Vec<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys[0], "guid:g-1");
        assert_eq!(keys[1], "link:https://publisher.example/2");
        assert!(keys[2].starts_with("hash:"), "{keys:?}");
        let date = "2025-08-19T10:00:00Z".parse().ok();
        assert_eq!(keys[2], identity_key(None, None, Some("Three"), date));
        assert_ne!(keys[2], identity_key(None, None, Some("Three"), None));
    }

    #[test]
    fn an_item_repeated_within_one_fetch_is_kept_once() {
        let feed = parse(
            r#"<rss version="2.0"><channel><title>P</title>
              <item><guid>same</guid><title>First</title></item>
              <item><guid>same</guid><title>Again</title></item>
            </channel></rss>"#,
        );
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].title.as_deref(), Some("First"));
    }

    #[test]
    fn atom_html_is_sanitized_and_titles_are_plain_text() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
              <entry><id>urn:e1</id><title type="html">Fish &amp;amp; &lt;b&gt;Chips&lt;/b&gt;</title>
                <link href="https://publisher.example/e1"/>
                <author><name>Ann</name><email>ann@publisher.example</email></author>
                <content type="html">&lt;p onclick="x()"&gt;Hello&lt;script&gt;bad()&lt;/script&gt;&lt;/p&gt;</content>
                <updated>2025-08-19T10:00:00Z</updated>
              </entry></feed>"#,
        );
        let item = &feed.items[0];
        assert_eq!(feed.meta.id.as_deref(), Some("urn:a"));
        assert_eq!(item.key, "guid:urn:e1");
        assert_eq!(item.title.as_deref(), Some("Fish & Chips"));
        let content = item.content.as_ref().unwrap();
        assert!(content.is_html);
        assert_eq!(content.body, "<p>Hello</p>");
        assert_eq!(item.authors[0].name, "Ann");
        assert_eq!(
            item.updated,
            "2025-08-19T10:00:00Z".parse::<DateTime<Utc>>().ok()
        );
    }

    #[test]
    fn json_feed_items_are_read() {
        let feed = parse(
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
                {"id":"1","url":"https://publisher.example/j1","title":"J one","content_html":"<p>Hi</p>"}]}"#,
        );
        assert_eq!(feed.items[0].key, "guid:1");
        assert_eq!(
            feed.items[0].link.as_deref(),
            Some("https://publisher.example/j1")
        );
    }

    #[test]
    fn bodies_that_are_not_feeds_are_refused_clearly() {
        assert!(matches!(parse_feed(b"  \n", None), Err(ParseError::Empty)));
        assert!(matches!(
            parse_feed(b"<html><body>hi</body></html>", None),
            Err(ParseError::NotAFeed)
        ));
        assert!(matches!(
            parse_feed(b"<rss version=\"2.0\"><channel><item><title>x</ti", None),
            Err(ParseError::Malformed(_))
        ));
    }
}

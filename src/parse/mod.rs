//! Feed bytes → normalized, sanitized items with their identity keys. Pure.
//!
//! feed-rs reads RSS 0.9x/1.0/2.0, Atom and JSON Feed; this module decides what an item *is*
//! for Tributary: which key identifies it within its source, which link is its own, and which of
//! its texts are HTML (cleaned) or plain.

mod api;
mod dates;
mod decode;
mod discover;
mod entry;
mod hints;
mod kind;
mod page;
mod xml_base;

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use feed_rs::model::FeedType;
use url::Url;

pub use dates::parse_date;
pub use decode::{decode, decode_explained};
use decode::{loosened, repair_dialects};
pub use discover::discover_feed_link;
use discover::looks_like_html;
use entry::{
    Normalized, TextBases, alternate_link, authors, non_empty, normalize_entry, plain_text,
};
use hints::scan_hints;
pub use kind::{HtmlFields, JsonFields, PageField, SourceKind};
use xml_base::declared_bases;

use crate::identity::raw_digest;
use crate::model::{FeedHints, FeedMeta, Item, Text};
use crate::sanitize::{
    MAX_NAME_CHARS, bounded_line, clean_html, fit_author, removed_markup, strip_controls, web_url,
};

/// A parsed feed: what it says of itself and its items, each key appearing once.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// What the feed says of itself.
    pub meta: FeedMeta,
    /// What it says about how often to poll it.
    pub hints: FeedHints,
    /// Its items, in feed order.
    pub items: Vec<Item>,
    /// "RSS 2.0", "Atom", …
    pub format: &'static str,
    /// The charset the body was read in, and where that came from.
    pub encoding: String,
    /// Whether it was not well-formed XML and was read loosely (see `decode::loosened`).
    pub loose: bool,
    /// For a page without a feed: matches of its item selector left out for want of a title
    /// or a link.
    pub left_out: usize,
    /// With [`ParseOptions::explain`]: for each item, what the sanitizer removed from its HTML.
    pub removed: Vec<Vec<String>>,
    /// For each item, the URLs left out of it and why ("link dropped: not http(s)").
    pub dropped: Vec<Vec<&'static str>>,
}

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty response, not a feed")]
    /// Nothing but white space.
    Empty,
    #[error("not a feed: no RSS, Atom or JSON Feed document found")]
    /// Not RSS, Atom or JSON Feed.
    NotAFeed,
    #[error("not a feed: an HTML page that links to no feed")]
    /// An HTML page that links to no feed.
    HtmlWithoutFeedLink,
    #[error("unreadable feed: {0}")]
    /// A feed the parser refused, and why.
    Malformed(String),
    #[error("unreadable feed: the XML parser failed on it (a bug in feed-rs or quick-xml)")]
    /// The parser panicked on it.
    ParserCrashed,
}

/// Where a body came from and how much of it to keep.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions<'a> {
    /// The URL it was fetched from, against which relative links resolve.
    pub base: Option<&'a Url>,
    /// The charset the server named, if any.
    pub charset: Option<&'a str>,
    /// The most bytes of an item's summary or content kept; longer ones are cut, with a note.
    pub max_content: usize,
    /// Record what the sanitizer removed from each item (for `explain`; costs time).
    pub explain: bool,
}

impl Default for ParseOptions<'_> {
    fn default() -> Self {
        ParseOptions {
            base: None,
            charset: None,
            max_content: 512 * 1024,
            explain: false,
        }
    }
}

/// Parses a feed body and cleans every item's HTML.
pub fn parse_feed(body: &[u8], options: ParseOptions<'_>) -> Result<ParsedFeed, ParseError> {
    Ok(read_raw_feed(body, options)?.clean(&HashSet::new()))
}

/// A feed parsed and its items normalized, their HTML not yet cleaned: cleaning is the costly
/// part, and an item whose [`Item::digest`] the store already has needs none.
#[derive(Debug)]
pub struct RawFeed {
    feed: ParsedFeed,
    /// For each item, what relative URLs in its HTML resolve against.
    bases: Vec<TextBases>,
    max_content: usize,
    explain: bool,
}

impl RawFeed {
    /// Each item's key and digest.
    pub fn digests(&self) -> impl Iterator<Item = (&str, &str)> {
        self.feed
            .items
            .iter()
            .map(|item| (item.key.as_str(), item.digest.as_str()))
    }

    /// Cleans the items' texts, except those of the items whose keys are in `unchanged` (known
    /// to the store with the same digest): those are marked unchanged and keep no texts.
    pub fn clean(self, unchanged: &HashSet<String>) -> ParsedFeed {
        let mut feed = self.feed;
        for (item, base) in feed.items.iter_mut().zip(&self.bases) {
            if unchanged.contains(&item.key) {
                item.unchanged = true;
                item.summary = None;
                item.content = None;
                continue;
            }
            let raw = self.explain.then(|| {
                [&item.summary, &item.content]
                    .into_iter()
                    .flatten()
                    .map(|t| t.body.as_str())
                    .collect::<String>()
            });
            let clean = |text: Option<Text>, base: &Option<Url>| {
                text.and_then(|t| cleaned_text(&t.body, t.is_html, base.as_ref(), self.max_content))
            };
            item.summary = clean(item.summary.take(), &base.summary);
            item.content = clean(item.content.take(), &base.content);
            if let Some(raw) = raw {
                let clean: String = [&item.summary, &item.content]
                    .into_iter()
                    .flatten()
                    .map(|t| t.body.as_str())
                    .collect();
                feed.removed.push(removed_markup(&raw, &clean));
            }
        }
        feed
    }
}

/// Reads a source's body as its kind says (a feed, a JSON API's answer, a page without a feed)
/// and normalizes its items, leaving their HTML to [`RawFeed::clean`].
pub fn read_source(
    body: &[u8],
    options: ParseOptions<'_>,
    kind: &SourceKind,
) -> Result<RawFeed, ParseError> {
    let text = || {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        Ok(decode_explained(body, options.charset))
    };
    let (entries, format, left_out, encoding) = match kind {
        SourceKind::Feed => return read_raw_feed(body, options),
        SourceKind::Json(fields) => {
            let (text, encoding) = text()?;
            let entries = api::read_api_items(&text, fields, options.base)?;
            (entries, "JSON API", 0, encoding)
        }
        SourceKind::Html(fields) => {
            let (text, encoding) = text()?;
            let (entries, left_out) = page::read_page_items(&text, fields, options.base);
            (entries, "HTML page", left_out, encoding)
        }
    };
    let read = ParsedFeed {
        meta: FeedMeta::default(),
        hints: FeedHints::default(),
        items: Vec::new(),
        format,
        encoding,
        loose: false,
        left_out,
        removed: Vec::new(),
        dropped: Vec::new(),
    };
    Ok(assemble(read, entries.into_iter(), options))
}

/// `href` made absolute against `base`, if it is an http(s) URL then.
fn absolute_web_url(href: &str, base: Option<&url::Url>) -> Option<String> {
    let url = match base {
        Some(base) => base.join(href).ok()?,
        None => url::Url::parse(href).ok()?,
    };
    web_url(url.as_str()).map(str::to_string)
}

/// Parses a feed body and normalizes its items, leaving their HTML to [`RawFeed::clean`].
pub fn read_raw_feed(body: &[u8], options: ParseOptions<'_>) -> Result<RawFeed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let base = options.base;
    let (text, encoding) = decode_explained(body, options.charset);
    let (mut text, original_format) = repair_dialects(text);
    let mut loose = false;
    let feed = match with_feed_rs(&text, base) {
        Err(ParseError::Malformed(refused)) => {
            // Not well-formed XML: read again as a loose reader would, if that helps.
            let loosened = loosened(&text).ok_or(ParseError::Malformed(refused))?;
            text = Cow::Owned(loosened);
            loose = true;
            with_feed_rs(&text, base)?
        }
        read => read?,
    };
    let (mut hints, websub) = scan_hints(&text);
    let ttl = feed
        .ttl
        .map(|minutes| Duration::from_secs(u64::from(minutes) * 60));
    hints.min_interval = hints.min_interval.max(ttl);
    /// The longest feed description kept: a publisher page shows it.
    const MAX_DESCRIPTION_CHARS: usize = 1_000;
    let meta = FeedMeta {
        title: feed
            .title
            .as_ref()
            .and_then(plain_text)
            .map(|t| bounded_line(&t, MAX_NAME_CHARS)),
        link: alternate_link(&feed.links).filter(|l| web_url(l).is_some()),
        id: non_empty(&feed.id),
        description: feed
            .description
            .as_ref()
            .and_then(plain_text)
            .map(|t| bounded_line(&t, MAX_DESCRIPTION_CHARS)),
        hub: websub.hub.and_then(|u| absolute_web_url(&u, base)),
        topic: websub.topic.and_then(|u| absolute_web_url(&u, base)),
    };
    // Where the text declares `xml:base`, the base in scope of each entry's texts.
    let declared_bases = text
        .contains("xml:base")
        .then(|| declared_bases(&text, base))
        .flatten()
        .filter(|found| found.len() == feed.entries.len());
    // In Atom an entry without authors has the feed's (RFC 4287, 4.2.1).
    let mut feed_authors = authors(&feed.authors);
    for author in &mut feed_authors {
        fit_author(author);
    }
    let entries = feed.entries.iter().enumerate().map(|(index, entry)| {
        let declared = declared_bases.as_ref().map(|found| &found[index]);
        let (mut item, bases, dropped) = normalize_entry(entry, base, declared);
        if item.authors.is_empty() {
            item.authors = feed_authors.clone();
        }
        (item, bases, dropped)
    });
    let format = original_format.unwrap_or(match feed.feed_type {
        FeedType::Atom => "Atom",
        FeedType::JSON => "JSON Feed",
        FeedType::RSS0 => "RSS 0.9x",
        FeedType::RSS1 => "RSS 1.0",
        FeedType::RSS2 => "RSS 2.0",
    });
    let read = ParsedFeed {
        meta,
        hints,
        items: Vec::new(),
        format,
        encoding,
        loose,
        left_out: 0,
        removed: Vec::new(),
        dropped: Vec::new(),
    };
    Ok(assemble(read, entries, options))
}

/// The feed with its normalized items, each key once (the first stands), their digests taken.
/// The most items read from one fetch, in the order the publisher lists them (newest first,
/// nearly always): what a body of a few megabytes could list otherwise would cost memory many
/// times its size. The rest are read again by the next polls as the list moves on.
pub const MAX_ITEMS: usize = 10_000;

fn assemble(
    mut feed: ParsedFeed,
    entries: impl Iterator<Item = Normalized>,
    options: ParseOptions<'_>,
) -> RawFeed {
    let mut seen = HashSet::new();
    let mut bases = Vec::new();
    for (mut item, item_bases, dropped) in entries.take(MAX_ITEMS) {
        if !seen.insert(item.key.clone()) {
            continue;
        }
        item.digest = raw_digest(
            &item,
            [item_bases.summary.as_ref(), item_bases.content.as_ref()],
            options.max_content,
        );
        feed.items.push(item);
        feed.dropped.push(dropped);
        bases.push(item_bases);
    }
    RawFeed {
        feed,
        bases,
        max_content: options.max_content,
        explain: options.explain,
    }
}

/// The text read by feed-rs, relative links resolved against `base`.
fn with_feed_rs(text: &str, base: Option<&Url>) -> Result<feed_rs::model::Feed, ParseError> {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // An empty id tells "the feed gave none" apart from an id feed-rs made up.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(parse_date)
        .build();
    // feed-rs and its XML reader have panicked on hostile input (found by fuzzing); a bad
    // feed must stay that feed's problem, whoever calls this.
    let body = text.as_bytes();
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body)))
        .map_err(|_| ParseError::ParserCrashed)?;
    parsed.map_err(|e| match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) if looks_like_html(text) => {
            ParseError::HtmlWithoutFeedLink
        }
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => ParseError::NotAFeed,
        other => ParseError::Malformed(other.to_string()),
    })
}

/// A text as stored: control characters stripped, HTML cleaned, cut to `max_content` bytes
/// with a note; `None` if nothing is left.
fn cleaned_text(body: &str, is_html: bool, base: Option<&Url>, max_content: usize) -> Option<Text> {
    let body = strip_controls(body);
    let body = if is_html {
        Cow::Owned(clean_html(&body, base))
    } else {
        body
    };
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    if body.len() <= max_content {
        return Some(Text {
            body: body.to_string(),
            is_html,
        });
    }
    // Cut at a character boundary; for HTML, cleaning again closes the elements the cut left
    // open (and drops a tag cut in half).
    let mut end = max_content;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let note = format!(
        "[Cut by Tributary at {}: the original is longer; read it at the source.]",
        bytesize::ByteSize(max_content as u64)
    );
    let body = if is_html {
        format!("{}<p>{note}</p>", clean_html(&body[..end], None))
    } else {
        format!("{}\n\n{note}", &body[..end])
    };
    Some(Text { body, is_html })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::identity_key;
    use crate::model::{Category, Enclosure, ItemLink};
    use chrono::{DateTime, Utc};

    #[test]
    fn no_atom_text_type_or_mode_refuses_the_feed() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
              <entry><id>urn:1</id><title type="text/plain">Plain &lt;b&gt;</title>
                <summary type="">Empty type</summary>
                <content type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">Inline <b>XHTML</b></div></content></entry>
              <entry><id>urn:2</id><title type="application/octet-stream">RXhhbXBsZQ==</title>
                <content type="text/html" mode="base64">PHA+QmFzZSA2NDwvcD4=</content></entry>
              <entry><id>urn:3</id><title/><summary type="x-unknown/kind">Unknown</summary>
                <content type="html">Naked <i>markup</i> &amp; escaped &lt;b&gt;markup&lt;/b&gt;</content></entry>
            </feed>"#,
        );
        let [first, second, third] = &feed.items[..] else {
            panic!("three items expected: {:?}", feed.items);
        };
        assert_eq!(first.title.as_deref(), Some("Plain <b>"));
        assert_eq!(first.summary.as_ref().unwrap().body, "Empty type");
        let content = first.content.as_ref().unwrap();
        assert!(content.is_html);
        assert_eq!(content.body, "<div>Inline <b>XHTML</b></div>");
        assert_eq!(second.title.as_deref(), Some("Example"));
        assert_eq!(second.content.as_ref().unwrap().body, "<p>Base 64</p>");
        assert_eq!(third.title, None);
        assert_eq!(third.summary.as_ref().unwrap().body, "Unknown");
        let content = &third.content.as_ref().unwrap().body;
        assert_eq!(content, "Naked <i>markup</i> &amp; escaped <b>markup</b>");
    }

    #[test]
    fn no_json_feed_field_of_the_wrong_type_refuses_the_feed() {
        let feed = parse(
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": ["not a string"],
                "authors": {"name": "Desk"},
                "items": [
                  {"id": 7, "title": 1000, "content_text": "Seven", "tags": "rail, ports",
                   "url": "https://j.example/7",
                   "attachments": [{"url": "https://j.example/7.mp3", "size_in_bytes": 10.5},
                                   {"mime_type": "audio/mpeg"}]},
                  "not an item",
                  {"id": "8", "title": "Eight", "summary": true, "url": "https://j.example/8"}
                ]}"#,
        );
        assert_eq!(feed.meta.title, None);
        let [seven, eight] = &feed.items[..] else {
            panic!("two items expected: {:?}", feed.items);
        };
        assert_eq!(seven.guid.as_deref(), Some("7"));
        assert_eq!(seven.title, None);
        assert_eq!(seven.authors[0].name, "Desk");
        assert_eq!(
            seven.categories,
            [Category::new("rail"), Category::new("ports")]
        );
        // An attachment is an enclosure, never the item's page.
        assert_eq!(seven.link.as_deref(), Some("https://j.example/7"));
        let enclosure = &seven.enclosures[..];
        assert_eq!(
            enclosure,
            [Enclosure {
                url: "https://j.example/7.mp3".into(),
                mime_type: None,
                length: Some(10),
            }]
        );
        assert_eq!(eight.title.as_deref(), Some("Eight"));
        assert_eq!(eight.summary, None);
    }

    #[test]
    fn windows_1252_punctuation_written_as_c1_code_points_reads_as_meant() {
        // As a numeric reference, and as the code point itself (here from UTF-8).
        let feed = parse(
            "<rss version=\"2.0\"><channel><title>W</title><item><guid>1</guid>\
             <title>don&#146;t</title><description>it\u{92}s &#147;quoted&#148;</description>\
             </item></channel></rss>",
        );
        let item = &feed.items[0];
        assert_eq!(item.title.as_deref(), Some("don\u{2019}t"));
        assert_eq!(
            item.summary.as_ref().unwrap().body,
            "it\u{2019}s \u{201c}quoted\u{201d}"
        );
    }

    #[test]
    fn dublin_core_media_rss_and_itunes_fill_in_what_the_core_elements_leave_out() {
        let feed = parse(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
                 xmlns:dcterms="http://purl.org/dc/terms/" xmlns:media="http://search.yahoo.com/mrss"
                 xmlns:itunes="http://www.itunes.com/DTDs/Podcast-1.0.dtd" xmlns:x="urn:other"
                 xmlns:xhtml="http://www.w3.org/1999/xhtml"><channel><title>D</title>
              <item><guid>https://d.example/1</guid><dc:title>DC title</dc:title>
                <dc:creator>Ada</dc:creator><dc:subject>Energy</dc:subject>
                <category domain="https://d.example/topics">Grid</category>
                <dcterms:issued>2025-03-01T10:00:00Z</dcterms:issued>
                <dcterms:modified>2025-03-02T10:00:00Z</dcterms:modified>
                <x:description>Not the description</x:description><dc:description>DC text</dc:description>
                <xhtml:body><p>Body</p></xhtml:body>
                <media:thumbnail url="https://d.example/1.jpg"/><media:category>Wind</media:category>
                <enclosure url="https://d.example/1.png" type="image/png" length="10"/>
                <enclosure url="https://d.example/1.mp3" type="audio/mpeg" length="20"/></item>
              <item><guid isPermaLink="false">https://d.example/2</guid><media:title>Media title</media:title>
                <itunes:author>Grace</itunes:author><itunes:summary>Episode notes</itunes:summary>
                <author>bob@d.example (Bob Jones)</author><dc:creator>Bob Jones</dc:creator></item>
              <item><guid>12345</guid><title>Not a web address</title></item>
            </channel></rss>"#,
        );
        let [first, second, third] = &feed.items[..] else {
            panic!("three items expected: {:?}", feed.items);
        };
        assert_eq!(first.title.as_deref(), Some("DC title"));
        // A permalink guid is the link of an item that has none.
        assert_eq!(first.link.as_deref(), Some("https://d.example/1"));
        assert_eq!(first.authors[0].name, "Ada");
        let categories: Vec<(&str, Option<&str>)> = first
            .categories
            .iter()
            .map(|c| (c.term.as_str(), c.scheme.as_deref()))
            .collect();
        assert_eq!(
            categories,
            [
                ("Energy", None),
                ("Grid", Some("https://d.example/topics")),
                ("Wind", Some("http://search.yahoo.com/mrss/category_schema")),
            ]
        );
        let date = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(first.published, date("2025-03-01T10:00:00Z"));
        assert_eq!(first.updated, date("2025-03-02T10:00:00Z"));
        assert_eq!(first.summary.as_ref().unwrap().body, "DC text");
        assert_eq!(first.content.as_ref().unwrap().body, "<p>Body</p>");
        assert_eq!(first.image.as_deref(), Some("https://d.example/1.jpg"));
        let enclosures: Vec<(&str, Option<u64>)> = first
            .enclosures
            .iter()
            .map(|e| (e.url.as_str(), e.length))
            .collect();
        assert_eq!(
            enclosures,
            [
                ("https://d.example/1.mp3", Some(20)),
                ("https://d.example/1.png", Some(10))
            ]
        );
        assert_eq!(second.link, None, "not a permalink");
        assert_eq!(second.title.as_deref(), Some("Media title"));
        assert_eq!(second.summary.as_ref().unwrap().body, "Episode notes");
        assert_eq!(second.authors.len(), 1, "one person, named twice");
        let bob = &second.authors[0];
        assert_eq!(
            (bob.name.as_str(), bob.email.as_deref()),
            ("Bob Jones", Some("bob@d.example"))
        );
        assert_eq!(third.link, None, "a guid that is no web address is no link");
    }

    #[test]
    fn rss_1_items_without_a_link_and_atom_link_titles_and_other_links_are_kept() {
        let rdf = parse(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
                 xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://r.example/"><title>R</title></channel>
               <item rdf:about="https://r.example/1"><title>No link</title></item></rdf:RDF>"#,
        );
        assert_eq!(rdf.items.len(), 1);
        assert_eq!(rdf.items[0].guid.as_deref(), Some("https://r.example/1"));
        let atom = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>urn:1</id>
               <link rel="self" href="https://a.example/1.atom"/>
               <link rel="related" href="https://a.example/annex.pdf" type="application/pdf" title="Annex"/>
               <link href="https://a.example/1" title="The release"/>
               <link rel="license" href="javascript:alert(1)"/><link rel="via" href="https://b.example/"/>
               <author><uri>https://a.example/staff</uri></author></entry></feed>"#,
        );
        let item = &atom.items[0];
        assert_eq!(item.link.as_deref(), Some("https://a.example/1"));
        assert_eq!(item.link_title.as_deref(), Some("The release"));
        // Not self (the publisher's copy of the entry), nor a link a reader cannot follow.
        assert_eq!(
            item.links,
            [
                ItemLink {
                    href: "https://a.example/annex.pdf".into(),
                    rel: "related".into(),
                    media_type: Some("application/pdf".into()),
                    title: Some("Annex".into()),
                },
                ItemLink {
                    href: "https://b.example/".into(),
                    rel: "via".into(),
                    ..ItemLink::default()
                }
            ]
        );
        // A person named only by their page is shown by it.
        assert_eq!(item.authors[0].name, "https://a.example/staff");
        // An RSS item's comments page is not its page, wherever it stands.
        let rss = parse(
            r#"<rss version="2.0" xmlns:cc="http://web.resource.org/cc/"
                 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel><title>C</title>
               <item><guid>1</guid><comments>https://c.example/1#comments</comments>
               <link>https://c.example/1</link>
               <cc:license rdf:resource="https://creativecommons.org/licenses/by/4.0/"/>
               </item></channel></rss>"#,
        );
        let item = &rss.items[0];
        assert_eq!(item.link.as_deref(), Some("https://c.example/1"));
        let links: Vec<(&str, &str)> = item
            .links
            .iter()
            .map(|l| (l.rel.as_str(), l.href.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("replies", "https://c.example/1#comments"),
                ("license", "https://creativecommons.org/licenses/by/4.0/")
            ]
        );
    }

    #[test]
    fn a_feed_that_is_not_well_formed_xml_is_read_loosely() {
        // A stray & in a link, a numeric reference without its ;, an end tag cut off at the
        // end of the body; an & inside CDATA stays as it is.
        let feed = parse(
            "<rss version=\"2.0\"><channel><title>Q&amp;A &#x41</title><item>\
             <title>R&D &#65 &#X42; &hellip;</title><link>http://example/?a=1&b=2&c</link>\
             <description><![CDATA[<p>fish &amp; chips & peas</p>]]></description>\
             </item></channel></rss",
        );
        assert!(feed.loose);
        assert_eq!(feed.meta.title.as_deref(), Some("Q&A A"));
        let item = &feed.items[0];
        assert_eq!(item.title.as_deref(), Some("R&D A B \u{2026}"));
        assert_eq!(item.link.as_deref(), Some("http://example/?a=1&b=2&c"));
        let summary = item.summary.as_ref().unwrap();
        assert_eq!(summary.body, "<p>fish &amp; chips &amp; peas</p>");
        // A well-formed feed is read as it is.
        assert!(!parse("<rss version=\"2.0\"><channel><title>A</title></channel></rss>").loose);
        // Neither repair helps a feed broken otherwise: the refusal stands.
        let broken = parse_feed(
            b"<rss version=\"2.0\"><channel><title>A</channel></rss>",
            ParseOptions::default(),
        );
        assert!(
            matches!(broken, Err(ParseError::Malformed(_))),
            "{broken:?}"
        );
    }

    #[test]
    fn an_items_digest_follows_its_texts_but_not_its_dates() {
        let feed = |description: &str, date: &str| {
            format!(
                r#"<rss version="2.0"><channel><title>P</title><item><guid>1</guid>
                <description>{description}</description><pubDate>{date}</pubDate></item>
                </channel></rss>"#
            )
        };
        let digest = |xml: String| {
            let read = read_raw_feed(xml.as_bytes(), ParseOptions::default()).unwrap();
            let digests: Vec<(String, String)> =
                read.digests().map(|(k, d)| (k.into(), d.into())).collect();
            digests
        };
        let first = digest(feed(
            "a &lt;b&gt;text&lt;/b&gt;",
            "Thu, 02 Jan 2025 00:00:00 GMT",
        ));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.len(), 32);
        let restamped = digest(feed(
            "a &lt;b&gt;text&lt;/b&gt;",
            "Fri, 03 Jan 2025 00:00:00 GMT",
        ));
        assert_eq!(first, restamped);
        let edited = digest(feed(
            "a &lt;b&gt;new&lt;/b&gt; text",
            "Thu, 02 Jan 2025 00:00:00 GMT",
        ));
        assert_eq!(first[0].0, edited[0].0);
        assert_ne!(first[0].1, edited[0].1);
    }

    fn parse(xml: &str) -> ParsedFeed {
        let base = Url::parse("https://publisher.example/feed.xml").unwrap();
        parse_feed(
            xml.as_bytes(),
            ParseOptions {
                base: Some(&base),
                ..ParseOptions::default()
            },
        )
        .unwrap()
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
    fn the_date_forms_real_feeds_use_are_read() {
        let utc = |s: &str| s.parse::<DateTime<Utc>>().ok();
        let table = [
            ("Tue, 19 Aug 2025 10:00:00 GMT", "2025-08-19T10:00:00Z"),
            ("Mon, 19 Aug 2025 10:00:00 GMT", "2025-08-19T10:00:00Z"), // wrong day name
            (
                "Tuesday, 19 August 2025 10:00:00 +0200",
                "2025-08-19T08:00:00Z",
            ),
            ("19 Aug 2025 10:00 EST", "2025-08-19T15:00:00Z"),
            ("Tue, 19 Aug 25 10:00:00 CEST", "2025-08-19T08:00:00Z"),
            ("Tue, 19 Aug 2025 10:00:00 +02:00", "2025-08-19T08:00:00Z"),
            ("2025-08-19T10:00:00+02:00", "2025-08-19T08:00:00Z"),
            ("2025-08-19T10:00:00.250+0200", "2025-08-19T08:00:00.250Z"),
            ("2025-08-19T10:00:00", "2025-08-19T10:00:00Z"), // no zone: UTC
            ("2025-08-19 10:00:00", "2025-08-19T10:00:00Z"),
            ("2025-08-19", "2025-08-19T00:00:00Z"),
            ("Tue 19 Aug 2025 10:00:00 GMT", "2025-08-19T10:00:00Z"), // no comma
            ("2025/8/19 10:00:00", "2025-08-19T10:00:00Z"),
        ];
        for (text, expected) in table {
            assert_eq!(parse_date(text), utc(expected), "{text}");
        }
        for nonsense in [
            "",
            "yesterday",
            "19.08.2025",
            "Tue, 19 Aug 2025 10:00:00 XYZ",
        ] {
            assert_eq!(parse_date(nonsense), None, "{nonsense}");
        }
        let feed = parse(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
              <channel rdf:about="x"><title>R</title></channel>
              <item rdf:about="https://p.example/1"><title>One</title><link>https://p.example/1</link><dc:date>2025-08-19T10:00:00+01:00</dc:date></item>
            </rdf:RDF>"#,
        );
        assert_eq!(
            feed.items[0].published,
            utc("2025-08-19T09:00:00Z"),
            "dc:date"
        );
    }

    #[test]
    fn control_characters_are_stripped_and_oversized_content_is_cut_with_a_note() {
        let long = "<p>".to_string() + &"word ".repeat(1000) + "</p>";
        let xml = format!(
            r#"<rss version="2.0"><channel><title>P</title>
              <item><guid>g&#x1;1</guid><title>Bell&#x7; and
              tab</title><description><![CDATA[{long}]]></description></item></channel></rss>"#
        );
        let feed = parse_feed(
            xml.as_bytes(),
            ParseOptions {
                max_content: 1024,
                ..ParseOptions::default()
            },
        );
        // XML 1.0 forbids these characters even as references; the parser reads them anyway,
        // and they must not survive.
        let item = &feed.unwrap().items[0];
        assert_eq!(item.title.as_deref(), Some("Bell and tab"));
        assert_eq!(item.guid.as_deref(), Some("g1"));
        let summary = &item.summary.as_ref().unwrap().body;
        assert!(summary.len() < 1200, "{}", summary.len());
        assert!(
            summary.ends_with("read it at the source.]</p>"),
            "{summary}"
        );
        assert!(summary.starts_with("<p>word word"), "{summary}");
        let plain = cleaned_text("a\u{0}b\u{1b}c", false, None, 1024).unwrap();
        assert_eq!(plain.body, "abc");
    }

    #[test]
    fn relative_links_in_content_resolve_against_xml_base_then_the_item_link() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
              <entry><id>urn:1</id><title>One</title>
                <link href="https://p.example/one"/>
                <content type="html" xml:base="https://cdn.example/posts/">&lt;img src="pic.png"&gt;</content></entry>
              <entry><id>urn:2</id><title>Two</title><link href="https://p.example/two/"/>
                <content type="html">&lt;a href="more"&gt;more&lt;/a&gt;</content></entry>
            </feed>"#,
        );
        let body = |i: usize| feed.items[i].content.as_ref().unwrap().body.clone();
        assert!(
            body(0).contains(r#"src="https://cdn.example/posts/pic.png""#),
            "{}",
            body(0)
        );
        assert!(
            body(1).contains(r#"href="https://p.example/two/more""#),
            "{}",
            body(1)
        );
    }

    #[test]
    fn relative_links_in_content_follow_the_xml_base_in_scope() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://rel.example/blog/">
              <title>A</title><id>urn:a</id>
              <entry><id>urn:1</id><title>Feed base</title><link href="posts/one.html"/>
                <content type="html">&lt;img src="img/a.png"&gt;</content></entry>
              <entry xml:base="/other/"><id>urn:2</id><title>Entry base</title>
                <link href="https://p.example/two"/>
                <summary type="html">&lt;a href="s.html"&gt;s&lt;/a&gt;</summary>
                <content type="html" xml:base="deeper/">&lt;a href="c.html"&gt;c&lt;/a&gt;</content></entry>
            </feed>"#,
        );
        let text = |i: usize, f: fn(&Item) -> &Option<Text>| {
            f(&feed.items[i]).as_ref().unwrap().body.clone()
        };
        assert_eq!(
            feed.items[0].link.as_deref(),
            Some("https://rel.example/blog/posts/one.html")
        );
        let first = text(0, |i| &i.content);
        assert!(
            first.contains(r#"src="https://rel.example/blog/img/a.png""#),
            "{first}"
        );
        let summary = text(1, |i| &i.summary);
        assert!(
            summary.contains(r#"href="https://rel.example/other/s.html""#),
            "{summary}"
        );
        let content = text(1, |i| &i.content);
        assert!(
            content.contains(r#"href="https://rel.example/other/deeper/c.html""#),
            "{content}"
        );

        let rss = parse(
            r#"<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
              <channel xml:base="https://cdn.example/news/"><title>R</title>
              <item><guid>1</guid><link>https://p.example/story/1</link>
                <description>&lt;img src="a.png"&gt;</description>
                <content:encoded>&lt;img src="b.png"&gt;</content:encoded></item>
              <item><guid>2</guid><link>https://p.example/story/2</link></item>
            </channel></rss>"#,
        );
        let item = &rss.items[0];
        let (summary, content) = (&item.summary, &item.content);
        assert!(
            summary
                .as_ref()
                .unwrap()
                .body
                .contains("https://cdn.example/news/a.png"),
            "{summary:?}"
        );
        assert!(
            content
                .as_ref()
                .unwrap()
                .body
                .contains("https://cdn.example/news/b.png"),
            "{content:?}"
        );
    }

    #[test]
    fn urls_a_reader_cannot_safely_follow_are_dropped_and_the_item_kept() {
        let feed = parse(
            r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
              <channel><title>Evil</title><link>javascript:alert(document.domain)</link>
              <item><title>Scripted</title><link>JavaScript:alert(1)</link>
                <enclosure url="data:audio/mpeg;base64,AAAA" type="audio/mpeg" length="4"/></item>
              <item><title>Fine</title><link>https://p.example/fine</link></item>
              <item><title>Pictured</title><link>https://p.example/pictured</link>
                <media:content url="JAVASCRIPT:alert(2)" type="image/png"/></item>
            </channel></rss>"#,
        );
        assert_eq!(feed.meta.link, None);
        assert_eq!(feed.items.len(), 3);
        let scripted = &feed.items[0];
        assert_eq!(scripted.link, None);
        assert!(scripted.enclosures.is_empty());
        // Identified as an item without a link: by its title.
        assert_eq!(
            scripted.key,
            identity_key(None, None, Some("Scripted"), None)
        );
        assert_eq!(
            feed.dropped[0],
            [
                "link dropped: not http(s)",
                "enclosure dropped: not http(s)"
            ]
        );
        assert!(feed.dropped[1].is_empty());
        assert_eq!(feed.items[2].image, None);
        assert_eq!(feed.dropped[2], ["image dropped: not http(s)"]);

        let atom = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
              <entry><id>urn:1</id><title>T</title><link href=" data:text/html,x"/>
                <author><name>Mallory</name><uri>vbscript:x</uri></author></entry></feed>"#,
        );
        let item = &atom.items[0];
        assert_eq!(
            (item.key.as_str(), item.link.as_deref()),
            ("guid:urn:1", None)
        );
        assert_eq!(item.authors[0].uri, None);
        assert_eq!(
            atom.dropped[0],
            [
                "link dropped: not http(s)",
                "author URI dropped: not http(s)"
            ]
        );
    }

    #[test]
    fn titles_names_and_categories_are_bounded_lines() {
        let long = "x".repeat(100_000);
        let feed = parse(&format!(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
              <title>{long}</title>
              <item><guid>1</guid><title>{long}</title><dc:creator>{long}</dc:creator>
                <category>{long}</category></item></channel></rss>"#
        ));
        let item = &feed.items[0];
        let chars = |s: &str| s.chars().count();
        assert_eq!(chars(item.title.as_deref().unwrap()), 1_000);
        assert!(item.title.as_deref().unwrap().ends_with('…'));
        assert_eq!(chars(feed.meta.title.as_deref().unwrap()), 200);
        assert_eq!(chars(&item.authors[0].name), 200);
        assert_eq!(chars(&item.categories[0].term), 200);
    }

    #[test]
    fn a_late_xml_declaration_does_not_crash_the_parser() {
        // Found by fuzzing (fuzz/artifacts): quick-xml panicked on the second declaration.
        let body = b"<rss ver[ion=\"0.94\">\n\t<chan.html</link>\n <?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<rss version=\"2.0\">\n<channel>\n<title>Euro \xe2\x82\xac</title>\n</channel>\n</r<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss><channel><title>x</title></channel></rss>";
        let result = parse_feed(body, ParseOptions::default());
        // Without the late declarations the parser reads the document (or refuses it) without
        // reaching the panic that `catch_unwind` would turn into `ParserCrashed`.
        assert!(
            !matches!(result, Err(ParseError::ParserCrashed)),
            "{result:?}"
        );
        assert_eq!(
            decode(b"<a/><?xml version=\"1.0\" encoding=\"latin1\"?><b/>", None),
            "<a/><b/>"
        );
    }

    #[test]
    fn polling_hints_are_read_from_the_channel() {
        let feed = parse(
            r#"<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
              <channel><title>P</title><ttl>90</ttl>
                <sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>
                <skipHours><hour>0</hour><hour>23</hour><hour>24</hour></skipHours>
                <skipDays><day>Saturday</day><day>Sunday</day></skipDays>
                <item><guid>1</guid><sy:updatePeriod>yearly</sy:updatePeriod></item>
              </channel></rss>"#,
        );
        // A day in four parts (6 h) is longer than the ttl (90 min); items' elements are not hints.
        assert_eq!(feed.hints.min_interval, Some(Duration::from_secs(6 * 3600)));
        assert_eq!(feed.hints.skip_hours, [0, 23]);
        assert_eq!(feed.hints.skip_days, [5, 6]);

        let ttl_only =
            parse(r#"<rss version="2.0"><channel><title>P</title><ttl>90</ttl></channel></rss>"#);
        assert_eq!(
            ttl_only.hints.min_interval,
            Some(Duration::from_secs(90 * 60))
        );
    }

    #[test]
    fn charsets_are_found_in_bom_http_header_and_declaration_in_that_order() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><a>caf\xe9</a>";
        assert_eq!(decode(latin1, None), "<a>caf\u{e9}</a>");
        // The HTTP charset wins over the declaration (RFC 7303).
        assert_eq!(
            decode("<a>café</a>".as_bytes(), Some("utf-8")),
            "<a>café</a>"
        );
        assert_eq!(
            decode(b"<a>caf\xe9</a>", Some("windows-1252")),
            "<a>caf\u{e9}</a>"
        );
        // A BOM wins over both.
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("<a>café</a>".as_bytes());
        assert_eq!(decode(&bom, Some("iso-8859-1")), "<a>café</a>");
        // Undeclared bytes that are not UTF-8 are read as Windows-1252; bogus labels ignored.
        assert_eq!(
            decode(b"<a>caf\xe9</a>", Some("x-fake")),
            "<a>caf\u{e9}</a>"
        );
        // Leading white space before the declaration is dropped with it.
        assert_eq!(
            decode(b"\n  <?xml version=\"1.0\" encoding=\"utf-8\"?><a/>", None),
            "<a/>"
        );
    }

    #[test]
    fn enclosures_categories_and_images_are_kept() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
              <title>V</title><id>urn:v</id>
              <entry><id>urn:v1</id><title>Video</title><link href="https://v.example/1"/>
                <link rel="enclosure" href="https://v.example/1.mp4" type="video/mp4" length="99"/>
                <category term="science"/><category term="science"/>
                <category term="phys" scheme="https://v.example/topics" label="Physics"/>
                <media:group><media:content url="https://v.example/1.webm" type="video/webm"/>
                  <media:thumbnail url="https://v.example/1.jpg" width="480" height="360"/></media:group>
              </entry></feed>"#,
        );
        let item = &feed.items[0];
        assert_eq!(
            item.enclosures,
            [
                Enclosure {
                    url: "https://v.example/1.webm".into(),
                    mime_type: Some("video/webm".into()),
                    length: None,
                },
                Enclosure {
                    url: "https://v.example/1.mp4".into(),
                    mime_type: Some("video/mp4".into()),
                    length: Some(99),
                }
            ]
        );
        assert_eq!(
            item.categories,
            [
                Category::new("science"),
                Category {
                    term: "phys".into(),
                    scheme: Some("https://v.example/topics".into()),
                    label: Some("Physics".into()),
                }
            ]
        );
        // Stored as before when only a term is known, so that stored items read the same.
        let stored = serde_json::to_string(&item.categories).unwrap();
        assert_eq!(
            stored,
            r#"["science",{"term":"phys","scheme":"https://v.example/topics","label":"Physics"}]"#
        );
        let read: Vec<Category> = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, item.categories);
        assert_eq!(item.image.as_deref(), Some("https://v.example/1.jpg"));
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
        assert!(matches!(
            parse_feed(b"  \n", ParseOptions::default()),
            Err(ParseError::Empty)
        ));
        assert!(matches!(
            parse_feed(b"<html><body>hi</body></html>", ParseOptions::default()),
            Err(ParseError::HtmlWithoutFeedLink)
        ));
        assert!(matches!(
            parse_feed(b"<note>hi</note>", ParseOptions::default()),
            Err(ParseError::NotAFeed)
        ));
        assert!(matches!(
            parse_feed(
                b"<rss version=\"2.0\"><channel><item><title>x</ti",
                ParseOptions::default()
            ),
            Err(ParseError::Malformed(_))
        ));
    }
}

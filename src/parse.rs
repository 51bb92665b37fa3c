//! Feed bytes → normalized, sanitized items with their identity keys. Pure.
//!
//! feed-rs reads RSS 0.9x/1.0/2.0, Atom and JSON Feed; this module decides what an item *is*
//! for Tributary: which key identifies it within its source, which link is its own, and which of
//! its texts are HTML (cleaned) or plain.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use encoding_rs::Encoding;
use quick_xml::events::Event;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, FeedType, Link, Person, Text as FeedText};
use url::Url;

use crate::identity::{identity_key, raw_digest};
use crate::model::{Author, Enclosure, FeedHints, FeedMeta, Item, Text};
use crate::sanitize::{
    MAX_NAME_CHARS, bounded_line, clean_html, fit_author, fit_to_publish, fold_whitespace,
    html_to_text, removed_markup, strip_controls, web_url,
};

/// A parsed feed: what it says of itself and its items, each key appearing once.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    pub meta: FeedMeta,
    pub hints: FeedHints,
    pub items: Vec<Item>,
    /// "RSS 2.0", "Atom", …
    pub format: &'static str,
    /// The charset the body was read in, and where that came from.
    pub encoding: String,
    /// With [`ParseOptions::explain`]: for each item, what the sanitizer removed from its HTML.
    pub removed: Vec<Vec<String>>,
    /// For each item, the URLs left out of it and why ("link dropped: not http(s)").
    pub dropped: Vec<Vec<&'static str>>,
}

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty response, not a feed")]
    Empty,
    #[error("not a feed: no RSS, Atom or JSON Feed document found")]
    NotAFeed,
    #[error("not a feed: an HTML page that links to no feed")]
    HtmlWithoutFeedLink,
    #[error("unreadable feed: {0}")]
    Malformed(String),
    #[error("unreadable feed: the XML parser failed on it (a bug in feed-rs or quick-xml)")]
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
    Ok(read_feed(body, options)?.clean(&HashSet::new()))
}

/// A feed parsed and its items normalized, their HTML not yet cleaned: cleaning is the costly
/// part, and an item whose [`Item::digest`] the store already has needs none.
#[derive(Debug)]
pub struct ReadFeed {
    feed: ParsedFeed,
    /// For each item, what relative URLs in its HTML resolve against.
    bases: Vec<TextBases>,
    max_content: usize,
    explain: bool,
}

impl ReadFeed {
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

/// Parses a feed body and normalizes its items, leaving their HTML to [`ReadFeed::clean`].
pub fn read_feed(body: &[u8], options: ParseOptions<'_>) -> Result<ReadFeed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let base = options.base;
    let (text, encoding) = decode_explained(body, options.charset);
    let (text, original_format) = repair_dialects(text);
    let body = text.as_bytes();
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // An empty id tells "the feed gave none" apart from an id feed-rs made up.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(parse_date)
        .build();
    // feed-rs and its XML reader have panicked on hostile input (found by fuzzing); a bad
    // feed must stay that feed's problem, whoever calls this.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body)))
        .map_err(|_| ParseError::ParserCrashed)?;
    let feed = parsed.map_err(|e| match e {
        feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ) if looks_like_html(&text) => ParseError::HtmlWithoutFeedLink,
        feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ) => ParseError::NotAFeed,
        other => ParseError::Malformed(other.to_string()),
    })?;

    let mut hints = scan_hints(&text);
    let ttl = feed
        .ttl
        .map(|minutes| Duration::from_secs(u64::from(minutes) * 60));
    hints.min_interval = hints.min_interval.max(ttl);

    let meta = FeedMeta {
        title: feed
            .title
            .as_ref()
            .and_then(plain_text)
            .map(|t| bounded_line(&t, MAX_NAME_CHARS)),
        link: alternate_link(&feed.links).filter(|l| web_url(l).is_some()),
        id: non_empty(&feed.id),
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
    let mut seen = HashSet::new();
    let (mut items, mut bases, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    for (index, entry) in feed.entries.iter().enumerate() {
        let declared = declared_bases.as_ref().map(|found| &found[index]);
        let (mut item, item_bases, item_dropped) = normalize_entry(entry, base, declared);
        if !seen.insert(item.key.clone()) {
            continue;
        }
        if item.authors.is_empty() {
            item.authors = feed_authors.clone();
        }
        item.digest = raw_digest(
            &item,
            [item_bases.summary.as_ref(), item_bases.content.as_ref()],
            options.max_content,
        );
        items.push(item);
        bases.push(item_bases);
        dropped.push(item_dropped);
    }
    let format = original_format.unwrap_or(match feed.feed_type {
        FeedType::Atom => "Atom",
        FeedType::JSON => "JSON Feed",
        FeedType::RSS0 => "RSS 0.9x",
        FeedType::RSS1 => "RSS 1.0",
        FeedType::RSS2 => "RSS 2.0",
    });
    Ok(ReadFeed {
        feed: ParsedFeed {
            meta,
            hints,
            items,
            format,
            encoding,
            removed: Vec::new(),
            dropped,
        },
        bases,
        max_content: options.max_content,
        explain: options.explain,
    })
}

/// What the relative URLs in an item's summary and content resolve against.
#[derive(Debug, Clone, Default, PartialEq)]
struct TextBases {
    summary: Option<Url>,
    content: Option<Url>,
}

/// An entry as Tributary's item, its texts not yet cleaned; the base URLs they resolve against;
/// and the URLs left out of it because a reader could not safely follow them.
fn normalize_entry(
    entry: &Entry,
    feed_base: Option<&Url>,
    declared: Option<&DeclaredBases>,
) -> (Item, TextBases, Vec<&'static str>) {
    let summary = entry.summary.as_ref().map(|t| Text {
        body: t.content.clone(),
        is_html: is_html(t.content_type.subty().as_str()),
    });
    let content = entry.content.as_ref().and_then(|c| {
        Some(Text {
            body: c.body.clone()?,
            is_html: is_html(c.content_type.subty().as_str()),
        })
    });
    let mut item = Item {
        key: String::new(),
        guid: non_empty(&entry.id),
        link: alternate_link(&entry.links),
        title: entry.title.as_ref().and_then(plain_text),
        summary,
        content,
        authors: authors(&entry.authors),
        published: entry.published,
        updated: entry.updated,
        enclosures: enclosures(entry),
        categories: categories(entry),
        image: image(entry),
        digest: String::new(),
        unchanged: false,
    };
    // Before the item is identified: one whose link is dropped is identified as one without.
    let dropped = fit_to_publish(&mut item);
    // Without a title, items (RSS 0.92 allows them) are told apart by their description.
    let name = item.title.clone().or_else(|| {
        entry
            .summary
            .as_ref()
            .map(|t| t.content.clone())
            .or_else(|| entry.content.as_ref().and_then(|c| c.body.clone()))
    });
    item.key = identity_key(
        item.guid.as_deref(),
        item.link.as_deref(),
        name.as_deref(),
        entry.published.or(entry.updated),
    );

    // Relative URLs inside a text resolve against the xml:base in scope for it (on the element,
    // its entry or the feed), else the item's own page, else the feed's address.
    let page = item.link.as_deref().and_then(|l| Url::parse(l).ok());
    let fallback = page.as_ref().or(feed_base);
    let in_scope = |found: Option<&Option<Url>>| match found {
        Some(Some(declared)) => Some(declared.clone()),
        _ => fallback.cloned(),
    };
    // Without the pass over the text, feed-rs still reports a base on the content element.
    let content_base = match declared {
        Some(declared) => in_scope(Some(&declared.content)),
        None => entry
            .base
            .as_deref()
            .and_then(|b| fallback.map_or_else(|| Url::parse(b).ok(), |f| f.join(b).ok()))
            .or_else(|| fallback.cloned()),
    };
    let bases = TextBases {
        summary: in_scope(declared.map(|d| &d.summary)),
        content: content_base,
    };
    (item, bases, dropped)
}

/// The `xml:base` in scope for an entry's summary and content, if one is: declared on the
/// element, its entry or an ancestor, each resolved against the one around it.
#[derive(Debug, Clone, Default, PartialEq)]
struct DeclaredBases {
    summary: Option<Url>,
    content: Option<Url>,
}

/// For each entry (Atom `entry`, RSS `item`) of an XML feed, in document order, the `xml:base`
/// in scope for its summary and content. The outermost resolves against `document`. feed-rs
/// reports only a base written on the content element itself, so this light pass over the
/// same text finds the inherited ones. `None` if the text does not read as XML to its end.
fn declared_bases(text: &str, document: Option<&Url>) -> Option<Vec<DeclaredBases>> {
    // quick-xml has panicked on hostile input before (see `read_feed`).
    std::panic::catch_unwind(|| scan_declared_bases(text, document))
        .ok()
        .flatten()
}

fn scan_declared_bases(text: &str, document: Option<&Url>) -> Option<Vec<DeclaredBases>> {
    const ATOM: &str = "http://www.w3.org/2005/Atom";
    const RSS1: &str = "http://purl.org/rss/1.0/";
    const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
    let mut reader = quick_xml::NsReader::from_str(text);
    // The base in scope inside each open element: `None` where none is declared.
    let mut scopes: Vec<Option<Url>> = Vec::new();
    let mut entries: Vec<DeclaredBases> = Vec::new();
    // How many elements are open inside the entry being read, with the entry itself.
    let mut entry_depth: Option<usize> = None;
    loop {
        let (namespace, event) = reader.read_resolved_event().ok()?;
        let (element, is_empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                scopes.pop();
                if entry_depth.is_some_and(|depth| scopes.len() < depth) {
                    entry_depth = None;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let namespace: &str = match &namespace {
            quick_xml::name::ResolveResult::Bound(ns) => ns.0,
            _ => "",
        };
        let outer = scopes.last().cloned().flatten();
        let declared = element
            .try_get_attribute("xml:base")
            .ok()
            .flatten()
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.trim().to_string())
            });
        let scope = match declared {
            Some(declared) => match outer.as_ref().or(document) {
                Some(around) => around.join(&declared).ok(),
                None => Url::parse(&declared).ok(),
            }
            .or(outer),
            None => outer,
        };
        match (namespace, element.local_name().as_ref()) {
            (ATOM, "entry") | ("" | RSS1, "item") if entry_depth.is_none() => {
                entries.push(DeclaredBases::default());
                entry_depth = (!is_empty).then_some(scopes.len() + 1);
            }
            (ATOM, "summary") | ("" | RSS1, "description") if entry_depth.is_some() => {
                if let Some(entry) = entries.last_mut() {
                    entry.summary = entry.summary.take().or(scope.clone());
                }
            }
            (ATOM, "content") | (CONTENT, "encoded") if entry_depth.is_some() => {
                if let Some(entry) = entries.last_mut() {
                    entry.content = entry.content.take().or(scope.clone());
                }
            }
            _ => {}
        }
        if !is_empty {
            scopes.push(scope);
        }
    }
    Some(entries)
}

/// RSS `<enclosure>`s and Media RSS content (feed-rs reads both as media), and Atom
/// `rel="enclosure"` links, each once.
fn enclosures(entry: &Entry) -> Vec<Enclosure> {
    let media = entry.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        let mime_type = c.content_type.as_ref().map(|t| t.to_string());
        if mime_type
            .as_deref()
            .is_some_and(|t| t.starts_with("image/"))
        {
            return None;
        }
        Some(Enclosure {
            url: c.url.as_ref()?.to_string(),
            mime_type,
            length: c.size,
        })
    });
    let links = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .map(|l| Enclosure {
            url: l.href.clone(),
            mime_type: l.media_type.clone(),
            length: l.length,
        });
    let mut seen = HashSet::new();
    media
        .chain(links)
        .filter(|e| seen.insert(e.url.clone()))
        .collect()
}

fn categories(entry: &Entry) -> Vec<String> {
    let mut seen = HashSet::new();
    entry
        .categories
        .iter()
        .map(|c| fold_whitespace(c.label.as_deref().unwrap_or(&c.term)))
        .filter(|c| !c.is_empty() && seen.insert(c.clone()))
        .collect()
}

/// The item's picture: a Media RSS thumbnail, else image content; the first a reader can
/// safely follow, if any is.
fn image(entry: &Entry) -> Option<String> {
    let thumbnail = entry
        .media
        .iter()
        .flat_map(|m| &m.thumbnails)
        .map(|t| t.image.uri.clone());
    let content = entry.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        let is_image = c.content_type.as_ref().is_some_and(|t| t.ty() == "image");
        is_image
            .then(|| c.url.as_ref().map(|u| u.to_string()))
            .flatten()
    });
    let candidates: Vec<String> = thumbnail.chain(content).collect();
    let safe = candidates.iter().find(|u| web_url(u).is_some());
    safe.or(candidates.first()).cloned()
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

/// A feed date, read as leniently as real feeds need: RFC 3339 and ISO 8601 (without a zone,
/// taken as UTC), RFC 822/2822 with full or wrong day names, full month names, two-digit years,
/// missing seconds and the zone abbreviations publishers use. `None` when nothing fits.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(date) = DateTime::parse_from_str(text, format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    let naive = text.trim_end_matches('Z');
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(date) = chrono::NaiveDateTime::parse_from_str(naive, format) {
            return Some(date.and_utc());
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    rfc822(text)
}

/// RFC 822 dates as feeds write them, normalized until chrono's strict parser accepts them.
fn rfc822(text: &str) -> Option<DateTime<Utc>> {
    // The day name is dropped, with or without its comma: it is often wrong, and it adds
    // nothing to the date.
    let mut parts: Vec<String> = text
        .split_whitespace()
        .flat_map(|p| p.split(','))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts
        .first()
        .is_some_and(|p| p.chars().all(char::is_alphabetic))
    {
        parts.remove(0);
    }
    if parts.len() < 4 {
        return None;
    }
    // Full month names to their first three letters.
    parts[1] = parts[1].chars().take(3).collect();
    // Two-digit years: 50–99 are 19xx, the rest 20xx.
    if let Ok(year) = parts[2].parse::<u32>() {
        if parts[2].len() == 2 {
            parts[2] = (if year >= 50 { 1900 + year } else { 2000 + year }).to_string();
        }
    }
    if parts[3].matches(':').count() == 1 {
        parts[3].push_str(":00");
    }
    let zone = parts.get(4).map(String::as_str).unwrap_or("+0000");
    let offset: String = match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" => "+0000".into(),
        "EST" => "-0500".into(),
        "EDT" => "-0400".into(),
        "CST" => "-0600".into(),
        "CDT" => "-0500".into(),
        "MST" => "-0700".into(),
        "MDT" => "-0600".into(),
        "PST" => "-0800".into(),
        "PDT" => "-0700".into(),
        "BST" | "CET" | "WEST" => "+0100".into(),
        "CEST" | "EET" | "SAST" => "+0200".into(),
        "EEST" | "MSK" => "+0300".into(),
        "IST" => "+0530".into(),
        "JST" | "KST" => "+0900".into(),
        "AEST" => "+1000".into(),
        "AEDT" => "+1100".into(),
        "NZST" => "+1200".into(),
        "NZDT" => "+1300".into(),
        other if other.starts_with(['+', '-']) => other.replace(':', ""),
        _ => return None,
    };
    let normalized = format!(
        "{} {} {} {} {offset}",
        parts[0], parts[1], parts[2], parts[3]
    );
    DateTime::parse_from_str(&normalized, "%d %b %Y %H:%M:%S %z")
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The body as UTF-8 text. The charset comes from, in order: a byte order mark, the HTTP
/// `Content-Type` charset, the XML declaration; failing all, UTF-16 is recognised by its zero
/// bytes, UTF-8 is assumed, and a body that is not valid UTF-8 is read as Windows-1252 (what
/// browsers do with undeclared Latin text). Bytes that do not decode become U+FFFD, never an
/// error. An XML declaration's encoding is rewritten to UTF-8 to match.
pub fn decode<'a>(body: &'a [u8], http_charset: Option<&str>) -> Cow<'a, str> {
    decode_explained(body, http_charset).0
}

/// As [`decode`], also naming the charset used and where it came from.
pub fn decode_explained<'a>(body: &'a [u8], http_charset: Option<&str>) -> (Cow<'a, str>, String) {
    let known = |label: &str| Encoding::for_label(label.trim().as_bytes());
    let (encoding, from) = if let Some((encoding, _)) = Encoding::for_bom(body) {
        (encoding, "byte order mark")
    } else if let Some(encoding) = http_charset.and_then(known) {
        (encoding, "HTTP Content-Type")
    } else if let Some(encoding) = xml_declared_encoding(body).and_then(known) {
        (encoding, "XML declaration")
    } else {
        match body {
            [b'<', 0, ..] => (encoding_rs::UTF_16LE, "zero bytes, no declaration"),
            [0, b'<', ..] => (encoding_rs::UTF_16BE, "zero bytes, no declaration"),
            _ => match std::str::from_utf8(body) {
                Ok(_) => (encoding_rs::UTF_8, "UTF-8 default"),
                Err(_) => (encoding_rs::WINDOWS_1252, "not UTF-8, none declared"),
            },
        }
    };
    let named = format!("{} (from the {from})", encoding.name());
    // `decode` strips a BOM and replaces what does not decode.
    let (text, _, _) = encoding.decode(body);
    // White space before the declaration is common and makes the document malformed; the
    // declaration's own encoding would make the parser decode the text a second time. The
    // declaration is optional, so it goes, without copying the text.
    let declaration_end = match text.trim_start().strip_prefix("<?xml") {
        Some(rest) if xml_declared_encoding(text.as_bytes()).is_some() => rest
            .find("?>")
            .map_or(0, |end| text.len() - rest.len() + end + 2),
        _ => 0,
    };
    let text = match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[declaration_end..]),
        Cow::Owned(mut text) => {
            text.drain(..declaration_end);
            Cow::Owned(text)
        }
    };
    (without_late_declarations(text), named)
}

/// Drops XML declarations that stand anywhere but at the very start (concatenated documents,
/// junk): they are not well-formed, and quick-xml panics when one names an encoding after the
/// document has begun.
fn without_late_declarations(text: Cow<'_, str>) -> Cow<'_, str> {
    let start = if text.starts_with("<?xml") { 5 } else { 0 };
    if !text[start..].contains("<?xml") {
        return text;
    }
    let mut cleaned = String::with_capacity(text.len());
    cleaned.push_str(&text[..start]);
    let mut rest = &text[start..];
    while let Some(at) = rest.find("<?xml") {
        cleaned.push_str(&rest[..at]);
        rest = match rest[at..].find("?>") {
            Some(end) => &rest[at + end + 2..],
            None => "",
        };
    }
    cleaned.push_str(rest);
    Cow::Owned(cleaned)
}

/// Older and looser dialects that feed-rs does not read, rewritten into the ones it does, so
/// that their items are not lost. Returns the text and, when it was rewritten, the dialect's
/// name for `explain`.
/// - `<rss>` without a version, or with 0.91–0.94: read as RSS 2.0, the superset they grew into
///   (feed-rs reads no version at all, or reads 0.92 items without titles badly).
/// - RSS 0.90, an RDF document in the Netscape namespace: read as RSS 1.0, its successor.
/// - RSS 2.0 in the Userland namespace: the namespace dropped.
/// - Atom 0.3: read in the Atom 1.0 namespace (ids, titles, links and content match).
/// - JSON Feed declared as `http://jsonfeed.org/version/…`: read as the `https` version.
fn repair_dialects(text: Cow<'_, str>) -> (Cow<'_, str>, Option<&'static str>) {
    const REPLACEMENTS: [(&str, &str, &str); 5] = [
        (
            "xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"",
            "xmlns=\"http://purl.org/rss/1.0/\"",
            "RSS 0.90",
        ),
        (
            "xmlns=\"http://channel.netscape.com/rdf/simple/0.9/\"",
            "xmlns=\"http://purl.org/rss/1.0/\"",
            "RSS 0.90",
        ),
        (
            "xmlns=\"http://backend.userland.com/rss2\"",
            "",
            "RSS 2.0 (Userland namespace)",
        ),
        (
            "xmlns=\"http://purl.org/atom/ns#\"",
            "xmlns=\"http://www.w3.org/2005/Atom\"",
            "Atom 0.3",
        ),
        (
            "\"http://jsonfeed.org/version/",
            "\"https://jsonfeed.org/version/",
            "JSON Feed (http version URL)",
        ),
    ];
    // Dialects announce themselves at the top of the document.
    let head_end = text.char_indices().nth(2048).map_or(text.len(), |(i, _)| i);
    let head = &text[..head_end];
    for (from, to, name) in REPLACEMENTS {
        if let Some(at) = head.find(from) {
            let mut fixed = String::with_capacity(text.len());
            fixed.push_str(&text[..at]);
            fixed.push_str(to);
            fixed.push_str(&text[at + from.len()..]);
            return (Cow::Owned(fixed), Some(name));
        }
    }
    match rss_root(head) {
        Some((at, len, version)) if version.as_deref() != Some("2.0") => {
            let name = match version.as_deref() {
                None | Some("") => "RSS (no version)",
                Some("0.91") => "RSS 0.91",
                Some("0.92") => "RSS 0.92",
                Some("0.93") => "RSS 0.93",
                Some("0.94") => "RSS 0.94",
                Some(_) => "RSS (unknown version)",
            };
            let tag = &text[at..at + len];
            let fixed_tag = match version {
                Some(v) => tag.replacen(&format!("\"{v}\""), "\"2.0\"", 1).replacen(
                    &format!("'{v}'"),
                    "'2.0'",
                    1,
                ),
                None => tag.replacen("<rss", "<rss version=\"2.0\"", 1),
            };
            let fixed = format!("{}{fixed_tag}{}", &text[..at], &text[at + len..]);
            (Cow::Owned(fixed), Some(name))
        }
        _ => (text, None),
    }
}

/// Where the root `<rss …>` tag stands (byte offset and length) and its version attribute.
fn rss_root(head: &str) -> Option<(usize, usize, Option<String>)> {
    let mut reader = quick_xml::Reader::from_str(head);
    loop {
        let at = usize::try_from(reader.buffer_position()).ok()?;
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                if e.name().as_ref() != "rss" {
                    return None;
                }
                let end = usize::try_from(reader.buffer_position()).ok()?;
                let version = e
                    .try_get_attribute("version")
                    .ok()
                    .flatten()
                    .map(|a| a.value.trim().to_string());
                // The position may include white space before the tag.
                let start = at + head[at..end].find("<rss")?;
                return Some((start, end - start, version));
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The `encoding` of an XML declaration at the start of `body` (after white space), read as
/// ASCII.
fn xml_declared_encoding(body: &[u8]) -> Option<&str> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = body[start..].strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

fn looks_like_html(text: &str) -> bool {
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
    let document = scraper::Html::parse_document(&text);
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

/// Reads the polling hints RSS feeds put in their channel: `sy:updatePeriod` and
/// `sy:updateFrequency`, `skipHours` and `skipDays`. feed-rs reads `<ttl>` but not these.
/// Stops at the first item: hints live in the channel.
fn scan_hints(text: &str) -> FeedHints {
    let mut hints = FeedHints::default();
    if !text.trim_start().starts_with('<') {
        return hints;
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut period, mut frequency) = (None::<u64>, 1u64);
    let mut current = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().into_inner().to_string();
                if name == "item" || name == "entry" {
                    break;
                }
                current = name;
            }
            Ok(Event::Text(t)) => {
                let value = t.xml10_content().trim().to_ascii_lowercase();
                match current.as_str() {
                    "updatePeriod" => {
                        period = match value.as_str() {
                            "hourly" => Some(3600),
                            "daily" => Some(86_400),
                            "weekly" => Some(7 * 86_400),
                            "monthly" => Some(30 * 86_400),
                            "yearly" => Some(365 * 86_400),
                            _ => period,
                        }
                    }
                    "updateFrequency" => {
                        frequency = value.parse().ok().filter(|f| *f > 0).unwrap_or(1)
                    }
                    "hour" => hints
                        .skip_hours
                        .extend(value.parse::<u32>().ok().filter(|h| *h < 24)),
                    "day" => hints.skip_days.extend(weekday(&value)),
                    _ => {}
                }
            }
            Ok(Event::End(_)) => current.clear(),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    hints.min_interval = period.map(|p| Duration::from_secs(p / frequency));
    hints
}

fn weekday(name: &str) -> Option<u32> {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .position(|d| *d == name)
    .map(|i| i as u32)
}

fn non_empty(s: &str) -> Option<String> {
    let s = strip_controls(s);
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let read = read_feed(xml.as_bytes(), ParseOptions::default()).unwrap();
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
        assert_eq!(chars(&item.categories[0]), 200);
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
        assert_eq!(item.categories, ["science"]);
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

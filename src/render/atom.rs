//! Stored items → an Atom 1.0 document (RFC 4287), written with quick-xml so that escaping is
//! right by construction.

use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use url::Url;
use uuid::Uuid;

use crate::config::OutputConfig;
use crate::model::{Publisher, StoredItem, Text};

pub(super) const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// Renders `items` (newest first) as the Atom feed of `output`.
///
/// The document depends only on the items and the output's settings, never on the clock, so
/// the same items give the same bytes and an unchanged feed is not rewritten.
pub fn render(output: &OutputConfig, items: &[StoredItem]) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let updated = items.iter().map(entry_updated).max().unwrap_or_default();
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .write_inner_content(|w| {
            text(w, "id", &feed_id(output))?;
            text(w, "title", &output.title)?;
            text(w, "updated", &rfc3339(updated))?;
            generator(w)?;
            for stored in items {
                entry(w, stored)?;
            }
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

pub(super) fn generator(w: &mut Writer<Vec<u8>>) -> io::Result<()> {
    w.create_element("generator")
        .with_attribute(("uri", env!("CARGO_PKG_REPOSITORY")))
        .with_attribute(("version", env!("CARGO_PKG_VERSION")))
        .write_text_content(BytesText::new("Tributary"))?;
    Ok(())
}

fn entry(w: &mut Writer<Vec<u8>>, stored: &StoredItem) -> io::Result<()> {
    let item = &stored.item;
    w.create_element("entry").write_inner_content(|w| {
        // Tributary's own id, minted once per item: upstream guid churn never reaches readers.
        text(w, "id", &stored.id)?;
        w.create_element("title")
            .with_attribute(("type", "text"))
            .write_text_content(text_node(item.title.as_deref().unwrap_or_default()))?;
        if let Some(link) = &item.link {
            w.create_element("link")
                .with_attribute(("rel", "alternate"))
                .with_attribute(("href", xml_chars(link).as_str()))
                .write_empty()?;
        }
        if let Some(published) = item.published {
            text(w, "published", &rfc3339(published))?;
        }
        text(w, "updated", &rfc3339(entry_updated(stored)))?;
        if item.authors.is_empty() {
            // RFC 4287 wants an author for every entry; the publisher is the author of record.
            w.create_element("author")
                .write_inner_content(|w| text(w, "name", &stored.publisher.name))?;
        }
        for author in &item.authors {
            w.create_element("author").write_inner_content(|w| {
                text(w, "name", &author.name)?;
                if let Some(uri) = &author.uri {
                    text(w, "uri", uri)?;
                }
                if let Some(email) = &author.email {
                    text(w, "email", email)?;
                }
                Ok(())
            })?;
        }
        if let Some(summary) = &item.summary {
            rich_text(w, "summary", summary)?;
        }
        match &item.content {
            Some(content) => rich_text(w, "content", content)?,
            // An entry without an alternate link must carry content (RFC 4287, 4.1.2).
            None if item.link.is_none() => rich_text(
                w,
                "content",
                &Text {
                    body: String::new(),
                    is_html: false,
                },
            )?,
            None => {}
        }
        source(w, &stored.publisher)
    })?;
    Ok(())
}

/// `atom:source`: who published the item, so readers see where it came from.
fn source(w: &mut Writer<Vec<u8>>, publisher: &Publisher) -> io::Result<()> {
    let feed_url = Url::parse(&publisher.feed_url)
        .ok()
        .filter(|u| u.scheme() == "http" || u.scheme() == "https");
    w.create_element("source").write_inner_content(|w| {
        let id = publisher
            .id
            .as_deref()
            .filter(|id| is_absolute_iri(id))
            .or(feed_url.as_ref().map(Url::as_str));
        if let Some(id) = id {
            text(w, "id", id)?;
        }
        text(w, "title", &publisher.name)?;
        if let Some(site) = &publisher.site {
            w.create_element("link")
                .with_attribute(("rel", "alternate"))
                .with_attribute(("href", xml_chars(site).as_str()))
                .write_empty()?;
        }
        if let Some(url) = &feed_url {
            w.create_element("link")
                .with_attribute(("rel", "self"))
                .with_attribute(("href", url.as_str()))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn rich_text(w: &mut Writer<Vec<u8>>, name: &str, value: &Text) -> io::Result<()> {
    let kind = if value.is_html { "html" } else { "text" };
    w.create_element(name)
        .with_attribute(("type", kind))
        .write_text_content(text_node(&value.body))?;
    Ok(())
}

/// Text content, XML-safe, with only `<`, `>` and `&` escaped: quotes need no escaping outside
/// attributes, and leaving them keeps the feed readable.
pub(super) fn text_node(s: &str) -> BytesText<'static> {
    BytesText::from_escaped(quick_xml::escape::partial_escape(xml_chars(s)).into_owned())
}

pub(super) fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(text_node(value))?;
    Ok(())
}

/// A stable id for the merged feed, from its path as written in the config.
fn feed_id(output: &OutputConfig) -> String {
    let name = format!("tributary:output:{}", output.path_as_written);
    Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
        .urn()
        .to_string()
}

fn entry_updated(stored: &StoredItem) -> DateTime<Utc> {
    let item = &stored.item;
    item.updated.or(item.published).unwrap_or(stored.first_seen)
}

fn is_absolute_iri(s: &str) -> bool {
    !s.chars().any(char::is_whitespace) && Url::parse(s).is_ok()
}

pub(super) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Drops the characters XML 1.0 forbids (most control characters), which publishers do send
/// and which would make the whole merged feed unreadable.
fn xml_chars(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

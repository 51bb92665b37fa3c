//! Stored items → an Atom 1.0 document (RFC 4287).

use std::io;

use quick_xml::Writer;
use url::Url;

use super::xml::{document, empty, finish, generator, rfc3339, text, text_node};
use super::{FeedInfo, MEDIA_NS, entry_updated, http_url};
use crate::model::{ItemLink, Publisher, StoredItem, Text};
use crate::sanitize::web_url;

/// The Atom 1.0 namespace.
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// Renders `items` (newest first) as an Atom feed.
pub fn render(info: &FeedInfo<'_>, items: &[StoredItem]) -> io::Result<Vec<u8>> {
    let mut w = document()?;
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .with_attribute(("xmlns:media", MEDIA_NS))
        .write_inner_content(|w| {
            text(w, "id", &info.id)?;
            text(w, "title", info.title)?;
            text(w, "updated", &rfc3339(info.updated))?;
            empty(w, "link", &[("rel", "self"), ("href", &info.self_href)])?;
            if let Some(hub) = info.hub {
                empty(w, "link", &[("rel", "hub"), ("href", hub.as_str())])?;
            }
            if let Some(home) = info.home {
                empty(w, "link", &[("rel", "alternate"), ("href", home.as_str())])?;
            }
            generator(w, true)?;
            for stored in items {
                entry(w, stored)?;
            }
            Ok(())
        })?;
    Ok(finish(w))
}

fn entry(w: &mut Writer<Vec<u8>>, stored: &StoredItem) -> io::Result<()> {
    let item = &stored.item;
    w.create_element("entry").write_inner_content(|w| {
        // Tributary's own id, minted once per item: upstream guid churn never reaches readers.
        text(w, "id", &stored.id)?;
        w.create_element("title")
            .with_attribute(("type", "text"))
            .write_text_content(text_node(item.title.as_deref().unwrap_or_default()))?;
        links(w, stored)?;
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
        for category in &item.categories {
            let mut attributes = vec![("term", category.term.as_str())];
            attributes.extend(category.scheme.as_deref().map(|s| ("scheme", s)));
            attributes.extend(category.label.as_deref().map(|l| ("label", l)));
            empty(w, "category", &attributes)?;
        }
        if let Some(image) = &item.image {
            empty(w, "media:thumbnail", &[("url", image)])?;
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

/// An entry's links: its page, its own other links, the other publishers' versions of its
/// story (`related`), its enclosures.
fn links(w: &mut Writer<Vec<u8>>, stored: &StoredItem) -> io::Result<()> {
    let item = &stored.item;
    if let Some(link) = &item.link {
        let mut attributes = vec![("rel", "alternate"), ("href", link.as_str())];
        attributes.extend(item.link_title.as_deref().map(|t| ("title", t)));
        empty(w, "link", &attributes)?;
    }
    for link in &item.links {
        other_link(w, "link", link)?;
    }
    // The other publishers' versions of its story.
    for version in stored.also_reported() {
        if let Some(href) = version.link.as_deref().and_then(web_url) {
            let attributes = [
                ("rel", "related"),
                ("href", href),
                ("title", &version.publisher),
            ];
            empty(w, "link", &attributes)?;
        }
    }
    for enclosure in &item.enclosures {
        let length = enclosure.length.map(|l| l.to_string());
        let mut attributes = vec![("rel", "enclosure"), ("href", enclosure.url.as_str())];
        attributes.extend(enclosure.mime_type.as_deref().map(|t| ("type", t)));
        attributes.extend(length.as_deref().map(|l| ("length", l)));
        empty(w, "link", &attributes)?;
    }
    Ok(())
}

/// An `atom:link` (written as `name`) of an item's beside its page and enclosures: related,
/// via, license, replies, ….
pub(super) fn other_link(w: &mut Writer<Vec<u8>>, name: &str, link: &ItemLink) -> io::Result<()> {
    let mut attributes = vec![("rel", link.rel.as_str()), ("href", link.href.as_str())];
    attributes.extend(link.media_type.as_deref().map(|t| ("type", t)));
    attributes.extend(link.title.as_deref().map(|t| ("title", t)));
    empty(w, name, &attributes)
}

/// `atom:source`: who published the item, so readers see where it came from.
fn source(w: &mut Writer<Vec<u8>>, publisher: &Publisher) -> io::Result<()> {
    let feed_url = http_url(&publisher.feed_url);
    w.create_element("source").write_inner_content(|w| {
        let id = publisher
            .id
            .as_deref()
            .filter(|id| is_inert_id(id))
            .or(feed_url.as_ref().map(Url::as_str));
        if let Some(id) = id {
            text(w, "id", id)?;
        }
        text(w, "title", &publisher.name)?;
        if let Some(site) = &publisher.site {
            empty(w, "link", &[("rel", "alternate"), ("href", site)])?;
        }
        if let Some(url) = &feed_url {
            empty(w, "link", &[("rel", "self"), ("href", url.as_str())])?;
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

/// Whether a publisher's feed id may stand as `atom:id`: an absolute IRI that readers which
/// follow ids as links may follow safely (http, https), or that names without locating (urn,
/// tag).
fn is_inert_id(s: &str) -> bool {
    !s.chars().any(char::is_whitespace)
        && Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "urn" | "tag"))
}

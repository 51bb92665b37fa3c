//! Stored items → an RSS 2.0 document, with `atom:link`, `content:encoded`, `dc:creator`,
//! `media:thumbnail` and `<source>` naming each item's publisher.

use std::io;

use quick_xml::Writer;

use super::atom::ATOM_NS;
use super::xml::{document, empty, finish, generator, text, text_node};
use super::{FeedInfo, MEDIA_NS, http_url};
use crate::model::StoredItem;

/// Renders `items` (newest first) as an RSS 2.0 feed.
pub fn render(info: &FeedInfo<'_>, items: &[StoredItem]) -> io::Result<Vec<u8>> {
    let mut w = document()?;
    w.create_element("rss")
        .with_attribute(("version", "2.0"))
        .with_attribute(("xmlns:atom", ATOM_NS))
        .with_attribute(("xmlns:content", "http://purl.org/rss/1.0/modules/content/"))
        .with_attribute(("xmlns:dc", "http://purl.org/dc/elements/1.1/"))
        .with_attribute(("xmlns:media", MEDIA_NS))
        .write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                text(w, "title", info.title)?;
                if let Some(link) = info.home.or(info.self_url.as_ref()) {
                    text(w, "link", link.as_str())?;
                }
                text(w, "description", info.title)?;
                text(w, "lastBuildDate", &info.updated.to_rfc2822())?;
                generator(w, false)?;
                if let Some(url) = &info.self_url {
                    let attributes = [
                        ("rel", "self"),
                        ("type", "application/rss+xml"),
                        ("href", url.as_str()),
                    ];
                    empty(w, "atom:link", &attributes)?;
                }
                if let Some(hub) = info.hub {
                    empty(w, "atom:link", &[("rel", "hub"), ("href", hub.as_str())])?;
                }
                for stored in items {
                    item(w, stored)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(finish(w))
}

fn item(w: &mut Writer<Vec<u8>>, stored: &StoredItem) -> io::Result<()> {
    let item = &stored.item;
    w.create_element("item").write_inner_content(|w| {
        if let Some(title) = &item.title {
            text(w, "title", title)?;
        }
        if let Some(link) = &item.link {
            text(w, "link", link)?;
        }
        // RSS has no place for them; Atom's link element, in its namespace, is read by readers.
        for link in &item.links {
            super::atom::other_link(w, "atom:link", link)?;
        }
        // Tributary's minted id is a URN, not a page: not a permalink.
        w.create_element("guid")
            .with_attribute(("isPermaLink", "false"))
            .write_text_content(text_node(&stored.id))?;
        if let Some(published) = item.published.or(item.updated) {
            text(w, "pubDate", &published.to_rfc2822())?;
        }
        let creators: Vec<&str> = item.authors.iter().map(|a| a.name.as_str()).collect();
        let creator = if creators.is_empty() {
            stored.publisher.name.clone()
        } else {
            creators.join(", ")
        };
        text(w, "dc:creator", &creator)?;
        for category in &item.categories {
            let domain = category.scheme.as_deref().map(|s| ("domain", s));
            w.create_element("category")
                .with_attributes(domain)
                .write_text_content(text_node(&category.term))?;
        }
        // The summary, else the content, is the description; full content goes in
        // content:encoded. RSS descriptions are HTML: plain text is escaped into it.
        let description = item.summary.as_ref().or(item.content.as_ref());
        if let Some(description) = description {
            let html = if description.is_html {
                description.body.clone()
            } else {
                quick_xml::escape::escape(description.body.as_str()).into_owned()
            };
            text(w, "description", &html)?;
        }
        if let Some(content) = item.content.as_ref().filter(|c| c.is_html) {
            text(w, "content:encoded", &content.body)?;
        }
        enclosures(w, item)?;
        if let Some(image) = &item.image {
            empty(w, "media:thumbnail", &[("url", image)])?;
        }
        match http_url(&stored.publisher.feed_url) {
            Some(url) => {
                w.create_element("source")
                    .with_attribute(("url", url.as_str()))
                    .write_text_content(text_node(&stored.publisher.name))?;
            }
            // <source> needs a URL; a feed read from disk is named in dc:publisher instead.
            None => text(w, "dc:publisher", &stored.publisher.name)?,
        }
        Ok(())
    })?;
    Ok(())
}

/// RSS allows one enclosure per item; the rest go as Media RSS content.
fn enclosures(w: &mut Writer<Vec<u8>>, item: &crate::model::Item) -> io::Result<()> {
    for (index, enclosure) in item.enclosures.iter().enumerate() {
        let length = enclosure.length.unwrap_or(0).to_string();
        let mime = enclosure
            .mime_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        let attributes = [
            ("url", enclosure.url.as_str()),
            ("length", length.as_str()),
            ("type", mime),
        ];
        if index == 0 {
            empty(w, "enclosure", &attributes)?;
        } else {
            let media = [
                ("url", attributes[0].1),
                ("fileSize", attributes[1].1),
                ("type", mime),
            ];
            empty(w, "media:content", &media)?;
        }
    }
    Ok(())
}

//! One feed-rs entry → Tributary's item: its texts not yet cleaned, its URLs checked, its
//! identity key, and what its texts' relative URLs resolve against.

use std::collections::HashSet;

use feed_rs::model::{Entry, Link, MediaObject, Person, Text as FeedText};
use url::Url;

use super::xml_base::DeclaredBases;
use crate::identity::identity_key;
use crate::model::{Author, Category, Enclosure, Item, ItemLink, Text};
use crate::sanitize::{fit_to_publish, fold_whitespace, html_to_text, strip_controls, web_url};

/// What the relative URLs in an item's summary and content resolve against.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct TextBases {
    pub(super) summary: Option<Url>,
    pub(super) content: Option<Url>,
}

/// An item, its texts not yet cleaned; the base URLs they resolve against; and the URLs left
/// out of it because a reader could not safely follow them.
pub(super) type Normalized = (Item, TextBases, Vec<&'static str>);

/// An entry as Tributary's item (see [`Normalized`]).
pub(super) fn normalize_entry(
    entry: &Entry,
    feed_base: Option<&Url>,
    declared: Option<&DeclaredBases>,
) -> Normalized {
    // Media RSS and iTunes give a title and a description of their own (a video's, an
    // episode's): used where the item has none.
    let media_text =
        |field: fn(&MediaObject) -> Option<&FeedText>| entry.media.iter().find_map(field);
    let summary = entry
        .summary
        .as_ref()
        .or_else(|| media_text(|m| m.description.as_ref()))
        .map(|t| Text {
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
        aliases: Vec::new(),
        guid: non_empty(&entry.id),
        link: alternate_link(&entry.links),
        link_title: alternate(&entry.links).and_then(|l| text(l.title.as_deref())),
        links: other_links(&entry.links),
        title: entry
            .title
            .as_ref()
            .or_else(|| media_text(|m| m.title.as_ref()))
            .and_then(plain_text),
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

    let bases = text_bases(entry, &item, feed_base, declared);
    (item, bases, dropped)
}

/// The base URLs an item's texts resolve their relative URLs against.
fn text_bases(
    entry: &Entry,
    item: &Item,
    feed_base: Option<&Url>,
    declared: Option<&DeclaredBases>,
) -> TextBases {
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
    TextBases {
        summary: in_scope(declared.map(|d| &d.summary)),
        content: content_base,
    }
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

/// The item's categories, each once, with their schemes and labels.
fn categories(entry: &Entry) -> Vec<Category> {
    let mut seen = HashSet::new();
    entry
        .categories
        .iter()
        .filter_map(|c| {
            let category = Category {
                term: fold_whitespace(&c.term),
                scheme: text(c.scheme.as_deref()),
                label: text(c.label.as_deref()),
            };
            (!category.term.is_empty() && seen.insert(category.clone())).then_some(category)
        })
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

/// The people credited, each once: a feed that names its author both as `<author>` and as
/// `dc:creator` names one person.
pub(super) fn authors(people: &[Person]) -> Vec<Author> {
    let mut seen = HashSet::new();
    people
        .iter()
        .filter_map(|p| {
            // A person the feed names only by address or page is shown by it.
            let name = p
                .name
                .as_deref()
                .or(p.email.as_deref())
                .or(p.uri.as_deref())
                .map(fold_whitespace)
                .filter(|n| !n.is_empty())?;
            seen.insert(name.clone()).then(|| Author {
                name,
                uri: p.uri.as_deref().and_then(non_empty),
                email: p.email.as_deref().and_then(non_empty),
            })
        })
        .collect()
}

/// The link to the item's (or feed's) own page: `alternate` or unlabelled, never `self`,
/// `enclosure`, an RSS `<comments>` page and the like.
pub(super) fn alternate_link(links: &[Link]) -> Option<String> {
    alternate(links).and_then(|l| non_empty(&l.href))
}

fn alternate(links: &[Link]) -> Option<&Link> {
    links.iter().find(|l| is_alternate(l))
}

fn is_alternate(link: &Link) -> bool {
    link.target.is_none() && link.rel.as_deref().is_none_or(|r| r == "alternate")
}

/// An item's links beside its own page and enclosures, each once: related documents, `via`,
/// `license`, its comments (RSS `<comments>` and `wfw:commentRss` as `replies`). Not `self`
/// and `edit`, which name the publisher's copy of the entry, not something a reader follows.
fn other_links(links: &[Link]) -> Vec<ItemLink> {
    let mut seen = HashSet::new();
    links
        .iter()
        .filter(|l| !is_alternate(l) && !l.href.trim().is_empty())
        .filter_map(|l| {
            let rel = match (&l.target, l.rel.as_deref()) {
                (Some(_), _) => "replies".to_string(),
                (None, Some(rel)) => rel.trim().to_string(),
                (None, None) => return None,
            };
            if matches!(
                rel.as_str(),
                "enclosure" | "self" | "edit" | "edit-media" | ""
            ) {
                return None;
            }
            let link = ItemLink {
                href: l.href.trim().to_string(),
                rel,
                media_type: text(l.media_type.as_deref()),
                title: text(l.title.as_deref()),
            };
            seen.insert((link.href.clone(), link.rel.clone()))
                .then_some(link)
        })
        .collect()
}

/// A short text as one line, if anything is left of it.
fn text(s: Option<&str>) -> Option<String> {
    s.map(fold_whitespace).filter(|t| !t.is_empty())
}

/// A title-like text as plain text, whatever markup the feed wrapped it in.
pub(super) fn plain_text(text: &FeedText) -> Option<String> {
    let plain = if is_html(text.content_type.subty().as_str()) {
        html_to_text(&text.content)
    } else {
        fold_whitespace(&text.content)
    };
    (!plain.is_empty()).then_some(plain)
}

/// Whether a media subtype is HTML or XHTML; any other text is shown as plain text.
pub(super) fn is_html(subtype: &str) -> bool {
    subtype.contains("html")
}

pub(super) fn non_empty(s: &str) -> Option<String> {
    let s = strip_controls(s);
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

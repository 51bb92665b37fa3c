use crate::model::{Category, Entry, Episode, Link, LinkTarget, Person, Season, Text};
use crate::parser::util::if_some_then;
use crate::parser::{ParseFeedResult, Parser};
use crate::xml::{Element, NS};
use chrono::{DateTime, Utc};
use std::io::BufRead;

/// Handles <content:encoded>
pub(crate) fn handle_encoded<R: BufRead>(element: Element<R>) -> ParseFeedResult<Option<Text>> {
    Ok(element.child_as_text().map(Text::html))
}

// Handles episode elements in the Podcast or iTunes namespace
pub fn handle_episode<R: BufRead>(element: Element<R>) -> Option<Episode> {
    element.child_as_text().and_then(|n| n.parse().ok()).map(|number| Episode {
        display: element.attr_value("display"),
        number,
    })
}

// Handles <link>
pub(crate) fn handle_link<R: BufRead>(target: Option<LinkTarget>, element: Element<R>) -> Option<Link> {
    element.child_as_text().map(|s| {
        let mut link = Link::new(s, element.xml_base.as_ref());
        link.target = target;
        link
    })
}

// Handles season elements in the Podcast or iTunes namespace
pub fn handle_season<R: BufRead>(element: Element<R>) -> Option<Season> {
    element.child_as_text().and_then(|n| n.parse().ok()).map(|number| Season {
        name: element.attr_value("name"),
        number,
    })
}

// Handles <title>, <description> etc
pub(crate) fn handle_text<R: BufRead>(element: Element<R>) -> Option<Text> {
    element.child_as_text().map(Text::new)
}

/// Handles date/time
pub(crate) fn handle_timestamp<R: BufRead>(parser: &Parser, element: Element<R>) -> Option<DateTime<Utc>> {
    if let Some(text) = element.child_as_text() {
        parser.parse_timestamp(&text)
    } else {
        None
    }
}

/// TRIBUTARY PATCH: an RSS item's HTML text (`<description>`): its source, whether the markup
/// was escaped, in CDATA or written inline. Was: only the first run of text, so inline markup
/// was lost.
pub(crate) fn handle_html<R: BufRead>(element: Element<R>) -> ParseFeedResult<Option<Text>> {
    Ok(Some(Text::html(element.children_as_source()?)))
}

/// TRIBUTARY PATCH: Dublin Core (and DC terms) on an RSS 1.0 or 2.0 item, each used where the
/// core element is missing: `dc:title`, `dc:description`, `dc:creator` (and the common
/// `dc:author`), `dc:subject` as a category, `dc:date` and `dcterms:issued` as the publication
/// date, `dcterms:modified` as the update, `dc:rights`.
pub(crate) fn handle_dublin_core_item<R: BufRead>(parser: &Parser, entry: &mut Entry, element: Element<R>) -> ParseFeedResult<()> {
    match element.ns_and_tag() {
        (NS::DublinCore, "title") if entry.title.is_none() => entry.title = handle_text(element),
        (NS::DublinCore, "description") if entry.summary.is_none() => entry.summary = handle_html(element)?,
        (NS::DublinCore, "creator" | "author") => if_some_then(element.child_as_text(), |name| entry.authors.push(Person::parse(&name).role("creator"))),
        (NS::DublinCore, "subject") => if_some_then(element.child_as_text(), |term| entry.categories.push(Category::new(term.trim()))),
        (NS::DublinCore, "date") | (NS::DublinCoreTerms, "issued") if entry.published.is_none() => entry.published = handle_timestamp(parser, element),
        (NS::DublinCoreTerms, "modified") if entry.updated.is_none() => entry.updated = handle_timestamp(parser, element),
        (NS::DublinCore, "rights") => entry.rights = handle_text(element),
        _ => {}
    }
    Ok(())
}

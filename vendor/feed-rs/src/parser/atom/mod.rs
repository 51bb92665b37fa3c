use std::io::BufRead;

use mediatype::{MediaTypeBuf, names};

use crate::model::LinkTarget::CommentsFeed;
use crate::model::{Category, Content, Entry, Feed, FeedType, Generator, Image, Link, Person, Text};
use crate::parser::util;
use crate::parser::util::if_some_then;
use crate::parser::ParseFeedResult;
use crate::parser::{Parser, common, rss2};
use crate::xml::{Element, NS};


/// Parses an Atom feed into our model
pub(crate) fn parse_feed<R: BufRead>(parser: &Parser, root: Element<R>) -> ParseFeedResult<Feed> {
    let mut feed = Feed::new(FeedType::Atom);

    // Extract top-level info
    feed.language = handle_language_attr(&root);

    for child in root.children() {
        let child = child?;
        match child.ns_and_tag() {
            (NS::Atom, "id") => if_some_then(child.child_as_text(), |id| feed.id = id),

            (NS::Atom, "title") => feed.title = handle_text(child)?,

            (NS::Atom, "updated") => if_some_then(child.child_as_text(), |text| feed.updated = parser.parse_timestamp(&text)),

            (NS::Atom, "author") => if_some_then(handle_person("author", child)?, |person| feed.authors.push(person)),

            (NS::Atom, "link") => if_some_then(handle_link(child), |link| feed.links.push(link)),

            (NS::Atom, "category") => if_some_then(handle_category(child), |category| feed.categories.push(category)),

            (NS::Atom, "contributor") => if_some_then(handle_person("contributor", child)?, |person| feed.contributors.push(person)),

            (NS::Atom, "generator") => feed.generator = handle_generator(child),

            (NS::Atom, "icon") => feed.icon = handle_image(child),

            (NS::Atom, "logo") => feed.logo = handle_image(child),

            (NS::Atom, "rights") => feed.rights = handle_text(child)?,

            (NS::Atom, "subtitle") => feed.description = handle_text(child)?,

            (NS::Atom, "entry") => if_some_then(handle_entry(parser, child)?, |entry| feed.entries.push(entry)),

            // Nothing required for unknown elements
            _ => {}
        }
    }

    Ok(feed)
}

/// Parses an Atom entry into our model
///
/// Note that the entry is wrapped in an empty Feed to keep the API consistent
pub(crate) fn parse_entry<R: BufRead>(parser: &Parser, root: Element<R>) -> ParseFeedResult<Feed> {
    let mut feed = Feed::new(FeedType::Atom);

    if_some_then(handle_entry(parser, root)?, |entry| feed.entries.push(entry));

    Ok(feed)
}

// Handles "xml:base" as an attribute (e.g. in Atom feeds)
fn handle_base_attr<R: BufRead>(element: &Element<R>) -> Option<String> {
    element.attr_value("xml:base")
}

// Handles an Atom <category>
fn handle_category<R: BufRead>(element: Element<R>) -> Option<Category> {
    // Always need a term
    if let Some(term) = element.attr_value("term") {
        let mut category = Category::new(&term);

        for attr in element.attributes {
            match attr.name.as_str() {
                "scheme" => category.scheme = Some(attr.value.clone()),
                "label" => category.label = Some(attr.value.clone()),

                // Nothing required for unknown attributes
                _ => {}
            }
        }

        Some(category)
    } else {
        // A missing category isn't fatal
        None
    }
}

// Handles an Atom <content> element
fn handle_content<R: BufRead>(element: Element<R>) -> ParseFeedResult<Option<Content>> {
    // Extract the content type so we can parse the body
    let content_type = element.attr_value("type");

    // TRIBUTARY PATCH: content with `src` is a link out, whatever its type says; a type that
    // is not a media type reads as HTML, and text inside such an element is read as inline
    // content. Was: either failed the whole feed.
    if let Some(src) = element.attr_value("src") {
        let inline = element.children_as_source()?;
        if !inline.trim().is_empty() {
            let html = content_type.as_deref().is_some_and(|ct| ct.contains("html"));
            let text = if html { Text::html(inline) } else { Text::new(inline) };
            return Ok(Some(Content {
                body: Some(text.content),
                content_type: text.content_type,
                ..Default::default()
            }));
        }
        let mime = content_type
            .as_deref()
            .and_then(|ct| ct.parse::<MediaTypeBuf>().ok())
            .unwrap_or_else(|| MediaTypeBuf::new(names::TEXT, names::HTML));

        let content = Content {
            body: None,
            content_type: mime,
            src: Some(Link {
                href: src,
                target: None,
                rel: None,
                media_type: content_type,
                href_lang: None,
                title: None,
                length: None,
            }),
            ..Default::default()
        };

        return Ok(Some(content));
    }

    // TRIBUTARY PATCH: content of any type is read as a text construct (text, HTML, XHTML, XML
    // or base64, Atom 0.3's `mode` included); no type refuses the feed, and empty content is
    // empty. Was: an unknown type or empty content failed the whole feed.
    Ok(handle_text(element)?.map(|text| Content {
        body: Some(text.content),
        content_type: text.content_type,
        ..Default::default()
    }))
}

// Handles an Atom <entry>
fn handle_entry<R: BufRead>(parser: &Parser, element: Element<R>) -> ParseFeedResult<Option<Entry>> {
    // Note we have started a new MediaRSS entry scope
    parser.mediarss.entry_begin();

    // Parse the entry
    let mut entry = Entry::default();
    for child in element.children() {
        let child = child?;
        match child.ns_and_tag() {
            // Extract the fields from the spec
            (NS::Atom, "id") => if_some_then(child.child_as_text(), |id| entry.id = id),

            (NS::Atom, "title") => entry.title = handle_text(child)?,

            (NS::Atom, "updated") => if_some_then(child.child_as_text(), |text| entry.updated = parser.parse_timestamp(&text)),

            (NS::Atom, "author") => if_some_then(handle_person("author", child)?, |person| entry.authors.push(person)),

            (NS::Atom, "content") => {
                entry.base = handle_base_attr(&child);
                entry.language = handle_language_attr(&child);
                entry.content = handle_content(child)?;
            }

            (NS::Atom, "link") => if_some_then(handle_link(child), |link| entry.links.push(link)),

            (NS::Atom, "summary") => entry.summary = handle_text(child)?,

            (NS::Atom, "category") => if_some_then(handle_category(child), |category| entry.categories.push(category)),

            (NS::Atom, "contributor") => if_some_then(handle_person("contributor", child)?, |person| entry.contributors.push(person)),

            // Some feeds have "pubDate" instead of "published"
            (NS::Atom, "published") | (NS::Atom, "pubDate") => if_some_then(child.child_as_text(), |text| entry.published = parser.parse_timestamp(&text)),

            (NS::Atom, "rights") => entry.rights = handle_text(child)?,

            // TRIBUTARY PATCH: Atom 0.3's dates, where 1.0's are absent.
            (NS::Atom, "issued") if entry.published.is_none() => if_some_then(child.child_as_text(), |text| entry.published = parser.parse_timestamp(&text)),
            (NS::Atom, "modified") if entry.updated.is_none() => if_some_then(child.child_as_text(), |text| entry.updated = parser.parse_timestamp(&text)),

            // According to https://validator.w3.org/feed/docs/warning/CommentRSS.html we need to support both
            (NS::WellFormedWebComments, "commentRss") | (NS::WellFormedWebComments, "commentRSS") => {
                if_some_then(common::handle_link(Some(CommentsFeed), child), |link| entry.links.push(link))
            }

            // TRIBUTARY PATCH: Media RSS categories are the entry's categories too.
            (NS::MediaRSS, "category") => if_some_then(rss2::handle_media_category(child), |category| entry.categories.push(category)),

            // Handle MediaRSS elements
            (NS::MediaRSS, _) => parser.mediarss.handle_entry_mediarss_element(child)?,

            // Nothing required for unknown elements
            _ => {}
        }
    }

    // Handle completion of an entry, potentially emitting media objects if we've found them along the way
    parser.mediarss.entry_end(&mut entry);

    Ok(Some(entry))
}

// Handles an Atom <generator>
fn handle_generator<R: BufRead>(element: Element<R>) -> Option<Generator> {
    element.child_as_text().map(|content| {
        let mut generator = Generator::new(&content);

        for attr in element.attributes {
            match attr.name.as_str() {
                "uri" => generator.uri = Some(attr.value.clone()),
                "version" => generator.version = Some(attr.value.clone()),
                // Nothing required for unknown attributes
                _ => {}
            }
        }

        generator
    })
}

// Handles an Atom <icon> or <logo>
fn handle_image<R: BufRead>(element: Element<R>) -> Option<Image> {
    element
        .child_as_text()
        .map(|raw_uri| {
            util::parse_uri(&raw_uri, element.xml_base.as_ref())
                .map(|parsed| parsed.to_string())
                .unwrap_or(raw_uri)
        })
        .map(Image::new)
}

// Handles "xml:lang" as an attribute (e.g. in Atom feeds)
fn handle_language_attr<R: BufRead>(element: &Element<R>) -> Option<String> {
    element.attr_value("xml:lang")
}

// Handles an Atom <link>
pub(crate) fn handle_link<R: BufRead>(element: Element<R>) -> Option<Link> {
    // Always need an href
    element.attr_value("href").map(|href| {
        let mut link = Link::new(href, element.xml_base.as_ref());

        for attr in element.attributes {
            match attr.name.as_str() {
                "rel" => link.rel = Some(attr.value.clone()),
                "type" => link.media_type = Some(attr.value.clone()),
                "hreflang" => link.href_lang = Some(attr.value.clone()),
                "title" => link.title = Some(attr.value.clone()),
                "length" => link.length = attr.value.parse::<u64>().ok(),

                // Nothing required for unrecognised attributes
                _ => {}
            }
        }

        // Default "rel" to "alternate" if not set
        if link.rel.is_none() {
            link.rel = Some(String::from("alternate"));
        }

        link
    })
}

// Handles an Atom <author> or <contributor>
fn handle_person<R: BufRead>(role: &str, element: Element<R>) -> ParseFeedResult<Option<Person>> {
    let mut maybe_name = None;
    let mut maybe_uri = None;
    let mut maybe_email = None;
    for child in element.children() {
        let child = child?;
        let tag_name = child.name.as_str();
        let child_text = child.child_as_text();
        match (tag_name, child_text) {
            // Extract the fields from the spec
            ("name", Some(name)) => maybe_name = Some(name),
            // TRIBUTARY PATCH: Atom 0.3 wrote `url` (and `homepage`); a relative URI resolves
            // against the base in scope, as every other link does (an absolute one is kept as
            // written).
            ("uri" | "url" | "homepage", Some(uri)) => {
                let relative = matches!(url::Url::parse(uri.trim()), Err(url::ParseError::RelativeUrlWithoutBase));
                let resolved = relative.then(|| util::parse_uri(&uri, child.xml_base.as_ref())).flatten();
                maybe_uri = Some(resolved.map_or(uri, |u| u.to_string()))
            }
            ("email", email) => maybe_email = email,

            // Nothing required for unknown elements
            _ => {}
        }
    }

    // Need either a name or an email
    // TRIBUTARY PATCH: or a URI, which is then all that names them.
    let person = if maybe_name.is_some() || maybe_email.is_some() || maybe_uri.is_some() {
        let mut person = Person::empty();
        person.name = maybe_name;
        person.email = maybe_email;
        person.role = Some(role.into());
        person.uri = maybe_uri;
        Some(person)
    } else {
        None
    };

    Ok(person)
}

// Directly handles an Atom <title>, <summary>, <rights> or <subtitle> element
//
// TRIBUTARY PATCH: every `type` is read, and Atom 0.3's `mode`; none refuses the feed. Was:
// anything but text, html, text/html and xhtml failed the whole feed, as did an empty element.
// - "xhtml", or an XHTML media type not escaped (Atom 0.3 inline markup): the children as XHTML;
// - base64 (Atom 0.3 `mode="base64"`, or an Atom 1.0 media type that is neither text nor XML):
//   decoded, HTML when the type names HTML, else plain text;
// - a type naming HTML ("html", "text/html", Atom 0.3 "escaped" HTML): HTML source, with any
//   markup written inline serialized in place;
// - anything else, an empty or unknown type included: plain text, any markup in it kept as text.
pub(crate) fn handle_text<R: BufRead>(element: Element<R>) -> ParseFeedResult<Option<Text>> {
    let type_attr = element.attr_value("type").unwrap_or_default().trim().to_ascii_lowercase();
    let mode = element.attr_value("mode").unwrap_or_default().trim().to_ascii_lowercase();
    let names_html = type_attr.contains("html");
    let html = || MediaTypeBuf::new(names::TEXT, names::HTML);
    let plain = || MediaTypeBuf::new(names::TEXT, names::PLAIN);

    let text = if type_attr == "xhtml" || (names_html && type_attr.contains("xml") && mode != "escaped" && mode != "base64") {
        Text {
            content_type: MediaTypeBuf::new(names::APPLICATION, names::XHTML),
            ..Text::new(element.children_as_xhtml(type_attr == "xhtml")?.unwrap_or_default())
        }
    } else if mode == "base64" || is_base64_type(&type_attr) {
        let encoded = element.children_as_source()?;
        let decoded = base64_text(&encoded).unwrap_or(encoded);
        Text {
            content_type: if names_html { html() } else { plain() },
            ..Text::new(decoded)
        }
    } else {
        Text {
            content_type: if names_html { html() } else { plain() },
            ..Text::new(element.children_as_source()?)
        }
    };
    Ok(Some(text))
}

/// Whether an Atom 1.0 text of this media type is base64 (RFC 4287, 4.1.3.3): neither one of
/// the three text construct types, nor text/*, nor XML.
fn is_base64_type(type_attr: &str) -> bool {
    type_attr.contains('/') && !type_attr.starts_with("text/") && !type_attr.ends_with("+xml") && !type_attr.ends_with("/xml")
}

/// Base64 text (white space allowed anywhere in it) decoded as UTF-8, if it is.
fn base64_text(encoded: &str) -> Option<String> {
    use base64::Engine;
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(compact).ok()?;
    String::from_utf8(bytes).ok()
}

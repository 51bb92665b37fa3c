use std::io::Read;

use mediatype::{MediaTypeBuf, names};

use crate::model::{Category, Content, Entry, Feed, FeedType, Image, Link, Person, Text};
use crate::parser::util::if_some_then;
use crate::parser::{ParseFeedError, ParseFeedResult, Parser};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;


/// Parses a JSON feed into our model
pub(crate) fn parse<R: Read>(parser: &Parser, stream: R) -> ParseFeedResult<Feed> {
    let parsed = serde_json::from_reader(stream);
    if let Ok(json_feed) = parsed {
        convert(parser, json_feed)
    } else {
        // Unable to parse the JSON
        Err(ParseFeedError::JsonSerde(parsed.err().unwrap()))
    }
}

// Convert the JSON Feed into our standard model
fn convert(parser: &Parser, jf: JsonFeed) -> ParseFeedResult<Feed> {
    let mut feed = Feed::new(FeedType::JSON);

    // If the version exists, it should be something we support
    if !jf.version.starts_with("https://jsonfeed.org/version/1") {
        return ParseFeedResult::Err(ParseFeedError::JsonUnsupportedVersion(jf.version));
    }

    // Convert feed level fields
    feed.title = jf.title.map(Text::new);

    if_some_then(jf.home_page_url, |uri| feed.links.push(Link::new(uri, None)));

    if_some_then(jf.feed_url, |uri| feed.links.push(Link::new(uri, None)));

    if_some_then(jf.description, |text| feed.description = Some(Text::new(text)));

    if_some_then(jf.icon, |uri| feed.logo = Some(Image::new(uri)));

    if_some_then(jf.language, |language| feed.language = Some(language));

    if_some_then(jf.favicon, |uri| feed.icon = Some(Image::new(uri)));

    handle_authors(&mut feed.authors, &jf.author, &jf.authors);

    // Convert items within the JSON feed
    jf.items.unwrap_or_default().into_iter().for_each(|ji| {
        feed.entries.push(handle_item(parser, ji));
    });

    // Per the spec, any items without an author inherit the feed
    if !feed.authors.is_empty() {
        feed.entries.iter_mut().for_each(|entry| {
            if entry.authors.is_empty() {
                entry.authors.append(&mut feed.authors.clone());
            }
        });
    }

    Ok(feed)
}

fn accumulate_author(authors: &mut Vec<Person>, ja: &JsonAuthor) {
    // Only add if we haven't already seen this person
    if let Some(name) = &ja.name {
        if !authors.iter().any(|a| a.name.is_some() && a.name.as_ref().unwrap() == name) {
            let mut person = Person::parse(name).role("author");
            person.uri.clone_from(&ja.url);

            authors.push(person);
        }
    }
}

// Handles an attachment
fn handle_attachment(attachment: JsonAttachment) -> Option<Link> {
    let mut link = Link::new(attachment.url.filter(|u| !u.trim().is_empty())?, None);

    // TRIBUTARY PATCH: as Atom's enclosure links, so that readers of Link see what it is.
    link.rel = Some("enclosure".into());
    link.media_type = attachment.mime_type;
    link.title = attachment.title;
    link.length = attachment.size_in_bytes;

    Some(link)
}

// Converts author / authors objects into our model
fn handle_authors(accumulated: &mut Vec<Person>, author: &Option<JsonAuthor>, authors: &Option<Vec<JsonAuthor>>) {
    if let Some(ja) = author {
        accumulate_author(accumulated, ja);
    }

    if let Some(jas) = authors {
        for ja in jas {
            accumulate_author(accumulated, ja);
        }
    }
}

// Handles HTML or plain text content
fn handle_content(content: Option<String>, content_type: MediaTypeBuf) -> Option<Content> {
    content.map(|body| Content {
        length: Some(body.len() as u64),
        body: Some(body.trim().into()),
        content_type,
        ..Default::default()
    })
}

// Converts a JSON feed item into our model
fn handle_item(parser: &Parser, ji: JsonItem) -> Entry {
    let mut entry = Entry {
        id: ji.id.unwrap_or("".into()),
        ..Default::default()
    };

    if_some_then(ji.url, |uri| entry.links.push(Link::new(uri, None)));

    if_some_then(ji.external_url, |uri| entry.links.push(Link::new(uri, None)));

    if_some_then(ji.title, |text| entry.title = Some(Text::new(text)));

    // Content HTML, content text and summary are mapped across to our model with the preference toward HTML and explicit summary fields
    entry.content = handle_content(ji.content_html, MediaTypeBuf::new(names::TEXT, names::HTML));
    entry.summary = ji.summary.map(Text::new);
    if let Some(content_text) = handle_content(ji.content_text, MediaTypeBuf::new(names::TEXT, names::PLAIN)) {
        // If we don't have HTML content, use the text content as the entry content
        // otherwise, if the summary was not provided, we push the text there

        if entry.content.is_none() {
            entry.content = Some(content_text);
        } else if entry.summary.is_none() {
            entry.summary = content_text.body.map(Text::new);
        }
    }

    if_some_then(ji.date_published, |published| entry.published = parser.parse_timestamp(&published));

    if_some_then(ji.date_modified, |modified| entry.updated = parser.parse_timestamp(&modified));

    handle_authors(&mut entry.authors, &ji.author, &ji.authors);

    entry.categories.extend(ji.tags.into_iter().map(|t| Category::new(&t)));

    entry.links.extend(ji.attachments.into_iter().flatten().filter_map(handle_attachment));

    entry
}

// TRIBUTARY PATCH: every field is read leniently: one of the wrong type (a title that is a
// list, a size that is a fraction, an author that is a string) reads as absent, a list of the
// wrong kind as empty, an item or attachment that cannot be read is skipped, an id may be a
// number and tags a comma-separated string. Was: any of these refused the whole feed.
#[derive(Debug, Deserialize)]
struct JsonFeed {
    pub version: String,
    #[serde(default, deserialize_with = "lenient")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub home_page_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub feed_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub language: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub icon: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub favicon: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub author: Option<JsonAuthor>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub authors: Option<Vec<JsonAuthor>>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub items: Option<Vec<JsonItem>>,
}

#[derive(Debug, Deserialize)]
struct JsonAttachment {
    #[serde(default, deserialize_with = "lenient")]
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    mime_type: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    title: Option<String>,
    #[serde(default, deserialize_with = "lenient_size")]
    size_in_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct JsonAuthor {
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JsonItem {
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub external_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub content_html: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub content_text: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub date_published: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub date_modified: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub author: Option<JsonAuthor>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub authors: Option<Vec<JsonAuthor>>,
    #[serde(default, deserialize_with = "lenient_tags")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub attachments: Option<Vec<JsonAttachment>>,
}

/// A value of the type asked for, else none.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

/// A list's elements that are of the type asked for; a single one stands for a list of it.
fn lenient_list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<Vec<T>>, D::Error> {
    let values = match Value::deserialize(d)? {
        Value::Array(values) => values,
        value @ Value::Object(_) => vec![value],
        _ => return Ok(None),
    };
    Ok(Some(values.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect()))
}

/// An id: a string, or a number written as one.
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(id) => Some(id),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    })
}

/// A size in bytes: a whole number, or a fraction cut down to one.
fn lenient_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let size = Value::deserialize(d)?;
    Ok(size.as_u64().or_else(|| size.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)))
}

/// Tags: a list of strings (others skipped), or one string of comma-separated tags.
fn lenient_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(tags) => tags.into_iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        Value::String(tags) => tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
        _ => Vec::new(),
    })
}

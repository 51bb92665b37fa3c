//! Stored items → a JSON Feed 1.1 document, written with serde_json; each item names its
//! publisher in a `_tributary` extension object.

use serde::Serialize;

use super::FeedInfo;
use crate::model::{Category, StoredItem};
use crate::sanitize::{html_to_text, web_url};

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<&'a str>,
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_published: Option<String>,
    date_modified: String,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
    #[serde(rename = "_tributary")]
    tributary: Provenance<'a>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

/// Who published the item: the extension object JSON Feed readers may show.
#[derive(Serialize)]
struct Provenance<'a> {
    source_title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_link: Option<&'a str>,
    /// The publisher's feed, when it is on the web (not a local file).
    #[serde(skip_serializing_if = "Option::is_none")]
    source_feed: Option<&'a str>,
    /// Its story's versions, when other publishers reported it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    story: Option<Story<'a>>,
}

/// A story's versions, this item's among them, first stored (the lead) first.
#[derive(Serialize)]
struct Story<'a> {
    members: Vec<Version<'a>>,
}

#[derive(Serialize)]
struct Version<'a> {
    id: &'a str,
    publisher: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    date_published: String,
    /// How alike it is to the version it was found beside, 0 to 1 (1 for the lead).
    similarity: f64,
}

/// The members of `stored`'s story, itself among them, the lead first.
fn story(stored: &StoredItem) -> Option<Story<'_>> {
    (!stored.story.is_empty()).then(|| Story {
        members: stored
            .story
            .iter()
            .map(|v| Version {
                id: &v.id,
                publisher: &v.publisher,
                title: v.title.as_deref(),
                url: v.link.as_deref().and_then(web_url),
                date_published: v.sort_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                similarity: v.similarity,
            })
            .collect(),
    })
}

/// Renders `items` (newest first) as a JSON Feed.
pub fn render(info: &FeedInfo<'_>, items: &[StoredItem]) -> serde_json::Result<Vec<u8>> {
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: info.title,
        home_page_url: info.home.map(|u| u.as_str()),
        feed_url: info.self_url.as_ref().map(|u| u.as_str()),
        description: info.title,
        hubs: info
            .hub
            .map(|url| Hub {
                kind: "WebSub",
                url: url.as_str(),
            })
            .into_iter()
            .collect(),
        items: items.iter().map(item).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&feed)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A webhook delivery's body: its id and time (signed with the body) and the new items, as
/// JSON Feed item objects with their `_tributary` provenance, oldest first.
pub fn delivery(
    delivery_id: &str,
    created: chrono::DateTime<chrono::Utc>,
    items: &[StoredItem],
) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Delivery<'a> {
        delivery_id: &'a str,
        created: String,
        items: Vec<Item<'a>>,
    }
    serde_json::to_vec(&Delivery {
        delivery_id,
        created: created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        items: items.iter().map(item).collect(),
    })
}

fn item(stored: &StoredItem) -> Item<'_> {
    let item = &stored.item;
    // JSON Feed wants content in every item: the content, else the summary, else the title.
    let body = item.content.as_ref().or(item.summary.as_ref());
    let (content_html, content_text) = match body {
        Some(t) if t.is_html => (Some(t.body.as_str()), None),
        Some(t) => (None, Some(t.body.clone())),
        None => (None, Some(item.title.clone().unwrap_or_default())),
    };
    let summary = item.content.as_ref().and(item.summary.as_ref()).map(|s| {
        if s.is_html {
            html_to_text(&s.body)
        } else {
            s.body.clone()
        }
    });
    let authors = if item.authors.is_empty() {
        vec![Author {
            name: &stored.publisher.name,
            url: stored.publisher.site.as_deref(),
        }]
    } else {
        item.authors
            .iter()
            .map(|a| Author {
                name: &a.name,
                url: a.uri.as_deref(),
            })
            .collect()
    };
    Item {
        id: &stored.id,
        url: item.link.as_deref(),
        title: item.title.as_deref(),
        content_html,
        content_text,
        summary,
        image: item.image.as_deref(),
        date_published: item.published.map(super::xml::rfc3339),
        date_modified: super::xml::rfc3339(super::entry_updated(stored)),
        authors,
        tags: item.categories.iter().map(Category::shown).collect(),
        attachments: item
            .enclosures
            .iter()
            .map(|e| Attachment {
                url: &e.url,
                mime_type: e.mime_type.as_deref().unwrap_or("application/octet-stream"),
                size_in_bytes: e.length,
            })
            .collect(),
        tributary: Provenance {
            source_title: &stored.publisher.name,
            source_link: stored.publisher.site.as_deref(),
            source_feed: web_url(&stored.publisher.feed_url),
            story: story(stored),
        },
    }
}

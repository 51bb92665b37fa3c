//! Each kind of page of the site, made from what it shows: these functions read nothing, so
//! a page costs its own items, whatever the archive holds.

use std::collections::HashMap;
use std::path::Path;

use minijinja::{Environment, Value, context};
use serde::Serialize;
use url::Url;

use super::{
    EXCERPT_CHARS, Entry, Feed, PageInfo, attachment_label, days, feed_link, paragraphs, shortened,
    tag_file,
};
use crate::model::StoredItem;
use crate::sanitize::web_url;

/// What every page of the site shares: its name, feeds and place.
pub struct Frame<'a> {
    /// How many items a list shows.
    pub items_per_page: usize,
    /// The site's name.
    pub title: &'a str,
    /// The configured tags of each source, by the source's URL.
    pub source_tags: HashMap<&'a str, &'a [String]>,
    /// The feed every page announces.
    pub main_feed: Option<Feed>,
    /// The feed of exactly one tag, for that tag's page.
    pub tag_feeds: HashMap<&'a str, Feed>,
    /// The folder the site is written in.
    pub folder: &'a Path,
    /// The public address of that folder, for canonical URLs.
    pub base: Option<Url>,
    /// From the site's folder to where the built-in server answers searches, when it runs
    /// (every page then has a search form).
    pub search: Option<String>,
}

/// One publisher of the site, as its page and the publishers' list show it.
#[derive(Serialize)]
pub struct Publisher<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its page.
    pub href: String,
    /// What its feed says it is about.
    pub description: Option<&'a str>,
    /// Its website.
    pub site: Option<&'a str>,
    /// Its feed, as shown.
    pub feed_url: &'a str,
    /// Its feed, when it is a link.
    pub feed_href: Option<&'a str>,
    /// Its items on the site.
    pub count: usize,
    /// How many its page shows.
    pub shown: usize,
    /// Its newest item's date, as RFC 3339.
    pub datetime: String,
    /// Its newest item's date, for reading.
    pub date: String,
}

impl<'a> Publisher<'a> {
    /// `publisher`, whose page is `href`, with `count` items, the newest at `newest`.
    pub fn new(
        publisher: &'a crate::model::Publisher,
        href: String,
        count: usize,
        newest: chrono::DateTime<chrono::Utc>,
        frame: &Frame<'_>,
    ) -> Publisher<'a> {
        Publisher {
            name: &publisher.name,
            href,
            description: publisher.description.as_deref(),
            site: publisher.site.as_deref().filter(|s| web_url(s).is_some()),
            feed_url: &publisher.feed_url,
            feed_href: web_url(&publisher.feed_url),
            count,
            shown: count.min(frame.items_per_page),
            datetime: super::super::xml::rfc3339(newest),
            date: newest.format("%-d %B %Y").to_string(),
        }
    }
}

/// A tag as an item page links it.
#[derive(Serialize)]
struct TagLink<'a> {
    name: &'a str,
    href: String,
}

/// An enclosure as an item page links it.
#[derive(Serialize)]
struct Attachment {
    href: String,
    label: String,
}

/// A page: its path in the site's folder and its HTML.
pub type Page = (String, String);

/// What every page says of itself: its address, the site's feed, the way back to the root.
pub fn page_info(
    frame: &Frame<'_>,
    path: &str,
    title: String,
    heading: String,
    description: Option<String>,
) -> PageInfo {
    PageInfo {
        canonical: frame
            .base
            .as_ref()
            .and_then(|b| b.join(path).ok())
            .map(String::from),
        feed: frame
            .main_feed
            .as_ref()
            .map(|f| feed_link(f, frame.folder, path)),
        root: if path.contains('/') { "../" } else { "" },
        nav: true,
        site_title: frame.title.to_string(),
        og_type: "website",
        search: frame.search.as_ref().map(|up| match up.as_str() {
            "/" => up.clone(),
            up => format!("{}{up}", if path.contains('/') { "../" } else { "" }),
        }),
        title,
        heading,
        description,
    }
}

/// Where a page of the river links to the pages beside it.
pub struct Pagination {
    /// What this page is ("Latest", a day).
    pub label: String,
    /// Its number among its day's pages, and how many the day has.
    pub number: usize,
    pub count: usize,
    /// The page of newer items, from the site's root.
    pub newer: Option<String>,
    /// The page of older items, from the site's root.
    pub older: Option<String>,
}

/// A page of the river (the index, or a page of the archive): `entries`, newest first.
pub fn river_page(
    env: &Environment<'_>,
    frame: &Frame<'_>,
    path: String,
    title: String,
    entries: &[Entry],
    publishers: usize,
    pagination: Pagination,
) -> Result<Page, minijinja::Error> {
    let heading = frame.title.to_string();
    let description =
        format!("The latest from {publishers} publishers, each item with its provenance.");
    let page = page_info(frame, &path, title, heading, Some(description));
    let link = |to: Option<String>| to.map(|to| format!("{}{to}", page.root));
    let pagination = context! {
        label => pagination.label,
        number => pagination.number,
        count => pagination.count,
        newer => link(pagination.newer),
        older => link(pagination.older),
    };
    let html = env.get_template("river.html")?.render(context! {
        page,
        days => days(entries),
        pagination,
    })?;
    Ok((path, html))
}

/// The page of `stored` (listed as `entry`), with its provenance and the `earlier` items of
/// its publisher: those before it, which later items never change.
pub fn item_page(
    env: &Environment<'_>,
    frame: &Frame<'_>,
    stored: &StoredItem,
    entry: &Entry,
    earlier: &[Entry],
) -> Result<Page, minijinja::Error> {
    let item = &stored.item;
    let publisher = &stored.publisher;
    let original = item.link.as_deref().filter(|l| web_url(l).is_some());
    let body = item
        .content
        .as_ref()
        .or(item.summary.as_ref())
        .filter(|t| !t.body.trim().is_empty())
        .map(|t| {
            if t.is_html {
                t.body.clone()
            } else {
                paragraphs(&t.body)
            }
        });
    let tags: Vec<TagLink<'_>> = tags_of(&frame.source_tags, stored)
        .into_iter()
        .map(|name| TagLink {
            name,
            href: tag_file(name),
        })
        .collect();
    let attachments: Vec<Attachment> = item
        .enclosures
        .iter()
        .filter(|e| web_url(&e.url).is_some())
        .map(|e| Attachment {
            href: e.url.clone(),
            label: attachment_label(&e.url, e.mime_type.as_deref()),
        })
        .collect();
    let title = format!("{} — {}", entry.title, publisher.name);
    let mut page = page_info(
        frame,
        &entry.href,
        title,
        entry.title.clone(),
        entry.excerpt.clone(),
    );
    page.og_type = "article";
    let html = env.get_template("item.html")?.render(context! {
        page,
        item => context! {
            title => &entry.title,
            publisher => &publisher.name,
            publisher_href => &entry.publisher_href,
            site => publisher.site.as_deref().filter(|s| web_url(s).is_some()),
            original,
            original_host => original.and_then(|l| Url::parse(l).ok())
                .and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_string())),
            datetime => &entry.datetime,
            date => format!("{}, {}", entry.date, entry.time),
            author => &entry.author,
            tags,
            body => body,
            enclosures => attachments,
            also_via => &stored.also_via,
            story => story_links(stored),
        },
        latest => earlier,
    })?;
    Ok((entry.href.clone(), html))
}

/// The other versions of `stored`'s story (their publishers, linked to their originals) and its
/// page, for its item page.
fn story_links(stored: &StoredItem) -> Option<Value> {
    let lead = stored.story.first()?;
    let others: Vec<Value> = stored
        .also_reported()
        .map(|v| {
            context! {
                publisher => &v.publisher,
                original => v.link.as_deref().filter(|l| web_url(l).is_some()),
            }
        })
        .collect();
    Some(context! {
        href => super::story::story_file(&lead.id),
        count => stored.story.len(),
        others,
    })
}

/// A publisher's page: its newest `entries`.
pub fn publisher_page(
    env: &Environment<'_>,
    frame: &Frame<'_>,
    publisher: &Publisher<'_>,
    entries: &[Entry],
) -> Result<Page, minijinja::Error> {
    let description = publisher
        .description
        .map(|d| shortened(d, EXCERPT_CHARS))
        .or_else(|| Some(format!("The latest from {}.", publisher.name)));
    let title = format!("{} — {}", publisher.name, frame.title);
    let page = page_info(
        frame,
        &publisher.href,
        title,
        publisher.name.to_string(),
        description,
    );
    let html = env.get_template("source.html")?.render(context! {
        page,
        source => publisher,
        days => days(entries),
    })?;
    Ok((publisher.href.clone(), html))
}

/// The list of publishers, by name.
pub fn publishers_page(
    env: &Environment<'_>,
    frame: &Frame<'_>,
    mut listed: Vec<Publisher<'_>>,
) -> Result<Page, minijinja::Error> {
    listed.sort_by_key(|p| p.name.to_lowercase());
    let path = "sources/index.html";
    let description = format!("The {} publishers {} carries.", listed.len(), frame.title);
    let page = page_info(
        frame,
        path,
        format!("Publishers — {}", frame.title),
        "Publishers".into(),
        Some(description),
    );
    let html = env.get_template("sources.html")?.render(context! {
        page,
        sources => listed,
    })?;
    Ok((path.to_string(), html))
}

/// A tag's page: its newest `entries`.
pub fn tag_page(
    env: &Environment<'_>,
    frame: &Frame<'_>,
    tag: &str,
    entries: &[Entry],
) -> Result<Page, minijinja::Error> {
    let path = tag_file(tag);
    let mut page = page_info(
        frame,
        &path,
        format!("{tag} — {}", frame.title),
        format!("Tagged “{tag}”"),
        Some(format!("The latest items tagged “{tag}”.")),
    );
    if let Some(feed) = frame.tag_feeds.get(tag) {
        page.feed = Some(feed_link(feed, frame.folder, &path));
    }
    let html = env.get_template("tag.html")?.render(context! {
        page,
        tag,
        days => days(entries),
    })?;
    Ok((path, html))
}

/// An item's tags: its source's, then those rules gave it.
pub fn tags_of<'a>(
    source_tags: &HashMap<&str, &'a [String]>,
    stored: &'a StoredItem,
) -> Vec<&'a str> {
    let mut tags: Vec<&str> = source_tags
        .get(stored.publisher.feed_url.as_str())
        .map(|t| t.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for tag in &stored.tags {
        if !tags.contains(&tag.as_str()) {
            tags.push(tag);
        }
    }
    tags
}

/// An empty value, for a template's missing part.
pub fn nothing() -> Value {
    Value::from(())
}

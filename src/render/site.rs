//! Stored items → the aggregator's own site under `[site] pages`: the river (`index.html`,
//! `page/2.html`, …), a page per item with its provenance (`items/<id>.html`), a page per
//! publisher (`sources/<slug>.html`, `sources/index.html`) and per tag (`tags/<tag>.html`).
//!
//! Every page is rendered in memory before any is written, so a template failing at render
//! time leaves the site as it was; then each file is written only when its bytes changed, and
//! the pages of items gone (by retention, or a rule) are deleted. Links between pages are
//! relative, so the site reads the same from its server, another path or the disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use minijinja::{Environment, Value, context};
use serde::Serialize;
use url::Url;

use super::provenance::escape;
use super::{Durability, RenderContext, RenderError, Staged, relative_href, stage};
use crate::config::{OutputConfig, SiteConfig};
use crate::model::StoredItem;
use crate::sanitize::{text_of_clean_html, web_url};

/// The folders of the site that Tributary alone writes: any `.html` file in them that the site
/// does not hold any more is deleted.
const OWNED_FOLDERS: [&str; 4] = ["page", "items", "sources", "tags"];

/// The site's icon, written beside its index: without one, browsers ask for `/favicon.ico`.
const FAVICON: (&str, &[u8]) = ("favicon.svg", include_bytes!("../../templates/favicon.svg"));

/// How much of an item's text a list shows.
const EXCERPT_CHARS: usize = 280;

/// How many of a publisher's other items an item page lists.
const LATEST_OF_PUBLISHER: usize = 5;

/// Where a page links for "subscribe": a URL, or a file it links to relatively.
#[derive(Debug, Clone)]
pub enum FeedTarget {
    /// The feed's public URL.
    Url(Url),
    /// The feed's file, when there is no `base_url`.
    File(PathBuf),
}

/// A feed a page announces.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Where it is.
    pub target: FeedTarget,
    /// Its media type.
    pub media_type: &'static str,
    /// Its title.
    pub title: String,
}

/// The `<head>` and frame of one page.
#[derive(Debug, Serialize)]
pub struct PageInfo {
    /// The `<title>`.
    pub title: String,
    /// The page's own heading.
    pub heading: String,
    /// Its description, for search engines and link previews.
    pub description: Option<String>,
    /// Its public address, with `base_url`.
    pub canonical: Option<String>,
    /// The feed it announces.
    pub feed: Option<FeedLink>,
    /// From the page to the site's root: "" or "../".
    pub root: &'static str,
    /// Whether it is a page of the site, with the site's navigation.
    pub nav: bool,
    /// The site's name.
    pub site_title: String,
    /// Open Graph's type: "website" or "article".
    pub og_type: &'static str,
}

impl PageInfo {
    /// A page outside the site (an output's own page, the status page): titled `title`, with
    /// no navigation, canonical URL or feed.
    pub fn standalone(title: &str) -> PageInfo {
        PageInfo {
            title: title.to_string(),
            heading: title.to_string(),
            description: None,
            canonical: None,
            feed: None,
            root: "",
            nav: false,
            site_title: title.to_string(),
            og_type: "website",
        }
    }
}

/// A feed as a page links it.
#[derive(Debug, Serialize)]
pub struct FeedLink {
    /// The link.
    pub href: String,
    /// Its media type.
    #[serde(rename = "type")]
    pub media_type: &'static str,
    /// Its title.
    pub title: String,
}

/// An item as lists show it. Its links are relative to the site's root (the templates put
/// `page.root` before them), or absolute.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Its title.
    pub title: String,
    /// Its page on the site, else the original.
    pub href: String,
    /// Who published it.
    pub publisher: String,
    /// The publisher's page on the site, else its website.
    pub publisher_href: Option<String>,
    /// Its authors, unless they only repeat the publisher.
    pub author: Option<String>,
    /// When, as RFC 3339.
    pub datetime: String,
    /// When, as a time of day.
    pub time: String,
    /// When, as a date.
    pub date: String,
    /// The beginning of its text.
    pub excerpt: Option<String>,
    #[serde(skip)]
    day: String,
}

/// A day of a river and its items.
#[derive(Debug, Serialize)]
pub struct Day<'a> {
    /// "Monday 6 January 2025".
    pub label: &'a str,
    /// Its items, newest first.
    pub items: Vec<&'a Entry>,
}

impl Entry {
    /// `stored` as a list shows it: linking `href`, its publisher linking `publisher_href`.
    pub fn new(stored: &StoredItem, href: String, publisher_href: Option<String>) -> Entry {
        let item = &stored.item;
        let when = shown_time(stored);
        let text = item.summary.as_ref().or(item.content.as_ref()).map(|t| {
            if t.is_html {
                // Stored HTML is cleaned HTML: read without parsing it again.
                text_of_clean_html(&t.body)
            } else {
                t.body.clone()
            }
        });
        let excerpt = text
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(|t| shortened(&t, EXCERPT_CHARS));
        Entry {
            title: title_of(stored),
            href,
            publisher: stored.publisher.name.clone(),
            publisher_href,
            author: author_of(stored),
            datetime: super::xml::rfc3339(when),
            time: when.format("%H:%M UTC").to_string(),
            date: when.format("%-d %B %Y").to_string(),
            excerpt,
            day: when.format("%A %-d %B %Y").to_string(),
        }
    }
}

/// `entries` (newest first) grouped by day.
pub fn days<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<Day<'a>> {
    let mut days: Vec<Day<'a>> = Vec::new();
    for entry in entries {
        match days.last_mut() {
            Some(day) if day.label == entry.day => day.items.push(entry),
            _ => days.push(Day {
                label: &entry.day,
                items: vec![entry],
            }),
        }
    }
    days
}

/// When an item is shown as published: its publication, else its last update, else when it
/// was first seen.
fn shown_time(stored: &StoredItem) -> DateTime<Utc> {
    stored
        .item
        .published
        .unwrap_or_else(|| super::entry_updated(stored))
}

fn title_of(stored: &StoredItem) -> String {
    stored
        .item
        .title
        .clone()
        .unwrap_or_else(|| "(untitled)".into())
}

/// The item's authors, leaving out a publisher named as its own author: said once is enough.
fn author_of(stored: &StoredItem) -> Option<String> {
    let publisher = &stored.publisher.name;
    let authors: Vec<&str> = stored
        .item
        .authors
        .iter()
        .map(|a| a.name.as_str())
        .filter(|name| !name.eq_ignore_ascii_case(publisher))
        .collect();
    (!authors.is_empty()).then(|| authors.join(", "))
}

fn shortened(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_string(),
    }
}

/// `text` as a name that is safe in a path and a URL: lower-case letters, digits and dashes.
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "x".into()
    } else {
        slug.into()
    }
}

/// The slug of `text`, with `-2`, `-3`… added when one in `taken` has it already.
fn unique_slug(taken: &mut HashSet<String>, text: &str) -> String {
    let base = slug(text);
    let mut unique = base.clone();
    let mut n = 1;
    while !taken.insert(unique.clone()) {
        n += 1;
        unique = format!("{base}-{n}");
    }
    unique
}

/// The file name of an item's page, from its id (`urn:uuid:…`): the id's last part, which is
/// already safe, else a slug of it.
fn item_file(id: &str) -> String {
    let last = id.rsplit(':').next().unwrap_or(id);
    if !last.is_empty() && last.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        format!("items/{last}.html")
    } else {
        format!("items/{}.html", slug(id))
    }
}

/// Everything a site is built from.
pub struct SiteInput<'a> {
    /// The items in the outputs' reach, newest first.
    pub items: &'a [StoredItem],
    /// How many items a page of the river holds.
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
}

/// One publisher of the site.
#[derive(Serialize)]
struct Publisher<'a> {
    name: &'a str,
    href: String,
    description: Option<&'a str>,
    site: Option<&'a str>,
    feed_url: &'a str,
    feed_href: Option<&'a str>,
    count: usize,
    shown: usize,
    datetime: String,
    date: String,
    #[serde(skip)]
    items: Vec<usize>,
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

/// Why the site's pages could not be made.
#[derive(Debug)]
pub enum PageError {
    /// A template failed.
    Template(minijinja::Error),
    /// A page could not be written.
    Write(std::io::Error),
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> Self {
        PageError::Template(error)
    }
}

impl From<std::io::Error> for PageError {
    fn from(error: std::io::Error) -> Self {
        PageError::Write(error)
    }
}

/// Renders the pages of the site with `env`, handing each to `emit` with its path relative to
/// the site's folder as soon as it is made: only one page is held at a time.
pub fn pages(
    env: &Environment<'_>,
    site: &SiteInput<'_>,
    emit: &mut dyn FnMut(String, Vec<u8>) -> std::io::Result<()>,
) -> Result<(), PageError> {
    let index = Index::of(site);
    emit(FAVICON.0.to_string(), FAVICON.1.to_vec())?;
    river_pages(env, site, &index, emit)?;
    for n in 0..site.items.len() {
        let (path, html) = item_page(env, site, &index, n)?;
        emit(path, html.into_bytes())?;
    }
    publisher_pages(env, site, &index, emit)?;
    tag_pages(env, site, &index, emit)
}

/// Emits one page.
type Emit<'e> = &'e mut dyn FnMut(String, Vec<u8>) -> std::io::Result<()>;

/// What the pages are made from, worked out once: each item's entry, the publishers and the
/// tags, each with the items it has (by their place in the site's items, newest first).
struct Index<'a> {
    publishers: Vec<Publisher<'a>>,
    publisher_of: HashMap<&'a str, usize>,
    entries: Vec<Entry>,
    tagged: BTreeMap<&'a str, Vec<usize>>,
    tag_files: HashMap<&'a str, String>,
}

impl<'a> Index<'a> {
    fn of(site: &SiteInput<'a>) -> Index<'a> {
        let items = site.items;
        let (publishers, publisher_of) = publishers(site);
        let entries: Vec<Entry> = items
            .iter()
            .map(|stored| {
                let publisher = &publishers[publisher_of[stored.publisher.feed_url.as_str()]];
                Entry::new(stored, item_file(&stored.id), Some(publisher.href.clone()))
            })
            .collect();
        let mut tagged: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (n, stored) in items.iter().enumerate() {
            for tag in tags_of(&site.source_tags, stored) {
                tagged.entry(tag).or_default().push(n);
            }
        }
        let mut taken = HashSet::new();
        let tag_files = tagged
            .keys()
            .map(|tag| (*tag, format!("tags/{}.html", unique_slug(&mut taken, tag))))
            .collect();
        Index {
            publishers,
            publisher_of,
            entries,
            tagged,
            tag_files,
        }
    }

    /// The publisher of `stored`.
    fn publisher(&self, stored: &StoredItem) -> &Publisher<'a> {
        &self.publishers[self.publisher_of[stored.publisher.feed_url.as_str()]]
    }
}

/// The site's publishers, each with its items, and each one's place by its feed's URL.
fn publishers<'a>(site: &SiteInput<'a>) -> (Vec<Publisher<'a>>, HashMap<&'a str, usize>) {
    let items = site.items;
    // Publishers in a stable order, so that two with one slug keep theirs from run to run.
    let mut by_feed: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (n, stored) in items.iter().enumerate() {
        by_feed
            .entry(stored.publisher.feed_url.as_str())
            .or_default()
            .push(n);
    }
    let mut taken = HashSet::new();
    let mut publishers: Vec<Publisher<'_>> = Vec::new();
    let mut publisher_of: HashMap<&str, usize> = HashMap::new();
    for (feed_url, indexes) in by_feed {
        let newest = &items[indexes[0]];
        let name = newest.publisher.name.as_str();
        let slug = unique_slug(&mut taken, name);
        let when = shown_time(newest);
        publisher_of.insert(feed_url, publishers.len());
        publishers.push(Publisher {
            name,
            href: format!("sources/{slug}.html"),
            description: newest.publisher.description.as_deref(),
            site: newest
                .publisher
                .site
                .as_deref()
                .filter(|s| web_url(s).is_some()),
            feed_url,
            feed_href: web_url(feed_url),
            count: indexes.len(),
            shown: indexes.len().min(site.items_per_page),
            datetime: super::xml::rfc3339(when),
            date: when.format("%-d %B %Y").to_string(),
            items: indexes,
        });
    }
    (publishers, publisher_of)
}

/// What every page says of itself: its address, the site's feed, the way back to the root.
fn page_info(
    site: &SiteInput<'_>,
    path: &str,
    title: String,
    heading: String,
    description: Option<String>,
) -> PageInfo {
    PageInfo {
        canonical: site
            .base
            .as_ref()
            .and_then(|b| b.join(path).ok())
            .map(String::from),
        feed: site
            .main_feed
            .as_ref()
            .map(|f| feed_link(f, site.folder, path)),
        root: if path.contains('/') { "../" } else { "" },
        nav: true,
        site_title: site.title.to_string(),
        og_type: "website",
        title,
        heading,
        description,
    }
}

/// The river, paginated.
fn river_pages(
    env: &Environment<'_>,
    site: &SiteInput<'_>,
    index: &Index<'_>,
    emit: Emit<'_>,
) -> Result<(), PageError> {
    let entries = &index.entries;
    let per_page = site.items_per_page.max(1);
    let count = entries.len().div_ceil(per_page).max(1);
    let river_file = |number: usize| match number {
        1 => "index.html".to_string(),
        n => format!("page/{n}.html"),
    };
    for number in 1..=count {
        let path = river_file(number);
        let shown = entries.iter().skip((number - 1) * per_page).take(per_page);
        let heading = site.title.to_string();
        let title = match number {
            1 => heading.clone(),
            n => format!("{heading} (page {n})"),
        };
        let description = format!(
            "The latest from {} publishers, each item with its provenance.",
            index.publishers.len()
        );
        let page = page_info(site, &path, title, heading, Some(description));
        let link = |n: usize| format!("{}{}", page.root, river_file(n));
        let pagination = context! {
            number,
            count,
            newer => (number > 1).then(|| link(number - 1)),
            older => (number < count).then(|| link(number + 1)),
        };
        let html = env.get_template("river.html")?.render(context! {
            page,
            days => days(shown),
            pagination,
        })?;
        emit(path, html.into_bytes())?;
    }
    Ok(())
}

/// The page of the `n`th item, with its provenance and its publisher's latest: its path and
/// its HTML.
fn item_page(
    env: &Environment<'_>,
    site: &SiteInput<'_>,
    index: &Index<'_>,
    n: usize,
) -> Result<(String, String), PageError> {
    let stored = &site.items[n];
    let entry = &index.entries[n];
    let publisher = index.publisher(stored);
    let item = &stored.item;
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
    let latest: Vec<&Entry> = publisher
        .items
        .iter()
        .filter(|&&other| other != n)
        .take(LATEST_OF_PUBLISHER)
        .map(|&other| &index.entries[other])
        .collect();
    let tags: Vec<TagLink<'_>> = tags_of(&site.source_tags, stored)
        .into_iter()
        .map(|name| TagLink {
            name,
            href: index.tag_files[name].clone(),
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
        site,
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
            publisher => publisher.name,
            publisher_href => &publisher.href,
            site => publisher.site,
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
        },
        latest,
    })?;
    Ok((entry.href.clone(), html))
}

/// A page per publisher, and their list.
fn publisher_pages(
    env: &Environment<'_>,
    site: &SiteInput<'_>,
    index: &Index<'_>,
    emit: Emit<'_>,
) -> Result<(), PageError> {
    for publisher in &index.publishers {
        let description = publisher
            .description
            .map(|d| shortened(d, EXCERPT_CHARS))
            .or_else(|| Some(format!("The latest from {}.", publisher.name)));
        let title = format!("{} — {}", publisher.name, site.title);
        let page = page_info(
            site,
            &publisher.href,
            title,
            publisher.name.to_string(),
            description,
        );
        let shown = publisher
            .items
            .iter()
            .take(site.items_per_page)
            .map(|&n| &index.entries[n]);
        let html = env.get_template("source.html")?.render(context! {
            page,
            source => publisher,
            days => days(shown),
        })?;
        emit(publisher.href.clone(), html.into_bytes())?;
    }
    let mut listed: Vec<&Publisher<'_>> = index.publishers.iter().collect();
    listed.sort_by_key(|p| p.name.to_lowercase());
    let path = "sources/index.html";
    let description = format!("The {} publishers {} carries.", listed.len(), site.title);
    let page = page_info(
        site,
        path,
        format!("Publishers — {}", site.title),
        "Publishers".into(),
        Some(description),
    );
    let html = env.get_template("sources.html")?.render(context! {
        page,
        sources => listed,
    })?;
    emit(path.to_string(), html.into_bytes())?;
    Ok(())
}

/// A page per tag.
fn tag_pages(
    env: &Environment<'_>,
    site: &SiteInput<'_>,
    index: &Index<'_>,
    emit: Emit<'_>,
) -> Result<(), PageError> {
    for (tag, indexes) in &index.tagged {
        let path = &index.tag_files[tag];
        let mut page = page_info(
            site,
            path,
            format!("{tag} — {}", site.title),
            format!("Tagged “{tag}”"),
            Some(format!("The latest items tagged “{tag}”.")),
        );
        if let Some(feed) = site.tag_feeds.get(tag) {
            page.feed = Some(feed_link(feed, site.folder, path));
        }
        let shown = indexes
            .iter()
            .take(site.items_per_page)
            .map(|&n| &index.entries[n]);
        let html = env.get_template("tag.html")?.render(context! {
            page,
            tag,
            days => days(shown),
        })?;
        emit(path.clone(), html.into_bytes())?;
    }
    Ok(())
}

/// An item's tags: its source's, then those rules gave it.
fn tags_of<'a>(source_tags: &HashMap<&str, &'a [String]>, stored: &'a StoredItem) -> Vec<&'a str> {
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

/// How the page at `path` (relative to `folder`) links `feed`.
fn feed_link(feed: &Feed, folder: &Path, path: &str) -> FeedLink {
    FeedLink {
        href: match &feed.target {
            FeedTarget::Url(url) => url.to_string(),
            FeedTarget::File(file) => relative_href(&folder.join(path), file),
        },
        media_type: feed.media_type,
        title: feed.title.clone(),
    }
}

/// Plain text as HTML paragraphs, one per blank-line-separated block.
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", escape(p).replace('\n', "<br>")))
        .collect()
}

fn attachment_label(url: &str, media_type: Option<&str>) -> String {
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').find(|s| !s.is_empty()))
        .unwrap_or(url);
    match media_type {
        Some(t) => format!("{name} ({t})"),
        None => name.to_string(),
    }
}

/// What a site's write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SiteWritten {
    /// Pages whose bytes changed.
    pub written: usize,
    /// Pages left as they were.
    pub unchanged: usize,
    /// Pages of items, publishers or tags no more, deleted.
    pub deleted: usize,
}

/// The site's new pages, written beside the old ones until all are made: then they are put in
/// place together, and the pages the site no longer has are deleted. Dropped before that, it
/// leaves the site as it was.
///
/// Pages are not fsynced one by one: each is renamed into place whole, and one that a power
/// cut left empty differs from what the next render makes, so it is written again then.
struct Staging<'a> {
    folder: &'a Path,
    staged: Vec<Staged>,
    pages: HashSet<String>,
    unchanged: usize,
}

impl<'a> Staging<'a> {
    fn new(folder: &'a Path) -> Self {
        Staging {
            folder,
            staged: Vec::new(),
            pages: HashSet::new(),
            unchanged: 0,
        }
    }

    /// Writes `bytes` beside the page at `path`, unless it holds them already.
    fn add(&mut self, path: String, bytes: Vec<u8>) -> std::io::Result<()> {
        match stage(&self.folder.join(&path), &bytes, Durability::Lazy)? {
            Some(staged) => self.staged.push(staged),
            None => self.unchanged += 1,
        }
        self.pages.insert(path);
        Ok(())
    }

    fn commit(self) -> std::io::Result<SiteWritten> {
        let mut done = SiteWritten {
            unchanged: self.unchanged,
            ..SiteWritten::default()
        };
        for staged in self.staged {
            staged.commit()?;
            done.written += 1;
        }
        for owned in OWNED_FOLDERS {
            let Ok(entries) = std::fs::read_dir(self.folder.join(owned)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".html") || self.pages.contains(&format!("{owned}/{name}")) {
                    continue;
                }
                std::fs::remove_file(entry.path())?;
                done.deleted += 1;
            }
        }
        Ok(done)
    }
}

/// The pages of the site found under `folder`: its index, its icon and the `.html` files of its
/// folders.
pub fn written_pages(folder: &Path) -> Vec<PathBuf> {
    let mut pages = vec![folder.join("index.html"), folder.join(FAVICON.0)];
    for owned in OWNED_FOLDERS {
        let Ok(entries) = std::fs::read_dir(folder.join(owned)) else {
            continue;
        };
        pages.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "html")),
        );
    }
    pages
}

/// Renders and writes the site of `items`; nothing is written unless every page rendered.
pub fn render(
    items: Vec<StoredItem>,
    config: &SiteConfig,
    outputs: &[OutputConfig],
    ctx: RenderContext<'_>,
) -> Result<SiteWritten, RenderError> {
    let failed = |error: String| RenderError::Format {
        path: config.pages.clone(),
        error,
    };
    let templates = super::templates::Templates::with(&config.templates);
    let env = templates
        .environment()
        .map_err(|e| failed(templates.describe(&e)))?;
    let feed_of = |output: &OutputConfig| Feed {
        target: match ctx.publishing.public_url(&output.path) {
            Some(url) => FeedTarget::Url(url),
            None => FeedTarget::File(output.path.clone()),
        },
        media_type: output.format.media_type(),
        title: output.title.clone(),
    };
    let input = SiteInput {
        items: &items,
        items_per_page: config.items_per_page,
        title: &config.title,
        source_tags: ctx
            .sources
            .iter()
            .map(|s| (s.url.as_str(), s.tags.as_slice()))
            .collect(),
        main_feed: outputs.first().map(feed_of),
        tag_feeds: outputs
            .iter()
            .filter(|o| o.sources.is_empty())
            .filter_map(|o| match o.tags.as_slice() {
                [tag] => Some((tag.as_str(), feed_of(o))),
                _ => None,
            })
            .collect(),
        folder: &config.pages,
        base: ctx.publishing.site_url(&config.pages),
    };
    let write_failed = |error| RenderError::Write {
        path: config.pages.clone(),
        error,
    };
    let mut staging = Staging::new(&config.pages);
    match pages(&env, &input, &mut |path, bytes| staging.add(path, bytes)) {
        Ok(()) => staging.commit().map_err(write_failed),
        Err(PageError::Template(e)) => Err(failed(templates.describe(&e))),
        Err(PageError::Write(e)) => Err(write_failed(e)),
    }
}

/// Renders every template on a sample site, so that a template that fails at render time (an
/// unknown filter, a bad call) is refused with the config rather than met at the first poll.
pub fn try_every_page(env: &Environment<'_>) -> Result<(), minijinja::Error> {
    use crate::model::{Author, Item, Publisher, Text};
    let sample = |n: i64, publisher: &str| StoredItem {
        id: format!("urn:uuid:{n}"),
        item: Item {
            title: Some(format!("Sample {n}")),
            link: Some(format!("https://example.org/{n}")),
            summary: Some(Text {
                body: "<p>A summary.</p>".into(),
                is_html: true,
            }),
            authors: vec![Author {
                name: "A. Writer".into(),
                ..Author::default()
            }],
            published: DateTime::from_timestamp(1_700_000_000 - n * 40_000, 0),
            ..Item::default()
        },
        first_seen: DateTime::UNIX_EPOCH,
        publisher: Publisher {
            name: publisher.into(),
            feed_url: format!("https://{publisher}.example/feed"),
            site: Some(format!("https://{publisher}.example/")),
            id: None,
            description: Some("About it.".into()),
        },
        also_via: vec!["Elsewhere".into()],
        tags: vec!["sample".into()],
        sort_at: DateTime::UNIX_EPOCH,
    };
    let items: Vec<StoredItem> = (0..3)
        .map(|n| sample(n, if n == 1 { "b" } else { "a" }))
        .collect();
    let feed = Feed {
        target: FeedTarget::File(PathBuf::from("/site/feed.xml")),
        media_type: "application/atom+xml",
        title: "Feed".into(),
    };
    let input = SiteInput {
        items: &items,
        items_per_page: 2,
        title: "Sample",
        source_tags: HashMap::new(),
        main_feed: Some(feed.clone()),
        tag_feeds: HashMap::from([("sample", feed)]),
        folder: Path::new("/site"),
        base: Url::parse("https://example.org/").ok(),
    };
    match pages(env, &input, &mut |_, _| Ok(())) {
        Ok(()) | Err(PageError::Write(_)) => {}
        Err(PageError::Template(error)) => return Err(error),
    }
    // The outputs' own pages, which use the river without the site around it.
    let entries: Vec<Entry> = items
        .iter()
        .map(|s| Entry::new(s, "https://example.org/".into(), None))
        .collect();
    env.get_template("river.html")?.render(context! {
        page => PageInfo::standalone("Feed"),
        days => days(&entries),
        pagination => Value::from(()),
    })?;
    // The status page of the built-in server.
    env.get_template("status.html")?.render(context! {
        page => PageInfo::standalone("Status"),
        rows => vec![context! {
            name => "A", url => "https://a.example/feed", state => "failing",
            state_text => "failing (2 in a row): HTTP 500", notes => vec!["moved"],
            last_success => "-", items => 3, newest_item => "-", next_poll => "at start",
        }],
        now => "2026-01-01 00:00:00Z",
        now_datetime => "2026-01-01T00:00:00Z",
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_names() {
        let table = [
            ("Harbour Institute", "harbour-institute"),
            ("R&D — Ünit / 2", "r-d-nit-2"),
            ("../../etc/passwd", "etc-passwd"),
            ("日本", "x"),
        ];
        for (text, slug_) in table {
            assert_eq!(slug(text), slug_, "{text}");
        }
        assert_eq!(item_file("urn:uuid:0a-b1"), "items/0a-b1.html");
        assert_eq!(item_file("tag:x/../y"), "items/tag-x-y.html");
    }

    #[test]
    fn the_built_in_templates_render_every_page() {
        let env = super::super::templates::Templates::default()
            .environment()
            .unwrap();
        try_every_page(&env).unwrap();
    }
}

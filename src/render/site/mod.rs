//! Stored items → the aggregator's own site under `[site] pages`: the newest items
//! (`index.html`), the archive by day (`archive/2026-12-07.html`, then `-2`, `-3`… when a day
//! holds more than a page), a page per item with its provenance (`items/<id>.html`), a page per
//! publisher (`sources/<slug>.html`, `sources/index.html`), per tag (`tags/<tag>.html`) and
//! per story more than one publisher reported (`stories/<lead's id>.html`).
//!
//! A render makes only the pages that what changed touches (see `job`): the archive is
//! numbered by day and, within a day, from its oldest item, so a new item leaves every older
//! page as it was, and an item page lists its publisher's items before it, not the newest.
//! Pages are staged beside the old ones and put in place together, so a template failing at
//! render time leaves the site as it was; each is written only when its bytes changed, and the
//! pages of items gone (by retention, or a rule) are deleted. Links between pages are
//! relative, so the site reads the same from its server, another path or the disk.

mod job;
mod pages;
mod staging;
mod story;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use minijinja::{Environment, context};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::provenance::escape;
use super::{RenderContext, RenderError, relative_href};
use crate::config::{OutputConfig, SiteConfig};
use crate::model::StoredItem;
use crate::sanitize::text_of_clean_html_upto;
use crate::store::{ItemFilter, Scope, Store};
use pages::{Frame, Publisher};
pub use staging::SiteWritten;

/// The folders of the site that Tributary alone writes: any `.html` file in them that the site
/// does not hold any more is deleted (`page` held the river before it was numbered by day).
const OWNED_FOLDERS: [&str; 6] = ["archive", "page", "items", "sources", "stories", "tags"];

/// The site's icon, written beside its index: without one, browsers ask for `/favicon.ico`.
pub const FAVICON: (&str, &[u8]) = (
    "favicon.svg",
    include_bytes!("../../../templates/favicon.svg"),
);

/// The site's stylesheet, made from the template of that name, beside its index.
const STYLE: &str = "style.css";

/// The file in the site's folder that says which render of the store wrote it: a folder that
/// holds another token (another machine's, a restored copy) is written again in full.
const TOKEN_FILE: &str = ".tributary-site";

/// How many changed items a render takes page by page at least, whatever the site's size.
const WHOLE_SITE_AT: usize = 2_000;

/// How much of an item's text a list shows.
const EXCERPT_CHARS: usize = 280;

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
    /// From the page to where the built-in server answers `search` and `opensearch.xml`, when
    /// it runs: the page then has a search form.
    pub search: Option<String>,
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
            search: None,
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
                // Stored HTML is cleaned HTML: read without parsing it again, and only as far
                // as the excerpt goes (a character is at most 4 bytes).
                text_of_clean_html_upto(&t.body, 4 * EXCERPT_CHARS + 4)
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

/// The page of the site that answers the URL path `route` (relative to the site's folder;
/// a folder's is its `index.html`), with its media type: only what the site writes, never a
/// file beside it (the database, a temp file, a dotfile).
pub fn page_at(route: &str) -> Option<(PathBuf, &'static str)> {
    const HTML: &str = "text/html; charset=utf-8";
    let route = route.strip_prefix('/').unwrap_or(route);
    let route = if route.is_empty() || route.ends_with('/') {
        format!("{route}index.html")
    } else {
        route.to_string()
    };
    let parts: Vec<&str> = route.split('/').collect();
    let plain = |name: &str| {
        !name.is_empty() && !name.starts_with('.') && !name.contains('\\') && !name.contains('\0')
    };
    if !parts.iter().all(|p| plain(p)) {
        return None;
    }
    match parts.as_slice() {
        ["index.html"] => Some((PathBuf::from("index.html"), HTML)),
        [name] if *name == FAVICON.0 => Some((PathBuf::from(name), "image/svg+xml")),
        [name] if *name == STYLE => Some((PathBuf::from(name), "text/css; charset=utf-8")),
        [folder, name] if OWNED_FOLDERS.contains(folder) && name.ends_with(".html") => {
            Some((Path::new(folder).join(name), HTML))
        }
        _ => None,
    }
}

/// The pages of the site found under `folder`: its index, its icon, its stylesheet and the
/// `.html` files of its folders.
pub fn written_pages(folder: &Path) -> Vec<PathBuf> {
    let mut pages = vec![
        folder.join("index.html"),
        folder.join(FAVICON.0),
        folder.join(STYLE),
    ];
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

/// Writes what changed of the site: the pages that the items `changed` (row ids logged since
/// the last render) touch, or every page when the site's look changed, its folder is not the
/// one the store remembers, or `changed` is `None` (too many to take one by one). Nothing is
/// put in place unless every page rendered.
pub fn render(
    store: &mut Store,
    changed: Option<&[i64]>,
    config: &SiteConfig,
    outputs: &[OutputConfig],
    ctx: RenderContext<'_>,
) -> Result<SiteWritten, RenderError> {
    let failed = |error: String| RenderError::Format {
        path: config.pages.clone(),
        error,
    };
    let stored = |error| RenderError::Store {
        path: config.pages.clone(),
        error,
    };
    let write_failed = |error| RenderError::Write {
        path: config.pages.clone(),
        error,
    };
    let templates = super::templates::Templates::with(&config.templates);
    let env = templates
        .environment()
        .map_err(|e| failed(templates.describe(&e)))?;
    let frame = frame(config, outputs, ctx);
    let reach = job::Reach {
        filters: super::site_reach(outputs, ctx),
        source_tags: &frame.source_tags,
    };
    let look = look(&templates, &frame, &reach.filters);
    let token = store.render_state("site.token").map_err(stored)?;
    let full = store.render_state("site.look").map_err(stored)?.as_deref() != Some(&look)
        || token.is_none()
        || std::fs::read_to_string(config.pages.join(TOKEN_FILE)).ok() != token
        || !config.pages.join("index.html").exists();
    let sources = source_digests(ctx, &reach.filters);
    let mut full = full || changed.is_none();
    let mut changed = changed.unwrap_or_default().to_vec();
    if !full {
        changed.extend(items_of_changed_sources(store, &sources).map_err(stored)?);
        if changed.is_empty() {
            return Ok(SiteWritten::default());
        }
        // Past a share of the site, page by page costs more than all at once (a rule that
        // changed most items, say): each changed item's page reads the items listed on it.
        full = changed.len() > WHOLE_SITE_AT
            && changed.len() > store.site_count(Scope::All).map_err(stored)? / 4;
    }
    // Until this render is done, the next one cannot trust what the store says was written.
    store.set_render_state("site.look", None).map_err(stored)?;
    let plan = job::Plan::place(store, &reach, &changed, full).map_err(stored)?;
    let counts = store.site_publisher_counts().map_err(stored)?;
    let writer = job::Writer {
        env: &env,
        frame: &frame,
        slugs: job::name_publishers(store, &counts).map_err(stored)?,
    };
    let mut staging = staging::Staging::new(&config.pages);
    if !plan.is_empty() {
        match job::write(store, &writer, (plan, &counts), &mut staging) {
            Ok(()) => {}
            Err(job::JobError::Store(e)) => return Err(stored(e)),
            Err(job::JobError::Page(PageError::Template(e))) => {
                return Err(failed(templates.describe(&e)));
            }
            Err(job::JobError::Page(PageError::Write(e))) => return Err(write_failed(e)),
        }
    }
    let done = staging.commit(full).map_err(write_failed)?;
    remember(store, config, full, &sources, &look)?;
    Ok(done)
}

/// The row ids of the items of the sources whose part in the site changed with the config
/// (their tags, the outputs that take them), or that came or went.
fn items_of_changed_sources(
    store: &Store,
    sources: &[(String, String)],
) -> Result<Vec<i64>, crate::store::StoreError> {
    let before = store.site_sources()?;
    let now: HashMap<&str, &str> = sources
        .iter()
        .map(|(u, d)| (u.as_str(), d.as_str()))
        .collect();
    let differ = before
        .iter()
        .filter(|(url, digest)| now.get(url.as_str()) != Some(&digest.as_str()))
        .map(|(url, _)| url.as_str())
        .chain(now.keys().copied().filter(|url| !before.contains_key(*url)));
    let mut ids = Vec::new();
    for url in differ {
        ids.extend(store.items_of_source(url)?);
    }
    Ok(ids)
}

/// Records what the site was written from; after a full render, a new token in its folder.
fn remember(
    store: &mut Store,
    config: &SiteConfig,
    full: bool,
    sources: &[(String, String)],
    look: &str,
) -> Result<(), RenderError> {
    let write_failed = |error| RenderError::Write {
        path: config.pages.clone(),
        error,
    };
    let stored = |error| RenderError::Store {
        path: config.pages.clone(),
        error,
    };
    if full {
        let token = uuid::Uuid::new_v4().to_string();
        let file = config.pages.join(TOKEN_FILE);
        super::write_file(&file, token.as_bytes(), super::Durability::Synced)
            .map_err(write_failed)?;
        store
            .set_render_state("site.token", Some(&token))
            .map_err(stored)?;
    }
    store.set_site_sources(sources).map_err(stored)?;
    store
        .set_render_state("site.look", Some(look))
        .map_err(stored)
}

/// What every page of the site is framed with.
fn frame<'a>(
    config: &'a SiteConfig,
    outputs: &'a [OutputConfig],
    ctx: RenderContext<'a>,
) -> Frame<'a> {
    let feed_of = |output: &OutputConfig| Feed {
        target: match ctx.publishing.public_url(&output.path) {
            Some(url) => FeedTarget::Url(url),
            None => FeedTarget::File(output.path.clone()),
        },
        media_type: output.format.media_type(),
        title: output.title.clone(),
    };
    Frame {
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
        search: ctx.publishing.listen.map(|_| {
            // From the site's folder up to the folder the server serves.
            match config.pages.strip_prefix(&ctx.publishing.root) {
                Ok(inside) => "../".repeat(inside.components().count()),
                Err(_) => "/".to_string(),
            }
        }),
    }
}

/// A digest of what every page depends on: this build, the templates, the frame, and which
/// items the outputs take, leaving out the sources they name (a source added or removed
/// changes only its own items' pages: see [`source_digests`]).
fn look(
    templates: &super::templates::Templates,
    frame: &Frame<'_>,
    filters: &[ItemFilter],
) -> String {
    let filters: Vec<ItemFilter> = filters
        .iter()
        .map(|f| ItemFilter {
            only: f.only.as_ref().map(|_| Vec::new()),
            tagged: f.tagged.clone().map(|mut t| {
                t.sources.clear();
                t
            }),
            ..f.clone()
        })
        .collect();
    let mut tag_feeds: Vec<_> = frame
        .tag_feeds
        .iter()
        .map(|(t, f)| format!("{t}={f:?}"))
        .collect();
    tag_feeds.sort();
    let described = format!(
        "{}|{:?}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        env!("CARGO_PKG_VERSION"),
        templates,
        frame.title,
        frame.items_per_page,
        frame.folder,
        frame.base,
        frame.main_feed,
        tag_feeds,
        filters,
        frame.search,
    );
    hex(&Sha256::digest(described.as_bytes()))
}

/// For each configured source, a digest of what it brings to the site: its tags, and which
/// outputs take it.
fn source_digests(ctx: RenderContext<'_>, filters: &[ItemFilter]) -> Vec<(String, String)> {
    ctx.sources
        .iter()
        .map(|source| {
            let url = &source.url;
            let taken: Vec<(bool, bool)> = filters
                .iter()
                .map(|f| {
                    (
                        f.only.as_ref().is_none_or(|o| o.contains(url)),
                        f.tagged.as_ref().is_some_and(|t| t.sources.contains(url)),
                    )
                })
                .collect();
            let described = format!("{:?}|{taken:?}", source.tags);
            (url.clone(), hex(&Sha256::digest(described.as_bytes())))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file of a tag's page: the tag itself when it is a plain name, else its slug and a
/// digest of it, so that every tag has its own page whatever other tags there are.
fn tag_file(tag: &str) -> String {
    let slug = slug(tag);
    if slug == tag {
        format!("tags/{slug}.html")
    } else {
        let digest = Sha256::digest(tag.as_bytes());
        format!("tags/{slug}-{}.html", hex(&digest[..4]))
    }
}

/// Renders every template on a sample site, so that a template that fails at render time (an
/// unknown filter, a bad call) is refused with the config rather than met at the first poll.
pub fn try_every_page(env: &Environment<'_>) -> Result<(), minijinja::Error> {
    let items: Vec<StoredItem> = (0..3)
        .map(|n| sample(n, if n == 1 { "b" } else { "a" }))
        .collect();
    let feed = Feed {
        target: FeedTarget::File(PathBuf::from("/site/feed.xml")),
        media_type: "application/atom+xml",
        title: "Feed".into(),
    };
    let frame = Frame {
        items_per_page: 2,
        title: "Sample",
        source_tags: HashMap::new(),
        main_feed: Some(feed.clone()),
        tag_feeds: HashMap::from([("sample", feed)]),
        folder: Path::new("/site"),
        base: Url::parse("https://example.org/").ok(),
        search: Some(String::new()),
    };
    let entries: Vec<Entry> = items
        .iter()
        .map(|s| Entry::new(s, item_file(&s.id), Some("sources/a.html".into())))
        .collect();
    let pagination = || pages::Pagination {
        label: "Latest".into(),
        number: 1,
        count: 2,
        newer: Some("archive/2026-01-02.html".into()),
        older: Some("archive/2026-01-01.html".into()),
    };
    pages::river_page(
        env,
        &frame,
        "index.html".into(),
        "Sample".into(),
        &entries,
        2,
        pagination(),
    )?;
    pages::river_page(
        env,
        &frame,
        "archive/2026-01-01.html".into(),
        "Sample".into(),
        &entries,
        2,
        pagination(),
    )?;
    pages::item_page(env, &frame, &items[0], &entries[0], &entries[1..])?;
    let publishers: Vec<Publisher<'_>> = items
        .iter()
        .map(|s| Publisher::new(&s.publisher, "sources/a.html".into(), 2, s.sort_at, &frame))
        .collect();
    pages::publisher_page(env, &frame, &publishers[0], &entries)?;
    pages::publishers_page(env, &frame, publishers)?;
    pages::tag_page(env, &frame, "sample", &entries)?;
    env.get_template(STYLE)?.render(())?;
    try_standalone_pages(env, &items)
}

/// The pages outside the site: the outputs' own (the river without the site around it), and
/// the built-in server's status page.
fn try_standalone_pages(
    env: &Environment<'_>,
    items: &[StoredItem],
) -> Result<(), minijinja::Error> {
    let entries: Vec<Entry> = items
        .iter()
        .map(|s| Entry::new(s, "https://example.org/".into(), None))
        .collect();
    env.get_template("river.html")?.render(context! {
        page => PageInfo::standalone("Feed"),
        days => days(&entries),
        pagination => pages::nothing(),
    })?;
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
    let hits = [context! {
        date => "2026-01-01T00:00:00Z", publisher => "A", title => "Sample",
        link => "https://example.org/1", snippet => "a <mark>sample</mark>",
        id => "urn:uuid:1", source => "https://a.example/feed",
    }];
    for (query, error) in [("sample", None), ("\"", Some("unclosed quote at 1".into()))] {
        crate::render::search::page_with(
            env,
            &crate::render::search::SearchPage {
                site_title: "Sample",
                query,
                newest: false,
                hits: &hits,
                error,
                feeds: Some([
                    "/search.xml?q=sample".into(),
                    "/search.rss".into(),
                    "/search.json".into(),
                ]),
            },
        )?;
    }
    Ok(())
}

/// A sample item of `publisher`, for trying templates.
fn sample(n: i64, publisher: &str) -> StoredItem {
    use crate::model::{Author, Item, Text};
    StoredItem {
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
        publisher: crate::model::Publisher {
            name: publisher.into(),
            feed_url: format!("https://{publisher}.example/feed"),
            site: Some(format!("https://{publisher}.example/")),
            id: None,
            description: Some("About it.".into()),
        },
        also_via: vec!["Elsewhere".into()],
        story: Vec::new(),
        tags: vec!["sample".into()],
        sort_at: DateTime::UNIX_EPOCH,
    }
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

//! What the built-in server answers a search with: a page made with the site's templates
//! (`search.html`), or the items found as a feed, so that any search can be subscribed to.

use minijinja::{Environment, context};
use serde::Serialize;

use super::site::PageInfo;
use super::templates::Templates;
use super::{FeedInfo, atom, entry_updated, json, provenance, rss, stable_urn};
use crate::config::{OutputFormat, Publishing};
use crate::model::StoredItem;

/// What a search page shows.
#[derive(Debug, Serialize)]
pub struct SearchPage<'a, Hit: Serialize> {
    /// The site's name.
    pub site_title: &'a str,
    /// The query as typed ("" before any).
    pub query: &'a str,
    /// Whether the newest come first.
    pub newest: bool,
    /// What was found.
    pub hits: &'a [Hit],
    /// Why the query could not be read.
    pub error: Option<String>,
    /// The query's feeds: Atom, RSS, JSON Feed.
    pub feeds: Option<[String; 3]>,
}

/// The page of `search`, made with `templates`.
pub fn page<Hit: Serialize>(
    templates: &Templates,
    search: &SearchPage<'_, Hit>,
) -> Result<Vec<u8>, String> {
    templates
        .environment()
        .and_then(|env| page_with(&env, search))
        .map(String::into_bytes)
        .map_err(|e| templates.describe(&e))
}

pub(super) fn page_with<Hit: Serialize>(
    env: &Environment<'_>,
    search: &SearchPage<'_, Hit>,
) -> Result<String, minijinja::Error> {
    let heading = if search.query.is_empty() {
        "Search".to_string()
    } else {
        format!("Search: {}", search.query)
    };
    let page = PageInfo {
        heading: heading.clone(),
        site_title: search.site_title.to_string(),
        search: Some(String::new()),
        ..PageInfo::standalone(&format!("{heading} · {}", search.site_title))
    };
    let feeds = search.feeds.as_ref().map(|[atom, rss, json]| {
        context! { atom => atom, rss => rss, json => json }
    });
    env.get_template("search.html")?.render(context! {
        page,
        query => search.query,
        newest => search.newest,
        hits => search.hits,
        error => search.error,
        feeds,
    })
}

/// `items`, found by the query `query`, as a feed in `format` that links itself at
/// `self_href`: each item ends with who published it, as an output's with `provenance`.
pub fn feed(
    format: OutputFormat,
    query: &str,
    self_href: String,
    items: &[StoredItem],
    publishing: &Publishing,
) -> Result<Vec<u8>, String> {
    let items: Vec<StoredItem> = items.iter().map(provenance::appended).collect();
    let title = format!("Search: {query}");
    let info = FeedInfo {
        id: stable_urn(&format!("tributary:search:{query}")),
        title: &title,
        self_url: url::Url::parse(&self_href).ok(),
        self_href,
        hub: None,
        home: publishing.base_url.as_ref(),
        updated: items.iter().map(entry_updated).max().unwrap_or_default(),
    };
    match format {
        OutputFormat::Atom => atom::render(&info, &items).map_err(|e| e.to_string()),
        OutputFormat::Rss => rss::render(&info, &items).map_err(|e| e.to_string()),
        OutputFormat::Json => json::render(&info, &items).map_err(|e| e.to_string()),
    }
}

//! The built-in server's search: `/search?q=…` (a page of the site's templates), the same
//! results as a feed at `/search.xml`, `/search.rss` and `/search.json`, and the OpenSearch
//! description at `/opensearch.xml` that lets browsers offer the site's search.
//!
//! Each search runs on the store's thread, stopped after `store::SEARCH_TIME`; at most
//! [`AT_ONCE`] run at a time, so that a flood of searches cannot keep the polls from being
//! stored: the others are answered 503 at once.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::{Config, OutputFormat};
use crate::render::search::{SearchPage, feed, page};
use crate::render::templates::Templates;
use crate::report;
use crate::search::Query;
use crate::store::{ItemRow, Order, SharedStore, StoreError};

/// How many searches run at once.
pub const AT_ONCE: usize = 2;
/// The most items a page or a feed of a search lists.
const MOST_LISTED: usize = 100;
const LISTED: usize = 30;

/// What answers searches: the store and the config in force.
#[derive(Clone)]
pub struct Searching {
    pub store: SharedStore,
    pub config: Arc<Config>,
    pub permits: Arc<Semaphore>,
}

/// What a request asks, from its query string.
struct Asked {
    query: String,
    newest: bool,
    limit: usize,
}

impl Asked {
    fn of(uri: &Uri) -> Asked {
        let mut asked = Asked {
            query: String::new(),
            newest: false,
            limit: LISTED,
        };
        let pairs = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes());
        for (key, value) in pairs {
            match key.as_ref() {
                "q" => asked.query = value.trim().to_string(),
                "order" => asked.newest = value == "newest",
                "limit" => {
                    asked.limit = value.parse().unwrap_or(LISTED).clamp(1, MOST_LISTED);
                }
                _ => {}
            }
        }
        asked
    }

    /// This search at `path`, with its query string.
    fn at(&self, path: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("q", &self.query);
        if self.newest {
            query.append_pair("order", "newest");
        }
        format!("{path}?{}", query.finish())
    }
}

/// Answers `path` (`/search`, `/search.xml`, `/search.rss`, `/search.json`,
/// `/opensearch.xml`, `/favicon.svg`), or `None` for any other path.
pub async fn answer(
    searching: Searching,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let format = match path {
        "/search" => None,
        "/search.xml" => Some(OutputFormat::Atom),
        "/search.rss" => Some(OutputFormat::Rss),
        "/search.json" => Some(OutputFormat::Json),
        "/opensearch.xml" => return Some(description(&searching.config, headers)),
        // The icon the pages the server makes name (the site's own is in its folder).
        "/favicon.svg" => {
            let (_, icon) = crate::render::site::FAVICON;
            return Some(([(header::CONTENT_TYPE, "image/svg+xml")], icon).into_response());
        }
        _ => return None,
    };
    let asked = Asked::of(uri);
    let query = (!asked.query.is_empty()).then(|| searching.config.search_query(&asked.query, &[]));
    let found = match &query {
        Some(Ok(query)) => Some(run(&searching, query.clone(), &asked).await),
        _ => None,
    };
    let rows = match found {
        Some(Ok(rows)) => rows,
        Some(Err(answer)) => return Some(answer),
        None => Vec::new(),
    };
    let error = match &query {
        Some(Err(error)) => Some(error.to_string()),
        None if format.is_some() => Some("give a search: ?q=…".to_string()),
        _ => None,
    };
    Some(match format {
        None => html(&searching, &asked, query.and_then(Result::ok), &rows, error),
        Some(format) => match error {
            Some(error) => (StatusCode::BAD_REQUEST, error).into_response(),
            None => feed_of(&searching, &asked, format, path, &rows, headers),
        },
    })
}

/// The search, on the store's thread, if a permit is free.
async fn run(searching: &Searching, query: Query, asked: &Asked) -> Result<Vec<ItemRow>, Response> {
    let Ok(_permit) = Arc::clone(&searching.permits).try_acquire_owned() else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "too many searches at once; try again",
        )
            .into_response());
    };
    let order = if asked.newest {
        Order::Newest
    } else {
        Order::Relevance
    };
    let limit = asked.limit;
    let searched = searching
        .store
        .with(move |store| store.search(&query, order, limit, chrono::Utc::now()))
        .await;
    match searched {
        Some(Ok(rows)) => Ok(rows),
        Some(Err(error @ StoreError::TooSlow(_))) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response())
        }
        Some(Err(error)) => {
            tracing::error!(%error, "a search could not read the database");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
        None => Err(StatusCode::SERVICE_UNAVAILABLE.into_response()),
    }
}

fn html(
    searching: &Searching,
    asked: &Asked,
    query: Option<Query>,
    rows: &[ItemRow],
    error: Option<String>,
) -> Response {
    let config = &searching.config;
    let hits = query
        .as_ref()
        .map(|q| report::search::hits(rows, q))
        .unwrap_or_default();
    // Only http(s) links are shown, as on every page Tributary writes.
    let hits: Vec<report::search::Hit> = hits
        .into_iter()
        .map(|mut hit| {
            hit.link = hit.link.filter(|l| crate::sanitize::web_url(l).is_some());
            hit
        })
        .collect();
    let site_title = config
        .publishing
        .site
        .as_ref()
        .map_or("Tributary", |s| s.title.as_str());
    let search = SearchPage {
        site_title,
        query: &asked.query,
        newest: asked.newest,
        hits: &hits,
        feeds: query
            .is_some()
            .then(|| ["search.xml", "search.rss", "search.json"].map(|path| asked.at(path))),
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match page(&Templates::in_force(&config.publishing), &search) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the search page could not be made");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn feed_of(
    searching: &Searching,
    asked: &Asked,
    format: OutputFormat,
    path: &str,
    rows: &[ItemRow],
    headers: &HeaderMap,
) -> Response {
    let items: Vec<_> = rows.iter().map(|row| row.item.clone()).collect();
    let self_href = format!(
        "{}{}",
        origin(&searching.config, headers),
        asked.at(path.trim_start_matches('/'))
    );
    let body = match feed(
        format,
        &asked.query,
        self_href,
        &items,
        &searching.config.publishing,
    ) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "the search feed could not be made");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // A reader polling a search is answered 304 while its results stay the same.
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, format.media_type().to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response()
}

/// Where this server's root is reached from the outside, ending in `/`: `[site] base_url`
/// (the address of the folder it serves), else the request's `Host` over plain HTTP.
fn origin(config: &Config, headers: &HeaderMap) -> String {
    if let Some(base) = &config.publishing.base_url {
        let base = base.as_str();
        return if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}/")
}

/// `/opensearch.xml`: the page and the Atom feed of a search, as browsers and readers take
/// them.
fn description(config: &Config, headers: &HeaderMap) -> Response {
    let origin = origin(config, headers);
    let title = config
        .publishing
        .site
        .as_ref()
        .map_or("Tributary", |s| s.title.as_str());
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let short: String = title.chars().take(16).collect();
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>{short}</ShortName>
  <Description>Search the items of {title}</Description>
  <InputEncoding>UTF-8</InputEncoding>
  <Url type="text/html" method="get" template="{origin}search?q={{searchTerms}}"/>
  <Url type="application/atom+xml" method="get" template="{origin}search.xml?q={{searchTerms}}"/>
  <Url type="application/opensearchdescription+xml" rel="self" template="{origin}opensearch.xml"/>
</OpenSearchDescription>
"#,
        short = escape(&short),
        title = escape(title),
        origin = escape(&origin),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/opensearchdescription+xml",
        )],
        body,
    )
        .into_response()
}

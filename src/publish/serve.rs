//! The built-in HTTP server: serves the files Tributary wrote (outputs, their pages, OPML, the
//! health feed, the site) from memory, and nothing else.
//!
//! What it serves is a table from URL path to the published files (outputs, their pages, OPML,
//! the health feed), made again from their metadata after every render, and the site's pages,
//! found on disk at each request by the shape of their path (so that the table costs what the
//! outputs cost, not what the archive holds). Their bytes come from the cache (`cache`): after
//! a file's first request, one touches neither the disk nor a compressor while it is kept, and
//! a conditional request is answered from its `ETag` and `Last-Modified` alone.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::render::site::PageInfo;
use crate::render::templates::Templates;
use crate::report;
use crate::store::SharedStore;

use super::cache::{Cache, Coding, Found};
use super::callback::Inbox;
use super::search::Searching;
use tokio::sync::Semaphore;

/// What the server serves, shared with the renders that change it.
#[derive(Clone, Default)]
pub struct Served {
    routes: Arc<RwLock<Arc<Routes>>>,
    /// Where the site's pages are, and the URL path they are under.
    site: Arc<RwLock<Option<(PathBuf, String)>>>,
    /// The files' bytes, kept within `[serve] cache_size`.
    cache: Arc<Cache>,
    /// Where `/status` reads from, when `[serve] status` is on.
    status: Arc<RwLock<Option<StatusSource>>>,
    /// Where `/websub/<id>` hands deliveries, when the daemon takes them.
    inbox: Arc<RwLock<Option<Inbox>>>,
    /// What answers `/search` and its feeds.
    searching: Arc<RwLock<Option<Searching>>>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").finish_non_exhaustive()
    }
}

/// The store and the config in force, for the status page.
#[derive(Clone)]
struct StatusSource {
    store: SharedStore,
    config: Arc<Config>,
}

type Routes = HashMap<String, Route>;

/// A published file and what is sent with it.
#[derive(Clone)]
struct Route {
    found: Found,
    /// WebSub's `Link` headers (the hub, the feed's own address): a hub distributes only a
    /// topic whose publisher names both (WebSub §4).
    links: Arc<[HeaderValue]>,
}

/// Serves what Tributary writes at `[serve] listen` until the process ends, from `served`
/// (filled here from the files on disk, and after each render by [`Served::refresh`]).
pub async fn serve(
    config: &Arc<Config>,
    store: &SharedStore,
    served: &Served,
) -> std::io::Result<()> {
    let Some(listen) = config.publishing.listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    served.refresh(config, store);
    let app = router(served.clone());
    let address = listener.local_addr().unwrap_or(listen);
    let root = config.publishing.root.display();
    tracing::info!(%address, %root, "serving the outputs");
    tokio::spawn(super::connections::accept(
        listener,
        app,
        config.publishing.limits,
    ));
    Ok(())
}

/// A router answering every path from `served`: 404 for anything it does not hold.
pub fn router(served: Served) -> Router {
    Router::new().fallback(answer).with_state(served)
}

impl Served {
    /// Makes the table again from the files `config` writes inside `[serve] root` (an
    /// `index.html` also answers for its folder). The folder may hold the database, temp files
    /// or whatever a user left there: none of it is served. `/status` follows `config` too.
    pub fn refresh(&self, config: &Arc<Config>, store: &SharedStore) {
        let status = config.publishing.status_page.then(|| StatusSource {
            store: store.clone(),
            config: Arc::clone(config),
        });
        match self.status.write() {
            Ok(mut current) => *current = status,
            Err(poisoned) => *poisoned.into_inner() = status,
        }
        let mut searching = match self.searching.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        let permits = searching.as_ref().map_or_else(
            || Arc::new(Semaphore::new(super::search::AT_ONCE)),
            |s| Arc::clone(&s.permits),
        );
        *searching = Some(Searching {
            store: store.clone(),
            config: Arc::clone(config),
            permits,
        });
        drop(searching);
        let root = &config.publishing.root;
        let topics = config.websub_topics();
        let mut routes = Routes::new();
        for (path, content_type) in config.published_files() {
            let Some(route) = route_of(root, &path) else {
                continue;
            };
            let links = match topics.contains(&path) {
                true => websub_links(&config.publishing, &path),
                false => Arc::default(),
            };
            let Some(found) = Found::at(path, content_type) else {
                continue;
            };
            let file = Route { found, links };
            if let Some(folder) = route.strip_suffix("index.html") {
                routes
                    .entry(folder.to_string())
                    .or_insert_with(|| file.clone());
            }
            routes.insert(route, file);
        }
        let site = config.publishing.site.as_ref().and_then(|site| {
            let route = route_of(root, &site.pages.join("index.html"))?;
            let prefix = route.strip_suffix("index.html")?.to_string();
            Some((site.pages.clone(), prefix))
        });
        self.cache.set_budget(config.publishing.limits.cache_size);
        match self.routes.write() {
            Ok(mut current) => *current = Arc::new(routes),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(routes),
        }
        match self.site.write() {
            Ok(mut current) => *current = site,
            Err(poisoned) => *poisoned.into_inner() = site,
        }
    }

    /// The file that answers `route`: a published file, else a page of the site.
    fn find(&self, route: &str) -> Option<Route> {
        if let Some(found) = self.current().get(route) {
            return Some(found.clone());
        }
        let site = match self.site.read() {
            Ok(site) => site.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let (folder, prefix) = site?;
        let (path, content_type) = crate::render::site::page_at(route.strip_prefix(&prefix)?)?;
        let found = Found::at(folder.join(path), content_type)?;
        Some(Route {
            found,
            links: Arc::default(),
        })
    }

    /// Answers `/websub/<id>` from now on, handing deliveries to `inbox`.
    pub fn accept_pushes(&self, inbox: Inbox) {
        match self.inbox.write() {
            Ok(mut current) => *current = Some(inbox),
            Err(poisoned) => *poisoned.into_inner() = Some(inbox),
        }
    }

    fn inbox(&self) -> Option<Inbox> {
        match self.inbox.read() {
            Ok(inbox) => inbox.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn current(&self) -> Arc<Routes> {
        match self.routes.read() {
            Ok(routes) => Arc::clone(&routes),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// The `Link` headers of the feed at `path` when `[websub] hub` is set: `<hub>; rel="hub"` and
/// `<its public URL>; rel="self"` (none without a public URL, which the config requires).
fn websub_links(
    publishing: &crate::config::Publishing,
    path: &std::path::Path,
) -> Arc<[HeaderValue]> {
    let (Some(hub), Some(own)) = (&publishing.hub, publishing.public_url(path)) else {
        return Arc::default();
    };
    [
        format!("<{hub}>; rel=\"hub\""),
        format!("<{own}>; rel=\"self\""),
    ]
    .into_iter()
    .filter_map(|link| HeaderValue::try_from(link).ok())
    .collect()
}

/// The URL path of the file at `path` inside `root`, if it is inside.
fn route_of(root: &std::path::Path, path: &std::path::Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(format!("/{}", parts.join("/")))
}

/// The coding to answer with: brotli, else gzip, when `Accept-Encoding` takes it.
fn chosen_coding(headers: &HeaderMap) -> Coding {
    let Some(accepted) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Coding::Identity;
    };
    let takes = |name: &str| {
        accepted.split(',').any(|part| {
            let mut pieces = part.split(';');
            let coding = pieces.next().unwrap_or_default().trim();
            let refused = pieces.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if takes("br") {
        Coding::Brotli
    } else if takes("gzip") {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

async fn answer(
    State(served): State<Served>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(id) = uri.path().strip_prefix("/websub/") {
        if let Some(inbox) = served.inbox() {
            return super::callback::answer(inbox, id, method, &uri, &headers, body).await;
        }
    }
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    if matches!(path.as_ref(), "/status" | "/status.json") {
        let source = match served.status.read() {
            Ok(status) => status.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(source) = source {
            return status_page(source, path.ends_with(".json")).await;
        }
    }
    let searching = match served.searching.read() {
        Ok(searching) => searching.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    if let Some(searching) = searching {
        if let Some(answer) = super::search::answer(searching, &path, &uri, &headers).await {
            return answer;
        }
    }
    let Some(Route { found, links }) = served.find(path.as_ref()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let file = served.cache.get(found);
    let mut response = Response::builder()
        .header(header::VARY, "Accept-Encoding")
        .header(header::LAST_MODIFIED, file.last_modified.clone());
    for link in links.iter() {
        response = response.header(header::LINK, link.clone());
    }
    if file.not_modified(&headers) {
        let coding = chosen_coding(&headers);
        return response
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, file.etag(coding))
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let body = match file.body().await {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, file = %file.path.display(), "cannot read a served file");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let coding = chosen_coding(&headers);
    let (coding, body) = match file.encoded(coding, &body).await {
        Some(encoded) => (coding, encoded),
        None => (Coding::Identity, body),
    };
    if let Some(name) = coding.name() {
        response = response.header(header::CONTENT_ENCODING, name);
    }
    response
        .header(header::CONTENT_TYPE, file.content_type)
        .header(header::ETAG, file.etag(coding))
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `/status` (HTML) or `/status.json`: the sources' states as `tributary status` shows them,
/// read from the store at each request.
async fn status_page(source: StatusSource, json: bool) -> Response {
    let config = Arc::clone(&source.config);
    let read = source
        .store
        .with(move |store| crate::report::read_status(store, &config, None))
        .await;
    let reads = match read {
        Some(Ok(reads)) => reads,
        Some(Err(error)) => {
            tracing::error!(%error, "the status page could not read the database");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        None => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let config = &source.config;
    let rows = report::status_rows(&reads, config);
    let webhooks = report::WebhookRow::all(&reads.webhooks);
    let now = chrono::Utc::now();
    let body = if json {
        serde_json::to_vec_pretty(
            &serde_json::json!({ "generated": now, "sources": rows, "webhooks": webhooks }),
        )
        .map_err(|e| e.to_string())
    } else {
        status_html(config, &rows, now)
    };
    let content_type = if json {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    match body {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the status page could not be made");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn status_html(
    config: &Config,
    rows: &[report::StatusRow],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>, String> {
    let templates = Templates::in_force(&config.publishing);
    let or_dash = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(report::time).unwrap_or_else(|| "-".into())
    };
    let shown: Vec<minijinja::Value> = rows
        .iter()
        .map(|row| {
            minijinja::context! {
                name => &row.name,
                url => &row.url,
                state => row.state,
                state_text => &row.state_text,
                notes => &row.notes,
                last_success => or_dash(row.last_success),
                items => row.items,
                newest_item => or_dash(row.newest_item),
                next_poll => report::next_poll_text(row),
            }
        })
        .collect();
    let page = PageInfo {
        heading: "Sources".into(),
        ..PageInfo::standalone("Tributary status")
    };
    templates
        .environment()
        .and_then(|env| {
            env.get_template("status.html")?
                .render(minijinja::context! {
                    page,
                    rows => shown,
                    now => report::time(now),
                    now_datetime => now.to_rfc3339(),
                })
        })
        .map(String::into_bytes)
        .map_err(|e| templates.describe(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_coding_is_what_the_client_accepts_best() {
        let table = [
            (Some("gzip, deflate, br"), Coding::Brotli),
            (Some("gzip"), Coding::Gzip),
            (Some("br;q=0, gzip"), Coding::Gzip),
            (Some("GZIP;q=0.5"), Coding::Gzip),
            (Some("identity"), Coding::Identity),
            (Some("gzip;q=0"), Coding::Identity),
            (None, Coding::Identity),
        ];
        for (accept, coding) in table {
            let mut headers = HeaderMap::new();
            if let Some(accept) = accept {
                headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(accept));
            }
            assert_eq!(chosen_coding(&headers), coding, "{accept:?}");
        }
    }
}

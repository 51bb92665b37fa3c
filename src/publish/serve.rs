//! The built-in HTTP server: serves the files Tributary wrote (outputs, their pages, OPML, the
//! health feed, the site) from memory, and nothing else.
//!
//! What it serves is a table from URL path to file, made again after every render from the
//! files' metadata: a file whose size and mtime did not change keeps its entry, with the bytes
//! and compressed forms it already holds. A file's bytes are read on its first request, each
//! compressed form (gzip, brotli) made on the first request that accepts it (on a blocking
//! thread; requests meanwhile get the file as it is), and all are kept:
//! after that a request touches neither the disk nor a compressor, and a conditional request
//! is answered from the entry's `ETag` and `Last-Modified` alone.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::config::Config;
use crate::render::site::PageInfo;
use crate::render::templates::Templates;
use crate::report;
use crate::store::SharedStore;

use super::callback::Inbox;

/// What the server serves, shared with the renders that change it.
#[derive(Clone, Default)]
pub struct Served {
    routes: Arc<RwLock<Arc<Routes>>>,
    /// Where `/status` reads from, when `[serve] status` is on.
    status: Arc<RwLock<Option<StatusSource>>>,
    /// Where `/websub/<id>` hands deliveries, when the daemon takes them.
    inbox: Arc<RwLock<Option<Inbox>>>,
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

type Routes = HashMap<String, Arc<File>>;

/// One file as served.
#[derive(Debug)]
struct File {
    path: PathBuf,
    content_type: &'static str,
    /// Size and mtime when the table was made: what tells a changed file.
    len: u64,
    modified: SystemTime,
    etag: String,
    last_modified: HeaderValue,
    body: OnceLock<Bytes>,
    gzip: Mutex<Form>,
    brotli: Mutex<Form>,
}

/// A compressed form of a file.
#[derive(Debug, Clone)]
enum Form {
    /// Not asked for yet.
    Unmade,
    /// Being made, off the async workers, for the request that first asked for it.
    Making,
    /// Made: `None` when compressing did not make it smaller.
    Made(Option<Bytes>),
}

/// Compressions under way at once, on the blocking threads: one per core of a small machine.
/// A request that finds none free is answered uncompressed rather than made to wait.
static COMPRESSIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A content coding a client may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn name(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
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
        let root = &config.publishing.root;
        let old = self.current();
        let mut routes = Routes::new();
        for (path, content_type) in files(config) {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let route = format!("/{}", parts.join("/"));
            let file = match old.get(&route) {
                Some(file)
                    if file.path == path && file.len == meta.len() && file.modified == modified =>
                {
                    Arc::clone(file)
                }
                _ => Arc::new(File::new(path, content_type, meta.len(), modified)),
            };
            if let Some(folder) = route.strip_suffix("index.html") {
                routes
                    .entry(folder.to_string())
                    .or_insert_with(|| Arc::clone(&file));
            }
            routes.insert(route, file);
        }
        match self.routes.write() {
            Ok(mut current) => *current = Arc::new(routes),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(routes),
        }
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

/// Every file served, with its media type: the published files and the site's pages.
fn files(config: &Config) -> Vec<(PathBuf, &'static str)> {
    let mut files = config.published_files();
    if let Some(site) = &config.publishing.site {
        files.extend(
            crate::render::site::written_pages(&site.pages)
                .into_iter()
                .map(|page| {
                    let svg = page.extension().is_some_and(|e| e == "svg");
                    let media_type = if svg {
                        "image/svg+xml"
                    } else {
                        "text/html; charset=utf-8"
                    };
                    (page, media_type)
                }),
        );
    }
    files
}

impl File {
    fn new(path: PathBuf, content_type: &'static str, len: u64, modified: SystemTime) -> File {
        let since_epoch = modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        File {
            content_type,
            len,
            modified,
            // As nginx makes them: the mtime and the size, in hex.
            etag: format!("\"{:x}-{:x}\"", since_epoch.as_secs(), len),
            last_modified: HeaderValue::from_str(&httpdate(modified))
                .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            path,
            body: OnceLock::new(),
            gzip: Mutex::new(Form::Unmade),
            brotli: Mutex::new(Form::Unmade),
        }
    }

    /// Its bytes, read on first use.
    async fn body(&self) -> std::io::Result<Bytes> {
        if let Some(body) = self.body.get() {
            return Ok(body.clone());
        }
        let read = Bytes::from(tokio::fs::read(&self.path).await?);
        Ok(self.body.get_or_init(|| read).clone())
    }

    /// Its bytes in `coding`, compressed on first use; `None` when compressing would not help,
    /// or while another request has it being made (that one waits for it; no other does).
    /// Compressing runs on a blocking thread, never on an async worker, and is finished and
    /// kept even if the request that started it goes away.
    async fn encoded(self: &Arc<Self>, coding: Coding, body: &Bytes) -> Option<Bytes> {
        let permit = {
            let mut form = self.form(coding)?.lock().unwrap_or_else(|p| p.into_inner());
            match &*form {
                Form::Made(made) => return made.clone(),
                Form::Making => return None,
                Form::Unmade => {}
            }
            let permit = COMPRESSIONS.try_acquire().ok()?;
            *form = Form::Making;
            permit
        };
        let (file, body) = (Arc::clone(self), body.clone());
        let making = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let made = compress(coding, &body)
                .filter(|compressed| compressed.len() < body.len())
                .map(Bytes::from);
            if let Some(slot) = file.form(coding) {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Form::Made(made.clone());
            }
            made
        });
        making.await.ok().flatten()
    }

    fn form(&self, coding: Coding) -> Option<&Mutex<Form>> {
        match coding {
            Coding::Brotli => Some(&self.brotli),
            Coding::Gzip => Some(&self.gzip),
            Coding::Identity => None,
        }
    }

    /// The ETag of its form in `coding`: each form is its own representation.
    fn etag(&self, coding: Coding) -> String {
        match coding.name() {
            Some(name) => format!("{}-{name}\"", self.etag.trim_end_matches('"')),
            None => self.etag.clone(),
        }
    }

    /// Whether a conditional request's validators match what it holds.
    fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
            let tags = tags.to_str().unwrap_or_default();
            let ours = [Coding::Identity, Coding::Gzip, Coding::Brotli].map(|c| self.etag(c));
            return tags.trim() == "*"
                || tags
                    .split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| ours.iter().any(|o| o == t));
        }
        headers
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|since| since == self.last_modified)
    }
}

fn compress(coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 9,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            Some(out)
        }
        Coding::Identity => None,
    }
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
    let Some(file) = served.current().get(path.as_ref()).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = Response::builder()
        .header(header::VARY, "Accept-Encoding")
        .header(header::LAST_MODIFIED, file.last_modified.clone());
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

/// `time` as HTTP writes dates: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn httpdate(time: SystemTime) -> String {
    let time: chrono::DateTime<chrono::Utc> = time.into();
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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

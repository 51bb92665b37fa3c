//! One polite HTTP request (or local file read) for a source's feed, and its outcome.
//! No parsing, no SQL.
//!
//! Polite: conditional GET from stored validators, a clear User-Agent, a per-host limit on
//! requests in flight. Bounded: connect, first-byte and total timeouts, a body cap counted after
//! decompression, at most ten redirects. Redirects are followed by hand so that permanent moves
//! can be reported and redirects into private networks refused.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{
    Auth, CommandSpec, FetchSettings, PollSettings, SourceLocation, TlsSettings, shown_url,
};
use crate::model::Validators;
use crate::sanitize::{is_private_host, is_private_ip};

/// The most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 10;

/// Feed types first, then anything: some servers pick the representation by it.
const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/rdf+xml, \
                      application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8";

/// What a fetch came to, short of an error.
#[derive(Debug)]
pub enum FetchOutcome {
    /// A body to parse.
    Fetched(Fetched),
    /// 304: nothing changed since the validators were issued.
    NotModified(Response),
    /// 429 or 503: the publisher asks us to wait; not a failure of the source.
    RateLimited {
        /// 429 or 503.
        status: StatusCode,
        /// When the publisher allows the next request, if it said.
        retry_after: Option<DateTime<Utc>>,
    },
    /// 410: the publisher says the feed is gone for good.
    Gone,
}

impl FetchOutcome {
    /// With a body, that body's [`Fetched::public_only`] set to `yes`.
    fn public_only(mut self, yes: bool) -> FetchOutcome {
        if let FetchOutcome::Fetched(fetched) = &mut self {
            fetched.public_only = yes;
        }
        self
    }
}

/// What a response said about the source, beside its body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// Where the body finally came from, after redirects.
    pub final_url: Option<Url>,
    /// Where the URL asked for has moved to, when every redirect on the way was permanent
    /// (301/308).
    pub moved_to: Option<Url>,
    /// The validators to send back next time.
    pub validators: Validators,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// The WebSub hub and topic its `Link` headers name (`rel="hub"`, `rel="self"`).
    pub websub: (Option<Url>, Option<Url>),
}

/// A body (decompressed, not decoded: the parser reads the charset) and its response.
#[derive(Debug)]
pub struct Fetched {
    /// The body, decompressed and within `[poll] max_body`.
    pub body: Vec<u8>,
    /// The charset named by `Content-Type`, if any.
    pub charset: Option<String>,
    /// What the response said beside its body.
    pub response: Response,
    /// Whether the addresses the source's publisher names must be public (see
    /// [`Fetcher::guards_private`]), as decided for this fetch.
    pub public_only: bool,
}

/// Why a fetch failed, in words a person understands.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {} {what}", humantime::format_duration(*.after))]
    /// A timeout (connect, first byte or total) passed.
    Timeout {
        /// How long it waited.
        after: Duration,
        /// Which timeout: "to connect", "for the first byte", "in all".
        what: &'static str,
    },
    #[error("HTTP {0}")]
    /// An HTTP status that is neither success, 304, 410 nor rate limiting.
    Status(StatusCode),
    #[error("body over {limit} bytes ({})", bytesize::ByteSize(*.limit))]
    /// The body grew past `[poll] max_body`.
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    #[error("connection failed: {0}")]
    /// The server could not be reached.
    Connect(String),
    #[error("the proxy {proxy} could not be reached or refused the request: {reason}")]
    /// The source's proxy could not be reached, or would not carry the request.
    Proxy {
        /// The proxy, as it may be shown (no password).
        proxy: String,
        /// Why.
        reason: String,
    },
    #[error("{0}")]
    /// The exchange failed midway.
    Http(String),
    #[error("redirect loop at {0}")]
    /// A redirect led back to a URL already visited.
    RedirectLoop(Url),
    #[error("more than {MAX_REDIRECTS} redirects")]
    /// More than ten redirects.
    TooManyRedirects,
    #[error("redirect without a usable Location header")]
    /// A redirect without a usable `Location`.
    BadRedirect,
    #[error(
        "refused a redirect to the private address {0} (set [poll] allow_private_redirects = true to allow it)"
    )]
    /// A redirect from a public address into a private one, refused.
    PrivateRedirect(Url),
    #[error(
        "refused the private address {0}, which the publisher named (set [poll] allow_private_redirects = true to allow it)"
    )]
    /// A URL a public source handed over (a discovered feed, an article) that is private.
    PrivateAddress(Url),
    #[error("{0}")]
    /// A `kind = "command"` source's program could not start, or failed.
    Command(String),
    #[error("reading {path}: {error}")]
    /// A `file:` source could not be read.
    File {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
}

/// Fetches feeds over HTTP with one shared connection pool and per-host limits; sources with a
/// proxy or TLS settings of their own share a client per such setting.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: Arc<PollSettings>,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    pinned: Arc<Vec<(String, std::net::SocketAddr)>>,
    own_clients: Arc<Mutex<HashMap<ClientKey, reqwest::Client>>>,
}

/// What sets a client apart: its proxy and its TLS settings.
type ClientKey = (Option<String>, TlsSettings);

/// One source's request settings, and where its credentials may go.
#[derive(Debug, Clone, Copy)]
pub struct SourceRequest<'a> {
    /// Its headers, credentials, proxy, TLS and cache settings.
    pub settings: &'a FetchSettings,
    /// The origin its configured URL names: headers and credentials are sent there only, never
    /// after a redirect (or a move) to another scheme, host or port.
    pub home: Option<&'a Url>,
}

impl Fetcher {
    /// A fetcher with `settings`' timeouts, limits and `User-Agent`.
    pub fn new(settings: &PollSettings) -> Result<Self, FetchError> {
        Self::with_pinned_hosts(settings, &[])
    }

    /// A fetcher that connects to the given address for each named host instead of asking DNS
    /// (as `curl --resolve` does). The private-address guard still judges names by DNS, which
    /// is what lets tests stand a "public" host on 127.0.0.1.
    pub fn with_pinned_hosts(
        settings: &PollSettings,
        pinned: &[(&str, std::net::SocketAddr)],
    ) -> Result<Self, FetchError> {
        let pinned: Vec<(String, std::net::SocketAddr)> =
            pinned.iter().map(|(h, a)| (h.to_string(), *a)).collect();
        let client = build_client(settings, &pinned, None, &TlsSettings::default())?;
        Ok(Fetcher {
            client,
            settings: Arc::new(settings.clone()),
            hosts: Arc::default(),
            pinned: Arc::new(pinned),
            own_clients: Arc::default(),
        })
    }

    /// The client for a source: the shared one, or one for its own proxy and TLS settings.
    fn client_for(&self, source: &FetchSettings) -> Result<reqwest::Client, FetchError> {
        if !source.needs_own_client() {
            return Ok(self.client.clone());
        }
        let key = (
            source.proxy.as_ref().map(Url::to_string),
            source.tls.clone(),
        );
        let mut clients = self.own_clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = build_client(
            &self.settings,
            &self.pinned,
            source.proxy.as_ref(),
            &source.tls,
        )?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// Fetches one source's feed from `location`, conditionally on `validators` (unless the
    /// source ignores the cache).
    pub async fn fetch(
        &self,
        location: &SourceLocation,
        validators: &Validators,
        source: SourceRequest<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        let none = Validators::default();
        let validators = if source.settings.ignore_cache {
            &none
        } else {
            validators
        };
        let started = std::time::Instant::now();
        let outcome = match location {
            SourceLocation::Http(url) => {
                let total = self.settings.timeout;
                tokio::time::timeout(total, self.fetch_http(url, validators, source))
                    .await
                    .map_err(|_| FetchError::Timeout {
                        after: total,
                        what: "in all",
                    })?
            }
            SourceLocation::File(path) => read_file(path, self.settings.max_body).await,
            SourceLocation::Command(spec) => run_command(spec, self.settings.max_body).await,
        };
        // An HTTP fetch decides it on its way (see `fetch_http`); a file or a program has no
        // address of its own.
        let outcome = match location {
            SourceLocation::Http(_) => outcome,
            SourceLocation::File(_) | SourceLocation::Command(_) => {
                let public_only = self.guards_private(source).await;
                outcome.map(|o| o.public_only(public_only))
            }
        };
        let bytes = match &outcome {
            Ok(FetchOutcome::Fetched(fetched)) => fetched.body.len(),
            _ => 0,
        };
        crate::metrics::global().fetched(started.elapsed(), bytes);
        outcome
    }

    /// The shared HTTP client, for requests that are not feed fetches (WebSub pings).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Waits for a permit of `location`'s host, so that no host gets more than
    /// `per_host_concurrency` requests at once. Taken before a global permit, so that sources
    /// queued for one busy host do not hold permits that other hosts could use.
    pub async fn host_permit(
        &self,
        location: &SourceLocation,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let SourceLocation::Http(url) = location else {
            return None;
        };
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host_concurrency)))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }

    async fn fetch_http(
        &self,
        start: &Url,
        validators: &Validators,
        source: SourceRequest<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        let client = self.client_for(source.settings)?;
        // A source configured with a private address is the user's choice and allowed. Every
        // other address a public source leads to (a redirect, a feed its page links to, an
        // article) is the publisher's, and refused when private: whether the guard holds is
        // decided by the configured address alone, never by where this fetch starts.
        let guard_private = self.guards_private(source).await;
        if guard_private && source.home != Some(start) && is_private(start).await {
            return Err(FetchError::PrivateAddress(start.clone()));
        }
        let mut url = start.clone();
        let mut visited = HashSet::from([url.clone()]);
        let mut all_permanent = true;
        let mut moved_to = None;
        for hop in 0..=MAX_REDIRECTS {
            let at_home = source
                .home
                .is_some_and(|home| home.origin() == url.origin());
            let response = self
                .send(&client, &url, validators, source.settings, at_home)
                .await
                .map_err(|error| match (error, &source.settings.proxy) {
                    (FetchError::Connect(reason), Some(proxy)) => FetchError::Proxy {
                        proxy: shown_url(proxy),
                        reason,
                    },
                    (error, _) => error,
                })?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if hop == MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                let next = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| url.join(location).ok())
                    .filter(|u| u.scheme() == "http" || u.scheme() == "https")
                    .ok_or(FetchError::BadRedirect)?;
                if !visited.insert(next.clone()) {
                    return Err(FetchError::RedirectLoop(next));
                }
                if guard_private && is_private(&next).await {
                    return Err(FetchError::PrivateRedirect(next));
                }
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                if all_permanent {
                    moved_to = Some(next.clone());
                }
                url = next;
                continue;
            }
            let outcome = self.finish(response, url, moved_to).await?;
            return Ok(outcome.public_only(guard_private));
        }
        Err(FetchError::TooManyRedirects)
    }

    /// Whether addresses `source`'s publisher names must be public: unless `[poll]
    /// allow_private_redirects`, or the source's own configured address is private. A source
    /// read from a file or a program has no address, so none of its own is private.
    pub async fn guards_private(&self, source: SourceRequest<'_>) -> bool {
        if self.settings.allow_private_redirects {
            return false;
        }
        match source.home {
            Some(home) => !is_private(home).await,
            None => true,
        }
    }

    /// One request; the source's headers and credentials only when `at_home` (at its own
    /// origin), as browsers drop them on a redirect elsewhere.
    async fn send(
        &self,
        client: &reqwest::Client,
        url: &Url,
        validators: &Validators,
        source: &FetchSettings,
        at_home: bool,
    ) -> Result<reqwest::Response, FetchError> {
        let mut request = client.get(url.clone()).header(header::ACCEPT, ACCEPT);
        if let Some(agent) = &source.user_agent {
            request = request.header(header::USER_AGENT, agent);
        }
        if at_home {
            for (name, value) in &source.headers {
                request = request.header(name, value.expose());
            }
            request = match &source.auth {
                Some(Auth::Basic { username, password }) => {
                    request.basic_auth(username, Some(password.expose()))
                }
                Some(Auth::Bearer(token)) => request.bearer_auth(token.expose()),
                None => request,
            };
        }
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, date);
        }
        let first_byte = self.settings.first_byte_timeout;
        tokio::time::timeout(first_byte, request.send())
            .await
            .map_err(|_| FetchError::Timeout {
                after: first_byte,
                what: "waiting for a response",
            })?
            .map_err(|e| self.describe(e))
    }

    async fn finish(
        &self,
        mut response: reqwest::Response,
        final_url: Url,
        moved_to: Option<Url>,
    ) -> Result<FetchOutcome, FetchError> {
        let status = response.status();
        let headers = response.headers();
        let described = Response {
            final_url: Some(final_url.clone()),
            moved_to,
            validators: Validators {
                etag: header_text(headers, header::ETAG),
                last_modified: header_text(headers, header::LAST_MODIFIED),
            },
            max_age: header_text(headers, header::CACHE_CONTROL).and_then(|v| max_age(&v)),
            websub: websub_links(
                headers
                    .get_all(header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
                &final_url,
            ),
        };
        match status {
            StatusCode::NOT_MODIFIED => return Ok(FetchOutcome::NotModified(described)),
            StatusCode::GONE => return Ok(FetchOutcome::Gone),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                let retry_after = header_text(headers, header::RETRY_AFTER)
                    .and_then(|v| parse_retry_after(&v, Utc::now()));
                return Ok(FetchOutcome::RateLimited {
                    status,
                    retry_after,
                });
            }
            s if !s.is_success() => return Err(FetchError::Status(s)),
            _ => {}
        }
        let charset = header_text(headers, header::CONTENT_TYPE).and_then(|v| charset(&v));
        let limit = self.settings.max_body;
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        // Chunks arrive decompressed: counting them stops a gzip bomb at the cap, never
        // inflating more than that in memory.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(e))? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched {
            public_only: false,
            body,
            charset,
            response: described,
        }))
    }

    fn describe(&self, error: reqwest::Error) -> FetchError {
        if error.is_timeout() && error.is_connect() {
            FetchError::Timeout {
                after: self.settings.connect_timeout,
                what: "connecting",
            }
        } else if error.is_timeout() {
            FetchError::Timeout {
                after: self.settings.timeout,
                what: "in all",
            }
        } else if error.is_connect() {
            FetchError::Connect(innermost_cause(&error))
        } else {
            FetchError::Http(innermost_cause(&error))
        }
    }
}

/// An HTTP client with `[poll]`'s settings, through `proxy` if given, trusting what `tls` says.
fn build_client(
    settings: &PollSettings,
    pinned: &[(String, std::net::SocketAddr)],
    proxy: Option<&Url>,
    tls: &TlsSettings,
) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(settings.user_agent.as_str())
        .connect_timeout(settings.connect_timeout)
        .redirect(reqwest::redirect::Policy::none());
    for (host, addr) in pinned {
        builder = builder.resolve(host, *addr);
    }
    if let Some(proxy) = proxy {
        let proxy = reqwest::Proxy::all(proxy.as_str())
            .map_err(|e| FetchError::Http(format!("proxy: {}", innermost_cause(&e))))?;
        builder = builder.proxy(proxy);
    }
    if let Some(ca) = &tls.ca {
        let pem = std::fs::read(ca).map_err(|error| FetchError::File {
            path: ca.display().to_string(),
            error,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| FetchError::Http(format!("tls.ca {}: {e}", ca.display())))?;
        builder = builder.tls_certs_merge(certs);
    }
    if tls.accept_invalid_certs {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| FetchError::Http(e.to_string()))
}

/// The most of a command's standard error kept, and the lines of it a failure quotes.
const STDERR_KEPT: u64 = 64 * 1024;
const STDERR_LINES: usize = 3;

/// Runs a source's program: its standard output is the feed, capped like a body. A non-zero
/// exit is a failure quoting the first lines of its standard error; past its timeout, or past
/// the cap, its whole process group is killed.
async fn run_command(spec: &CommandSpec, limit: u64) -> Result<FetchOutcome, FetchError> {
    let program = &spec.argv[0];
    let mut child = tokio::process::Command::new(program)
        .args(&spec.argv[1..])
        .current_dir(&spec.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| FetchError::Command(format!("could not start {program}: {e}")))?;
    let group = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id.try_into().ok()?));
    let kill_group = || {
        if let Some(group) = group {
            // The group may be gone already; nothing else to do then.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill_group();
        return Err(FetchError::Command(format!(
            "could not read {program}'s output"
        )));
    };
    let errors = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stderr.take(STDERR_KEPT).read_to_end(&mut text).await;
        text
    });
    // The output is read while the command runs. When it exits, its whole group is ended: a
    // child it left in the background would otherwise outlive every poll and hold the pipe
    // open, so the output never ends.
    let read = async {
        let mut body = Vec::new();
        stdout
            .take(limit + 1)
            .read_to_end(&mut body)
            .await
            .map_err(|e| FetchError::Command(format!("reading {program}'s output: {e}")))?;
        if body.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        Ok(body)
    };
    let exit = async {
        let status = child.wait().await;
        kill_group();
        status.map_err(|e| FetchError::Command(format!("waiting for {program}: {e}")))
    };
    let run = async { tokio::try_join!(read, exit) };
    let outcome = tokio::time::timeout(spec.timeout, run).await;
    let (body, status) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(error)) => {
            kill_group();
            return Err(error);
        }
        Err(_) => {
            kill_group();
            return Err(FetchError::Timeout {
                after: spec.timeout,
                what: "running the command",
            });
        }
    };
    if !status.success() {
        let stderr = errors.await.unwrap_or_default();
        return Err(failed_command(program, status, &stderr));
    }
    Ok(FetchOutcome::Fetched(Fetched {
        public_only: false,
        body,
        charset: None,
        response: Response::default(),
    }))
}

/// A command that exited with `status`: how, and the first lines of its standard error.
fn failed_command(program: &str, status: std::process::ExitStatus, stderr: &[u8]) -> FetchError {
    let stderr = String::from_utf8_lossy(stderr);
    let first: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(STDERR_LINES)
        .collect();
    let how = status.code().map_or_else(
        || "was killed by a signal".to_string(),
        |c| format!("exited with {c}"),
    );
    let said = if first.is_empty() {
        String::new()
    } else {
        format!(": {}", first.join(" / "))
    };
    FetchError::Command(format!("{program} {how}{said}"))
}

async fn read_file(path: &Path, limit: u64) -> Result<FetchOutcome, FetchError> {
    let error = |error| FetchError::File {
        path: path.display().to_string(),
        error,
    };
    let size = tokio::fs::metadata(path).await.map_err(error)?.len();
    if size > limit {
        return Err(FetchError::TooLarge { limit });
    }
    let body = tokio::fs::read(path).await.map_err(error)?;
    Ok(FetchOutcome::Fetched(Fetched {
        public_only: false,
        body,
        charset: None,
        response: Response {
            final_url: Url::from_file_path(path).ok(),
            ..Response::default()
        },
    }))
}

/// The first `rel="hub"` and `rel="self"` targets of `Link` header values (RFC 8288), made
/// absolute against `base`; only http(s) ones.
pub fn websub_links<'a>(
    values: impl Iterator<Item = &'a str>,
    base: &Url,
) -> (Option<Url>, Option<Url>) {
    let (mut hub, mut topic) = (None, None);
    for value in values {
        let mut rest = value;
        // Each link is `<target>; param=value; …`, links separated by commas outside `<>`.
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            let target = &rest[open + 1..close];
            let params_end = rest[close..].find('<').map_or(rest.len(), |n| close + n);
            let params = &rest[close + 1..params_end];
            rest = &rest[params_end..];
            let rels = params.split(';').find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("rel")
                    .then(|| value.trim().trim_end_matches(',').trim().trim_matches('"'))
            });
            let Some(url) = base
                .join(target.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
            else {
                continue;
            };
            for rel in rels.unwrap_or_default().split_ascii_whitespace() {
                match rel.to_ascii_lowercase().as_str() {
                    "hub" => hub = hub.or_else(|| Some(url.clone())),
                    "self" => topic = topic.or_else(|| Some(url.clone())),
                    _ => {}
                }
            }
        }
    }
    (hub, topic)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// `Retry-After` as a moment: a number of seconds from `now`, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(now + chrono::Duration::seconds(i64::from(seconds)));
    }
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `max-age` from a `Cache-Control` header.
pub fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let seconds = value.trim().trim_matches('"').parse::<u64>().ok()?;
        Some(Duration::from_secs(seconds))
    })
}

/// The `charset` parameter of a `Content-Type` header.
pub fn charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    })
}

/// Whether `url`'s host is, or resolves to, a loopback, private or link-local address.
pub async fn is_private(url: &Url) -> bool {
    if is_private_host(url) {
        return true;
    }
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(80);
            match tokio::net::lookup_host((name, port)).await {
                Ok(mut addrs) => addrs.any(|a| is_private_ip(a.ip())),
                // It cannot be reached either; the request itself will say why.
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// reqwest's own message is "error sending request"; the cause at the bottom says what happened.
/// The innermost cause of `error`, in words: what actually went wrong.
pub fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_name_the_hub_and_the_topic() {
        let base = Url::parse("https://pub.example/feed").unwrap();
        let found = websub_links(
            [
                r#"<https://pub.example/>; rel="alternate", <https://hub.example/>; rel="hub""#,
                r#"</feed.xml>; rel=self, <https://hub2.example/>; rel="hub""#,
            ]
            .into_iter(),
            &base,
        );
        assert_eq!(found.0.unwrap().as_str(), "https://hub.example/");
        assert_eq!(found.1.unwrap().as_str(), "https://pub.example/feed.xml");
        let none = websub_links([r#"<ftp://x/>; rel="hub""#, "garbage"].into_iter(), &base);
        assert_eq!(none, (None, None));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now: DateTime<Utc> = "2025-08-19T10:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            "2025-08-19T10:02:00Z".parse().ok()
        );
        assert_eq!(
            parse_retry_after("Tue, 19 Aug 2025 12:00:00 GMT", now),
            "2025-08-19T12:00:00Z".parse().ok()
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn max_age_and_charset_are_read_from_headers() {
        assert_eq!(
            max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(
            charset("text/xml; charset=\"ISO-8859-1\"").as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(charset("application/rss+xml"), None);
    }

    #[test]
    fn private_addresses_are_recognised() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private_ip(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private_ip(public.parse().unwrap()), "{public}");
        }
    }
}

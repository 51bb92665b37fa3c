//! One HTTP request (or local file read) for a source's feed, and its outcome. No parsing, no SQL.

use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::config::SourceLocation;

/// The largest feed body read; a bigger one is the publisher's problem, not our memory's.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What was fetched: the raw body (decompressed, not decoded: the parser reads the charset) and
/// the URL it finally came from, against which relative links resolve.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub final_url: Option<Url>,
}

/// Why a fetch failed, in words a person understands.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("body over {} MiB", MAX_BODY_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("{0}")]
    Http(String),
    #[error("reading {path}: {error}")]
    File { path: String, error: std::io::Error },
}

/// Fetches feeds over HTTP with one shared connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
}

/// The `User-Agent` publishers see in their logs.
pub const USER_AGENT: &str = concat!(
    "Tributary/",
    env!("CARGO_PKG_VERSION"),
    " (feed aggregator; +",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// Feed types first, then anything: some servers pick the representation by it.
const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/rdf+xml, \
                      application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8";

impl Fetcher {
    /// A fetcher whose every request, body included, ends within `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| FetchError::Http(e.to_string()))?;
        Ok(Fetcher { client, timeout })
    }

    /// Fetches one source's feed body.
    pub async fn fetch(&self, location: &SourceLocation) -> Result<Fetched, FetchError> {
        match location {
            SourceLocation::Http(url) => self.fetch_http(url).await,
            SourceLocation::File(path) => read_file(path).await,
        }
    }

    async fn fetch_http(&self, url: &Url) -> Result<Fetched, FetchError> {
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, ACCEPT)
            .send()
            .await
            .map_err(|e| self.describe(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let final_url = Some(response.url().clone());
        // Read chunk by chunk so that a huge or endless body stops at the cap.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, final_url })
    }

    fn describe(&self, error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if error.is_connect() {
            FetchError::Connect(innermost_cause(&error))
        } else {
            FetchError::Http(innermost_cause(&error))
        }
    }
}

async fn read_file(path: &Path) -> Result<Fetched, FetchError> {
    let error = |error| FetchError::File {
        path: path.display().to_string(),
        error,
    };
    let size = tokio::fs::metadata(path).await.map_err(error)?.len();
    if size > MAX_BODY_BYTES as u64 {
        return Err(FetchError::TooLarge);
    }
    let body = tokio::fs::read(path).await.map_err(error)?;
    Ok(Fetched {
        body,
        final_url: Url::from_file_path(path).ok(),
    })
}

/// reqwest's own message is "error sending request"; the cause at the bottom says what happened.
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

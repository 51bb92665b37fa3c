//! One source refreshed: fetch → parse → store, inside one tracing span, ending in an outcome.
//!
//! Whatever goes wrong with a source (network, HTTP status, a body that is not a feed, even a
//! panic in the parser) becomes that source's recorded, logged outcome and goes no further.

use std::time::Instant;

use chrono::Utc;
use tracing::Instrument;

use crate::config::SourceConfig;
use crate::fetch::{FetchError, Fetcher};
use crate::model::{ItemCounts, RefreshOutcome};
use crate::parse::{ParseError, parse_feed};
use crate::store::{SharedStore, StoreError};

/// What a refresh needs, shared by every task.
#[derive(Debug, Clone)]
pub struct Context {
    pub fetcher: Fetcher,
    pub store: SharedStore,
}

/// Why a source's refresh failed.
#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error while {0} (this is a bug in Tributary; please report it)")]
    Crashed(&'static str),
}

/// Refreshes one source and returns what happened; never fails, never panics outward.
pub async fn refresh(ctx: &Context, source: &SourceConfig) -> RefreshOutcome {
    // A span at WARN, not INFO, so that failures logged under `once`'s quieter default level
    // still carry the source's name and URL.
    let span = tracing::warn_span!("refresh", source = source.label(), url = %source.url);
    async {
        let started = Instant::now();
        let result = fetch_parse_store(ctx, source).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((title, counts)) => {
                tracing::info!(
                    new = counts.new,
                    updated = counts.updated,
                    unchanged = counts.unchanged,
                    elapsed_ms,
                    "polled"
                );
                let name = source.name.clone().or(title).unwrap_or(source.url.clone());
                RefreshOutcome {
                    url: source.url.clone(),
                    name,
                    result: Ok(counts),
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::warn!(error = %message, elapsed_ms, "poll failed");
                let (record, now) = (source.clone(), Utc::now());
                let recorded = message.clone();
                match ctx
                    .store
                    .with(move |store| store.record_failure(&record, &recorded, now))
                    .await
                {
                    Some(Ok(())) => {}
                    Some(Err(e)) => tracing::error!(error = %e, "could not record the failure"),
                    None => tracing::error!("recording the failure crashed"),
                }
                RefreshOutcome {
                    url: source.url.clone(),
                    name: source.label().to_string(),
                    result: Err(message),
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// The work itself: returns the feed's own title and what changed in the store.
async fn fetch_parse_store(
    ctx: &Context,
    source: &SourceConfig,
) -> Result<(Option<String>, ItemCounts), RefreshError> {
    let fetched = ctx.fetcher.fetch(&source.location).await?;
    // Parsing and sanitizing are CPU work: off the async workers, and a panic in a dependency
    // is caught at this boundary.
    let parsed =
        tokio::task::spawn_blocking(move || parse_feed(&fetched.body, fetched.final_url.as_ref()))
            .await
            .map_err(|_| RefreshError::Crashed("parsing the feed"))??;
    let title = parsed.meta.title.clone();
    let (record, now) = (source.clone(), Utc::now());
    let counts = ctx
        .store
        .with(move |store| store.record_fetch(&record, &parsed.meta, &parsed.items, now))
        .await
        .ok_or(RefreshError::Crashed("storing the items"))??;
    Ok((title, counts))
}

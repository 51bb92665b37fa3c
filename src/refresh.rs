//! One source refreshed: fetch → parse → store, inside one tracing span, ending in an outcome.
//!
//! Whatever goes wrong with a source (network, HTTP status, a body that is not a feed, even a
//! panic in the parser) becomes that source's recorded, logged outcome and goes no further.
//! How a poll changes the source's state (backoff, Retry-After, gone, moved) is decided by the
//! pure function [`advance`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;
use url::Url;

use crate::config::{
    Config, ItemRules, PollSettings, SourceConfig, SourceKind, SourceLocation, WebhookConfig,
};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Response, SourceRequest};
use crate::identity::normalized_date;
use crate::model::{
    EventKind, Failure, FailureKind, FetchState, HealthEvent, ItemCounts, NextPoll, PollResult,
    PollStatus, Reason, RefreshOutcome, Validators, Verdict, Webhook,
};
use crate::parse::{ParseError, ParseOptions, ParsedFeed, discover_feed_link, read_source};
use crate::rules::{CurrentShaping, Shaped};
use crate::schedule::{self, Pace};
use crate::store::{Poll, SharedStore, StoreError};
use crate::websub::Pushed;

/// The pipeline a refresh runs through: the fetcher, the store, the settings and the parse
/// permits, shared by every task.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// HTTP, with its connection pool and per-host limits.
    pub fetcher: Fetcher,
    /// The database, on its own thread.
    pub store: SharedStore,
    /// `[poll]`.
    pub poll: Arc<PollSettings>,
    /// `[retention]`, `[dedup]`, `[content]`.
    pub rules: Arc<ItemRules>,
    /// `[[rules]]` and every source's rules and rewrites.
    pub shaping: CurrentShaping,
    /// Places between parsing and storing.
    pub parse_permits: ParsePermits,
    /// `[[webhooks]]`: new items are queued for them as they are stored.
    pub webhooks: Arc<Vec<WebhookConfig>>,
}

/// Why the pipeline could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    /// The database could not be opened or the sources recorded.
    Store(#[from] StoreError),
    #[error("setting up the HTTP client: {0}")]
    /// The HTTP client could not be built.
    Http(#[from] crate::fetch::FetchError),
    #[error("starting the database thread: {0}")]
    /// The database thread could not be started.
    Thread(#[from] std::io::Error),
}

impl Pipeline {
    /// Opens the database, records the configured sources in it, and sets up the fetcher.
    pub fn open(config: &Config) -> Result<Pipeline, OpenError> {
        let mut store = crate::store::Store::open_at(&config.database_location())?;
        store.sync_sources(&config.sources)?;
        // Before the polls: an upgraded database indexes its archive here, saying how far it is.
        store.save_searches(config.saved_searches(), chrono::Utc::now())?;
        store.index_pending(chrono::Utc::now())?;
        store.set_stories(config.stories.clone());
        store.key_pending()?;
        let shaping = config.shaping();
        Ok(Pipeline {
            fetcher: Fetcher::new(&config.poll)?,
            store: SharedStore::new(store)?,
            poll: Arc::new(config.poll.clone()),
            rules: Arc::new(config.items.clone()),
            shaping: CurrentShaping::new(shaping),
            parse_permits: ParsePermits::for_this_machine(),
            webhooks: Arc::new(config.webhooks.clone()),
        })
    }
}

impl Pipeline {
    /// Shapes every stored item again if the rules changed since they were (see
    /// [`crate::store::Store::reshape_batch`]), a batch per turn of the store, so that polls
    /// are written between batches; says whether any item changed. Errors are logged: the
    /// items keep their last shape, and the next start tries again.
    pub async fn apply_rules(&self) -> bool {
        // The rules in force now, for every batch: a reload meanwhile starts another run.
        let shaping = self.shaping.get();
        let rules = Arc::clone(&shaping);
        match self.store.with(move |store| store.shaped_by(&rules)).await {
            Some(Ok(true)) => return false,
            Some(Ok(false)) => {}
            Some(Err(error)) => {
                tracing::error!(%error, "reading which rules shaped the stored items failed");
                return false;
            }
            None => return false,
        }
        let (mut changed, mut after) = (0, Some(0));
        while let Some(from) = after {
            let rules = Arc::clone(&shaping);
            let batch = self
                .store
                .with(move |store| store.reshape_batch(&rules, from, Utc::now()))
                .await;
            match batch {
                Some(Ok((count, last))) => {
                    changed += count;
                    after = last;
                }
                Some(Err(error)) => {
                    tracing::error!(%error, "shaping the stored items again failed");
                    return changed > 0;
                }
                None => {
                    tracing::error!("shaping the stored items again crashed");
                    return changed > 0;
                }
            }
        }
        tracing::info!(changed, "the rules changed: stored items shaped again");
        changed > 0
    }

    /// Groups every stored item into stories again if the settings changed since they were
    /// grouped ([`crate::store::Store::regroup_batch`]), a batch per turn of the store; the new
    /// grouping replaces the old at once when done. Says whether it did. Errors are logged:
    /// the old grouping stays, and the next start goes on.
    pub async fn regroup_stories(&self) -> bool {
        match self.store.with(|store| store.grouped_as_set()).await {
            Some(Ok(true)) | None => return false,
            Some(Ok(false)) => {}
            Some(Err(error)) => {
                tracing::error!(%error, "reading how stories were grouped failed");
                return false;
            }
        }
        let (mut joined, started) = (0, std::time::Instant::now());
        loop {
            let shaping = self.shaping.get();
            match self
                .store
                .with(move |store| store.regroup_batch(&shaping))
                .await
            {
                Some(Ok((count, more))) => {
                    joined += count;
                    if !more {
                        break;
                    }
                }
                Some(Err(error)) => {
                    tracing::error!(%error, "grouping the stored items into stories failed");
                    return false;
                }
                None => {
                    tracing::error!("grouping the stored items into stories crashed");
                    return false;
                }
            }
        }
        let took_ms = started.elapsed().as_millis();
        tracing::info!(
            joined,
            took_ms,
            "the story settings changed: stored items grouped again"
        );
        true
    }
}

/// Places for feeds between parsing and storing. Parsing is CPU work and the store has one
/// writer, so more feeds at once would only hold more parsed feeds in memory. A feed takes one
/// place per `PARSE_PERMIT_SIZE` of its body, so that large feeds pass fewer at a time (alone,
/// past a size) and memory does not grow with feed sizes. Taken after the download, so a slow
/// publisher holds none; held until the feed is stored.
#[derive(Debug, Clone)]
pub struct ParsePermits {
    places: Arc<Semaphore>,
    count: usize,
}

/// How much of a feed's body one place between parsing and storing stands for.
const PARSE_PERMIT_SIZE: usize = 256 * 1024;

impl ParsePermits {
    /// Twice as many places as cores: enough to keep parsing and storing both busy.
    pub fn for_this_machine() -> ParsePermits {
        let count = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        ParsePermits {
            places: Arc::new(Semaphore::new(count)),
            count,
        }
    }

    /// Waits for the places a body of `size` bytes takes: one per `PARSE_PERMIT_SIZE`, at least
    /// one, and never more than there are, so that a large feed waits for all of them rather
    /// than forever.
    async fn take(&self, size: usize) -> Option<OwnedSemaphorePermit> {
        let places = size.div_ceil(PARSE_PERMIT_SIZE).clamp(1, self.count);
        // The semaphore is never closed, so acquiring only waits.
        Arc::clone(&self.places)
            .acquire_many_owned(u32::try_from(places).ok()?)
            .await
            .ok()
    }
}

/// Which sources a refresh may skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Poll unless the source is gone or inside a Retry-After window (`once`, and the daemon,
    /// whose schedule already follows the stored next poll times).
    Now,
    /// Poll only if the source's next poll time has come (`once --due`, for cron).
    Due,
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

/// What one attempt to read a source came to, before it is recorded.
#[derive(Debug)]
pub enum Attempt {
    /// A feed was read.
    Fetched {
        /// The feed, parsed and cleaned.
        feed: Box<ParsedFeed>,
        /// What the response said beside its body.
        response: Response,
        /// The feed URL found on the HTML page the source pointed at, if that is how it was read.
        discovered: Option<Url>,
        /// A place among the feeds parsed and not yet stored, held until the feed is stored.
        permit: Option<OwnedSemaphorePermit>,
    },
    /// 304: nothing changed.
    NotModified(Response),
    /// 429 or 503: the publisher asked to wait.
    RateLimited {
        /// The HTTP status.
        status: u16,
        /// When the publisher allows the next request, if it said.
        retry_after: Option<DateTime<Utc>>,
    },
    /// 410: the publisher removed the feed.
    Gone,
    /// Anything else that went wrong.
    Failed(Failure),
}

/// Refreshes one source and returns what happened; never fails, never panics outward.
pub async fn refresh(ctx: &Pipeline, source: &SourceConfig, mode: Mode) -> RefreshOutcome {
    // A span at WARN, not INFO, so that failures logged under `once`'s quieter default level
    // still carry the source's name and URL.
    let span = tracing::warn_span!("refresh", source = %source.label(), url = %source.shown_url());
    let outcome = refresh_in_span(ctx, source, mode).instrument(span).await;
    let (new, updated) = match &outcome.result {
        PollResult::Fetched(counts) => (counts.new, counts.updated),
        _ => (0, 0),
    };
    crate::metrics::global().poll(&outcome.name, outcome.result.kind(), new, updated);
    outcome
}

/// A poll in four steps: load the source's state (and skip it if it must wait), attempt to read
/// it, advance its state, record it all at once; then one summary event.
async fn refresh_in_span(ctx: &Pipeline, source: &SourceConfig, mode: Mode) -> RefreshOutcome {
    let outcome = |name, result, next_poll, health_changed| {
        outcome_of(source, name, result, next_poll, health_changed)
    };
    let state = match due_state(ctx, source, mode).await {
        Ok(state) => state,
        Err(not_polled) => return not_polled,
    };
    let started = Instant::now();
    let pushed = pushed(ctx, source).await;
    let attempt = attempt(ctx, source, &state, &state.validators, false).await;
    let now = Utc::now();
    let pace = pace(ctx, source, &attempt, pushed).await;
    let jitter = fastrand::f64();
    let (mut new_state, event) = advance(&state, &attempt, source, &ctx.poll, pace, now, jitter);
    let name = match &attempt {
        Attempt::Fetched { feed, .. } => source.name.clone().or(feed.meta.title.clone()),
        _ => source.name.clone(),
    }
    .unwrap_or_else(|| source.label().to_string());
    let recorded = record(ctx, source, now, attempt, Some(&new_state), event.as_ref()).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let (counts, attempt) = match recorded {
        Ok(done) => done,
        Err(error) => {
            let failure = error.failure();
            let failure_kind = failure.kind.as_str();
            tracing::error!(error = %failure, failure = failure_kind, elapsed_ms, status = "failed", "poll failed");
            return outcome(
                name,
                PollResult::Failed(failure),
                new_state.next_poll,
                false,
            );
        }
    };
    if let Some(event) = &event {
        tracing::warn!(kind = event.kind.as_str(), "{}", event.message);
    }
    let mut health_changed = event.is_some();
    let push_missed = pushed && counts.new > 0;
    if push_missed {
        // The hub let these through: the source goes back to its own pace.
        let own = Pace::configured(source.interval);
        let (own_state, _) = advance(&state, &attempt, source, &ctx.poll, own, now, jitter);
        new_state.next_poll = own_state.next_poll;
        hub_missed(ctx, source, counts.new, new_state.next_poll, now).await;
        health_changed = true;
    }
    let next = new_state.next_poll;
    let hub = match &attempt {
        Attempt::Fetched { feed, .. } => feed.meta.hub.clone(),
        _ => None,
    };
    let result = summarize(attempt, counts, &new_state, elapsed_ms);
    RefreshOutcome {
        hub,
        push_missed,
        ..outcome(name, result, next, health_changed)
    }
}

/// What a poll of `source` came to, before what only a fetch says (its hub, missed pushes).
fn outcome_of(
    source: &SourceConfig,
    name: String,
    result: PollResult,
    next_poll: Option<NextPoll>,
    health_changed: bool,
) -> RefreshOutcome {
    RefreshOutcome {
        url: source.url.clone(),
        name,
        result,
        next_poll,
        health_changed,
        hub: None,
        push_missed: false,
    }
}

/// The source's stored state, when it is to be polled now; else what came of it instead: its
/// state could not be read, it is paused, or it must wait (Retry-After, gone, not due).
async fn due_state(
    ctx: &Pipeline,
    source: &SourceConfig,
    mode: Mode,
) -> Result<FetchState, RefreshOutcome> {
    let not_polled = |result, next| outcome_of(source, source.label().into(), result, next, false);
    let (state, paused) = match load_state(ctx, source).await {
        Ok(loaded) => loaded,
        Err(failure) => {
            let failure_kind = failure.kind.as_str();
            tracing::error!(error = %failure, failure = failure_kind, status = "failed", "poll failed");
            return Err(not_polled(PollResult::Failed(failure), None));
        }
    };
    if let Some(since) = paused {
        tracing::debug!(status = "skipped", "paused");
        return Err(not_polled(PollResult::Paused { since }, None));
    }
    if let Some(skip) = skip(&state, mode, Utc::now()) {
        tracing::debug!(until = ?skip.until, status = "skipped", "skipped");
        let next = skip.until.map(|at| NextPoll {
            at,
            reason: skip.reason,
        });
        return Err(not_polled(PollResult::Skipped { until: skip.until }, next));
    }
    Ok(state)
}

/// A poll found `found` items the hub never pushed: push is marked unhealthy (and asked for
/// again), and the source's next poll stored at its own pace.
async fn hub_missed(
    ctx: &Pipeline,
    source: &SourceConfig,
    found: usize,
    next: Option<NextPoll>,
    now: DateTime<Utc>,
) {
    tracing::warn!(
        found,
        "the poll found items the WebSub hub never pushed; subscribing again"
    );
    let (Some(next), url) = (next, source.url.clone()) else {
        return;
    };
    let found = found as u64;
    let missed = ctx
        .store
        .with(move |s| s.push_missed(&url, found, next, now))
        .await;
    if !matches!(missed, Some(Ok(()))) {
        tracing::error!("recording that the hub missed items failed");
    }
}

/// Whether a healthy WebSub subscription pushes `source`'s items (when subscribing is on).
async fn pushed(ctx: &Pipeline, source: &SourceConfig) -> bool {
    if ctx.poll.pushed_interval.is_none() {
        return false;
    }
    let url = source.url.clone();
    ctx.store
        .read(move |s| s.pushed(&url, Utc::now()))
        .await
        .and_then(Result::ok)
        .unwrap_or(false)
}

/// The interval `source` is polled at after this attempt: relaxed when pushed, learnt from
/// when it publishes with `[poll] adaptive`, else as configured.
async fn pace(ctx: &Pipeline, source: &SourceConfig, attempt: &Attempt, pushed: bool) -> Pace {
    let settings = &ctx.poll;
    if let (true, Some(relaxed)) = (pushed, settings.pushed_interval) {
        return Pace::pushed(source.interval, relaxed);
    }
    if !settings.adaptive {
        return Pace::configured(source.interval);
    }
    let url = source.url.clone();
    let mut dates = ctx
        .store
        .read(move |s| s.publishing_dates(&url, 10))
        .await
        .and_then(Result::ok)
        .unwrap_or_default();
    if let Attempt::Fetched { feed, .. } = attempt {
        dates.extend(feed.items.iter().filter_map(|i| i.published.or(i.updated)));
    }
    let (min, max) = (settings.min_interval, settings.max_interval);
    Pace::adaptive(source.interval, &dates, min, max)
}

/// Takes in content a hub pushed for `source`: the same parse → identity → store path as a
/// poll's, leaving the source's polling state as it is. Never fails outward: a body that is
/// not a feed or cannot be stored is that source's failure, logged.
pub async fn receive_push(ctx: &Pipeline, source: &SourceConfig, push: Pushed) -> RefreshOutcome {
    let span = tracing::warn_span!("push", source = %source.label(), hub = %push.subscription.hub);
    async {
        let started = Instant::now();
        // As a fetched feed: however many hubs deliver at once, memory stays bounded.
        let permit = ctx.parse_permits.take(push.body.len()).await;
        let body = Body {
            bytes: push.body,
            charset: push.charset,
            base: Url::parse(&push.subscription.topic).ok(),
        };
        let request = SourceRequest {
            settings: &source.fetch,
            home: source.home(),
        };
        let screen = ctx.fetcher.guards_private(request).await;
        let read = read_body(ctx, body, &source.kind, &source.url, false, screen).await;
        let result = match read {
            Ok(mut feed) => {
                // What was subscribed, whatever the delivery names: a subscription changes only
                // by what polls find or the config says, never by a delivery that anyone who
                // captured one signed body can replay with other headers (or a body of other
                // links).
                feed.meta.hub = Some(push.subscription.hub.clone());
                feed.meta.topic = Some(push.subscription.topic.clone());
                let attempt = Attempt::Fetched {
                    feed: Box::new(feed),
                    response: Response::default(),
                    discovered: None,
                    permit,
                };
                let now = Utc::now();
                let recorded = record(ctx, source, now, attempt, None, None).await;
                // Noted outside the poll's batch, so the batch, these items with it, is
                // committed first: the hub hears 2xx only once they are (it delivers again
                // otherwise, and a crash must not lose what was acknowledged).
                let id = push.subscription.id;
                let noted = ctx.store.with(move |s| s.push_received(&id, now)).await;
                match (recorded, noted) {
                    (Ok((counts, _)), Some(Ok(()))) => Ok(counts),
                    (Err(error), _) => Err(error.failure()),
                    (Ok(_), Some(Err(error))) => Err(RefreshError::from(error).failure()),
                    (Ok(_), None) => Err(RefreshError::Crashed("committing").failure()),
                }
            }
            Err(not_read) => Err(not_read.failure()),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let result = match result {
            Ok(counts) => {
                tracing::info!(status = "ok", new = counts.new, updated = counts.updated, unchanged = counts.unchanged, elapsed_ms, "pushed content stored");
                PollResult::Fetched(counts)
            }
            Err(failure) => {
                tracing::warn!(status = "failed", error = %failure, elapsed_ms, "pushed content not stored");
                PollResult::Failed(failure)
            }
        };
        RefreshOutcome {
            url: source.url.clone(),
            name: source.label().to_string(),
            result,
            next_poll: None,
            health_changed: false,
            hub: None,
            push_missed: false,
        }
    }
    .instrument(span)
    .await
}

/// The source's stored state and since when `tributary pause` stopped it, if it did, or why
/// they could not be read. One trip to the store: under load, each waits behind the polls
/// being recorded.
async fn load_state(
    ctx: &Pipeline,
    source: &SourceConfig,
) -> Result<(FetchState, Option<DateTime<Utc>>), Failure> {
    let url = source.url.clone();
    let loaded = ctx.store.read(move |s| s.poll_state(&url)).await;
    match loaded {
        Some(Ok(loaded)) => Ok(loaded),
        Some(Err(error)) => Err(RefreshError::from(error).failure()),
        None => Err(RefreshError::Crashed("reading the source's state").failure()),
    }
}

/// Records a poll all at once: the source's new state, the feed's items, the health event.
/// Gives the attempt back with the item counts.
async fn record(
    ctx: &Pipeline,
    source: &SourceConfig,
    now: DateTime<Utc>,
    attempt: Attempt,
    state: Option<&FetchState>,
    event: Option<&HealthEvent>,
) -> Result<(ItemCounts, Attempt), RefreshError> {
    let (source, state, event, rules, shaping, webhooks) = (
        source.clone(),
        state.cloned(),
        event.cloned(),
        ctx.rules.clone(),
        ctx.shaping.clone(),
        ctx.webhooks.clone(),
    );
    ctx.store
        .record(move |store| {
            let feed = match &attempt {
                Attempt::Fetched { feed, .. } => Some((&feed.meta, feed.items.as_slice())),
                _ => None,
            };
            let webhooks: Vec<&dyn Webhook> = webhooks.iter().map(|w| w as _).collect();
            let poll = Poll {
                at: now,
                state: state.as_ref(),
                feed,
                event: event.as_ref(),
                rules: &rules,
                shaping: &shaping.get(),
                webhooks: &webhooks,
            };
            store
                .record_poll(&source, &poll)
                .map(|counts| (counts, attempt))
        })
        .await
        .ok_or(RefreshError::Crashed("storing the poll"))?
        .map_err(RefreshError::from)
}

/// A recorded attempt's result, logged as the poll's one summary event, with a `status` field.
fn summarize(
    attempt: Attempt,
    counts: ItemCounts,
    state: &FetchState,
    elapsed_ms: u64,
) -> PollResult {
    let next = state.next_poll;
    let next_at = next
        .map(|n| n.at.to_rfc3339())
        .unwrap_or_else(|| "never".into());
    let next_reason = next.map(|n| n.reason.as_str()).unwrap_or("gone");
    match attempt {
        Attempt::Fetched { discovered, .. } => {
            if let Some(feed) = discovered {
                tracing::info!(feed = %feed, "the URL is an HTML page; polling the feed it links to");
            }
            tracing::info!(
                status = "ok",
                new = counts.new,
                updated = counts.updated,
                unchanged = counts.unchanged,
                elapsed_ms,
                next_poll = %next_at,
                "polled"
            );
            PollResult::Fetched(counts)
        }
        Attempt::NotModified(_) => {
            tracing::info!(status = "not_modified", elapsed_ms, next_poll = %next_at, "polled: not modified");
            PollResult::NotModified
        }
        Attempt::RateLimited {
            status,
            retry_after,
        } => {
            tracing::warn!(
                status = "rate_limited",
                http_status = status,
                elapsed_ms,
                next_poll = %next_at,
                reason = next_reason,
                "rate limited by the publisher; not a failure"
            );
            PollResult::RateLimited {
                status,
                until: retry_after,
            }
        }
        Attempt::Gone => {
            tracing::warn!(
                status = "gone",
                elapsed_ms,
                "HTTP 410 Gone: polling stopped until the source's URL changes in the config"
            );
            PollResult::Gone
        }
        Attempt::Failed(failure) => {
            tracing::warn!(
                status = "failed",
                failure = failure.kind.as_str(),
                error = %failure,
                failures = state.consecutive_failures,
                elapsed_ms,
                next_poll = %next_at,
                reason = next_reason,
                "poll failed"
            );
            PollResult::Failed(failure)
        }
    }
}

/// What Tributary makes of a source, fetched once with nothing stored: for `explain`.
#[derive(Debug)]
pub struct Explanation {
    /// Where the feed was read from, after redirects.
    pub fetched_from: Option<Url>,
    /// Where the URL has moved to, when every redirect was permanent.
    pub moved_to: Option<Url>,
    /// The feed an HTML page linked to, if the URL was a page.
    pub discovered: Option<Url>,
    /// What the feed came to.
    pub feed: ParsedFeed,
    /// Each item's key and what polling would do with it.
    pub verdicts: Vec<(String, Verdict)>,
    /// What the rules and rewrites would make of each item, in feed order.
    pub shaped: Vec<Shaped>,
    /// Each item's nearest stored items of other sources, and whether it would join one's
    /// story, in feed order.
    pub nearest: Vec<Vec<crate::store::Nearest>>,
    /// When a poll would come next.
    pub next_poll: Option<NextPoll>,
}

/// `explain`: opens the pipeline, explains `source` (see [`explain`]) and closes the database
/// again. The outer error is the pipeline's; the inner one the source's, in words.
pub async fn explain_once(
    config: &Config,
    source: &SourceConfig,
) -> Result<Result<Explanation, String>, OpenError> {
    let ctx = Pipeline::open(config)?;
    let explained = explain(&ctx, source).await;
    // It stored nothing; closing leaves the database file as complete as it found it.
    ctx.store.close().await?;
    Ok(explained)
}

/// Fetches `source` once (unconditionally) and tells what a poll would make of it, storing
/// nothing. Errors are the source's, in words.
pub async fn explain(ctx: &Pipeline, source: &SourceConfig) -> Result<Explanation, String> {
    let url = source.url.clone();
    let state = ctx
        .store
        .with(move |s| s.poll_state(&url).map(|(state, _paused)| state))
        .await
        .ok_or("reading the source's state crashed")?
        .map_err(|e| e.to_string())?;
    let attempt = attempt(ctx, source, &state, &Validators::default(), true).await;
    let now = Utc::now();
    let pace = Pace::configured(source.interval);
    let (next, _) = advance(&state, &attempt, source, &ctx.poll, pace, now, 0.0);
    let (feed, response, discovered) = match attempt {
        Attempt::Fetched {
            feed,
            response,
            discovered,
            ..
        } => (feed, response, discovered),
        Attempt::NotModified(_) => return Err("not modified".into()),
        Attempt::RateLimited {
            status,
            retry_after,
        } => {
            let until = retry_after
                .map(|t| format!(", retry after {t}"))
                .unwrap_or_default();
            return Err(format!("rate limited (HTTP {status}){until}"));
        }
        Attempt::Gone => return Err("gone (HTTP 410)".into()),
        Attempt::Failed(failure) => return Err(failure.message),
    };
    let (preview_source, items, rules) = (source.clone(), feed.items.clone(), ctx.rules.clone());
    let verdicts = ctx
        .store
        .with(move |s| s.preview_items(&preview_source, &items, &rules, now))
        .await
        .ok_or("previewing the items crashed")?
        .map_err(|e| e.to_string())?;
    let (items, url) = (feed.items.clone(), source.url.clone());
    let nearest = ctx
        .store
        .with(move |s| {
            let near = |item: &crate::model::Item| {
                let sort_at = normalized_date(item.published.or(item.updated), now);
                s.nearest(item, &url, sort_at)
            };
            items.iter().map(near).collect::<Result<Vec<_>, _>>()
        })
        .await
        .ok_or("finding the nearest stored items crashed")?
        .map_err(|e| e.to_string())?;
    let shaping = ctx.shaping.get();
    let shaped = feed
        .items
        .iter()
        .map(|item| {
            let published = normalized_date(item.published.or(item.updated), now);
            let name = source.name.as_deref().or(feed.meta.title.as_deref());
            shaping.shape(&source.url, name, item, published, now)
        })
        .collect();
    Ok(Explanation {
        shaped,
        nearest,
        fetched_from: response.final_url,
        moved_to: response.moved_to,
        discovered,
        feed: *feed,
        verdicts,
        next_poll: next.next_poll,
    })
}

/// Why a source is not polled now, and until when.
struct Skip {
    until: Option<DateTime<Utc>>,
    reason: Reason,
}

fn skip(state: &FetchState, mode: Mode, now: DateTime<Utc>) -> Option<Skip> {
    if state.gone_since.is_some() {
        return Some(Skip {
            until: None,
            reason: Reason::Interval,
        });
    }
    if let Some(until) = state.retry_after_until.filter(|u| *u > now) {
        return Some(Skip {
            until: Some(until),
            reason: Reason::RetryAfter,
        });
    }
    let next = state.next_poll.filter(|n| n.at > now)?;
    (mode == Mode::Due).then_some(Skip {
        until: Some(next.at),
        reason: next.reason,
    })
}

/// The URL to poll: an adopted permanent redirect, else a discovered feed, else the config's.
fn current_location(source: &SourceConfig, state: &FetchState) -> SourceLocation {
    let moved = state
        .adopted_url
        .as_deref()
        .or(state.discovered_url.as_deref())
        .and_then(|u| Url::parse(u).ok());
    match moved {
        Some(url) => SourceLocation::Http(url),
        None => source.location.clone(),
    }
}

/// Fetches and parses the source once, following an HTML page to the feed it links to.
async fn attempt(
    ctx: &Pipeline,
    source: &SourceConfig,
    state: &FetchState,
    validators: &Validators,
    explain: bool,
) -> Attempt {
    let location = current_location(source, state);
    let request = SourceRequest {
        settings: &source.fetch,
        home: source.home(),
    };
    let kind = &source.kind;
    match fetch_and_parse(
        ctx,
        request,
        kind,
        &source.url,
        &location,
        validators,
        explain,
    )
    .await
    {
        Err(NotRead::Html {
            links_to: Some(feed),
        }) => {
            let feed_location = SourceLocation::Http(feed.clone());
            match fetch_and_parse(
                ctx,
                request,
                kind,
                &source.url,
                &feed_location,
                &Validators::default(),
                explain,
            )
            .await
            {
                Ok(Attempt::Fetched {
                    feed: parsed,
                    response,
                    permit,
                    ..
                }) => Attempt::Fetched {
                    feed: parsed,
                    response,
                    discovered: Some(feed),
                    permit,
                },
                Ok(other) => other,
                Err(step) => Attempt::Failed(step.failure()),
            }
        }
        Err(step) => Attempt::Failed(step.failure()),
        Ok(attempt) => attempt,
    }
}

impl RefreshError {
    /// The failure this error is, with its kind.
    fn failure(self) -> Failure {
        let kind = match &self {
            RefreshError::Fetch(error) => match error {
                FetchError::Timeout { .. } => FailureKind::Timeout,
                FetchError::Status(_) => FailureKind::Http,
                FetchError::TooLarge { .. } => FailureKind::TooLarge,
                FetchError::Connect(_)
                | FetchError::Command(_)
                | FetchError::Proxy { .. }
                | FetchError::Http(_)
                | FetchError::File { .. } => FailureKind::Network,
                FetchError::RedirectLoop(_)
                | FetchError::TooManyRedirects
                | FetchError::BadRedirect
                | FetchError::PrivateRedirect(_)
                | FetchError::PrivateAddress(_) => FailureKind::Redirect,
            },
            RefreshError::Parse(ParseError::ParserCrashed) => FailureKind::Internal,
            RefreshError::Parse(_) => FailureKind::Feed,
            RefreshError::Store(_) => FailureKind::Database,
            RefreshError::Crashed(_) => FailureKind::Internal,
        };
        Failure::new(kind, self.to_string())
    }
}

impl NotRead {
    /// The failure this is, with its kind.
    fn failure(self) -> Failure {
        match self {
            NotRead::Failed(error) => error.failure(),
            html @ NotRead::Html { .. } => Failure::new(FailureKind::Feed, html.to_string()),
        }
    }
}

/// A fetch-and-parse that did not yield an attempt by itself.
#[derive(Debug, thiserror::Error)]
enum NotRead {
    #[error(transparent)]
    Failed(#[from] RefreshError),
    /// An HTML page, and the first feed it links to, if any.
    #[error("{}", ParseError::HtmlWithoutFeedLink)]
    Html { links_to: Option<Url> },
}

async fn fetch_and_parse(
    ctx: &Pipeline,
    request: SourceRequest<'_>,
    kind: &SourceKind,
    source_url: &str,
    location: &SourceLocation,
    validators: &Validators,
    explain: bool,
) -> Result<Attempt, NotRead> {
    let fetched = match ctx.fetcher.fetch(location, validators, request).await {
        Ok(FetchOutcome::Fetched(fetched)) => fetched,
        Ok(FetchOutcome::NotModified(response)) => return Ok(Attempt::NotModified(response)),
        Ok(FetchOutcome::RateLimited {
            status,
            retry_after,
        }) => {
            return Ok(Attempt::RateLimited {
                status: status.as_u16(),
                retry_after,
            });
        }
        Ok(FetchOutcome::Gone) => return Ok(Attempt::Gone),
        Err(error) => return Err(NotRead::Failed(error.into())),
    };
    let (response, public_only) = (fetched.response, fetched.public_only);
    let permit = ctx.parse_permits.take(fetched.body.len()).await;
    let body = Body {
        bytes: fetched.body,
        charset: fetched.charset,
        base: response.final_url.clone(),
    };
    let mut feed = read_body(ctx, body, kind, source_url, explain, public_only).await?;
    // WebSub discovery: the response's `Link` headers come before the feed's own links.
    let (hub, topic) = &response.websub;
    if let Some(hub) = hub {
        feed.meta.hub = Some(hub.to_string());
    }
    if let Some(topic) = topic {
        feed.meta.topic = Some(topic.to_string());
    }
    Ok(Attempt::Fetched {
        feed: Box::new(feed),
        response,
        discovered: None,
        permit,
    })
}

/// A body to read as a source's feed: fetched, or pushed by a hub.
struct Body {
    bytes: Vec<u8>,
    /// The charset its `Content-Type` named.
    charset: Option<String>,
    /// What relative links in it resolve against.
    base: Option<Url>,
}

/// Parses, cleans and shapes a body into the source's items: the one way from bytes to items,
/// for polls and pushes alike. With `screen_private`, the URLs a reader's software loads by
/// itself are dropped where they name private addresses.
async fn read_body(
    ctx: &Pipeline,
    body: Body,
    kind: &SourceKind,
    source_url: &str,
    explain: bool,
    screen_private: bool,
) -> Result<ParsedFeed, NotRead> {
    // Parsing and sanitizing are CPU work: off the async workers, and a panic in a dependency
    // is caught at this boundary.
    let rules = ctx.rules.clone();
    let kind = kind.clone();
    // Relative links resolved against the source's URL must not carry its user name along.
    let mut base = body.base;
    if let Some(base) = &mut base {
        crate::sanitize::forget_credentials(base);
    }
    let parsed = tokio::task::spawn_blocking(move || {
        let base = base.as_ref();
        let options = ParseOptions {
            base,
            charset: body.charset.as_deref(),
            max_content: rules.max_content,
            explain,
        };
        match read_source(&body.bytes, options, &kind) {
            Err(ParseError::HtmlWithoutFeedLink) => Err(NotRead::Html {
                links_to: discover_feed_link(&body.bytes, base),
            }),
            other => other.map_err(|e| NotRead::Failed(e.into())),
        }
    })
    .await
    .map_err(|_| NotRead::Failed(RefreshError::Crashed("parsing the feed")))??;
    // Items stored before with the same digest are not cleaned again (`explain` shows all).
    let (parsed, unchanged) = if explain {
        (parsed, HashSet::new())
    } else {
        let url = source_url.to_string();
        let (parsed, unchanged) = ctx
            .store
            .read(move |store| {
                let unchanged = store.unchanged_items(&url, parsed.digests());
                (parsed, unchanged)
            })
            .await
            .ok_or(NotRead::Failed(RefreshError::Crashed(
                "reading the stored items",
            )))?;
        (parsed, unchanged.map_err(|e| NotRead::Failed(e.into()))?)
    };
    let (shaping, url) = (ctx.shaping.get(), source_url.to_string());
    tokio::task::spawn_blocking(move || {
        let mut parsed = parsed.clean(&unchanged);
        if screen_private {
            for item in &mut parsed.items {
                crate::sanitize::drop_private_urls(item);
            }
        }
        shaping.strip_links(&url, &mut parsed.items);
        parsed
    })
    .await
    .map_err(|_| NotRead::Failed(RefreshError::Crashed("cleaning the feed's items")))
}

/// How long a Retry-After must be before it is worth an entry in the health feed.
const LONG_RATE_LIMIT: Duration = Duration::from_secs(3600);

/// The source's state after `attempt`, and the health event it makes, if any. Pure.
pub fn advance(
    prev: &FetchState,
    attempt: &Attempt,
    source: &SourceConfig,
    settings: &PollSettings,
    pace: Pace,
    now: DateTime<Utc>,
    jitter: f64,
) -> (FetchState, Option<HealthEvent>) {
    let mut next = prev.clone();
    let mut event = None;
    match attempt {
        Attempt::Fetched {
            feed,
            response,
            discovered,
            ..
        } => {
            let mut hints = feed.hints.clone();
            hints.min_interval = hints.min_interval.max(response.max_age);
            next.hints = hints;
            next.validators = response.validators.clone();
            if let Some(found) = discovered {
                next.discovered_url = Some(found.to_string());
            }
            event = succeeded(&mut next, prev, response, source, settings, pace, now);
            next.last_status = Some(PollStatus::Ok);
        }
        Attempt::NotModified(response) => {
            next.hints.min_interval = next.hints.min_interval.max(response.max_age);
            if response.validators != Validators::default() {
                next.validators = response.validators.clone();
            }
            event = succeeded(&mut next, prev, response, source, settings, pace, now);
            next.last_status = Some(PollStatus::NotModified);
        }
        Attempt::RateLimited {
            status,
            retry_after,
        } => event = rate_limited(&mut next, prev, *status, *retry_after, source, now),
        Attempt::Gone => {
            next.gone_since = Some(now);
            next.next_poll = None;
            next.last_status = Some(PollStatus::Gone);
            next.last_error = Some("HTTP 410 Gone".into());
            event = Some(HealthEvent {
                kind: EventKind::Gone,
                message: format!(
                    "{}: the publisher says the feed is gone (HTTP 410); it is no longer polled. Remove it, or change its url at {}",
                    source.label(),
                    source.url_position()
                ),
            });
        }
        Attempt::Failed(Failure { message, .. }) => {
            next.consecutive_failures = prev.consecutive_failures.saturating_add(1);
            next.next_poll = Some(schedule::after_failure(
                now,
                source.interval,
                next.consecutive_failures,
                settings.max_backoff,
                jitter,
            ));
            next.last_status = Some(PollStatus::Failing);
            next.last_error = Some(message.clone());
            if prev.consecutive_failures == 0 {
                event = Some(HealthEvent {
                    kind: EventKind::Failing,
                    message: format!("{}: started failing: {message}", source.label()),
                });
            }
        }
    }
    (next, event)
}

/// A 429 or 503: not a failure. The publisher's Retry-After is kept; a long one is worth a
/// health event, once.
fn rate_limited(
    next: &mut FetchState,
    prev: &FetchState,
    status: u16,
    retry_after: Option<DateTime<Utc>>,
    source: &SourceConfig,
    now: DateTime<Utc>,
) -> Option<HealthEvent> {
    next.retry_after_until = retry_after;
    next.next_poll = Some(schedule::after_rate_limit(
        now,
        source.interval,
        retry_after,
    ));
    next.last_status = Some(PollStatus::RateLimited);
    next.last_error = Some(format!("HTTP {status}: rate limited"));
    let long = retry_after
        .is_some_and(|until| (until - now).to_std().unwrap_or_default() >= LONG_RATE_LIMIT);
    (long && prev.last_status != Some(PollStatus::RateLimited)).then(|| HealthEvent {
        kind: EventKind::RateLimited,
        message: format!(
            "{}: rate limited (HTTP {status}); the publisher asks for no request before {}",
            source.label(),
            retry_after.map(|t| t.to_rfc3339()).unwrap_or_default()
        ),
    })
}

/// The shared part of a good poll (new content or 304): failures reset, redirects tracked,
/// the next poll after the interval and hints.
fn succeeded(
    next: &mut FetchState,
    prev: &FetchState,
    response: &Response,
    source: &SourceConfig,
    settings: &PollSettings,
    pace: Pace,
    now: DateTime<Utc>,
) -> Option<HealthEvent> {
    next.consecutive_failures = 0;
    next.last_error = None;
    next.last_success_at = Some(now);
    next.retry_after_until = None;
    next.next_poll = Some(schedule::after_success(
        now,
        pace,
        &next.hints,
        settings.max_interval,
    ));
    let moved = track_redirect(next, prev, response, source, settings);
    if moved.is_some() {
        return moved;
    }
    (prev.consecutive_failures > 0).then(|| HealthEvent {
        kind: EventKind::Recovered,
        message: format!(
            "{}: recovered after {} failed poll(s)",
            source.label(),
            prev.consecutive_failures
        ),
    })
}

/// Counts polls in a row that saw the same permanent redirect, and adopts its target after
/// `adopt_redirect_after` of them, or at once for an http→https upgrade on the same host.
fn track_redirect(
    next: &mut FetchState,
    prev: &FetchState,
    response: &Response,
    source: &SourceConfig,
    settings: &PollSettings,
) -> Option<HealthEvent> {
    let Some(target) = &response.moved_to else {
        next.redirect_target = None;
        next.redirect_seen = 0;
        return None;
    };
    let seen = if prev.redirect_target.as_deref() == Some(target.as_str()) {
        prev.redirect_seen.saturating_add(1)
    } else {
        1
    };
    let from = current_location(source, prev);
    let https_upgrade = match &from {
        SourceLocation::Http(from) => {
            from.scheme() == "http" && target.scheme() == "https" && from.host() == target.host()
        }
        SourceLocation::File(_) | SourceLocation::Command(_) => false,
    };
    if seen < settings.adopt_redirect_after && !https_upgrade {
        next.redirect_target = Some(target.to_string());
        next.redirect_seen = seen;
        return None;
    }
    next.adopted_url = Some(target.to_string());
    next.redirect_target = None;
    next.redirect_seen = 0;
    // The health feed is published: the new URL as it may be shown.
    let target = crate::sanitize::shown_url(target.as_str());
    Some(HealthEvent {
        kind: EventKind::Moved,
        message: format!(
            "{}: moved permanently to {target}; now polling the new URL. Change its url at {} to \"{target}\"",
            source.label(),
            source.url_position()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceLocation;
    use crate::model::FeedMeta;
    use std::path::PathBuf;

    fn settings() -> PollSettings {
        PollSettings {
            interval: Duration::from_secs(1800),
            concurrency: 4,
            per_host_concurrency: 2,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(20),
            max_body: 1 << 24,
            user_agent: "test".into(),
            contact: None,
            max_interval: Duration::from_secs(86_400),
            max_backoff: Duration::from_secs(86_400),
            allow_private_redirects: false,
            adopt_redirect_after: 3,
            proxy: None,
            adaptive: false,
            min_interval: Duration::from_secs(300),
            pushed_interval: None,
        }
    }

    const PACE: Pace = Pace {
        interval: Duration::from_secs(1800),
        reason: Reason::Interval,
    };

    fn source(url: &str) -> SourceConfig {
        SourceConfig {
            name: Some("P".into()),
            url: url.into(),
            location: SourceLocation::Http(Url::parse(url).unwrap()),
            interval: Duration::from_secs(1800),
            tags: vec![],
            declared_in: PathBuf::from("tributary.toml"),
            declared_line: None,
            fetch: Default::default(),
            kind: Default::default(),
            rules: Vec::new(),
            rewrites: Default::default(),
            full_text: None,
            hub: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2025-08-19T10:00:00Z".parse().unwrap()
    }

    fn fetched(moved_to: Option<&str>) -> Attempt {
        Attempt::Fetched {
            feed: Box::new(ParsedFeed {
                meta: FeedMeta::default(),
                hints: Default::default(),
                items: vec![],
                format: "RSS 2.0",
                encoding: "UTF-8".into(),
                loose: false,
                left_out: 0,
                removed: vec![],
                dropped: vec![],
            }),
            response: Response {
                moved_to: moved_to.map(|u| Url::parse(u).unwrap()),
                validators: Validators {
                    etag: Some("\"v1\"".into()),
                    last_modified: None,
                },
                ..Response::default()
            },
            discovered: None,
            permit: None,
        }
    }

    #[tokio::test]
    async fn a_large_feed_takes_every_parse_permit_and_a_small_one_a_single_one() {
        let permits = ParsePermits {
            places: Arc::new(Semaphore::new(4)),
            count: 4,
        };
        let small = permits.take(10_000).await.unwrap();
        assert_eq!(permits.places.available_permits(), 3);
        let medium = permits.take(PARSE_PERMIT_SIZE + 1).await.unwrap();
        assert_eq!(permits.places.available_permits(), 1);
        drop((small, medium));

        let large = permits.take(50 * 1024 * 1024).await.unwrap();
        assert_eq!(permits.places.available_permits(), 0);
        let waiting = tokio::time::timeout(Duration::from_millis(50), permits.take(1)).await;
        assert!(
            waiting.is_err(),
            "a small feed waits until the large one is stored"
        );
        drop(large);
        assert!(permits.take(1).await.is_some());
    }

    #[test]
    fn failures_count_up_back_off_and_reset_on_success() {
        let src = source("https://p.example/feed");
        let failed = Attempt::Failed(Failure::new(FailureKind::Http, "HTTP 500"));
        let (one, event) = advance(
            &FetchState::default(),
            &failed,
            &src,
            &settings(),
            PACE,
            now(),
            0.0,
        );
        assert_eq!(one.consecutive_failures, 1);
        assert_eq!(event.unwrap().kind, EventKind::Failing);
        let (two, event) = advance(&one, &failed, &src, &settings(), PACE, now(), 0.0);
        assert_eq!(two.consecutive_failures, 2);
        assert_eq!(event, None, "only the first failure is news");
        assert_eq!(two.next_poll.unwrap().reason, Reason::Backoff);
        assert_eq!(two.last_error.as_deref(), Some("HTTP 500"));

        let (ok, event) = advance(&two, &fetched(None), &src, &settings(), PACE, now(), 0.0);
        assert_eq!(ok.consecutive_failures, 0);
        assert_eq!(ok.last_error, None);
        assert_eq!(ok.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(event.unwrap().kind, EventKind::Recovered);
        assert_eq!(ok.next_poll.unwrap().reason, Reason::Interval);
    }

    #[test]
    fn rate_limits_do_not_count_as_failures() {
        let src = source("https://p.example/feed");
        let prev = FetchState {
            consecutive_failures: 2,
            ..FetchState::default()
        };
        let until = now() + chrono::Duration::hours(3);
        let limited = Attempt::RateLimited {
            status: 429,
            retry_after: Some(until),
        };
        let (next, event) = advance(&prev, &limited, &src, &settings(), PACE, now(), 0.0);
        assert_eq!(next.consecutive_failures, 2);
        assert_eq!(next.retry_after_until, Some(until));
        assert_eq!(
            next.next_poll,
            Some(NextPoll {
                at: until,
                reason: Reason::RetryAfter
            })
        );
        assert_eq!(
            event.unwrap().kind,
            EventKind::RateLimited,
            "three hours is long"
        );
    }

    #[test]
    fn a_permanent_redirect_is_adopted_after_three_polls_in_a_row() {
        let src = source("https://p.example/feed");
        let moved = fetched(Some("https://new.example/feed"));
        let mut state = FetchState::default();
        for poll in 1..=2 {
            let (next, event) = advance(&state, &moved, &src, &settings(), PACE, now(), 0.0);
            assert_eq!(next.redirect_seen, poll);
            assert_eq!(next.adopted_url, None);
            assert_eq!(event, None);
            state = next;
        }
        let (adopted, event) = advance(&state, &moved, &src, &settings(), PACE, now(), 0.0);
        assert_eq!(
            adopted.adopted_url.as_deref(),
            Some("https://new.example/feed")
        );
        let event = event.unwrap();
        assert_eq!(event.kind, EventKind::Moved);
        assert!(
            event.message.contains("tributary.toml"),
            "{}",
            event.message
        );

        // A poll without the redirect in between starts the count again.
        let (reset, _) = advance(&state, &fetched(None), &src, &settings(), PACE, now(), 0.0);
        assert_eq!(reset.redirect_seen, 0);
    }

    #[test]
    fn an_https_upgrade_on_the_same_host_is_adopted_at_once() {
        let src = source("http://p.example/feed");
        let moved = fetched(Some("https://p.example/feed"));
        let (next, event) = advance(
            &FetchState::default(),
            &moved,
            &src,
            &settings(),
            PACE,
            now(),
            0.0,
        );
        assert_eq!(next.adopted_url.as_deref(), Some("https://p.example/feed"));
        assert_eq!(event.unwrap().kind, EventKind::Moved);
    }

    #[test]
    fn gone_sources_stop_being_polled_and_skips_follow_the_mode() {
        let src = source("https://p.example/feed");
        let (gone, event) = advance(
            &FetchState::default(),
            &Attempt::Gone,
            &src,
            &settings(),
            PACE,
            now(),
            0.0,
        );
        assert_eq!(gone.next_poll, None);
        assert_eq!(event.unwrap().kind, EventKind::Gone);
        for mode in [Mode::Now, Mode::Due] {
            assert!(skip(&gone, mode, now()).is_some_and(|s| s.until.is_none()));
        }

        let later = now() + chrono::Duration::minutes(10);
        let backing_off = FetchState {
            next_poll: Some(NextPoll {
                at: later,
                reason: Reason::Backoff,
            }),
            ..FetchState::default()
        };
        assert!(skip(&backing_off, Mode::Now, now()).is_none());
        assert!(skip(&backing_off, Mode::Due, now()).is_some());
        let waiting = FetchState {
            retry_after_until: Some(later),
            ..FetchState::default()
        };
        assert_eq!(skip(&waiting, Mode::Now, now()).unwrap().until, Some(later));
    }
}

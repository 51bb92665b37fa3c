//! Full text: the article page of each new item of a `full_text` source, fetched once through
//! the same polite fetcher as feeds, the article extracted (a readability port, or the
//! source's `full_text_selector`), sanitized like feed content and stored beside the feed's
//! own content. Never on a poll's path: the daemon runs it beside its loop, `once` after its
//! polls. A failure keeps the feed's content and is tried again, a few times at most.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

use crate::config::{Config, FullText, SourceConfig, SourceLocation};
use crate::fetch::{FetchOutcome, SourceRequest};
use crate::model::Validators;
use crate::parse::decode_explained;
use crate::refresh::Pipeline;
use crate::sanitize::{MAX_NESTING, clean_html, html_to_text, limit_nesting};

/// The most attempts at an item's article before its feed content is kept for good.
pub const MAX_TRIES: i64 = 3;

/// The most items taken in one run; the rest wait for the next.
const BATCH: usize = 200;

/// The most article pages fetched and extracted at once: they are not urgent, and each may
/// hold up to `[poll] max_body` in memory.
const CONCURRENCY: usize = 4;

/// What a run of full-text fetches did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FullTextRun {
    /// Articles stored.
    pub stored: usize,
    /// Attempts that failed.
    pub failed: usize,
    /// When the next item is due (a retry), if any is waiting.
    pub next_at: Option<DateTime<Utc>>,
}

/// Why an article could not be had.
#[derive(Debug, thiserror::Error)]
enum FullTextError {
    #[error("{0}")]
    Fetch(#[from] crate::fetch::FetchError),
    #[error("the page answered {0}")]
    NotFetched(&'static str),
    #[error("no article found in the page")]
    Empty,
    #[error("extracting the article crashed")]
    Crashed,
}

impl FullTextError {
    /// Whether trying again could help.
    fn retry(&self) -> bool {
        !matches!(
            self,
            FullTextError::Fetch(
                crate::fetch::FetchError::PrivateAddress(_)
                    | crate::fetch::FetchError::PrivateRedirect(_)
            )
        )
    }
}

/// Fetches the articles due now, a few at once (within `[poll] concurrency` and the
/// fetcher's per-host limit), and stores each as it comes.
pub async fn fetch_due(ctx: &Pipeline, config: &Config) -> FullTextRun {
    let mut run = FullTextRun::default();
    let now = Utc::now();
    let wanted = match ctx
        .store
        .read(move |s| s.wanted_full_text(now, BATCH))
        .await
    {
        Some(Ok(wanted)) => wanted,
        Some(Err(error)) => {
            tracing::error!(%error, "reading the items whose full text is wanted failed");
            return run;
        }
        None => return run,
    };
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency.min(CONCURRENCY)));
    let mut tasks = JoinSet::new();
    for item in wanted.items {
        let source = config.sources.iter().find(|s| s.url == item.source_url);
        let Some((source, settings)) = source.and_then(|s| Some((s.clone(), s.full_text.clone()?)))
        else {
            // Its source is gone or no longer wants full text: nothing to do.
            forget(ctx, item.id).await;
            continue;
        };
        let (ctx, semaphore) = (ctx.clone(), semaphore.clone());
        let max_content = ctx.rules.max_content;
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let span = tracing::warn_span!("full_text", source = %source.label());
            let article = tracing::Instrument::instrument(
                article(&ctx, &source, &settings, &item.link, max_content),
                span,
            )
            .await;
            (item, article)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((item, article)) = joined else {
            run.failed += 1;
            continue;
        };
        let now = Utc::now();
        let result = match article {
            Ok(html) => {
                tracing::info!(link = %item.link, "full text stored");
                run.stored += 1;
                let shaping = ctx.shaping.clone();
                ctx.store
                    .with(move |s| s.store_full_text(&shaping.get(), item.id, &html, now))
                    .await
            }
            Err(error) => {
                run.failed += 1;
                let tries = item.tries + 1;
                let retry = error.retry() && tries < MAX_TRIES;
                let after = retry.then(|| now + retry_delay(tries));
                tracing::warn!(link = %item.link, %error, tries, gave_up = !retry, "full text not fetched; the feed's content is kept");
                if let Some(after) = after {
                    run.next_at = Some(run.next_at.map_or(after, |t| t.min(after)));
                }
                let error = error.to_string();
                ctx.store
                    .with(move |s| s.full_text_failed(item.id, after, Some(&error)))
                    .await
            }
        };
        if !matches!(result, Some(Ok(()))) {
            tracing::error!("recording a full text failed");
        }
    }
    if let Some(later) = wanted.next_at {
        run.next_at = Some(run.next_at.map_or(later, |t| t.min(later)));
    }
    run
}

async fn forget(ctx: &Pipeline, id: i64) {
    if !matches!(
        ctx.store
            .with(move |s| s.full_text_failed(id, None, None))
            .await,
        Some(Ok(()))
    ) {
        tracing::error!("recording a full text failed");
    }
}

/// How long after its `tries`-th failure an item's article is tried again: 5 minutes, then
/// half an hour.
fn retry_delay(tries: i64) -> chrono::Duration {
    chrono::Duration::minutes(5 * 6_i64.pow(u32::try_from(tries - 1).unwrap_or(0).min(3)))
}

/// The article at `link`, extracted and sanitized.
async fn article(
    ctx: &Pipeline,
    source: &SourceConfig,
    settings: &FullText,
    link: &str,
    max_content: usize,
) -> Result<String, FullTextError> {
    let url = Url::parse(link).map_err(|_| FullTextError::NotFetched("with no usable link"))?;
    // The fetcher refuses the link when it is private and the source public (as a redirect).
    let request = SourceRequest {
        settings: &source.fetch,
        home: source.home(),
    };
    let location = SourceLocation::Http(url);
    let fetched = match ctx
        .fetcher
        .fetch(&location, &Validators::default(), request)
        .await?
    {
        FetchOutcome::Fetched(fetched) => fetched,
        FetchOutcome::NotModified(_) => return Err(FullTextError::NotFetched("304 Not Modified")),
        FetchOutcome::RateLimited { .. } => return Err(FullTextError::NotFetched("rate limited")),
        FetchOutcome::Gone => return Err(FullTextError::NotFetched("410 Gone")),
    };
    let base = fetched.response.final_url.clone();
    let selector = settings.selector.clone();
    tokio::task::spawn_blocking(move || {
        let (text, _) = decode_explained(&fetched.body, fetched.charset.as_deref());
        let html = extract(&text, base.as_ref(), selector.as_ref())?;
        let mut html = html;
        if html.len() > max_content {
            let mut end = max_content;
            while !html.is_char_boundary(end) {
                end -= 1;
            }
            html.truncate(end);
        }
        let clean = clean_html(&html, base.as_ref());
        if html_to_text(&clean).is_empty() {
            return Err(FullTextError::Empty);
        }
        Ok(clean)
    })
    .await
    .map_err(|_| FullTextError::Crashed)?
}

/// The article in `page`: what `selector` matches, else readability's pick.
fn extract(
    page: &str,
    base: Option<&Url>,
    selector: Option<&crate::config::Selector>,
) -> Result<String, FullTextError> {
    let page = limit_nesting(page, MAX_NESTING);
    let page = page.as_ref();
    if let Some(selector) = selector {
        let document = scraper::Html::parse_document(page);
        let parts: Vec<String> = document
            .select(&selector.selector)
            .map(|e| e.html())
            .collect();
        return match parts.is_empty() {
            true => Err(FullTextError::Empty),
            false => Ok(parts.join("\n")),
        };
    }
    let config = dom_smoothie::Config {
        max_elements_to_parse: 50_000,
        ..dom_smoothie::Config::default()
    };
    let mut readability = dom_smoothie::Readability::new(page, base.map(Url::as_str), Some(config))
        .map_err(|_| FullTextError::Empty)?;
    let article = readability.parse().map_err(|_| FullTextError::Empty)?;
    Ok(article.content.to_string())
}

//! Who is polled when: one pass over every source (`once`) and the daemon loop (`run`), with
//! bounded concurrency, output rendering after changes, and clean shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{Config, SourceConfig};
use crate::model::RefreshOutcome;
use crate::refresh::{Context, Mode, refresh};
use crate::render::{self, RenderError, Written};

/// How long the daemon gathers changes before rewriting the outputs while polls are still
/// running, so that a burst of sources finishing does not rewrite the files once per source.
const RENDER_EVERY: Duration = Duration::from_secs(1);

/// How long in-flight polls may go on after a shutdown signal before they are cancelled.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The daemon's first polls are spread over up to this long (or a tenth of the source's
/// interval, if shorter), so that a start does not hit every publisher in the same instant.
const START_SPREAD: Duration = Duration::from_secs(5);

/// Polls every source once (in `mode`), at most `concurrency` at a time, calling `on_outcome`
/// as each finishes, then renders the outputs. Returns the outcomes in the order they finished.
pub async fn poll_all_once(
    ctx: &Context,
    config: &Config,
    mode: Mode,
    mut on_outcome: impl FnMut(&RefreshOutcome),
) -> (Vec<RefreshOutcome>, Vec<Result<Written, RenderError>>) {
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency));
    let mut tasks = JoinSet::new();
    for source in &config.sources {
        tasks.spawn(poll(
            ctx.clone(),
            Arc::new(source.clone()),
            semaphore.clone(),
            mode,
        ));
    }
    let mut outcomes = Vec::with_capacity(config.sources.len());
    while let Some(joined) = tasks.join_next().await {
        // `refresh` does not panic; should it ever, that source's line is missing, not the rest.
        if let Ok(outcome) = joined {
            on_outcome(&outcome);
            outcomes.push(outcome);
        }
    }
    let rendered = render_outputs(ctx, config).await;
    (outcomes, rendered)
}

/// The daemon: polls each source at start (after its Retry-After or backoff, if one was stored)
/// and then when its schedule says, rewrites the outputs after changes, and returns once
/// `shutdown` resolves and in-flight polls have finished (or the deadline passed) and the
/// outputs are up to date.
pub async fn run_daemon(ctx: Context, config: Config, shutdown: impl Future<Output = ()>) {
    let sources: Vec<Arc<SourceConfig>> = config.sources.iter().cloned().map(Arc::new).collect();
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency));
    let start = Instant::now();
    // None: not scheduled (running, or gone).
    let mut next_due: Vec<Option<Instant>> = sources
        .iter()
        .map(|s| {
            let spread = START_SPREAD.min(s.interval / 10);
            Some(start + spread.mul_f64(fastrand::f64()))
        })
        .collect();
    let mut first_round = vec![true; sources.len()];
    let mut task_source = HashMap::new();
    let mut tasks = JoinSet::new();
    // Outputs are rendered at start too, in case a file was deleted while the daemon was down.
    let mut dirty = true;
    let mut last_render = start;
    tokio::pin!(shutdown);

    tracing::info!(
        sources = sources.len(),
        outputs = config.outputs.len(),
        "daemon started"
    );
    loop {
        let now = Instant::now();
        for (index, source) in sources.iter().enumerate() {
            if next_due[index].is_some_and(|due| due <= now) {
                next_due[index] = None;
                let mode = if std::mem::take(&mut first_round[index]) {
                    Mode::Resume
                } else {
                    Mode::Now
                };
                let task = poll(ctx.clone(), source.clone(), semaphore.clone(), mode);
                let handle = tasks.spawn(task);
                task_source.insert(handle.id(), index);
            }
        }
        if dirty && (tasks.is_empty() || last_render.elapsed() >= RENDER_EVERY) {
            render_outputs(&ctx, &config).await;
            dirty = false;
            last_render = Instant::now();
        }
        let wake = next_due
            .iter()
            .flatten()
            .min()
            .copied()
            .unwrap_or(now + Duration::from_secs(3600));
        let wake = if dirty {
            wake.min(last_render + RENDER_EVERY)
        } else {
            wake
        };
        tokio::select! {
            () = &mut shutdown => break,
            Some(joined) = tasks.join_next_with_id() => {
                let (id, outcome) = match joined {
                    Ok((id, outcome)) => (id, Some(outcome)),
                    Err(error) => (error.id(), None),
                };
                let Some(index) = task_source.remove(&id) else { continue };
                let source = &sources[index];
                next_due[index] = match &outcome {
                    Some(outcome) => {
                        dirty |= outcome.changed() || outcome.health_changed;
                        outcome.next_poll.map(|next| {
                            let wait = (next.at - Utc::now()).to_std().unwrap_or_default();
                            Instant::now() + wait
                        })
                    }
                    // Should a refresh task ever die, the source is retried after its interval.
                    None => Some(Instant::now() + source.interval),
                };
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }

    tracing::info!(in_flight = tasks.len(), "shutting down");
    let deadline = tokio::time::sleep(SHUTDOWN_DEADLINE);
    tokio::pin!(deadline);
    while !tasks.is_empty() {
        tokio::select! {
            Some(joined) = tasks.join_next() => {
                dirty |= joined.is_ok_and(|o| o.changed() || o.health_changed);
            }
            () = &mut deadline => {
                tracing::warn!(cancelled = tasks.len(), "polls still running at the deadline were cancelled");
                // A cancelled poll's database write, if it had started, still runs to its end on
                // its blocking thread; only the waiting is abandoned.
                tasks.shutdown().await;
            }
        }
    }
    if dirty {
        render_outputs(&ctx, &config).await;
    }
    tracing::info!("stopped");
}

async fn poll(
    ctx: Context,
    source: Arc<SourceConfig>,
    semaphore: Arc<Semaphore>,
    mode: Mode,
) -> RefreshOutcome {
    // The host's slot first: sources queued behind a busy host must not hold global slots.
    let _host = ctx.fetcher.host_slot(&source.location).await;
    // The semaphore is never closed, so acquiring only waits.
    let _permit = semaphore.acquire_owned().await.ok();
    refresh(&ctx, &source, mode).await
}

/// Prunes items past `[retention] max_age`, then renders every output.
async fn render_outputs(ctx: &Context, config: &Config) -> Vec<Result<Written, RenderError>> {
    let (outputs, health, rules) = (
        config.outputs.clone(),
        config.health.clone(),
        config.items.clone(),
    );
    ctx.store
        .with(move |store| {
            match store.prune(&rules, Utc::now()) {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned items past [retention] max_age"),
                Err(error) => tracing::error!(%error, "pruning old items failed"),
            }
            render::render_all(store, &outputs, health.as_deref())
        })
        .await
        .unwrap_or_else(|| {
            tracing::error!("rendering the outputs crashed");
            vec![Err(RenderError::Crashed)]
        })
}

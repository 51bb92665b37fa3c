//! Who is polled when: one pass over every source (`once`) and the daemon loop (`run`), with
//! bounded concurrency, output rendering after changes, and clean shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{Config, SourceConfig};
use crate::model::RefreshOutcome;
use crate::refresh::{Context, refresh};
use crate::render::{self, RenderError, Written};

/// How long the daemon gathers changes before rewriting the outputs while polls are still
/// running, so that a burst of sources finishing does not rewrite the files once per source.
const RENDER_EVERY: Duration = Duration::from_secs(1);

/// How long in-flight polls may go on after a shutdown signal before they are cancelled.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Polls every source once, at most `concurrency` at a time, calling `on_outcome` as each
/// finishes, then renders the outputs. Returns the outcomes in the order they finished.
pub async fn poll_all_once(
    ctx: &Context,
    config: &Config,
    mut on_outcome: impl FnMut(&RefreshOutcome),
) -> (Vec<RefreshOutcome>, Vec<Result<Written, RenderError>>) {
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency));
    let mut tasks = JoinSet::new();
    for source in &config.sources {
        tasks.spawn(poll(
            ctx.clone(),
            Arc::new(source.clone()),
            semaphore.clone(),
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

/// The daemon: polls each source at start and then every `interval`, rewrites the outputs after
/// changes, and returns once `shutdown` resolves and in-flight polls have finished (or the
/// deadline passed) and the outputs are up to date.
pub async fn run_daemon(ctx: Context, config: Config, shutdown: impl Future<Output = ()>) {
    let sources: Vec<Arc<SourceConfig>> = config.sources.iter().cloned().map(Arc::new).collect();
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency));
    let start = Instant::now();
    let mut next_due = vec![start; sources.len()];
    let mut running = vec![false; sources.len()];
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
            if !running[index] && next_due[index] <= now {
                running[index] = true;
                next_due[index] = now + source.interval;
                let handle = tasks.spawn(poll(ctx.clone(), source.clone(), semaphore.clone()));
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
            .zip(&running)
            .filter(|(_, running)| !**running)
            .map(|(due, _)| *due)
            .min()
            .unwrap_or(now + Duration::from_secs(3600));
        let wake = if dirty {
            wake.min(last_render + RENDER_EVERY)
        } else {
            wake
        };
        tokio::select! {
            () = &mut shutdown => break,
            Some(joined) = tasks.join_next_with_id() => {
                let (id, changed) = match joined {
                    Ok((id, outcome)) => (id, outcome.result.is_ok_and(|c| c.changed())),
                    Err(error) => (error.id(), false),
                };
                if let Some(index) = task_source.remove(&id) {
                    running[index] = false;
                }
                dirty |= changed;
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
                dirty |= joined.is_ok_and(|outcome| outcome.result.is_ok_and(|c| c.changed()));
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
) -> RefreshOutcome {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = semaphore.acquire_owned().await.ok();
    refresh(&ctx, &source).await
}

async fn render_outputs(ctx: &Context, config: &Config) -> Vec<Result<Written, RenderError>> {
    let outputs = config.outputs.clone();
    ctx.store
        .with(move |store| render::render_all(store, &outputs))
        .await
        .unwrap_or_else(|| {
            tracing::error!("rendering the outputs crashed");
            vec![Err(RenderError::Crashed)]
        })
}

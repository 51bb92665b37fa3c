//! `once`: every selected source polled one time, the outputs written, the hub pinged, the
//! webhooks delivered to, the database closed. What `tributary once` and `poll` (without a
//! running daemon) do.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::polling::poll;
use super::render::{announce_changes, render_outputs};
use crate::config::{Config, SourceConfig};
use crate::fulltext;
use crate::model::RefreshOutcome;
use crate::publish::webhooks;
use crate::refresh::{Mode, OpenError, Pipeline};
use crate::render::Rendered;

/// What `once` came to: each source's outcome, in the order they finished, and what went wrong
/// beside them (polls that could not be saved, outputs not written, the database not closed).
#[derive(Debug)]
pub struct OnceReport {
    /// Each source's outcome.
    pub outcomes: Vec<RefreshOutcome>,
    /// Each problem beside the sources', in words; none when all went well.
    pub problems: Vec<String>,
}

/// `once`: opens the pipeline, polls every source once (in `mode`), writes the outputs, pings
/// the hub, closes the database. A source's failure is its outcome, not an error.
pub async fn once(
    config: &Config,
    mode: Mode,
    selected: impl Fn(&SourceConfig) -> bool,
    on_outcome: impl FnMut(&RefreshOutcome),
) -> Result<OnceReport, OpenError> {
    let ctx = Pipeline::open(config)?;
    ctx.apply_rules().await;
    ctx.regroup_stories().await;
    let (outcomes, rendered) = poll_all_once(&ctx, config, mode, selected, on_outcome).await;
    let mut problems = Vec::new();
    let unsaved = ctx.store.unsaved_polls();
    if unsaved > 0 {
        problems.push(format!(
            "{unsaved} polls could not be saved in {} (see the log above); they are fetched again in full next time",
            config.database.display()
        ));
    }
    problems.extend(
        rendered
            .into_iter()
            .filter_map(|r| r.result.err())
            .map(|e| e.to_string()),
    );
    if let Err(error) = ctx.store.close().await {
        problems.push(format!("closing {}: {error}", config.database.display()));
    }
    Ok(OnceReport { outcomes, problems })
}

/// Polls every `selected` source once (in `mode`), at most `concurrency` at a time, calling
/// `on_outcome` as each finishes, then renders the outputs. Returns the outcomes in the order
/// they finished.
pub async fn poll_all_once(
    ctx: &Pipeline,
    config: &Config,
    mode: Mode,
    selected: impl Fn(&SourceConfig) -> bool,
    mut on_outcome: impl FnMut(&RefreshOutcome),
) -> (Vec<RefreshOutcome>, Vec<Rendered>) {
    let semaphore = Arc::new(Semaphore::new(config.poll.concurrency));
    let mut tasks = JoinSet::new();
    for source in config.sources.iter().filter(|s| selected(s)) {
        tasks.spawn(poll(ctx.clone(), source.clone(), semaphore.clone(), mode));
    }
    let mut outcomes = Vec::with_capacity(config.sources.len());
    while let Some(joined) = tasks.join_next().await {
        // `refresh` does not panic; should it ever, that source's line is missing, not the rest.
        if let Ok(outcome) = joined {
            on_outcome(&outcome);
            outcomes.push(outcome);
        }
    }
    if super::upkeep::wants_full_texts(config) {
        fulltext::fetch_due(ctx, config).await;
    }
    let (rendered, _) = render_outputs(ctx, &Arc::new(config.clone()), None).await;
    if let Some(ping) = announce_changes(ctx, config, &rendered) {
        ping.await;
    }
    if !config.webhooks.is_empty() {
        // One try each; what fails stays queued for the next run or the daemon.
        webhooks::deliver(&ctx.store, &ctx.fetcher, &config.webhooks).await;
    }
    (outcomes, rendered)
}

//! The render job: the outputs written again after changes (gathered for a second while polls
//! run, retried later and later after failed writes), the rules' date conditions applied when
//! due, the WebSub ping for the feeds that changed, and the built-in server's table refreshed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::instant_at;
use crate::config::Config;
use crate::publish::{self, Served};
use crate::refresh::Pipeline;
use crate::render::{self, RenderContext, RenderError, Rendered, Snapshot, Written};

/// How long the daemon gathers changes before rewriting the outputs while polls are still
/// running, so that a burst of sources finishing does not rewrite the files once per source.
const RENDER_EVERY: Duration = Duration::from_secs(1);

/// The longest wait before writing the outputs again after writes failed.
const MAX_RENDER_RETRY: Duration = Duration::from_secs(60);

/// The outputs and what they wait for.
pub struct Rendering {
    /// Something changed since the last render.
    dirty: bool,
    last_render: Instant,
    /// Renders in a row that failed to write a file.
    failures: u32,
    /// When a rule's `older_than`/`newer_than` next decides otherwise for a stored item.
    reshape_at: Option<Instant>,
    /// WebSub pings under way: beside the loop, never in it.
    pings: JoinSet<()>,
    /// What the built-in server serves, made again after each render.
    served: Served,
    /// The stored items shaped again after the rules changed, beside the loop: says whether
    /// any changed.
    reshaping: Option<tokio::task::JoinHandle<bool>>,
}

impl Rendering {
    /// Outputs are rendered at start too, in case a file was deleted meanwhile.
    pub fn new(served: Served) -> Rendering {
        Rendering {
            dirty: true,
            last_render: Instant::now(),
            failures: 0,
            reshape_at: Some(Instant::now()),
            pings: JoinSet::new(),
            served,
            reshaping: None,
        }
    }

    /// Shapes every stored item again by the rules in force, and groups them into stories
    /// again when the story settings changed, beside the loop (polls go on between its
    /// batches); a run under way for settings now replaced stops after its batch.
    pub fn reshape_all(&mut self, ctx: &Pipeline) {
        self.stop_reshaping();
        let ctx = ctx.clone();
        self.reshaping = Some(tokio::spawn(async move {
            let reshaped = ctx.apply_rules().await;
            ctx.regroup_stories().await || reshaped
        }));
    }

    /// The re-shape under way stops (what it did is kept; the next start does the rest).
    pub fn stop_reshaping(&mut self) {
        if let Some(running) = self.reshaping.take() {
            running.abort();
        }
    }

    /// Something the outputs show changed (when `changed`).
    pub fn changed(&mut self, changed: bool) {
        self.dirty |= changed;
    }

    /// Stored items are to be shaped again by date now (a new leader, say).
    pub fn reshape_now(&mut self) {
        self.reshape_at = Some(Instant::now());
    }

    /// When this job next wants to run: the rules' next date condition, or a render of what
    /// changed. `polling` says whether polls are in flight.
    pub fn next_at(&self, polling: bool) -> Option<Instant> {
        let render = self.dirty.then(|| self.render_due(polling));
        [self.reshape_at, render].into_iter().flatten().min()
    }

    /// When the outputs may next be rendered: once polls in flight are done, or a second after
    /// the last render while they go on; after failed writes (disk full, read-only), later and
    /// later, up to a minute, so that a broken disk is retried without flooding the log.
    fn render_due(&self, polling: bool) -> Instant {
        if self.failures > 0 {
            let wait = RENDER_EVERY.saturating_mul(1 << self.failures.min(6));
            return self.last_render + wait.min(MAX_RENDER_RETRY);
        }
        if polling {
            self.last_render + RENDER_EVERY
        } else {
            self.last_render
        }
    }

    /// Does what is due: items shaped again by date, then a render if anything changed.
    /// Returns whether it rendered.
    pub async fn run_due(&mut self, ctx: &Pipeline, config: &Arc<Config>, polling: bool) -> bool {
        if self.reshape_at.is_some_and(|at| at <= Instant::now()) {
            let reshaped = reshape_due(ctx).await;
            self.dirty |= reshaped.is_some_and(|(changed, _)| changed);
            self.reshape_next(reshaped.and_then(|(_, next)| next));
        }
        if !self.dirty || self.render_due(polling) > Instant::now() {
            return false;
        }
        let rendered = self.render_and_announce(ctx, config).await;
        // A file that could not be written is written again later: the database has what it
        // needs, and the next successful write catches up.
        let failed = rendered.iter().any(|r| r.result.is_err());
        self.dirty = failed;
        self.failures = if failed { self.failures + 1 } else { 0 };
        self.last_render = Instant::now();
        true
    }

    /// Items are next shaped again by date at `next` (as the store says after shaping them),
    /// never sooner than a second from now.
    fn reshape_next(&mut self, next: Option<chrono::DateTime<Utc>>) {
        let soonest = Instant::now() + Duration::from_secs(1);
        self.reshape_at = next.map(|at| instant_at(at).max(soonest));
    }

    /// Renders the outputs and sets the WebSub ping for those that changed going, beside the
    /// loop. The render shaped the items by date first, so the next time to do so is known
    /// (when that failed, it is tried again at once).
    async fn render_and_announce(&mut self, ctx: &Pipeline, config: &Arc<Config>) -> Vec<Rendered> {
        let (rendered, reshaped) = render_outputs(ctx, config, Some(&self.served)).await;
        match reshaped {
            Some(next) => self.reshape_next(next),
            None => self.reshape_now(),
        }
        if let Some(ping) = announce_changes(ctx, config, &rendered) {
            self.pings.spawn(ping);
        }
        rendered
    }

    /// A ping or the re-shape ended (a re-shape that changed items makes a render due);
    /// pending while neither runs.
    pub async fn next_ended(&mut self) {
        let reshaping = async {
            match self.reshaping.as_mut() {
                Some(running) => running.await.unwrap_or(false),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(_) = self.pings.join_next() => {}
            changed = reshaping => {
                self.reshaping = None;
                self.dirty |= changed;
            }
        }
    }

    /// At shutdown: the outputs written if anything changed (by the leader).
    pub async fn render_if_changed(&mut self, ctx: &Pipeline, config: &Arc<Config>, leads: bool) {
        if self.dirty && leads {
            self.render_and_announce(ctx, config).await;
        }
    }

    /// At shutdown: the pings under way get until its deadline, no more.
    pub async fn finish_pings(&mut self, shutdown: &mut super::Shutdown) {
        while !self.pings.is_empty() {
            tokio::select! {
                _ = self.pings.join_next() => {}
                () = shutdown.passed() => {
                    tracing::warn!(cancelled = self.pings.len(), "WebSub pings still running at the deadline were cancelled");
                    self.pings.shutdown().await;
                }
            }
        }
    }
}

/// Prunes items past `[retention] max_age` and shapes again those a rule's date condition now
/// decides otherwise for, then renders every output: the items are read on the store's thread
/// (after the polls recorded so far are committed, so that no output shows an uncommitted
/// item), rendered and written on a blocking thread of their own; then the built-in server's
/// table (`served`) is made again. Returns what each file came to, and when a date condition
/// next decides otherwise for a stored item (`None` when shaping them failed).
pub async fn render_outputs(
    ctx: &Pipeline,
    config: &Arc<Config>,
    served: Option<&Served>,
) -> (Vec<Rendered>, Option<Option<chrono::DateTime<Utc>>>) {
    prune(ctx, config).await;
    let reshape_next = reshape_due(ctx).await.map(|(_, next)| next);
    let now = Utc::now();
    // Shared, not copied: this runs after every round of polls.
    let read_config = Arc::clone(config);
    let snapshot = ctx
        .store
        .with(move |store| {
            let c = &read_config;
            Snapshot::read(
                store,
                &c.outputs,
                c.health.as_deref(),
                render_context(c, now),
            )
        })
        .await;
    let seen = snapshot.as_ref().map(Snapshot::changes);
    let write_config = Arc::clone(config);
    let mut rendered = match snapshot {
        Some(snapshot) => tokio::task::spawn_blocking(move || {
            let c = &write_config;
            let ctx = render_context(c, now);
            render::render_all(snapshot, &c.outputs, c.health.as_deref(), ctx)
        })
        .await
        .ok(),
        None => None,
    };
    if let (Some(files), Some(changes)) = (rendered.as_mut(), seen) {
        let site_config = Arc::clone(config);
        let outputs_written = files.iter().all(|r| r.result.is_ok());
        // The site reads what it needs page by page: on the store's thread, which the pages
        // that changed hold only briefly.
        let site = ctx
            .store
            .with(move |store| {
                let c = &site_config;
                let ctx = render_context(c, now);
                let site = render::render_site(store, changes.items.as_deref(), &c.outputs, ctx);
                let all_written = outputs_written && site.as_ref().is_none_or(|s| s.result.is_ok());
                (
                    site,
                    all_written.then(|| render::written(store, &changes.seen, &c.outputs, ctx)),
                )
            })
            .await;
        match site {
            Some((site, recorded)) => {
                files.extend(site);
                if let Some(Err(error)) = recorded {
                    tracing::error!(%error, "recording what was written failed");
                }
            }
            None => tracing::error!("rendering the site crashed"),
        }
    }
    if let Some(served) = served.filter(|_| config.publishing.listen.is_some()) {
        let (served, config, store) = (served.clone(), Arc::clone(config), ctx.store.clone());
        // Only metadata is read here; a file's bytes are read when it is first asked for.
        let _ = tokio::task::spawn_blocking(move || served.refresh(&config, &store)).await;
    }
    let rendered = rendered.unwrap_or_else(|| {
        tracing::error!("rendering the outputs crashed");
        vec![Rendered {
            path: config.file.clone(),
            result: Err(RenderError::Crashed),
        }]
    });
    (rendered, reshape_next)
}

/// Items past `[retention] max_age` deleted.
async fn prune(ctx: &Pipeline, config: &Config) {
    let rules = config.items.clone();
    let pruned = ctx
        .store
        .with(move |store| store.prune(&rules, Utc::now()))
        .await;
    match pruned {
        Some(Ok(0)) => {}
        Some(Ok(pruned)) => tracing::info!(pruned, "pruned items past [retention] max_age"),
        Some(Err(error)) => tracing::error!(%error, "pruning old items failed"),
        None => tracing::error!("pruning old items crashed"),
    }
}

/// Shapes again the items a rule's `older_than` or `newer_than` now decides otherwise for;
/// returns whether any changed, and when the next is due; `None` when it failed (logged).
async fn reshape_due(ctx: &Pipeline) -> Option<(bool, Option<chrono::DateTime<Utc>>)> {
    let shaping = ctx.shaping.clone();
    match ctx
        .store
        .with(move |store| store.reshape_due(&shaping.get(), Utc::now()))
        .await
    {
        Some(Ok((changed, next))) => Some((changed > 0, next)),
        Some(Err(error)) => {
            tracing::error!(%error, "shaping items again failed");
            None
        }
        None => {
            tracing::error!("shaping items again crashed");
            None
        }
    }
}

fn render_context(config: &Config, now: chrono::DateTime<Utc>) -> RenderContext<'_> {
    RenderContext {
        sources: &config.sources,
        publishing: &config.publishing,
        now,
    }
}

/// The WebSub ping for the feeds among `rendered` that changed, if a hub is configured and
/// any did: a future bounded by `[websub] timeout`, for the caller to run beside its work.
pub fn announce_changes(
    ctx: &Pipeline,
    config: &Config,
    rendered: &[Rendered],
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let hub = config.publishing.hub.clone()?;
    let topics = config.websub_topics();
    let changed: Vec<url::Url> = rendered
        .iter()
        .filter(|r| matches!(r.result, Ok(Written::Changed)) && topics.contains(&r.path))
        .filter_map(|r| config.publishing.public_url(&r.path))
        .collect();
    (!changed.is_empty()).then(|| {
        publish::announce(
            ctx.fetcher.clone(),
            hub,
            changed,
            config.publishing.hub_timeout,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failed_renders_are_retried_later_and_later_up_to_a_minute() {
        let mut rendering = Rendering::new(Served::default());
        rendering.last_render = Instant::now();
        assert_eq!(
            rendering.render_due(false),
            rendering.last_render,
            "idle: at once"
        );
        let waits: Vec<u64> = (1..=8)
            .map(|failures| {
                rendering.failures = failures;
                (rendering.render_due(false) - rendering.last_render).as_secs()
            })
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    }
}

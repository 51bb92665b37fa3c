//! The daemon: a table of jobs that run beside each other, and the loop that hands each its
//! events. Each job owns its state in a file of its own and says when it next wants to run:
//!
//! | job | file | wakes for |
//! |---|---|---|
//! | polling | `polling.rs` | the next due source; a poll that ended |
//! | pushes | `pushes.rs` | a hub's delivery; one stored |
//! | upkeep | `upkeep.rs` | full texts, WebSub upkeep, webhook deliveries due; a run that ended |
//! | control | `control.rs` | a request on the control socket |
//! | leadership | `leadership.rs` | the lead's renewal (beside other instances) |
//! | reload | `reload.rs` | a change of the config file, or SIGHUP |
//! | rendering | `render.rs` | a change to write out; a rule's date condition |
//!
//! `once` (`once.rs`) polls every source one time with the same parts. Shutdown is one
//! [`Shutdown`] (the deadline of `[service] shutdown_timeout`) that each job obeys in turn.

mod control;
mod gauges;
mod leadership;
mod once;
mod polling;
mod pushes;
mod reload;
mod render;
mod shutdown;
mod upkeep;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinError};
use tokio::time::Instant;

use crate::config::Config;
use crate::control as socket;
use crate::fetch::Fetcher;
use crate::instance::Lead;
use crate::model::RefreshOutcome;
use crate::publish::{self, Served};
use crate::refresh::{OpenError, Pipeline};
use crate::service;
use crate::watch::ReloadRequests;
use crate::websub::Push;

pub use once::{OnceReport, once};
use reload::SourceDiff;
pub use shutdown::Shutdown;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The pipeline could not be set up.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The stop or reload signals could not be listened for.
    #[error("listening for signals: {0}")]
    Signals(std::io::Error),
    /// The built-in server could not listen.
    #[error("serving the outputs: {0}")]
    Serve(std::io::Error),
    /// The control socket could not be set up.
    #[error("the control socket: {0}")]
    Control(std::io::Error),
    /// The metrics server could not listen.
    #[error("serving metrics: {0}")]
    Metrics(std::io::Error),
}

/// What reaches the daemon from outside besides signals: control socket requests and content
/// hubs pushed.
pub struct Inputs {
    /// Requests of the control socket.
    pub control: mpsc::Receiver<socket::Request>,
    /// Content hubs delivered to the built-in server, signatures checked.
    pub pushed: mpsc::Receiver<Push>,
    /// Told when a hub verified a subscription request.
    pub verified: Arc<tokio::sync::Notify>,
}

/// `run`: sets up the pipeline, the signals, config reloads and the built-in server, then runs
/// the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), StartError> {
    let ctx = Pipeline::open(&config)?;
    ctx.apply_rules().await;
    ctx.regroup_stories().await;
    let written = config.outputs.iter().map(|o| o.path.as_path());
    crate::render::remove_stale_temp_files(written.chain(config.health.as_deref()));
    let shutdown = service::shutdown_signal().map_err(StartError::Signals)?;
    let reloads = ReloadRequests::new(&config.file, config.service.watch_config)
        .map_err(StartError::Signals)?;
    let shared = Arc::new(config.clone());
    gauges::follow(&ctx.store, &shared);
    crate::metrics::serve(config.metrics.listen)
        .await
        .map_err(StartError::Metrics)?;
    let served = Served::default();
    publish::serve(&shared, &ctx.store, &served)
        .await
        .map_err(StartError::Serve)?;
    let (control, _socket) =
        socket::listen(&socket::socket_path(&config.database)).map_err(StartError::Control)?;
    let (pushes, pushed) = mpsc::channel(64);
    let verified = Arc::new(tokio::sync::Notify::new());
    served.accept_pushes(publish::Inbox {
        store: ctx.store.clone(),
        pushes,
        max_body: config.poll.max_body,
        verified: verified.clone(),
        body_grace: config.publishing.limits.header_timeout,
        warnings: publish::Warnings::default(),
    });
    let inputs = Inputs {
        control,
        pushed,
        verified,
    };
    run_daemon(ctx, config, served, reloads, inputs, shutdown).await;
    Ok(())
}

/// The daemon: polls each source when its schedule says (a source never polled, or overdue
/// after downtime, soon after start, spread over a few seconds), rewrites the outputs after
/// changes, applies config reloads as they are requested, and returns once `shutdown` resolves
/// and in-flight polls have finished (or `[service] shutdown_timeout` passed) and the outputs
/// are up to date.
pub async fn run_daemon(
    ctx: Pipeline,
    config: Config,
    served: Served,
    mut reloads: ReloadRequests,
    mut inputs: Inputs,
    shutdown: impl Future<Output = ()>,
) {
    let mut daemon = Daemon::new(ctx, config, served);
    daemon.start().await;
    tokio::pin!(shutdown);
    let mut watchdog = service::Watchdog::new();
    loop {
        daemon.run_due().await;
        let wake = watchdog.pet_if_due(daemon.next_wake());
        tokio::select! {
            () = &mut shutdown => break,
            () = reloads.next() => {
                service::reloading();
                daemon.reload().await;
                reloads.refresh();
                service::ready();
            }
            ended = daemon.polling.next_ended() => daemon.polled(ended),
            Some(request) = inputs.control.recv() => daemon.asked(request),
            Some(push) = inputs.pushed.recv() => daemon.pushed(push),
            () = inputs.verified.notified() => daemon.upkeep.hub_verified(),
            stored = daemon.pushes.next_stored() => daemon.push_stored(stored),
            ended = daemon.upkeep.next_ended() => daemon.upkept(ended),
            () = daemon.rendering.next_ended() => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
    daemon.shut_down().await;
}

/// The daemon's jobs and what they share: the pipeline and the config in force.
struct Daemon {
    ctx: Pipeline,
    config: Arc<Config>,
    polling: polling::Polling,
    pushes: pushes::Pushes,
    upkeep: upkeep::Upkeep,
    control: control::Control,
    leadership: leadership::Leadership,
    reload: reload::Reload,
    rendering: render::Rendering,
}

impl Daemon {
    fn new(ctx: Pipeline, config: Config, served: Served) -> Daemon {
        Daemon {
            polling: polling::Polling::new(&config.sources, config.poll.concurrency),
            pushes: pushes::Pushes::default(),
            upkeep: upkeep::Upkeep::new(&config),
            control: control::Control::default(),
            leadership: leadership::Leadership::new(&config),
            reload: reload::Reload::default(),
            rendering: render::Rendering::new(served),
            ctx,
            config: Arc::new(config),
        }
    }

    /// Joins the other instances (if any) and schedules the sources from the database.
    async fn start(&mut self) {
        if let Some(lead) = self.leadership.start(&self.ctx.store).await {
            self.lead(lead);
        }
        let sources = self.config.sources.clone();
        self.polling
            .schedule_from_store(&self.ctx.store, &sources)
            .await;
        tracing::info!(
            sources = self.polling.len(),
            outputs = self.config.outputs.len(),
            "daemon started"
        );
        service::ready();
    }

    /// Runs each job whose time has come: the lead renewed, due sources polled, and, by the
    /// leader, the upkeep and the outputs.
    async fn run_due(&mut self) {
        if let Some(lead) = self.leadership.renew_if_due(&self.ctx.store).await {
            self.lead(lead);
        }
        let due = self.polling.take_due();
        if !due.is_empty() {
            let claim = self.leadership.claim(&self.ctx.store, due).await;
            for (url, at) in claim.later {
                self.polling.set_due(&url, Some(at));
            }
            self.polling.start(&self.ctx, claim.polled);
        }
        if self.leadership.leads() {
            self.upkeep.start_due(&self.ctx, &self.config);
            let busy = self.polling.busy();
            if self.rendering.run_due(&self.ctx, &self.config, busy).await {
                service::status(&self.polling.summary());
            }
        }
    }

    /// When the loop must wake next: the earliest any job wants to run. What only the leader
    /// does is not waited for by a follower.
    fn next_wake(&self) -> Instant {
        let mut wants = vec![self.polling.next_at(), self.leadership.next_at()];
        if self.leadership.leads() {
            wants.push(self.upkeep.next_at());
            wants.push(self.rendering.next_at(self.polling.busy()));
        }
        let idle = Instant::now() + Duration::from_secs(3600);
        wants.into_iter().flatten().fold(idle, Instant::min)
    }

    /// What renewing the lead found: a new leader does at once what the last one may have
    /// left undone.
    fn lead(&mut self, lead: Lead) {
        match lead {
            Lead::Taken => {
                self.rendering.changed(true);
                self.rendering.reshape_now();
                self.upkeep.lead_taken(&self.config);
            }
            Lead::Kept { changed } => self.rendering.changed(changed),
            Lead::Follows | Lead::Lost => {}
        }
    }

    /// A poll ended: the outputs, full texts, webhooks and WebSub hear of what it changed.
    fn polled(&mut self, ended: Result<(Id, RefreshOutcome), JoinError>) {
        let Some(polled) = self.polling.ended(ended) else {
            return;
        };
        if let Some(outcome) = &polled.outcome {
            self.rendering
                .changed(outcome.changed() || outcome.health_changed);
            self.upkeep
                .after_poll(&polled.source, outcome, &self.config);
        }
    }

    fn asked(&mut self, request: socket::Request) {
        let daemon = control::Parts {
            config: &self.config,
            store: &self.ctx.store,
            not_applied: self.reload.not_applied(),
            polling: &mut self.polling,
            leadership: &mut self.leadership,
        };
        self.control.asked(request, daemon);
    }

    fn pushed(&mut self, push: Push) {
        let source = self.polling.source(&push.content.subscription.source_url);
        self.pushes.receive(&self.ctx, source, push);
    }

    /// Pushed content was stored: the outputs show it at once, webhooks hear of it.
    fn push_stored(&mut self, stored: Result<RefreshOutcome, JoinError>) {
        let changed = pushes::Pushes::stored(stored);
        self.rendering.changed(changed);
        self.upkeep.after_change(changed, &self.config);
    }

    /// A run beside the polls ended: the outputs show what it stored; sources whose push is
    /// not healthy go back to their own interval.
    fn upkept(&mut self, ended: upkeep::Ended) {
        let (stored, unhealthy) = self.upkeep.ended(ended);
        self.rendering.changed(stored);
        for url in &unhealthy {
            self.polling.due_within_interval(url);
        }
    }

    /// Re-reads the config; one that loads is applied to every job: sources are added (polled
    /// at once), removed (their items stay) or changed in place (keeping their schedule and
    /// validators), and the other settings apply.
    async fn reload(&mut self) {
        let Some(new) = self.reload.load(&self.config).await else {
            return;
        };
        let diff = SourceDiff::between(&self.config.sources, &new.sources);
        let sources = new.sources.clone();
        let searches = new.saved_searches();
        let stories = new.stories.clone();
        let synced = self
            .ctx
            .store
            .with(move |store| {
                store.sync_sources(&sources)?;
                store.set_stories(stories);
                store.save_searches(searches, chrono::Utc::now())
            })
            .await;
        if !matches!(synced, Some(Ok(()))) {
            tracing::error!("recording the reloaded sources in the database failed");
        }
        let added = self.polling.reconfigure(&new.sources);
        // New sources are polled at once, unless the database says otherwise (a source
        // removed and added back keeps its Retry-After, backoff or gone state).
        self.polling
            .schedule_from_store(&self.ctx.store, &added)
            .await;
        self.reconfigure_pipeline(&new).await;
        self.upkeep.reconfigured(&self.config, &new);
        self.rendering
            .changed(new.outputs != self.config.outputs || new.health != self.config.health);
        tracing::info!("config reloaded: {diff}");
        self.config = Arc::new(new);
        gauges::follow(&self.ctx.store, &self.config);
    }

    /// The pipeline's settings from a reloaded config: the fetcher when `[poll]` changed, the
    /// item rules, webhooks and shaping (stored items shaped again if the rules changed).
    async fn reconfigure_pipeline(&mut self, new: &Config) {
        if new.poll != self.config.poll {
            match Fetcher::new(&new.poll) {
                Ok(fetcher) => {
                    self.ctx.fetcher = fetcher;
                    self.ctx.poll = Arc::new(new.poll.clone());
                    self.polling.set_concurrency(new.poll.concurrency);
                }
                Err(error) => {
                    tracing::error!(%error, "the new [poll] settings could not be applied")
                }
            }
        }
        self.ctx.rules = Arc::new(new.items.clone());
        self.ctx.webhooks = Arc::new(new.webhooks.clone());
        self.ctx.shaping.set(new.shaping());
        self.rendering.reshape_all(&self.ctx);
    }

    /// One shutdown every job obeys, in turn, within one deadline: no poll starts; those in
    /// flight finish (or are cancelled at the deadline); the outputs are written if anything
    /// changed; the lead is given up; pings get what is left; the upkeep's runs stop (what
    /// they had left is in the database for the next start); the database is closed.
    async fn shut_down(mut self) {
        service::stopping();
        self.rendering.stop_reshaping();
        let mut shutdown = Shutdown::new(self.config.service.shutdown_timeout);
        let changed = self.polling.finish(&mut shutdown).await;
        self.rendering.changed(changed);
        let leads = self.leadership.leads();
        self.rendering
            .render_if_changed(&self.ctx, &self.config, leads)
            .await;
        self.leadership.resign(&self.ctx.store).await;
        self.rendering.finish_pings(&mut shutdown).await;
        self.upkeep.stop().await;
        if let Err(error) = self.ctx.store.close().await {
            tracing::error!(%error, "closing the database failed");
        }
        tracing::info!("stopped");
    }
}

/// The `Instant` at a wall-clock time (now, if it has passed).
fn instant_at(at: chrono::DateTime<Utc>) -> Instant {
    Instant::now() + (at - Utc::now()).to_std().unwrap_or_default()
}

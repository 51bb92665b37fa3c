//! Who is polled when: one pass over every source (`once`) and the daemon loop (`run`), with
//! bounded concurrency, output rendering after changes, and clean shutdown.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use tokio::task::JoinError;

use crate::config::{self, Config, SourceConfig};
use crate::control;
use crate::fetch::Fetcher;
use crate::fulltext::{self, FullTextRun};
use crate::instance::{Instance, Lead};
use crate::model::Reason;
use crate::model::{PollResult, RefreshOutcome};
use crate::publish;
use crate::publish::webhooks::{self, DeliveryRun};
use crate::refresh::{self, Mode, OpenError, Pipeline, refresh};
use crate::render::{self, RenderContext, RenderError, Rendered, Snapshot, Written};
use crate::report;
use crate::rules::Shaping;
use crate::service;
use crate::watch::ReloadRequests;
use crate::websub::{self, Maintained, Push};

/// How long the daemon gathers changes before rewriting the outputs while polls are still
/// running, so that a burst of sources finishing does not rewrite the files once per source.
const RENDER_EVERY: Duration = Duration::from_secs(1);

/// The longest wait before writing the outputs again after writes failed.
const MAX_RENDER_RETRY: Duration = Duration::from_secs(60);

/// Sources due at start (never polled, or overdue after downtime) are spread over this long per
/// source, up to `MAX_START_SPREAD`, so that a start does not hit every publisher at once.
const START_SPREAD_PER_SOURCE: Duration = Duration::from_millis(100);
const MAX_START_SPREAD: Duration = Duration::from_secs(30);

/// Beside other instances, a due source the database said nothing of (the claim failed: the
/// connection was lost, say) is asked for again after this long.
const UNANSWERED_CLAIM_WAIT: Duration = Duration::from_secs(5);

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

/// `run`: sets up the pipeline, the signals, config reloads and the built-in server, then runs
/// the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), StartError> {
    let ctx = Pipeline::open(&config)?;
    ctx.apply_rules().await;
    let written = config.outputs.iter().map(|o| o.path.as_path());
    render::remove_stale_temp_files(written.chain(config.health.as_deref()));
    let shutdown = service::shutdown_signal().map_err(StartError::Signals)?;
    let reloads = ReloadRequests::new(&config.file, config.service.watch_config)
        .map_err(StartError::Signals)?;
    let shared = Arc::new(config.clone());
    crate::metrics::global().follow(&ctx.store, &shared);
    crate::metrics::serve(&config)
        .await
        .map_err(StartError::Metrics)?;
    publish::serve(&shared, &ctx.store, &ctx.served)
        .await
        .map_err(StartError::Serve)?;
    let (control, _socket) =
        control::listen(&control::socket_path(&config.database)).map_err(StartError::Control)?;
    let (pushes, pushed) = mpsc::channel(64);
    let verified = Arc::new(tokio::sync::Notify::new());
    ctx.served.accept_pushes(publish::Inbox {
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
    run_daemon(ctx, config, reloads, inputs, shutdown).await;
    Ok(())
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
    if config.sources.iter().any(|s| s.full_text.is_some()) {
        fulltext::fetch_due(ctx, config).await;
    }
    let rendered = render_outputs(ctx, &Arc::new(config.clone())).await;
    if let Some(ping) = announce_changes(ctx, config, &rendered) {
        ping.await;
    }
    if !config.webhooks.is_empty() {
        // One try each; what fails stays queued for the next run or the daemon.
        webhooks::deliver(&ctx.store, &ctx.fetcher, &config.webhooks).await;
    }
    (outcomes, rendered)
}

/// What reaches the daemon from outside besides signals: control socket requests and content
/// hubs pushed.
pub struct Inputs {
    /// Requests of the control socket.
    pub control: mpsc::Receiver<control::Request>,
    /// Content hubs delivered to the built-in server, signatures checked.
    pub pushed: mpsc::Receiver<Push>,
    /// Told when a hub verified a subscription request.
    pub verified: Arc<tokio::sync::Notify>,
}

/// The daemon: polls each source when its schedule says (a source never polled, or overdue
/// after downtime, soon after start, spread over a few seconds), rewrites the outputs after
/// changes, applies config reloads as they are requested, and returns once `shutdown` resolves
/// and in-flight polls have finished (or `[service] shutdown_timeout` passed) and the outputs
/// are up to date.
pub async fn run_daemon(
    ctx: Pipeline,
    config: Config,
    mut reloads: ReloadRequests,
    mut inputs: Inputs,
    shutdown: impl Future<Output = ()>,
) {
    let mut daemon = Daemon::new(ctx, config);
    if let Some(instance) = &daemon.instance {
        let id = instance.id.clone();
        daemon
            .ctx
            .store
            .with(move |store| store.set_instance(&id))
            .await;
        daemon.renew().await;
    }
    daemon
        .schedule_from_store(&daemon.config.sources.clone())
        .await;
    tokio::pin!(shutdown);
    let watchdog = service::watchdog_interval();
    let mut last_ping = Instant::now();
    tracing::info!(
        sources = daemon.schedule.len(),
        outputs = daemon.config.outputs.len(),
        "daemon started"
    );
    service::ready();
    loop {
        if daemon
            .instance
            .as_ref()
            .is_some_and(|i| i.renew_at <= Instant::now())
        {
            daemon.renew().await;
        }
        daemon.start_due().await;
        if daemon.leads() {
            daemon.start_beside();
        }
        if daemon.leads() && daemon.reshape_at.is_some_and(|at| at <= Instant::now()) {
            let (changed, next) = reshape_due(&daemon.ctx).await;
            daemon.dirty |= changed;
            // Never sooner than a second from now, whatever the store says.
            let soonest = Instant::now() + Duration::from_secs(1);
            daemon.reshape_at = next.map(|at| instant_at(at).max(soonest));
        }
        if daemon.dirty && daemon.leads() && daemon.render_due() <= Instant::now() {
            daemon.render().await;
        }
        let mut wake = daemon.next_wake();
        if let Some(every) = watchdog {
            if last_ping.elapsed() >= every {
                service::watchdog();
                last_ping = Instant::now();
            }
            wake = wake.min(last_ping + every);
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = reloads.next() => {
                service::reloading();
                daemon.reload().await;
                reloads.refresh();
                service::ready();
            }
            Some(joined) = daemon.tasks.join_next_with_id() => daemon.finished(joined),
            Some(request) = inputs.control.recv() => daemon.asked(request),
            Some(push) = inputs.pushed.recv() => daemon.pushed(push),
            () = inputs.verified.notified() => daemon.websub.due_now(),
            Some(stored) = daemon.pushes.join_next() => daemon.push_stored(stored),
            Some(run) = daemon.websub.runs.join_next() => daemon.websub_done(run),
            Some(run) = daemon.deliveries.runs.join_next() => daemon.deliveries_done(run),
            Some(run) = daemon.full_texts.runs.join_next() => daemon.full_texts_done(run),
            Some(_) = daemon.pings.join_next() => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
    daemon.shut_down().await;
}

/// A configured source and its place in the daemon's schedule.
struct Scheduled {
    source: Arc<SourceConfig>,
    /// When it is next due; `None` while it is being polled, or when it is gone.
    due: Option<Instant>,
}

/// The daemon's state: its config, the schedule, the polls in flight.
struct Daemon {
    ctx: Pipeline,
    config: Arc<Config>,
    /// Keyed by URL as configured: a source's identity.
    schedule: HashMap<String, Scheduled>,
    /// The sources by due time, soonest first, so that a turn of the loop costs no scan of
    /// every source. An entry whose time no longer matches its source's `due` is stale and
    /// skipped.
    queue: BinaryHeap<Reverse<(Instant, String)>>,
    semaphore: Arc<Semaphore>,
    tasks: JoinSet<RefreshOutcome>,
    /// Which source each task polls.
    task_source: HashMap<tokio::task::Id, String>,
    dirty: bool,
    last_render: Instant,
    /// Renders in a row that failed to write a file.
    render_failures: u32,
    /// Counts of the polls since the start, for `systemctl status`.
    polls: usize,
    failures: usize,
    /// WebSub pings under way: beside the loop, never in it.
    pings: JoinSet<()>,
    /// Full-text fetches (when any may be wanted).
    full_texts: Beside<FullTextRun>,
    /// When a rule's `older_than`/`newer_than` next decides otherwise for a stored item.
    reshape_at: Option<Instant>,
    /// Clients of the control socket waiting for a source's poll, by its URL.
    waiters: HashMap<String, Vec<mpsc::UnboundedSender<String>>>,
    /// Content hubs pushed, being stored.
    pushes: JoinSet<RefreshOutcome>,
    /// WebSub upkeep: subscribe, renew, retry, unsubscribe.
    websub: Beside<Maintained>,
    /// The hub subscribed (or being subscribed) for each source, by its URL.
    subscribed: HashMap<String, String>,
    /// Webhook deliveries.
    deliveries: Beside<DeliveryRun>,
    /// This daemon among others on one PostgreSQL database; `None` on SQLite.
    instance: Option<Instance>,
    /// Why the config file, as last changed, was not applied; `None` once one is.
    not_applied: Option<String>,
    /// One `status` answered at a time: at 100,000 sources each holds about 100 MB while it
    /// is made, and scripts asking at once should not add them up.
    status_turn: Arc<Semaphore>,
}

/// Work that runs beside the daemon's loop, never in it, one run at a time, when it is due.
struct Beside<T> {
    runs: JoinSet<T>,
    /// When it is next to run, if anything is to be done.
    due: Option<Instant>,
}

impl<T: Send + 'static> Beside<T> {
    fn new(due: Option<Instant>) -> Beside<T> {
        Beside {
            runs: JoinSet::new(),
            due,
        }
    }

    /// Due now.
    fn due_now(&mut self) {
        self.due = Some(Instant::now());
    }

    /// Due at `at` too (whichever comes first).
    fn due_by(&mut self, at: Option<Instant>) {
        self.due = [self.due, at].into_iter().flatten().min();
    }

    /// Starts the run `start` makes when it is due and none is under way.
    fn start_if_due<F>(&mut self, start: impl FnOnce() -> F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        if !self.runs.is_empty() || self.due.is_none_or(|t| t > Instant::now()) {
            return;
        }
        self.due = None;
        self.runs.spawn(start());
    }
}

impl Daemon {
    fn new(ctx: Pipeline, config: Config) -> Daemon {
        let schedule = config
            .sources
            .iter()
            .map(|s| {
                let entry = Scheduled {
                    source: s.clone(),
                    due: None,
                };
                (s.url.clone(), entry)
            })
            .collect();
        Daemon {
            semaphore: Arc::new(Semaphore::new(config.poll.concurrency)),
            ctx,
            schedule,
            queue: BinaryHeap::new(),
            tasks: JoinSet::new(),
            task_source: HashMap::new(),
            // Outputs are rendered at start too, in case a file was deleted meanwhile.
            dirty: true,
            last_render: Instant::now(),
            render_failures: 0,
            polls: 0,
            failures: 0,
            pings: JoinSet::new(),
            waiters: HashMap::new(),
            // Some may have been left wanted by the last run.
            full_texts: Beside::new(
                config
                    .sources
                    .iter()
                    .any(|s| s.full_text.is_some())
                    .then(Instant::now),
            ),
            reshape_at: Some(Instant::now()),
            pushes: JoinSet::new(),
            // Subscriptions to renew, or to end if subscribing was turned off meanwhile.
            websub: Beside::new(Some(Instant::now())),
            subscribed: HashMap::new(),
            // Deliveries may have been left queued by the last run.
            deliveries: Beside::new((!config.webhooks.is_empty()).then(Instant::now)),
            instance: Instance::of(&config),
            not_applied: None,
            status_turn: Arc::new(Semaphore::new(1)),
            config: Arc::new(config),
        }
    }

    /// Schedules `sources` from their stored next poll times, so that a restart neither
    /// hammers every publisher nor forgets a Retry-After or backoff: a time still to come is
    /// kept; sources overdue or never polled are spread over a short window; gone ones wait for
    /// their URL to change.
    async fn schedule_from_store(&mut self, sources: &[Arc<SourceConfig>]) {
        let urls: Vec<String> = sources.iter().map(|s| s.url.clone()).collect();
        let stored = self
            .ctx
            .store
            .with(move |store| store.schedules(&urls))
            .await
            .and_then(Result::ok)
            .unwrap_or_default();
        let now = Utc::now();
        let soon = stored
            .iter()
            .filter(|s| !s.gone)
            .filter(|s| s.next_poll.is_none_or(|n| n.at <= now))
            .count();
        // 100 ms per source, up to 30 s: a handful start at once, thousands are spread out.
        let window = (START_SPREAD_PER_SOURCE * soon as u32).min(MAX_START_SPREAD);
        for schedule in &stored {
            let Some(entry) = self.schedule.get_mut(&schedule.url) else {
                continue;
            };
            entry.due = if schedule.gone {
                None
            } else {
                match schedule.next_poll.filter(|n| n.at > now) {
                    // A time set by the interval alone follows the config's interval, which
                    // may have been shortened while the daemon was down.
                    Some(next) if next.reason == Reason::Interval => {
                        let sooner = Instant::now() + entry.source.interval;
                        Some(instant_at(next.at).min(sooner))
                    }
                    Some(next) => Some(instant_at(next.at)),
                    None => Some(Instant::now() + window.mul_f64(fastrand::f64())),
                }
            };
            enqueue(&mut self.queue, &schedule.url, entry.due);
        }
    }

    /// Starts a poll of every source whose time has come (and, beside other instances, that
    /// this one could claim).
    async fn start_due(&mut self) {
        let now = Instant::now();
        let mut due_urls = Vec::new();
        while self
            .queue
            .peek()
            .is_some_and(|Reverse((due, _))| *due <= now)
        {
            let Some(Reverse((due, url))) = self.queue.pop() else {
                break;
            };
            // Removed by a reload, or rescheduled since: a stale entry.
            let Some(entry) = self.schedule.get_mut(&url).filter(|e| e.due == Some(due)) else {
                continue;
            };
            crate::metrics::global().started_late(now - due);
            entry.due = None;
            due_urls.push(url);
        }
        if due_urls.is_empty() {
            return;
        }
        let to_poll = match &mut self.instance {
            None => due_urls,
            Some(instance) => {
                let claimed = instance.claim(&self.ctx.store, due_urls.clone()).await;
                // Polled meanwhile by another instance, or held by one: asked again then. A
                // source the claim did not answer for is asked again soon. Looked up by URL:
                // a restart may find thousands due at once.
                let polling: HashSet<&String> = claimed.claimed.iter().collect();
                let elsewhere: HashMap<&String, Instant> = claimed
                    .elsewhere
                    .iter()
                    .map(|(url, at)| (url, instant_at(*at)))
                    .collect();
                for url in due_urls.iter().filter(|u| !polling.contains(u)) {
                    if let Some(entry) = self.schedule.get_mut(url) {
                        let later = elsewhere.get(url).copied();
                        entry.due =
                            Some(later.unwrap_or_else(|| Instant::now() + UNANSWERED_CLAIM_WAIT));
                        enqueue(&mut self.queue, url, entry.due);
                    }
                }
                claimed.claimed
            }
        };
        for url in to_poll {
            let Some(entry) = self.schedule.get(&url) else {
                continue;
            };
            let task = poll(
                self.ctx.clone(),
                entry.source.clone(),
                self.semaphore.clone(),
                Mode::Now,
            );
            let handle = self.tasks.spawn(task);
            self.task_source.insert(handle.id(), url);
        }
    }

    /// Whether this instance renders the outputs and serves WebSub and webhooks: always alone
    /// on SQLite; when it holds the lead beside other instances.
    fn leads(&self) -> bool {
        self.instance.as_ref().is_none_or(Instance::leads)
    }

    /// Says this instance is alive and renews (or tries to take) the lead; a new leader does
    /// at once what the last one may have left undone.
    async fn renew(&mut self) {
        let Some(instance) = &mut self.instance else {
            return;
        };
        match instance.renew(&self.ctx.store).await {
            Lead::Taken => {
                self.dirty = true;
                self.reshape_at = Some(Instant::now());
                self.websub.due_now();
                if !self.config.webhooks.is_empty() {
                    self.deliveries.due_now();
                }
                if self.config.sources.iter().any(|s| s.full_text.is_some()) {
                    self.full_texts.due_now();
                }
            }
            Lead::Kept { changed } => self.dirty |= changed,
            Lead::Follows | Lead::Lost => {}
        }
    }

    /// When the loop must wake next: the next due source, or the next render.
    fn next_wake(&self) -> Instant {
        // A stale entry at the top only wakes the loop early, once.
        let due = self
            .queue
            .peek()
            .map(|Reverse((due, _))| *due)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let renewal = self.instance.as_ref().map(|i| i.renew_at);
        if !self.leads() {
            // What only the leader does is not waited for.
            return renewal.map_or(due, |at| due.min(at));
        }
        let due = [
            self.full_texts.due,
            self.reshape_at,
            self.websub.due,
            self.deliveries.due,
            renewal,
        ]
        .into_iter()
        .flatten()
        .fold(due, Instant::min);
        if self.dirty {
            due.min(self.render_due())
        } else {
            due
        }
    }

    /// When the outputs may next be rendered: once polls in flight are done, or a second after
    /// the last render while they go on; after failed writes (disk full, read-only), later and
    /// later, up to a minute, so that a broken disk is retried without flooding the log.
    fn render_due(&self) -> Instant {
        if self.render_failures > 0 {
            let wait = RENDER_EVERY.saturating_mul(1 << self.render_failures.min(6));
            return self.last_render + wait.min(MAX_RENDER_RETRY);
        }
        if self.tasks.is_empty() {
            self.last_render
        } else {
            self.last_render + RENDER_EVERY
        }
    }

    /// Takes a finished poll's outcome: its next due time, and whether outputs need a render.
    fn finished(&mut self, joined: Result<(tokio::task::Id, RefreshOutcome), JoinError>) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Some(outcome)),
            Err(error) => (error.id(), None),
        };
        let Some(url) = self.task_source.remove(&id) else {
            return;
        };
        if let Some(waiters) = self.waiters.remove(&url) {
            let line = match &outcome {
                Some(outcome) => report::outcome_line(outcome),
                None => format!("{url}: the poll crashed"),
            };
            for waiter in waiters {
                let _ = waiter.send(line.clone());
            }
        }
        // A source removed by a reload while it was polled is simply not scheduled again.
        let Some(entry) = self.schedule.get_mut(&url) else {
            return;
        };
        self.polls += 1;
        entry.due = match &outcome {
            Some(outcome) => {
                self.dirty |= outcome.changed() || outcome.health_changed;
                if entry.source.full_text.is_some() && outcome.changed() {
                    self.full_texts.due_now();
                }
                if outcome.changed() && !self.config.webhooks.is_empty() {
                    self.deliveries.due_now();
                }
                // Push missed items: its hub is asked again now, not at the next upkeep.
                if outcome.push_missed {
                    self.websub.due_now();
                }
                // A hub advertised (or configured) that is not the one subscribed.
                let hub = entry.source.hub.as_ref().map(url::Url::to_string);
                if let Some(hub) = hub.or_else(|| outcome.hub.clone()) {
                    if self.config.subscribing.is_some()
                        && self.subscribed.get(&url) != Some(&hub)
                        && matches!(outcome.result, PollResult::Fetched(_))
                    {
                        self.websub.due_now();
                    }
                }
                if matches!(outcome.result, PollResult::Failed(_)) {
                    self.failures += 1;
                }
                outcome.next_poll.map(|next| instant_at(next.at))
            }
            // Should a refresh task ever die, the source is retried after its interval.
            None => Some(Instant::now() + entry.source.interval),
        };
        enqueue(&mut self.queue, &url, entry.due);
    }

    /// A control socket's request: the sources it names are polled now (a poll under way is
    /// waited for), each result line sent back as it finishes.
    fn asked(&mut self, request: control::Request) {
        let (targets, reply) = match request {
            control::Request::Poll { targets, reply } => (targets, reply),
            control::Request::Status {
                config,
                targets,
                reply,
            } => return self.tell_status(&config, &targets, reply),
        };
        for target in targets {
            let source = self.config.sources.iter().find(|s| s.is_named(&target));
            let Some(entry) = source.and_then(|s| self.schedule.get_mut(&s.url)) else {
                let _ = reply.send(format!("{target}: no such source in the config"));
                continue;
            };
            let url = entry.source.url.clone();
            let polling = self.task_source.values().any(|u| *u == url);
            if let Some(instance) = &mut self.instance {
                instance.force(&url);
            }
            if !polling {
                // Polled by the next turn of the loop, which comes at once; Retry-After and
                // a gone feed still hold (the poll says "skipped").
                entry.due = Some(Instant::now());
                enqueue(&mut self.queue, &url, entry.due);
            }
            self.waiters.entry(url).or_default().push(reply.clone());
        }
    }

    /// A control socket's `status` (of the sources `targets` names, if any), when `file` is
    /// this daemon's config file: read beside the loop, so that a status of 100,000 sources
    /// holds up no poll's start.
    fn tell_status(
        &self,
        file: &Path,
        targets: &[String],
        reply: oneshot::Sender<Result<String, String>>,
    ) {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if !same(file, &self.config.file) {
            let why = format!("this daemon runs {}", self.config.file.display());
            let _ = reply.send(Err(why));
            return;
        }
        let named = match targets.is_empty() {
            true => None,
            false => match self.config.sources_named(targets) {
                Ok(named) => Some(named),
                Err(unknown) => {
                    let _ = reply.send(Err(format!("no source is named {unknown:?}")));
                    return;
                }
            },
        };
        let (config, store) = (self.config.clone(), self.ctx.store.clone());
        let not_applied = self.not_applied.clone();
        let turn = self.status_turn.clone();
        tokio::spawn(async move {
            let _turn = turn.acquire_owned().await;
            let reads = {
                let config = config.clone();
                store
                    .with(move |store| store.status_reads(&config, named.as_deref()))
                    .await
            };
            let text = match reads {
                Some(Ok(reads)) => {
                    let report =
                        move || report::status_report(reads, &config, not_applied.as_deref());
                    tokio::task::spawn_blocking(report)
                        .await
                        .map_err(|e| e.to_string())
                }
                Some(Err(error)) => Err(format!("reading the database: {error}")),
                None => Err("the store is shut".to_string()),
            };
            let _ = reply.send(text);
        });
    }

    /// Content a hub pushed: stored like a poll's items, the hub answered once it is.
    fn pushed(&mut self, push: Push) {
        let Push { content, reply } = push;
        let source = self
            .schedule
            .get(&content.subscription.source_url)
            .map(|entry| entry.source.clone());
        let Some(source) = source else {
            // The source left the config: its subscription is being ended.
            let _ = reply.send(true);
            return;
        };
        let ctx = self.ctx.clone();
        self.pushes.spawn(async move {
            let outcome = refresh::receive_push(&ctx, &source, content).await;
            let stored = !matches!(outcome.result, PollResult::Failed(_));
            let _ = reply.send(stored);
            outcome
        });
    }

    /// Pushed content was stored: the outputs show it at once, webhooks hear of it.
    fn push_stored(&mut self, stored: Result<RefreshOutcome, JoinError>) {
        let Ok(outcome) = stored else {
            tracing::error!("storing pushed content crashed");
            return;
        };
        if outcome.changed() {
            self.dirty = true;
            if !self.config.webhooks.is_empty() {
                self.deliveries.due_now();
            }
        }
    }

    /// The upkeep ended: sources whose push is not healthy go back to their own interval.
    fn websub_done(&mut self, run: Result<Maintained, JoinError>) {
        let Ok(run) = run else {
            tracing::error!("the WebSub upkeep crashed");
            return;
        };
        for url in &run.unhealthy {
            if let Some(entry) = self.schedule.get_mut(url) {
                let own = Instant::now() + entry.source.interval;
                entry.due = entry.due.map(|due| due.min(own));
                enqueue(&mut self.queue, url, entry.due);
            }
        }
        self.subscribed = run.subscribed;
        self.websub.due_by(run.next_at.map(instant_at));
    }

    /// Starts what runs beside the loop (full texts, WebSub upkeep, webhook deliveries) that
    /// is due and not under way.
    fn start_beside(&mut self) {
        let (ctx, config) = (&self.ctx, &self.config);
        self.full_texts.start_if_due(|| {
            let (ctx, config) = (ctx.clone(), config.clone());
            async move { fulltext::fetch_due(&ctx, &config).await }
        });
        self.websub.start_if_due(|| {
            let (store, fetcher, config) = (ctx.store.clone(), ctx.fetcher.clone(), config.clone());
            async move { websub::maintain(&store, &fetcher, &config).await }
        });
        self.deliveries.start_if_due(|| {
            let (store, fetcher, config) = (ctx.store.clone(), ctx.fetcher.clone(), config.clone());
            async move { webhooks::deliver(&store, &fetcher, &config.webhooks).await }
        });
    }

    /// A delivery run ended: the next when a retry is due (or new items came meanwhile).
    fn deliveries_done(&mut self, run: Result<DeliveryRun, JoinError>) {
        let Ok(run) = run else {
            tracing::error!("delivering to the webhooks crashed");
            return;
        };
        self.deliveries.due_by(run.next_at.map(instant_at));
    }

    /// A run of full-text fetches ended: the outputs show what it stored; retries are due later.
    fn full_texts_done(&mut self, run: Result<FullTextRun, JoinError>) {
        let Ok(run) = run else {
            tracing::error!("fetching full texts crashed");
            return;
        };
        self.dirty |= run.stored > 0;
        self.full_texts.due_by(run.next_at.map(instant_at));
        // A full batch may have left more due now.
        self.full_texts
            .due_by((run.stored + run.failed > 0).then(Instant::now));
    }

    async fn render(&mut self) {
        let rendered = self.render_and_announce().await;
        // Items stored since may be due earlier than what was known.
        self.reshape_at = Some(Instant::now());
        // A file that could not be written is written again later: the database has what it
        // needs, and the next successful write catches up.
        let failed = rendered.iter().any(|r| r.result.is_err());
        self.dirty = failed;
        self.render_failures = if failed { self.render_failures + 1 } else { 0 };
        self.last_render = Instant::now();
        service::status(&format!(
            "{} sources; {} polls since start, {} failed",
            self.schedule.len(),
            self.polls,
            self.failures
        ));
    }

    /// Renders the outputs and sets the WebSub ping for those that changed going, beside the loop.
    async fn render_and_announce(&mut self) -> Vec<Rendered> {
        let rendered = render_outputs(&self.ctx, &self.config).await;
        if let Some(ping) = announce_changes(&self.ctx, &self.config, &rendered) {
            self.pings.spawn(ping);
        }
        rendered
    }

    /// Re-reads the config. One that fails to load is not applied: the daemon goes on with the
    /// last good one. Otherwise sources are added (polled at once), removed (their items
    /// stay) or changed in place (keeping their schedule and validators), and the other
    /// settings apply.
    async fn reload(&mut self) {
        let file = self.config.file.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&file)).await;
        let mut new = match loaded {
            Ok(Ok(new)) => new,
            Ok(Err(error)) => {
                tracing::error!(
                    "config not applied (still running on the last good one): {}",
                    error.one_line()
                );
                self.not_applied = Some(error.one_line());
                return;
            }
            Err(_) => {
                tracing::error!("config not applied: loading it crashed");
                self.not_applied = Some("loading it crashed".to_string());
                return;
            }
        };
        self.not_applied = None;
        if new.database != self.config.database {
            tracing::warn!(
                "database.path changed to {}; that takes a restart: still using {}",
                new.database.display(),
                self.config.database.display()
            );
            new.database = self.config.database.clone();
        }
        let diff = SourceDiff::between(&self.config.sources, &new.sources);
        let (sync, sources) = (self.ctx.store.clone(), new.sources.clone());
        match sync.with(move |store| store.sync_sources(&sources)).await {
            Some(Ok(())) => {}
            _ => tracing::error!("recording the reloaded sources in the database failed"),
        }
        for url in &diff.removed {
            self.schedule.remove(url);
        }
        let mut added = Vec::new();
        for source in &new.sources {
            match self.schedule.get_mut(&source.url) {
                Some(entry) => {
                    // A shorter interval applies now; a longer one from the next poll on.
                    if source.interval < entry.source.interval {
                        let sooner = Instant::now() + source.interval;
                        entry.due = entry.due.map(|due| due.min(sooner));
                        enqueue(&mut self.queue, &source.url, entry.due);
                    }
                    entry.source = source.clone();
                }
                None => {
                    self.schedule.insert(
                        source.url.clone(),
                        Scheduled {
                            source: source.clone(),
                            due: None,
                        },
                    );
                    added.push(source.clone());
                }
            }
        }
        // New sources are polled at once, unless the database says otherwise (a source
        // removed and added back keeps its Retry-After, backoff or gone state).
        self.schedule_from_store(&added).await;
        if new.poll != self.config.poll {
            match Fetcher::new(&new.poll) {
                Ok(fetcher) => {
                    self.ctx.fetcher = fetcher;
                    self.ctx.poll = Arc::new(new.poll.clone());
                    self.semaphore = Arc::new(Semaphore::new(new.poll.concurrency));
                }
                Err(error) => {
                    tracing::error!(%error, "the new [poll] settings could not be applied")
                }
            }
        }
        self.ctx.rules = Arc::new(new.items.clone());
        self.ctx.webhooks = Arc::new(new.webhooks.clone());
        self.websub.due_now();
        if new.webhooks != self.config.webhooks {
            self.deliveries.due_now();
        }
        self.ctx.shaping.set(Shaping::new(&new));
        self.dirty |= self.ctx.apply_rules().await;
        if new.outputs != self.config.outputs || new.health != self.config.health {
            self.dirty = true;
        }
        tracing::info!("config reloaded: {diff}");
        self.config = Arc::new(new);
        // A client waiting for a source no longer configured is answered by the end.
        let schedule = &self.schedule;
        self.waiters.retain(|url, _| schedule.contains_key(url));
    }

    /// Stops starting polls, lets those in flight finish until the deadline (then cancels
    /// them), and writes the outputs if anything changed.
    async fn shut_down(mut self) {
        service::stopping();
        tracing::info!(in_flight = self.tasks.len(), "shutting down");
        let deadline = tokio::time::sleep(self.config.service.shutdown_timeout);
        tokio::pin!(deadline);
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(joined) = self.tasks.join_next() => {
                    self.dirty |= joined.is_ok_and(|o| o.changed() || o.health_changed);
                }
                () = &mut deadline => {
                    tracing::warn!(cancelled = self.tasks.len(), "polls still running at the deadline were cancelled");
                    // A cancelled poll's database write, if it had started, still runs to its
                    // end on its blocking thread; only the waiting is abandoned.
                    self.tasks.shutdown().await;
                }
            }
        }
        if self.dirty && self.leads() {
            self.render_and_announce().await;
        }
        if let Some(instance) = &mut self.instance {
            instance.resign(&self.ctx.store).await;
        }
        // Pings still under way get what is left of the deadline, no more.
        while !self.pings.is_empty() {
            tokio::select! {
                _ = self.pings.join_next() => {}
                () = &mut deadline => {
                    tracing::warn!(cancelled = self.pings.len(), "WebSub pings still running at the deadline were cancelled");
                    self.pings.shutdown().await;
                }
            }
        }
        if let Err(error) = self.ctx.store.close().await {
            tracing::error!(%error, "closing the database failed");
        }
        tracing::info!("stopped");
    }
}

/// How a reload changed the sources, for the log.
struct SourceDiff {
    added: Vec<String>,
    removed: Vec<String>,
    /// The source's label and what changed.
    changed: Vec<(String, Vec<String>)>,
    /// Labels of added and removed sources, by URL.
    labels: HashMap<String, String>,
}

impl SourceDiff {
    fn between(old: &[Arc<SourceConfig>], new: &[Arc<SourceConfig>]) -> SourceDiff {
        // By URL: a reload of 100,000 sources compares each once, not each with every other.
        fn by_url(list: &[Arc<SourceConfig>]) -> HashMap<&str, &SourceConfig> {
            list.iter().map(|s| (s.url.as_str(), &**s)).collect()
        }
        let (old_by_url, new_by_url) = (by_url(old), by_url(new));
        let mut diff = SourceDiff {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            labels: HashMap::new(),
        };
        for source in new {
            match old_by_url.get(source.url.as_str()) {
                None => {
                    diff.labels
                        .insert(source.url.clone(), source.label().to_string());
                    diff.added.push(source.url.clone());
                }
                Some(before) => {
                    let mut what = Vec::new();
                    if before.interval != source.interval {
                        what.push(format!(
                            "interval {} → {}",
                            humantime::format_duration(before.interval),
                            humantime::format_duration(source.interval)
                        ));
                    }
                    if before.name != source.name {
                        what.push(format!("name {:?} → {:?}", before.name, source.name));
                    }
                    if before.tags != source.tags {
                        what.push(format!("tags {:?} → {:?}", before.tags, source.tags));
                    }
                    if !what.is_empty() {
                        diff.changed.push((source.label().to_string(), what));
                    }
                }
            }
        }
        for source in old {
            if !new_by_url.contains_key(source.url.as_str()) {
                diff.labels
                    .insert(source.url.clone(), source.label().to_string());
                diff.removed.push(source.url.clone());
            }
        }
        diff
    }
}

impl std::fmt::Display for SourceDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |urls: &[String]| {
            urls.iter()
                .map(|u| self.labels.get(u).cloned().unwrap_or_else(|| u.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let changed = self
            .changed
            .iter()
            .map(|(name, what)| format!("{name}: {}", what.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        write!(
            f,
            "added {} sources ({}), removed {} ({}), changed {} ({})",
            self.added.len(),
            names(&self.added),
            self.removed.len(),
            names(&self.removed),
            self.changed.len(),
            changed
        )
    }
}

/// Puts the source at `url` in the queue at `due`, if it is due at all.
fn enqueue(queue: &mut BinaryHeap<Reverse<(Instant, String)>>, url: &str, due: Option<Instant>) {
    if let Some(due) = due {
        queue.push(Reverse((due, url.to_string())));
    }
}

/// The `Instant` at a wall-clock time (now, if it has passed).
fn instant_at(at: chrono::DateTime<Utc>) -> Instant {
    Instant::now() + (at - Utc::now()).to_std().unwrap_or_default()
}

async fn poll(
    ctx: Pipeline,
    source: Arc<SourceConfig>,
    semaphore: Arc<Semaphore>,
    mode: Mode,
) -> RefreshOutcome {
    // The host's permit first: sources queued behind a busy host must not hold global permits.
    let _host = ctx.fetcher.host_permit(&source.location).await;
    // The semaphore is never closed, so acquiring only waits.
    let _permit = semaphore.acquire_owned().await.ok();
    // Boxed once it may start: a refresh's future is large, and thousands of polls wait above.
    Box::pin(refresh(&ctx, &source, mode)).await
}

/// Prunes items past `[retention] max_age`, then renders every output: the items are read on
/// the store's thread (after the polls recorded so far are committed, so that no output shows
/// an uncommitted item), rendered and written on a blocking thread of their own.
async fn render_outputs(ctx: &Pipeline, config: &Arc<Config>) -> Vec<Rendered> {
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
    reshape_due(ctx).await;
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
    let write_config = Arc::clone(config);
    let rendered = match snapshot {
        Some(snapshot) => tokio::task::spawn_blocking(move || {
            let c = &write_config;
            let ctx = render_context(c, now);
            render::render_all(snapshot, &c.outputs, c.health.as_deref(), ctx)
        })
        .await
        .ok(),
        None => None,
    };
    crate::metrics::global().follow(&ctx.store, config);
    if config.publishing.listen.is_some() {
        let (served, config, store) = (ctx.served.clone(), Arc::clone(config), ctx.store.clone());
        // Only metadata is read here; a file's bytes are read when it is first asked for.
        let _ = tokio::task::spawn_blocking(move || served.refresh(&config, &store)).await;
    }
    rendered.unwrap_or_else(|| {
        tracing::error!("rendering the outputs crashed");
        vec![Rendered {
            path: config.file.clone(),
            result: Err(RenderError::Crashed),
            public_url: None,
        }]
    })
}

/// Shapes again the items a rule's `older_than` or `newer_than` now decides otherwise for;
/// returns whether any changed, and when the next is due.
async fn reshape_due(ctx: &Pipeline) -> (bool, Option<chrono::DateTime<Utc>>) {
    let shaping = ctx.shaping.clone();
    match ctx
        .store
        .with(move |store| store.reshape_due(&shaping.get(), Utc::now()))
        .await
    {
        Some(Ok((changed, next))) => (changed > 0, next),
        Some(Err(error)) => {
            tracing::error!(%error, "shaping items again failed");
            (false, None)
        }
        None => {
            tracing::error!("shaping items again crashed");
            (false, None)
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
fn announce_changes(
    ctx: &Pipeline,
    config: &Config,
    rendered: &[Rendered],
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let hub = config.publishing.hub.clone()?;
    let changed: Vec<url::Url> = rendered
        .iter()
        .filter(|r| matches!(r.result, Ok(Written::Changed)))
        .filter_map(|r| r.public_url.clone())
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

    /// A daemon on a fresh database with `sources` (file sources: nothing is fetched here).
    fn daemon(dir: &std::path::Path, sources: usize) -> Daemon {
        let mut toml = String::from(
            "[database]\npath = \"state/t.db\"\n[[outputs]]\npath = \"public/feed.xml\"\n",
        );
        for n in 0..sources {
            toml.push_str(&format!("[[sources]]\nurl = \"file:feed{n}.xml\"\n"));
        }
        let file = dir.join("tributary.toml");
        std::fs::write(&file, toml).unwrap();
        let config = config::load(&file).unwrap();
        Daemon::new(Pipeline::open(&config).unwrap(), config)
    }

    #[tokio::test(start_paused = true)]
    async fn failed_renders_are_retried_later_and_later_up_to_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = daemon(dir.path(), 0);
        daemon.last_render = Instant::now();
        assert_eq!(daemon.render_due(), daemon.last_render, "idle: at once");
        let waits: Vec<u64> = (1..=8)
            .map(|failures| {
                daemon.render_failures = failures;
                (daemon.render_due() - daemon.last_render).as_secs()
            })
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[tokio::test(start_paused = true)]
    async fn sources_never_polled_are_spread_over_the_start_window_and_started_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = daemon(dir.path(), 50);
        let start = Instant::now();
        let sources = daemon.config.sources.clone();
        daemon.schedule_from_store(&sources).await;
        let window = START_SPREAD_PER_SOURCE * 50;
        let dues: Vec<Instant> = daemon.schedule.values().filter_map(|s| s.due).collect();
        assert_eq!(dues.len(), 50);
        assert!(dues.iter().all(|d| *d >= start && *d <= start + window));
        assert!(daemon.next_wake() <= start + window);

        // Nothing starts before its time; everything has started once the window is over.
        daemon.start_due().await;
        let early = daemon.tasks.len();
        tokio::time::advance(window + Duration::from_millis(1)).await;
        daemon.start_due().await;
        assert!(early < 50, "{early} started at once");
        assert_eq!(daemon.tasks.len(), 50);
        assert!(
            daemon.schedule.values().all(|s| s.due.is_none()),
            "in flight"
        );
    }
}

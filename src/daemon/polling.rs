//! The polling job: each configured source's place in the schedule, the polls in flight
//! (bounded by `[poll] concurrency` and each host's limit), and the control socket's clients
//! waiting for a poll's line.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use super::instant_at;
use crate::config::SourceConfig;
use crate::model::{PollResult, Reason, RefreshOutcome};
use crate::refresh::{Mode, Pipeline, refresh};
use crate::report;
use crate::store::SharedStore;

/// Sources due at start (never polled, or overdue after downtime) are spread over this long per
/// source, up to `MAX_START_SPREAD`, so that a start does not hit every publisher at once.
const START_SPREAD_PER_SOURCE: Duration = Duration::from_millis(100);
const MAX_START_SPREAD: Duration = Duration::from_secs(30);

/// A configured source and its place in the schedule.
struct Scheduled {
    source: Arc<SourceConfig>,
    /// When it is next due; `None` while it is being polled, or when it is gone.
    due: Option<Instant>,
}

/// The schedule and the polls in flight.
pub struct Polling {
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
    /// Clients of the control socket waiting for a source's poll, by its URL.
    waiters: HashMap<String, Vec<mpsc::UnboundedSender<String>>>,
    /// Counts of the polls since the start, for `systemctl status`.
    polls: usize,
    failures: usize,
}

/// A poll that ended: its source and outcome (`None` if its task crashed).
pub struct Polled {
    /// The source polled.
    pub source: Arc<SourceConfig>,
    /// What came of it.
    pub outcome: Option<RefreshOutcome>,
}

impl Polling {
    /// Nothing scheduled yet: `schedule_from_store` says when each source is due.
    pub fn new(sources: &[Arc<SourceConfig>], concurrency: usize) -> Polling {
        let schedule = sources
            .iter()
            .map(|s| {
                let entry = Scheduled {
                    source: s.clone(),
                    due: None,
                };
                (s.url.clone(), entry)
            })
            .collect();
        Polling {
            schedule,
            queue: BinaryHeap::new(),
            semaphore: Arc::new(Semaphore::new(concurrency)),
            tasks: JoinSet::new(),
            task_source: HashMap::new(),
            waiters: HashMap::new(),
            polls: 0,
            failures: 0,
        }
    }

    /// How many sources are scheduled.
    pub fn len(&self) -> usize {
        self.schedule.len()
    }

    /// The scheduled source at `url`.
    pub fn source(&self, url: &str) -> Option<Arc<SourceConfig>> {
        self.schedule.get(url).map(|entry| entry.source.clone())
    }

    /// Whether polls are in flight.
    pub fn busy(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// The line `systemctl status` shows.
    pub fn summary(&self) -> String {
        format!(
            "{} sources; {} polls since start, {} failed",
            self.schedule.len(),
            self.polls,
            self.failures
        )
    }

    /// When the next source is due. A stale entry at the top only wakes the loop early, once.
    pub fn next_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((due, _))| *due)
    }

    /// Schedules `sources` from their stored next poll times, so that a restart neither
    /// hammers every publisher nor forgets a Retry-After or backoff: a time still to come is
    /// kept; sources overdue or never polled are spread over a short window; gone ones wait for
    /// their URL to change.
    pub async fn schedule_from_store(
        &mut self,
        store: &SharedStore,
        sources: &[Arc<SourceConfig>],
    ) {
        let urls: Vec<String> = sources.iter().map(|s| s.url.clone()).collect();
        let stored = store
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
            let due = if schedule.gone {
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
            self.set_due(&schedule.url, due);
        }
    }

    /// Takes the sources whose time has come out of the queue, in due order.
    pub fn take_due(&mut self) -> Vec<String> {
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
        due_urls
    }

    /// Starts a poll of each source of `urls`.
    pub fn start(&mut self, ctx: &Pipeline, urls: Vec<String>) {
        for url in urls {
            let Some(entry) = self.schedule.get(&url) else {
                continue;
            };
            let task = poll(
                ctx.clone(),
                entry.source.clone(),
                self.semaphore.clone(),
                Mode::Now,
            );
            let handle = self.tasks.spawn(task);
            self.task_source.insert(handle.id(), url);
        }
    }

    /// Sets when the source at `url` is next due (`None`: not at all, for now).
    pub fn set_due(&mut self, url: &str, due: Option<Instant>) {
        if let Some(entry) = self.schedule.get_mut(url) {
            entry.due = due;
            if let Some(due) = due {
                self.queue.push(Reverse((due, url.to_string())));
            }
        }
    }

    /// The source at `url` is due within its own interval at the latest.
    pub fn due_within_interval(&mut self, url: &str) {
        if let Some(entry) = self.schedule.get(url) {
            let own = Instant::now() + entry.source.interval;
            let due = entry.due.map(|due| due.min(own));
            self.set_due(url, due);
        }
    }

    /// A poll that ended, when one does (pending while none is in flight).
    pub async fn next_ended(&mut self) -> Result<(tokio::task::Id, RefreshOutcome), JoinError> {
        match self.tasks.join_next_with_id().await {
            Some(joined) => joined,
            None => std::future::pending().await,
        }
    }

    /// Takes a finished poll's outcome: the source's next due time; the clients waiting for it
    /// get its line. `None` for a source a reload removed meanwhile.
    pub fn ended(
        &mut self,
        joined: Result<(tokio::task::Id, RefreshOutcome), JoinError>,
    ) -> Option<Polled> {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Some(outcome)),
            Err(error) => (error.id(), None),
        };
        let url = self.task_source.remove(&id)?;
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
        let source = self.schedule.get(&url)?.source.clone();
        self.polls += 1;
        let due = match &outcome {
            Some(outcome) => {
                if matches!(outcome.result, PollResult::Failed(_)) {
                    self.failures += 1;
                }
                outcome.next_poll.map(|next| instant_at(next.at))
            }
            // Should a refresh task ever die, the source is retried after its interval.
            None => Some(Instant::now() + source.interval),
        };
        self.set_due(&url, due);
        Some(Polled { source, outcome })
    }

    /// A user asked for the source at `url` now: polled by the next turn of the loop (a poll
    /// under way is waited for), its line sent to `reply`. Retry-After and a gone feed still
    /// hold (the poll says "skipped"). False when no such source is scheduled.
    pub fn poll_now(&mut self, url: &str, reply: mpsc::UnboundedSender<String>) -> bool {
        if !self.schedule.contains_key(url) {
            return false;
        }
        if !self.task_source.values().any(|u| u == url) {
            self.set_due(url, Some(Instant::now()));
        }
        self.waiters.entry(url.to_string()).or_default().push(reply);
        true
    }

    /// The sources of a reloaded config: removed ones leave the schedule (their polls in
    /// flight end unscheduled), a shorter interval applies now (a longer one from the next
    /// poll on), and the added ones are returned, for `schedule_from_store`.
    pub fn reconfigure(&mut self, sources: &[Arc<SourceConfig>]) -> Vec<Arc<SourceConfig>> {
        let kept: HashSet<&str> = sources.iter().map(|s| s.url.as_str()).collect();
        self.schedule.retain(|url, _| kept.contains(url.as_str()));
        let mut added = Vec::new();
        for source in sources {
            match self.schedule.get_mut(&source.url) {
                Some(entry) => {
                    let sooner = source.interval < entry.source.interval;
                    entry.source = source.clone();
                    if sooner {
                        self.due_within_interval(&source.url);
                    }
                }
                None => {
                    let entry = Scheduled {
                        source: source.clone(),
                        due: None,
                    };
                    self.schedule.insert(source.url.clone(), entry);
                    added.push(source.clone());
                }
            }
        }
        // A client waiting for a source no longer configured is answered by the end.
        let schedule = &self.schedule;
        self.waiters.retain(|url, _| schedule.contains_key(url));
        added
    }

    /// `[poll] concurrency` changed: polls started from now on share `permits`.
    pub fn set_concurrency(&mut self, permits: usize) {
        self.semaphore = Arc::new(Semaphore::new(permits));
    }

    /// At shutdown: the polls in flight get until `deadline`, then are cancelled. Returns
    /// whether any that finished changed what the outputs show.
    pub async fn finish(&mut self, shutdown: &mut super::Shutdown) -> bool {
        tracing::info!(in_flight = self.tasks.len(), "shutting down");
        let mut changed = false;
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(joined) = self.tasks.join_next() => {
                    changed |= joined.is_ok_and(|o| o.changed() || o.health_changed);
                }
                () = shutdown.passed() => {
                    tracing::warn!(cancelled = self.tasks.len(), "polls still running at the deadline were cancelled");
                    // A cancelled poll's database write, if it had started, still runs to its
                    // end on its blocking thread; only the waiting is abandoned.
                    self.tasks.shutdown().await;
                }
            }
        }
        changed
    }
}

/// One source's poll, once its host and the pool have a place for it.
pub async fn poll(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sources_never_polled_are_spread_over_the_start_window_and_started_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = String::from(
            "[database]\npath = \"state/t.db\"\n[[outputs]]\npath = \"public/feed.xml\"\n",
        );
        for n in 0..50 {
            toml.push_str(&format!("[[sources]]\nurl = \"file:feed{n}.xml\"\n"));
        }
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, toml).unwrap();
        let config = crate::config::load(&file).unwrap();
        let ctx = Pipeline::open(&config).unwrap();
        let mut polling = Polling::new(&config.sources, 4);
        let start = Instant::now();
        polling
            .schedule_from_store(&ctx.store, &config.sources)
            .await;
        let window = START_SPREAD_PER_SOURCE * 50;
        let dues: Vec<Instant> = polling.schedule.values().filter_map(|s| s.due).collect();
        assert_eq!(dues.len(), 50);
        assert!(dues.iter().all(|d| *d >= start && *d <= start + window));
        assert!(polling.next_at().is_some_and(|at| at <= start + window));

        // Nothing starts before its time; everything has started once the window is over.
        let due = polling.take_due();
        polling.start(&ctx, due);
        let early = polling.tasks.len();
        tokio::time::advance(window + Duration::from_millis(1)).await;
        let due = polling.take_due();
        polling.start(&ctx, due);
        assert!(early < 50, "{early} started at once");
        assert_eq!(polling.tasks.len(), 50);
        assert!(
            polling.schedule.values().all(|s| s.due.is_none()),
            "in flight"
        );
    }
}

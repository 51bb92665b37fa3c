//! The upkeep job: what runs beside the polls, one run of each kind at a time, when it is due:
//! full-text fetches, WebSub upkeep at the publishers' hubs (subscribe, renew, retry,
//! unsubscribe) and webhook deliveries from their queue. Only the leader runs it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use super::instant_at;
use crate::config::{Config, SourceConfig};
use crate::fulltext::{self, FullTextRun};
use crate::model::{PollResult, RefreshOutcome};
use crate::publish::webhooks::{self, DeliveryRun};
use crate::refresh::Pipeline;
use crate::websub::{self, Maintained};

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

    /// The run under way, once it ends (pending while none is).
    async fn ended(&mut self) -> Result<T, JoinError> {
        match self.runs.join_next().await {
            Some(ended) => ended,
            None => std::future::pending().await,
        }
    }
}

/// A run beside the loop that ended.
pub enum Ended {
    /// Full-text fetches.
    FullTexts(Result<FullTextRun, JoinError>),
    /// WebSub upkeep.
    WebSub(Result<Maintained, JoinError>),
    /// Webhook deliveries.
    Deliveries(Result<DeliveryRun, JoinError>),
}

/// The runs beside the polls and when each is next due.
pub struct Upkeep {
    full_texts: Beside<FullTextRun>,
    websub: Beside<Maintained>,
    /// The hub subscribed (or being subscribed) for each source, by its URL.
    subscribed: HashMap<String, String>,
    deliveries: Beside<DeliveryRun>,
}

impl Upkeep {
    /// What the last run may have left: full texts wanted, subscriptions to renew (or to end
    /// if subscribing was turned off meanwhile), deliveries queued.
    pub fn new(config: &Config) -> Upkeep {
        Upkeep {
            full_texts: Beside::new(wants_full_texts(config).then(Instant::now)),
            websub: Beside::new(Some(Instant::now())),
            subscribed: HashMap::new(),
            deliveries: Beside::new((!config.webhooks.is_empty()).then(Instant::now)),
        }
    }

    /// When the next run is due.
    pub fn next_at(&self) -> Option<Instant> {
        [self.full_texts.due, self.websub.due, self.deliveries.due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Starts each run that is due and not under way.
    pub fn start_due(&mut self, ctx: &Pipeline, config: &Arc<Config>) {
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

    /// The next run to end.
    pub async fn next_ended(&mut self) -> Ended {
        tokio::select! {
            run = self.full_texts.ended() => Ended::FullTexts(run),
            run = self.websub.ended() => Ended::WebSub(run),
            run = self.deliveries.ended() => Ended::Deliveries(run),
        }
    }

    /// A poll ended: full texts for its new items, deliveries of them, and its hub asked
    /// again when push missed items or the hub it advertises is not the one subscribed.
    pub fn after_poll(&mut self, source: &SourceConfig, outcome: &RefreshOutcome, config: &Config) {
        if source.full_text.is_some() && outcome.changed() {
            self.full_texts.due_now();
        }
        self.after_change(outcome.changed(), config);
        if outcome.push_missed {
            self.websub.due_now();
        }
        let hub = source.hub.as_ref().map(url::Url::to_string);
        if let Some(hub) = hub.or_else(|| outcome.hub.clone()) {
            if config.subscribing.is_some()
                && self.subscribed.get(&source.url) != Some(&hub)
                && matches!(outcome.result, PollResult::Fetched(_))
            {
                self.websub.due_now();
            }
        }
    }

    /// Items were stored (when `changed`): the webhooks hear of them.
    pub fn after_change(&mut self, changed: bool, config: &Config) {
        if changed && !config.webhooks.is_empty() {
            self.deliveries.due_now();
        }
    }

    /// A hub verified a subscription request: the upkeep records it now.
    pub fn hub_verified(&mut self) {
        self.websub.due_now();
    }

    /// This instance just took the lead: it does at once what the last leader may have left.
    pub fn lead_taken(&mut self, config: &Config) {
        self.websub.due_now();
        if !config.webhooks.is_empty() {
            self.deliveries.due_now();
        }
        if wants_full_texts(config) {
            self.full_texts.due_now();
        }
    }

    /// The config was reloaded: subscriptions follow it now, and changed webhooks are
    /// delivered to.
    pub fn reconfigured(&mut self, old: &Config, new: &Config) {
        self.websub.due_now();
        if new.webhooks != old.webhooks {
            self.deliveries.due_now();
        }
    }

    /// At shutdown: the runs under way stop where they are. What they had left (full texts
    /// wanted, subscriptions to renew, deliveries queued) is in the database for the next start.
    pub async fn stop(&mut self) {
        self.full_texts.runs.shutdown().await;
        self.websub.runs.shutdown().await;
        self.deliveries.runs.shutdown().await;
    }

    /// A run ended. Returns whether it stored what the outputs show (full texts), and the
    /// sources whose push is no longer healthy (WebSub), to go back to their own interval.
    pub fn ended(&mut self, ended: Ended) -> (bool, Vec<String>) {
        match ended {
            Ended::FullTexts(Ok(run)) => {
                self.full_texts.due_by(run.next_at.map(instant_at));
                // A full batch may have left more due now.
                self.full_texts
                    .due_by((run.stored + run.failed > 0).then(Instant::now));
                (run.stored > 0, Vec::new())
            }
            Ended::WebSub(Ok(run)) => {
                self.subscribed = run.subscribed;
                self.websub.due_by(run.next_at.map(instant_at));
                (false, run.unhealthy)
            }
            Ended::Deliveries(Ok(run)) => {
                self.deliveries.due_by(run.next_at.map(instant_at));
                (false, Vec::new())
            }
            Ended::FullTexts(Err(_)) => crashed("fetching full texts"),
            Ended::WebSub(Err(_)) => crashed("the WebSub upkeep"),
            Ended::Deliveries(Err(_)) => crashed("delivering to the webhooks"),
        }
    }
}

fn crashed(what: &str) -> (bool, Vec<String>) {
    tracing::error!("{what} crashed");
    (false, Vec::new())
}

/// Whether any source has its articles fetched (`full_text`).
pub(super) fn wants_full_texts(config: &Config) -> bool {
    config.sources.iter().any(|s| s.full_text.is_some())
}

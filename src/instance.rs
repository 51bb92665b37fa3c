//! This daemon among others on one PostgreSQL database. Each polls only the sources it claims
//! (a lease in the database, ended when the poll is recorded, run out when the instance dies);
//! one of them, the leader, renders the outputs and serves WebSub and webhooks, under a lease
//! of its own that it renews. On SQLite there is one instance and none of this applies.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::config::Config;
use crate::store::{Claimed, LEADER, SharedStore, StoreError};

/// The longest between two renewals of the lead: a new leader renders what other instances
/// stored within this.
const MOST_BETWEEN_RENEWALS: Duration = Duration::from_secs(5);

/// This instance, its role and leases.
#[derive(Debug)]
pub struct Instance {
    /// `host:pid:random`: unique among instances, readable in `status`.
    pub id: String,
    host: String,
    lease: Duration,
    /// Until when it may act as the leader; `None` when another instance leads.
    leads_until: Option<Instant>,
    /// When to renew the lead (or try to take it), and say it is alive.
    pub renew_at: Instant,
    /// The changes of every instance counted at the last renewal: more mean a render.
    changes_seen: i64,
    /// Sources a user asked to poll now: claimed whatever their stored schedule says.
    forced: HashSet<String>,
}

/// What renewing the lead found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lead {
    /// It leads, as before.
    Kept {
        /// Some instance stored changes since the last renewal.
        changed: bool,
    },
    /// It just became the leader.
    Taken,
    /// Another instance leads (or the database could not be asked).
    Follows,
    /// It led, and no longer does.
    Lost,
}

impl Instance {
    /// This instance, when the config shares a PostgreSQL database with others.
    pub fn of(config: &Config) -> Option<Instance> {
        let postgres = config.postgres.as_ref()?;
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let id = format!("{host}:{}:{:04x}", std::process::id(), fastrand::u16(..));
        Some(Instance {
            id,
            host,
            lease: postgres.lease,
            leads_until: None,
            renew_at: Instant::now(),
            changes_seen: -1,
            forced: HashSet::new(),
        })
    }

    /// Whether it may act as the leader now.
    pub fn leads(&self) -> bool {
        self.leads_until.is_some_and(|until| until > Instant::now())
    }

    /// Marks `url` as asked for by a user: its next claim ignores its stored schedule.
    pub fn force(&mut self, url: &str) {
        self.forced.insert(url.to_string());
    }

    /// Claims the sources at `urls` (see [`crate::store::Store::claim`]).
    pub async fn claim(&mut self, store: &SharedStore, urls: Vec<String>) -> Claimed {
        let (forced, due): (Vec<String>, Vec<String>) =
            urls.into_iter().partition(|u| self.forced.remove(u));
        let (id, lease) = (self.id.clone(), self.lease);
        let claimed = store
            .with(move |store| -> Result<Claimed, StoreError> {
                let now = Utc::now();
                let mut claimed = store.claim(&id, &due, now, lease, false)?;
                let more = store.claim(&id, &forced, now, lease, true)?;
                claimed.claimed.extend(more.claimed);
                claimed.elsewhere.extend(more.elsewhere);
                Ok(claimed)
            })
            .await;
        match claimed {
            Some(Ok(claimed)) => claimed,
            failed => {
                let error = why(failed);
                tracing::error!(%error, "claiming sources to poll failed; asking again soon");
                Claimed::default()
            }
        }
    }

    /// Says this instance is alive, renews the leases of the sources it holds, and takes or
    /// renews the lead; due every quarter of the
    /// lease (at most `MOST_BETWEEN_RENEWALS`), so that two failed renewals in a row still
    /// leave time before the lease runs out.
    pub async fn renew(&mut self, store: &SharedStore) -> Lead {
        let started = Instant::now();
        self.renew_at = started + (self.lease / 4).min(MOST_BETWEEN_RENEWALS);
        let (id, host, lease) = (self.id.clone(), self.host.clone(), self.lease);
        let asked = store
            .with(move |store| -> Result<(bool, i64), StoreError> {
                store.instance_seen(&id, &host, Utc::now())?;
                store.renew_leases(&id, lease)?;
                let leads = store.lead(LEADER, &id, lease)?;
                Ok((leads, store.changes()?))
            })
            .await;
        let led = self.leads();
        match asked {
            Some(Ok((true, changes))) => {
                // Counted from when it asked: the database's lease began no earlier.
                self.leads_until = Some(started + lease);
                let changed = changes != self.changes_seen;
                self.changes_seen = changes;
                if led {
                    Lead::Kept { changed }
                } else {
                    tracing::info!(instance = %self.id, "leading: rendering the outputs, serving WebSub and webhooks");
                    Lead::Taken
                }
            }
            Some(Ok((false, _))) => {
                self.leads_until = None;
                if led {
                    tracing::warn!(instance = %self.id, "another instance leads now");
                    Lead::Lost
                } else {
                    Lead::Follows
                }
            }
            failed => {
                let error = why(failed);
                // It still leads until its lease runs out; the next renewal may succeed.
                tracing::error!(%error, "renewing the lead failed");
                if self.leads() {
                    Lead::Kept { changed: false }
                } else if led {
                    Lead::Lost
                } else {
                    Lead::Follows
                }
            }
        }
    }

    /// Gives up the lead (at a clean shutdown), so that another instance takes it at once.
    pub async fn resign(&mut self, store: &SharedStore) {
        if self.leads_until.take().is_none() {
            return;
        }
        let id = self.id.clone();
        if let Some(Err(error)) = store.with(move |store| store.resign(LEADER, &id)).await {
            tracing::warn!(%error, "giving up the lead failed; another instance takes it when it runs out");
        }
    }
}

/// Why a call on the store's thread failed: the store's error, or the thread itself.
fn why<T>(failed: Option<Result<T, StoreError>>) -> String {
    match failed {
        Some(Err(error)) => error.to_string(),
        _ => "the database thread failed".to_string(),
    }
}

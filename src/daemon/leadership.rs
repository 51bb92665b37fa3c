//! The leadership job: beside other instances on one PostgreSQL database, this one says it is
//! alive, renews the leases of what it polls, takes or keeps the lead (see [`crate::instance`]),
//! and claims the due sources it polls. Alone on SQLite it always leads and claims all.

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use super::instant_at;
use crate::config::Config;
use crate::instance::{Instance, Lead};
use crate::store::SharedStore;

/// Beside other instances, a due source the database said nothing of (the claim failed: the
/// connection was lost, say) is asked for again after this long.
const UNANSWERED_CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// This instance's role.
pub struct Leadership {
    /// `None` on SQLite.
    instance: Option<Instance>,
}

/// What claiming the due sources came to.
pub struct Claim {
    /// The sources this instance polls now.
    pub polled: Vec<String>,
    /// The others, with when to ask for them again.
    pub later: Vec<(String, Instant)>,
}

impl Leadership {
    /// This instance, among others when the config shares a PostgreSQL database.
    pub fn new(config: &Config) -> Leadership {
        Leadership {
            instance: Instance::of(config),
        }
    }

    /// Records this instance in the database and asks for the lead.
    pub async fn start(&mut self, store: &SharedStore) -> Option<Lead> {
        let id = self.instance.as_ref()?.id.clone();
        store.with(move |store| store.set_instance(&id)).await;
        self.renew(store).await
    }

    /// Whether this instance renders the outputs and serves WebSub and webhooks: always alone
    /// on SQLite; when it holds the lead beside other instances.
    pub fn leads(&self) -> bool {
        self.instance.as_ref().is_none_or(Instance::leads)
    }

    /// When the lead is next to be renewed (never on SQLite).
    pub fn next_at(&self) -> Option<Instant> {
        self.instance.as_ref().map(|i| i.renew_at)
    }

    /// Renews the lead (or tries to take it) when that is due; `None` when it is not.
    pub async fn renew_if_due(&mut self, store: &SharedStore) -> Option<Lead> {
        if self.next_at()? > Instant::now() {
            return None;
        }
        self.renew(store).await
    }

    async fn renew(&mut self, store: &SharedStore) -> Option<Lead> {
        Some(self.instance.as_mut()?.renew(store).await)
    }

    /// Which of the `due` sources this instance polls: all of them alone; beside others, those
    /// it could claim. Those polled meanwhile by another instance, or held by one, are asked
    /// for again then; those the claim did not answer for, soon.
    pub async fn claim(&mut self, store: &SharedStore, due: Vec<String>) -> Claim {
        let Some(instance) = &mut self.instance else {
            return Claim {
                polled: due,
                later: Vec::new(),
            };
        };
        let claimed = instance.claim(store, due.clone()).await;
        // Looked up by URL: a restart may find thousands due at once.
        let polling: HashSet<&String> = claimed.claimed.iter().collect();
        let elsewhere: HashMap<&String, Instant> = claimed
            .elsewhere
            .iter()
            .map(|(url, at)| (url, instant_at(*at)))
            .collect();
        let later = due
            .iter()
            .filter(|u| !polling.contains(u))
            .map(|url| {
                let at = elsewhere.get(url).copied();
                let at = at.unwrap_or_else(|| Instant::now() + UNANSWERED_CLAIM_WAIT);
                (url.clone(), at)
            })
            .collect();
        Claim {
            polled: claimed.claimed,
            later,
        }
    }

    /// A user asked for the source at `url`: its next claim ignores its stored schedule.
    pub fn force(&mut self, url: &str) {
        if let Some(instance) = &mut self.instance {
            instance.force(url);
        }
    }

    /// At shutdown: the lead given up, so that another instance takes it at once.
    pub async fn resign(&mut self, store: &SharedStore) {
        if let Some(instance) = &mut self.instance {
            instance.resign(store).await;
        }
    }
}

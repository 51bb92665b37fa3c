//! WebSub subscriptions: what Tributary asked each hub for, what the hubs verified, and how
//! push is going for each source.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::{Db, Optional, Row};

use super::sources::add_event;
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{Advertised, Asked, EventKind, HealthEvent, NextPoll, Subscription};

const COLUMNS: &str = "id, source_url, hub, topic, secret, asked, asked_at, removing,
    verified_at, lease_until, unhealthy, retry_at, tries, last_push_at, callback";

/// A source's subscriptions that are not being removed, its current one (the latest verified)
/// first.
const CURRENT_FIRST: &str = "removing = 0 ORDER BY verified_at DESC";

fn read(row: &Row<'_>) -> super::db::Result<Subscription> {
    let time = |i: usize| row.get::<_, Option<i64>>(i).map(|t| t.map(from_unix));
    Ok(Subscription {
        id: row.get(0)?,
        source_url: row.get(1)?,
        hub: row.get(2)?,
        topic: row.get(3)?,
        secret: row.get(4)?,
        asked: row
            .get::<_, Option<String>>(5)?
            .and_then(|a| Asked::parse(&a)),
        asked_at: time(6)?,
        removing: row.get(7)?,
        verified_at: time(8)?,
        lease_until: time(9)?,
        unhealthy: row.get(10)?,
        retry_at: time(11)?,
        tries: row.get(12)?,
        last_push_at: time(13)?,
        callback: row.get(14)?,
    })
}

/// What a hub's verification request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Tributary asked for this: the challenge is echoed. The source it is for.
    Confirmed(String),
    /// Not a request Tributary made (another mode or topic): refused.
    Refused,
    /// No subscription has this id (any more).
    Unknown,
}

impl Store {
    /// Every subscription, the ones being removed too.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let mut query = self
            .db
            .prepare_cached(&format!("SELECT {COLUMNS} FROM subscriptions ORDER BY id"))?;
        let rows = query.query_map((), read)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The subscription whose callback ends in `id`.
    pub fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        find(&self.db, id)
    }

    /// The subscription of the source at `url` (not one being removed), if it has one.
    pub fn current_subscription(&self, url: &str) -> Result<Option<Subscription>, StoreError> {
        Ok(self
            .db
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE source_url = ?1 AND {CURRENT_FIRST}
                 LIMIT 1"
            ))?
            .query_row([url], read)
            .optional()?)
    }

    /// Each source's current subscription (as [`Store::current_subscription`] finds it), by
    /// source URL.
    pub fn current_subscriptions(
        &self,
    ) -> Result<std::collections::HashMap<String, Subscription>, StoreError> {
        let mut query = self.db.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE {CURRENT_FIRST}"
        ))?;
        let mut current = std::collections::HashMap::new();
        for subscription in query.query_map((), read)? {
            let subscription = subscription?;
            current
                .entry(subscription.source_url.clone())
                .or_insert(subscription);
        }
        Ok(current)
    }

    /// The hub and topic each source's feed last advertised, with the URL it was polled at.
    pub fn advertised(&self) -> Result<Vec<Advertised>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT url, websub_hub, websub_topic, COALESCE(discovered_url, adopted_url, url)
             FROM sources",
        )?;
        let rows = query.query_map((), |row| {
            Ok(Advertised {
                source_url: row.get(0)?,
                hub: row.get(1)?,
                topic: row.get(2)?,
                polled_url: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes `subscription` as it is.
    pub fn save_subscription(&mut self, s: &Subscription) -> Result<(), StoreError> {
        self.db
            .prepare_cached(&format!(
                "INSERT INTO subscriptions ({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (id) DO UPDATE SET source_url = excluded.source_url, hub = excluded.hub, topic = excluded.topic, secret = excluded.secret, asked = excluded.asked, asked_at = excluded.asked_at, removing = excluded.removing, verified_at = excluded.verified_at, lease_until = excluded.lease_until, unhealthy = excluded.unhealthy, retry_at = excluded.retry_at, tries = excluded.tries, last_push_at = excluded.last_push_at, callback = excluded.callback"
            ))?
            .execute(params![
                s.id,
                s.source_url,
                s.hub,
                s.topic,
                s.secret,
                s.asked.map(Asked::as_str),
                s.asked_at.map(to_unix),
                s.removing,
                s.verified_at.map(to_unix),
                s.lease_until.map(to_unix),
                s.unhealthy,
                s.retry_at.map(to_unix),
                s.tries,
                s.last_push_at.map(to_unix),
                s.callback,
            ])?;
        Ok(())
    }

    /// Forgets the subscription `id`.
    pub fn delete_subscription(&mut self, id: &str) -> Result<(), StoreError> {
        self.db
            .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// The hub accepted the request `asked` of `id`: it is to verify it by `verify_by`.
    pub fn request_accepted(
        &mut self,
        id: &str,
        asked: Asked,
        verify_by: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .prepare_cached("UPDATE subscriptions SET retry_at = ?3 WHERE id = ?1 AND asked = ?2")?
            .execute(params![id, asked.as_str(), to_unix(verify_by)])?;
        Ok(())
    }

    /// The hub verified a request, or someone pretends it did: confirmed only when `id` has
    /// a request of `mode` for `topic` pending. A confirmed subscribe starts the lease (push is
    /// healthy again: a health event says so if it was not); a confirmed unsubscribe ends the
    /// subscription.
    pub fn verify(
        &mut self,
        id: &str,
        mode: Asked,
        topic: &str,
        lease_seconds: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Verified, StoreError> {
        let tx = self.db.transaction()?;
        let Some(s) = find(&tx, id)? else {
            return Ok(Verified::Unknown);
        };
        if s.asked != Some(mode) || s.topic != topic {
            return Ok(Verified::Refused);
        }
        match mode {
            Asked::Unsubscribe => {
                tx.execute("DELETE FROM subscriptions WHERE id = ?1", [id])?;
            }
            Asked::Subscribe => {
                let lease = lease_seconds
                    .and_then(|s| i64::try_from(s).ok())
                    .map_or(s.lease_until, |s| Some(now + chrono::Duration::seconds(s)));
                tx.execute(
                    "UPDATE subscriptions SET asked = NULL, asked_at = NULL, verified_at = ?2,
                         lease_until = ?3, unhealthy = NULL, retry_at = NULL, tries = 0
                     WHERE id = ?1",
                    params![id, to_unix(now), lease.map(to_unix)],
                )?;
                if let Some(reason) = &s.unhealthy {
                    event_for(&tx, &s.source_url, EventKind::PushRestored, now, |name| {
                        format!("{name}: pushed again by {} (it was not: {reason})", s.hub)
                    })?;
                }
            }
        }
        tx.commit()?;
        Ok(Verified::Confirmed(s.source_url))
    }

    /// Push of `source_url` is not to be trusted, for `reason`: its subscription is marked
    /// unhealthy (with a health event, the first time) and asked for again at `retry_at`.
    pub fn push_unhealthy(
        &mut self,
        id: &str,
        reason: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        let found = find(&tx, id)?;
        if let Some(s) = found {
            tx.execute(
                "UPDATE subscriptions SET unhealthy = ?2, retry_at = ?3, tries = tries + 1,
                     asked = NULL, asked_at = NULL
                 WHERE id = ?1",
                params![id, reason, to_unix(retry_at)],
            )?;
            if s.unhealthy.is_none() {
                event_for(&tx, &s.source_url, EventKind::PushUnhealthy, now, |name| {
                    format!(
                        "{name}: push by {} is unhealthy: {reason}; polled at its own interval until it works again",
                        s.hub
                    )
                })?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A poll of `source_url` found items its hub never pushed: its push is unhealthy and asked
    /// for again now, and the source's next poll comes back to `next_poll`.
    pub fn push_missed(
        &mut self,
        source_url: &str,
        found: u64,
        next_poll: NextPoll,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = self
            .db
            .prepare_cached(
                "SELECT id FROM subscriptions WHERE source_url = ?1 AND removing = 0
                 AND verified_at IS NOT NULL AND unhealthy IS NULL",
            )?
            .query_map([source_url], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let reason = format!("a poll found {found} item(s) the hub never pushed");
        for id in ids {
            self.push_unhealthy(&id, &reason, now, now)?;
        }
        self.db
            .prepare_cached(
                "UPDATE sources SET next_poll_at = ?2, next_poll_reason = ?3 WHERE url = ?1",
            )?
            .execute(params![
                source_url,
                to_unix(next_poll.at),
                next_poll.reason.as_str()
            ])?;
        Ok(())
    }

    /// Whether a verified, healthy, unexpired subscription pushes `source_url`'s items.
    pub fn pushed(&self, source_url: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self
            .current_subscription(source_url)?
            .is_some_and(|s| s.pushes(now)))
    }

    /// A delivery for `id` was taken in.
    pub fn push_received(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .prepare_cached("UPDATE subscriptions SET last_push_at = ?2 WHERE id = ?1")?
            .execute(params![id, to_unix(now)])?;
        Ok(())
    }
}

fn find(conn: &Db, id: &str) -> Result<Option<Subscription>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE id = ?1"
        ))?
        .query_row([id], read)
        .optional()?)
}

/// Adds an event of `kind` to the source at `url`, if it has a row, its message made from
/// the source's name.
fn event_for(
    tx: &Db,
    url: &str,
    kind: EventKind,
    now: DateTime<Utc>,
    message: impl FnOnce(&str) -> String,
) -> Result<(), StoreError> {
    let found: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, COALESCE(name, feed_title, url) FROM sources WHERE url = ?1")?
        .query_row([url], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    if let Some((id, name)) = found {
        let event = HealthEvent {
            kind,
            message: message(&name),
        };
        add_event(tx, id, &event, now)?;
    }
    Ok(())
}

//! Several instances on one database: the instances alive, the leases under which they poll
//! sources, and the leader's role. The database decides who gets what (one statement each);
//! an instance only asks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::{Backend, Db};
use super::{Store, StoreError, from_unix, to_unix};

/// The role of the one instance that renders the outputs and serves WebSub and webhooks.
pub const LEADER: &str = "outputs";

/// What a claim got: the sources this instance may poll now, and when to ask again for each
/// of the others (polled meanwhile by another instance, or held by one).
#[derive(Debug, Default, PartialEq)]
pub struct Claimed {
    /// URLs as configured, now leased to the claimant.
    pub claimed: Vec<String>,
    /// The others, each with the time it is next due or its lease runs out, whichever is later.
    pub elsewhere: Vec<(String, DateTime<Utc>)>,
}

/// An instance that ran on this database.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSeen {
    /// Its id (`host:pid:random`).
    pub id: String,
    /// When it last said it was alive.
    pub seen_at: DateTime<Utc>,
    /// Sources it holds a lease on now.
    pub holding: i64,
    /// Whether it leads, and until when.
    pub leads_until: Option<DateTime<Utc>>,
}

impl Store {
    /// Makes this store's polls release the leases `instance` holds (see [`Store::claim`]).
    pub fn set_instance(&mut self, instance: &str) {
        self.instance = Some(instance.to_string());
    }

    /// Records that `instance` runs, and is alive at `now`.
    pub fn instance_seen(
        &mut self,
        instance: &str,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO instances (id, host, pid, started_at, seen_at)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            params![instance, host, std::process::id(), to_unix(now)],
        )?;
        Ok(())
    }

    /// Leases to `owner`, for `lease` by the database's clock, those of the sources at `urls`
    /// that are due by `now` (all of them when `force`: a user asked) and held by no other
    /// instance, or by one whose lease ran out. Rows another instance is claiming at this
    /// moment are skipped, not waited for (`FOR UPDATE SKIP LOCKED` on PostgreSQL). The lease
    /// ends when the poll is recorded.
    pub fn claim(
        &mut self,
        owner: &str,
        urls: &[String],
        now: DateTime<Utc>,
        lease: Duration,
        force: bool,
    ) -> Result<Claimed, StoreError> {
        let backend = self.db.backend();
        let (listed, clock) = (backend.json_values("?3"), backend.clock());
        let skip_locked = match backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let urls_json = serde_json::to_string(urls)?;
        let tx = self.db.transaction()?;
        // A second of slack: the daemon's clock for "due" and the stored time are rounded to
        // whole seconds apart.
        let claimed: Vec<String> = tx
            .prepare(&format!(
                "UPDATE sources SET lease_owner = ?1, lease_until = {clock} + ?2
                 WHERE id IN (
                     SELECT id FROM sources
                     WHERE url IN (SELECT value FROM {listed})
                       AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until <= {clock})
                       AND (?5 = 1 OR next_poll_at IS NULL OR next_poll_at <= ?4 + 1)
                     {skip_locked})
                 RETURNING url"
            ))?
            .query_map(
                params![
                    owner,
                    seconds(lease),
                    urls_json,
                    to_unix(now),
                    i64::from(force)
                ],
                |row| row.get(0),
            )?
            .collect::<Result<_, _>>()?;
        // The claimed rows are this owner's now, in this transaction: not among the others.
        let mut elsewhere = Vec::new();
        if claimed.len() < urls.len() {
            let listed = backend.json_values("?2");
            elsewhere = tx
                .prepare(&format!(
                    "SELECT url, next_poll_at, lease_until FROM sources
                     WHERE url IN (SELECT value FROM {listed}) AND lease_owner IS DISTINCT FROM ?1"
                ))?
                .query_map(params![owner, urls_json], |row| {
                    let (url, next, lease): (String, Option<i64>, Option<i64>) =
                        (row.get(0)?, row.get(1)?, row.get(2)?);
                    let again = next
                        .unwrap_or(0)
                        .max(lease.unwrap_or(0))
                        .max(to_unix(now) + 1);
                    Ok((url, from_unix(again)))
                })?
                .collect::<Result<Vec<_>, _>>()?;
        }
        tx.commit()?;
        Ok(Claimed { claimed, elsewhere })
    }

    /// Extends the leases `owner` holds to `lease` from now by the database's clock: a poll
    /// waiting for its turn (under the concurrency limits) or under way keeps its source however
    /// long it takes.
    pub fn renew_leases(&mut self, owner: &str, lease: Duration) -> Result<(), StoreError> {
        let clock = self.db.backend().clock();
        self.db.execute(
            &format!("UPDATE sources SET lease_until = {clock} + ?2 WHERE lease_owner = ?1"),
            params![owner, seconds(lease)],
        )?;
        Ok(())
    }

    /// Takes or renews `role` for `owner` for `lease`, if it is free, run out, or already
    /// `owner`'s, by the database's clock; whether `owner` holds it now.
    pub fn lead(&mut self, role: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        let clock = self.db.backend().clock();
        let changed = self.db.execute(
            &format!(
                "INSERT INTO leadership (role, owner, until) VALUES (?1, ?2, {clock} + ?3)
                 ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, until = excluded.until
                 WHERE leadership.owner = excluded.owner OR leadership.until <= {clock}"
            ),
            params![role, owner, seconds(lease)],
        )?;
        Ok(changed == 1)
    }

    /// How many polls of every instance changed what the outputs show, so far: the leader
    /// renders when it grows.
    pub fn changes(&self) -> Result<i64, StoreError> {
        Ok(self.db.query_row(
            "SELECT CAST(COALESCE(sum(changes), 0) AS BIGINT) FROM instances",
            (),
            |row| row.get(0),
        )?)
    }

    /// Gives up `role` (at a clean shutdown), so that another instance takes it at once.
    pub fn resign(&mut self, role: &str, owner: &str) -> Result<(), StoreError> {
        self.db.execute(
            "DELETE FROM leadership WHERE role = ?1 AND owner = ?2",
            params![role, owner],
        )?;
        Ok(())
    }

    /// The instances seen since `since`, newest first, with what each holds.
    pub fn instances(&self, since: DateTime<Utc>) -> Result<Vec<InstanceSeen>, StoreError> {
        let rows = self
            .db
            .prepare_cached(
                "SELECT i.id, i.seen_at,
                        (SELECT count(*) FROM sources s WHERE s.lease_owner = i.id),
                        (SELECT l.until FROM leadership l WHERE l.owner = i.id AND l.role = ?2)
                 FROM instances i WHERE i.seen_at >= ?1 ORDER BY i.seen_at DESC, i.id",
            )?
            .query_map(params![to_unix(since), LEADER], |row| {
                Ok(InstanceSeen {
                    id: row.get(0)?,
                    seen_at: from_unix(row.get(1)?),
                    holding: row.get(2)?,
                    leads_until: row.get::<_, Option<i64>>(3)?.map(from_unix),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

/// A lease's length in whole seconds, as the database adds it to its clock.
fn seconds(lease: Duration) -> i64 {
    i64::try_from(lease.as_secs()).unwrap_or(i64::MAX)
}

/// Ends the lease of the poll just recorded (if this instance still holds it) and says who
/// polled.
pub(super) fn release(tx: &Db, source_id: i64, instance: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE sources SET last_polled_by = ?2,
             lease_until = CASE WHEN lease_owner = ?2 THEN NULL ELSE lease_until END,
             lease_owner = CASE WHEN lease_owner = ?2 THEN NULL ELSE lease_owner END
         WHERE id = ?1",
    )?
    .execute(params![source_id, instance])?;
    Ok(())
}

/// Counts a poll of `instance` that changed what the outputs show (see [`Store::changes`]).
pub(super) fn count_change(tx: &Db, instance: &str) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE instances SET changes = changes + 1 WHERE id = ?1")?
        .execute([instance])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::on_each_backend;

    const LEASE: Duration = Duration::from_secs(120);

    fn sources(store: &Store, urls: &[&str]) -> Vec<String> {
        for url in urls {
            store
                .db
                .execute("INSERT INTO sources (url) VALUES (?1)", [url])
                .unwrap();
        }
        urls.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn a_lease_runs_out_by_the_databases_clock_not_by_a_claimants() {
        on_each_backend(
            "a_lease_runs_out_by_the_databases_clock_not_by_a_claimants",
            |mut store| {
                let urls = sources(
                    &store,
                    &["https://a.example/feed", "https://b.example/feed"],
                );
                let now = Utc::now();
                let a = store.claim("a", &urls[..1], now, LEASE, false).unwrap();
                assert_eq!(a.claimed, urls[..1]);

                // An instance whose clock is an hour ahead finds both due, but not A's lease
                // run out.
                let later = now + chrono::Duration::hours(1);
                let b = store.claim("b", &urls, later, LEASE, false).unwrap();
                assert_eq!(b.claimed, urls[1..]);
                assert_eq!(b.elsewhere.len(), 1, "{:?}", b.elsewhere);

                // A lease that ran out by the database's clock is taken over.
                store.renew_leases("a", Duration::ZERO).unwrap();
                let b = store.claim("b", &urls[..1], now, LEASE, false).unwrap();
                assert_eq!(b.claimed, urls[..1]);
            },
        );
    }

    #[test]
    fn one_instance_leads_until_its_lease_runs_out_by_the_databases_clock() {
        on_each_backend(
            "one_instance_leads_until_its_lease_runs_out_by_the_databases_clock",
            |mut store| {
                assert!(store.lead(LEADER, "a", LEASE).unwrap());
                assert!(!store.lead(LEADER, "b", LEASE).unwrap());
                assert!(store.lead(LEADER, "a", LEASE).unwrap(), "a renews its own");
                assert!(store.lead(LEADER, "a", Duration::ZERO).unwrap());
                assert!(store.lead(LEADER, "b", LEASE).unwrap(), "a's lead ran out");
                assert!(!store.lead(LEADER, "a", LEASE).unwrap());
            },
        );
    }
}

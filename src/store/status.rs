//! What `status`, the status page and `/metrics` read of the sources, and the copy of it a
//! store keeps between asks.
//!
//! At 100,000 sources, reading every source's row was most of a `status` (0.14 s of 0.18 s),
//! and a daemon is asked again and again while only the sources it polled in between changed.
//! So a store keeps the statuses it read of the whole config, and an ask reads again only the
//! rows written since: this connection's writes are seen by SQLite's update hook, and a commit
//! by another process (`pause`, a `once`) changes `PRAGMA data_version`, which makes the next
//! ask read every row. On PostgreSQL other instances write unseen, so every ask reads every row.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::db::{Db, Optional, Row};
use super::sources::{OUTCOME_COLUMNS, read_outcome};
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{FetchState, Source, Subscription};

/// One source's state, as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    /// Its URL as configured.
    pub url: String,
    /// The config's name, else the feed's title, else the URL.
    pub name: String,
    /// How its polls went and when the next is (validators and the feed's hints left out:
    /// nothing shows them).
    pub state: FetchState,
    /// How many items it stored.
    pub items: i64,
    /// When the newest stored item was published (or first seen, if undated).
    pub newest_item: Option<DateTime<Utc>>,
    /// Since when `tributary pause` stopped it, if it did.
    pub paused_since: Option<DateTime<Utc>>,
    /// Beside other instances: which one polls it now (its lease running), else polled it last.
    pub instance: Option<PolledBy>,
}

impl SourceStatus {
    /// The status of `source` before anything was recorded of it.
    fn unrecorded(source: &dyn Source) -> SourceStatus {
        SourceStatus {
            url: source.url().to_string(),
            name: source.label().to_string(),
            state: FetchState::default(),
            items: 0,
            newest_item: None,
            paused_since: None,
            instance: None,
        }
    }
}

/// Which instance polls a source, or polled it last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolledBy {
    /// The instance's id.
    pub instance: String,
    /// Whether it holds the source's lease now (a poll under way).
    pub polling: bool,
}

/// Everything `status` shows, read in one visit to the store.
#[derive(Debug, Clone)]
pub struct StatusReads<S> {
    /// The configured sources shown: all, or those named.
    pub shown: Vec<Arc<S>>,
    /// Their states, in the same order (shared with the copy the store keeps).
    pub sources: Arc<Vec<SourceStatus>>,
    /// By source URL: how many of its items' articles could not be had (`full_text`), and
    /// why the latest failed. Sources with none are absent.
    pub full_text_failed: HashMap<String, (i64, String)>,
    /// By source URL: its current WebSub subscription.
    pub subscriptions: HashMap<String, Subscription>,
    /// On a shared database, the instances seen within the last ten minutes: those alive,
    /// and any just gone.
    pub instances: Option<Vec<super::InstanceSeen>>,
    /// Each configured webhook's URL and queue.
    pub webhooks: Vec<(String, super::WebhookStatus)>,
}

/// The statuses a store read of the whole config, and what it needs to bring them up to date.
#[derive(Debug)]
pub(super) struct KeptStatuses {
    /// The `sources` rows this connection wrote since they were read, as the update hook saw.
    written: Arc<Mutex<Written>>,
    /// What was read; none until a first ask, or after a failed read.
    read: Option<ReadStatuses>,
}

/// What an ask read of the whole config.
#[derive(Debug)]
struct ReadStatuses {
    /// The sources they were read for (compared by pointer: a reloaded config reads again).
    sources: Vec<Arc<dyn Source>>,
    statuses: Arc<Vec<SourceStatus>>,
    /// Each recorded source's place in `statuses`, by its row's id.
    places: HashMap<i64, usize>,
    /// `PRAGMA data_version` before they were read.
    data_version: i64,
}

/// Rows written since the last ask; `all` once that is not worth tracking row by row (more than
/// `limit`, a tenth of the sources or 64: reading each again costs about 10 µs, reading all
/// 100,000 about 0.1 s).
#[derive(Debug, Default)]
struct Written {
    rows: HashSet<i64>,
    all: bool,
    limit: usize,
}

impl Written {
    fn row(&mut self, id: i64) {
        if !self.all {
            self.rows.insert(id);
            if self.rows.len() > self.limit {
                self.read_all();
            }
        }
    }

    fn read_all(&mut self) {
        self.rows = HashSet::new();
        self.all = true;
    }

    /// What was written since the last call, tracked anew from now on.
    fn take(&mut self) -> Written {
        let limit = self.limit;
        std::mem::replace(
            self,
            Written {
                limit,
                ..Written::default()
            },
        )
    }
}

/// `written`, locked (a panic while it was locked left it whole: each change is one step).
fn locked(written: &Mutex<Written>) -> MutexGuard<'_, Written> {
    written.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The columns a status is read from, in the order `read_status` expects.
fn status_select() -> String {
    format!(
        "SELECT s.id, s.url, COALESCE(s.name, s.feed_title, s.url), s.item_count,
                s.newest_item_at, s.paused_at, s.lease_owner, s.lease_until, s.last_polled_by,
                {OUTCOME_COLUMNS}
         FROM sources s"
    )
}

/// Reads a row of `status_select`: its id and the source's status, named as `source` says.
fn read_status(
    row: &Row<'_>,
    source: &dyn Source,
    now: i64,
) -> super::db::Result<(i64, SourceStatus)> {
    let name = match source.name() {
        Some(name) => name.to_string(),
        None => row.get(2)?,
    };
    let status = SourceStatus {
        url: row.get(1)?,
        name,
        items: row.get(3)?,
        newest_item: row.get::<_, Option<i64>>(4)?.map(from_unix),
        paused_since: row.get::<_, Option<i64>>(5)?.map(from_unix),
        instance: polled_by(row, 6, now)?,
        state: read_outcome(row, 9)?,
    };
    Ok((row.get(0)?, status))
}

/// Reads `lease_owner, lease_until, last_polled_by` from `row`, from `first` on. Whether a lease
/// still runs is judged at the read: in a kept status it may have run out since, which only
/// happens to instances on PostgreSQL, whose statuses are not kept.
fn polled_by(row: &Row<'_>, first: usize, now: i64) -> super::db::Result<Option<PolledBy>> {
    let owner: Option<String> = row.get(first)?;
    let until: Option<i64> = row.get(first + 1)?;
    let last: Option<String> = row.get(first + 2)?;
    Ok(match (owner, until) {
        (Some(instance), Some(until)) if until > now => Some(PolledBy {
            instance,
            polling: true,
        }),
        _ => last.map(|instance| PolledBy {
            instance,
            polling: false,
        }),
    })
}

/// The state of each of `sources`, in their order, and the place of each recorded one by its
/// row's id. One statement whatever the number of sources (item counts are kept on each
/// source's row): at 100,000 sources a statement per source took seconds.
fn read_statuses<S: Source>(
    db: &Db,
    sources: &[Arc<S>],
) -> Result<(Vec<SourceStatus>, HashMap<i64, usize>), StoreError> {
    let now = to_unix(Utc::now());
    let mut query = db.prepare(&status_select())?;
    // Each row goes straight to its source's place: at 100,000 sources, a map of the rows by
    // URL, then a list in the config's order, moved and hashed half a gigabyte. Rows mostly
    // come in the config's order (sources are recorded in it), so the place after the last
    // row's is tried first, and the sources mapped by URL only when a row is elsewhere.
    let mut by_url: Option<HashMap<&str, usize>> = None;
    let mut next = 0;
    let mut places = HashMap::with_capacity(sources.len());
    let mut stored: Vec<Option<SourceStatus>> = sources.iter().map(|_| None).collect();
    for read in query.query_map((), |row| {
        let url = row.text(1)?;
        let place = match sources.get(next) {
            Some(source) if source.url() == url => Some(next),
            _ => by_url
                .get_or_insert_with(|| {
                    let urls = sources.iter().map(|source| source.url());
                    urls.enumerate().map(|(i, url)| (url, i)).collect()
                })
                .get(url)
                .copied(),
        };
        let Some(i) = place else {
            return Ok(());
        };
        next = i + 1;
        let (id, status) = read_status(row, &*sources[i], now)?;
        places.insert(id, i);
        stored[i] = Some(status);
        Ok(())
    })? {
        read?;
    }
    let statuses = stored
        .into_iter()
        .zip(sources)
        .map(|(stored, source)| stored.unwrap_or_else(|| SourceStatus::unrecorded(&**source)))
        .collect();
    Ok((statuses, places))
}

impl KeptStatuses {
    /// Nothing read yet, and `db`'s writes to `sources` watched from now on.
    fn watching(db: &mut Db) -> Result<KeptStatuses, StoreError> {
        let written = Arc::new(Mutex::new(Written::default()));
        let on_write = Arc::clone(&written);
        db.watch_writes("sources", move |id| locked(&on_write).row(id))?;
        Ok(KeptStatuses {
            written,
            read: None,
        })
    }

    /// The statuses of `sources`, from those kept when nothing but this connection's writes
    /// changed them since; `None` when they must all be read again.
    fn brought_up_to_date<S: Source>(
        &mut self,
        db: &Db,
        sources: &[Arc<S>],
        data_version: i64,
    ) -> Result<Option<Arc<Vec<SourceStatus>>>, StoreError> {
        let written = locked(&self.written).take();
        let Some(read) = &mut self.read else {
            return Ok(None);
        };
        let same_sources = read.sources.len() == sources.len()
            && read
                .sources
                .iter()
                .zip(sources)
                .all(|(a, b)| std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)));
        if !same_sources || read.data_version != data_version || written.all {
            return Ok(None);
        }
        if written.rows.is_empty() {
            return Ok(Some(Arc::clone(&read.statuses)));
        }
        let now = to_unix(Utc::now());
        let mut query = db.prepare(&format!("{} WHERE s.id = ?1", status_select()))?;
        let statuses = Arc::make_mut(&mut read.statuses);
        for id in written.rows {
            // A source recorded after the read (its first poll) has no place yet.
            let Some(&place) = read.places.get(&id) else {
                return Ok(None);
            };
            let read_again = query
                .query_row([id], |row| read_status(row, &*read.sources[place], now))
                .optional()?;
            let Some((_, status)) = read_again else {
                return Ok(None);
            };
            statuses[place] = status;
        }
        Ok(Some(Arc::clone(&read.statuses)))
    }
}

impl Store {
    /// The state of each of `sources`, in their order, read from the database.
    pub fn source_statuses<S: Source>(
        &self,
        sources: &[Arc<S>],
    ) -> Result<Vec<SourceStatus>, StoreError> {
        Ok(read_statuses(&self.db, sources)?.0)
    }

    /// The state of each of the config's `sources`: those kept since the last ask, with the
    /// rows written since read again, when only this connection wrote; else all read and kept.
    fn kept_statuses<S: Source + 'static>(
        &mut self,
        sources: &[Arc<S>],
    ) -> Result<Arc<Vec<SourceStatus>>, StoreError> {
        // Inside a transaction, what is read may yet be rolled back, unseen: read, keep nothing.
        // (A daemon's asks wait for its open batch of polls to be committed.)
        let data_version = match self.db.in_transaction() {
            true => None,
            false => self.db.data_version()?,
        };
        let Some(data_version) = data_version else {
            return Ok(Arc::new(self.source_statuses(sources)?));
        };
        if let Some(kept) = &mut self.kept_statuses {
            match kept.brought_up_to_date(&self.db, sources, data_version) {
                Ok(Some(statuses)) => return Ok(statuses),
                Ok(None) => {}
                Err(error) => {
                    kept.read = None;
                    return Err(error);
                }
            }
        }
        let kept = match &mut self.kept_statuses {
            Some(kept) => kept,
            None => self
                .kept_statuses
                .insert(KeptStatuses::watching(&mut self.db)?),
        };
        kept.read = None;
        *locked(&kept.written) = Written {
            limit: (sources.len() / 10).max(64),
            ..Written::default()
        };
        let (statuses, places) = read_statuses(&self.db, sources)?;
        let statuses = Arc::new(statuses);
        kept.read = Some(ReadStatuses {
            sources: sources.iter().map(|s| Arc::clone(s) as _).collect(),
            statuses: Arc::clone(&statuses),
            places,
            data_version,
        });
        Ok(statuses)
    }

    /// What `status` shows: every one of `sources`, the instances (when the database is
    /// `shared` by several) and the `webhooks`' queues; or, when sources are `named`, those
    /// sources alone.
    pub fn status_reads<S: Source + 'static>(
        &mut self,
        sources: &[Arc<S>],
        named: Option<&[Arc<S>]>,
        shared: bool,
        webhooks: &[&str],
    ) -> Result<StatusReads<S>, StoreError> {
        let full_text_failed = self.full_text_failures()?;
        let subscriptions = self.current_subscriptions()?;
        if let Some(named) = named {
            return Ok(StatusReads {
                shown: named.to_vec(),
                sources: Arc::new(self.source_statuses(named)?),
                full_text_failed,
                subscriptions,
                instances: None,
                webhooks: Vec::new(),
            });
        }
        let instances = match shared {
            true => Some(self.instances(Utc::now() - chrono::Duration::minutes(10))?),
            false => None,
        };
        let webhooks = webhooks
            .iter()
            .map(|&url| {
                self.webhook_status(url)
                    .map(|status| (url.to_string(), status))
            })
            .collect::<Result<_, _>>()?;
        Ok(StatusReads {
            shown: sources.to_vec(),
            sources: self.kept_statuses(sources)?,
            full_text_failed,
            subscriptions,
            instances,
            webhooks,
        })
    }

    /// By source URL: how many of its items' articles could not be had, and why the latest
    /// failed. Read through the index of failed items, so as cheap as there are failures.
    fn full_text_failures(&self) -> Result<HashMap<String, (i64, String)>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT s.url, f.failed, f.full_text_error FROM (
                 SELECT source_id, full_text_error,
                        count(*) OVER (PARTITION BY source_id) AS failed,
                        row_number() OVER (PARTITION BY source_id ORDER BY id DESC) AS nth
                 FROM items WHERE full_text_error IS NOT NULL) AS f
             JOIN sources s ON s.id = f.source_id
             WHERE f.nth = 1",
        )?;
        let failures = query.query_map((), |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))?;
        Ok(failures.collect::<Result<_, _>>()?)
    }
}

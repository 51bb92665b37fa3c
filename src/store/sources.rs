//! Sources: what the config names, what each feed says of itself, and each source's polling
//! state (validators, hints, backoff, Retry-After, gone, moved), with its health events.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::{Db, Optional, Row};

use super::{Store, StoreError, from_unix, to_unix};
use crate::model::Source;
use crate::model::{FeedHints, FeedMeta, FetchState, HealthEvent, StoredEvent, Validators};
use crate::model::{NextPoll, PollStatus, Reason};

/// When a source is next due, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSchedule {
    /// Its URL as configured.
    pub url: String,
    /// When it is due, and why; none if never polled (or gone).
    pub next_poll: Option<NextPoll>,
    /// Whether the publisher said it is gone (410).
    pub gone: bool,
}

/// The columns of `sources` that say how the polls went and when the next is: all that
/// `status` shows of a source's state, in the order `read_outcome` expects.
macro_rules! outcome_columns {
    () => {
        "last_status, last_error, last_success_at, consecutive_failures, retry_after_until,
         gone_since, adopted_url, redirect_target, redirect_seen, discovered_url, next_poll_at,
         next_poll_reason"
    };
}
pub(super) const OUTCOME_COLUMNS: &str = outcome_columns!();

/// The columns of `sources` that make a `FetchState`, in the order `read_state` expects: what
/// the next request sends and heeds (validators, the feed's hints), then `OUTCOME_COLUMNS`.
const STATE_COLUMNS: &str = concat!(
    "etag, last_modified, hint_interval, skip_hours, skip_days, ",
    outcome_columns!()
);

impl Store {
    /// Records the configured sources and their names, so outputs name publishers correctly
    /// even before a source's first poll. Sources no longer configured keep their rows.
    pub fn sync_sources<S: Source>(&mut self, sources: &[S]) -> Result<(), StoreError> {
        // Only new sources and changed names are written: beside other instances (claiming and
        // recording polls of these rows), a start locks no row it does not change.
        let stored: HashMap<String, Option<String>> = self
            .db
            .prepare("SELECT url, name FROM sources")?
            .query_map((), |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let tx = self.db.transaction()?;
        for source in sources {
            let (url, name) = (source.url(), source.name());
            match stored.get(url) {
                Some(stored) if stored.as_deref() == name => {}
                Some(_) => {
                    tx.prepare_cached("UPDATE sources SET name = ?2 WHERE url = ?1")?
                        .execute(params![url, name])?;
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO sources (url, name) VALUES (?1, ?2) ON CONFLICT (url) DO NOTHING",
                    )?
                    .execute(params![url, name])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Pauses (`Some(now)`) or resumes (`None`) the source at `url`; whether it is known.
    pub fn set_paused(&mut self, url: &str, at: Option<DateTime<Utc>>) -> Result<bool, StoreError> {
        let changed = self
            .db
            .prepare_cached("UPDATE sources SET paused_at = ?2 WHERE url = ?1")?
            .execute(params![url, at.map(to_unix)])?;
        Ok(changed > 0)
    }

    /// What a poll of the source at `url` starts from, in one statement: its polling state
    /// (the default for one never polled), and since when it is paused, if it is.
    pub fn poll_state(&self, url: &str) -> Result<(FetchState, Option<DateTime<Utc>>), StoreError> {
        let columns = STATE_COLUMNS.split(',').count();
        let state = self
            .db
            .prepare_cached(&format!(
                "SELECT {STATE_COLUMNS}, paused_at FROM sources WHERE url = ?1"
            ))?
            .query_row([url], |row| {
                let paused = row.get::<_, Option<i64>>(columns)?.map(from_unix);
                Ok((read_state(row, 0)?, paused))
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    /// When the newest `limit` stored items of the source at `url` were published (first seen,
    /// if undated), newest first: its pace, for adaptive polling.
    pub fn publishing_dates(
        &self,
        url: &str,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT sort_at FROM items
             WHERE source_id = (SELECT id FROM sources WHERE url = ?1)
             ORDER BY sort_at DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let dates = query.query_map(params![url, limit], |row| row.get::<_, i64>(0))?;
        Ok(dates.map(|d| d.map(from_unix)).collect::<Result<_, _>>()?)
    }

    /// When each of the sources at `urls` is next due, in their order: what a starting
    /// daemon schedules from (a source never polled has no time).
    pub fn schedules(&self, urls: &[String]) -> Result<Vec<StoredSchedule>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT next_poll_at, next_poll_reason, gone_since IS NOT NULL
             FROM sources WHERE url = ?1",
        )?;
        let mut schedules = Vec::with_capacity(urls.len());
        for url in urls {
            let found = query
                .query_row([url], |row| {
                    let at: Option<i64> = row.get(0)?;
                    let reason: Option<String> = row.get(1)?;
                    Ok((at, reason, row.get::<_, bool>(2)?))
                })
                .optional()?;
            let (at, reason, gone) = found.unwrap_or_default();
            let next_poll = match (at, reason.as_deref().and_then(Reason::parse)) {
                (Some(at), Some(reason)) => Some(NextPoll {
                    at: from_unix(at),
                    reason,
                }),
                _ => None,
            };
            schedules.push(StoredSchedule {
                url: url.clone(),
                next_poll,
                gone,
            });
        }
        Ok(schedules)
    }

    /// The newest `limit` health events of every source, newest first.
    pub fn recent_events(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT e.id, e.at, COALESCE(s.name, s.feed_title, s.url), e.kind, e.message
             FROM source_events e JOIN sources s ON s.id = e.source_id
             ORDER BY e.at DESC, e.id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let events = query
            .query_map([limit], |row| {
                Ok(StoredEvent {
                    id: row.get(0)?,
                    at: from_unix(row.get(1)?),
                    source: row.get(2)?,
                    kind: row.get(3)?,
                    message: row.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(events)
    }
}

/// Inserts the source if new, refreshes its configured name, and returns its row id.
pub(super) fn upsert_source(tx: &Db, url: &str, name: Option<&str>) -> Result<i64, StoreError> {
    let id = tx
        .prepare_cached(
            "INSERT INTO sources (url, name) VALUES (?1, ?2)
         ON CONFLICT (url) DO UPDATE SET name = excluded.name
         RETURNING id",
        )?
        .query_row(params![url, name], |row| row.get(0))?;
    Ok(id)
}

/// Saves a poll's resulting state, and what the feed says of itself when it was read.
pub(super) fn save_state(
    tx: &Db,
    id: i64,
    state: &FetchState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let list = |values: &[u32]| {
        values
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    tx.prepare_cached(
        "UPDATE sources SET last_poll_at = ?2, etag = ?3, last_modified = ?4, hint_interval = ?5,
             skip_hours = ?6, skip_days = ?7, last_status = ?8, last_error = ?9,
             last_success_at = ?10, consecutive_failures = ?11, retry_after_until = ?12,
             gone_since = ?13, adopted_url = ?14, redirect_target = ?15, redirect_seen = ?16,
             discovered_url = ?17, next_poll_at = ?18, next_poll_reason = ?19
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        to_unix(now),
        state.validators.etag,
        state.validators.last_modified,
        state
            .hints
            .min_interval
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        list(&state.hints.skip_hours),
        list(&state.hints.skip_days),
        state.last_status.map(PollStatus::as_str),
        state.last_error,
        state.last_success_at.map(to_unix),
        state.consecutive_failures,
        state.retry_after_until.map(to_unix),
        state.gone_since.map(to_unix),
        state.adopted_url,
        state.redirect_target,
        state.redirect_seen,
        state.discovered_url,
        state.next_poll.map(|n| to_unix(n.at)),
        state.next_poll.map(|n| n.reason.as_str()),
    ])?;
    Ok(())
}

/// What a fetched (or pushed) feed says of itself.
pub(super) fn save_meta(tx: &Db, id: i64, meta: &FeedMeta) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE sources SET feed_title = ?2, feed_link = ?3, feed_id = ?4,
             feed_description = ?5, websub_hub = ?6, websub_topic = ?7 WHERE id = ?1",
    )?
    .execute(params![
        id,
        meta.title,
        meta.link,
        meta.id,
        meta.description,
        meta.hub,
        meta.topic
    ])?;
    Ok(())
}

pub(super) fn add_event(
    tx: &Db,
    id: i64,
    event: &HealthEvent,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO source_events (source_id, at, kind, message) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        id,
        to_unix(now),
        event.kind.as_str(),
        event.message
    ])?;
    Ok(())
}

/// Reads a `FetchState` from `row`, whose columns from `first` on are `STATE_COLUMNS`.
fn read_state(row: &Row<'_>, first: usize) -> super::db::Result<FetchState> {
    let list = |i: usize| -> super::db::Result<Vec<u32>> {
        let text: String = row.get(first + i)?;
        Ok(text.split(',').filter_map(|v| v.parse().ok()).collect())
    };
    Ok(FetchState {
        validators: Validators {
            etag: row.get(first)?,
            last_modified: row.get(first + 1)?,
        },
        hints: FeedHints {
            min_interval: row
                .get::<_, Option<i64>>(first + 2)?
                .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0))),
            skip_hours: list(3)?,
            skip_days: list(4)?,
        },
        ..read_outcome(row, first + 5)?
    })
}

/// Reads the part of a `FetchState` in `OUTCOME_COLUMNS`, from `first` on; no validators nor
/// hints.
pub(super) fn read_outcome(row: &Row<'_>, first: usize) -> super::db::Result<FetchState> {
    let time = |i: usize| -> super::db::Result<Option<DateTime<Utc>>> {
        Ok(row.get::<_, Option<i64>>(first + i)?.map(from_unix))
    };
    let next_poll = match (
        time(10)?,
        row.get::<_, Option<String>>(first + 11)?
            .as_deref()
            .and_then(Reason::parse),
    ) {
        (Some(at), Some(reason)) => Some(NextPoll { at, reason }),
        _ => None,
    };
    Ok(FetchState {
        last_status: row
            .get::<_, Option<String>>(first)?
            .as_deref()
            .and_then(PollStatus::parse),
        last_error: row.get(first + 1)?,
        last_success_at: time(2)?,
        consecutive_failures: row.get(first + 3)?,
        retry_after_until: time(4)?,
        gone_since: time(5)?,
        adopted_url: row.get(first + 6)?,
        redirect_target: row.get(first + 7)?,
        redirect_seen: row.get(first + 8)?,
        discovered_url: row.get(first + 9)?,
        next_poll,
        ..FetchState::default()
    })
}

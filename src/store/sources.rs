//! Sources: what the config names, what each feed says of itself, and how its last poll went.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Store, StoreError, from_unix, to_unix};
use crate::config::SourceConfig;
use crate::model::FeedMeta;

/// One source's state, as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    pub url: String,
    /// The config's name, else the feed's title, else the URL.
    pub name: String,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// `ok` or `error`; none before the first poll.
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub items: i64,
    /// When the newest stored item was published (or first seen, if undated).
    pub newest_item: Option<DateTime<Utc>>,
}

impl Store {
    /// Records the configured sources and their names, so outputs name publishers correctly
    /// even before a source's first poll. Sources no longer configured keep their rows.
    pub fn sync_sources(&mut self, sources: &[SourceConfig]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for source in sources {
            upsert_source(&tx, &source.url, source.name.as_deref())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a failed poll: the error and one more consecutive failure; items stay as they are.
    pub fn record_failure(
        &mut self,
        source: &SourceConfig,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let id = upsert_source(&tx, &source.url, source.name.as_deref())?;
        tx.execute(
            "UPDATE sources SET last_poll_at = ?2, last_status = 'error', last_error = ?3,
                 consecutive_failures = consecutive_failures + 1
             WHERE id = ?1",
            params![id, to_unix(now), error],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The state of each of `sources`, in their order.
    pub fn source_statuses(
        &self,
        sources: &[SourceConfig],
    ) -> Result<Vec<SourceStatus>, StoreError> {
        let mut query = self.conn.prepare(
            "SELECT COALESCE(s.name, s.feed_title, s.url), s.last_poll_at, s.last_success_at,
                    s.last_status, s.last_error, s.consecutive_failures,
                    (SELECT count(*) FROM items WHERE source_id = s.id),
                    (SELECT max(sort_at) FROM items WHERE source_id = s.id)
             FROM sources s WHERE s.url = ?1",
        )?;
        let mut statuses = Vec::with_capacity(sources.len());
        for source in sources {
            let found = query
                .query_row([&source.url], |row| {
                    Ok(SourceStatus {
                        url: source.url.clone(),
                        name: source.name.clone().unwrap_or(row.get(0)?),
                        last_poll: row.get::<_, Option<i64>>(1)?.map(from_unix),
                        last_success: row.get::<_, Option<i64>>(2)?.map(from_unix),
                        last_status: row.get(3)?,
                        last_error: row.get(4)?,
                        consecutive_failures: row.get(5)?,
                        items: row.get(6)?,
                        newest_item: row.get::<_, Option<i64>>(7)?.map(from_unix),
                    })
                })
                .optional()?;
            statuses.push(found.unwrap_or_else(|| SourceStatus {
                url: source.url.clone(),
                name: source.label().to_string(),
                last_poll: None,
                last_success: None,
                last_status: None,
                last_error: None,
                consecutive_failures: 0,
                items: 0,
                newest_item: None,
            }));
        }
        Ok(statuses)
    }
}

/// Inserts the source if new, refreshes its configured name, and returns its row id.
pub(super) fn upsert_source(
    tx: &Transaction<'_>,
    url: &str,
    name: Option<&str>,
) -> Result<i64, StoreError> {
    let id = tx.query_row(
        "INSERT INTO sources (url, name) VALUES (?1, ?2)
         ON CONFLICT (url) DO UPDATE SET name = excluded.name
         RETURNING id",
        params![url, name],
        |row| row.get(0),
    )?;
    Ok(id)
}

/// Records a successful poll and what the feed says of itself.
pub(super) fn record_success(
    tx: &Transaction<'_>,
    id: i64,
    meta: &FeedMeta,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sources SET feed_title = ?2, feed_link = ?3, feed_id = ?4, last_poll_at = ?5,
             last_success_at = ?5, last_status = 'ok', last_error = NULL, consecutive_failures = 0
         WHERE id = ?1",
        params![id, meta.title, meta.link, meta.id, to_unix(now)],
    )?;
    Ok(())
}

//! What rules and rewrites made of stored items (hidden, tags, rewritten fields), made again
//! from each item's original when the rules change, when a date condition comes due, or when
//! its full text arrives; and the full text itself.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::{Db, Optional, Row};

use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{Item, Text};
use crate::rules::{Shaped, Shaping};

/// The settings row holding the digest of the rules the stored items were shaped by.
const SHAPED_BY: &str = "shaped_by";

/// Items shaped per statement when all are shaped again: bounded memory at any size.
const BATCH: i64 = 1000;

/// What rules made of an item, as stored: hidden, tags, rewritten, recheck_at.
pub(super) type ShapedColumns = (Option<String>, String, Option<String>, Option<i64>);

/// What rules make of an item no rule or rewrite touches.
pub(super) static UNSHAPED: std::sync::LazyLock<ShapedColumns> =
    std::sync::LazyLock::new(|| (None, "[]".into(), None, None));

/// A stored item as rules see it, with what they made of it last time.
struct Stored {
    id: i64,
    source_url: String,
    source_name: Option<String>,
    /// Its source's name as shown: configured, else the feed's title, else its URL.
    publisher: String,
    item: Item,
    published: DateTime<Utc>,
    shaped: ShapedColumns,
    /// How many publishers reported its story, itself among them.
    reported_by: usize,
}

const SELECT: &str = "SELECT i.id, s.url, s.name, i.title, i.link, i.summary, i.summary_html,
        COALESCE(i.full_text, i.content), i.full_text IS NOT NULL OR i.content_html <> 0, i.authors,
        i.categories, COALESCE(i.published, i.sort_at), i.hidden, i.tags, i.rewritten,
        i.recheck_at, COALESCE(s.name, s.feed_title, s.url),
        (SELECT 1 + COUNT(*) FROM stories st
         WHERE st.story = COALESCE((SELECT m.story FROM stories m WHERE m.item_id = i.id), i.id))
    FROM items i JOIN sources s ON s.id = i.source_id";

impl Stored {
    /// What `shaping` makes of it at `now`.
    fn shape(&self, shaping: &Shaping, now: DateTime<Utc>) -> Shaped {
        let name = self.source_name.as_deref();
        let dated = (self.published, self.reported_by);
        shaping.shape_in_story(&self.source_url, name, &self.item, dated, now)
    }
}

fn read(row: &Row<'_>) -> super::db::Result<Stored> {
    let text = |body: Option<String>, is_html: bool| body.map(|body| Text { body, is_html });
    let json = |index: usize| -> super::db::Result<String> { row.get(index) };
    let item = Item {
        title: row.get(3)?,
        link: row.get(4)?,
        summary: text(row.get(5)?, row.get(6)?),
        content: text(row.get(7)?, row.get(8)?),
        // Columns Tributary wrote itself: unreadable JSON is no reason to stop shaping.
        authors: serde_json::from_str(&json(9)?).unwrap_or_default(),
        categories: serde_json::from_str(&json(10)?).unwrap_or_default(),
        ..Item::default()
    };
    Ok(Stored {
        id: row.get(0)?,
        source_url: row.get(1)?,
        source_name: row.get(2)?,
        publisher: row.get(16)?,
        item,
        published: from_unix(row.get(11)?),
        shaped: (row.get(12)?, row.get(13)?, row.get(14)?, row.get(15)?),
        reported_by: usize::try_from(row.get::<_, i64>(17)?).unwrap_or(1),
    })
}

/// Shapes `stored` and writes the result if it differs from what is stored; says whether it
/// did.
fn reshape(
    conn: &Db,
    shaping: &Shaping,
    stored: &Stored,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    write(conn, stored.id, &stored.shape(shaping, now), &stored.shaped)
}

/// Writes what `shaped` says of item `id`, unless it is what is stored (`was`); says whether
/// it wrote.
fn write(conn: &Db, id: i64, shaped: &Shaped, was: &ShapedColumns) -> Result<bool, StoreError> {
    let columns = columns(shaped)?;
    if columns == *was {
        return Ok(false);
    }
    conn.prepare_cached(
        "UPDATE items SET hidden = ?2, tags = ?3, rewritten = ?4, recheck_at = ?5 WHERE id = ?1",
    )?
    .execute(params![id, columns.0, columns.1, columns.2, columns.3])?;
    Ok(true)
}

pub(super) fn columns(shaped: &Shaped) -> Result<ShapedColumns, StoreError> {
    let rewritten = match shaped.rewritten.is_empty() {
        true => None,
        false => Some(serde_json::to_string(&shaped.rewritten)?),
    };
    Ok((
        shaped.hidden.clone(),
        serde_json::to_string(&shaped.tags)?,
        rewritten,
        shaped.recheck_at.map(to_unix),
    ))
}

/// Shapes the item `id` again (after it was stored, revised or given its full text).
pub(super) fn reshape_item(
    conn: &Db,
    shaping: &Shaping,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let stored = conn
        .prepare_cached(&format!("{SELECT} WHERE i.id = ?1"))?
        .query_row([id], read)
        .optional()?;
    if let Some(stored) = stored {
        reshape(conn, shaping, &stored, now)?;
    }
    Ok(())
}

impl Store {
    /// Shapes every stored item again if the rules changed since they were last shaped (a
    /// rule added, removed or edited, a source renamed or retagged); returns how many items
    /// changed, or `None` when the rules are the same. In batches, as [`Store::reshape_batch`].
    pub fn reshape_if_changed(
        &mut self,
        shaping: &Shaping,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        if self.shaped_by(shaping)? {
            return Ok(None);
        }
        let (mut changed, mut after) = (0, Some(0));
        while let Some(from) = after {
            let (batch, last) = self.reshape_batch(shaping, from, now)?;
            changed += batch;
            after = last;
        }
        Ok(Some(changed))
    }

    /// Whether every stored item was shaped by these rules.
    pub fn shaped_by(&self, shaping: &Shaping) -> Result<bool, StoreError> {
        let shaped_by: Option<String> = self
            .db
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                [SHAPED_BY],
                |r| r.get(0),
            )
            .optional()?;
        Ok(shaped_by.as_deref() == Some(shaping.digest()))
    }

    /// Shapes again the next batch of stored items, those after the row id `after`, in a
    /// transaction of its own: the store's other work (polls) goes on between batches, so a
    /// re-shape of any size holds it up by one batch at most. Returns how many changed, and
    /// the row id to go on after; `None` when no item was left, and then the rules are
    /// recorded as those every item is shaped by.
    pub fn reshape_batch(
        &mut self,
        shaping: &Shaping,
        after: i64,
        now: DateTime<Utc>,
    ) -> Result<(usize, Option<i64>), StoreError> {
        let tx = self.db.transaction()?;
        let batch: Vec<Stored> = tx
            .prepare_cached(&format!("{SELECT} WHERE i.id > ?1 ORDER BY i.id LIMIT ?2"))?
            .query_map(params![after, BATCH], read)?
            .collect::<Result<_, _>>()?;
        let mut changed = 0;
        for stored in &batch {
            changed += usize::from(reshape(&tx, shaping, stored, now)?);
        }
        let last = batch.last().map(|s| s.id);
        if last.is_none() {
            tx.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![SHAPED_BY, shaping.digest()],
            )?;
        }
        tx.commit()?;
        Ok((changed, last))
    }

    /// Shapes again the items a rule's `older_than`/`newer_than` now decides otherwise for;
    /// returns how many changed, and when the next one is due.
    pub fn reshape_due(
        &mut self,
        shaping: &Shaping,
        now: DateTime<Utc>,
    ) -> Result<(usize, Option<DateTime<Utc>>), StoreError> {
        let tx = self.db.transaction()?;
        let due: Vec<Stored> = tx
            .prepare_cached(&format!(
                "{SELECT} WHERE i.recheck_at IS NOT NULL AND i.recheck_at <= ?1"
            ))?
            .query_map([to_unix(now)], read)?
            .collect::<Result<_, _>>()?;
        let mut changed = 0;
        for stored in &due {
            changed += usize::from(reshape(&tx, shaping, stored, now)?);
        }
        let next: Option<i64> = tx.query_row(
            "SELECT min(recheck_at) FROM items WHERE recheck_at IS NOT NULL",
            (),
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok((changed, next.map(from_unix)))
    }

    /// What the rules and rewrites make of the newest `last` stored items (of the source with
    /// `source_url` only, when given), for `rules test`; changes nothing.
    pub fn shape_stored(
        &self,
        shaping: &Shaping,
        source_url: Option<&str>,
        last: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Item, Shaped)>, StoreError> {
        let stored: Vec<Stored> = self
            .db
            .prepare(&format!(
                "{SELECT} WHERE CAST(?1 AS TEXT) IS NULL OR s.url = ?1 ORDER BY i.sort_at DESC, i.id DESC LIMIT ?2"
            ))?
            .query_map(
                params![source_url, i64::try_from(last).unwrap_or(i64::MAX)],
                read,
            )?
            .collect::<Result<_, _>>()?;
        Ok(stored
            .into_iter()
            .map(|s| {
                let shaped = s.shape(shaping, now);
                (s.publisher, s.item, shaped)
            })
            .collect())
    }
}

/// An item whose article is wanted.
#[derive(Debug, Clone)]
pub struct WantedFullText {
    /// The item.
    pub id: i64,
    /// Its link: the article's page.
    pub link: String,
    /// Its source's URL.
    pub source_url: String,
    /// The attempts made so far.
    pub tries: i64,
}

/// The items whose article is wanted now, and when the next of the others is.
#[derive(Debug, Clone, Default)]
pub struct WantedFullTexts {
    /// Due now, oldest first.
    pub items: Vec<WantedFullText>,
    /// When the first of those waiting for a retry is due.
    pub next_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Up to `limit` items whose article is wanted at `now`.
    pub fn wanted_full_text(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<WantedFullTexts, StoreError> {
        let items = self
            .db
            .prepare_cached(
                "SELECT i.id, i.link, s.url, i.full_text_tries FROM items i
                 JOIN sources s ON s.id = i.source_id
                 WHERE i.full_text_wanted = 1 AND coalesce(i.full_text_after, 0) <= ?1
                 ORDER BY i.id LIMIT ?2",
            )?
            .query_map(
                params![to_unix(now), i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(WantedFullText {
                        id: r.get(0)?,
                        link: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        source_url: r.get(2)?,
                        tries: r.get(3)?,
                    })
                },
            )?
            .collect::<Result<_, _>>()?;
        let next_at: Option<i64> = self.db.query_row(
            "SELECT min(full_text_after) FROM items
             WHERE full_text_wanted = 1 AND full_text_after > ?1",
            [to_unix(now)],
            |r| r.get(0),
        )?;
        Ok(WantedFullTexts {
            items,
            next_at: next_at.map(from_unix),
        })
    }

    /// Stores the article `html` of item `id` and shapes the item again.
    pub fn store_full_text(
        &mut self,
        shaping: &Shaping,
        id: i64,
        html: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE items SET full_text = ?2, full_text_wanted = 0, full_text_error = NULL,
                 full_text_tries = full_text_tries + 1 WHERE id = ?1",
            params![id, html],
        )?;
        reshape_item(&tx, shaping, id, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt at item `id`'s article and why (`None` when no attempt was
    /// made: its source no longer wants full text): tried again after `retry_after`, or never
    /// when that is `None`.
    pub fn full_text_failed(
        &mut self,
        id: i64,
        retry_after: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE items SET full_text_tries = full_text_tries + 1, full_text_after = ?2,
                 full_text_wanted = ?3, full_text_error = ?4 WHERE id = ?1",
            params![id, retry_after.map(to_unix), retry_after.is_some(), error],
        )?;
        Ok(())
    }
}

//! Webhooks' durable queues: the new items each is to be told of (queued with the items
//! themselves, see `ingest`), packed into deliveries sent in order, retried until they pass.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::{Db, Optional};

use super::items::{columns, read_stored_item};
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::StoredItem;

/// A delivery waiting to be sent: its body is made once, so every try sends the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its place in the queue.
    pub row: i64,
    /// The id sent in `X-Tributary-Delivery`, the same on every try.
    pub delivery_id: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Tries that failed.
    pub tries: u32,
    /// Not sent before then.
    pub next_try_at: DateTime<Utc>,
}

/// How a webhook's deliveries stand, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookStatus {
    /// Deliveries waiting.
    pub queued: i64,
    /// Items waiting to be packed into a delivery.
    pub items_waiting: i64,
    /// When the oldest waiting delivery was queued.
    pub oldest: Option<DateTime<Utc>>,
    /// When a delivery last passed.
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// The last failure, and when.
    pub last_error: Option<(String, DateTime<Utc>)>,
}

impl Store {
    /// Up to `limit` items queued for `webhook`, oldest first; queued entries whose item has
    /// gone (retention) or is hidden (rules) are dropped.
    pub fn webhook_items(
        &mut self,
        webhook: &str,
        limit: usize,
    ) -> Result<(Vec<i64>, Vec<StoredItem>), StoreError> {
        self.db
            .prepare_cached(
                "DELETE FROM webhook_items WHERE webhook = ?1 AND NOT EXISTS
                 (SELECT 1 FROM items i WHERE i.id = item_id AND i.hidden IS NULL)",
            )?
            .execute([webhook])?;
        let columns = columns(self.db.backend());
        let mut query = self.db.prepare_cached(&format!(
            "SELECT {columns}, w.item_id FROM webhook_items w
             JOIN items i ON i.id = w.item_id JOIN sources s ON s.id = i.source_id
             WHERE w.webhook = ?1 ORDER BY w.item_id LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query.query_map(params![webhook, limit], |row| {
            let id: i64 = row.get("item_id")?;
            Ok((id, read_stored_item(row)?))
        })?;
        let mut ids = Vec::new();
        let mut items = Vec::new();
        for row in rows {
            let (id, item) = row?;
            ids.push(id);
            items.push(item);
        }
        Ok((ids, items))
    }

    /// Queues a delivery of `body` for `webhook` and takes `items` off its list, at once.
    pub fn queue_delivery(
        &mut self,
        webhook: &str,
        delivery_id: &str,
        body: &[u8],
        items: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.prepare_cached(
            "INSERT INTO webhook_deliveries
                 (webhook, delivery_id, body, items, created_at, next_try_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![
            webhook,
            delivery_id,
            body,
            items.len() as i64,
            to_unix(now)
        ])?;
        for id in items {
            tx.prepare_cached("DELETE FROM webhook_items WHERE webhook = ?1 AND item_id = ?2")?
                .execute(params![webhook, id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The oldest delivery waiting for `webhook`.
    pub fn next_delivery(&self, webhook: &str) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT id, delivery_id, body, created_at, tries, next_try_at
                 FROM webhook_deliveries WHERE webhook = ?1 ORDER BY id LIMIT 1",
            )?
            .query_row([webhook], |row| {
                Ok(Delivery {
                    row: row.get(0)?,
                    delivery_id: row.get(1)?,
                    body: row.get(2)?,
                    created_at: from_unix(row.get(3)?),
                    tries: row.get(4)?,
                    next_try_at: from_unix(row.get(5)?),
                })
            })
            .optional()?)
    }

    /// The delivery passed (or was given up, with `error`): off the queue.
    pub fn delivery_done(
        &mut self,
        webhook: &str,
        row: i64,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM webhook_deliveries WHERE id = ?1", [row])?;
        upsert_webhook(&tx, webhook)?;
        match error {
            None => tx.execute(
                "UPDATE webhooks SET last_delivered_at = ?2 WHERE url = ?1",
                params![webhook, to_unix(now)],
            )?,
            Some(error) => tx.execute(
                "UPDATE webhooks SET last_error = ?2, last_error_at = ?3 WHERE url = ?1",
                params![webhook, error, to_unix(now)],
            )?,
        };
        tx.commit()?;
        Ok(())
    }

    /// The delivery failed: tried again at `next_try_at`.
    pub fn delivery_failed(
        &mut self,
        webhook: &str,
        row: i64,
        error: &str,
        next_try_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE webhook_deliveries SET tries = tries + 1, next_try_at = ?2, last_error = ?3
             WHERE id = ?1",
            params![row, to_unix(next_try_at), error],
        )?;
        upsert_webhook(&tx, webhook)?;
        tx.execute(
            "UPDATE webhooks SET last_error = ?2, last_error_at = ?3 WHERE url = ?1",
            params![webhook, error, to_unix(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Drops the queues of webhooks no longer configured; how many deliveries went.
    pub fn forget_webhooks_but(&mut self, kept: &[String]) -> Result<usize, StoreError> {
        let kept = serde_json::to_string(kept)?;
        let tx = self.db.transaction()?;
        let kept_urls = tx.backend().json_values("?1");
        let dropped = tx.prepare(&format!(
            "DELETE FROM webhook_deliveries WHERE webhook NOT IN (SELECT value FROM {kept_urls})"
        ))?
        .execute([&kept])?;
        tx.prepare(&format!(
            "DELETE FROM webhook_items WHERE webhook NOT IN (SELECT value FROM {kept_urls})"
        ))?
        .execute([&kept])?;
        tx.commit()?;
        Ok(dropped)
    }

    /// How `webhook`'s deliveries stand.
    pub fn webhook_status(&self, webhook: &str) -> Result<WebhookStatus, StoreError> {
        let (queued, oldest): (i64, Option<i64>) = self.db.query_row(
            "SELECT count(*), min(created_at) FROM webhook_deliveries WHERE webhook = ?1",
            [webhook],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let items_waiting: i64 = self.db.query_row(
            "SELECT count(*) FROM webhook_items WHERE webhook = ?1",
            [webhook],
            |row| row.get(0),
        )?;
        let kept = self
            .db
            .query_row(
                "SELECT last_delivered_at, last_error, last_error_at FROM webhooks WHERE url = ?1",
                [webhook],
                |row| {
                    Ok((
                        row.get::<_, Option<i64>>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()?;
        let (delivered, error, error_at) = kept.unwrap_or_default();
        Ok(WebhookStatus {
            queued,
            items_waiting,
            oldest: oldest.map(from_unix),
            last_delivered_at: delivered.map(from_unix),
            last_error: error.zip(error_at.map(from_unix)),
        })
    }
}

fn upsert_webhook(tx: &Db, webhook: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO webhooks (url) VALUES (?1) ON CONFLICT DO NOTHING",
        [webhook],
    )?;
    Ok(())
}

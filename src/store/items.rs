//! Items: stored once per source and key, updated in place when what a reader sees changes.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use sha2::{Digest, Sha256};

use super::sources::{add_event, save_state, upsert_source};
use super::{Store, StoreError, from_unix, to_unix};
use crate::config::SourceConfig;
use crate::model::{
    FeedMeta, FetchState, HealthEvent, Item, ItemCounts, Publisher, StoredItem, Text,
};

/// One poll of a source, to record in one transaction.
#[derive(Debug)]
pub struct Poll<'a> {
    pub at: DateTime<Utc>,
    /// The source's state after this poll.
    pub state: &'a FetchState,
    /// The feed, when one was read.
    pub feed: Option<(&'a FeedMeta, &'a [Item])>,
    /// A change in the source's health, if this poll made one.
    pub event: Option<&'a HealthEvent>,
}

impl Store {
    /// Records a poll of `source` in one transaction: its new state, the feed's metadata, each
    /// item new (inserted), changed (updated in place) or unchanged, and any health event.
    /// Items missing from this fetch stay stored.
    pub fn record_poll(
        &mut self,
        source: &SourceConfig,
        poll: &Poll<'_>,
    ) -> Result<ItemCounts, StoreError> {
        let tx = self.conn.transaction()?;
        let source_id = upsert_source(&tx, &source.url, source.name.as_deref())?;
        save_state(&tx, source_id, poll.state, poll.feed.map(|f| f.0), poll.at)?;
        let mut counts = ItemCounts::default();
        // Feeds list their newest item first; storing oldest first makes the row order (the
        // tie-break among items of the same date) match the publisher's order.
        for item in poll.feed.map_or(&[][..], |f| f.1).iter().rev() {
            match store_item(&tx, source_id, item, poll.at)? {
                Stored::New => counts.new += 1,
                Stored::Updated => counts.updated += 1,
                Stored::Unchanged => counts.unchanged += 1,
            }
        }
        if let Some(event) = poll.event {
            add_event(&tx, source_id, event, poll.at)?;
        }
        tx.commit()?;
        Ok(counts)
    }

    /// The newest `limit` items of every source, newest first, with their publishers.
    pub fn newest_items(&self, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        let mut query = self.conn.prepare_cached(
            "SELECT i.key, i.guid, i.link, i.title, i.summary, i.summary_html, i.content,
                    i.content_html, i.authors, i.published, i.updated, i.first_seen,
                    COALESCE(s.name, s.feed_title, s.url), s.url, s.feed_link, s.feed_id
             FROM items i JOIN sources s ON s.id = i.source_id
             ORDER BY i.sort_at DESC, i.id DESC
             LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let items = query
            .query_map([limit], read_stored_item)?
            .collect::<Result<_, _>>()?;
        Ok(items)
    }
}

enum Stored {
    New,
    Updated,
    Unchanged,
}

fn store_item(
    tx: &Transaction<'_>,
    source_id: i64,
    item: &Item,
    now: DateTime<Utc>,
) -> Result<Stored, StoreError> {
    let authors = serde_json::to_string(&item.authors)?;
    let print = fingerprint(item, &authors);
    let existing: Option<(i64, String, Option<i64>)> = tx
        .query_row(
            "SELECT id, fingerprint, updated FROM items WHERE source_id = ?1 AND key = ?2",
            params![source_id, item.key],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let (summary, summary_html) = split_text(&item.summary);
    let (content, content_html) = split_text(&item.content);
    match existing {
        None => {
            let published = item.published.or(item.updated).map(to_unix);
            let first_seen = to_unix(now);
            let sort_at = published.unwrap_or(first_seen).min(first_seen);
            tx.execute(
                "INSERT INTO items (source_id, key, guid, link, title, summary, summary_html,
                     content, content_html, authors, published, updated, first_seen, sort_at,
                     fingerprint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    source_id,
                    item.key,
                    item.guid,
                    item.link,
                    item.title,
                    summary,
                    summary_html,
                    content,
                    content_html,
                    authors,
                    published,
                    item.updated.map(to_unix),
                    first_seen,
                    sort_at,
                    print,
                ],
            )?;
            Ok(Stored::New)
        }
        Some((_, stored_print, _)) if stored_print == print => Ok(Stored::Unchanged),
        Some((id, _, stored_updated)) => {
            // The publisher's new `updated` if it moved forward, else the time we saw the change.
            let updated = item
                .updated
                .map(to_unix)
                .filter(|u| stored_updated.is_none_or(|s| *u > s))
                .unwrap_or_else(|| to_unix(now));
            tx.execute(
                "UPDATE items SET guid = ?2, link = ?3, title = ?4, summary = ?5, summary_html = ?6,
                     content = ?7, content_html = ?8, authors = ?9, updated = ?10,
                     fingerprint = ?11
                 WHERE id = ?1",
                params![
                    id,
                    item.guid,
                    item.link,
                    item.title,
                    summary,
                    summary_html,
                    content,
                    content_html,
                    authors,
                    updated,
                    print,
                ],
            )?;
            Ok(Stored::Updated)
        }
    }
}

/// A digest of what a reader sees of an item. Dates are left out on purpose: feeds that restamp
/// every item on each build would otherwise look changed on every poll.
fn fingerprint(item: &Item, authors_json: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        item.title.as_deref(),
        item.link.as_deref(),
        item.summary.as_ref().map(|t| t.body.as_str()),
        item.content.as_ref().map(|t| t.body.as_str()),
        Some(authors_json),
    ] {
        hasher.update(part.unwrap_or_default().as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn split_text(text: &Option<Text>) -> (Option<&str>, bool) {
    match text {
        Some(t) => (Some(t.body.as_str()), t.is_html),
        None => (None, false),
    }
}

fn join_text(body: Option<String>, is_html: bool) -> Option<Text> {
    body.map(|body| Text { body, is_html })
}

fn read_stored_item(row: &Row<'_>) -> rusqlite::Result<StoredItem> {
    let authors: String = row.get(8)?;
    let authors = serde_json::from_str(&authors).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let item = Item {
        key: row.get(0)?,
        guid: row.get(1)?,
        link: row.get(2)?,
        title: row.get(3)?,
        summary: join_text(row.get(4)?, row.get(5)?),
        content: join_text(row.get(6)?, row.get(7)?),
        authors,
        published: row.get::<_, Option<i64>>(9)?.map(from_unix),
        updated: row.get::<_, Option<i64>>(10)?.map(from_unix),
    };
    let stored = StoredItem {
        item,
        first_seen: from_unix(row.get(11)?),
        publisher: Publisher {
            name: row.get(12)?,
            feed_url: row.get(13)?,
            site: row.get(14)?,
            id: row.get(15)?,
        },
    };
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceLocation;
    use crate::model::Author;
    use std::path::PathBuf;
    use std::time::Duration;

    fn source(url: &str, name: Option<&str>) -> SourceConfig {
        SourceConfig {
            name: name.map(String::from),
            url: url.into(),
            location: SourceLocation::File(PathBuf::from("x.xml")),
            interval: Duration::from_secs(60),
            tags: vec![],
            declared_in: PathBuf::from("tributary.toml"),
        }
    }

    fn item(key: &str, title: &str, published: Option<&str>) -> Item {
        Item {
            key: key.into(),
            guid: Some(key.into()),
            link: Some(format!("https://p.example/{key}")),
            title: Some(title.into()),
            summary: None,
            content: Some(Text {
                body: format!("<p>{title}</p>"),
                is_html: true,
            }),
            authors: vec![Author {
                name: "Ann".into(),
                ..Author::default()
            }],
            published: published.and_then(|p| p.parse().ok()),
            updated: None,
        }
    }

    /// Records a successful fetch of `items`.
    fn fetched(
        store: &mut Store,
        src: &SourceConfig,
        meta: &FeedMeta,
        items: &[Item],
        at: DateTime<Utc>,
    ) -> ItemCounts {
        let state = FetchState {
            last_status: Some("ok".into()),
            ..FetchState::default()
        };
        let poll = Poll {
            at,
            state: &state,
            feed: Some((meta, items)),
            event: None,
        };
        store.record_poll(src, &poll).unwrap()
    }

    fn newest_keys(store: &Store, limit: usize) -> Vec<String> {
        let items = store.newest_items(limit).unwrap();
        items.into_iter().map(|i| i.item.key).collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn new_changed_and_unchanged_items_are_counted_and_stored_once() {
        let mut store = Store::open_in_memory().unwrap();
        let src = source("https://p.example/feed", Some("P"));
        let meta = FeedMeta::default();
        let first = [
            item("a", "A", Some("2025-01-02T00:00:00Z")),
            item("b", "B", Some("2025-01-01T00:00:00Z")),
        ];
        let counts = fetched(&mut store, &src, &meta, &first, at("2025-01-03T00:00:00Z"));
        assert_eq!((counts.new, counts.updated, counts.unchanged), (2, 0, 0));

        let second = [item("a", "A, revised", Some("2025-01-02T00:00:00Z"))];
        let counts = fetched(&mut store, &src, &meta, &second, at("2025-01-04T00:00:00Z"));
        assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 1, 0));

        let items = store.newest_items(10).unwrap();
        assert_eq!(items.len(), 2, "b vanished from the feed but stays stored");
        assert_eq!(items[0].item.title.as_deref(), Some("A, revised"));
        assert_eq!(items[0].item.updated, Some(at("2025-01-04T00:00:00Z")));
        assert_eq!(items[0].item.authors[0].name, "Ann");
        assert_eq!(items[0].publisher.name, "P");
        assert_eq!(items[1].item.key, "b");

        let counts = fetched(&mut store, &src, &meta, &second, at("2025-01-05T00:00:00Z"));
        assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 0, 1));
    }

    #[test]
    fn items_dated_in_the_future_sort_as_first_seen() {
        let mut store = Store::open_in_memory().unwrap();
        let src = source("https://p.example/feed", None);
        let now = at("2025-06-01T00:00:00Z");
        let items = [
            item("future", "F", Some("2099-01-01T00:00:00Z")),
            item("recent", "R", Some("2025-05-31T00:00:00Z")),
        ];
        fetched(&mut store, &src, &FeedMeta::default(), &items, now);
        let later = [item("newer", "N", Some("2025-06-02T00:00:00Z"))];
        fetched(
            &mut store,
            &src,
            &FeedMeta::default(),
            &later,
            at("2025-06-03T00:00:00Z"),
        );
        assert_eq!(newest_keys(&store, 10), ["newer", "future", "recent"]);
    }

    #[test]
    fn undated_items_keep_the_publishers_order() {
        let mut store = Store::open_in_memory().unwrap();
        let src = source("https://p.example/feed", None);
        let items = [
            item("1", "1", None),
            item("2", "2", None),
            item("3", "3", None),
        ];
        fetched(
            &mut store,
            &src,
            &FeedMeta::default(),
            &items,
            at("2025-06-01T00:00:00Z"),
        );
        assert_eq!(newest_keys(&store, 2), ["1", "2"]);
    }

    #[test]
    fn the_feed_title_names_a_source_without_a_configured_name() {
        let mut store = Store::open_in_memory().unwrap();
        let src = source("https://p.example/feed", None);
        let meta = FeedMeta {
            title: Some("Publisher's own title".into()),
            link: Some("https://p.example/".into()),
            id: None,
        };
        fetched(
            &mut store,
            &src,
            &meta,
            &[item("a", "A", None)],
            at("2025-06-01T00:00:00Z"),
        );
        let items = store.newest_items(1).unwrap();
        assert_eq!(items[0].publisher.name, "Publisher's own title");
        assert_eq!(
            items[0].publisher.site.as_deref(),
            Some("https://p.example/")
        );
        let status = store.source_statuses(&[src]).unwrap();
        assert_eq!(status[0].name, "Publisher's own title");
        assert_eq!(status[0].items, 1);
        assert_eq!(status[0].state.last_status.as_deref(), Some("ok"));
    }
}

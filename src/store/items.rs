//! Items as the outputs read them.

use rusqlite::Row;

use super::{Store, StoreError, from_unix};
use crate::model::{Item, Publisher, StoredItem, Text};

impl Store {
    /// The newest `limit` items, newest first, with their publishers: of every source ever
    /// stored, or only of the sources with these URLs.
    pub fn newest_items(
        &self,
        limit: usize,
        only: Option<&[String]>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut query = self.conn.prepare_cached(
            "SELECT i.key, i.guid, i.link, i.title, i.summary, i.summary_html, i.content,
                    i.content_html, i.authors, i.published, i.updated, i.first_seen,
                    COALESCE(s.name, s.feed_title, s.url), s.url, s.feed_link, s.feed_id,
                    i.public_id, i.enclosures, i.categories, i.image
             FROM items i JOIN sources s ON s.id = i.source_id
             WHERE ?2 IS NULL OR s.url IN (SELECT value FROM json_each(?2))
             ORDER BY i.sort_at DESC, i.id DESC
             LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let only = only.map(serde_json::to_string).transpose()?;
        let items = query
            .query_map(rusqlite::params![limit, only], read_stored_item)?
            .collect::<Result<_, _>>()?;
        Ok(items)
    }
}

fn join_text(body: Option<String>, is_html: bool) -> Option<Text> {
    body.map(|body| Text { body, is_html })
}

fn read_stored_item(row: &Row<'_>) -> rusqlite::Result<StoredItem> {
    let authors = json(row, 8)?;
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
        enclosures: json(row, 17)?,
        categories: json(row, 18)?,
        image: row.get(19)?,
    };
    let stored = StoredItem {
        id: row.get(16)?,
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

/// A JSON column decoded into `T`.
fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

//! Items as the outputs read them.

use super::db::{Backend, DbError, Row};
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{Category, Item, Publisher, StoredItem, Text};
use crate::rules::Rewritten;

/// The columns `read_stored_item` reads, of `items i` joined with `sources s`.
pub(super) fn columns(backend: Backend) -> String {
    let also_via = backend.json_array_of("COALESCE(o.name, o.feed_title, o.url)");
    format!(
        "i.key, i.guid, i.link, i.title, i.summary, i.summary_html,
            i.content, i.content_html, i.authors, i.published, i.updated, i.first_seen,
            COALESCE(s.name, s.feed_title, s.url) AS publisher, s.url AS feed_url, s.feed_link,
            s.feed_id, i.public_id, i.enclosures, i.categories, i.image, i.sort_at, i.id,
            i.link_title, i.links, i.tags, i.rewritten, i.full_text,
            (SELECT {also_via} FROM item_sources v JOIN sources o ON o.id = v.source_id
             WHERE v.item_id = i.id) AS also_via, s.feed_description, i.source_id,
            COALESCE((SELECT st.story FROM stories st WHERE st.item_id = i.id), i.id) AS story"
    )
}

impl Store {
    /// The newest items that pass `filter`, newest first, with their publishers and, when
    /// stories are on, the other versions of their stories.
    pub fn items(&self, filter: &ItemFilter) -> Result<Vec<StoredItem>, StoreError> {
        let mut rows = match (filter.one_per_story, &self.stories) {
            (true, Some(_)) => self.one_per_story(filter)?,
            _ => self.rows_of_items(filter)?,
        };
        self.with_story_versions(&mut rows)?;
        Ok(rows.into_iter().map(|row| row.item).collect())
    }

    /// Gives each of `rows` the versions of its story, when stories are on and it has others.
    pub fn with_story_versions(&self, rows: &mut [ItemRow]) -> Result<(), StoreError> {
        if self.stories.is_none() {
            return Ok(());
        }
        let stories: Vec<i64> = rows.iter().map(|row| row.story).collect();
        let versions = self.story_versions(&stories)?;
        for row in rows {
            if let Some(all) = versions.get(&row.story).filter(|v| v.len() > 1) {
                row.item.story = all.clone();
            }
        }
        Ok(())
    }

    /// The items that pass `filter`, one per story: where several versions of a story pass it,
    /// the first stored stands for them, in its own place (a later copy never re-dates it). As
    /// many as `filter.limit`: more are read while versions fill the limit.
    fn one_per_story(&self, filter: &ItemFilter) -> Result<Vec<ItemRow>, StoreError> {
        let mut limit = filter.limit;
        loop {
            let rows = self.rows_of_items(&ItemFilter {
                limit,
                ..filter.clone()
            })?;
            let all_read = rows.len() < limit;
            let mut first: HashMap<i64, i64> = HashMap::new();
            for row in &rows {
                let id = first.entry(row.story).or_insert(row.id);
                *id = (*id).min(row.id);
            }
            let kept: Vec<ItemRow> = rows
                .into_iter()
                .filter(|row| first.get(&row.story) == Some(&row.id))
                .collect();
            if kept.len() >= filter.limit || all_read || limit == usize::MAX {
                return Ok(kept.into_iter().take(filter.limit).collect());
            }
            limit = limit.saturating_mul(2);
        }
    }

    /// [`Store::items`], each with its row's id and its source's.
    pub fn rows_of_items(&self, filter: &ItemFilter) -> Result<Vec<ItemRow>, StoreError> {
        let sql = filtered(self.db.backend(), filter, &columns(self.db.backend()));
        let bound = Bound::of(filter)?;
        let mut query = self.db.prepare_cached(&sql)?;
        let items = query
            .query_map(bound.params(), |row| {
                Ok(ItemRow {
                    id: row.get(21)?,
                    source: row.get(29)?,
                    story: row.get(30)?,
                    item: read_stored_item(row)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(items)
    }

    /// Where the items that pass `filter` go on the site, newest first: their ids, sources,
    /// dates and own tags, without their content.
    pub fn placements(&self, filter: &ItemFilter) -> Result<Vec<Placement>, StoreError> {
        let sql = filtered(
            self.db.backend(),
            filter,
            "i.id, i.public_id, i.source_id, i.sort_at, i.tags, s.url",
        );
        let bound = Bound::of(filter)?;
        let mut query = self.db.prepare_cached(&sql)?;
        let placements = query
            .query_map(bound.params(), |row| {
                let tags: Vec<String> = json(row, 4)?;
                Ok(Placement {
                    item: row.get(0)?,
                    public_id: row.get(1)?,
                    source: row.get(2)?,
                    sort_at: row.get(3)?,
                    tags,
                    source_url: row.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(placements)
    }

    /// The row ids of the items that pass `filter`, newest first.
    pub fn item_ids(&self, filter: &ItemFilter) -> Result<Vec<i64>, StoreError> {
        let sql = filtered(self.db.backend(), filter, "i.id, i.sort_at");
        let bound = Bound::of(filter)?;
        let mut query = self.db.prepare_cached(&sql)?;
        let ids = query
            .query_map(bound.params(), |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// The items with these row ids, with their publishers, in no particular order.
    pub fn items_by_row(&self, ids: &[i64]) -> Result<Vec<ItemRow>, StoreError> {
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            items.extend(self.rows_of_items(&ItemFilter {
                limit: usize::MAX,
                ids: Some(chunk.to_vec()),
                with_hidden: true,
                ..ItemFilter::default()
            })?);
        }
        Ok(items)
    }
}

/// A stored item with the ids of its row and of its source's.
#[derive(Debug, Clone)]
pub struct ItemRow {
    /// Its row's id.
    pub id: i64,
    /// Its source's row id.
    pub source: i64,
    /// Its story's lead's row id (its own when it leads one, or is alone).
    pub story: i64,
    /// The item.
    pub item: StoredItem,
}

/// Where an item goes on the site, as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Its row's id.
    pub item: i64,
    /// The id the outputs give it.
    pub public_id: String,
    /// Its source's row id.
    pub source: i64,
    /// Where it sorts, in seconds since 1970.
    pub sort_at: i64,
    /// Its tags: its own (from rules) as read; the site adds its source's.
    pub tags: Vec<String>,
    /// Its source's URL.
    pub source_url: String,
}

/// The SELECT of `select` for the items that pass `filter`, newest first. Every condition is
/// written out and switched off by a NULL, so that one prepared statement serves every output.
fn filtered(backend: super::db::Backend, filter: &ItemFilter, select: &str) -> String {
    let values = |array| backend.json_values(array);
    let in_title = |word| backend.contains("lower(coalesce(i.title, ''))", word);
    let conditions = format!(
        "{hidden}
        AND (CAST(?2 AS TEXT) IS NULL OR s.url IN (SELECT value FROM {only}))
        AND (CAST(?7 AS TEXT) IS NULL OR s.url IN (SELECT value FROM {tagged_sources})
             OR EXISTS (SELECT 1 FROM {tags}
                        WHERE value IN (SELECT value FROM {tagged})))
        AND (CAST(?3 AS BIGINT) IS NULL OR i.sort_at >= ?3)
        AND (CAST(?4 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM {include} WHERE {included}))
        AND (CAST(?5 AS TEXT) IS NULL OR NOT EXISTS (SELECT 1 FROM {exclude} WHERE {excluded}))
        AND {ids}
        AND {saved}",
        // Both are written in or out rather than switched by a parameter: a condition that
        // may be off keeps the database from finding the rows by their ids.
        hidden = if filter.with_hidden {
            "CAST(?10 AS BIGINT) IS NOT NULL"
        } else {
            "i.hidden IS NULL AND CAST(?10 AS BIGINT) IS NULL"
        },
        ids = if filter.ids.is_some() {
            format!(
                "i.id IN (SELECT CAST(value AS BIGINT) FROM {})",
                values("?9")
            )
        } else {
            "CAST(?9 AS TEXT) IS NULL".to_string()
        },
        saved = if filter.saved.is_some() {
            "i.id IN (SELECT item_id FROM saved_matches WHERE query = CAST(?11 AS TEXT))"
        } else {
            "CAST(?11 AS TEXT) IS NULL"
        },
        only = values("?2"),
        tagged_sources = values("?7"),
        tags = values("i.tags"),
        tagged = values("?8"),
        include = values("?4"),
        included = in_title("value"),
        exclude = values("?5"),
        excluded = in_title("value"),
    );
    if filter.per_source.is_some() {
        format!(
            "SELECT * FROM (
                 SELECT {select}, ROW_NUMBER() OVER (
                     PARTITION BY i.source_id ORDER BY i.sort_at DESC, i.id DESC) AS rank
                 FROM items i JOIN sources s ON s.id = i.source_id WHERE {conditions})
                 AS ranked
             WHERE rank <= ?6 ORDER BY sort_at DESC, id DESC LIMIT ?1"
        )
    } else {
        // `?6` (per source) is unset here, but must appear for the parameters to bind.
        format!(
            "SELECT {select} FROM items i JOIN sources s ON s.id = i.source_id
             WHERE {conditions} AND CAST(?6 AS BIGINT) IS NULL
             ORDER BY i.sort_at DESC, i.id DESC LIMIT ?1"
        )
    }
}

/// The values a [`filtered`] statement binds, ?1 to ?11.
struct Bound {
    limit: i64,
    only: Option<String>,
    since: Option<i64>,
    include: Option<String>,
    exclude: Option<String>,
    per_source: Option<i64>,
    tagged_sources: Option<String>,
    tagged: Option<String>,
    ids: Option<String>,
    with_hidden: Option<i64>,
    saved: Option<String>,
}

impl Bound {
    fn of(filter: &ItemFilter) -> Result<Bound, serde_json::Error> {
        let json_list = |words: &[String]| -> Result<Option<String>, serde_json::Error> {
            match words {
                [] => Ok(None),
                words => serde_json::to_string(words).map(Some),
            }
        };
        Ok(Bound {
            limit: i64::try_from(filter.limit).unwrap_or(i64::MAX),
            only: filter
                .only
                .as_deref()
                .map(serde_json::to_string)
                .transpose()?,
            since: filter.since.map(to_unix),
            include: json_list(&filter.include)?,
            exclude: json_list(&filter.exclude)?,
            per_source: filter
                .per_source
                .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            tagged_sources: filter
                .tagged
                .as_ref()
                .map(|t| serde_json::to_string(&t.sources))
                .transpose()?,
            tagged: filter
                .tagged
                .as_ref()
                .map(|t| serde_json::to_string(&t.tags))
                .transpose()?,
            ids: filter
                .ids
                .as_deref()
                .map(serde_json::to_string)
                .transpose()?,
            with_hidden: Some(1).filter(|_| filter.with_hidden),
            saved: filter.saved.clone(),
        })
    }

    fn params(&self) -> [&dyn rusqlite::ToSql; 11] {
        [
            &self.limit,
            &self.only,
            &self.since,
            &self.include,
            &self.exclude,
            &self.per_source,
            &self.tagged_sources,
            &self.tagged,
            &self.ids,
            &self.with_hidden,
            &self.saved,
        ]
    }
}

/// Which stored items an output takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemFilter {
    /// The most items.
    pub limit: usize,
    /// Only items of the sources with these URLs; `None` for every source ever stored.
    pub only: Option<Vec<String>>,
    /// Only items published since then.
    pub since: Option<DateTime<Utc>>,
    /// The most items of any one source.
    pub per_source: Option<usize>,
    /// Only items whose title contains one of these (lower-case) words.
    pub include: Vec<String>,
    /// No item whose title contains one of these (lower-case) words.
    pub exclude: Vec<String>,
    /// Only items of these sources or carrying one of these tags.
    pub tagged: Option<Tagged>,
    /// Only the items with these row ids.
    pub ids: Option<Vec<i64>>,
    /// Hidden items too (for [`Store::items_by_row`], which reads what the site placed).
    pub with_hidden: bool,
    /// Only the matches of the saved search with this key (`search::Query::key`).
    pub saved: Option<String>,
    /// One entry per story (when stories are on): `[[outputs]] stories = "collapse"`.
    pub one_per_story: bool,
}

/// An output's `tags`: the sources that carry one, and the tags themselves, which items carry
/// too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tagged {
    /// The URLs of the sources with one of the tags.
    pub sources: Vec<String>,
    /// The tags.
    pub tags: Vec<String>,
}

fn join_text(body: Option<String>, is_html: bool) -> Option<Text> {
    body.map(|body| Text { body, is_html })
}

pub(super) fn read_stored_item(row: &Row<'_>) -> super::db::Result<StoredItem> {
    let authors = json(row, 8)?;
    let mut item = Item {
        key: row.get(0)?,
        aliases: Vec::new(),
        guid: row.get(1)?,
        link: row.get(2)?,
        link_title: row.get(22)?,
        links: json(row, 23)?,
        title: row.get(3)?,
        summary: join_text(row.get(4)?, row.get(5)?),
        content: join_text(row.get(6)?, row.get(7)?),
        authors,
        published: row.get::<_, Option<i64>>(9)?.map(from_unix),
        updated: row.get::<_, Option<i64>>(10)?.map(from_unix),
        enclosures: json(row, 17)?,
        categories: json(row, 18)?,
        image: row.get(19)?,
        digest: String::new(),
        unchanged: false,
    };
    let full_text: Option<String> = row.get(26)?;
    if let Some(body) = full_text {
        item.content = Some(Text {
            body,
            is_html: true,
        });
    }
    let rewritten: Option<String> = row.get(25)?;
    if let Some(rewritten) = rewritten {
        shaped(
            &mut item,
            serde_json::from_str(&rewritten).map_err(|e| json_error(25, e))?,
        );
    }
    let tags: Vec<String> = json(row, 24)?;
    for tag in &tags {
        if !item.categories.iter().any(|c| c.shown() == tag) {
            item.categories.push(Category::new(tag.clone()));
        }
    }
    let also_via: Vec<String> = json(row, 27)?;
    let also_via = also_via.into_iter().map(shown).collect();
    let stored = StoredItem {
        also_via,
        story: Vec::new(),
        tags,
        sort_at: from_unix(row.get(20)?),
        id: row.get(16)?,
        item,
        first_seen: from_unix(row.get(11)?),
        // A source's URL is published as it may be shown: never its credentials.
        publisher: Publisher {
            name: shown(row.get(12)?),
            feed_url: shown(row.get(13)?),
            site: row.get(14)?,
            id: row.get(15)?,
            description: row.get(28)?,
        },
    };
    Ok(stored)
}

/// `item` as its rewrites made it.
pub(super) fn shaped(item: &mut Item, rewritten: Rewritten) {
    let Rewritten {
        title,
        summary,
        content,
        link,
    } = rewritten;
    item.title = title.or(item.title.take());
    item.link = link.or(item.link.take());
    for (slot, new) in [(&mut item.summary, summary), (&mut item.content, content)] {
        if let (Some(text), Some(body)) = (slot.as_mut(), new) {
            text.body = body;
        }
    }
}

/// A JSON column decoded into `T`.
fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> super::db::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| json_error(index, e))
}

fn json_error(column: usize, error: serde_json::Error) -> DbError {
    DbError::Column {
        column,
        error: Box::new(error),
    }
}

/// `text` without the credentials a URL in it may carry (see [`crate::sanitize::shown_url`]).
pub(super) fn shown(text: String) -> String {
    match crate::sanitize::shown_url(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(shown) => shown,
    }
}

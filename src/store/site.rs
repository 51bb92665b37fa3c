//! What the last render wrote, kept so that the next one does only what changed: the log of
//! item changes since, where each item of the site was placed, the publishers' page names and
//! the digests of what the outputs were made from.

use std::collections::HashMap;

use super::db::Optional;
use super::items::{Placement, shown};
use super::{Store, StoreError};
use crate::model::Publisher;

/// Which of the site's items a list is of.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every item.
    All,
    /// The items of one source (its row id).
    Source(i64),
    /// The items with one tag.
    Tag(&'a str),
}

/// The changes a render read from the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// The numbers of the rows read, as runs `(first, last)`.
    pub seen: Vec<(i64, i64)>,
    /// The row ids of the items changed, in the log's order (repeats included); `None` when
    /// there were more than asked for.
    pub items: Option<Vec<i64>>,
}

impl Changes {
    /// Whether anything was logged.
    pub fn any(&self) -> bool {
        !self.seen.is_empty()
    }
}

/// What the site shows of a publisher in its list: how many items, and the newest's date.
#[derive(Debug, Clone)]
pub struct PublisherCount {
    /// The source's row id.
    pub source: i64,
    /// Its items on the site.
    pub items: usize,
    /// Where its newest item sorts, in seconds since 1970.
    pub newest: i64,
}

impl Store {
    /// The changes logged since the last render took them, read row by row: the numbers seen
    /// (as runs, for [`Store::forget_item_changes`]) and the row ids of the items changed, up
    /// to `most` of them (`None` past that: a render then takes everything). A cold start's
    /// million new items cost a few runs, not a million numbers.
    pub fn item_changes(&self, most: usize) -> Result<Changes, StoreError> {
        let mut query = self
            .db
            .prepare_cached("SELECT seq, item_id FROM item_changes ORDER BY seq")?;
        let mut changes = Changes {
            seen: Vec::new(),
            items: Some(Vec::new()),
        };
        let rows = query.query_map(rusqlite::params![], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (seq, item) = row?;
            match changes.seen.last_mut() {
                Some((_, last)) if *last + 1 == seq => *last = seq,
                _ => changes.seen.push((seq, seq)),
            }
            if let Some(items) = changes.items.as_mut() {
                items.push(item);
                if items.len() > most {
                    changes.items = None;
                }
            }
        }
        Ok(changes)
    }

    /// The changes a render took, forgotten: exactly those (a change logged meanwhile by
    /// another instance stays, whatever its number).
    pub fn forget_item_changes(&mut self, seen: &[(i64, i64)]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        for (first, last) in seen {
            tx.prepare_cached("DELETE FROM item_changes WHERE seq >= ?1 AND seq <= ?2")?
                .execute([first, last])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The row ids of the source at `url`'s items, and of those the site placed from it.
    pub fn items_of_source(&self, url: &str) -> Result<Vec<i64>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT id FROM items WHERE source_id = (SELECT id FROM sources WHERE url = ?1)
             UNION SELECT item_id FROM site_items
                   WHERE source_id = (SELECT id FROM sources WHERE url = ?1)",
        )?;
        let ids = query
            .query_map([url], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// A value the renders keep (a digest, a token).
    pub fn render_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row(
                "SELECT value FROM render_state WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets (or, with `None`, forgets) a value the renders keep.
    pub fn set_render_state(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.db.execute(
                "INSERT INTO render_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?,
            None => self
                .db
                .execute("DELETE FROM render_state WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// What each source contributed to the site when it was last written, as a digest.
    pub fn site_sources(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut query = self
            .db
            .prepare_cached("SELECT url, digest FROM site_sources")?;
        let rows = query
            .query_map(rusqlite::params![], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Replaces what [`Store::site_sources`] holds.
    pub fn set_site_sources(&mut self, digests: &[(String, String)]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM site_sources", rusqlite::params![])?;
        for (url, digest) in digests {
            tx.prepare_cached("INSERT INTO site_sources (url, digest) VALUES (?1, ?2)")?
                .execute([url, digest])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Where the site placed the items with these row ids (those it did).
    pub fn site_placements(&self, ids: &[i64]) -> Result<Vec<Placement>, StoreError> {
        let sql = format!(
            "SELECT item_id, public_id, source_id, sort_at, tags FROM site_items
             WHERE item_id IN (SELECT CAST(value AS BIGINT) FROM {})",
            self.db.backend().json_values("?1")
        );
        let mut placed = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let mut query = self.db.prepare_cached(&sql)?;
            let rows = query.query_map([serde_json::to_string(chunk)?], |r| {
                let tags: String = r.get(4)?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, tags))
            })?;
            for row in rows {
                let (item, public_id, source, sort_at, tags) = row?;
                placed.push(Placement {
                    item,
                    public_id,
                    source,
                    sort_at,
                    tags: serde_json::from_str(&tags)?,
                    source_url: String::new(),
                });
            }
        }
        Ok(placed)
    }

    /// The row ids of every item the site placed.
    pub fn site_item_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut query = self.db.prepare_cached("SELECT item_id FROM site_items")?;
        let ids = query
            .query_map(rusqlite::params![], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Records the site's new placements: `removed` leave it, `placed` (with their tags as the
    /// site shows them) are put where they now are.
    pub fn place_on_site(
        &mut self,
        removed: &[i64],
        placed: &[Placement],
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        let mut sources: Vec<i64> = placed.iter().map(|p| p.source).collect();
        for id in removed.iter().chain(placed.iter().map(|p| &p.item)) {
            let was: Option<i64> = tx
                .prepare_cached("SELECT source_id FROM site_items WHERE item_id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            sources.extend(was);
            tx.prepare_cached("DELETE FROM site_items WHERE item_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM site_tags WHERE item_id = ?1")?
                .execute([id])?;
        }
        for p in placed {
            tx.prepare_cached(
                "INSERT INTO site_items (item_id, public_id, source_id, sort_at, tags)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(rusqlite::params![
                p.item,
                p.public_id,
                p.source,
                p.sort_at,
                serde_json::to_string(&p.tags)?
            ])?;
            for tag in &p.tags {
                tx.prepare_cached(
                    "INSERT INTO site_tags (tag, sort_at, item_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(rusqlite::params![tag, p.sort_at, p.item])?;
            }
        }
        sources.sort_unstable();
        sources.dedup();
        // Counted again from the index, a publisher at a time: the publishers' list reads
        // these rows, not every item.
        for source in sources {
            tx.prepare_cached(
                "INSERT INTO site_publishers (source_id, items, newest)
                 VALUES (?1, (SELECT count(*) FROM site_items WHERE source_id = ?1),
                             (SELECT max(sort_at) FROM site_items WHERE source_id = ?1))
                 ON CONFLICT (source_id) DO UPDATE
                 SET items = excluded.items, newest = excluded.newest",
            )?
            .execute([source])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest `limit` items of `scope` on the site, newest first, skipping `skip`.
    pub fn site_newest(
        &self,
        scope: Scope<'_>,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let read = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<i64>, StoreError> {
            let mut query = self.db.prepare_cached(sql)?;
            let ids = query
                .query_map(params, |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        };
        match scope {
            Scope::All => read(
                "SELECT item_id FROM site_items
                 ORDER BY sort_at DESC, item_id DESC LIMIT ?1 OFFSET ?2",
                &[&limit, &skip],
            ),
            Scope::Source(source) => read(
                "SELECT item_id FROM site_items WHERE source_id = ?1
                 ORDER BY sort_at DESC, item_id DESC LIMIT ?2 OFFSET ?3",
                &[&source, &limit, &skip],
            ),
            Scope::Tag(tag) => read(
                "SELECT item_id FROM site_tags WHERE tag = ?1
                 ORDER BY sort_at DESC, item_id DESC LIMIT ?2 OFFSET ?3",
                &[&tag, &limit, &skip],
            ),
        }
    }

    /// How many items of `scope` the site has.
    pub fn site_count(&self, scope: Scope<'_>) -> Result<usize, StoreError> {
        let count: i64 = match scope {
            Scope::All => self.db.query_row(
                "SELECT count(*) FROM site_items",
                rusqlite::params![],
                |r| r.get(0),
            )?,
            Scope::Source(source) => self.db.query_row(
                "SELECT count(*) FROM site_items WHERE source_id = ?1",
                [source],
                |r| r.get(0),
            )?,
            Scope::Tag(tag) => self.db.query_row(
                "SELECT count(*) FROM site_tags WHERE tag = ?1",
                [tag],
                |r| r.get(0),
            )?,
        };
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// The site's items that sort in `[from, until)`, oldest first, as (sort_at, row id).
    pub fn site_between(&self, from: i64, until: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT sort_at, item_id FROM site_items WHERE sort_at >= ?1 AND sort_at < ?2
             ORDER BY sort_at, item_id",
        )?;
        let ids = query
            .query_map([from, until], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// When the site's newest item before `at` sorts, and its oldest from `at` on.
    pub fn site_around(&self, at: i64) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let before = self.db.query_row(
            "SELECT max(sort_at) FROM site_items WHERE sort_at < ?1",
            [at],
            |r| r.get(0),
        )?;
        let after = self.db.query_row(
            "SELECT min(sort_at) FROM site_items WHERE sort_at >= ?1",
            [at],
            |r| r.get(0),
        )?;
        Ok((before, after))
    }

    /// Up to `limit` items of `source` on the site that sort before the item `(sort_at, item)`
    /// (`earlier`), newest first, or after it, oldest first.
    pub fn site_beside(
        &self,
        source: i64,
        (sort_at, item): (i64, i64),
        earlier: bool,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let sql = if earlier {
            "SELECT item_id FROM site_items WHERE source_id = ?1
               AND (sort_at, item_id) < (?2, ?3)
             ORDER BY sort_at DESC, item_id DESC LIMIT ?4"
        } else {
            "SELECT item_id FROM site_items WHERE source_id = ?1
               AND (sort_at, item_id) > (?2, ?3)
             ORDER BY sort_at, item_id LIMIT ?4"
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut query = self.db.prepare_cached(sql)?;
        let ids = query
            .query_map([source, sort_at, item, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Every tag of the site's items.
    pub fn site_tag_names(&self) -> Result<Vec<String>, StoreError> {
        let mut query = self
            .db
            .prepare_cached("SELECT DISTINCT tag FROM site_tags")?;
        let tags = query
            .query_map(rusqlite::params![], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(tags)
    }

    /// Every publisher with items on the site.
    pub fn site_publisher_counts(&self) -> Result<Vec<PublisherCount>, StoreError> {
        let mut query = self.db.prepare_cached(
            "SELECT source_id, items, newest FROM site_publishers WHERE items > 0",
        )?;
        let counts = query
            .query_map(rusqlite::params![], |r| {
                Ok(PublisherCount {
                    source: r.get(0)?,
                    items: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    newest: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(counts)
    }

    /// The names of the publishers' pages, by source row id.
    pub fn site_slugs(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut query = self
            .db
            .prepare_cached("SELECT source_id, slug FROM site_publishers WHERE slug IS NOT NULL")?;
        let slugs = query
            .query_map(rusqlite::params![], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(slugs)
    }

    /// Keeps the name of a publisher's page.
    pub fn add_site_slug(&mut self, source: i64, slug: &str) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO site_publishers (source_id, slug) VALUES (?1, ?2)
             ON CONFLICT (source_id) DO UPDATE SET slug = excluded.slug
             WHERE site_publishers.slug IS NULL",
            rusqlite::params![source, slug],
        )?;
        Ok(())
    }

    /// The publishers of the sources with these row ids, as the outputs name them.
    pub fn publishers(&self, sources: &[i64]) -> Result<HashMap<i64, Publisher>, StoreError> {
        let sql = format!(
            "SELECT id, COALESCE(name, feed_title, url), url, feed_link, feed_id,
                    feed_description
             FROM sources WHERE id IN (SELECT CAST(value AS BIGINT) FROM {})",
            self.db.backend().json_values("?1")
        );
        let mut publishers = HashMap::new();
        for chunk in sources.chunks(1000) {
            let mut query = self.db.prepare_cached(&sql)?;
            let rows = query.query_map([serde_json::to_string(chunk)?], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Publisher {
                        name: shown(r.get(1)?),
                        feed_url: shown(r.get(2)?),
                        site: r.get(3)?,
                        id: r.get(4)?,
                        description: r.get(5)?,
                    },
                ))
            })?;
            for row in rows {
                let (id, publisher) = row?;
                publishers.insert(id, publisher);
            }
        }
        Ok(publishers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::on_each_backend;

    fn placed(item: i64, source: i64, sort_at: i64, tags: &[&str]) -> Placement {
        Placement {
            item,
            public_id: format!("urn:uuid:{item}"),
            source,
            sort_at,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            source_url: String::new(),
        }
    }

    #[test]
    fn what_the_site_placed_is_read_back_by_day_publisher_tag_and_neighbour() {
        on_each_backend("site_placements", |mut store| {
            const DAY: i64 = 86_400;
            let items = [
                placed(1, 10, DAY + 10, &["a"]),
                placed(2, 10, DAY + 20, &["a", "b"]),
                placed(3, 11, DAY + 20, &[]),
                placed(4, 10, 2 * DAY + 5, &["b"]),
                placed(5, 11, 3 * DAY, &["a"]),
            ];
            store.place_on_site(&[], &items).unwrap();
            let newest = |scope, skip, limit| store.site_newest(scope, skip, limit).unwrap();
            assert_eq!(newest(Scope::All, 0, 3), [5, 4, 3]);
            assert_eq!(newest(Scope::All, 3, 10), [2, 1]);
            assert_eq!(newest(Scope::Source(10), 0, 10), [4, 2, 1]);
            assert_eq!(newest(Scope::Tag("a"), 0, 10), [5, 2, 1]);
            assert_eq!(store.site_count(Scope::Tag("b")).unwrap(), 2);
            assert_eq!(
                store.site_between(DAY, 2 * DAY).unwrap(),
                [(DAY + 10, 1), (DAY + 20, 2), (DAY + 20, 3)]
            );
            assert_eq!(
                store.site_around(2 * DAY).unwrap(),
                (Some(DAY + 20), Some(2 * DAY + 5))
            );
            assert_eq!(store.site_around(4 * DAY).unwrap(), (Some(3 * DAY), None));
            assert_eq!(store.site_beside(10, (DAY + 20, 2), true, 5).unwrap(), [1]);
            assert_eq!(store.site_beside(10, (DAY + 20, 2), false, 5).unwrap(), [4]);
            let mut tags = store.site_tag_names().unwrap();
            tags.sort();
            assert_eq!(tags, ["a", "b"]);
            let counts = |store: &Store| {
                let mut counts: Vec<(i64, usize, i64)> = store
                    .site_publisher_counts()
                    .unwrap()
                    .iter()
                    .map(|c| (c.source, c.items, c.newest))
                    .collect();
                counts.sort();
                counts
            };
            assert_eq!(counts(&store), [(10, 3, 2 * DAY + 5), (11, 2, 3 * DAY)]);

            // Item 4 leaves, item 5 moves to source 10: the counts follow.
            store
                .place_on_site(&[4], &[placed(5, 10, 3 * DAY, &[])])
                .unwrap();
            assert_eq!(counts(&store), [(10, 3, 3 * DAY), (11, 1, DAY + 20)]);
            assert_eq!(store.site_count(Scope::Tag("a")).unwrap(), 2);
            let mut placements = store.site_placements(&[5, 4, 9]).unwrap();
            placements.retain(|p| p.item == 5);
            assert_eq!(placements, [placed(5, 10, 3 * DAY, &[])]);

            // A publisher keeps the page name it was given first.
            store.add_site_slug(10, "ten").unwrap();
            store.add_site_slug(10, "renamed").unwrap();
            assert_eq!(
                store.site_slugs().unwrap(),
                HashMap::from([(10, "ten".to_string())])
            );
        });
    }

    #[test]
    fn changes_are_forgotten_by_number_and_state_is_kept() {
        on_each_backend("site_changes", |mut store| {
            for item in [7, 8, 7] {
                store
                    .db
                    .execute("INSERT INTO item_changes (item_id) VALUES (?1)", [item])
                    .unwrap();
            }
            let changes = store.item_changes(usize::MAX).unwrap();
            assert_eq!(changes.items.as_deref(), Some(&[7, 8, 7][..]));
            let (first, last) = changes.seen[0];
            assert_eq!(
                (changes.seen.len(), last - first),
                (1, 2),
                "one run of three"
            );
            assert_eq!(
                store.item_changes(2).unwrap().items,
                None,
                "more than asked for"
            );
            // The first and the last forgotten; the one between stays.
            store
                .forget_item_changes(&[(first, first), (last, last)])
                .unwrap();
            let left = store.item_changes(10).unwrap();
            assert_eq!(left.items.as_deref(), Some(&[8][..]));
            assert_eq!(left.seen, [(first + 1, first + 1)]);
            store.forget_item_changes(&left.seen).unwrap();
            assert!(!store.item_changes(10).unwrap().any());

            assert_eq!(store.render_state("site.look").unwrap(), None);
            store.set_render_state("site.look", Some("one")).unwrap();
            store.set_render_state("site.look", Some("two")).unwrap();
            assert_eq!(
                store.render_state("site.look").unwrap().as_deref(),
                Some("two")
            );
            store.set_render_state("site.look", None).unwrap();
            assert_eq!(store.render_state("site.look").unwrap(), None);
        });
    }
}

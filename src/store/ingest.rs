//! Recording a poll: the source's new state, and each fetched item stored once.
//!
//! An item is found again by any key seen for it: its own key (guid, else link, else hash) or,
//! when the publisher churns guids, its canonical link. The same article reaching Tributary
//! through another source is recorded against the item already stored. Items too old to keep,
//! pruned before, or past a new source's first `initial_items` are left out, and their keys
//! remembered so that they never come back.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{ToSql, params};

use super::db::{Db, Optional, repeated_rows};
use sha2::{Digest, Sha256};

use super::shaped;
use super::sources::{add_event, save_meta, save_state, upsert_source};
use super::{Store, StoreError, public_id, to_unix};
use crate::identity::ItemRules;
use crate::identity::{self, Candidate, Decision, Fresh, Known, Revision, Stored, hex};
use crate::model::{ArrivingItem, Source, Webhook};
use crate::model::{Category, FeedMeta, FetchState, HealthEvent, Item, ItemCounts, Text, Verdict};
use crate::rules::Shaping;
use crate::sanitize::web_url;
use crate::search::{Indexed, Query};

/// One poll of a source, to record all at once.
#[derive(Debug)]
pub struct Poll<'a> {
    /// When the poll was made.
    pub at: DateTime<Utc>,
    /// The source's state after this poll; `None` for content a hub pushed, which leaves the
    /// polling state as it is.
    pub state: Option<&'a FetchState>,
    /// The feed, when one was read.
    pub feed: Option<(&'a FeedMeta, &'a [Item])>,
    /// A change in the source's health, if this poll made one.
    pub event: Option<&'a HealthEvent>,
    /// What is kept of items.
    pub rules: &'a ItemRules,
    /// What rules and rewrites make of items.
    pub shaping: &'a Shaping,
    /// The webhooks new items are queued for, each if its filters take the item.
    pub webhooks: &'a [&'a dyn Webhook],
}

impl Store {
    /// Records a poll of `source` all at once: its new state, the feed's metadata, each item
    /// new, updated in place, unchanged, a duplicate of another source's, or left out, and any
    /// health event. Items missing from this fetch stay stored. A savepoint, so that it is a
    /// transaction of its own, or one poll of a batch (see `SharedStore`).
    pub fn record_poll(
        &mut self,
        source: &dyn Source,
        poll: &Poll<'_>,
    ) -> Result<ItemCounts, StoreError> {
        let tx = self.db.transaction()?;
        let source_id = upsert_source(&tx, source.url(), source.name())?;
        if let Some(state) = poll.state {
            save_state(&tx, source_id, state, poll.at)?;
            if let Some(instance) = &self.instance {
                super::leases::release(&tx, source_id, instance)?;
            }
        }
        if let Some((meta, _)) = poll.feed {
            save_meta(&tx, source_id, meta)?;
        }
        let counts = match poll.feed {
            Some((_, items)) => {
                let publisher: String = tx.query_row(
                    "SELECT COALESCE(name, feed_title, url) FROM sources WHERE id = ?1",
                    [source_id],
                    |row| row.get(0),
                )?;
                let ingest = Ingest {
                    search: Some((publisher, &self.saved_searches)),
                    stories: Some(super::stories::Keying {
                        grouping: self.stories.as_ref(),
                        boilerplate: &self.boilerplate,
                        shaping: Some(poll.shaping),
                        now: poll.at,
                    }),
                    tx: &tx,
                    source_id,
                    source_url: source.url(),
                    rules: poll.rules,
                    shaping: Some(poll.shaping),
                    full_text: source.wants_full_text(),
                    pushed: poll.state.is_none(),
                    now: poll.at,
                    notify: (source, poll.webhooks),
                    keys: Default::default(),
                    new: Default::default(),
                };
                ItemCounts::of(&ingest.items(items)?)
            }
            None => ItemCounts::default(),
        };
        if let Some(event) = poll.event {
            add_event(&tx, source_id, event, poll.at)?;
        }
        if let Some(instance) = &self.instance
            && (counts.changed() || poll.event.is_some())
        {
            super::leases::count_change(&tx, instance)?;
        }
        tx.commit()?;
        Ok(counts)
    }

    /// What recording `items` for `source` would do to each of them, without recording
    /// anything (for `explain`): the same decisions, in a transaction that is rolled back.
    pub fn preview_items(
        &mut self,
        source: &dyn Source,
        items: &[Item],
        rules: &ItemRules,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Verdict)>, StoreError> {
        let tx = self.db.transaction()?;
        let source_id = upsert_source(&tx, source.url(), source.name())?;
        let ingest = Ingest {
            search: None,
            stories: None,
            tx: &tx,
            source_id,
            source_url: source.url(),
            rules,
            shaping: None,
            full_text: false,
            pushed: false,
            now,
            notify: (source, &[]),
            keys: Default::default(),
            new: Default::default(),
        };
        let verdicts = ingest.items(items)?;
        tx.rollback()?;
        Ok(verdicts)
    }

    /// The keys among `digests` (an item's key and digest) under which `source_url` has stored
    /// an item with the same digest: those items are unchanged, and need no cleaning.
    pub fn unchanged_items<'a>(
        &self,
        source_url: &str,
        digests: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<HashSet<String>, StoreError> {
        let mut unchanged = HashSet::new();
        // A source that has stored nothing (every source, in a first ingest) has nothing to
        // look up.
        let source_id: Option<i64> = self
            .db
            .prepare_cached(
                "SELECT s.id FROM sources s
                 WHERE s.url = ?1 AND EXISTS (SELECT 1 FROM item_keys k WHERE k.source_id = s.id)",
            )?
            .query_row([source_url], |r| r.get(0))
            .optional()?;
        let Some(source_id) = source_id else {
            return Ok(unchanged);
        };
        let mut query = self.db.prepare_cached(
            "SELECT i.raw_digest FROM item_keys k JOIN items i ON i.id = k.item_id
             WHERE k.source_id = ?1 AND k.key = ?2",
        )?;
        for (key, digest) in digests {
            let stored: Option<Option<String>> = query
                .query_row(params![source_id, key], |r| r.get(0))
                .optional()?;
            if stored.flatten().as_deref() == Some(digest) {
                unchanged.insert(key.to_string());
            }
        }
        Ok(unchanged)
    }

    /// Prunes items older than `[retention] max_age` (by publication date), remembering their
    /// keys so that a publisher regenerating its archive cannot bring them back. Returns how
    /// many items were pruned.
    pub fn prune(&mut self, rules: &ItemRules, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let Some(cutoff) = identity::cutoff(rules, now) else {
            return Ok(0);
        };
        let tx = self.db.transaction()?;
        tx.prepare_cached(
            "INSERT INTO pruned_keys (source_id, key, pruned_at)
             SELECT k.source_id, k.key, ?2 FROM item_keys k JOIN items i ON i.id = k.item_id
             WHERE i.sort_at < ?1 ON CONFLICT DO NOTHING",
        )?
        .execute(params![to_unix(cutoff), to_unix(now)])?;
        let pruned = tx
            .prepare_cached("DELETE FROM items WHERE sort_at < ?1")?
            .execute(params![to_unix(cutoff)])?;
        tx.commit()?;
        Ok(pruned)
    }
}

/// The columns of `items` that hold what a reader sees of an item, bound as ?1 to ?15 from
/// [`Columns::shown`] by every statement that writes an item.
macro_rules! shown_columns {
    () => {
        "guid, link, title, summary, summary_html, content, content_html, authors, fingerprint,
         enclosures, categories, image, raw_digest, link_title, links"
    };
}

/// [`shown_columns!`] set from ?1 to ?15, for an UPDATE.
macro_rules! set_shown_columns {
    () => {
        "guid = ?1, link = ?2, title = ?3, summary = ?4, summary_html = ?5, content = ?6,
         content_html = ?7, authors = ?8, fingerprint = ?9, enclosures = ?10, categories = ?11,
         image = ?12, raw_digest = ?13, link_title = ?14, links = ?15"
    };
}

/// Rows a statement writes to `item_keys`, and canonical links a statement looks up: on
/// PostgreSQL each statement is a round trip, and a statement per key or link was most of a
/// cold poll's. The last statement of a poll is filled up by repeating its last row (see
/// `filled`), so that one statement text, prepared once, serves every size.
const KEYS_PER_STATEMENT: usize = 32;

/// `INSERT INTO item_keys … VALUES` with `KEYS_PER_STATEMENT` rows. The first item a key was met
/// for keeps it: `ON CONFLICT DO NOTHING` skips a key written before, or earlier in the same
/// statement, on both backends.
fn keys_insert() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO item_keys (source_id, key, item_id) VALUES {} ON CONFLICT DO NOTHING",
            repeated_rows("?1, ?2, ?3", 3, KEYS_PER_STATEMENT)
        )
    })
}

/// The items other sources than `?1` stored under `KEYS_PER_STATEMENT` canonical links, the
/// earliest for each. The range repeats the condition of the index on canonical links, so that
/// SQLite can use it.
fn elsewhere_lookup() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let links: Vec<String> = (0..KEYS_PER_STATEMENT)
            .map(|n| format!("?{}", n + 2))
            .collect();
        format!(
            "SELECT key, min(item_id) FROM item_keys
             WHERE key IN ({}) AND key >= 'canon:' AND key < 'canon;' AND source_id != ?1
             GROUP BY key",
            links.join(", ")
        )
    })
}

/// `chunk`'s rows, then its last row again up to `KEYS_PER_STATEMENT` rows.
fn filled<T>(chunk: &[T]) -> impl Iterator<Item = &T> {
    (0..KEYS_PER_STATEMENT).filter_map(|n| chunk.get(n).or(chunk.last()))
}

/// The items a poll stored: how many, and the newest one's date.
#[derive(Default)]
struct Added {
    items: i64,
    newest: Option<i64>,
}

impl Added {
    fn count(&mut self, sort_at: i64) {
        self.items += 1;
        self.newest = Some(self.newest.map_or(sort_at, |n| n.max(sort_at)));
    }
}

/// The ingestion of one fetch, inside its transaction.
struct Ingest<'a> {
    tx: &'a Db,
    source_id: i64,
    source_url: &'a str,
    rules: &'a ItemRules,
    /// `None` when nothing is kept (a preview).
    shaping: Option<&'a Shaping>,
    /// Whether new items' full text is wanted.
    full_text: bool,
    /// Whether a hub pushed these items (see [`identity::revise`]).
    pushed: bool,
    now: DateTime<Utc>,
    /// The source, and the webhooks to queue its new items for.
    notify: (&'a dyn Source, &'a [&'a dyn Webhook]),
    /// Keys for `item_keys` and the items they lead to, in the order they were met, written
    /// together by `write_keys` once the poll's items are.
    keys: RefCell<Vec<(String, ItemRef)>>,
    /// The new items, inserted together by `insert_new` once the poll's items are decided.
    new: RefCell<Vec<NewItem<'a>>>,
    /// Who published them, as readers see it, and the saved searches: new items are indexed
    /// for search as they are inserted (`None` in a preview).
    search: Option<(String, &'a [(Query, String)])>,
    /// Whether new items are keyed for stories, and grouped by what (`None` in a preview).
    stories: Option<super::stories::Keying<'a>>,
}

/// An item a key leads to: stored before, or the `n`th new item of this poll.
#[derive(Clone, Copy)]
enum ItemRef {
    Stored(i64),
    New(usize),
}

/// A new item's columns, and the webhooks to queue it for once it has its id.
struct NewItem<'a> {
    columns: Columns<'a>,
    public_id: String,
    published: i64,
    updated: Option<i64>,
    shaped: shaped::ShapedColumns,
    full_text_wanted: i64,
    hooks: Vec<String>,
    /// Its words for the search index, unless rules hide it.
    indexed: Option<Indexed>,
}

impl<'a> Ingest<'a> {
    /// Stores a fetch's items; returns each one's key and what became of it, in feed order.
    /// Looks up what the store has, lets [`identity::plan`] decide, then writes the decisions.
    fn items(&self, items: &'a [Item]) -> Result<Vec<(String, Verdict)>, StoreError> {
        let candidates: Vec<Candidate<'_>> =
            items.iter().map(|i| Candidate::of(i, self.now)).collect();
        let first_fetch = self.first_fetch()?;
        let known = self.known(&candidates, first_fetch)?;
        let decisions = identity::plan(&candidates, &known, first_fetch, self.rules, self.now);
        let links: Vec<&str> = candidates
            .iter()
            .zip(&decisions)
            .filter(|(_, decision)| **decision == Decision::Add && self.rules.across_sources)
            .filter_map(|(candidate, _)| candidate.canon_key.as_deref())
            .collect();
        let elsewhere = self.elsewhere(&links)?;
        // Feeds list their newest item first; storing oldest first makes the row order (the
        // tie-break among items of the same date) match the publisher's order.
        let mut verdicts = Vec::with_capacity(candidates.len());
        let mut added = Added::default();
        for (candidate, decision) in candidates.iter().zip(decisions).rev() {
            let verdict = self.apply(candidate, decision, &elsewhere)?;
            if verdict == Verdict::New {
                added.count(to_unix(candidate.published));
            }
            verdicts.push((candidate.item.key.clone(), verdict));
        }
        let ids = self.insert_new()?;
        self.write_keys(&ids)?;
        self.count_added(&added)?;
        self.log_added(&ids)?;
        verdicts.reverse();
        Ok(verdicts)
    }

    /// Adds the items this poll stored to its source's count and newest date, at once (deletes
    /// and moves are counted by triggers: see migration 0014).
    fn count_added(&self, added: &Added) -> Result<(), StoreError> {
        let Some(newest) = added.newest else {
            return Ok(());
        };
        self.tx
            .prepare_cached(
                "UPDATE sources SET item_count = item_count + ?2,
                     newest_item_at = CASE WHEN newest_item_at > ?3 THEN newest_item_at ELSE ?3 END
                 WHERE id = ?1",
            )?
            .execute(params![self.source_id, added.items, newest])?;
        Ok(())
    }

    /// Logs the items this poll stored as changes for the next render, in one statement
    /// (every other change is logged by a trigger: see migration 0015).
    fn log_added(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO item_changes (item_id) SELECT CAST(value AS BIGINT) FROM {}",
            self.tx.backend().json_values("?1")
        );
        self.tx
            .prepare_cached(&sql)?
            .execute([serde_json::to_string(ids)?])?;
        Ok(())
    }

    /// What the store has of each candidate. A source's first fetch has nothing to look up, and
    /// an item left out whatever is stored needs no more than its tombstone looked up. Keys are
    /// unique within a fetch (the parser drops repeats), so storing one candidate cannot change
    /// what another's lookups find.
    fn known(
        &self,
        candidates: &[Candidate<'_>],
        first_fetch: bool,
    ) -> Result<Vec<Known>, StoreError> {
        if first_fetch {
            return Ok(vec![Known::default(); candidates.len()]);
        }
        let cutoff = identity::cutoff(self.rules, self.now);
        let mut known = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let pruned = self.pruned(&candidate.item.key)?
                || candidate
                    .canon_key
                    .as_deref()
                    .map(|k| self.pruned(k))
                    .transpose()?
                    == Some(true);
            if identity::left_out(candidate, pruned, cutoff).is_some() {
                known.push(Known {
                    pruned,
                    ..Known::default()
                });
                continue;
            }
            let by_link = match &candidate.canon_key {
                Some(link) => self.find(link)?,
                None => None,
            };
            let mut by_key = self.find(&candidate.item.key)?;
            for alias in &candidate.item.aliases {
                if by_key.is_none() {
                    by_key = self.find(alias)?;
                }
            }
            known.push(Known {
                pruned,
                by_key,
                by_link,
            });
        }
        Ok(known)
    }

    /// Writes what the plan decided for a candidate, and says what became of it.
    fn apply(
        &self,
        candidate: &Candidate<'a>,
        decision: Decision,
        elsewhere: &HashMap<String, i64>,
    ) -> Result<Verdict, StoreError> {
        let (verdict, item_id) = self.store(candidate, decision, elsewhere)?;
        let (Some(shaping), Some(id)) = (self.shaping, item_id) else {
            return Ok(verdict);
        };
        match verdict {
            Verdict::New => {}
            // Its text or its source may have changed; it may have its full text.
            Verdict::Updated | Verdict::Duplicate(_) => {
                shaped::reshape_item(self.tx, shaping, id, self.now)?
            }
            Verdict::Unchanged | Verdict::LeftOut(_) => {}
        }
        Ok(verdict)
    }

    /// Writes the decision; says what became of the candidate and which stored item it is.
    /// `elsewhere`: the items other sources stored under the candidates' canonical links.
    fn store(
        &self,
        candidate: &Candidate<'a>,
        decision: Decision,
        elsewhere: &HashMap<String, i64>,
    ) -> Result<(Verdict, Option<i64>), StoreError> {
        match decision {
            Decision::Settled(verdict) => Ok((verdict, None)),
            Decision::Forget(why) => {
                self.remember_pruned(candidate)?;
                Ok((Verdict::LeftOut(why), None))
            }
            Decision::Revise(item_id) => {
                self.add_keys(ItemRef::Stored(item_id), candidate);
                Ok((self.update(item_id, candidate)?, Some(item_id)))
            }
            Decision::Add => {
                let elsewhere = candidate.canon_key.as_ref().and_then(|k| elsewhere.get(k));
                if let Some(&item_id) = elsewhere {
                    self.add_keys(ItemRef::Stored(item_id), candidate);
                    let via = self.also_via(item_id, candidate)?;
                    return Ok((Verdict::Duplicate(via), Some(item_id)));
                }
                let item = ItemRef::New(self.add_new(candidate)?);
                self.add_keys(item, candidate);
                // Its link as written, too: removing a strip_query must not make it new again.
                for alias in &candidate.item.aliases {
                    self.add_key(item, alias);
                }
                // Written with its row, shaped: nothing of it is to be reshaped now.
                Ok((Verdict::New, None))
            }
        }
    }

    /// Whether nothing was ever stored or left out for this source.
    fn first_fetch(&self) -> Result<bool, StoreError> {
        let known: bool = self
            .tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM item_keys WHERE source_id = ?1)
                 OR EXISTS (SELECT 1 FROM pruned_keys WHERE source_id = ?1)",
            )?
            .query_row([self.source_id], |r| r.get(0))?;
        Ok(!known)
    }

    fn pruned(&self, key: &str) -> Result<bool, StoreError> {
        let pruned = self
            .tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM pruned_keys WHERE source_id = ?1 AND key = ?2)",
            )?
            .query_row(params![self.source_id, key], |r| r.get(0))?;
        Ok(pruned)
    }

    fn remember_pruned(&self, candidate: &Candidate<'_>) -> Result<(), StoreError> {
        for key in candidate.keys() {
            self.tx.prepare_cached("INSERT INTO pruned_keys (source_id, key, pruned_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
.execute(
                params![self.source_id, key, to_unix(self.now)],
            )?;
        }
        Ok(())
    }

    /// The item this source already stored under `key`.
    fn find(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let id = self
            .tx
            .prepare_cached("SELECT item_id FROM item_keys WHERE source_id = ?1 AND key = ?2")?
            .query_row(params![self.source_id, key], |r| r.get(0))
            .optional()?;
        Ok(id)
    }

    /// The item other sources stored under each of `links` (canonical links), the earliest.
    /// Nothing this poll writes changes it: this source's keys are not looked at.
    fn elsewhere(&self, links: &[&str]) -> Result<HashMap<String, i64>, StoreError> {
        let mut found = HashMap::new();
        for chunk in links.chunks(KEYS_PER_STATEMENT) {
            let values: Vec<Value> = std::iter::once(Value::Integer(self.source_id))
                .chain(filled(chunk).map(|link| Value::Text(link.to_string())))
                .collect();
            let rows = self
                .tx
                .prepare_cached(elsewhere_lookup())?
                .query_map(values, |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?;
            for row in rows {
                let (link, item_id) = row?;
                found.insert(link, item_id);
            }
        }
        Ok(found)
    }

    fn add_keys(&self, item: ItemRef, candidate: &Candidate<'_>) {
        for key in candidate.keys() {
            self.add_key(item, key);
        }
    }

    /// Records that `key` leads to `item_id`, written by `write_keys`. Nothing reads this
    /// source's keys between: its lookups came before (`known`), and `elsewhere` reads other
    /// sources' only.
    fn add_key(&self, item: ItemRef, key: &str) {
        self.keys.borrow_mut().push((key.to_string(), item));
    }

    /// Writes the keys `add_key` recorded, in the order they were met; `new` are the ids the
    /// new items were given.
    fn write_keys(&self, new: &[i64]) -> Result<(), StoreError> {
        let keys = std::mem::take(&mut *self.keys.borrow_mut());
        let keys = keys
            .into_iter()
            .map(|(key, item)| match item {
                ItemRef::Stored(id) => Ok((key, id)),
                ItemRef::New(n) => new.get(n).map(|&id| (key, id)).ok_or_else(|| {
                    StoreError::from(super::db::DbError::Column {
                        column: n,
                        error: "a new item without an id".into(),
                    })
                }),
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            let values: Vec<Value> = filled(chunk)
                .flat_map(|(key, item_id)| {
                    [
                        Value::Integer(self.source_id),
                        Value::Text(key.clone()),
                        Value::Integer(*item_id),
                    ]
                })
                .collect();
            self.tx.prepare_cached(keys_insert())?.execute(values)?;
        }
        Ok(())
    }

    /// Makes a new item's row, to be inserted by `insert_new`; its index among this poll's.
    fn add_new(&self, candidate: &Candidate<'a>) -> Result<usize, StoreError> {
        let item = candidate.item;
        // Shaped from what is in hand, and written with it: nothing to read back or update.
        let (shaped, hooks, indexed) = match self.shaping {
            Some(shaping) => {
                let shaped =
                    shaping.shape(self.source_url, None, item, candidate.published, self.now);
                let indexed = self.indexed(item, &shaped, candidate.published);
                let (source, webhooks) = self.notify;
                let hooks: Vec<String> = webhooks
                    .iter()
                    .filter(|_| shaped.hidden.is_none())
                    .filter(|w| {
                        w.takes(
                            source,
                            &ArrivingItem {
                                item,
                                tags: &shaped.tags,
                                sort_at: candidate.published,
                                now: self.now,
                            },
                        )
                    })
                    .map(|w| w.url().to_string())
                    .collect();
                (shaped::columns(&shaped)?, hooks, indexed)
            }
            None => (shaped::UNSHAPED.clone(), Vec::new(), None),
        };
        let mut new = self.new.borrow_mut();
        new.push(NewItem {
            columns: Columns::of(item)?,
            public_id: public_id(self.source_url, &item.key),
            published: to_unix(candidate.published),
            updated: candidate.updated.map(to_unix),
            shaped,
            full_text_wanted: i64::from(
                self.full_text && item.link.as_deref().and_then(web_url).is_some(),
            ),
            hooks,
            indexed,
        });
        Ok(new.len() - 1)
    }

    /// A new item's words for the search index, as readers will see it (its rewrites made),
    /// unless rules hide it.
    fn indexed(
        &self,
        item: &Item,
        shaped: &crate::rules::Shaped,
        sort_at: DateTime<Utc>,
    ) -> Option<Indexed> {
        let (publisher, _) = self.search.as_ref()?;
        if shaped.hidden.is_some() {
            return None;
        }
        let rewritten;
        let shown = if shaped.rewritten == crate::rules::Rewritten::default() {
            item
        } else {
            let mut copy = item.clone();
            super::items::shaped(&mut copy, shaped.rewritten.clone());
            rewritten = copy;
            &rewritten
        };
        let arriving = ArrivingItem {
            item: shown,
            tags: &shaped.tags,
            sort_at,
            now: self.now,
        };
        Some(Indexed::of_new(&arriving, publisher, self.source_url))
    }

    /// Inserts the items `add_new` made, in the order they were made (oldest first), and
    /// queues them for their webhooks in the same transaction (a crash loses neither or
    /// both); their ids.
    fn insert_new(&self) -> Result<Vec<i64>, StoreError> {
        let new = std::mem::take(&mut *self.new.borrow_mut());
        let first_seen = to_unix(self.now);
        let rows: Vec<Vec<&dyn ToSql>> = new
            .iter()
            .map(|n| {
                let (hidden, tags, rewritten, recheck_at) = &n.shaped;
                let own: [&dyn ToSql; 11] = [
                    &self.source_id,
                    &n.columns.item.key,
                    &n.public_id,
                    &n.published,
                    &n.updated,
                    &first_seen,
                    hidden,
                    tags,
                    rewritten,
                    recheck_at,
                    &n.full_text_wanted,
                ];
                n.columns.shown().into_iter().chain(own).collect()
            })
            .collect();
        let ids = self.tx.insert_all(
            concat!(
                "INSERT INTO items (",
                shown_columns!(),
                ", source_id, key, public_id, published, sort_at, updated, first_seen,
                 hidden, tags, rewritten, recheck_at, full_text_wanted)"
            ),
            "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
             ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26",
            &rows,
            // public_id: made of the source and the key, which a fetch holds once.
            ("public_id", 17),
        )?;
        if let Some((_, saved)) = &self.search {
            let indexed = ids
                .iter()
                .zip(&new)
                .filter_map(|(id, n)| n.indexed.as_ref().map(|words| (*id, words)));
            super::search::index_new(self.tx, indexed, saved, self.now)?;
        }
        if let Some(keying) = &self.stories {
            let visible: Vec<super::stories::NewlyStored<'_>> = ids
                .iter()
                .zip(&new)
                .filter(|(_, n)| n.shaped.0.is_none())
                .map(|(id, n)| super::stories::NewlyStored {
                    id: *id,
                    item: n.columns.item,
                    sort_at: n.published,
                })
                .collect();
            let source = (self.source_id, self.source_url);
            super::stories::key_new(self.tx, source, &visible, keying)?;
        }
        for (id, new) in ids.iter().zip(&new) {
            for hook in &new.hooks {
                self.tx
                    .prepare_cached(
                        "INSERT INTO webhook_items (webhook, item_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![hook, id])?;
            }
        }
        Ok(ids)
    }

    /// Revises a stored item as [`identity::revise`] decides.
    fn update(&self, item_id: i64, candidate: &Candidate<'_>) -> Result<Verdict, StoreError> {
        let c = Columns::of(candidate.item)?;
        let stored = self
            .tx
            .prepare_cached(
                "SELECT source_id, fingerprint, raw_digest, title, link, authors, updated,
                        content_updates FROM items WHERE id = ?1",
            )?
            .query_row([item_id], |r| {
                Ok(Stored {
                    owned: r.get::<_, i64>(0)? == self.source_id,
                    fingerprint: r.get(1)?,
                    raw_digest: r.get(2)?,
                    title: r.get(3)?,
                    link: r.get(4)?,
                    authors: r.get(5)?,
                    updated: r.get(6)?,
                    content_updates: r.get(7)?,
                })
            })?;
        let fresh = Fresh {
            fingerprint: &c.fingerprint,
            raw_digest: c.raw_digest,
            title: candidate.item.title.as_deref(),
            link: candidate.item.link.as_deref(),
            authors: &c.authors,
            updated: candidate.updated.map(to_unix),
        };
        match identity::revise(&stored, &fresh, self.pushed, self.now) {
            Revision::Unchanged => Ok(Verdict::Unchanged),
            Revision::NewDigest => {
                self.tx
                    .prepare_cached("UPDATE items SET raw_digest = ?2 WHERE id = ?1")?
                    .execute(params![item_id, c.raw_digest])?;
                Ok(Verdict::Unchanged)
            }
            Revision::Updated {
                updated,
                content_only,
            } => {
                let content_update = i64::from(content_only);
                let own: [&dyn ToSql; 3] = [&updated, &content_update, &item_id];
                self.tx
                    .prepare_cached(concat!(
                        "UPDATE items SET ",
                        set_shown_columns!(),
                        ", updated = ?16, content_updates = content_updates + ?17 WHERE id = ?18"
                    ))?
                    .execute(c.shown().into_iter().chain(own).collect::<Vec<_>>())?;
                Ok(Verdict::Updated)
            }
        }
    }

    /// Records that this source also carried `item_id`, and returns the name of the source that
    /// first stored it. That source keeps it (see [`identity::takes_over`]) unless this one is
    /// the link's own site: then this copy takes its place, and the previous source is recorded
    /// as also carrying it.
    fn also_via(&self, item_id: i64, candidate: &Candidate<'_>) -> Result<String, StoreError> {
        let (owner, owner_url, owner_name): (i64, String, String) = self
            .tx
            .prepare_cached(
                "SELECT i.source_id, s.url, COALESCE(s.name, s.feed_title, s.url)
             FROM items i JOIN sources s ON s.id = i.source_id WHERE i.id = ?1",
            )?
            .query_row([item_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        // Named in `once` and `explain`: a URL for a name is shown without credentials.
        let owner_name = super::items::shown(owner_name);
        let link = candidate.item.link.as_deref().unwrap_or_default();
        if !identity::takes_over(link, self.source_url, &owner_url) {
            self.also_carried_by(item_id, self.source_id)?;
            return Ok(owner_name);
        }
        let item = candidate.item;
        let c = Columns::of(item)?;
        let (published, updated) = (to_unix(candidate.published), candidate.updated.map(to_unix));
        let own: [&dyn ToSql; 5] = [&self.source_id, &item.key, &published, &updated, &item_id];
        self.tx
            .prepare_cached(concat!(
                "UPDATE items SET ",
                set_shown_columns!(),
                ", source_id = ?16, key = ?17, published = ?18, sort_at = ?18, updated = ?19,
                 content_updates = 0 WHERE id = ?20"
            ))?
            .execute(c.shown().into_iter().chain(own).collect::<Vec<_>>())?;
        self.also_carried_by(item_id, owner)?;
        self.tx
            .prepare_cached("DELETE FROM item_sources WHERE item_id = ?1 AND source_id = ?2")?
            .execute(params![item_id, self.source_id])?;
        Ok(owner_name)
    }

    /// Records that `source_id`, not the item's own source, carried `item_id` too.
    fn also_carried_by(&self, item_id: i64, source_id: i64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO item_sources (item_id, source_id, first_seen)
                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )?
            .execute(params![item_id, source_id, to_unix(self.now)])?;
        Ok(())
    }
}

/// A digest of what a reader sees of an item: title, link, texts, image and the JSON of its
/// authors, enclosures and the categories' names. Dates are left out on purpose: feeds that
/// restamp every item on each build would otherwise look changed. So are the link's title, the
/// other links and categories' schemes: metadata that alone never makes an item "updated" (nor
/// makes items stored before Tributary kept it churn once).
fn fingerprint(item: &Item, json: &[&str]) -> String {
    let mut hasher = Sha256::new();
    let texts = [
        item.title.as_deref(),
        item.link.as_deref(),
        item.summary.as_ref().map(|t| t.body.as_str()),
        item.content.as_ref().map(|t| t.body.as_str()),
        item.image.as_deref(),
    ];
    for part in texts.into_iter().chain(json.iter().map(|j| Some(*j))) {
        hasher.update(part.unwrap_or_default().as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

/// An item's authors, enclosures and categories as the `items` table stores them (JSON), and
/// its fingerprint.
pub(super) fn stored_columns(item: &Item) -> Result<[String; 4], StoreError> {
    let c = Columns::of(item)?;
    Ok([c.authors, c.enclosures, c.categories, c.fingerprint])
}

/// An item's texts as the `items` table stores them.
struct Columns<'a> {
    item: &'a Item,
    summary: Option<&'a str>,
    summary_html: bool,
    content: Option<&'a str>,
    content_html: bool,
    /// The authors, enclosures, categories and other links as JSON.
    authors: String,
    enclosures: String,
    categories: String,
    links: String,
    fingerprint: String,
    /// The item's digest before cleaning, if the parser gave one.
    raw_digest: Option<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(item: &'a Item) -> Result<Self, StoreError> {
        let split = |text: &'a Option<Text>| match text {
            Some(t) => (Some(t.body.as_str()), t.is_html),
            None => (None, false),
        };
        let (summary, summary_html) = split(&item.summary);
        let (content, content_html) = split(&item.content);
        let authors = serde_json::to_string(&item.authors)?;
        let enclosures = serde_json::to_string(&item.enclosures)?;
        let categories = serde_json::to_string(&item.categories)?;
        let links = serde_json::to_string(&item.links)?;
        // Categories by the names readers see (label, else term), each once: a scheme or a
        // term read for the first time beside a label is not a change a reader sees.
        let mut shown: Vec<&str> = Vec::new();
        for name in item.categories.iter().map(Category::shown) {
            if !shown.contains(&name) {
                shown.push(name);
            }
        }
        let shown = serde_json::to_string(&shown)?;
        let fingerprint = fingerprint(item, &[&authors, &enclosures, &shown]);
        Ok(Columns {
            item,
            summary,
            summary_html,
            content,
            content_html,
            authors,
            enclosures,
            categories,
            links,
            fingerprint,
            raw_digest: Some(item.digest.as_str()).filter(|d| !d.is_empty()),
        })
    }

    /// The values of [`shown_columns!`], in its order.
    fn shown(&self) -> [&dyn ToSql; 15] {
        [
            &self.item.guid,
            &self.item.link,
            &self.item.title,
            &self.summary,
            &self.summary_html,
            &self.content,
            &self.content_html,
            &self.authors,
            &self.fingerprint,
            &self.enclosures,
            &self.categories,
            &self.item.image,
            &self.raw_digest,
            &self.item.link_title,
            &self.links,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;
    use crate::model::Author;
    use crate::store::ItemFilter;
    use crate::store::testing::{fetched, on_each_backend, on_each_backend_twice, source};
    use std::sync::Arc;
    use std::time::Duration;

    fn item(key: &str, title: &str, published: Option<&str>) -> Item {
        Item {
            key: key.into(),
            aliases: Vec::new(),
            guid: Some(key.into()),
            link: Some(format!("https://p.example/{key}")),
            link_title: None,
            links: Vec::new(),
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
            enclosures: vec![],
            categories: vec![],
            image: None,
            digest: String::new(),
            unchanged: false,
        }
    }

    /// The `limit` newest stored items, as the outputs read them.
    fn newest(store: &Store, limit: usize) -> Vec<crate::model::StoredItem> {
        store
            .items(&ItemFilter {
                limit,
                ..ItemFilter::default()
            })
            .unwrap()
    }

    fn newest_keys(store: &Store, limit: usize) -> Vec<String> {
        newest(store, limit)
            .into_iter()
            .map(|i| i.item.key)
            .collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn looking_for_a_link_elsewhere_uses_the_index_of_links() {
        let store = Store::open_in_memory().unwrap();
        let plan: String = store
            .db
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", elsewhere_lookup()),
                std::iter::once("1".to_string())
                    .chain((0..KEYS_PER_STATEMENT).map(|n| format!("canon:{n}")))
                    .collect::<Vec<_>>(),
                |r| r.get(3),
            )
            .unwrap();
        assert!(
            plan.contains("USING INDEX item_keys_by_link (key=?)"),
            "{plan}"
        );
    }

    #[test]
    fn new_changed_and_unchanged_items_are_counted_and_stored_once() {
        on_each_backend(
            "new_changed_and_unchanged_items_are_counted_and_stored_once",
            |mut store| {
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

                let items = newest(&store, 10);
                assert_eq!(items.len(), 2, "b vanished from the feed but stays stored");
                assert_eq!(items[0].item.title.as_deref(), Some("A, revised"));
                assert_eq!(items[0].item.updated, Some(at("2025-01-04T00:00:00Z")));
                assert_eq!(items[0].item.authors[0].name, "Ann");
                assert_eq!(items[0].publisher.name, "P");
                assert_eq!(items[1].item.key, "b");

                let counts = fetched(&mut store, &src, &meta, &second, at("2025-01-05T00:00:00Z"));
                assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 0, 1));
            },
        );
    }

    #[test]
    fn two_sources_items_sharing_links_are_stored_once_however_many_a_poll_brings() {
        on_each_backend(
            "two_sources_items_sharing_links_are_stored_once_however_many_a_poll_brings",
            |mut store| {
                let (a, b) = (
                    source("https://a.example/feed", Some("A")),
                    source("https://b.example/feed", Some("B")),
                );
                let meta = FeedMeta::default();
                // More keys and links than one statement writes or looks up.
                let feed = |prefix: &str| -> Vec<Item> {
                    (0..KEYS_PER_STATEMENT + 9)
                        .map(|n| Item {
                            link: Some(format!("https://news.example/{n}")),
                            ..item(
                                &format!("{prefix}{n}"),
                                &format!("Story {n}"),
                                Some("2025-01-01T00:00:00Z"),
                            )
                        })
                        .collect()
                };
                let count = KEYS_PER_STATEMENT + 9;
                let (first, second) = (at("2025-01-02T00:00:00Z"), at("2025-01-03T00:00:00Z"));
                let counts = fetched(&mut store, &a, &meta, &feed("a"), first);
                assert_eq!((counts.new, counts.duplicates), (count, 0));
                let counts = fetched(&mut store, &b, &meta, &feed("b"), first);
                assert_eq!((counts.new, counts.duplicates), (0, count));
                // Each key leads to its own item: A's polled again are unchanged.
                let counts = fetched(&mut store, &a, &meta, &feed("a"), second);
                assert_eq!(
                    (counts.unchanged, counts.new, counts.updated),
                    (count, 0, 0)
                );
                let counts = fetched(&mut store, &b, &meta, &feed("b"), second);
                assert_eq!(counts.new + counts.duplicates, 0, "{counts:?}");
                // Of the same date, in the publisher's order.
                let stored = newest(&store, 1000);
                let keys: Vec<String> = stored.iter().map(|i| i.item.key.clone()).collect();
                let expected: Vec<String> = (0..count).map(|n| format!("a{n}")).collect();
                assert_eq!(keys, expected);
                assert!(stored.iter().all(|i| i.publisher.name == "A"));
            },
        );
    }

    #[test]
    fn a_poll_starts_from_the_stored_state_and_pause_read_together() {
        on_each_backend(
            "a_poll_starts_from_the_stored_state_and_pause_read_together",
            |mut store| {
                let src = source("https://p.example/feed", Some("P"));
                let start = store.poll_state(&src.url).unwrap();
                assert_eq!(start, (FetchState::default(), None), "never polled");
                let items = [item("a", "A", Some("2025-01-01T00:00:00Z"))];
                let meta = FeedMeta::default();
                fetched(&mut store, &src, &meta, &items, at("2025-01-02T00:00:00Z"));
                let (state, paused) = store.poll_state(&src.url).unwrap();
                assert_eq!(state.last_status, Some(crate::model::PollStatus::Ok));
                assert_eq!(paused, None);
                let when = at("2025-01-03T00:00:00Z");
                assert!(store.set_paused(&src.url, Some(when)).unwrap());
                assert_eq!(store.poll_state(&src.url).unwrap().1, Some(when));
            },
        );
    }

    #[test]
    fn statuses_come_in_the_order_asked_whatever_order_the_sources_were_recorded_in() {
        on_each_backend(
            "statuses_come_in_the_order_asked_whatever_order_the_sources_were_recorded_in",
            |mut store| {
                let named = |n: &str| source(&format!("https://{n}.example/feed"), Some(n));
                let meta = FeedMeta::default();
                for (count, name) in [(1, "a"), (2, "b"), (3, "c")] {
                    let items: Vec<Item> = (0..count)
                        .map(|i| item(&format!("{name}{i}"), "T", Some("2025-01-01T00:00:00Z")))
                        .collect();
                    fetched(
                        &mut store,
                        &named(name),
                        &meta,
                        &items,
                        at("2025-01-02T00:00:00Z"),
                    );
                }
                let shown = |asked: &[&str]| -> Vec<(String, i64)> {
                    let asked: Vec<Arc<SourceConfig>> =
                        asked.iter().map(|n| Arc::new(named(n))).collect();
                    let statuses = store.source_statuses(&asked).unwrap();
                    statuses.into_iter().map(|s| (s.name, s.items)).collect()
                };
                let pairs = |p: &[(&str, i64)]| -> Vec<(String, i64)> {
                    p.iter().map(|(n, c)| (n.to_string(), *c)).collect()
                };
                assert_eq!(
                    shown(&["a", "b", "c"]),
                    pairs(&[("a", 1), ("b", 2), ("c", 3)])
                );
                // Another order, one never polled, one recorded but not asked for.
                assert_eq!(
                    shown(&["c", "d", "a"]),
                    pairs(&[("c", 3), ("d", 0), ("a", 1)])
                );
            },
        );
    }

    #[test]
    fn status_asked_again_shows_what_was_written_since_by_this_connection_or_another() {
        on_each_backend_twice(
            "status_asked_again_shows_what_was_written_since_by_this_connection_or_another",
            |mut store, mut other| {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("tributary.toml");
                let write_config = |names: &[&str]| {
                    let mut toml = String::from("[database]\npath = \"t.db\"\n");
                    for name in names {
                        toml.push_str(&format!(
                            "[[sources]]\nurl = \"https://{name}.example/feed\"\n"
                        ));
                    }
                    std::fs::write(&file, toml).unwrap();
                    crate::config::load(&file).unwrap()
                };
                let config = write_config(&["a", "b", "c"]);
                let shown = |store: &mut Store, config: &crate::config::Config| {
                    let reads = crate::report::read_status(store, config, None).unwrap();
                    let rows = crate::report::status_rows(&reads, config);
                    let rows = rows
                        .iter()
                        .map(|row| format!("{} {} {}", row.name, row.state, row.items));
                    rows.collect::<Vec<_>>().join(", ")
                };
                let (a, b, c) = (
                    "https://a.example/feed",
                    "https://b.example/feed",
                    "https://c.example/feed",
                );
                assert_eq!(
                    shown(&mut store, &config),
                    format!("{a} never_polled 0, {b} never_polled 0, {c} never_polled 0")
                );

                // A poll recorded by this connection.
                let meta = FeedMeta {
                    title: Some("A's title".into()),
                    ..FeedMeta::default()
                };
                let items = [item("1", "One", None), item("2", "Two", None)];
                fetched(
                    &mut store,
                    &config.sources[0],
                    &meta,
                    &items,
                    at("2025-01-01T00:00:00Z"),
                );
                assert_eq!(
                    shown(&mut store, &config),
                    format!("A's title ok 2, {b} never_polled 0, {c} never_polled 0")
                );

                // Another process pauses B (as `pause` does, recording the sources first).
                other.sync_sources(&config.sources).unwrap();
                assert!(
                    other
                        .set_paused(b, Some(at("2025-01-02T00:00:00Z")))
                        .unwrap()
                );
                assert_eq!(
                    shown(&mut store, &config),
                    format!("A's title ok 2, {b} paused 0, {c} never_polled 0")
                );

                // Another poll of A by this connection, bringing one more item, and a new title.
                let meta = FeedMeta {
                    title: Some("A, retitled".into()),
                    ..FeedMeta::default()
                };
                let items = [item("3", "Three", None)];
                fetched(
                    &mut store,
                    &config.sources[0],
                    &meta,
                    &items,
                    at("2025-01-03T00:00:00Z"),
                );
                assert_eq!(
                    shown(&mut store, &config),
                    format!("A, retitled ok 3, {b} paused 0, {c} never_polled 0")
                );

                // A write seen inside its transaction, which is then rolled back.
                store.db.begin_batch().unwrap();
                store
                    .db
                    .execute_batch(&format!(
                        "UPDATE sources SET item_count = 7 WHERE url = '{c}'"
                    ))
                    .unwrap();
                assert_eq!(
                    shown(&mut store, &config),
                    format!("A, retitled ok 3, {b} paused 0, {c} never_polled 7")
                );
                store.db.execute_batch("ROLLBACK").unwrap();
                assert_eq!(
                    shown(&mut store, &config),
                    format!("A, retitled ok 3, {b} paused 0, {c} never_polled 0")
                );

                // The config reloaded with another source.
                let config = write_config(&["a", "b", "c", "d"]);
                let d = "https://d.example/feed";
                assert_eq!(
                    shown(&mut store, &config),
                    format!(
                        "A, retitled ok 3, {b} paused 0, {c} never_polled 0, {d} never_polled 0"
                    )
                );

                // Another store that watches its writes (once asked), dropped with its batch
                // open (as by a panic on the store thread), rolls the batch back: watching must
                // not get in the way.
                shown(&mut other, &config);
                other.db.begin_batch().unwrap();
                let items = [item("c1", "C", None)];
                fetched(
                    &mut other,
                    &config.sources[2],
                    &meta,
                    &items,
                    at("2025-01-04T00:00:00Z"),
                );
                drop(other);
                assert_eq!(
                    shown(&mut store, &config),
                    format!(
                        "A, retitled ok 3, {b} paused 0, {c} never_polled 0, {d} never_polled 0"
                    )
                );
            },
        );
    }

    #[test]
    fn the_item_counts_status_shows_follow_items_stored_pruned_and_moved() {
        on_each_backend(
            "the_item_counts_status_shows_follow_items_stored_pruned_and_moved",
            |mut store| {
                let (a, b) = (
                    source("https://a.example/feed", Some("A")),
                    source("https://b.example/feed", Some("B")),
                );
                let meta = FeedMeta::default();
                let items = [
                    item("1", "One", Some("2025-01-03T00:00:00Z")),
                    item("2", "Two", Some("2025-01-02T00:00:00Z")),
                    item("3", "Three", Some("2025-01-01T00:00:00Z")),
                ];
                fetched(&mut store, &a, &meta, &items, at("2025-01-04T00:00:00Z"));
                let other = [item("4", "Four", Some("2025-01-01T00:00:00Z"))];
                fetched(&mut store, &b, &meta, &other, at("2025-01-04T00:00:00Z"));
                let shown = |store: &Store| -> Vec<(i64, Option<DateTime<Utc>>)> {
                    let sources = [Arc::new(a.clone()), Arc::new(b.clone())];
                    let statuses = store.source_statuses(&sources).unwrap();
                    statuses.iter().map(|s| (s.items, s.newest_item)).collect()
                };
                let (jan, day) = (at("2025-01-01T00:00:00Z"), chrono::Duration::days(1));
                assert_eq!(shown(&store), [(3, Some(jan + day * 2)), (1, Some(jan))]);

                // The newest of A's moves to B: both rows change.
                store
            .db
            .execute_batch(
                "UPDATE items SET source_id = (SELECT id FROM sources WHERE url LIKE '%b.example%')
                 WHERE key = '1' AND source_id = (SELECT id FROM sources WHERE url LIKE '%a.example%')",
            )
            .unwrap();
                assert_eq!(
                    shown(&store),
                    [(2, Some(jan + day)), (2, Some(jan + day * 2))]
                );

                // Pruning what is older than 2 January leaves A one item and B its moved one.
                let rules = ItemRules {
                    max_age: Some(Duration::from_secs(2 * 86_400)),
                    ..ItemRules::default()
                };
                assert_eq!(store.prune(&rules, at("2025-01-04T00:00:00Z")).unwrap(), 2);
                assert_eq!(
                    shown(&store),
                    [(1, Some(jan + day)), (1, Some(jan + day * 2))]
                );
            },
        );
    }

    /// Parses `xml`, leaving uncleaned the items `store` has with the same digest, and records it.
    fn poll_feed(
        store: &mut Store,
        src: &SourceConfig,
        xml: &str,
        at: DateTime<Utc>,
    ) -> ItemCounts {
        let read = crate::parse::read_raw_feed(xml.as_bytes(), Default::default()).unwrap();
        let unchanged = store.unchanged_items(&src.url, read.digests()).unwrap();
        let feed = read.clean(&unchanged);
        fetched(store, src, &feed.meta, &feed.items, at)
    }

    fn rss(second_description: &str) -> String {
        format!(
            r#"<rss version="2.0"><channel><title>P</title>
            <item><guid>1</guid><title>One</title><description>&lt;p&gt;first&lt;/p&gt;</description>
              <pubDate>Thu, 02 Jan 2025 00:00:00 GMT</pubDate></item>
            <item><guid>2</guid><title>Two</title><description>{second_description}</description>
              <pubDate>Wed, 01 Jan 2025 00:00:00 GMT</pubDate></item>
            </channel></rss>"#
        )
    }

    #[test]
    fn items_that_come_back_as_they_were_are_neither_cleaned_nor_rewritten() {
        on_each_backend(
            "items_that_come_back_as_they_were_are_neither_cleaned_nor_rewritten",
            |mut store| {
                let src = source("https://p.example/feed", None);
                let counts =
                    poll_feed(&mut store, &src, &rss("second"), at("2025-01-03T00:00:00Z"));
                assert_eq!((counts.new, counts.unchanged), (2, 0));

                // Nothing changed: both items are known by digest, so not cleaned (no texts) nor written.
                let read =
                    crate::parse::read_raw_feed(rss("second").as_bytes(), Default::default())
                        .unwrap();
                let unchanged = store.unchanged_items(&src.url, read.digests()).unwrap();
                assert_eq!(unchanged.len(), 2);
                let feed = read.clean(&unchanged);
                assert!(
                    feed.items
                        .iter()
                        .all(|i| i.unchanged && i.content.is_none() && i.summary.is_none())
                );
                let counts = fetched(
                    &mut store,
                    &src,
                    &feed.meta,
                    &feed.items,
                    at("2025-01-04T00:00:00Z"),
                );
                assert_eq!((counts.updated, counts.unchanged), (0, 2));

                // One item's text changed: that one alone is cleaned and updated.
                let counts = poll_feed(
                    &mut store,
                    &src,
                    &rss("second, revised"),
                    at("2025-01-05T00:00:00Z"),
                );
                assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 1, 1));
                let items = newest(&store, 10);
                let texts: Vec<_> = items
                    .iter()
                    .map(|i| i.item.summary.as_ref().map(|t| t.body.as_str()))
                    .collect();
                assert_eq!(texts, [Some("<p>first</p>"), Some("second, revised")]);
            },
        );
    }

    #[test]
    fn items_dated_in_the_future_sort_as_first_seen() {
        on_each_backend(
            "items_dated_in_the_future_sort_as_first_seen",
            |mut store| {
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
            },
        );
    }

    #[test]
    fn stored_items_carry_normalized_updates() {
        on_each_backend("stored_items_carry_normalized_updates", |mut store| {
            let src = source("https://p.example/feed", None);
            let now = at("2025-06-01T00:00:00Z");
            let mut far = item("far", "Far", Some("2025-05-01T00:00:00Z"));
            far.updated = Some(at("2099-01-01T00:00:00Z"));
            let mut early = item("early", "Early", Some("2025-05-01T00:00:00Z"));
            early.updated = Some(at("1970-01-01T00:00:00Z"));
            fetched(&mut store, &src, &FeedMeta::default(), &[far, early], now);
            let items = newest(&store, 10);
            for stored in &items {
                assert_eq!(stored.item.updated, None, "{}", stored.item.key);
                assert_eq!(stored.item.published, Some(at("2025-05-01T00:00:00Z")));
            }
        });
    }

    #[test]
    fn undated_items_keep_the_publishers_order() {
        on_each_backend("undated_items_keep_the_publishers_order", |mut store| {
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
        });
    }

    #[test]
    fn the_feed_title_names_a_source_without_a_configured_name() {
        on_each_backend(
            "the_feed_title_names_a_source_without_a_configured_name",
            |mut store| {
                let src = source("https://p.example/feed", None);
                let meta = FeedMeta {
                    title: Some("Publisher's own title".into()),
                    link: Some("https://p.example/".into()),
                    id: None,
                    description: None,
                    ..FeedMeta::default()
                };
                fetched(
                    &mut store,
                    &src,
                    &meta,
                    &[item("a", "A", None)],
                    at("2025-06-01T00:00:00Z"),
                );
                let items = newest(&store, 1);
                assert_eq!(items[0].publisher.name, "Publisher's own title");
                assert_eq!(
                    items[0].publisher.site.as_deref(),
                    Some("https://p.example/")
                );
                let status = store.source_statuses(&[src.into()]).unwrap();
                assert_eq!(status[0].name, "Publisher's own title");
                assert_eq!(status[0].items, 1);
                assert_eq!(
                    status[0].state.last_status,
                    Some(crate::model::PollStatus::Ok)
                );
            },
        );
    }
}

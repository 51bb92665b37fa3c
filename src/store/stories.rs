//! Stories as the store keeps them: each visible item's keys (`story_keys`), and which story
//! each joined item belongs to (`stories`, a row per item that is not its story's lead).
//!
//! A new item is keyed, and grouped when stories are on, by the poll that inserts it
//! ([`key_new`]), in its transaction. Triggers note other items whose keys may have changed in
//! `story_pending`, keyed again after each of the store's writes ([`Store::key_pending`]).
//! When the settings change, every item is grouped again ([`Store::regroup_batch`]) into a
//! table beside `stories`, in batches between which polls are stored, and the new grouping
//! replaces the old at once: readers never see the archive half grouped.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::db::{Db, Optional, Row};
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{Item, Reported, Text};
use crate::rules::Shaping;
use crate::stories::{self, Member, Neighbour, Sentences, Settings};

/// The settings row naming what the stored grouping was made with (`off` when stories are).
const GROUPED_BY: &str = "grouped_by";
/// The settings row naming what the grouping under way is made with, and where it is.
const REGROUPING: &str = "regrouping";

/// No boilerplate.
static EMPTY: std::sync::LazyLock<HashSet<u64>> = std::sync::LazyLock::new(HashSet::new);

/// How many of a source's latest items tell its boilerplate.
const HISTORY: i64 = 50;

/// The most stored items one key brings to compare with a new one.
const MOST_NEIGHBOURS: i64 = 50;

/// How many items one transaction keys or groups again.
const PER_TURN: i64 = 2_000;

const DAY: i64 = 24 * 3600;

/// An item as grouping reads it.
struct Keyed {
    id: i64,
    source: i64,
    source_url: String,
    link: Option<String>,
    sort_at: i64,
    sentences: Sentences,
}

const KEYED: &str = "SELECT i.id, i.source_id, s.url, i.link, i.sort_at, i.title, i.summary,
        i.summary_html, i.content, i.content_html, i.full_text
    FROM items i JOIN sources s ON s.id = i.source_id";

fn read_keyed(row: &Row<'_>) -> super::db::Result<Keyed> {
    let text = |body: Option<String>, is_html: bool| body.map(|body| Text { body, is_html });
    let item = Item {
        title: row.get(5)?,
        summary: text(row.get(6)?, row.get(7)?),
        content: text(row.get(8)?, row.get(9)?),
        ..Item::default()
    };
    let full_text: Option<String> = row.get(10)?;
    Ok(Keyed {
        id: row.get(0)?,
        source: row.get(1)?,
        source_url: row.get(2)?,
        link: row.get(3)?,
        sort_at: row.get(4)?,
        sentences: Sentences::of(&item, full_text.as_deref()),
    })
}

/// How a poll's new items are keyed: and grouped, by these settings, when stories are on; a
/// story that grows is shaped again by `shaping` when its rules look at stories' sizes.
pub(super) struct Keying<'a> {
    pub(super) grouping: Option<&'a Settings>,
    pub(super) boilerplate: &'a std::cell::RefCell<Boilerplate>,
    pub(super) shaping: Option<&'a Shaping>,
    pub(super) now: DateTime<Utc>,
}

/// A new item of a poll, as [`key_new`] takes it.
pub(super) struct NewlyStored<'a> {
    pub(super) id: i64,
    pub(super) item: &'a Item,
    pub(super) sort_at: i64,
}

/// Keys the new visible items of one poll of `source`, and groups each into a story when
/// `grouping` (stories are on). Their source's boilerplate is read from its latest items,
/// these among them.
pub(super) fn key_new(
    db: &Db,
    source: (i64, &str),
    new: &[NewlyStored<'_>],
    keying: &Keying<'_>,
) -> Result<(), StoreError> {
    if new.is_empty() {
        return Ok(());
    }
    let (started, mut compared) = (std::time::Instant::now(), 0);
    let mut boilerplate = keying.boilerplate.borrow_mut();
    boilerplate.begin();
    for stored in new {
        let keyed = Keyed {
            id: stored.id,
            source: source.0,
            source_url: source.1.to_string(),
            link: stored.item.link.clone(),
            sort_at: stored.sort_at,
            sentences: Sentences::of(stored.item, None),
        };
        let keys = keyed.sentences.keys(boilerplate.of(db, source.0)?);
        write_keys(db, keyed.id, keyed.sort_at, &keys)?;
        let Some(settings) = keying.grouping else {
            continue;
        };
        let mut grouping = Grouping {
            db,
            settings,
            boilerplate: &mut boilerplate,
            table: "stories",
        };
        let (compared_now, joined) = grouping.group(&keyed, &keys)?;
        compared += compared_now;
        if let (Some(joined), Some(shaping)) = (joined, keying.shaping) {
            reshape_stories(db, shaping, &[joined.story], keying.now)?;
        }
    }
    // What `bench/stories.py` reads: the cost per new item, poll by poll.
    let micros = started.elapsed().as_micros();
    tracing::debug!(
        source = %crate::sanitize::shown_url(source.1),
        new = new.len(),
        compared,
        micros,
        "stories: new items keyed and grouped"
    );
    Ok(())
}

/// Shapes every item of `stories` (by their leads) again, when rules look at stories' sizes.
fn reshape_stories(
    db: &Db,
    shaping: &Shaping,
    stories: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !shaping.uses_stories() {
        return Ok(());
    }
    let mut members = db.prepare_cached("SELECT item_id FROM stories WHERE story = ?1")?;
    for lead in stories {
        let ids: Vec<i64> = members
            .query_map([lead], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for id in std::iter::once(*lead).chain(ids) {
            super::shaped::reshape_item(db, shaping, id, now)?;
        }
    }
    Ok(())
}

/// Files `item`'s `keys` under the day it sorts at, and notes them beside it.
fn write_keys(db: &Db, item: i64, sort_at: i64, keys: &[i64]) -> Result<(), StoreError> {
    let day = sort_at.div_euclid(DAY);
    let mut insert = db.prepare_cached(
        "INSERT INTO story_keys (key, day, item_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for key in keys {
        insert.execute(params![key, day, item])?;
    }
    db.prepare_cached("INSERT INTO story_items (item_id, day, keys) VALUES (?1, ?2, ?3)")?
        .execute(params![item, day, serde_json::to_string(keys)?])?;
    Ok(())
}

/// Removes `item`'s keys, as `write_keys` wrote them.
fn forget_keys(db: &Db, item: i64) -> Result<(), StoreError> {
    let noted: Option<(i64, String)> = db
        .prepare_cached("SELECT day, keys FROM story_items WHERE item_id = ?1")?
        .query_row([item], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((day, keys)) = noted else {
        return Ok(());
    };
    let mut delete =
        db.prepare_cached("DELETE FROM story_keys WHERE key = ?1 AND day = ?2 AND item_id = ?3")?;
    for key in serde_json::from_str::<Vec<i64>>(&keys)? {
        delete.execute(params![key, day, item])?;
    }
    db.prepare_cached("DELETE FROM story_items WHERE item_id = ?1")?
        .execute([item])?;
    Ok(())
}

/// Each source's boilerplate, kept between polls: the outlines of its latest items, to which
/// each poll adds its new ones. Reading a source's latest items to know it would cost more than
/// the comparisons it serves; a source is read whole once per process.
#[derive(Debug, Default)]
pub(super) struct Boilerplate {
    known: HashMap<i64, History>,
    /// The sources checked since [`Boilerplate::begin`]: no need to ask again.
    fresh: HashSet<i64>,
}

/// A source's latest items as boilerplate is found from them.
#[derive(Debug, Default)]
struct History {
    /// The newest item id read.
    newest: i64,
    /// The outlines of its latest [`HISTORY`] visible items, oldest first.
    latest: std::collections::VecDeque<stories::Outline>,
    /// Its boilerplate, from them.
    found: HashSet<u64>,
}

/// The most sources whose boilerplate is kept; past it, the cache starts again.
const MOST_KEPT: usize = 100_000;

impl Boilerplate {
    /// A new piece of work (a poll, a batch): each source's newest item is checked again.
    fn begin(&mut self) {
        self.fresh.clear();
        if self.known.len() > MOST_KEPT {
            self.known.clear();
        }
    }

    fn of(&mut self, db: &Db, source: i64) -> Result<&HashSet<u64>, StoreError> {
        if self.fresh.insert(source) {
            let newest: Option<i64> = db
                .prepare_cached("SELECT MAX(id) FROM items WHERE source_id = ?1")?
                .query_row([source], |row| row.get(0))?;
            let newest = newest.unwrap_or(0);
            let history = self.known.entry(source).or_default();
            if history.newest != newest {
                // Only what it has not read yet: after a poll, the poll's new items.
                let mut added: Vec<stories::Outline> = db
                    .prepare_cached(&format!(
                        "{KEYED} WHERE i.source_id = ?1 AND i.id > ?2 AND i.hidden IS NULL
                         ORDER BY i.id DESC LIMIT ?3"
                    ))?
                    .query_map(params![source, history.newest, HISTORY], read_keyed)?
                    .map(|keyed| keyed.map(|k| k.sentences.outline()))
                    .collect::<Result<_, _>>()?;
                added.reverse();
                history.latest.extend(added);
                let extra = history.latest.len().saturating_sub(HISTORY as usize);
                history.latest.drain(..extra);
                history.found = stories::boilerplate_of(&history.latest);
                history.newest = newest;
            }
        }
        Ok(self.known.get(&source).map_or(&EMPTY, |h| &h.found))
    }

    /// The boilerplate of both sources.
    fn of_both(&mut self, db: &Db, a: i64, b: i64) -> Result<HashSet<u64>, StoreError> {
        let mut both = self.of(db, a)?.clone();
        both.extend(self.of(db, b)?);
        Ok(both)
    }
}

/// Grouping items into the stories of `table` (`stories`, or the grouping under way) by
/// `settings`, with each source's boilerplate.
struct Grouping<'a> {
    db: &'a Db,
    settings: &'a Settings,
    boilerplate: &'a mut Boilerplate,
    table: &'a str,
}

impl Grouping<'_> {
    /// The stored items, stored before `me`, of other sources within `within` of it that share
    /// one of `keys`, with how similar each is.
    fn neighbours(&mut self, me: &Keyed, keys: &[i64]) -> Result<Vec<Neighbour>, StoreError> {
        let db = self.db;
        let within = self.settings.within_secs;
        let (from, to) = (me.sort_at - within, me.sort_at + within);
        // One statement for every key: each is an index lookup within the days compared.
        let values = db.backend().json_values("?1");
        let ids: Vec<i64> = db
            .prepare_cached(&format!(
                "SELECT DISTINCT k.item_id FROM story_keys k JOIN items i ON i.id = k.item_id
                 WHERE k.key IN (SELECT CAST(value AS BIGINT) FROM {values})
                   AND k.day BETWEEN ?2 AND ?3 AND k.item_id < ?4
                   AND i.source_id <> ?5 AND i.hidden IS NULL AND i.sort_at BETWEEN ?6 AND ?7
                 ORDER BY k.item_id LIMIT ?8"
            ))?
            .query_map(
                params![
                    serde_json::to_string(keys)?,
                    from.div_euclid(DAY),
                    to.div_euclid(DAY),
                    me.id,
                    me.source,
                    from,
                    to,
                    MOST_NEIGHBOURS
                ],
                |row| row.get::<_, i64>(0),
            )?
            .collect::<Result<_, _>>()?;
        let mut found = Vec::with_capacity(ids.len());
        let mut read = db.prepare_cached(&format!("{KEYED} WHERE i.id = ?1"))?;
        let mut story_of = db.prepare_cached(&format!(
            "SELECT story FROM {} WHERE item_id = ?1",
            self.table
        ))?;
        for id in ids {
            let other = read.query_row([id], read_keyed)?;
            let both = self.boilerplate.of_both(db, me.source, other.source)?;
            let similarity = stories::similarity(&me.sentences, &other.sentences, &both);
            let story: Option<i64> = story_of.query_row([id], |row| row.get(0)).optional()?;
            found.push(Neighbour {
                item: id,
                story: story.unwrap_or(id),
                similarity,
            });
        }
        Ok(found)
    }

    /// `me`'s neighbours, and the one whose story [`stories::join`] chooses for it, if any.
    fn choose(
        &mut self,
        me: &Keyed,
        keys: &[i64],
    ) -> Result<(Vec<Neighbour>, Option<Neighbour>), StoreError> {
        let neighbours = self.neighbours(me, keys)?;
        let members = members_of(self.db, &neighbours, self.table)?;
        let members: HashMap<i64, Vec<Member<'_>>> = members
            .iter()
            .map(|(story, items)| {
                let items = items
                    .iter()
                    .map(|(item, source, link)| Member {
                        item: *item,
                        source,
                        link: link.as_deref(),
                    })
                    .collect();
                (*story, items)
            })
            .collect();
        let new = Member {
            item: me.id,
            source: &me.source_url,
            link: me.link.as_deref(),
        };
        let chosen = stories::join(&new, &neighbours, &members, self.settings).cloned();
        Ok((neighbours, chosen))
    }

    /// Joins `me` to the story [`Grouping::choose`] chooses, writing its row; how many stored
    /// items it was compared with, and the one it joined.
    fn group(
        &mut self,
        me: &Keyed,
        keys: &[i64],
    ) -> Result<(usize, Option<Neighbour>), StoreError> {
        let (compared, chosen) = self.choose(me, keys)?;
        if let Some(joined) = &chosen {
            self.db
                .prepare_cached(&format!(
                    "INSERT INTO {} (item_id, story, similarity) VALUES (?1, ?2, ?3)",
                    self.table
                ))?
                .execute(params![me.id, joined.story, joined.similarity])?;
        }
        Ok((compared.len(), chosen))
    }
}

/// Every item of each story of `neighbours` (its lead and members): id, source URL, link.
type Members = HashMap<i64, Vec<(i64, String, Option<String>)>>;

fn members_of(db: &Db, neighbours: &[Neighbour], table: &str) -> Result<Members, StoreError> {
    let mut members = Members::new();
    let mut read = db.prepare_cached(&format!(
        "SELECT i.id, s.url, i.link FROM items i JOIN sources s ON s.id = i.source_id
         WHERE i.id = ?1
         UNION ALL
         SELECT i.id, s.url, i.link FROM {table} st JOIN items i ON i.id = st.item_id
             JOIN sources s ON s.id = i.source_id
         WHERE st.story = ?1"
    ))?;
    for neighbour in neighbours {
        if members.contains_key(&neighbour.story) {
            continue;
        }
        let items = read
            .query_map([neighbour.story], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        members.insert(neighbour.story, items);
    }
    Ok(members)
}

impl Store {
    /// Sets how stories are grouped: `None` when they are off (items are still keyed, so that
    /// turning them on groups the archive without reading it all).
    pub fn set_stories(&mut self, settings: Option<Settings>) {
        self.stories = settings;
    }

    /// Keys again the items whose keys may have changed (their text, date or visibility),
    /// [`PER_TURN`] per transaction; how many.
    pub fn key_pending(&mut self) -> Result<usize, StoreError> {
        let waiting: i64 = self
            .db
            .query_row("SELECT COUNT(*) FROM story_pending", (), |row| row.get(0))?;
        if waiting == 0 {
            return Ok(0);
        }
        let loud = waiting > PER_TURN;
        if loud {
            tracing::info!(items = waiting, "keying items for stories");
        }
        let mut done = 0;
        loop {
            let tx = self.db.transaction()?;
            let ids: Vec<i64> = tx
                .prepare_cached("SELECT item_id FROM story_pending ORDER BY item_id LIMIT ?1")?
                .query_map([PER_TURN], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                break;
            }
            let mut boilerplate = self.boilerplate.borrow_mut();
            boilerplate.begin();
            let mut read =
                tx.prepare_cached(&format!("{KEYED} WHERE i.id = ?1 AND i.hidden IS NULL"))?;
            for id in &ids {
                forget_keys(&tx, *id)?;
                tx.execute("DELETE FROM story_pending WHERE item_id = ?1", [id])?;
                if let Some(keyed) = read.query_row([id], read_keyed).optional()? {
                    let keys = keyed.sentences.keys(boilerplate.of(&tx, keyed.source)?);
                    write_keys(&tx, keyed.id, keyed.sort_at, &keys)?;
                }
            }
            drop(read);
            tx.commit()?;
            done += ids.len();
            if loud {
                tracing::info!(keyed = done, of = waiting, "keying items for stories");
            }
        }
        Ok(done)
    }

    /// Whether the stored grouping is the one the settings make.
    pub fn grouped_as_set(&self) -> Result<bool, StoreError> {
        Ok(self.setting(GROUPED_BY)?.as_deref() == Some(self.grouping_digest().as_str()))
    }

    fn grouping_digest(&self) -> String {
        self.stories
            .as_ref()
            .map_or_else(|| "off".to_string(), Settings::digest)
    }

    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn set_setting(db: &Db, name: &str, value: &str) -> Result<(), StoreError> {
        db.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    /// Groups the next batch of stored items again by the settings, in a transaction of its
    /// own, into `stories_next`; when none is left, the new grouping replaces the old in one
    /// transaction. Returns how many items were grouped in this batch, and whether more are
    /// left. A grouping under way for other settings is dropped and begun again; one for these
    /// goes on where it was (after a restart too).
    pub fn regroup_batch(&mut self, shaping: &Shaping) -> Result<(usize, bool), StoreError> {
        let digest = self.grouping_digest();
        let tx = self.db.transaction()?;
        let Some(settings) = self.stories.clone() else {
            let before = leads(&tx, "stories")?;
            tx.execute("DELETE FROM stories", ())?;
            reshape_stories(&tx, shaping, &before, Utc::now())?;
            Self::set_setting(&tx, GROUPED_BY, &digest)?;
            tx.commit()?;
            return Ok((0, false));
        };
        let under_way: Option<String> = tx
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                [REGROUPING],
                |r| r.get(0),
            )
            .optional()?;
        let after = match under_way.as_deref().and_then(|v| v.split_once(' ')) {
            Some((done, of)) if of == digest => done.parse::<i64>().unwrap_or(0),
            _ => {
                tx.execute("DELETE FROM stories_next", ())?;
                0
            }
        };
        let noted: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT item_id, keys FROM story_items WHERE item_id > ?1
                 ORDER BY item_id LIMIT ?2",
            )?
            .query_map(params![after, PER_TURN], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let keys: Vec<(i64, Vec<i64>)> = noted
            .into_iter()
            .map(|(item, keys)| Ok((item, serde_json::from_str(&keys)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        let grouped = regroup(&tx, &keys, &settings, &mut self.boilerplate.borrow_mut())?;
        match keys.last() {
            Some((last, _)) => Self::set_setting(&tx, REGROUPING, &format!("{last} {digest}"))?,
            None => {
                let before = leads(&tx, "stories")?;
                tx.execute("DELETE FROM stories", ())?;
                // Items deleted meanwhile are left out.
                tx.execute(
                    "INSERT INTO stories (item_id, story, similarity)
                     SELECT n.item_id, n.story, n.similarity FROM stories_next n
                     WHERE EXISTS (SELECT 1 FROM items WHERE id = n.item_id)
                       AND EXISTS (SELECT 1 FROM items WHERE id = n.story)",
                    (),
                )?;
                tx.execute("DELETE FROM stories_next", ())?;
                // Stories gone, or grown, or new: their items' shapes may follow their sizes.
                let mut touched = before;
                touched.extend(leads(&tx, "stories")?);
                touched.sort_unstable();
                touched.dedup();
                reshape_stories(&tx, shaping, &touched, Utc::now())?;
                tx.execute("DELETE FROM settings WHERE name = ?1", [REGROUPING])?;
                Self::set_setting(&tx, GROUPED_BY, &digest)?;
            }
        }
        tx.commit()?;
        Ok((grouped, !keys.is_empty()))
    }
}

/// The leads of the stories in `table`.
fn leads(db: &Db, table: &str) -> Result<Vec<i64>, StoreError> {
    Ok(db
        .prepare_cached(&format!("SELECT DISTINCT story FROM {table}"))?
        .query_map((), |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Groups each of `keys`' items (in the order stored) into `stories_next`; how many joined.
fn regroup(
    db: &Db,
    keys: &[(i64, Vec<i64>)],
    settings: &Settings,
    boilerplate: &mut Boilerplate,
) -> Result<usize, StoreError> {
    boilerplate.begin();
    let mut grouping = Grouping {
        db,
        settings,
        boilerplate,
        table: "stories_next",
    };
    let mut joined = 0;
    let mut read = db.prepare_cached(&format!("{KEYED} WHERE i.id = ?1 AND i.hidden IS NULL"))?;
    let values = db.backend().json_values("?1");
    let mut any = db.prepare_cached(&format!(
        "SELECT 1 FROM story_keys
         WHERE key IN (SELECT CAST(value AS BIGINT) FROM {values})
           AND day BETWEEN ?2 AND ?3 AND item_id < ?4 LIMIT 1"
    ))?;
    let mut sort_at_of = db.prepare_cached("SELECT sort_at FROM items WHERE id = ?1")?;
    for (item, item_keys) in keys {
        // Most items share no key with an earlier one: only those that do are read.
        let Some(sort_at) = sort_at_of
            .query_row([item], |row| row.get::<_, i64>(0))
            .optional()?
        else {
            continue;
        };
        let (from, to) = (
            sort_at - settings.within_secs,
            sort_at + settings.within_secs,
        );
        let listed = serde_json::to_string(item_keys)?;
        let days = (from.div_euclid(DAY), to.div_euclid(DAY));
        let shared = any
            .query_row(params![listed, days.0, days.1, item], |_| Ok(()))
            .optional()?;
        if shared.is_none() {
            continue;
        }
        let Some(me) = read.query_row([item], read_keyed).optional()? else {
            continue;
        };
        if grouping.group(&me, item_keys)?.1.is_some() {
            joined += 1;
        }
    }
    Ok(joined)
}

impl Store {
    /// Every visible version of each of `stories` (by their leads' row ids), first stored
    /// first: the lead, then its members.
    pub fn story_versions(
        &self,
        stories: &[i64],
    ) -> Result<HashMap<i64, Vec<Reported>>, StoreError> {
        let mut versions: HashMap<i64, Vec<Reported>> = HashMap::new();
        if stories.is_empty() {
            return Ok(versions);
        }
        let values = self.db.backend().json_values("?1");
        let columns = "i.id, i.public_id, COALESCE(s.name, s.feed_title, s.url), i.title, i.link,
            i.sort_at";
        let sql = format!(
            "SELECT i.id, {columns}, CAST(1 AS DOUBLE PRECISION)
             FROM items i JOIN sources s ON s.id = i.source_id
             WHERE i.id IN (SELECT CAST(value AS BIGINT) FROM {values}) AND i.hidden IS NULL
             UNION ALL
             SELECT st.story, {columns}, st.similarity
             FROM stories st JOIN items i ON i.id = st.item_id JOIN sources s ON s.id = i.source_id
             WHERE st.story IN (SELECT CAST(value AS BIGINT) FROM {values}) AND i.hidden IS NULL"
        );
        let mut unique = stories.to_vec();
        unique.sort_unstable();
        unique.dedup();
        for chunk in unique.chunks(1000) {
            let listed = serde_json::to_string(chunk)?;
            let rows = self.db.prepare_cached(&sql)?.query_map([listed], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    Reported {
                        row: row.get(1)?,
                        id: row.get(2)?,
                        publisher: super::items::shown(row.get(3)?),
                        title: row.get(4)?,
                        link: row.get(5)?,
                        sort_at: from_unix(row.get(6)?),
                        similarity: row.get(7)?,
                    },
                ))
            })?;
            for row in rows {
                let (story, version) = row?;
                versions.entry(story).or_default().push(version);
            }
        }
        for story in versions.values_mut() {
            story.sort_by_key(|v| v.row);
        }
        Ok(versions)
    }

    /// The `last` stories begun most recently that more than one source reported, newest
    /// first: each one's versions, its lead first.
    pub fn recent_stories(&self, last: usize) -> Result<Vec<Vec<Reported>>, StoreError> {
        let leads: Vec<i64> = self
            .db
            .prepare_cached(
                "SELECT DISTINCT st.story FROM stories st JOIN items i ON i.id = st.story
                 WHERE i.hidden IS NULL ORDER BY st.story DESC LIMIT ?1",
            )?
            .query_map([i64::try_from(last).unwrap_or(i64::MAX)], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut versions = self.story_versions(&leads)?;
        Ok(leads
            .iter()
            .filter_map(|lead| versions.remove(lead))
            .filter(|story| story.len() > 1)
            .collect())
    }
}

/// A stored item near one not stored, as `explain` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// The stored item.
    pub version: Reported,
    /// How similar the two are, 0 to 1.
    pub similarity: f64,
    /// Whether the item would join its story.
    pub joins: bool,
}

/// How many nearest items `explain` shows of each item.
const NEAREST: usize = 3;

impl Store {
    /// The stored items of other sources nearest `item` (of the source at `source_url`, sorting
    /// at `sort_at`), most similar first, and whether it would join the story of the one
    /// [`stories::join`] chooses, by the settings in force (by the defaults when stories are
    /// off: then it joins none). Changes nothing.
    pub fn nearest(
        &self,
        item: &Item,
        source_url: &str,
        sort_at: DateTime<Utc>,
    ) -> Result<Vec<Nearest>, StoreError> {
        let source: i64 = self
            .db
            .query_row("SELECT id FROM sources WHERE url = ?1", [source_url], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(-1);
        let settings = self.stories.clone().unwrap_or_default();
        let me = Keyed {
            id: i64::MAX,
            source,
            source_url: source_url.to_string(),
            link: item.link.clone(),
            sort_at: to_unix(sort_at),
            sentences: Sentences::of(item, None),
        };
        let mut boilerplate = self.boilerplate.borrow_mut();
        boilerplate.begin();
        let keys = me.sentences.keys(boilerplate.of(&self.db, source)?);
        let mut grouping = Grouping {
            db: &self.db,
            settings: &settings,
            boilerplate: &mut boilerplate,
            table: "stories",
        };
        let (neighbours, chosen) = grouping.choose(&me, &keys)?;
        let joined = chosen.filter(|_| self.stories.is_some()).map(|n| n.item);
        let ids: Vec<i64> = neighbours.iter().map(|n| n.item).collect();
        let mut versions: HashMap<i64, Reported> = self
            .story_versions(&ids)?
            .into_values()
            .flatten()
            .map(|v| (v.row, v))
            .collect();
        let mut nearest: Vec<Nearest> = neighbours
            .iter()
            .filter_map(|n| {
                Some(Nearest {
                    version: versions.remove(&n.item)?,
                    similarity: n.similarity,
                    joins: joined == Some(n.item),
                })
            })
            .collect();
        nearest.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        nearest.truncate(NEAREST);
        Ok(nearest)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{FeedMeta, Item, Text};
    use crate::store::testing::{fetched, on_each_backend, source};
    use crate::stories::Never;

    const STATEMENT: &str = "<p>The council has approved a plan to plant ten thousand trees \
        along the river by the end of next year, the largest planting in the district since \
        the war.</p><p>Residents will be asked to choose the species at three public meetings \
        in the spring, and volunteers can sign up on the council website.</p>";

    /// An item of `n` words of its own (a story of its own), or the statement.
    fn item(key: &str, body: Option<usize>, day: u32) -> Item {
        let body = match body {
            // Words made from the number: no two items share a sentence.
            Some(n) => (0..40)
                .map(|w| format!("w{}x{}", n, w * 7 % 40))
                .collect::<Vec<_>>()
                .join(" "),
            None => STATEMENT.into(),
        };
        Item {
            key: key.into(),
            guid: Some(key.into()),
            link: Some(format!("https://example.org/{key}")),
            title: Some(format!("Title of {key}")),
            content: Some(Text {
                body: format!("<p>{body}</p>"),
                is_html: true,
            }),
            published: Some(Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()),
            ..Item::default()
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    fn rows(store: &Store) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = store
            .db
            .prepare(
                "SELECT m.key, l.key FROM stories st JOIN items m ON m.id = st.item_id
                 JOIN items l ON l.id = st.story",
            )
            .unwrap()
            .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        rows
    }

    fn regroup(store: &mut Store) {
        let shaping = Shaping::default();
        while store.regroup_batch(&shaping).unwrap().1 {}
        assert!(store.grouped_as_set().unwrap());
    }

    #[test]
    fn copies_join_the_first_stored_and_a_deleted_lead_hands_its_story_on() {
        on_each_backend("stories_lead", |mut store| {
            store.set_stories(Some(Settings::default()));
            let sources: Vec<_> = ["a", "b", "c"]
                .iter()
                .map(|s| source(&format!("https://{s}.example/feed"), None))
                .collect();
            store.sync_sources(&sources).unwrap();
            for (n, src) in sources.iter().enumerate() {
                let own = item(&format!("own-{n}"), Some(n), 1);
                let copy = item(&format!("copy-{n}"), None, 1);
                fetched(&mut store, src, &FeedMeta::default(), &[own, copy], at());
            }
            assert_eq!(
                rows(&store),
                [
                    ("copy-1".into(), "copy-0".into()),
                    ("copy-2".into(), "copy-0".into())
                ]
            );
            // Another source's stories never hold two items of one source.
            let again = item("copy-again", None, 1);
            fetched(
                &mut store,
                &sources[1],
                &FeedMeta::default(),
                &[again],
                at(),
            );
            assert_eq!(rows(&store).len(), 2);
            // Retention deletes the lead: the next stored leads; its keys go with it.
            store
                .db
                .execute("DELETE FROM items WHERE key = 'copy-0'", ())
                .unwrap();
            assert_eq!(rows(&store), [("copy-2".into(), "copy-1".into())]);
            let orphans: i64 = store
                .db
                .query_row(
                    "SELECT COUNT(*) FROM story_keys WHERE item_id NOT IN (SELECT id FROM items)",
                    (),
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(orphans, 0);
        });
    }

    #[test]
    fn new_settings_group_the_archive_again_in_batches_as_it_was_grouped_live() {
        on_each_backend("stories_regroup", |mut store| {
            store.set_stories(Some(Settings::default()));
            let sources: Vec<_> = (0..4)
                .map(|s| source(&format!("https://s{s}.example/feed"), None))
                .collect();
            store.sync_sources(&sources).unwrap();
            // 4 × 150 items of their own (several batches of keys), a copy at each end.
            for (s, src) in sources.iter().enumerate() {
                let mut items: Vec<Item> = (0..150)
                    .map(|n| item(&format!("{s}-{n}"), Some(s * 1000 + n), 2))
                    .collect();
                items.insert(0, item(&format!("first-{s}"), None, 1));
                if s == 3 {
                    items.push(item("late", None, 3));
                }
                fetched(&mut store, src, &FeedMeta::default(), &items, at());
            }
            let live = rows(&store);
            assert_eq!(live.len(), 3, "{live:?}");
            regroup(&mut store);
            assert_eq!(rows(&store), live);

            store.set_stories(None);
            regroup(&mut store);
            assert!(rows(&store).is_empty());
            // The copy published two days after the first was stored before the fourth source's
            // copy of the first day, and took the story's place for its source. Within a day,
            // it stays apart, and the other copy joins.
            assert!(
                live.contains(&("late".into(), "first-0".into())),
                "{live:?}"
            );
            store.set_stories(Some(Settings {
                within_secs: 24 * 3600,
                ..Settings::default()
            }));
            assert!(!store.grouped_as_set().unwrap());
            regroup(&mut store);
            let within_a_day = rows(&store);
            assert!(within_a_day.contains(&("first-3".into(), "first-0".into())));
            assert!(
                !within_a_day.iter().any(|(m, _)| m == "late"),
                "{within_a_day:?}"
            );
            store.set_stories(Some(Settings {
                never: vec![Never::Sources(
                    "https://s0.example/feed".into(),
                    "https://s1.example/feed".into(),
                )],
                ..Settings::default()
            }));
            regroup(&mut store);
            let split = rows(&store);
            assert!(
                !split.contains(&("first-1".into(), "first-0".into())),
                "{split:?}"
            );
            assert_eq!(split.len(), 3, "{split:?}");
        });
    }

    #[test]
    fn an_item_whose_text_changes_is_keyed_again() {
        on_each_backend("stories_keys", |mut store| {
            let src = source("https://a.example/feed", None);
            store.sync_sources(std::slice::from_ref(&src)).unwrap();
            let keys = |store: &Store| -> Vec<i64> {
                store
                    .db
                    .prepare("SELECT key FROM story_keys ORDER BY key")
                    .unwrap()
                    .query_map((), |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            fetched(
                &mut store,
                &src,
                &FeedMeta::default(),
                &[item("x", Some(1), 1)],
                at(),
            );
            let before = keys(&store);
            assert!(!before.is_empty());
            let edited = Item {
                content: item("x", None, 1).content,
                ..item("x", Some(1), 1)
            };
            fetched(&mut store, &src, &FeedMeta::default(), &[edited], at());
            assert_eq!(store.key_pending().unwrap(), 1);
            let after = keys(&store);
            assert!(!after.is_empty() && after != before, "{before:?} {after:?}");
        });
    }
}

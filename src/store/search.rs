//! The search index: kept by the store's writes, asked by [`Store::search`], and the saved
//! searches' matches kept beside it.
//!
//! A new item is indexed by the poll that inserts it ([`index_new`], from what the poll
//! holds). Triggers note every other item whose words may have changed in `search_pending`;
//! [`Store::index_pending`] indexes them again after each of the store's writes, in one
//! transaction with what it read. Either way each item is checked against the saved searches.
//! A query reaches the database only as its plan's expressions, bound as parameters.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use super::db::Backend;
use super::items::ItemRow;
use super::{ItemFilter, Store, StoreError};
use crate::search::{Condition, Dialect, Indexed, Plan, Query};

/// The most matches a search ranks by relevance: the newest. Ranking reads each match, and
/// gathering the newest matches of two words walks both words' lists: at 1,000,000 items,
/// 5,000 keeps the p95 of two words, or a field and a word, near 35 ms (10,000: 53–63 ms).
pub const RANKED_AT_MOST: usize = 5_000;

/// How many waiting items one transaction indexes.
const INDEXED_PER_TURN: usize = 2_000;

/// The longest a search may run before it is stopped.
pub const SEARCH_TIME: Duration = Duration::from_secs(2);

/// How a search orders what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Best match first; the most recently stored first among equals.
    #[default]
    Relevance,
    /// Newest first.
    Newest,
}

impl Store {
    /// The saved searches whose matches are kept from now on (`[[outputs]] query`). One new
    /// to the store is run once over the index; one no longer saved is forgotten.
    pub fn save_searches(
        &mut self,
        queries: Vec<Query>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let keys: Vec<String> = queries.iter().map(Query::key).collect();
        let read_known = |db: &super::db::Db| -> Result<Vec<String>, StoreError> {
            Ok(db
                .prepare("SELECT query FROM saved_searches")?
                .query_map((), |row| row.get(0))?
                .collect::<Result<_, _>>()?)
        };
        // Nothing is written (nor the write lock taken) when nothing changed: `search` beside
        // a running daemon.
        let mut known = read_known(&self.db)?;
        known.sort();
        let mut wanted = keys.clone();
        wanted.sort();
        wanted.dedup();
        if known != wanted {
            let tx = self.db.write_transaction()?;
            let known = read_known(&tx)?;
            self.save_changed(&known, &queries, now)?;
            tx.commit()?;
        }
        self.saved_searches = queries.into_iter().zip(keys).collect();
        Ok(())
    }

    fn save_changed(
        &self,
        known: &[String],
        queries: &[Query],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = &self.db;
        for gone in known
            .iter()
            .filter(|k| !queries.iter().any(|q| &q.key() == *k))
        {
            tx.execute("DELETE FROM saved_matches WHERE query = ?1", [gone])?;
            tx.execute("DELETE FROM saved_searches WHERE query = ?1", [gone])?;
        }
        for query in queries.iter().filter(|q| !known.contains(&q.key())) {
            let plan = query.plan(dialect(self.db.backend()), now);
            let mut sql = Sql::default();
            let text = sql.bind(Value::Text(query.key()));
            let found = sql.found(&plan, self.db.backend(), Order::Newest);
            let insert = format!(
                "INSERT INTO saved_matches (query, sort_at, item_id)
                 SELECT CAST({text} AS TEXT), sort_at, id FROM ({found}) AS found WHERE true
                 ON CONFLICT DO NOTHING"
            );
            tx.execute(&insert, sql.params)?;
            tx.execute(
                "INSERT INTO saved_searches (query) VALUES (?1) ON CONFLICT DO NOTHING",
                [query.key()],
            )?;
        }
        Ok(())
    }

    /// Indexes the items waiting for it, a batch per transaction, and keeps the saved searches'
    /// matches; how many it indexed. After a migration or a `db copy`, the whole archive waits:
    /// its progress is logged.
    pub fn index_pending(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let waiting: i64 = self
            .db
            .query_row("SELECT COUNT(*) FROM search_pending", (), |row| row.get(0))?;
        if waiting == 0 {
            return Ok(0);
        }
        let loud = waiting > INDEXED_PER_TURN as i64;
        if loud {
            tracing::info!(items = waiting, "indexing items for search");
        }
        let mut done = 0;
        loop {
            let tx = self.db.transaction()?;
            let ids: Vec<i64> = tx
                .prepare_cached("SELECT item_id FROM search_pending ORDER BY item_id LIMIT ?1")?
                .query_map([INDEXED_PER_TURN as i64], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                break;
            }
            let visible = self.rows_of_items(&ItemFilter {
                limit: ids.len(),
                ids: Some(ids.clone()),
                ..ItemFilter::default()
            })?;
            self.index(&ids, &visible, now)?;
            let listed = serde_json::to_string(&ids)?;
            let values = self.db.backend().json_values("?1");
            tx.execute(
                &format!("DELETE FROM search_pending WHERE item_id IN (SELECT CAST(value AS BIGINT) FROM {values})"),
                [listed],
            )?;
            tx.commit()?;
            done += ids.len();
            if loud {
                tracing::info!(indexed = done, of = waiting, "indexing items for search");
            }
        }
        Ok(done)
    }

    /// Writes the index's rows of `ids`: those of `visible` made again, the others removed.
    fn index(
        &self,
        ids: &[i64],
        visible: &[ItemRow],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let backend = self.db.backend();
        let listed = serde_json::to_string(ids)?;
        let values = backend.json_values("?1");
        let delete = match backend {
            Backend::Sqlite => {
                format!("DELETE FROM item_search WHERE rowid IN (SELECT value FROM {values})")
            }
            Backend::Postgres => format!(
                "DELETE FROM item_search WHERE item_id IN (SELECT CAST(value AS BIGINT) FROM {values})"
            ),
        };
        self.db.execute(&delete, [listed.clone()])?;
        self.db.execute(
            &format!("DELETE FROM saved_matches WHERE item_id IN (SELECT CAST(value AS BIGINT) FROM {values})"),
            [listed],
        )?;
        let indexed: Vec<(i64, Indexed)> = visible
            .iter()
            .map(|row| (row.id, Indexed::of(&row.item, &row.item.publisher.feed_url)))
            .collect();
        let rows = indexed.iter().map(|(id, words)| (*id, words));
        index_new(&self.db, rows, &self.saved_searches, now)
    }

    /// The items `query` finds, at most `limit`, in `order`; stopped after [`SEARCH_TIME`].
    pub fn search(
        &self,
        query: &Query,
        order: Order,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<ItemRow>, StoreError> {
        let backend = self.db.backend();
        let plan = query.plan(dialect(backend), now);
        let mut sql = Sql::default();
        let found = match (&plan.ranked, order) {
            (Some(expression), Order::Relevance) if plan.conditions.is_empty() => {
                sql.ranked_newest(expression, backend)
            }
            _ => sql.found(&plan, backend, order),
        };
        let limit = sql.bind(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let select = format!("SELECT id FROM ({found}) AS found LIMIT CAST({limit} AS BIGINT)");
        let ids: Vec<i64> = self
            .db
            .within(SEARCH_TIME, || -> Result<Vec<i64>, StoreError> {
                Ok(self
                    .db
                    .prepare(&select)?
                    .query_map(&sql.params, |row| row.get(0))?
                    .collect::<Result<_, _>>()?)
            })
            .map_err(StoreError::from)?
            .map_err(|error| match error {
                StoreError::Database(db) if db.is_interrupted() => StoreError::TooSlow(SEARCH_TIME),
                other => other,
            })?;
        let mut rows = self.rows_of_items(&ItemFilter {
            limit: ids.len(),
            ids: Some(ids.clone()),
            ..ItemFilter::default()
        })?;
        let rank: HashMap<i64, usize> = ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
        rows.sort_by_key(|row| rank.get(&row.id).copied().unwrap_or(usize::MAX));
        Ok(rows)
    }
}

/// Writes the index's rows of `items` (ids and their words), which it holds no row of, and the
/// saved searches' matches among them: for new items as they are inserted, and for the items
/// [`Store::index_pending`] indexes again.
pub(super) fn index_new<'i>(
    db: &super::db::Db,
    items: impl Iterator<Item = (i64, &'i Indexed)>,
    saved: &[(Query, String)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = db.backend();
    let mut insert = db.prepare_cached(match backend {
        Backend::Sqlite => {
            "INSERT INTO item_search (rowid, title, author, publisher, body)
             VALUES (?1, ?2, ?3, ?4, ?5)"
        }
        Backend::Postgres => {
            "INSERT INTO item_search (item_id, doc) VALUES (?1, CAST(CAST(?2 AS TEXT) AS tsvector))
             ON CONFLICT (item_id) DO UPDATE SET doc = EXCLUDED.doc"
        }
    })?;
    for (id, indexed) in items {
        match backend {
            Backend::Sqlite => {
                let [title, author, publisher, body] = indexed.columns();
                insert.execute([
                    &id as &dyn rusqlite::ToSql,
                    &title,
                    &author,
                    &publisher,
                    &body,
                ])?;
            }
            Backend::Postgres => {
                insert.execute([&id as &dyn rusqlite::ToSql, &indexed.tsvector()])?;
            }
        }
        for (_, key) in saved.iter().filter(|(q, _)| q.matches(indexed, now)) {
            db.execute(
                "INSERT INTO saved_matches (query, sort_at, item_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                [key as &dyn rusqlite::ToSql, &indexed.sort_at, &id],
            )?;
        }
    }
    Ok(())
}

fn dialect(backend: Backend) -> Dialect {
    match backend {
        Backend::Sqlite => Dialect::Fts5,
        Backend::Postgres => Dialect::Tsquery,
    }
}

/// A statement being written and the values it binds.
#[derive(Default)]
struct Sql {
    params: Vec<Value>,
}

impl Sql {
    fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    /// `SELECT id` of the items the index's `expression` finds, best first: the newest
    /// [`RANKED_AT_MOST`] of them ranked, the most recently stored first among equals. The
    /// index answers by itself (hidden items are not in it), without reading `items`.
    fn ranked_newest(&mut self, expression: &str, backend: Backend) -> String {
        let bound = self.bind(Value::Text(expression.to_string()));
        let most = self.bind(Value::Integer(RANKED_AT_MOST as i64));
        match backend {
            Backend::Sqlite => format!(
                "SELECT id FROM (
                     SELECT rowid AS id, rank FROM item_search WHERE item_search MATCH {bound}
                     ORDER BY rowid DESC LIMIT CAST({most} AS BIGINT)) AS newest
                 ORDER BY rank, id DESC"
            ),
            Backend::Postgres => format!(
                "SELECT id FROM (
                     SELECT item_id AS id, doc FROM item_search
                     WHERE doc @@ CAST(CAST({bound} AS TEXT) AS tsquery)
                     ORDER BY item_id DESC LIMIT CAST({most} AS BIGINT)) AS newest
                 ORDER BY ts_rank(doc, CAST(CAST({bound} AS TEXT) AS tsquery)) DESC, id DESC"
            ),
        }
    }

    /// `SELECT id, sort_at` of the visible items `plan` finds, in `order`.
    fn found(&mut self, plan: &Plan, backend: Backend, order: Order) -> String {
        let mut conditions = vec!["i.hidden IS NULL".to_string()];
        let (from, rank) = match (&plan.ranked, backend) {
            (Some(expression), Backend::Sqlite) => {
                let bound = self.bind(Value::Text(expression.clone()));
                conditions.push(format!("item_search MATCH {bound}"));
                (
                    "item_search JOIN items i ON i.id = item_search.rowid",
                    Some("item_search.rank".to_string()),
                )
            }
            (Some(expression), Backend::Postgres) => {
                let bound = self.bind(Value::Text(expression.clone()));
                let query = format!("CAST(CAST({bound} AS TEXT) AS tsquery)");
                conditions.push(format!("f.doc @@ {query}"));
                (
                    "item_search f JOIN items i ON i.id = f.item_id",
                    Some(format!("ts_rank(f.doc, {query}) DESC")),
                )
            }
            (None, _) => ("items i", None),
        };
        for condition in &plan.conditions {
            conditions.push(self.condition(condition, backend));
        }
        let order = match (order, rank) {
            (Order::Relevance, Some(rank)) => format!("{rank}, i.sort_at DESC, i.id DESC"),
            _ => "i.sort_at DESC, i.id DESC".to_string(),
        };
        format!(
            "SELECT i.id AS id, i.sort_at AS sort_at FROM {from} JOIN sources s ON s.id = i.source_id
             WHERE {} ORDER BY {order}",
            conditions.join(" AND ")
        )
    }

    fn condition(&mut self, condition: &Condition, backend: Backend) -> String {
        let joined = |sql: &mut Sql, parts: &[Condition], with: &str, empty: &str| {
            if parts.is_empty() {
                return empty.to_string();
            }
            let parts: Vec<String> = parts.iter().map(|c| sql.condition(c, backend)).collect();
            format!("({})", parts.join(with))
        };
        match condition {
            Condition::Found(expression) => {
                let bound = self.bind(Value::Text(expression.clone()));
                match backend {
                    Backend::Sqlite => format!(
                        "i.id IN (SELECT rowid FROM item_search WHERE item_search MATCH {bound})"
                    ),
                    Backend::Postgres => format!(
                        "i.id IN (SELECT item_id FROM item_search
                                  WHERE doc @@ CAST(CAST({bound} AS TEXT) AS tsquery))"
                    ),
                }
            }
            Condition::SortedFrom(at) => {
                format!(
                    "i.sort_at >= CAST({} AS BIGINT)",
                    self.bind(Value::Integer(*at))
                )
            }
            Condition::SortedBefore(at) => {
                format!(
                    "i.sort_at < CAST({} AS BIGINT)",
                    self.bind(Value::Integer(*at))
                )
            }
            Condition::SourceIn(urls) => {
                let listed = serde_json::to_string(urls).unwrap_or_else(|_| "[]".into());
                let bound = self.bind(Value::Text(listed));
                format!(
                    "s.url IN (SELECT value FROM {})",
                    backend.json_values(&bound)
                )
            }
            Condition::All(parts) => joined(self, parts, " AND ", "1 = 1"),
            Condition::Any(parts) => joined(self, parts, " OR ", "1 = 0"),
            Condition::Not(inner) => format!("NOT ({})", self.condition(inner, backend)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::model::{Author, Category, FeedMeta, Item, Text};
    use crate::store::testing::{fetched, on_each_backend, source};

    const TITLES: [&str; 6] = [
        "Council notice about cycle routes",
        "New café opens on Main Street",
        "Budget vote: the council says no",
        "Routes of the night buses change",
        "Covid-19 figures for the week",
        "Open data: the cycle counters",
    ];
    const TEXTS: [&str; 4] = [
        "<p>Notes to editors: the <b>council</b> meets on Tuesday.</p>",
        "<p>A naïve plan for the Café Royal, said the mayor.</p>",
        "<p>Cycle lanes and bus lanes &amp; more.</p>",
        "<p>Nothing here but words.</p>",
    ];

    /// 72 items over three publishers and 24 days, each a combination of the above.
    fn corpus(store: &mut Store) {
        let sources = [
            source("https://a.example/feed", Some("City Council")),
            source("https://b.example/feed", Some("Evening Post")),
            source("https://c.example/feed", Some("Café Society")),
        ];
        store.sync_sources(&sources).unwrap();
        for (s, src) in sources.iter().enumerate() {
            let items: Vec<Item> = (0..24)
                .map(|n| Item {
                    key: format!("k{s}-{n}"),
                    guid: Some(format!("k{s}-{n}")),
                    link: Some(format!(
                        "https://{}.example.org/{n}",
                        ["www", "news", "cafe"][(n + s) % 3]
                    )),
                    title: Some(TITLES[(n * 5 + s) % TITLES.len()].into()),
                    content: Some(Text {
                        body: TEXTS[(n + 2 * s) % TEXTS.len()].into(),
                        is_html: true,
                    }),
                    authors: vec![Author {
                        name: ["Zoë Martin", "Ann Lee"][n % 2].into(),
                        ..Author::default()
                    }],
                    categories: if n % 4 == 0 {
                        vec![Category::new("Open Data")]
                    } else {
                        vec![]
                    },
                    published: Some(
                        Utc.with_ymd_and_hms(2026, 11, 1 + n as u32, 12, s as u32, 0)
                            .unwrap(),
                    ),
                    ..Item::default()
                })
                .collect();
            let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
            fetched(store, src, &FeedMeta::default(), &items, at);
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    fn titles(store: &Store, query: &str) -> Vec<String> {
        let query = Query::parse(query).unwrap();
        let rows = store.search(&query, Order::Newest, 1000, now()).unwrap();
        rows.into_iter().map(|r| r.item.item.key).collect()
    }

    /// Every construct, on each backend: what the index finds is what the matcher finds item
    /// by item, and the known answers hold.
    #[test]
    fn the_index_finds_what_the_matcher_finds() {
        on_each_backend("search_constructs", |mut store| {
            corpus(&mut store);
            // New items are indexed as they are stored: nothing waits.
            assert_eq!(store.index_pending(now()).unwrap(), 0);
            let waiting: i64 = store
                .db
                .query_row("SELECT COUNT(*) FROM search_pending", (), |row| row.get(0))
                .unwrap();
            assert_eq!(waiting, 0);
            let all = store
                .items(&ItemFilter {
                    limit: 1000,
                    ..ItemFilter::default()
                })
                .unwrap();
            let url = |item: &crate::model::StoredItem| item.publisher.feed_url.clone();
            for query in [
                "council",
                "cycle routes",
                "\"cycle routes\"",
                "\"routes cycle\"",
                "cafe",
                "CAFÉ",
                "naive",
                "council -budget",
                "council -\"notes to editors\"",
                "budget OR buses",
                "(budget OR buses) council",
                "title:council",
                "title:cafe",
                "author:zoe",
                "author:\"ann lee\"",
                "source:council",
                "source:\"cafe society\" routes",
                "tag:\"open data\"",
                "tag:open",
                "site:news.example.org",
                "site:example.org cycle",
                "covid-19",
                "cycle after:2026-11-20",
                "cycle before:2026-11-05",
                "council after:7d",
                "(cycle OR budget) -(council OR café)",
                "routes (title:night OR author:zoe)",
                "buses OR after:2026-11-23",
                "open data -tag:\"open data\"",
            ] {
                let parsed = Query::parse(query).unwrap();
                let expected: BTreeSet<String> = all
                    .iter()
                    .filter(|i| parsed.matches(&Indexed::of(i, &url(i)), now()))
                    .map(|i| i.item.key.clone())
                    .collect();
                let found: BTreeSet<String> = titles(&store, query).into_iter().collect();
                assert_eq!(found, expected, "{query} on {:?}", store.backend());
            }
            // Best match first: a word of the title weighs most.
            let best = store
                .search(
                    &Query::parse("council").unwrap(),
                    Order::Relevance,
                    5,
                    now(),
                )
                .unwrap();
            let title = best[0].item.item.title.clone().unwrap_or_default();
            assert!(title.to_lowercase().contains("council"), "{title}");
            // Known answers, so that the matcher is not only compared with itself.
            assert_eq!(titles(&store, "\"night buses\"").len(), 12);
            assert_eq!(titles(&store, "cafe").len(), titles(&store, "café").len());
            assert!(titles(&store, "\"routes cycle\"").is_empty());
            assert_eq!(titles(&store, "tag:\"open data\"").len(), 18);
            assert_eq!(
                titles(&store, "council after:2026-11-24").len(),
                titles(&store, "council after:7d").len()
            );
        });
    }

    #[test]
    fn the_databases_syntax_in_a_query_is_data_and_a_deletion_leaves_nothing() {
        on_each_backend("search_hostile", |mut store| {
            corpus(&mut store);
            store.index_pending(now()).unwrap();
            for hostile in [
                "NEAR(council buses)",
                "council*",
                "^council",
                "council:",
                "'council'",
                "council & !budget | x",
                "{title}: council",
                "council\\",
            ] {
                let query = Query::parse(hostile).unwrap();
                store.search(&query, Order::Relevance, 10, now()).unwrap();
            }
            let before = titles(&store, "cafe").len();
            assert!(before > 0);
            store.db.execute("DELETE FROM item_sources", ()).ok();
            store.db.execute("DELETE FROM item_keys", ()).ok();
            store
                .db
                .execute("DELETE FROM items WHERE title LIKE '%café%'", ())
                .unwrap();
            store.index_pending(now()).unwrap();
            let after = titles(&store, "title:cafe");
            assert!(after.is_empty(), "{after:?}");
            let table = match store.backend() {
                Backend::Sqlite => "SELECT COUNT(*) FROM item_search",
                Backend::Postgres => "SELECT COUNT(*) FROM item_search",
            };
            let indexed: i64 = store.db.query_row(table, (), |row| row.get(0)).unwrap();
            let visible: i64 = store
                .db
                .query_row("SELECT COUNT(*) FROM items", (), |row| row.get(0))
                .unwrap();
            assert_eq!(indexed, visible);
        });
    }

    #[test]
    fn a_saved_search_keeps_its_matches_as_items_arrive() {
        on_each_backend("search_saved", |mut store| {
            let saved = Query::parse("council -budget").unwrap();
            store.save_searches(vec![saved.clone()], now()).unwrap();
            corpus(&mut store);
            store.index_pending(now()).unwrap();
            let filter = |key: String| ItemFilter {
                limit: 1000,
                saved: Some(key),
                ..ItemFilter::default()
            };
            let kept: BTreeSet<String> = store
                .items(&filter(saved.key()))
                .unwrap()
                .into_iter()
                .map(|i| i.item.key)
                .collect();
            let searched: BTreeSet<String> =
                titles(&store, "council -budget").into_iter().collect();
            assert!(!kept.is_empty());
            assert_eq!(kept, searched);
            // A search saved later is filled from the index once.
            let later = Query::parse("buses").unwrap();
            store
                .save_searches(vec![saved, later.clone()], now())
                .unwrap();
            assert_eq!(
                store.items(&filter(later.key())).unwrap().len(),
                titles(&store, "buses").len()
            );
        });
    }
}

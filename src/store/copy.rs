//! `tributary db copy`: the whole state of one database written into another, empty one, from
//! SQLite to PostgreSQL or back, with every id kept (items' public ids, deliveries' ids and what
//! points at them stay the same).

use rusqlite::types::Value;

use super::db::{Backend, Db};
use super::{Store, StoreError};

/// The tables copied, each after those it refers to.
const COPIED: &[&str] = &[
    "sources",
    "items",
    "source_events",
    "item_keys",
    "item_sources",
    "pruned_keys",
    "settings",
    "subscriptions",
    "webhook_items",
    "webhook_deliveries",
    "webhooks",
    "stories",
    "stories_next",
];

/// Tables left behind: they say which instances ran on a database and who leads there, and
/// what the last render wrote (the copy's first render writes everything), not what it holds;
/// and the search index (`item_search`, with SQLite's tables behind it) and the stories' keys,
/// made again from the copied items, as each backend keeps its own.
const LEFT: &[&str] = &[
    "instances",
    "leadership",
    "item_changes",
    "render_state",
    "saved_matches",
    "saved_searches",
    "search_pending",
    "site_items",
    "site_publishers",
    "site_sources",
    "site_tags",
    "story_items",
    "story_keys",
    "story_pending",
];

/// Whether `table` is left behind: in `LEFT`, or the search index (SQLite keeps FTS5's in
/// tables named after it).
fn left(table: &str) -> bool {
    LEFT.contains(&table) || table == "item_search" || table.starts_with("item_search_")
}

/// Tables whose `id` the database assigns: the copy's next ids follow the copied ones.
const WITH_IDS: &[&str] = &["sources", "items", "source_events", "webhook_deliveries"];

/// Rows read at once from a table with ids: a large database is never held whole in memory.
const BATCH: i64 = 1000;

/// Why `db copy` refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the destination already holds {sources} sources and {items} items: db copy fills an empty database only"
    )]
    /// The destination is not empty.
    NotEmpty {
        /// Its sources.
        sources: i64,
        /// Its items.
        items: i64,
    },
    #[error("table {0} is not known to db copy (a newer schema?)")]
    /// A table neither copied nor deliberately left.
    UnknownTable(String),
    #[error("table {table} has columns {from:?} in one database and {to:?} in the other")]
    /// The two schemas differ.
    Columns {
        /// The table.
        table: String,
        /// Its columns where the copy comes from.
        from: Vec<String>,
        /// Its columns where it goes.
        to: Vec<String>,
    },
    #[error("{0}")]
    /// A statement failed; nothing was written.
    Store(#[from] StoreError),
}

impl From<super::DbError> for CopyError {
    fn from(error: super::DbError) -> Self {
        CopyError::Store(error.into())
    }
}

impl From<rusqlite::Error> for CopyError {
    fn from(error: rusqlite::Error) -> Self {
        CopyError::Store(error.into())
    }
}

impl Store {
    /// Copies everything this database holds into `to`, which must be empty, in one
    /// transaction there: all of it or nothing. How many rows of each table were copied.
    pub fn copy_into(&self, to: &mut Store) -> Result<Vec<(&'static str, u64)>, CopyError> {
        for table in tables(&self.db)? {
            if !COPIED.contains(&table.as_str()) && !left(&table) {
                return Err(CopyError::UnknownTable(table));
            }
        }
        let count = |sql: &str| to.db.query_row(sql, (), |row| row.get::<_, i64>(0));
        let (sources, items) = (
            count("SELECT count(*) FROM sources")?,
            count("SELECT count(*) FROM items")?,
        );
        if sources > 0 || items > 0 {
            return Err(CopyError::NotEmpty { sources, items });
        }
        let tx = to.db.transaction()?;
        let mut copied = Vec::new();
        for &table in COPIED {
            let from = columns(&self.db, table)?;
            let mut sorted = (from.clone(), columns(&tx, table)?);
            sorted.0.sort();
            sorted.1.sort();
            if sorted.0 != sorted.1 {
                return Err(CopyError::Columns {
                    table: table.to_string(),
                    from: sorted.0,
                    to: sorted.1,
                });
            }
            let rows = copy_rows(&self.db, &tx, table, &from)?;
            copied.push((table, rows));
        }
        // The copied sources came with their item counts, and the triggers counted each copied
        // item once more: counted afresh from what is there.
        tx.execute_batch(
            "UPDATE sources SET
                 item_count = (SELECT count(*) FROM items WHERE source_id = sources.id),
                 newest_item_at = (SELECT max(sort_at) FROM items WHERE source_id = sources.id)",
        )?;
        // Indexed for search, and keyed for stories, at the copy's first start.
        tx.execute_batch(
            "INSERT INTO search_pending (item_id) SELECT id FROM items WHERE hidden IS NULL;
             INSERT INTO story_pending (item_id) SELECT id FROM items WHERE hidden IS NULL;",
        )?;
        // SQLite follows explicit ids by itself; PostgreSQL's identities must be told.
        if tx.backend() == Backend::Postgres {
            for table in WITH_IDS {
                tx.execute_batch(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   COALESCE(max(id), 0) + 1, false) FROM {table}"
                ))?;
            }
        }
        tx.commit()?;
        Ok(copied)
    }
}

/// Every row of `table` (its `columns`) from `from` into `to`: by id in batches where rows
/// have ids, so that a large table is never held whole. How many rows were copied.
fn copy_rows(from: &Db, to: &Db, table: &str, columns: &[String]) -> Result<u64, StoreError> {
    let list = columns.join(", ");
    let values = (1..=columns.len())
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({values})");
    let read = |row: &super::db::Row<'_>| {
        (0..columns.len())
            .map(|n| row.get::<_, Value>(n))
            .collect::<Result<Vec<Value>, _>>()
    };
    let mut rows = 0;
    if !WITH_IDS.contains(&table) {
        let all: Vec<Vec<Value>> = from
            .prepare(&format!("SELECT {list} FROM {table}"))?
            .query_map((), read)?
            .collect::<Result<_, _>>()?;
        for row in &all {
            to.prepare_cached(&insert)?.execute(row.as_slice())?;
            rows += 1;
        }
        return Ok(rows);
    }
    let id = columns.iter().position(|c| c == "id").unwrap_or(0);
    let mut after = i64::MIN;
    loop {
        let batch: Vec<Vec<Value>> = from
            .prepare_cached(&format!(
                "SELECT {list} FROM {table} WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?
            .query_map(rusqlite::params![after, BATCH], read)?
            .collect::<Result<_, _>>()?;
        let Some(last) = batch.last() else { break };
        if let Value::Integer(last) = last[id] {
            after = last;
        }
        for row in &batch {
            to.prepare_cached(&insert)?.execute(row.as_slice())?;
            rows += 1;
        }
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    Ok(rows)
}

/// The tables of `db`, but its own bookkeeping.
fn tables(db: &Db) -> Result<Vec<String>, StoreError> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_schema WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name <> 'tributary_schema'
             ORDER BY table_name"
        }
    };
    Ok(db
        .prepare(sql)?
        .query_map((), |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

/// The columns of `table` in `db`, in their order.
fn columns(db: &Db, table: &str) -> Result<Vec<String>, StoreError> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        }
    };
    Ok(db
        .prepare(sql)?
        .query_map([table], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::on_each_backend;

    #[test]
    fn every_table_of_the_schema_is_copied_or_left_on_purpose() {
        on_each_backend(
            "every_table_of_the_schema_is_copied_or_left_on_purpose",
            |store| {
                let found = tables(&store.db).unwrap();
                for table in &found {
                    assert!(
                        COPIED.contains(&table.as_str()) || left(table),
                        "{table}: add it to COPIED or LEFT"
                    );
                }
                for table in COPIED.iter().chain(LEFT) {
                    assert!(found.iter().any(|t| t == table), "{table} is gone");
                }
            },
        );
    }
}

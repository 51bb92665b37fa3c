//! Schema migrations: numbered SQL files in `migrations/`, embedded in the binary and applied in
//! order on `PRAGMA user_version`. Append-only: a shipped file is never edited.

use std::path::Path;

use rusqlite::{Connection, Transaction, params};

use super::{StoreError, public_id};
use crate::identity::canonical_link;

/// A migration: its SQL, and a step in Rust for what SQL cannot compute.
struct Migration {
    name: &'static str,
    sql: &'static str,
    then: Option<fn(&Transaction<'_>) -> rusqlite::Result<()>>,
}

/// Every migration, in order; the schema version is the number of those applied.
const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_initial",
        sql: include_str!("../../migrations/0001_initial.sql"),
        then: None,
    },
    Migration {
        name: "0002_polite_fetching",
        sql: include_str!("../../migrations/0002_polite_fetching.sql"),
        then: None,
    },
    Migration {
        name: "0003_item_identity",
        sql: include_str!("../../migrations/0003_item_identity.sql"),
        then: Some(mint_ids_and_canonical_keys),
    },
    Migration {
        name: "0004_media",
        sql: include_str!("../../migrations/0004_media.sql"),
        then: None,
    },
    Migration {
        name: "0005_faster_polls",
        sql: include_str!("../../migrations/0005_faster_polls.sql"),
        then: None,
    },
];

/// Applies the migrations the database lacks, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let error = |error| StoreError::Migrate {
            path: path.to_path_buf(),
            version,
            error,
        };
        let tx = conn.transaction().map_err(error)?;
        tx.execute_batch(migration.sql).map_err(error)?;
        if let Some(step) = migration.then {
            step(&tx).map_err(error)?;
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(error)?;
        tx.commit().map_err(error)?;
        tracing::info!(migration = migration.name, version, "database migrated");
    }
    Ok(())
}

/// 0003: items stored before it get their minted id and their canonical-link key.
fn mint_ids_and_canonical_keys(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut query = tx.prepare(
        "SELECT i.id, i.source_id, s.url, i.key, i.link FROM items i
         JOIN sources s ON s.id = i.source_id",
    )?;
    let rows: Vec<(i64, i64, String, String, Option<String>)> = query
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, source_id, url, key, link) in rows {
        tx.execute(
            "UPDATE items SET public_id = ?2 WHERE id = ?1",
            params![id, public_id(&url, &key)],
        )?;
        if let Some(canonical) = link.as_deref().and_then(canonical_link) {
            tx.execute(
                "INSERT OR IGNORE INTO item_keys (source_id, key, item_id) VALUES (?1, ?2, ?3)",
                params![source_id, format!("canon:{canonical}"), id],
            )?;
        }
    }
    tx.execute_batch("CREATE UNIQUE INDEX items_public_id ON items (public_id);")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_gets_every_migration_and_a_second_run_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('sources', 'items')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 2);
    }

    #[test]
    fn items_stored_before_0003_get_their_minted_id_and_canonical_key() {
        let mut conn = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..2] {
            conn.execute_batch(migration.sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO sources (id, url) VALUES (1, 'https://p.example/feed');
             INSERT INTO items (source_id, key, link, first_seen, sort_at, fingerprint)
             VALUES (1, 'guid:a', 'https://p.example/a/?utm_source=x', 0, 0, '');",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let id: String = conn
            .query_row("SELECT public_id FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, public_id("https://p.example/feed", "guid:a"));
        let keys: Vec<String> = conn
            .prepare("SELECT key FROM item_keys ORDER BY key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(keys, ["canon:https://p.example/a", "guid:a"]);
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        let err = migrate(&mut conn, Path::new("x.db")).unwrap_err();
        assert!(
            matches!(err, StoreError::TooNew { found: 999, .. }),
            "{err}"
        );
    }
}

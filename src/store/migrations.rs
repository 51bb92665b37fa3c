//! Schema migrations: numbered SQL files in `migrations/sqlite/` and `migrations/postgres/`,
//! embedded in the binary and applied in order, on SQLite's `PRAGMA user_version` or
//! PostgreSQL's `tributary_schema` table. Append-only: a shipped file is never edited.
//! PostgreSQL's schema begins at version 11 (one file, the whole schema then); from 0012 on each
//! change has a file of the same number in both folders.

use std::path::Path;

use rusqlite::{Connection, Transaction, params};

use super::ingest::stored_columns;
use super::{StoreError, from_unix, public_id};
use crate::identity::canonical_link;
use crate::identity::identity_key;
use crate::model::{Item, Text};
use crate::sanitize::{MAX_NAME_CHARS, bounded_line, fit_to_publish, web_url};

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
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
        then: None,
    },
    Migration {
        name: "0002_polite_fetching",
        sql: include_str!("../../migrations/sqlite/0002_polite_fetching.sql"),
        then: None,
    },
    Migration {
        name: "0003_item_identity",
        sql: include_str!("../../migrations/sqlite/0003_item_identity.sql"),
        then: Some(mint_ids_and_canonical_keys),
    },
    Migration {
        name: "0004_media",
        sql: include_str!("../../migrations/sqlite/0004_media.sql"),
        then: None,
    },
    Migration {
        name: "0005_faster_polls",
        sql: include_str!("../../migrations/sqlite/0005_faster_polls.sql"),
        then: None,
    },
    Migration {
        name: "0006_nothing_unsafe_goes_out",
        sql: include_str!("../../migrations/sqlite/0006_nothing_unsafe_goes_out.sql"),
        then: Some(fit_stored_items_to_publish),
    },
    Migration {
        name: "0007_fidelity",
        sql: include_str!("../../migrations/sqlite/0007_fidelity.sql"),
        then: None,
    },
    Migration {
        name: "0008_shaping",
        sql: include_str!("../../migrations/sqlite/0008_shaping.sql"),
        then: None,
    },
    Migration {
        name: "0009_site",
        sql: include_str!("../../migrations/sqlite/0009_site.sql"),
        then: None,
    },
    Migration {
        name: "0010_paused",
        sql: include_str!("../../migrations/sqlite/0010_paused.sql"),
        then: None,
    },
    Migration {
        name: "0011_real_time",
        sql: include_str!("../../migrations/sqlite/0011_real_time.sql"),
        then: None,
    },
    Migration {
        name: "0012_instances",
        sql: include_str!("../../migrations/sqlite/0012_instances.sql"),
        then: None,
    },
    Migration {
        name: "0013_source_counts",
        sql: include_str!("../../migrations/sqlite/0013_source_counts.sql"),
        then: None,
    },
    Migration {
        name: "0014_cheaper_item_writes",
        sql: include_str!("../../migrations/sqlite/0014_cheaper_item_writes.sql"),
        then: None,
    },
    Migration {
        name: "0015_changes",
        sql: include_str!("../../migrations/sqlite/0015_changes.sql"),
        then: None,
    },
    Migration {
        name: "0016_search",
        sql: include_str!("../../migrations/sqlite/0016_search.sql"),
        then: None,
    },
    Migration {
        name: "0017_stories",
        sql: include_str!("../../migrations/sqlite/0017_stories.sql"),
        then: None,
    },
];

/// PostgreSQL's migrations: each one's version, name and SQL.
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        11,
        "0011_real_time",
        include_str!("../../migrations/postgres/0011_real_time.sql"),
    ),
    (
        12,
        "0012_instances",
        include_str!("../../migrations/postgres/0012_instances.sql"),
    ),
    (
        13,
        "0013_source_counts",
        include_str!("../../migrations/postgres/0013_source_counts.sql"),
    ),
    (
        14,
        "0014_cheaper_item_writes",
        include_str!("../../migrations/postgres/0014_cheaper_item_writes.sql"),
    ),
    (
        15,
        "0015_changes",
        include_str!("../../migrations/postgres/0015_changes.sql"),
    ),
    (
        16,
        "0016_search",
        include_str!("../../migrations/postgres/0016_search.sql"),
    ),
    (
        17,
        "0017_stories",
        include_str!("../../migrations/postgres/0017_stories.sql"),
    ),
];

/// The advisory lock instances take to migrate one at a time ("trib" in ASCII).
const MIGRATION_LOCK: i64 = 0x7472_6962;

/// Applies the migrations the database lacks, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            database: path.display().to_string(),
            found,
            known,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let error = |error: rusqlite::Error| StoreError::Migrate {
            database: path.display().to_string(),
            version,
            error: error.into(),
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

/// Applies PostgreSQL's migrations the database lacks, all in one transaction (PostgreSQL's
/// DDL is transactional), under an advisory lock: instances starting together migrate once.
pub(super) fn migrate_postgres(
    client: &mut postgres::Client,
    database: &str,
) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let error = |version: i64| {
        move |error: postgres::Error| StoreError::Migrate {
            database: database.to_string(),
            version,
            error: error.into(),
        }
    };
    let mut tx = client.transaction().map_err(error(0))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(error(0))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tributary_schema (version BIGINT NOT NULL)")
        .map_err(error(0))?;
    let found: i64 = tx
        .query_opt("SELECT version FROM tributary_schema", &[])
        .map_err(error(0))?
        .map(|row| row.get(0))
        .unwrap_or(0);
    if found > known {
        return Err(StoreError::TooNew {
            database: database.to_string(),
            found,
            known,
        });
    }
    for &(version, name, sql) in POSTGRES_MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.batch_execute(sql).map_err(error(version))?;
        tx.execute("DELETE FROM tributary_schema", &[])
            .map_err(error(version))?;
        tx.execute(
            "INSERT INTO tributary_schema (version) VALUES ($1)",
            &[&version],
        )
        .map_err(error(version))?;
        tracing::info!(migration = name, version, "database migrated");
    }
    tx.commit().map_err(error(known))
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
                "INSERT INTO item_keys (source_id, key, item_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![source_id, format!("canon:{canonical}"), id],
            )?;
        }
    }
    tx.execute_batch("CREATE UNIQUE INDEX items_public_id ON items (public_id);")
}

/// 0006: items and sources stored before Tributary checked what it publishes are made as they
/// would be ingested today: URLs a reader cannot safely follow dropped, lines bounded. Read
/// row by row, keeping only the changed ones. An item without a guid whose link or title was
/// its identity also gets the key it would have now, so that its next fetch finds it.
fn fit_stored_items_to_publish(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for (id, source_id, item) in items_unfit_to_publish(tx)? {
        let [authors, enclosures, categories, fingerprint] = stored_columns(&item)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        tx.execute(
            "UPDATE items SET link = ?2, title = ?3, authors = ?4, enclosures = ?5,
                 categories = ?6, image = ?7, fingerprint = ?8 WHERE id = ?1",
            params![
                id,
                item.link,
                item.title,
                authors,
                enclosures,
                categories,
                item.image,
                fingerprint
            ],
        )?;
        if item.guid.is_none() {
            let key = identity_key(
                None,
                item.link.as_deref(),
                item.title.as_deref(),
                item.published,
            );
            tx.execute(
                "INSERT INTO item_keys (source_id, key, item_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![source_id, key, id],
            )?;
        }
    }
    fit_stored_sources_to_publish(tx)
}

/// Sources' site links and titles as ingestion keeps them today.
fn fit_stored_sources_to_publish(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let sources: Vec<(i64, Option<String>, Option<String>)> = tx
        .prepare("SELECT id, feed_link, feed_title FROM sources")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, link, title) in sources {
        let safe_link = link.as_deref().and_then(web_url).map(str::to_string);
        let bounded = title.as_deref().map(|t| bounded_line(t, MAX_NAME_CHARS));
        if safe_link != link || bounded != title {
            tx.execute(
                "UPDATE sources SET feed_link = ?2, feed_title = ?3 WHERE id = ?1",
                params![id, safe_link, bounded],
            )?;
        }
    }
    Ok(())
}

/// The stored items that `fit_to_publish` changes, each with its id, its source's and the item
/// as it should be. Read row by row, keeping only the changed ones.
fn items_unfit_to_publish(tx: &Transaction<'_>) -> rusqlite::Result<Vec<(i64, i64, Item)>> {
    let mut changed = Vec::new();
    let mut query = tx.prepare(
        "SELECT id, source_id, key, guid, link, title, summary, summary_html, content,
                content_html, authors, enclosures, categories, image, published FROM items",
    )?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let json = |index: usize| -> rusqlite::Result<String> { row.get(index) };
        let text = |body: Option<String>, is_html: bool| body.map(|body| Text { body, is_html });
        let mut item = Item {
            link_title: None,
            links: Vec::new(),
            key: row.get(2)?,
            aliases: Vec::new(),
            guid: row.get(3)?,
            link: row.get(4)?,
            title: row.get(5)?,
            summary: text(row.get(6)?, row.get(7)?),
            content: text(row.get(8)?, row.get(9)?),
            authors: serde_json::from_str(&json(10)?).unwrap_or_default(),
            enclosures: serde_json::from_str(&json(11)?).unwrap_or_default(),
            categories: serde_json::from_str(&json(12)?).unwrap_or_default(),
            image: row.get(13)?,
            published: row.get::<_, Option<i64>>(14)?.map(from_unix),
            updated: None,
            digest: String::new(),
            unchanged: false,
        };
        let before = item.clone();
        fit_to_publish(&mut item);
        if item != before {
            changed.push((row.get(0)?, row.get(1)?, item));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn postgres_migrations_reach_the_version_sqlite_does() {
        let last = POSTGRES_MIGRATIONS.last().map(|m| m.0);
        assert_eq!(last, Some(MIGRATIONS.len() as i64));
        assert!(POSTGRES_MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

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
                (),
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
    fn items_stored_before_0006_lose_unsafe_urls_and_dates_and_are_not_stored_twice() {
        use crate::config::ItemRules;
        use crate::model::Verdict;
        use crate::parse::{ParseOptions, parse_feed};

        // What an earlier Tributary stored from a hostile feed: the item as it is parsed today,
        // with the script link it then kept (and was identified by).
        let feed = br#"<rss version="2.0"><channel><title>Evil</title><link>javascript:x</link>
            <item><title>Scripted</title><link>javascript:alert(1)</link>
              <description>About it.</description>
              <pubDate>Sun, 01 Jun 2025 00:00:00 GMT</pubDate></item></channel></rss>"#;
        let parsed = parse_feed(feed, ParseOptions::default()).unwrap();
        let today = parsed.items[0].clone();
        let mut conn = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..5] {
            conn.execute_batch(migration.sql).unwrap();
            if let Some(step) = migration.then {
                let tx = conn.transaction().unwrap();
                step(&tx).unwrap();
                tx.commit().unwrap();
            }
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let long_title = "t".repeat(5_000);
        conn.execute(
            "INSERT INTO sources (id, url, feed_link, feed_title)
             VALUES (1, 'https://evil.example/feed', 'javascript:x', ?1)",
            [&long_title],
        )
        .unwrap();
        let authors = r#"[{"name":"Mallory","uri":"data:text/html,x"}]"#;
        let enclosures = r#"[{"url":"vbscript:x"},{"url":"https://evil.example/a.mp3"}]"#;
        let insert = "INSERT INTO items (id, source_id, key, public_id, link, title, summary,
                 authors, enclosures, image, published, updated, first_seen, sort_at, fingerprint)
             VALUES (?1, 1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9, ?9, 'old')";
        let june = 1_748_736_000_i64;
        conn.execute(
            insert,
            params![
                1,
                "link:javascript:alert(1)",
                "javascript:alert(1)",
                "Scripted",
                today.summary.as_ref().map(|t| t.body.clone()),
                "[]",
                "[]",
                None::<String>,
                june,
                4_070_908_800_i64, // 2099
            ],
        )
        .unwrap();
        conn.execute(
            insert,
            params![
                2,
                "guid:2",
                "https://evil.example/2",
                long_title,
                None::<String>,
                authors,
                enclosures,
                "DATA:image/png,x",
                june,
                0, // 1970
            ],
        )
        .unwrap();
        conn.execute(
            insert,
            params![
                3,
                "guid:3",
                None::<String>,
                "Three",
                None::<String>,
                "[]",
                "[]",
                None::<String>,
                june,
                june - 86_400
            ],
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();

        let row =
            |id: i64| -> (
                Option<String>,
                String,
                String,
                String,
                Option<String>,
                Option<i64>,
            ) {
                conn.query_row(
                "SELECT link, title, authors, enclosures, image, updated FROM items WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .unwrap()
            };
        let (link, _, _, _, _, updated) = row(1);
        assert_eq!((link, updated), (None, None));
        let (link, title, authors, enclosures, image, updated) = row(2);
        assert_eq!(link.as_deref(), Some("https://evil.example/2"));
        assert_eq!(title.chars().count(), 1_000);
        assert_eq!(authors, r#"[{"name":"Mallory"}]"#);
        assert_eq!(enclosures, r#"[{"url":"https://evil.example/a.mp3"}]"#);
        assert_eq!((image, updated), (None, None));
        assert_eq!(
            row(3).5,
            Some(june),
            "an update before publication moves up to it"
        );
        let (site, name): (Option<String>, String) = conn
            .query_row("SELECT feed_link, feed_title FROM sources", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((site, name.chars().count()), (None, 200));

        // The same feed fetched again finds the item it stored, as it is: not new, not updated.
        let mut store = Store::with(conn).unwrap();
        let source = crate::store::testing::source("https://evil.example/feed", None);
        let now = from_unix(june + 86_400);
        let verdicts = store
            .preview_items(&source, &parsed.items, &ItemRules::default(), now)
            .unwrap();
        assert_eq!(verdicts, [(today.key, Verdict::Unchanged)]);
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

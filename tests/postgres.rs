//! The store on PostgreSQL: the `tributary` binary with `[database] url`, against a fake
//! publisher on 127.0.0.1, asserting on the rows PostgreSQL holds and on the merged feed.
//!
//! These need a PostgreSQL server: `TEST_POSTGRES_URL` names a database on it that may
//! create databases (`eval "$(bash .ci/postgres)"` starts one; `.ci/run` does). Each test makes
//! a database of its own. Without the variable they say SKIPPED, except under `CI=true`, where
//! they fail.

mod common;

use common::*;

const D1: &str = "Mon, 18 Aug 2025 10:00:00 GMT";
const D2: &str = "Tue, 19 Aug 2025 10:00:00 GMT";
const D3: &str = "Wed, 20 Aug 2025 10:00:00 GMT";

/// A database of this test's own on the test server, dropped at the end.
struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A new empty database; `None` (having said SKIPPED) where no server is configured.
    fn create(test: &str) -> Option<TestDatabase> {
        let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: TEST_POSTGRES_URL is not set; .ci/run starts PostgreSQL and sets it"
            );
            eprintln!("SKIPPED {test}: no PostgreSQL (set TEST_POSTGRES_URL, see .ci/postgres)");
            return None;
        };
        let name = format!("tributary_test_{}", std::process::id()) + "_" + test;
        run_sql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        run_sql(&admin, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(TestDatabase {
            admin,
            name,
            url: url.to_string(),
        })
    }

    /// The one number `sql` selects.
    fn count(&self, sql: &str) -> i64 {
        self.rows(sql)[0].get(0)
    }

    fn rows(&self, sql: &str) -> Vec<postgres::Row> {
        let (url, sql) = (self.url.clone(), sql.to_string());
        // The client blocks on a runtime of its own: off the test's.
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            client.query(&sql, &[]).unwrap()
        })
        .join()
        .unwrap()
    }

    fn execute(&self, sql: &str) {
        run_sql(&self.url, sql);
    }

    /// The config lines for this database, the outputs in the workspace.
    fn config(&self, server: &FeedServer, sources: &[(&str, &str)]) -> String {
        config_with_sources(server, sources).replace(
            "[database]\npath = \"state/tributary.db\"",
            &format!("[database]\nurl = \"{}\"", self.url),
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls).ok()?;
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .ok()
        })
        .join();
    }
}

fn run_sql(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

#[tokio::test]
async fn once_on_postgres_stores_each_item_once_updates_in_place_and_merges_with_publishers() {
    let Some(db) = TestDatabase::create("once") else {
        return;
    };
    let server = FeedServer::start().await;
    let harbour = |items: &[TestItem]| rss("Harbour Feed", "https://harbour.example/", items);
    server.serve(
        "/harbour.xml",
        harbour(&[item("h2", "Harbour two", D2), item("h1", "Harbour one", D1)]),
    );
    // The mirror carries Harbour's first article again, under a guid of its own and dated
    // later: whichever source is stored first, Harbour's earlier copy is the one shown.
    server.serve(
        "/mirror.xml",
        channel(
            "Mirror",
            &[raw_item(
                Some("m1"),
                "Harbour one",
                Some("https://harbour.example/h1"),
                "<p>About Harbour one.</p>",
                D2,
            )],
        ),
    );
    let ws = Workspace::new(&db.config(
        &server,
        &[("Harbour", "/harbour.xml"), ("Mirror", "/mirror.xml")],
    ));

    let first = ws.tributary(&["once"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(
        out.contains("2 sources, 2 ok, 0 failed, 0 rate limited, 0 gone, 0 skipped; 2 new"),
        "{out}"
    );
    assert!(!ws.path("state/tributary.db").exists(), "SQLite was used");
    assert_eq!(db.count("SELECT count(*) FROM items"), 2);
    assert_eq!(db.count("SELECT count(*) FROM sources"), 2);
    // The mirror's copy is recorded against Harbour's item, not stored twice.
    assert_eq!(
        db.count(
            "SELECT count(*) FROM item_sources v JOIN sources s ON s.id = v.source_id
             WHERE s.name = 'Mirror'"
        ),
        1
    );
    assert_eq!(
        entries_with_publishers(&ws.path("public/feed.xml")),
        [
            ("Harbour two".to_string(), "Harbour".to_string()),
            ("Harbour one".to_string(), "Harbour".to_string()),
        ]
    );
    let ids: Vec<String> = db
        .rows("SELECT public_id FROM items ORDER BY sort_at DESC")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let feed = ws.feed("public/feed.xml");
    let entry_ids: Vec<String> = feed.entries.iter().map(|e| e.id.clone()).collect();
    assert_eq!(entry_ids, ids);

    // Again: nothing new, nothing doubled; then an edited title and a new item.
    let again = ws.tributary(&["once"]).await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Harbour: 0 new, 0 updated, 2 unchanged"),
        "{}",
        stdout(&again)
    );
    server.serve(
        "/harbour.xml",
        harbour(&[
            item("h3", "Harbour three", D3),
            item("h2", "Harbour two, corrected", D2),
            item("h1", "Harbour one", D1),
        ]),
    );
    let third = ws.tributary(&["once"]).await;
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(
        stdout(&third).contains("Harbour: 1 new, 1 updated, 1 unchanged"),
        "{}",
        stdout(&third)
    );
    assert_eq!(db.count("SELECT count(*) FROM items"), 3);
    assert_eq!(
        db.count("SELECT count(*) FROM items WHERE title = 'Harbour two, corrected'"),
        1
    );
    assert_eq!(
        ws.feed("public/feed.xml")
            .entries
            .iter()
            .map(text_of)
            .filter(|t| t.contains("Harbour two"))
            .count(),
        1
    );
    // Each source's validators and next poll are kept.
    assert_eq!(
        db.count("SELECT count(*) FROM sources WHERE next_poll_at IS NOT NULL"),
        2
    );

    // `status` reads the same database.
    let status = ws.tributary(&["status"]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    let table = stdout(&status);
    let harbour_line = table.lines().find(|l| l.starts_with("Harbour")).unwrap();
    assert!(harbour_line.contains(" 3 "), "{table}");
}

#[tokio::test]
async fn a_postgres_database_from_a_newer_tributary_is_refused_and_left_alone() {
    let Some(db) = TestDatabase::create("newer") else {
        return;
    };
    let server = FeedServer::start().await;
    server.serve(
        "/harbour.xml",
        rss(
            "Harbour Feed",
            "https://harbour.example/",
            &[item("h1", "Harbour one", D1)],
        ),
    );
    let ws = Workspace::new(&db.config(&server, &[("Harbour", "/harbour.xml")]));
    let first = ws.tributary(&["once"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(db.count("SELECT version FROM tributary_schema"), 11);

    db.execute("UPDATE tributary_schema SET version = 99");
    let refused = ws.tributary(&["once"]).await;
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("schema version 99, newer than this build of Tributary knows"),
        "{message}"
    );
    assert_eq!(db.count("SELECT count(*) FROM items"), 1);
}

//! The store on PostgreSQL: the `tributary` binary with `[database] url`, against a fake
//! publisher on 127.0.0.1, asserting on the rows PostgreSQL holds and on the merged feed.
//!
//! These need a PostgreSQL server: `TEST_POSTGRES_URL` names a database on it that may
//! create databases (`eval "$(bash .ci/postgres)"` starts one; `.ci/run` does). Each test makes
//! a database of its own. Without the variable they say SKIPPED, except under `CI=true`, where
//! they fail.

mod common;

use std::time::Duration;

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
            skipped(&format!(
                "{test}: no PostgreSQL (TEST_POSTGRES_URL is not set; .ci/run starts one, see \
                 .ci/postgres)"
            ));
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
    // later. Harbour is polled first: the copy found after only adds "also via" (the first
    // source to store an article owns it: tests/open_internet.rs).
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
    let config = db.config(
        &server,
        &[("Harbour", "/harbour.xml"), ("Mirror", "/mirror.xml")],
    );
    let ws = Workspace::new(&format!("{config}\n[site]\npages = \"public/\"\n"));

    let harbour_first = ws.tributary(&["poll", "Harbour"]).await;
    assert!(harbour_first.status.success(), "{}", stderr(&harbour_first));
    assert!(stdout(&harbour_first).contains("Harbour: 2 new"));
    let first = ws.tributary(&["once"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(
        out.contains("2 sources, 2 ok, 0 failed, 0 rate limited, 0 gone, 0 skipped; 0 new"),
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
    // The site followed: the new item and the corrected title, each on its page, placed
    // by what the store logged.
    assert_eq!(db.count("SELECT count(*) FROM site_items"), 3);
    assert_eq!(db.count("SELECT count(*) FROM item_changes"), 0);
    let index = std::fs::read_to_string(ws.path("public/index.html")).unwrap();
    assert!(index.contains("Harbour three") && index.contains("Harbour two, corrected"));
    let corrected: String =
        db.rows("SELECT public_id FROM items WHERE title LIKE '%corrected'")[0].get(0);
    let page = corrected.rsplit(':').next().unwrap();
    let html = std::fs::read_to_string(ws.path(&format!("public/items/{page}.html"))).unwrap();
    assert!(html.contains("<h1>Harbour two, corrected</h1>"), "{html}");
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
    assert_eq!(db.count("SELECT version FROM tributary_schema"), 17);

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

/// Each of `names` with the path of the same place in `paths`: sources for a config.
fn named<'a>(names: &'a [String], paths: &'a [String]) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .zip(paths)
        .map(|(name, path)| (name.as_str(), path.as_str()))
        .collect()
}

/// Three `tributary run` instances share one database over 3,000 feeds; the leader is killed
/// (SIGKILL) mid-round. The farm's request log and the rows tell what a user would check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_share_the_sources_and_a_killed_leaders_work_is_taken_over() {
    let Some(db) = TestDatabase::create("three") else {
        return;
    };
    const FEEDS: usize = 3000;
    let server = FeedServer::start().await;
    let start = chrono::DateTime::parse_from_rfc3339("2025-08-18T10:00:00Z").unwrap();
    let paths: Vec<String> = (0..FEEDS).map(|n| format!("/feed{n}.xml")).collect();
    for (n, path) in paths.iter().enumerate() {
        // Every item dated apart, so that the newest 100 are one set.
        let date = (start + chrono::Duration::minutes(n as i64)).to_rfc2822();
        let title = format!("Article {n}");
        server.serve(
            path,
            rss(
                &format!("Feed {n}"),
                &format!("https://site{n}.example/"),
                &[item(&format!("a{n}"), &title, &date)],
            ),
        );
    }
    let names: Vec<String> = (0..FEEDS).map(|n| format!("Feed {n}")).collect();
    let sources = named(&names, &paths);
    let config = db.config(&server, &sources);
    let workspaces: Vec<Workspace> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            // A short lease, so that the takeover comes within the test; each instance
            // tells the farm who it is.
            Workspace::new(&config.replace(
                "[retention]",
                &format!(
                    "lease = \"10s\"\n\n[poll]\ninterval = \"1h\"\nper_host_concurrency = 16\n\
                     user_agent = \"instance-{name}\"\n\n[retention]"
                ),
            ))
        })
        .collect();
    let mut daemons: Vec<Daemon> = workspaces.iter().map(Daemon::start).collect();
    for daemon in &daemons {
        daemon.ready().await;
    }

    // Mid-round: a fifth of the sources polled, and a leader chosen.
    let polled = || db.count("SELECT count(*) FROM sources WHERE last_poll_at IS NOT NULL");
    assert!(
        wait_for(Duration::from_secs(120), || polled() >= (FEEDS / 5) as i64).await,
        "polls did not begin: {}",
        daemons[0].log()
    );
    let leading = |d: &Daemon| d.log().contains("leading:");
    assert!(wait_for(Duration::from_secs(30), || daemons.iter().any(leading)).await);
    let leaders: Vec<usize> = (0..3).filter(|&i| leading(&daemons[i])).collect();
    assert_eq!(
        leaders.len(),
        1,
        "more than one leader: {}",
        daemons
            .iter()
            .map(|d| d
                .log()
                .lines()
                .filter(|l| l.contains("lead"))
                .collect::<Vec<_>>()
                .join("\n"))
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    let dead = leaders[0];
    let dead_pid = daemons[dead].child.id().unwrap();
    daemons[dead].signal(rustix::process::Signal::KILL).await;
    assert!(daemons[dead].exit(Duration::from_secs(10)).await.is_some());
    let dead_agent = format!("instance-{}", ["a", "b", "c"][dead]);
    let dead_id: String =
        db.rows(&format!("SELECT id FROM instances WHERE pid = {dead_pid}"))[0].get(0);
    // What it held when it died: these, and only these, may be asked twice.
    let held_until: std::collections::HashMap<String, i64> = db
        .rows(&format!(
            "SELECT url, lease_until FROM sources WHERE lease_owner = '{dead_id}'"
        ))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let held: std::collections::HashSet<String> = held_until.keys().cloned().collect();
    let logs_at_kill: Vec<String> = daemons.iter().map(Daemon::log).collect();
    for (i, log) in logs_at_kill.iter().enumerate() {
        assert!(i == dead || !log.contains("leading:"), "two leaders: {log}");
    }

    let killed_at = std::time::Instant::now();
    let held_urls = held.iter().cloned().collect::<Vec<_>>();
    let taken_over = || {
        let polled_by: Vec<(String, Option<String>)> = db
            .rows("SELECT url, last_polled_by FROM sources")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        held_urls.iter().all(|url| {
            polled_by
                .iter()
                .any(|(u, by)| u == url && by.as_deref().is_some_and(|by| by != dead_id))
        })
    };
    assert!(
        wait_for(Duration::from_secs(120), taken_over).await,
        "the dead instance's sources were not taken over"
    );
    // How long after its lease ran out each was polled (later where the start's spread had
    // not made it due elsewhere yet): for the note.
    let mut late: Vec<i64> = db
        .rows("SELECT url, last_poll_at FROM sources")
        .iter()
        .filter_map(|r| Some(r.get::<_, Option<i64>>(1)? - held_until.get(&r.get::<_, String>(0))?))
        .collect();
    late.sort_unstable();
    eprintln!(
        "{} sources held by the killed instance, all polled by others {:?} after the kill; \
         seconds from lease end to poll: {late:?}",
        held.len(),
        killed_at.elapsed()
    );

    // Every source polled, every item stored once.
    assert!(
        wait_for(Duration::from_secs(180), || polled() == FEEDS as i64).await,
        "{} of {FEEDS} polled",
        polled()
    );
    assert_eq!(db.count("SELECT count(*) FROM items"), FEEDS as i64);
    assert_eq!(
        db.count("SELECT count(DISTINCT guid) FROM items"),
        FEEDS as i64
    );

    // The farm's log: each feed asked once, except those held by the dead instance, asked
    // once more by the instance that took them over.
    for path in &paths {
        let seen = server.seen(path);
        let agents: Vec<&str> = seen
            .iter()
            .map(|s| s.headers.get("user-agent").map_or("", String::as_str))
            .collect();
        match agents.len() {
            1 => {}
            2 if held.contains(&server.url(path)) => assert!(
                agents.contains(&dead_agent.as_str()) && agents.iter().any(|a| *a != dead_agent),
                "{path} asked by {agents:?}"
            ),
            _ => panic!("{path} asked by {agents:?}; the dead instance held {held:?}"),
        }
    }

    // One successor leads, and writes the whole outputs; the third never wrote any.
    assert!(
        wait_for(Duration::from_secs(60), || (0..3)
            .any(|i| i != dead && leading(&daemons[i])))
        .await,
        "no instance took the lead"
    );
    let successors: Vec<usize> = (0..3)
        .filter(|&i| i != dead && leading(&daemons[i]))
        .collect();
    assert_eq!(successors.len(), 1);
    let successor = successors[0];
    let third = 3 - dead - successor;
    let newest: Vec<String> = db
        .rows("SELECT title FROM items ORDER BY sort_at DESC LIMIT 100")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(newest[0], format!("Article {}", FEEDS - 1));
    let feed = workspaces[successor].path("public/feed.xml");
    let shown = || {
        std::fs::read(&feed)
            .ok()
            .and_then(|bytes| feed_rs::parser::parse(&bytes[..]).ok())
            .map(|f| {
                f.entries
                    .iter()
                    .map(|e| {
                        e.title
                            .as_ref()
                            .map_or(String::new(), |t| t.content.clone())
                    })
                    .collect::<Vec<String>>()
            })
    };
    assert!(
        wait_for(Duration::from_secs(60), || shown().as_ref()
            == Some(&newest))
        .await,
        "{:?}",
        shown()
    );
    assert!(
        !workspaces[third].path("public/feed.xml").exists(),
        "an instance that never led wrote the outputs"
    );
    for (i, daemon) in daemons.iter_mut().enumerate() {
        if i != dead {
            daemon.stop().await;
        }
    }
}

/// The leader killed (SIGKILL): another instance notices its lease ran out and writes the
/// whole outputs within the lease and 10 seconds of the kill, whatever the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_leaders_outputs_are_complete_again_within_the_lease_and_ten_seconds() {
    let Some(db) = TestDatabase::create("failover") else {
        return;
    };
    const FEEDS: usize = 30;
    const LEASE: Duration = Duration::from_secs(6);
    let server = FeedServer::start().await;
    let paths: Vec<String> = (0..FEEDS).map(|n| format!("/f{n}.xml")).collect();
    for (n, path) in paths.iter().enumerate() {
        let date = format!("Mon, 18 Aug 2025 10:{n:02}:00 GMT");
        server.serve(
            path,
            rss(
                &format!("Feed {n}"),
                &format!("https://f{n}.example/"),
                &[item(&format!("f{n}"), &format!("Article {n}"), &date)],
            ),
        );
    }
    let names: Vec<String> = (0..FEEDS).map(|n| format!("Feed {n}")).collect();
    let sources = named(&names, &paths);
    let config = db.config(&server, &sources).replace(
        "[retention]",
        &format!(
            "lease = \"{}s\"\n\n[poll]\ninterval = \"1h\"\n\n[retention]",
            LEASE.as_secs()
        ),
    );
    let workspaces: Vec<Workspace> = (0..3).map(|_| Workspace::new(&config)).collect();
    let mut daemons: Vec<Daemon> = workspaces.iter().map(Daemon::start).collect();
    for daemon in &daemons {
        daemon.ready().await;
    }
    let entries = |w: &Workspace| {
        std::fs::read(w.path("public/feed.xml"))
            .ok()
            .and_then(|bytes| feed_rs::parser::parse(&bytes[..]).ok())
            .map_or(0, |f| f.entries.len())
    };
    // Every source polled, and the leader's outputs complete.
    assert!(
        wait_for(Duration::from_secs(120), || workspaces
            .iter()
            .any(|w| entries(w) == FEEDS))
        .await,
        "no instance wrote the outputs: {}",
        daemons[0].log()
    );
    let leader = (0..3)
        .find(|&i| daemons[i].log().contains("leading:"))
        .unwrap();
    daemons[leader].signal(rustix::process::Signal::KILL).await;
    let killed = std::time::Instant::now();
    assert!(
        daemons[leader]
            .exit(Duration::from_secs(10))
            .await
            .is_some()
    );

    let complete = || (0..3).any(|i| i != leader && entries(&workspaces[i]) == FEEDS);
    assert!(
        wait_for(Duration::from_secs(120), complete).await,
        "no other instance wrote the outputs"
    );
    let took = killed.elapsed();
    eprintln!("outputs complete again {took:?} after the leader was killed (lease {LEASE:?})");
    assert!(
        took <= LEASE + Duration::from_secs(10),
        "the outputs were complete again only {took:?} after the kill (lease {LEASE:?})"
    );
    for (i, daemon) in daemons.iter_mut().enumerate() {
        if i != leader {
            daemon.stop().await;
        }
    }
}

/// The server drops the daemon's connection (a restart, a network cut): the daemon connects
/// again and goes on storing.
#[tokio::test]
async fn a_daemon_whose_connection_the_server_closed_connects_again() {
    let Some(db) = TestDatabase::create("reconnect") else {
        return;
    };
    let server = FeedServer::start().await;
    let harbour = |items: &[TestItem]| rss("Harbour Feed", "https://harbour.example/", items);
    server.serve("/harbour.xml", harbour(&[item("h1", "Harbour one", D1)]));
    let ws = Workspace::new(
        &db.config(&server, &[("Harbour", "/harbour.xml")])
            .replace("[retention]", "[poll]\ninterval = \"2s\"\n\n[retention]"),
    );
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let items = || db.count("SELECT count(*) FROM items");
    assert!(wait_for(Duration::from_secs(60), || items() == 1).await);

    let terminated = db.count(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'tributary') AS t",
    );
    assert!(terminated >= 1, "the daemon had no connection");
    server.serve(
        "/harbour.xml",
        harbour(&[item("h2", "Harbour two", D2), item("h1", "Harbour one", D1)]),
    );
    assert!(
        wait_for(Duration::from_secs(60), || items() == 2).await,
        "{}",
        daemon.log()
    );
    assert!(daemon.log().contains("connected to PostgreSQL again"));
    daemon.stop().await;
}

/// Items and sources as both backends can be asked: (id, public id, guid, title) and (id, url,
/// etag, next poll).
type ItemRow = (i64, Option<String>, Option<String>, Option<String>);
type SourceRow = (i64, String, Option<String>, Option<i64>);
const ITEMS: &str = "SELECT id, public_id, guid, title FROM items ORDER BY id";
const SOURCES: &str = "SELECT id, url, etag, next_poll_at FROM sources ORDER BY id";

fn sqlite_rows(ws: &Workspace) -> (Vec<ItemRow>, Vec<SourceRow>) {
    let conn = ws.db();
    let items = conn
        .prepare(ITEMS)
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let sources = conn
        .prepare(SOURCES)
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (items, sources)
}

/// `tributary db copy --from <from's config> --to <to's config>`.
async fn db_copy(from: &Workspace, to: &Workspace) -> std::process::Output {
    let (source, destination) = (from.config(), to.config());
    from.tributary(&[
        "db",
        "copy",
        "--from",
        source.to_str().unwrap(),
        "--to",
        destination.to_str().unwrap(),
    ])
    .await
}

fn postgres_rows(db: &TestDatabase) -> (Vec<ItemRow>, Vec<SourceRow>) {
    let items = db
        .rows(ITEMS)
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let sources = db
        .rows(SOURCES)
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    (items, sources)
}

#[tokio::test]
async fn db_copy_moves_sqlite_into_postgres_and_back_with_the_same_items_ids_and_schedules() {
    let Some(db) = TestDatabase::create("copy") else {
        return;
    };
    let server = FeedServer::start().await;
    let harbour = rss(
        "Harbour Feed",
        "https://harbour.example/",
        &[item("h2", "Harbour two", D2), item("h1", "Harbour one", D1)],
    );
    server.respond(
        "/harbour.xml",
        200,
        &[("Content-Type", "application/xml"), ("ETag", "\"h-1\"")],
        harbour.into_bytes(),
    );
    let mirror = |items: &[TestItem]| rss("Mirror", "https://mirror.example/", items);
    server.serve("/mirror.xml", mirror(&[item("m1", "Mirror one", D1)]));
    let sources = [("Harbour", "/harbour.xml"), ("Mirror", "/mirror.xml")];
    let sqlite = Workspace::new(&config_with_sources(&server, &sources));
    let first = sqlite.tributary(&["once"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let before = sqlite_rows(&sqlite);
    assert_eq!(before.0.len(), 3);
    assert!(before.1.iter().all(|s| s.3.is_some()), "{before:?}");

    let postgres = Workspace::new(&db.config(&server, &sources));
    let copied = db_copy(&sqlite, &postgres).await;
    assert!(copied.status.success(), "{}", stderr(&copied));
    assert!(
        stdout(&copied).contains("items: 3 rows"),
        "{}",
        stdout(&copied)
    );
    assert_eq!(postgres_rows(&db), before);

    // PostgreSQL goes on from there: Harbour's validator answers 304, nothing is stored twice,
    // and a new item gets an id after the copied ones.
    server.serve(
        "/mirror.xml",
        mirror(&[item("m2", "Mirror two", D2), item("m1", "Mirror one", D1)]),
    );
    let next = postgres.tributary(&["once"]).await;
    assert!(next.status.success(), "{}", stderr(&next));
    let out = stdout(&next);
    assert_eq!(once_line(&out, "Harbour"), "Harbour: not modified", "{out}");
    assert!(
        once_line(&out, "Mirror").starts_with("Mirror: 1 new"),
        "{out}"
    );
    let (items, _) = postgres_rows(&db);
    assert_eq!(items.len(), 4);
    assert!(items[3].0 > before.0[2].0, "{items:?}");
    // The copy is searchable: its index is made from the copied items.
    let found = stdout(&postgres.tributary(&["search", "harbour", "--newest"]).await);
    let titles: Vec<&str> = found.lines().filter_map(|l| l.split("  ").nth(2)).collect();
    assert_eq!(titles, ["Harbour two", "Harbour one"], "{found}");

    // A database that holds something is refused, and left as it was.
    let again = db_copy(&sqlite, &postgres).await;
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already holds 2 sources and 4 items"),
        "{}",
        stderr(&again)
    );
    assert_eq!(postgres_rows(&db).0, items);

    // And back into a new SQLite file: the same rows again.
    let back = Workspace::new(&config_with_sources(&server, &sources));
    let returned = db_copy(&postgres, &back).await;
    assert!(returned.status.success(), "{}", stderr(&returned));
    assert_eq!(sqlite_rows(&back), postgres_rows(&db));
    let after = back.tributary(&["once"]).await;
    assert!(after.status.success(), "{}", stderr(&after));
    assert_eq!(
        once_line(&stdout(&after), "Harbour"),
        "Harbour: not modified"
    );
    let found = stdout(&back.tributary(&["search", "\"mirror two\""]).await);
    assert!(found.contains("Mirror two"), "{found}");
}

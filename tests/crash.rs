//! Proof that nothing is lost: the daemon is killed with SIGKILL at random moments while its
//! publishers keep publishing, and restarted, many times. Between kills every output on disk
//! must be a complete, parseable feed; at the end the database must be intact and hold every
//! published item exactly once, and a clean restart must leave no temp files.
//!
//! The short form (15 kills) runs with every `cargo test`; the long one (60 kills) with
//! `cargo test --test crash -- --ignored`. `CRASH_KILLS` overrides either count.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rustix::process::Signal;

const FEEDS: usize = 5;

/// Publishers that add an item to one of their feeds every 150 ms, remembering every guid.
struct Publishers {
    published: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Publishers {
    fn start(server: Arc<FeedServer>) -> Publishers {
        let published = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let list = published.clone();
        for feed in 0..FEEDS {
            server.serve(
                &format!("/feed{feed}.xml"),
                rss(&format!("Feed {feed}"), "https://crash.example/", &[]),
            );
        }
        tokio::spawn(async move {
            let mut items: HashMap<usize, Vec<TestItem>> = HashMap::new();
            let mut n = 0u64;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(Duration::from_millis(150)) => {}
                }
                n += 1;
                let feed = fastrand::usize(..FEEDS);
                let guid = format!("f{feed}-i{n}");
                let date = (chrono::Utc::now()).to_rfc2822();
                let list_for_feed = items.entry(feed).or_default();
                list_for_feed.insert(0, item(&guid, &format!("Item {n}"), &date));
                server.serve(
                    &format!("/feed{feed}.xml"),
                    rss(
                        &format!("Feed {feed}"),
                        "https://crash.example/",
                        list_for_feed,
                    ),
                );
                list.lock().unwrap().push(guid);
            }
        });
        Publishers { published, stop }
    }

    fn published(&self) -> Vec<String> {
        self.published.lock().unwrap().clone()
    }
}

fn kills(default: usize) -> usize {
    std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Every output on disk, if there, parses as a whole feed.
fn outputs_are_whole(ws: &Workspace) -> Result<(), String> {
    for file in ["feed.xml", "feed.rss", "feed.json"] {
        let path = ws.path(&format!("public/{file}"));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        feed_rs::parser::parse(bytes.as_slice())
            .map_err(|e| format!("{file} is not a whole feed after a kill: {e}"))?;
    }
    Ok(())
}

async fn survive_kills(count: usize) {
    let server = Arc::new(FeedServer::start().await);
    let mut config = format!(
        "[poll]\ninterval = \"1s\"\ntimeout = \"5s\"\n{STATE_AND_OUTPUT}\n[[outputs]]\npath = \"public/feed.rss\"\n\n[[outputs]]\npath = \"public/feed.json\"\n"
    );
    for feed in 0..FEEDS {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"Feed {feed}\"\nurl = \"{}\"\n",
            server.url(&format!("/feed{feed}.xml"))
        ));
    }
    let ws = Workspace::new(&config);
    let publishers = Publishers::start(server.clone());

    let mut survived = 0;
    for _ in 0..count {
        let mut daemon = Daemon::start(&ws);
        // Anywhere from during start-up to several poll rounds in: mid-fetch, mid-commit,
        // mid-render.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(50..1500))).await;
        daemon.signal(Signal::KILL).await;
        daemon.exit(Duration::from_secs(10)).await.expect("killed");
        survived += 1;
        if let Err(problem) = outputs_are_whole(&ws) {
            panic!("after kill {survived}: {problem}");
        }
    }
    let _ = publishers.stop.send(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = publishers.published();

    // One last run catches up with everything published, then stops cleanly.
    let mut daemon = Daemon::start(&ws);
    let stored = || -> i64 {
        rusqlite::Connection::open(ws.path("state/tributary.db"))
            .and_then(|db| db.query_row("SELECT count(*) FROM items", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    let all = published.len() as i64;
    assert!(
        wait_for(Duration::from_secs(30), || stored() >= all).await,
        "{} of {all} items stored: {}",
        stored(),
        daemon.log()
    );
    daemon.stop().await;

    let db = ws.db();
    ws.assert_intact();
    let mut counts: HashMap<String, i64> = HashMap::new();
    let mut query = db
        .prepare("SELECT guid, count(*) FROM items GROUP BY guid")
        .unwrap();
    for row in query.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap() {
        let (guid, n): (String, i64) = row.unwrap();
        counts.insert(guid, n);
    }
    for guid in &published {
        assert_eq!(counts.get(guid), Some(&1), "{guid} stored once");
    }
    assert_eq!(
        counts.len(),
        published.len(),
        "nothing stored that was not published"
    );
    outputs_are_whole(&ws).unwrap();
    let entries = ws.feed("public/feed.xml").entries.len();
    assert_eq!(
        entries,
        published.len().min(100),
        "the merged feed caught up"
    );
    let leftovers: Vec<String> = std::fs::read_dir(ws.path("public"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    eprintln!(
        "crash test: {survived} kills survived, {} items checked",
        published.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_doubled_across_random_kills() {
    survive_kills(kills(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 60 kills, about a minute; run with --ignored"]
async fn nothing_is_lost_or_doubled_across_many_random_kills() {
    survive_kills(kills(60)).await;
}

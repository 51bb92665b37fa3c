//! feedparser's own test suite through the whole pipeline: every feed of its `wellformed`,
//! `encoding` and `entities` folders is served by a fake publisher, polled by `tributary once`
//! as a source of its own, and each file's `Expect:` line is evaluated by feedparser against
//! the entries of that source in the merged Atom output. Prints the share that holds, by
//! folder, what was left out and why, and every expectation that does not hold.
//!
//! The suite comes from feedparser's source package through pip and is never committed:
//! `.ci/run` fetches it into `target/feedparser-suite` (or set FEEDPARSER_SUITE to its `tests`
//! folder). Where it or feedparser is missing the test says SKIPPED; under CI it fails instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde::Deserialize;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/feedparser_suite.py"
);

/// The share of applicable expectations that must hold.
const TARGET_PERCENT: usize = 90;

#[derive(Deserialize)]
struct Case {
    path: String,
    headers: Vec<(String, String)>,
}

fn suite() -> Option<PathBuf> {
    let dir = std::env::var_os("FEEDPARSER_SUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/feedparser-suite/feedparser-6.0.14/tests")
        });
    dir.join("wellformed").is_dir().then_some(dir)
}

fn python(args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "feedparser_suite.py {args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// How the fake publisher answers a file: with the headers the file asks for (feedparser's
/// own server does this for the files under an `http` name), else as plain XML.
fn serve(server: &FeedServer, case: &Case, body: Vec<u8>) {
    let mut status = 200;
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for (name, value) in &case.headers {
        if name.eq_ignore_ascii_case("status") {
            status = value.parse().unwrap();
        } else {
            headers.push((name, value));
        }
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type", "application/xml"));
    }
    server.respond(&format!("/{}", case.path), status, &headers, body);
}

#[tokio::test(flavor = "multi_thread")]
async fn feedparser_suite_expectations_hold_in_the_merged_output() {
    let has_feedparser = Command::new("python3")
        .args(["-c", "import feedparser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_feedparser {
        return skipped("python3 with feedparser is not installed");
    }
    let Some(suite) = suite() else {
        return skipped("feedparser's test suite was not fetched into target/feedparser-suite");
    };
    let suite_arg = suite.to_str().unwrap();
    let cases: Vec<Case> = serde_json::from_str(&python(&["cases", suite_arg])).unwrap();
    assert!(cases.len() > 2000, "the suite looks incomplete");

    let server = FeedServer::start().await;
    let mut config = String::from(
        r#"
[database]
path = "state/tributary.db"

[poll]
concurrency = 64
per_host_concurrency = 64

[retention]
max_age = "0"
initial_items = 0

# Many files of the suite share a link; each is a publisher of its own here.
[dedup]
across_sources = false

[[outputs]]
path = "public/suite.xml"
title = "feedparser's suite"
max_items = 100000
"#,
    );
    for case in &cases {
        serve(
            &server,
            case,
            std::fs::read(suite.join(&case.path)).unwrap(),
        );
        config.push_str(&format!(
            "\n[[sources]]\nurl = \"{}\"\n",
            server.url(&format!("/{}", case.path))
        ));
    }
    let ws = Workspace::new(&config);
    let once = ws.tributary(&["once"]).await;
    let output = ws.path("public/suite.xml");
    assert!(output.is_file(), "no output: {}", stderr(&once));

    let report = python(&["score", suite_arg, output.to_str().unwrap(), &server.base]);
    println!("{report}");
    let totals: serde_json::Value =
        serde_json::from_str(report.lines().last().unwrap_or_default()).unwrap();
    let applicable = totals["applicable"].as_u64().unwrap() as usize;
    let held = totals["held"].as_u64().unwrap() as usize;
    // A guard against a harness that leaves everything out; the counts are printed above.
    assert!(
        applicable > 250,
        "too few applicable expectations: {applicable}"
    );
    assert!(
        held * 100 >= applicable * TARGET_PERCENT,
        "{held} of {applicable} expectations hold, below {TARGET_PERCENT} %"
    );
}

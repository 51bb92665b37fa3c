//! Prometheus metrics: `/metrics` scraped before and after a round of polls moves as the
//! round did, and `promtool check metrics` (Debian's `prometheus` package, installed by
//! `.ci/run`) reads it without a complaint.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;

/// The samples of an exposition, by name with labels as written: `polls_total{result="new"}`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Scrapes `url` until `ready` holds for what it reads (up to 30 s), and returns that text.
async fn scrape_until(
    client: &reqwest::Client,
    url: &str,
    ready: impl Fn(&HashMap<String, f64>) -> bool,
) -> Option<String> {
    let found = std::sync::Mutex::new(None);
    wait_for_async(Duration::from_secs(30), || async {
        let Ok(response) = client.get(url).send().await else {
            return false;
        };
        let Ok(text) = response.text().await else {
            return false;
        };
        let met = ready(&samples(&text));
        if met {
            *found.lock().unwrap() = Some(text);
        }
        met
    })
    .await;
    found.into_inner().unwrap()
}

fn promtool_accepts(text: &str) {
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        skipped("promtool is not installed (.ci/run installs Debian's prometheus package)");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn metrics_move_as_the_polls_did_and_promtool_reads_them() {
    let server = FeedServer::start().await;
    server.serve(
        "/fine.xml",
        rss(
            "Fine",
            "https://fine.example/",
            &[
                item("f1", "One", "Mon, 18 Aug 2025 10:00:00 GMT"),
                item("f2", "Two", "Tue, 19 Aug 2025 10:00:00 GMT"),
            ],
        ),
    );
    server.respond("/broken.xml", 500, &[], Vec::new());
    server.serve(
        "/later.xml",
        rss(
            "Later",
            "https://later.example/",
            &[item("l1", "Three", "Wed, 20 Aug 2025 10:00:00 GMT")],
        ),
    );
    let port = free_port();
    let head = format!(
        "{STATE_AND_OUTPUT}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\nper_source = true\n"
    );
    let source = |name: &str, path: &str| {
        format!(
            "\n[[sources]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url(path)
        )
    };
    let ws = Workspace::new(&format!(
        "{head}{}{}",
        source("Fine", "/fine.xml"),
        source("Broken", "/broken.xml")
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let polls = |s: &HashMap<String, f64>| -> f64 {
        s.iter()
            .filter(|(k, _)| k.starts_with("tributary_polls_total{"))
            .map(|(_, v)| v)
            .sum()
    };
    // Before: the first round of two polls, once both are counted.
    let text = scrape_until(&client, &url, |now| {
        polls(now) >= 2.0 && now.get("tributary_sources{state=\"failing\"}") == Some(&1.0)
    })
    .await
    .unwrap_or_else(|| panic!("{}", daemon.log()));
    promtool_accepts(&text);
    let before = samples(&text);
    let at = |s: &HashMap<String, f64>, key: &str| {
        *s.get(key)
            .unwrap_or_else(|| panic!("{key} missing:\n{text}"))
    };
    assert_eq!(at(&before, r#"tributary_polls_total{result="new"}"#), 1.0);
    assert_eq!(
        at(&before, r#"tributary_polls_total{result="failed"}"#),
        1.0
    );
    assert_eq!(at(&before, r#"tributary_items_total{change="new"}"#), 2.0);
    assert_eq!(at(&before, r#"tributary_sources{state="ok"}"#), 1.0);
    assert_eq!(at(&before, r#"tributary_build_info{version="0.1.0"}"#), 1.0);
    assert_eq!(at(&before, "tributary_fetch_duration_seconds_count"), 2.0);
    assert!(at(&before, "tributary_fetched_bytes_total") > 100.0);
    assert!(at(&before, "tributary_store_commit_duration_seconds_count") >= 1.0);
    assert!(
        at(
            &before,
            r#"tributary_output_writes_total{result="written"}"#
        ) >= 1.0
    );
    assert_eq!(
        at(
            &before,
            r#"tributary_source_polls_total{result="new",source="Fine"}"#
        ),
        1.0
    );
    // No source URL as a label, ever.
    assert!(!text.contains("127.0.0.1:"), "{text}");

    // A round more: a source added by a reload, polled at once.
    ws.write(
        "tributary.toml",
        &format!(
            "{head}{}{}{}",
            source("Fine", "/fine.xml"),
            source("Broken", "/broken.xml"),
            source("Later", "/later.xml")
        ),
    );
    daemon.signal(rustix::process::Signal::HUP).await;
    let text = scrape_until(&client, &url, |now| {
        now.get(r#"tributary_polls_total{result="new"}"#) == Some(&2.0)
            && now.get("tributary_sources{state=\"ok\"}") == Some(&2.0)
    })
    .await
    .unwrap_or_else(|| panic!("{}", daemon.log()));
    promtool_accepts(&text);
    let after = samples(&text);
    assert_eq!(at(&after, r#"tributary_items_total{change="new"}"#), 3.0);
    assert_eq!(
        at(&after, r#"tributary_polls_total{result="failed"}"#),
        at(&before, r#"tributary_polls_total{result="failed"}"#),
        "the broken source is not due again"
    );
    assert!(
        at(&after, "tributary_fetch_duration_seconds_count")
            > at(&before, "tributary_fetch_duration_seconds_count")
    );
    assert!(at(&after, "tributary_schedule_lag_seconds_count") >= 3.0);
    daemon.stop().await;
}

#[test]
fn the_readmes_alert_rules_are_valid_prometheus_rules() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rules = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README holds the alert rules in a yaml block");
    assert_eq!(rules.matches("- alert:").count(), 3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
    else {
        skipped("promtool is not installed (.ci/run installs Debian's prometheus package)");
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

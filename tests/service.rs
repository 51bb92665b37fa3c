//! A service you can leave running: the daemon reloads its config (file changes, `sources.d/`,
//! SIGHUP) without losing its way, resumes its schedule after a restart, stops cleanly on
//! signals; and the systemd unit is valid and hardened.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use rustix::process::Signal;

const D1: &str = "Mon, 18 Aug 2025 10:00:00 GMT";

fn source_toml(name: &str, url: &str) -> String {
    format!("\n[[sources]]\nname = \"{name}\"\nurl = \"{url}\"\n")
}

fn feed(name: &str) -> String {
    rss(
        name,
        "https://p.example/",
        &[item(&format!("{name}-1"), name, D1)],
    )
}

#[tokio::test]
async fn edits_to_the_config_and_sources_d_apply_while_a_broken_config_is_refused() {
    let server = FeedServer::start().await;
    for name in ["a", "b", "c"] {
        server.serve(&format!("/{name}.xml"), feed(name));
    }
    let base = format!("[poll]\ninterval = \"1s\"\ntimeout = \"5s\"\n{STATE_AND_OUTPUT}");
    let with_a = format!("{base}{}", source_toml("A", &server.url("/a.xml")));
    let ws = Workspace::new(&with_a);
    let daemon = Daemon::start(&ws);
    let limit = Duration::from_secs(10);
    assert!(
        wait_for(limit, || server.requests("/a.xml") >= 1).await,
        "{}",
        daemon.log()
    );

    // A source added to the config file is polled without a restart.
    let with_a_b = format!("{with_a}{}", source_toml("B", &server.url("/b.xml")));
    std::fs::write(ws.config(), &with_a_b).unwrap();
    assert!(
        wait_for(limit, || server.requests("/b.xml") >= 1).await,
        "{}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("added 1 sources (B)"),
        "{}",
        daemon.log()
    );

    // So is one dropped into sources.d/, created after the start.
    ws.write("sources.d/c.toml", &source_toml("C", &server.url("/c.xml")));
    assert!(
        wait_for(limit, || server.requests("/c.xml") >= 1).await,
        "{}",
        daemon.log()
    );

    // A broken config is refused with its file and problem; polling goes on with the old one.
    std::fs::write(ws.config(), format!("{with_a_b}\n[poll\n")).unwrap();
    assert!(
        wait_for(limit, || daemon.log().contains("config not applied")).await,
        "{}",
        daemon.log()
    );
    let log = daemon.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("config not applied"))
        .unwrap();
    assert!(refusal.contains("tributary.toml"), "{refusal}");
    let polled = server.requests("/a.xml");
    assert!(
        wait_for(limit, || server.requests("/a.xml") >= polled + 2).await,
        "the last good config keeps running"
    );

    // Fixed, without B: it applies, and B's polls stop.
    std::fs::write(ws.config(), &with_a).unwrap();
    assert!(
        wait_for(limit, || daemon.log().contains("removed 1 (B)")).await,
        "{}",
        daemon.log()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b_polls = server.requests("/b.xml");
    let a_polls = server.requests("/a.xml");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        server.requests("/b.xml"),
        b_polls,
        "a removed source is not polled"
    );
    assert!(server.requests("/a.xml") > a_polls);
    assert!(
        server.requests("/c.xml") > 1,
        "sources.d's source still polled"
    );
    // Its items stay stored.
    let stored: i64 = ws
        .db()
        .query_row(
            "SELECT count(*) FROM items i JOIN sources s ON s.id = i.source_id WHERE s.name = 'B'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn sighup_reloads_and_a_changed_interval_applies() {
    let server = FeedServer::start().await;
    server.serve("/a.xml", feed("a"));
    server.serve("/b.xml", feed("b"));
    let base =
        format!("[service]\nwatch_config = false\n[poll]\ninterval = \"1h\"\n{STATE_AND_OUTPUT}");
    let config = format!("{base}{}", source_toml("A", &server.url("/a.xml")));
    let ws = Workspace::new(&config);
    let daemon = Daemon::start(&ws);
    let limit = Duration::from_secs(10);
    assert!(wait_for(limit, || server.requests("/a.xml") == 1).await);

    let changed = format!(
        "{base}\n[[sources]]\nname = \"A\"\nurl = \"{}\"\ninterval = \"1s\"\n{}",
        server.url("/a.xml"),
        source_toml("B", &server.url("/b.xml"))
    );
    std::fs::write(ws.config(), changed).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        server.requests("/b.xml"),
        0,
        "no watch: nothing until SIGHUP"
    );
    daemon.signal(Signal::HUP).await;
    assert!(
        wait_for(limit, || server.requests("/b.xml") == 1).await,
        "{}",
        daemon.log()
    );
    assert!(
        wait_for(limit, || server.requests("/a.xml") >= 3).await,
        "A now polled every second: {}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("changed 1 (A: interval 1h → 1s)"),
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn a_restart_keeps_the_schedule_and_the_validators() {
    let server = FeedServer::start().await;
    let validated = |name: &str| {
        (
            vec![("ETag", format!("\"{name}-v1\""))],
            feed(name).into_bytes(),
        )
    };
    for (path, name) in [("/hourly.xml", "hourly"), ("/often.xml", "often")] {
        let (headers, body) = validated(name);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        server.respond(path, 200, &headers, body);
    }
    let config = format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Hourly\"\nurl = \"{}\"\ninterval = \"1h\"\n\n[[sources]]\nname = \"Often\"\nurl = \"{}\"\ninterval = \"2s\"\n",
        server.url("/hourly.xml"),
        server.url("/often.xml")
    );
    let ws = Workspace::new(&config);
    let limit = Duration::from_secs(10);
    let mut first = Daemon::start(&ws);
    assert!(
        wait_for(limit, || server.requests("/hourly.xml") == 1
            && server.requests("/often.xml") >= 1)
        .await
    );
    first.signal(Signal::TERM).await;
    assert!(first.exit(limit).await.is_some_and(|s| s.success()));

    let often_before = server.requests("/often.xml");
    let second = Daemon::start(&ws);
    assert!(
        wait_for(limit, || server.requests("/often.xml") > often_before).await,
        "{}",
        second.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        server.requests("/hourly.xml"),
        1,
        "not polled again before its time: {}",
        second.log()
    );
    let last = server.seen("/often.xml").pop().unwrap();
    assert_eq!(
        last.headers.get("if-none-match").map(String::as_str),
        Some("\"often-v1\""),
        "validators survive the restart"
    );
    assert!(
        second.log().contains("polled: not modified"),
        "{}",
        second.log()
    );
}

#[tokio::test]
async fn sigterm_during_a_slow_fetch_exits_cleanly_within_the_deadline() {
    let server = FeedServer::start().await;
    server.set("/slow.xml", Reply::Hang);
    server.serve("/quick.xml", feed("quick"));
    let config = format!(
        "[service]\nshutdown_timeout = \"2s\"\n[poll]\ntimeout = \"60s\"\nfirst_byte_timeout = \"60s\"\n{STATE_AND_OUTPUT}{}{}",
        source_toml("Slow", &server.url("/slow.xml")),
        source_toml("Quick", &server.url("/quick.xml"))
    );
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start(&ws);
    let limit = Duration::from_secs(10);
    assert!(
        wait_for(limit, || server.requests("/slow.xml") == 1
            && server.requests("/quick.xml") == 1)
        .await
    );
    assert!(wait_for(limit, || ws.path("public/feed.xml").exists()).await);

    let stopped = Instant::now();
    daemon.signal(Signal::TERM).await;
    let status = daemon.exit(Duration::from_secs(10)).await.expect("stopped");
    assert!(status.success(), "exit 0, got {status}: {}", daemon.log());
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopped.elapsed()
    );
    assert!(daemon.log().contains("cancelled"), "{}", daemon.log());
    ws.assert_intact();
    assert_eq!(ws.feed("public/feed.xml").entries.len(), 1);
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let server = FeedServer::start().await;
    server.set("/slow.xml", Reply::Hang);
    let config = format!(
        "[service]\nshutdown_timeout = \"60s\"\n[poll]\ntimeout = \"60s\"\nfirst_byte_timeout = \"60s\"\n{STATE_AND_OUTPUT}{}",
        source_toml("Slow", &server.url("/slow.xml"))
    );
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start(&ws);
    assert!(
        wait_for(Duration::from_secs(10), || server.requests("/slow.xml")
            == 1)
        .await
    );
    daemon.signal(Signal::TERM).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = Instant::now();
    daemon.signal(Signal::INT).await;
    let status = daemon.exit(Duration::from_secs(5)).await.expect("stopped");
    assert_eq!(status.code(), Some(130), "{}", daemon.log());
    assert!(stopped.elapsed() < Duration::from_secs(2));
    ws.assert_intact();
}

#[tokio::test]
async fn systemd_hears_ready_status_and_watchdog() {
    let server = FeedServer::start().await;
    server.serve("/a.xml", feed("a"));
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}{}",
        source_toml("A", &server.url("/a.xml"))
    ));
    let socket_path = ws.path("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(ws.config())
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut heard = String::new();
    let mut buffer = vec![0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && !(heard.contains("READY=1")
            && heard.contains("STATUS=")
            && heard.matches("WATCHDOG=1").count() >= 2)
    {
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buffer)).await
        {
            heard.push_str(&String::from_utf8_lossy(&buffer[..n]));
            heard.push('\n');
        }
    }
    drop(child);
    assert!(heard.contains("READY=1"), "{heard}");
    assert!(heard.contains("STATUS=1 sources;"), "{heard}");
    assert!(heard.matches("WATCHDOG=1").count() >= 2, "{heard}");
}

#[test]
fn the_unit_file_verifies_and_is_hardened() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        say_skipped("SKIPPED: systemd-analyze is not installed; the unit file was not checked");
        return;
    }
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/tributary.service"),
    )
    .unwrap();
    for line in [
        "Type=notify",
        "ExecReload=",
        "WatchdogSec=",
        "DynamicUser=yes",
        "StateDirectory=",
        "ConfigurationDirectory=",
    ] {
        assert!(unit.contains(line), "{line}");
    }
    // verify wants the ExecStart binary to exist: point it at the one under test.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("tributary.service");
    std::fs::write(
        &copy,
        unit.replace(
            "ExecStart=tributary ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_tributary")),
        ),
    )
    .unwrap();
    let verify = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = std::process::Command::new(analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&copy)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
}

#[test]
fn the_service_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/tributary.toml"),
    )
    .unwrap();
    assert!(text.contains("/var/lib/tributary/"));
    // Where the service would write, a temp dir stands in.
    let state = dir.path().to_string_lossy().into_owned();
    let file = dir.path().join("tributary.toml");
    std::fs::write(&file, text.replace("/var/lib/tributary", &state)).unwrap();
    let config = tributary::config::load(&file).unwrap();
    assert_eq!(config.database, dir.path().join("tributary.db"));
    assert!(config.health.is_some());
}

#[tokio::test]
async fn once_and_status_beside_a_running_daemon_work_and_corrupt_nothing() {
    let server = FeedServer::start().await;
    for n in 0..4 {
        server.serve(&format!("/{n}.xml"), feed(&format!("s{n}")));
    }
    let mut config = format!("[poll]\ninterval = \"1s\"\n{STATE_AND_OUTPUT}");
    for n in 0..4 {
        config.push_str(&source_toml(
            &format!("S{n}"),
            &server.url(&format!("/{n}.xml")),
        ));
    }
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start(&ws);
    assert!(
        wait_for(Duration::from_secs(10), || ws
            .path("public/feed.xml")
            .exists())
        .await
    );
    for round in 0..3 {
        let (once, status) = tokio::join!(ws.tributary(&["once"]), ws.tributary(&["status"]));
        for (name, run) in [("once", once), ("status", status)] {
            // The busy timeout makes the second process wait its turn rather than fail.
            assert!(
                run.status.success(),
                "round {round}, {name}: {}",
                stderr(&run)
            );
        }
    }
    daemon.stop().await;
    let db = ws.db();
    ws.assert_intact();
    let items: i64 = db
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(items, 4, "each item once");
}

//! Telling the daemon what to do: `tributary poll` through the control socket of a running
//! daemon, and on its own when none runs; `status` as the daemon answers it.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn config(server: &FeedServer) -> String {
    format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Harbour Institute\"\nurl = \"{}\"\n\n[[sources]]\nname = \"Wire\"\nurl = \"{}\"\n\n[[sources]]\nname = \"Busy\"\nurl = \"{}\"\n",
        server.url("/h.xml"),
        server.url("/w.xml"),
        server.url("/busy.xml")
    )
}

fn publish(server: &FeedServer, count: usize) {
    let items: Vec<TestItem> = (1..=count)
        .map(|n| {
            item(
                &format!("h{n}"),
                &format!("Harbour {n}"),
                "Mon, 18 Aug 2025 10:00:00 GMT",
            )
        })
        .collect();
    server.serve(
        "/h.xml",
        rss("Harbour Institute", "https://h.example/", &items),
    );
}

#[tokio::test]
async fn poll_without_a_daemon_polls_only_the_named_sources_and_writes_the_outputs() {
    let server = FeedServer::start().await;
    publish(&server, 2);
    server.serve("/w.xml", rss("Wire", "https://w.example/", &[]));
    server.respond("/busy.xml", 429, &[("Retry-After", "3600")], Vec::new());
    let ws = Workspace::new(&config(&server));
    let out = ws.tributary(&["poll", "Harbour Institute"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "Harbour Institute: 2 new, 0 updated, 0 unchanged"
    );
    assert_eq!(server.requests("/h.xml"), 1);
    assert_eq!(server.requests("/w.xml"), 0, "only the named source");
    assert_eq!(ws.feed("public/feed.xml").entries.len(), 2);

    // A publisher's Retry-After holds.
    let out = ws.tributary(&["poll", "Busy"]).await;
    assert!(
        stdout(&out).contains("Busy: rate limited (HTTP 429)"),
        "{}",
        stdout(&out)
    );
    let out = ws.tributary(&["poll", "Busy"]).await;
    assert!(
        stdout(&out).contains("Busy: skipped until"),
        "{}",
        stdout(&out)
    );
    assert_eq!(server.requests("/busy.xml"), 1);

    let out = ws.tributary(&["poll", "Nobody"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"Nobody\""), "{}", stderr(&out));
}

#[tokio::test]
async fn poll_asks_the_running_daemon_which_polls_at_once_and_answers() {
    let server = FeedServer::start().await;
    publish(&server, 1);
    server.serve("/w.xml", rss("Wire", "https://w.example/", &[]));
    server.respond("/busy.xml", 429, &[("Retry-After", "3600")], Vec::new());
    let ws = Workspace::new(&config(&server));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    // Its first round (spread over a few seconds at start), finished: the harbour's item
    // written out, the busy source's 429 logged, the wire asked.
    assert!(
        wait_for(std::time::Duration::from_secs(30), || {
            server.requests("/w.xml") == 1
                && daemon.log().contains("status=\"rate_limited\"")
                && std::fs::read(ws.path("public/feed.xml"))
                    .ok()
                    .and_then(|b| feed_rs::parser::parse(b.as_slice()).ok())
                    .is_some_and(|f| f.entries.len() == 1)
        })
        .await,
        "{}",
        daemon.log()
    );
    let socket = ws.path("state/tributary.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only the daemon's user may talk to it");

    // The publisher has news; its interval (30 min) is far off: only `poll` makes it fetched.
    publish(&server, 3);
    let out = ws.tributary(&["poll", "Harbour Institute", "Busy"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let mut lines: Vec<&str> = printed.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("Busy: skipped until"), "{lines:?}");
    assert_eq!(lines[1], "Harbour Institute: 2 new, 0 updated, 1 unchanged");
    assert_eq!(server.requests("/h.xml"), 2);
    assert_eq!(server.requests("/busy.xml"), 1, "Retry-After holds");
    assert_eq!(server.requests("/w.xml"), 1, "only the named sources");
    assert!(
        daemon.log().contains("polled"),
        "the daemon polled it, not the command"
    );
    // The daemon writes the outputs after it.
    assert!(
        wait_for(std::time::Duration::from_secs(30), || {
            std::fs::read(ws.path("public/feed.xml"))
                .ok()
                .and_then(|b| feed_rs::parser::parse(b.as_slice()).ok())
                .is_some_and(|f| f.entries.len() == 3)
        })
        .await
    );
    daemon.stop().await;
    assert!(
        !socket.exists(),
        "the socket is removed when the daemon stops"
    );
}

#[tokio::test]
async fn a_paused_source_is_not_polled_across_restarts_until_resumed() {
    let server = FeedServer::start().await;
    publish(&server, 1);
    server.serve("/w.xml", rss("Wire", "https://w.example/", &[]));
    server.serve("/busy.xml", rss("Busy", "https://b.example/", &[]));
    let ws = Workspace::new(&config(&server));
    assert!(ws.tributary(&["once"]).await.status.success());
    let out = ws.tributary(&["pause", "Harbour Institute"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Harbour Institute: paused");
    let status = stdout(&ws.tributary(&["status"]).await);
    let line = status.lines().find(|l| l.starts_with("Harbour")).unwrap();
    assert!(
        line.contains("paused since") && line.contains("when resumed"),
        "{status}"
    );

    // Neither once nor an explicit poll nor a daemon, started and restarted, fetches it.
    publish(&server, 3);
    let out = stdout(&ws.tributary(&["once"]).await);
    assert!(out.contains("Harbour Institute: paused since"), "{out}");
    for _ in 0..2 {
        let mut daemon = Daemon::start(&ws);
        daemon.ready().await;
        let out = ws.tributary(&["poll", "Harbour Institute", "Wire"]).await;
        let printed = stdout(&out);
        assert!(
            printed.contains("Harbour Institute: paused since"),
            "{printed}"
        );
        assert!(printed.contains("Wire: "), "{printed}");
        daemon.stop().await;
    }
    assert_eq!(server.requests("/h.xml"), 1, "asked only before the pause");
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("paused since"), "{status}");

    // Resumed while a daemon runs: polled at once.
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let out = ws.tributary(&["resume", "Harbour Institute"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.starts_with("Harbour Institute: resumed\n"),
        "{printed}"
    );
    assert!(
        printed.contains("Harbour Institute: 2 new, 0 updated, 1 unchanged"),
        "{printed}"
    );
    assert_eq!(server.requests("/h.xml"), 2);
    daemon.stop().await;
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(!status.contains("paused"), "{status}");
}

/// The three sources of `config`, each publishing (the harbour two items), on a workspace.
async fn three_publishers() -> (FeedServer, Workspace) {
    let server = FeedServer::start().await;
    publish(&server, 2);
    server.serve("/w.xml", rss("Wire", "https://w.example/", &[]));
    server.serve("/busy.xml", rss("Busy", "https://b.example/", &[]));
    let ws = Workspace::new(&config(&server));
    (server, ws)
}

#[tokio::test]
async fn status_is_answered_by_the_daemon_running_the_config_even_while_its_file_is_broken() {
    let (_server, ws) = three_publishers().await;
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    assert!(
        wait_for(std::time::Duration::from_secs(30), || {
            daemon.log().matches("polled").count() >= 3
        })
        .await,
        "{}",
        daemon.log()
    );
    let out = ws.tributary(&["status"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let answered = stdout(&out);
    let harbour = answered.lines().find(|l| l.starts_with("Harbour")).unwrap();
    assert!(
        harbour.contains("  2  ") && harbour.ends_with("  ok"),
        "{answered}"
    );
    // Named sources alone, in the config's order; a name the config lacks is an error.
    let out = ws.tributary(&["status", "Wire", "Harbour Institute"]).await;
    let printed = stdout(&out);
    let names: Vec<&str> = printed
        .lines()
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    assert_eq!(names, ["SOURCE", "Harbour Institute", "Wire"], "{printed}");
    assert_eq!(printed.lines().nth(1), Some(harbour));
    let out = ws.tributary(&["status", "Wire", "Nobody"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("\"Nobody\""), "{}", stderr(&out));

    // A typo in the file: the daemon keeps running on the config it has, and `status`, which
    // could not load the file itself, still tells what runs, and that the file was not applied.
    let good = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        format!("{good}\n[[sources]]\nname = \"Typo\"\nurl = \"htp:/nowhere\"\n"),
    )
    .unwrap();
    assert!(
        wait_for(std::time::Duration::from_secs(30), || {
            daemon.log().contains("config not applied")
        })
        .await,
        "{}",
        daemon.log()
    );
    let out = ws.tributary(&["status"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (table, note) = stdout(&out)
        .split_once("\n\n")
        .map(|(table, note)| (format!("{table}\n"), note.to_string()))
        .unwrap();
    assert_eq!(table, answered, "the same sources, as the daemon runs them");
    assert!(
        note.starts_with(&format!(
            "{}: changed, but not applied (the daemon runs on the last good one): ",
            ws.config().display()
        )) && note.contains("sources[3]"),
        "{note}"
    );

    // Without the daemon, `status` loads the file, and says what is wrong with it.
    daemon.stop().await;
    let out = ws.tributary(&["status"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("sources[3]"), "{}", stderr(&out));
}

#[tokio::test]
async fn status_of_another_config_on_the_daemons_database_is_read_from_the_database() {
    let (server, ws) = three_publishers().await;
    assert!(ws.tributary(&["once"]).await.status.success());
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;

    // Another config naming the same database (so the same socket), and one more source: the
    // daemon does not answer for it, so `status` reads the database with that config.
    let other = ws.path("other/tributary.toml");
    ws.write(
        "other/tributary.toml",
        &format!(
            "[database]\npath = \"../state/tributary.db\"\n\n[[sources]]\nname = \"Harbour Institute\"\nurl = \"{}\"\n\n[[sources]]\nname = \"Extra\"\nurl = \"{}\"\n",
            server.url("/h.xml"),
            server.url("/extra.xml")
        ),
    );
    let out = ws.tributary_with(&other, &["status"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(lines[1].starts_with("Harbour Institute") && lines[1].contains("  2  "));
    assert!(
        lines[2].starts_with("Extra") && lines[2].ends_with("never polled"),
        "{printed}"
    );

    let out = ws.tributary_with(&other, &["status", "Extra"], &[]).await;
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    let printed: Vec<String> = stdout(&out).lines().skip(1).map(words).collect();
    assert_eq!(
        printed,
        [words(lines[2])],
        "the same row, in columns of its own"
    );

    // The daemon's own config is answered by the daemon: its three sources.
    let out = ws.tributary(&["status"]).await;
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stdout(&out));
    daemon.stop().await;
}

#[tokio::test]
async fn status_reads_the_database_itself_when_the_daemons_socket_does_not_answer() {
    let (_server, ws) = three_publishers().await;
    assert!(ws.tributary(&["once"]).await.status.success());
    // A hung daemon: its socket takes the request and never answers.
    let socket = tokio::net::UnixListener::bind(ws.path("state/tributary.sock")).unwrap();
    let hung = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((client, _)) = socket.accept().await {
            held.push(client);
        }
    });
    let out = ws.tributary(&["status", "Harbour Institute"]).await;
    hung.abort();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not answer within 5 s; reading the database instead"),
        "{}",
        stderr(&out)
    );
    let printed = stdout(&out);
    let harbour = printed.lines().nth(1).unwrap_or_default();
    assert!(
        harbour.starts_with("Harbour Institute") && harbour.contains("  2  "),
        "{printed}"
    );
}

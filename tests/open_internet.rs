//! What a hostile publisher or client on the open internet can do, tried as one would: every
//! server here is on 127.0.0.1 (port 0, or a free port for the daemon). One test per class of
//! attack; WebSub replays and forgeries are in `tests/websub.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;
use tributary::config::SourceLocation;
use tributary::fetch::Fetcher;
use tributary::refresh::{Mode, Pipeline, refresh};

const D1: &str = "Mon, 18 Aug 2025 10:00:00 GMT";
const D2: &str = "Tue, 19 Aug 2025 10:00:00 GMT";
const VICTIM_LINK: &str = "https://victim.example/news/budget";

/// The config of a daemon serving `public/` on `port`, with `extra` lines before the sources.
fn serving(port: u16, extra: &str, sources: &[(&str, String)]) -> String {
    let mut config = format!(
        "{STATE_AND_OUTPUT}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n{extra}\n"
    );
    for (name, url) in sources {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    config
}

/// A plain `GET path` on a fresh connection: the status code, or `None` if none came within
/// `limit`.
fn get(port: u16, path: &str, limit: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Whether the server closed `stream`: a read ends (after whatever it answered), or fails as
/// a reset does.
fn closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    stream.set_nonblocking(true).ok();
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) => break e.kind() != std::io::ErrorKind::WouldBlock,
        }
    };
    stream.set_nonblocking(false).ok();
    closed
}

/// The daemon's open files.
fn open_files(daemon: &Daemon) -> usize {
    let pid = daemon.child.id().unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn idle_slow_and_half_sent_clients_cannot_take_the_server_from_others() {
    let server = FeedServer::start().await;
    server.serve(
        "/news.xml",
        rss("News", "https://n.example/", &[item("n1", "First", D1)]),
    );
    let port = free_port();
    let limits =
        "header_timeout = \"2s\"\nidle_timeout = \"4s\"\nmax_connections = 40\nstatus = true";
    let ws = Workspace::new(&serving(port, limits, &[("News", server.url("/news.xml"))]));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let served = wait_for(Duration::from_secs(30), || {
        get(port, "/feed.xml", Duration::from_secs(5)) == Some(200)
    })
    .await;
    assert!(served, "{}", daemon.log());
    let files_before = open_files(&daemon);

    // Five times the cap: connections that send nothing, heads sent halfway, and a request
    // whose body comes a byte at a time.
    let hostile = tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for n in 0..200 {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            match n % 3 {
                0 => {}
                1 => {
                    let _ = stream.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                }
                _ => {
                    let _ = stream.write_all(
                        b"POST /websub/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx",
                    );
                }
            }
            held.push(stream);
        }
        held
    })
    .await
    .unwrap();
    assert!(hostile.len() >= 150, "only {} connected", hostile.len());

    // Meanwhile a reader is served, `status` answers, and the daemon's files stay bounded.
    assert_eq!(get(port, "/feed.xml", Duration::from_secs(20)), Some(200));
    assert_eq!(
        get(port, "/status.json", Duration::from_secs(20)),
        Some(200)
    );
    let status = ws.tributary(&["status"]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    // At most the cap (40), one connection accepted and waiting for a slot, and a few files
    // of the daemon's own work (a poll's socket, an output being written): never the 200.
    assert!(
        open_files(&daemon) <= files_before + 40 + 15,
        "{} open files, {files_before} before",
        open_files(&daemon)
    );
    // A poll still writes the output.
    server.serve(
        "/news.xml",
        rss(
            "News",
            "https://n.example/",
            &[item("n2", "Second", D2), item("n1", "First", D1)],
        ),
    );
    let poll = ws.tributary(&["poll", "News"]).await;
    assert!(poll.status.success(), "{}", stderr(&poll));
    let written = wait_for(Duration::from_secs(30), || {
        titles(&ws).contains(&"Second".to_string())
    })
    .await;
    assert!(written, "{}", daemon.log());

    // Every hostile connection is closed by the server: by eviction, or once its head, its
    // body or its idleness ran out of time.
    let mut hostile = hostile;
    let all_closed = wait_for(Duration::from_secs(60), || hostile.iter_mut().all(closed)).await;
    let open = hostile.iter_mut().map(closed).filter(|c| !c).count();
    assert!(all_closed, "{open} hostile connections still open");

    // A keep-alive connection that answered a request closes when idle.
    let mut kept = TcpStream::connect(("127.0.0.1", port)).unwrap();
    kept.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).unwrap();
    assert_eq!(&head[9..12], b"200");
    let idle_closed = wait_for(Duration::from_secs(30), || {
        let mut rest = Vec::new();
        kept.set_read_timeout(Some(Duration::from_millis(200))).ok();
        kept.read_to_end(&mut rest).is_ok()
    })
    .await;
    assert!(idle_closed, "an idle keep-alive connection stayed open");
    daemon.stop().await;
}

#[tokio::test]
async fn compressing_a_large_output_keeps_no_other_request_waiting() {
    let server = FeedServer::start().await;
    // A few megabytes of output, so that compressing it takes far longer than any 404.
    let items: Vec<TestItem> = (0..300)
        .map(|n| TestItem {
            guid: format!("g{n}"),
            title: format!("Item {n}"),
            body: format!(
                "<p>{}</p>",
                (0..1500)
                    .map(|w| format!("word{}x{} ", w * n, n))
                    .collect::<String>()
            ),
            date: D1.into(),
        })
        .collect();
    server.serve("/big.xml", rss("Big", "https://b.example/", &items));
    let port = free_port();
    let mut config = serving(port, "", &[("Big", server.url("/big.xml"))]);
    config = config.replace("max_items = 100", "max_items = 300");
    for n in 1..=3 {
        config.push_str(&format!(
            "\n[[outputs]]\npath = \"public/big{n}.json\"\nformat = \"json\"\ntitle = \"Big {n}\"\nmax_items = 300\n"
        ));
    }
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let written = wait_for(Duration::from_secs(60), || {
        (1..=3).all(|n| {
            std::fs::metadata(ws.path(&format!("public/big{n}.json")))
                .is_ok_and(|m| m.len() > 2_000_000)
        }) && get(port, "/big3.json", Duration::from_secs(5)) == Some(200)
    })
    .await;
    assert!(written, "{}", daemon.log());

    // As a reader's client: it sees the coding (reqwest would otherwise undo it unseen).
    let client = reqwest::Client::builder()
        .no_proxy()
        .no_brotli()
        .no_gzip()
        .build()
        .unwrap();
    // Each file's bytes are read first, so that the requests below go straight to compressing.
    for n in 1..=3 {
        let path = format!("/big{n}.json");
        assert_eq!(get(port, &path, Duration::from_secs(60)), Some(200));
    }
    let started = Instant::now();
    let mut compressed = Vec::new();
    for n in 1..=3 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let request = format!(
            "GET /big{n}.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        compressed.push(std::thread::spawn(move || {
            // The answer's first byte comes once its compression is done.
            let mut answer = vec![0u8];
            stream.read_exact(&mut answer).unwrap();
            let first_byte = Instant::now();
            stream.read_to_end(&mut answer).unwrap();
            let head = String::from_utf8_lossy(&answer[..answer.len().min(1024)]).to_lowercase();
            (
                head.contains("content-encoding: br"),
                answer.len(),
                first_byte,
            )
        }));
    }
    let missing = get(port, "/missing.xml", Duration::from_secs(120));
    let missing_at = Instant::now();
    assert_eq!(missing, Some(404));
    let done: Vec<_> = compressed.into_iter().map(|t| t.join().unwrap()).collect();
    // Each compression ended after the 404 was answered: no request waited on one.
    assert!(done.iter().any(|(br, ..)| *br));
    for (br, len, at) in &done {
        if *br {
            assert!(
                *at > missing_at,
                "a compressed answer ({len} bytes, after {:?}) came before the 404 (after {:?})",
                *at - started,
                missing_at - started
            );
        }
    }
    // The forms made are kept: asked again, every one is compressed.
    let again = client
        .get(format!("http://127.0.0.1:{port}/big1.json"))
        .header("Accept-Encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(
        again
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("br")
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_public_page_cannot_lead_the_poll_into_the_private_network() {
    let server = FeedServer::start().await;
    let internal = server.url("/internal-feed.xml");
    server.serve(
        "/internal-feed.xml",
        rss(
            "Internal",
            "https://i.example/",
            &[item("secret", "Internal memo", D1)],
        ),
    );
    server.respond(
        "/page.html",
        200,
        &[("Content-Type", "text/html")],
        format!(
            "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{internal}\">\
             </head><body>Hello</body></html>"
        )
        .into_bytes(),
    );
    // A public feed whose items link a private address for readers' software to load.
    let enclosure = server.url("/admin/reset.mp3");
    server.serve(
        "/podcast.xml",
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Cast</title>\
             <link>https://cast.example/</link><description>d</description>\
             <item><guid>e1</guid><title>Episode</title><link>https://cast.example/e1</link>\
             <pubDate>{D1}</pubDate><enclosure url=\"{enclosure}\" length=\"1\" type=\"audio/mpeg\"/>\
             <enclosure url=\"https://cdn.example/e1.mp3\" length=\"1\" type=\"audio/mpeg\"/>\
             </item></channel></rss>"
        ),
    );
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let public = |path: &str| format!("http://public.test:{}{path}", addr.port());
    for allow in [false, true] {
        let ws = Workspace::new(&format!(
            "[poll]\nallow_private_redirects = {allow}\n{}\n[[sources]]\nname = \"Page\"\nurl = \"{}\"\n\
             [[sources]]\nname = \"Cast\"\nurl = \"{}\"\n",
            STATE_AND_OUTPUT,
            public("/page.html"),
            public("/podcast.xml")
        ));
        let config = tributary::config::load(&ws.config()).unwrap();
        let mut ctx = Pipeline::open(&config).unwrap();
        // "public.test" has no DNS entry, so the guard takes it for a public host; the fetcher
        // is pinned to reach it on 127.0.0.1.
        ctx.fetcher = Fetcher::with_pinned_hosts(&config.poll, &[("public.test", addr)]).unwrap();
        for source in &config.sources {
            assert!(matches!(source.location, SourceLocation::Http(_)));
            refresh(&ctx, source, Mode::Now).await;
        }
        ctx.store.close().await.unwrap();
        let discovered: Option<String> = ws
            .db()
            .query_row(
                "SELECT discovered_url FROM sources WHERE name = 'Page'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let enclosures: String = ws
            .db()
            .query_row(
                "SELECT enclosures FROM items WHERE title = 'Episode'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if allow {
            assert_eq!(discovered.as_deref(), Some(internal.as_str()));
            assert_eq!(
                count(
                    &ws,
                    "SELECT count(*) FROM items WHERE title = 'Internal memo'"
                ),
                1
            );
            assert!(enclosures.contains("/admin/reset.mp3"), "{enclosures}");
        } else {
            assert_eq!(discovered, None);
            assert_eq!(
                count(
                    &ws,
                    "SELECT count(*) FROM items WHERE title = 'Internal memo'"
                ),
                0
            );
            let error: String = ws
                .db()
                .query_row(
                    "SELECT last_error FROM sources WHERE name = 'Page'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(error.contains("private address"), "{error}");
            assert!(!enclosures.contains("/admin/reset.mp3"), "{enclosures}");
            assert!(enclosures.contains("cdn.example"), "{enclosures}");
        }
    }
    assert_eq!(
        server.requests("/internal-feed.xml"),
        1,
        "only when allowed"
    );
}

#[tokio::test]
async fn a_source_carrying_another_publishers_link_never_takes_its_item_over() {
    let server = FeedServer::start().await;
    let victim = |title: &str| {
        channel(
            "Victim",
            &[raw_item(
                Some("v1"),
                title,
                Some(VICTIM_LINK),
                "<p>The council's budget.</p>",
                "Tue, 19 Aug 2025 10:00:00 GMT",
            )],
        )
    };
    server.serve("/victim.xml", victim("Council budget"));
    server.serve("/thief.xml", channel("Thief", &[]));
    let ws = Workspace::new(&config_with_sources(
        &server,
        &[("Victim", "/victim.xml"), ("Thief", "/thief.xml")],
    ));
    let first = ws.tributary(&["once"]).await;
    assert!(once_line(&stdout(&first), "Victim").contains("1 new"));

    // The thief lists the victim's link, backdated a day, under its own title.
    server.serve(
        "/thief.xml",
        channel(
            "Thief",
            &[raw_item(
                Some("t1"),
                "HIJACKED by Thief",
                Some(VICTIM_LINK),
                "<p>Owned.</p>",
                "Mon, 18 Aug 2025 10:00:00 GMT",
            )],
        ),
    );
    ws.tributary(&["once"]).await;
    let owner = || -> (String, String) {
        ws.db()
            .query_row(
                "SELECT s.name, i.title FROM items i JOIN sources s ON s.id = i.source_id
                 WHERE i.link = ?1",
                [VICTIM_LINK],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(owner(), ("Victim".into(), "Council budget".into()));
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM item_sources x JOIN sources s ON s.id = x.source_id WHERE s.name = 'Thief'"
        ),
        1,
        "the thief is only an \"also via\""
    );
    assert_eq!(titles(&ws), ["Council budget"]);
    assert!(
        !std::fs::read_to_string(ws.path("public/feed.xml"))
            .unwrap()
            .contains("HIJACKED")
    );

    // The victim's own update still lands.
    server.serve("/victim.xml", victim("Council budget, revised"));
    let third = ws.tributary(&["once"]).await;
    assert!(
        once_line(&stdout(&third), "Victim").contains("1 updated"),
        "{}",
        stdout(&third)
    );
    assert_eq!(owner(), ("Victim".into(), "Council budget, revised".into()));
}

#[tokio::test]
async fn no_credential_of_a_url_is_shown_served_or_published() {
    const KEY: &str = "k3y-0f-the-api";
    const HOOK_PATH: &str = "T000/B000/s3cret-hook";
    let server = FeedServer::start().await;
    // Items with relative links, resolved against a URL that names a user.
    server.serve(
        &format!("/feed.xml?api_key={KEY}&page=1&sig={KEY}"),
        channel(
            "Keyed",
            &[raw_item(
                Some("k1"),
                "Keyed item",
                Some("/a/1"),
                "<a href=\"/a/2\">two</a>",
                D1,
            )],
        ),
    );
    let hook = FeedServer::start().await;
    hook.respond("/", 200, &[], Vec::new());
    let port = free_port();
    let keyed = server
        .url(&format!("/feed.xml?api_key={KEY}&page=1&sig={KEY}"))
        .replace("http://", "http://someuser@");
    let mut config = serving(
        port,
        "status = true\n[opml]\npath = \"public/sources.opml\"",
        &[],
    );
    config.push_str(&format!(
        "\n[[sources]]\nurl = \"{keyed}\"\n\n[[webhooks]]\nurl = \"{}\"\nsecret = \"hook-secret\"\n",
        hook.url(&format!("/{HOOK_PATH}"))
    ));
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start_with_env(&ws, &[("RUST_LOG", "debug")]);
    daemon.ready().await;
    let stored = wait_for(Duration::from_secs(30), || {
        ws.path("public/feed.xml").exists() && titles(&ws).contains(&"Keyed item".to_string())
    })
    .await;
    assert!(stored, "{}", daemon.log());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut seen = Vec::new();
    for path in ["/status", "/status.json", "/sources.opml", "/feed.xml"] {
        let response = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        seen.push((path.to_string(), response.text().await.unwrap()));
    }
    assert!(seen[1].1.contains("api_key=***"), "{}", seen[1].1);
    for args in [
        vec!["status"],
        vec!["check"],
        vec!["export-opml"],
        vec!["explain", keyed.as_str()],
    ] {
        let out = ws.tributary(&args).await;
        seen.push((
            args[0].to_string(),
            format!("{}{}", stdout(&out), stderr(&out)),
        ));
    }
    daemon.stop().await;
    seen.push(("the daemon's log".into(), daemon.log()));
    for (what, text) in &seen {
        for secret in [KEY, "someuser", HOOK_PATH] {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    }
    // The request itself still carried the key.
    let asked = server.seen(&format!("/feed.xml?api_key={KEY}&page=1&sig={KEY}"));
    assert!(!asked.is_empty());
}

#[tokio::test]
async fn the_database_is_the_owners_alone_and_a_command_leaves_no_process_behind() {
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Script\"\nkind = \"command\"\n\
         command = [\"sh\", \"script.sh\"]\ntimeout = \"20s\"\n"
    ));
    // A program that leaves a child in the background, holding its output open.
    ws.write(
        "script.sh",
        &format!(
            "sh -c 'echo $$ > child.pid; exec sleep 300' &\n\
             while [ ! -s child.pid ]; do :; done\n\
             cat <<'EOF'\n{}\nEOF\n",
            rss(
                "Script",
                "https://s.example/",
                &[item("s1", "Scripted", D1)]
            )
        ),
    );
    let out = ws.tributary(&["once"]).await;
    assert!(
        once_line(&stdout(&out), "Script").contains("1 new"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let pid = std::fs::read_to_string(ws.path("child.pid")).unwrap();
    let pid = pid.trim();
    // Gone, or a zombie waiting for init: never running.
    let ended = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')))
            .unwrap_or(true)
    })
    .await;
    assert!(ended, "the command's child {pid} still runs");
    for file in ["tributary.db", "tributary.db-wal", "tributary.db-shm"] {
        let path = ws.path(&format!("state/{file}"));
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{file} is {mode:o}");
        }
    }
    let mode = std::fs::metadata(ws.path("state/tributary.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn deep_nesting_and_large_answers_cost_in_proportion_and_hurt_no_other_source() {
    let server = FeedServer::start().await;
    let n = 100_000;
    let deep = format!("{}deep inside{}", "<div>".repeat(n), "</div>".repeat(n));
    server.serve(
        "/nested.xml",
        rss(
            "Nested",
            "https://n.example/",
            &[TestItem {
                guid: "n1".into(),
                title: "Nested".into(),
                body: deep,
                date: D1.into(),
            }],
        ),
    );
    server.serve(
        "/calm.xml",
        rss("Calm", "https://c.example/", &[item("c1", "Calm item", D1)]),
    );
    let ws = Workspace::new(&config_with_sources(
        &server,
        &[("Nested", "/nested.xml"), ("Calm", "/calm.xml")],
    ));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(once_line(&stdout(&out), "Nested").contains("1 new"));
    assert!(once_line(&stdout(&out), "Calm").contains("1 new"));
    let feed = ws.feed("public/feed.xml");
    let nested = feed
        .entries
        .iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == "Nested"))
        .unwrap();
    let text = text_of(nested);
    assert!(text.contains("deep inside"), "the text is kept");
    let html = nested
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| nested.summary.as_ref().map(|s| s.content.clone()))
        .unwrap();
    let depth = html.matches("<div>").count();
    assert!(
        depth <= tributary::sanitize::MAX_NESTING,
        "{depth} levels kept"
    );
}

//! Polite, unbreakable fetching, end to end: the `tributary` binary against a fault-injecting
//! publisher on 127.0.0.1. Each test asserts what the publisher was asked, what was stored, and
//! that a healthy source polled in the same run got its items.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use tributary::config::SourceLocation;
use tributary::fetch::{FetchOutcome, Fetcher};
use tributary::model::Validators;

const D1: &str = "Mon, 18 Aug 2025 10:00:00 GMT";
const D2: &str = "Tue, 19 Aug 2025 10:00:00 GMT";

/// A workspace polling `sources` (name, URL) plus a healthy source on the same server, with
/// `poll` lines added to `[poll]`.
fn workspace(server: &FeedServer, poll: &str, sources: &[(&str, String)]) -> Workspace {
    server.serve(
        "/healthy.xml",
        rss(
            "Healthy",
            "https://healthy.example/",
            &[item("ok1", "Healthy news", D1)],
        ),
    );
    let mut config = format!("[poll]\n{poll}\n{STATE_AND_OUTPUT}");
    config.push_str(&format!(
        "\n[[sources]]\nname = \"Healthy\"\nurl = \"{}\"\n",
        server.url("/healthy.xml")
    ));
    for (name, url) in sources {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    Workspace::new(&config)
}

/// Runs `once` and returns its stdout, after checking it succeeded and the healthy source got
/// its item.
async fn once(ws: &Workspace, args: &[&str]) -> String {
    let mut all = vec!["once"];
    all.extend_from_slice(args);
    let run = ws.tributary(&all).await;
    assert!(run.status.success(), "{}", stderr(&run));
    let out = stdout(&run);
    assert!(
        out.contains("Healthy: 1 new")
            || out.contains("Healthy: 0 new")
            || out.contains("Healthy: not modified"),
        "the healthy source is polled whatever the others do:\n{out}"
    );
    let merged = entries_with_publishers(&ws.path("public/feed.xml"));
    assert!(merged.contains(&("Healthy news".to_string(), "Healthy".to_string())));
    out
}

#[tokio::test]
async fn validators_are_sent_back_and_a_304_parses_and_writes_nothing() {
    let server = FeedServer::start().await;
    let feed = rss("Cond", "https://c.example/", &[item("c1", "Cond one", D1)]);
    server.respond(
        "/cond.xml",
        200,
        &[
            ("Content-Type", "application/rss+xml"),
            ("ETag", "\"v1\""),
            ("Last-Modified", "Mon, 18 Aug 2025 10:00:00 GMT"),
        ],
        feed.into_bytes(),
    );
    let ws = workspace(
        &server,
        "user_agent = \"TestAgent/1.0 (+https://example.org/bot)\"",
        &[("Cond", server.url("/cond.xml"))],
    );
    let out = once(&ws, &[]).await;
    assert!(once_line(&out, "Cond").contains("1 new"), "{out}");
    let first = server.seen("/cond.xml");
    assert_eq!(first[0].headers.get("if-none-match"), None);
    assert_eq!(
        first[0].headers.get("user-agent").map(String::as_str),
        Some("TestAgent/1.0 (+https://example.org/bot)")
    );
    assert!(
        first[0]
            .headers
            .get("accept-encoding")
            .is_some_and(|v| v.contains("gzip") && v.contains("br") && v.contains("deflate")),
        "{:?}",
        first[0].headers
    );
    let output = ws.path("public/feed.xml");
    let mtime = std::fs::metadata(&output).unwrap().modified().unwrap();

    let out = once(&ws, &[]).await;
    assert_eq!(once_line(&out, "Cond"), "Cond: not modified");
    let second = &server.seen("/cond.xml")[1];
    assert_eq!(
        second.headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(
        second.headers.get("if-modified-since").map(String::as_str),
        Some("Mon, 18 Aug 2025 10:00:00 GMT")
    );
    assert_eq!(items_of(&ws, "Cond"), 1);
    assert_eq!(
        std::fs::metadata(&output).unwrap().modified().unwrap(),
        mtime,
        "a 304 writes nothing"
    );
}

#[tokio::test]
async fn slow_silent_and_broken_servers_fail_alone_within_their_timeouts() {
    let server = FeedServer::start().await;
    let body = rss("Slow", "https://s.example/", &[item("s1", "Slow one", D1)]).into_bytes();
    server.set(
        "/trickle.xml",
        Reply::Trickle {
            body: body.clone(),
            every: Duration::from_millis(100),
        },
    );
    server.set("/hang.xml", Reply::Hang);
    server.set(
        "/reset.xml",
        Reply::ResetMidBody {
            declared: 10_000,
            sent: body[..100].to_vec(),
        },
    );
    server.set(
        "/truncated.xml",
        Reply::Truncated {
            declared: body.len(),
            sent: body[..body.len() / 2].to_vec(),
        },
    );
    let ws = workspace(
        &server,
        "timeout = \"3s\"\nfirst_byte_timeout = \"1s\"",
        &[
            ("Trickle", server.url("/trickle.xml")),
            ("Hang", server.url("/hang.xml")),
            ("Reset", server.url("/reset.xml")),
            ("Truncated", server.url("/truncated.xml")),
        ],
    );
    let started = Instant::now();
    let out = once(&ws, &[]).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded by the timeouts"
    );
    assert!(
        once_line(&out, "Trickle").contains("failed: timed out after 3s in all"),
        "{out}"
    );
    assert!(
        once_line(&out, "Hang").contains("failed: timed out after 1s waiting for a response"),
        "{out}"
    );
    assert!(once_line(&out, "Reset").contains("failed:"), "{out}");
    assert!(once_line(&out, "Truncated").contains("failed:"), "{out}");
    for name in ["Trickle", "Hang", "Reset", "Truncated"] {
        assert_eq!(items_of(&ws, name), 0, "{name}");
    }
}

#[tokio::test]
async fn huge_bodies_and_gzip_bombs_are_cut_off_at_the_cap() {
    let server = FeedServer::start().await;
    // 64 MiB of zeros, gzipped to about 64 KiB.
    let bomb = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..64 {
            encoder.write_all(&zeros).unwrap();
        }
        encoder.finish().unwrap()
    };
    server.respond(
        "/bomb.xml",
        200,
        &[
            ("Content-Type", "application/xml"),
            ("Content-Encoding", "gzip"),
        ],
        bomb,
    );
    // 50 MB announced: refused from the header, before any of it is read.
    server.set(
        "/huge.xml",
        Reply::Truncated {
            declared: 50_000_000,
            sent: b"<rss>".to_vec(),
        },
    );
    server.set("/endless.xml", Reply::Endless);
    let ws = workspace(
        &server,
        "max_body = \"1MiB\"",
        &[
            ("Bomb", server.url("/bomb.xml")),
            ("Huge", server.url("/huge.xml")),
            ("Endless", server.url("/endless.xml")),
        ],
    );
    let out = once(&ws, &[]).await;
    for name in ["Bomb", "Huge", "Endless"] {
        assert!(
            once_line(&out, name).contains("failed: body over 1048576 bytes"),
            "{out}"
        );
    }
}

#[tokio::test]
async fn redirect_loops_and_long_chains_are_errors_and_short_chains_are_followed() {
    let server = FeedServer::start().await;
    server.redirect("/loop-a", 302, "/loop-b");
    server.redirect("/loop-b", 302, "/loop-a");
    for hop in 0..12 {
        server.redirect(&format!("/chain{hop}"), 307, &format!("/chain{}", hop + 1));
    }
    server.redirect("/short0", 302, "/short1");
    server.redirect("/short1", 307, "/short.xml");
    server.serve(
        "/short.xml",
        rss(
            "Short",
            "https://short.example/",
            &[item("r1", "Redirected", D1)],
        ),
    );
    let ws = workspace(
        &server,
        "",
        &[
            ("Loop", server.url("/loop-a")),
            ("Chain", server.url("/chain0")),
            ("Short", server.url("/short0")),
        ],
    );
    let out = once(&ws, &[]).await;
    assert!(
        once_line(&out, "Loop").contains("failed: redirect loop"),
        "{out}"
    );
    assert!(
        once_line(&out, "Chain").contains("failed: more than 10 redirects"),
        "{out}"
    );
    assert_eq!(server.requests("/chain10"), 1);
    assert_eq!(server.requests("/chain11"), 0, "no more than 10 hops");
    assert!(once_line(&out, "Short").contains("1 new"), "{out}");

    // Temporary redirects are never adopted: the next poll starts at the configured URL.
    once(&ws, &[]).await;
    assert_eq!(server.requests("/short0"), 2);
}

#[tokio::test]
async fn a_permanent_redirect_is_adopted_after_repeated_polls_keeping_history() {
    let server = FeedServer::start().await;
    server.redirect("/old.xml", 301, "/new.xml");
    server.serve(
        "/new.xml",
        rss(
            "Moved",
            "https://m.example/",
            &[item("m1", "Moved one", D1)],
        ),
    );
    let ws = workspace(
        &server,
        "adopt_redirect_after = 2",
        &[("Moved", server.url("/old.xml"))],
    );
    assert!(once_line(&once(&ws, &[]).await, "Moved").contains("1 new"));
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(
        status.contains("permanently redirected to") && status.contains("on the last 1 poll(s)"),
        "{status}"
    );

    server.serve(
        "/new.xml",
        rss(
            "Moved",
            "https://m.example/",
            &[item("m2", "Moved two", D2), item("m1", "Moved one", D1)],
        ),
    );
    assert!(once_line(&once(&ws, &[]).await, "Moved").contains("1 new, 0 updated, 1 unchanged"));
    assert_eq!(server.requests("/old.xml"), 2);

    let out = once(&ws, &[]).await;
    assert!(once_line(&out, "Moved").contains("0 new"), "{out}");
    assert_eq!(
        server.requests("/old.xml"),
        2,
        "the adopted URL is polled instead"
    );
    assert_eq!(server.requests("/new.xml"), 3);
    assert_eq!(items_of(&ws, "Moved"), 2, "history kept, nothing doubled");

    let status = stdout(&ws.tributary(&["status"]).await);
    let expected = format!(
        "Moved: moved permanently; polling {}",
        server.url("/new.xml")
    );
    assert!(status.contains(&expected), "{status}");
    assert!(
        status.contains("tributary.toml:"),
        "names the config line: {status}"
    );
}

#[tokio::test]
async fn a_gone_feed_is_not_polled_again() {
    let server = FeedServer::start().await;
    server.respond("/gone.xml", 410, &[], Vec::new());
    let ws = workspace(&server, "", &[("Gone", server.url("/gone.xml"))]);
    assert!(once_line(&once(&ws, &[]).await, "Gone").contains("gone (HTTP 410)"));
    let out = once(&ws, &[]).await;
    assert_eq!(once_line(&out, "Gone"), "Gone: skipped: gone (HTTP 410)");
    assert_eq!(server.requests("/gone.xml"), 1, "no request after 410");
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(
        status.lines().any(|l| l.starts_with("Gone")
            && l.contains("gone (HTTP 410) since")
            && l.contains("never")),
        "{status}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_is_not_a_failure() {
    let server = FeedServer::start().await;
    server.respond("/limited.xml", 429, &[("Retry-After", "3600")], Vec::new());
    server.respond("/busy.xml", 503, &[], Vec::new());
    let ws = workspace(
        &server,
        "",
        &[
            ("Limited", server.url("/limited.xml")),
            ("Busy", server.url("/busy.xml")),
        ],
    );
    let out = once(&ws, &[]).await;
    assert!(
        once_line(&out, "Limited").contains("rate limited (HTTP 429), retry after"),
        "{out}"
    );
    assert_eq!(once_line(&out, "Busy"), "Busy: rate limited (HTTP 503)");

    let out = once(&ws, &[]).await;
    assert!(
        once_line(&out, "Limited").contains("skipped until")
            && once_line(&out, "Limited").contains("retry-after"),
        "{out}"
    );
    assert_eq!(
        server.requests("/limited.xml"),
        1,
        "no request inside Retry-After"
    );
    assert_eq!(server.requests("/busy.xml"), 2, "no Retry-After, no wait");
    let failures: i64 = ws
        .db()
        .query_row(
            "SELECT consecutive_failures FROM sources WHERE name = 'Limited'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failures, 0, "a rate limit does not count toward backoff");
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("rate limited until"), "{status}");
}

#[tokio::test]
async fn once_due_polls_only_sources_whose_time_has_come() {
    let server = FeedServer::start().await;
    server.respond("/down.xml", 500, &[], Vec::new());
    let ws = workspace(&server, "", &[("Down", server.url("/down.xml"))]);
    once(&ws, &[]).await;
    let run = ws.tributary(&["once", "--due"]).await;
    let out = stdout(&run);
    assert!(once_line(&out, "Down").contains("skipped until"), "{out}");
    assert!(
        once_line(&out, "Healthy").contains("skipped until"),
        "{out}"
    );
    assert_eq!(server.requests("/down.xml"), 1);
    assert_eq!(server.requests("/healthy.xml"), 1);
    // Without --due, a failing source is still tried: it is never disabled.
    once(&ws, &[]).await;
    assert_eq!(server.requests("/down.xml"), 2);
}

#[tokio::test]
async fn an_html_page_leads_to_the_feed_it_links_to() {
    let server = FeedServer::start().await;
    server.respond(
        "/blog/",
        200,
        &[("Content-Type", "text/html; charset=utf-8")],
        br#"<!doctype html><html><head><title>Blog</title>
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="Posts" href="/blog/feed.xml">
            </head><body>Hello</body></html>"#
            .to_vec(),
    );
    server.serve(
        "/blog/feed.xml",
        rss(
            "Blog",
            "https://blog.example/",
            &[item("b1", "Blog post", D1)],
        ),
    );
    server.respond(
        "/plain.html",
        200,
        &[("Content-Type", "text/html")],
        b"<html><body>No feed here</body></html>".to_vec(),
    );
    let ws = workspace(
        &server,
        "",
        &[
            ("Blog", server.url("/blog/")),
            ("Plain", server.url("/plain.html")),
        ],
    );
    let out = once(&ws, &[]).await;
    assert!(once_line(&out, "Blog").contains("1 new"), "{out}");
    assert!(
        once_line(&out, "Plain").contains("an HTML page that links to no feed"),
        "{out}"
    );
    let status = stdout(&ws.tributary(&["status"]).await);
    let expected = format!(
        "polling the feed it links to, {}",
        server.url("/blog/feed.xml")
    );
    assert!(status.contains(&expected), "{status}");

    once(&ws, &[]).await;
    assert_eq!(
        server.requests("/blog/"),
        1,
        "the discovered feed is polled directly"
    );
    assert_eq!(server.requests("/blog/feed.xml"), 2);
}

#[tokio::test]
async fn hostile_xml_neither_expands_entities_nor_reads_local_files() {
    let server = FeedServer::start().await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENTS").unwrap();
    let xxe = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY leak SYSTEM "file://{}">]>
<rss version="2.0"><channel><title>XXE</title><link>https://x.example/</link>
<item><guid>x1</guid><title>Leak &leak; here</title><description>&leak;</description></item>
</channel></rss>"#,
        secret.display()
    );
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
    for level in 1..10 {
        let previous = if level == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", level - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            format!("&{previous};").repeat(10)
        ));
    }
    laughs.push_str(
        "]>\n<rss version=\"2.0\"><channel><title>Laughs</title><item><guid>l1</guid><title>&lol9;</title></item></channel></rss>",
    );
    server.serve("/xxe.xml", xxe);
    server.serve("/laughs.xml", laughs);
    let ws = workspace(
        &server,
        "",
        &[
            ("XXE", server.url("/xxe.xml")),
            ("Laughs", server.url("/laughs.xml")),
        ],
    );
    let started = Instant::now();
    once(&ws, &[]).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    let feed = std::fs::read_to_string(ws.path("public/feed.xml")).unwrap();
    assert!(
        !feed.contains("TOP-SECRET"),
        "a local file leaked into the feed"
    );
    let db = ws.db();
    let leaked: i64 = db
        .query_row(
            "SELECT count(*) FROM items WHERE title LIKE '%TOP-SECRET%' OR summary LIKE '%TOP-SECRET%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0);
    let longest: i64 = db
        .query_row(
            "SELECT coalesce(max(length(title)), 0) FROM items",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        longest < 10_000,
        "entities were expanded: a title of {longest} chars"
    );
}

#[tokio::test]
async fn charsets_from_the_http_header_declaration_and_bom_are_honoured() {
    let server = FeedServer::start().await;
    let latin1 = |text: &str| -> Vec<u8> { text.chars().map(|c| c as u32 as u8).collect() };
    // Latin-1 bytes, no declaration: the HTTP charset says what they are.
    server.respond(
        "/latin1.xml",
        200,
        &[("Content-Type", "text/xml; charset=ISO-8859-1")],
        latin1("<rss version=\"2.0\"><channel><title>L</title><item><guid>l1</guid><title>Café crème</title></item></channel></rss>"),
    );
    // Latin-1 bytes with a declaration and no HTTP charset.
    server.respond(
        "/declared.xml",
        200,
        &[("Content-Type", "application/xml")],
        latin1("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>D</title><item><guid>d1</guid><title>Zoë’s piñata</title></item></channel></rss>"),
    );
    // UTF-16LE with a BOM, and UTF-16BE without one.
    let utf16 = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>U</title><item><guid>u1</guid><title>Ünïcödé</title></item></channel></rss>";
    let mut le = vec![0xFF, 0xFE];
    le.extend(utf16.encode_utf16().flat_map(u16::to_le_bytes));
    let be: Vec<u8> = utf16.encode_utf16().flat_map(u16::to_be_bytes).collect();
    server.respond("/utf16le.xml", 200, &[], le);
    server.respond("/utf16be.xml", 200, &[], be);
    // Invalid UTF-8 in a feed that claims UTF-8: replaced, not fatal.
    let mut broken = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>B</title><item><guid>b1</guid><title>Bad ".to_vec();
    broken.extend_from_slice(&[0xC3, 0x28]);
    broken.extend_from_slice(b" byte</title></item></channel></rss>");
    server.respond("/broken.xml", 200, &[], broken);
    let ws = workspace(
        &server,
        "",
        &[
            ("Latin1", server.url("/latin1.xml")),
            ("Declared", server.url("/declared.xml")),
            ("LE", server.url("/utf16le.xml")),
            ("BE", server.url("/utf16be.xml")),
            ("Broken", server.url("/broken.xml")),
        ],
    );
    let out = once(&ws, &[]).await;
    for name in ["Latin1", "Declared", "LE", "BE", "Broken"] {
        assert!(once_line(&out, name).contains("1 new"), "{out}");
    }
    let titles: Vec<String> = ws
        .feed("public/feed.xml")
        .entries
        .into_iter()
        .map(|e| e.title.unwrap().content)
        .collect();
    for expected in ["Café crème", "Ünïcödé", "Bad \u{FFFD}( byte"] {
        assert!(
            titles.iter().any(|t| t == expected),
            "{expected}: {titles:?}"
        );
    }
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Zoë") && t.ends_with("piñata")),
        "{titles:?}"
    );
    assert_eq!(titles.iter().filter(|t| *t == "Ünïcödé").count(), 2);
}

#[tokio::test]
async fn no_host_gets_more_than_its_share_of_requests_at_once() {
    let server = FeedServer::start().await;
    let mut sources = Vec::new();
    for i in 0..6 {
        let path = format!("/slow{i}.xml");
        let body = rss(
            &format!("S{i}"),
            "https://s.example/",
            &[item(&format!("s{i}"), "S", D1)],
        );
        server.set(
            &path,
            Reply::Slow {
                delay: Duration::from_millis(300),
                body: body.into_bytes(),
            },
        );
        sources.push((format!("Slow{i}"), server.url(&path)));
    }
    let named: Vec<(&str, String)> = sources
        .iter()
        .map(|(n, u)| (n.as_str(), u.clone()))
        .collect();
    let ws = workspace(
        &server,
        "concurrency = 16\nper_host_concurrency = 2",
        &named,
    );
    let out = once(&ws, &[]).await;
    assert!(out.contains("7 ok"), "{out}");
    assert!(
        server.most_in_flight() <= 2,
        "{} requests at once to one host",
        server.most_in_flight()
    );
}

#[tokio::test]
async fn the_health_feed_reports_sources_that_start_failing_recover_and_go() {
    let server = FeedServer::start().await;
    server.respond("/flaky.xml", 500, &[], Vec::new());
    server.respond("/gone.xml", 410, &[], Vec::new());
    let ws = workspace(
        &server,
        "",
        &[
            ("Flaky", server.url("/flaky.xml")),
            ("Gone", server.url("/gone.xml")),
        ],
    );
    let mut config = std::fs::read_to_string(ws.config()).unwrap();
    config.push_str("\n[health]\npath = \"public/health.xml\"\n");
    std::fs::write(ws.config(), config).unwrap();

    once(&ws, &[]).await;
    once(&ws, &[]).await;
    server.serve(
        "/flaky.xml",
        rss(
            "Flaky",
            "https://f.example/",
            &[item("f1", "Flaky is back", D1)],
        ),
    );
    once(&ws, &[]).await;

    let health = ws.feed("public/health.xml");
    let titles: Vec<String> = health
        .entries
        .iter()
        .map(|e| e.title.clone().unwrap().content)
        .collect();
    // Events of one run happen together, in no set order; the recovery came a run later.
    assert_eq!(
        titles.len(),
        3,
        "one entry per change; a second failure is not news"
    );
    assert_eq!(titles[0], "Flaky: recovered");
    let mut earlier = titles[1..].to_vec();
    earlier.sort();
    assert_eq!(earlier, ["Flaky: failing", "Gone: gone"]);
    let failing = health
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content == "Flaky: failing")
        })
        .unwrap();
    assert!(
        failing
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .unwrap_or_default()
            .contains("HTTP 500"),
        "{failing:?}"
    );
}

#[tokio::test]
async fn a_redirect_from_a_public_host_into_a_private_address_is_refused_unless_allowed() {
    let server = FeedServer::start().await;
    let internal = server.url("/internal.xml");
    server.redirect("/feed.xml", 302, &internal);
    server.serve(
        "/internal.xml",
        rss(
            "Internal",
            "https://i.example/",
            &[item("i1", "Internal", D1)],
        ),
    );
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    // "public.test" has no DNS entry, so the guard takes it for a public host; the fetcher is
    // pinned to reach it on 127.0.0.1.
    let start = SourceLocation::Http(
        url::Url::parse(&format!("http://public.test:{}/feed.xml", addr.port())).unwrap(),
    );
    for allow in [false, true] {
        let ws = Workspace::new(&format!("[poll]\nallow_private_redirects = {allow}\n"));
        let settings = tributary::config::load(&ws.config()).unwrap().poll;
        let fetcher = Fetcher::with_pinned_hosts(&settings, &[("public.test", addr)]).unwrap();
        let request = tributary::fetch::SourceRequest {
            settings: &Default::default(),
            home: None,
        };
        let result = fetcher.fetch(&start, &Validators::default(), request).await;
        if allow {
            assert!(matches!(result, Ok(FetchOutcome::Fetched(_))), "{result:?}");
        } else {
            let error = result.unwrap_err().to_string();
            assert!(
                error.contains("refused a redirect to the private address"),
                "{error}"
            );
        }
    }
    assert_eq!(server.requests("/feed.xml"), 2);
    assert_eq!(server.requests("/internal.xml"), 1, "only when allowed");
}

#[tokio::test]
async fn cache_control_max_age_stretches_the_interval_up_to_the_cap() {
    let server = FeedServer::start().await;
    let feed = rss("Cached", "https://c.example/", &[item("c1", "Cached", D1)]);
    server.respond(
        "/cached.xml",
        200,
        &[("Cache-Control", "public, max-age=7200")],
        feed.clone().into_bytes(),
    );
    server.respond(
        "/forever.xml",
        200,
        &[("Cache-Control", "max-age=31536000")],
        feed.into_bytes(),
    );
    let ws = workspace(
        &server,
        "interval = \"30m\"\nmax_interval = \"6h\"",
        &[
            ("Cached", server.url("/cached.xml")),
            ("Forever", server.url("/forever.xml")),
        ],
    );
    once(&ws, &[]).await;
    let next_poll = |name: &str| -> i64 {
        ws.db()
            .query_row(
                "SELECT next_poll_at - last_poll_at FROM sources WHERE name = ?1 AND next_poll_reason = 'server hint'",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(next_poll("Cached"), 7200);
    assert_eq!(next_poll("Forever"), 6 * 3600, "capped by max_interval");
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("(server hint)"), "{status}");
}

#[tokio::test]
async fn publishers_see_who_to_reach_in_the_user_agent_and_check_suggests_it() {
    let server = FeedServer::start().await;
    // Without a contact: the name and version, and no address the project does not own.
    let ws = workspace(&server, "", &[]);
    once(&ws, &[]).await;
    let agent = |server: &FeedServer| {
        server.seen("/healthy.xml").last().unwrap().headers["user-agent"].clone()
    };
    assert_eq!(
        agent(&server),
        format!("Tributary/{}", env!("CARGO_PKG_VERSION"))
    );
    let check = ws.tributary(&["check"]).await;
    assert!(check.status.success());
    assert!(
        stderr(&check).contains("suggestion: publishers see \"User-Agent: Tributary/")
            && stderr(&check).contains("[poll] contact"),
        "{}",
        stderr(&check)
    );

    let ws = workspace(&server, "contact = \"mailto:ops@example.org\"", &[]);
    once(&ws, &[]).await;
    assert_eq!(
        agent(&server),
        format!(
            "Tributary/{} (+mailto:ops@example.org)",
            env!("CARGO_PKG_VERSION")
        )
    );
    let check = ws.tributary(&["check"]).await;
    assert!(!stderr(&check).contains("suggestion"), "{}", stderr(&check));

    for bad in [
        "ops@example.org",
        "mailto:",
        "ftp://example.org/",
        "https://a b/",
    ] {
        let ws = workspace(&server, &format!("contact = \"{bad}\""), &[]);
        let check = ws.tributary(&["check"]).await;
        assert!(!check.status.success(), "{bad}");
        assert!(
            stderr(&check).contains("poll.contact"),
            "{}",
            stderr(&check)
        );
    }
}

#[tokio::test]
async fn adaptive_polling_follows_how_often_each_publisher_publishes() {
    let server = FeedServer::start().await;
    let dates = |hours: &[i64]| -> Vec<TestItem> {
        hours
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let at = chrono::DateTime::parse_from_rfc3339("2025-08-18T00:00:00Z").unwrap()
                    + chrono::Duration::hours(*h);
                item(&format!("i{i}"), &format!("Item {i}"), &at.to_rfc2822())
            })
            .collect()
    };
    // Every 4 hours; every 10 minutes; every 4 hours but its feed asks for 5 hours (ttl).
    server.serve(
        "/steady.xml",
        rss("Steady", "https://s.example/", &dates(&[16, 12, 8, 4, 0])),
    );
    let busy: Vec<TestItem> = (0..10)
        .map(|i| {
            let at = chrono::DateTime::parse_from_rfc3339("2025-08-18T00:00:00Z").unwrap()
                + chrono::Duration::minutes(10 * i);
            item(&format!("b{i}"), &format!("Busy {i}"), &at.to_rfc2822())
        })
        .collect();
    server.serve("/busy.xml", rss("Busy", "https://b.example/", &busy));
    let hinted = rss("Hinted", "https://h.example/", &dates(&[16, 12, 8, 4, 0])).replace(
        "<description>d</description>",
        "<description>d</description><ttl>300</ttl>",
    );
    server.serve("/hinted.xml", hinted);
    let config = config_with_sources(
        &server,
        &[
            ("Steady", "/steady.xml"),
            ("Busy", "/busy.xml"),
            ("Hinted", "/hinted.xml"),
        ],
    )
    .replace(
        "[retention]",
        "[poll]\nadaptive = true\nmin_interval = \"5m\"\n\n[retention]",
    );
    let ws = Workspace::new(&config);
    let started = chrono::Utc::now().timestamp();
    assert!(ws.tributary(&["once"]).await.status.success());
    let next = |name: &str| -> (i64, String) {
        ws.db()
            .query_row(
                "SELECT next_poll_at, next_poll_reason FROM sources WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let (at, reason) = next("Steady");
    assert_eq!(reason, "adaptive");
    assert!(
        (at - started - 2 * 3600).abs() < 120,
        "in {} s",
        at - started
    );
    let (at, reason) = next("Busy");
    assert_eq!(reason, "adaptive");
    assert!(
        (at - started - 300).abs() < 120,
        "the minimum, not 5 min: {}",
        at - started
    );
    let (_, reason) = next("Hinted");
    assert_eq!(reason, "server hint", "the publisher's longer hint wins");
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("(adaptive)"), "{status}");
}

//! Real time in: WebSub subscriptions to publishers' hubs. The hub is played by the test, by
//! the spec: it takes subscription requests (a fake server records them), verifies them with a
//! GET on the callback, and delivers content by POST signed with the subscription's secret.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use hmac::{KeyInit, Mac};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// An RSS feed of `items` (guid, title), advertising `links` (rel, href) in its channel.
fn feed(title: &str, links: &[(&str, &str)], items: &[(&str, &str)]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" xmlns:atom=\"{ATOM_NS}\"><channel>\
         <title>{title}</title><link>https://pub.example/</link><description>d</description>\n"
    );
    for (rel, href) in links {
        xml.push_str(&format!("<atom:link rel=\"{rel}\" href=\"{href}\"/>\n"));
    }
    for (guid, title) in items {
        xml.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
             <link>https://pub.example/{guid}</link><pubDate>Mon, 18 Aug 2025 10:00:00 GMT</pubDate></item>\n"
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn sha1(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha1={}", hex(&mac.finalize().into_bytes()))
}

/// A daemon serving on `port`, subscribing at hubs, with `sources` (name, url, extra lines).
fn config(port: u16, lease: &str, sources: &[(&str, String, &str)]) -> String {
    let mut config = format!(
        "{STATE_AND_OUTPUT}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n\
         [site]\nbase_url = \"http://127.0.0.1:{port}/\"\n\
         [websub]\nsubscribe = true\nlease = \"{lease}\"\npoll_interval = \"6h\"\n\
         [health]\npath = \"public/health.xml\"\n"
    );
    for (name, url, extra) in sources {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n"
        ));
    }
    config
}

/// The hub's side: the subscription requests it has had, as forms, waiting until `n` came.
async fn requests(hub: &FeedServer, n: usize) -> Vec<HashMap<String, String>> {
    let came = wait_for(Duration::from_secs(60), || hub.requests("/hub") >= n).await;
    assert!(
        came,
        "the hub had {} requests, not {n}",
        hub.requests("/hub")
    );
    hub.bodies("/hub").iter().map(|b| form(b)).collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The hub verifying a request at the subscriber's callback: its status and body.
async fn verify(callback: &str, mode: &str, topic: &str, lease: &str) -> (u16, String) {
    let mut url = url::Url::parse(callback).unwrap();
    url.query_pairs_mut()
        .append_pair("hub.mode", mode)
        .append_pair("hub.topic", topic)
        .append_pair("hub.challenge", "c-4711")
        .append_pair("hub.lease_seconds", lease);
    let response = client().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The hub delivering `body` to `callback` with `signature` (none if empty): the status.
async fn deliver(callback: &str, body: &str, signature: &str, hub: &str, topic: &str) -> u16 {
    let mut request = client()
        .post(callback)
        .header("Content-Type", "application/rss+xml")
        .header(
            "Link",
            format!("<{hub}>; rel=\"hub\", <{topic}>; rel=\"self\""),
        )
        .body(body.to_string());
    if !signature.is_empty() {
        request = request.header("X-Hub-Signature", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

fn titles_stored(ws: &Workspace, title: &str) -> i64 {
    ws.db()
        .query_row(
            "SELECT count(*) FROM items WHERE title = ?1",
            [title],
            |r| r.get(0),
        )
        .unwrap()
}

/// Waits until Blog's next poll is stored with `reason` (polls are committed in batches).
async fn next_poll_reason_becomes(ws: &Workspace, reason: &str) -> bool {
    wait_for(Duration::from_secs(30), || {
        ws.db()
            .query_row(
                "SELECT next_poll_reason FROM sources WHERE name = 'Blog'",
                [],
                |r| r.get::<_, Option<String>>(0),
            )
            .ok()
            .flatten()
            .as_deref()
            == Some(reason)
    })
    .await
}

#[tokio::test]
async fn hubs_found_in_feeds_and_headers_are_subscribed_verified_and_their_signed_pushes_stored_once()
 {
    let publisher = FeedServer::start().await;
    let hub = FeedServer::start().await;
    hub.respond("/hub", 202, &[], Vec::new());
    let hub_url = hub.url("/hub");
    let blog_topic = publisher.url("/blog-topic.xml");
    // One publisher advertises its hub in the feed, the other only in Link headers.
    publisher.serve(
        "/blog.xml",
        feed(
            "Blog",
            &[("hub", &hub_url), ("self", &blog_topic)],
            &[("b1", "Blog one")],
        ),
    );
    let video_topic = publisher.url("/video-topic");
    publisher.respond(
        "/video.xml",
        200,
        &[
            ("Content-Type", "application/rss+xml"),
            (
                "Link",
                &format!("<{hub_url}>; rel=\"hub\", <{video_topic}>; rel=\"self\""),
            ),
        ],
        feed("Video", &[], &[("v1", "Video one")]).into_bytes(),
    );
    let port = free_port();
    let ws = Workspace::new(&config(
        port,
        "1h",
        &[
            ("Blog", publisher.url("/blog.xml"), ""),
            ("Video", publisher.url("/video.xml"), ""),
        ],
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;

    // Both subscribed, by the spec's fields, each with its own callback and secret.
    let asked = requests(&hub, 2).await;
    let by_topic = |topic: &str| {
        asked
            .iter()
            .find(|f| f["hub.topic"] == topic)
            .unwrap_or_else(|| panic!("no request for {topic}: {asked:?}"))
            .clone()
    };
    let (blog, video) = (by_topic(&blog_topic), by_topic(&video_topic));
    for request in [&blog, &video] {
        assert_eq!(request["hub.mode"], "subscribe");
        assert_eq!(request["hub.lease_seconds"], "3600");
        assert!(request["hub.secret"].len() >= 32);
        let prefix = format!("http://127.0.0.1:{port}/websub/");
        assert!(request["hub.callback"].starts_with(&prefix), "{request:?}");
    }
    assert_ne!(blog["hub.callback"], video["hub.callback"]);
    assert_ne!(blog["hub.secret"], video["hub.secret"]);

    // Forged verifications: another topic, another mode, an unknown callback.
    let callback = &blog["hub.callback"];
    assert_eq!(
        verify(callback, "subscribe", "https://evil.example/", "3600")
            .await
            .0,
        404
    );
    assert_eq!(
        verify(callback, "unsubscribe", &blog_topic, "3600").await.0,
        404
    );
    // A callback Tributary does not hold is gone: the hub may drop it.
    let unknown = format!("http://127.0.0.1:{port}/websub/0123456789abcdef");
    assert_eq!(
        verify(&unknown, "subscribe", &blog_topic, "3600").await.0,
        410
    );
    // The real one: the challenge echoed.
    assert_eq!(
        verify(callback, "subscribe", &blog_topic, "3600").await,
        (200, "c-4711".to_string())
    );
    let (status, _) = verify(&video["hub.callback"], "subscribe", &video_topic, "3600").await;
    assert_eq!(status, 200);
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("PUSH"), "{status}");
    assert!(
        status.contains(&format!("Blog: pushed by {hub_url}, lease until")),
        "{status}"
    );

    // A signed delivery is stored and written out at once.
    let pushed = feed("Blog", &[], &[("b2", "Pushed two"), ("b1", "Blog one")]);
    let secret = &blog["hub.secret"];
    let code = deliver(
        callback,
        &pushed,
        &sha256(secret, pushed.as_bytes()),
        &hub_url,
        &blog_topic,
    )
    .await;
    assert_eq!(code, 204);
    assert_eq!(titles_stored(&ws, "Pushed two"), 1);
    let shown = wait_for(Duration::from_secs(30), || {
        titles(&ws).contains(&"Pushed two".to_string())
    })
    .await;
    assert!(shown, "{:?}", titles(&ws));
    // sha1 is accepted too.
    let video_push = feed("Video", &[], &[("v2", "Video two")]);
    let signature = sha1(&video["hub.secret"], video_push.as_bytes());
    let code = deliver(
        &video["hub.callback"],
        &video_push,
        &signature,
        &hub_url,
        &video_topic,
    )
    .await;
    assert_eq!(code, 204);
    assert_eq!(titles_stored(&ws, "Video two"), 1);

    // Unsigned, wrongly signed (another secret, a tampered body): acknowledged, discarded.
    let forged = feed("Blog", &[], &[("b3", "Forged three")]);
    assert_eq!(
        deliver(callback, &forged, "", &hub_url, &blog_topic).await,
        202
    );
    let other = sha256(&video["hub.secret"], forged.as_bytes());
    assert_eq!(
        deliver(callback, &forged, &other, &hub_url, &blog_topic).await,
        202
    );
    let tampered = sha256(secret, pushed.as_bytes());
    assert_eq!(
        deliver(callback, &forged, &tampered, &hub_url, &blog_topic).await,
        202
    );
    assert_eq!(titles_stored(&ws, "Forged three"), 0);
    // One warning for the source in a minute: the others are counted, for the next one.
    assert!(daemon.log().contains("WebSub delivery discarded: unsigned"));
    assert!(
        !daemon
            .log()
            .contains("WebSub delivery discarded: wrongly signed")
    );

    // The same item later arrives by poll: stored once, and push stays healthy; the source
    // is polled at the relaxed interval.
    publisher.serve(
        "/blog.xml",
        feed(
            "Blog",
            &[("hub", &hub_url), ("self", &blog_topic)],
            &[("b2", "Pushed two"), ("b1", "Blog one")],
        ),
    );
    let polled = stdout(&ws.tributary(&["poll", "Blog"]).await);
    assert!(polled.contains("Blog:"), "{polled}");
    assert_eq!(titles_stored(&ws, "Pushed two"), 1);
    assert!(
        next_poll_reason_becomes(&ws, "pushed").await,
        "{}",
        daemon.log()
    );
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("Blog: pushed by"), "{status}");
    assert!(status.contains("(pushed)"), "{status}");
    daemon.stop().await;
}

#[tokio::test]
async fn leases_are_renewed_before_they_end_and_removed_sources_unsubscribed() {
    let publisher = FeedServer::start().await;
    let hub = FeedServer::start().await;
    hub.respond("/hub", 202, &[], Vec::new());
    let hub_url = hub.url("/hub");
    let topic = publisher.url("/blog.xml");
    publisher.serve(
        "/blog.xml",
        feed("Blog", &[("hub", &hub_url)], &[("b1", "Blog one")]),
    );
    publisher.serve("/other.xml", feed("Other", &[], &[("o1", "Other one")]));
    let port = free_port();
    let sources = |with_blog: bool| {
        let mut list = vec![("Other", publisher.url("/other.xml"), "")];
        if with_blog {
            list.push(("Blog", publisher.url("/blog.xml"), ""));
        }
        config(port, "10d", &list)
    };
    let ws = Workspace::new(&sources(true));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let first = requests(&hub, 1).await.remove(0);
    // Without a self link, the topic is the URL polled.
    assert_eq!(first["hub.topic"], topic);
    assert_eq!(first["hub.lease_seconds"], "864000");
    // The hub grants less than asked: 30 s. Renewal comes at 90 %, before the lease ends.
    let callback = first["hub.callback"].clone();
    assert_eq!(verify(&callback, "subscribe", &topic, "30").await.0, 200);
    let verified = Instant::now();
    let renewed = requests(&hub, 2).await.remove(1);
    let after = verified.elapsed();
    assert_eq!(renewed["hub.mode"], "subscribe");
    assert_eq!(
        renewed["hub.callback"], callback,
        "renewed, not a new subscription"
    );
    // Times are stored in whole seconds: 90 % of 30 s is 26 to 27 s after the verification.
    assert!(
        after >= Duration::from_secs(20) && after < Duration::from_secs(30),
        "renewed {after:?} after a 30 s lease began"
    );
    assert_eq!(
        verify(&callback, "subscribe", &topic, "864000").await.0,
        200
    );

    // The source leaves the config: unsubscribed, verified, forgotten.
    ws.write("tributary.toml", &sources(false));
    let bye = requests(&hub, 3).await.remove(2);
    assert_eq!(bye["hub.mode"], "unsubscribe");
    assert_eq!(bye["hub.callback"], callback);
    assert_eq!(bye["hub.topic"], topic);
    assert_eq!(
        verify(&callback, "unsubscribe", &topic, "0").await,
        (200, "c-4711".into())
    );
    assert_eq!(count(&ws, "SELECT count(*) FROM subscriptions"), 0);
    // Its callback is gone, and says so: a hub drops the subscription on 410.
    let late = feed("Blog", &[], &[("b9", "Late")]);
    assert_eq!(
        deliver(&callback, &late, "sha256=00", &hub_url, &topic).await,
        410
    );
    daemon.stop().await;
}

/// A daemon polling Blog every 20 minutes, which advertises its hub (answering 202 to every
/// request): what a test of pushes starts from, once the first subscription request came.
struct Subscribing {
    publisher: FeedServer,
    hub: FeedServer,
    hub_url: String,
    topic: String,
    ws: Workspace,
    daemon: Daemon,
    /// The hub's first request, as a form.
    first: HashMap<String, String>,
}

async fn subscribing_blog() -> Subscribing {
    let publisher = FeedServer::start().await;
    let hub = FeedServer::start().await;
    hub.respond("/hub", 202, &[], Vec::new());
    let hub_url = hub.url("/hub");
    let topic = publisher.url("/blog.xml");
    let links = [("hub", hub_url.as_str()), ("self", topic.as_str())];
    publisher.serve("/blog.xml", feed("Blog", &links, &[("b1", "Blog one")]));
    let port = free_port();
    let ws = Workspace::new(&config(
        port,
        "1h",
        &[("Blog", publisher.url("/blog.xml"), "interval = \"20m\"")],
    ));
    let daemon = Daemon::start(&ws);
    daemon.ready().await;
    let first = requests(&hub, 1).await.remove(0);
    Subscribing {
        publisher,
        hub,
        hub_url,
        topic,
        ws,
        daemon,
        first,
    }
}

#[tokio::test]
async fn a_poll_finding_items_the_hub_never_pushed_marks_push_unhealthy_and_resubscribes() {
    let Subscribing {
        publisher,
        hub,
        hub_url,
        topic,
        ws,
        mut daemon,
        first,
    } = subscribing_blog().await;
    let links = [("hub", hub_url.as_str()), ("self", topic.as_str())];
    assert_eq!(
        verify(&first["hub.callback"], "subscribe", &topic, "3600")
            .await
            .0,
        200
    );
    // The hub dies (refuses everything), and the publisher publishes: nothing is pushed.
    hub.respond("/hub", 500, &[], Vec::new());
    publisher.serve(
        "/blog.xml",
        feed(
            "Blog",
            &links,
            &[("b2", "Never pushed"), ("b1", "Blog one")],
        ),
    );
    let polled = stdout(&ws.tributary(&["poll", "Blog"]).await);
    assert!(polled.contains("1 new"), "{polled}");
    assert_eq!(titles_stored(&ws, "Never pushed"), 1);
    // Reported, subscribed again (the dead hub refuses), and polled at its own interval.
    let again = requests(&hub, 2).await.remove(1);
    assert_eq!(again["hub.callback"], first["hub.callback"]);
    let refused = wait_for_async(Duration::from_secs(30), || async {
        stdout(&ws.tributary(&["status"]).await).contains("HTTP 500")
    })
    .await;
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(refused, "{status}");
    assert!(status.contains("unhealthy"), "{status}");
    assert!(
        status.contains(&format!("Blog: push by {hub_url} unhealthy")),
        "{status}"
    );
    assert!(next_poll_reason_becomes(&ws, "interval").await);
    // The daemon renders the health feed after the poll, in its own time.
    let missed = "a poll found 1 item(s) the hub never pushed";
    let health = || std::fs::read_to_string(ws.path("public/health.xml")).unwrap_or_default();
    let reported = wait_for_async(Duration::from_secs(30), || async {
        health().contains(missed)
    })
    .await;
    assert!(reported, "{}", health());
    daemon.stop().await;
}

/// An Atom feed of one entry `e1` titled `title`, updated at `updated`.
fn entry_feed(title: &str, updated: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"{ATOM_NS}\"><title>Blog</title><id>urn:blog</id>\
         <updated>{updated}</updated><entry><id>urn:blog:e1</id><title>{title}</title>\
         <link href=\"https://pub.example/e1\"/><published>2025-08-18T10:00:00Z</published>\
         <updated>{updated}</updated><content type=\"html\">{title}</content></entry></feed>"
    )
}

#[tokio::test]
async fn replayed_deliveries_forged_headers_and_denials_move_neither_items_nor_subscriptions() {
    let Subscribing {
        hub,
        hub_url,
        topic,
        ws,
        mut daemon,
        first,
        ..
    } = subscribing_blog().await;
    let evil = FeedServer::start().await;
    evil.respond("/hub", 202, &[], Vec::new());
    let (callback, secret) = (&first["hub.callback"], &first["hub.secret"]);
    assert_eq!(verify(callback, "subscribe", &topic, "3600").await.0, 200);

    // A, then B, then A replayed, naming another hub in headers anyone can add.
    let a = entry_feed("Version A", "2025-08-18T10:00:00Z");
    let b = entry_feed("Version B", "2025-08-19T10:00:00Z");
    let evil_hub = evil.url("/hub");
    for (body, hub) in [(&a, &hub_url), (&b, &hub_url), (&a, &evil_hub)] {
        let code = deliver(
            callback,
            body,
            &sha256(secret, body.as_bytes()),
            hub,
            &topic,
        )
        .await;
        assert!(code == 204, "{code}");
    }
    assert_eq!(titles_stored(&ws, "Version B"), 1);
    assert_eq!(
        titles_stored(&ws, "Version A"),
        0,
        "the replay changed the item back"
    );
    let log = daemon.log();
    let stored: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("pushed content stored"))
        .collect();
    assert_eq!(stored.len(), 3, "{log}");
    assert!(stored[1].contains("updated=1"), "{}", stored[1]);
    assert!(
        stored[2].contains("updated=0"),
        "the replay counted as an update: {}",
        stored[2]
    );

    // A storm of forged deliveries: each refused, a warning a minute for the source.
    for _ in 0..30 {
        assert_eq!(
            deliver(callback, &a, "sha256=00", &evil_hub, &topic).await,
            202
        );
    }
    let warnings = daemon.log().matches("discarded: wrongly signed").count();
    assert!(warnings <= 1, "{warnings} warnings:\n{}", daemon.log());

    // A forged denial: the source is subscribed again at once, at the real hub, and polled
    // at its own interval meanwhile.
    let mut denied = url::Url::parse(callback).unwrap();
    denied
        .query_pairs_mut()
        .append_pair("hub.mode", "denied")
        .append_pair("hub.topic", &topic)
        .append_pair("hub.reason", "forged");
    assert_eq!(client().get(denied).send().await.unwrap().status(), 200);
    let again = requests(&hub, 2).await.remove(1);
    assert_eq!(again["hub.mode"], "subscribe");
    assert_eq!(again["hub.topic"], topic);
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(status.contains("unhealthy"), "{status}");
    assert_eq!(evil.requests("/hub"), 0, "the replayed headers named a hub");
    let hubs: Vec<String> = {
        let db = ws.db();
        let mut query = db.prepare("SELECT hub FROM subscriptions").unwrap();
        query
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(hubs, [hub_url]);
    daemon.stop().await;
}

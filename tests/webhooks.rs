//! Real time out: `[[webhooks]]` told of new items, signed, retried, in order, and nothing lost
//! across a crash. The receiver is a fake server that checks nothing itself: the test checks
//! each request as a receiver would (the HMAC over the body with the shared secret).

mod common;

use std::time::Duration;

use common::*;
use hmac::{KeyInit, Mac};

const SECRET: &str = "s3cret-for-hooks";

fn signed(body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

fn config(server: &FeedServer, receiver: &FeedServer) -> String {
    format!(
        "{STATE_AND_OUTPUT}
[[webhooks]]
url = \"{all}\"
secret = {{ env = \"HOOK_SECRET\" }}

[[webhooks]]
url = \"{defence}\"
secret = \"{SECRET}\"
tags = [\"defence\"]
exclude = [\"weather\"]

# What rules drop is stored but goes out nowhere: not to webhooks either.
[[rules]]
when = {{ title = \"(?i)sponsored\" }}
action = \"drop\"

[[sources]]
name = \"Ministry\"
url = \"{ministry}\"
tags = [\"defence\"]

[[sources]]
name = \"Harbour\"
url = \"{harbour}\"
",
        all = receiver.url("/all"),
        defence = receiver.url("/defence"),
        ministry = server.url("/ministry.xml"),
        harbour = server.url("/harbour.xml"),
    )
}

/// The items' titles in a delivery's body, in order.
fn delivered_titles(body: &[u8]) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

const DATE: &str = "Mon, 18 Aug 2025 10:00:00 GMT";

/// The two publishers' feeds: the tagged ministry's and the harbour's.
fn publish(server: &FeedServer, ministry: &[TestItem], harbour: &[TestItem]) {
    server.serve(
        "/ministry.xml",
        rss("Ministry", "https://mod.example/", ministry),
    );
    server.serve(
        "/harbour.xml",
        rss("Harbour", "https://harbour.example/", harbour),
    );
}

#[tokio::test]
async fn webhooks_get_signed_filtered_deliveries_retried_after_failures() {
    let server = FeedServer::start().await;
    let receiver = FeedServer::start().await;
    publish(
        &server,
        &[
            item("m1", "Frigate launched", DATE),
            item("m2", "Weather warning", DATE),
        ],
        &[
            item("h1", "Ferry times", DATE),
            item("h2", "Sponsored: cruise deals", DATE),
        ],
    );
    // The first receiver fails twice, then takes deliveries.
    receiver.respond("/all", 500, &[], Vec::new());
    receiver.respond("/defence", 204, &[], Vec::new());
    let ws = Workspace::new(&config(&server, &receiver));
    let daemon = Daemon::start_with_env(&ws, &[("HOOK_SECRET", SECRET)]);
    daemon.ready().await;

    let failed_twice = wait_for(Duration::from_secs(60), || receiver.requests("/all") >= 2).await;
    assert!(failed_twice, "{}", daemon.log());
    receiver.respond("/all", 200, &[], Vec::new());
    let all = wait_for(Duration::from_secs(60), || {
        receiver.requests("/all") >= 3
            && count(&ws, "SELECT count(*) FROM webhook_deliveries") == 0
            && count(&ws, "SELECT count(*) FROM webhook_items") == 0
    })
    .await;
    assert!(all, "{:?}", receiver.bodies("/all"));
    let seen = receiver.seen("/all");
    // The failed tries were the same delivery, same bytes, same id; then it passed.
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(
        seen[0].headers["x-tributary-delivery"],
        seen[2].headers["x-tributary-delivery"]
    );
    let mut titles: Vec<String> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for request in &seen {
        assert!(
            signed(&request.body, &request.headers["x-tributary-signature"]),
            "bad signature: {:?}",
            request.headers
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert!(
            request.headers["x-tributary-timestamp"]
                .parse::<i64>()
                .is_ok()
        );
        let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            json["delivery_id"],
            request.headers["x-tributary-delivery"].as_str()
        );
        if ids.insert(request.headers["x-tributary-delivery"].clone()) {
            titles.extend(delivered_titles(&request.body));
            for item in json["items"].as_array().unwrap() {
                assert!(item["_tributary"]["source_title"].is_string(), "{item}");
            }
        }
    }
    titles.sort();
    assert_eq!(
        titles,
        ["Ferry times", "Frigate launched", "Weather warning"]
    );

    // The filtered webhook: only the defence source's items, without "weather".
    let defence: Vec<String> = receiver
        .seen("/defence")
        .iter()
        .flat_map(|s| delivered_titles(&s.body))
        .collect();
    assert_eq!(defence, ["Frigate launched"]);

    // `status` shows the queues and the last error.
    let status = stdout(
        &ws.tributary_with_env(&["status"], &[("HOOK_SECRET", SECRET)])
            .await,
    );
    assert!(status.contains("WEBHOOK"), "{status}");
    // Only the webhook's host is shown, and a digest that tells it apart: for many services the
    // rest of its URL is the secret.
    assert!(!status.contains(&receiver.url("/all")), "{status}");
    let shown = tributary::sanitize::shown_webhook(&receiver.url("/all"));
    assert!(shown.starts_with("http://127.0.0.1/…"), "{shown}");
    let line = status
        .lines()
        .find(|l| l.starts_with(&shown))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains("HTTP 500"), "{line}");
    let retried = daemon.log().matches("webhook delivery failed").count();
    assert!(retried >= 2, "{}", daemon.log());
}

#[tokio::test]
async fn deliveries_queued_before_a_crash_are_sent_after_the_restart_in_order() {
    let server = FeedServer::start().await;
    let receiver = FeedServer::start().await;
    publish(&server, &[item("m1", "First", DATE)], &[]);
    receiver.respond("/all", 503, &[], Vec::new());
    receiver.respond("/defence", 503, &[], Vec::new());
    let ws = Workspace::new(&config(&server, &receiver));
    let env = [("HOOK_SECRET", SECRET)];
    let mut daemon = Daemon::start_with_env(&ws, &env);
    daemon.ready().await;
    assert!(wait_for(Duration::from_secs(60), || receiver.requests("/all") >= 1).await);
    // A second batch, queued behind the first, which keeps failing.
    publish(
        &server,
        &[item("m2", "Second", DATE), item("m1", "First", DATE)],
        &[],
    );
    let polled = stdout(&ws.tributary_with_env(&["poll", "Ministry"], &env).await);
    assert!(polled.contains("1 new"), "{polled}");
    let queued = wait_for(Duration::from_secs(30), || {
        count(
            &ws,
            "SELECT count(*) FROM webhook_deliveries WHERE webhook LIKE '%/all'",
        ) == 2
    })
    .await;
    assert!(queued, "{}", daemon.log());
    // Neither went through: only the first was ever tried.
    let tried: std::collections::HashSet<String> = receiver
        .seen("/all")
        .iter()
        .map(|s| s.headers["x-tributary-delivery"].clone())
        .collect();
    assert_eq!(tried.len(), 1);

    daemon.signal(rustix::process::Signal::KILL).await;
    daemon.exit(Duration::from_secs(10)).await;
    receiver.respond("/all", 200, &[], Vec::new());
    let before = receiver.requests("/all");
    let daemon = Daemon::start_with_env(&ws, &env);
    daemon.ready().await;
    let delivered = wait_for(Duration::from_secs(60), || {
        count(
            &ws,
            "SELECT count(*) FROM webhook_deliveries WHERE webhook LIKE '%/all'",
        ) == 0
    })
    .await;
    assert!(delivered, "{}", daemon.log());
    // After the restart: the first delivery, then the second, each once.
    let mut ids = Vec::new();
    let mut after = Vec::new();
    for request in &receiver.seen("/all")[before..] {
        let id = request.headers["x-tributary-delivery"].clone();
        assert!(!ids.contains(&id), "delivered twice: {id}");
        ids.push(id);
        after.push(delivered_titles(&request.body));
    }
    assert_eq!(
        after,
        [vec!["First".to_string()], vec!["Second".to_string()]]
    );
}

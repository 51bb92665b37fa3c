//! Tributary as a WebSub publisher, against a hub written here by the spec (WebSub, W3C
//! Recommendation, §4–§7): it verifies a subscriber's intent, takes the publisher's ping only
//! with `hub.topic`, fetches the topic and distributes it only when the publisher's response
//! names both the hub and the topic in `Link` headers, as the hubs in use do; and it drops a
//! subscription whose callback answers 410.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use hmac::{KeyInit, Mac};

/// A subscription the hub holds after verifying it.
#[derive(Clone, Debug)]
struct Subscription {
    callback: String,
    topic: String,
    secret: String,
}

/// A content distribution as a subscriber received it.
#[derive(Clone, Debug)]
struct Received {
    body: String,
    signature: String,
    links: Vec<String>,
}

/// A ping as the hub had it: its form, the status answered and why.
type Ping = (HashMap<String, String>, u16, String);

#[derive(Default)]
struct HubState {
    /// Its own URL, which a topic's `Link: rel="hub"` must name.
    url: Mutex<String>,
    subscriptions: Mutex<Vec<Subscription>>,
    pings: Mutex<Vec<Ping>>,
}

type Hub = Arc<HubState>;

async fn start(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POSTs `pairs` form-encoded to `url`: the status.
async fn post_form(url: &str, pairs: &[(&str, &str)]) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let sent = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    sent.status().as_u16()
}

/// The hub's one endpoint: `hub.mode` subscribe or publish, form-encoded.
async fn hub_endpoint(State(hub): State<Hub>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    match form.get("hub.mode").map(String::as_str) {
        Some("subscribe") => subscribe(hub, form).await,
        Some("publish") => {
            let (status, reason) = publish(&hub, &form).await;
            hub.pings
                .lock()
                .unwrap()
                .push((form, status, reason.clone()));
            (StatusCode::from_u16(status).unwrap(), reason).into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "unknown hub.mode").into_response(),
    }
}

/// §5.3: the hub verifies the intent with a GET on the callback before the subscription holds.
async fn subscribe(hub: Hub, form: HashMap<String, String>) -> Response {
    let (Some(callback), Some(topic)) = (form.get("hub.callback"), form.get("hub.topic")) else {
        return (StatusCode::BAD_REQUEST, "hub.callback and hub.topic").into_response();
    };
    let mut url = url::Url::parse(callback).unwrap();
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.topic", topic)
        .append_pair("hub.challenge", "challenge-8472")
        .append_pair("hub.lease_seconds", "3600");
    let echoed = match client().get(url).send().await {
        Ok(response) if response.status().is_success() => response.text().await.ok(),
        _ => None,
    };
    if echoed.as_deref() != Some("challenge-8472") {
        return (StatusCode::BAD_REQUEST, "the callback did not verify").into_response();
    }
    hub.subscriptions.lock().unwrap().push(Subscription {
        callback: callback.clone(),
        topic: topic.clone(),
        secret: form.get("hub.secret").cloned().unwrap_or_default(),
    });
    StatusCode::ACCEPTED.into_response()
}

/// A publisher's ping: the topic is fetched, its `Link` headers checked, and its content
/// distributed to the topic's subscribers. The status and the reason answered.
async fn publish(hub: &Hub, form: &HashMap<String, String>) -> (u16, String) {
    let Some(topic) = form.get("hub.topic") else {
        return (400, "Missing form argument: hub.topic".into());
    };
    let Ok(response) = client().get(topic).send().await else {
        return (400, format!("cannot fetch {topic}"));
    };
    let links = links_of(response.headers());
    let own = hub.url.lock().unwrap().clone();
    let names = |rel: &str, url: &str| links.iter().any(|(r, u)| r == rel && u == url);
    if !names("hub", &own) || !names("self", topic) {
        return (
            400,
            format!("The Link header should contain both 'self' and 'hub' urls: {links:?}"),
        );
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let body = response.bytes().await.unwrap_or_default();
    let subscribers: Vec<Subscription> = hub
        .subscriptions
        .lock()
        .unwrap()
        .iter()
        .filter(|s| &s.topic == topic)
        .cloned()
        .collect();
    for subscriber in subscribers {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(subscriber.secret.as_bytes()).unwrap();
        mac.update(&body);
        let signature: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let sent = client()
            .post(&subscriber.callback)
            .header("content-type", &content_type)
            .header(
                "link",
                format!("<{own}>; rel=\"hub\", <{topic}>; rel=\"self\""),
            )
            .header("x-hub-signature", format!("sha256={signature}"))
            .body(body.clone())
            .send()
            .await;
        // §7: 410 Gone ends the subscription; anything else but 2xx would be retried.
        if sent.is_ok_and(|r| r.status() == StatusCode::GONE) {
            hub.subscriptions
                .lock()
                .unwrap()
                .retain(|s| s.callback != subscriber.callback);
        }
    }
    (204, String::new())
}

/// Every `<url>; rel="…"` of a response's `Link` headers, as (rel, url).
fn links_of(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for value in headers.get_all("link") {
        for link in value.to_str().unwrap_or_default().split(',') {
            let Some((url, params)) = link.trim().split_once(';') else {
                continue;
            };
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            for param in params.split(';') {
                if let Some(rel) = param.trim().strip_prefix("rel=") {
                    links.push((rel.trim_matches('"').to_string(), url.to_string()));
                }
            }
        }
    }
    links
}

/// A subscriber: verifies what it asked for, keeps what is delivered.
async fn subscriber(received: Arc<Mutex<Vec<Received>>>) -> String {
    let router = Router::new()
        .route(
            "/callback",
            post(
                |State(received): State<Arc<Mutex<Vec<Received>>>>,
                 headers: HeaderMap,
                 body: String| async move {
                    let header = |name: &str| -> Vec<String> {
                        headers
                            .get_all(name)
                            .iter()
                            .map(|v| v.to_str().unwrap_or_default().to_string())
                            .collect()
                    };
                    received.lock().unwrap().push(Received {
                        body,
                        signature: header("x-hub-signature").concat(),
                        links: header("link"),
                    });
                    StatusCode::NO_CONTENT
                },
            )
            .get(|Query(query): Query<HashMap<String, String>>| async move {
                query.get("hub.challenge").cloned().unwrap_or_default()
            }),
        )
        .with_state(received);
    format!("http://{}/callback", start(router).await)
}

fn item(guid: &str, title: &str) -> String {
    format!(
        "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
         <link>https://pub.example/{guid}</link><pubDate>Mon, 18 Aug 2025 10:00:00 GMT</pubDate></item>"
    )
}

#[tokio::test]
async fn a_hub_that_wants_link_headers_and_hub_topic_distributes_the_merged_feed() {
    let hub = Hub::default();
    let hub_address = start(
        Router::new()
            .route("/hub", post(hub_endpoint))
            .with_state(Arc::clone(&hub)),
    )
    .await;
    let hub_url = format!("http://{hub_address}/hub");
    *hub.url.lock().unwrap() = hub_url.clone();

    let publisher = FeedServer::start().await;
    publisher.serve("/blog.xml", channel("Blog", &[item("b1", "First post")]));
    let port = free_port();
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n\
         [site]\nbase_url = \"http://127.0.0.1:{port}/\"\n[websub]\nhub = \"{hub_url}\"\n\
         [health]\npath = \"public/health.xml\"\n\
         [[sources]]\nname = \"Blog\"\nurl = \"{}\"\ninterval = \"6h\"\n",
        publisher.url("/blog.xml")
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let topic = format!("http://127.0.0.1:{port}/feed.xml");

    // What the hub checks, as any client sees it: both headers on the feeds and the health
    // feed, none on a page that is no topic.
    let health = format!("http://127.0.0.1:{port}/health.xml");
    for (path, topic) in [("feed.xml", &topic), ("health.xml", &health)] {
        let url = format!("http://127.0.0.1:{port}/{path}");
        let written = wait_for_async(Duration::from_secs(60), || async {
            let response = client().get(&url).send().await;
            response.is_ok_and(|r| r.status() == 200)
        })
        .await;
        assert!(written, "{path} was not served: {}", daemon.log());
        let response = client().get(&url).send().await.unwrap();
        let links = links_of(response.headers());
        assert!(
            links.contains(&("hub".into(), hub_url.clone())),
            "{path}: {links:?}"
        );
        assert!(
            links.contains(&("self".into(), topic.clone())),
            "{path}: {links:?}"
        );
    }

    let received = Arc::new(Mutex::new(Vec::new()));
    let callback = subscriber(Arc::clone(&received)).await;
    let asked = [
        ("hub.mode", "subscribe"),
        ("hub.topic", topic.as_str()),
        ("hub.callback", callback.as_str()),
        ("hub.secret", "reader-secret"),
    ];
    assert_eq!(post_form(&hub_url, &asked).await, 202);

    publisher.serve(
        "/blog.xml",
        channel(
            "Blog",
            &[item("b2", "Second post"), item("b1", "First post")],
        ),
    );
    let polled = ws.tributary(&["poll", "Blog"]).await;
    assert!(polled.status.success(), "{}", stderr(&polled));
    let delivered = wait_for(Duration::from_secs(60), || {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.body.contains("Second post"))
    })
    .await;
    let pings = hub.pings.lock().unwrap().clone();
    assert!(
        delivered,
        "no delivery; the hub's answers: {pings:?}\n{}",
        daemon.log()
    );

    // The ping named the topic both ways, and the hub took every ping Tributary sent.
    let ping = pings
        .iter()
        .find(|(form, ..)| form.get("hub.topic") == Some(&topic))
        .unwrap();
    assert_eq!(ping.0.get("hub.url"), Some(&topic));
    assert!(
        pings.iter().all(|(_, status, _)| *status == 204),
        "{pings:?}"
    );
    let delivery = received
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.body.contains("Second post"))
        .cloned()
        .unwrap();
    let merged = feed_rs::parser::parse(delivery.body.as_bytes()).unwrap();
    let titles: Vec<String> = merged
        .entries
        .iter()
        .filter_map(|e| e.title.clone().map(|t| t.content))
        .collect();
    assert!(titles.contains(&"Second post".to_string()), "{titles:?}");
    assert!(delivery.signature.starts_with("sha256="), "{delivery:?}");
    assert!(delivery.links.concat().contains(&topic), "{delivery:?}");

    // The hub is as strict as the ones in use: a topic served without the headers (the
    // publisher's own feed) and a ping without hub.topic are refused.
    let plain_feed = publisher.url("/blog.xml");
    for form in [
        [("hub.mode", "publish"), ("hub.topic", plain_feed.as_str())],
        [("hub.mode", "publish"), ("hub.url", topic.as_str())],
    ] {
        assert_eq!(post_form(&hub_url, &form).await, 400, "{form:?}");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn a_delivery_or_verification_to_a_callback_tributary_does_not_hold_is_gone() {
    let port = free_port();
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n\
         [site]\nbase_url = \"http://127.0.0.1:{port}/\"\n[websub]\nsubscribe = true\n"
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let delivered = client()
        .post(format!(
            "http://127.0.0.1:{port}/websub/no-such-subscription"
        ))
        .header("content-type", "application/rss+xml")
        .header("x-hub-signature", "sha256=00")
        .body(channel("Blog", &[item("b1", "First post")]))
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 410);
    let verified = client()
        .get(format!(
            "http://127.0.0.1:{port}/websub/no-such-subscription?hub.mode=subscribe\
             &hub.topic=https%3A%2F%2Fa.example%2F&hub.challenge=c&hub.lease_seconds=60"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 410);
    daemon.stop().await;
}

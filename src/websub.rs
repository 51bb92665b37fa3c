//! Subscriptions to publishers' WebSub hubs (W3C WebSub): which sources to subscribe and
//! where, asking hubs to subscribe, renew and unsubscribe, answering their verifications, and
//! checking the signature of what they deliver.
//!
//! Every decision is the pure [`plan`] over the subscriptions stored and the hubs advertised,
//! given `now`; [`maintain`] carries its steps out. A delivery's body takes the same path as a
//! poll's (see [`crate::refresh::receive_push`]).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use url::Url;

use crate::config::{Config, SourceLocation};
use crate::fetch::Fetcher;
use crate::sanitize::shown_url;
use crate::schedule::later;
use crate::store::SharedStore;

pub use crate::model::{Advertised, Asked, Subscription};

/// How long a hub has to verify a request before it counts as failed.
pub const VERIFY_WITHIN: Duration = Duration::from_secs(5 * 60);

/// How many times an unsubscription is asked before the subscription is simply forgotten.
const UNSUBSCRIBE_TRIES: u32 = 3;

/// A new subscription of `wanted`, with a fresh callback id and secret.
fn new_subscription(wanted: &Wanted) -> Subscription {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Subscription {
        callback: format!("{}{id}", wanted.callback_url),
        id,
        source_url: wanted.source_url.clone(),
        hub: wanted.hub.to_string(),
        topic: wanted.topic.clone(),
        secret: format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
        asked: None,
        asked_at: None,
        removing: false,
        verified_at: None,
        lease_until: None,
        unhealthy: None,
        retry_at: None,
        tries: 0,
        last_push_at: None,
    }
}

/// A subscription a configured source should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The source.
    pub source_url: String,
    /// Its `hub` in the config, else the one its feed advertises.
    pub hub: Url,
    /// The topic its feed advertises, else the URL it is polled at.
    pub topic: String,
    /// `[websub] callback_url`, ending in `/`.
    pub callback_url: String,
}

/// The subscriptions `config`'s sources should have, from what their feeds advertised.
pub fn wanted(config: &Config, advertised: &[Advertised]) -> Vec<Wanted> {
    let Some(subscribing) = &config.subscribing else {
        return Vec::new();
    };
    let by_url: HashMap<&str, &Advertised> = advertised
        .iter()
        .map(|a| (a.source_url.as_str(), a))
        .collect();
    let mut wanted = Vec::new();
    for source in &config.sources {
        let SourceLocation::Http(url) = &source.location else {
            continue;
        };
        let seen = by_url.get(source.url.as_str());
        let hub = source.hub.clone().or_else(|| {
            seen.and_then(|a| a.hub.as_deref())
                .and_then(|h| Url::parse(h).ok())
        });
        let Some(hub) = hub else { continue };
        let topic = seen
            .and_then(|a| a.topic.clone().or_else(|| Some(a.polled_url.clone())))
            .unwrap_or_else(|| url.to_string());
        wanted.push(Wanted {
            source_url: source.url.clone(),
            hub,
            topic,
            callback_url: subscribing.callback_url.to_string(),
        });
    }
    wanted
}

/// `wanted` without the hubs and topics a feed advertises at a private, loopback or link-local
/// address while the source itself is public (unless `[poll] allow_private_redirects`): a
/// publisher must not make Tributary POST into the network it runs in, nor have a hub fetch
/// there in its name. A hub the config names is the user's choice and kept.
async fn screened(config: &Config, wanted: Vec<Wanted>) -> Vec<Wanted> {
    if config.poll.allow_private_redirects {
        return wanted;
    }
    let mut kept = Vec::with_capacity(wanted.len());
    for w in wanted {
        let source = config.sources.iter().find(|s| s.url == w.source_url);
        let configured = source.is_some_and(|s| s.hub.as_ref() == Some(&w.hub));
        let Some(home) = source.and_then(|s| s.home()) else {
            kept.push(w);
            continue;
        };
        if crate::fetch::is_private(home).await {
            kept.push(w);
            continue;
        }
        let private_hub = !configured && crate::fetch::is_private(&w.hub).await;
        let private_topic = match Url::parse(&w.topic) {
            Ok(topic) if &topic != home => crate::fetch::is_private(&topic).await,
            _ => false,
        };
        if private_hub || private_topic {
            let what = if private_hub {
                "hub"
            } else {
                "topic (rel=self)"
            };
            tracing::warn!(
                source = %shown_url(&w.source_url),
                hub = %w.hub,
                "not subscribing: the feed's {what} is at a private address (set [poll] allow_private_redirects = true to allow it)"
            );
        } else {
            kept.push(w);
        }
    }
    kept
}

/// One thing to do about a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ask the hub to subscribe (a new subscription, a renewal, or a retry).
    Subscribe(Subscription),
    /// Ask the hub to unsubscribe.
    Unsubscribe(Subscription),
    /// The hub did not verify in time, or the lease ended: push is unhealthy; ask again.
    Unhealthy(Subscription, String),
    /// Unsubscribing failed too often: forget it.
    Forget(Subscription),
}

/// What to do now, given what is `wanted` and what is `stored`. Pure.
pub fn plan(wanted: &[Wanted], stored: &[Subscription], now: DateTime<Utc>) -> Vec<Step> {
    let mut steps = Vec::new();
    let due = |s: &Subscription| s.retry_at.is_none_or(|at| at <= now);
    for s in stored {
        let still_wanted = wanted
            .iter()
            .any(|w| w.source_url == s.source_url && w.hub.as_str() == s.hub && w.topic == s.topic);
        if s.removing {
            if due(s) {
                if s.tries >= UNSUBSCRIBE_TRIES {
                    steps.push(Step::Forget(s.clone()));
                } else {
                    steps.push(Step::Unsubscribe(s.clone()));
                }
            }
            continue;
        }
        if !still_wanted {
            steps.push(Step::Unsubscribe(s.clone()));
            continue;
        }
        if s.asked == Some(Asked::Subscribe) {
            if s.retry_at.is_some_and(|at| at <= now) {
                let reason = format!(
                    "the hub did not verify the subscription within {}",
                    humantime::format_duration(VERIFY_WITHIN)
                );
                steps.push(Step::Unhealthy(s.clone(), reason));
            }
            continue;
        }
        if s.unhealthy.is_some() || s.verified_at.is_none() {
            if due(s) {
                steps.push(Step::Subscribe(s.clone()));
            }
            continue;
        }
        if s.lease_until.is_some_and(|end| end <= now) {
            let reason = "the lease ended before it was renewed".to_string();
            steps.push(Step::Unhealthy(s.clone(), reason));
        } else if s.renew_at().is_some_and(|at| at <= now) {
            steps.push(Step::Subscribe(s.clone()));
        }
    }
    for w in wanted {
        let has = stored.iter().any(|s| {
            !s.removing
                && s.source_url == w.source_url
                && s.hub == w.hub.as_str()
                && s.topic == w.topic
        });
        if !has {
            steps.push(Step::Subscribe(new_subscription(w)));
        }
    }
    steps
}

/// When [`plan`] next has something to do for `stored`, if ever.
pub fn next_due(stored: &[Subscription]) -> Option<DateTime<Utc>> {
    stored
        .iter()
        .filter_map(|s| {
            if s.removing || s.asked.is_some() || s.unhealthy.is_some() {
                s.retry_at
            } else {
                [s.renew_at(), s.lease_until].into_iter().flatten().min()
            }
        })
        .min()
}

/// The wait before asking again after `tries` failed requests: a minute, doubling, up to an
/// hour.
pub fn retry_after(tries: u32) -> Duration {
    Duration::from_secs(60)
        .saturating_mul(1 << tries.min(6))
        .min(Duration::from_secs(3600))
}

/// Content a hub delivered for a subscription, its signature checked, for the daemon to store.
#[derive(Debug)]
pub struct Push {
    /// What the hub delivered.
    pub content: Pushed,
    /// Told whether it was stored (the hub is answered 2xx) or not (5xx: it delivers again).
    pub reply: tokio::sync::oneshot::Sender<bool>,
}

/// What a hub delivered.
#[derive(Debug)]
pub struct Pushed {
    /// The subscription it came for.
    pub subscription: Subscription,
    /// The body, within `[poll] max_body`.
    pub body: Vec<u8>,
    /// The charset its `Content-Type` named.
    pub charset: Option<String>,
}

/// What a run of [`maintain`] came to.
#[derive(Debug, Default)]
pub struct Maintained {
    /// When it is next due, if ever.
    pub next_at: Option<DateTime<Utc>>,
    /// The sources whose push is not to be trusted now (polled at their own interval).
    pub unhealthy: Vec<String>,
    /// The hub subscribed (or being subscribed) for each source.
    pub subscribed: HashMap<String, String>,
}

/// Brings the subscriptions in line with `config`: subscribes, renews, retries, unsubscribes,
/// each request bounded by `[websub] timeout`. Errors are logged and retried later.
pub async fn maintain(store: &SharedStore, fetcher: &Fetcher, config: &Config) -> Maintained {
    let read = store
        .read(|s| Ok::<_, crate::store::StoreError>((s.advertised()?, s.subscriptions()?)))
        .await;
    let (advertised, stored) = match read {
        Some(Ok(found)) => found,
        Some(Err(error)) => {
            tracing::error!(%error, "reading the WebSub subscriptions failed");
            return Maintained::default();
        }
        None => return Maintained::default(),
    };
    let wanted = screened(config, wanted(config, &advertised)).await;
    let now = Utc::now();
    for step in plan(&wanted, &stored, now) {
        carry_out(store, fetcher, config, step).await;
    }
    let stored = store
        .read(|s| s.subscriptions())
        .await
        .and_then(Result::ok)
        .unwrap_or_default();
    let now = Utc::now();
    Maintained {
        next_at: next_due(&stored),
        unhealthy: stored
            .iter()
            .filter(|s| !s.removing && !s.pushes(now))
            .map(|s| s.source_url.clone())
            .collect(),
        subscribed: stored
            .iter()
            .filter(|s| !s.removing)
            .map(|s| (s.source_url.clone(), s.hub.clone()))
            .collect(),
    }
}

async fn carry_out(store: &SharedStore, fetcher: &Fetcher, config: &Config, step: Step) {
    let now = Utc::now();
    match step {
        Step::Forget(s) => {
            tracing::warn!(hub = %s.hub, topic = %shown_url(&s.topic), "the hub never confirmed the unsubscription; forgetting it");
            let id = s.id.clone();
            save(store, move |st| st.delete_subscription(&id)).await;
        }
        Step::Unhealthy(s, reason) => {
            tracing::warn!(source = %shown_url(&s.source_url), hub = %s.hub, "WebSub push unhealthy: {reason}");
            let retry = later(now, retry_after(s.tries));
            save(store, move |st| {
                st.push_unhealthy(&s.id, &reason, retry, now)
            })
            .await;
        }
        Step::Subscribe(s) => request(store, fetcher, config, s, Asked::Subscribe).await,
        Step::Unsubscribe(s) => request(store, fetcher, config, s, Asked::Unsubscribe).await,
    }
}

/// Sends `asked` for `s` to its hub, after storing that it was asked (the hub may verify
/// before it answers). A refusal or no answer makes push unhealthy and is retried later.
async fn request(
    store: &SharedStore,
    fetcher: &Fetcher,
    config: &Config,
    mut s: Subscription,
    asked: Asked,
) {
    let now = Utc::now();
    s.asked = Some(asked);
    s.asked_at = Some(now);
    s.removing |= asked == Asked::Unsubscribe;
    if asked == Asked::Unsubscribe {
        s.tries += 1;
        s.retry_at = Some(later(now, retry_after(s.tries)));
    }
    let saved = s.clone();
    save(store, move |st| st.save_subscription(&saved)).await;
    let lease = config.subscribing.as_ref().map(|c| c.lease);
    let sent = send(fetcher, &s, asked, lease, config.publishing.hub_timeout).await;
    let label = match asked {
        Asked::Subscribe => "subscription",
        Asked::Unsubscribe => "unsubscription",
    };
    match sent {
        Ok(()) => {
            tracing::info!(source = %shown_url(&s.source_url), hub = %s.hub, topic = %shown_url(&s.topic), "WebSub {label} requested; waiting for the hub to verify it");
            if asked == Asked::Subscribe {
                let verify_by = later(now, VERIFY_WITHIN);
                save(store, move |st| {
                    st.request_accepted(&s.id, asked, verify_by)
                })
                .await;
            }
        }
        Err(error) => {
            tracing::warn!(source = %shown_url(&s.source_url), hub = %s.hub, "WebSub {label} not accepted: {error}");
            if asked == Asked::Subscribe {
                let retry = later(now, retry_after(s.tries));
                let reason = format!("the hub did not accept the subscription: {error}");
                save(store, move |st| {
                    st.push_unhealthy(&s.id, &reason, retry, now)
                })
                .await;
            }
        }
    }
}

/// POSTs the request to the hub; `Ok` on a 2xx.
async fn send(
    fetcher: &Fetcher,
    s: &Subscription,
    asked: Asked,
    lease: Option<Duration>,
    timeout: Duration,
) -> Result<(), String> {
    let form = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("hub.mode", asked.as_str())
            .append_pair("hub.topic", &s.topic)
            .append_pair("hub.callback", &s.callback);
        if asked == Asked::Subscribe {
            if let Some(lease) = lease {
                form.append_pair("hub.lease_seconds", &lease.as_secs().to_string());
            }
            form.append_pair("hub.secret", &s.secret);
        }
        form.finish()
    };
    let request = fetcher
        .client()
        .post(&s.hub)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form)
        .send();
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
        Ok(Err(error)) => Err(crate::fetch::innermost_cause(&error)),
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("HTTP {}", response.status())),
    }
}

async fn save<F>(store: &SharedStore, work: F)
where
    F: FnOnce(&mut crate::store::Store) -> Result<(), crate::store::StoreError> + Send + 'static,
{
    match store.with(work).await {
        Some(Ok(())) => {}
        Some(Err(error)) => tracing::error!(%error, "saving a WebSub subscription failed"),
        None => tracing::error!("saving a WebSub subscription crashed"),
    }
}

/// Whether `signature` (an `X-Hub-Signature` value: `sha256=<hex>`, also `sha1`, `sha384`,
/// `sha512`) is the HMAC of `body` under `secret`. Compared in constant time.
pub fn signed(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some((method, hex)) = signature.trim().split_once('=') else {
        return false;
    };
    let Some(expected) = decode_hex(hex.trim()) else {
        return false;
    };
    fn check<M: Mac + KeyInit>(secret: &str, body: &[u8], expected: &[u8]) -> bool {
        match <M as KeyInit>::new_from_slice(secret.as_bytes()) {
            Ok(mut mac) => {
                mac.update(body);
                mac.verify_slice(expected).is_ok()
            }
            Err(_) => false,
        }
    }
    match method.to_ascii_lowercase().as_str() {
        "sha1" => check::<hmac::Hmac<sha1::Sha1>>(secret, body, &expected),
        "sha256" => check::<hmac::Hmac<sha2::Sha256>>(secret, body, &expected),
        "sha384" => check::<hmac::Hmac<sha2::Sha384>>(secret, body, &expected),
        "sha512" => check::<hmac::Hmac<sha2::Sha512>>(secret, body, &expected),
        _ => false,
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn wanted(source: &str, hub: &str) -> Wanted {
        Wanted {
            source_url: source.into(),
            hub: Url::parse(hub).unwrap(),
            topic: format!("{source}/feed"),
            callback_url: "https://agg.example/websub/".into(),
        }
    }

    fn active(w: &Wanted, verified: &str, until: &str) -> Subscription {
        Subscription {
            verified_at: Some(at(verified)),
            lease_until: Some(at(until)),
            ..new_subscription(w)
        }
    }

    #[test]
    fn subscribes_renews_at_ninety_percent_and_unsubscribes_what_is_no_longer_wanted() {
        let a = wanted("https://a.example", "https://hub.example/");
        let b = wanted("https://b.example", "https://hub.example/");
        let sub_a = active(&a, "2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z");
        // Before 90 % of the lease: nothing; b is new: subscribe.
        let steps = plan(
            &[a.clone(), b.clone()],
            std::slice::from_ref(&sub_a),
            at("2026-01-09T23:00:00Z"),
        );
        assert!(matches!(&steps[..], [Step::Subscribe(s)] if s.source_url == b.source_url));
        // At 90 %: renewed, with the same id.
        let steps = plan(
            std::slice::from_ref(&a),
            std::slice::from_ref(&sub_a),
            at("2026-01-10T00:00:00Z"),
        );
        assert!(matches!(&steps[..], [Step::Subscribe(s)] if s.id == sub_a.id));
        assert_eq!(
            next_due(std::slice::from_ref(&sub_a)),
            Some(at("2026-01-10T00:00:00Z"))
        );
        // Its source gone, or its hub changed: unsubscribed (and the new hub subscribed).
        let steps = plan(
            &[],
            std::slice::from_ref(&sub_a),
            at("2026-01-02T00:00:00Z"),
        );
        assert!(matches!(&steps[..], [Step::Unsubscribe(s)] if s.id == sub_a.id));
        let moved = wanted("https://a.example", "https://other-hub.example/");
        let steps = plan(
            &[moved],
            std::slice::from_ref(&sub_a),
            at("2026-01-02T00:00:00Z"),
        );
        assert!(
            matches!(&steps[..], [Step::Unsubscribe(_), Step::Subscribe(s)] if s.hub == "https://other-hub.example/")
        );
    }

    #[test]
    fn unverified_requests_and_ended_leases_make_push_unhealthy_and_are_retried() {
        let a = wanted("https://a.example", "https://hub.example/");
        let asked = Subscription {
            asked: Some(Asked::Subscribe),
            retry_at: Some(at("2026-01-01T00:05:00Z")),
            ..new_subscription(&a)
        };
        assert!(
            plan(
                std::slice::from_ref(&a),
                std::slice::from_ref(&asked),
                at("2026-01-01T00:04:00Z")
            )
            .is_empty()
        );
        let steps = plan(
            std::slice::from_ref(&a),
            &[asked],
            at("2026-01-01T00:05:00Z"),
        );
        assert!(matches!(&steps[..], [Step::Unhealthy(_, why)] if why.contains("did not verify")));
        let ended = active(&a, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
        let steps = plan(
            std::slice::from_ref(&a),
            &[ended],
            at("2026-01-02T00:00:01Z"),
        );
        assert!(matches!(&steps[..], [Step::Unhealthy(_, why)] if why.contains("lease ended")));
        let unhealthy = Subscription {
            unhealthy: Some("x".into()),
            retry_at: Some(at("2026-01-01T01:00:00Z")),
            ..new_subscription(&a)
        };
        assert!(
            plan(
                std::slice::from_ref(&a),
                std::slice::from_ref(&unhealthy),
                at("2026-01-01T00:59:00Z")
            )
            .is_empty()
        );
        let steps = plan(
            std::slice::from_ref(&a),
            &[unhealthy],
            at("2026-01-01T01:00:00Z"),
        );
        assert!(matches!(&steps[..], [Step::Subscribe(_)]));
        let removing = Subscription {
            removing: true,
            tries: UNSUBSCRIBE_TRIES,
            ..new_subscription(&a)
        };
        assert!(matches!(
            &plan(&[], &[removing], at("2026-01-01T00:00:00Z"))[..],
            [Step::Forget(_)]
        ));
    }

    fn load_str(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, text).unwrap();
        crate::config::load(&file).unwrap()
    }

    #[test]
    fn a_configured_hub_wins_and_the_topic_falls_back_to_the_url_polled() {
        let config = load_str(
            "[serve]\nlisten = \"127.0.0.1:1\"\n[site]\nbase_url = \"https://agg.example/\"\n\
             [websub]\nsubscribe = true\n\
             [[sources]]\nurl = \"https://a.example/feed\"\nhub = \"https://mine.example/\"\n\
             [[sources]]\nurl = \"https://b.example/feed\"\n\
             [[sources]]\nurl = \"https://c.example/feed\"\n\
             [[sources]]\nurl = \"file:local.xml\"\n",
        );
        let seen = |url: &str, hub: Option<&str>, topic: Option<&str>| Advertised {
            source_url: url.into(),
            hub: hub.map(Into::into),
            topic: topic.map(Into::into),
            polled_url: format!("{url}?moved"),
        };
        let advertised = [
            seen(
                "https://a.example/feed",
                Some("https://theirs.example/"),
                None,
            ),
            seen(
                "https://b.example/feed",
                Some("https://theirs.example/"),
                Some("https://b.example/self"),
            ),
            seen("https://c.example/feed", None, None),
            seen("file:local.xml", Some("https://theirs.example/"), None),
        ];
        let found = super::wanted(&config, &advertised);
        let shown: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|w| (w.source_url.as_str(), w.hub.as_str(), w.topic.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "https://a.example/feed",
                    "https://mine.example/",
                    "https://a.example/feed?moved"
                ),
                (
                    "https://b.example/feed",
                    "https://theirs.example/",
                    "https://b.example/self"
                ),
            ]
        );
        assert_eq!(found[0].callback_url, "https://agg.example/websub/");
        let off = load_str(
            "[[sources]]\nurl = \"https://a.example/feed\"\nhub = \"https://mine.example/\"\n",
        );
        assert!(
            super::wanted(&off, &advertised).is_empty(),
            "subscribing is off"
        );
    }

    #[tokio::test]
    async fn a_public_feed_cannot_make_tributary_post_to_a_private_hub() {
        let hub = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub_url = format!("http://{}/hub", hub.local_addr().unwrap());
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = asked.clone();
        tokio::spawn(async move {
            while let Ok((_connection, _)) = hub.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tributary.toml");
        let config = |extra: &str| {
            std::fs::write(
                &file,
                format!(
                    "[poll]\ntimeout = \"2s\"\n{extra}\n[serve]\nlisten = \"127.0.0.1:1\"\n\
                     [site]\nbase_url = \"https://agg.example/\"\n[websub]\nsubscribe = true\n\
                     timeout = \"2s\"\n[[sources]]\nurl = \"https://public.example/feed\"\n"
                ),
            )
            .unwrap();
            crate::config::load(&file).unwrap()
        };
        let strict = config("");
        let mut store = crate::store::Store::open(&strict.database).unwrap();
        store.sync_sources(&strict.sources).unwrap();
        let meta = crate::model::FeedMeta {
            hub: Some(hub_url.clone()),
            ..Default::default()
        };
        let poll = crate::store::Poll {
            at: Utc::now(),
            state: Some(&crate::model::FetchState::default()),
            feed: Some((&meta, &[])),
            event: None,
            rules: &strict.items,
            shaping: &strict.shaping(),
            webhooks: &[],
        };
        store.record_poll(&strict.sources[0], &poll).unwrap();
        let store = SharedStore::new(store).unwrap();
        let fetcher = Fetcher::new(&strict.poll).unwrap();
        maintain(&store, &fetcher, &strict).await;
        let stored = store.read(|s| s.subscriptions()).await.unwrap().unwrap();
        assert!(stored.is_empty(), "{stored:?}");
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        // Allowed: asked (the hub never answers; the request times out).
        let allowed = config("allow_private_redirects = true");
        maintain(&store, &Fetcher::new(&allowed.poll).unwrap(), &allowed).await;
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn signatures_are_checked_with_each_method_and_nothing_else_passes() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let body = b"The quick brown fox jumps over the lazy dog";
        let sha256 = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let sha1 = "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9";
        assert!(signed("key", body, sha256));
        assert!(signed("key", body, sha1));
        assert!(signed(
            "key",
            body,
            &sha256.to_uppercase().replace("SHA256", "sha256")
        ));
        assert!(!signed("other", body, sha256));
        assert!(!signed("key", b"tampered", sha256));
        for bad in ["", "sha256", "sha256=zz", "md5=abcd", "sha256=f7bc"] {
            assert!(!signed("key", body, bad), "{bad}");
        }
    }
}

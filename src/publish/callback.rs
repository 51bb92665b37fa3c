//! The WebSub callback, `/websub/<id>` on the built-in server: hubs verify the requests
//! Tributary made (GET, the challenge echoed only for a request it made) and deliver content
//! (POST, taken only with a valid signature for that subscription's secret).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::connections::BodyError;
use crate::sanitize::shown_url;
use crate::store::{SharedStore, Verified};
use crate::websub::{Asked, Push, Pushed, signed};

/// Where verified deliveries go: the daemon, which stores them as it stores polls.
#[derive(Clone, Debug)]
pub struct Inbox {
    /// The database, for the subscriptions.
    pub store: SharedStore,
    /// The daemon's queue of pushes.
    pub pushes: mpsc::Sender<Push>,
    /// `[poll] max_body`: the largest delivery read.
    pub max_body: u64,
    /// Told when a hub verified a request: the daemon plans the subscriptions again (a lease
    /// shorter than asked is renewed sooner).
    pub verified: std::sync::Arc<tokio::sync::Notify>,
    /// `[serve] header_timeout`: the time a delivery's body has before it must keep a pace.
    pub body_grace: Duration,
    /// The warnings about refused deliveries, a line per source a minute at most.
    pub warnings: Warnings,
}

/// Warnings that a storm of bad requests could repeat without end: the first for a source in
/// a minute is logged, with how many more came in the minute before; the rest are counted.
#[derive(Clone, Debug, Default)]
pub struct Warnings {
    seen: std::sync::Arc<std::sync::Mutex<HashMap<String, (Instant, u64)>>>,
}

impl Warnings {
    const WINDOW: Duration = Duration::from_secs(60);

    /// Logs `message` about `source` (a URL, shown without credentials), unless one was logged
    /// for it within the last minute.
    pub fn warn(&self, source: &str, message: &str) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get_mut(source) {
            Some((since, more)) if now.duration_since(*since) < Self::WINDOW => *more += 1,
            Some((since, more)) => {
                let also = std::mem::take(more);
                *since = now;
                tracing::warn!(source = %shown_url(source), also_in_the_last_minute = also, "{message}");
            }
            None => {
                // A flood of made-up sources must not grow this without bound.
                if seen.len() >= 10_000 {
                    seen.retain(|_, (since, _)| now.duration_since(*since) < Self::WINDOW);
                }
                seen.insert(source.to_string(), (now, 0));
                tracing::warn!(source = %shown_url(source), "{message}");
            }
        }
    }
}

/// Answers a request to `/websub/<id>`.
pub(super) async fn answer(
    inbox: Inbox,
    id: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    match method {
        Method::GET => verify(&inbox, id, uri).await,
        Method::POST => deliver(&inbox, id, headers, body).await,
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST")],
        )
            .into_response(),
    }
}

/// A hub's verification of intent: the challenge echoed if Tributary asked for this mode of
/// this topic on this callback; 404 otherwise, and 410 Gone when it holds no such callback. A denial marks push unhealthy: the source is
/// polled at its own interval and subscribed again.
async fn verify(inbox: &Inbox, id: &str, uri: &Uri) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (mode, topic) = (param("hub.mode"), param("hub.topic").unwrap_or_default());
    if mode.as_deref() == Some("denied") {
        let reason = param("hub.reason").unwrap_or_else(|| "no reason given".into());
        let id = id.to_string();
        let found = inbox
            .store
            .read({
                let id = id.clone();
                move |s| s.subscription(&id)
            })
            .await
            .and_then(Result::ok)
            .flatten();
        if let Some(s) = found.filter(|s| s.topic == topic) {
            let message = format!("the WebSub hub {} denied the subscription: {reason}", s.hub);
            inbox.warnings.warn(&s.source_url, &message);
            // A denial carries no signature, so anyone may send one: it costs the source no
            // more than push does when it fails. The source goes back to its own interval and
            // is subscribed again at once; a denial of a subscription already unhealthy
            // waits for its turn, so that a flood of them cannot make a flood of requests.
            let why = format!("the hub denied the subscription: {reason}");
            let now = Utc::now();
            let retry = match s.unhealthy {
                None => now,
                Some(_) => crate::schedule::later(now, crate::websub::retry_after(s.tries)),
            };
            let _ = inbox
                .store
                .with(move |st| st.push_unhealthy(&id, &why, retry, now))
                .await;
            inbox.verified.notify_one();
        }
        return StatusCode::OK.into_response();
    }
    let (Some(mode), Some(challenge)) = (
        mode.as_deref().and_then(Asked::parse),
        param("hub.challenge"),
    ) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lease = param("hub.lease_seconds").and_then(|l| l.trim().parse::<u64>().ok());
    let (id, topic_asked) = (id.to_string(), topic.clone());
    let verified = inbox
        .store
        .with(move |s| s.verify(&id, mode, &topic_asked, lease, Utc::now()))
        .await;
    match verified {
        Some(Ok(Verified::Confirmed(source))) => {
            tracing::info!(%source, %topic, mode = mode.as_str(), "WebSub hub verified the request");
            inbox.verified.notify_one();
            ([(header::CONTENT_TYPE, "text/plain")], challenge).into_response()
        }
        Some(Ok(Verified::Unknown)) => StatusCode::GONE.into_response(),
        Some(Ok(Verified::Refused)) => {
            let message = format!(
                "refused a WebSub verification ({}) Tributary did not ask for",
                mode.as_str()
            );
            inbox.warnings.warn(&topic, &message);
            StatusCode::NOT_FOUND.into_response()
        }
        Some(Err(error)) => {
            tracing::error!(%error, "a WebSub verification could not be checked");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A content distribution: read within the body cap, its signature checked, then handed to
/// the daemon and answered once stored. Unsigned or wrongly signed: acknowledged (as the spec
/// asks, so the hub does not retry a forgery) and discarded.
async fn deliver(inbox: &Inbox, id: &str, headers: &HeaderMap, body: Body) -> Response {
    let key = id.to_string();
    let found = inbox.store.read(move |s| s.subscription(&key)).await;
    let subscription = match found {
        Some(Ok(Some(s))) if !s.removing => s,
        // Gone, not missing: a hub may then drop the subscription (WebSub §7) instead of
        // retrying it until its lease ends.
        Some(Ok(_)) => return StatusCode::GONE.into_response(),
        _ => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let body = match super::connections::read_body(body, inbox.max_body, inbox.body_grace).await {
        Ok(body) => body,
        Err(error) => {
            let status = match error {
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::TooSlow => StatusCode::REQUEST_TIMEOUT,
                BodyError::Broken(_) => StatusCode::BAD_REQUEST,
            };
            inbox.warnings.warn(
                &subscription.source_url,
                &format!("WebSub delivery refused: {error}"),
            );
            return status.into_response();
        }
    };
    let signature = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !signed(&subscription.secret, &body, signature) {
        let (why, result) = if signature.is_empty() {
            ("unsigned", "unsigned")
        } else {
            ("wrongly signed", "wrongly_signed")
        };
        let message = format!(
            "WebSub delivery discarded: {why} (from {})",
            subscription.hub
        );
        inbox.warnings.warn(&subscription.source_url, &message);
        crate::metrics::global().websub_delivery(result);
        return StatusCode::ACCEPTED.into_response();
    }
    let charset = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::fetch::charset);
    let (reply, stored) = oneshot::channel();
    let push = Push {
        content: Pushed {
            subscription,
            body: body.into(),
            charset,
        },
        reply,
    };
    if inbox.pushes.send(push).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match stored.await {
        Ok(true) => {
            crate::metrics::global().websub_delivery("stored");
            StatusCode::NO_CONTENT.into_response()
        }
        _ => {
            crate::metrics::global().websub_delivery("failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

//! The WebSub callback, `/websub/<id>` on the built-in server: hubs verify the requests
//! Tributary made (GET, the challenge echoed only for a request it made) and deliver content
//! (POST, taken only with a valid signature for that subscription's secret).

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

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
/// this topic on this callback; 404 otherwise. A denial marks push unhealthy.
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
            tracing::warn!(source = %shown_url(&s.source_url), hub = %s.hub, %reason, "the WebSub hub denied the subscription");
            let why = format!("the hub denied the subscription: {reason}");
            let now = Utc::now();
            let retry = now + chrono::Duration::hours(1);
            let _ = inbox
                .store
                .with(move |st| st.push_unhealthy(&id, &why, retry, now))
                .await;
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
        Some(Ok(Verified::Refused)) => {
            tracing::warn!(%topic, mode = mode.as_str(), "refused a WebSub verification Tributary did not ask for");
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
        Some(Ok(_)) => return StatusCode::NOT_FOUND.into_response(),
        _ => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let limit = usize::try_from(inbox.max_body).unwrap_or(usize::MAX);
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        tracing::warn!(source = %shown_url(&subscription.source_url), hub = %subscription.hub, "WebSub delivery refused: larger than [poll] max_body");
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
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
        tracing::warn!(source = %shown_url(&subscription.source_url), hub = %subscription.hub, "WebSub delivery discarded: {why}");
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

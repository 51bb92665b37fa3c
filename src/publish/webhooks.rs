//! `[[webhooks]]`: new items POSTed as they land, signed, from a queue in the database.
//!
//! Items are queued for each webhook in the transaction that stores them (see the store's
//! ingest), so a crash or restart loses none. A run packs what is queued into deliveries
//! (JSON bodies made once) and sends each webhook's deliveries one at a time, in order: a
//! delivery that fails holds the ones after it and is tried again within 2 s, then after
//! twice as long each time, up to 10 minutes, for a day; then it is given up (and logged).
//! Runs go beside the daemon's loop: they never hold up a poll.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

use crate::config::WebhookConfig;
use crate::fetch::Fetcher;
use crate::schedule::later;
use crate::store::{Delivery, SharedStore, StoreError};

/// The most items in one delivery.
const ITEMS_PER_DELIVERY: usize = 100;
/// The longest a delivery is tried for.
const GIVE_UP_AFTER: Duration = Duration::from_secs(86_400);
/// The longest wait between two tries.
const MAX_RETRY: Duration = Duration::from_secs(600);
/// The longest a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The wait after the `tries`-th failure: 1 s, doubling, up to 10 minutes.
pub fn retry_after(tries: u32) -> Duration {
    Duration::from_secs(1)
        .saturating_mul(1 << tries.saturating_sub(1).min(20))
        .min(MAX_RETRY)
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let hex = match <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            crate::identity::hex(&mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this is not reached.
        Err(_) => String::new(),
    };
    format!("sha256={hex}")
}

/// What a run came to: when the next is due, if anything waits.
#[derive(Debug, Default)]
pub struct DeliveryRun {
    /// When a delivery is next to be tried.
    pub next_at: Option<DateTime<Utc>>,
}

/// Packs queued items into deliveries and sends what is due, every webhook at once, each in
/// order. Errors are logged; the queue keeps what was not delivered.
pub async fn deliver(
    store: &SharedStore,
    fetcher: &Fetcher,
    webhooks: &[WebhookConfig],
) -> DeliveryRun {
    let kept: Vec<String> = webhooks.iter().map(|w| w.url.to_string()).collect();
    match store.with(move |s| s.forget_webhooks_but(&kept)).await {
        Some(Ok(0)) | None => {}
        Some(Ok(dropped)) => {
            tracing::warn!(
                dropped,
                "deliveries of webhooks no longer configured were dropped"
            )
        }
        Some(Err(error)) => tracing::error!(%error, "dropping old webhooks' queues failed"),
    }
    let mut runs = tokio::task::JoinSet::new();
    for webhook in webhooks {
        let (store, fetcher, webhook) = (store.clone(), fetcher.clone(), webhook.clone());
        runs.spawn(async move { deliver_to(&store, &fetcher, &webhook).await });
    }
    let mut next_at = None;
    while let Some(next) = runs.join_next().await {
        next_at = [next_at, next.ok().flatten()].into_iter().flatten().min();
    }
    DeliveryRun { next_at }
}

/// One webhook: pack, then send in order until the queue is empty, a delivery fails, or the
/// next is not due; returns when it is next due.
async fn deliver_to(
    store: &SharedStore,
    fetcher: &Fetcher,
    webhook: &WebhookConfig,
) -> Option<DateTime<Utc>> {
    let url = webhook.url.to_string();
    if let Err(error) = pack(store, &url).await {
        tracing::error!(webhook = %crate::sanitize::shown_webhook(&url), %error, "queuing a webhook delivery failed");
    }
    loop {
        let key = url.clone();
        let next = match store.read(move |s| s.next_delivery(&key)).await {
            Some(Ok(next)) => next?,
            Some(Err(error)) => {
                tracing::error!(webhook = %crate::sanitize::shown_webhook(&url), %error, "reading the webhook's queue failed");
                return None;
            }
            None => return None,
        };
        let now = Utc::now();
        if next.next_try_at > now {
            return Some(next.next_try_at);
        }
        let sent = send(fetcher, webhook, &next).await;
        let now = Utc::now();
        let (key, row) = (url.clone(), next.row);
        let saved = match sent {
            Ok(()) => {
                crate::metrics::global().webhook_delivery("ok");
                tracing::info!(webhook = %crate::sanitize::shown_webhook(&url), delivery = %next.delivery_id, tries = next.tries + 1, "webhook delivered");
                store
                    .with(move |s| s.delivery_done(&key, row, None, now))
                    .await
            }
            Err(error) if tried_long_enough(&next, now) => {
                crate::metrics::global().webhook_delivery("given_up");
                let error = format!(
                    "delivery {} given up after a day: {error}",
                    next.delivery_id
                );
                tracing::error!(webhook = %crate::sanitize::shown_webhook(&url), "{error}");
                store
                    .with(move |s| s.delivery_done(&key, row, Some(&error), now))
                    .await
            }
            Err(error) => {
                crate::metrics::global().webhook_delivery("failed");
                let wait = retry_after(next.tries + 1);
                let at = later(now, wait);
                tracing::warn!(webhook = %crate::sanitize::shown_webhook(&url), delivery = %next.delivery_id, %error, retry_in = %humantime::format_duration(wait), "webhook delivery failed");
                let saved = store
                    .with(move |s| s.delivery_failed(&key, row, &error, at, now))
                    .await;
                log_saved(saved, &url);
                return Some(at);
            }
        };
        log_saved(saved, &url);
    }
}

fn tried_long_enough(delivery: &Delivery, now: DateTime<Utc>) -> bool {
    (now - delivery.created_at).to_std().unwrap_or_default() >= GIVE_UP_AFTER
}

fn log_saved(saved: Option<Result<(), StoreError>>, url: &str) {
    match saved {
        Some(Ok(())) => {}
        Some(Err(error)) => {
            tracing::error!(webhook = %crate::sanitize::shown_webhook(url), %error, "saving a webhook delivery failed")
        }
        None => {
            tracing::error!(webhook = %crate::sanitize::shown_webhook(url), "saving a webhook delivery crashed")
        }
    }
}

/// Makes deliveries of what is queued for `url`, `ITEMS_PER_DELIVERY` items each.
async fn pack(store: &SharedStore, url: &str) -> Result<(), StoreError> {
    loop {
        let key = url.to_string();
        let packed = store
            .with(move |s| {
                let (ids, items) = s.webhook_items(&key, ITEMS_PER_DELIVERY)?;
                if ids.is_empty() {
                    return Ok(false);
                }
                let delivery_id = uuid::Uuid::new_v4().to_string();
                let now = Utc::now();
                let body = crate::render::json::delivery(&delivery_id, now, &items)?;
                s.queue_delivery(&key, &delivery_id, &body, &ids, now)?;
                Ok(true)
            })
            .await;
        match packed {
            Some(Ok(true)) => continue,
            Some(Ok(false)) | None => return Ok(()),
            Some(Err(error)) => return Err(error),
        }
    }
}

/// POSTs one delivery; `Ok` on a 2xx.
async fn send(
    fetcher: &Fetcher,
    webhook: &WebhookConfig,
    delivery: &Delivery,
) -> Result<(), String> {
    let request = fetcher
        .client()
        .post(webhook.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            "X-Tributary-Signature",
            signature(webhook.secret.expose(), &delivery.body),
        )
        .header("X-Tributary-Delivery", &delivery.delivery_id)
        .header(
            "X-Tributary-Timestamp",
            delivery.created_at.timestamp().to_string(),
        )
        .body(delivery.body.clone())
        .send();
    match tokio::time::timeout(TIMEOUT, request).await {
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(TIMEOUT)
        )),
        Ok(Err(error)) => Err(crate::fetch::innermost_cause(&error)),
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("HTTP {}", response.status())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_within_two_seconds_and_double_up_to_ten_minutes() {
        let waits: Vec<u64> = (1..=12).map(|t| retry_after(t).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}

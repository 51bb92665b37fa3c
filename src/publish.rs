//! Publishing the outputs: the optional built-in HTTP server for their folder and the site
//! (see [`serve`]), and WebSub hub pings when a feed changes.

mod cache;
mod callback;
mod connections;
mod search;
mod serve;
pub mod webhooks;

use std::time::Duration;

use axum::http::header;
use url::Url;

use crate::fetch::Fetcher;

pub use callback::{Inbox, Warnings};
pub use serve::{Served, serve};

/// Tells the WebSub hub that these feeds changed, giving up after `timeout` in all: a hub that
/// accepts the connection and never answers costs no more. A hub that fails is logged; the
/// feeds are written either way.
pub async fn announce(fetcher: Fetcher, hub: Url, feeds: Vec<Url>, timeout: Duration) {
    if tokio::time::timeout(timeout, ping_hub(&fetcher, &hub, &feeds))
        .await
        .is_err()
    {
        tracing::warn!(
            hub = %hub,
            timeout = %humantime::format_duration(timeout),
            "WebSub hub did not answer in time; subscribers hear of the change at the next one"
        );
    }
}

async fn ping_hub(fetcher: &Fetcher, hub: &Url, feeds: &[Url]) {
    for feed in feeds {
        // `hub.topic` is what WebSub names it; `hub.url`, PubSubHubbub 0.4's name, is what
        // older hubs read.
        let topic = feed.as_str();
        let body = form(&[
            ("hub.mode", "publish"),
            ("hub.topic", topic),
            ("hub.url", topic),
        ]);
        let sent = fetcher
            .client()
            .post(hub.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                crate::metrics::global().websub_ping("ok");
                tracing::info!(hub = %hub, feed = %feed, "WebSub hub pinged")
            }
            Ok(response) => {
                crate::metrics::global().websub_ping("refused");
                tracing::warn!(hub = %hub, feed = %feed, status = %response.status(), "WebSub hub refused the ping")
            }
            Err(error) => {
                crate::metrics::global().websub_ping("failed");
                tracing::warn!(hub = %hub, feed = %feed, %error, "WebSub hub not reached")
            }
        }
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

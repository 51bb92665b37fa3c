//! Publishing the outputs: the optional built-in HTTP server for their folder and the site
//! (see [`serve`]), and WebSub hub pings when a feed changes.

mod callback;
mod connections;
mod serve;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::header;
use url::Url;

use crate::config::{Config, OutputFormat};
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
        let body = form(&[("hub.mode", "publish"), ("hub.url", feed.as_str())]);
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

/// The files Tributary writes, each with the media type it is served with: the outputs, their
/// HTML pages, the OPML file and the health feed.
pub fn published_files(config: &Config) -> Vec<(PathBuf, &'static str)> {
    const HTML: &str = "text/html; charset=utf-8";
    let mut files = Vec::new();
    for output in &config.outputs {
        files.push((output.path.clone(), output.format.content_type()));
        files.extend(output.html.iter().map(|page| (page.clone(), HTML)));
    }
    files.extend(
        config
            .publishing
            .opml
            .iter()
            .map(|opml| (opml.clone(), "text/x-opml; charset=utf-8")),
    );
    files.extend(
        config
            .health
            .iter()
            .map(|health| (health.clone(), OutputFormat::Atom.content_type())),
    );
    files
}

/// The published folder `file` lies in, if any: the served root, or a folder outputs are
/// written to (which the web server in front of Tributary may publish whole).
pub fn published_folder_holding(config: &Config, file: &Path) -> Option<PathBuf> {
    let served = config
        .publishing
        .listen
        .is_some()
        .then(|| config.publishing.root.clone());
    let written = published_files(config)
        .into_iter()
        .filter_map(|(path, _)| path.parent().map(Path::to_path_buf))
        .chain(config.publishing.site.iter().map(|s| s.pages.clone()));
    served
        .into_iter()
        .chain(written)
        .find(|folder| file.starts_with(folder))
}

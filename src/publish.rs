//! Publishing the outputs: the optional built-in HTTP server for their folder, and WebSub hub
//! pings when a feed changes.

use std::path::PathBuf;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

use crate::config::Config;
use crate::fetch::Fetcher;

/// Tells the WebSub hub that these feeds changed, so it pushes them to their subscribers. A hub
/// that fails is logged; the feeds are written either way.
pub async fn ping_hub(fetcher: &Fetcher, hub: &Url, feeds: &[&Url]) {
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
                tracing::info!(hub = %hub, feed = %feed, "WebSub hub pinged")
            }
            Ok(response) => {
                tracing::warn!(hub = %hub, feed = %feed, status = %response.status(), "WebSub hub refused the ping")
            }
            Err(error) => {
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

/// Serves `[serve] root` at `[serve] listen` until the process ends: files only from inside
/// that folder, with their feed media types, `Last-Modified`/`ETag` and 304s, and gzip.
pub async fn serve(config: &Config) -> std::io::Result<()> {
    let Some(listen) = config.publishing.listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = router(config);
    let address = listener.local_addr().unwrap_or(listen);
    let root = config.publishing.root.display();
    tracing::info!(%address, %root, "serving the outputs");
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the built-in server stopped");
        }
    });
    Ok(())
}

/// The router: the output folder, each output file with its format's media type.
pub fn router(config: &Config) -> Router {
    let root: PathBuf = config.publishing.root.clone();
    let mut app = Router::new();
    for output in &config.outputs {
        let Ok(relative) = output.path.strip_prefix(&root) else {
            continue;
        };
        let route = format!("/{}", relative.to_string_lossy());
        let file = tower_http::services::ServeFile::new(&output.path);
        app = app.route_service(
            &route,
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(output.format.content_type()),
                ))
                .service(file),
        );
    }
    app.fallback_service(ServeDir::new(root))
        .layer(CompressionLayer::new())
}

//! Stored items → an output's readable page: the newest items grouped by day, each with its
//! publisher, linking the original. No JavaScript. Rendered with the site's `river.html`
//! (built in, or the user's), autoescaped.

use minijinja::{Value, context};

use super::FeedInfo;
use super::site::{Entry, FeedLink, PageInfo, days};
use super::templates::Templates;
use crate::model::StoredItem;
use crate::sanitize::web_url;

/// Renders `items` (newest first) as the page of the feed `info` describes, linked `feed_href`.
pub fn render(
    templates: &Templates,
    info: &FeedInfo<'_>,
    feed_href: &str,
    media_type: &'static str,
    items: &[StoredItem],
) -> Result<Vec<u8>, String> {
    let entries: Vec<Entry> = items
        .iter()
        .map(|stored| {
            // Only links a browser can follow safely.
            let safe = |link: Option<&String>| link.filter(|l| web_url(l).is_some()).cloned();
            Entry::new(
                stored,
                safe(stored.item.link.as_ref()).unwrap_or_default(),
                safe(stored.publisher.site.as_ref()),
            )
        })
        .collect();
    let page = PageInfo {
        feed: Some(FeedLink {
            href: feed_href.to_string(),
            media_type,
            title: info.title.to_string(),
        }),
        ..PageInfo::standalone(info.title)
    };
    let rendered = templates.environment().and_then(|env| {
        env.get_template("river.html")?.render(context! {
            page,
            days => days(&entries),
            pagination => Value::from(()),
        })
    });
    rendered
        .map(String::into_bytes)
        .map_err(|e| templates.describe(&e))
}

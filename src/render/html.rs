//! Stored items → a readable HTML page: the newest items grouped by day, each with its
//! publisher, linking the original. No JavaScript. Rendered with minijinja from
//! `templates/river.html`, autoescaped.

use chrono::{DateTime, Utc};
use minijinja::{Environment, context};
use serde::Serialize;

use super::{FeedInfo, entry_updated};
use crate::model::StoredItem;
use crate::sanitize::{html_to_text, web_url};

const TEMPLATE: &str = include_str!("../../templates/river.html");

/// How much of an item's text the page shows.
const EXCERPT_CHARS: usize = 280;

#[derive(Serialize)]
struct Day {
    label: String,
    items: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    title: String,
    link: Option<String>,
    publisher: String,
    site: Option<String>,
    author: Option<String>,
    datetime: String,
    time: String,
    excerpt: Option<String>,
}

/// Renders `items` (newest first) as the page of the feed `info` describes.
pub fn render(
    info: &FeedInfo<'_>,
    feed_href: &str,
    feed_type: &str,
    items: &[StoredItem],
) -> Result<Vec<u8>, minijinja::Error> {
    let mut days: Vec<Day> = Vec::new();
    for stored in items {
        let when: DateTime<Utc> = stored
            .item
            .published
            .unwrap_or_else(|| entry_updated(stored));
        let label = when.format("%A %-d %B %Y").to_string();
        if days.last().is_none_or(|d| d.label != label) {
            days.push(Day {
                label: label.clone(),
                items: Vec::new(),
            });
        }
        let item = &stored.item;
        let text = item.summary.as_ref().or(item.content.as_ref()).map(|t| {
            if t.is_html {
                html_to_text(&t.body)
            } else {
                t.body.clone()
            }
        });
        let excerpt = text.filter(|t| !t.is_empty()).map(|t| {
            if t.chars().count() > EXCERPT_CHARS {
                let cut: String = t.chars().take(EXCERPT_CHARS).collect();
                format!("{}…", cut.trim_end())
            } else {
                t
            }
        });
        // A feed that names its publisher as every item's author says nothing new.
        let publisher = &stored.publisher.name;
        let authors: Vec<&str> = item
            .authors
            .iter()
            .map(|a| a.name.as_str())
            .filter(|name| !name.eq_ignore_ascii_case(publisher))
            .collect();
        if let Some(day) = days.last_mut() {
            day.items.push(Entry {
                title: item.title.clone().unwrap_or_else(|| "(untitled)".into()),
                // Only links a browser can follow safely.
                link: item.link.clone().filter(|l| web_url(l).is_some()),
                publisher: stored.publisher.name.clone(),
                site: stored
                    .publisher
                    .site
                    .clone()
                    .filter(|l| web_url(l).is_some()),
                author: (!authors.is_empty()).then(|| authors.join(", ")),
                datetime: super::xml::rfc3339(when),
                time: when.format("%H:%M UTC").to_string(),
                excerpt,
            });
        }
    }
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("river.html", TEMPLATE)?;
    let page = env.get_template("river.html")?.render(context! {
        title => info.title,
        feed_url => feed_href,
        feed_type => feed_type,
        days => minijinja::Value::from_serialize(&days),
    })?;
    Ok(page.into_bytes())
}

//! What a feed says about how often to poll it (`sy:updatePeriod`, `skipHours`, `skipDays`)
//! and where to hear of its changes instead (its WebSub hub and topic).

use std::time::Duration;

use quick_xml::events::Event;

use crate::model::FeedHints;

/// The WebSub links a feed advertises: `rel="hub"` and `rel="self"`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct WebSubLinks {
    pub(super) hub: Option<String>,
    pub(super) topic: Option<String>,
}

/// Reads the polling hints RSS feeds put in their channel: `sy:updatePeriod` and
/// `sy:updateFrequency`, `skipHours` and `skipDays` (feed-rs reads `<ttl>` but not these), and
/// the channel's or feed's `<link rel="hub">` and `<link rel="self">` (`atom:link` in RSS).
/// Stops at the first item: these live in the channel.
pub(super) fn scan_hints(text: &str) -> (FeedHints, WebSubLinks) {
    let mut hints = FeedHints::default();
    let mut links = WebSubLinks::default();
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return (hints, json_feed_links(trimmed));
    }
    if !trimmed.starts_with('<') {
        return (hints, links);
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut period, mut frequency) = (None::<u64>, 1u64);
    let mut current = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().into_inner().to_string();
                if name == "item" || name == "entry" {
                    break;
                }
                if name == "link" {
                    websub_link(&e, &mut links);
                }
                current = name;
            }
            Ok(Event::Empty(e)) if e.local_name().into_inner() == "link" => {
                websub_link(&e, &mut links);
            }
            Ok(Event::Text(t)) => {
                let value = t.xml10_content().trim().to_ascii_lowercase();
                match current.as_str() {
                    "updatePeriod" => {
                        period = match value.as_str() {
                            "hourly" => Some(3600),
                            "daily" => Some(86_400),
                            "weekly" => Some(7 * 86_400),
                            "monthly" => Some(30 * 86_400),
                            "yearly" => Some(365 * 86_400),
                            _ => period,
                        }
                    }
                    "updateFrequency" => {
                        frequency = value.parse().ok().filter(|f| *f > 0).unwrap_or(1)
                    }
                    "hour" => hints
                        .skip_hours
                        .extend(value.parse::<u32>().ok().filter(|h| *h < 24)),
                    "day" => hints.skip_days.extend(weekday(&value)),
                    _ => {}
                }
            }
            Ok(Event::End(_)) => current.clear(),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    hints.min_interval = period.map(|p| Duration::from_secs(p / frequency));
    (hints, links)
}

/// Notes a `<link>`'s `href` as the hub or the topic when its `rel` says so; the first of
/// each stands.
fn websub_link(element: &quick_xml::events::BytesStart<'_>, links: &mut WebSubLinks) {
    let attribute = |name: &str| {
        element
            .attributes()
            .flatten()
            .find(|a| a.key.local_name().into_inner() == name)
            .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
            .map(|v| v.trim().to_string())
    };
    let (Some(rel), Some(href)) = (attribute("rel"), attribute("href")) else {
        return;
    };
    if href.is_empty() {
        return;
    }
    for rel in rel.split_ascii_whitespace() {
        let slot = match rel.to_ascii_lowercase().as_str() {
            "hub" => &mut links.hub,
            "self" => &mut links.topic,
            _ => continue,
        };
        slot.get_or_insert_with(|| href.clone());
    }
}

/// A JSON Feed's first WebSub hub (`hubs`) and its `feed_url`.
fn json_feed_links(text: &str) -> WebSubLinks {
    #[derive(serde::Deserialize)]
    struct Feed {
        #[serde(default)]
        hubs: Vec<Hub>,
        feed_url: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Hub {
        #[serde(rename = "type", default)]
        kind: String,
        url: Option<String>,
    }
    let Ok(feed) = serde_json::from_str::<Feed>(text) else {
        return WebSubLinks::default();
    };
    WebSubLinks {
        hub: feed
            .hubs
            .into_iter()
            .filter(|h| h.kind.is_empty() || h.kind.eq_ignore_ascii_case("websub"))
            .find_map(|h| h.url),
        topic: feed.feed_url,
    }
}

fn weekday(name: &str) -> Option<u32> {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .position(|d| *d == name)
    .map(|i| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_and_self_links_are_found_in_atom_rss_and_json_feed() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
            <link rel="alternate" href="https://pub.example/"/>
            <link rel="hub" href="https://hub.example/" />
            <link rel="self" href="https://pub.example/feed.xml"/>
            <entry><link rel="hub" href="https://wrong.example/"/></entry></feed>"#;
        let rss = r#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
            <atom:link rel="self hub" href="https://both.example/x" /></channel></rss>"#;
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","feed_url":"https://pub.example/f.json",
            "hubs":[{"type":"rssCloud","url":"https://cloud.example/"},{"type":"WebSub","url":"https://hub.example/"}]}"#;
        let found = |text: &str| scan_hints(text).1;
        assert_eq!(
            found(atom),
            WebSubLinks {
                hub: Some("https://hub.example/".into()),
                topic: Some("https://pub.example/feed.xml".into())
            }
        );
        assert_eq!(
            found(rss),
            WebSubLinks {
                hub: Some("https://both.example/x".into()),
                topic: Some("https://both.example/x".into())
            }
        );
        assert_eq!(
            found(json),
            WebSubLinks {
                hub: Some("https://hub.example/".into()),
                topic: Some("https://pub.example/f.json".into())
            }
        );
        assert_eq!(
            found("<rss><channel></channel></rss>"),
            WebSubLinks::default()
        );
    }
}

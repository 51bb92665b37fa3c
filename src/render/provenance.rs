//! The provenance block: who published an item, written at the end of its content for the
//! readers (newsboat among them) that never show `atom:source`. Built from stored fields at
//! render time, so an output without `provenance` carries the plain content.

use crate::model::{StoredItem, Text};
use crate::sanitize::web_url;

/// `stored` with the provenance block at the end of its content (its summary when it has no
/// content), as HTML: "Channel website" (the publisher's name linking to its site), "Original
/// article link", "Also via" the other sources that carried it, and "Also reported by" the
/// other publishers of its story, each linked to its version.
pub fn appended(stored: &StoredItem) -> StoredItem {
    let block = block(stored);
    let mut stored = stored.clone();
    let item = &mut stored.item;
    let slot = match item.content {
        Some(_) => &mut item.content,
        None => &mut item.summary,
    };
    match slot {
        Some(text) => {
            if !text.is_html {
                text.body = format!("<p>{}</p>", escape(&text.body));
                text.is_html = true;
            }
            text.body.push_str(&block);
        }
        None => {
            *slot = Some(Text {
                body: block,
                is_html: true,
            })
        }
    }
    stored
}

fn block(stored: &StoredItem) -> String {
    let publisher = &stored.publisher;
    let name = escape(&publisher.name);
    let channel = match publisher.site.as_deref().and_then(web_url) {
        Some(site) => format!("<a href=\"{}\">{name}</a>", escape(site)),
        None => name,
    };
    let mut lines = vec![format!("Channel website: {channel}")];
    if let Some(link) = stored.item.link.as_deref().and_then(web_url) {
        let link = escape(link);
        lines.push(format!(
            "Original article link: <a href=\"{link}\">{link}</a>"
        ));
    }
    if !stored.also_via.is_empty() {
        let names: Vec<String> = stored.also_via.iter().map(|n| escape(n)).collect();
        lines.push(format!("Also via {}", names.join(", ")));
    }
    let reported: Vec<String> = stored
        .also_reported()
        .map(|v| {
            let name = escape(&v.publisher);
            match v.link.as_deref().and_then(web_url) {
                Some(link) => format!("<a href=\"{}\">{name}</a>", escape(link)),
                None => name,
            }
        })
        .collect();
    if !reported.is_empty() {
        lines.push(format!("Also reported by {}", reported.join(", ")));
    }
    format!("<hr><p class=\"provenance\">{}</p>", lines.join("<br>"))
}

/// `text` safe inside HTML text and quoted attributes.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Item, Publisher};

    fn stored(site: Option<&str>, also_via: &[&str], summary: Option<Text>) -> StoredItem {
        StoredItem {
            id: "x".into(),
            item: Item {
                link: Some("https://rusi.org/a?b=1&c=2".into()),
                summary,
                ..Item::default()
            },
            first_seen: chrono::DateTime::UNIX_EPOCH,
            publisher: Publisher {
                name: "R&D <Unit>".into(),
                feed_url: "https://rusi.org/rss.xml".into(),
                site: site.map(str::to_string),
                id: None,
                description: None,
            },
            also_via: also_via.iter().map(|s| s.to_string()).collect(),
            story: Vec::new(),
            tags: Vec::new(),
            sort_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_block_names_the_channel_the_original_and_the_other_carriers_escaped() {
        let text = Text {
            body: "a < b".into(),
            is_html: false,
        };
        let shown = appended(&stored(Some("https://rusi.org"), &["Wire"], Some(text)));
        assert_eq!(
            shown.item.summary.unwrap(),
            Text {
                body: "<p>a &lt; b</p><hr><p class=\"provenance\">Channel website: \
                       <a href=\"https://rusi.org\">R&amp;D &lt;Unit&gt;</a><br>\
                       Original article link: <a href=\"https://rusi.org/a?b=1&amp;c=2\">\
                       https://rusi.org/a?b=1&amp;c=2</a><br>Also via Wire</p>"
                    .into(),
                is_html: true,
            }
        );
        // No site that is safe to follow: the name alone; no text at all: the block alone.
        let shown = appended(&stored(Some("javascript:x"), &[], None));
        let body = shown.item.summary.unwrap().body;
        assert!(
            body.starts_with("<hr><p class=\"provenance\">Channel website: R&amp;D"),
            "{body}"
        );
        assert!(
            !body.contains("javascript") && !body.contains("Also via"),
            "{body}"
        );
    }
}

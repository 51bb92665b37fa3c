//! What a search found, as `tributary search` prints it and the server's `/search` shows it.

use chrono::SecondsFormat;
use serde::Serialize;

use crate::search::Query;
use crate::store::ItemRow;

/// One item a search found.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// When it was published (else first seen), RFC 3339.
    pub date: String,
    /// Who published it.
    pub publisher: String,
    /// Its title, if it has one.
    pub title: Option<String>,
    /// Its page, if it has one.
    pub link: Option<String>,
    /// A passage around the words looked for: HTML, escaped, the words in `<mark>`.
    pub snippet: String,
    /// The id the outputs give it.
    pub id: String,
    /// Its source's URL.
    pub source: String,
}

/// The hits of `rows`, which `query` found.
pub fn hits(rows: &[ItemRow], query: &Query) -> Vec<Hit> {
    rows.iter()
        .map(|row| {
            let item = &row.item;
            Hit {
                date: item.sort_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                publisher: item.publisher.name.clone(),
                title: item.item.title.clone(),
                link: item.item.link.clone(),
                snippet: query.snippet(item).html(),
                id: item.id.clone(),
                source: item.publisher.feed_url.clone(),
            }
        })
        .collect()
}

/// `tributary search`'s lines: one per hit (date, publisher, title, link, and the passage with
/// the words looked for between « and »).
pub fn text(rows: &[ItemRow], query: &Query) -> String {
    if rows.is_empty() {
        return "No item matches.\n".to_string();
    }
    let mut out = String::new();
    for row in rows {
        let item = &row.item;
        let one_line = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!(
            "{}  {}  {}  {}  {}\n",
            item.sort_at.format("%Y-%m-%d"),
            one_line(&item.publisher.name),
            one_line(item.item.title.as_deref().unwrap_or("(untitled)")),
            item.item.link.as_deref().unwrap_or("-"),
            query.snippet(item).plain(("«", "»")),
        ));
    }
    out
}

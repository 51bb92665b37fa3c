//! Search: the query language (`query.rs`: a pure parser to a tree), the words an item is
//! found by (`text.rs`), and what both become for each backend (`plan.rs`): an FTS5 query or a
//! PostgreSQL `tsquery`, in which a user's query is only ever data.
//!
//! The index and the matcher read the same [`Indexed`] words, so that a saved search checked
//! against a new item here agrees with the database's answer for the archive. Tags and hosts
//! are compared whole: the index holds a marker word per tag and per host suffix
//! (`zztag…`, `zzsite…`, a digest), so `tag:` and `site:` are found through the same index.

mod plan;
mod query;
pub mod text;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::model::{ArrivingItem, Item, StoredItem};
pub use plan::{Condition, Dialect, Plan};
pub use query::{Field, Leaf, Node, QueryError, When};
pub use text::{Snippet, folded, words};

/// A query, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// As it was written.
    pub text: String,
    /// What it asks.
    pub root: Node,
}

impl Query {
    /// Reads `text`; the error names what is wrong and where.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        Ok(Query {
            text: text.to_string(),
            root: query::parse(text)?,
        })
    }

    /// What the store keeps a saved search's matches under: its text and a digest of what it
    /// asks (which the config's tags of sources change).
    pub fn key(&self) -> String {
        let digest = Sha256::digest(format!("{:?}", self.root).as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("{} #{hex}", self.text)
    }

    /// The query in which `tag:` also finds the items of sources the config tags so, given as
    /// (URL, tags) pairs: those tags are the config's, not the items'.
    pub fn with_source_tags(mut self, sources: &[(String, Vec<String>)]) -> Query {
        fn widen(node: &mut Node, sources: &[(String, Vec<String>)]) {
            match node {
                Node::All(nodes) | Node::Any(nodes) => {
                    nodes.iter_mut().for_each(|n| widen(n, sources))
                }
                Node::Not(node) => widen(node, sources),
                Node::Leaf(Leaf::Tag(tag)) => {
                    let urls: Vec<String> = sources
                        .iter()
                        .filter(|(_, tags)| tags.iter().any(|t| folded(t) == *tag))
                        .map(|(url, _)| url.clone())
                        .collect();
                    if !urls.is_empty() {
                        let tag = Node::Leaf(Leaf::Tag(tag.clone()));
                        *node = Node::Any(vec![tag, Node::Leaf(Leaf::SourceIn(urls))]);
                    }
                }
                Node::Leaf(_) => {}
            }
        }
        widen(&mut self.root, sources);
        self
    }

    /// The query narrowed to the items of the sources with these URLs.
    pub fn within_sources(self, urls: Vec<String>) -> Query {
        let only = Node::Leaf(Leaf::SourceIn(urls));
        let root = match self.root {
            Node::All(mut nodes) => {
                nodes.push(only);
                Node::All(nodes)
            }
            root => Node::All(vec![root, only]),
        };
        Query { root, ..self }
    }

    /// The words it looks for (not those it excludes): what a snippet marks.
    pub fn wanted_words(&self) -> Vec<String> {
        fn collect(node: &Node, into: &mut Vec<String>) {
            match node {
                Node::All(nodes) | Node::Any(nodes) => nodes.iter().for_each(|n| collect(n, into)),
                Node::Not(_) => {}
                Node::Leaf(Leaf::Text { words, .. }) => into.extend(words.iter().cloned()),
                Node::Leaf(_) => {}
            }
        }
        let mut words = Vec::new();
        collect(&self.root, &mut words);
        words.sort();
        words.dedup();
        words
    }

    /// Whether the item `indexed` matches, `now` being when it is asked: what the index would
    /// answer, without it.
    pub fn matches(&self, indexed: &Indexed, now: DateTime<Utc>) -> bool {
        fn check(node: &Node, item: &Indexed, now: DateTime<Utc>) -> bool {
            match node {
                Node::All(nodes) => nodes.iter().all(|n| check(n, item, now)),
                Node::Any(nodes) => nodes.iter().any(|n| check(n, item, now)),
                Node::Not(node) => !check(node, item, now),
                Node::Leaf(leaf) => item.has(leaf, now),
            }
        }
        check(&self.root, indexed, now)
    }

    /// A passage of what readers see of `item` around the words looked for: its summary, else
    /// its content, else its title.
    pub fn snippet(&self, item: &StoredItem) -> Snippet {
        let it = &item.item;
        let texts: Vec<String> = [&it.summary, &it.content]
            .into_iter()
            .flatten()
            .map(|t| {
                if t.is_html {
                    crate::sanitize::text_of_clean_html_upto(&t.body, 64 * 1024)
                } else {
                    t.body.clone()
                }
            })
            .chain(it.title.clone())
            .filter(|t| !t.trim().is_empty())
            .collect();
        let wanted = self.wanted_words();
        let text = texts
            .iter()
            .find(|t| words(t).iter().any(|w| wanted.contains(w)))
            .or(texts.first())
            .map_or("", String::as_str);
        Snippet::of(text, &wanted, 14)
    }

    /// What the query asks of `dialect`'s index and of the items' columns.
    pub fn plan(&self, dialect: Dialect, now: DateTime<Utc>) -> Plan {
        plan::plan(&self.root, dialect, now)
    }
}

/// An item's words as the index holds them, column by column (each column's words folded and
/// joined by a space), and the values `tag:`, `site:`, `after:` and `before:` compare.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Indexed {
    /// The title's words.
    pub title: String,
    /// The authors' names' words.
    pub author: String,
    /// The publisher's name's words.
    pub publisher: String,
    /// The summary's, content's (or full text's) and tags' words, then the markers.
    pub body: String,
    /// Its tags and categories, folded.
    pub tags: Vec<String>,
    /// Its link's host, folded.
    pub host: Option<String>,
    /// Its source's URL.
    pub source_url: String,
    /// Where it sorts, in seconds since 1970.
    pub sort_at: i64,
}

impl Indexed {
    /// What readers see of `item` (after rules and rewrites), published by the source at
    /// `source_url`, as the index holds it.
    pub fn of(item: &StoredItem, source_url: &str) -> Indexed {
        Indexed::of_parts(
            &item.item,
            &item.tags,
            &item.publisher.name,
            source_url,
            item.sort_at.timestamp(),
        )
    }

    /// A new item as a webhook's query sees it, before it is stored: published by `publisher`.
    pub fn of_new(item: &ArrivingItem<'_>, publisher: &str, source_url: &str) -> Indexed {
        Indexed::of_parts(
            item.item,
            item.tags,
            publisher,
            source_url,
            item.sort_at.timestamp(),
        )
    }

    fn of_parts(
        it: &Item,
        own_tags: &[String],
        publisher: &str,
        source_url: &str,
        sort_at: i64,
    ) -> Indexed {
        let mut tags: Vec<String> = own_tags
            .iter()
            .map(String::as_str)
            .chain(it.categories.iter().map(|c| c.shown()))
            .map(folded)
            .filter(|t| !t.is_empty())
            .collect();
        tags.sort();
        tags.dedup();
        let host = it
            .link
            .as_deref()
            .and_then(|link| url::Url::parse(link).ok())
            .and_then(|url| {
                url.host_str()
                    .map(|h| h.trim_end_matches('.').to_lowercase())
            });
        let texts = [&it.summary, &it.content].into_iter().flatten();
        let mut body = String::with_capacity(texts.map(|t| t.body.len()).sum::<usize>() + 256);
        let mut room = text::MOST_WORDS - 64;
        for t in [&it.summary, &it.content].into_iter().flatten() {
            if t.is_html {
                let plain = crate::sanitize::text_of_clean_html(&t.body);
                text::push_words(&plain, &mut body, &mut room);
            } else {
                text::push_words(&t.body, &mut body, &mut room);
            }
        }
        for tag in &tags {
            text::push_words(tag, &mut body, &mut room);
        }
        let markers = tags.iter().map(|t| marker("tag", t)).chain(
            host.iter()
                .flat_map(|h| suffixes(h).map(|s| marker("site", s))),
        );
        for marker in markers {
            if !body.is_empty() {
                body.push(' ');
            }
            body.push_str(&marker);
        }
        let column = |text: &str| {
            let mut out = String::new();
            text::push_words(text, &mut out, &mut usize::MAX.clone());
            out
        };
        let authors: Vec<&str> = it.authors.iter().map(|a| a.name.as_str()).collect();
        Indexed {
            title: column(it.title.as_deref().unwrap_or_default()),
            author: column(&authors.join(" ")),
            publisher: column(publisher),
            body,
            tags,
            host,
            source_url: source_url.to_string(),
            sort_at,
        }
    }

    /// The columns' texts as FTS5 takes them (title, author, publisher, body): words joined by
    /// a space, which its `ascii` tokenizer splits back into the same words.
    pub fn columns(&self) -> [&str; 4] {
        [&self.title, &self.author, &self.publisher, &self.body].map(String::as_str)
    }

    /// The words as a PostgreSQL `tsvector` literal, weighted by column (title A, author B,
    /// publisher C, body D) and numbered so that no phrase runs from one column into the next.
    pub fn tsvector(&self) -> String {
        let mut out = String::new();
        let mut position = 1usize;
        for (column, weight) in self.columns().into_iter().zip(["A", "B", "C", ""]) {
            for word in column.split(' ').filter(|w| !w.is_empty()) {
                if position > 16_383 {
                    break;
                }
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&format!("'{word}':{position}{weight}"));
                position += 1;
            }
            position += 1;
        }
        out
    }

    fn has(&self, leaf: &Leaf, now: DateTime<Utc>) -> bool {
        match leaf {
            Leaf::Text { field, words } => {
                let columns: &[&String] = match field {
                    Field::Any => &[&self.title, &self.author, &self.publisher, &self.body],
                    Field::Title => &[&self.title],
                    Field::Author => &[&self.author],
                    Field::Source => &[&self.publisher],
                };
                columns.iter().any(|column| {
                    let column: Vec<&str> = column.split(' ').collect();
                    column.windows(words.len()).any(|w| w == words.as_slice())
                })
            }
            Leaf::Tag(tag) => self.tags.contains(tag),
            Leaf::Site(site) => self
                .host
                .as_deref()
                .is_some_and(|host| suffixes(host).any(|s| s == site)),
            Leaf::After(when) => self.sort_at >= when.at(now),
            Leaf::Before(when) => self.sort_at < when.at(now),
            Leaf::SourceIn(urls) => urls.contains(&self.source_url),
        }
    }
}

/// `www.example.org`, `example.org`, `org`.
fn suffixes(host: &str) -> impl Iterator<Item = &str> {
    std::iter::once(host).chain(host.match_indices('.').map(move |(at, _)| &host[at + 1..]))
}

/// The index's word for a tag or a host suffix: letters and digits only, as every word is.
fn marker(kind: &str, value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("zz{kind}{hex}")
}

#[cfg(test)]
mod tests;

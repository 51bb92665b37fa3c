//! A query's tree as each backend's index takes it. The terms that its index can answer
//! together become one expression (FTS5's query syntax, or a PostgreSQL `tsquery`), bound as a
//! parameter; what it cannot (dates, sources, an exclusion with nothing to exclude it from)
//! becomes [`Condition`]s the store writes as SQL. Every word is quoted, and words hold only
//! letters and digits, so no user's query is ever syntax to either.

use chrono::{DateTime, Utc};

use super::query::{Field, Leaf, Node};

/// Which index a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite's FTS5, columns `title`, `author`, `publisher`, `body`.
    Fts5,
    /// PostgreSQL's `tsquery`, weights A (title), B (author), C (publisher), D (body).
    Tsquery,
}

/// What an item must be, beside what the ranked expression finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Found by this expression of the index.
    Found(String),
    /// Sorted at or after this second.
    SortedFrom(i64),
    /// Sorted before this second.
    SortedBefore(i64),
    /// Published by one of the sources with these URLs.
    SourceIn(Vec<String>),
    /// Every one.
    All(Vec<Condition>),
    /// Any one.
    Any(Vec<Condition>),
    /// Not this one.
    Not(Box<Condition>),
}

/// A query for one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The index's expression that finds (and ranks) the items, when the query has one.
    pub ranked: Option<String>,
    /// What the items it finds (or, without one, every item) must also be.
    pub conditions: Vec<Condition>,
}

pub(super) fn plan(root: &Node, dialect: Dialect, now: DateTime<Utc>) -> Plan {
    let terms: Vec<&Node> = match root {
        Node::All(nodes) => nodes.iter().collect(),
        root => vec![root],
    };
    let (indexed, others): (Vec<&Node>, Vec<&Node>) =
        terms.into_iter().partition(|term| match term {
            Node::Not(inner) => expression(inner, dialect).is_some(),
            term => expression(term, dialect).is_some(),
        });
    let mut conditions: Vec<Condition> = others
        .into_iter()
        .map(|node| condition(node, dialect, now))
        .collect();
    let (excluded, wanted): (Vec<&Node>, Vec<&Node>) =
        indexed.into_iter().partition(|n| matches!(n, Node::Not(_)));
    let excluded: Vec<String> = excluded
        .into_iter()
        .filter_map(|node| match node {
            Node::Not(inner) => expression(inner, dialect),
            _ => None,
        })
        .collect();
    let wanted: Vec<String> = wanted
        .into_iter()
        .filter_map(|n| expression(n, dialect))
        .collect();
    if wanted.is_empty() {
        conditions.extend(
            excluded
                .into_iter()
                .map(|e| Condition::Not(Box::new(Condition::Found(e)))),
        );
        return Plan {
            ranked: None,
            conditions,
        };
    }
    Plan {
        ranked: Some(all_but(dialect, &wanted, &excluded)),
        conditions,
    }
}

/// Every one of `wanted` and none of `excluded`, in `dialect`.
fn all_but(dialect: Dialect, wanted: &[String], excluded: &[String]) -> String {
    let and = match dialect {
        Dialect::Fts5 => " AND ",
        Dialect::Tsquery => " & ",
    };
    let wanted = format!("({})", wanted.join(and));
    if excluded.is_empty() {
        return wanted;
    }
    match dialect {
        Dialect::Fts5 => format!("{wanted} NOT ({})", excluded.join(" OR ")),
        Dialect::Tsquery => format!("{wanted} & !({})", excluded.join(" | ")),
    }
}

/// `node` as one expression of the index, when the index can answer all of it.
fn expression(node: &Node, dialect: Dialect) -> Option<String> {
    match node {
        Node::Leaf(leaf) => leaf_expression(leaf, dialect),
        Node::Not(_) => None,
        Node::Any(nodes) => {
            let parts: Option<Vec<String>> = nodes.iter().map(|n| expression(n, dialect)).collect();
            let or = match dialect {
                Dialect::Fts5 => " OR ",
                Dialect::Tsquery => " | ",
            };
            Some(format!("({})", parts?.join(or)))
        }
        Node::All(nodes) => {
            let mut wanted = Vec::new();
            let mut excluded = Vec::new();
            for node in nodes {
                match node {
                    Node::Not(inner) => excluded.push(expression(inner, dialect)?),
                    node => wanted.push(expression(node, dialect)?),
                }
            }
            (!wanted.is_empty()).then(|| all_but(dialect, &wanted, &excluded))
        }
    }
}

fn leaf_expression(leaf: &Leaf, dialect: Dialect) -> Option<String> {
    let (field, words): (Field, Vec<String>) = match leaf {
        Leaf::Text { field, words } => (*field, words.clone()),
        Leaf::Tag(tag) => (Field::Any, vec![super::marker("tag", tag)]),
        Leaf::Site(host) => (Field::Any, vec![super::marker("site", host)]),
        Leaf::After(_) | Leaf::Before(_) | Leaf::SourceIn(_) => return None,
    };
    // Words are letters and digits (`text::words`), so quoting them is all the escaping
    // either syntax needs; doubling a quote is a second guard.
    Some(match dialect {
        Dialect::Fts5 => {
            let phrase = format!("\"{}\"", words.join(" ").replace('"', "\"\""));
            match field {
                Field::Any => phrase,
                Field::Title => format!("title : {phrase}"),
                Field::Author => format!("author : {phrase}"),
                Field::Source => format!("publisher : {phrase}"),
            }
        }
        Dialect::Tsquery => {
            let weight = match field {
                Field::Any => "",
                Field::Title => ":A",
                Field::Author => ":B",
                Field::Source => ":C",
            };
            let quoted: Vec<String> = words
                .iter()
                .map(|w| format!("'{}'{weight}", w.replace('\'', "''")))
                .collect();
            format!("({})", quoted.join(" <-> "))
        }
    })
}

/// `node` as conditions on the items, its indexed parts as the index's expressions.
fn condition(node: &Node, dialect: Dialect, now: DateTime<Utc>) -> Condition {
    if let Some(found) = expression(node, dialect) {
        return Condition::Found(found);
    }
    match node {
        Node::All(nodes) => {
            Condition::All(nodes.iter().map(|n| condition(n, dialect, now)).collect())
        }
        Node::Any(nodes) => {
            Condition::Any(nodes.iter().map(|n| condition(n, dialect, now)).collect())
        }
        Node::Not(node) => Condition::Not(Box::new(condition(node, dialect, now))),
        Node::Leaf(Leaf::After(when)) => Condition::SortedFrom(when.at(now)),
        Node::Leaf(Leaf::Before(when)) => Condition::SortedBefore(when.at(now)),
        Node::Leaf(Leaf::SourceIn(urls)) => Condition::SourceIn(urls.clone()),
        // Every other leaf has an expression.
        Node::Leaf(_) => Condition::All(Vec::new()),
    }
}

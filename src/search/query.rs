//! The query language, parsed into a tree: words (all required), `"a phrase"`, `-word` and
//! `-"phrase"` to exclude, `OR` between terms, parentheses, and the fields `title:`, `author:`,
//! `source:`, `tag:`, `site:`, `after:` and `before:`.
//!
//! ```text
//! query  := any ( "OR" any )*          OR binds looser than the implicit AND
//! any    := term+                      every term required
//! term   := "-"? ( "(" query ")" | field? ( PHRASE | WORD ) )
//! field  := ("title" | "author" | "source" | "tag" | "site" | "after" | "before") ":"
//! ```
//! A word is what lies between spaces, quotes and parentheses; its letters and digits are what
//! is looked for (`covid-19` is the phrase `covid 19`), so nothing a user types is syntax of
//! the database's. A word with no letter or digit (`*`, `^`, `:`) looks for nothing and is
//! dropped; `OR` is the operator only in capitals. Positions in errors count characters from 1.

use chrono::{DateTime, NaiveDate, Utc};

use super::text;

/// The longest query, in characters.
pub const MOST_CHARACTERS: usize = 500;
/// The most terms (words, phrases, fields) in one query.
pub const MOST_TERMS: usize = 24;
/// The deepest nesting of parentheses.
const MOST_DEPTH: usize = 8;

/// Why a query could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing in it to look for.
    #[error("nothing to search for: give a word")]
    Empty,
    /// Longer than [`MOST_CHARACTERS`].
    #[error("the search is {0} characters long; the most is {MOST_CHARACTERS}")]
    TooLong(usize),
    /// More than [`MOST_TERMS`] terms.
    #[error("the search has more than {MOST_TERMS} terms")]
    TooManyTerms,
    /// Nested deeper than [`MOST_DEPTH`].
    #[error("parentheses nested too deep at {0}")]
    TooDeep(usize),
    /// A quote not closed.
    #[error("unclosed quote at {0}")]
    UnclosedQuote(usize),
    /// A parenthesis not closed.
    #[error("unclosed parenthesis at {0}")]
    UnclosedParenthesis(usize),
    /// A closing parenthesis with none open.
    #[error("unexpected ')' at {0}")]
    UnexpectedClose(usize),
    /// `OR` with nothing on one side.
    #[error("OR at {0} needs a term on each side")]
    DanglingOr(usize),
    /// A field with nothing after it.
    #[error("{field}: at {at} needs a value")]
    EmptyField {
        /// The field.
        field: &'static str,
        /// Where it is.
        at: usize,
    },
    /// `after:` or `before:` with something that is not a date.
    #[error("{field}: at {at} takes a date (2026-11-30) or an age (7d, 12h, 2w), not {value:?}")]
    BadDate {
        /// The field.
        field: &'static str,
        /// Where it is.
        at: usize,
        /// What was given.
        value: String,
    },
    /// A group or exclusion that excludes everything it holds.
    #[error("the search at {0} only excludes; give a word to look for")]
    OnlyExcludes(usize),
}

/// A field a text term is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Anywhere.
    Any,
    /// The title.
    Title,
    /// The authors.
    Author,
    /// The publisher's name.
    Source,
}

/// A moment a date term names: a day, or an age reckoned from the search's `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Seconds since 1970.
    At(i64),
    /// This many seconds before now.
    Ago(i64),
}

impl When {
    /// Seconds since 1970, `now` being when the search runs.
    pub fn at(self, now: DateTime<Utc>) -> i64 {
        match self {
            When::At(at) => at,
            When::Ago(seconds) => now.timestamp().saturating_sub(seconds),
        }
    }
}

/// What one term asks of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// These words, one after another, in `field` (one word: anywhere in it).
    Text {
        /// Where.
        field: Field,
        /// The folded words.
        words: Vec<String>,
    },
    /// A tag, folded, compared whole.
    Tag(String),
    /// The link's host is this one or under it, folded.
    Site(String),
    /// Sorted at or after this moment.
    After(When),
    /// Sorted before this moment.
    Before(When),
    /// Published by one of the sources with these URLs (what `tag:` becomes for sources tagged
    /// in the config, and what `--source` adds): never written by a user.
    SourceIn(Vec<String>),
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Every one.
    All(Vec<Node>),
    /// Any one.
    Any(Vec<Node>),
    /// Not this one.
    Not(Box<Node>),
    /// A term.
    Leaf(Leaf),
}

/// Reads `query` into its tree.
pub fn parse(query: &str) -> Result<Node, QueryError> {
    let length = query.chars().count();
    if length > MOST_CHARACTERS {
        return Err(QueryError::TooLong(length));
    }
    let tokens = lex(query)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        terms: 0,
    };
    let node = parser.any(0)?;
    if let Some(token) = parser.tokens.get(parser.at) {
        return Err(QueryError::UnexpectedClose(token.at));
    }
    let node = node.ok_or(QueryError::Empty)?;
    if !looks_for_something(&node) {
        return Err(QueryError::OnlyExcludes(1));
    }
    Ok(node)
}

/// Whether `node` can match an item by what it holds rather than by what it lacks: a query
/// made only of exclusions would list the whole archive.
fn looks_for_something(node: &Node) -> bool {
    match node {
        Node::Leaf(_) => true,
        Node::Not(_) => false,
        Node::All(nodes) => nodes.iter().any(looks_for_something),
        Node::Any(nodes) => nodes.iter().all(looks_for_something),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Open,
    Close,
    Or,
    Minus,
    Word(String),
    Phrase(String),
    /// A field's name, its colon read: what follows is its value.
    Field(String),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Its position, in characters from 1.
    at: usize,
}

fn lex(query: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token {
                    kind: Kind::Open,
                    at,
                });
                i += 1;
            }
            ')' => {
                tokens.push(Token {
                    kind: Kind::Close,
                    at,
                });
                i += 1;
            }
            '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '"')
                    .ok_or(QueryError::UnclosedQuote(at))?;
                let phrase: String = chars[i + 1..i + 1 + end].iter().collect();
                tokens.push(Token {
                    kind: Kind::Phrase(phrase),
                    at,
                });
                i += end + 2;
            }
            '-' if chars
                .get(i + 1)
                .is_some_and(|n| !n.is_whitespace() && *n != ')' && *n != '-') =>
            {
                tokens.push(Token {
                    kind: Kind::Minus,
                    at,
                });
                i += 1;
            }
            _ => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c.is_whitespace() || matches!(c, '(' | ')' | '"'))
                    .map_or(chars.len(), |n| i + n);
                let word: String = chars[i..end].iter().collect();
                i = end;
                let field = word
                    .split_once(':')
                    .filter(|(name, _)| FIELDS.contains(&name.to_ascii_lowercase().as_str()));
                match field {
                    Some((name, value)) => {
                        tokens.push(Token {
                            kind: Kind::Field(name.to_ascii_lowercase()),
                            at,
                        });
                        if !value.is_empty() {
                            tokens.push(Token {
                                kind: Kind::Word(value.to_string()),
                                at: at + name.chars().count() + 1,
                            });
                        }
                    }
                    None if word == "OR" => tokens.push(Token { kind: Kind::Or, at }),
                    None => tokens.push(Token {
                        kind: Kind::Word(word),
                        at,
                    }),
                }
            }
        }
    }
    Ok(tokens)
}

const FIELDS: [&str; 7] = [
    "title", "author", "source", "tag", "site", "after", "before",
];

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    /// `all ( OR all )*`, up to a `)` or the end.
    fn any(&mut self, depth: usize) -> Result<Option<Node>, QueryError> {
        let mut choices = Vec::new();
        loop {
            let or_at = self.peek().map(|t| t.at);
            let all = self.all(depth)?;
            match self.peek() {
                Some(Token { kind: Kind::Or, at }) => {
                    let at = *at;
                    choices.push(all.ok_or(QueryError::DanglingOr(at))?);
                    self.at += 1;
                    if self
                        .peek()
                        .is_none_or(|t| matches!(t.kind, Kind::Close | Kind::Or))
                    {
                        return Err(QueryError::DanglingOr(at));
                    }
                }
                _ => {
                    match all {
                        Some(all) => choices.push(all),
                        None if !choices.is_empty() => {
                            return Err(QueryError::DanglingOr(or_at.unwrap_or(1)));
                        }
                        None => {}
                    }
                    break;
                }
            }
        }
        Ok(match choices.len() {
            0 => None,
            1 => choices.pop(),
            _ => Some(Node::Any(choices)),
        })
    }

    /// Terms up to an `OR`, a `)` or the end, every one required.
    fn all(&mut self, depth: usize) -> Result<Option<Node>, QueryError> {
        let mut terms = Vec::new();
        while let Some(token) = self.peek() {
            if matches!(token.kind, Kind::Or | Kind::Close) {
                break;
            }
            if let Some(term) = self.term(depth)? {
                terms.push(term);
            }
        }
        Ok(match terms.len() {
            0 => None,
            1 => terms.pop(),
            _ => Some(Node::All(terms)),
        })
    }

    /// One term, `None` when it holds nothing to look for (`*`).
    fn term(&mut self, depth: usize) -> Result<Option<Node>, QueryError> {
        let Some(token) = self.tokens.get(self.at).cloned() else {
            return Ok(None);
        };
        self.at += 1;
        match token.kind {
            Kind::Minus => {
                let excluded = self.term(depth)?;
                Ok(excluded.map(|node| Node::Not(Box::new(node))))
            }
            Kind::Open => {
                if depth >= MOST_DEPTH {
                    return Err(QueryError::TooDeep(token.at));
                }
                let inner = self.any(depth + 1)?;
                match self.peek() {
                    Some(Token {
                        kind: Kind::Close, ..
                    }) => self.at += 1,
                    _ => return Err(QueryError::UnclosedParenthesis(token.at)),
                }
                if let Some(inner) = &inner {
                    if !looks_for_something(inner) {
                        return Err(QueryError::OnlyExcludes(token.at));
                    }
                }
                Ok(inner)
            }
            Kind::Word(word) | Kind::Phrase(word) => self.leaf(Field::Any, &word),
            Kind::Field(name) => self.field(&name, token.at),
            Kind::Or | Kind::Close => Ok(None),
        }
    }

    fn field(&mut self, name: &str, at: usize) -> Result<Option<Node>, QueryError> {
        let field: &'static str = FIELDS.iter().find(|f| **f == name).copied().unwrap_or("");
        let value = match self.tokens.get(self.at) {
            Some(Token {
                kind: Kind::Word(value) | Kind::Phrase(value),
                at: value_at,
            }) if *value_at <= at + name.chars().count() + 1 => value.clone(),
            _ => return Err(QueryError::EmptyField { field, at }),
        };
        self.at += 1;
        let empty = || QueryError::EmptyField { field, at };
        let leaf = match field {
            "title" => return self.leaf(Field::Title, &value),
            "author" => return self.leaf(Field::Author, &value),
            "source" => return self.leaf(Field::Source, &value),
            "tag" => Leaf::Tag(
                Some(text::folded(&value))
                    .filter(|t| !t.is_empty())
                    .ok_or_else(empty)?,
            ),
            "site" => Leaf::Site(host(&value).ok_or_else(empty)?),
            _ => {
                let when = when(&value).ok_or_else(|| QueryError::BadDate {
                    field,
                    at,
                    value: value.clone(),
                })?;
                if field == "after" {
                    Leaf::After(when)
                } else {
                    Leaf::Before(when)
                }
            }
        };
        self.count()?;
        Ok(Some(Node::Leaf(leaf)))
    }

    fn leaf(&mut self, field: Field, value: &str) -> Result<Option<Node>, QueryError> {
        let words = text::words(value);
        if words.is_empty() {
            return Ok(None);
        }
        self.count()?;
        Ok(Some(Node::Leaf(Leaf::Text { field, words })))
    }

    fn count(&mut self) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > MOST_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        Ok(())
    }
}

/// A host as `site:` takes it: `Example.org`, `https://example.org/news` → `example.org`.
fn host(value: &str) -> Option<String> {
    let value = value.trim().to_lowercase();
    let rest = value.split_once("://").map_or(value.as_str(), |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?.trim_matches('.');
    let fits = |label: &str| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    };
    host.split('.').all(fits).then(|| host.to_string())
}

/// `2026-11-30` (that day's start, UTC) or an age: `7d`, `12h`, `2w`, `30m`.
fn when(value: &str) -> Option<When> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some(When::At(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp()));
    }
    let unit = value.chars().last()?;
    let count: i64 = value[..value.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    (count >= 0).then(|| When::Ago(count.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(field: Field, words: &[&str]) -> Node {
        Node::Leaf(Leaf::Text {
            field,
            words: words.iter().map(|w| w.to_string()).collect(),
        })
    }
    fn word(w: &str) -> Node {
        text(Field::Any, &[w])
    }
    fn not(node: Node) -> Node {
        Node::Not(Box::new(node))
    }

    #[test]
    fn words_are_all_required_and_or_binds_looser() {
        assert_eq!(
            parse("Cycle routes").unwrap(),
            Node::All(vec![word("cycle"), word("routes")])
        );
        assert_eq!(
            parse("a b OR c").unwrap(),
            Node::Any(vec![Node::All(vec![word("a"), word("b")]), word("c")])
        );
        assert_eq!(
            parse("a (b OR c) -d").unwrap(),
            Node::All(vec![
                word("a"),
                Node::Any(vec![word("b"), word("c")]),
                not(word("d"))
            ])
        );
        // `or` in lower case is a word; a hyphen inside a word is not an exclusion.
        assert_eq!(
            parse("this or that").unwrap(),
            Node::All(vec![word("this"), word("or"), word("that")])
        );
        assert_eq!(
            parse("covid-19").unwrap(),
            text(Field::Any, &["covid", "19"])
        );
    }

    #[test]
    fn phrases_fields_and_dates() {
        assert_eq!(
            parse("\"Cycle Routes\"").unwrap(),
            text(Field::Any, &["cycle", "routes"])
        );
        assert_eq!(
            parse("-\"notes to editors\" council").unwrap(),
            Node::All(vec![
                not(text(Field::Any, &["notes", "to", "editors"])),
                word("council")
            ])
        );
        assert_eq!(parse("title:Café").unwrap(), text(Field::Title, &["cafe"]));
        assert_eq!(
            parse("author:\"Jane Doe\"").unwrap(),
            text(Field::Author, &["jane", "doe"])
        );
        assert_eq!(
            parse("SOURCE:council").unwrap(),
            text(Field::Source, &["council"])
        );
        assert_eq!(
            parse("tag:\"Open Data\"").unwrap(),
            Node::Leaf(Leaf::Tag("open data".into()))
        );
        assert_eq!(
            parse("site:https://WWW.Example.org/news").unwrap(),
            Node::Leaf(Leaf::Site("www.example.org".into()))
        );
        assert_eq!(
            parse("x after:2026-11-30 before:7d").unwrap(),
            Node::All(vec![
                word("x"),
                Node::Leaf(Leaf::After(When::At(1_795_996_800))),
                Node::Leaf(Leaf::Before(When::Ago(7 * 86_400))),
            ])
        );
        // A colon that names no field is a word's punctuation.
        assert_eq!(
            parse("http://x.org").unwrap(),
            text(Field::Any, &["http", "x", "org"])
        );
    }

    #[test]
    fn malformed_queries_name_the_position() {
        let error = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(error("cycle routes \"council"), "unclosed quote at 14");
        assert_eq!(error("(a OR b"), "unclosed parenthesis at 1");
        assert_eq!(error("a b)"), "unexpected ')' at 4");
        assert_eq!(error("a OR"), "OR at 3 needs a term on each side");
        assert_eq!(error("OR a"), "OR at 1 needs a term on each side");
        assert_eq!(error("title: a"), "title: at 1 needs a value");
        assert_eq!(
            error("x after:yesterday"),
            "after: at 3 takes a date (2026-11-30) or an age (7d, 12h, 2w), not \"yesterday\""
        );
        assert_eq!(
            error("-a"),
            "the search at 1 only excludes; give a word to look for"
        );
        assert_eq!(
            error("a (-b)"),
            "the search at 3 only excludes; give a word to look for"
        );
        assert_eq!(error(""), "nothing to search for: give a word");
        assert_eq!(error("* ^ :"), "nothing to search for: give a word");
        assert!(error(&"a ".repeat(300)).contains("characters long"));
        assert_eq!(error(&"a ".repeat(30)), "the search has more than 24 terms");
        assert!(
            error(&format!("{}a{}", "(".repeat(20), ")".repeat(20)))
                .starts_with("parentheses nested too deep")
        );
    }

    #[test]
    fn the_databases_syntax_is_data() {
        // FTS5's operators and PostgreSQL's are words or punctuation here, never syntax.
        assert_eq!(
            parse("NEAR(a b)").unwrap(),
            Node::All(vec![word("near"), Node::All(vec![word("a"), word("b")])])
        );
        assert_eq!(
            parse("a AND b NOT c").unwrap(),
            Node::All(vec![
                word("a"),
                word("and"),
                word("b"),
                word("not"),
                word("c")
            ])
        );
        assert_eq!(
            parse("a* ^b c:d 'e' f&g|!h").unwrap(),
            Node::All(vec![
                word("a"),
                word("b"),
                text(Field::Any, &["c", "d"]),
                word("e"),
                text(Field::Any, &["f", "g", "h"]),
            ])
        );
    }
}

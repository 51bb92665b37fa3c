//! Rules and rewrites as the config writes them, validated (`config/shaping.rs` reads them):
//! what [`super::Shaping`] applies.

use std::time::Duration;

/// The longest compiled pattern accepted: far more than any rule needs, and a bound on what a
/// pasted pattern can cost.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// A regular expression as written and compiled (the `regex` crate: linear time).
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `written`, or says why it is no regular expression.
    pub fn new(written: &str) -> Result<Pattern, String> {
        regex::RegexBuilder::new(written)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map(|regex| Pattern { regex })
            .map_err(|e| format!("{written:?} is not a regular expression: {e}"))
    }

    /// The compiled expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A CSS selector as written and parsed.
#[derive(Debug, Clone)]
pub struct Selector {
    /// As written, for comparing configs and for `rules test`.
    pub written: String,
    /// Parsed.
    pub selector: scraper::Selector,
}

impl Selector {
    /// Parses `written`, or says why it is no CSS selector.
    pub fn new(written: &str) -> Result<Selector, String> {
        if written.trim().is_empty() {
            return Err("must not be empty".into());
        }
        scraper::Selector::parse(written)
            .map(|selector| Selector {
                written: written.to_string(),
                selector,
            })
            .map_err(|e| format!("{written:?} is not a CSS selector: {e}"))
    }
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

/// One `[[rules]]` (or `[[sources.rules]]`) table.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Where it was written (`rules[0]`, `sources[2].rules[1]`), to name it in `rules test`.
    pub label: String,
    /// Only items of the sources with these names (none: every source).
    pub sources: Vec<String>,
    /// Only items of the sources with one of these tags (none: every source).
    pub tags: Vec<String>,
    /// What an item must match, every condition given.
    pub when: When,
    /// What becomes of an item that matches.
    pub action: Action,
}

/// What a rule does to the items it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stored, but written to no output.
    Drop,
    /// Within the rule's scope, only matching items are written.
    Keep,
    /// The item carries this tag.
    Tag(String),
}

/// A rule's conditions: each given must match. Texts are matched as readers read them (HTML
/// as its text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct When {
    /// The title.
    pub title: Option<Pattern>,
    /// The summary.
    pub summary: Option<Pattern>,
    /// The content (the article's full text, when fetched).
    pub content: Option<Pattern>,
    /// Title, summary or content.
    pub any: Option<Pattern>,
    /// Any one author's name (or email).
    pub author: Option<Pattern>,
    /// Any one category.
    pub category: Option<Pattern>,
    /// The item's link.
    pub link: Option<Pattern>,
    /// Published more than this long ago.
    pub older_than: Option<Duration>,
    /// Published less than this long ago.
    pub newer_than: Option<Duration>,
    /// Its story was reported by at least this many publishers, itself among them.
    pub reported_by_at_least: Option<usize>,
}

/// A source's rewrites: applied to the stored original each time it is shaped, so never twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rewrites {
    /// Elements cut from the summary and content.
    pub remove: Vec<Selector>,
    /// Pattern replacements in one field each.
    pub replace: Vec<Replace>,
    /// Query parameters cut from the item's link (`*` matches any characters), besides
    /// `[dedup] strip_query`.
    pub strip_query: Vec<String>,
}

impl Rewrites {
    /// Whether there is nothing to rewrite.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.replace.is_empty() && self.strip_query.is_empty()
    }
}

/// `replace = [{ field, pattern, with }]`: every match of `pattern` in `field` replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Replace {
    /// The field rewritten.
    pub field: Field,
    /// What is replaced.
    pub pattern: Pattern,
    /// The replacement (`$1`, `${name}` for groups).
    pub with: String,
}

/// An item's field a replacement applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The title.
    Title,
    /// The summary.
    Summary,
    /// The content.
    Content,
    /// The link.
    Link,
}

impl Field {
    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Link => "link",
        }
    }
}

//! What shapes the items that go out: `[[rules]]` (global and per source), a source's rewrites
//! (`remove`, `replace`, `strip_query`) and its full-text settings. Validated here; applied by
//! [`crate::rules`].

use std::path::Path;
use std::time::Duration;

use super::raw::{RawReplace, RawRule, RawSource};
use super::validate::Validator;

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

/// `full_text = true`: each new item's page is fetched once and its article extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct FullText {
    /// The part of the page kept, instead of the automatic extraction.
    pub selector: Option<Selector>,
}

impl Validator<'_> {
    /// `rules` written at `prefix` (`rules`, `sources[2].rules`).
    pub(super) fn rules(&mut self, file: &Path, prefix: &str, raws: &[RawRule]) -> Vec<Rule> {
        raws.iter()
            .enumerate()
            .filter_map(|(index, raw)| self.rule(file, format!("{prefix}[{index}]"), raw))
            .collect()
    }

    fn rule(&mut self, file: &Path, label: String, raw: &RawRule) -> Option<Rule> {
        let mut ok = true;
        let mut pattern = |name: &str, written: &Option<String>| -> Option<Pattern> {
            match Pattern::new(written.as_deref()?) {
                Ok(pattern) => Some(pattern),
                Err(message) => {
                    ok = false;
                    self.report(file, format!("{label}.when.{name}"), message);
                    None
                }
            }
        };
        let w = raw.when.clone().unwrap_or_default();
        let mut when = When {
            title: pattern("title", &w.title),
            summary: pattern("summary", &w.summary),
            content: pattern("content", &w.content),
            any: pattern("any", &w.any),
            author: pattern("author", &w.author),
            category: pattern("category", &w.category),
            link: pattern("link", &w.link),
            ..When::default()
        };
        for (name, written, slot) in [
            ("older_than", &w.older_than, &mut when.older_than),
            ("newer_than", &w.newer_than, &mut when.newer_than),
        ] {
            if let Some(text) = written {
                *slot = self.duration(file, format!("{label}.when.{name}"), text);
                ok &= slot.is_some();
            }
        }
        let action = match (raw.action.as_deref(), &raw.tag) {
            (Some("drop"), None) => Some(Action::Drop),
            (Some("keep"), None) => Some(Action::Keep),
            (Some("tag"), Some(tag)) if !tag.trim().is_empty() => Some(Action::Tag(tag.clone())),
            (Some("tag"), _) => {
                self.report(
                    file,
                    format!("{label}.tag"),
                    "a \"tag\" rule needs a tag".into(),
                );
                None
            }
            (Some("drop" | "keep"), Some(_)) => {
                let message = "only a \"tag\" rule has a tag".into();
                self.report(file, format!("{label}.tag"), message);
                None
            }
            (Some(other), _) => {
                let message = format!("{other:?} is not an action: \"drop\", \"keep\" or \"tag\"");
                self.report(file, format!("{label}.action"), message);
                None
            }
            (None, _) => {
                let message = "missing: \"drop\", \"keep\" or \"tag\"".into();
                self.report(file, format!("{label}.action"), message);
                None
            }
        };
        Some(Rule {
            label,
            sources: raw.sources.clone(),
            tags: raw.tags.clone(),
            when,
            action: action.filter(|_| ok)?,
        })
    }

    /// A source's `remove`, `replace` and `strip_query`.
    pub(super) fn rewrites(&mut self, file: &Path, key: &str, raw: &RawSource) -> Rewrites {
        let remove = raw
            .remove
            .iter()
            .enumerate()
            .filter_map(|(i, written)| match Selector::new(written) {
                Ok(selector) => Some(selector),
                Err(message) => {
                    self.report(file, format!("{key}.remove[{i}]"), message);
                    None
                }
            })
            .collect();
        let replace = raw
            .replace
            .iter()
            .enumerate()
            .filter_map(|(i, r)| self.replace(file, format!("{key}.replace[{i}]"), r))
            .collect();
        Rewrites {
            remove,
            replace,
            strip_query: self.strip_query(file, &format!("{key}.strip_query"), &raw.strip_query),
        }
    }

    fn replace(&mut self, file: &Path, key: String, raw: &RawReplace) -> Option<Replace> {
        let field = match raw.field.as_deref() {
            Some("title") => Some(Field::Title),
            Some("summary") => Some(Field::Summary),
            Some("content") => Some(Field::Content),
            Some("link") => Some(Field::Link),
            other => {
                let message = match other {
                    Some(other) => {
                        format!("{other:?} is not a field: title, summary, content or link")
                    }
                    None => "missing: title, summary, content or link".into(),
                };
                self.report(file, format!("{key}.field"), message);
                None
            }
        };
        let pattern = match raw.pattern.as_deref().map(Pattern::new) {
            Some(Ok(pattern)) => Some(pattern),
            Some(Err(message)) => {
                self.report(file, format!("{key}.pattern"), message);
                None
            }
            None => {
                self.report(file, format!("{key}.pattern"), "missing".into());
                None
            }
        };
        Some(Replace {
            field: field?,
            pattern: pattern?,
            with: raw.with.clone().unwrap_or_default(),
        })
    }

    /// Query parameter names (`*` for any characters), never empty.
    pub(super) fn strip_query(&mut self, file: &Path, key: &str, names: &[String]) -> Vec<String> {
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() || name.chars().all(|c| c == '*') {
                let message = format!("{name:?} would strip every parameter; name them");
                self.report(file, format!("{key}[{i}]"), message);
            }
        }
        names.iter().map(|n| n.trim().to_string()).collect()
    }

    /// A source's `full_text` and `full_text_selector`.
    pub(super) fn full_text(
        &mut self,
        file: &Path,
        key: &str,
        raw: &RawSource,
    ) -> Option<FullText> {
        let selector = match raw.full_text_selector.as_deref().map(Selector::new) {
            None => None,
            Some(Ok(selector)) => Some(selector),
            Some(Err(message)) => {
                self.report(file, format!("{key}.full_text_selector"), message);
                None
            }
        };
        match raw.full_text {
            Some(true) => Some(FullText { selector }),
            _ if raw.full_text_selector.is_some() => {
                let message = "needs full_text = true".into();
                self.report(file, format!("{key}.full_text_selector"), message);
                None
            }
            _ => None,
        }
    }
}

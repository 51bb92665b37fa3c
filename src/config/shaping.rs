//! What shapes the items that go out: `[[rules]]` (global and per source), a source's rewrites
//! (`remove`, `replace`, `strip_query`) and its full-text settings. Validated here; applied by
//! [`crate::rules`].

use std::path::Path;

use super::raw::{RawReplace, RawRule, RawSource};
use super::validate::Validator;
use crate::rules::{
    Action, Field, Pattern, Replace, Rewrites, Rule, Selector, Shaping, SourceShaping, When,
};

impl super::Config {
    /// What its rules and rewrites make of items: the global rules, and each source's.
    pub fn shaping(&self) -> Shaping {
        let sources = self.sources.iter().map(|s| {
            let own = SourceShaping {
                name: s.name.clone(),
                tags: s.tags.clone(),
                rules: s.rules.clone(),
                rewrites: s.rewrites.clone(),
            };
            (s.url.clone(), own)
        });
        let strip_query = self.items.strip_query.clone();
        Shaping::new(self.rules.clone(), strip_query, sources.collect())
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
            reported_by_at_least: w.reported_by_at_least,
            ..When::default()
        };
        if w.reported_by_at_least == Some(0) {
            let key = format!("{label}.when.reported_by_at_least");
            self.report(file, key, "must be at least 1 (the item itself)".into());
            ok = false;
        }
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

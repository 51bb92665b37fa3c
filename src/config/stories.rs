//! `[stories]`: whether the items of different sources that tell one story are grouped, how
//! alike they must be, how far apart in time, and which pairs never are. Validated here into
//! [`crate::stories::Settings`]; `[[outputs]] stories` says whether an output writes one entry
//! per story.

use std::sync::Arc;

use serde::Deserialize;

use super::SourceConfig;
use super::validate::Validator;
use crate::stories::{DEFAULT_SIMILARITY, Never, Settings};

/// Whether stories are grouped unless the config says: on, since the evaluation set meets its
/// targets (`tests/stories.rs`).
pub const ENABLED_BY_DEFAULT: bool = true;

/// `[stories]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStories {
    enabled: Option<bool>,
    similarity: Option<f64>,
    within: Option<String>,
    #[serde(default)]
    never: Vec<RawNever>,
}

/// `[[stories.never]]` as written: two links, or two sources.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNever {
    links: Option<Vec<String>>,
    sources: Option<Vec<String>>,
}

/// How an output writes the versions of a story.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoriesShown {
    /// One entry per story: its lead, naming the others ("Also reported by").
    #[default]
    Collapse,
    /// Every version, each its own entry.
    All,
}

impl Validator<'_> {
    /// `[stories]`, validated: `None` when stories are off.
    pub(super) fn stories(
        &mut self,
        raw: &RawStories,
        sources: &[Arc<SourceConfig>],
    ) -> Option<Settings> {
        let similarity = raw.similarity.unwrap_or(DEFAULT_SIMILARITY);
        if !(similarity > 0.0 && similarity <= 1.0) {
            let message = format!("must be above 0 and at most 1, not {similarity}");
            self.report(self.file, "stories.similarity".into(), message);
        }
        let within = match raw.within.as_deref() {
            Some(text) => self.duration(self.file, "stories.within".into(), text),
            None => Some(std::time::Duration::from_secs(
                crate::stories::DEFAULT_WITHIN_SECS.unsigned_abs(),
            )),
        };
        if within.is_some_and(|w| w.is_zero()) {
            self.report(
                self.file,
                "stories.within".into(),
                "must be longer than 0".into(),
            );
        }
        let never = raw
            .never
            .iter()
            .enumerate()
            .filter_map(|(index, never)| self.never(index, never, sources))
            .collect();
        let settings = Settings {
            similarity,
            within_secs: within.map_or(0, |w| i64::try_from(w.as_secs()).unwrap_or(i64::MAX)),
            never,
        };
        raw.enabled
            .unwrap_or(ENABLED_BY_DEFAULT)
            .then_some(settings)
    }

    fn never(
        &mut self,
        index: usize,
        raw: &RawNever,
        sources: &[Arc<SourceConfig>],
    ) -> Option<Never> {
        let key = format!("stories.never[{index}]");
        let pair = |v: &mut Self, key: String, values: &[String]| match values {
            [a, b] => Some((a.clone(), b.clone())),
            _ => {
                let message = format!("names two, not {}", values.len());
                v.report(v.file, key, message);
                None
            }
        };
        match (&raw.links, &raw.sources) {
            (Some(links), None) => {
                let (a, b) = pair(self, format!("{key}.links"), links)?;
                Some(Never::Links(a, b))
            }
            (None, Some(names)) => {
                let (a, b) = pair(self, format!("{key}.sources"), names)?;
                let url = |v: &mut Self, name: &str| {
                    let found = sources
                        .iter()
                        .find(|s| s.name.as_deref() == Some(name) || s.url == name);
                    if found.is_none() {
                        let message = format!("no source is named {name:?}");
                        v.report(v.file, format!("{key}.sources"), message);
                    }
                    found.map(|s| s.url.clone())
                };
                let (a, b) = (url(self, &a), url(self, &b));
                Some(Never::Sources(a?, b?))
            }
            _ => {
                let message = "names either two `links` or two `sources`".into();
                self.report(self.file, key, message);
                None
            }
        }
    }
}

//! Stories: the items of different sources that tell the same story (a joint statement on
//! four ministries' sites, a wire story retitled by each outlet, a release cut to a teaser),
//! found by their text and joined under the first of them stored, its lead.
//!
//! How, and what it costs:
//! - **Looking up.** Each item is keyed by six-word runs of its text that start at anchors
//!   (words whose hash says so, so where a publisher breaks its sentences does not matter): the
//!   first few, and the smallest of the rest ([`Sentences::keys`]), stored beside it. A new
//!   item looks up the stored items that share a key and were published within `within` of
//!   it: an index lookup per key, whatever the size of the archive. A copy that is retitled,
//!   cut to a teaser, given or robbed of a paragraph, wrapped in a header or re-punctuated
//!   still shares one.
//! - **Comparing.** Only those few are compared, on their whole text: the share of the shorter
//!   one's word triples (shingles) that the other holds ([`similarity`]). A teaser is wholly in
//!   its article; two statements on one ceasefire share phrases, not most of their triples.
//! - **Boilerplate.** Sentences that recur across one source's items of different titles ("About
//!   the Institute", notes to editors, contacts, disclaimers) are left out of both sides of a
//!   comparison ([`boilerplate`]), so two releases of one office are not joined by them.
//! - **Joining** ([`join`]): into the most similar neighbour's story, unless that story already
//!   holds an item of the same source (identity and updates join those) or the config says the
//!   two are never joined.

pub mod text;

pub use text::Sentences;

use std::collections::{HashMap, HashSet};

/// The similarity at which two items are joined unless the config says otherwise: chosen on
/// the evaluation set in `tests/fixtures/stories/` (see `tests/stories.rs`).
pub const DEFAULT_SIMILARITY: f64 = 0.5;

/// How far apart in time two items may have been published and still be compared, by default.
pub const DEFAULT_WITHIN_SECS: i64 = 3 * 24 * 3600;

/// The fewest word triples the shorter of two texts needs for them to be joined: below it, a
/// shared phrase would be the whole of one.
pub const FEWEST_SHINGLES: usize = 8;

/// How stories are found, as the config says.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The similarity (0 to 1) at which two items are joined.
    pub similarity: f64,
    /// How far apart two items may have been published, in seconds, to be compared.
    pub within_secs: i64,
    /// Pairs never joined.
    pub never: Vec<Never>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            similarity: DEFAULT_SIMILARITY,
            within_secs: DEFAULT_WITHIN_SECS,
            never: Vec::new(),
        }
    }
}

impl Settings {
    /// What the stored grouping was made with: when it differs from the config's, the store
    /// groups every item again.
    pub fn digest(&self) -> String {
        let mut never: Vec<String> = self.never.iter().map(|n| format!("{n:?}")).collect();
        never.sort();
        format!(
            "similarity={} within={} never={}",
            self.similarity,
            self.within_secs,
            never.join("|")
        )
    }
}

/// A pair the config says is never joined, in either order.
#[derive(Debug, Clone, PartialEq)]
pub enum Never {
    /// The items with these two links.
    Links(String, String),
    /// Any item of one source with any item of the other (their feed URLs).
    Sources(String, String),
}

impl Never {
    fn parts(&self, a: &Member<'_>, b: &Member<'_>) -> bool {
        let pair = |x: &str, y: &str, p: Option<&str>, q: Option<&str>| {
            (p == Some(x) && q == Some(y)) || (p == Some(y) && q == Some(x))
        };
        match self {
            Never::Links(x, y) => pair(x, y, a.link, b.link),
            Never::Sources(x, y) => pair(x, y, Some(a.source), Some(b.source)),
        }
    }
}

/// An item as joining sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member<'a> {
    /// Its row's id.
    pub item: i64,
    /// Its source's feed URL.
    pub source: &'a str,
    /// Its link.
    pub link: Option<&'a str>,
}

/// A stored item that shares a key with a new one, and how similar the two are.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// Its row's id.
    pub item: i64,
    /// The lead of its story (itself when it leads one, or is alone).
    pub story: i64,
    /// The similarity of its text and the new item's, 0 to 1.
    pub similarity: f64,
}

/// The neighbour whose story `new` joins: the most similar at `settings.similarity` or above
/// (the earliest story among equals) whose story (`members`: every item of it) holds no item of
/// `new`'s source and nothing the config says is never joined with `new`.
pub fn join<'n>(
    new: &Member<'_>,
    neighbours: &'n [Neighbour],
    members: &HashMap<i64, Vec<Member<'_>>>,
    settings: &Settings,
) -> Option<&'n Neighbour> {
    let allowed = |n: &&Neighbour| {
        members.get(&n.story).is_none_or(|story| {
            story
                .iter()
                .all(|m| m.source != new.source && !settings.never.iter().any(|x| x.parts(new, m)))
        })
    };
    neighbours
        .iter()
        .filter(|n| n.similarity >= settings.similarity)
        .filter(allowed)
        .max_by(|a, b| {
            a.similarity
                .total_cmp(&b.similarity)
                .then(b.story.cmp(&a.story))
        })
}

/// How much of the shorter text the longer holds, 0 to 1: the share of its word triples found
/// in the other's, sentences in `boilerplate` left out of both. Texts too short to tell are 0.
pub fn similarity(a: &Sentences, b: &Sentences, boilerplate: &HashSet<u64>) -> f64 {
    let (a, b) = (shingles(a, boilerplate), shingles(b, boilerplate));
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.len() < FEWEST_SHINGLES {
        return 0.0;
    }
    let shared = small.iter().filter(|s| large.contains(s)).count();
    shared as f64 / small.len() as f64
}

/// The word triples of `text`'s title, and of its text without the sentences in
/// `boilerplate`, each read as one run of words: where a copy ends its sentences does not
/// matter.
fn shingles(text: &Sentences, boilerplate: &HashSet<u64>) -> HashSet<u64> {
    let title: Vec<u64> = text
        .title()
        .iter()
        .flat_map(|s| s.words.iter().copied())
        .collect();
    let body: Vec<u64> = text
        .body()
        .iter()
        .filter(|s| !boilerplate.contains(&s.hash))
        .flat_map(|s| s.words.iter().copied())
        .collect();
    [title, body]
        .iter()
        .flat_map(|run| run.windows(3))
        .map(|w| text::mix(text::mix(w[0] ^ 1) ^ w[1]) ^ w[2].rotate_left(17))
        .collect()
}

/// The sentences that recur across `items` (one source's) under different titles: its
/// boilerplate. One story stored twice is not boilerplate of itself.
pub fn boilerplate<'a>(items: impl IntoIterator<Item = &'a Sentences>) -> HashSet<u64> {
    let outlines: Vec<Outline> = items.into_iter().map(Sentences::outline).collect();
    boilerplate_of(&outlines)
}

/// What boilerplate is found from: an item's title's hash and its text's sentences' hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    /// Its title's hash.
    pub title: u64,
    /// Each sentence's hash, in order.
    pub sentences: Vec<u64>,
}

/// [`boilerplate`], from items' outlines (what the store keeps of a source's latest items).
pub fn boilerplate_of<'a>(items: impl IntoIterator<Item = &'a Outline>) -> HashSet<u64> {
    let mut first_title: HashMap<u64, u64> = HashMap::new();
    let mut recurring = HashSet::new();
    for item in items {
        for sentence in &item.sentences {
            let seen = *first_title.entry(*sentence).or_insert(item.title);
            if seen != item.title {
                recurring.insert(*sentence);
            }
        }
    }
    recurring
}

#[cfg(test)]
mod tests;

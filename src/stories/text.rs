//! An item's text as stories compare it: its sentences, each a run of folded words, hashed so
//! that nothing here depends on how a publisher punctuates, quotes or lays out its paragraphs.

use std::collections::HashSet;

use crate::model::Item;
use crate::sanitize::lines_of_clean_html;
use crate::search::text::push_words;

/// The most words of one item that are compared: the beginning of an article says what it is.
pub const MOST_WORDS: usize = 2_000;

/// The words a key is made of, from an anchor on.
pub const KEY_WORDS: usize = 6;

/// How many anchors from the beginning of the text give keys: a teaser holds the beginning.
pub const FIRST_KEYS: usize = 3;

/// How many more keys are the text's smallest, wherever they are: a copy that adds a long
/// paragraph at the top still holds them.
pub const LEAST_KEYS: usize = 2;

/// One word in this many is an anchor, chosen by its hash: keys start where the words say,
/// not where sentences or paragraphs do, so a copy that runs paragraphs together, or cuts
/// them apart, has the same keys.
const ANCHOR_EVERY: u64 = 8;

/// An item's sentences, in order, the title first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sentences {
    sentences: Vec<Sentence>,
    /// Where the text begins, after the title's sentences.
    body_from: usize,
}

/// One sentence: its words' hashes, and its own hash (what boilerplate is known by).
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    pub(super) words: Vec<u64>,
    pub(super) hash: u64,
}

impl Sentences {
    /// The sentences of `item`: its title, then its text (the longest of its full text, content
    /// and summary, since a teaser's summary is in its content too), up to [`MOST_WORDS`].
    pub fn of(item: &Item, full_text: Option<&str>) -> Sentences {
        let mut sentences = Sentences::default();
        let mut room = MOST_WORDS;
        if let Some(title) = &item.title {
            sentences.push_text(title, &mut room);
        }
        sentences.body_from = sentences.sentences.len();
        let texts = [
            full_text.map(|html| (html, true)),
            item.content.as_ref().map(|t| (t.body.as_str(), t.is_html)),
            item.summary.as_ref().map(|t| (t.body.as_str(), t.is_html)),
        ];
        let longest = texts
            .into_iter()
            .flatten()
            .max_by_key(|(body, _)| body.len());
        if let Some((body, is_html)) = longest {
            let plain;
            let text = if is_html {
                plain = lines_of_clean_html(body, 32 * MOST_WORDS);
                plain.as_str()
            } else {
                body
            };
            sentences.push_text(text, &mut room);
        }
        sentences
    }

    /// Appends the sentences of plain `text`, a sentence ending at `.`, `!`, `?`, `…` or a line
    /// break, while `room` (words) lasts.
    fn push_text(&mut self, text: &str, room: &mut usize) {
        // One buffer for every sentence's folded words: no string per word.
        let mut folded = String::new();
        for piece in text.split(['.', '!', '?', '…', '\n', '。']) {
            if *room == 0 {
                return;
            }
            folded.clear();
            push_words(piece, &mut folded, room);
            let words: Vec<u64> = folded
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| hash(w.as_bytes()))
                .collect();
            if words.is_empty() {
                continue;
            }
            let hash = words.iter().fold(0x9e37_79b9_7f4a_7c15, |h, w| mix(h ^ w));
            self.sentences.push(Sentence { words, hash });
        }
    }

    /// The keys a copy of this story is looked up by: the [`KEY_WORDS`] words from each
    /// anchor of the text (not its title: copies retitle, nor its source's `boilerplate`: a
    /// site wraps every story in the same header), the first [`FIRST_KEYS`] and the
    /// [`LEAST_KEYS`] smallest of the rest.
    pub fn keys(&self, boilerplate: &HashSet<u64>) -> Vec<i64> {
        let words: Vec<u64> = self
            .body()
            .iter()
            .filter(|s| !boilerplate.contains(&s.hash))
            .flat_map(|s| s.words.iter().copied())
            .collect();
        let mut keys: Vec<i64> = words
            .windows(KEY_WORDS)
            .filter(|w| w[0] % ANCHOR_EVERY == 0)
            .map(|w| w.iter().fold(KEY_SEED, |h, w| mix(h ^ w)) as i64)
            .collect();
        let rest = keys.split_off(keys.len().min(FIRST_KEYS));
        let mut least: Vec<i64> = rest.into_iter().filter(|k| !keys.contains(k)).collect();
        least.sort_unstable();
        least.dedup();
        keys.extend(least.into_iter().take(LEAST_KEYS));
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The sentences of its title.
    pub fn title(&self) -> &[Sentence] {
        &self.sentences[..self.body_from]
    }

    /// The sentences of its text, after the title.
    pub fn body(&self) -> &[Sentence] {
        &self.sentences[self.body_from..]
    }

    /// Its title's hash and its text's sentences' hashes: what boilerplate is found from.
    pub fn outline(&self) -> super::Outline {
        super::Outline {
            title: self.title_hash(),
            sentences: self.body().iter().map(|s| s.hash).collect(),
        }
    }

    /// Its title's hash: what tells one story stored twice from two stories.
    pub fn title_hash(&self) -> u64 {
        self.title().iter().fold(0, |h, s| mix(h ^ s.hash))
    }
}

const KEY_SEED: u64 = 0x6a09_e667_f3bc_c908;

/// FNV-1a, then mixed: stable across builds and platforms, because keys are stored.
pub(super) fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// splitmix64's finalizer: every bit of the input moves every bit of the output.
pub(super) fn mix(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

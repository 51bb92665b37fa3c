//! Words as the index holds them: folded (case and accents do not matter) and split at every
//! character that is not a letter or a digit, the same on every backend and in the matcher.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The most words of one item that are indexed: PostgreSQL numbers a word's positions up to
/// 16,383, and the matcher must see what the index sees.
pub const MOST_WORDS: usize = 16_000;

/// `text`'s words, folded: `Café, CAFE!` gives `cafe`, `cafe`.
pub fn words(text: &str) -> Vec<String> {
    spans(text).map(|(_, word)| word).collect()
}

/// `text`'s words, folded, each with the byte range it came from in `text`.
pub fn spans(text: &str) -> impl Iterator<Item = (std::ops::Range<usize>, String)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while chars.peek().is_some_and(|(_, c)| !c.is_alphanumeric()) {
            chars.next();
        }
        let (start, _) = *chars.peek()?;
        let mut end = start;
        let mut word = String::new();
        while let Some(&(at, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            fold_into(c, &mut word);
            end = at + c.len_utf8();
            chars.next();
        }
        Some((start..end, word))
    })
    .filter(|(_, word)| !word.is_empty())
}

/// Appends `text`'s words, folded, to `out`, each after a space when `out` is not empty, while
/// `room` (a count of words) lasts: how the index's columns are written, without a string per
/// word.
pub fn push_words(text: &str, out: &mut String, room: &mut usize) {
    let mut in_word = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if !in_word {
                if *room == 0 {
                    return;
                }
                *room -= 1;
                if !out.is_empty() {
                    out.push(' ');
                }
                in_word = true;
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii() || !c.is_alphanumeric() {
            in_word = false;
        } else {
            let before = out.len();
            if !in_word {
                if *room == 0 {
                    return;
                }
                if !out.is_empty() {
                    out.push(' ');
                }
            }
            let mark = out.len();
            fold_into(c, out);
            if out.len() == mark {
                // Nothing left of it (a lone combining mark): no word started.
                out.truncate(before);
            } else if !in_word {
                *room -= 1;
                in_word = true;
            }
        }
    }
}

/// Appends `c` lower-cased, its accents dropped (`É` → `e`, `ß` → `ss`).
fn fold_into(c: char, word: &mut String) {
    if c.is_ascii() {
        word.push(c.to_ascii_lowercase());
        return;
    }
    if c == 'ß' || c == 'ẞ' {
        word.push_str("ss");
        return;
    }
    for lower in c.to_lowercase() {
        for part in std::iter::once(lower).nfkd() {
            if !is_combining_mark(part) && part.is_alphanumeric() {
                word.extend(part.to_lowercase());
            }
        }
    }
}

/// A value compared whole (a tag, a host): its words joined by one space.
pub fn folded(text: &str) -> String {
    words(text).join(" ")
}

/// A short passage of a text around the words a search looked for: pieces of text, each
/// marked or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet(pub Vec<(String, bool)>);

impl Snippet {
    /// Up to `around` words of `text` either side of the first of `wanted` found in it (else
    /// its beginning), each word of `wanted` marked.
    pub fn of(text: &str, wanted: &[String], around: usize) -> Snippet {
        let spans: Vec<_> = spans(text).collect();
        let first = spans
            .iter()
            .position(|(_, word)| wanted.contains(word))
            .unwrap_or(0);
        let from = first.saturating_sub(around);
        let to = (first + around + 1).min(spans.len());
        let Some((first_shown, _)) = spans.get(from) else {
            return Snippet::default();
        };
        let mut pieces = Vec::new();
        let mut plain = String::from(if from > 0 { "… " } else { "" });
        let mut at = first_shown.start;
        for (range, word) in &spans[from..to] {
            plain.push_str(&text[at..range.start]);
            if wanted.contains(word) {
                pieces.push((std::mem::take(&mut plain), false));
                pieces.push((text[range.clone()].to_string(), true));
            } else {
                plain.push_str(&text[range.clone()]);
            }
            at = range.end;
        }
        if to < spans.len() {
            plain.push_str(" …");
        }
        pieces.push((plain, false));
        pieces.retain(|(piece, _)| !piece.is_empty());
        for (piece, _) in &mut pieces {
            let ends = (
                piece.starts_with(char::is_whitespace),
                piece.ends_with(char::is_whitespace),
            );
            let mut folded = piece.split_whitespace().collect::<Vec<_>>().join(" ");
            if ends.0 {
                folded.insert(0, ' ');
            }
            if ends.1 && !folded.ends_with(' ') {
                folded.push(' ');
            }
            *piece = folded;
        }
        Snippet(pieces)
    }

    /// As HTML: escaped, the marked words in `<mark>`.
    pub fn html(&self) -> String {
        self.with(escaped, ("<mark>", "</mark>"))
    }

    /// As plain text, the marked words between `mark`'s halves.
    pub fn plain(&self, mark: (&str, &str)) -> String {
        self.with(str::to_string, mark)
    }

    fn with(&self, shown: fn(&str) -> String, mark: (&str, &str)) -> String {
        let mut out = String::new();
        for (piece, marked) in &self.0 {
            if *marked {
                out.push_str(mark.0);
                out.push_str(&shown(piece));
                out.push_str(mark.1);
            } else {
                out.push_str(&shown(piece));
            }
        }
        out.trim().to_string()
    }
}

/// `text` safe inside an HTML element.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_accents_do_not_matter() {
        assert_eq!(
            words("Café CAFE naïve Straße"),
            ["cafe", "cafe", "naive", "strasse"]
        );
        assert_eq!(words("covid-19: l'été"), ["covid", "19", "l", "ete"]);
        assert_eq!(words("*^:\"()"), Vec::<String>::new());
        assert_eq!(
            words("Ελληνικά Русский 東京"),
            ["ελληνικα", "русскии", "東京"]
        );
    }

    #[test]
    fn words_are_written_as_they_are_split() {
        for text in [
            "Café, CAFE! naïve Straße",
            "a\u{301}b c",
            "x-1 ..y",
            "",
            "Ελληνικά 東京",
        ] {
            let mut out = String::new();
            push_words(text, &mut out, &mut usize::MAX.clone());
            assert_eq!(out, words(text).join(" "), "{text}");
        }
        let mut out = String::new();
        let mut room = 2;
        push_words("one two three", &mut out, &mut room);
        assert_eq!((out.as_str(), room), ("one two", 0));
    }

    #[test]
    fn a_snippet_marks_the_words_and_escapes_the_rest() {
        let text = "One two <three>\n four Cycle routes five six seven eight";
        let shown = Snippet::of(text, &["cycle".into(), "routes".into()], 2);
        assert_eq!(
            shown.html(),
            "… three&gt; four <mark>Cycle</mark> <mark>routes</mark> five …"
        );
        assert_eq!(
            shown.plain(("[", "]")),
            "… three> four [Cycle] [routes] five …"
        );
        let none = Snippet::of("Short text", &["absent".into()], 5);
        assert_eq!(none.plain(("[", "]")), "Short text");
        assert_eq!(Snippet::of("", &[], 5).html(), "");
    }
}

//! Publisher HTML made shallow enough for any HTML parser to read in time proportional to its
//! size, in one pass that builds nothing.

use std::borrow::Cow;

/// How deep elements may nest in publisher HTML; tags deeper are dropped, their text kept.
/// HTML parsers look through the open elements at each tag, so a page of 100,000 nested `<div>`s
/// costs time in the square of its size: flattened first, every page costs time in its size.
/// Real articles nest a few dozen deep at most.
pub const MAX_NESTING: usize = 128;

/// Elements that never hold others (no end tag), and those whose end a parser implies (a new
/// `<p>`, `<li>` or `<td>` ends the last): neither deepens the nesting.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "rp", "rt", "colgroup", "caption", "image", "keygen", "frame", "basefont",
    "bgsound", "html", "head", "body",
];

/// Elements whose content is text, not tags, up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// `html` with every tag nested deeper than `max` dropped (its text kept), in one pass: what
/// an HTML parser can then read in time proportional to its size. Comments, doctypes and raw
/// text (scripts, styles) pass as they are; nesting is counted as a parser would roughly see
/// it, without building anything. Borrowed when nothing is that deep.
pub fn limit_nesting(html: &str, max: usize) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut out: Option<String> = None;
    // Where the text not yet copied to `out` starts.
    let mut copied = 0;
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'<', &bytes[at..]) {
        let start = at + found;
        let tag = Tag::at(bytes, start);
        at = tag.end;
        let drop = match tag.kind {
            TagKind::Start { counts: true } => {
                depth += 1;
                depth > max
            }
            TagKind::RawText(raw) => {
                at = raw_text_end(bytes, at, raw);
                false
            }
            TagKind::Start { counts: false } => false,
            TagKind::End { counts: true } => {
                let drop = depth > max;
                depth = depth.saturating_sub(1);
                drop
            }
            TagKind::End { counts: false } | TagKind::Other => false,
        };
        if drop {
            let out = out.get_or_insert_with(|| String::with_capacity(html.len()));
            out.push_str(&html[copied..start]);
            copied = tag.end;
        }
    }
    match out {
        Some(mut out) => {
            out.push_str(&html[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(html),
    }
}

/// What a `<` starts.
enum TagKind {
    /// A start tag; `counts` unless it is void or ends itself.
    Start { counts: bool },
    /// The start tag of an element of raw text (a script, a style), never dropped.
    RawText(&'static str),
    /// An end tag.
    End { counts: bool },
    /// A comment, doctype, processing instruction, or a `<` that starts no tag.
    Other,
}

struct Tag {
    kind: TagKind,
    /// Just past its `>` (or the end of the text).
    end: usize,
}

impl Tag {
    /// The tag at `start` (a `<`) of `bytes`.
    fn at(bytes: &[u8], start: usize) -> Tag {
        let rest = &bytes[start + 1..];
        let past =
            |offset: Option<usize>, len: usize| offset.map_or(bytes.len(), |i| start + 1 + i + len);
        if rest.starts_with(b"!--") {
            let end = memchr::memmem::find(&rest[3..], b"-->").map(|i| i + 3);
            return Tag {
                kind: TagKind::Other,
                end: past(end, 3),
            };
        }
        let (closing, name_from) = match rest.first() {
            Some(b'/') => (true, 1),
            Some(b) if b.is_ascii_alphabetic() => (false, 0),
            Some(b'!' | b'?') => {
                return Tag {
                    kind: TagKind::Other,
                    end: past(memchr::memchr(b'>', rest), 1),
                };
            }
            _ => {
                return Tag {
                    kind: TagKind::Other,
                    end: start + 1,
                };
            }
        };
        let name_len = rest[name_from..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b':'))
            .unwrap_or(rest.len() - name_from);
        if name_len == 0 {
            return Tag {
                kind: TagKind::Other,
                end: start + 1,
            };
        }
        let name = &rest[name_from..name_from + name_len];
        let named = |n: &&&str| n.as_bytes().eq_ignore_ascii_case(name);
        let raw = RAW_TEXT.iter().find(named).copied();
        let counts = raw.is_none() && !NOT_NESTING.iter().any(|n| named(&n));
        // The tag ends at the first `>` outside a quoted attribute value.
        let mut quote = None;
        let mut i = name_from + name_len;
        let mut self_closing = false;
        while i < rest.len() {
            let b = rest[i];
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'>' => {
                    self_closing = i > 0 && rest[i - 1] == b'/';
                    break;
                }
                None => {}
            }
            i += 1;
        }
        let end = (start + 1 + i + 1).min(bytes.len());
        let kind = match (closing, raw) {
            (true, _) => TagKind::End { counts },
            (false, Some(raw)) => TagKind::RawText(raw),
            // `<div/>` is a start tag in HTML too, but foreign elements (svg, math) close so.
            (false, None) => TagKind::Start {
                counts: counts && !self_closing,
            },
        };
        Tag { kind, end }
    }
}

/// Where the raw text of a `raw` element that starts at `from` ends: at its end tag.
fn raw_text_end(bytes: &[u8], from: usize, raw: &str) -> usize {
    let mut at = from;
    while let Some(found) = memchr::memmem::find(&bytes[at..], b"</") {
        let name_at = at + found + 2;
        let name = bytes.get(name_at..name_at + raw.len());
        if name.is_some_and(|n| n.eq_ignore_ascii_case(raw.as_bytes())) {
            return at + found;
        }
        at = name_at;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::{clean_html, html_to_text};

    #[test]
    fn deep_nesting_is_flattened_and_its_text_kept() {
        let n = 10_000;
        let deep = format!("{}deep{}", "<div>".repeat(n), "</div>".repeat(n));
        let flat = limit_nesting(&deep, MAX_NESTING);
        assert_eq!(flat.matches("<div>").count(), MAX_NESTING);
        assert_eq!(flat.matches("</div>").count(), MAX_NESTING);
        assert!(flat.contains("deep"));
        assert_eq!(html_to_text(&deep), "deep");
        assert_eq!(
            clean_html(&deep, None).matches("<div>").count(),
            MAX_NESTING
        );
        // What is not that deep passes as it is: voids, implied ends, comments, raw text and
        // quoted `>` do not deepen anything.
        let shallow = format!(
            "{}<p>a<p>b<br><img src=\"x>y\"><!-- <div><div> --><script>if (a<b) {{}}</script>{}",
            "<section>".repeat(MAX_NESTING - 1),
            "<li>".repeat(3 * MAX_NESTING)
        );
        assert!(matches!(
            limit_nesting(&shallow, MAX_NESTING),
            Cow::Borrowed(_)
        ));
        // Unclosed tags count: a page can never make a parser see more than the limit.
        let unclosed = "<b>x".repeat(3 * MAX_NESTING);
        assert_eq!(
            limit_nesting(&unclosed, MAX_NESTING).matches("<b>").count(),
            MAX_NESTING
        );
    }
}

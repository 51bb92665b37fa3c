//! HTML cleaning and URL resolution for what publishers send. Pure.
//!
//! Every piece of HTML is cleaned with ammonia before it is stored: no scripts, event handlers,
//! `javascript:` URLs, iframes, forms or styles reach a subscriber's reader. Relative links are
//! made absolute against the item's base so they still work once the item leaves its feed.
//! Every URL outside the HTML is checked the same way ([`web_url`]), and every line of text a
//! reader shows is bounded ([`bounded_line`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use ammonia::{Builder, UrlRelative};
use std::net::IpAddr;

use url::Url;

use crate::model::{Author, Category, Item};

mod nesting;
mod shown;

pub use nesting::{MAX_NESTING, limit_nesting};
use shown::forget_credentials_in;
pub use shown::{forget_credentials, shown_url, shown_webhook};

thread_local! {
    /// The cleaner [`clean_html`] uses, built once per thread: building one (its sets of
    /// allowed tags and attributes) cost more than a third of cleaning a typical item.
    static CLEANER: RefCell<Builder<'static>> = RefCell::new(cleaner());
    /// The stripper [`html_to_text`] uses, built once per thread for the same reason.
    static STRIPPER: Builder<'static> = {
        let mut builder = Builder::empty();
        builder.clean_content_tags(HashSet::from(["script", "style"]));
        builder
    };
}

fn cleaner() -> Builder<'static> {
    let mut builder = Builder::default();
    builder.link_rel(Some("noopener noreferrer"));
    // Harmless, and what a source's `remove` selectors (".share-buttons") find parts by.
    builder.add_generic_attributes(["class"]);
    // Only schemes a reader can follow safely: no javascript:, vbscript: or data: (not even for
    // images: an SVG in a data: URL can carry script).
    builder.url_schemes(HashSet::from(["http", "https", "mailto"]));
    builder
}

/// Cleans publisher HTML down to safe markup, resolving relative URLs against `base`.
pub fn clean_html(html: &str, base: Option<&Url>) -> String {
    let html = limit_nesting(html, MAX_NESTING);
    let html = html.as_ref();
    CLEANER.with_borrow_mut(|builder| {
        match base {
            Some(base) if base.scheme() == "http" || base.scheme() == "https" => {
                builder.url_relative(UrlRelative::RewriteWithBase(base.clone()));
            }
            _ => {
                builder.url_relative(UrlRelative::PassThrough);
            }
        }
        builder.clean(html).to_string()
    })
}

/// The longest item title kept, in characters.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// The longest author name, category term or feed title kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// `url`, trimmed, if a reader can follow it safely: an absolute `http` or `https` URL. The
/// scheme is read as browsers read it (the WHATWG URL standard: case, surrounding spaces, tabs
/// and line breaks inside ignored), so `JavaScript:`, ` data:` or `java\tscript:` are refused
/// like `javascript:`. What is kept is the publisher's text, not a re-serialization, so that an
/// item's identity (which may be its link) does not change.
pub fn web_url(url: &str) -> Option<&str> {
    let url = url.trim();
    // Nearly every URL starts so, and then its scheme cannot be another: no parse needed.
    if url.starts_with("https://") || url.starts_with("http://") {
        return Some(url);
    }
    let parsed = Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(url)
}

/// Drops the URLs of `item` that a reader's software would load by itself (its image, its
/// enclosures) when they name a private, loopback or link-local address as written: a public
/// publisher must not make subscribers' podcast clients and readers reach into their own
/// networks. Returns what was dropped, for `explain`.
pub fn drop_private_urls(item: &mut Item) -> Vec<&'static str> {
    let private = |url: &str| Url::parse(url).is_ok_and(|u| is_private_host(&u));
    let mut dropped = Vec::new();
    if item.image.as_deref().is_some_and(private) {
        item.image = None;
        dropped.push("image dropped: a private address");
    }
    let enclosures = item.enclosures.len();
    item.enclosures.retain(|e| !private(&e.url));
    if item.enclosures.len() < enclosures {
        dropped.push("enclosure dropped: a private address");
    }
    dropped
}

/// Whether `url`'s host is, as written, a loopback, private or link-local address: an IP
/// address in those ranges (in any form the URL standard reads, `http://2130706433/` too), or
/// `localhost`. Names are not resolved.
pub fn is_private_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_private_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// Loopback, private (RFC 1918, unique local), link-local, shared (CGNAT) or unspecified.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// `text` as one line (white space folded, control characters dropped) of at most `max`
/// characters: a longer one is cut at a character boundary and ends with "…".
pub fn bounded_line(text: &str, max: usize) -> String {
    let mut line = fold_whitespace(text);
    bound(&mut line, max);
    line
}

/// Cuts `line` (already one line) to at most `max` characters, ending a cut one with "…".
fn bound(line: &mut String, max: usize) {
    // Fewer bytes than `max` are fewer characters: most lines need no counting.
    if line.len() <= max || line.char_indices().nth(max).is_none() {
        return;
    }
    let keep = max.saturating_sub(1);
    let end = line.char_indices().nth(keep).map_or(line.len(), |(i, _)| i);
    line.truncate(end);
    line.truncate(line.trim_end().len());
    line.push('…');
}

/// Makes an item fit to publish: drops each URL a reader could not safely follow (its link,
/// image, enclosures, authors' URIs) and bounds each line of text (title, authors, categories).
/// Returns what was dropped, for `explain`.
pub fn fit_to_publish(item: &mut Item) -> Vec<&'static str> {
    let mut dropped = Vec::new();
    let mut keep_url = |url: &mut Option<String>, note: &'static str| {
        if url.as_deref().is_some_and(|u| web_url(u).is_none()) {
            *url = None;
            dropped.push(note);
        }
        if let Some(url) = url {
            forget_credentials_in(url);
        }
    };
    keep_url(&mut item.link, "link dropped: not http(s)");
    if item.link.is_none() {
        item.link_title = None;
    }
    keep_url(&mut item.image, "image dropped: not http(s)");
    let links = item.links.len();
    item.links.retain(|l| web_url(&l.href).is_some());
    if item.links.len() < links {
        dropped.push("related URL dropped: not http(s)");
    }
    for author in &mut item.authors {
        if fit_author(author) {
            dropped.push("author URI dropped: not http(s)");
        }
    }
    let enclosures = item.enclosures.len();
    item.enclosures.retain(|e| web_url(&e.url).is_some());
    if item.enclosures.len() < enclosures {
        dropped.push("enclosure dropped: not http(s)");
    }
    for link in &mut item.links {
        forget_credentials_in(&mut link.href);
    }
    for enclosure in &mut item.enclosures {
        forget_credentials_in(&mut enclosure.url);
    }
    // Titles and categories are folded into one line as they are read.
    let link_titles = item.links.iter_mut().filter_map(|l| l.title.as_mut());
    for title in [&mut item.title, &mut item.link_title]
        .into_iter()
        .flatten()
        .chain(link_titles)
    {
        bound(title, MAX_TITLE_CHARS);
    }
    for link in &mut item.links {
        bound(&mut link.rel, MAX_NAME_CHARS);
    }
    for category in &mut item.categories {
        let Category {
            term,
            scheme,
            label,
        } = category;
        for line in [Some(term), label.as_mut()].into_iter().flatten() {
            bound(line, MAX_NAME_CHARS);
        }
        // A scheme names a vocabulary, usually by URL; it is never followed, but kept bounded.
        if let Some(scheme) = scheme {
            bound(scheme, MAX_NAME_CHARS);
        }
    }
    dropped
}

/// Bounds an author's name and email and drops a URI a reader could not safely follow;
/// whether it did drop one.
pub fn fit_author(author: &mut Author) -> bool {
    bound(&mut author.name, MAX_NAME_CHARS);
    if let Some(email) = &mut author.email {
        *email = bounded_line(email, MAX_NAME_CHARS);
    }
    let unsafe_uri = author.uri.as_deref().is_some_and(|u| web_url(u).is_none());
    if unsafe_uri {
        author.uri = None;
    }
    if let Some(uri) = &mut author.uri {
        forget_credentials_in(uri);
    }
    unsafe_uri
}

/// Turns HTML into plain text: tags dropped (scripts and styles with their contents), entities
/// decoded, runs of white space folded.
pub fn html_to_text(html: &str) -> String {
    let html = limit_nesting(html, MAX_NESTING);
    let stripped = STRIPPER.with(|stripper| stripper.clean(&html).to_string());
    fold_whitespace(&decode_serializer_entities(&stripped))
}

/// Folds runs of white space into one space and trims the ends, as a title is shown: one line
/// of text, without control characters.
pub fn fold_whitespace(text: &str) -> String {
    strip_controls(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Drops control characters and NUL bytes, keeping tabs and line breaks, and reads the C1
/// code points U+0080–U+009F as the Windows-1252 characters old publishing systems meant by
/// them (U+0092 is ’), as HTML5 and feedparser do. Copies only when there is something to fix.
pub fn strip_controls(text: &str) -> Cow<'_, str> {
    let unwanted = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if !has_controls(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter_map(|c| match c {
                '\u{80}'..='\u{9f}' => windows_1252(c),
                c if unwanted(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// Whether UTF-8 `bytes` hold a control character other than a tab or a line break: a C0 byte,
/// DEL, or a C1 code point (0xC2 then 0x80–0x9F). Every text of every feed is looked at, so
/// bytes, not chars, and whole blocks at a time without a branch per byte, which the compiler
/// turns into vector instructions (decoding chars was a twentieth of a cold ingest).
fn has_controls(bytes: &[u8]) -> bool {
    const BLOCK: usize = 256;
    let control = |b: u8| ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0x7f);
    let c1 = |lead: u8, next: u8| (lead == 0xc2) & (0x80..=0x9f).contains(&next);
    let Some(last) = bytes.last() else {
        return false;
    };
    // Each byte with the one after it; the last byte alone.
    let (leads, nexts) = (&bytes[..bytes.len() - 1], &bytes[1..]);
    control(*last)
        || leads
            .chunks(BLOCK)
            .zip(nexts.chunks(BLOCK))
            .any(|(leads, nexts)| {
                leads
                    .iter()
                    .zip(nexts)
                    .fold(false, |found, (&lead, &next)| {
                        found | control(lead) | c1(lead, next)
                    })
            })
}

/// The Windows-1252 character a C1 code point stands for, if any (five bytes of it are unused).
fn windows_1252(c: char) -> Option<char> {
    let byte = [u8::try_from(u32::from(c)).ok()?];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
    text.chars().next().filter(|c| !c.is_control())
}

/// The text of HTML that [`clean_html`] wrote, as [`html_to_text`] reads it but without
/// parsing: tags dropped (block elements part words), the entities ammonia's serializer writes
/// decoded, white space folded. Only for cleaned HTML: no comments, scripts or styles are left
/// in it, and its attribute values are quoted.
pub fn text_of_clean_html(html: &str) -> String {
    text_of_clean_html_upto(html, usize::MAX)
}

/// [`text_of_clean_html`], read only until the text holds `bytes` bytes or more (an excerpt
/// needs the beginning of a long article, not all of it).
pub fn text_of_clean_html_upto(html: &str, limit: usize) -> String {
    clean_text(html, limit, b' ')
}

/// [`text_of_clean_html`] with a line break where a block element (a paragraph, a list item, a
/// line break, a heading) parts the text: where a story's sentences and paragraphs end.
pub fn lines_of_clean_html(html: &str, limit: usize) -> String {
    clean_text(html, limit, b'\n')
}

/// The text of cleaned HTML, read until it holds `limit` bytes or more, with `block` between
/// the runs of text that block elements part.
fn clean_text(html: &str, limit: usize, block: u8) -> String {
    // One pass over bytes, one allocation: this runs for every item any text rule looks at.
    // Only ASCII is dropped or added, and words are copied whole, so what is left is UTF-8.
    let bytes = html.as_bytes();
    let mut text: Vec<u8> = Vec::with_capacity(bytes.len().min(limit.saturating_add(64)));
    let mut space = false;
    let mut at = 0;
    while at < bytes.len() && text.len() < limit {
        let byte = bytes[at];
        if byte == b'<' {
            let mut quote = None;
            let mut end = bytes.len();
            for (i, &b) in bytes.iter().enumerate().skip(at + 1) {
                match (quote, b) {
                    (None, b'"' | b'\'') => quote = Some(b),
                    (Some(q), b) if b == q => quote = None,
                    (None, b'>') => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            let tag = &bytes[at + 1..end.saturating_sub(1).max(at + 1)];
            let tag = tag.strip_prefix(b"/").unwrap_or(tag);
            let name_end = tag
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'/')
                .unwrap_or(tag.len());
            let name = &tag[..name_end];
            if !INLINE_ELEMENTS
                .iter()
                .any(|e| e.as_bytes().eq_ignore_ascii_case(name))
            {
                if block != b' ' && !text.is_empty() && text.last() != Some(&block) {
                    text.push(block);
                    space = false;
                } else {
                    space = !text.is_empty() && text.last() != Some(&block);
                }
            }
            at = end;
            continue;
        }
        if byte == b'&' {
            let (decoded, len) = SERIALIZER_ENTITIES
                .iter()
                .find(|(name, _)| bytes[at..].starts_with(name.as_bytes()))
                .map_or((b'&', 1), |(name, b)| (*b, name.len()));
            at += len;
            if decoded == b' ' {
                space = !text.is_empty();
            } else {
                if space {
                    text.push(b' ');
                    space = false;
                }
                text.push(decoded);
            }
            continue;
        }
        // A run of plain text up to the next tag or entity: its words copied whole.
        let end = memchr::memchr2(b'<', b'&', &bytes[at..]).map_or(bytes.len(), |n| at + n);
        let run = &bytes[at..end];
        if run.first().is_some_and(u8::is_ascii_whitespace) {
            space = !text.is_empty();
        }
        for word in run.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty()) {
            if space {
                text.push(b' ');
            }
            text.extend_from_slice(word);
            space = true;
        }
        // A word that ends the run goes on in what follows (an inline tag, an entity).
        space = run.last().is_some_and(u8::is_ascii_whitespace) && !text.is_empty();
        at = end;
    }
    String::from_utf8(text).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The entities ammonia's serializer writes into text nodes (a no-break space read as a space).
const SERIALIZER_ENTITIES: [(&str, u8); 5] = [
    ("&amp;", b'&'),
    ("&lt;", b'<'),
    ("&gt;", b'>'),
    ("&quot;", b'"'),
    ("&nbsp;", b' '),
];

/// Elements inside a line of text: their tags do not part words.
const INLINE_ELEMENTS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "i", "ins", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
    "var",
];

/// Decodes the few entities that ammonia's serializer writes into text nodes.
fn decode_serializer_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&quot;", "\"")
        // Last, so that an escaped entity such as `&amp;lt;` stays literal text.
        .replace("&amp;", "&")
}

/// What cleaning took out of `before` to give `after`: elements and attributes, with counts
/// (`script ×2`, `onclick= ×1`). For `explain`; not on the polling path.
pub fn removed_markup(before: &str, after: &str) -> Vec<String> {
    let census = |html: &str| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let fragment = scraper::Html::parse_fragment(html);
        for node in fragment.tree.nodes() {
            if let Some(element) = node.value().as_element() {
                *counts.entry(format!("<{}>", element.name())).or_default() += 1;
                for (name, _) in element.attrs() {
                    *counts.entry(format!("{name}=")).or_default() += 1;
                }
            }
        }
        counts
    };
    let (was, is) = (census(before), census(after));
    was.into_iter()
        .filter(|(name, _)| name != "<html>")
        .filter_map(|(name, count)| {
            let left = is.get(&name).copied().unwrap_or(0);
            (count > left).then(|| format!("{name} ×{}", count - left))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_clean_html_is_its_words_with_blocks_apart() {
        let table = [
            ("<p>a <b>job</b> advert</p><p>next</p>", "a job advert next"),
            (
                "<p>Ukr<b>ain</b>e &amp; &lt;friends&gt;</p>",
                "Ukraine & <friends>",
            ),
            (
                r#"<a href="https://x.example/?a=1&amp;b=2" title="a > b">link</a> text"#,
                "link text",
            ),
            (
                "<ul><li>one</li><li>two</li></ul><br>three",
                "one two three",
            ),
            ("plain &quot;text&quot; &amp;lt;", "plain \"text\" &lt;"),
            ("a&amp;b, x &amp; y", "a&b, x & y"),
            (
                "<p>\n  lead\t words  </p>\n<p>next&nbsp;one</p>",
                "lead words next one",
            ),
        ];
        for (html, text) in table {
            assert_eq!(text_of_clean_html(&clean_html(html, None)), text, "{html}");
        }
        // Read up to a length: the text's beginning, whole words, never less than asked.
        let long = "<p>Grüße aus dem <b>Hafen</b> und mehr</p>".repeat(50);
        let whole = text_of_clean_html(&long);
        let start = text_of_clean_html_upto(&long, 30);
        assert!(start.len() >= 30 && start.len() < 40, "{start}");
        assert!(whole.starts_with(&start), "{start}");
    }

    #[test]
    fn c1_code_points_read_as_windows_1252_and_other_controls_go() {
        // U+0092 and U+0093/U+0094 are how old systems wrote ’ and “ ”; U+0081 is unused there.
        assert_eq!(strip_controls("don\u{92}t"), "don\u{2019}t");
        assert_eq!(strip_controls("\u{93}hi\u{94}\u{81}"), "\u{201c}hi\u{201d}");
        assert_eq!(strip_controls("a\u{0}b\u{7}c\td\ne"), "abc\td\ne");
        assert!(matches!(strip_controls("plain"), Cow::Borrowed(_)));
        // No-break spaces and © begin with 0xC2 too, and are kept as they are.
        assert!(matches!(
            strip_controls("a\u{a0}b \u{a9}\u{bf}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn control_characters_are_found_wherever_they_are() {
        let unwanted = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
        let fillers = ["", "a", "é", "\u{a0}", "€", "😀", "\t\r\n"];
        let mut checked = 0;
        for c in (0..0x200).filter_map(char::from_u32) {
            for filler in fillers {
                // Around the edges of the blocks looked at together, and at either end.
                for before in [0, 1, 254, 255, 256, 300, 511, 512] {
                    let text = format!("{}{c}{filler}", filler.repeat(before));
                    assert_eq!(
                        has_controls(text.as_bytes()),
                        text.chars().any(unwanted),
                        "{c:?} after {before} × {filler:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 0x200 * 7 * 8);
        assert!(!has_controls(b""));
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        let dirty = r#"<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:alert(2)">x</a><iframe src="https://evil.example/"></iframe></p>"#;
        let clean = clean_html(dirty, None);
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
        assert!(!clean.contains("iframe"), "{clean}");
        assert!(clean.starts_with("<p>Hi "), "{clean}");
    }

    #[test]
    fn harmless_markup_stays_and_relative_links_become_absolute() {
        let base = Url::parse("https://news.example/2025/08/story.html").unwrap();
        let clean = clean_html(
            r#"<p>Read <em>more</em> <a href="../about">here</a>.</p><img src="/a.png" alt="A">"#,
            Some(&base),
        );
        assert!(clean.contains("<em>more</em>"), "{clean}");
        assert!(
            clean.contains(r#"href="https://news.example/2025/about""#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"src="https://news.example/a.png""#),
            "{clean}"
        );
    }

    #[test]
    fn only_http_and_https_urls_are_fit_to_follow() {
        for safe in [
            "https://p.example/a",
            "http://p.example/a b",
            "  HTTPS://P.example/  ",
        ] {
            assert_eq!(web_url(safe), Some(safe.trim()), "{safe:?}");
        }
        for unsafe_url in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "DATA:image/svg+xml,<svg onload=alert(1)>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "mailto:someone@p.example",
            "ftp://p.example/a",
            "/relative/path",
            "//p.example/protocol-relative",
            "",
        ] {
            assert_eq!(web_url(unsafe_url), None, "{unsafe_url:?}");
        }
    }

    #[test]
    fn lines_are_bounded_at_a_character_boundary() {
        assert_eq!(bounded_line("  a\n b ", 10), "a b");
        assert_eq!(bounded_line("abcdef", 6), "abcdef");
        assert_eq!(bounded_line("abcdefg", 6), "abcde…");
        let long = "é".repeat(5_000);
        let cut = bounded_line(&long, MAX_TITLE_CHARS);
        assert_eq!(cut.chars().count(), MAX_TITLE_CHARS);
        assert!(cut.ends_with("é…"));
        // A cut that lands after a space does not leave it before the ellipsis.
        assert_eq!(bounded_line("abcd efgh", 6), "abcd…");
    }

    #[test]
    fn what_was_removed_is_told() {
        let dirty = r#"<p onclick="x()">Hi<script>a()</script><script>b()</script></p>"#;
        let removed = removed_markup(dirty, &clean_html(dirty, None));
        assert_eq!(removed, ["<script> ×2", "onclick= ×1"]);
        assert!(removed_markup("<p>ok</p>", "<p>ok</p>").is_empty());
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            html_to_text("  Fish &amp; <b>Chips</b>\n<script>x()</script> &lt;3&nbsp;"),
            "Fish & Chips <3"
        );
        assert_eq!(html_to_text("&amp;lt;"), "&lt;");
    }

    #[test]
    fn published_item_urls_lose_user_names_and_private_enclosures() {
        let mut item = Item {
            link: Some("https://user:***@example.org/a".into()),
            image: Some("http://192.168.1.1/cam.jpg".into()),
            enclosures: vec![
                crate::model::Enclosure {
                    url: "http://127.0.0.1:8080/admin.mp3".into(),
                    ..Default::default()
                },
                crate::model::Enclosure {
                    url: "https://cdn.example.org/ep1.mp3".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        fit_to_publish(&mut item);
        assert_eq!(item.link.as_deref(), Some("https://example.org/a"));
        let dropped = drop_private_urls(&mut item);
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert_eq!(item.image, None);
        let kept: Vec<&str> = item.enclosures.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(kept, ["https://cdn.example.org/ep1.mp3"]);
    }
}

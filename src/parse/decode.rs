//! Bytes → text: the charset from a byte order mark, HTTP or the XML declaration, and the
//! repair of older dialects into ones feed-rs reads.

use std::borrow::Cow;

use encoding_rs::Encoding;
use quick_xml::events::Event;

/// The body as UTF-8 text. The charset comes from, in order: a byte order mark, the HTTP
/// `Content-Type` charset, the XML declaration; failing all, UTF-16 is recognised by its zero
/// bytes, UTF-8 is assumed, and a body that is not valid UTF-8 is read as Windows-1252 (what
/// browsers do with undeclared Latin text). Bytes that do not decode become U+FFFD, never an
/// error. An XML declaration's encoding is rewritten to UTF-8 to match.
pub fn decode<'a>(body: &'a [u8], http_charset: Option<&str>) -> Cow<'a, str> {
    decode_explained(body, http_charset).0
}

/// As [`decode`], also naming the charset used and where it came from.
pub fn decode_explained<'a>(body: &'a [u8], http_charset: Option<&str>) -> (Cow<'a, str>, String) {
    let known = |label: &str| Encoding::for_label(label.trim().as_bytes());
    let (encoding, from) = if let Some((encoding, _)) = Encoding::for_bom(body) {
        (encoding, "byte order mark")
    } else if let Some(encoding) = http_charset.and_then(known) {
        (encoding, "HTTP Content-Type")
    } else if let Some(encoding) = xml_declared_encoding(body).and_then(known) {
        (encoding, "XML declaration")
    } else {
        match body {
            [b'<', 0, ..] => (encoding_rs::UTF_16LE, "zero bytes, no declaration"),
            [0, b'<', ..] => (encoding_rs::UTF_16BE, "zero bytes, no declaration"),
            _ => match std::str::from_utf8(body) {
                Ok(_) => (encoding_rs::UTF_8, "UTF-8 default"),
                Err(_) => (encoding_rs::WINDOWS_1252, "not UTF-8, none declared"),
            },
        }
    };
    let named = format!("{} (from the {from})", encoding.name());
    // `decode` strips a BOM and replaces what does not decode.
    let (text, _, _) = encoding.decode(body);
    // White space before the declaration is common and makes the document malformed; the
    // declaration's own encoding would make the parser decode the text a second time. The
    // declaration is optional, so it goes, without copying the text.
    let declaration_end = match text.trim_start().strip_prefix("<?xml") {
        Some(rest) if xml_declared_encoding(text.as_bytes()).is_some() => rest
            .find("?>")
            .map_or(0, |end| text.len() - rest.len() + end + 2),
        _ => 0,
    };
    let text = match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[declaration_end..]),
        Cow::Owned(mut text) => {
            text.drain(..declaration_end);
            Cow::Owned(text)
        }
    };
    (without_late_declarations(text), named)
}

/// Drops XML declarations that stand anywhere but at the very start (concatenated documents,
/// junk): they are not well-formed, and quick-xml panics when one names an encoding after the
/// document has begun.
fn without_late_declarations(text: Cow<'_, str>) -> Cow<'_, str> {
    let start = if text.starts_with("<?xml") { 5 } else { 0 };
    if !text[start..].contains("<?xml") {
        return text;
    }
    let mut cleaned = String::with_capacity(text.len());
    cleaned.push_str(&text[..start]);
    let mut rest = &text[start..];
    while let Some(at) = rest.find("<?xml") {
        cleaned.push_str(&rest[..at]);
        rest = match rest[at..].find("?>") {
            Some(end) => &rest[at + end + 2..],
            None => "",
        };
    }
    cleaned.push_str(rest);
    Cow::Owned(cleaned)
}

/// Older and looser dialects, named for `explain`, and rewritten where feed-rs would not read
/// them. Returns the text and, when it is one of them, the dialect's name.
/// - RSS 0.90 (an RDF document in Netscape's namespace), RSS 2.0 in Userland's namespace and
///   Atom 0.3: read as they are (feed-rs knows their namespaces), only named.
/// - `<rss>` without a version, or with 0.91–0.94: read as RSS 2.0, the superset they grew into
///   (feed-rs reads no version at all, or reads 0.92 items without titles badly).
/// - JSON Feed declared as `http://jsonfeed.org/version/…`: read as the `https` version.
pub(super) fn repair_dialects(text: Cow<'_, str>) -> (Cow<'_, str>, Option<&'static str>) {
    const NAMED: [(&str, &str); 4] = [
        ("\"http://my.netscape.com/rdf/simple/0.9/\"", "RSS 0.90"),
        (
            "\"http://channel.netscape.com/rdf/simple/0.9/\"",
            "RSS 0.90",
        ),
        (
            "\"http://backend.userland.com/rss2\"",
            "RSS 2.0 (Userland namespace)",
        ),
        ("\"http://purl.org/atom/ns#\"", "Atom 0.3"),
    ];
    const JSON_FEED_HTTP: &str = "\"http://jsonfeed.org/version/";
    // Dialects announce themselves at the top of the document.
    let head_end = text.char_indices().nth(2048).map_or(text.len(), |(i, _)| i);
    let head = &text[..head_end];
    if let Some((_, name)) = NAMED.iter().find(|(namespace, _)| head.contains(namespace)) {
        return (text, Some(name));
    }
    if let Some(at) = head.find(JSON_FEED_HTTP) {
        let fixed = format!("{}\"https{}", &text[..at], &text[at + "\"http".len()..]);
        return (Cow::Owned(fixed), Some("JSON Feed (http version URL)"));
    }
    match rss_root(head) {
        Some((at, len, version)) if version.as_deref() != Some("2.0") => {
            let name = match version.as_deref() {
                None | Some("") => "RSS (no version)",
                Some("0.91") => "RSS 0.91",
                Some("0.92") => "RSS 0.92",
                Some("0.93") => "RSS 0.93",
                Some("0.94") => "RSS 0.94",
                Some(_) => "RSS (unknown version)",
            };
            let tag = &text[at..at + len];
            let fixed_tag = match version {
                Some(v) => tag.replacen(&format!("\"{v}\""), "\"2.0\"", 1).replacen(
                    &format!("'{v}'"),
                    "'2.0'",
                    1,
                ),
                None => tag.replacen("<rss", "<rss version=\"2.0\"", 1),
            };
            let fixed = format!("{}{fixed_tag}{}", &text[..at], &text[at + len..]);
            (Cow::Owned(fixed), Some(name))
        }
        _ => (text, None),
    }
}

/// Where the root `<rss …>` tag stands (byte offset and length) and its version attribute.
fn rss_root(head: &str) -> Option<(usize, usize, Option<String>)> {
    let mut reader = quick_xml::Reader::from_str(head);
    loop {
        let at = usize::try_from(reader.buffer_position()).ok()?;
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                if e.name().as_ref() != "rss" {
                    return None;
                }
                let end = usize::try_from(reader.buffer_position()).ok()?;
                let version = e
                    .try_get_attribute("version")
                    .ok()
                    .flatten()
                    .map(|a| a.value.trim().to_string());
                // The position may include white space before the tag.
                let start = at + head[at..end].find("<rss")?;
                return Some((start, end - start, version));
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The `encoding` of an XML declaration at the start of `body` (after white space), read as
/// ASCII.
pub(super) fn xml_declared_encoding(body: &[u8]) -> Option<&str> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = body[start..].strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// The text made well-formed in the two ways publishers most often break XML, for a second
/// reading of a feed the XML parser refused (as feedparser falls back to a loose parser);
/// `None` when neither applies, so the refusal stands.
/// - A `&` that starts no reference (`?a=1&b=2` in a link) is escaped; a numeric reference
///   without its `;` (`&#x41`) gets one, and one written `&#X41;` a lower-case x, as HTML reads
///   them. CDATA sections and comments are left as they are.
/// - An end tag cut off by the end of the body (`</rss`) is closed.
pub(super) fn loosened(text: &str) -> Option<String> {
    if !text.trim_start().starts_with('<') {
        return None; // JSON, or not a feed at all
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            // Copy a CDATA section or comment whole; any other markup one character at a time.
            let skip = [("<![CDATA[", "]]>"), ("<!--", "-->")]
                .iter()
                .find(|(open, _)| rest.starts_with(open))
                .map_or(1, |(_, close)| {
                    rest.find(close).map_or(rest.len(), |end| end + close.len())
                });
            out.push_str(&rest[..skip]);
            rest = &rest[skip..];
            continue;
        }
        let (len, closed) = reference_len(&rest[1..]).unwrap_or((0, false));
        if len == 0 {
            out.push_str("&amp;");
        } else if rest.starts_with("&#X") {
            // XML writes hexadecimal references with a lower-case x only.
            out.push_str("&#x");
            out.push_str(&rest[3..=len]);
            if !closed {
                out.push(';');
            }
        } else {
            out.push_str(&rest[..=len]);
            if !closed {
                out.push(';');
            }
        }
        rest = &rest[1 + len..];
    }
    out.push_str(rest);
    let tail = out.trim_end();
    let last_open = tail.rfind('<').map(|at| &tail[at..]);
    if last_open.is_some_and(|tag| tag.starts_with("</") && !tag.contains('>')) {
        out.truncate(tail.len());
        out.push('>');
    }
    (out != text).then_some(out)
}

/// After a `&`: the length of the character or entity reference that starts there (its `;`
/// included), and whether it has its `;` (only a numeric one may lack it); `None` when none
/// starts there.
fn reference_len(after: &str) -> Option<(usize, bool)> {
    let bytes = after.as_bytes();
    let (digits_from, is_digit): (usize, fn(&u8) -> bool) = match bytes {
        [b'#', b'x' | b'X', ..] => (2, u8::is_ascii_hexdigit),
        [b'#', ..] => (1, u8::is_ascii_digit),
        [first, ..] if first.is_ascii_alphabetic() || *first == b'_' => {
            let name = bytes
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                .count();
            return (bytes.get(name) == Some(&b';')).then_some((name + 1, true));
        }
        _ => return None,
    };
    let digits = bytes[digits_from..]
        .iter()
        .take_while(|b| is_digit(b))
        .count();
    if digits == 0 {
        return None;
    }
    let end = digits_from + digits;
    Some(match bytes.get(end) {
        Some(b';') => (end + 1, true),
        _ => (end, false),
    })
}

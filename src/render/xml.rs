//! What the XML formats (Atom, RSS, OPML, the health feed) share: escaping that is right by
//! construction, and dates.

use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// A writer with the XML declaration already written.
pub fn document() -> io::Result<Writer<Vec<u8>>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    Ok(w)
}

/// The finished document's bytes, ending in a newline.
pub fn finish(w: Writer<Vec<u8>>) -> Vec<u8> {
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    bytes
}

/// Text content, XML-safe, with only `<`, `>` and `&` escaped: quotes need no escaping outside
/// attributes, and leaving them keeps the feed readable.
pub fn text_node(s: &str) -> BytesText<'static> {
    BytesText::from_escaped(quick_xml::escape::partial_escape(xml_chars(s)).into_owned())
}

/// `<name>value</name>`.
pub fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(text_node(value))?;
    Ok(())
}

/// `<name attr="value" …/>`, attribute values XML-safe (quick-xml escapes them).
pub fn empty(w: &mut Writer<Vec<u8>>, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
    let cleaned: Vec<(&str, String)> = attributes.iter().map(|(k, v)| (*k, xml_chars(v))).collect();
    w.create_element(name)
        .with_attributes(cleaned.iter().map(|(k, v)| (*k, v.as_str())))
        .write_empty()?;
    Ok(())
}

/// The generator element of Atom and RSS.
pub fn generator(w: &mut Writer<Vec<u8>>, atom: bool) -> io::Result<()> {
    if atom {
        // No uri: the project has no public address of its own to name.
        w.create_element("generator")
            .with_attribute(("version", env!("CARGO_PKG_VERSION")))
            .write_text_content(BytesText::new("Tributary"))?;
    } else {
        text(
            w,
            "generator",
            concat!("Tributary ", env!("CARGO_PKG_VERSION")),
        )?;
    }
    Ok(())
}

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Drops the characters XML 1.0 forbids (most control characters), which publishers do send
/// and which would make the whole merged feed unreadable.
pub fn xml_chars(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

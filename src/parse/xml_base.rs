//! The `xml:base` in scope for each entry's texts, found by a light pass over the feed's text.

use quick_xml::events::Event;
use url::Url;

/// The `xml:base` in scope for an entry's summary and content, if one is: declared on the
/// element, its entry or an ancestor, each resolved against the one around it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct DeclaredBases {
    pub(super) summary: Option<Url>,
    pub(super) content: Option<Url>,
}

/// For each entry (Atom `entry`, RSS `item`) of an XML feed, in document order, the `xml:base`
/// in scope for its summary and content. The outermost resolves against `document`. feed-rs
/// reports only a base written on the content element itself, so this light pass over the
/// same text finds the inherited ones. `None` if the text does not read as XML to its end.
pub(super) fn declared_bases(text: &str, document: Option<&Url>) -> Option<Vec<DeclaredBases>> {
    // quick-xml has panicked on hostile input before (see `read_raw_feed`).
    std::panic::catch_unwind(|| scan_declared_bases(text, document))
        .ok()
        .flatten()
}

fn scan_declared_bases(text: &str, document: Option<&Url>) -> Option<Vec<DeclaredBases>> {
    const ATOM: &str = "http://www.w3.org/2005/Atom";
    const RSS1: &str = "http://purl.org/rss/1.0/";
    const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
    let mut reader = quick_xml::NsReader::from_str(text);
    // The base in scope inside each open element: `None` where none is declared.
    let mut scopes: Vec<Option<Url>> = Vec::new();
    let mut entries: Vec<DeclaredBases> = Vec::new();
    // How many elements are open inside the entry being read, with the entry itself.
    let mut entry_depth: Option<usize> = None;
    loop {
        let (namespace, event) = reader.read_resolved_event().ok()?;
        let (element, is_empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                scopes.pop();
                if entry_depth.is_some_and(|depth| scopes.len() < depth) {
                    entry_depth = None;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let namespace: &str = match &namespace {
            quick_xml::name::ResolveResult::Bound(ns) => ns.0,
            _ => "",
        };
        let outer = scopes.last().cloned().flatten();
        let declared = element
            .try_get_attribute("xml:base")
            .ok()
            .flatten()
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.trim().to_string())
            });
        let scope = match declared {
            Some(declared) => match outer.as_ref().or(document) {
                Some(around) => around.join(&declared).ok(),
                None => Url::parse(&declared).ok(),
            }
            .or(outer),
            None => outer,
        };
        match (namespace, element.local_name().as_ref()) {
            (ATOM, "entry") | ("" | RSS1, "item") if entry_depth.is_none() => {
                entries.push(DeclaredBases::default());
                entry_depth = (!is_empty).then_some(scopes.len() + 1);
            }
            (ATOM, "summary") | ("" | RSS1, "description") if entry_depth.is_some() => {
                if let Some(entry) = entries.last_mut() {
                    entry.summary = entry.summary.take().or(scope.clone());
                }
            }
            (ATOM, "content") | (CONTENT, "encoded") if entry_depth.is_some() => {
                if let Some(entry) = entries.last_mut() {
                    entry.content = entry.content.take().or(scope.clone());
                }
            }
            _ => {}
        }
        if !is_empty {
            scopes.push(scope);
        }
    }
    Some(entries)
}

//! The health feed: an Atom entry per change in a source's state (started failing, recovered,
//! gone, moved, rate limited for long), so alerts about sources reach users in their reader.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};
use uuid::Uuid;

use super::atom::{ATOM_NS, generator, rfc3339, text};
use crate::model::StoredEvent;

/// How many of the newest events the health feed holds.
pub const HEALTH_ITEMS: usize = 100;

/// Renders `events` (newest first) as an Atom feed.
pub fn render(events: &[StoredEvent]) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let updated = events.first().map(|e| e.at).unwrap_or_default();
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .write_inner_content(|w| {
            text(w, "id", &id("tributary:health"))?;
            text(w, "title", "Tributary: source health")?;
            text(w, "updated", &rfc3339(updated))?;
            w.create_element("author")
                .write_inner_content(|w| text(w, "name", "Tributary"))?;
            generator(w)?;
            for event in events {
                w.create_element("entry").write_inner_content(|w| {
                    text(w, "id", &id(&format!("tributary:health:{}", event.id)))?;
                    text(w, "title", &format!("{}: {}", event.source, event.kind))?;
                    text(w, "updated", &rfc3339(event.at))?;
                    w.create_element("content")
                        .with_attribute(("type", "text"))
                        .write_inner_content(|w| {
                            w.write_event(Event::Text(super::atom::text_node(&event.message)))
                        })?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

fn id(name: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
        .urn()
        .to_string()
}

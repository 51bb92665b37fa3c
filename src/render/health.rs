//! The health feed: an Atom entry per change in a source's state (started failing, recovered,
//! gone, moved, rate limited for long), so alerts about sources reach users in their reader.

use std::io;

use super::atom::ATOM_NS;
use super::xml::{document, empty, finish, generator, rfc3339, text, text_node};
use crate::identity::stable_urn;
use crate::model::StoredEvent;

/// How many of the newest events the health feed holds.
pub const HEALTH_ITEMS: usize = 100;

/// Renders `events` (newest first) as an Atom feed that links to itself at `self_href`.
pub fn render(events: &[StoredEvent], self_href: &str) -> io::Result<Vec<u8>> {
    let mut w = document()?;
    let updated = events.first().map(|e| e.at).unwrap_or_default();
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .write_inner_content(|w| {
            text(w, "id", &stable_urn("tributary:health"))?;
            text(w, "title", "Tributary: source health")?;
            text(w, "updated", &rfc3339(updated))?;
            empty(w, "link", &[("rel", "self"), ("href", self_href)])?;
            w.create_element("author")
                .write_inner_content(|w| text(w, "name", "Tributary"))?;
            generator(w, true)?;
            for event in events {
                w.create_element("entry").write_inner_content(|w| {
                    text(
                        w,
                        "id",
                        &stable_urn(&format!("tributary:health:{}", event.id)),
                    )?;
                    text(w, "title", &format!("{}: {}", event.source, event.kind))?;
                    text(w, "updated", &rfc3339(event.at))?;
                    w.create_element("content")
                        .with_attribute(("type", "text"))
                        .write_text_content(text_node(&event.message))?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(finish(w))
}

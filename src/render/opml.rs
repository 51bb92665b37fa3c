//! The configured sources → an OPML 2.0 subscription list.

use std::io;

use super::xml::{document, empty, finish, text};
use crate::config::SourceConfig;
use crate::sanitize::web_url;

/// Renders the sources as OPML, in config order; tags become the OPML `category`. Only sources
/// on the web are listed: a local file's path is of no use to a subscriber, and not theirs to
/// see.
pub fn render(title: &str, sources: &[std::sync::Arc<SourceConfig>]) -> io::Result<Vec<u8>> {
    let mut w = document()?;
    w.create_element("opml")
        .with_attribute(("version", "2.0"))
        .write_inner_content(|w| {
            w.create_element("head")
                .write_inner_content(|w| text(w, "title", title))?;
            w.create_element("body").write_inner_content(|w| {
                for source in sources.iter().filter(|s| web_url(&s.url).is_some()) {
                    let tags = source.tags.join(",");
                    let (label, url) = (source.label(), source.shown_url());
                    let mut attributes = vec![
                        ("type", "rss"),
                        ("text", label.as_ref()),
                        ("title", label.as_ref()),
                        ("xmlUrl", url.as_ref()),
                    ];
                    if !tags.is_empty() {
                        attributes.push(("category", tags.as_str()));
                    }
                    empty(w, "outline", &attributes)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(finish(w))
}

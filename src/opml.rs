//! OPML subscription lists in: the feeds they name, and which of them a web reader would take.
//! (Out: `render::opml`; adding them to the config: `config::append_sources`.)

use std::collections::HashSet;

use quick_xml::events::Event;

use crate::config::NewSource;
use crate::sanitize::is_private_host;

/// Why an OPML file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not readable OPML: {0}")]
    /// The XML could not be read.
    Xml(String),
}

/// Every `<outline xmlUrl=…>` of an OPML document, each URL once; enclosing outlines
/// without a URL (folders) give their text as tags.
pub fn read(bytes: &[u8]) -> Result<Vec<NewSource>, OpmlError> {
    let text = crate::parse::decode(bytes, None);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut feeds = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| OpmlError::Xml(e.to_string()))?;
        let (element, is_start) = match &event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(e) if e.local_name().as_ref() == "outline" => {
                folders.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if element.local_name().as_ref() != "outline" {
            continue;
        }
        let attribute = |name: &str| {
            element
                .try_get_attribute(name)
                .ok()
                .flatten()
                .and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                })
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let url = attribute("xmlUrl");
        let title = attribute("title").or_else(|| attribute("text"));
        if let Some(url) = url {
            if seen.insert(url.clone()) {
                let mut tags: Vec<String> = folders.iter().flatten().cloned().collect();
                tags.extend(
                    attribute("category")
                        .into_iter()
                        .flat_map(|c| {
                            c.split(',')
                                .map(|t| t.trim().trim_start_matches('/').to_string())
                                .collect::<Vec<_>>()
                        })
                        .filter(|t| !t.is_empty()),
                );
                tags.dedup();
                feeds.push(NewSource {
                    url,
                    name: title,
                    tags,
                });
            }
            if is_start {
                folders.push(None);
            }
        } else if is_start {
            folders.push(title);
        }
    }
    Ok(feeds)
}

/// What importing an OPML file brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The feeds to add: taken, and not configured yet.
    pub new: Vec<NewSource>,
    /// A line for each outline refused, naming it.
    pub refused: Vec<String>,
}

/// Reads an OPML document and keeps the feeds a web reader would take (see [`screen`]) whose
/// URLs are not among `configured`.
pub fn import(bytes: &[u8], configured: &[&str], allow_private: bool) -> Result<Import, OpmlError> {
    let (taken, refused) = screen(read(bytes)?, allow_private);
    let new = taken
        .into_iter()
        .filter(|f| !configured.contains(&f.url.as_str()))
        .collect();
    Ok(Import { new, refused })
}

/// The feeds a web reader would import, and a line for each refused, naming its outline: only
/// `http` and `https` URLs, and, unless `allow_private`, none whose host is a loopback, private
/// or link-local address (an OPML file from elsewhere must not aim the daemon at the machine's
/// own services or a cloud metadata endpoint).
pub fn screen(feeds: Vec<NewSource>, allow_private: bool) -> (Vec<NewSource>, Vec<String>) {
    let mut refused = Vec::new();
    let accepted = feeds
        .into_iter()
        .filter(|feed| {
            let why = match url::Url::parse(&feed.url) {
                Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                    "only http and https feeds are imported"
                }
                Ok(url) if !allow_private && is_private_host(&url) => {
                    "a loopback, private or link-local address; pass --allow-private to import it"
                }
                Ok(_) => return true,
                Err(_) => "not a URL",
            };
            let outline = feed.name.as_deref().unwrap_or("(untitled)");
            refused.push(format!(
                "refused: outline {outline:?} ({}): {why}",
                feed.url
            ));
            false
        })
        .collect();
    (accepted, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPML: &str = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="Defence">
    <outline type="rss" text="RUSI" xmlUrl="https://rusi.example/rss.xml"/>
    <outline type="rss" text="Think &amp; Tank" title="Think &amp; Tank" xmlUrl="https://tt.example/feed" category="/policy"/>
  </outline>
  <outline type="rss" text="Loose" xmlUrl="https://loose.example/atom"/>
  <outline type="rss" text="Again" xmlUrl="https://rusi.example/rss.xml"/>
</body></opml>"#;

    #[test]
    fn feeds_are_read_with_their_folders_as_tags() {
        let feeds = read(OPML.as_bytes()).unwrap();
        assert_eq!(
            feeds,
            [
                NewSource {
                    url: "https://rusi.example/rss.xml".into(),
                    name: Some("RUSI".into()),
                    tags: vec!["Defence".into()],
                },
                NewSource {
                    url: "https://tt.example/feed".into(),
                    name: Some("Think & Tank".into()),
                    tags: vec!["Defence".into(), "policy".into()],
                },
                NewSource {
                    url: "https://loose.example/atom".into(),
                    name: Some("Loose".into()),
                    tags: vec![],
                },
            ]
        );
    }

    #[test]
    fn only_web_feeds_on_public_hosts_are_taken() {
        let feed = |title: &str, url: &str| NewSource {
            url: url.into(),
            name: Some(title.into()),
            tags: vec![],
        };
        let feeds = vec![
            feed("Fine", "https://news.example/feed"),
            feed("Passwords", "file:///etc/passwd"),
            feed("Script", "javascript:alert(1)"),
            feed("Gopher", "gopher://old.example/"),
            feed("Metadata", "http://169.254.169.254/latest/meta-data/"),
            feed("Router", "http://192.168.1.1/feed"),
            feed("Loopback", "http://127.0.0.1:8080/feed"),
            feed("Decimal loopback", "http://2130706433/feed"),
            feed("Local name", "http://LOCALHOST./feed"),
            feed("IPv6 loopback", "http://[::1]/feed"),
            feed("IPv6 link-local", "http://[fe80::1]/feed"),
            feed("Mapped", "http://[::ffff:10.0.0.1]/feed"),
            feed("Broken", "not a url"),
        ];
        let (taken, refused) = screen(feeds.clone(), false);
        assert_eq!(taken, [feeds[0].clone()]);
        assert_eq!(refused.len(), feeds.len() - 1, "{refused:#?}");
        assert!(
            refused[0].contains("\"Passwords\" (file:///etc/passwd)"),
            "{}",
            refused[0]
        );
        assert!(refused[0].ends_with("only http and https feeds are imported"));
        assert!(refused[3].contains("\"Metadata\"") && refused[3].contains("--allow-private"));

        let (taken, refused) = screen(feeds.clone(), true);
        assert_eq!(taken.len(), 9, "private hosts are taken when allowed");
        assert_eq!(refused.len(), 4, "other schemes never: {refused:#?}");
    }
}

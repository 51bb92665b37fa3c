//! What a source's URL holds, as the config says: a feed, a JSON API's answer (where its items
//! and fields are), or a web page (CSS selectors for its items and fields). The config
//! validates these; the readers in this module follow them.

/// What a source's URL holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SourceKind {
    /// An RSS, Atom or JSON Feed document (or a page that links to one).
    #[default]
    Feed,
    /// A JSON API's answer, its items found by `[sources.json]`. Boxed, as the next: most
    /// sources are feeds, and every source would carry the room of the largest kind.
    Json(Box<JsonFields>),
    /// A web page without a feed, its items found by `[sources.html]`.
    Html(Box<HtmlFields>),
}

/// `[sources.html]`: CSS selectors for a page's items and, within each, their fields.
#[derive(Debug, Clone)]
pub struct HtmlFields {
    /// One match per item.
    pub item: scraper::Selector,
    /// As written, for comparing configs.
    pub item_written: String,
    /// Its title.
    pub title: PageField,
    /// Its page (relative links resolve against the page's URL).
    pub link: PageField,
    /// When it was published.
    pub date: Option<PageField>,
    /// How the date is written (chrono's strftime); the lenient date parser when absent.
    pub date_format: Option<String>,
    /// A teaser, as plain text.
    pub summary: Option<PageField>,
    /// The full text: the HTML inside what the selector matches, sanitized like feed content.
    pub content: Option<PageField>,
    /// Who wrote it.
    pub author: Option<PageField>,
}

impl PartialEq for HtmlFields {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.item_written,
            &self.title,
            &self.link,
            &self.date,
            &self.date_format,
            &self.summary,
            &self.content,
            &self.author,
        ) == (
            &other.item_written,
            &other.title,
            &other.link,
            &other.date,
            &other.date_format,
            &other.summary,
            &other.content,
            &other.author,
        )
    }
}

impl Eq for HtmlFields {}

/// Where a field of a page's item is: `"h2"` (the text of the first match within the item),
/// `"a@href"` (an attribute of it), `"@data-id"` (an attribute of the item itself).
#[derive(Debug, Clone)]
pub struct PageField {
    /// What to match within the item; the item itself when absent.
    pub selector: Option<scraper::Selector>,
    /// The attribute to take instead of the text.
    pub attribute: Option<String>,
    /// As written.
    pub written: String,
}

impl PartialEq for PageField {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl Eq for PageField {}

impl PageField {
    /// Reads `"selector"`, `"selector@attribute"` or `"@attribute"`; the error says why not.
    pub fn parse(written: &str) -> Result<PageField, String> {
        let (selector, attribute) = match written.rsplit_once('@') {
            Some((selector, attribute))
                if !attribute.is_empty()
                    && attribute
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')) =>
            {
                (selector.trim(), Some(attribute.to_string()))
            }
            _ => (written.trim(), None),
        };
        let selector = if selector.is_empty() {
            None
        } else {
            Some(
                scraper::Selector::parse(selector)
                    .map_err(|e| format!("{written:?} is not a CSS selector: {e}"))?,
            )
        };
        if selector.is_none() && attribute.is_none() {
            return Err("is empty".into());
        }
        Ok(PageField {
            selector,
            attribute,
            written: written.to_string(),
        })
    }
}

/// `[sources.json]`: where a JSON API's answer keeps its items and their fields, as dotted
/// paths (`data.releases`, `links.canonical`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonFields {
    /// The array of items ("" for a top-level array).
    pub items: String,
    /// Each item's own id, if the API gives one.
    pub id: Option<String>,
    /// Its title.
    pub title: String,
    /// Its page (relative links resolve against the API's URL).
    pub link: String,
    /// When it was published: text in any common form, or Unix seconds.
    pub date: Option<String>,
    /// A teaser, as plain text.
    pub summary: Option<String>,
    /// The full text, as HTML (sanitized like feed content).
    pub content: Option<String>,
    /// Who wrote it.
    pub author: Option<String>,
}

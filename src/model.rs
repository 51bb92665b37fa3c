//! Plain types shared by the pipeline's stages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a publisher's feed says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedMeta {
    pub title: Option<String>,
    /// The publisher's website.
    pub link: Option<String>,
    /// The feed's own id, when it has one.
    pub id: Option<String>,
}

/// One item of a feed, normalized and sanitized, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Identity within its source: `guid:…`, else `link:…`, else `hash:…` of title and date.
    pub key: String,
    /// The publisher's own id for it, if any.
    pub guid: Option<String>,
    pub link: Option<String>,
    /// Plain text.
    pub title: Option<String>,
    pub summary: Option<Text>,
    pub content: Option<Text>,
    pub authors: Vec<Author>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// A text that is either plain or sanitized HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    pub is_html: bool,
}

/// A person credited on an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// How a fetched feed changed what was stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl ItemCounts {
    /// Whether the outputs need to be rendered again.
    pub fn changed(&self) -> bool {
        self.new > 0 || self.updated > 0
    }
}

/// The result of refreshing one source: a value, logged once and printed by `once`.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    /// The source's URL as written in the config.
    pub url: String,
    /// The config's name, else the feed's title, else the URL.
    pub name: String,
    /// The counts, or the error in words a person understands.
    pub result: Result<ItemCounts, String>,
}

/// A stored item joined with its publisher, as the outputs need it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    pub item: Item,
    /// When Tributary first stored it.
    pub first_seen: DateTime<Utc>,
    pub publisher: Publisher,
}

/// The source an item came from, as the outputs name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Publisher {
    /// The config's name, else the feed's title, else the feed URL.
    pub name: String,
    /// The feed's URL as configured.
    pub feed_url: String,
    /// The publisher's website.
    pub site: Option<String>,
    /// The feed's own id.
    pub id: Option<String>,
}

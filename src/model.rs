//! Plain types shared by the pipeline's stages.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a publisher's feed says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedMeta {
    /// The feed's own title, plain text.
    pub title: Option<String>,
    /// The publisher's website.
    pub link: Option<String>,
    /// The feed's own id, when it has one.
    pub id: Option<String>,
    /// What the feed says it is about, plain text.
    pub description: Option<String>,
    /// The WebSub hub it advertises (`rel="hub"`, or the response's `Link` header).
    pub hub: Option<String>,
    /// The topic URL to subscribe to (`rel="self"`, or the response's `Link` header).
    pub topic: Option<String>,
}

/// What a feed (and its server) says about how often to poll it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHints {
    /// The longest of RSS `<ttl>`, `sy:updatePeriod`/`sy:updateFrequency` and the server's
    /// `Cache-Control: max-age`: a lower bound on the interval.
    pub min_interval: Option<std::time::Duration>,
    /// RSS `<skipHours>`: hours (0–23, GMT) in which the feed asks not to be read.
    pub skip_hours: Vec<u32>,
    /// RSS `<skipDays>`: days (0 = Monday … 6 = Sunday) in which the feed asks not to be read.
    pub skip_days: Vec<u32>,
}

/// One item of a feed, normalized and sanitized, ready to store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    /// Identity within its source: `guid:…`, else `link:…`, else `hash:…` of title and date.
    pub key: String,
    /// Other keys it may be stored under: `link:` and its link as written, when tracking
    /// parameters were cut from it (see `rules::Shaping::strip_links`).
    pub aliases: Vec<String>,
    /// The publisher's own id for it, if any.
    pub guid: Option<String>,
    /// The item's own page.
    pub link: Option<String>,
    /// What the feed calls that page (Atom's link `title`), when it says.
    pub link_title: Option<String>,
    /// Its other links: related documents, what it came via, its licence, its comments.
    pub links: Vec<ItemLink>,
    /// Plain text.
    pub title: Option<String>,
    /// A short text: a teaser or description.
    pub summary: Option<Text>,
    /// The full text, when the feed carries it.
    pub content: Option<Text>,
    /// Who wrote it.
    pub authors: Vec<Author>,
    /// When it was published, as the feed says.
    pub published: Option<DateTime<Utc>>,
    /// When it last changed, as the feed says.
    pub updated: Option<DateTime<Utc>>,
    /// Attached media: podcast episodes and the like.
    pub enclosures: Vec<Enclosure>,
    /// The categories the publisher filed it under.
    pub categories: Vec<Category>,
    /// An image that illustrates the item.
    pub image: Option<String>,
    /// A digest of the item as the feed gave it, before cleaning (empty when unknown).
    pub digest: String,
    /// Known to the store with the same digest, so neither cleaned nor stored again; its
    /// summary and content are left out.
    pub unchanged: bool,
}

/// A category an item is filed under, as the feed gives it. Stored as JSON: a plain string when
/// only its term is known (as every category was stored before schemes and labels were kept,
/// so that those items' fingerprints stay the same), else `{"term", "scheme", "label"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "StoredCategory")]
pub struct Category {
    /// The category itself: Atom's `term`, the text of RSS's `<category>`.
    pub term: String,
    /// The vocabulary it belongs to: Atom's `scheme`, RSS's `domain`.
    pub scheme: Option<String>,
    /// A name for people to read, when the term is not one: Atom's `label`.
    pub label: Option<String>,
}

impl Category {
    /// A category that is only a term.
    pub fn new(term: impl Into<String>) -> Category {
        Category {
            term: term.into(),
            ..Category::default()
        }
    }

    /// What readers are shown: its label, else its term.
    pub fn shown(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.term)
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.scheme.is_none() && self.label.is_none() {
            return serializer.serialize_str(&self.term);
        }
        StoredCategory::Full {
            term: self.term.clone(),
            scheme: self.scheme.clone(),
            label: self.label.clone(),
        }
        .serialize(serializer)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredCategory {
    Term(String),
    Full {
        term: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheme: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
}

impl From<StoredCategory> for Category {
    fn from(stored: StoredCategory) -> Category {
        match stored {
            StoredCategory::Term(term) => Category::new(term),
            StoredCategory::Full {
                term,
                scheme,
                label,
            } => Category {
                term,
                scheme,
                label,
            },
        }
    }
}

/// A link of an item's other than its own page and its enclosures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemLink {
    /// Where it points.
    pub href: String,
    /// How it relates to the item, as Atom names it: `related`, `via`, `license`, `replies`, …
    pub rel: String,
    /// The media type of what it points to, when the feed says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// What the feed calls it, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A file attached to an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    /// Where the file is.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its media type, when the feed says.
    pub mime_type: Option<String>,
    /// Its size in bytes, when the feed says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// A text that is either plain or sanitized HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The text itself.
    pub body: String,
    /// Whether it is (sanitized) HTML rather than plain text.
    pub is_html: bool,
}

/// A person credited on an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The name shown.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Their page.
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Their address.
    pub email: Option<String>,
}

/// How a fetched feed changed what was stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    /// Items stored for the first time.
    pub new: usize,
    /// Items updated in place.
    pub updated: usize,
    /// Items already stored as they are.
    pub unchanged: usize,
    /// Items already stored through another source (the same article, republished).
    pub duplicates: usize,
    /// Items not kept: older than `[retention] max_age`, pruned before, or past
    /// `[retention] initial_items` on a source's first fetch.
    pub left_out: usize,
}

impl ItemCounts {
    /// Whether the outputs need to be rendered again.
    pub fn changed(&self) -> bool {
        self.new > 0 || self.updated > 0 || self.duplicates > 0
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ItemCounts) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.duplicates += other.duplicates;
        self.left_out += other.left_out;
    }
}

/// What storing one fetched item came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stored for the first time.
    New,
    /// Updated in place: what a reader sees of it changed.
    Updated,
    /// Already stored as it is.
    Unchanged,
    /// Already stored through another source (named here): the same article, republished.
    Duplicate(String),
    /// Not kept, and why.
    LeftOut(&'static str),
}

impl ItemCounts {
    /// The counts of a fetch's verdicts.
    pub fn of(verdicts: &[(String, Verdict)]) -> ItemCounts {
        let mut counts = ItemCounts::default();
        for (_, verdict) in verdicts {
            match verdict {
                Verdict::New => counts.new += 1,
                Verdict::Updated => counts.updated += 1,
                Verdict::Unchanged => counts.unchanged += 1,
                Verdict::Duplicate(_) => counts.duplicates += 1,
                Verdict::LeftOut(_) => counts.left_out += 1,
            }
        }
        counts
    }
}

/// The result of refreshing one source: a value, logged once and printed by `once`.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    /// The source's URL as written in the config.
    pub url: String,
    /// The config's name, else the feed's title, else the URL.
    pub name: String,
    /// What the poll came to.
    pub result: PollResult,
    /// When it is due again; none once it is gone.
    pub next_poll: Option<NextPoll>,
    /// Whether the health feed gained an entry.
    pub health_changed: bool,
    /// The WebSub hub the feed read advertised, if one was read and it did.
    pub hub: Option<String>,
    /// The poll found items the source's hub never pushed: its subscription is to be asked for
    /// again at once.
    pub push_missed: bool,
}

impl RefreshOutcome {
    /// Whether the outputs need to be rendered again.
    pub fn changed(&self) -> bool {
        matches!(&self.result, PollResult::Fetched(counts) if counts.changed())
    }
}

/// What one poll of a source came to.
#[derive(Debug, Clone, PartialEq)]
pub enum PollResult {
    /// A feed was read; what it changed.
    Fetched(ItemCounts),
    /// 304: nothing changed, nothing parsed, nothing written.
    NotModified,
    /// 429 or 503: the publisher asked us to wait (until the given time, if it said).
    RateLimited {
        /// The HTTP status: 429 or 503.
        status: u16,
        /// When the publisher allows the next request, if it said.
        until: Option<DateTime<Utc>>,
    },
    /// 410: the publisher removed the feed; it is not polled again until its URL changes.
    Gone,
    /// What went wrong.
    Failed(Failure),
    /// Not polled: `tributary pause` stopped it, then.
    Paused {
        /// Since when.
        since: DateTime<Utc>,
    },
    /// Not polled: inside a Retry-After window (until then) or gone (no time).
    Skipped {
        /// Until when; none when gone.
        until: Option<DateTime<Utc>>,
    },
}

impl PollResult {
    /// Its kind in one word, as `/metrics` counts it: `new` (a feed read with new or updated
    /// items), `unchanged`, `not_modified`, `rate_limited`, `gone`, `failed` or `skipped`.
    pub fn kind(&self) -> &'static str {
        match self {
            PollResult::Fetched(counts) if counts.new + counts.updated > 0 => "new",
            PollResult::Fetched(_) => "unchanged",
            PollResult::NotModified => "not_modified",
            PollResult::RateLimited { .. } => "rate_limited",
            PollResult::Gone => "gone",
            PollResult::Failed(_) => "failed",
            PollResult::Skipped { .. } | PollResult::Paused { .. } => "skipped",
        }
    }
}

/// The validators of the last good response, sent back as a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The last `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The last `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// A source's polling state, kept in the database between polls (and across restarts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchState {
    /// Sent back as a conditional GET.
    pub validators: Validators,
    /// What the feed and server last said about polling.
    pub hints: FeedHints,
    /// How the last poll went; none before the first poll.
    pub last_status: Option<PollStatus>,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// When a poll last succeeded (new content or 304).
    pub last_success_at: Option<DateTime<Utc>>,
    /// Failures in a row: the backoff's exponent.
    pub consecutive_failures: u32,
    /// No request before then: the publisher's `Retry-After`.
    pub retry_after_until: Option<DateTime<Utc>>,
    /// Since when the publisher has answered 410 Gone.
    pub gone_since: Option<DateTime<Utc>>,
    /// The URL polled instead of the configured one, after a permanent redirect was adopted.
    pub adopted_url: Option<String>,
    /// The target of the permanent redirect seen on the latest polls, and on how many in a row.
    pub redirect_target: Option<String>,
    /// On how many polls in a row the same permanent redirect was seen.
    pub redirect_seen: u32,
    /// The feed found by autodiscovery when the configured URL is an HTML page.
    pub discovered_url: Option<String>,
    /// When it is due again, and why; none once gone.
    pub next_poll: Option<NextPoll>,
}

/// Why a poll failed: the kind of failure, and what happened in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure it was.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` described by `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kinds of failure a poll can end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The server could not be reached, or the exchange broke off.
    Network,
    /// A connect, first-byte or total timeout passed.
    Timeout,
    /// An HTTP status that is not success, 304, 410 or rate limiting.
    Http,
    /// The body grew past `[poll] max_body`.
    TooLarge,
    /// A redirect loop, too many redirects, a bad or refused redirect.
    Redirect,
    /// The body is not a feed Tributary can read.
    Feed,
    /// The database refused the poll's record.
    Database,
    /// A bug in Tributary.
    Internal,
}

impl FailureKind {
    /// A short stable name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Network => "network",
            FailureKind::Timeout => "timeout",
            FailureKind::Http => "http",
            FailureKind::TooLarge => "too_large",
            FailureKind::Redirect => "redirect",
            FailureKind::Feed => "feed",
            FailureKind::Database => "database",
            FailureKind::Internal => "internal",
        }
    }
}

/// How a source's last poll went, kept between polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    /// A feed was read.
    Ok,
    /// 304: nothing changed.
    NotModified,
    /// 429 or 503: the publisher asked to wait.
    RateLimited,
    /// 410: the publisher removed the feed.
    Gone,
    /// The poll failed (see `last_error`).
    Failing,
}

impl PollStatus {
    const ALL: [PollStatus; 5] = [
        PollStatus::Ok,
        PollStatus::NotModified,
        PollStatus::RateLimited,
        PollStatus::Gone,
        PollStatus::Failing,
    ];

    /// The text stored in the database (stable: databases outlive versions).
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::NotModified => "not modified",
            PollStatus::RateLimited => "rate limited",
            PollStatus::Gone => "gone",
            PollStatus::Failing => "error",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<PollStatus> {
        PollStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A change in a source's state worth telling its user about, in the health feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    /// What changed.
    pub kind: EventKind,
    /// The change in words, naming the source.
    pub message: String,
}

/// What kind of change a health event tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A source that worked started failing.
    Failing,
    /// A failing source works again.
    Recovered,
    /// The publisher removed the feed (410).
    Gone,
    /// A permanent redirect was adopted.
    Moved,
    /// The publisher asked to wait for long.
    RateLimited,
    /// Its WebSub hub stopped pushing (or could not be subscribed at).
    PushUnhealthy,
    /// Its WebSub hub pushes again.
    PushRestored,
}

impl EventKind {
    /// The text stored in the database and shown in the health feed.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failing => "failing",
            EventKind::Recovered => "recovered",
            EventKind::Gone => "gone",
            EventKind::Moved => "moved",
            EventKind::RateLimited => "rate limited",
            EventKind::PushUnhealthy => "push unhealthy",
            EventKind::PushRestored => "push restored",
        }
    }
}

/// A stored health event, with its source's name.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its row id: the health feed entry's identity.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The source's name.
    pub source: String,
    /// What changed (see [`EventKind::as_str`]).
    pub kind: String,
    /// The change in words.
    pub message: String,
}

/// A stored item joined with its publisher, as the outputs need it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// The id Tributary minted for it, used by every output.
    pub id: String,
    /// The item as stored.
    pub item: Item,
    /// When Tributary first stored it.
    pub first_seen: DateTime<Utc>,
    /// Who published it.
    pub publisher: Publisher,
    /// The other sources that carried it, by name.
    pub also_via: Vec<String>,
    /// The tags rules gave it (its source's tags are in the config).
    pub tags: Vec<String>,
    /// Where it sorts among items, newest first: its publication, else when first seen.
    pub sort_at: DateTime<Utc>,
    /// Every version of its story, itself among them, first stored (the lead) first: empty
    /// when it is alone, or stories are off.
    pub story: Vec<Reported>,
}

impl StoredItem {
    /// The other publishers' versions of its story.
    pub fn also_reported(&self) -> impl Iterator<Item = &Reported> {
        self.story.iter().filter(move |v| v.id != self.id)
    }
}

/// A version of a story: one publisher's copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    /// Its row's id.
    pub row: i64,
    /// The id the outputs give it.
    pub id: String,
    /// Who published it, as the outputs name them.
    pub publisher: String,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub link: Option<String>,
    /// Where it sorts: its publication, else when first seen.
    pub sort_at: DateTime<Utc>,
    /// How similar it is to the version it was found beside (1 for the story's lead).
    pub similarity: f64,
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
    /// What the feed says it is about.
    pub description: Option<String>,
}

/// Why a source's next poll is when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The configured interval.
    Interval,
    /// A longer interval the server or the feed asked for (`Cache-Control: max-age`, `<ttl>`,
    /// `sy:updatePeriod`), capped by `[poll] max_interval`.
    ServerHint,
    /// The feed's `skipHours`/`skipDays`.
    SkipHours,
    /// Consecutive failures: retried less and less often.
    Backoff,
    /// The publisher's `Retry-After`.
    RetryAfter,
    /// `[poll] adaptive`: how often the source publishes.
    Adaptive,
    /// Its WebSub hub pushes its items: `[websub] poll_interval`.
    Pushed,
}

impl Reason {
    /// The name stored in the database and shown by `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Interval => "interval",
            Reason::ServerHint => "server hint",
            Reason::SkipHours => "skip hours",
            Reason::Backoff => "backoff",
            Reason::RetryAfter => "retry-after",
            Reason::Adaptive => "adaptive",
            Reason::Pushed => "pushed",
        }
    }

    /// The reason stored as `name`, if it is one.
    pub fn parse(name: &str) -> Option<Reason> {
        [
            Reason::Interval,
            Reason::ServerHint,
            Reason::SkipHours,
            Reason::Backoff,
            Reason::RetryAfter,
            Reason::Adaptive,
            Reason::Pushed,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source's next poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextPoll {
    /// When.
    pub at: DateTime<Utc>,
    /// Why then.
    pub reason: Reason,
}

/// A request of Tributary's that the hub has to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `hub.mode=subscribe` (a renewal too).
    Subscribe,
    /// `hub.mode=unsubscribe`.
    Unsubscribe,
}

impl Asked {
    /// Its `hub.mode`, and how it is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Asked::Subscribe => "subscribe",
            Asked::Unsubscribe => "unsubscribe",
        }
    }

    /// The request a `hub.mode` names.
    pub fn parse(mode: &str) -> Option<Asked> {
        match mode {
            "subscribe" => Some(Asked::Subscribe),
            "unsubscribe" => Some(Asked::Unsubscribe),
            _ => None,
        }
    }
}

/// A subscription Tributary asked a hub for, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The last part of its callback URL: `/websub/<id>`.
    pub id: String,
    /// The source whose items it pushes.
    pub source_url: String,
    /// The hub.
    pub hub: String,
    /// The topic subscribed to.
    pub topic: String,
    /// Where the hub delivers: `[websub] callback_url` + `id`.
    pub callback: String,
    /// Signs what the hub delivers.
    pub secret: String,
    /// The request the hub has yet to verify, if any.
    pub asked: Option<Asked>,
    /// When that request was sent.
    pub asked_at: Option<DateTime<Utc>>,
    /// The source left the config (or its hub changed): unsubscribing, then forgotten.
    pub removing: bool,
    /// When the hub last verified a subscribe: the lease's start.
    pub verified_at: Option<DateTime<Utc>>,
    /// When the lease ends.
    pub lease_until: Option<DateTime<Utc>>,
    /// Why push is not trusted now, if it is not.
    pub unhealthy: Option<String>,
    /// When the next request is due, or the pending one counts as failed.
    pub retry_at: Option<DateTime<Utc>>,
    /// Failed requests in a row.
    pub tries: u32,
    /// When the hub last delivered content.
    pub last_push_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Whether the hub pushes this source's items now: verified, healthy, lease running.
    pub fn pushes(&self, now: DateTime<Utc>) -> bool {
        !self.removing
            && self.verified_at.is_some()
            && self.unhealthy.is_none()
            && self.lease_until.is_some_and(|end| end > now)
    }

    /// When the lease is to be renewed: at 90 % of it.
    pub fn renew_at(&self) -> Option<DateTime<Utc>> {
        let (start, end) = (self.verified_at?, self.lease_until?);
        Some(start + (end - start) * 9 / 10)
    }
}

/// What a source's last fetched feed advertised, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// The source, by its configured URL.
    pub source_url: String,
    /// `rel="hub"`.
    pub hub: Option<String>,
    /// `rel="self"`.
    pub topic: Option<String>,
    /// Where its feed is read from now.
    pub polled_url: String,
}

/// A configured source as the stages after the config see it: what identifies and names it.
/// The config's sources implement it, so that the store never takes the config's types.
pub trait Source: Send + Sync + fmt::Debug {
    /// Its URL as configured: its identity in the database.
    fn url(&self) -> &str;
    /// Its name in the config, if it has one.
    fn name(&self) -> Option<&str>;
    /// How it is shown: its name, else its URL without credentials.
    fn label(&self) -> std::borrow::Cow<'_, str>;
    /// Its tags.
    fn tags(&self) -> &[String];
    /// Whether its new items' articles are fetched (`full_text`).
    fn wants_full_text(&self) -> bool;
}

impl<S: Source + ?Sized> Source for std::sync::Arc<S> {
    fn url(&self) -> &str {
        (**self).url()
    }
    fn name(&self) -> Option<&str> {
        (**self).name()
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        (**self).label()
    }
    fn tags(&self) -> &[String] {
        (**self).tags()
    }
    fn wants_full_text(&self) -> bool {
        (**self).wants_full_text()
    }
}

/// Where new items are delivered, and which: a `[[webhooks]]` table as the store queues for it.
pub trait Webhook: Sync + fmt::Debug {
    /// Where deliveries are POSTed: also its identity in the database.
    fn url(&self) -> &str;
    /// Whether `item`, new from `source`, is delivered.
    fn takes(&self, source: &dyn Source, item: &ArrivingItem<'_>) -> bool;
}

/// A new item as a webhook is asked about it.
#[derive(Debug, Clone, Copy)]
pub struct ArrivingItem<'a> {
    /// The item as stored.
    pub item: &'a Item,
    /// The tags rules gave it.
    pub tags: &'a [String],
    /// Where it sorts.
    pub sort_at: DateTime<Utc>,
    /// When it is stored.
    pub now: DateTime<Utc>,
}

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL server.
    Postgres {
        /// `postgres://user@host:port/database?options`, as libpq takes it.
        url: String,
        /// The password, unless the URL has one.
        password: Option<String>,
        /// The URL as it may be shown (no password).
        shown: String,
    },
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Database::Postgres { shown, .. } => write!(f, "Postgres({shown})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_statuses_are_stored_as_the_text_earlier_versions_wrote() {
        let stored = ["ok", "not modified", "rate limited", "gone", "error"];
        for (status, text) in PollStatus::ALL.into_iter().zip(stored) {
            assert_eq!(status.as_str(), text);
            assert_eq!(PollStatus::parse(text), Some(status));
        }
        assert_eq!(PollStatus::parse("bogus"), None);
    }
}

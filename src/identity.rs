//! What an item is, and what becomes of it when a fetch brings it: its identity key, its
//! canonical link, its dates as stored, the detection of publishers whose guids change on every
//! fetch, and the plan for a fetch's items (new, updated, unchanged, a duplicate of another
//! source's, left out and why). Pure: the store looks up what it has, [`plan`] and [`revise`]
//! decide, the store writes.

use std::cmp::Reverse;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Item, Text, Verdict};

/// How items are kept: retention, deduplication across sources, content size.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRules {
    /// `[retention] max_age`: items older than this are pruned (and never ingested again);
    /// `None` keeps everything.
    pub max_age: Option<Duration>,
    /// `[retention] initial_items`: the most items a new source contributes on its first
    /// fetch; `None` for no limit.
    pub initial_items: Option<usize>,
    /// `[dedup] across_sources`: the same article via two sources appears once.
    pub across_sources: bool,
    /// `[content] max_size`: content longer than this (in bytes) is cut, with a note.
    pub max_content: usize,
    /// `[dedup] strip_query`: query parameters cut from every item's link (`*` for any
    /// characters) before identity and dedup.
    pub strip_query: Vec<String>,
}

impl Default for ItemRules {
    fn default() -> Self {
        ItemRules {
            max_age: Some(Duration::from_secs(90 * 86_400)),
            initial_items: Some(20),
            across_sources: true,
            max_content: 512 * 1024,
            strip_query: Vec::new(),
        }
    }
}

/// How many times an item's summary or content may change without its title changing, before
/// such changes are ignored: a feed that stamps the time into every item must not churn the
/// outputs forever.
pub const MAX_CONTENT_UPDATES: i64 = 3;

/// How far in the future a date may be (clock skew) before it is taken for a bogus one.
const FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(10);

/// An item's identity within its source: its guid, else its link, else a hash of its title (its
/// description, when it has no title) and date.
pub fn identity_key(
    guid: Option<&str>,
    link: Option<&str>,
    title: Option<&str>,
    date: Option<DateTime<Utc>>,
) -> String {
    if let Some(guid) = guid {
        return format!("guid:{guid}");
    }
    if let Some(link) = link {
        return format!("link:{link}");
    }
    let mut hasher = Sha256::new();
    hasher.update(title.unwrap_or_default().as_bytes());
    hasher.update([0]);
    if let Some(date) = date {
        hasher.update(date.to_rfc3339().as_bytes());
    }
    format!("hash:{}", hex(&hasher.finalize()[..16]))
}

/// A digest of an item as the feed gave it, before cleaning, with what cleaning depends on:
/// the bases its summary's and content's links resolve against and the size it is cut to. Dates are left out, as in the
/// store's fingerprint, because some feeds restamp every item on each build.
pub fn raw_digest(item: &Item, bases: [Option<&Url>; 2], max_content: usize) -> String {
    let mut hasher = Sha256::new();
    fn text(t: &Option<Text>) -> Option<(bool, &str)> {
        t.as_ref().map(|t| (t.is_html, t.body.as_str()))
    }
    let (summary, content) = (text(&item.summary), text(&item.content));
    let parts = [
        Some(item.key.as_str()),
        item.guid.as_deref(),
        item.link.as_deref(),
        item.title.as_deref(),
        summary.map(|(html, _)| if html { "html" } else { "text" }),
        summary.map(|(_, body)| body),
        content.map(|(html, _)| if html { "html" } else { "text" }),
        content.map(|(_, body)| body),
        item.image.as_deref(),
        bases[0].map(Url::as_str),
        bases[1].map(Url::as_str),
    ];
    for part in parts {
        hasher.update(part.unwrap_or_default().as_bytes());
        hasher.update([0]);
    }
    for author in &item.authors {
        for part in [
            Some(&author.name),
            author.email.as_ref(),
            author.uri.as_ref(),
        ] {
            hasher.update(part.map_or("", String::as_str).as_bytes());
            hasher.update([1]);
        }
    }
    for enclosure in &item.enclosures {
        hasher.update(enclosure.url.as_bytes());
        hasher.update(
            enclosure
                .mime_type
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        hasher.update(enclosure.length.unwrap_or_default().to_le_bytes());
    }
    for category in &item.categories {
        let parts = [
            Some(&category.term),
            category.scheme.as_ref(),
            category.label.as_ref(),
        ];
        for part in parts.into_iter().flatten() {
            hasher.update(part.as_bytes());
            hasher.update([2]);
        }
    }
    hasher.update((max_content as u64).to_le_bytes());
    hex(&hasher.finalize()[..16])
}

/// An item's publication time: its own date, unless it is missing, implausibly old (before
/// 1995) or in the future beyond a little clock skew; then the time it was first seen. No
/// publisher can pin its items to the top of the merged feed with bogus dates.
pub fn normalized_date(date: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    date.filter(|d| plausible(*d, now))
        .map_or(now, |d| d.min(now))
}

/// An item's last update as stored: its own `updated`, unless it is implausible (as for
/// [`normalized_date`]), then none; never before the item's (normalized) publication, nor
/// after now. A reader sorting by update cannot be made to pin an item either.
pub fn normalized_updated(
    updated: Option<DateTime<Utc>>,
    published: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    updated
        .filter(|d| plausible(*d, now))
        .map(|d| d.min(now).max(published))
}

/// Whether a publisher's date can be true: not before 1995, not in the future beyond a little
/// clock skew.
fn plausible(date: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let earliest = Utc.with_ymd_and_hms(1995, 1, 1, 0, 0, 0).single();
    date <= now + FUTURE_SKEW && earliest.is_none_or(|e| date >= e)
}

/// Items published before this are not kept (`[retention] max_age`).
pub fn cutoff(rules: &ItemRules, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let age = chrono::Duration::from_std(rules.max_age?).ok()?;
    now.checked_sub_signed(age)
}

/// A fetched item as the plan sees it: with its canonical-link key and its dates as stored.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// The item as fetched.
    pub item: &'a Item,
    /// `canon:` and its canonical link, when it has one.
    pub canon_key: Option<String>,
    /// Its publication date as stored (see [`normalized_date`]).
    pub published: DateTime<Utc>,
    /// Its last update as stored (see [`normalized_updated`]).
    pub updated: Option<DateTime<Utc>>,
}

impl<'a> Candidate<'a> {
    /// `item` as fetched at `now`.
    pub fn of(item: &'a Item, now: DateTime<Utc>) -> Candidate<'a> {
        let published = normalized_date(item.published.or(item.updated), now);
        Candidate {
            item,
            canon_key: item
                .link
                .as_deref()
                .and_then(canonical_link)
                .map(|l| format!("canon:{l}")),
            published,
            updated: normalized_updated(item.updated, published, now),
        }
    }

    /// Every key it is known by in its source: its own, and its canonical link's.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.item.key.as_str()).chain(self.canon_key.as_deref())
    }
}

/// What the store has for a fetched item in its source, looked up before the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    /// Its key or canonical link was pruned (or left out of the first fetch) before.
    pub pruned: bool,
    /// The stored item its key leads to.
    pub by_key: Option<i64>,
    /// The stored item its canonical link leads to.
    pub by_link: Option<i64>,
}

/// What becomes of a fetched item, as far as the plan can tell before the store looks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to write: this is its verdict.
    Settled(Verdict),
    /// Left out of a new source's first fetch: its keys are remembered, so that it never comes
    /// back.
    Forget(&'static str),
    /// The source's stored item with this id: its keys are added and, if it changed, it is
    /// revised (see [`revise`]).
    Revise(i64),
    /// Not stored by this source: a duplicate of another source's item if one carries its
    /// canonical link, else new.
    Add,
}

/// Why an item is left out whatever the store has of it, if it is: pruned before, or older
/// than `[retention] max_age`.
pub fn left_out(
    candidate: &Candidate<'_>,
    pruned: bool,
    cutoff: Option<DateTime<Utc>>,
) -> Option<&'static str> {
    if pruned {
        Some("pruned before")
    } else if cutoff.is_some_and(|c| candidate.published < c) {
        Some("older than [retention] max_age")
    } else {
        None
    }
}

/// The plan for a fetch's items (`known` has what the store has of each, all empty on the
/// source's first fetch): one decision per item, in feed order.
/// - Pruned items and items past `max_age` are left out.
/// - On a first fetch, only the newest `initial_items` are kept (among equal dates, the feed's
///   order); the rest are forgotten.
/// - An item is matched to a stored one by its key, or, when the fetch looks like guid churn,
///   by its canonical link. One whose text is known unchanged (digest) is settled at once.
pub fn plan(
    candidates: &[Candidate<'_>],
    known: &[Known],
    first_fetch: bool,
    rules: &ItemRules,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    let cutoff = cutoff(rules, now);
    let mut decisions: Vec<Option<Decision>> = candidates
        .iter()
        .zip(known)
        .map(|(c, k)| {
            left_out(c, k.pruned, cutoff).map(|why| Decision::Settled(Verdict::LeftOut(why)))
        })
        .collect();
    let open = |decisions: &[Option<Decision>]| -> Vec<usize> {
        (0..decisions.len())
            .filter(|&i| decisions[i].is_none())
            .collect()
    };
    if let (true, Some(limit)) = (first_fetch, rules.initial_items) {
        let mut newest = open(&decisions);
        // Stable: among equal dates the feed's order (first is newest) stands.
        newest.sort_by_key(|&i| Reverse(candidates[i].published));
        for &i in newest.iter().skip(limit) {
            decisions[i] = Some(Decision::Forget(
                "past [retention] initial_items on a first fetch",
            ));
        }
    }
    let open = open(&decisions);
    let seen: Vec<Seen<'_>> = open
        .iter()
        .map(|&i| Seen {
            key_known: known[i].by_key.is_some(),
            link: candidates[i].canon_key.as_deref(),
            link_known: known[i].by_link.is_some(),
        })
        .collect();
    for (&i, relink) in open.iter().zip(relinkable(&seen)) {
        let found = known[i].by_key.or(known[i].by_link.filter(|_| relink));
        decisions[i] = Some(match (candidates[i].item.unchanged, found) {
            (true, Some(_)) => Decision::Settled(Verdict::Unchanged),
            (true, None) => Decision::Settled(Verdict::LeftOut("no longer stored")),
            (false, Some(id)) => Decision::Revise(id),
            (false, None) => Decision::Add,
        });
    }
    decisions
        .into_iter()
        .map(|d| d.unwrap_or(Decision::Add))
        .collect()
}

/// What the store holds of an item that a fetch found again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Whether the fetching source is the one that stored it (not a source that also carried it).
    pub owned: bool,
    /// A digest of what a reader sees of it.
    pub fingerprint: String,
    /// A digest of its text as the feed gave it.
    pub raw_digest: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Its link.
    pub link: Option<String>,
    /// Its authors as stored (JSON).
    pub authors: String,
    /// Unix seconds.
    pub updated: Option<i64>,
    /// How many times its summary or content alone changed.
    pub content_updates: i64,
}

/// The fetched copy of that item, as the store would write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fresh<'a> {
    /// A digest of what a reader sees of it.
    pub fingerprint: &'a str,
    /// A digest of its text as the feed gave it.
    pub raw_digest: Option<&'a str>,
    /// Its title.
    pub title: Option<&'a str>,
    /// Its link.
    pub link: Option<&'a str>,
    /// Its authors as they would be stored (JSON).
    pub authors: &'a str,
    /// Unix seconds.
    pub updated: Option<i64>,
}

/// What to do with a stored item found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// Nothing changed that a reader sees (or it is not this source's to change).
    Unchanged,
    /// The feed's text changed but reads the same once cleaned: only its digest is kept, so that
    /// it is not cleaned again next time.
    NewDigest,
    /// Updated in place, its `updated` set to this (Unix seconds); `content_only` when only its
    /// summary or content changed (counted against [`MAX_CONTENT_UPDATES`]).
    /// Updated in place; see the type's doc.
    Updated {
        /// Its new `updated`, Unix seconds.
        updated: i64,
        /// Only its summary or content changed.
        content_only: bool,
    },
}

/// Whether and how a stored item is revised: always when its title, link or authors changed;
/// for its summary or content, at most [`MAX_CONTENT_UPDATES`] times. An item owned by another
/// source is left as that source has it. Its `updated` is the publisher's, if it moved forward,
/// else now. A `pushed` copy (a hub's delivery, which anyone who captured one can replay)
/// revises it only when its own `updated` is newer than the stored one.
pub fn revise(stored: &Stored, fresh: &Fresh<'_>, pushed: bool, now: DateTime<Utc>) -> Revision {
    if !stored.owned {
        return Revision::Unchanged;
    }
    let newer = fresh
        .updated
        .is_some_and(|u| stored.updated.is_none_or(|s| u > s));
    if pushed && !newer {
        return Revision::Unchanged;
    }
    if stored.fingerprint == fresh.fingerprint {
        return match stored.raw_digest.as_deref() == fresh.raw_digest {
            true => Revision::Unchanged,
            false => Revision::NewDigest,
        };
    }
    // The fingerprint differs, so if the heading did not change, the texts did.
    let heading_changed = stored.title.as_deref() != fresh.title
        || stored.link.as_deref() != fresh.link
        || stored.authors != fresh.authors;
    if !heading_changed && stored.content_updates >= MAX_CONTENT_UPDATES {
        return Revision::Unchanged;
    }
    let updated = fresh
        .updated
        .filter(|u| stored.updated.is_none_or(|s| *u > s))
        .unwrap_or_else(|| now.timestamp());
    Revision::Updated {
        updated,
        content_only: !heading_changed,
    }
}

/// Whether the copy of `link` a source at `newcomer` carries takes the place of the copy the
/// source at `owner` stored first. The first to store an item owns it: a claimed earlier date
/// moves nothing, so that no source can take over another publisher's item. Only the link's
/// own site does (its configured URL on the link's host, `www.` aside), from a source that is
/// not.
pub fn takes_over(link: &str, newcomer: &str, owner: &str) -> bool {
    let host = |url: &str| {
        Url::parse(url).ok().and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(
                host.strip_prefix("www.")
                    .map(str::to_string)
                    .unwrap_or(host),
            )
        })
    };
    let Some(site) = host(link) else {
        return false;
    };
    let on_site = |url: &str| host(url).as_deref() == Some(site.as_str());
    on_site(newcomer) && !on_site(owner)
}

/// Query parameters that only track where a click came from; they never change the article.
const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
    "igshid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "spm", "cmpid",
];

/// The form of a link two copies of one article share, whoever republished it: scheme and host
/// in lower case (the `url` crate does that), no fragment, no tracking parameters (`utm_*`,
/// `fbclid`, `gclid`, …), no default port, no trailing slash. `None` for what is not an
/// absolute http(s) URL.
pub fn canonical_link(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return None;
    }
    url.set_fragment(None);
    // The `url` crate already drops a port that is the scheme's default.
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking(name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    // `/a/` and `/a`, `http://host/` and `http://host`, are the same page.
    let path = url.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
    }
    let mut text = url.to_string();
    if url.path() == "/" && url.query().is_none() {
        text.pop();
    }
    Some(text)
}

fn is_tracking(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || TRACKING_PARAMETERS.contains(&name.as_str())
}

/// One fetched item, as churn detection sees it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// Whether its own key (guid, link or hash) is already stored for the source.
    pub key_known: bool,
    /// Its canonical link, if any.
    pub link: Option<&'a str>,
    /// Whether an item of the source with that link is already stored.
    pub link_known: bool,
}

/// Whether a fetch looks like guid churn: most of its items with unknown keys carry links,
/// unique within the fetch, of items already stored. Then those items are the stored ones with
/// new guids, and are matched by link. Links shared by several items of one fetch (feeds that
/// point every item at their home page) prove nothing, and neither does a single item.
pub fn guid_churn(items: &[Seen<'_>]) -> bool {
    let unknown: Vec<&Seen<'_>> = items.iter().filter(|s| !s.key_known).collect();
    let unique_link = |link: &str| items.iter().filter(|s| s.link == Some(link)).count() == 1;
    let relinked = unknown
        .iter()
        .filter(|s| s.link_known && s.link.is_some_and(unique_link))
        .count();
    relinked >= 2 && relinked * 2 >= unknown.len()
}

/// For each fetched item, whether to match it to a stored item by its canonical link: only when
/// the fetch looks like guid churn, and only items with an unknown key whose link is unique in
/// the fetch and already stored.
pub fn relinkable(items: &[Seen<'_>]) -> Vec<bool> {
    if !guid_churn(items) {
        return vec![false; items.len()];
    }
    items
        .iter()
        .map(|s| {
            !s.key_known
                && s.link_known
                && s.link
                    .is_some_and(|l| items.iter().filter(|o| o.link == Some(l)).count() == 1)
        })
        .collect()
}

/// An id that is the same for the same name, wherever and whenever it is made: a UUID (v5, URL
/// namespace) URN. Items' and outputs' ids are made so.
pub fn stable_urn(name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
        .urn()
        .to_string()
}

/// Lowercase hexadecimal, for digests stored as text.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn item(key: &str, date: &str, unchanged: bool) -> Item {
        Item {
            key: key.into(),
            aliases: Vec::new(),
            guid: None,
            link: Some(format!("https://p.example/{key}")),
            link_title: None,
            links: Vec::new(),
            title: Some(key.into()),
            summary: None,
            content: None,
            authors: vec![],
            published: Some(at(date)),
            updated: None,
            enclosures: vec![],
            categories: vec![],
            image: None,
            digest: String::new(),
            unchanged,
        }
    }

    fn known(pruned: bool, by_key: Option<i64>, by_link: Option<i64>) -> Known {
        Known {
            pruned,
            by_key,
            by_link,
        }
    }

    #[test]
    fn a_fetch_is_planned_item_by_item() {
        use Decision::*;
        let now = at("2025-06-01T00:00:00Z");
        let rules = ItemRules {
            max_age: Some(std::time::Duration::from_secs(30 * 86_400)),
            initial_items: Some(2),
            ..ItemRules::default()
        };
        let recent = "2025-05-20T00:00:00Z";
        // (item, what the store has) → decision; not a first fetch.
        let table = [
            (
                item("pruned", recent, false),
                known(true, None, None),
                Settled(Verdict::LeftOut("pruned before")),
            ),
            (
                item("old", "2025-01-01T00:00:00Z", false),
                known(false, None, None),
                Settled(Verdict::LeftOut("older than [retention] max_age")),
            ),
            (
                item("known", recent, false),
                known(false, Some(7), None),
                Revise(7),
            ),
            (
                item("same", recent, true),
                known(false, Some(8), None),
                Settled(Verdict::Unchanged),
            ),
            (
                item("gone", recent, true),
                known(false, None, None),
                Settled(Verdict::LeftOut("no longer stored")),
            ),
            (item("fresh", recent, false), known(false, None, None), Add),
            // One item whose link is known proves no guid churn: it is new.
            (
                item("relinked", recent, false),
                known(false, None, Some(9)),
                Add,
            ),
        ];
        let items: Vec<Item> = table.iter().map(|(i, _, _)| i.clone()).collect();
        let candidates: Vec<Candidate<'_>> = items.iter().map(|i| Candidate::of(i, now)).collect();
        let known: Vec<Known> = table.iter().map(|(_, k, _)| *k).collect();
        let want: Vec<Decision> = table.iter().map(|(_, _, d)| d.clone()).collect();
        assert_eq!(plan(&candidates, &known, false, &rules, now), want);
    }

    #[test]
    fn a_first_fetch_keeps_the_newest_initial_items_and_forgets_the_rest() {
        let now = at("2025-06-01T00:00:00Z");
        let rules = ItemRules {
            max_age: None,
            initial_items: Some(2),
            ..ItemRules::default()
        };
        let forget = Decision::Forget("past [retention] initial_items on a first fetch");
        let items = [
            item("b", "2025-05-02T00:00:00Z", false),
            item("a", "2025-05-01T00:00:00Z", false),
            item("c", "2025-05-03T00:00:00Z", false),
            // The same date as "b": the feed's order decides.
            item("b2", "2025-05-02T00:00:00Z", false),
        ];
        let candidates: Vec<Candidate<'_>> = items.iter().map(|i| Candidate::of(i, now)).collect();
        let nothing = vec![Known::default(); items.len()];
        assert_eq!(
            plan(&candidates, &nothing, true, &rules, now),
            [Decision::Add, forget.clone(), Decision::Add, forget]
        );
    }

    #[test]
    fn guid_churn_matches_items_by_their_links() {
        let now = at("2025-06-01T00:00:00Z");
        let rules = ItemRules::default();
        let items = [
            item("new-guid-1", "2025-05-30T00:00:00Z", false),
            item("new-guid-2", "2025-05-30T00:00:00Z", false),
            item("new-guid-3", "2025-05-30T00:00:00Z", false),
        ];
        let candidates: Vec<Candidate<'_>> = items.iter().map(|i| Candidate::of(i, now)).collect();
        let known = [
            known(false, None, Some(1)),
            known(false, None, Some(2)),
            known(false, None, None),
        ];
        assert_eq!(
            plan(&candidates, &known, false, &rules, now),
            [Decision::Revise(1), Decision::Revise(2), Decision::Add]
        );
    }

    #[test]
    fn a_stored_item_is_revised_only_when_a_reader_would_see_it() {
        let now = at("2025-06-01T00:00:00Z");
        let stored = Stored {
            owned: true,
            fingerprint: "f1".into(),
            raw_digest: Some("d1".into()),
            title: Some("T".into()),
            link: Some("https://p.example/1".into()),
            authors: "[]".into(),
            updated: Some(100),
            content_updates: 0,
        };
        let fresh = Fresh {
            fingerprint: "f1",
            raw_digest: Some("d1"),
            title: Some("T"),
            link: Some("https://p.example/1"),
            authors: "[]",
            updated: None,
        };
        let now_s = now.timestamp();
        let content = Fresh {
            fingerprint: "f2",
            ..fresh
        };
        let table = [
            (stored.clone(), fresh, Revision::Unchanged),
            (
                Stored {
                    owned: false,
                    ..stored.clone()
                },
                content,
                Revision::Unchanged,
            ),
            (
                stored.clone(),
                Fresh {
                    raw_digest: Some("d2"),
                    ..fresh
                },
                Revision::NewDigest,
            ),
            (
                stored.clone(),
                Fresh {
                    fingerprint: "f2",
                    title: Some("T2"),
                    ..fresh
                },
                Revision::Updated {
                    updated: now_s,
                    content_only: false,
                },
            ),
            (
                stored.clone(),
                content,
                Revision::Updated {
                    updated: now_s,
                    content_only: true,
                },
            ),
            (
                Stored {
                    content_updates: MAX_CONTENT_UPDATES,
                    ..stored.clone()
                },
                content,
                Revision::Unchanged,
            ),
            (
                Stored {
                    content_updates: MAX_CONTENT_UPDATES,
                    ..stored.clone()
                },
                Fresh {
                    authors: "[{}]",
                    ..content
                },
                Revision::Updated {
                    updated: now_s,
                    content_only: false,
                },
            ),
            // The publisher's `updated` counts only when it moved forward.
            (
                stored.clone(),
                Fresh {
                    updated: Some(200),
                    ..content
                },
                Revision::Updated {
                    updated: 200,
                    content_only: true,
                },
            ),
            (
                stored.clone(),
                Fresh {
                    updated: Some(50),
                    ..content
                },
                Revision::Updated {
                    updated: now_s,
                    content_only: true,
                },
            ),
        ];
        for (index, (stored, fresh, want)) in table.into_iter().enumerate() {
            assert_eq!(revise(&stored, &fresh, false, now), want, "row {index}");
        }
        // A pushed copy revises only with an `updated` newer than the stored one: a delivery
        // replayed after a later one changes nothing.
        let pushed = |updated| revise(&stored, &Fresh { updated, ..content }, true, now);
        assert_eq!(
            pushed(Some(200)),
            Revision::Updated {
                updated: 200,
                content_only: true
            }
        );
        assert_eq!(pushed(Some(100)), Revision::Unchanged);
        assert_eq!(pushed(Some(50)), Revision::Unchanged);
        assert_eq!(pushed(None), Revision::Unchanged);
    }

    #[test]
    fn only_the_links_own_site_takes_an_item_from_the_source_that_stored_it_first() {
        let link = "https://www.victim.example/news/1";
        let own = "https://victim.example/feed.xml";
        let other = "https://thief.example/feed.xml";
        // (the owner's configured URL, the newcomer's) → whether the newcomer takes it over.
        let table = [
            (other, own, true),
            (own, other, false),
            (other, "https://third.example/rss", false),
            (own, own, false),
            ("file:///srv/feed.xml", own, true),
        ];
        for (owner, newcomer, want) in table {
            assert_eq!(
                takes_over(link, newcomer, owner),
                want,
                "{owner} ← {newcomer}"
            );
        }
        assert!(!takes_over("not a link", own, other));
    }

    #[test]
    fn every_date_is_plausible_and_an_update_never_precedes_publication() {
        let now = at("2025-06-01T12:00:00Z");
        let d = |s: &str| Some(at(s));
        // (published as given, updated as given) → (published, updated) as stored.
        let table = [
            (
                d("2025-05-01T00:00:00Z"),
                d("2025-05-02T00:00:00Z"),
                at("2025-05-01T00:00:00Z"),
                d("2025-05-02T00:00:00Z"),
            ),
            // In the future: published clamped to now, updated dropped.
            (
                d("2099-01-01T00:00:00Z"),
                d("2099-01-01T00:00:00Z"),
                now,
                None,
            ),
            (
                d("2025-05-01T00:00:00Z"),
                d("2099-01-01T00:00:00Z"),
                at("2025-05-01T00:00:00Z"),
                None,
            ),
            // A little clock skew is not the future: clamped to now.
            (
                d("2025-05-01T00:00:00Z"),
                d("2025-06-01T12:05:00Z"),
                at("2025-05-01T00:00:00Z"),
                Some(now),
            ),
            // Before 1995: neither is believed.
            (
                d("1970-01-01T00:00:00Z"),
                d("1970-01-01T00:00:00Z"),
                now,
                None,
            ),
            (None, d("1970-01-01T00:00:00Z"), now, None),
            // An update before publication is moved up to it.
            (
                d("2025-05-10T00:00:00Z"),
                d("2025-05-01T00:00:00Z"),
                at("2025-05-10T00:00:00Z"),
                d("2025-05-10T00:00:00Z"),
            ),
            // Published in the future, updated in the past: both end at now.
            (
                d("2099-01-01T00:00:00Z"),
                d("2025-05-01T00:00:00Z"),
                now,
                Some(now),
            ),
            (None, None, now, None),
        ];
        for (published, updated, want_published, want_updated) in table {
            let got_published = normalized_date(published.or(updated), now);
            let got_updated = normalized_updated(updated, got_published, now);
            assert_eq!(
                (got_published, got_updated),
                (want_published, want_updated),
                "{published:?} {updated:?}"
            );
        }
    }

    #[test]
    fn canonical_links_fold_what_does_not_name_a_different_page() {
        let table = [
            (
                "HTTPS://News.Example.COM:443/a/story/?utm_source=rss&utm_medium=feed#comments",
                Some("https://news.example.com/a/story"),
            ),
            (
                "http://news.example.com:80/a?id=7&fbclid=xyz&gclid=abc",
                Some("http://news.example.com/a?id=7"),
            ),
            (
                "http://news.example.com:8080/a/",
                Some("http://news.example.com:8080/a"),
            ),
            (
                "https://news.example.com/",
                Some("https://news.example.com"),
            ),
            (
                "https://news.example.com/a/?page=2&UTM_Campaign=x",
                Some("https://news.example.com/a?page=2"),
            ),
            ("/relative/path", None),
            ("mailto:someone@example.com", None),
        ];
        for (link, expected) in table {
            assert_eq!(canonical_link(link).as_deref(), expected, "{link}");
        }
    }

    fn seen(key_known: bool, link: &str, link_known: bool) -> Seen<'_> {
        Seen {
            key_known,
            link: Some(link),
            link_known,
        }
    }

    #[test]
    fn churn_is_new_guids_on_known_distinct_links() {
        let churned = [
            seen(false, "a", true),
            seen(false, "b", true),
            seen(false, "c", false),
        ];
        assert!(guid_churn(&churned));

        let new_posts = [
            seen(false, "a", false),
            seen(false, "b", false),
            seen(true, "c", true),
        ];
        assert!(!guid_churn(&new_posts), "new items on new links");

        let home_page = [
            seen(false, "home", true),
            seen(false, "home", true),
            seen(true, "home", true),
        ];
        assert!(!guid_churn(&home_page), "every item links to the home page");

        let one = [seen(false, "a", true), seen(true, "b", true)];
        assert!(!guid_churn(&one), "a single re-guided item proves nothing");
    }
}

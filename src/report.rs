//! What the commands print: `once`'s lines and total, `explain`, `status` and `check`. Each
//! report is text made from values, so it is tested as text; the binary only prints it.

pub mod search;
pub mod stories;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::config::{Config, SourceConfig};
use crate::identity::{canonical_link, normalized_date, normalized_updated};
use crate::model::{FetchState, Item, ItemCounts, PollResult, PollStatus, RefreshOutcome, Verdict};
use crate::refresh::Explanation;
use crate::rules::Shaped;
use crate::sanitize::shown_url;
use crate::store::{SourceStatus, StatusReads, Store, StoreError, WebhookStatus};

/// What `status` shows of a config's sources, as read from the store.
pub type Status = StatusReads<SourceConfig>;

/// What `status` shows of `config`, read from `store`: every source, the instances and the
/// webhooks; or, when sources are `named`, those sources alone.
pub fn read_status(
    store: &mut Store,
    config: &Config,
    named: Option<&[std::sync::Arc<SourceConfig>]>,
) -> Result<Status, StoreError> {
    let webhooks: Vec<&str> = config.webhooks.iter().map(|w| w.url.as_str()).collect();
    let shared = config.postgres.is_some();
    store.status_reads(&config.sources, named, shared, &webhooks)
}

/// A time as the reports show it: `2026-11-26 15:00:00Z`.
pub fn time(t: DateTime<Utc>) -> String {
    let mut text = String::with_capacity(TIME_WIDTH);
    write_time(&mut text, t);
    text
}

/// How wide `time` writes a time of the years 0 to 9999.
const TIME_WIDTH: usize = 20;

/// `time`, appended to `out` digit by digit: `status` writes 300,000 of them at 100,000
/// sources, and chrono's format strings made that a fifth of its time.
fn write_time(out: &mut String, t: DateTime<Utc>) {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%SZ"));
        return;
    }
    let mut text = *b"0000-00-00 00:00:00Z";
    let fields = [
        (0, 4, year.unsigned_abs()),
        (5, 2, t.month()),
        (8, 2, t.day()),
        (11, 2, t.hour()),
        (14, 2, t.minute()),
        (17, 2, t.second()),
    ];
    for (start, width, mut value) in fields {
        for digit in text[start..start + width].iter_mut().rev() {
            // A digit: below 10, so the cast keeps it whole.
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    out.extend(text.iter().map(|&b| char::from(b)));
}

/// `3 new, 1 updated, 26 unchanged`, then duplicates and left-out items when there are any.
pub fn counts_text(c: &ItemCounts) -> String {
    let mut text = format!(
        "{} new, {} updated, {} unchanged",
        c.new, c.updated, c.unchanged
    );
    if c.duplicates > 0 {
        let _ = write!(text, ", {} already via another source", c.duplicates);
    }
    if c.left_out > 0 {
        let _ = write!(
            text,
            ", {} left out (too old or past initial_items)",
            c.left_out
        );
    }
    text
}

/// `once`'s line for a source as it finishes.
pub fn outcome_line(outcome: &RefreshOutcome) -> String {
    let name = &outcome.name;
    match &outcome.result {
        PollResult::Fetched(c) => format!("{name}: {}", counts_text(c)),
        PollResult::NotModified => format!("{name}: not modified"),
        PollResult::RateLimited { status, until } => match until {
            Some(until) => format!(
                "{name}: rate limited (HTTP {status}), retry after {}",
                time(*until)
            ),
            None => format!("{name}: rate limited (HTTP {status})"),
        },
        PollResult::Gone => format!("{name}: gone (HTTP 410); no longer polled"),
        PollResult::Failed(error) => format!("{name}: failed: {error}"),
        PollResult::Skipped { until: None } => format!("{name}: skipped: gone (HTTP 410)"),
        PollResult::Paused { since } => format!(
            "{name}: paused since {}; not polled until `tributary resume`",
            time(*since)
        ),
        PollResult::Skipped { until: Some(until) } => {
            let why = outcome
                .next_poll
                .map(|n| format!(" ({})", n.reason))
                .unwrap_or_default();
            format!("{name}: skipped until {}{why}", time(*until))
        }
    }
}

/// `once`'s last line: how the sources fared and what changed in all.
pub fn once_total(outcomes: &[RefreshOutcome]) -> String {
    let mut total = ItemCounts::default();
    let (mut ok, mut failed, mut limited, mut gone, mut skipped) = (0, 0, 0, 0, 0);
    for outcome in outcomes {
        match &outcome.result {
            PollResult::Fetched(c) => {
                ok += 1;
                total.add(c);
            }
            PollResult::NotModified => ok += 1,
            PollResult::Failed(_) => failed += 1,
            PollResult::RateLimited { .. } => limited += 1,
            PollResult::Gone => gone += 1,
            PollResult::Skipped { .. } | PollResult::Paused { .. } => skipped += 1,
        }
    }
    format!(
        "total: {} sources, {ok} ok, {failed} failed, {limited} rate limited, {gone} gone, {skipped} skipped; {}",
        outcomes.len(),
        counts_text(&total)
    )
}

/// What `explain` prints of a source fetched once: where from, the feed, each item and what a
/// poll would do with it (and the stored items nearest it: `joins_at` is the similarity that
/// joins a story, `None` when stories are off), the next poll.
pub fn explanation(
    source: &SourceConfig,
    explained: &Explanation,
    adopt_redirect_after: u32,
    joins_at: Option<f64>,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!("Source: {}", source.label()));
    line(format!("  URL: {}", source.shown_url()));
    let feed = &explained.feed;
    explain_feed(&mut line, explained, adopt_redirect_after);
    line(format!("  {} items:", feed.items.len()));
    for (index, item) in feed.items.iter().enumerate() {
        let verdict = explained
            .verdicts
            .iter()
            .find(|(key, _)| *key == item.key)
            .map(|(_, v)| v);
        let notes = ItemNotes {
            dropped: feed.dropped.get(index).map_or(&[], Vec::as_slice),
            removed: feed.removed.get(index).map_or(&[], Vec::as_slice),
            verdict,
            shaped: explained.shaped.get(index),
        };
        line(String::new());
        out_item(&mut line, index + 1, item, &notes, now);
        let nearest = explained.nearest.get(index).map_or(&[][..], Vec::as_slice);
        for text in stories::nearest_lines(nearest, joins_at) {
            line(text);
        }
    }
    line(String::new());
    match explained.next_poll {
        Some(next) => line(format!("Next poll: {} ({})", time(next.at), next.reason)),
        None => line("Next poll: never".into()),
    }
    out
}

/// Where `explain` read the feed from, and what the feed says of itself.
fn explain_feed(line: &mut impl FnMut(String), explained: &Explanation, adopt_redirect_after: u32) {
    let feed = &explained.feed;
    if let Some(url) = &explained.fetched_from {
        line(format!("  Fetched from: {}", shown_url(url.as_str())));
    }
    if let Some(url) = &explained.moved_to {
        let url = shown_url(url.as_str());
        line(format!(
            "  Moved permanently to: {url} (adopted after {adopt_redirect_after} polls in a row; change the config's url)"
        ));
    }
    if let Some(url) = &explained.discovered {
        let url = shown_url(url.as_str());
        line(format!(
            "  The URL is an HTML page; the feed it links to: {url}"
        ));
    }
    line(format!(
        "  Format: {}; encoding: {}{}",
        feed.format,
        feed.encoding,
        if feed.loose {
            "; not well-formed XML, read loosely (stray & escaped, a cut-off end tag closed)"
        } else {
            ""
        }
    ));
    if feed.left_out > 0 {
        line(format!(
            "  {} matches of the item selector left out: no title or no link",
            feed.left_out
        ));
    }
    line(format!(
        "  Feed: {} ({})",
        feed.meta.title.as_deref().unwrap_or("(no title)"),
        feed.meta.link.as_deref().unwrap_or("no website link")
    ));
    if let Some(hint) = feed.hints.min_interval {
        line(format!(
            "  The feed asks for at least {} between polls",
            humantime::format_duration(hint)
        ));
    }
    if !feed.hints.skip_hours.is_empty() || !feed.hints.skip_days.is_empty() {
        line(format!(
            "  The feed asks not to be read in hours {:?} (UTC) and on days {:?} (0 = Monday)",
            feed.hints.skip_hours, feed.hints.skip_days
        ));
    }
}

/// What `explain` knows of an item beside the item itself.
struct ItemNotes<'a> {
    dropped: &'a [&'static str],
    removed: &'a [String],
    verdict: Option<&'a Verdict>,
    shaped: Option<&'a Shaped>,
}

fn out_item(
    line: &mut impl FnMut(String),
    number: usize,
    item: &Item,
    notes: &ItemNotes<'_>,
    now: DateTime<Utc>,
) {
    line(format!(
        "  {number}. {}",
        item.title.as_deref().unwrap_or("(no title)")
    ));
    line(format!("     key:        {}", item.key));
    if let Some(link) = &item.link {
        line(format!("     link:       {link}"));
        if let Some(canonical) = canonical_link(link) {
            line(format!("     canonical:  {canonical}"));
        }
    }
    let date = item.published.or(item.updated);
    let published = normalized_date(date, now);
    line(format!(
        "     published:  {} -> {}",
        date.map(time).unwrap_or_else(|| "none".into()),
        time(published)
    ));
    if let Some(updated) = item.updated.filter(|u| Some(*u) != item.published) {
        let stored = normalized_updated(Some(updated), published, now);
        line(format!(
            "     updated:    {} -> {}",
            time(updated),
            stored.map_or_else(|| "dropped: implausible".into(), time)
        ));
    }
    // What was read for each field (for a page or an API: what each selector or path matched).
    if !item.authors.is_empty() {
        let names: Vec<&str> = item.authors.iter().map(|a| a.name.as_str()).collect();
        line(format!("     author:     {}", names.join(", ")));
    }
    if let Some(summary) = &item.summary {
        line(format!(
            "     summary:    {}",
            crate::sanitize::bounded_line(&summary.body, 100)
        ));
    }
    if let Some(content) = &item.content {
        let kind = if content.is_html { "HTML" } else { "text" };
        line(format!(
            "     content:    {} characters of {kind}",
            content.body.chars().count()
        ));
    }
    for dropped in notes.dropped {
        line(format!("     {dropped}"));
    }
    for step in notes.shaped.map_or(&[][..], |s| s.steps.as_slice()) {
        line(format!("     rules:      {step}"));
    }
    let removed = match notes.removed {
        [] => "nothing".to_string(),
        removed => removed.join(", "),
    };
    line(format!("     sanitizer removed: {removed}"));
    let verdict = match notes.verdict {
        Some(Verdict::New) => "new".to_string(),
        Some(Verdict::Updated) => "updated in place".to_string(),
        Some(Verdict::Unchanged) => "unchanged (already stored)".to_string(),
        Some(Verdict::Duplicate(owner)) => format!("a duplicate of {owner}'s item"),
        Some(Verdict::LeftOut(why)) => format!("left out: {why}"),
        None => String::new(),
    };
    line(format!("     a poll would store it as: {verdict}"));
}

/// One source as `status`, the status page and `/status.json` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusRow<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its URL as configured.
    pub url: std::borrow::Cow<'a, str>,
    /// `ok`, `not_modified`, `never_polled`, `failing`, `rate_limited`, `gone` or `paused`.
    pub state: &'static str,
    /// The state as a sentence: `failing (3 in a row): HTTP 500 …`.
    pub state_text: Cow<'static, str>,
    /// The last successful poll.
    pub last_success: Option<DateTime<Utc>>,
    /// Items stored.
    pub items: i64,
    /// When the newest stored item was published.
    pub newest_item: Option<DateTime<Utc>>,
    /// The next poll; `None` at start, or never for a gone source.
    pub next_poll: Option<DateTime<Utc>>,
    /// Why then: `interval`, `server hint`, `skip hours`, `backoff`, `retry-after`.
    pub next_poll_reason: Option<&'static str>,
    /// What the user should know: moved, discovered, full texts missing, push.
    pub notes: Vec<String>,
    /// Its WebSub subscription, if it has one.
    pub push: Option<PushRow>,
    /// Beside other instances: which one polls it now, else polled it last.
    pub instance: Option<&'a crate::store::PolledBy>,
}

/// A source's WebSub subscription as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushRow {
    /// `pushed`, `subscribing` or `unhealthy`.
    pub state: &'static str,
    /// The hub.
    pub hub: String,
    /// When the lease ends.
    pub lease_until: Option<DateTime<Utc>>,
    /// Why push is unhealthy, when it is.
    pub unhealthy: Option<String>,
    /// When the hub last delivered content.
    pub last_push: Option<DateTime<Utc>>,
}

impl PushRow {
    fn of(s: &crate::websub::Subscription, now: DateTime<Utc>) -> PushRow {
        let state = if s.pushes(now) {
            "pushed"
        } else if s.unhealthy.is_some() || s.lease_until.is_some_and(|end| end <= now) {
            "unhealthy"
        } else {
            "subscribing"
        };
        PushRow {
            state,
            hub: s.hub.clone(),
            lease_until: s.lease_until,
            unhealthy: s.unhealthy.clone(),
            last_push: s.last_push_at,
        }
    }

    fn note(&self, relaxed: Option<std::time::Duration>) -> String {
        let until = self.lease_until.map(time).unwrap_or_else(|| "-".into());
        match self.state {
            "pushed" => format!(
                "pushed by {}, lease until {until}; polled every {} meanwhile",
                self.hub,
                relaxed
                    .map(|d| humantime::format_duration(d).to_string())
                    .unwrap_or_default()
            ),
            "unhealthy" => format!(
                "push by {} unhealthy: {}; polled at its own interval until it works again",
                self.hub,
                self.unhealthy.as_deref().unwrap_or("the lease ended")
            ),
            _ => format!("subscribing at {}: waiting for the hub to verify", self.hub),
        }
    }
}

/// The rows of `status`, one per source shown, borrowing the statuses' names and URLs (100,000
/// of each, not copied).
pub fn status_rows<'a>(reads: &'a Status, config: &Config) -> Vec<StatusRow<'a>> {
    let now = Utc::now();
    // Looked up only when there is anything to find: hashing 100,000 URLs to find nothing was
    // a twentieth of a `status`.
    fn by_url<'m, V>(map: &'m std::collections::HashMap<String, V>, url: &str) -> Option<&'m V> {
        if map.is_empty() { None } else { map.get(url) }
    }

    reads
        .sources
        .iter()
        .zip(&reads.shown)
        .map(|(s, source)| {
            let st = &s.state;
            let (state, state_text) = state_of(s);
            let mut notes = moves(st, source, config);
            if let Some((failed, error)) = by_url(&reads.full_text_failed, &s.url) {
                notes.push(format!(
                    "full text not fetched for {failed} item(s), their feed content shown; the latest: {error}"
                ));
            }
            let push = by_url(&reads.subscriptions, &s.url).map(|sub| PushRow::of(sub, now));
            notes.extend(push.as_ref().map(|p| p.note(config.poll.pushed_interval)));
            StatusRow {
                push,
                instance: s.instance.as_ref(),
                name: &s.name,
                url: crate::sanitize::shown_url(&s.url),
                state,
                state_text,
                last_success: st.last_success_at,
                items: s.items,
                newest_item: s.newest_item,
                // A paused source is polled when resumed, whatever its schedule said.
                next_poll: st.next_poll.filter(|_| state != "paused").map(|n| n.at),
                next_poll_reason: st
                    .next_poll
                    .filter(|_| state != "paused")
                    .map(|n| n.reason.as_str()),
                notes,
            }
        })
        .collect()
}

/// A source's state as `/metrics` counts it (`ok`, `failing`, …), and in words.
fn state_of(s: &SourceStatus) -> (&'static str, Cow<'static, str>) {
    let or_dash = |t: Option<DateTime<Utc>>| t.map(time).unwrap_or_else(|| "-".into());
    let st = &s.state;
    match (s.paused_since, st.last_status) {
        (Some(since), _) => ("paused", format!("paused since {}", time(since)).into()),
        (None, None) => ("never_polled", "never polled".into()),
        (None, Some(PollStatus::Gone)) => (
            "gone",
            format!("gone (HTTP 410) since {}", or_dash(st.gone_since)).into(),
        ),
        (None, Some(PollStatus::RateLimited)) => (
            "rate_limited",
            match st.retry_after_until {
                Some(until) => format!("rate limited until {}", time(until)).into(),
                None => "rate limited".into(),
            },
        ),
        (None, Some(PollStatus::Failing)) => (
            "failing",
            format!(
                "failing ({} in a row): {}",
                st.consecutive_failures,
                st.last_error.as_deref().unwrap_or("unknown error")
            )
            .into(),
        ),
        (None, Some(PollStatus::Ok)) => ("ok", PollStatus::Ok.as_str().into()),
        (None, Some(PollStatus::NotModified)) => {
            ("not_modified", PollStatus::NotModified.as_str().into())
        }
    }
}

/// Where a source's feed is read from instead of its configured URL, in notes: adopted after
/// permanent redirects (or about to be), or discovered in the HTML page the URL holds.
fn moves(st: &FetchState, source: &SourceConfig, config: &Config) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(url) = &st.adopted_url {
        let url = shown_url(url);
        notes.push(format!(
            "moved permanently; polling {url}. Change its url at {} to \"{url}\"",
            source.url_position()
        ));
    } else if let Some(target) = &st.redirect_target {
        let target = shown_url(target);
        notes.push(format!(
            "permanently redirected to {target} on the last {} poll(s); adopted after {}",
            st.redirect_seen, config.poll.adopt_redirect_after
        ));
    }
    if let Some(url) = &st.discovered_url {
        let url = shown_url(url);
        notes.push(format!(
            "the URL is an HTML page; polling the feed it links to, {url}"
        ));
    }
    notes
}

/// The instances seen on a shared database, as `status` lists them: which leads, and until
/// when, how many sources each polls now.
pub fn instances(seen: &[crate::store::InstanceSeen]) -> String {
    let rows: Vec<Vec<String>> = seen
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                time(i.seen_at),
                i.holding.to_string(),
                i.leads_until.map_or("-".to_string(), |until| {
                    format!("leader until {}", time(until))
                }),
            ]
        })
        .collect();
    table(&["INSTANCE", "LAST SEEN", "POLLING", "ROLE"], &rows)
}

/// When a row's next poll is, as `status` says it.
pub fn next_poll_text(row: &StatusRow) -> String {
    let mut text = String::new();
    write_next_poll(&mut text, row);
    text
}

fn write_next_poll(out: &mut String, row: &StatusRow) {
    match (row.next_poll, row.next_poll_reason) {
        (Some(at), reason) => {
            write_time(out, at);
            if let Some(reason) = reason {
                let _ = write!(out, " ({reason})");
            }
        }
        (None, _) if row.state == "gone" => out.push_str("never"),
        (None, _) if row.state == "paused" => out.push_str("when resumed"),
        (None, _) => out.push_str("at start"),
    }
}

/// What `status` prints: a table of the sources' states, then a line for each source that moved
/// or whose URL is a page linking to its feed.
pub fn status(rows: &[StatusRow]) -> String {
    let pushing = rows.iter().any(|row| row.push.is_some());
    let shared = rows.iter().any(|row| row.instance.is_some());
    let mut header = vec![
        "SOURCE",
        "LAST SUCCESS",
        "ITEMS",
        "NEWEST ITEM",
        "NEXT POLL",
        "STATE",
    ];
    if pushing {
        header.push("PUSH");
    }
    if shared {
        header.push("INSTANCE");
    }
    let mut table = Table::new(&header);
    for row in rows {
        table.text(row.name);
        table.time(row.last_success);
        table.cell(|out| {
            let _ = write!(out, "{}", row.items);
        });
        table.time(row.newest_item);
        table.cell(|out| write_next_poll(out, row));
        table.text(&row.state_text);
        if pushing {
            table.text(row.push.as_ref().map_or("-", |p| p.state));
        }
        if shared {
            table.cell(|out| match &row.instance {
                Some(by) if by.polling => {
                    let _ = write!(out, "{} (polling)", by.instance);
                }
                Some(by) => out.push_str(&by.instance),
                None => out.push('-'),
            });
        }
    }
    let mut out = table.into_text();
    for row in rows {
        for note in &row.notes {
            let _ = writeln!(out, "{}: {note}", row.name);
        }
    }
    out
}

/// All that `status` prints: the sources' table and notes, then the instances on a shared
/// database and the webhooks' queues, when there are any. `not_applied` is why the daemon
/// that answers runs on an older config than its file holds, if it does.
pub fn status_report(reads: Status, config: &Config, not_applied: Option<&str>) -> String {
    let rows = status_rows(&reads, config);
    let mut out = status(&rows);
    if let Some(seen) = &reads.instances {
        out.push('\n');
        out.push_str(&instances(seen));
    }
    if !reads.webhooks.is_empty() {
        out.push('\n');
        out.push_str(&webhooks(&WebhookRow::all(&reads.webhooks)));
    }
    if let Some(why) = not_applied {
        let _ = writeln!(
            out,
            "\n{}: changed, but not applied (the daemon runs on the last good one): {why}",
            config.file.display()
        );
    }
    out
}

/// One webhook's queue as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebhookRow {
    /// Where it delivers, as far as may be shown ([`crate::sanitize::shown_webhook`]): for many services
    /// (Slack, Discord) the URL is the credential.
    pub url: String,
    /// Deliveries waiting (each of up to 100 items).
    pub queued: i64,
    /// New items not yet packed into a delivery.
    pub items_waiting: i64,
    /// When the oldest waiting delivery was queued.
    pub oldest: Option<DateTime<Utc>>,
    /// When a delivery last passed.
    pub last_delivered: Option<DateTime<Utc>>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it failed.
    pub last_error_at: Option<DateTime<Utc>>,
}

impl WebhookRow {
    /// The row of the webhook at `url`.
    pub fn of(url: &str, status: &WebhookStatus) -> WebhookRow {
        let (last_error, last_error_at) = status.last_error.clone().unzip();
        WebhookRow {
            url: crate::sanitize::shown_webhook(url),
            queued: status.queued,
            items_waiting: status.items_waiting,
            oldest: status.oldest,
            last_delivered: status.last_delivered_at,
            last_error,
            last_error_at,
        }
    }

    /// The rows of `webhooks` (each one's URL and queue, as the store reads them).
    pub fn all(webhooks: &[(String, WebhookStatus)]) -> Vec<WebhookRow> {
        webhooks
            .iter()
            .map(|(url, status)| WebhookRow::of(url, status))
            .collect()
    }
}

/// What `status` prints of the webhooks: a table of their queues.
pub fn webhooks(rows: &[WebhookRow]) -> String {
    let or_dash = |t: Option<DateTime<Utc>>| t.map(time).unwrap_or_else(|| "-".into());
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let error = match (&row.last_error, row.last_error_at) {
                (Some(error), Some(at)) => format!("{} ({error})", time(at)),
                _ => "-".into(),
            };
            vec![
                row.url.clone(),
                row.queued.to_string(),
                or_dash(row.oldest),
                or_dash(row.last_delivered),
                error,
            ]
        })
        .collect();
    let header = [
        "WEBHOOK",
        "QUEUED",
        "OLDEST",
        "LAST DELIVERED",
        "LAST ERROR",
    ];
    table(&header, &table_rows)
}

/// What `check` prints of a valid config: the database, the poll settings, the outputs and a
/// table of the sources.
pub fn check(config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "config OK: {}", config.file.display());
    let _ = writeln!(out, "database: {}", config.database.display());
    let _ = writeln!(
        out,
        "poll: interval {}, concurrency {} ({} per host), timeout {}",
        humantime::format_duration(config.poll.interval),
        config.poll.concurrency,
        config.poll.per_host_concurrency,
        humantime::format_duration(config.poll.timeout)
    );
    for output in &config.outputs {
        let from = if output.selects_sources() {
            let picks: Vec<_> = config
                .sources
                .iter()
                .filter(|s| output.takes(s))
                .map(|s| s.label())
                .collect();
            format!("from {}", picks.join(", "))
        } else {
            "from every source".to_string()
        };
        let _ = writeln!(
            out,
            "output: {} ({:?}, {:?}, at most {} items {from})",
            output.path.display(),
            output.format,
            output.title,
            output.max_items
        );
    }
    let _ = writeln!(out, "{} sources:", config.sources.len());
    let rows: Vec<Vec<String>> = config
        .sources
        .iter()
        .map(|s| {
            vec![
                s.label().to_string(),
                s.shown_url().into_owned(),
                format!("every {}", humantime::format_duration(s.interval)),
                if s.tags.is_empty() {
                    String::new()
                } else {
                    format!("tags: {}", s.tags.join(", "))
                },
                relative_to(&s.declared_in, &config.file),
            ]
        })
        .collect();
    out.push_str(&table(&["NAME", "URL", "INTERVAL", "TAGS", "FILE"], &rows));
    out
}

/// A suggestion when publishers' logs would name no one to reach: neither `[poll] contact` nor
/// an own `[poll] user_agent` is set.
pub fn missing_contact(config: &Config) -> Option<String> {
    (config.poll.user_agent == crate::config::DEFAULT_USER_AGENT).then(|| {
        format!(
            "publishers see \"User-Agent: {}\" and cannot tell who polls them; set [poll] contact = \"mailto:you@example.org\" (or a web address) and it reads \"{}\"",
            config.poll.user_agent,
            crate::config::user_agent_with_contact("mailto:you@example.org")
        )
    })
}

/// A warning when the database lies inside a published folder, where whoever reads the outputs
/// may download it.
pub fn published_database(config: &Config) -> Option<String> {
    let folder = config.published_folder_holding(&config.database)?;
    Some(format!(
        "the database {} lies inside {}, a folder that is published: whoever reads the outputs may download it (and its -wal file). Move it out, e.g. [database] path = \"state/tributary.db\"",
        config.database.display(),
        folder.display()
    ))
}

/// The file a source was declared in, as a user would name it beside the config.
fn relative_to(file: &Path, config_file: &Path) -> String {
    config_file
        .parent()
        .and_then(|base| file.strip_prefix(base).ok())
        .unwrap_or(file)
        .display()
        .to_string()
}

/// Rows in columns padded to their widest cell; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = Table::new(header);
    for row in rows {
        for column in 0..header.len() {
            table.text(row.get(column).map_or("", String::as_str));
        }
    }
    table.into_text()
}

/// How wide `text` shows, in characters (its length, when it is ASCII, as most cells are).
fn width(text: &str) -> usize {
    match text.is_ascii() {
        true => text.len(),
        false => text.chars().count(),
    }
}

/// A table being made: rows in columns padded to their widest cell, the last column not
/// padded, filled a cell at a time, left to right. The cells are written into one text: at
/// 100,000 sources `status` has 600,000, and a string for each cost more than reading the
/// database.
pub struct Table {
    /// The cells, one after another.
    cells: String,
    /// Where each cell ends in `cells`.
    ends: Vec<usize>,
    /// The widest cell of each column, in characters.
    widths: Vec<usize>,
}

impl Table {
    /// A table of the columns `header` names, its first row.
    pub fn new(header: &[&str]) -> Table {
        let mut table = Table {
            cells: String::new(),
            ends: Vec::new(),
            widths: vec![0; header.len().max(1)],
        };
        for name in header {
            table.text(name);
        }
        table
    }

    /// The next cell, as `write` writes it.
    pub fn cell(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.cells.len();
        write(&mut self.cells);
        let column = self.ends.len() % self.widths.len();
        let width = width(&self.cells[start..]);
        self.widths[column] = self.widths[column].max(width);
        self.ends.push(self.cells.len());
    }

    /// The next cell: `text`.
    pub fn text(&mut self, text: &str) {
        self.cell(|out| out.push_str(text));
    }

    /// The next cell: a time as `time` writes it, or `-`.
    pub fn time(&mut self, t: Option<DateTime<Utc>>) {
        self.cell(|out| match t {
            Some(t) => write_time(out, t),
            None => out.push('-'),
        });
    }

    /// The table as text, a line per row.
    pub fn into_text(self) -> String {
        let columns = self.widths.len();
        let mut out = String::with_capacity(self.cells.len() + self.ends.len() * 4);
        let (mut start, mut line_start) = (0, 0);
        for (i, &end) in self.ends.iter().enumerate() {
            let cell = &self.cells[start..end];
            start = end;
            out.push_str(cell);
            let column = i % columns;
            if column + 1 < columns {
                let pad = self.widths[column] - width(cell) + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            } else {
                let kept = out[line_start..].trim_end().len();
                out.truncate(line_start + kept);
                out.push('\n');
                line_start = out.len();
            }
        }
        out
    }
}

/// `rules test`: what the rules and rewrites make of each stored item (publisher, item, what
/// they make of it), newest first, then the totals.
pub fn rules_test(shaped: &[(String, Item, Shaped)], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let (mut hidden, mut tagged, mut rewritten) = (0, 0, 0);
    for (publisher, item, result) in shaped {
        let title = item.title.as_deref().unwrap_or("(no title)");
        out.push_str(&format!("{publisher} · {title}\n"));
        if result.steps.is_empty() {
            out.push_str("  written as it is\n");
        }
        for step in &result.steps {
            out.push_str(&format!("  {step}\n"));
        }
        hidden += usize::from(result.hidden.is_some());
        tagged += usize::from(!result.tags.is_empty());
        rewritten += usize::from(!result.rewritten.is_empty());
    }
    out.push_str(&format!(
        "{} items as of {}: {} written, {hidden} dropped; {tagged} tagged, {rewritten} rewritten (nothing was changed)\n",
        shaped.len(),
        time(now),
        shaped.len() - hidden,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Failure, FailureKind, NextPoll, Reason};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_instances_table_says_who_leads_until_when_and_what_each_polls() {
        let seen = [
            crate::store::InstanceSeen {
                id: "feeds-a:4127:9f3c".into(),
                seen_at: at("2026-12-03T10:15:02Z"),
                holding: 3,
                leads_until: Some(at("2026-12-03T10:17:02Z")),
            },
            crate::store::InstanceSeen {
                id: "feeds-b:988:01aa".into(),
                seen_at: at("2026-12-03T10:15:01Z"),
                holding: 1,
                leads_until: None,
            },
        ];
        let table = instances(&seen);
        let lines: Vec<Vec<&str>> = table
            .lines()
            .map(|l| {
                l.split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(lines[0], ["INSTANCE", "LAST SEEN", "POLLING", "ROLE"]);
        assert_eq!(
            lines[1],
            [
                "feeds-a:4127:9f3c",
                "2026-12-03 10:15:02Z",
                "3",
                "leader until 2026-12-03 10:17:02Z"
            ]
        );
        assert_eq!(
            lines[2],
            ["feeds-b:988:01aa", "2026-12-03 10:15:01Z", "1", "-"]
        );
    }

    fn outcome(result: PollResult) -> RefreshOutcome {
        RefreshOutcome {
            url: "https://p.example/feed".into(),
            name: "Pub".into(),
            result,
            next_poll: Some(NextPoll {
                at: at("2026-11-26T15:00:00Z"),
                reason: Reason::RetryAfter,
            }),
            health_changed: false,
            hub: None,
            push_missed: false,
        }
    }

    #[test]
    fn once_says_what_became_of_each_source_and_of_all() {
        let counts = ItemCounts {
            new: 3,
            updated: 1,
            unchanged: 26,
            duplicates: 2,
            left_out: 0,
        };
        let until = Some(at("2026-11-26T15:00:00Z"));
        let table = [
            (
                PollResult::Fetched(counts),
                "Pub: 3 new, 1 updated, 26 unchanged, 2 already via another source",
            ),
            (PollResult::NotModified, "Pub: not modified"),
            (
                PollResult::RateLimited { status: 429, until },
                "Pub: rate limited (HTTP 429), retry after 2026-11-26 15:00:00Z",
            ),
            (PollResult::Gone, "Pub: gone (HTTP 410); no longer polled"),
            (
                PollResult::Failed(Failure::new(
                    FailureKind::Http,
                    "HTTP 500 Internal Server Error",
                )),
                "Pub: failed: HTTP 500 Internal Server Error",
            ),
            (
                PollResult::Skipped { until },
                "Pub: skipped until 2026-11-26 15:00:00Z (retry-after)",
            ),
        ];
        let mut outcomes = Vec::new();
        for (result, line) in table {
            let o = outcome(result);
            assert_eq!(outcome_line(&o), line);
            outcomes.push(o);
        }
        assert_eq!(
            once_total(&outcomes),
            "total: 6 sources, 2 ok, 1 failed, 1 rate limited, 1 gone, 1 skipped; \
             3 new, 1 updated, 26 unchanged, 2 already via another source"
        );
    }

    #[test]
    fn tables_pad_every_column_but_the_last() {
        let rows = vec![
            vec!["a".to_string(), "long cell".into(), "x".into()],
            vec!["bbbb".to_string(), "c".into(), "".into()],
        ];
        assert_eq!(
            table(&["N", "URL", "LAST"], &rows),
            "N     URL        LAST\na     long cell  x\nbbbb  c\n"
        );
        // Widths count characters, not bytes; a short row ends where its cells do.
        let rows = vec![
            vec!["Zürich".to_string(), "ü".into(), "x".into()],
            vec!["é".into()],
        ];
        assert_eq!(
            table(&["N", "URL", "LAST"], &rows),
            "N       URL  LAST\nZürich  ü    x\né\n"
        );
    }

    #[test]
    fn times_are_written_as_chrono_formats_them() {
        for text in [
            "2026-11-26T15:00:00Z",
            "1970-01-01T00:00:00Z",
            "0001-02-03T04:05:06Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T09:08:07.999Z",
        ] {
            let t = at(text);
            assert_eq!(time(t), t.format("%Y-%m-%d %H:%M:%SZ").to_string());
        }
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(time(far), far.format("%Y-%m-%d %H:%M:%SZ").to_string());
    }

    #[test]
    fn explain_tells_dates_dropped_urls_and_the_verdict_of_an_item() {
        let item = Item {
            key: "hash:1".into(),
            aliases: Vec::new(),
            guid: None,
            link: None,
            link_title: None,
            links: Vec::new(),
            title: Some("Scripted".into()),
            summary: None,
            content: None,
            authors: vec![],
            published: Some(at("2025-05-01T00:00:00Z")),
            updated: Some(at("2099-01-01T00:00:00Z")),
            enclosures: vec![],
            categories: vec![],
            image: None,
            digest: String::new(),
            unchanged: false,
        };
        let notes = ItemNotes {
            dropped: &["link dropped: not http(s)"],
            removed: &["<script> ×1".to_string()],
            verdict: Some(&Verdict::LeftOut("pruned before")),
            shaped: None,
        };
        let mut lines = Vec::new();
        out_item(
            &mut |l| lines.push(l),
            2,
            &item,
            &notes,
            at("2025-06-01T00:00:00Z"),
        );
        assert_eq!(
            lines,
            [
                "  2. Scripted",
                "     key:        hash:1",
                "     published:  2025-05-01 00:00:00Z -> 2025-05-01 00:00:00Z",
                "     updated:    2099-01-01 00:00:00Z -> dropped: implausible",
                "     link dropped: not http(s)",
                "     sanitizer removed: <script> ×1",
                "     a poll would store it as: left out: pruned before",
            ]
        );
    }
}

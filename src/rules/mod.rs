//! What rules and rewrites make of an item on its way out: its rewritten fields, its tags, and
//! whether it is written at all. Pure: the store keeps each item as the publisher gave it
//! (sanitized) and [`Shaping::shape`] is replayed from that original whenever the rules change,
//! so a rewrite is never applied twice and a removed one restores the original.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

mod written;

pub use written::{Action, Field, Pattern, Replace, Rewrites, Rule, Selector, When};

use crate::identity::hex;
use crate::model::{Item, Text};
use crate::sanitize::{MAX_TITLE_CHARS, bounded_line, clean_html, text_of_clean_html};

/// Every rule and rewrite of a config, by source.
#[derive(Debug, Clone, Default)]
pub struct Shaping {
    global: Vec<Rule>,
    strip_query: Vec<String>,
    /// By source URL.
    sources: HashMap<String, SourceShaping>,
    digest: String,
}

/// What shapes one source's items beside the global rules.
#[derive(Debug, Clone, Default)]
pub struct SourceShaping {
    /// Its name in the config (rules may match it).
    pub name: Option<String>,
    /// Its tags (rules may match them; its items carry them).
    pub tags: Vec<String>,
    /// Its own `[[sources.rules]]`.
    pub rules: Vec<Rule>,
    /// Its rewrites.
    pub rewrites: Rewrites,
}

/// The rules in force, shared by every task and replaced whole on a reload. Work that runs
/// later, on the store's thread, reads the rules in force when it runs: an item stored by a
/// poll that began before a reload is shaped by the new rules, or shaped again with the rest.
#[derive(Debug, Clone, Default)]
pub struct CurrentShaping(Arc<RwLock<Arc<Shaping>>>);

impl CurrentShaping {
    /// `shaping` in force.
    pub fn new(shaping: Shaping) -> CurrentShaping {
        CurrentShaping(Arc::new(RwLock::new(Arc::new(shaping))))
    }

    /// The rules in force now.
    pub fn get(&self) -> Arc<Shaping> {
        // A writer that panicked left a whole `Arc` behind: still the rules of one config.
        match self.0.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `shaping` in force.
    pub fn set(&self, shaping: Shaping) {
        let shaping = Arc::new(shaping);
        match self.0.write() {
            Ok(mut current) => *current = shaping,
            Err(poisoned) => *poisoned.into_inner() = shaping,
        }
    }
}

/// The fields a rewrite changed; stored as JSON beside the original.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rewritten {
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The summary, in the original's kind (HTML or text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The content, in the original's kind (HTML or text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Rewritten {
    /// Whether no field was rewritten.
    pub fn is_empty(&self) -> bool {
        *self == Rewritten::default()
    }
}

/// What the rules and rewrites make of one item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shaped {
    /// Why it is written to no output (`dropped by rules[0]`), if it is not.
    pub hidden: Option<String>,
    /// The tags rules gave it.
    pub tags: Vec<String>,
    /// Its rewritten fields.
    pub rewritten: Rewritten,
    /// When a rule's `older_than`/`newer_than` will decide otherwise: shape it again then.
    pub recheck_at: Option<DateTime<Utc>>,
    /// What each rule and rewrite did, in order, for `rules test` and `explain`.
    pub steps: Vec<Step>,
}

/// One thing a rule or rewrite did to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A rewrite changed a field.
    Rewrote {
        /// `replace[0]`, `remove[1]`, `strip_query`.
        by: String,
        /// The field.
        field: &'static str,
        /// The field before.
        before: String,
        /// The field after.
        after: String,
    },
    /// A `drop` rule matched: the item is written nowhere.
    Dropped(String),
    /// A `keep` rule matched: the item is written.
    Kept(String),
    /// `keep` rules applied and none matched: the item is written nowhere.
    NotKept(String),
    /// A `tag` rule matched.
    Tagged {
        /// The rule.
        by: String,
        /// Its tag.
        tag: String,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Rewrote {
                by,
                field,
                before,
                after,
            } => write!(
                f,
                "{field} rewritten by {by}: {:?} → {:?}",
                preview(before),
                preview(after)
            ),
            Step::Dropped(by) => write!(f, "dropped by {by}"),
            Step::Kept(by) => write!(f, "kept by {by}"),
            Step::NotKept(by) => write!(f, "dropped: not kept by {by}"),
            Step::Tagged { by, tag } => write!(f, "tagged {tag:?} by {by}"),
        }
    }
}

/// A long text cut for showing in one line.
fn preview(text: &str) -> String {
    bounded_line(text, 120)
}

impl Shaping {
    /// The `global` rules, the query parameters cut from every link (`strip_query`) and
    /// each source's own shaping, by its URL.
    pub fn new(
        global: Vec<Rule>,
        strip_query: Vec<String>,
        sources: HashMap<String, SourceShaping>,
    ) -> Shaping {
        let mut shaping = Shaping {
            global,
            strip_query,
            sources,
            digest: String::new(),
        };
        shaping.digest = shaping.describe();
        shaping
    }

    /// A digest of everything that decides an item's shape: when it changes, every stored item
    /// is shaped again.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    fn describe(&self) -> String {
        let mut hasher = Sha256::new();
        let mut add = |part: &str| {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        };
        for rule in &self.global {
            add(&describe_rule(rule));
        }
        add(&self.strip_query.join(" "));
        let mut urls: Vec<&String> = self.sources.keys().collect();
        urls.sort();
        for url in urls {
            let s = &self.sources[url];
            add(url);
            add(s.name.as_deref().unwrap_or_default());
            add(&s.tags.join(" "));
            for rule in &s.rules {
                add(&describe_rule(rule));
            }
            add(&describe_rewrites(&s.rewrites));
        }
        hex(&hasher.finalize()[..16])
    }

    /// Whether any rule or rewrite could change an item of `source_url`.
    fn shapes(&self, source_url: &str) -> bool {
        !self.global.is_empty()
            || !self.strip_query.is_empty()
            || self
                .sources
                .get(source_url)
                .is_some_and(|s| !s.rules.is_empty() || !s.rewrites.is_empty())
    }

    /// The query parameters cut from `source_url`'s links.
    fn strip_patterns(&self, source_url: &str) -> Vec<&str> {
        let own = self
            .sources
            .get(source_url)
            .map(|s| &s.rewrites.strip_query);
        self.strip_query
            .iter()
            .chain(own.into_iter().flatten())
            .map(String::as_str)
            .collect()
    }

    /// Cuts tracking parameters from the links of a fetch's items before identity and dedup:
    /// an item known by its link is known by the clean one (and, as an alias, by the link as
    /// written, so that items stored before the parameter was named are found again); items
    /// whose links differ only by those parameters are one.
    pub fn strip_links(&self, source_url: &str, items: &mut Vec<Item>) {
        let patterns = self.strip_patterns(source_url);
        if patterns.is_empty() {
            return;
        }
        let mut seen = HashSet::new();
        items.retain_mut(|item| {
            let stripped = item.link.as_deref().and_then(|l| strip_query(l, &patterns));
            if let (Some(stripped), Some(link)) = (stripped, item.link.as_deref()) {
                let written = format!("link:{link}");
                if item.key == written {
                    item.key = format!("link:{stripped}");
                    item.aliases.push(written);
                }
                item.link = Some(stripped);
            }
            seen.insert(item.key.clone())
        });
    }

    /// What the rules and rewrites make of `item` (stored by `source_url` under `source_name`,
    /// published at `published`; its content is the full text when there is one) at `now`.
    pub fn shape(
        &self,
        source_url: &str,
        source_name: Option<&str>,
        item: &Item,
        published: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Shaped {
        self.shape_in_story(source_url, source_name, item, (published, 1), now)
    }

    /// [`Shaping::shape`] for an item whose story `reported_by` publishers reported (itself
    /// among them; 1 when it is alone), for `when.reported_by_at_least`.
    pub fn shape_in_story(
        &self,
        source_url: &str,
        source_name: Option<&str>,
        item: &Item,
        (published, reported_by): (DateTime<Utc>, usize),
        now: DateTime<Utc>,
    ) -> Shaped {
        let mut shaped = Shaped::default();
        if !self.shapes(source_url) {
            return shaped;
        }
        let own = self.sources.get(source_url);
        let fallback = SourceShaping {
            name: source_name.map(str::to_string),
            ..SourceShaping::default()
        };
        let source = own.unwrap_or(&fallback);
        let view = self.rewrite(source_url, source, item, reported_by, &mut shaped);
        self.judge(source, &view, published, now, &mut shaped);
        shaped
    }

    /// Whether a rule looks at the size of an item's story: then its shape changes as its
    /// story grows.
    pub fn uses_stories(&self) -> bool {
        let rules = self
            .global
            .iter()
            .chain(self.sources.values().flat_map(|s| &s.rules));
        rules
            .into_iter()
            .any(|r| r.when.reported_by_at_least.is_some())
    }

    /// Applies the source's rewrites; returns the item as rules see it, borrowing what no
    /// rewrite changed.
    fn rewrite<'a>(
        &self,
        source_url: &str,
        source: &SourceShaping,
        item: &'a Item,
        reported_by: usize,
        shaped: &mut Shaped,
    ) -> View<'a> {
        let rewrites = &source.rewrites;
        let mut link = item.link.as_deref().map(Cow::Borrowed);
        let mut title = item.title.as_deref().map(Cow::Borrowed);
        let mut summary = item.summary.as_ref().map(Cow::Borrowed);
        let mut content = item.content.as_ref().map(Cow::Borrowed);
        let patterns = self.strip_patterns(source_url);
        if let Some(stripped) = link.as_deref().and_then(|l| strip_query(l, &patterns)) {
            shaped.steps.push(Step::Rewrote {
                by: "strip_query".into(),
                field: "link",
                before: link.unwrap_or_default().into_owned(),
                after: stripped.clone(),
            });
            link = Some(Cow::Owned(stripped));
        }
        remove_elements(rewrites, [&mut summary, &mut content], shaped);
        for (i, replace) in rewrites.replace.iter().enumerate() {
            let slots = [&mut title, &mut link];
            if let Some((before, after)) = replace_in(replace, slots, [&mut summary, &mut content])
            {
                shaped.steps.push(Step::Rewrote {
                    by: format!("replace[{i}]"),
                    field: replace.field.as_str(),
                    before,
                    after,
                });
            }
        }
        fn changed(new: Option<&str>, old: Option<&str>) -> Option<String> {
            new.filter(|n| Some(*n) != old).map(str::to_string)
        }
        fn body<'t>(t: &'t Option<Cow<'_, Text>>) -> Option<&'t str> {
            t.as_ref().map(|t| t.body.as_str())
        }
        fn original(t: &Option<Text>) -> Option<&str> {
            t.as_ref().map(|t| t.body.as_str())
        }
        shaped.rewritten = Rewritten {
            title: changed(title.as_deref(), item.title.as_deref()),
            summary: changed(body(&summary), original(&item.summary)),
            content: changed(body(&content), original(&item.content)),
            link: changed(link.as_deref(), item.link.as_deref()),
        };
        View {
            item,
            title,
            summary,
            content,
            link,
            reported_by,
            summary_text: OnceCell::new(),
            content_text: OnceCell::new(),
        }
    }

    /// Applies the rules in scope: the source's own, then the global ones, in order. The first
    /// `drop` or `keep` that matches decides; `tag` rules all apply.
    fn judge(
        &self,
        source: &SourceShaping,
        view: &View<'_>,
        published: DateTime<Utc>,
        now: DateTime<Utc>,
        shaped: &mut Shaped,
    ) {
        let in_scope = |rule: &&Rule| {
            (rule.sources.is_empty()
                || source
                    .name
                    .as_ref()
                    .is_some_and(|n| rule.sources.contains(n)))
                && (rule.tags.is_empty() || rule.tags.iter().any(|t| source.tags.contains(t)))
        };
        let mut decided = false;
        let mut unmatched_keep = None;
        for rule in source.rules.iter().chain(&self.global).filter(in_scope) {
            let tagging = matches!(rule.action, Action::Tag(_));
            if decided && !tagging {
                continue;
            }
            let (matched, recheck) = matches(&rule.when, view, published, now);
            if let Some(at) = recheck {
                shaped.recheck_at = Some(shaped.recheck_at.map_or(at, |t| t.min(at)));
            }
            match (&rule.action, matched) {
                (Action::Drop, true) => {
                    decided = true;
                    shaped.hidden = Some(format!("dropped by {}", rule.label));
                    shaped.steps.push(Step::Dropped(rule.label.clone()));
                }
                (Action::Keep, true) => {
                    decided = true;
                    shaped.steps.push(Step::Kept(rule.label.clone()));
                }
                (Action::Keep, false) => {
                    unmatched_keep.get_or_insert_with(|| rule.label.clone());
                }
                (Action::Tag(tag), true) => {
                    if !shaped.tags.contains(tag) {
                        shaped.tags.push(tag.clone());
                    }
                    shaped.steps.push(Step::Tagged {
                        by: rule.label.clone(),
                        tag: tag.clone(),
                    });
                }
                (Action::Drop | Action::Tag(_), false) => {}
            }
        }
        if let (false, Some(label)) = (decided, unmatched_keep) {
            shaped.hidden = Some(format!("not kept by {label}"));
            shaped.steps.push(Step::NotKept(label));
        }
    }
}

/// `rewrites.remove`: the elements each selector matches cut from the HTML of `texts` (the
/// summary, then the content), each cut a step of `shaped`.
fn remove_elements(
    rewrites: &Rewrites,
    texts: [&mut Option<Cow<'_, Text>>; 2],
    shaped: &mut Shaped,
) {
    let [summary, content] = texts;
    for (i, selector) in rewrites.remove.iter().enumerate() {
        for (field, text) in [("summary", &mut *summary), ("content", &mut *content)] {
            let Some(text) = text.as_mut().filter(|t| t.is_html) else {
                continue;
            };
            if let Some(cut) = cut_elements(&text.body, &selector.selector) {
                let before = std::mem::replace(&mut text.to_mut().body, cut.clone());
                shaped.steps.push(Step::Rewrote {
                    by: format!("remove[{i}] ({:?})", selector.written),
                    field,
                    before,
                    after: cut,
                });
            }
        }
    }
}

/// One `replace` applied to its field (of the title and link `lines`, or the summary and
/// content `texts`): the field before and after, if it changed.
fn replace_in(
    replace: &Replace,
    lines: [&mut Option<Cow<'_, str>>; 2],
    texts: [&mut Option<Cow<'_, Text>>; 2],
) -> Option<(String, String)> {
    let regex = replace.pattern.regex();
    let [title, link] = lines;
    let [summary, content] = texts;
    match replace.field {
        Field::Title | Field::Link => {
            let slot = match replace.field {
                Field::Title => title,
                _ => link,
            };
            let Cow::Owned(new) = regex.replace_all(slot.as_deref()?, replace.with.as_str()) else {
                return None;
            };
            let new = match replace.field {
                Field::Title => bounded_line(&new, MAX_TITLE_CHARS),
                _ => new.trim().to_string(),
            };
            let before = slot.replace(Cow::Owned(new.clone()));
            Some((before.unwrap_or_default().into_owned(), new))
        }
        Field::Summary | Field::Content => {
            let slot = match replace.field {
                Field::Summary => summary,
                _ => content,
            };
            let text = slot.as_mut()?;
            let Cow::Owned(new) = regex.replace_all(&text.body, replace.with.as_str()) else {
                return None;
            };
            // A replacement may join pieces of markup into something unsafe.
            let new = match text.is_html {
                true => clean_html(&new, None),
                false => new,
            };
            Some((std::mem::replace(&mut text.to_mut().body, new.clone()), new))
        }
    }
}

/// An item as rules see it: rewritten, with the text of its HTML read once, when asked.
struct View<'a> {
    item: &'a Item,
    /// How many publishers reported its story, itself among them.
    reported_by: usize,
    title: Option<Cow<'a, str>>,
    summary: Option<Cow<'a, Text>>,
    content: Option<Cow<'a, Text>>,
    link: Option<Cow<'a, str>>,
    summary_text: OnceCell<String>,
    content_text: OnceCell<String>,
}

impl View<'_> {
    fn text<'s>(text: &'s Option<Cow<'_, Text>>, cell: &'s OnceCell<String>) -> &'s str {
        match text {
            None => "",
            Some(t) if !t.is_html => &t.body,
            Some(t) => cell.get_or_init(|| text_of_clean_html(&t.body)),
        }
    }

    fn summary(&self) -> &str {
        Self::text(&self.summary, &self.summary_text)
    }

    fn content(&self) -> &str {
        Self::text(&self.content, &self.content_text)
    }
}

/// Whether `view` meets every condition of `when` at `now`, and when a date condition will
/// next decide otherwise.
fn matches(
    when: &When,
    view: &View<'_>,
    published: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (bool, Option<DateTime<Utc>>) {
    let mut recheck: Option<DateTime<Utc>> = None;
    let mut dated = |age: std::time::Duration, older: bool| -> bool {
        let Ok(age) = chrono::Duration::from_std(age) else {
            return !older;
        };
        // The moment the item turns older than `age`.
        let turns = published.checked_add_signed(age).unwrap_or(published);
        if turns > now {
            recheck = Some(recheck.map_or(turns, |t| t.min(turns)));
        }
        (turns <= now) == older
    };
    let dates = when.older_than.is_none_or(|age| dated(age, true))
        && when.newer_than.is_none_or(|age| dated(age, false))
        && when
            .reported_by_at_least
            .is_none_or(|n| view.reported_by >= n);
    let text = |pattern: &Option<Pattern>, value: &dyn Fn() -> bool| pattern.is_none() || value();
    let is = |p: &Option<Pattern>, s: &str| p.as_ref().is_some_and(|p| p.regex().is_match(s));
    let texts = text(&when.title, &|| {
        is(&when.title, view.title.as_deref().unwrap_or_default())
    }) && text(&when.summary, &|| is(&when.summary, view.summary()))
        && text(&when.content, &|| is(&when.content, view.content()))
        && text(&when.any, &|| {
            is(&when.any, view.title.as_deref().unwrap_or_default())
                || is(&when.any, view.summary())
                || is(&when.any, view.content())
        })
        && text(&when.author, &|| {
            view.item.authors.iter().any(|a| {
                is(&when.author, &a.name) || a.email.as_deref().is_some_and(|e| is(&when.author, e))
            })
        })
        && text(&when.category, &|| {
            view.item
                .categories
                .iter()
                .any(|c| is(&when.category, c.shown()) || is(&when.category, &c.term))
        })
        && text(&when.link, &|| {
            is(&when.link, view.link.as_deref().unwrap_or_default())
        });
    (dates && texts, recheck)
}

/// `link` without the query parameters `patterns` name (`*` for any characters, any case),
/// the rest of it as written; `None` when nothing is cut.
pub fn strip_query(link: &str, patterns: &[&str]) -> Option<String> {
    // Most links have no parameter to cut: no need to parse them.
    let (_, query) = link.split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    let named = |pair: &str| {
        let name = pair.split('=').next().unwrap_or_default();
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        patterns.iter().any(|p| wildcard(p, &name))
    };
    if !query.split('&').any(named) {
        return None;
    }
    let url = Url::parse(link).ok()?;
    let query = url.query()?;
    let mut cut = false;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            let strip = patterns.iter().any(|p| wildcard(p, &name));
            cut |= strip;
            !strip
        })
        .collect();
    if !cut {
        return None;
    }
    let mut url = url.clone();
    let kept = kept.join("&");
    url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    Some(url.to_string())
}

/// Whether `name` matches `pattern`, where `*` stands for any characters; ASCII case ignored.
fn wildcard(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern.eq_ignore_ascii_case(name);
    }
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == name;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `html` without the elements `selector` matches; `None` when it matches none.
pub fn cut_elements(html: &str, selector: &scraper::Selector) -> Option<String> {
    let mut fragment = scraper::Html::parse_fragment(html);
    let ids: Vec<_> = fragment.select(selector).map(|e| e.id()).collect();
    if ids.is_empty() {
        return None;
    }
    for id in ids {
        if let Some(mut node) = fragment.tree.get_mut(id) {
            node.detach();
        }
    }
    Some(fragment.root_element().inner_html())
}

fn describe_rule(rule: &Rule) -> String {
    let w = &rule.when;
    let patterns = [
        &w.title,
        &w.summary,
        &w.content,
        &w.any,
        &w.author,
        &w.category,
        &w.link,
    ]
    .map(|p| p.as_ref().map_or("-", |p| p.as_str()));
    format!(
        "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        rule.label,
        rule.sources,
        rule.tags,
        patterns,
        w.older_than,
        w.newer_than,
        w.reported_by_at_least,
        rule.action
    )
}

fn describe_rewrites(rewrites: &Rewrites) -> String {
    let removes: Vec<&str> = rewrites.remove.iter().map(|s| s.written.as_str()).collect();
    let replaces: Vec<(&str, &str, &str)> = rewrites
        .replace
        .iter()
        .map(|r| (r.field.as_str(), r.pattern.as_str(), r.with.as_str()))
        .collect();
    format!("{removes:?} {replaces:?} {:?}", rewrites.strip_query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, Category};
    use Pattern;

    fn rule(label: &str, when: When, action: Action) -> Rule {
        Rule {
            label: label.into(),
            sources: Vec::new(),
            tags: Vec::new(),
            when,
            action,
        }
    }

    fn title(pattern: &str) -> When {
        When {
            title: Some(Pattern::new(pattern).unwrap()),
            ..When::default()
        }
    }

    fn shaping(rules: Vec<Rule>) -> Shaping {
        Shaping {
            global: rules,
            ..Shaping::default()
        }
    }

    fn item(title: &str) -> Item {
        Item {
            title: Some(title.into()),
            link: Some("https://a.example/x?utm_source=rss&id=1".into()),
            authors: vec![Author {
                name: "Desk".into(),
                ..Author::default()
            }],
            categories: vec![Category::new("News")],
            ..Item::default()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_first_drop_or_keep_decides_and_every_tag_applies() {
        let rules = vec![
            rule("r0", title("^A"), Action::Tag("a".into())),
            rule("r1", title("Sponsored"), Action::Drop),
            rule("r2", title("."), Action::Keep),
            rule("r3", title("^A"), Action::Tag("b".into())),
            rule("r4", title("."), Action::Drop),
        ];
        let s = shaping(rules);
        let now = at("2026-01-01T00:00:00Z");
        let table = [
            ("A story", None, vec!["a", "b"]),
            ("A Sponsored story", Some("dropped by r1"), vec!["a", "b"]),
            ("Other", None, vec![]),
        ];
        for (t, hidden, tags) in table {
            let shaped = s.shape("u", None, &item(t), now, now);
            assert_eq!(shaped.hidden.as_deref(), hidden, "{t}");
            assert_eq!(shaped.tags, tags, "{t}");
        }
    }

    #[test]
    fn keep_rules_hide_what_none_of_them_matches() {
        let s = shaping(vec![
            rule("k0", title("^A"), Action::Keep),
            rule("k1", title("^B"), Action::Keep),
        ]);
        let now = at("2026-01-01T00:00:00Z");
        let hidden = |t: &str| s.shape("u", None, &item(t), now, now).hidden;
        assert_eq!(hidden("A"), None);
        assert_eq!(hidden("B"), None);
        assert_eq!(hidden("C").as_deref(), Some("not kept by k0"));
    }

    #[test]
    fn a_date_condition_says_when_it_will_decide_otherwise() {
        let when = When {
            older_than: Some(std::time::Duration::from_secs(86_400)),
            ..When::default()
        };
        let s = shaping(vec![rule("old", when, Action::Drop)]);
        let published = at("2026-01-01T00:00:00Z");
        let young = s.shape("u", None, &item("x"), published, at("2026-01-01T12:00:00Z"));
        assert_eq!(young.hidden, None);
        assert_eq!(young.recheck_at, Some(at("2026-01-02T00:00:00Z")));
        let old = s.shape("u", None, &item("x"), published, at("2026-01-02T00:00:00Z"));
        assert!(old.hidden.is_some());
        assert_eq!(old.recheck_at, None);
    }

    #[test]
    fn query_parameters_are_cut_by_name_and_wildcard_keeping_the_rest_as_written() {
        let table = [
            (
                "https://a.example/x?utm_source=rss&id=1",
                Some("https://a.example/x?id=1"),
            ),
            (
                "https://a.example/x?id=a%20b&UTM_medium=m",
                Some("https://a.example/x?id=a%20b"),
            ),
            ("https://a.example/x?fbclid=1", Some("https://a.example/x")),
            ("https://a.example/x?id=1", None),
            ("https://a.example/x", None),
            ("not a url", None),
        ];
        for (link, stripped) in table {
            assert_eq!(
                strip_query(link, &["utm_*", "fbclid"]).as_deref(),
                stripped,
                "{link}"
            );
        }
        assert!(wildcard("*_eid", "mc_eid") && wildcard("a*b*c", "aXbYc"));
        assert!(!wildcard("utm_*", "xutm_a") && !wildcard("a*b", "ab_"));
    }

    #[test]
    fn removing_elements_cuts_only_what_the_selector_matches() {
        let selector = scraper::Selector::parse(".share, img[width='1']").unwrap();
        let html =
            r#"<p>Keep <b>this</b></p><div class="share">x</div><img src="p.gif" width="1">"#;
        assert_eq!(
            cut_elements(html, &selector).as_deref(),
            Some("<p>Keep <b>this</b></p>")
        );
        assert_eq!(cut_elements("<p>nothing</p>", &selector), None);
    }
}

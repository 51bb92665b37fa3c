//! One render of the site, doing what changed: the items logged as changed since the last
//! render are compared with where the site placed them (`site_items`), which tells the pages
//! they touch: their own, their publishers', their tags', the archive pages of their days, the
//! pages listing them among a publisher's earlier items, the index and the publishers' list.
//! Only those are read and made again. Everything is made again only when the site's look
//! changed (templates, `[site]`, the outputs' reach) or its folder is not the one the store
//! remembers; then each publisher's items are read a window at a time, and each day's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use minijinja::Environment;

use super::pages::{self, Frame, Page, Pagination, Publisher};
use super::staging::Staging;
use super::story;
use super::{Entry, PageError, item_file, shown_time, tag_file, unique_slug};
use crate::store::{ItemFilter, ItemRow, Placement, PublisherCount, Scope, Store, StoreError};

/// How many items are read or placed at a time.
const CHUNK: usize = 500;

/// How many of a publisher's earlier items an item page lists.
const EARLIER: usize = 5;

/// A day, in seconds.
const DAY: i64 = 86_400;

/// Why a render stopped.
pub enum JobError {
    /// The store failed.
    Store(StoreError),
    /// A page could not be made or written.
    Page(PageError),
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        JobError::Store(error)
    }
}

impl From<minijinja::Error> for JobError {
    fn from(error: minijinja::Error) -> Self {
        JobError::Page(PageError::Template(error))
    }
}

impl From<std::io::Error> for JobError {
    fn from(error: std::io::Error) -> Self {
        JobError::Page(PageError::Write(error))
    }
}

/// The items of the site: those of the outputs' filters, with no limit of number or age.
pub struct Reach<'a> {
    /// Their union is the site.
    pub filters: Vec<ItemFilter>,
    /// The configured tags of each source, by its URL.
    pub source_tags: &'a HashMap<&'a str, &'a [String]>,
}

impl Reach<'_> {
    /// Where the items among `ids` that the site holds go.
    fn placements(
        &self,
        store: &Store,
        ids: &[i64],
    ) -> Result<HashMap<i64, Placement>, StoreError> {
        let mut placed = HashMap::new();
        for filter in &self.filters {
            let filter = ItemFilter {
                ids: Some(ids.to_vec()),
                ..filter.clone()
            };
            for mut p in store.placements(&filter)? {
                let own = std::mem::take(&mut p.tags);
                p.tags = self
                    .source_tags
                    .get(p.source_url.as_str())
                    .map(|t| t.to_vec())
                    .unwrap_or_default();
                for tag in own {
                    if !p.tags.contains(&tag) {
                        p.tags.push(tag);
                    }
                }
                p.source_url = String::new();
                placed.insert(p.item, p);
            }
        }
        Ok(placed)
    }

    /// Every item the site holds.
    fn ids(&self, store: &Store) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::new();
        for filter in &self.filters {
            ids.extend(store.item_ids(filter)?);
        }
        Ok(ids)
    }
}

/// The day an item sorting at `at` falls on, as the second it begins.
fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY) * DAY
}

/// The file of page `part` (from 0) of the archive's day beginning at `day`.
fn archive_file(day: i64, part: usize) -> String {
    let date = chrono::DateTime::from_timestamp(day, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d");
    match part {
        0 => format!("archive/{date}.html"),
        n => format!("archive/{date}-{}.html", n + 1),
    }
}

/// What a day of the archive gained and lost.
#[derive(Default)]
struct DayChange {
    /// Where items came or went, as (sort_at, row id).
    keys: Vec<(i64, i64)>,
    came: usize,
    went: usize,
}

/// The pages a render makes again, found from what changed.
#[derive(Default)]
pub struct Plan {
    full: bool,
    items: BTreeSet<i64>,
    gone: Vec<String>,
    days: BTreeMap<i64, DayChange>,
    publishers: BTreeSet<i64>,
    tags: BTreeSet<String>,
    beside: Vec<(i64, (i64, i64))>,
}

impl Plan {
    /// Places the items `ids` where they now belong, and notes the pages that touches.
    /// Every item of the site when `full`.
    pub fn place(
        store: &mut Store,
        reach: &Reach<'_>,
        changed: &[i64],
        full: bool,
    ) -> Result<Plan, StoreError> {
        let mut plan = Plan {
            full,
            ..Plan::default()
        };
        let mut ids: Vec<i64> = if full {
            let mut all = reach.ids(store)?;
            all.extend(store.site_item_ids()?);
            all
        } else {
            changed.to_vec()
        };
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            let old: HashMap<i64, Placement> = store
                .site_placements(chunk)?
                .into_iter()
                .map(|p| (p.item, p))
                .collect();
            let new = reach.placements(store, chunk)?;
            let mut removed = Vec::new();
            let mut placed = Vec::new();
            for id in chunk {
                let (old, new) = (old.get(id), new.get(id));
                if let Some(o) = old {
                    if new.is_none_or(|n| n.public_id != o.public_id) {
                        plan.gone.push(item_file(&o.public_id));
                    }
                    if new.is_none() {
                        removed.push(*id);
                    }
                    plan.touch(
                        o,
                        new.is_none_or(|n| day_of(n.sort_at) != day_of(o.sort_at)),
                        false,
                    );
                }
                if let Some(n) = new {
                    if !full {
                        plan.items.insert(*id);
                    }
                    plan.touch(
                        n,
                        old.is_none_or(|o| day_of(n.sort_at) != day_of(o.sort_at)),
                        true,
                    );
                    placed.push(n.clone());
                }
            }
            store.place_on_site(&removed, &placed)?;
        }
        Ok(plan)
    }

    /// Notes the pages the item placed at `p` touches; `moved`: it came to (`came`) or left
    /// its day.
    fn touch(&mut self, p: &Placement, moved: bool, came: bool) {
        if self.full {
            // Every page is made: nothing to note, and a million notes would cost memory.
            return;
        }
        let key = (p.sort_at, p.item);
        let day = self.days.entry(day_of(p.sort_at)).or_default();
        day.keys.push(key);
        if moved {
            if came {
                day.came += 1;
            } else {
                day.went += 1;
            }
        }
        self.publishers.insert(p.source);
        self.tags.extend(p.tags.iter().cloned());
        self.beside.push((p.source, key));
    }

    /// Whether nothing the site shows changed.
    pub fn is_empty(&self) -> bool {
        !self.full && self.days.is_empty() && self.gone.is_empty()
    }
}

/// What pages are made with: the templates, the frame, the names of publishers' pages.
pub struct Writer<'a> {
    pub env: &'a Environment<'a>,
    pub frame: &'a Frame<'a>,
    pub slugs: HashMap<i64, String>,
}

impl Writer<'_> {
    /// The page of the publisher of `source`.
    fn publisher_href(&self, source: i64) -> Option<String> {
        self.slugs
            .get(&source)
            .map(|slug| format!("sources/{slug}.html"))
    }

    fn entry(&self, row: &ItemRow) -> Entry {
        Entry::new(
            &row.item,
            item_file(&row.item.id),
            self.publisher_href(row.source),
        )
    }

    /// The items with these row ids, in the order of `ids`.
    fn read(&self, store: &Store, ids: &[i64]) -> Result<Vec<ItemRow>, StoreError> {
        let mut rows = store.items_by_row(ids)?;
        store.with_story_versions(&mut rows)?;
        let mut rows: HashMap<i64, ItemRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        Ok(ids.iter().filter_map(|id| rows.remove(id)).collect())
    }

    fn entries(&self, store: &Store, ids: &[i64]) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .read(store, ids)?
            .iter()
            .map(|r| self.entry(r))
            .collect())
    }
}

/// Gives each publisher of the site without a page name one: the slug of its name, unless an
/// earlier publisher has it. Names are kept, so a page keeps its address.
pub fn name_publishers(
    store: &mut Store,
    counts: &[PublisherCount],
) -> Result<HashMap<i64, String>, StoreError> {
    let mut slugs = store.site_slugs()?;
    let unnamed: Vec<i64> = counts
        .iter()
        .map(|c| c.source)
        .filter(|s| !slugs.contains_key(s))
        .collect();
    if unnamed.is_empty() {
        return Ok(slugs);
    }
    let publishers = store.publishers(&unnamed)?;
    let mut taken: HashSet<String> = slugs.values().cloned().collect();
    for source in unnamed {
        let name = publishers.get(&source).map_or("x", |p| p.name.as_str());
        let slug = unique_slug(&mut taken, name);
        store.add_site_slug(source, &slug)?;
        slugs.insert(source, slug);
    }
    Ok(slugs)
}

/// Makes the pages `plan` names into `staging`.
pub fn write(
    store: &Store,
    writer: &Writer<'_>,
    (plan, counts): (Plan, &[PublisherCount]),
    staging: &mut Staging<'_>,
) -> Result<(), JobError> {
    let emit = |staging: &mut Staging<'_>, (path, html): Page| staging.add(path, html.into_bytes());
    if plan.full {
        for count in counts {
            all_item_pages(store, writer, count.source, staging)?;
        }
    } else {
        let mut ids = plan.items.clone();
        for (source, key) in &plan.beside {
            ids.extend(store.site_beside(*source, *key, false, EARLIER)?);
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        for chunk in ids.chunks(CHUNK) {
            for row in writer.read(store, chunk)? {
                let key = (row.item.sort_at.timestamp(), row.id);
                let earlier_ids = store.site_beside(row.source, key, true, EARLIER)?;
                let earlier = writer.entries(store, &earlier_ids)?;
                let page = pages::item_page(
                    writer.env,
                    writer.frame,
                    &row.item,
                    &writer.entry(&row),
                    &earlier,
                )?;
                emit(staging, page)?;
                story_page(store, writer, &row, staging)?;
            }
        }
        for gone in &plan.gone {
            staging.delete(gone);
        }
    }
    archive_pages(store, writer, &plan, counts.len(), staging)?;
    publisher_pages(store, writer, &plan, counts, staging)?;
    let tags: Vec<String> = if plan.full {
        store.site_tag_names()?
    } else {
        plan.tags.iter().cloned().collect()
    };
    for tag in &tags {
        let ids = store.site_newest(Scope::Tag(tag), 0, writer.frame.items_per_page)?;
        if ids.is_empty() {
            staging.delete(&tag_file(tag));
            continue;
        }
        let entries = writer.entries(store, &ids)?;
        emit(
            staging,
            pages::tag_page(writer.env, writer.frame, tag, &entries)?,
        )?;
    }
    index_page(store, writer, counts.len(), staging)?;
    let favicon = super::FAVICON;
    staging.add(favicon.0.to_string(), favicon.1.to_vec())?;
    // One stylesheet for every page, rather than its rules in each of them.
    let style = writer.env.get_template(super::STYLE)?.render(())?;
    staging.add(super::STYLE.to_string(), style.into_bytes())?;
    Ok(())
}

/// Every item page of the publisher of `source`, its items read a window at a time, oldest
/// first, each page listing the few before it.
fn all_item_pages(
    store: &Store,
    writer: &Writer<'_>,
    source: i64,
    staging: &mut Staging<'_>,
) -> Result<(), JobError> {
    let mut after = (i64::MIN, i64::MIN);
    let mut earlier: VecDeque<Entry> = VecDeque::new();
    loop {
        let ids = store.site_beside(source, after, false, CHUNK)?;
        let Some(last) = ids.last() else {
            return Ok(());
        };
        let rows = writer.read(store, &ids)?;
        for row in &rows {
            let entry = writer.entry(row);
            let listed: Vec<Entry> = earlier.iter().rev().cloned().collect();
            let page = pages::item_page(writer.env, writer.frame, &row.item, &entry, &listed)?;
            staging.add(page.0, page.1.into_bytes())?;
            story_page(store, writer, row, staging)?;
            earlier.push_back(entry);
            if earlier.len() > EARLIER {
                earlier.pop_front();
            }
        }
        let last_sort = rows
            .iter()
            .find(|r| r.id == *last)
            .map_or(i64::MAX, |r| r.item.sort_at.timestamp());
        after = (last_sort, *last);
    }
}

/// The page of `row`'s story, made with its item page when it leads one; otherwise a page it
/// had when it led one goes.
fn story_page(
    store: &Store,
    writer: &Writer<'_>,
    row: &ItemRow,
    staging: &mut Staging<'_>,
) -> Result<(), JobError> {
    let leads = row
        .item
        .story
        .first()
        .is_some_and(|lead| lead.row == row.id);
    if !leads {
        staging.delete(&story::story_file(&row.item.id));
        return Ok(());
    }
    let ids: Vec<i64> = row.item.story.iter().map(|v| v.row).collect();
    let rows = writer.read(store, &ids)?;
    let entries: Vec<Entry> = rows.iter().map(|r| writer.entry(r)).collect();
    let (path, html) = story::story_page(writer.env, writer.frame, &rows, &entries)?;
    staging.add(path, html.into_bytes())?;
    Ok(())
}

/// The pages of the archive the plan touches: from the first page of each day that changed
/// to the day's last, and the pages next to a day that came or went.
fn archive_pages(
    store: &Store,
    writer: &Writer<'_>,
    plan: &Plan,
    publishers: usize,
    staging: &mut Staging<'_>,
) -> Result<(), JobError> {
    let per_page = writer.frame.items_per_page.max(1);
    let mut parts: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    let mut emptied: Vec<(i64, usize)> = Vec::new();
    let mut days: Vec<i64> = plan.days.keys().copied().collect();
    if plan.full {
        days.clear();
        let mut at = i64::MIN;
        while let (_, Some(next)) = store.site_around(at)? {
            days.push(day_of(next));
            at = day_of(next) + DAY;
        }
    }
    for day in days {
        let keys = store.site_between(day, day + DAY)?;
        let count = keys.len().div_ceil(per_page);
        let change = plan.days.get(&day);
        let first = match change {
            Some(change) if !plan.full => {
                let at = change
                    .keys
                    .iter()
                    .map(|k| keys.partition_point(|x| x < k))
                    .min()
                    .unwrap_or(0);
                // A page that begins with a new item is a new page: the one before links it.
                let part = at / per_page;
                if at % per_page == 0 {
                    part.saturating_sub(1)
                } else {
                    part
                }
            }
            _ => 0,
        };
        parts.entry(day).or_default().extend(first..count);
        if let Some(change) = change {
            let before = (keys.len() + change.went).saturating_sub(change.came);
            let before_count = before.div_ceil(per_page);
            emptied.extend((count..before_count).map(|p| (day, p)));
            // A day that came or went changes the links of the days beside it.
            if !plan.full && (keys.is_empty() || before == 0) {
                let (previous, _) = store.site_around(day)?;
                let (_, next) = store.site_around(day + DAY)?;
                if let Some(previous) = previous {
                    let previous = day_of(previous);
                    let last = store
                        .site_between(previous, previous + DAY)?
                        .len()
                        .div_ceil(per_page);
                    parts
                        .entry(previous)
                        .or_default()
                        .insert(last.saturating_sub(1));
                }
                if let Some(next) = next {
                    parts.entry(day_of(next)).or_default().insert(0);
                }
            }
        }
    }
    for (day, part) in emptied {
        staging.delete(&archive_file(day, part));
    }
    for (day, wanted) in parts {
        let keys = store.site_between(day, day + DAY)?;
        let count = keys.len().div_ceil(per_page);
        for part in wanted.into_iter().filter(|p| *p < count) {
            let page = archive_page(store, writer, (day, &keys), part, publishers)?;
            staging.add(page.0, page.1.into_bytes())?;
        }
    }
    Ok(())
}

/// Page `part` of the day beginning at `day`, whose items are `keys` (oldest first): its
/// items newest first, linked to the pages of newer and older items.
fn archive_page(
    store: &Store,
    writer: &Writer<'_>,
    (day, keys): (i64, &[(i64, i64)]),
    part: usize,
    publishers: usize,
) -> Result<Page, JobError> {
    let per_page = writer.frame.items_per_page.max(1);
    let count = keys.len().div_ceil(per_page);
    let ids: Vec<i64> = keys
        .iter()
        .skip(part * per_page)
        .take(per_page)
        .rev()
        .map(|k| k.1)
        .collect();
    let entries = writer.entries(store, &ids)?;
    let newer = if part + 1 < count {
        Some(archive_file(day, part + 1))
    } else {
        store
            .site_around(day + DAY)?
            .1
            .map(|n| archive_file(day_of(n), 0))
    };
    let older = if part > 0 {
        Some(archive_file(day, part - 1))
    } else {
        match store.site_around(day)?.0 {
            Some(previous) => {
                let previous = day_of(previous);
                let parts = store
                    .site_between(previous, previous + DAY)?
                    .len()
                    .div_ceil(per_page);
                Some(archive_file(previous, parts.saturating_sub(1)))
            }
            None => None,
        }
    };
    let date = chrono::DateTime::from_timestamp(day, 0)
        .unwrap_or_default()
        .format("%A %-d %B %Y")
        .to_string();
    let label = if count > 1 {
        format!("{date}, page {} of {count}", part + 1)
    } else {
        date
    };
    let frame = writer.frame;
    let title = format!("{} ({label})", frame.title);
    Ok(pages::river_page(
        writer.env,
        frame,
        archive_file(day, part),
        title,
        &entries,
        publishers,
        Pagination {
            label,
            number: part + 1,
            count,
            newer,
            older,
        },
    )?)
}

/// The pages of the publishers the plan touches (every one when it is full), and their list.
fn publisher_pages(
    store: &Store,
    writer: &Writer<'_>,
    plan: &Plan,
    counts: &[PublisherCount],
    staging: &mut Staging<'_>,
) -> Result<(), JobError> {
    let sources: Vec<i64> = if plan.full {
        counts.iter().map(|c| c.source).collect()
    } else {
        plan.publishers.iter().copied().collect()
    };
    let by_source: HashMap<i64, &PublisherCount> = counts.iter().map(|c| (c.source, c)).collect();
    for source in sources {
        let Some(href) = writer.publisher_href(source) else {
            continue;
        };
        if !by_source.contains_key(&source) {
            staging.delete(&href);
            continue;
        }
        let ids = store.site_newest(Scope::Source(source), 0, writer.frame.items_per_page)?;
        let rows = writer.read(store, &ids)?;
        let Some(newest) = rows.first() else {
            continue;
        };
        let entries: Vec<Entry> = rows.iter().map(|r| writer.entry(r)).collect();
        let count = by_source.get(&source).map_or(0, |c| c.items);
        let publisher = Publisher::new(
            &newest.item.publisher,
            href,
            count,
            shown_time(&newest.item),
            writer.frame,
        );
        let page = pages::publisher_page(writer.env, writer.frame, &publisher, &entries)?;
        staging.add(page.0, page.1.into_bytes())?;
    }
    let ids: Vec<i64> = counts.iter().map(|c| c.source).collect();
    let publishers = store.publishers(&ids)?;
    let listed: Vec<Publisher<'_>> = counts
        .iter()
        .filter_map(|c| {
            let publisher = publishers.get(&c.source)?;
            let newest = chrono::DateTime::from_timestamp(c.newest, 0).unwrap_or_default();
            Some(Publisher::new(
                publisher,
                writer.publisher_href(c.source)?,
                c.items,
                newest,
                writer.frame,
            ))
        })
        .collect();
    let page = pages::publishers_page(writer.env, writer.frame, listed)?;
    staging.add(page.0, page.1.into_bytes())?;
    Ok(())
}

/// The index: the newest items, linked to the archive page that goes on from them.
fn index_page(
    store: &Store,
    writer: &Writer<'_>,
    publishers: usize,
    staging: &mut Staging<'_>,
) -> Result<(), JobError> {
    let per_page = writer.frame.items_per_page.max(1);
    let ids = store.site_newest(Scope::All, 0, per_page)?;
    let entries = writer.entries(store, &ids)?;
    let older = match store.site_newest(Scope::All, per_page, 1)?.first() {
        Some(next) => {
            let placed = store.site_placements(&[*next])?;
            match placed.first() {
                Some(p) => {
                    let day = day_of(p.sort_at);
                    let keys = store.site_between(day, day + DAY)?;
                    let at = keys.partition_point(|k| *k < (p.sort_at, p.item));
                    Some(archive_file(day, at / per_page))
                }
                None => None,
            }
        }
        None => None,
    };
    let frame = writer.frame;
    let page = pages::river_page(
        writer.env,
        frame,
        "index.html".into(),
        frame.title.to_string(),
        &entries,
        publishers,
        Pagination {
            label: "Latest".into(),
            number: 1,
            count: 1,
            newer: None,
            older,
        },
    )?;
    staging.add(page.0, page.1.into_bytes())?;
    Ok(())
}

//! Stored items → the output files (Atom, RSS 2.0, JSON Feed, an HTML page per output, OPML,
//! the health feed), each written atomically and only when its bytes change.
//!
//! Every document depends only on the stored items and the config, never on the clock, so the
//! same items give the same bytes and downstream conditional GETs keep working.

pub mod atom;
pub mod health;
pub mod html;
pub mod json;
pub mod opml;
pub mod provenance;
pub mod rss;
pub mod search;
pub mod site;
pub mod templates;
mod xml;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{OutputConfig, OutputFormat, Publishing, SourceConfig};
use crate::identity::stable_urn;
use crate::model::{StoredEvent, StoredItem};
use crate::sanitize::web_url;
use crate::store::{Changes, ItemFilter, Store, StoreError, Tagged};

/// The Media RSS namespace, for thumbnails and extra enclosures.
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// Why an output could not be written. The previous file, if any, is left intact.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("reading items for {path}: {error}")]
    /// The items could not be read.
    Store {
        /// The file.
        path: PathBuf,
        /// Why.
        error: StoreError,
    },
    #[error("writing {path}: {error}")]
    /// The file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    #[error("rendering {path}: {error}")]
    /// The document could not be made.
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
    #[error("rendering the outputs crashed (this is a bug in Tributary; please report it)")]
    /// Rendering panicked.
    Crashed,
}

/// Whether an output's file was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Its bytes changed: it was rewritten.
    Changed,
    /// Its bytes were the same: it was left alone.
    Unchanged,
}

/// What a feed document says about itself.
#[derive(Debug, Clone)]
pub struct FeedInfo<'a> {
    /// A stable id, from the output's path as written in the config.
    pub id: String,
    /// Its title.
    pub title: &'a str,
    /// Its public address, when `[site] base_url` says where outputs are served.
    pub self_url: Option<Url>,
    /// How it links to itself: its public address, else its file name, which readers resolve
    /// against where they fetched it.
    pub self_href: String,
    /// The WebSub hub it announces.
    pub hub: Option<&'a Url>,
    /// The site it belongs to.
    pub home: Option<&'a Url>,
    /// The newest entry's time: a feed's `updated` that moves only when its items do.
    pub updated: DateTime<Utc>,
}

/// What rendering needs beside the store.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// The configured sources.
    pub sources: &'a [std::sync::Arc<SourceConfig>],
    /// `[site]`, `[opml]`, `[serve]`, `[websub]`.
    pub publishing: &'a Publishing,
    /// The time of the render, for `max_age` filters.
    pub now: DateTime<Utc>,
}

/// One file written by a render: its path and whether it changed.
#[derive(Debug)]
pub struct Rendered {
    /// The file.
    pub path: PathBuf,
    /// Whether it was written.
    pub result: Result<Written, RenderError>,
}

/// What the outputs are made of, read from the store in one go: reading is all that needs the
/// store, so rendering and writing files (fsync and all) never hold up its other work.
#[derive(Debug)]
pub struct Snapshot {
    /// Each output's items, in the order of the outputs; `None` for an output that nothing
    /// changed since it was written, which is not read.
    items: Vec<Option<Result<Vec<StoredItem>, StoreError>>>,
    /// The health feed's events, when there is a health feed.
    events: Option<Result<Vec<StoredEvent>, StoreError>>,
    /// The item changes logged since the last render.
    changes: Changes,
}

impl Snapshot {
    /// Reads the items of every output that may have changed since it was written (an item
    /// changed, its config did, its file is not what was written, or its `max_age` lets items
    /// age out of it), and the health feed's events.
    pub fn read(
        store: &Store,
        outputs: &[OutputConfig],
        health: Option<&Path>,
        ctx: RenderContext<'_>,
    ) -> Snapshot {
        let (changes, any_change) = match store.item_changes(MOST_CHANGES_ONE_BY_ONE) {
            Ok(changes) => {
                let any = changes.any();
                (changes, any)
            }
            Err(error) => {
                // The outputs are read again, as if everything changed.
                tracing::error!(%error, "reading the items' changes failed");
                (Changes::default(), true)
            }
        };
        Snapshot {
            items: outputs
                .iter()
                .map(|output| {
                    // An output with `max_age` changes with the clock too: its oldest items
                    // age out with no change logged.
                    let aging = output.max_age.is_some();
                    (any_change || aging || !as_written(store, output, ctx))
                        .then(|| store.items(&filter(output, ctx)))
                })
                .collect(),
            events: health.map(|_| store.recent_events(health::HEALTH_ITEMS)),
            changes,
        }
    }

    /// The changes this snapshot saw: for [`render_site`], then for [`written`] to forget.
    pub fn changes(&self) -> Changes {
        self.changes.clone()
    }
}

/// Past this many changed items, a render takes everything rather than item by item (and the
/// site is made whole), and does not hold their ids.
const MOST_CHANGES_ONE_BY_ONE: usize = 100_000;

/// What an output's file is made from beside its items, and the file's bytes: the same
/// digest means that a render would write the same file.
fn output_digest(output: &OutputConfig, ctx: RenderContext<'_>) -> Option<String> {
    let bytes = std::fs::read(&output.path).ok()?;
    let urls: Vec<&str> = ctx.sources.iter().map(|s| s.url.as_str()).collect();
    let made_of = format!(
        "{}|{output:?}|{:?}|{urls:?}",
        env!("CARGO_PKG_VERSION"),
        ctx.publishing
    );
    let mut digest = Sha256::new();
    digest.update(made_of.as_bytes());
    digest.update(&bytes);
    if let Some(page) = output.html.as_ref() {
        digest.update(std::fs::read(page).ok()?);
    }
    Some(
        digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Whether `output` is as the last render left it, so that nothing but an item's change can
/// make it differ.
fn as_written(store: &Store, output: &OutputConfig, ctx: RenderContext<'_>) -> bool {
    let key = format!("output:{}", output.path.display());
    match (store.render_state(&key), output_digest(output, ctx)) {
        (Ok(Some(stored)), Some(now)) => stored == now,
        _ => false,
    }
}

/// After a render that wrote everything: the changes it saw are forgotten, and each output is
/// remembered as written.
pub fn written(
    store: &mut Store,
    seen: &[(i64, i64)],
    outputs: &[OutputConfig],
    ctx: RenderContext<'_>,
) -> Result<(), StoreError> {
    store.forget_item_changes(seen)?;
    for output in outputs {
        let key = format!("output:{}", output.path.display());
        store.set_render_state(&key, output_digest(output, ctx).as_deref())?;
    }
    Ok(())
}

/// The items of the site: those in the outputs' reach, which their filters of sources, tags
/// and words take, with no limit of number or age (the site is the archive; retention decides
/// what it keeps). Their union is the site.
pub fn site_reach(outputs: &[OutputConfig], ctx: RenderContext<'_>) -> Vec<ItemFilter> {
    let reach = |output: &OutputConfig| ItemFilter {
        limit: usize::MAX,
        since: None,
        per_source: None,
        // The site is the archive: every version has its page (and the story its own).
        one_per_story: false,
        ..filter(output, ctx)
    };
    let every_source = ItemFilter {
        limit: usize::MAX,
        only: Some(ctx.sources.iter().map(|s| s.url.clone()).collect()),
        ..ItemFilter::default()
    };
    let filters: Vec<ItemFilter> = outputs.iter().map(reach).collect();
    // An output that takes every source reaches what all the others do: one query is enough.
    let takes_all = |f: &ItemFilter| {
        f.tagged.is_none()
            && f.include.is_empty()
            && f.exclude.is_empty()
            && f.saved.is_none()
            && (f.only.is_none() || f.only == every_source.only)
    };
    if filters.is_empty() {
        return vec![every_source];
    }
    if let Some(all) = filters.iter().find(|f| takes_all(f)) {
        return vec![all.clone()];
    }
    filters
}

/// Renders every output (and its HTML page), the OPML file and the health feed, as configured,
/// from `snapshot`; one failing does not keep the others from being written.
pub fn render_all(
    snapshot: Snapshot,
    outputs: &[OutputConfig],
    health: Option<&Path>,
    ctx: RenderContext<'_>,
) -> Vec<Rendered> {
    let mut rendered = Vec::new();
    for (output, items) in outputs.iter().zip(snapshot.items) {
        let Some(items) = items else {
            rendered.push(Rendered {
                path: output.path.clone(),
                result: Ok(Written::Unchanged),
            });
            continue;
        };
        let (feed, page) = render_output(items, output, ctx);
        rendered.push(Rendered {
            path: output.path.clone(),
            result: feed,
        });
        if let (Some(path), Some(result)) = (&output.html, page) {
            rendered.push(Rendered {
                path: path.clone(),
                result,
            });
        }
    }
    if let Some(path) = &ctx.publishing.opml {
        rendered.push(render_opml(path, ctx));
    }
    if let (Some(path), Some(events)) = (health, snapshot.events) {
        let public_url = ctx.publishing.public_url(path);
        rendered.push(Rendered {
            path: path.to_path_buf(),
            result: render_health(events, path, &self_href(public_url.as_ref(), path)),
        });
    }
    for file in &rendered {
        count_and_log(file, ctx);
    }
    rendered
}

/// What [`Snapshot::read`], [`render_all`], [`render_site`] and [`written`] do in turn, all on
/// this thread: for a tool or a benchmark that holds the store itself.
pub fn render_now(
    store: &mut Store,
    outputs: &[OutputConfig],
    health: Option<&Path>,
    ctx: RenderContext<'_>,
) -> Vec<Rendered> {
    let snapshot = Snapshot::read(store, outputs, health, ctx);
    let changes = snapshot.changes();
    let mut rendered = render_all(snapshot, outputs, health, ctx);
    rendered.extend(render_site(store, changes.items.as_deref(), outputs, ctx));
    if rendered.iter().all(|r| r.result.is_ok())
        && let Err(error) = written(store, &changes.seen, outputs, ctx)
    {
        tracing::error!(%error, "recording what was written failed");
    }
    rendered
}

/// The OPML file of the configured sources.
fn render_opml(path: &Path, ctx: RenderContext<'_>) -> Rendered {
    let result = opml::render("Tributary sources", ctx.sources)
        .and_then(|bytes| write_if_changed(path, &bytes))
        .map_err(|error| RenderError::Write {
            path: path.to_path_buf(),
            error,
        });
    Rendered {
        path: path.to_path_buf(),
        result,
    }
}

/// The site's pages that the items `changed` touch (all of them when its look changed), put in
/// place together (or not at all), and logged as one; `None` without a site.
pub fn render_site(
    store: &mut Store,
    changed: Option<&[i64]>,
    outputs: &[OutputConfig],
    ctx: RenderContext<'_>,
) -> Option<Rendered> {
    let site = ctx.publishing.site.as_ref()?;
    let result = site::render(store, changed, site, outputs, ctx);
    match &result {
        Ok(done) if done.written + done.deleted > 0 => tracing::info!(
            folder = %site.pages.display(),
            written = done.written,
            unchanged = done.unchanged,
            deleted = done.deleted,
            "site written"
        ),
        Ok(_) => tracing::debug!(folder = %site.pages.display(), "site unchanged"),
        Err(error) => tracing::error!(%error, "site not written"),
    }
    let rendered = Rendered {
        path: site.pages.clone(),
        result: result.map(|done| {
            if done.written + done.deleted > 0 {
                Written::Changed
            } else {
                Written::Unchanged
            }
        }),
    };
    count_and_log(&rendered, ctx);
    Some(rendered)
}

/// A file's render counted for `/metrics` and logged (the site was logged as a whole).
fn count_and_log(file: &Rendered, ctx: RenderContext<'_>) {
    crate::metrics::global().output_written(match &file.result {
        Ok(Written::Changed) => "written",
        Ok(Written::Unchanged) => "unchanged",
        Err(_) => "failed",
    });
    if Some(&file.path) == ctx.publishing.site.as_ref().map(|s| &s.pages) {
        return;
    }
    match &file.result {
        Ok(Written::Changed) => tracing::info!(path = %file.path.display(), "output written"),
        Ok(Written::Unchanged) => {
            tracing::debug!(path = %file.path.display(), "output unchanged")
        }
        Err(error) => tracing::error!(%error, "output not written"),
    }
}

/// Renders one output of `items` and, if it has one, its HTML page.
fn render_output(
    items: Result<Vec<StoredItem>, StoreError>,
    output: &OutputConfig,
    ctx: RenderContext<'_>,
) -> (
    Result<Written, RenderError>,
    Option<Result<Written, RenderError>>,
) {
    let items = match items {
        Ok(items) => items,
        Err(error) => {
            let failed = |path: &Path, error| RenderError::Store {
                path: path.to_path_buf(),
                error,
            };
            let page = output.html.as_ref().map(|p| {
                Err(RenderError::Format {
                    path: p.clone(),
                    error: "its items could not be read".into(),
                })
            });
            return (Err(failed(&output.path, error)), page);
        }
    };
    // In the feeds only: the page shows each item's publisher already.
    let with_provenance: Option<Vec<StoredItem>> = output
        .provenance
        .then(|| items.iter().map(provenance::appended).collect());
    let feed_items = with_provenance.as_deref().unwrap_or(&items);
    let self_url = ctx.publishing.public_url(&output.path);
    let info = FeedInfo {
        id: stable_urn(&format!("tributary:output:{}", output.path_as_written)),
        title: &output.title,
        self_href: self_href(self_url.as_ref(), &output.path),
        self_url,
        hub: ctx.publishing.hub.as_ref(),
        home: ctx.publishing.base_url.as_ref(),
        updated: items.iter().map(entry_updated).max().unwrap_or_default(),
    };
    let format_error = |path: &Path, error: String| RenderError::Format {
        path: path.to_path_buf(),
        error,
    };
    let bytes = match output.format {
        OutputFormat::Atom => atom::render(&info, feed_items).map_err(|e| e.to_string()),
        OutputFormat::Rss => rss::render(&info, feed_items).map_err(|e| e.to_string()),
        OutputFormat::Json => json::render(&info, feed_items).map_err(|e| e.to_string()),
    };
    let feed = bytes
        .map_err(|e| format_error(&output.path, e))
        .and_then(|bytes| write(&output.path, &bytes));
    let page = output.html.as_ref().map(|path| {
        let feed_href = match &info.self_url {
            Some(url) => url.to_string(),
            None => relative_href(path, &output.path),
        };
        let templates = templates::Templates::in_force(ctx.publishing);
        html::render(
            &templates,
            &info,
            &feed_href,
            output.format.media_type(),
            &items,
        )
        .map_err(|e| format_error(path, e))
        .and_then(|bytes| write(path, &bytes))
    });
    (feed, page)
}

/// Which stored items `output` takes.
fn filter(output: &OutputConfig, ctx: RenderContext<'_>) -> ItemFilter {
    let urls = |sources: &mut dyn Iterator<Item = &SourceConfig>| {
        Some(sources.map(|s| s.url.clone()).collect())
    };
    // By name here; by tag below, where items' own tags count too.
    let only = if !output.sources.is_empty() {
        urls(
            &mut ctx
                .sources
                .iter()
                .map(|s| &**s)
                .filter(|s| output.takes_by_name(s)),
        )
    } else if !output.keep_removed_sources {
        urls(&mut ctx.sources.iter().map(|s| &**s))
    } else {
        None
    };
    ItemFilter {
        limit: output.max_items,
        only,
        since: output
            .max_age
            .and_then(|age| chrono::Duration::from_std(age).ok())
            .and_then(|age| ctx.now.checked_sub_signed(age)),
        per_source: output.per_source,
        include: output.include.clone(),
        exclude: output.exclude.clone(),
        tagged: (!output.tags.is_empty()).then(|| Tagged {
            sources: ctx
                .sources
                .iter()
                .filter(|s| output.takes_by_tag(s))
                .map(|s| s.url.clone())
                .collect(),
            tags: output.tags.clone(),
        }),
        ids: None,
        with_hidden: false,
        saved: output.query.as_ref().map(|q| q.key()),
        one_per_story: output.stories == crate::config::StoriesShown::Collapse,
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<Written, RenderError> {
    write_if_changed(path, bytes).map_err(|error| RenderError::Write {
        path: path.to_path_buf(),
        error,
    })
}

fn render_health(
    events: Result<Vec<StoredEvent>, StoreError>,
    path: &Path,
    self_href: &str,
) -> Result<Written, RenderError> {
    let events = events.map_err(|error| RenderError::Store {
        path: path.to_path_buf(),
        error,
    })?;
    let bytes = health::render(&events, self_href).map_err(|error| RenderError::Write {
        path: path.to_path_buf(),
        error,
    })?;
    write(path, &bytes)
}

/// When an entry last changed: its `updated`, else its publication, else when first seen.
fn entry_updated(stored: &StoredItem) -> DateTime<Utc> {
    let item = &stored.item;
    item.updated.or(item.published).unwrap_or(stored.first_seen)
}

/// `url` if it is an http(s) URL: what may go in a feed as a link to a feed.
fn http_url(url: &str) -> Option<Url> {
    web_url(url).and_then(|u| Url::parse(u).ok())
}

/// How a document written at `path` links to itself: its public URL, else its file name.
/// How a page at `from` links to the file at `to` (both absolute): a relative URL.
fn relative_href(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from
        .parent()
        .map_or(Vec::new(), |p| p.components().collect());
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let ups = std::iter::repeat_n("..".to_string(), from.len() - common);
    let downs = to_parts[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let parts: Vec<String> = ups.chain(downs).collect();
    parts
        .iter()
        .map(|p| percent_encoding::utf8_percent_encode(p, PATH_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// What a path segment of a URL must escape.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn self_href(public_url: Option<&Url>, path: &Path) -> String {
    match public_url {
        Some(url) => url.to_string(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// Replaces `path` with `bytes` unless it already holds them: a temp file in the same folder,
/// fsync, rename, fsync of the folder. Readers see the old file or the new one, never a part.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<Written> {
    write_file(path, bytes, Durability::Synced)
}

/// Whether a write waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The file and its folder are fsynced before the write returns.
    Synced,
    /// Left to the kernel: a power cut may lose the file's new bytes (never show a part of
    /// them), which suits files that the next render compares and writes again, as the site's
    /// pages: ten thousand fsyncs would cost more than the pages themselves.
    Lazy,
}

/// [`write_if_changed`], as durable as `durability` says.
pub fn write_file(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<Written> {
    match stage(path, bytes, durability)? {
        Some(staged) => staged.commit().map(|()| Written::Changed),
        None => Ok(Written::Unchanged),
    }
}

/// New bytes for a file, written beside it and not yet in its place.
#[derive(Debug)]
pub struct Staged {
    /// Closed: a site stages thousands of pages, more than a process may hold open.
    temp: tempfile::TempPath,
    path: PathBuf,
    durability: Durability,
}

/// Writes `bytes` to a temp file beside `path`, unless `path` holds them already (`None`).
/// Nothing changes for readers until [`Staged::commit`]; a `Staged` dropped uncommitted leaves
/// no trace.
pub fn stage(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<Option<Staged>> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(None);
    }
    std::fs::create_dir_all(folder_of(path))?;
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(folder_of(path))?;
    temp.write_all(bytes)?;
    // Temp files are created private; a feed is meant to be served.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    if durability == Durability::Synced {
        temp.as_file().sync_all()?;
    }
    Ok(Some(Staged {
        temp: temp.into_temp_path(),
        path: path.to_path_buf(),
        durability,
    }))
}

impl Staged {
    /// Renames the new bytes into place: readers see the old file or the new one, never a part.
    pub fn commit(self) -> std::io::Result<()> {
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        if self.durability == Durability::Synced {
            std::fs::File::open(folder_of(&self.path))?.sync_all()?;
        }
        Ok(())
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// How the temp files [`write_if_changed`] writes `path` through are named: a dotfile beside it
/// that begins with its name and ends with [`TEMP_SUFFIX`].
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.")
}

/// The end of a temp file's name.
const TEMP_SUFFIX: &str = ".tmp";

/// Removes the temp files that an interrupted [`write_if_changed`] (a process killed between
/// creating its temp file and renaming it) left beside the files at `paths`.
pub fn remove_stale_temp_files<'a>(paths: impl Iterator<Item = &'a Path>) {
    for path in paths {
        let (Some(folder), Some(_)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let prefix = temp_prefix(path);
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if !(file.starts_with(&prefix) && file.ends_with(TEMP_SUFFIX)) {
                continue;
            }
            let stale = entry.path();
            match std::fs::remove_file(&stale) {
                Ok(()) => tracing::info!(file = %stale.display(), "removed a stale temp file"),
                Err(error) => {
                    tracing::warn!(%error, file = %stale.display(), "cannot remove a stale temp file")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_links_to_its_feed_relatively() {
        let table = [
            ("/srv/public/index.html", "/srv/public/feed.xml", "feed.xml"),
            (
                "/srv/public/pages/index.html",
                "/srv/public/feed.xml",
                "../feed.xml",
            ),
            (
                "/srv/public/index.html",
                "/srv/public/topics/a b.xml",
                "topics/a%20b.xml",
            ),
        ];
        for (from, to, href) in table {
            assert_eq!(relative_href(Path::new(from), Path::new(to)), href);
        }
    }

    #[test]
    fn identical_bytes_leave_the_file_and_its_mtime_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/feed.xml");
        assert_eq!(write_if_changed(&path, b"one").unwrap(), Written::Changed);
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(write_if_changed(&path, b"one").unwrap(), Written::Unchanged);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_eq!(write_if_changed(&path, b"two").unwrap(), Written::Changed);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["feed.xml"], "no temp files left behind");
    }

    #[test]
    fn temp_files_of_interrupted_writes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let feed = dir.path().join("feed.xml");
        for name in [
            "feed.xml",
            ".feed.xml.a1b2.tmp",
            ".other.xml.c3.tmp",
            "notes.tmp",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        remove_stale_temp_files([feed.as_path()].into_iter());
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".other.xml.c3.tmp", "feed.xml", "notes.tmp"]);
    }
}

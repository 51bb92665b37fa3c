//! The files the built-in server answers with, kept in memory within a byte budget
//! (`[serve] cache_size`): a file's bytes are read on its first request, each compressed form
//! (gzip, brotli) made on the first request that accepts it (on a blocking thread; requests
//! meanwhile get the file as it is), and all are kept until the file changes or the least
//! recently asked for files make room. A crawler walking a site of a million pages therefore
//! costs the budget, not the site; a feed asked for all the time never leaves it.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;

/// What keeping a file costs beside its bytes: its entry, its path, its headers.
const ENTRY_COST: usize = 512;

/// A file found on disk, to be served.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it is.
    pub path: PathBuf,
    /// Its media type.
    pub content_type: &'static str,
    /// Its size and mtime, which tell a changed file.
    pub len: u64,
    pub modified: SystemTime,
}

impl Found {
    /// The file at `path`, if there is one, served as `content_type`.
    pub fn at(path: PathBuf, content_type: &'static str) -> Option<Found> {
        let meta = std::fs::metadata(&path)
            .ok()
            .filter(std::fs::Metadata::is_file)?;
        Some(Found {
            path,
            content_type,
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }
}

/// The files kept, least recently asked for first out.
#[derive(Debug)]
pub struct Cache {
    budget: AtomicU64,
    used: Arc<AtomicUsize>,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    files: HashMap<PathBuf, (Arc<File>, u64)>,
    /// The files by when they were last asked for.
    order: BTreeMap<u64, PathBuf>,
    clock: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new(crate::config::ServeLimits::default().cache_size)
    }
}

impl Cache {
    /// An empty cache that keeps at most `budget` bytes.
    pub fn new(budget: u64) -> Cache {
        Cache {
            budget: AtomicU64::new(budget),
            used: Arc::new(AtomicUsize::new(0)),
            kept: Mutex::new(Kept::default()),
        }
    }

    /// Keeps at most `budget` bytes from now on.
    pub fn set_budget(&self, budget: u64) {
        self.budget.store(budget, Ordering::Relaxed);
    }

    /// The bytes kept.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The file `found`, as kept (unless it changed since), else kept from now on; files
    /// least recently asked for are let go until the others fit the budget.
    pub fn get(&self, found: Found) -> Arc<File> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let kept = &mut *kept;
        kept.clock += 1;
        let now = kept.clock;
        let file = match kept.files.get_mut(&found.path) {
            Some((file, at)) if file.len == found.len && file.modified == found.modified => {
                kept.order.remove(at);
                *at = now;
                Arc::clone(file)
            }
            _ => {
                let file = Arc::new(File::new(found, Arc::clone(&self.used)));
                if let Some((old, at)) = kept
                    .files
                    .insert(file.path.clone(), (Arc::clone(&file), now))
                {
                    kept.order.remove(&at);
                    self.release(&old);
                }
                file
            }
        };
        kept.order.insert(now, file.path.clone());
        let budget = usize::try_from(self.budget.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        while self.used() > budget {
            let Some((&oldest, _)) = kept.order.first_key_value() else {
                break;
            };
            if oldest == now {
                break; // the file asked for now stays, however large
            }
            if let Some(path) = kept.order.remove(&oldest)
                && let Some((old, _)) = kept.files.remove(&path)
            {
                self.release(&old);
            }
        }
        file
    }

    /// Stops counting `file`, which requests under way may still hold.
    fn release(&self, file: &File) {
        file.released.store(true, Ordering::Relaxed);
        let cost = file.cost.swap(0, Ordering::Relaxed);
        self.used.fetch_sub(cost, Ordering::Relaxed);
    }
}

/// One file as served.
#[derive(Debug)]
pub struct File {
    pub path: PathBuf,
    pub content_type: &'static str,
    /// Size and mtime when it was first asked for: what tells a changed file.
    len: u64,
    modified: SystemTime,
    etag: String,
    pub last_modified: HeaderValue,
    body: OnceLock<Bytes>,
    gzip: Mutex<Form>,
    brotli: Mutex<Form>,
    /// The bytes it holds (its body and forms, and what keeping it costs), also counted in
    /// its cache's `used`.
    cost: AtomicUsize,
    used: Arc<AtomicUsize>,
    /// Let go by its cache: what it gains no longer counts.
    released: AtomicBool,
}

/// A compressed form of a file.
#[derive(Debug, Clone)]
enum Form {
    /// Not asked for yet.
    Unmade,
    /// Being made, off the async workers, for the request that first asked for it.
    Making,
    /// Made: `None` when compressing did not make it smaller.
    Made(Option<Bytes>),
}

/// Compressions under way at once, on the blocking threads: one per core of a small machine.
/// A request that finds none free is answered uncompressed rather than made to wait.
static COMPRESSIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A content coding a client may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    pub fn name(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

impl File {
    fn new(found: Found, used: Arc<AtomicUsize>) -> File {
        let Found {
            path,
            content_type,
            len,
            modified,
        } = found;
        let since_epoch = modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        used.fetch_add(ENTRY_COST, Ordering::Relaxed);
        File {
            cost: AtomicUsize::new(ENTRY_COST),
            used,
            released: AtomicBool::new(false),
            content_type,
            len,
            modified,
            // As nginx makes them: the mtime and the size, in hex.
            etag: format!("\"{:x}-{:x}\"", since_epoch.as_secs(), len),
            last_modified: HeaderValue::from_str(&httpdate(modified))
                .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            path,
            body: OnceLock::new(),
            gzip: Mutex::new(Form::Unmade),
            brotli: Mutex::new(Form::Unmade),
        }
    }

    /// Counts `bytes` more held.
    fn charge(&self, bytes: usize) {
        if self.released.load(Ordering::Relaxed) {
            return;
        }
        self.cost.fetch_add(bytes, Ordering::Relaxed);
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Its bytes, read on first use.
    pub async fn body(&self) -> std::io::Result<Bytes> {
        if let Some(body) = self.body.get() {
            return Ok(body.clone());
        }
        let read = Bytes::from(tokio::fs::read(&self.path).await?);
        let mut kept = false;
        let body = self
            .body
            .get_or_init(|| {
                kept = true;
                read
            })
            .clone();
        if kept {
            self.charge(body.len());
        }
        Ok(body)
    }

    /// Its bytes in `coding`, compressed on first use; `None` when compressing would not help,
    /// or while another request has it being made (that one waits for it; no other does).
    /// Compressing runs on a blocking thread, never on an async worker, and is finished and
    /// kept even if the request that started it goes away.
    pub async fn encoded(self: &Arc<Self>, coding: Coding, body: &Bytes) -> Option<Bytes> {
        let permit = {
            let mut form = self.form(coding)?.lock().unwrap_or_else(|p| p.into_inner());
            match &*form {
                Form::Made(made) => return made.clone(),
                Form::Making => return None,
                Form::Unmade => {}
            }
            let permit = COMPRESSIONS.try_acquire().ok()?;
            *form = Form::Making;
            permit
        };
        let (file, body) = (Arc::clone(self), body.clone());
        let making = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let made = compress(coding, &body)
                .filter(|compressed| compressed.len() < body.len())
                .map(Bytes::from);
            if let Some(slot) = file.form(coding) {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Form::Made(made.clone());
                file.charge(made.as_ref().map_or(0, Bytes::len));
            }
            made
        });
        making.await.ok().flatten()
    }

    fn form(&self, coding: Coding) -> Option<&Mutex<Form>> {
        match coding {
            Coding::Brotli => Some(&self.brotli),
            Coding::Gzip => Some(&self.gzip),
            Coding::Identity => None,
        }
    }

    /// The ETag of its form in `coding`: each form is its own representation.
    pub fn etag(&self, coding: Coding) -> String {
        match coding.name() {
            Some(name) => format!("{}-{name}\"", self.etag.trim_end_matches('"')),
            None => self.etag.clone(),
        }
    }

    /// Whether a conditional request's validators match what it holds.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
            let tags = tags.to_str().unwrap_or_default();
            let ours = [Coding::Identity, Coding::Gzip, Coding::Brotli].map(|c| self.etag(c));
            return tags.trim() == "*"
                || tags
                    .split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| ours.iter().any(|o| o == t));
        }
        headers
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|since| since == self.last_modified)
    }
}

fn compress(coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 9,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            Some(out)
        }
        Coding::Identity => None,
    }
}

/// `time` as HTTP writes dates: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn httpdate(time: SystemTime) -> String {
    let time: chrono::DateTime<chrono::Utc> = time.into();
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(dir: &std::path::Path, n: usize, size: usize) -> Found {
        let path = dir.join(format!("{n}.html"));
        // Text that compresses a little, as pages do, but not to nothing.
        let text: String = (0..size)
            .map(|i| char::from(b'a' + u8::try_from((i * 7 + n * 13) % 26).unwrap()))
            .collect();
        std::fs::write(&path, text).unwrap();
        Found::at(path, "text/html").unwrap()
    }

    #[tokio::test]
    async fn a_crawl_of_every_page_keeps_the_cache_within_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let budget = 1024 * 1024;
        let cache = Cache::new(budget);
        let pages: Vec<Found> = (0..200).map(|n| page(dir.path(), n, 20_000)).collect();
        let mut most = 0;
        for found in &pages {
            let file = cache.get(found.clone());
            let body = file.body().await.unwrap();
            assert_eq!(body.len(), 20_000);
            file.encoded(Coding::Gzip, &body).await;
            // What this file took is counted at its next ask: ask again, as the next request
            // for anything would.
            drop(cache.get(found.clone()));
            most = most.max(cache.used());
        }
        // 200 pages of 20 KB and their gzip forms: 6 MB or more, held to the budget (one file
        // may go over it until the next request).
        assert!(most <= budget as usize + 40_000 + ENTRY_COST, "{most}");
        assert!(
            cache.used() > budget as usize / 2,
            "the budget is used: {}",
            cache.used()
        );
        // The pages asked for last are kept: their bytes come from memory.
        let last = cache.get(pages[199].clone());
        std::fs::remove_file(&pages[199].path).unwrap();
        assert_eq!(last.body().await.unwrap().len(), 20_000);
        // The first ones were let go: asking again reads the disk.
        let first = cache.get(pages[0].clone());
        std::fs::remove_file(&pages[0].path).unwrap();
        assert!(first.body().await.is_err());
    }

    #[tokio::test]
    async fn a_changed_file_replaces_what_was_kept_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(1024 * 1024);
        let before = page(dir.path(), 1, 1000);
        let file = cache.get(before.clone());
        assert_eq!(file.body().await.unwrap().len(), 1000);
        std::fs::write(&before.path, "new").unwrap();
        let after = Found::at(before.path.clone(), "text/html").unwrap();
        let file = cache.get(after);
        assert_eq!(&file.body().await.unwrap()[..], b"new");
        assert!(
            cache.used() < 2 * ENTRY_COST + 1000,
            "the old bytes are let go"
        );
    }
}

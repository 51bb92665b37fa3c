//! The site's new pages, written beside the old ones until all are made: then they are put in
//! place together, and the pages the site no longer has are deleted. Dropped before that, it
//! leaves the site as it was.
//!
//! Pages are not fsynced one by one: each is renamed into place whole, and one that a power
//! cut left empty differs from what the next render makes, so it is written again then (a
//! render that did not finish makes the next one write every page: see `job`).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::Path;

use super::OWNED_FOLDERS;
use crate::render::{Durability, Staged, stage};

/// What a site's write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SiteWritten {
    /// Pages whose bytes changed.
    pub written: usize,
    /// Pages left as they were.
    pub unchanged: usize,
    /// Pages of items, publishers or tags no more, deleted.
    pub deleted: usize,
}

/// Pages staged, and pages to delete.
pub struct Staging<'a> {
    folder: &'a Path,
    staged: Vec<Staged>,
    /// The pages made, as hashes of their paths: a full render of a million items holds a
    /// million of them.
    made: HashSet<u64>,
    deleted: Vec<String>,
    unchanged: usize,
}

fn hashed(path: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}

impl<'a> Staging<'a> {
    pub fn new(folder: &'a Path) -> Self {
        Staging {
            folder,
            staged: Vec::new(),
            made: HashSet::new(),
            deleted: Vec::new(),
            unchanged: 0,
        }
    }

    /// Writes `bytes` beside the page at `path`, unless it holds them already.
    pub fn add(&mut self, path: String, bytes: Vec<u8>) -> std::io::Result<()> {
        match stage(&self.folder.join(&path), &bytes, Durability::Lazy)? {
            Some(staged) => self.staged.push(staged),
            None => self.unchanged += 1,
        }
        self.made.insert(hashed(&path));
        Ok(())
    }

    /// The page at `path` is to go (unless it is made again).
    pub fn delete(&mut self, path: &str) {
        self.deleted.push(path.to_string());
    }

    /// Puts the staged pages in place and deletes those that go; with `sweep`, also every
    /// page of the owned folders that was not made.
    pub fn commit(self, sweep: bool) -> std::io::Result<SiteWritten> {
        let mut done = SiteWritten {
            unchanged: self.unchanged,
            ..SiteWritten::default()
        };
        for staged in self.staged {
            staged.commit()?;
            done.written += 1;
        }
        for path in &self.deleted {
            if self.made.contains(&hashed(path)) {
                continue;
            }
            match std::fs::remove_file(self.folder.join(path)) {
                Ok(()) => done.deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if !sweep {
            return Ok(done);
        }
        for owned in OWNED_FOLDERS {
            let Ok(entries) = std::fs::read_dir(self.folder.join(owned)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".html")
                    || self.made.contains(&hashed(&format!("{owned}/{name}")))
                {
                    continue;
                }
                std::fs::remove_file(entry.path())?;
                done.deleted += 1;
            }
        }
        Ok(done)
    }
}

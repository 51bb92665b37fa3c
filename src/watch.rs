//! Requests to reload the config: the config file or `sources.d/` changed on disk (watched,
//! with debounce), or SIGHUP arrived (`systemctl reload`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

use crate::config::SOURCES_DIR;

/// Editors write a file in several steps; changes this close together make one reload.
const DEBOUNCE: Duration = Duration::from_millis(400);

/// Reload requests, and what keeps the watch alive.
pub struct ReloadRequests {
    receiver: mpsc::Receiver<()>,
    watch: Option<ConfigWatch>,
}

impl ReloadRequests {
    /// Requests from SIGHUP and, when `watch_files` is set, from changes to `config_file` and
    /// the `sources.d/` beside it. A watch that cannot be set up is logged, not fatal: SIGHUP
    /// still works.
    pub fn new(config_file: &Path, watch_files: bool) -> std::io::Result<ReloadRequests> {
        let (sender, receiver) = mpsc::channel(1);
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let on_signal = sender.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received: reloading the config");
                // A full channel already holds a request: one reload serves both.
                let _ = on_signal.try_send(());
            }
        });
        let watch = if watch_files {
            match ConfigWatch::new(config_file, sender) {
                Ok(watch) => Some(watch),
                Err(error) => {
                    tracing::warn!(%error, "cannot watch the config for changes; reload with SIGHUP");
                    None
                }
            }
        } else {
            None
        };
        Ok(ReloadRequests { receiver, watch })
    }

    /// The next request; never resolves if nothing can send one.
    pub async fn next(&mut self) {
        if self.receiver.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// Starts watching `sources.d/` if it appeared since the last call.
    pub fn refresh(&self) {
        if let Some(watch) = &self.watch {
            watch.watch_sources_dir();
        }
    }
}

/// The file watch: the config's folder (not recursive: the database and outputs may live below
/// it and change all the time) and `sources.d/`.
struct ConfigWatch {
    debouncer: Arc<Mutex<Debouncer<notify::RecommendedWatcher>>>,
    sources_dir: PathBuf,
    sources_dir_watched: Mutex<bool>,
}

/// The config's files as they stand on disk: each one's path, length and modification time.
#[derive(Debug, PartialEq, Eq)]
struct Stamp(Vec<(PathBuf, Option<(u64, SystemTime)>)>);

impl Stamp {
    fn of(config_file: &Path, sources_dir: &Path) -> Stamp {
        let mut files = vec![config_file.to_path_buf()];
        if let Ok(entries) = std::fs::read_dir(sources_dir) {
            files.extend(
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|e| e == "toml")),
            );
        }
        files.sort();
        Stamp(
            files
                .into_iter()
                .map(|path| {
                    let seen = std::fs::metadata(&path)
                        .ok()
                        .and_then(|m| Some((m.len(), m.modified().ok()?)));
                    (path, seen)
                })
                .collect(),
        )
    }
}

impl ConfigWatch {
    fn new(config_file: &Path, sender: mpsc::Sender<()>) -> notify::Result<ConfigWatch> {
        let folder = config_file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let sources_dir = folder.join(SOURCES_DIR);
        let (file, dir) = (config_file.to_path_buf(), sources_dir.clone());
        let relevant = {
            let (file, dir) = (file.clone(), dir.clone());
            move |path: &Path| {
                path == file
                    || path == dir
                    || (path.parent() == Some(dir.as_path())
                        && path.extension().is_some_and(|e| e == "toml"))
            }
        };
        // Opening and reading a file raise events too (`tributary status` reads the config):
        // only files that changed on disk make a reload.
        let mut last = Stamp::of(&file, &dir);
        let mut debouncer =
            new_debouncer(DEBOUNCE, move |events: DebounceEventResult| match events {
                Ok(events) if events.iter().any(|e| relevant(&e.path)) => {
                    let now = Stamp::of(&file, &dir);
                    if now != last {
                        last = now;
                        tracing::info!("the config changed on disk: reloading");
                        let _ = sender.try_send(());
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "watching the config failed"),
            })?;
        debouncer
            .watcher()
            .watch(&folder, RecursiveMode::NonRecursive)?;
        let watch = ConfigWatch {
            debouncer: Arc::new(Mutex::new(debouncer)),
            sources_dir,
            sources_dir_watched: Mutex::new(false),
        };
        watch.watch_sources_dir();
        Ok(watch)
    }

    fn watch_sources_dir(&self) {
        let mut watched = self
            .sources_dir_watched
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *watched || !self.sources_dir.is_dir() {
            return;
        }
        let mut debouncer = self.debouncer.lock().unwrap_or_else(|p| p.into_inner());
        match debouncer
            .watcher()
            .watch(&self.sources_dir, RecursiveMode::NonRecursive)
        {
            Ok(()) => *watched = true,
            Err(error) => tracing::warn!(%error, dir = %self.sources_dir.display(), "cannot watch"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_the_config_leaves_its_stamp_and_writing_it_or_a_sources_file_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (file, sources) = (
            dir.path().join("tributary.toml"),
            dir.path().join(SOURCES_DIR),
        );
        std::fs::write(&file, "[database]\n").unwrap();
        let first = Stamp::of(&file, &sources);
        std::fs::read_to_string(&file).unwrap();
        assert_eq!(Stamp::of(&file, &sources), first);

        std::fs::write(&file, "[database]\npath = \"other.db\"\n").unwrap();
        let written = Stamp::of(&file, &sources);
        assert_ne!(written, first);
        std::fs::create_dir(&sources).unwrap();
        std::fs::write(sources.join("more.toml"), "").unwrap();
        assert_ne!(Stamp::of(&file, &sources), written);
    }
}

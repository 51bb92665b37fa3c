//! The reload job: the config file read again when asked (file watch, SIGHUP). One that
//! fails to load is not applied, and says why in `status`; the daemon goes on with the last
//! good one. The daemon then hands the new config to each job.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{self, Config, SourceConfig};

/// Why the config file, as last changed, was not applied; `None` once one is.
#[derive(Default)]
pub struct Reload {
    not_applied: Option<String>,
}

impl Reload {
    /// Why the last change was not applied, if it was not.
    pub fn not_applied(&self) -> Option<&str> {
        self.not_applied.as_deref()
    }

    /// `current`'s file, read again; `None` when it does not load. The database stays where
    /// it is: moving it takes a restart.
    pub async fn load(&mut self, current: &Config) -> Option<Config> {
        let file = current.file.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let config = config::load(&file)?;
            crate::render::templates::check(&config)?;
            Ok::<_, config::ConfigError>(config)
        })
        .await;
        let mut new = match loaded {
            Ok(Ok(new)) => new,
            Ok(Err(error)) => {
                tracing::error!(
                    "config not applied (still running on the last good one): {}",
                    error.one_line()
                );
                self.not_applied = Some(error.one_line());
                return None;
            }
            Err(_) => {
                tracing::error!("config not applied: loading it crashed");
                self.not_applied = Some("loading it crashed".to_string());
                return None;
            }
        };
        self.not_applied = None;
        if new.database != current.database {
            tracing::warn!(
                "database.path changed to {}; that takes a restart: still using {}",
                new.database.display(),
                current.database.display()
            );
            new.database = current.database.clone();
        }
        Some(new)
    }
}

/// How a reload changed the sources, for the log.
pub struct SourceDiff {
    added: Vec<String>,
    removed: Vec<String>,
    /// The source's label and what changed.
    changed: Vec<(String, Vec<String>)>,
    /// Labels of added and removed sources, by URL.
    labels: HashMap<String, String>,
}

impl SourceDiff {
    /// What changed from `old` to `new`.
    pub fn between(old: &[Arc<SourceConfig>], new: &[Arc<SourceConfig>]) -> SourceDiff {
        // By URL: a reload of 100,000 sources compares each once, not each with every other.
        fn by_url(list: &[Arc<SourceConfig>]) -> HashMap<&str, &SourceConfig> {
            list.iter().map(|s| (s.url.as_str(), &**s)).collect()
        }
        let (old_by_url, new_by_url) = (by_url(old), by_url(new));
        let mut diff = SourceDiff {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            labels: HashMap::new(),
        };
        for source in new {
            match old_by_url.get(source.url.as_str()) {
                None => {
                    diff.labels
                        .insert(source.url.clone(), source.label().to_string());
                    diff.added.push(source.url.clone());
                }
                Some(before) => {
                    let mut what = Vec::new();
                    if before.interval != source.interval {
                        what.push(format!(
                            "interval {} → {}",
                            humantime::format_duration(before.interval),
                            humantime::format_duration(source.interval)
                        ));
                    }
                    if before.name != source.name {
                        what.push(format!("name {:?} → {:?}", before.name, source.name));
                    }
                    if before.tags != source.tags {
                        what.push(format!("tags {:?} → {:?}", before.tags, source.tags));
                    }
                    if !what.is_empty() {
                        diff.changed.push((source.label().to_string(), what));
                    }
                }
            }
        }
        for source in old {
            if !new_by_url.contains_key(source.url.as_str()) {
                diff.labels
                    .insert(source.url.clone(), source.label().to_string());
                diff.removed.push(source.url.clone());
            }
        }
        diff
    }
}

impl std::fmt::Display for SourceDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |urls: &[String]| {
            urls.iter()
                .map(|u| self.labels.get(u).cloned().unwrap_or_else(|| u.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let changed = self
            .changed
            .iter()
            .map(|(name, what)| format!("{name}: {}", what.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        write!(
            f,
            "added {} sources ({}), removed {} ({}), changed {} ({})",
            self.added.len(),
            names(&self.added),
            self.removed.len(),
            names(&self.removed),
            self.changed.len(),
            changed
        )
    }
}

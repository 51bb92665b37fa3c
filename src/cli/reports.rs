//! Commands that print what they find: `check`, `status`, `explain`, `rules test`.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;

use super::{named_sources, say};
use crate::config::{self, Config};
use crate::store::Store;
use crate::{control, refresh, report};

/// `explain`: a source fetched once, nothing stored, what Tributary makes of it.
pub async fn explain(config: Config, target: String) -> anyhow::Result<bool> {
    let here = std::env::current_dir().context("reading the current folder")?;
    let source = config
        .source_for(&target, &here)
        .map_err(anyhow::Error::msg)?;
    let adopt = config.poll.adopt_redirect_after;
    match refresh::explain_once(&config, &source).await? {
        Ok(explained) => {
            let text = report::explanation(&source, &explained, adopt, Utc::now());
            say!("{}", text.trim_end());
            Ok(true)
        }
        Err(error) => {
            say!(
                "Source: {}\n  URL: {}\n  Failed: {error}",
                source.label(),
                source.url
            );
            Ok(false)
        }
    }
}

/// `check`: the config as loaded, with warnings and suggestions.
pub fn check(config: &Config) {
    say!("{}", report::check(config).trim_end());
    if let Some(warning) = report::published_database(config) {
        eprintln!("warning: {warning}");
    }
    if let Some(suggestion) = report::missing_contact(config) {
        eprintln!("suggestion: {suggestion}");
    }
}

/// `rules test`: what the rules make of the newest stored items, changing nothing.
pub fn rules_test(config: &Config, source: Option<&str>, last: usize) -> anyhow::Result<()> {
    let url = match source {
        Some(target) => {
            let found = config.sources.iter().find(|s| s.is_named(target));
            let found = found.with_context(|| format!("no source is named {target:?}"))?;
            Some(found.url.clone())
        }
        None => None,
    };
    let store = Store::open_at(&config.database_location())?;
    let now = Utc::now();
    let shaping = config.shaping();
    let shaped = store.shape_stored(&shaping, url.as_deref(), last, now)?;
    say!("{}", report::rules_test(&shaped, now).trim_end());
    Ok(())
}

/// How long `status` waits for a daemon's answer (about 0.16 s at 100,000 sources)
/// before reading the database itself.
const DAEMON_ANSWERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// `status` as the daemon running the config file `file` answers it, if one does: it holds the
/// config and the store, where loading a config of 100,000 sources alone takes most of a
/// second. Any failure to ask, or a daemon that does not answer in time, leaves `status` to
/// read the database itself.
pub fn status_of_daemon(file: &Path, targets: &[String]) -> Option<String> {
    let socket = control::socket_path(&config::database_path(file)?);
    let file = std::path::absolute(file).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let asked = control::status(&socket, &file, targets);
    match runtime.block_on(async { tokio::time::timeout(DAEMON_ANSWERS_WITHIN, asked).await }) {
        Ok(answer) => answer.ok()?,
        Err(_) => {
            eprintln!(
                "tributary: the daemon at {} did not answer within {} s; reading the database instead",
                socket.display(),
                DAEMON_ANSWERS_WITHIN.as_secs()
            );
            None
        }
    }
}

/// `status`, read from the database.
pub fn status(config: &Config, targets: &[String]) -> anyhow::Result<()> {
    let named = match targets.is_empty() {
        true => None,
        false => Some(named_sources(config, targets)?),
    };
    let mut store = Store::open_at(&config.database_location())?;
    let reads = report::read_status(&mut store, config, named.as_deref())?;
    say!("{}", report::status_report(reads, config, None).trim_end());
    Ok(())
}

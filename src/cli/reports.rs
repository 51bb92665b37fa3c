//! Commands that print what they find: `check`, `status`, `explain`, `rules test`, `search`,
//! `stories`.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;

use super::{named_sources, say};
use crate::config::{self, Config};
use crate::store::{Order, Store};
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
            let joins_at = config.stories.as_ref().map(|s| s.similarity);
            let text = report::explanation(&source, &explained, adopt, joins_at, Utc::now());
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

/// `tributary search`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// What to look for: words (all required), "a phrase", -word, OR, parentheses, and
    /// title:, author:, source:, tag:, site:, after:, before: (2026-11-30 or 7d).
    #[arg(allow_hyphen_values = true)]
    pub query: String,
    /// Only this source's items (its name or URL).
    #[arg(long)]
    pub source: Option<String>,
    /// The most items listed.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Newest first, rather than best match first.
    #[arg(long)]
    pub newest: bool,
    /// One JSON document: the query and its hits.
    #[arg(long)]
    pub json: bool,
}

/// `search`: the stored items a query finds, best match first.
pub fn search(config: &Config, args: &SearchArgs) -> anyhow::Result<()> {
    let sources = match &args.source {
        Some(target) => named_sources(config, std::slice::from_ref(target))?,
        None => Vec::new(),
    };
    let query = config
        .search_query(&args.query, &sources)
        .with_context(|| format!("search {:?}", args.query))?;
    let mut store = Store::open_at(&config.database_location())?;
    let now = Utc::now();
    // What the daemon has not indexed yet (none while it runs; an upgraded archive before).
    store.save_searches(config.saved_searches(), now)?;
    store.index_pending(now)?;
    let order = if args.newest {
        Order::Newest
    } else {
        Order::Relevance
    };
    let rows = store.search(&query, order, args.limit, now)?;
    if args.json {
        let hits = report::search::hits(&rows, &query);
        let document = serde_json::json!({ "query": args.query, "hits": hits });
        say!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        say!("{}", report::search::text(&rows, &query).trim_end());
    }
    Ok(())
}

/// `tributary stories`'s arguments.
#[derive(Debug, clap::Args)]
pub struct StoriesArgs {
    /// How many of the stories begun most recently.
    #[arg(long, default_value_t = 20)]
    pub last: usize,
}

/// `stories`: the recent stories more than one source reported, newest first.
pub fn stories(config: &Config, args: &StoriesArgs) -> anyhow::Result<()> {
    let mut store = Store::open_at(&config.database_location())?;
    store.set_stories(config.stories.clone());
    let stories = store.recent_stories(args.last)?;
    let text = report::stories::stories_text(&stories, config.stories.is_some());
    say!("{}", text.trim_end());
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

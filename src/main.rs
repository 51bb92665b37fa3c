//! The `tributary` command: parses arguments, sets up logging, loads the config, opens the
//! store and hands over to the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tributary::config::{self, Config, LogFormat, SourceConfig, SourceLocation};
use tributary::fetch::Fetcher;
use tributary::model::{ItemCounts, PollResult, RefreshOutcome, Verdict};
use tributary::refresh::{self, Context, Mode, ParseSlots};
use tributary::store::{SharedStore, Store, normalized_date, normalized_updated};
use tributary::watch::ReloadRequests;
use tributary::{publish, scheduler};

/// A feed aggregator: polls publisher feeds, stores each item once, writes merged feeds.
#[derive(Debug, Parser)]
#[command(name = "tributary", version, about)]
struct Cli {
    /// The config file; relative paths inside it resolve against its folder.
    #[arg(long, short, global = true, default_value = "config/tributary.toml")]
    config: PathBuf,
    /// How log lines are written (default: `[log] format`, else text).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll each source on its interval and keep the outputs up to date.
    Run,
    /// Poll every source once, write the outputs and print what changed.
    ///
    /// Sources that are gone (HTTP 410) or inside a Retry-After window are skipped.
    Once {
        /// Poll only the sources whose next poll time has come (for running from cron).
        #[arg(long)]
        due: bool,
    },
    /// Validate the config and list the sources and outputs.
    Check,
    /// Show each source's state from the database.
    Status,
    /// Fetch a source once, store nothing, and print what Tributary makes of it: format,
    /// encoding, each item's identity, dates, what the sanitizer removed, and what a poll would
    /// do with it.
    Explain {
        /// A configured source's name or URL, or any feed URL (`file:` paths are relative to
        /// the current folder).
        source: String,
    },
    /// Print the configured sources as an OPML 2.0 subscription list.
    ExportOpml,
    /// Read an OPML subscription list and print its feeds as `[[sources]]` tables, or add
    /// them to the config file (keeping its comments and layout) with --append.
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
        /// Add the new sources to the config file instead of printing them.
        #[arg(long)]
        append: bool,
        /// Also take feeds on loopback, private or link-local addresses (an intranet's).
        #[arg(long)]
        allow_private: bool,
    },
}

/// Prints a line to stdout. A closed pipe (`tributary status | head`) is not an error worth
/// dying for: the work goes on, only its report is cut short.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Exit code when the config is invalid; 1 is for anything else that stops a command.
const EXIT_BAD_CONFIG: u8 = 2;

/// Exit code when a second SIGTERM/SIGINT cut the shutdown short (128 + SIGINT, as shells do).
const EXIT_SECOND_SIGNAL: i32 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config::load(&cli.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("tributary: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let default_level = match cli.command {
        Command::Run => "info",
        _ => "warn",
    };
    init_logging(
        config.log.level.as_deref().unwrap_or(default_level),
        cli.log_format.unwrap_or(config.log.format),
    );
    let result = match cli.command {
        Command::Check => {
            check(&config);
            Ok(true)
        }
        Command::Status => status(&config).map(|()| true),
        Command::Once { due } => with_runtime(once(config, due)),
        Command::Run => with_runtime(run(config)),
        Command::Explain { source } => with_runtime(explain(config, source)),
        Command::ExportOpml => export_opml(&config).map(|()| true),
        Command::ImportOpml {
            file,
            append,
            allow_private,
        } => import_opml(&config, &file, append, allow_private).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("tributary: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr: `RUST_LOG` if set, else `level`. Under journald (which stamps every line
/// itself) without timestamps.
fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match (format, journald) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}

fn with_runtime(work: impl Future<Output = anyhow::Result<bool>>) -> anyhow::Result<bool> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(work)
}

/// Opens the database and records the configured sources in it.
async fn open_store(config: &Config) -> anyhow::Result<Context> {
    let mut store = Store::open(&config.database)?;
    store
        .sync_sources(&config.sources)
        .with_context(|| format!("recording sources in {}", config.database.display()))?;
    let fetcher = Fetcher::new(&config.poll).context("setting up the HTTP client")?;
    Ok(Context {
        fetcher,
        store: SharedStore::new(store).context("starting the database thread")?,
        poll: Arc::new(config.poll.clone()),
        rules: Arc::new(config.items.clone()),
        parse_slots: ParseSlots::for_this_machine(),
    })
}

async fn once(config: Config, due: bool) -> anyhow::Result<bool> {
    let ctx = open_store(&config).await?;
    // A bar only for a person watching; scripts and pipes get plain lines on stdout.
    let progress = if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(config.sources.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} sources {msg}") {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let mode = if due { Mode::Due } else { Mode::Now };
    let (outcomes, rendered) = scheduler::poll_all_once(&ctx, &config, mode, |outcome| {
        let line = outcome_line(outcome);
        match &progress {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => say!("{line}"),
        }
    })
    .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    let mut total = ItemCounts::default();
    let (mut ok, mut failed, mut limited, mut gone, mut skipped) = (0, 0, 0, 0, 0);
    for outcome in &outcomes {
        match &outcome.result {
            PollResult::Fetched(c) => {
                ok += 1;
                total.add(c);
            }
            PollResult::NotModified => ok += 1,
            PollResult::Failed(_) => failed += 1,
            PollResult::RateLimited { .. } => limited += 1,
            PollResult::Gone => gone += 1,
            PollResult::Skipped { .. } => skipped += 1,
        }
    }
    say!(
        "total: {} sources, {ok} ok, {failed} failed, {limited} rate limited, {gone} gone, {skipped} skipped; {}",
        outcomes.len(),
        counts_text(&total)
    );
    let mut outputs_ok = true;
    let unsaved = ctx.store.unsaved_polls();
    if unsaved > 0 {
        eprintln!(
            "tributary: {unsaved} polls could not be saved in {} (see the log above); they are fetched again in full next time",
            config.database.display()
        );
        outputs_ok = false;
    }
    for file in rendered {
        if let Err(error) = file.result {
            eprintln!("tributary: {error}");
            outputs_ok = false;
        }
    }
    if let Err(error) = ctx.store.close().await {
        eprintln!("tributary: closing {}: {error}", config.database.display());
        outputs_ok = false;
    }
    Ok(outputs_ok)
}

fn outcome_line(outcome: &RefreshOutcome) -> String {
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
        PollResult::Skipped { until: Some(until) } => {
            let why = outcome
                .next_poll
                .map(|n| format!(" ({})", n.reason))
                .unwrap_or_default();
            format!("{name}: skipped until {}{why}", time(*until))
        }
    }
}

/// `3 new, 1 updated, 26 unchanged`, then duplicates and left-out items when there are any.
fn counts_text(c: &ItemCounts) -> String {
    let mut text = format!(
        "{} new, {} updated, {} unchanged",
        c.new, c.updated, c.unchanged
    );
    if c.duplicates > 0 {
        text.push_str(&format!(", {} already via another source", c.duplicates));
    }
    if c.left_out > 0 {
        text.push_str(&format!(
            ", {} left out (too old or past initial_items)",
            c.left_out
        ));
    }
    text
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

async fn run(config: Config) -> anyhow::Result<bool> {
    let ctx = open_store(&config).await?;
    clean_stale_temp_files(&config);
    let shutdown = shutdown_signal()?;
    let reloads = ReloadRequests::new(&config.file, config.service.watch_config)
        .context("listening for SIGHUP")?;
    if let Some(listen) = config.publishing.listen {
        publish::serve(&config)
            .await
            .with_context(|| format!("serving the outputs on {listen}"))?;
    }
    scheduler::run_daemon(ctx, config, reloads, shutdown).await;
    Ok(true)
}

/// Resolves on the first SIGINT or SIGTERM; a second one ends the process at once. That is
/// safe: every database write is a transaction and every output is renamed into place whole.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received: stopping"),
            _ = interrupt.recv() => tracing::info!("SIGINT received: stopping"),
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::warn!("second signal: exiting at once");
            std::process::exit(EXIT_SECOND_SIGNAL);
        });
    })
}

/// Removes temp files an interrupted output write left beside the outputs (a process killed
/// between creating its temp file and renaming it).
fn clean_stale_temp_files(config: &Config) {
    let paths = config
        .outputs
        .iter()
        .map(|o| o.path.as_path())
        .chain(config.health.as_deref());
    for path in paths {
        let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let prefix = format!(".{}.", name.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&prefix) && file.ends_with(".tmp") {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {
                        tracing::info!(file = %entry.path().display(), "removed a stale temp file")
                    }
                    Err(error) => {
                        tracing::warn!(%error, file = %entry.path().display(), "cannot remove a stale temp file")
                    }
                }
            }
        }
    }
}

async fn explain(config: Config, target: String) -> anyhow::Result<bool> {
    let source = match config
        .sources
        .iter()
        .find(|s| s.name.as_deref() == Some(target.as_str()) || s.url == target)
    {
        Some(source) => source.clone(),
        None => ad_hoc_source(&target, &config)?,
    };
    let ctx = open_store(&config).await?;
    say!("Source: {}", source.label());
    say!("  URL: {}", source.url);
    let explained = refresh::explain(&ctx, &source).await;
    // It stored nothing; closing leaves the database file as complete as it found it.
    ctx.store.close().await?;
    let explanation = match explained {
        Ok(explanation) => explanation,
        Err(error) => {
            say!("  Failed: {error}");
            return Ok(false);
        }
    };
    let feed = &explanation.feed;
    if let Some(url) = &explanation.fetched_from {
        say!("  Fetched from: {url}");
    }
    if let Some(url) = &explanation.moved_to {
        say!(
            "  Moved permanently to: {url} (adopted after {} polls in a row; change the config's url)",
            config.poll.adopt_redirect_after
        );
    }
    if let Some(url) = &explanation.discovered {
        say!("  The URL is an HTML page; the feed it links to: {url}");
    }
    say!("  Format: {}; encoding: {}", feed.format, feed.encoding);
    say!(
        "  Feed: {} ({})",
        feed.meta.title.as_deref().unwrap_or("(no title)"),
        feed.meta.link.as_deref().unwrap_or("no website link")
    );
    if let Some(hint) = feed.hints.min_interval {
        say!(
            "  The feed asks for at least {} between polls",
            humantime::format_duration(hint)
        );
    }
    if !feed.hints.skip_hours.is_empty() || !feed.hints.skip_days.is_empty() {
        say!(
            "  The feed asks not to be read in hours {:?} (UTC) and on days {:?} (0 = Monday)",
            feed.hints.skip_hours,
            feed.hints.skip_days
        );
    }
    say!("  {} items:", feed.items.len());
    let now = Utc::now();
    for (index, item) in feed.items.iter().enumerate() {
        let verdict = explanation
            .verdicts
            .iter()
            .find(|(key, _)| *key == item.key)
            .map(|(_, v)| match v {
                Verdict::New => "new".to_string(),
                Verdict::Updated => "updated in place".to_string(),
                Verdict::Unchanged => "unchanged (already stored)".to_string(),
                Verdict::Duplicate(owner) => format!("a duplicate of {owner}'s item"),
                Verdict::LeftOut(why) => format!("left out: {why}"),
            })
            .unwrap_or_default();
        say!("");
        say!(
            "  {}. {}",
            index + 1,
            item.title.as_deref().unwrap_or("(no title)")
        );
        say!("     key:        {}", item.key);
        if let Some(link) = &item.link {
            say!("     link:       {link}");
            if let Some(canonical) = tributary::identity::canonical_link(link) {
                say!("     canonical:  {canonical}");
            }
        }
        let date = item.published.or(item.updated);
        let published = normalized_date(date, now);
        say!(
            "     published:  {} -> {}",
            date.map(time).unwrap_or_else(|| "none".into()),
            time(published)
        );
        if let Some(updated) = item.updated.filter(|u| Some(*u) != item.published) {
            let stored = normalized_updated(Some(updated), published, now);
            say!(
                "     updated:    {} -> {}",
                time(updated),
                stored.map_or_else(|| "dropped: implausible".into(), time)
            );
        }
        for dropped in feed.dropped.get(index).into_iter().flatten() {
            say!("     {dropped}");
        }
        let removed = feed.removed.get(index).filter(|r| !r.is_empty());
        say!(
            "     sanitizer removed: {}",
            removed.map_or("nothing".to_string(), |r| r.join(", "))
        );
        say!("     a poll would store it as: {verdict}");
    }
    say!("");
    match explanation.next_poll {
        Some(next) => say!("Next poll: {} ({})", time(next.at), next.reason),
        None => say!("Next poll: never"),
    }
    Ok(true)
}

/// A source for a URL given on the command line rather than in the config.
fn ad_hoc_source(target: &str, config: &Config) -> anyhow::Result<SourceConfig> {
    let location = match target.strip_prefix("file:") {
        Some(path) => SourceLocation::File(std::path::absolute(path)?),
        None => {
            let url = url::Url::parse(target)
                .with_context(|| format!("{target:?} is neither a configured source nor a URL"))?;
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https"),
                "{target:?}: only http, https and file: URLs can be read"
            );
            SourceLocation::Http(url)
        }
    };
    Ok(SourceConfig {
        name: None,
        url: target.to_string(),
        location,
        interval: config.poll.interval,
        tags: Vec::new(),
        declared_in: config.file.clone(),
    })
}

fn export_opml(config: &Config) -> anyhow::Result<()> {
    let bytes = tributary::render::opml::render("Tributary sources", &config.sources)?;
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(&bytes);
    Ok(())
}

fn import_opml(
    config: &Config,
    file: &Path,
    append: bool,
    allow_private: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let feeds =
        tributary::opml::read(&text).with_context(|| format!("reading {}", file.display()))?;
    let (feeds, refused) = tributary::opml::screen(feeds, allow_private);
    for line in refused {
        eprintln!("tributary: {line}");
    }
    let known: Vec<&str> = config.sources.iter().map(|s| s.url.as_str()).collect();
    let new: Vec<_> = feeds
        .into_iter()
        .filter(|f| !known.contains(&f.url.as_str()))
        .collect();
    if append {
        let original = std::fs::read_to_string(&config.file)
            .with_context(|| format!("reading {}", config.file.display()))?;
        let updated = tributary::opml::append_sources(&original, &new)
            .with_context(|| format!("editing {}", config.file.display()))?;
        tributary::render::write_if_changed(&config.file, updated.as_bytes())
            .with_context(|| format!("writing {}", config.file.display()))?;
        say!("added {} sources to {}", new.len(), config.file.display());
    } else {
        say!(
            "{}",
            tributary::opml::append_sources("", &new)?.trim_start()
        );
    }
    Ok(())
}

fn check(config: &Config) {
    say!("config OK: {}", config.file.display());
    say!("database: {}", config.database.display());
    if let Some(folder) = publish::published_folder_holding(config, &config.database) {
        eprintln!(
            "warning: the database {} lies inside {}, a folder that is published: whoever reads the outputs may download it (and its -wal file). Move it out, e.g. [database] path = \"state/tributary.db\"",
            config.database.display(),
            folder.display()
        );
    }
    say!(
        "poll: interval {}, concurrency {} ({} per host), timeout {}",
        humantime::format_duration(config.poll.interval),
        config.poll.concurrency,
        config.poll.per_host_concurrency,
        humantime::format_duration(config.poll.timeout)
    );
    for output in &config.outputs {
        let picks: Vec<String> = config
            .sources
            .iter()
            .filter(|s| output.takes(s))
            .map(|s| s.label().to_string())
            .collect();
        let from = if output.selects_sources() {
            format!("from {}", picks.join(", "))
        } else {
            "from every source".to_string()
        };
        say!(
            "output: {} ({:?}, {:?}, at most {} items {from})",
            output.path.display(),
            output.format,
            output.title,
            output.max_items
        );
    }
    say!("{} sources:", config.sources.len());
    let rows: Vec<Vec<String>> = config
        .sources
        .iter()
        .map(|s| {
            vec![
                s.label().to_string(),
                s.url.clone(),
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
    print_table(&["NAME", "URL", "INTERVAL", "TAGS", "FILE"], &rows);
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

fn status(config: &Config) -> anyhow::Result<()> {
    let store = Store::open(&config.database)?;
    let statuses = store.source_statuses(&config.sources)?;
    let or_dash = |t: Option<DateTime<Utc>>| t.map(time).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            let st = &s.state;
            let state = match st.last_status.as_deref() {
                None => "never polled".to_string(),
                Some("gone") => format!("gone (HTTP 410) since {}", or_dash(st.gone_since)),
                Some("rate limited") => match st.retry_after_until {
                    Some(until) => format!("rate limited until {}", time(until)),
                    None => "rate limited".to_string(),
                },
                Some("error") => format!(
                    "failing ({} in a row): {}",
                    st.consecutive_failures,
                    st.last_error.as_deref().unwrap_or("unknown error")
                ),
                Some(other) => other.to_string(),
            };
            let next = match st.next_poll {
                Some(next) => format!("{} ({})", time(next.at), next.reason),
                None if st.gone_since.is_some() => "never".to_string(),
                None => "at start".to_string(),
            };
            vec![
                s.name.clone(),
                or_dash(st.last_success_at),
                s.items.to_string(),
                or_dash(s.newest_item),
                next,
                state,
            ]
        })
        .collect();
    print_table(
        &[
            "SOURCE",
            "LAST SUCCESS",
            "ITEMS",
            "NEWEST ITEM",
            "NEXT POLL",
            "STATE",
        ],
        &rows,
    );
    for (status, source) in statuses.iter().zip(&config.sources) {
        let st = &status.state;
        if let Some(url) = &st.adopted_url {
            say!(
                "{}: moved permanently; polling {url}. Change its url at {} to \"{url}\"",
                status.name,
                source.url_position()
            );
        } else if let Some(target) = &st.redirect_target {
            say!(
                "{}: permanently redirected to {target} on the last {} poll(s); adopted after {}",
                status.name,
                st.redirect_seen,
                config.poll.adopt_redirect_after
            );
        }
        if let Some(url) = &st.discovered_url {
            say!(
                "{}: the URL is an HTML page; polling the feed it links to, {url}",
                status.name
            );
        }
    }
    Ok(())
}

/// Prints rows in columns padded to their widest cell; the last column is not padded.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        say!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

//! The `tributary` command: parses arguments, sets up logging, loads the config, opens the
//! store and hands over to the library.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tributary::config::{self, Config, LogFormat};
use tributary::refresh::{self, Mode};
use tributary::store::Store;
use tributary::{report, scheduler};

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
    /// Poll these sources now (by name or URL) and print each result as `once` does: the
    /// running daemon does it, through its control socket; with no daemon running, this
    /// command does (and writes the outputs). A publisher's Retry-After still holds.
    Poll {
        /// Configured sources, by name or URL.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Stop polling these sources (by name or URL) without touching the config, until
    /// `resume`; stored, so it holds across restarts. `status` shows them as paused.
    Pause {
        /// Configured sources, by name or URL.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Poll these paused sources again: a running daemon polls them at once.
    Resume {
        /// Configured sources, by name or URL.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Validate the config and list the sources and outputs.
    Check,
    /// The database as a whole.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Show each source's state (or only these sources', by name or URL): a running daemon
    /// answers; with none, read from the database.
    Status {
        /// Configured sources, by name or URL; all when none is given.
        sources: Vec<String>,
    },
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
    /// Rules and rewrites: see what they do before they apply.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
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

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Print what each rule and rewrite of the config does to the stored items (dropped, kept,
    /// tagged, rewritten: before → after), newest first, changing nothing.
    Test {
        /// Only this source's items (its name or URL).
        #[arg(long)]
        source: Option<String>,
        /// How many of the newest items.
        #[arg(long, default_value_t = 20)]
        last: usize,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Copy the whole state (sources' schedules and validators, items with their ids,
    /// tombstones, subscriptions, webhook queues) from one config's database into another's,
    /// which must be empty: from SQLite to PostgreSQL or back. Stop the daemon first.
    Copy {
        /// The config whose database is copied.
        #[arg(long)]
        from: PathBuf,
        /// The config whose (empty) database receives the copy.
        #[arg(long)]
        to: PathBuf,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two configs of their own, not --config.
    if let Command::Db {
        command: DbCommand::Copy { from, to },
    } = &cli.command
    {
        init_logging("warn", cli.log_format.unwrap_or_default());
        return match db_copy(from, to) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("tributary: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Status { sources } = &cli.command
        && let Some(text) = status_of_daemon(&cli.config, sources)
    {
        print!("{text}");
        return ExitCode::SUCCESS;
    }
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
        Command::Status { sources } => status(&config, &sources).map(|()| true),
        Command::Db { .. } => Ok(true),
        Command::Once { due } => with_runtime(once(config, due)),
        Command::Run => with_runtime(run(config)),
        Command::Poll { sources } => with_runtime(poll_now(config, sources)),
        Command::Pause { sources } => pause(&config, &sources, true).map(|()| true),
        Command::Resume { sources } => pause(&config, &sources, false)
            .and_then(|()| with_runtime(tell_daemon_to_poll(config, sources))),
        Command::Explain { source } => with_runtime(explain(config, source)),
        Command::ExportOpml => export_opml(&config).map(|()| true),
        Command::Rules {
            command: RulesCommand::Test { source, last },
        } => rules_test(&config, source.as_deref(), last).map(|()| true),
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

async fn once(config: Config, due: bool) -> anyhow::Result<bool> {
    // A bar only for a person watching; scripts and pipes get plain lines on stdout.
    let progress =
        (std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(config.sources.len() as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} sources {msg}") {
                bar.set_style(style);
            }
            bar
        });
    let mode = if due { Mode::Due } else { Mode::Now };
    let done = scheduler::once(
        &config,
        mode,
        |_| true,
        |outcome| {
            let line = report::outcome_line(outcome);
            match &progress {
                Some(bar) => {
                    bar.println(line);
                    bar.inc(1);
                }
                None => say!("{line}"),
            }
        },
    )
    .await?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    say!("{}", report::once_total(&done.outcomes));
    for problem in &done.problems {
        eprintln!("tributary: {problem}");
    }
    Ok(done.problems.is_empty())
}

/// The configured sources `targets` name, or an error naming those that name none.
fn named_sources(
    config: &Config,
    targets: &[String],
) -> anyhow::Result<Vec<std::sync::Arc<tributary::config::SourceConfig>>> {
    config.sources_named(targets).map_err(|unknown| {
        let unknown: Vec<String> = unknown.iter().map(|t| format!("{t:?}")).collect();
        anyhow::anyhow!(
            "no source in the config is named or has the URL {}",
            unknown.join(", ")
        )
    })
}

/// `pause` (`paused`) or `resume`: stored in the database, which the daemon reads before each
/// poll.
fn pause(config: &Config, targets: &[String], paused: bool) -> anyhow::Result<()> {
    let sources = named_sources(config, targets)?;
    let mut store = Store::open_configured(config)?;
    store.sync_sources(&config.sources)?;
    let at = paused.then(chrono::Utc::now);
    for source in sources {
        store.set_paused(&source.url, at)?;
        say!(
            "{}: {}",
            source.label(),
            if paused { "paused" } else { "resumed" }
        );
    }
    Ok(())
}

/// After `resume`: a running daemon polls the sources at once (and says how each went).
async fn tell_daemon_to_poll(config: Config, targets: Vec<String>) -> anyhow::Result<bool> {
    let socket = tributary::control::socket_path(&config.database);
    tributary::control::poll(&socket, &targets, |line| say!("{line}"))
        .await
        .with_context(|| format!("talking to the daemon at {}", socket.display()))?;
    Ok(true)
}

async fn poll_now(config: Config, targets: Vec<String>) -> anyhow::Result<bool> {
    named_sources(&config, &targets)?;
    let socket = tributary::control::socket_path(&config.database);
    let asked = tributary::control::poll(&socket, &targets, |line| say!("{line}"))
        .await
        .with_context(|| format!("talking to the daemon at {}", socket.display()))?;
    if asked {
        return Ok(true);
    }
    // No daemon: poll them here, as `once` would, and write the outputs.
    let selected = |s: &tributary::config::SourceConfig| targets.iter().any(|t| s.is_named(t));

    let done = scheduler::once(&config, Mode::Now, selected, |outcome| {
        say!("{}", report::outcome_line(outcome));
    })
    .await?;
    for problem in &done.problems {
        eprintln!("tributary: {problem}");
    }
    Ok(done.problems.is_empty())
}

async fn run(config: Config) -> anyhow::Result<bool> {
    tributary::service::raise_open_file_limit();
    scheduler::run(config).await?;
    Ok(true)
}

async fn explain(config: Config, target: String) -> anyhow::Result<bool> {
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
    let configured: Vec<&str> = config.sources.iter().map(|s| s.url.as_str()).collect();
    let import = tributary::opml::import(&text, &configured, allow_private)
        .with_context(|| format!("reading {}", file.display()))?;
    for line in &import.refused {
        eprintln!("tributary: {line}");
    }
    let new = import.new;
    if append {
        let original = std::fs::read_to_string(&config.file)
            .with_context(|| format!("reading {}", config.file.display()))?;
        let updated = config::append_sources(&original, &new)
            .with_context(|| format!("editing {}", config.file.display()))?;
        tributary::render::write_if_changed(&config.file, updated.as_bytes())
            .with_context(|| format!("writing {}", config.file.display()))?;
        say!("added {} sources to {}", new.len(), config.file.display());
    } else {
        say!("{}", config::append_sources("", &new)?.trim_start());
    }
    Ok(())
}

fn check(config: &Config) {
    say!("{}", report::check(config).trim_end());
    if let Some(warning) = report::published_database(config) {
        eprintln!("warning: {warning}");
    }
    if let Some(suggestion) = report::missing_contact(config) {
        eprintln!("suggestion: {suggestion}");
    }
}

fn rules_test(config: &Config, source: Option<&str>, last: usize) -> anyhow::Result<()> {
    let url = match source {
        Some(target) => {
            let found = config.sources.iter().find(|s| s.is_named(target));
            let found = found.with_context(|| format!("no source is named {target:?}"))?;
            Some(found.url.clone())
        }
        None => None,
    };
    let store = Store::open_configured(config)?;
    let now = Utc::now();
    let shaping = tributary::rules::Shaping::new(config);
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
fn status_of_daemon(file: &Path, targets: &[String]) -> Option<String> {
    let socket = tributary::control::socket_path(&config::database_path(file)?);
    let file = std::path::absolute(file).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let asked = tributary::control::status(&socket, &file, targets);
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

fn status(config: &Config, targets: &[String]) -> anyhow::Result<()> {
    let named = match targets.is_empty() {
        true => None,
        false => Some(named_sources(config, targets)?),
    };
    let mut store = Store::open_configured(config)?;
    let reads = store.status_reads(config, named.as_deref())?;
    say!("{}", report::status_report(reads, config, None).trim_end());
    Ok(())
}

/// `db copy`: everything `from`'s database holds into `to`'s, which must be empty.
fn db_copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    let load = |path: &Path| {
        config::load(path).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
    };
    let (from_config, to_config) = (load(from)?, load(to)?);
    let source = Store::open_configured(&from_config)?;
    let mut destination = Store::open_configured(&to_config)?;
    let copied = source.copy_into(&mut destination)?;
    for (table, rows) in copied {
        say!("{table}: {rows} rows");
    }
    say!(
        "copied {} into {}",
        database_name(&from_config),
        database_name(&to_config)
    );
    Ok(())
}

/// A config's database as it may be shown: the SQLite file, or the URL without its password.
fn database_name(config: &Config) -> String {
    match &config.postgres {
        Some(postgres) => postgres.shown_url(),
        None => config.database.display().to_string(),
    }
}

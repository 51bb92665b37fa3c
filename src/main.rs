//! The `tributary` command: parses arguments, sets up logging, loads the config and hands the
//! command to the library (`tributary::cli`).

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tributary::cli::{self, with_runtime};
use tributary::config::{self, LogFormat};

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
    /// Stop polling these sources (by name or URL) until `resume`, across restarts.
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
    /// Search the stored items: one line per item found (date, publisher, title, link, passage).
    Search(cli::SearchArgs),
    /// Print the configured sources as an OPML 2.0 subscription list.
    ExportOpml,
    /// Rules and rewrites: see what they do before they apply.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Read an OPML subscription list and print its feeds as `[[sources]]` tables, or add
    /// them to the config file (keeping its comments and layout) with --append.
    ImportOpml(cli::ImportArgs),
    /// List the recent stories more than one source reported: each version, with how similar.
    Stories(cli::StoriesArgs),
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

/// Exit code when the config is invalid; 1 is for anything else that stops a command.
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) if error.is::<config::ConfigError>() => {
            eprintln!("tributary: {error}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(error) => {
            eprintln!("tributary: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let format = cli.log_format;
    // Two configs of their own, not --config.
    if let Command::Db {
        command: DbCommand::Copy { from, to },
    } = &cli.command
    {
        cli::init_logging("warn", format.unwrap_or_default());
        return cli::db_copy(from, to).map(|()| true);
    }
    if let Command::Status { sources } = &cli.command
        && let Some(text) = cli::status_of_daemon(&cli.config, sources)
    {
        print!("{text}");
        return Ok(true);
    }
    let config = cli::load(&cli.config)?;
    let level = if matches!(cli.command, Command::Run) {
        "info"
    } else {
        "warn"
    };
    let level = config.log.level.as_deref().unwrap_or(level);
    cli::init_logging(level, format.unwrap_or(config.log.format));
    let done = |result: anyhow::Result<()>| result.map(|()| true);
    match cli.command {
        Command::Check => {
            cli::check(&config);
            Ok(true)
        }
        Command::Status { sources } => done(cli::status(&config, &sources)),
        Command::Db { .. } => Ok(true),
        Command::Once { due } => with_runtime(cli::once(config, due)),
        Command::Run => with_runtime(cli::run(config)),
        Command::Poll { sources } => with_runtime(cli::poll_now(config, sources)),
        Command::Pause { sources } => done(cli::pause(&config, &sources, true)),
        Command::Resume { sources } => cli::pause(&config, &sources, false)
            .and_then(|()| with_runtime(cli::tell_daemon_to_poll(config, sources))),
        Command::Explain { source } => with_runtime(cli::explain(config, source)),
        Command::ExportOpml => done(cli::export_opml(&config)),
        Command::Search(args) => done(cli::search(&config, &args)),
        Command::Rules {
            command: RulesCommand::Test { source, last },
        } => done(cli::rules_test(&config, source.as_deref(), last)),
        Command::ImportOpml(args) => done(cli::import_opml(&config, &args)),
        Command::Stories(args) => done(cli::stories(&config, &args)),
    }
}

//! The command line: every command, its arguments and their help, read by clap; the same
//! definitions make the shell completions and the man page (`docs.rs`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

/// A feed aggregator: polls publisher feeds, stores each item once, writes merged feeds.
#[derive(Debug, Parser)]
#[command(name = "tributary", version, about)]
pub struct Cli {
    /// The config file; relative paths inside it resolve against its folder.
    #[arg(long, short, global = true, default_value = "config/tributary.toml")]
    pub config: PathBuf,
    /// How log lines are written (default: `[log] format`, else text).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
        /// What to do with it.
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
    Search(super::SearchArgs),
    /// Print the configured sources as an OPML 2.0 subscription list.
    ExportOpml,
    /// Rules and rewrites: see what they do before they apply.
    Rules {
        /// What to do with them.
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Read an OPML subscription list and print its feeds as `[[sources]]` tables, or add
    /// them to the config file (keeping its comments and layout) with --append.
    ImportOpml(super::ImportArgs),
    /// List the recent stories more than one source reported: each version, with how similar.
    Stories(super::StoriesArgs),
    /// Print the shell completion script for bash, zsh or fish (Debian's package installs them).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, tributary(1), in roff: `tributary man | man -l -`.
    Man,
}

/// `tributary rules`' commands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
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

/// `tributary db`'s commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
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

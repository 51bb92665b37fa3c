//! The `tributary` command: parses arguments, sets up logging, loads the config and hands the
//! command to the library (`tributary::cli`).

#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use clap::Parser;
use tributary::cli::{self, Cli, Command, DbCommand, RulesCommand, with_runtime};
use tributary::config;

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
    // What the command line is, not what a config says.
    match cli.command {
        Command::Completions { shell } => return cli::completions(shell).map(|()| true),
        Command::Man => return cli::man_page().map(|()| true),
        _ => {}
    }
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
        Command::Db { .. } | Command::Completions { .. } | Command::Man => Ok(true),
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

//! The commands' bodies: what `tributary once`, `poll`, `status`, `check` and the others do,
//! from a loaded config to what they print. The binary parses the arguments and sets up
//! logging; everything after is here. This is the command edge: errors carry their context
//! with `anyhow`, as the binary reports them.

mod args;
mod docs;
mod files;
mod polls;
mod reports;

use std::sync::Arc;

use anyhow::Context as _;

use std::path::Path;

use crate::config::{self, Config, ConfigError, LogFormat, SourceConfig};

pub use args::{Cli, Command, DbCommand, RulesCommand};
pub use docs::{completions, man_page};
pub use files::{ImportArgs, db_copy, export_opml, import_opml};
pub use polls::{once, pause, poll_now, run, tell_daemon_to_poll};
pub use reports::{
    SearchArgs, StoriesArgs, check, explain, rules_test, search, status, status_of_daemon, stories,
};

/// Prints a line to stdout. A closed pipe (`tributary status | head`) is not an error worth
/// dying for: the work goes on, only its report is cut short.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub(crate) use say;

/// The config at `file`, loaded and validated, its site's templates tried.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let config = config::load(file)?;
    crate::render::templates::check(&config)?;
    Ok(config)
}

/// Runs `work` on a multi-threaded runtime of its own.
pub fn with_runtime(work: impl Future<Output = anyhow::Result<bool>>) -> anyhow::Result<bool> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(work)
}

/// The configured sources `targets` name, or an error naming those that name none.
fn named_sources(config: &Config, targets: &[String]) -> anyhow::Result<Vec<Arc<SourceConfig>>> {
    config.sources_named(targets).map_err(|unknown| {
        let unknown: Vec<String> = unknown.iter().map(|t| format!("{t:?}")).collect();
        anyhow::anyhow!(
            "no source in the config is named or has the URL {}",
            unknown.join(", ")
        )
    })
}

/// Logs to stderr: `RUST_LOG` if set, else `level`. Under journald (which stamps every line
/// itself) without timestamps.
pub fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match (format, journald) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}

//! Commands that poll: `once`, `poll`, `pause`/`resume`, `run`.

use std::io::IsTerminal;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::{named_sources, say};
use crate::config::{Config, SourceConfig};
use crate::refresh::Mode;
use crate::store::Store;
use crate::{control, daemon, report, service};

/// `once`: every source (or only the due ones) polled, a line each, then the total.
pub async fn once(config: Config, due: bool) -> anyhow::Result<bool> {
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
    let done = daemon::once(
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

/// `pause` (`paused`) or `resume`: stored in the database, which the daemon reads before each
/// poll.
pub fn pause(config: &Config, targets: &[String], paused: bool) -> anyhow::Result<()> {
    let sources = named_sources(config, targets)?;
    let mut store = Store::open_at(&config.database_location())?;
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
pub async fn tell_daemon_to_poll(config: Config, targets: Vec<String>) -> anyhow::Result<bool> {
    let socket = control::socket_path(&config.database);
    control::poll(&socket, &targets, |line| say!("{line}"))
        .await
        .with_context(|| format!("talking to the daemon at {}", socket.display()))?;
    Ok(true)
}

/// `poll`: the running daemon polls the sources; with none running, this command does.
pub async fn poll_now(config: Config, targets: Vec<String>) -> anyhow::Result<bool> {
    named_sources(&config, &targets)?;
    let socket = control::socket_path(&config.database);
    let asked = control::poll(&socket, &targets, |line| say!("{line}"))
        .await
        .with_context(|| format!("talking to the daemon at {}", socket.display()))?;
    if asked {
        return Ok(true);
    }
    // No daemon: poll them here, as `once` would, and write the outputs.
    let selected = |s: &SourceConfig| targets.iter().any(|t| s.is_named(t));

    let done = daemon::once(&config, Mode::Now, selected, |outcome| {
        say!("{}", report::outcome_line(outcome));
    })
    .await?;
    for problem in &done.problems {
        eprintln!("tributary: {problem}");
    }
    Ok(done.problems.is_empty())
}

/// `run`: the daemon, until it is stopped.
pub async fn run(config: Config) -> anyhow::Result<bool> {
    service::raise_open_file_limit();
    daemon::run(config).await?;
    Ok(true)
}

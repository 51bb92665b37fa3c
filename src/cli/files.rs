//! Commands on files: OPML out and in, and `db copy`.

use std::path::Path;

use anyhow::Context as _;

use super::say;
use crate::config::{self, Config};
use crate::store::Store;

/// `export-opml`: the configured sources as OPML on stdout.
pub fn export_opml(config: &Config) -> anyhow::Result<()> {
    let bytes = crate::render::opml::render("Tributary sources", &config.sources)?;
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(&bytes);
    Ok(())
}

/// `tributary import-opml`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The OPML file.
    pub file: std::path::PathBuf,
    /// Add the new sources to the config file instead of printing them.
    #[arg(long)]
    pub append: bool,
    /// Also take feeds on loopback, private or link-local addresses (an intranet's).
    #[arg(long)]
    pub allow_private: bool,
}

/// `import-opml`: an OPML file's new feeds printed as `[[sources]]`, or appended to the config.
pub fn import_opml(config: &Config, args: &ImportArgs) -> anyhow::Result<()> {
    let ImportArgs {
        file,
        append,
        allow_private,
    } = args;
    let (append, allow_private) = (*append, *allow_private);
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let configured: Vec<&str> = config.sources.iter().map(|s| s.url.as_str()).collect();
    let import = crate::opml::import(&text, &configured, allow_private)
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
        crate::render::write_if_changed(&config.file, updated.as_bytes())
            .with_context(|| format!("writing {}", config.file.display()))?;
        say!("added {} sources to {}", new.len(), config.file.display());
    } else {
        say!("{}", config::append_sources("", &new)?.trim_start());
    }
    Ok(())
}

/// `db copy`: everything `from`'s database holds into `to`'s, which must be empty.
pub fn db_copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    let load = |path: &Path| {
        super::load(path).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
    };
    let (from_config, to_config) = (load(from)?, load(to)?);
    let source = Store::open_at(&from_config.database_location())?;
    let mut destination = Store::open_at(&to_config.database_location())?;
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

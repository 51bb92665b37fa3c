//! Loading: the config file, `sources.d/` and the environment, layered, then validated.

use std::path::{Path, PathBuf};

use super::raw::{RawConfig, RawSource, RawSourcesFile};
use super::validate::*;
use super::*;

/// Prefix of the environment variables that override config keys.
const ENV_PREFIX: &str = "TRIBUTARY";

/// Loads and validates the config file at `file`, its `sources.d/` and the environment.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let file = absolute(file);
    let problem = |file: &Path, message: String| ConfigError {
        problems: vec![Problem {
            file: file.to_path_buf(),
            key: String::new(),
            message,
        }],
    };
    if !file.is_file() {
        return Err(problem(&file, "no such config file".into()));
    }
    let mut raw: RawConfig = config::Config::builder()
        .add_source(config::File::from(file.as_path()).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| {
            // The environment is a layer too: say so, or a stray variable looks like a typo in
            // the file.
            let from_env: Vec<String> = std::env::vars()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(&format!("{ENV_PREFIX}_")))
                .collect();
            let hint = if from_env.is_empty() {
                String::new()
            } else {
                format!(" (or in the environment: {})", from_env.join(", "))
            };
            problem(&file, format!("{e}{hint}"))
        })?;

    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut sources: Vec<(PathBuf, Vec<RawSource>)> =
        vec![(file.clone(), std::mem::take(&mut raw.sources))];
    let mut problems = Vec::new();
    for extra in sources_d_files(&base.join(SOURCES_DIR)) {
        match read_sources_file(&extra) {
            Ok(more) => sources.push((extra, more)),
            Err(message) => problems.push(Problem {
                file: extra,
                key: String::new(),
                message,
            }),
        }
    }

    validate(&file, &base, &raw, &sources, problems)
}

/// The `*.toml` files of `dir`, sorted so that the source order is stable; none if it is absent.
fn sources_d_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    files
}

fn read_sources_file(file: &Path) -> Result<Vec<RawSource>, String> {
    config::Config::builder()
        .add_source(config::File::from(file).format(config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<RawSourcesFile>())
        .map(|f| f.sources)
        .map_err(|e| e.to_string())
}

//! Loading: the config file, `sources.d/` and the environment, layered, then validated.

use std::path::{Path, PathBuf};

use super::raw::{RawConfig, RawSource};
use super::types::{CONFIG, KeyProblem, SOURCE};
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
    let text = std::fs::read_to_string(&file)
        .map_err(|error| problem(&file, format!("cannot read it: {error}")))?;
    let (rest, main_sources) = split_sources(&text).map_err(|message| problem(&file, message))?;
    let raw = settings(&file, rest)?;

    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    match raw_sources(main_sources) {
        Ok(raws) => sources.push((file.clone(), raws)),
        Err(found) => problems.extend(found.into_iter().map(|(key, message)| Problem {
            file: file.clone(),
            key,
            message,
        })),
    }
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

/// The settings of the config file at `file` (all but its sources, `rest`), with the
/// environment layered over them: every value of the wrong type refused, by its key.
fn settings(file: &Path, mut rest: toml::Table) -> Result<RawConfig, ConfigError> {
    let problem = |key: String, message: String| Problem {
        file: file.to_path_buf(),
        key,
        message,
    };
    let mut mistyped = environment_over(&mut rest);
    let rest = toml::Value::Table(rest);
    CONFIG.check(&rest, "", &mut mistyped);
    if !mistyped.is_empty() {
        let problems = mistyped.into_iter().map(|(k, m)| problem(k, m)).collect();
        return Err(ConfigError { problems });
    }
    deserialize(rest).map_err(|(key, message)| ConfigError {
        problems: vec![problem(key, message)],
    })
}

/// `value` read by serde, or the key and message of what it refused (with the types checked,
/// what is left: a value none of a key's words, such as `format = "atomm"`).
fn deserialize<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, KeyProblem> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let key = error.path().to_string();
        let key = if key == "." { String::new() } else { key };
        (key, error.into_inner().message().to_string())
    })
}

/// Writes the environment's overrides (`TRIBUTARY_POLL__CONCURRENCY=8` for `poll.concurrency`)
/// into `table`, each read as its key's type; those that name no key, or that are not of its
/// type, are returned instead.
fn environment_over(table: &mut toml::Table) -> Vec<KeyProblem> {
    let overrides = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("_")
        .separator("__");
    let overrides = match config::Source::collect(&overrides) {
        Ok(overrides) => overrides,
        Err(error) => return vec![(String::new(), format!("the environment: {error}"))],
    };
    let mut refused = Vec::new();
    for (key, value) in overrides {
        let variable = format!("{ENV_PREFIX}_{}", key.replace('.', "__").to_uppercase());
        let keys: Vec<&str> = key.split('.').collect();
        let read = match (CONFIG.at(&keys), value.into_string()) {
            (None, _) => Err("unknown key".to_string()),
            (Some(of), Ok(text)) => of.env_value(&text),
            (Some(_), Err(error)) => Err(error.to_string()),
        };
        match read {
            Ok(value) => set(table, &keys, value),
            Err(message) => {
                refused.push((key, format!("{message} (in the environment: {variable})")))
            }
        }
    }
    refused
}

/// Sets the value at `keys` in `table`, making the tables on the way; a value in the way that
/// is no table is left for the type check to name.
fn set(table: &mut toml::Table, keys: &[&str], value: toml::Value) {
    let Some((last, above)) = keys.split_last() else {
        return;
    };
    let mut table = table;
    for key in above {
        let next = table
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = next else {
            return;
        };
        table = next;
    }
    table.insert(last.to_string(), value);
}

/// Where the config at `file` keeps its database, read without its sources, so that it costs
/// next to nothing at 100,000 sources (where `load` takes a good part of a second): how a
/// command finds the running daemon's socket. A guess: its sources are skipped by lines (see
/// `without_sources`) and nothing else is checked, so `None` when that reading fails, and a
/// caller must not trust the answer further than the daemon found there confirms it.
pub fn database_path(file: &Path) -> Option<PathBuf> {
    let file = absolute(file);
    let text = std::fs::read_to_string(&file).ok()?;
    let (rest, _) = split_sources(&without_sources(&text)).ok()?;
    let raw = settings(&file, rest).ok()?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let written = raw.database.path.as_deref().unwrap_or(DEFAULT_DATABASE);
    Some(resolve(&base, written))
}

/// `text` without its `[[sources]]` tables and their sub-tables (`[sources.auth]`), cut by
/// their header lines. A line inside a multi-line string that looks like a header fools it;
/// `database_path` is a guess for that reason.
fn without_sources(text: &str) -> String {
    let mut kept = String::with_capacity(1024);
    let mut in_sources = false;
    for line in text.lines() {
        if let Some(header) = table_header(line) {
            in_sources = header == "sources" || header.starts_with("sources.");
        }
        if !in_sources {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The dotted name a table header line (`[a.b]` or `[[a]]`) opens, spaces around its parts
/// taken out.
fn table_header(line: &str) -> Option<String> {
    let inner = line.trim_start().strip_prefix('[')?;
    let (inner, close) = match inner.strip_prefix('[') {
        Some(inner) => (inner, "]]"),
        None => (inner, "]"),
    };
    let name = &inner[..inner.find(close)?];
    Some(name.split('.').map(str::trim).collect::<Vec<_>>().join("."))
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

/// The file's TOML without its `[[sources]]`, and those apart. The rest goes through the
/// `config` crate's layers (the environment can override it); the sources, which no layer
/// touches, are read straight from the parsed TOML: the `config` crate copies every value with
/// its origin, which was a third of loading 100,000 sources.
fn split_sources(text: &str) -> Result<(toml::Table, Vec<toml::Value>), String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let sources = match table.remove("sources") {
        None => Vec::new(),
        Some(toml::Value::Array(sources)) => sources,
        Some(other) => {
            let mut mistyped = Vec::new();
            if let Some(sources) = CONFIG.at(&["sources"]) {
                sources.check(&other, "sources", &mut mistyped);
            }
            let shown: Vec<String> = mistyped.iter().map(|(k, m)| format!("{k}: {m}")).collect();
            return Err(shown.join("; "));
        }
    };
    Ok((table, sources))
}

/// Each of `values` read as a source; every one that cannot be, with its key.
fn raw_sources(values: Vec<toml::Value>) -> Result<Vec<RawSource>, Vec<(String, String)>> {
    let mut sources = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        let key = format!("sources[{index}]");
        let mut mistyped = Vec::new();
        SOURCE.check(&value, &key, &mut mistyped);
        if !mistyped.is_empty() {
            problems.extend(mistyped);
            continue;
        }
        match deserialize::<RawSource>(value) {
            Ok(source) => sources.push(source),
            Err((inner, message)) if inner.is_empty() => problems.push((key, message)),
            Err((inner, message)) => problems.push((format!("{key}.{inner}"), message)),
        }
    }
    match problems.is_empty() {
        true => Ok(sources),
        false => Err(problems),
    }
}

/// A `sources.d/` file's sources: `[[sources]]` is all such a file may hold.
fn read_sources_file(file: &Path) -> Result<Vec<RawSource>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
    let (rest, values) = split_sources(&text)?;
    if let Some(key) = rest.keys().next() {
        return Err(format!(
            "unknown key `{key}`: a file in sources.d holds only [[sources]]"
        ));
    }
    raw_sources(values).map_err(|problems| {
        problems
            .into_iter()
            .map(|(key, message)| format!("{key}: {message}"))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

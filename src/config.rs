//! The configuration: serde structs, layered loading and validation.
//!
//! Layers, later ones winning: built-in defaults, the config file, every `*.toml` in the
//! `sources.d/` folder beside it (each adds `[[sources]]`), then `TRIBUTARY_*` environment
//! variables (`TRIBUTARY_POLL__CONCURRENCY=8`). Relative paths resolve against the config file's
//! folder, never the working directory. Validation collects every problem, each naming its file
//! and key, so a user fixes a broken config in one pass; nothing is written before it passes.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// The folder beside the config file whose `*.toml` files add more sources.
pub const SOURCES_DIR: &str = "sources.d";

/// Prefix of the environment variables that override config keys.
const ENV_PREFIX: &str = "TRIBUTARY";

/// The shortest poll interval accepted; shorter would only hammer publishers.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A validated configuration, with every path made absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it was loaded from.
    pub file: PathBuf,
    /// The SQLite database file.
    pub database: PathBuf,
    pub poll: PollSettings,
    pub outputs: Vec<OutputConfig>,
    pub sources: Vec<SourceConfig>,
    /// `[health] path`: an Atom feed of changes in the sources' states, if configured.
    pub health: Option<PathBuf>,
    /// `[retention]`, `[dedup]` and `[content]`: what is kept of items, and how.
    pub items: ItemRules,
    /// `[service]`: how the daemon runs.
    pub service: ServiceSettings,
    /// `[log]`: the log's level and format (the command line and `RUST_LOG` win).
    pub log: LogSettings,
    pub publishing: Publishing,
}

/// `[service]`: how the daemon runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSettings {
    /// How long polls in flight may go on after SIGTERM/SIGINT before they are cancelled.
    pub shutdown_timeout: Duration,
    /// Whether the daemon re-reads its config when the file or `sources.d/` changes.
    pub watch_config: bool,
}

/// `[log]`: the default level (an `EnvFilter` directive) and format.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    pub level: Option<String>,
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one line per event.
    #[default]
    Text,
    /// For log collectors: one JSON object per line.
    Json,
}

/// How items are kept: retention, deduplication across sources, content size.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRules {
    /// `[retention] max_age`: items older than this are pruned (and never ingested again);
    /// `None` keeps everything.
    pub max_age: Option<Duration>,
    /// `[retention] initial_items`: the most items a new source contributes on its first
    /// fetch; `None` for no limit.
    pub initial_items: Option<usize>,
    /// `[dedup] across_sources`: the same article via two sources appears once.
    pub across_sources: bool,
    /// `[content] max_size`: content longer than this (in bytes) is cut, with a note.
    pub max_content: usize,
}

impl Default for ItemRules {
    fn default() -> Self {
        ItemRules {
            max_age: Some(Duration::from_secs(90 * 86_400)),
            initial_items: Some(20),
            across_sources: true,
            max_content: 512 * 1024,
        }
    }
}

/// `[poll]`: defaults for every source and limits of the fetcher.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    pub interval: Duration,
    /// Fetches in flight at once, across all hosts.
    pub concurrency: usize,
    /// Fetches in flight at once to any one host.
    pub per_host_concurrency: usize,
    /// The longest a whole fetch may take, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The longest to wait for the response's headers once connected.
    pub first_byte_timeout: Duration,
    /// The largest body read, counted after decompression.
    pub max_body: u64,
    pub user_agent: String,
    /// The longest a server's or feed's hint may stretch a source's interval to.
    pub max_interval: Duration,
    /// The longest a failing source waits between tries.
    pub max_backoff: Duration,
    /// Whether a redirect from a public address may lead to a private one.
    pub allow_private_redirects: bool,
    /// How many polls in a row must see the same permanent redirect before it is adopted.
    pub adopt_redirect_after: u32,
}

/// One `[[outputs]]` table: a merged feed file.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    pub path: PathBuf,
    /// The path as written in the config; a stable seed for the feed's id across machines.
    pub path_as_written: String,
    pub title: String,
    pub max_items: usize,
    /// Whether items of sources no longer in the config stay in this output (they stay stored
    /// either way).
    pub keep_removed_sources: bool,
    pub format: OutputFormat,
    /// Only sources with one of these tags (none: every source).
    pub tags: Vec<String>,
    /// Only these sources, by name (none: every source).
    pub sources: Vec<String>,
    /// Only items published within this long.
    pub max_age: Option<Duration>,
    /// The most items any one source may hold in this output.
    pub per_source: Option<usize>,
    /// Only items whose title contains one of these words (case-insensitive).
    pub include: Vec<String>,
    /// No item whose title contains one of these words (case-insensitive).
    pub exclude: Vec<String>,
    /// An HTML page of the same items, if wanted.
    pub html: Option<PathBuf>,
}

impl OutputConfig {
    /// Whether this output picks its sources by tag or name.
    pub fn selects_sources(&self) -> bool {
        !self.tags.is_empty() || !self.sources.is_empty()
    }

    /// Whether `source` belongs in this output by its tags and name.
    pub fn takes(&self, source: &SourceConfig) -> bool {
        let by_tag = self.tags.is_empty() || source.tags.iter().any(|t| self.tags.contains(t));
        let by_name = self.sources.is_empty()
            || source
                .name
                .as_ref()
                .is_some_and(|n| self.sources.contains(n));
        by_tag && by_name
    }
}

/// The format of an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Atom 1.0 (RFC 4287).
    Atom,
    /// RSS 2.0.
    Rss,
    /// JSON Feed 1.1.
    Json,
}

impl OutputFormat {
    /// The format a file name implies: `.xml`/`.atom` Atom, `.rss` RSS, `.json` JSON Feed.
    pub fn from_extension(path: &Path) -> Option<OutputFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "xml" | "atom" => Some(OutputFormat::Atom),
            "rss" => Some(OutputFormat::Rss),
            "json" => Some(OutputFormat::Json),
            _ => None,
        }
    }

    /// The media type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Atom => "application/atom+xml; charset=utf-8",
            OutputFormat::Rss => "application/rss+xml; charset=utf-8",
            OutputFormat::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// `[site]`, `[opml]`, `[serve]` and `[websub]`: how the outputs are published.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Publishing {
    /// `[site] base_url`: the public address of the folder the outputs are served from.
    pub base_url: Option<Url>,
    /// `[opml] path`: an OPML 2.0 file of the configured sources.
    pub opml: Option<PathBuf>,
    /// `[serve] listen`: serve the outputs' folder over HTTP.
    pub listen: Option<std::net::SocketAddr>,
    /// `[serve] root`: the folder served, and what `base_url` points at.
    pub root: PathBuf,
    /// `[websub] hub`: the hub outputs announce and ping when they change.
    pub hub: Option<Url>,
    /// `[websub] timeout`: the longest a ping of the hub may take, all of it.
    pub hub_timeout: Duration,
}

impl Publishing {
    /// The public URL of a file written at `path`, when `[site] base_url` is set.
    pub fn public_url(&self, path: &Path) -> Option<Url> {
        let base = self.base_url.as_ref()?;
        let relative = path
            .strip_prefix(&self.root)
            .ok()
            .or(path.file_name().map(Path::new))?;
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        base.join(&relative.join("/")).ok()
    }
}

/// One `[[sources]]` table: a publisher's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The user's name for the source; the feed's own title is used when absent.
    pub name: Option<String>,
    /// The URL as written in the config: the source's identity in the database.
    pub url: String,
    pub location: SourceLocation,
    pub interval: Duration,
    pub tags: Vec<String>,
    /// The file that declared it (the config file or one in `sources.d/`).
    pub declared_in: PathBuf,
}

impl SourceConfig {
    /// The name to show before the feed's own title is known.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }

    /// Where the user would edit this source's URL: `file:line` of its `url = "…"`, so that
    /// messages about a moved feed can say which line to change.
    pub fn url_position(&self) -> String {
        let quoted = [format!("\"{}\"", self.url), format!("'{}'", self.url)];
        let line = std::fs::read_to_string(&self.declared_in)
            .ok()
            .and_then(|text| {
                text.lines()
                    .position(|l| l.contains("url") && quoted.iter().any(|q| l.contains(q)))
            });
        match line {
            Some(index) => format!("{}:{}", self.declared_in.display(), index + 1),
            None => self.declared_in.display().to_string(),
        }
    }
}

/// Where a source's feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    Http(Url),
    /// `file:relative/path.xml`, resolved against the config's folder; for demos and tests.
    File(PathBuf),
}

/// Why a config was refused: every problem found, each with its file and key.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

/// One thing wrong in one file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: PathBuf,
    /// The key, such as `poll.interval` or `sources[2] ("RUSI").url`; empty for the whole file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl ConfigError {
    /// Every problem on one line, for the log.
    pub fn one_line(&self) -> String {
        let lines: Vec<String> = self.problems.iter().map(Problem::to_string).collect();
        lines.join("; ")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(Problem::to_string).collect();
        write!(f, "invalid configuration:\n  {}", lines.join("\n  "))
    }
}

// The file as written: every key optional so that validation, not serde, explains what is missing.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    outputs: Vec<RawOutput>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    health: RawHealth,
    #[serde(default)]
    retention: RawRetention,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default)]
    content: RawContent,
    #[serde(default)]
    service: RawService,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    site: RawSite,
    #[serde(default)]
    opml: RawOpml,
    #[serde(default)]
    serve: RawServe,
    #[serde(default)]
    websub: RawWebSub,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    shutdown_timeout: Option<String>,
    watch_config: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    format: Option<LogFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    max_age: Option<String>,
    initial_items: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    across_sources: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContent {
    max_size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval: Option<String>,
    concurrency: Option<usize>,
    per_host_concurrency: Option<usize>,
    timeout: Option<String>,
    connect_timeout: Option<String>,
    first_byte_timeout: Option<String>,
    max_body: Option<String>,
    user_agent: Option<String>,
    max_interval: Option<String>,
    max_backoff: Option<String>,
    allow_private_redirects: Option<bool>,
    adopt_redirect_after: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    path: Option<String>,
    title: Option<String>,
    max_items: Option<usize>,
    keep_removed_sources: Option<bool>,
    format: Option<OutputFormat>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    max_age: Option<String>,
    per_source: Option<usize>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    html: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpml {
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    listen: Option<String>,
    root: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebSub {
    hub: Option<String>,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Option<String>,
    url: Option<String>,
    interval: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSourcesFile {
    #[serde(default)]
    sources: Vec<RawSource>,
}

const DEFAULT_DATABASE: &str = "state/tributary.db";
const DEFAULT_INTERVAL: &str = "30m";
const DEFAULT_CONCURRENCY: usize = 32;
const DEFAULT_TIMEOUT: &str = "30s";
const DEFAULT_CONNECT_TIMEOUT: &str = "10s";
const DEFAULT_FIRST_BYTE_TIMEOUT: &str = "20s";
const DEFAULT_MAX_BODY: &str = "16MiB";
const DEFAULT_PER_HOST: usize = 2;
const DEFAULT_MAX_INTERVAL: &str = "1day";
const DEFAULT_MAX_BACKOFF: &str = "24h";
const DEFAULT_ADOPT_REDIRECT_AFTER: u32 = 3;
const DEFAULT_HUB_TIMEOUT: &str = "10s";

/// The `User-Agent` publishers see in their logs, unless `[poll] user_agent` says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "Tributary/",
    env!("CARGO_PKG_VERSION"),
    " (feed aggregator; +",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);
const DEFAULT_OUTPUT_TITLE: &str = "Tributary";
const DEFAULT_MAX_ITEMS: usize = 200;

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

    let mut v = Validator {
        file: &file,
        base: &base,
        problems,
    };
    let poll = v.poll(&raw.poll);
    let database = v.path(
        "database.path",
        raw.database.path.as_deref(),
        DEFAULT_DATABASE,
    );
    let outputs: Vec<OutputConfig> = raw
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| v.output(i, o))
        .collect();
    let sources = v.sources(&sources, poll.interval);
    let health = raw.health.path.as_deref().map(|written| {
        let path = v.path("health.path", Some(written), "");
        if let Err(message) = check_writable_folder(&path) {
            v.report(&file, "health.path".into(), message);
        }
        path
    });
    let items = v.items(&raw.retention, &raw.dedup, &raw.content);
    let publishing = v.publishing(&raw, &outputs);
    for (index, output) in outputs.iter().enumerate() {
        for name in &output.sources {
            if !sources.iter().any(|s| s.name.as_ref() == Some(name)) {
                v.report(
                    &file,
                    format!("outputs[{index}].sources"),
                    format!("no source is named {name:?}"),
                );
            }
        }
    }
    let service = ServiceSettings {
        shutdown_timeout: v
            .duration(
                &file,
                "service.shutdown_timeout".into(),
                raw.service.shutdown_timeout.as_deref().unwrap_or("10s"),
            )
            .unwrap_or(MIN_INTERVAL),
        watch_config: raw.service.watch_config.unwrap_or(true),
    };
    if let Some(level) = &raw.log.level {
        if tracing_subscriber::EnvFilter::try_new(level).is_err() {
            v.report(
                &file,
                "log.level".into(),
                format!("bad level {level:?}; write it like \"info\" or \"warn,tributary=debug\""),
            );
        }
    }
    let log = LogSettings {
        level: raw.log.level.clone(),
        format: raw.log.format.unwrap_or_default(),
    };
    if v.problems.is_empty() {
        Ok(Config {
            file,
            database,
            poll,
            outputs,
            sources,
            health,
            items,
            service,
            log,
            publishing,
        })
    } else {
        Err(ConfigError {
            problems: v.problems,
        })
    }
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

/// Turns raw values into settings, recording a problem for each bad one.
struct Validator<'a> {
    file: &'a Path,
    base: &'a Path,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn report(&mut self, file: &Path, key: String, message: String) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            key,
            message,
        });
    }

    fn poll(&mut self, raw: &RawPoll) -> PollSettings {
        let mut duration = |key: &str, value: &Option<String>, default: &str| {
            let text = value.as_deref().unwrap_or(default);
            self.duration(self.file, format!("poll.{key}"), text)
                .unwrap_or(MIN_INTERVAL)
        };
        let interval = duration("interval", &raw.interval, DEFAULT_INTERVAL);
        let timeout = duration("timeout", &raw.timeout, DEFAULT_TIMEOUT);
        let connect_timeout = duration(
            "connect_timeout",
            &raw.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
        );
        let first_byte_timeout = duration(
            "first_byte_timeout",
            &raw.first_byte_timeout,
            DEFAULT_FIRST_BYTE_TIMEOUT,
        );
        let max_interval = duration("max_interval", &raw.max_interval, DEFAULT_MAX_INTERVAL);
        let max_backoff = duration("max_backoff", &raw.max_backoff, DEFAULT_MAX_BACKOFF);
        let concurrency =
            self.at_least_one("poll.concurrency", raw.concurrency, DEFAULT_CONCURRENCY);
        let per_host_concurrency = self.at_least_one(
            "poll.per_host_concurrency",
            raw.per_host_concurrency,
            DEFAULT_PER_HOST,
        );
        let max_body = self.size(
            "poll.max_body",
            raw.max_body.as_deref().unwrap_or(DEFAULT_MAX_BODY),
        );
        let user_agent = raw
            .user_agent
            .clone()
            .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string());
        if reqwest::header::HeaderValue::from_str(&user_agent).is_err() || user_agent.is_empty() {
            self.report(
                self.file,
                "poll.user_agent".into(),
                "must be non-empty printable ASCII".into(),
            );
        }
        PollSettings {
            interval,
            concurrency,
            per_host_concurrency,
            timeout,
            connect_timeout,
            first_byte_timeout,
            max_body,
            user_agent,
            max_interval,
            max_backoff,
            allow_private_redirects: raw.allow_private_redirects.unwrap_or(false),
            adopt_redirect_after: raw
                .adopt_redirect_after
                .unwrap_or(DEFAULT_ADOPT_REDIRECT_AFTER)
                .max(1),
        }
    }

    fn items(
        &mut self,
        retention: &RawRetention,
        dedup: &RawDedup,
        content: &RawContent,
    ) -> ItemRules {
        let defaults = ItemRules::default();
        let max_age = match retention.max_age.as_deref().map(str::trim) {
            None => defaults.max_age,
            Some("0") => None,
            Some(text) => self.duration(self.file, "retention.max_age".into(), text),
        };
        let initial_items = match retention.initial_items {
            None => defaults.initial_items,
            Some(0) => None,
            Some(n) => Some(n),
        };
        let max_content = match content.max_size.as_deref() {
            None => defaults.max_content,
            Some(text) => {
                usize::try_from(self.size("content.max_size", text)).unwrap_or(usize::MAX)
            }
        };
        ItemRules {
            max_age,
            initial_items,
            across_sources: dedup.across_sources.unwrap_or(defaults.across_sources),
            max_content,
        }
    }

    /// A size like "16MiB" or a number of bytes, at least 1 KiB.
    fn size(&mut self, key: &str, text: &str) -> u64 {
        match text.parse::<bytesize::ByteSize>() {
            Ok(size) if size.as_u64() >= 1024 => size.as_u64(),
            Ok(_) => {
                self.report(self.file, key.into(), "must be at least 1KiB".into());
                1024
            }
            Err(e) => {
                self.report(
                    self.file,
                    key.into(),
                    format!("bad size {text:?} ({e}); write it like \"16MiB\""),
                );
                1024
            }
        }
    }

    fn at_least_one(&mut self, key: &str, value: Option<usize>, default: usize) -> usize {
        let value = value.unwrap_or(default);
        if value == 0 {
            self.report(self.file, key.into(), "must be at least 1".into());
        }
        value.max(1)
    }

    fn duration(&mut self, file: &Path, key: String, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text) {
            Ok(d) if d >= MIN_INTERVAL => Some(d),
            Ok(_) => {
                self.report(
                    file,
                    key,
                    format!("duration {text:?} is shorter than the minimum of 1s"),
                );
                None
            }
            Err(e) => {
                self.report(
                    file,
                    key,
                    format!(
                        "bad duration {text:?} ({e}); write it like \"90s\", \"30m\" or \"1h\""
                    ),
                );
                None
            }
        }
    }

    fn path(&mut self, key: &str, written: Option<&str>, default: &str) -> PathBuf {
        let written = written.unwrap_or(default);
        if written.trim().is_empty() {
            self.report(self.file, key.into(), "must not be empty".into());
        }
        resolve(self.base, written)
    }

    fn output(&mut self, index: usize, raw: &RawOutput) -> Option<OutputConfig> {
        let key = format!("outputs[{index}]");
        let Some(written) = raw.path.as_deref() else {
            self.report(self.file, format!("{key}.path"), "missing path".into());
            return None;
        };
        let path = self.path(&format!("{key}.path"), Some(written), "");
        if let Err(message) = check_writable_folder(&path) {
            self.report(self.file, format!("{key}.path"), message);
        }
        let max_items = raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
        if max_items == 0 {
            self.report(
                self.file,
                format!("{key}.max_items"),
                "must be at least 1".into(),
            );
        }
        let format = raw.format.or_else(|| OutputFormat::from_extension(&path));
        if format.is_none() {
            self.report(
                self.file,
                format!("{key}.format"),
                "cannot tell the format from the file name; set format = \"atom\", \"rss\" or \"json\"".into(),
            );
        }
        let max_age = raw
            .max_age
            .as_deref()
            .and_then(|text| self.duration(self.file, format!("{key}.max_age"), text));
        if raw.per_source == Some(0) {
            self.report(
                self.file,
                format!("{key}.per_source"),
                "must be at least 1".into(),
            );
        }
        let html = raw.html.as_deref().map(|written| {
            let html = self.path(&format!("{key}.html"), Some(written), "");
            if let Err(message) = check_writable_folder(&html) {
                self.report(self.file, format!("{key}.html"), message);
            }
            html
        });
        let lower = |words: &[String]| words.iter().map(|w| w.to_lowercase()).collect();
        Some(OutputConfig {
            path,
            path_as_written: written.to_string(),
            title: raw
                .title
                .clone()
                .unwrap_or_else(|| DEFAULT_OUTPUT_TITLE.into()),
            max_items,
            keep_removed_sources: raw.keep_removed_sources.unwrap_or(true),
            format: format.unwrap_or(OutputFormat::Atom),
            tags: raw.tags.clone(),
            sources: raw.sources.clone(),
            max_age,
            per_source: raw.per_source,
            include: lower(&raw.include),
            exclude: lower(&raw.exclude),
            html,
        })
    }

    fn publishing(&mut self, raw: &RawConfig, outputs: &[OutputConfig]) -> Publishing {
        let url = |v: &mut Self, key: &str, text: Option<&str>| {
            let text = text?;
            match Url::parse(text) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(u),
                _ => {
                    v.report(v.file, key.into(), format!("bad URL {text:?}"));
                    None
                }
            }
        };
        let mut base_url = url(self, "site.base_url", raw.site.base_url.as_deref());
        // A base URL names a folder: without the trailing slash its last part would be lost.
        if let Some(base) = &mut base_url {
            if !base.path().ends_with('/') {
                let path = format!("{}/", base.path());
                base.set_path(&path);
            }
        }
        let hub = url(self, "websub.hub", raw.websub.hub.as_deref());
        if hub.is_some() && base_url.is_none() {
            self.report(
                self.file,
                "websub.hub".into(),
                "needs [site] base_url: subscribers and the hub must know the outputs' public addresses".into(),
            );
        }
        let listen = raw
            .serve
            .listen
            .as_deref()
            .and_then(|text| match text.parse() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    self.report(
                        self.file,
                        "serve.listen".into(),
                        format!("bad address {text:?}; write it like \"127.0.0.1:8080\""),
                    );
                    None
                }
            });
        let root = match raw.serve.root.as_deref() {
            Some(written) => self.path("serve.root", Some(written), ""),
            None => outputs
                .first()
                .and_then(|o| o.path.parent())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.base.to_path_buf()),
        };
        let hub_timeout = self
            .duration(
                self.file,
                "websub.timeout".into(),
                raw.websub.timeout.as_deref().unwrap_or(DEFAULT_HUB_TIMEOUT),
            )
            .unwrap_or(MIN_INTERVAL);
        let opml = raw.opml.path.as_deref().map(|written| {
            let opml = self.path("opml.path", Some(written), "");
            if let Err(message) = check_writable_folder(&opml) {
                self.report(self.file, "opml.path".into(), message);
            }
            opml
        });
        Publishing {
            base_url,
            opml,
            listen,
            root,
            hub,
            hub_timeout,
        }
    }

    fn sources(
        &mut self,
        files: &[(PathBuf, Vec<RawSource>)],
        default_interval: Duration,
    ) -> Vec<SourceConfig> {
        let mut seen_urls: HashMap<String, String> = HashMap::new();
        let mut seen_names: HashMap<String, String> = HashMap::new();
        let mut sources = Vec::new();
        for (file, raws) in files {
            for (index, raw) in raws.iter().enumerate() {
                let key = match &raw.name {
                    Some(name) => format!("sources[{index}] ({name:?})"),
                    None => format!("sources[{index}]"),
                };
                let here = format!("{}: {key}", file.display());
                if let Some(name) = &raw.name {
                    if name.trim().is_empty() {
                        self.report(file, format!("{key}.name"), "must not be empty".into());
                    } else if let Some(first) = seen_names.insert(name.clone(), here.clone()) {
                        self.report(
                            file,
                            format!("{key}.name"),
                            format!("the name {name:?} is already used by {first}"),
                        );
                    }
                }
                let interval = match &raw.interval {
                    Some(text) => self.duration(file, format!("{key}.interval"), text),
                    None => Some(default_interval),
                };
                let Some(url) = raw.url.as_deref() else {
                    self.report(file, format!("{key}.url"), "missing url".into());
                    continue;
                };
                let location = match self.location(url) {
                    Ok(location) => location,
                    Err(message) => {
                        self.report(file, format!("{key}.url"), message);
                        continue;
                    }
                };
                if let Some(first) = seen_urls.insert(url.to_string(), here) {
                    self.report(
                        file,
                        format!("{key}.url"),
                        format!("the same URL {url:?} is already configured at {first}"),
                    );
                    continue;
                }
                if let Some(interval) = interval {
                    sources.push(SourceConfig {
                        name: raw.name.clone(),
                        url: url.to_string(),
                        location,
                        interval,
                        tags: raw.tags.clone(),
                        declared_in: file.clone(),
                    });
                }
            }
        }
        sources
    }

    fn location(&self, url: &str) -> Result<SourceLocation, String> {
        SourceLocation::parse(url, self.base)
    }
}

impl SourceLocation {
    /// Where a source's `url` says to read it: an http(s) URL, or a `file:` path resolved
    /// against `base` (the config's folder). The error says what is wrong with it.
    pub fn parse(url: &str, base: &Path) -> Result<SourceLocation, String> {
        // `file:` is taken apart by hand: URL parsing would make a relative path absolute.
        if let Some(path) = url.strip_prefix("file:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("bad URL {url:?}: no path after file:"));
            }
            return Ok(SourceLocation::File(resolve(base, path)));
        }
        let parsed = Url::parse(url).map_err(|e| format!("bad URL {url:?}: {e}"))?;
        match parsed.scheme() {
            "http" | "https" if parsed.host().is_some() => Ok(SourceLocation::Http(parsed)),
            "http" | "https" => Err(format!("bad URL {url:?}: no host")),
            other => Err(format!(
                "bad URL {url:?}: scheme {other:?} is not supported (use http, https or file)"
            )),
        }
    }
}

/// Checks that an output file's folder exists and is writable, or can be created.
///
/// Probes with a temporary file that is removed at once, because permission bits alone miss
/// read-only mounts.
fn check_writable_folder(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a folder; give the path of a file".into());
    }
    let folder = path.parent().unwrap_or(Path::new("."));
    let existing = folder
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    if !existing.is_dir() {
        return Err(format!("{} is not a folder", existing.display()));
    }
    tempfile::tempfile_in(existing)
        .map(drop)
        .map_err(|e| format!("output folder {} is not writable ({e})", existing.display()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `base` joined with `relative`, with `.` and `..` folded away so that messages show the path a
/// person would write. Lexical only: symbolic links are left as they are.
fn resolve(base: &Path, relative: &str) -> PathBuf {
    let mut resolved = PathBuf::new();
    for part in base.join(relative).components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                resolved.pop();
            }
            other => resolved.push(other),
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_text(text: &str) -> (tempfile::TempDir, Result<Config, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "tributary.toml", text);
        let result = load(&file);
        (dir, result)
    }

    fn problems(text: &str) -> Vec<String> {
        let (_dir, result) = load_text(text);
        match result {
            Ok(_) => panic!("config was accepted:\n{text}"),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_apply_and_paths_resolve_against_the_config_folder() {
        let (dir, result) = load_text(
            r#"
            [[outputs]]
            path = "public/feed.xml"

            [[sources]]
            url = "https://example.org/feed.xml"
            "#,
        );
        let config = result.unwrap();
        assert_eq!(config.database, dir.path().join("state/tributary.db"));
        assert_eq!(config.poll.interval, Duration::from_secs(30 * 60));
        assert_eq!(config.poll.concurrency, 32);
        assert_eq!(config.poll.timeout, Duration::from_secs(30));
        assert_eq!(config.outputs[0].path, dir.path().join("public/feed.xml"));
        assert_eq!(config.outputs[0].title, "Tributary");
        assert_eq!(config.outputs[0].max_items, 200);
        assert_eq!(config.sources[0].interval, Duration::from_secs(30 * 60));
        assert_eq!(config.sources[0].label(), "https://example.org/feed.xml");
    }

    #[test]
    fn a_source_interval_overrides_the_poll_default() {
        let (_dir, result) = load_text(
            r#"
            [poll]
            interval = "2s"
            [[sources]]
            url = "https://a.example/feed"
            interval = "1h"
            [[sources]]
            url = "https://b.example/feed"
            "#,
        );
        let config = result.unwrap();
        assert_eq!(config.sources[0].interval, Duration::from_secs(3600));
        assert_eq!(config.sources[1].interval, Duration::from_secs(2));
    }

    #[test]
    fn file_urls_resolve_against_the_config_folder() {
        let (dir, result) = load_text("[[sources]]\nurl = \"file:feeds/a.xml\"\n");
        let config = result.unwrap();
        assert_eq!(
            config.sources[0].location,
            SourceLocation::File(dir.path().join("feeds/a.xml"))
        );
        assert_eq!(config.sources[0].url, "file:feeds/a.xml");
    }

    #[test]
    fn sources_d_files_add_sources_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "tributary.toml",
            "[[sources]]\nurl = \"https://main.example/feed\"\n",
        );
        write(
            dir.path(),
            "sources.d/b.toml",
            "[[sources]]\nname = \"B\"\nurl = \"https://b.example/feed\"\n",
        );
        write(
            dir.path(),
            "sources.d/a.toml",
            "[[sources]]\nname = \"A\"\nurl = \"https://a.example/feed\"\ntags = [\"x\"]\n",
        );
        write(dir.path(), "sources.d/notes.txt", "not toml");
        let config = load(&file).unwrap();
        let urls: Vec<&str> = config.sources.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://main.example/feed",
                "https://a.example/feed",
                "https://b.example/feed"
            ]
        );
        assert_eq!(config.sources[1].tags, ["x"]);
        assert!(config.sources[1].declared_in.ends_with("sources.d/a.toml"));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_file() {
        let found = problems("[poll]\nintervl = \"1m\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("tributary.toml"), "{found:?}");
        assert!(found[0].contains("intervl"), "{found:?}");
        assert!(found[0].contains("poll"), "{found:?}");
    }

    #[test]
    fn an_unknown_key_in_a_source_names_the_source() {
        let found = problems("[[sources]]\nurl = \"https://a.example/\"\nlabel = \"x\"\n");
        assert!(found[0].contains("sources[0]"), "{found:?}");
        assert!(found[0].contains("label"), "{found:?}");
    }

    #[test]
    fn a_missing_url_names_the_source() {
        let found = problems("[[sources]]\nname = \"RUSI\"\n");
        assert_eq!(
            found,
            [format!(
                "{}: sources[0] (\"RUSI\").url: missing url",
                found[0].split(": ").next().unwrap()
            )]
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in ["not a url", "ftp://example.org/feed", "http://", "file:"] {
            let found = problems(&format!("[[sources]]\nurl = \"{url}\"\n"));
            assert_eq!(found.len(), 1, "{url}: {found:?}");
            assert!(found[0].contains("sources[0].url: bad URL"), "{found:?}");
        }
    }

    #[test]
    fn bad_durations_are_refused_with_their_key() {
        let found = problems(
            "[poll]\ninterval = \"soon\"\ntimeout = \"500ms\"\n[[sources]]\nname = \"A\"\nurl = \"https://a.example/\"\ninterval = \"10 parsecs\"\n",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("poll.interval: bad duration \"soon\""));
        assert!(found[1].contains("poll.timeout: duration \"500ms\" is shorter"));
        assert!(found[2].contains("sources[0] (\"A\").interval: bad duration"));
    }

    #[test]
    fn the_same_url_twice_is_refused_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "tributary.toml",
            "[[sources]]\nurl = \"https://a.example/feed\"\n",
        );
        write(
            dir.path(),
            "sources.d/more.toml",
            "[[sources]]\nurl = \"https://a.example/feed\"\n",
        );
        let err = load(&file).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let message = err.problems[0].to_string();
        assert!(message.contains("more.toml: sources[0].url"), "{message}");
        assert!(message.contains("already configured at"), "{message}");
        assert!(message.contains("tributary.toml: sources[0]"), "{message}");
    }

    #[test]
    fn the_same_name_twice_is_refused() {
        let found = problems(
            "[[sources]]\nname = \"A\"\nurl = \"https://a.example/\"\n[[sources]]\nname = \"A\"\nurl = \"https://b.example/\"\n",
        );
        assert!(found[0].contains("sources[1] (\"A\").name"), "{found:?}");
    }

    #[test]
    fn an_unwritable_output_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where a folder should be cannot hold the output, even for root.
        write(dir.path(), "blocker", "");
        let file = write(
            dir.path(),
            "tributary.toml",
            "[[outputs]]\npath = \"blocker/feed.xml\"\n",
        );
        let err = load(&file).unwrap_err();
        let message = err.problems[0].to_string();
        assert!(message.contains("outputs[0].path"), "{message}");
        assert!(message.contains("not a folder"), "{message}");
    }

    #[test]
    fn a_toml_syntax_error_names_the_file_and_line() {
        let found = problems("[poll\n");
        assert!(found[0].contains("tributary.toml"), "{found:?}");
        assert!(found[0].contains("line 1"), "{found:?}");
    }

    #[test]
    fn item_rules_have_defaults_and_zero_means_no_limit() {
        let (_dir, result) = load_text("");
        assert_eq!(result.unwrap().items, ItemRules::default());
        let (_dir, result) = load_text(
            "[retention]\nmax_age = \"0\"\ninitial_items = 0\n[dedup]\nacross_sources = false\n[content]\nmax_size = \"64KiB\"\n",
        );
        let rules = result.unwrap().items;
        assert_eq!(rules.max_age, None);
        assert_eq!(rules.initial_items, None);
        assert!(!rules.across_sources);
        assert_eq!(rules.max_content, 64 * 1024);
        let (_dir, result) = load_text("[retention]\nmax_age = \"90d\"\n");
        assert_eq!(
            result.unwrap().items.max_age,
            Some(Duration::from_secs(90 * 86_400))
        );
    }

    #[test]
    fn a_missing_config_file_is_reported() {
        let err = load(Path::new("/nonexistent/tributary.toml")).unwrap_err();
        assert!(err.to_string().contains("no such config file"));
    }
}

//! The configuration: serde structs, layered loading and validation.
//!
//! Layers, later ones winning: built-in defaults, the config file, every `*.toml` in the
//! `sources.d/` folder beside it (each adds `[[sources]]`), then `TRIBUTARY_*` environment
//! variables (`TRIBUTARY_POLL__CONCURRENCY=8`). Relative paths resolve against the config file's
//! folder, never the working directory. Validation collects every problem, each naming its file
//! and key, so a user fixes a broken config in one pass; nothing is written before it passes.

mod edit;
mod load;
mod raw;
mod shaping;
mod stories;
mod types;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

pub use crate::identity::ItemRules;
pub use crate::parse::{HtmlFields, JsonFields, PageField, SourceKind};
pub use crate::rules::{Action, Field, Pattern, Replace, Rewrites, Rule, Selector, When};
pub use edit::{NewSource, append_sources};
pub use load::{database_path, load};
pub use shaping::FullText;
pub use stories::{ENABLED_BY_DEFAULT as STORIES_BY_DEFAULT, StoriesShown};
use validate::resolve;

/// The folder beside the config file whose `*.toml` files add more sources.
pub const SOURCES_DIR: &str = "sources.d";

/// A validated configuration, with every path made absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it was loaded from.
    pub file: PathBuf,
    /// The SQLite database file; with `postgres`, only the folder of the control socket.
    pub database: PathBuf,
    /// `[database] url`: the PostgreSQL database used instead of SQLite's.
    pub postgres: Option<PostgresConfig>,
    /// `[poll]`: how sources are polled, unless a source says otherwise.
    pub poll: PollSettings,
    /// `[[outputs]]`: the merged feeds written.
    pub outputs: Vec<OutputConfig>,
    /// `[[sources]]` of the config file and of `sources.d/`, in that order. Shared, not
    /// copied, by the polls and renders that use them (100,000 sources are 100 MB).
    pub sources: Vec<Arc<SourceConfig>>,
    /// `[health] path`: an Atom feed of changes in the sources' states, if configured.
    pub health: Option<PathBuf>,
    /// `[retention]`, `[dedup]` and `[content]`: what is kept of items, and how.
    pub items: ItemRules,
    /// `[service]`: how the daemon runs.
    pub service: ServiceSettings,
    /// `[log]`: the log's level and format (the command line and `RUST_LOG` win).
    pub log: LogSettings,
    /// `[site]`, `[opml]`, `[serve]`, `[websub]`: how the outputs are published.
    pub publishing: Publishing,
    /// `[[rules]]`: drop, keep and tag items of every source (or of those they name).
    pub rules: Vec<Rule>,
    /// `[metrics]`: Prometheus metrics.
    pub metrics: MetricsSettings,
    /// `[websub] subscribe`: subscriptions to the hubs publishers advertise, when on.
    pub subscribing: Option<Subscribing>,
    /// `[[webhooks]]`: where new items are POSTed as they land.
    pub webhooks: Vec<WebhookConfig>,
    /// How stories are grouped (`[stories]`); `None` when they are off.
    pub stories: Option<crate::stories::Settings>,
}

/// `[websub]` with `subscribe = true`: how Tributary subscribes to publishers' hubs.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribing {
    /// `callback_url` (else `[site] base_url` + `websub/`): the public address under which the
    /// built-in server answers `/websub/<id>`; ends with `/`.
    pub callback_url: Url,
    /// `lease`: the lease asked of hubs.
    pub lease: Duration,
}

impl Subscribing {
    /// The callback of the subscription `id`.
    pub fn callback(&self, id: &str) -> Option<Url> {
        self.callback_url.join(id).ok()
    }
}

/// One `[[webhooks]]` table: new items POSTed, signed, to `url`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Where deliveries are POSTed; also the webhook's identity in the database.
    pub url: Url,
    /// Signs every delivery (`X-Tributary-Signature: sha256=…`).
    pub secret: Secret,
    /// Only items of sources with one of these tags, or carrying one (none: every item).
    pub tags: Vec<String>,
    /// Only items of these sources, by name (none: every source).
    pub sources: Vec<String>,
    /// Only items whose title contains one of these words (case-insensitive).
    pub include: Vec<String>,
    /// No item whose title contains one of these words (case-insensitive).
    pub exclude: Vec<String>,
    /// Only new items this search finds (`query`).
    pub query: Option<crate::search::Query>,
}

impl WebhookConfig {
    /// Whether a new item of `source` titled `title`, carrying `item_tags`, is delivered.
    pub fn takes(
        &self,
        source: &dyn crate::model::Source,
        item: &crate::model::ArrivingItem<'_>,
    ) -> bool {
        let (title, item_tags) = (item.item.title.as_deref(), item.tags);
        let by_tag = self.tags.is_empty()
            || source.tags().iter().any(|t| self.tags.contains(t))
            || item_tags.iter().any(|t| self.tags.contains(t));
        let by_name = self.sources.is_empty()
            || source
                .name()
                .is_some_and(|n| self.sources.iter().any(|s| s == n));
        let title = title.unwrap_or_default().to_lowercase();
        let has = |word: &String| title.contains(&word.to_lowercase());
        let included = self.include.is_empty() || self.include.iter().any(has);
        let excluded = self.exclude.iter().any(has);
        let found = self.query.as_ref().is_none_or(|query| {
            let indexed =
                crate::search::Indexed::of_new(item, source.label().as_ref(), source.url());
            query.matches(&indexed, item.now)
        });
        by_tag && by_name && included && !excluded && found
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSettings {
    /// `listen`: where `GET /metrics` is served; off when absent.
    pub listen: Option<std::net::SocketAddr>,
    /// `per_source`: a series per source too (for small installations: it grows with them).
    pub per_source: bool,
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
    /// An `EnvFilter` directive (`info`, `warn,tributary=debug`).
    pub level: Option<String>,
    /// Text or JSON lines.
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

/// `[poll]`: defaults for every source and limits of the fetcher.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// The default interval between a source's polls.
    pub interval: Duration,
    /// Fetches in flight at once, across all hosts.
    pub concurrency: usize,
    /// Fetches in flight at once to any one host.
    pub per_host_concurrency: usize,
    /// The longest a whole fetch may take, body included.
    pub timeout: Duration,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// The longest to wait for the response's headers once connected.
    pub first_byte_timeout: Duration,
    /// The largest body read, counted after decompression.
    pub max_body: u64,
    /// The `User-Agent` header sent.
    pub user_agent: String,
    /// `contact`: how publishers reach whoever runs this instance (a `mailto:` or web
    /// address), named in the default `User-Agent`.
    pub contact: Option<String>,
    /// The longest a server's or feed's hint may stretch a source's interval to.
    pub max_interval: Duration,
    /// The longest a failing source waits between tries.
    pub max_backoff: Duration,
    /// Whether a redirect from a public address may lead to a private one.
    pub allow_private_redirects: bool,
    /// How many polls in a row must see the same permanent redirect before it is adopted.
    pub adopt_redirect_after: u32,
    /// The proxy every source is fetched through, unless it names its own.
    pub proxy: Option<Url>,
    /// `adaptive`: each source's interval follows how often it publishes.
    pub adaptive: bool,
    /// `min_interval`: the shortest interval adaptive polling chooses.
    pub min_interval: Duration,
    /// `[websub] poll_interval`: the interval of a source whose hub pushes its items, when
    /// `[websub] subscribe` is on.
    pub pushed_interval: Option<Duration>,
}

/// One `[[outputs]]` table: a merged feed file.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    /// Where the feed is written (absolute).
    pub path: PathBuf,
    /// The path as written in the config; a stable seed for the feed's id across machines.
    pub path_as_written: String,
    /// The feed's title.
    pub title: String,
    /// The most items the feed carries.
    pub max_items: usize,
    /// Whether items of sources no longer in the config stay in this output (they stay stored
    /// either way).
    pub keep_removed_sources: bool,
    /// Atom, RSS 2.0 or JSON Feed.
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
    /// Whether each item's content ends with who published it (its channel's website, the
    /// original article, the other sources that carried it), for readers that show no
    /// `atom:source`.
    pub provenance: bool,
    /// Only the items this saved search finds (`query`), kept as they arrive.
    pub query: Option<crate::search::Query>,
    /// One entry per story, or every version (when stories are on).
    pub stories: StoriesShown,
}

impl OutputConfig {
    /// Whether this output picks its sources by tag or name.
    pub fn selects_sources(&self) -> bool {
        !self.tags.is_empty() || !self.sources.is_empty()
    }

    /// Whether all of `source`'s items belong in this output by its tags and name (with
    /// `tags`, items of other sources may belong by their own tags).
    pub fn takes(&self, source: &SourceConfig) -> bool {
        self.takes_by_tag(source) && self.takes_by_name(source)
    }

    /// Whether `source` has one of this output's tags (or it names none).
    pub fn takes_by_tag(&self, source: &SourceConfig) -> bool {
        self.tags.is_empty() || source.tags.iter().any(|t| self.tags.contains(t))
    }

    /// Whether `source` is among the sources this output names (or it names none).
    pub fn takes_by_name(&self, source: &SourceConfig) -> bool {
        self.sources.is_empty()
            || source
                .name
                .as_ref()
                .is_some_and(|n| self.sources.contains(n))
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

    /// Its media type alone, as a page's `<link rel="alternate">` names it.
    pub fn media_type(self) -> &'static str {
        match self {
            OutputFormat::Atom => "application/atom+xml",
            OutputFormat::Rss => "application/rss+xml",
            OutputFormat::Json => "application/feed+json",
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
    /// `[serve] status`: serve `/status` and `/status.json`.
    pub status_page: bool,
    /// `[serve] header_timeout`, `idle_timeout`, `max_connections`: what one client may hold;
    /// `cache_size`: what the served files may hold of memory.
    pub limits: ServeLimits,
    /// `[websub] hub`: the hub outputs announce and ping when they change.
    pub hub: Option<Url>,
    /// `[websub] timeout`: the longest a ping of the hub may take, all of it.
    pub hub_timeout: Duration,
    /// `[site]` with `pages`: the aggregator's own site.
    pub site: Option<SiteConfig>,
}

/// What the built-in server lets a client hold, so that no number of slow or idle clients
/// can take it, or the daemon's open files, from everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// `header_timeout`: a request's head (and then its body, at a minimum pace) must arrive
    /// within this.
    pub header_timeout: Duration,
    /// `idle_timeout`: a connection with nothing under way is closed after this.
    pub idle_timeout: Duration,
    /// `max_connections`: the most connections open at once.
    pub max_connections: usize,
    /// `cache_size`: the most bytes of served files (with their compressed forms) kept in
    /// memory; the least recently asked for make room.
    pub cache_size: u64,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            cache_size: 64 * 1024 * 1024,
        }
    }
}

/// `[site]` with `pages`: the aggregator's own site, written under a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// `pages`: the folder it is written in.
    pub pages: PathBuf,
    /// The `.html` files of `templates`, read when the config loads: they take the place of
    /// the built-in templates of the same name (compiled by `render::templates`).
    pub templates: Vec<TemplateFile>,
    /// `items_per_page`: items on each page of the river.
    pub items_per_page: usize,
    /// `title`: its name, by default the first output's title.
    pub title: String,
}

/// A user's template: a `.html` file of `[site] templates`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFile {
    /// The file's name, which is the template's (`item.html`).
    pub name: String,
    /// Its text.
    pub text: String,
    /// Where it was read from, for errors.
    pub file: PathBuf,
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

    /// The public address of `folder` (the site's): `base_url` with the folder's path below
    /// the served root; `base_url` itself when it lies elsewhere.
    pub fn site_url(&self, folder: &Path) -> Option<Url> {
        let base = self.base_url.as_ref()?;
        let Ok(relative) = folder.strip_prefix(&self.root) else {
            return Some(base.clone());
        };
        let mut path: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        path.push(String::new());
        base.join(&path.join("/")).ok()
    }
}

/// One `[[sources]]` table: a publisher's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The user's name for the source; the feed's own title is used when absent.
    pub name: Option<String>,
    /// The URL as written in the config: the source's identity in the database.
    pub url: String,
    /// Where its feed is read from.
    pub location: SourceLocation,
    /// How long between polls, before hints and backoff.
    pub interval: Duration,
    /// Tags outputs select sources by.
    pub tags: Vec<String>,
    /// The file that declared it (the config file or one in `sources.d/`).
    pub declared_in: PathBuf,
    /// The line of that file the source's url stands on, read when the config was loaded.
    pub declared_line: Option<usize>,
    /// How it is fetched beyond `[poll]`: credentials, headers, proxy, TLS.
    pub fetch: FetchSettings,
    /// What its URL holds: a feed, or a JSON API's answer.
    pub kind: SourceKind,
    /// `[[sources.rules]]`: rules for its items alone, applied before the global ones.
    pub rules: Vec<Rule>,
    /// `remove`, `replace`, `strip_query`.
    pub rewrites: Rewrites,
    /// `full_text`: each new item's article fetched from its page.
    pub full_text: Option<FullText>,
    /// `hub`: a WebSub hub to subscribe at, when the feed does not advertise one.
    pub hub: Option<Url>,
}

/// A PostgreSQL database: `[database] url` and `password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user@host:port/database?options`, as libpq takes it.
    pub url: String,
    /// The password, unless the URL has one (`PGPASSWORD` is not read).
    pub password: Option<Secret>,
    /// `lease`: how long a source claimed for a poll, and the leader's role, stay held by an
    /// instance that stops answering; another instance takes them over after it.
    pub lease: Duration,
}

/// How long an instance's leases last unless renewed, by default.
pub const DEFAULT_DATABASE_LEASE: Duration = Duration::from_secs(120);

impl PostgresConfig {
    /// Where the database is, for the store.
    pub fn location(&self) -> crate::model::Database {
        crate::model::Database::Postgres {
            url: self.url.clone(),
            password: self.password.as_ref().map(|p| p.expose().to_string()),
            shown: self.shown_url(),
        }
    }

    /// The URL as it may be shown: any password in it replaced by `***`.
    pub fn shown_url(&self) -> String {
        match Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "the PostgreSQL database".to_string(),
        }
    }
}

/// A value that must never be shown: a password, a token, a header's value. Its `Debug` is
/// `***` and it has no `Display`, so that it cannot end up in a message or a log by mistake.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How one source is fetched, beyond `[poll]`'s settings; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchSettings {
    /// Request headers (names in lower case). Like the credentials, sent only to the source's
    /// own origin: never after a redirect to another scheme, host or port.
    pub headers: Vec<(String, Secret)>,
    /// HTTP authentication.
    pub auth: Option<Auth>,
    /// This source's `User-Agent`, instead of `[poll] user_agent`.
    pub user_agent: Option<String>,
    /// The proxy it is fetched through: its own, else `[poll] proxy`.
    pub proxy: Option<Url>,
    /// Send no validators: for a server whose `ETag` never changes although its feed does.
    pub ignore_cache: bool,
    /// Which certificates its server may present.
    pub tls: TlsSettings,
}

/// HTTP authentication for a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic …`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: Bearer …`.
    Bearer(Secret),
}

/// Which certificates a source's server may present beside the usual public ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsSettings {
    /// A PEM file of certificate authorities to trust as well (an internal CA, a self-signed
    /// server).
    pub ca: Option<PathBuf>,
    /// Accept any certificate at all: for a server on a trusted network only.
    pub accept_invalid_certs: bool,
}

/// A URL as it may be shown: a password in it replaced by `***`.
pub fn shown_url(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Only fails for URLs that cannot carry credentials, and this one carries some.
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

impl FetchSettings {
    /// Whether it needs an HTTP client of its own (a proxy or TLS settings of its own).
    pub fn needs_own_client(&self) -> bool {
        self.proxy.is_some() || self.tls != TlsSettings::default()
    }
}

impl SourceConfig {
    /// The name to show before the feed's own title is known: its name, else its URL as it
    /// may be shown (no credentials, see [`crate::sanitize::shown_url`]).
    pub fn label(&self) -> std::borrow::Cow<'_, str> {
        match &self.name {
            Some(name) => std::borrow::Cow::Borrowed(name),
            None => self.shown_url(),
        }
    }

    /// The address it is configured at, if it is fetched over HTTP: where its credentials may
    /// go, and what decides whether the addresses its publisher names may be private.
    pub fn home(&self) -> Option<&Url> {
        match &self.location {
            SourceLocation::Http(url) => Some(url),
            SourceLocation::File(_) | SourceLocation::Command(_) => None,
        }
    }

    /// Its URL as it may be shown or published: no user name, and `***` for the values of
    /// query parameters that carry credentials.
    pub fn shown_url(&self) -> std::borrow::Cow<'_, str> {
        crate::sanitize::shown_url(&self.url)
    }

    /// Whether `target`, as a command or request gives it, names this source: its name or its
    /// URL.
    pub fn is_named(&self, target: &str) -> bool {
        self.name.as_deref() == Some(target) || self.url == target
    }

    /// Where the user would edit this source's URL: `file:line` of its `url = "…"`, so that
    /// messages about a moved feed can say which line to change.
    pub fn url_position(&self) -> String {
        match self.declared_line {
            Some(line) => format!("{}:{line}", self.declared_in.display()),
            None => self.declared_in.display().to_string(),
        }
    }
}

/// Where a source's feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    /// An http(s) URL.
    Http(Url),
    /// `file:relative/path.xml`, resolved against the config's folder; for demos and tests.
    File(PathBuf),
    /// A program whose standard output is the feed (`kind = "command"`).
    Command(CommandSpec),
}

/// A program run for a source's feed: without a shell, in the config's folder, with no
/// standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program (a path with a `/` resolved against the config's folder) and its arguments.
    pub argv: Vec<String>,
    /// The folder it runs in: the config's.
    pub dir: PathBuf,
    /// The longest it may run before its process group is killed.
    pub timeout: Duration,
}

/// Why a config was refused: every problem found, each with its file and key.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// Every problem found, in the order found.
    pub problems: Vec<Problem>,
}

/// One thing wrong in one file.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// The key, such as `poll.interval` or `sources[2] ("RUSI").url`; empty for the whole file.
    pub key: String,
    /// What is wrong, in words.
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

/// The `User-Agent` publishers see in their logs, unless `[poll] user_agent` says otherwise:
/// the name and version alone. It names no address: the one to reach is whoever runs this
/// instance, which `[poll] contact` adds (see [`user_agent_with_contact`]).
pub const DEFAULT_USER_AGENT: &str = concat!("Tributary/", env!("CARGO_PKG_VERSION"));

/// The default `User-Agent` naming `contact`: `Tributary/0.1.0 (+mailto:ops@example.org)`.
pub fn user_agent_with_contact(contact: &str) -> String {
    format!("{DEFAULT_USER_AGENT} (+{contact})")
}

impl Config {
    /// The configured sources `targets` name (by name or URL), in the config's order; else the
    /// targets that name none.
    pub fn sources_named(&self, targets: &[String]) -> Result<Vec<Arc<SourceConfig>>, Vec<String>> {
        let unknown: Vec<String> = targets
            .iter()
            .filter(|t| !self.sources.iter().any(|s| s.is_named(t)))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(self
            .sources
            .iter()
            .filter(|s| targets.iter().any(|t| s.is_named(t)))
            .cloned()
            .collect())
    }

    /// The source `target` names: a configured one, by name or URL, else any feed URL given on
    /// the command line (a `file:` path is relative to `here`).
    pub fn source_for(&self, target: &str, here: &Path) -> Result<SourceConfig, String> {
        let configured = self.sources.iter().find(|s| s.is_named(target));
        match configured {
            Some(source) => Ok(SourceConfig::clone(source)),
            None => SourceConfig::ad_hoc(target, self, here).map_err(|message| {
                format!("{target:?} is neither a configured source nor a feed URL: {message}")
            }),
        }
    }
}

impl SourceConfig {
    /// A source for a URL given on the command line rather than in the config (`explain`);
    /// a `file:` path is relative to `here`.
    pub fn ad_hoc(url: &str, config: &Config, here: &Path) -> Result<SourceConfig, String> {
        Ok(SourceConfig {
            name: None,
            url: url.to_string(),
            location: SourceLocation::parse(url, here)?,
            interval: config.poll.interval,
            tags: Vec::new(),
            declared_in: config.file.clone(),
            declared_line: None,
            fetch: FetchSettings {
                proxy: config.poll.proxy.clone(),
                ..FetchSettings::default()
            },
            kind: SourceKind::Feed,
            rules: Vec::new(),
            rewrites: Rewrites::default(),
            full_text: None,
            hub: None,
        })
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

impl crate::model::Source for SourceConfig {
    fn url(&self) -> &str {
        &self.url
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        SourceConfig::label(self)
    }
    fn tags(&self) -> &[String] {
        &self.tags
    }
    fn wants_full_text(&self) -> bool {
        self.full_text.is_some()
    }
}

impl crate::model::Webhook for WebhookConfig {
    fn url(&self) -> &str {
        self.url.as_str()
    }
    fn takes(
        &self,
        source: &dyn crate::model::Source,
        item: &crate::model::ArrivingItem<'_>,
    ) -> bool {
        WebhookConfig::takes(self, source, item)
    }
}

impl Config {
    /// Where its database is: `[database] url` (PostgreSQL), else `[database] path`.
    pub fn database_location(&self) -> crate::model::Database {
        match &self.postgres {
            Some(postgres) => postgres.location(),
            None => crate::model::Database::Sqlite(self.database.clone()),
        }
    }
}

/// What Tributary publishes, as the config says.
impl Config {
    /// `text` read as a search of this config's items: `tag:` also finds the items of the
    /// sources tagged so here, and `sources` (names or URLs), when given, narrow it to theirs.
    pub fn search_query(
        &self,
        text: &str,
        sources: &[Arc<SourceConfig>],
    ) -> Result<crate::search::Query, crate::search::QueryError> {
        let tagged: Vec<(String, Vec<String>)> = self
            .sources
            .iter()
            .map(|s| (s.url.clone(), s.tags.clone()))
            .collect();
        let query = crate::search::Query::parse(text)?.with_source_tags(&tagged);
        Ok(match sources {
            [] => query,
            sources => query.within_sources(sources.iter().map(|s| s.url.clone()).collect()),
        })
    }

    /// The saved searches whose matches the store keeps: the outputs' `query`s.
    pub fn saved_searches(&self) -> Vec<crate::search::Query> {
        let mut queries: Vec<crate::search::Query> = self
            .outputs
            .iter()
            .filter_map(|o| o.query.clone())
            .collect();
        queries.sort_by_key(|q| q.key());
        queries.dedup_by_key(|q| q.key());
        queries
    }

    /// The files Tributary writes, each with the media type it is served with: the outputs, their
    /// HTML pages, the OPML file and the health feed.
    pub fn published_files(&self) -> Vec<(PathBuf, &'static str)> {
        const HTML: &str = "text/html; charset=utf-8";
        let mut files = Vec::new();
        for output in &self.outputs {
            files.push((output.path.clone(), output.format.content_type()));
            files.extend(output.html.iter().map(|page| (page.clone(), HTML)));
        }
        files.extend(
            self.publishing
                .opml
                .iter()
                .map(|opml| (opml.clone(), "text/x-opml; charset=utf-8")),
        );
        files.extend(
            self.health
                .iter()
                .map(|health| (health.clone(), OutputFormat::Atom.content_type())),
        );
        files
    }

    /// The files announced to `[websub] hub` when they change (the feeds and the health feed),
    /// which are served with its `Link` headers; none without a hub.
    pub fn websub_topics(&self) -> Vec<PathBuf> {
        if self.publishing.hub.is_none() {
            return Vec::new();
        }
        let outputs = self.outputs.iter().map(|output| output.path.clone());
        outputs.chain(self.health.iter().cloned()).collect()
    }

    /// The published folder `file` lies in, if any: the served root, or a folder outputs are
    /// written to (which the web server in front of Tributary may publish whole).
    pub fn published_folder_holding(&self, file: &Path) -> Option<PathBuf> {
        let served = self
            .publishing
            .listen
            .is_some()
            .then(|| self.publishing.root.clone());
        let written = self
            .published_files()
            .into_iter()
            .filter_map(|(path, _)| path.parent().map(Path::to_path_buf))
            .chain(self.publishing.site.iter().map(|s| s.pages.clone()));
        served
            .into_iter()
            .chain(written)
            .find(|folder| file.starts_with(folder))
    }
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

    #[test]
    fn the_database_is_found_as_load_finds_it_without_reading_the_sources() {
        let source = "[[sources]]\nurl = \"https://a.example/feed\"\n";
        for text in [
            source.to_string(),
            format!("[database]\npath = \"db/x.db\"\n\n{source}"),
            // After sources with tables of their own, and a header written with spaces.
            format!(
                "{source}[sources.auth]\nusername = \"u\"\npassword = \"p\"\n\n[[sources.rules]]\nwhen = {{ title = \"x\" }}\naction = \"drop\"\n\n[[ sources ]]\nurl = \"https://b.example/\"\n\n[ database ]\npath = \"../elsewhere/y.db\"\n"
            ),
        ] {
            let (dir, loaded) = load_text(&text);
            let loaded = loaded.unwrap_or_else(|e| panic!("{e}\n{text}"));
            let file = dir.path().join("tributary.toml");
            assert_eq!(database_path(&file), Some(loaded.database), "{text}");
        }
        let (dir, _) = load_text("[database\n");
        assert_eq!(database_path(&dir.path().join("tributary.toml")), None);
    }

    fn problems(text: &str) -> Vec<String> {
        let (_dir, result) = load_text(text);
        match result {
            Ok(_) => panic!("config was accepted:\n{text}"),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn stories_are_on_by_default_and_their_settings_are_checked() {
        const SOURCES: &str = "[[sources]]\nname = \"A\"\nurl = \"https://a.example/\"\n\
                               [[sources]]\nurl = \"https://b.example/\"\n";
        let (_dir, result) = load_text(SOURCES);
        let on = result.unwrap().stories.unwrap();
        assert_eq!(on, crate::stories::Settings::default());
        let (_dir, result) = load_text(&format!("{SOURCES}[stories]\nenabled = false\n"));
        assert!(result.unwrap().stories.is_none());
        let (_dir, result) = load_text(&format!(
            "{SOURCES}[stories]\nsimilarity = 0.8\nwithin = \"12h\"\n\
             [[stories.never]]\nsources = [\"A\", \"https://b.example/\"]\n"
        ));
        let set = result.unwrap().stories.unwrap();
        assert_eq!((set.similarity, set.within_secs), (0.8, 12 * 3600));
        assert_eq!(
            set.never,
            [crate::stories::Never::Sources(
                "https://a.example/".into(),
                "https://b.example/".into()
            )]
        );
        let found = problems(&format!(
            "{SOURCES}[stories]\nsimilarity = 1.5\nwithin = \"soon\"\n\
             [[stories.never]]\nlinks = [\"https://x.example/1\"]\n\
             [[stories.never]]\nsources = [\"A\", \"Nobody\"]\n\
             [[stories.never]]\n\n[[rules]]\nwhen = {{ reported_by_at_least = 0 }}\naction = \"drop\"\n"
        ));
        let found = found.join("\n");
        for expected in [
            "stories.similarity: must be above 0 and at most 1, not 1.5",
            "stories.within: bad duration \"soon\"",
            "stories.never[0].links: names two, not 1",
            "stories.never[1].sources: no source is named \"Nobody\"",
            "stories.never[2]: names either two `links` or two `sources`",
            "when.reported_by_at_least: must be at least 1",
        ] {
            assert!(found.contains(expected), "{expected} in\n{found}");
        }
    }

    #[test]
    fn a_postgres_url_replaces_the_sqlite_file_and_its_password_is_a_secret() {
        const SOURCE: &str = "[[sources]]\nurl = \"https://a.example/\"\n";
        let (_dir, result) = load_text(&format!(
            "[database]\nurl = \"postgres://tributary@db.example:5433/feeds\"\n\
             password = \"s3cret\"\n{SOURCE}"
        ));
        let postgres = result.unwrap().postgres.unwrap();
        assert_eq!(postgres.url, "postgres://tributary@db.example:5433/feeds");
        assert_eq!(postgres.password.unwrap().expose(), "s3cret");
        assert_eq!(postgres.lease, DEFAULT_DATABASE_LEASE);
        let shown = PostgresConfig {
            url: "postgres://tributary:hunter2@db.example/feeds".into(),
            password: None,
            lease: DEFAULT_DATABASE_LEASE,
        }
        .shown_url();
        assert!(!shown.contains("hunter2"), "{shown}");

        for (database, problem) in [
            (
                "path = \"a.db\"\nurl = \"postgres://db.example/feeds\"",
                "database.url: give either database.path (SQLite) or database.url",
            ),
            (
                "url = \"mysql://db.example/feeds\"",
                "database.url: must be a PostgreSQL URL",
            ),
            (
                "password = \"s3cret\"",
                "database.password: is only used with database.url",
            ),
            (
                "lease = \"1m\"",
                "database.lease: is only used with database.url",
            ),
            (
                "url = \"postgres://db.example/feeds\"\nlease = \"1s\"",
                "database.lease: must be at least 2s",
            ),
        ] {
            let found = problems(&format!("[database]\n{database}\n{SOURCE}"));
            assert!(
                found.iter().any(|p| p.contains(problem)),
                "{database}: {found:?}"
            );
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
    fn every_source_with_an_unknown_key_is_named() {
        let found = problems(
            "[[sources]]\nurl = \"https://a.example/\"\nlabel = \"x\"\n\
             [[sources]]\nurl = \"https://b.example/\"\n\
             [[sources]]\nurl = \"https://c.example/\"\nintervall = \"1h\"\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("sources[0]") && found[0].contains("label"));
        assert!(found[1].contains("sources[2]") && found[1].contains("intervall"));
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
    fn real_time_settings_are_refused_without_what_they_need() {
        let found = problems("[websub]\nsubscribe = true\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("websub.subscribe: needs [serve] listen"));
        assert!(
            found[1].contains("websub.subscribe: needs [websub] callback_url or [site] base_url")
        );
        let found = problems("[websub]\nlease = \"1d\"\n");
        assert!(found[0].contains("websub.lease: applies with [websub] subscribe = true"));
        let found = problems(
            "[[webhooks]]\nurl = \"ftp://x/\"\n[[webhooks]]\nurl = \"https://h.example/\"\nsources = [\"Nobody\"]\n",
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("webhooks[0].url") && p.contains("not an http(s) URL")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("webhooks[1].secret: missing secret")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("webhooks[1].sources: no source is named \"Nobody\"")),
            "{found:?}"
        );
        let found = problems("[poll]\nmin_interval = \"2d\"\n");
        assert!(found[0].contains("poll.min_interval: is longer than poll.max_interval"));
        let found = problems("[[sources]]\nurl = \"https://a.example/\"\nhub = \"nope\"\n");
        assert!(found[0].contains("sources[0].hub: bad URL"), "{found:?}");
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

//! Validation: raw values into settings, with a problem recorded for each bad one, naming its
//! file and key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::raw::*;
use super::*;

/// The shortest poll interval accepted; shorter would only hammer publishers.
pub(super) const MIN_INTERVAL: Duration = Duration::from_secs(1);

pub(super) const DEFAULT_DATABASE: &str = "state/tributary.db";
pub(super) const DEFAULT_INTERVAL: &str = "30m";
pub(super) const DEFAULT_CONCURRENCY: usize = 32;
pub(super) const DEFAULT_TIMEOUT: &str = "30s";
pub(super) const DEFAULT_CONNECT_TIMEOUT: &str = "10s";
pub(super) const DEFAULT_FIRST_BYTE_TIMEOUT: &str = "20s";
pub(super) const DEFAULT_MAX_BODY: &str = "16MiB";
pub(super) const DEFAULT_PER_HOST: usize = 2;
pub(super) const DEFAULT_MAX_INTERVAL: &str = "1day";
pub(super) const DEFAULT_MAX_BACKOFF: &str = "24h";
pub(super) const DEFAULT_ADOPT_REDIRECT_AFTER: u32 = 3;
pub(super) const DEFAULT_HUB_TIMEOUT: &str = "10s";
pub(super) const DEFAULT_LEASE: &str = "10d";
pub(super) const DEFAULT_PUSHED_INTERVAL: &str = "6h";
pub(super) const DEFAULT_MIN_INTERVAL: &str = "5m";

pub(super) const DEFAULT_OUTPUT_TITLE: &str = "Tributary";
/// Whether `contact` is an address publishers can use: `mailto:` with an `@`, or an http(s)
/// URL, in printable ASCII (it goes into a header).
fn check_contact(contact: &str) -> Result<(), String> {
    let printable = !contact.is_empty() && contact.bytes().all(|b| b.is_ascii_graphic());
    let usable = match contact.strip_prefix("mailto:") {
        Some(address) => address.contains('@') && !address.starts_with('@'),
        None => Url::parse(contact).is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
    };
    if printable && usable {
        Ok(())
    } else {
        Err(format!(
            "{contact:?} is neither a mailto: address nor an http(s) URL (write it like \"mailto:ops@example.org\")"
        ))
    }
}

/// `[site] items_per_page` when not given.
pub(super) const DEFAULT_ITEMS_PER_PAGE: usize = 50;
pub(super) const DEFAULT_MAX_ITEMS: usize = 200;

/// Validates `raw` (read from `file`, in folder `base`) and the sources of every file into a
/// `Config`, or every problem found, `problems` (from reading) included.
pub(super) fn validate(
    file: &Path,
    base: &Path,
    raw: &RawConfig,
    sources: &[(PathBuf, Vec<RawSource>)],
    problems: Vec<Problem>,
) -> Result<Config, ConfigError> {
    let mut v = Validator {
        file,
        base,
        problems,
    };
    let mut poll = v.poll(&raw.poll);
    let database = v.path(
        "database.path",
        raw.database.path.as_deref(),
        DEFAULT_DATABASE,
    );
    let postgres = v.postgres(&raw.database);
    let outputs: Vec<OutputConfig> = raw
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| v.output(i, o))
        .collect();
    let sources = v.sources(sources, &poll);
    let health = v.written_file("health.path", raw.health.path.as_deref());
    let items = v.items(&raw.retention, &raw.dedup, &raw.content);
    let rules = v.rules(file, "rules", &raw.rules);
    for rule in &rules {
        v.sources_named(&format!("{}.sources", rule.label), &rule.sources, &sources);
    }
    let publishing = v.publishing(raw, &outputs);
    for (index, output) in outputs.iter().enumerate() {
        let key = format!("outputs[{index}].sources");
        v.sources_named(&key, &output.sources, &sources);
    }
    let subscribing = v.subscribing(&raw.websub, &publishing);
    if subscribing.is_some() {
        poll.pushed_interval = v.pushed_interval(&raw.websub);
    }
    let mut webhooks = v.webhooks(&raw.webhooks, &sources);
    let mut outputs = outputs;
    widen_queries(&sources, &mut outputs, &mut webhooks);
    let service = v.service(&raw.service);
    let log = v.log(&raw.log);
    let metrics = v.metrics(&raw.metrics);
    let stories = v.stories(&raw.stories, &sources);
    if v.problems.is_empty() {
        Ok(Config {
            file: file.to_path_buf(),
            database,
            postgres,
            poll,
            outputs,
            sources,
            health,
            items,
            service,
            log,
            publishing,
            rules,
            metrics,
            subscribing,
            webhooks,
            stories,
        })
    } else {
        Err(ConfigError {
            problems: v.problems,
        })
    }
}

/// `tag:` in a saved search (an output's or a webhook's) also finds the items of the sources
/// tagged so here.
fn widen_queries(
    sources: &[Arc<SourceConfig>],
    outputs: &mut [OutputConfig],
    webhooks: &mut [WebhookConfig],
) {
    let tagged: Vec<(String, Vec<String>)> = sources
        .iter()
        .map(|s| (s.url.clone(), s.tags.clone()))
        .collect();
    let widen = |query: &mut Option<crate::search::Query>| {
        *query = query.take().map(|q| q.with_source_tags(&tagged));
    };
    outputs.iter_mut().for_each(|o| widen(&mut o.query));
    webhooks.iter_mut().for_each(|w| widen(&mut w.query));
}

/// The source names and URLs met so far, with where each was: each may be used once.
#[derive(Default)]
struct Seen {
    urls: HashMap<String, String>,
    names: HashMap<String, String>,
}

/// Turns raw values into settings, recording a problem for each bad one.
pub(super) struct Validator<'a> {
    pub(super) file: &'a Path,
    base: &'a Path,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    /// A file Tributary writes (`[health] path`, `[opml] path`), in a folder it can write.
    fn written_file(&mut self, key: &str, written: Option<&str>) -> Option<PathBuf> {
        let path = self.path(key, Some(written?), "");
        if let Err(message) = check_writable_folder(&path) {
            self.report(self.file, key.into(), message);
        }
        Some(path)
    }

    /// An address to listen on (`[serve] listen`, `[metrics] listen`), written like `example`.
    fn address(&mut self, key: &str, written: Option<&str>, example: &str) -> Option<SocketAddr> {
        let text = written?;
        match text.parse() {
            Ok(address) => Some(address),
            Err(_) => {
                let message = format!("bad address {text:?}; write it like \"{example}\"");
                self.report(self.file, key.into(), message);
                None
            }
        }
    }

    /// Each of `names` (at `key`) names one of `sources`.
    fn sources_named(&mut self, key: &str, names: &[String], sources: &[Arc<SourceConfig>]) {
        for name in names {
            if !sources.iter().any(|s| s.name.as_ref() == Some(name)) {
                let message = format!("no source is named {name:?}");
                self.report(self.file, key.to_string(), message);
            }
        }
    }

    /// `[websub] poll_interval`: how often a source whose hub pushes is polled all the same.
    fn pushed_interval(&mut self, raw: &RawWebSub) -> Option<Duration> {
        let text = raw
            .poll_interval
            .as_deref()
            .unwrap_or(DEFAULT_PUSHED_INTERVAL);
        self.duration(self.file, "websub.poll_interval".into(), text)
    }

    /// `[metrics]`.
    fn metrics(&mut self, raw: &RawMetrics) -> MetricsSettings {
        let listen = self.address("metrics.listen", raw.listen.as_deref(), "127.0.0.1:9464");
        MetricsSettings {
            listen,
            per_source: raw.per_source.unwrap_or(false),
        }
    }
}

impl Validator<'_> {
    pub(super) fn report(&mut self, file: &Path, key: String, message: String) {
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
        let min_interval = duration("min_interval", &raw.min_interval, DEFAULT_MIN_INTERVAL);
        if min_interval > max_interval {
            self.report(
                self.file,
                "poll.min_interval".into(),
                "is longer than poll.max_interval".into(),
            );
        }
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
        let contact = raw.contact.clone();
        let user_agent = self.user_agent(raw);
        PollSettings {
            interval,
            concurrency,
            per_host_concurrency,
            timeout,
            connect_timeout,
            first_byte_timeout,
            max_body,
            user_agent,
            contact,
            max_interval,
            max_backoff,
            allow_private_redirects: raw.allow_private_redirects.unwrap_or(false),
            adopt_redirect_after: raw
                .adopt_redirect_after
                .unwrap_or(DEFAULT_ADOPT_REDIRECT_AFTER)
                .max(1),
            proxy: raw
                .proxy
                .as_deref()
                .and_then(|p| self.proxy(self.file, "poll.proxy".into(), p)),
            adaptive: raw.adaptive.unwrap_or(false),
            min_interval,
            // Set with `[websub]`, once it is read.
            pushed_interval: None,
        }
    }

    /// `[poll] user_agent`, else the default one with `contact` in it.
    fn user_agent(&mut self, raw: &RawPoll) -> String {
        if let Some(contact) = &raw.contact {
            if let Err(message) = check_contact(contact) {
                self.report(self.file, "poll.contact".into(), message);
            }
        }
        let user_agent = match (&raw.user_agent, &raw.contact) {
            (Some(agent), _) => agent.clone(),
            (None, Some(contact)) => user_agent_with_contact(contact),
            (None, None) => DEFAULT_USER_AGENT.to_string(),
        };
        if reqwest::header::HeaderValue::from_str(&user_agent).is_err() || user_agent.is_empty() {
            self.report(
                self.file,
                "poll.user_agent".into(),
                "must be non-empty printable ASCII".into(),
            );
        }
        user_agent
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
            strip_query: self.strip_query(self.file, "dedup.strip_query", &dedup.strip_query),
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

    pub(super) fn duration(&mut self, file: &Path, key: String, text: &str) -> Option<Duration> {
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
        let query = self.query(format!("{key}.query"), raw.query.as_deref());
        Some(OutputConfig {
            query,
            path,
            path_as_written: written.to_string(),
            title: raw
                .title
                .clone()
                .unwrap_or_else(|| DEFAULT_OUTPUT_TITLE.into()),
            max_items,
            keep_removed_sources: raw.keep_removed_sources.unwrap_or(true),
            provenance: raw.provenance.unwrap_or(false),
            stories: raw.stories.unwrap_or_default(),
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
        let listen = self.address(
            "serve.listen",
            raw.serve.listen.as_deref(),
            "127.0.0.1:8080",
        );
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
        let opml = self.written_file("opml.path", raw.opml.path.as_deref());
        let site = self.site(raw, outputs);
        let status_page = raw.serve.status.unwrap_or(false);
        if status_page && listen.is_none() {
            self.report(
                self.file,
                "serve.status".into(),
                "needs [serve] listen: the status page is served by the built-in server".into(),
            );
        }
        let limits = self.serve_limits(&raw.serve);
        Publishing {
            status_page,
            limits,
            base_url,
            opml,
            listen,
            root,
            hub,
            hub_timeout,
            site,
        }
    }

    /// `[serve] header_timeout`, `idle_timeout`, `max_connections` and `cache_size`, defaults
    /// where absent.
    fn serve_limits(&mut self, raw: &RawServe) -> ServeLimits {
        let default = ServeLimits::default();
        let mut timeout = |key: &str, written: Option<&str>, default: Duration| {
            written
                .and_then(|text| self.duration(self.file, format!("serve.{key}"), text))
                .unwrap_or(default)
        };
        let header_timeout = timeout(
            "header_timeout",
            raw.header_timeout.as_deref(),
            default.header_timeout,
        );
        let idle_timeout = timeout(
            "idle_timeout",
            raw.idle_timeout.as_deref(),
            default.idle_timeout,
        );
        let max_connections = match raw.max_connections {
            Some(0) => {
                let message = "must be at least 1".to_string();
                self.report(self.file, "serve.max_connections".into(), message);
                default.max_connections
            }
            Some(n) => n,
            None => default.max_connections,
        };
        let cache_size = match raw.cache_size.as_deref() {
            Some(text) => self.size("serve.cache_size", text),
            None => default.cache_size,
        };
        ServeLimits {
            header_timeout,
            idle_timeout,
            max_connections,
            cache_size,
        }
    }

    /// An http(s) URL with a host, or a problem reported under `key`.
    fn web_url(&mut self, file: &Path, key: String, text: &str) -> Option<Url> {
        match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(url)
            }
            Ok(_) => {
                self.report(file, key, format!("{text:?} is not an http(s) URL"));
                None
            }
            Err(error) => {
                self.report(file, key, format!("bad URL {text:?}: {error}"));
                None
            }
        }
    }

    /// `[websub]`'s subscriber side, when `subscribe` is on: hubs deliver to the built-in
    /// server, so it needs `[serve] listen` and a public address for the callbacks.
    fn subscribing(&mut self, raw: &RawWebSub, publishing: &Publishing) -> Option<Subscribing> {
        let lease = self.duration(
            self.file,
            "websub.lease".into(),
            raw.lease.as_deref().unwrap_or(DEFAULT_LEASE),
        );
        if !raw.subscribe.unwrap_or(false) {
            for (key, given) in [
                ("websub.callback_url", raw.callback_url.is_some()),
                ("websub.poll_interval", raw.poll_interval.is_some()),
                ("websub.lease", raw.lease.is_some()),
            ] {
                if given {
                    let message = "applies with [websub] subscribe = true".into();
                    self.report(self.file, key.into(), message);
                }
            }
            return None;
        }
        if publishing.listen.is_none() {
            self.report(
                self.file,
                "websub.subscribe".into(),
                "needs [serve] listen: hubs deliver to the built-in server's /websub/".into(),
            );
        }
        let callback_url = match raw.callback_url.as_deref() {
            Some(text) => self.web_url(self.file, "websub.callback_url".into(), text),
            None => match publishing.base_url.as_ref().map(|b| b.join("websub/")) {
                Some(Ok(url)) => Some(url),
                _ => {
                    self.report(
                        self.file,
                        "websub.subscribe".into(),
                        "needs [websub] callback_url or [site] base_url: hubs must know where to deliver".into(),
                    );
                    None
                }
            },
        };
        let mut callback_url = callback_url?;
        if !callback_url.path().ends_with('/') {
            let path = format!("{}/", callback_url.path());
            callback_url.set_path(&path);
        }
        Some(Subscribing {
            callback_url,
            lease: lease?,
        })
    }

    /// A saved search (`query`), read as `tributary search` reads one.
    fn query(&mut self, key: String, text: Option<&str>) -> Option<crate::search::Query> {
        match crate::search::Query::parse(text?) {
            Ok(query) => Some(query),
            Err(error) => {
                self.report(self.file, key, error.to_string());
                None
            }
        }
    }

    /// `[[webhooks]]`: each with an http(s) URL of its own and a secret.
    fn webhooks(
        &mut self,
        raw: &[RawWebhook],
        sources: &[Arc<SourceConfig>],
    ) -> Vec<WebhookConfig> {
        let mut webhooks: Vec<WebhookConfig> = Vec::new();
        for (index, hook) in raw.iter().enumerate() {
            let key = format!("webhooks[{index}]");
            let url = match hook.url.as_deref() {
                Some(text) => self.web_url(self.file, format!("{key}.url"), text),
                None => {
                    self.report(self.file, format!("{key}.url"), "missing url".into());
                    None
                }
            };
            let secret = match &hook.secret {
                Some(raw) => self.secret(self.file, format!("{key}.secret"), raw),
                None => {
                    let message = "missing secret: every delivery is signed with it".into();
                    self.report(self.file, format!("{key}.secret"), message);
                    None
                }
            };
            for name in &hook.sources {
                if !sources.iter().any(|s| s.name.as_ref() == Some(name)) {
                    let message = format!("no source is named {name:?}");
                    self.report(self.file, format!("{key}.sources"), message);
                }
            }
            let (Some(url), Some(secret)) = (url, secret) else {
                continue;
            };
            if let Some(first) = webhooks.iter().position(|w| w.url == url) {
                let message = format!("the same URL is already webhooks[{first}]");
                self.report(self.file, format!("{key}.url"), message);
                continue;
            }
            let query = self.query(format!("{key}.query"), hook.query.as_deref());
            webhooks.push(WebhookConfig {
                query,
                url,
                secret,
                tags: hook.tags.clone(),
                sources: hook.sources.clone(),
                include: hook.include.clone(),
                exclude: hook.exclude.clone(),
            });
        }
        webhooks
    }

    /// `[site]`'s pages, templates and pagination, when `pages` turns the site on.
    fn site(&mut self, raw: &RawConfig, outputs: &[OutputConfig]) -> Option<SiteConfig> {
        let raw = &raw.site;
        let Some(written) = raw.pages.as_deref() else {
            for (key, given) in [
                ("site.templates", raw.templates.is_some()),
                ("site.items_per_page", raw.items_per_page.is_some()),
                ("site.title", raw.title.is_some()),
            ] {
                if given {
                    self.report(
                        self.file,
                        key.into(),
                        "needs [site] pages: the site is written only where pages says".into(),
                    );
                }
            }
            return None;
        };
        let pages = self.path("site.pages", Some(written), "");
        if let Err(message) = check_writable_folder(&pages.join("index.html")) {
            self.report(self.file, "site.pages".into(), message);
        }
        // The site owns its index and its folders: an output there would be overwritten.
        for (index, output) in outputs.iter().enumerate() {
            let files = [("path", Some(&output.path)), ("html", output.html.as_ref())];
            for (key, file) in files {
                let Some(file) = file else { continue };
                let Ok(inside) = file.strip_prefix(&pages) else {
                    continue;
                };
                if site_owns(inside) {
                    self.report(
                        self.file,
                        format!("outputs[{index}].{key}"),
                        format!(
                            "{} is the site's (index.html, style.css, archive/, items/, sources/ and tags/ under [site] pages are); write it elsewhere",
                            file.display()
                        ),
                    );
                }
            }
        }
        let folder = raw
            .templates
            .as_deref()
            .map(|t| self.path("site.templates", Some(t), ""));
        let templates = match folder.as_deref().map(template_files) {
            None => Vec::new(),
            Some(Ok(files)) => files,
            Some(Err(message)) => {
                self.report(self.file, "site.templates".into(), message);
                Vec::new()
            }
        };
        let items_per_page = raw.items_per_page.unwrap_or(DEFAULT_ITEMS_PER_PAGE);
        if items_per_page == 0 {
            self.report(
                self.file,
                "site.items_per_page".into(),
                "must be at least 1".into(),
            );
        }
        let title = raw
            .title
            .clone()
            .or_else(|| outputs.first().map(|o| o.title.clone()))
            .unwrap_or_else(|| "Tributary".into());
        Some(SiteConfig {
            pages,
            templates,
            items_per_page: items_per_page.max(1),
            title,
        })
    }
    fn sources(
        &mut self,
        files: &[(PathBuf, Vec<RawSource>)],
        poll: &PollSettings,
    ) -> Vec<Arc<SourceConfig>> {
        let mut seen = Seen::default();
        let mut sources = Vec::new();
        for (file, raws) in files {
            // Read once per file, for the line each source's url stands on.
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let url_lines = url_lines(&text);
            for (index, raw) in raws.iter().enumerate() {
                let key = match &raw.name {
                    Some(name) => format!("sources[{index}] ({name:?})"),
                    None => format!("sources[{index}]"),
                };
                let here = format!("{}: {key}", file.display());
                self.unique_name(file, &key, raw, &here, &mut seen);
                let interval = match &raw.interval {
                    Some(text) => self.duration(file, format!("{key}.interval"), text),
                    None => Some(poll.interval),
                };
                let Some((url, mut source)) = self.source(file, &key, raw, poll) else {
                    continue;
                };
                if let Some(first) = seen.urls.insert(url.clone(), here) {
                    self.report(
                        file,
                        format!("{key}.url"),
                        format!("the same URL {url:?} is already configured at {first}"),
                    );
                    continue;
                }
                if let Some(interval) = interval {
                    source.interval = interval;
                    source.declared_line = url_lines.get(url.as_str()).copied();
                    sources.push(Arc::new(source));
                }
            }
        }
        sources
    }

    /// A source's name, if it has one, is not empty and names no other source.
    fn unique_name(
        &mut self,
        file: &Path,
        key: &str,
        raw: &RawSource,
        here: &str,
        seen: &mut Seen,
    ) {
        let Some(name) = &raw.name else {
            return;
        };
        if name.trim().is_empty() {
            self.report(file, format!("{key}.name"), "must not be empty".into());
        } else if let Some(first) = seen.names.insert(name.clone(), here.to_string()) {
            self.report(
                file,
                format!("{key}.name"),
                format!("the name {name:?} is already used by {first}"),
            );
        }
    }

    /// One `[[sources]]` table at `key` of `file` (its interval and line are the caller's),
    /// with its URL as written; `None` when it is not usable (each problem reported).
    fn source(
        &mut self,
        file: &Path,
        key: &str,
        raw: &RawSource,
        poll: &PollSettings,
    ) -> Option<(String, SourceConfig)> {
        let (url, mut location) = self.source_location(file, key, raw, poll)?;
        // Credentials written into the URL are the source's basic auth; the URL keeps only
        // their place (`user:***@`), so that no password is shown or stored.
        let (shown_url, url_auth) = match &mut location {
            SourceLocation::Http(parsed) => take_credentials(parsed),
            SourceLocation::File(_) | SourceLocation::Command(_) => (None, None),
        };
        let fetch = self.fetch_settings(file, key, raw, poll, url_auth);
        let kind = self.kind(file, key, raw)?;
        let rules = self.rules(file, &format!("{key}.rules"), &raw.rules);
        for (i, rule) in raw.rules.iter().enumerate() {
            if !rule.sources.is_empty() {
                let message = "a source's own rules apply to it alone".into();
                self.report(file, format!("{key}.rules[{i}].sources"), message);
            }
        }
        let rewrites = self.rewrites(file, key, raw);
        let full_text = self.full_text(file, key, raw);
        let hub = raw
            .hub
            .as_deref()
            .and_then(|text| self.web_url(file, format!("{key}.hub"), text));
        let source = SourceConfig {
            name: raw.name.clone(),
            url: shown_url.unwrap_or_else(|| url.clone()),
            location,
            interval: poll.interval,
            tags: raw.tags.clone(),
            declared_in: file.to_path_buf(),
            declared_line: None,
            fetch,
            kind,
            rules,
            rewrites,
            full_text,
            hub,
        };
        Some((url, source))
    }

    /// Where a source is read from: its URL as written (a command's is `command:` and its
    /// words, its identity and what `status` shows), and the location it names.
    fn source_location(
        &mut self,
        file: &Path,
        key: &str,
        raw: &RawSource,
        poll: &PollSettings,
    ) -> Option<(String, SourceLocation)> {
        let command = self.command(file, key, raw, poll);
        let url = match (&command, raw.url.as_deref()) {
            (Some(_), Some(_)) => {
                self.report(
                    file,
                    format!("{key}.url"),
                    "a source of kind \"command\" has a command, not a url".into(),
                );
                return None;
            }
            (Some(spec), None) => format!("command:{}", spec.argv.join(" ")),
            (None, Some(url)) => url.to_string(),
            (None, None) => {
                if raw.kind.as_deref() != Some("command") {
                    self.report(file, format!("{key}.url"), "missing url".into());
                }
                return None;
            }
        };
        let location = match command {
            Some(spec) => Ok(SourceLocation::Command(spec)),
            None => self.location(&url),
        };
        match location {
            Ok(location) => Some((url, location)),
            Err(message) => {
                self.report(file, format!("{key}.url"), message);
                None
            }
        }
    }

    fn service(&mut self, raw: &RawService) -> ServiceSettings {
        let timeout = raw.shutdown_timeout.as_deref().unwrap_or("10s");
        ServiceSettings {
            shutdown_timeout: self
                .duration(self.file, "service.shutdown_timeout".into(), timeout)
                .unwrap_or(MIN_INTERVAL),
            watch_config: raw.watch_config.unwrap_or(true),
        }
    }

    fn log(&mut self, raw: &RawLog) -> LogSettings {
        if let Some(level) = &raw.level {
            if tracing_subscriber::EnvFilter::try_new(level).is_err() {
                self.report(
                    self.file,
                    "log.level".into(),
                    format!(
                        "bad level {level:?}; write it like \"info\" or \"warn,tributary=debug\""
                    ),
                );
            }
        }
        LogSettings {
            level: raw.level.clone(),
            format: raw.format.unwrap_or_default(),
        }
    }

    fn location(&self, url: &str) -> Result<SourceLocation, String> {
        SourceLocation::parse(url, self.base)
    }

    /// A source's `headers`, `auth`, `user_agent`, `proxy`, `ignore_cache` and `tls`.
    fn fetch_settings(
        &mut self,
        file: &Path,
        key: &str,
        raw: &RawSource,
        poll: &PollSettings,
        url_auth: Option<Auth>,
    ) -> FetchSettings {
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let here = format!("{key}.headers.{name}");
            let Some(value) = self.secret(file, here.clone(), value) else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            // Never the value in the message: it may be a secret.
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.report(file, here, "is not a valid header name".into());
            } else if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
                self.report(
                    file,
                    here,
                    "has a value that cannot be sent (a line break or a control character)".into(),
                );
            } else {
                headers.push((name, value));
            }
        }
        let auth = match (&raw.auth, url_auth) {
            (Some(_), Some(_)) => {
                self.report(
                    file,
                    format!("{key}.auth"),
                    "credentials are given both in the url and in auth: keep one".into(),
                );
                None
            }
            (Some(auth), None) => self.auth(file, format!("{key}.auth"), auth),
            (None, url_auth) => url_auth,
        };
        let user_agent = raw.user_agent.clone();
        if let Some(agent) = &user_agent
            && (agent.is_empty() || reqwest::header::HeaderValue::from_str(agent).is_err())
        {
            self.report(
                file,
                format!("{key}.user_agent"),
                "must be non-empty printable ASCII".into(),
            );
        }
        let proxy = match &raw.proxy {
            Some(proxy) => self.proxy(file, format!("{key}.proxy"), proxy),
            None => poll.proxy.clone(),
        };
        let tls = raw
            .tls
            .as_ref()
            .map(|tls| self.tls(file, format!("{key}.tls"), tls))
            .unwrap_or_default();
        FetchSettings {
            headers,
            auth,
            user_agent,
            proxy,
            ignore_cache: raw.ignore_cache.unwrap_or(false),
            tls,
        }
    }

    /// A `kind = "command"` source's program; `None` for other kinds (and a problem recorded
    /// when a command is given to one, or is empty).
    fn command(
        &mut self,
        file: &Path,
        key: &str,
        raw: &RawSource,
        poll: &PollSettings,
    ) -> Option<CommandSpec> {
        let is_command = raw.kind.as_deref() == Some("command");
        match (&raw.command, is_command) {
            (Some(_), false) => {
                self.report(
                    file,
                    format!("{key}.command"),
                    "only a source of kind \"command\" takes a command".into(),
                );
                None
            }
            (None, true) => {
                self.report(
                    file,
                    format!("{key}.command"),
                    "a source of kind \"command\" needs a command = [\"program\", \"argument\", …]"
                        .into(),
                );
                None
            }
            (Some(argv), true) if argv.first().is_none_or(|p| p.trim().is_empty()) => {
                self.report(file, format!("{key}.command"), "must name a program".into());
                None
            }
            (Some(argv), true) => {
                let timeout = match &raw.timeout {
                    Some(text) => self.duration(file, format!("{key}.timeout"), text)?,
                    None => poll.timeout,
                };
                let mut argv = argv.clone();
                if argv[0].contains('/') {
                    argv[0] = resolve(self.base, &argv[0]).display().to_string();
                }
                Some(CommandSpec {
                    argv,
                    dir: self.base.to_path_buf(),
                    timeout,
                })
            }
            (None, false) => None,
        }
    }

    /// A source's `kind` and, for a JSON API, its `[sources.json]` paths.
    fn kind(&mut self, file: &Path, key: &str, raw: &RawSource) -> Option<SourceKind> {
        let kind = raw.kind.as_deref().unwrap_or("feed");
        if kind == "command" {
            // What it prints is a feed; `command` has been read with the url.
            return Some(SourceKind::Feed);
        }
        for (table, given) in [("json", raw.json.is_some()), ("html", raw.html.is_some())] {
            if given && kind != table {
                self.report(
                    file,
                    format!("{key}.{table}"),
                    format!("only a source of kind {table:?} takes a [sources.{table}] table"),
                );
                return None;
            }
        }
        if let ("html", Some(html)) = (kind, &raw.html) {
            return self
                .html_fields(file, &format!("{key}.html"), html)
                .map(|fields| SourceKind::Html(Box::new(fields)));
        }
        match (kind, &raw.json) {
            ("feed", None) => Some(SourceKind::Feed),
            ("json", Some(json)) => {
                let mut required = |name: &str, value: &Option<String>| {
                    if value.is_none() {
                        self.report(file, format!("{key}.json.{name}"), "is required".into());
                    }
                    value.clone().unwrap_or_default()
                };
                let fields = JsonFields {
                    items: required("items", &json.items),
                    title: required("title", &json.title),
                    link: required("link", &json.link),
                    id: json.id.clone(),
                    date: json.date.clone(),
                    summary: json.summary.clone(),
                    content: json.content.clone(),
                    author: json.author.clone(),
                };
                Some(SourceKind::Json(Box::new(fields)))
            }
            ("json", None) => {
                self.report(
                    file,
                    format!("{key}.json"),
                    "a source of kind \"json\" needs a [sources.json] table".into(),
                );
                None
            }
            ("html", _) => {
                self.report(
                    file,
                    format!("{key}.html"),
                    "a source of kind \"html\" needs a [sources.html] table".into(),
                );
                None
            }
            (other, _) => {
                self.report(
                    file,
                    format!("{key}.kind"),
                    format!(
                        "{other:?} is not a kind of source (use \"feed\", \"html\", \"json\" or \"command\")"
                    ),
                );
                None
            }
        }
    }

    /// `[sources.html]`: every selector parsed now, so that a bad one is a config error.
    fn html_fields(&mut self, file: &Path, key: &str, raw: &RawHtmlFields) -> Option<HtmlFields> {
        let mut field = |name: &str, written: &Option<String>| -> Option<Option<PageField>> {
            match written.as_deref().map(PageField::parse) {
                None => Some(None),
                Some(Ok(field)) => Some(Some(field)),
                Some(Err(message)) => {
                    self.report(file, format!("{key}.{name}"), message);
                    None
                }
            }
        };
        let (title, link) = (field("title", &raw.title)?, field("link", &raw.link)?);
        let (date, summary) = (field("date", &raw.date)?, field("summary", &raw.summary)?);
        let (content, author) = (
            field("content", &raw.content)?,
            field("author", &raw.author)?,
        );
        let item_written = raw.item.clone().unwrap_or_default();
        let item = match scraper::Selector::parse(&item_written) {
            _ if item_written.trim().is_empty() => {
                self.report(file, format!("{key}.item"), "is required".into());
                None
            }
            Ok(item) => Some(item),
            Err(e) => {
                self.report(
                    file,
                    format!("{key}.item"),
                    format!("{item_written:?} is not a CSS selector: {e}"),
                );
                None
            }
        };
        for (name, missing) in [("title", title.is_none()), ("link", link.is_none())] {
            if missing {
                self.report(file, format!("{key}.{name}"), "is required".into());
            }
        }
        Some(HtmlFields {
            item: item?,
            item_written,
            title: title?,
            link: link?,
            date,
            date_format: raw.date_format.clone(),
            summary,
            content,
            author,
        })
    }

    fn auth(&mut self, file: &Path, key: String, raw: &RawAuth) -> Option<Auth> {
        match (&raw.username, &raw.password, &raw.bearer) {
            (Some(username), Some(password), None) => {
                let password = self.secret(file, format!("{key}.password"), password)?;
                Some(Auth::Basic {
                    username: username.clone(),
                    password,
                })
            }
            (None, None, Some(token)) => self
                .secret(file, format!("{key}.bearer"), token)
                .map(Auth::Bearer),
            _ => {
                self.report(
                    file,
                    key,
                    "give either username and password (HTTP basic) or bearer".into(),
                );
                None
            }
        }
    }

    fn tls(&mut self, file: &Path, key: String, raw: &RawTls) -> TlsSettings {
        let ca = raw.ca.as_deref().and_then(|written| {
            let path = resolve(self.base, written);
            let readable = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|pem| {
                    reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())
                });
            match readable {
                Ok(certs) if !certs.is_empty() => Some(path),
                Ok(_) => {
                    self.report(
                        file,
                        format!("{key}.ca"),
                        format!("{} holds no PEM certificate", path.display()),
                    );
                    None
                }
                Err(error) => {
                    self.report(
                        file,
                        format!("{key}.ca"),
                        format!("cannot read {}: {error}", path.display()),
                    );
                    None
                }
            }
        });
        TlsSettings {
            ca,
            accept_invalid_certs: raw.accept_invalid_certs.unwrap_or(false),
        }
    }

    /// A proxy URL: http, https, socks5 or socks5h, with a host.
    fn proxy(&mut self, file: &Path, key: String, written: &str) -> Option<Url> {
        let problem = match Url::parse(written) {
            Ok(url) if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") => {
                format!(
                    "scheme {:?} is not a proxy scheme (use http, https or socks5)",
                    url.scheme()
                )
            }
            Ok(url) if url.host().is_none() => "a proxy URL needs a host".into(),
            Ok(url) => return Some(url),
            Err(error) => format!("bad URL: {error}"),
        };
        self.report(file, key, problem);
        None
    }

    /// `[database] url` and `password`: PostgreSQL instead of SQLite's file.
    fn postgres(&mut self, raw: &RawDatabase) -> Option<PostgresConfig> {
        let file = self.file;
        let Some(url) = &raw.url else {
            if raw.lease.is_some() {
                self.report(
                    file,
                    "database.lease".into(),
                    "is only used with database.url".into(),
                );
            }
            if raw.password.is_some() {
                self.report(
                    file,
                    "database.password".into(),
                    "is only used with database.url".into(),
                );
            }
            return None;
        };
        if raw.path.is_some() {
            self.report(
                file,
                "database.url".into(),
                "give either database.path (SQLite) or database.url (PostgreSQL), not both".into(),
            );
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
            || url.parse::<postgres::Config>().is_err()
        {
            self.report(
                file,
                "database.url".into(),
                "must be a PostgreSQL URL: postgres://user@host:port/database".into(),
            );
            return None;
        }
        let password = match &raw.password {
            Some(password) => Some(self.secret(file, "database.password".into(), password)?),
            None => None,
        };
        let lease = match &raw.lease {
            Some(text) => self.duration(file, "database.lease".into(), text)?,
            None => DEFAULT_DATABASE_LEASE,
        };
        if lease < Duration::from_secs(2) {
            self.report(
                file,
                "database.lease".into(),
                "must be at least 2s: leases are renewed a few times within it".into(),
            );
        }
        Some(PostgresConfig {
            url: url.clone(),
            password,
            lease,
        })
    }

    /// A secret's value: as written, from the environment, or from a file relative to the
    /// config's folder (its trailing line break trimmed). The problem names the key, never
    /// the value.
    fn secret(&mut self, file: &Path, key: String, raw: &RawSecret) -> Option<Secret> {
        let found = match raw {
            RawSecret::Literal(value) => Ok(value.clone()),
            RawSecret::Env { env } => {
                std::env::var(env).map_err(|_| format!("the environment variable {env} is not set"))
            }
            RawSecret::File { file: written } => {
                let path = resolve(self.base, written);
                std::fs::read_to_string(&path)
                    .map(|text| text.trim_end_matches(['\n', '\r']).to_string())
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
        };
        match found {
            Ok(value) => Some(Secret::new(value)),
            Err(message) => {
                self.report(file, key, message);
                None
            }
        }
    }
}

/// Takes the user name and password out of `url`, as basic auth; returns the URL as it may be
/// shown (the password replaced by `***`) when there were any.
fn take_credentials(url: &mut Url) -> (Option<String>, Option<Auth>) {
    if url.username().is_empty() && url.password().is_none() {
        return (None, None);
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let auth = Auth::Basic {
        username: decode(url.username()),
        password: Secret::new(url.password().map(decode).unwrap_or_default()),
    };
    let shown = shown_url(url);
    // Only fail for URLs that cannot carry credentials, and this one carries some.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    (Some(shown), Some(auth))
}

/// The line (from 1) on which each URL is written as a `url = "…"` in `text`, the first one if
/// it is written twice: read in one pass, however many sources the file holds.
fn url_lines(text: &str) -> HashMap<&str, usize> {
    let mut lines = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !key.trim().ends_with("url") {
            continue;
        }
        let value = value.trim();
        let quoted = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(open, close)| value.strip_prefix(*open)?.split(*close).next());
        if let Some(url) = quoted {
            lines.entry(url).or_insert(index + 1);
        }
    }
    lines
}

/// Checks that an output file's folder exists and is writable, or can be created.
///
/// Probes with a temporary file that is removed at once, because permission bits alone miss
/// read-only mounts.
pub(super) fn check_writable_folder(path: &Path) -> Result<(), String> {
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

pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `base` joined with `relative`, with `.` and `..` folded away so that messages show the path a
/// person would write. Lexical only: symbolic links are left as they are.
pub(super) fn resolve(base: &Path, relative: &str) -> PathBuf {
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

/// Whether the site writes at `inside` (a path under `[site] pages`): its own files and
/// folders, which an output there would be overwritten by.
fn site_owns(inside: &Path) -> bool {
    const OWNED: [&str; 9] = [
        "index.html",
        "style.css",
        "favicon.svg",
        ".tributary-site",
        "archive",
        "page",
        "items",
        "sources",
        "tags",
    ];
    inside
        .components()
        .next()
        .is_some_and(|c| OWNED.iter().any(|f| c.as_os_str() == *f))
}

/// The `.html` (and `.css`) files of a `[site] templates` folder, each read whole.
fn template_files(folder: &Path) -> Result<Vec<TemplateFile>, String> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| format!("cannot read the folder {}: {e}", folder.display()))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "html" || e == "css") && p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let name = file.file_name()?.to_string_lossy().into_owned();
            Some(match std::fs::read_to_string(&file) {
                Ok(text) => Ok(TemplateFile { name, text, file }),
                Err(e) => Err(format!("cannot read {}: {e}", file.display())),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_of_each_sources_url_is_found_in_one_pass() {
        let text = "# url = \"https://commented.example/\"\n[[sources]]\nname = \"A\"\nurl = \"https://a.example/feed\"\n\n[[sources]]\n  url='https://b.example/x?y=1'  # note\nurl_note = \"not a url\"\n[[sources]]\nurl = \"https://a.example/feed\"\n";
        let lines = url_lines(text);
        assert_eq!(lines.get("https://a.example/feed"), Some(&4));
        assert_eq!(lines.get("https://b.example/x?y=1"), Some(&7));
        assert_eq!(lines.get("not a url"), None);
    }
}

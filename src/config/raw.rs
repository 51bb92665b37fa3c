//! The config file as written: every key optional, so that validation, not serde, explains
//! what is missing; unknown keys are refused.

use serde::Deserialize;

use super::{LogFormat, OutputFormat};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) database: RawDatabase,
    #[serde(default)]
    pub(super) poll: RawPoll,
    #[serde(default)]
    pub(super) outputs: Vec<RawOutput>,
    #[serde(default)]
    pub(super) health: RawHealth,
    #[serde(default)]
    pub(super) retention: RawRetention,
    #[serde(default)]
    pub(super) dedup: RawDedup,
    #[serde(default)]
    pub(super) content: RawContent,
    #[serde(default)]
    pub(super) service: RawService,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) site: RawSite,
    #[serde(default)]
    pub(super) metrics: RawMetrics,
    #[serde(default)]
    pub(super) opml: RawOpml,
    #[serde(default)]
    pub(super) serve: RawServe,
    #[serde(default)]
    pub(super) websub: RawWebSub,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    #[serde(default)]
    pub(super) webhooks: Vec<RawWebhook>,
    #[serde(default)]
    pub(super) stories: super::stories::RawStories,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub(super) url: Option<String>,
    pub(super) secret: Option<RawSecret>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) sources: Vec<String>,
    #[serde(default)]
    pub(super) include: Vec<String>,
    #[serde(default)]
    pub(super) exclude: Vec<String>,
    pub(super) query: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) shutdown_timeout: Option<String>,
    pub(super) watch_config: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<String>,
    pub(super) format: Option<LogFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    pub(super) max_age: Option<String>,
    pub(super) initial_items: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDedup {
    pub(super) across_sources: Option<bool>,
    #[serde(default)]
    pub(super) strip_query: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContent {
    pub(super) max_size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) path: Option<String>,
    pub(super) url: Option<String>,
    pub(super) password: Option<RawSecret>,
    pub(super) lease: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    pub(super) interval: Option<String>,
    pub(super) concurrency: Option<usize>,
    pub(super) per_host_concurrency: Option<usize>,
    pub(super) timeout: Option<String>,
    pub(super) connect_timeout: Option<String>,
    pub(super) first_byte_timeout: Option<String>,
    pub(super) max_body: Option<String>,
    pub(super) user_agent: Option<String>,
    pub(super) contact: Option<String>,
    pub(super) max_interval: Option<String>,
    pub(super) max_backoff: Option<String>,
    pub(super) allow_private_redirects: Option<bool>,
    pub(super) adopt_redirect_after: Option<u32>,
    pub(super) proxy: Option<String>,
    pub(super) adaptive: Option<bool>,
    pub(super) min_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub(super) path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) path: Option<String>,
    pub(super) title: Option<String>,
    pub(super) max_items: Option<usize>,
    pub(super) keep_removed_sources: Option<bool>,
    pub(super) format: Option<OutputFormat>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) sources: Vec<String>,
    pub(super) max_age: Option<String>,
    pub(super) per_source: Option<usize>,
    #[serde(default)]
    pub(super) include: Vec<String>,
    #[serde(default)]
    pub(super) exclude: Vec<String>,
    pub(super) html: Option<String>,
    pub(super) provenance: Option<bool>,
    pub(super) query: Option<String>,
    pub(super) stories: Option<super::StoriesShown>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub(super) base_url: Option<String>,
    pub(super) pages: Option<String>,
    pub(super) templates: Option<String>,
    pub(super) items_per_page: Option<usize>,
    pub(super) title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Option<String>,
    pub(super) per_source: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOpml {
    pub(super) path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServe {
    pub(super) listen: Option<String>,
    pub(super) root: Option<String>,
    pub(super) status: Option<bool>,
    pub(super) header_timeout: Option<String>,
    pub(super) idle_timeout: Option<String>,
    pub(super) max_connections: Option<usize>,
    pub(super) cache_size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebSub {
    pub(super) hub: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) subscribe: Option<bool>,
    pub(super) callback_url: Option<String>,
    pub(super) lease: Option<String>,
    pub(super) poll_interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) name: Option<String>,
    pub(super) url: Option<String>,
    pub(super) interval: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) headers: std::collections::BTreeMap<String, RawSecret>,
    pub(super) auth: Option<RawAuth>,
    pub(super) user_agent: Option<String>,
    pub(super) proxy: Option<String>,
    pub(super) ignore_cache: Option<bool>,
    pub(super) tls: Option<RawTls>,
    pub(super) kind: Option<String>,
    pub(super) json: Option<RawJsonFields>,
    pub(super) html: Option<RawHtmlFields>,
    pub(super) command: Option<Vec<String>>,
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    #[serde(default)]
    pub(super) remove: Vec<String>,
    #[serde(default)]
    pub(super) replace: Vec<RawReplace>,
    #[serde(default)]
    pub(super) strip_query: Vec<String>,
    pub(super) full_text: Option<bool>,
    pub(super) full_text_selector: Option<String>,
    pub(super) hub: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(default)]
    pub(super) sources: Vec<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    pub(super) when: Option<RawWhen>,
    pub(super) action: Option<String>,
    pub(super) tag: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWhen {
    pub(super) title: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) content: Option<String>,
    pub(super) any: Option<String>,
    pub(super) author: Option<String>,
    pub(super) category: Option<String>,
    pub(super) link: Option<String>,
    pub(super) older_than: Option<String>,
    pub(super) newer_than: Option<String>,
    pub(super) reported_by_at_least: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplace {
    pub(super) field: Option<String>,
    pub(super) pattern: Option<String>,
    pub(super) with: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHtmlFields {
    pub(super) item: Option<String>,
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) date: Option<String>,
    pub(super) date_format: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) content: Option<String>,
    pub(super) author: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJsonFields {
    pub(super) items: Option<String>,
    pub(super) id: Option<String>,
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) date: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) content: Option<String>,
    pub(super) author: Option<String>,
}

/// A secret as written: the value itself, `{ env = "NAME" }` or `{ file = "path" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSecret {
    Literal(String),
    Env { env: String },
    File { file: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) username: Option<String>,
    pub(super) password: Option<RawSecret>,
    pub(super) bearer: Option<RawSecret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) ca: Option<String>,
    pub(super) accept_invalid_certs: Option<bool>,
}

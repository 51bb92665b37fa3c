//! Tributary: a feed aggregator daemon.
//!
//! It polls the publisher feeds listed in a config file, stores each new item once in SQLite,
//! and regenerates merged feed files that readers subscribe to.
//!
//! # Layout
//! The pipeline, top to bottom; each stage owns its types:
//! - [`config`]: the config file, `sources.d/` and the environment, loaded and validated
//!   (raw serde structs, layers, validation, editing the file: one part each).
//! - [`model`]: plain types the stages pass along (items, outcomes).
//! - [`fetch`]: one HTTP request (or local file read) and its outcome.
//! - [`parse`]: bytes → normalized items (decoding, dialects, dates, entries, `xml:base`,
//!   hints, discovery; cleaning with [`sanitize`]).
//! - [`identity`]: what an item is and what becomes of it: identity keys, canonical links,
//!   dates as stored, guid churn, the plan for a fetch's items. Pure.
//! - [`rules`]: what rules and rewrites make of an item (hidden, tags, rewritten fields),
//!   replayable over stored items. Pure.
//! - [`stories`]: the items of different sources that tell one story, found by their text.
//!   Pure.
//! - [`store`]: SQLite, the only place SQL lives.
//! - [`schedule`]: when each source is next due (interval, hints, backoff). Pure.
//! - [`refresh`]: one source through the [`refresh::Pipeline`]: load state, attempt (fetch →
//!   parse), advance the state (pure), record; one outcome, one summary event.
//! - [`fulltext`]: each new item's article page of a `full_text` source, fetched once and
//!   extracted, beside the polls.
//! - [`daemon`]: the jobs that run beside each other (polling, pushes, upkeep, control,
//!   leadership, reload, rendering) and the loop that hands each its event; `once`.
//! - [`render`]: stored items → merged feed files, written atomically.
//! - [`opml`]: OPML subscription lists in (out is `render::opml`).
//! - [`publish`]: the built-in server for the outputs and the site (and the WebSub callback),
//!   WebSub pings, webhooks with their durable queue.
//! - [`websub`]: subscriptions to publishers' hubs: discover, subscribe, verify, renew;
//!   pushed content enters [`refresh`] after the fetch.
//! - [`control`]: the Unix socket through which commands reach a running daemon.
//! - [`metrics`]: Prometheus counters the stages feed, served at `[metrics] listen`.
//! - [`watch`] and [`service`]: config reload requests; systemd readiness and watchdog.
//! - [`report`]: what the commands print, made from values.
//! - [`cli`]: the commands' bodies, from a loaded config to what they print; the binary parses
//!   the arguments and calls them.
//!
//! Which module may use which is `ARCHITECTURE.md`'s "Layers" table, checked by
//! `tests/architecture.rs`.
//!
//! Data flows one way: `config → store.sync → daemon → refresh → render → files`.

#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod fetch;
pub mod fulltext;
pub mod identity;
pub mod instance;
pub mod metrics;
pub mod model;
pub mod opml;
pub mod parse;
pub mod publish;
pub mod refresh;
pub mod render;
pub mod report;
pub mod rules;
pub mod sanitize;
pub mod schedule;
pub mod search;
pub mod service;
pub mod store;
pub mod stories;
pub mod watch;
pub mod websub;

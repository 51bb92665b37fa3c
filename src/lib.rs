//! Tributary: a feed aggregator daemon.
//!
//! It polls the publisher feeds listed in a config file, stores each new item once in SQLite,
//! and regenerates merged feed files that readers subscribe to.
//!
//! # Layout
//! The pipeline, top to bottom; each stage owns its types:
//! - [`config`]: the config file, `sources.d/` and the environment, validated.
//! - [`model`]: plain types the stages pass along (items, outcomes).
//! - [`fetch`]: one HTTP request (or local file read) and its outcome.
//! - [`parse`]: bytes → normalized items with identity keys (uses [`sanitize`]).
//! - [`identity`]: what makes two items the same (canonical links, guid churn).
//! - [`store`]: SQLite, the only place SQL lives.
//! - [`schedule`]: when each source is next due (interval, hints, backoff). Pure.
//! - [`refresh`]: fetch → parse → store for one source, ending in an outcome.
//! - [`scheduler`]: `once` and the daemon loop: who is polled when, shutdown.
//! - [`render`]: stored items → merged feed files, written atomically.
//! - [`opml`]: OPML subscription lists in (out is `render::opml`).
//! - [`publish`]: the built-in server for the outputs, WebSub pings.
//! - [`watch`] and [`service`]: config reload requests; systemd readiness and watchdog.
//! - [`report`]: what the commands print, made from values (the binary only prints it).
//!
//! Data flows one way: `config → store.sync → scheduler → refresh → render → files`.

#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod fetch;
pub mod identity;
pub mod model;
pub mod opml;
pub mod parse;
pub mod publish;
pub mod refresh;
pub mod render;
pub mod report;
pub mod sanitize;
pub mod schedule;
pub mod scheduler;
pub mod service;
pub mod store;
pub mod watch;

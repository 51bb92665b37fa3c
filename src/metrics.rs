//! Prometheus metrics: counters and histograms kept in memory by the stages as they work
//! (they start at zero with the process, as Prometheus expects), the sources' states counted
//! at each scrape through a callback the daemon registers (this module reads nothing itself),
//! and `GET /metrics` on `[metrics] listen`, in the Prometheus text format encoded by the
//! `prometheus` crate.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
    exponential_buckets,
};

/// The number of sources in each state, or why they could not be counted.
pub type Counts = Pin<Box<dyn Future<Output = Result<Vec<(&'static str, usize)>, String>> + Send>>;

/// Counts the sources in each state when asked.
pub type ReadSources = Arc<dyn Fn() -> Counts + Send + Sync>;

/// Every metric Tributary keeps.
pub struct Metrics {
    registry: Registry,
    polls: IntCounterVec,
    source_polls: IntCounterVec,
    items: IntCounterVec,
    fetch_seconds: Histogram,
    fetched_bytes: IntCounter,
    commit_seconds: Histogram,
    schedule_lag_seconds: Histogram,
    output_writes: IntCounterVec,
    websub_pings: IntCounterVec,
    websub_deliveries: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    sources: IntGaugeVec,
    /// `[metrics] per_source`.
    per_source: AtomicBool,
    /// How the sources' states are counted, once the daemon has said.
    read_sources: RwLock<Option<ReadSources>>,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| match Metrics::new() {
        Ok(metrics) => metrics,
        // The names and buckets below are constants: this is a bug, caught by the tests.
        Err(error) => panic!("the metrics are misdefined: {error}"),
    })
}

/// The registry and the metrics registered in it so far.
struct Registering(Registry);

impl Registering {
    /// A new registry, which says the running version.
    fn new() -> prometheus::Result<Registering> {
        let r = Registering(Registry::new());
        r.gauges(
            "tributary_build_info",
            "The running version: always 1.",
            "version",
        )?
        .with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1);
        Ok(r)
    }

    fn counters(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        let counters = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.0.register(Box::new(counters.clone()))?;
        Ok(counters)
    }

    /// Counters that read 0 from the start for each of `values`, so that a rate over a value
    /// that has not happened yet is 0.
    fn counters_of(
        &self,
        name: &str,
        help: &str,
        label: &str,
        values: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        let counters = self.counters(name, help, &[label])?;
        for value in values {
            counters.with_label_values(&[*value]);
        }
        Ok(counters)
    }

    fn histogram(
        &self,
        name: &str,
        help: &str,
        start: f64,
        count: usize,
    ) -> prometheus::Result<Histogram> {
        let buckets = exponential_buckets(start, 2.0, count)?;
        let histogram = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
        self.0.register(Box::new(histogram.clone()))?;
        Ok(histogram)
    }

    fn counter(&self, name: &str, help: &str) -> prometheus::Result<IntCounter> {
        let counter = IntCounter::new(name, help)?;
        self.0.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    fn gauges(&self, name: &str, help: &str, label: &str) -> prometheus::Result<IntGaugeVec> {
        let gauges = IntGaugeVec::new(Opts::new(name, help), &[label])?;
        self.0.register(Box::new(gauges.clone()))?;
        Ok(gauges)
    }
}

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let r = Registering::new()?;
        Ok(Metrics {
            polls: r.counters_of(
                "tributary_polls_total",
                "Polls by result: new (a feed read with new or updated items), unchanged (read, nothing new), not_modified, failed, rate_limited, gone, skipped.",
                "result",
                &["new", "unchanged", "not_modified", "failed", "rate_limited", "gone", "skipped"],
            )?,
            source_polls: r.counters(
                "tributary_source_polls_total",
                "Polls by source and result ([metrics] per_source only).",
                &["source", "result"],
            )?,
            items: r.counters_of(
                "tributary_items_total",
                "Items stored, by change: new or updated.",
                "change",
                &["new", "updated"],
            )?,
            fetch_seconds: r.histogram(
                "tributary_fetch_duration_seconds",
                "How long fetches took, body included.",
                0.01,
                14,
            )?,
            fetched_bytes: r.counter(
                "tributary_fetched_bytes_total",
                "Bytes of feed bodies read, after decompression.",
            )?,
            commit_seconds: r.histogram(
                "tributary_store_commit_duration_seconds",
                "How long committing a batch of polls to the database took.",
                0.0001,
                16,
            )?,
            schedule_lag_seconds: r.histogram(
                "tributary_schedule_lag_seconds",
                "How late due polls started, after the time their schedule said.",
                0.01,
                18,
            )?,
            output_writes: r.counters_of(
                "tributary_output_writes_total",
                "Output files (feeds, pages, OPML, health feed, the site) rendered, by result: written, unchanged, failed.",
                "result",
                &["written", "unchanged", "failed"],
            )?,
            websub_pings: r.counters(
                "tributary_websub_pings_total",
                "Pings of the WebSub hub by result: ok, refused, failed.",
                &["result"],
            )?,
            websub_deliveries: r.counters(
                "tributary_websub_deliveries_total",
                "Content delivered by publishers' WebSub hubs, by result: stored, failed, unsigned, wrongly_signed.",
                &["result"],
            )?,
            webhook_deliveries: r.counters(
                "tributary_webhook_deliveries_total",
                "Deliveries POSTed to [[webhooks]], by result: ok, failed, given_up.",
                &["result"],
            )?,
            sources: r.gauges(
                "tributary_sources",
                "Configured sources by state: ok, not_modified, never_polled, failing, rate_limited, gone.",
                "state",
            )?,
            per_source: AtomicBool::new(false),
            read_sources: RwLock::new(None),
            registry: r.0,
        })
    }

    /// Counts a finished poll of the source `name` by its `result` (`new`, `unchanged`,
    /// `not_modified`, …), and the items it stored.
    pub fn poll(&self, name: &str, result: &str, new: usize, updated: usize) {
        // Most polls store nothing: no label is looked up for them.
        if new + updated > 0 {
            self.items.with_label_values(&["new"]).inc_by(new as u64);
            self.items
                .with_label_values(&["updated"])
                .inc_by(updated as u64);
        }
        self.polls.with_label_values(&[result]).inc();
        if self.per_source.load(Ordering::Relaxed) {
            self.source_polls.with_label_values(&[name, result]).inc();
        }
    }

    /// Records a fetch's duration and the bytes it read.
    pub fn fetched(&self, took: Duration, bytes: usize) {
        self.fetch_seconds.observe(took.as_secs_f64());
        self.fetched_bytes.inc_by(bytes as u64);
    }

    /// Records a database commit's duration.
    pub fn committed(&self, took: Duration) {
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// Records how late a due poll started.
    pub fn started_late(&self, by: Duration) {
        self.schedule_lag_seconds.observe(by.as_secs_f64());
    }

    /// Counts an output file's render: `written`, `unchanged` or `failed`.
    pub fn output_written(&self, result: &'static str) {
        self.output_writes.with_label_values(&[result]).inc();
    }

    /// Counts a ping of the WebSub hub: `ok`, `refused` or `failed`.
    pub fn websub_ping(&self, result: &'static str) {
        self.websub_pings.with_label_values(&[result]).inc();
    }

    /// Counts content a hub delivered: `stored`, `failed`, `unsigned` or `wrongly_signed`.
    pub fn websub_delivery(&self, result: &'static str) {
        self.websub_deliveries.with_label_values(&[result]).inc();
    }

    /// Counts a webhook delivery attempt: `ok`, `failed` or `given_up`.
    pub fn webhook_delivery(&self, result: &'static str) {
        self.webhook_deliveries.with_label_values(&[result]).inc();
    }

    /// Whether polls are counted per source too (`[metrics] per_source`).
    pub fn count_per_source(&self, yes: bool) {
        self.per_source.store(yes, Ordering::Relaxed);
    }

    /// How the sources' states are counted at each scrape: registered by the daemon, which
    /// holds the store.
    pub fn read_sources_with(&self, read: ReadSources) {
        match self.read_sources.write() {
            Ok(mut current) => *current = Some(read),
            Err(poisoned) => *poisoned.into_inner() = Some(read),
        }
    }

    /// The text exposition, with the sources' states counted first.
    async fn scrape(&self) -> Result<String, String> {
        let read = match self.read_sources.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(read) = read {
            for (state, count) in read().await? {
                self.sources
                    .with_label_values(&[state])
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .map_err(|e| e.to_string())
    }
}

/// Serves `GET /metrics` at `[metrics] listen` until the process ends.
pub async fn serve(listen: Option<SocketAddr>) -> std::io::Result<()> {
    let Some(listen) = listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr().unwrap_or(listen);
    let app = Router::new().route("/metrics", axum::routing::get(metrics));
    tracing::info!(%address, "serving metrics");
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics server stopped");
        }
    });
    Ok(())
}

async fn metrics() -> Response {
    match global().scrape().await {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

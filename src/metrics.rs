//! Prometheus metrics: counters and histograms kept in memory by the stages as they work
//! (they start at zero with the process, as Prometheus expects), gauges read from the store at
//! each scrape, and `GET /metrics` on `[metrics] listen`, in the Prometheus text format
//! encoded by the `prometheus` crate.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
    exponential_buckets,
};

use crate::config::Config;
use crate::model::{PollResult, RefreshOutcome};
use crate::store::SharedStore;

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
    /// The store and config the gauges are read from, once the daemon has them.
    scraped: RwLock<Option<(SharedStore, Arc<Config>)>>,
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

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let counters = |name: &str, help: &str, label: &str| -> prometheus::Result<IntCounterVec> {
            let counter = IntCounterVec::new(Opts::new(name, help), &[label])?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let histogram = |name: &str, help: &str, start: f64, count: usize| {
            let buckets = exponential_buckets(start, 2.0, count)?;
            let histogram = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
            registry.register(Box::new(histogram.clone()))?;
            prometheus::Result::Ok(histogram)
        };
        let polls = counters(
            "tributary_polls_total",
            "Polls by result: new (a feed read with new or updated items), unchanged (read, nothing new), not_modified, failed, rate_limited, gone, skipped.",
            "result",
        )?;
        let source_polls = IntCounterVec::new(
            Opts::new(
                "tributary_source_polls_total",
                "Polls by source and result ([metrics] per_source only).",
            ),
            &["source", "result"],
        )?;
        registry.register(Box::new(source_polls.clone()))?;
        let items = counters(
            "tributary_items_total",
            "Items stored, by change: new or updated.",
            "change",
        )?;
        let fetch_seconds = histogram(
            "tributary_fetch_duration_seconds",
            "How long fetches took, body included.",
            0.01,
            14,
        )?;
        let fetched_bytes = IntCounter::new(
            "tributary_fetched_bytes_total",
            "Bytes of feed bodies read, after decompression.",
        )?;
        registry.register(Box::new(fetched_bytes.clone()))?;
        let commit_seconds = histogram(
            "tributary_store_commit_duration_seconds",
            "How long committing a batch of polls to the database took.",
            0.0001,
            16,
        )?;
        let schedule_lag_seconds = histogram(
            "tributary_schedule_lag_seconds",
            "How late due polls started, after the time their schedule said.",
            0.01,
            18,
        )?;
        let output_writes = counters(
            "tributary_output_writes_total",
            "Output files (feeds, pages, OPML, health feed, the site) rendered, by result: written, unchanged, failed.",
            "result",
        )?;
        let websub_pings = counters(
            "tributary_websub_pings_total",
            "Pings of the WebSub hub by result: ok, refused, failed.",
            "result",
        )?;
        let websub_deliveries = counters(
            "tributary_websub_deliveries_total",
            "Content delivered by publishers' WebSub hubs, by result: stored, failed, unsigned, wrongly_signed.",
            "result",
        )?;
        let webhook_deliveries = counters(
            "tributary_webhook_deliveries_total",
            "Deliveries POSTed to [[webhooks]], by result: ok, failed, given_up.",
            "result",
        )?;
        let sources = IntGaugeVec::new(
            Opts::new(
                "tributary_sources",
                "Configured sources by state: ok, not_modified, never_polled, failing, rate_limited, gone.",
            ),
            &["state"],
        )?;
        registry.register(Box::new(sources.clone()))?;
        let build_info = IntGaugeVec::new(
            Opts::new("tributary_build_info", "The running version: always 1."),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(build_info))?;
        // Zero from the start, so that a rate over a result that has not happened yet is 0.
        for result in [
            "new",
            "unchanged",
            "not_modified",
            "failed",
            "rate_limited",
            "gone",
            "skipped",
        ] {
            polls.with_label_values(&[result]);
        }
        for change in ["new", "updated"] {
            items.with_label_values(&[change]);
        }
        for result in ["written", "unchanged", "failed"] {
            output_writes.with_label_values(&[result]);
        }
        Ok(Metrics {
            registry,
            polls,
            source_polls,
            items,
            fetch_seconds,
            fetched_bytes,
            commit_seconds,
            schedule_lag_seconds,
            output_writes,
            websub_pings,
            websub_deliveries,
            webhook_deliveries,
            sources,
            scraped: RwLock::new(None),
        })
    }

    /// Counts a finished poll, and its items.
    pub fn poll(&self, outcome: &RefreshOutcome) {
        let result = match &outcome.result {
            PollResult::Fetched(counts) if counts.new + counts.updated > 0 => {
                self.items
                    .with_label_values(&["new"])
                    .inc_by(counts.new as u64);
                self.items
                    .with_label_values(&["updated"])
                    .inc_by(counts.updated as u64);
                "new"
            }
            PollResult::Fetched(_) => "unchanged",
            PollResult::NotModified => "not_modified",
            PollResult::RateLimited { .. } => "rate_limited",
            PollResult::Gone => "gone",
            PollResult::Failed(_) => "failed",
            PollResult::Skipped { .. } | PollResult::Paused { .. } => "skipped",
        };
        self.polls.with_label_values(&[result]).inc();
        if self.per_source() {
            self.source_polls
                .with_label_values(&[outcome.name.as_str(), result])
                .inc();
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

    /// Where the gauges are read from: the daemon's store and the config in force.
    pub fn follow(&self, store: &SharedStore, config: &Arc<Config>) {
        let scraped = Some((store.clone(), Arc::clone(config)));
        match self.scraped.write() {
            Ok(mut current) => *current = scraped,
            Err(poisoned) => *poisoned.into_inner() = scraped,
        }
    }

    fn per_source(&self) -> bool {
        self.current()
            .is_some_and(|(_, config)| config.metrics.per_source)
    }

    fn current(&self) -> Option<(SharedStore, Arc<Config>)> {
        match self.scraped.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The text exposition, with the gauges read from the store first.
    async fn scrape(&self) -> Result<String, String> {
        if let Some((store, config)) = self.current() {
            let read = Arc::clone(&config);
            let reads = store
                .with(move |store| store.status_reads(&read, None))
                .await
                .ok_or("the database thread stopped")?
                .map_err(|e| e.to_string())?;
            let rows = crate::report::status_rows(&reads, &config);
            // Every state, so that a state no source is in reads 0 rather than vanishing.
            for state in [
                "ok",
                "not_modified",
                "never_polled",
                "failing",
                "rate_limited",
                "gone",
                "paused",
            ] {
                let count = rows.iter().filter(|r| r.state == state).count();
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
pub async fn serve(config: &Config) -> std::io::Result<()> {
    let Some(listen) = config.metrics.listen else {
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

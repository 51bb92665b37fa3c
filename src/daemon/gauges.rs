//! The gauges of `/metrics` that say what state the sources are in, read at each scrape
//! through a callback registered here: the counters module is a leaf and reads nothing.

use std::sync::Arc;

use crate::config::Config;
use crate::metrics::{self, Counts};
use crate::report;
use crate::store::SharedStore;

/// Every state a source can be in, so that a state no source is in reads 0 rather than
/// vanishing.
const STATES: [&str; 7] = [
    "ok",
    "not_modified",
    "never_polled",
    "failing",
    "rate_limited",
    "gone",
    "paused",
];

/// The gauges read from `store`, as `config` (the one in force) sees its sources.
pub fn follow(store: &SharedStore, config: &Arc<Config>) {
    metrics::global().count_per_source(config.metrics.per_source);
    let (store, config) = (store.clone(), Arc::clone(config));
    metrics::global().read_sources_with(Arc::new(move || -> Counts {
        let (store, config) = (store.clone(), Arc::clone(&config));
        Box::pin(async move {
            let read = Arc::clone(&config);
            let reads = store
                .with(move |store| report::read_status(store, &read, None))
                .await
                .ok_or("the database thread stopped")?
                .map_err(|e| e.to_string())?;
            let rows = report::status_rows(&reads, &config);
            Ok(STATES
                .iter()
                .map(|&state| (state, rows.iter().filter(|r| r.state == state).count()))
                .collect())
        })
    }));
}

//! What adaptive polling saves: a week of a farm of publishers with mixed publishing rates,
//! polled by Tributary's own scheduling decisions (`Pace::adaptive`, `schedule::after_success`)
//! against a fixed 30-minute interval. Time is simulated (a week cannot be waited for); the
//! decisions are the daemon's. `cargo bench --bench adaptive`; `ADAPTIVE_SOURCES` sets the
//! farm's size (1,000), `ADAPTIVE_MIN` the `[poll] min_interval` in minutes (5).
//!
//! Prints requests made, and how long new items waited to be seen (mean and 90th percentile),
//! for both, per kind of publisher and in all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tributary::model::FeedHints;
use tributary::schedule::{Pace, after_success};

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// Kinds of publishers: name, share of the farm, mean gap between items (seconds).
const KINDS: [(&str, f64, i64); 5] = [
    ("breaking news (every ~10 min)", 0.1, 10 * MIN),
    ("newsroom (hourly)", 0.2, HOUR),
    ("blog (a few a day)", 0.3, 8 * HOUR),
    ("institute (weekly)", 0.3, WEEK),
    ("dormant (monthly)", 0.1, 30 * DAY),
];

/// Publication times (seconds from the start) with exponential gaps of mean `mean`, from a
/// year before the start (so the first poll sees a history, as a feed's items show it) to the
/// end.
fn publications(rng: &mut fastrand::Rng, mean: i64) -> Vec<i64> {
    let mut at = -365 * DAY;
    let mut times = Vec::new();
    loop {
        let gap = -(mean as f64) * (1.0 - rng.f64()).ln();
        at += gap.max(1.0) as i64;
        if at > WEEK {
            return times;
        }
        times.push(at);
    }
}

struct Result {
    requests: usize,
    delays: Vec<i64>,
}

/// Polls from 0 to a week, the next poll after each chosen by `next`; counts requests and,
/// for each item published in the week, how long until a poll saw it.
fn simulate(times: &[i64], mut next: impl FnMut(i64, &[i64]) -> i64) -> Result {
    let (mut now, mut requests, mut delays) = (0, 0, Vec::new());
    let mut seen = times.partition_point(|t| *t <= 0);
    while now <= WEEK {
        requests += 1;
        let known = times.partition_point(|t| *t <= now);
        for t in &times[seen..known] {
            delays.push(now - t.max(&0));
        }
        seen = known;
        let history = &times[known.saturating_sub(10)..known];
        now = next(now, history);
    }
    Result { requests, delays }
}

fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_750_000_000 + seconds, 0).unwrap_or_default()
}

fn summary(delays: &mut [i64]) -> (f64, i64) {
    if delays.is_empty() {
        return (0.0, 0);
    }
    delays.sort_unstable();
    let mean = delays.iter().sum::<i64>() as f64 / delays.len() as f64;
    (mean, delays[delays.len() * 9 / 10])
}

/// One line: requests and waits, fixed then adaptive.
fn row(name: &str, runs: &mut [(usize, Vec<i64>); 2]) {
    let (fixed_wait, fixed_p90) = summary(&mut runs[0].1);
    let (adaptive_wait, adaptive_p90) = summary(&mut runs[1].1);
    println!(
        "{name:<32} {:>9} {:>9} {:>6.0}%  {:>9.0}/{:<8} {:>9.0}/{:<8}",
        runs[0].0,
        runs[1].0,
        100.0 * (1.0 - runs[1].0 as f64 / runs[0].0 as f64),
        fixed_wait / 60.0,
        format!("{} min", fixed_p90 / 60),
        adaptive_wait / 60.0,
        format!("{} min", adaptive_p90 / 60),
    );
}

fn main() {
    let sources: usize = std::env::var("ADAPTIVE_SOURCES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let interval = Duration::from_secs(30 * 60);
    let min_minutes: u64 = std::env::var("ADAPTIVE_MIN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let (min, max) = (
        Duration::from_secs(min_minutes * 60),
        Duration::from_secs(86_400),
    );
    let hints = FeedHints::default();
    let mut rng = fastrand::Rng::with_seed(17);
    let mut totals = [(0usize, Vec::new()), (0usize, Vec::new())];
    println!(
        "a week, {sources} sources; fixed 30 min vs adaptive (min {min_minutes} min, max 1 day)\n\
         {:<32} {:>9} {:>9} {:>7}  {:>18} {:>18}",
        "kind", "fixed", "adaptive", "saved", "fixed wait (mean/p90)", "adaptive wait"
    );
    for (name, share, mean) in KINDS {
        let count = ((sources as f64) * share).round() as usize;
        let mut kind = [(0usize, Vec::new()), (0usize, Vec::new())];
        for _ in 0..count {
            let times = publications(&mut rng, mean);
            let fixed = simulate(&times, |now, _| now + interval.as_secs() as i64);
            let adaptive = simulate(&times, |now, history| {
                let dates: Vec<DateTime<Utc>> = history.iter().map(|t| instant(*t)).collect();
                let pace = Pace::adaptive(interval, &dates, min, max);
                let next = after_success(instant(now), pace, &hints, max);
                next.at.timestamp() - 1_750_000_000
            });
            for (slot, run) in kind.iter_mut().zip([fixed, adaptive]) {
                slot.0 += run.requests;
                slot.1.extend(run.delays);
            }
        }
        row(name, &mut kind);
        for (total, slot) in totals.iter_mut().zip(kind) {
            total.0 += slot.0;
            total.1.extend(slot.1);
        }
    }
    row("all", &mut totals);
}

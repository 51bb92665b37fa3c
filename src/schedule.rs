//! When each source is next polled, and why. Pure: every function takes `now` (and, where it
//! spreads load, a `jitter` in `[0, 1)`), so decisions are tested with tables, not clocks.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::model::{FeedHints, NextPoll, Reason};

/// The interval a source is polled at while it works, and why that one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The interval.
    pub interval: Duration,
    /// `Interval` (as configured), `Adaptive` or `Pushed`.
    pub reason: Reason,
}

impl Pace {
    /// The configured `interval`.
    pub fn configured(interval: Duration) -> Pace {
        Pace {
            interval,
            reason: Reason::Interval,
        }
    }

    /// A source whose hub pushes its items: `relaxed`, never more often than configured.
    pub fn pushed(configured: Duration, relaxed: Duration) -> Pace {
        Pace {
            interval: relaxed.max(configured),
            reason: Reason::Pushed,
        }
    }

    /// Adaptive polling: half the median gap between the newest ten of `dates` (when it
    /// publishes), clamped to `[min, max]`; the configured interval when fewer than three dates
    /// tell a pace.
    pub fn adaptive(
        configured: Duration,
        dates: &[DateTime<Utc>],
        min: Duration,
        max: Duration,
    ) -> Pace {
        let mut newest: Vec<DateTime<Utc>> = dates.to_vec();
        newest.sort_unstable_by(|a, b| b.cmp(a));
        newest.dedup();
        newest.truncate(10);
        let mut gaps: Vec<Duration> = newest
            .windows(2)
            .filter_map(|pair| (pair[0] - pair[1]).to_std().ok())
            .collect();
        if gaps.len() < 2 {
            return Pace::configured(configured);
        }
        gaps.sort_unstable();
        let middle = gaps.len() / 2;
        let median = if gaps.len() % 2 == 0 {
            (gaps[middle - 1] + gaps[middle]) / 2
        } else {
            gaps[middle]
        };
        Pace {
            interval: (median / 2).clamp(min, max.max(min)),
            reason: Reason::Adaptive,
        }
    }
}

/// After a successful poll (new content or 304): the pace's interval, stretched by the hints
/// up to `max_interval` (never shortened by them), then moved out of skipped hours and days.
pub fn after_success(
    now: DateTime<Utc>,
    pace: Pace,
    hints: &FeedHints,
    max_interval: Duration,
) -> NextPoll {
    let interval = pace.interval;
    let hinted = hints.min_interval.map(|h| h.min(max_interval));
    let (delay, reason) = match hinted {
        Some(h) if h > interval => (h, Reason::ServerHint),
        _ => (interval, pace.reason),
    };
    let at = later(now, delay);
    let latest = later(now, interval.max(max_interval));
    let allowed = first_allowed(at, hints, latest);
    if allowed > at {
        NextPoll {
            at: allowed,
            reason: Reason::SkipHours,
        }
    } else {
        NextPoll { at, reason }
    }
}

/// After the `failures`-th failure in a row: the interval doubled for each failure after the
/// first, up to `max_backoff`, stretched by up to a fifth by `jitter` so that sources failing
/// together do not retry together. Never sooner than the interval.
pub fn after_failure(
    now: DateTime<Utc>,
    interval: Duration,
    failures: u32,
    max_backoff: Duration,
    jitter: f64,
) -> NextPoll {
    let doublings = failures.saturating_sub(1).min(30);
    let backoff = interval
        .saturating_mul(1u32 << doublings)
        .min(max_backoff)
        .max(interval);
    let delay = backoff.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
    NextPoll {
        at: later(now, delay),
        reason: if doublings == 0 {
            Reason::Interval
        } else {
            Reason::Backoff
        },
    }
}

/// After a 429 or 503: not before the publisher's `Retry-After`, and not before the interval.
/// A rate limit is not a failure: it does not add to the backoff.
pub fn after_rate_limit(
    now: DateTime<Utc>,
    interval: Duration,
    retry_after: Option<DateTime<Utc>>,
) -> NextPoll {
    let regular = later(now, interval);
    match retry_after {
        Some(at) if at > regular => NextPoll {
            at,
            reason: Reason::RetryAfter,
        },
        _ => NextPoll {
            at: regular,
            reason: Reason::Interval,
        },
    }
}

/// The first moment from `at` outside the skipped hours and days, but no later than `latest`.
fn first_allowed(at: DateTime<Utc>, hints: &FeedHints, latest: DateTime<Utc>) -> DateTime<Utc> {
    let skipped = |t: DateTime<Utc>| {
        hints.skip_hours.contains(&t.hour())
            || hints
                .skip_days
                .contains(&t.weekday().num_days_from_monday())
    };
    let mut t = at;
    // A week of hours covers every combination; a feed that skips them all is ignored.
    for _ in 0..24 * 7 {
        if !skipped(t) {
            return t.min(latest);
        }
        let next_hour = t
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(t)
            + chrono::Duration::hours(1);
        t = next_hour;
    }
    at
}

/// `time + delay`, saturating rather than panicking on absurd configured durations.
pub(crate) fn later(time: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| time.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_pace_is_half_the_median_gap_clamped_and_needs_three_dates() {
        let t = |h: i64| at("2025-08-19T00:00:00Z") + chrono::Duration::hours(h);
        let (min, max) = (5 * MIN, DAY);
        let pace = |dates: &[DateTime<Utc>]| Pace::adaptive(30 * MIN, dates, min, max);
        // Every 4 hours (one odd gap of 20 h): median 4 h, so every 2 h.
        let steady = [t(0), t(4), t(8), t(12), t(32)];
        assert_eq!(
            pace(&steady),
            Pace {
                interval: 2 * HOUR,
                reason: Reason::Adaptive
            }
        );
        // Several a minute: the minimum.
        let busy: Vec<_> = (0..10)
            .map(|i| t(0) + chrono::Duration::seconds(i * 20))
            .collect();
        assert_eq!(pace(&busy).interval, min);
        // Once a month: the maximum.
        assert_eq!(pace(&[t(0), t(720), t(1440)]).interval, max);
        // Only the newest ten count; repeats and fewer than three dates tell nothing.
        let mut old_then_new: Vec<_> = (0..10).map(|i| t(1000 + i)).collect();
        old_then_new.extend((0..5).map(|i| t(i * 100)));
        assert_eq!(pace(&old_then_new).interval, 30 * MIN);
        assert_eq!(pace(&[t(0), t(0), t(5)]), Pace::configured(30 * MIN));
        // Pushed: relaxed, but never more often than configured.
        assert_eq!(Pace::pushed(30 * MIN, 6 * HOUR).interval, 6 * HOUR);
        assert_eq!(Pace::pushed(DAY, 6 * HOUR).interval, DAY);
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const MIN: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn success_waits_the_interval_or_a_longer_hint_capped_at_the_maximum() {
        let now = at("2025-08-19T10:00:00Z");
        let table = [
            (None, 30 * MIN, "2025-08-19T10:30:00Z", Reason::Interval),
            (
                Some(10 * MIN),
                30 * MIN,
                "2025-08-19T10:30:00Z",
                Reason::Interval,
            ),
            (
                Some(2 * HOUR),
                30 * MIN,
                "2025-08-19T12:00:00Z",
                Reason::ServerHint,
            ),
            (
                Some(7 * DAY),
                30 * MIN,
                "2025-08-20T10:00:00Z",
                Reason::ServerHint,
            ),
        ];
        for (hint, interval, expected, reason) in table {
            let hints = FeedHints {
                min_interval: hint,
                ..FeedHints::default()
            };
            let next = after_success(now, Pace::configured(interval), &hints, DAY);
            assert_eq!(
                next,
                NextPoll {
                    at: at(expected),
                    reason
                },
                "{hint:?}"
            );
        }
    }

    #[test]
    fn skipped_hours_and_days_push_the_poll_to_the_next_allowed_hour() {
        let now = at("2025-08-19T10:00:00Z"); // a Tuesday
        let hints = FeedHints {
            skip_hours: vec![10, 11, 12],
            ..FeedHints::default()
        };
        let next = after_success(now, Pace::configured(30 * MIN), &hints, DAY);
        assert_eq!(next.at, at("2025-08-19T13:00:00Z"));
        assert_eq!(next.reason, Reason::SkipHours);

        let hints = FeedHints {
            skip_days: vec![1], // Tuesday
            ..FeedHints::default()
        };
        let next = after_success(now, Pace::configured(30 * MIN), &hints, DAY);
        assert_eq!(next.at, at("2025-08-20T00:00:00Z"));

        let every_hour = FeedHints {
            skip_hours: (0..24).collect(),
            ..FeedHints::default()
        };
        let next = after_success(now, Pace::configured(30 * MIN), &every_hour, DAY);
        assert_eq!(
            next.at,
            at("2025-08-19T10:30:00Z"),
            "impossible hints are ignored"
        );
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let now = at("2025-08-19T10:00:00Z");
        let table = [
            (1, "2025-08-19T10:30:00Z", Reason::Interval),
            (2, "2025-08-19T11:00:00Z", Reason::Backoff),
            (3, "2025-08-19T12:00:00Z", Reason::Backoff),
            (4, "2025-08-19T14:00:00Z", Reason::Backoff),
            (6, "2025-08-20T02:00:00Z", Reason::Backoff),
            (7, "2025-08-20T10:00:00Z", Reason::Backoff),
            (500, "2025-08-20T10:00:00Z", Reason::Backoff),
        ];
        for (failures, expected, reason) in table {
            let next = after_failure(now, 30 * MIN, failures, DAY, 0.0);
            assert_eq!(
                next,
                NextPoll {
                    at: at(expected),
                    reason
                },
                "{failures}"
            );
        }
        let jittered = after_failure(now, 30 * MIN, 2, DAY, 0.5);
        assert_eq!(jittered.at, at("2025-08-19T11:06:00Z"));
    }

    #[test]
    fn rate_limits_wait_for_retry_after_without_backing_off() {
        let now = at("2025-08-19T10:00:00Z");
        let later = at("2025-08-19T12:00:00Z");
        assert_eq!(
            after_rate_limit(now, 30 * MIN, Some(later)),
            NextPoll {
                at: later,
                reason: Reason::RetryAfter
            }
        );
        assert_eq!(
            after_rate_limit(now, 30 * MIN, Some(at("2025-08-19T10:01:00Z"))).at,
            at("2025-08-19T10:30:00Z")
        );
        assert_eq!(
            after_rate_limit(now, 30 * MIN, None).reason,
            Reason::Interval
        );
    }

    #[test]
    fn reasons_round_trip_through_their_stored_names() {
        for reason in [
            Reason::Interval,
            Reason::ServerHint,
            Reason::SkipHours,
            Reason::Backoff,
            Reason::RetryAfter,
        ] {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
    }
}

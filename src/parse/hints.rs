//! What a feed says about how often to poll it: `sy:updatePeriod`, `skipHours`, `skipDays`.

use std::time::Duration;

use quick_xml::events::Event;

use crate::model::FeedHints;

/// Reads the polling hints RSS feeds put in their channel: `sy:updatePeriod` and
/// `sy:updateFrequency`, `skipHours` and `skipDays`. feed-rs reads `<ttl>` but not these.
/// Stops at the first item: hints live in the channel.
pub(super) fn scan_hints(text: &str) -> FeedHints {
    let mut hints = FeedHints::default();
    if !text.trim_start().starts_with('<') {
        return hints;
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut period, mut frequency) = (None::<u64>, 1u64);
    let mut current = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().into_inner().to_string();
                if name == "item" || name == "entry" {
                    break;
                }
                current = name;
            }
            Ok(Event::Text(t)) => {
                let value = t.xml10_content().trim().to_ascii_lowercase();
                match current.as_str() {
                    "updatePeriod" => {
                        period = match value.as_str() {
                            "hourly" => Some(3600),
                            "daily" => Some(86_400),
                            "weekly" => Some(7 * 86_400),
                            "monthly" => Some(30 * 86_400),
                            "yearly" => Some(365 * 86_400),
                            _ => period,
                        }
                    }
                    "updateFrequency" => {
                        frequency = value.parse().ok().filter(|f| *f > 0).unwrap_or(1)
                    }
                    "hour" => hints
                        .skip_hours
                        .extend(value.parse::<u32>().ok().filter(|h| *h < 24)),
                    "day" => hints.skip_days.extend(weekday(&value)),
                    _ => {}
                }
            }
            Ok(Event::End(_)) => current.clear(),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    hints.min_interval = period.map(|p| Duration::from_secs(p / frequency));
    hints
}

fn weekday(name: &str) -> Option<u32> {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .position(|d| *d == name)
    .map(|i| i as u32)
}

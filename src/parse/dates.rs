//! Feed dates, read as leniently as real feeds need.

use chrono::{DateTime, Utc};

/// A feed date, read as leniently as real feeds need: RFC 3339 and ISO 8601 (without a zone,
/// taken as UTC), RFC 822/2822 with full or wrong day names, full month names, two-digit years,
/// missing seconds and the zone abbreviations publishers use. `None` when nothing fits.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(date) = DateTime::parse_from_str(text, format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    let naive = text.trim_end_matches('Z');
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(date) = chrono::NaiveDateTime::parse_from_str(naive, format) {
            return Some(date.and_utc());
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    rfc822(text)
}

/// RFC 822 dates as feeds write them, normalized until chrono's strict parser accepts them.
fn rfc822(text: &str) -> Option<DateTime<Utc>> {
    // The day name is dropped, with or without its comma: it is often wrong, and it adds
    // nothing to the date.
    let mut parts: Vec<String> = text
        .split_whitespace()
        .flat_map(|p| p.split(','))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts
        .first()
        .is_some_and(|p| p.chars().all(char::is_alphabetic))
    {
        parts.remove(0);
    }
    if parts.len() < 4 {
        return None;
    }
    // Full month names to their first three letters.
    parts[1] = parts[1].chars().take(3).collect();
    // Two-digit years: 50–99 are 19xx, the rest 20xx.
    if let Ok(year) = parts[2].parse::<u32>() {
        if parts[2].len() == 2 {
            parts[2] = (if year >= 50 { 1900 + year } else { 2000 + year }).to_string();
        }
    }
    if parts[3].matches(':').count() == 1 {
        parts[3].push_str(":00");
    }
    let zone = parts.get(4).map(String::as_str).unwrap_or("+0000");
    let offset: String = match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" => "+0000".into(),
        "EST" => "-0500".into(),
        "EDT" => "-0400".into(),
        "CST" => "-0600".into(),
        "CDT" => "-0500".into(),
        "MST" => "-0700".into(),
        "MDT" => "-0600".into(),
        "PST" => "-0800".into(),
        "PDT" => "-0700".into(),
        "BST" | "CET" | "WEST" => "+0100".into(),
        "CEST" | "EET" | "SAST" => "+0200".into(),
        "EEST" | "MSK" => "+0300".into(),
        "IST" => "+0530".into(),
        "JST" | "KST" => "+0900".into(),
        "AEST" => "+1000".into(),
        "AEDT" => "+1100".into(),
        "NZST" => "+1200".into(),
        "NZDT" => "+1300".into(),
        other if other.starts_with(['+', '-']) => other.replace(':', ""),
        _ => return None,
    };
    let normalized = format!(
        "{} {} {} {} {offset}",
        parts[0], parts[1], parts[2], parts[3]
    );
    DateTime::parse_from_str(&normalized, "%d %b %Y %H:%M:%S %z")
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

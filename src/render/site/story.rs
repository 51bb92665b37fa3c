//! A story's page (`stories/<id>.html`, named after its lead): every version of it, each with
//! its publisher, time and title, and the words it has that the lead has not, and those it
//! leaves out. Linked from each version's item page.

use std::collections::HashSet;

use minijinja::{Environment, context};
use serde::Serialize;

use super::pages::{Frame, Page, page_info};
use super::{Entry, item_file};
use crate::model::StoredItem;
use crate::sanitize::{text_of_clean_html, web_url};
use crate::store::ItemRow;

/// The most differing words shown of a version, each way.
const MOST_WORDS: usize = 24;

/// The file of the story `lead` leads.
pub fn story_file(lead: &str) -> String {
    let item = item_file(lead);
    format!("stories/{}", item.trim_start_matches("items/"))
}

/// One version, as the page shows it.
#[derive(Serialize)]
struct Version<'a> {
    title: &'a str,
    publisher: &'a str,
    publisher_href: Option<String>,
    datetime: String,
    date: String,
    original: Option<&'a str>,
    lead: bool,
    similarity: String,
    adds: Vec<String>,
    leaves_out: Vec<String>,
}

/// The page of the story whose versions are `rows` (the lead first), each listed as in
/// `entries`.
pub fn story_page(
    env: &Environment<'_>,
    frame: &Frame<'_>,
    rows: &[ItemRow],
    entries: &[Entry],
) -> Result<Page, minijinja::Error> {
    let Some(lead) = rows.first() else {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "a story without versions",
        ));
    };
    let lead_words = words(&lead.item);
    let lead_set: HashSet<&str> = lead_words.iter().map(String::as_str).collect();
    let versions: Vec<Version<'_>> = rows
        .iter()
        .zip(entries)
        .enumerate()
        .map(|(n, (row, entry))| {
            let own = words(&row.item);
            let own_set: HashSet<&str> = own.iter().map(String::as_str).collect();
            let similarity = lead
                .item
                .story
                .iter()
                .find(|v| v.row == row.id)
                .map_or(1.0, |v| v.similarity);
            Version {
                title: &entry.title,
                publisher: &entry.publisher,
                publisher_href: entry.publisher_href.clone(),
                datetime: entry.datetime.clone(),
                date: format!("{}, {}", entry.date, entry.time),
                original: row
                    .item
                    .item
                    .link
                    .as_deref()
                    .filter(|l| web_url(l).is_some()),
                lead: n == 0,
                similarity: format!("{similarity:.2}"),
                adds: if n == 0 {
                    Vec::new()
                } else {
                    missing(&own, &lead_set)
                },
                leaves_out: if n == 0 {
                    Vec::new()
                } else {
                    missing(&lead_words, &own_set)
                },
            }
        })
        .collect();
    let path = story_file(&lead.item.id);
    let heading = entries
        .first()
        .map_or_else(String::new, |e| e.title.clone());
    let description = format!(
        "{} versions of one story, by each publisher.",
        versions.len()
    );
    let page = page_info(
        frame,
        &path,
        format!("{heading} — {} versions", versions.len()),
        heading,
        Some(description),
    );
    let html = env
        .get_template("story.html")?
        .render(context! { page, versions })?;
    Ok((path, html))
}

/// The words of `stored`'s title and text, lower-cased, in order.
fn words(stored: &StoredItem) -> Vec<String> {
    let item = &stored.item;
    let text = item.content.as_ref().or(item.summary.as_ref()).map(|t| {
        if t.is_html {
            text_of_clean_html(&t.body)
        } else {
            t.body.clone()
        }
    });
    let title = item.title.as_deref().unwrap_or_default();
    [title, text.as_deref().unwrap_or_default()]
        .iter()
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The words of `these` that `others` lacks, each once, in order, at most [`MOST_WORDS`].
fn missing(these: &[String], others: &HashSet<&str>) -> Vec<String> {
    let mut seen = HashSet::new();
    these
        .iter()
        .filter(|w| !others.contains(w.as_str()) && seen.insert(w.as_str()))
        .take(MOST_WORDS)
        .cloned()
        .collect()
}

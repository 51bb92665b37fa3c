//! A web page without a feed → items, by the CSS selectors `[sources.html]` gives.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use scraper::{ElementRef, Html};
use url::Url;

use super::api::identified;
use super::dates::parse_date;
use super::entry::Normalized;
use super::{HtmlFields, PageField};
use crate::model::{Author, Item, Text};
use crate::sanitize::{MAX_NESTING, fold_whitespace, limit_nesting};

/// The items of a page, and how many matches of the item selector were left out for want of
/// a title or a link.
pub(super) fn read_page_items(
    text: &str,
    fields: &HtmlFields,
    base: Option<&Url>,
) -> (Vec<Normalized>, usize) {
    let page = Html::parse_document(&limit_nesting(text, MAX_NESTING));
    let mut left_out = 0;
    let mut items = Vec::new();
    for element in page.select(&fields.item).take(super::MAX_ITEMS) {
        match item(element, fields, base) {
            Some(item) => items.push(identified(item, base)),
            None => left_out += 1,
        }
    }
    (items, left_out)
}

fn item(element: ElementRef<'_>, fields: &HtmlFields, base: Option<&Url>) -> Option<Item> {
    let text = |field: &Option<PageField>| field.as_ref().and_then(|f| value(element, f));
    let title = text(&Some(fields.title.clone())).map(|t| fold_whitespace(&t));
    let link = text(&Some(fields.link.clone())).and_then(|l| {
        let l = l.trim();
        base.map_or_else(|| Url::parse(l).ok(), |b| b.join(l).ok())
    });
    let (Some(title), Some(link)) = (title.filter(|t| !t.is_empty()), link) else {
        return None;
    };
    let published = text(&fields.date).and_then(|d| date(&d, fields.date_format.as_deref()));
    Some(Item {
        link: Some(link.to_string()),
        title: Some(title),
        summary: text(&fields.summary).map(|body| Text {
            body: fold_whitespace(&body),
            is_html: false,
        }),
        content: fields
            .content
            .as_ref()
            .and_then(|f| matched(element, f))
            .map(|found| Text {
                body: found.inner_html(),
                is_html: true,
            }),
        authors: text(&fields.author)
            .map(|name| fold_whitespace(&name))
            .filter(|name| !name.is_empty())
            .map(|name| Author {
                name,
                ..Author::default()
            })
            .into_iter()
            .collect(),
        published,
        ..Item::default()
    })
}

/// The first element a field's selector matches within the item (the item itself when the
/// selector is empty, as in "@href").
fn matched<'a>(element: ElementRef<'a>, field: &PageField) -> Option<ElementRef<'a>> {
    match &field.selector {
        Some(selector) => element.select(selector).next(),
        None => Some(element),
    }
}

/// A field's value: the attribute it names, else the text of what its selector matches.
fn value(element: ElementRef<'_>, field: &PageField) -> Option<String> {
    let found = matched(element, field)?;
    let value = match &field.attribute {
        Some(name) => found.value().attr(name)?.to_string(),
        None => found.text().collect::<String>(),
    };
    (!value.trim().is_empty()).then_some(value)
}

/// A date in `format` (chrono's strftime, a date alone meaning its midnight UTC), else read by
/// the lenient feed date parser.
fn date(text: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let Some(format) = format else {
        return parse_date(text);
    };
    DateTime::parse_from_str(text, format)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, format)
                .ok()
                .map(|d| d.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

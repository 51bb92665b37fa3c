//! A JSON API's answer → items, by the dotted paths `[sources.json]` gives for each field.

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use url::Url;

use super::JsonFields;
use super::entry::{Normalized, TextBases};
use super::{ParseError, dates::parse_date};
use crate::identity::identity_key;
use crate::model::{Author, Item, Text};
use crate::sanitize::{fit_to_publish, fold_whitespace};

/// The items of a JSON API's answer, each with its bases and the URLs left out of it. An
/// element of the items array that is not an object, or that has neither title nor link, is
/// left out. The answer is read as it streams: everything beside the path to the items is
/// skipped unread, and each item is turned into an `Item` before the next is read, so that
/// memory holds the answer's text and the items, never a tree of the whole answer (which takes
/// some thirty times the text).
pub(super) fn read_api_items(
    text: &str,
    fields: &JsonFields,
    base: Option<&Url>,
) -> Result<Vec<Normalized>, ParseError> {
    let steps: Vec<&str> = fields.items.split('.').filter(|s| !s.is_empty()).collect();
    let mut items = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let found = ItemsAt {
        steps: &steps,
        each: &mut |element: Value| {
            if items.len() < super::MAX_ITEMS
                && let Some(item) = item(&element, fields, base)
            {
                items.push(item);
            }
        },
    }
    .deserialize(&mut deserializer)
    .and_then(|found| deserializer.end().map(|()| found))
    .map_err(|e| ParseError::Malformed(format!("not JSON: {e}")))?;
    if !found {
        let path = if fields.items.is_empty() {
            "the top level"
        } else {
            fields.items.as_str()
        };
        return Err(ParseError::Malformed(format!(
            "no array of items at {path}"
        )));
    }
    Ok(items)
}

/// Reads a JSON value, following `steps` (object keys, array indexes) down to an array and
/// handing each of its elements to `each`; skips everything else. Whether the array was found.
struct ItemsAt<'s, 'f> {
    steps: &'s [&'s str],
    each: &'f mut dyn FnMut(Value),
}

impl<'de> DeserializeSeed<'de> for ItemsAt<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsAt<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let Some((step, rest)) = self.steps.split_first() else {
            while let Some(element) = seq.next_element::<Value>()? {
                (self.each)(element);
            }
            return Ok(true);
        };
        let wanted = step.parse::<usize>().ok();
        let mut found = false;
        let mut index = 0;
        let mut seed = Some(ItemsAt {
            steps: rest,
            each: self.each,
        });
        loop {
            let more = match (wanted == Some(index)).then(|| seed.take()).flatten() {
                Some(seed) => seq.next_element_seed(seed)?.inspect(|f| found = *f),
                None => seq.next_element::<IgnoredAny>()?.map(|_| false),
            };
            if more.is_none() {
                return Ok(found);
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Some((step, rest)) = self.steps.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(false);
        };
        let mut found = false;
        let mut seed = Some(ItemsAt {
            steps: rest,
            each: self.each,
        });
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            // Of duplicate keys the first is read (a tree of the answer keeps the last): rare.
            match (key == *step).then(|| seed.take()).flatten() {
                Some(seed) => found = map.next_value_seed(seed)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

fn item(element: &Value, fields: &JsonFields, base: Option<&Url>) -> Option<Normalized> {
    element.as_object()?;
    let text = |path: &Option<String>| {
        path.as_deref()
            .and_then(|p| at(element, p))
            .and_then(scalar)
            .filter(|s| !s.trim().is_empty())
    };
    let link = text(&Some(fields.link.clone()))
        .and_then(|l| base.map_or_else(|| Url::parse(l.trim()).ok(), |b| b.join(l.trim()).ok()))
        .map(String::from);
    let title = text(&Some(fields.title.clone())).map(|t| fold_whitespace(&t));
    if title.is_none() && link.is_none() {
        return None;
    }
    let date = fields
        .date
        .as_deref()
        .and_then(|p| at(element, p))
        .and_then(date);
    let item = Item {
        guid: text(&fields.id),
        link,
        title,
        summary: text(&fields.summary).map(|body| Text {
            body,
            is_html: false,
        }),
        content: text(&fields.content).map(|body| Text {
            body,
            is_html: true,
        }),
        authors: text(&fields.author)
            .map(|name| Author {
                name: fold_whitespace(&name),
                ..Author::default()
            })
            .into_iter()
            .collect(),
        published: date,
        ..Item::default()
    };
    Some(identified(item, base))
}

/// An item made from fields (of an API's answer, of a page) made fit to publish and
/// identified: by its id, else its link, else its title and date. Relative URLs in its texts
/// resolve against its own page, else `base`.
pub(super) fn identified(mut item: Item, base: Option<&Url>) -> Normalized {
    let dropped = fit_to_publish(&mut item);
    item.key = identity_key(
        item.guid.as_deref(),
        item.link.as_deref(),
        item.title.as_deref(),
        item.published,
    );
    let page = item.link.as_deref().and_then(|l| Url::parse(l).ok());
    let resolve_against = page.or_else(|| base.cloned());
    let bases = TextBases {
        summary: resolve_against.clone(),
        content: resolve_against,
    };
    (item, bases, dropped)
}

/// The value at a dotted path (`data.releases`, `links.canonical`; `items.0` for an array's
/// first element); the value itself for the empty path.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|step| !step.is_empty())
        .try_fold(value, |value, step| match value {
            Value::Object(map) => map.get(step),
            Value::Array(list) => list.get(step.parse::<usize>().ok()?),
            _ => None,
        })
}

/// A string, or a number or boolean written as one.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A date as APIs write them: text in any form the feed date parser reads, or Unix seconds
/// (milliseconds when the number is that large).
fn date(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match value {
        Value::String(s) => parse_date(s),
        Value::Number(n) => {
            let n = n.as_i64()?;
            let seconds = if n > 100_000_000_000 { n / 1000 } else { n };
            chrono::DateTime::from_timestamp(seconds, 0)
        }
        _ => None,
    }
}

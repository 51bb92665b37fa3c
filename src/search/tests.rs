//! The matcher, the index's words and the plans, on items built here.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::model::{Author, Category, Item, Publisher, Text};

fn item(title: &str, html: &str, link: &str, tags: &[&str], day: u32) -> StoredItem {
    let sort_at = Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap();
    StoredItem {
        id: "x".into(),
        item: Item {
            title: Some(title.into()),
            link: Some(link.into()),
            content: Some(Text {
                body: html.into(),
                is_html: true,
            }),
            authors: vec![Author {
                name: "Zoë Martin".into(),
                ..Author::default()
            }],
            categories: vec![Category::new("Transport")],
            ..Item::default()
        },
        first_seen: sort_at,
        publisher: Publisher {
            name: "City Council".into(),
            feed_url: "https://council.example/feed".into(),
            site: None,
            id: None,
            description: None,
        },
        also_via: Vec::new(),
        story: Vec::new(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        sort_at,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

fn finds(query: &str, indexed: &Indexed) -> bool {
    Query::parse(query).unwrap().matches(indexed, now())
}

#[test]
fn every_construct_matches_what_a_reader_sees() {
    let notice = Indexed::of(
        &item(
            "Council notice: new cycle routes",
            "<p>The <b>café</b> on Main Street closes for the works.</p>",
            "https://www.council.example/news/1",
            &["Open Data"],
            28,
        ),
        "https://council.example/feed",
    );
    for (query, expected) in [
        ("cycle routes", true),
        ("cycle trains", false),
        ("\"cycle routes\"", true),
        ("\"routes cycle\"", false),
        ("cafe", true),
        ("CAFÉ main", true),
        ("cycle -cafe", false),
        ("cycle -\"main road\"", true),
        ("trains OR cafe", true),
        ("(trains OR buses) cycle", false),
        ("title:notice", true),
        ("title:cafe", false),
        ("author:zoe", true),
        ("source:council", true),
        ("source:\"city council\"", true),
        ("source:cycle", false),
        ("tag:\"open data\"", true),
        ("tag:open", false),
        ("tag:transport", true),
        ("open data", true),
        ("site:council.example", true),
        ("site:www.council.example", true),
        ("site:example", true),
        ("site:uncil.example", false),
        ("cycle after:2026-11-28", true),
        ("cycle after:2026-11-29", false),
        ("cycle before:2026-11-29", true),
        ("cycle after:7d", true),
        ("cycle after:2d", false),
    ] {
        assert_eq!(finds(query, &notice), expected, "{query}");
    }
}

#[test]
fn tags_of_sources_in_the_config_widen_tag() {
    let indexed = Indexed::of(
        &item("A", "b", "https://x.example/", &[], 1),
        "https://feed/a",
    );
    let query = Query::parse("tag:press a").unwrap();
    assert!(!query.matches(&indexed, now()));
    let sources = [("https://feed/a".to_string(), vec!["Press".to_string()])];
    assert!(query.with_source_tags(&sources).matches(&indexed, now()));
    let elsewhere = Query::parse("a")
        .unwrap()
        .within_sources(vec!["https://feed/b".into()]);
    assert!(!elsewhere.matches(&indexed, now()));
}

#[test]
fn the_index_holds_the_same_words_as_the_matcher() {
    let indexed = Indexed::of(
        &item(
            "Héllo World",
            "<p>a &amp; b</p>",
            "https://x.example/",
            &["T"],
            1,
        ),
        "u",
    );
    let [title, author, publisher, body] = indexed.columns();
    assert_eq!(title, "hello world");
    assert_eq!(author, "zoe martin");
    assert_eq!(publisher, "city council");
    assert!(body.starts_with("a b t transport zztag"), "{body}");
    let vector = indexed.tsvector();
    assert!(
        vector.starts_with("'hello':1A 'world':2A 'zoe':4B 'martin':5B 'city':7C"),
        "{vector}"
    );
}

#[test]
fn plans_quote_every_word_and_keep_what_the_index_cannot_answer_apart() {
    let plan = |q: &str, d| Query::parse(q).unwrap().plan(d, now());
    assert_eq!(
        plan("a \"b c\" -d title:e", Dialect::Fts5).ranked.unwrap(),
        "(\"a\" AND \"b c\" AND title : \"e\") NOT (\"d\")"
    );
    assert_eq!(
        plan("a \"b c\" -d title:e", Dialect::Tsquery)
            .ranked
            .unwrap(),
        "(('a') & ('b' <-> 'c') & ('e':A)) & !(('d'))"
    );
    let dated = plan("(a OR b) after:2026-11-30", Dialect::Fts5);
    assert_eq!(dated.ranked.unwrap(), "((\"a\" OR \"b\"))");
    assert_eq!(dated.conditions, vec![Condition::SortedFrom(1_795_996_800)]);
    // An exclusion OR'd with a date cannot be one expression: each part is a condition.
    let mixed = plan("a (b OR before:2026-11-30)", Dialect::Fts5);
    assert_eq!(
        mixed.conditions,
        vec![Condition::Any(vec![
            Condition::Found("\"b\"".into()),
            Condition::SortedBefore(1_795_996_800)
        ])]
    );
    let unranked = plan("after:7d -a", Dialect::Fts5);
    assert_eq!(unranked.ranked, None);
    assert_eq!(unranked.conditions.len(), 2);
}

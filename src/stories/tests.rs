use super::*;
use crate::model::{Item, Text};

fn item(title: &str, html: &str) -> Sentences {
    let item = Item {
        title: Some(title.into()),
        content: Some(Text {
            body: html.into(),
            is_html: true,
        }),
        ..Item::default()
    };
    Sentences::of(&item, None)
}

const STATEMENT: &str = "<p>The council has approved a plan to plant ten thousand trees along \
    the river by the end of next year.</p><p>Residents will be asked to choose the species at \
    three public meetings in the spring, and volunteers can sign up on the council website.</p>";

#[test]
fn copies_share_keys_and_their_text_whatever_the_title_punctuation_or_layout() {
    let original = item("Ten thousand trees for the river", STATEMENT);
    let retyped = item(
        "Council\u{2019}s river plan: 10,000 trees",
        "The council has approved a plan to plant ten thousand trees along the river by the end \
         of next year \u{2014} residents will be asked to choose the species at three public \
         meetings in the spring<br>and volunteers can sign up on the council website\u{2026}",
    );
    let none = HashSet::new();
    assert!(
        original
            .keys(&none)
            .iter()
            .any(|k| retyped.keys(&none).contains(k))
    );
    assert!(similarity(&original, &retyped, &none) > 0.8);
    // A teaser is wholly in its article.
    let teaser = item(
        "Trees",
        "<p>The council has approved a plan to plant ten thousand trees along the river [\u{2026}]</p>",
    );
    assert_eq!(similarity(&teaser, &original, &none), 1.0);
}

#[test]
fn a_shared_phrase_is_not_a_story_and_short_texts_are_never_joined() {
    let none = HashSet::new();
    let other = item(
        "Bridge closed",
        "<p>The council has approved a plan to close the old bridge to lorries from Monday, \
         after inspectors found cracks in two of its arches during a routine survey.</p>",
    );
    let statement = item("Ten thousand trees", STATEMENT);
    assert!(similarity(&statement, &other, &none) < 0.2);
    let short = item("x", "<p>The council has approved a plan</p>");
    assert_eq!(similarity(&short, &statement, &none), 0.0);
}

#[test]
fn boilerplate_is_what_recurs_under_different_titles() {
    let about = "<p>About the Institute: an independent research organisation founded in 1987 \
                 that studies coastal economies.</p>";
    let one = item(
        "Report on ports",
        &format!("<p>Ports handled more freight.</p>{about}"),
    );
    let two = item(
        "Report on fishing",
        &format!("<p>Fishing fleets shrank.</p>{about}"),
    );
    let again = item(
        "Report on ports",
        &format!("<p>Ports handled more freight.</p>{about}"),
    );
    let found = boilerplate([&one, &two]);
    assert_eq!(found.len(), 1);
    assert!(two.body().iter().any(|s| found.contains(&s.hash)));
    // The same story stored twice repeats all of itself, and none of it is boilerplate.
    assert!(boilerplate([&one, &again]).is_empty());
}

#[test]
fn joining_takes_the_most_similar_story_without_a_copy_from_the_same_source_or_a_never() {
    let member = |item, source| Member {
        item,
        source,
        link: None,
    };
    let neighbours = [
        Neighbour {
            item: 1,
            story: 1,
            similarity: 0.9,
        },
        Neighbour {
            item: 2,
            story: 2,
            similarity: 0.7,
        },
        Neighbour {
            item: 3,
            story: 3,
            similarity: 0.4,
        },
    ];
    let mut members = HashMap::new();
    members.insert(1, vec![member(1, "a"), member(4, "new")]);
    members.insert(2, vec![member(2, "b")]);
    members.insert(3, vec![member(3, "c")]);
    let new = member(9, "new");
    let settings = Settings::default();
    // Story 1 already has an item of this source.
    assert_eq!(
        join(&new, &neighbours, &members, &settings).map(|n| n.item),
        Some(2)
    );
    let never = Settings {
        never: vec![Never::Sources("b".into(), "new".into())],
        ..Settings::default()
    };
    assert_eq!(join(&new, &neighbours, &members, &never), None);
    let lower = Settings {
        similarity: 0.3,
        never: never.never.clone(),
        ..Settings::default()
    };
    assert_eq!(
        join(&new, &neighbours, &members, &lower).map(|n| n.item),
        Some(3)
    );
}

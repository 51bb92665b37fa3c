//! Stories: the evaluation set (`tests/fixtures/stories/`), grouped the way the store groups
//! items as they arrive, scored by the pairs it joins.

use std::collections::{HashMap, HashSet};

use tributary::model::{Item, Text};
use tributary::stories::{self, Member, Neighbour, Sentences, Settings};

#[derive(serde::Deserialize)]
struct Set {
    items: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    id: i64,
    source: String,
    title: String,
    html: String,
    published: i64,
    link: Option<String>,
    story: Option<String>,
}

fn set() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stories/set.json"
    );
    let text = std::fs::read_to_string(path).expect("the evaluation set");
    serde_json::from_str::<Set>(&text).expect("set.json").items
}

/// How many of a source's latest items tell its boilerplate, as the store reads them.
const HISTORY: usize = 50;

/// Each item's story lead, grouping the items in the order they arrive: keys looked up among
/// the earlier items of other sources within the window, compared, joined.
fn grouped(cases: &[Case], settings: &Settings) -> HashMap<i64, i64> {
    let texts: Vec<Sentences> = cases
        .iter()
        .map(|c| {
            let item = Item {
                title: Some(c.title.clone()),
                content: Some(Text {
                    body: c.html.clone(),
                    is_html: true,
                }),
                ..Item::default()
            };
            Sentences::of(&item, None)
        })
        .collect();
    let mut by_key: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut lead: HashMap<i64, i64> = HashMap::new();
    let mut history: HashMap<&str, Vec<usize>> = HashMap::new();
    let boilerplate = |history: &HashMap<&str, Vec<usize>>, source: &str| {
        let mine = history.get(source).map(Vec::as_slice).unwrap_or_default();
        let latest = &mine[mine.len().saturating_sub(HISTORY)..];
        stories::boilerplate(latest.iter().map(|&n| &texts[n]))
    };
    for (n, case) in cases.iter().enumerate() {
        history.entry(&case.source).or_default().push(n);
        let mine = boilerplate(&history, &case.source);
        let keys = texts[n].keys(&mine);
        let mut found: Vec<usize> = keys
            .iter()
            .flat_map(|k| by_key.get(k).into_iter().flatten().copied())
            .filter(|&m| cases[m].source != case.source)
            .filter(|&m| (cases[m].published - case.published).abs() <= settings.within_secs)
            .collect();
        found.sort_unstable();
        found.dedup();
        let neighbours: Vec<Neighbour> = found
            .iter()
            .map(|&m| {
                let mut both = boilerplate(&history, &cases[m].source);
                both.extend(&mine);
                Neighbour {
                    item: cases[m].id,
                    story: lead[&cases[m].id],
                    similarity: stories::similarity(&texts[n], &texts[m], &both),
                }
            })
            .collect();
        let members: HashMap<i64, Vec<Member<'_>>> = neighbours
            .iter()
            .map(|nb| {
                let of_story = cases
                    .iter()
                    .filter(|c| lead.get(&c.id) == Some(&nb.story))
                    .map(|c| Member {
                        item: c.id,
                        source: &c.source,
                        link: c.link.as_deref(),
                    })
                    .collect();
                (nb.story, of_story)
            })
            .collect();
        let new = Member {
            item: case.id,
            source: &case.source,
            link: case.link.as_deref(),
        };
        let story =
            stories::join(&new, &neighbours, &members, settings).map_or(case.id, |nb| nb.story);
        lead.insert(case.id, story);
        for key in keys {
            by_key.entry(key).or_default().push(n);
        }
    }
    lead
}

/// Precision and recall of the pairs of items of different sources joined.
fn scored(cases: &[Case], lead: &HashMap<i64, i64>) -> (f64, f64, Vec<String>) {
    let (mut joined, mut right, mut wanted) = (0, 0, 0);
    let mut wrong = Vec::new();
    for (i, a) in cases.iter().enumerate() {
        for b in &cases[i + 1..] {
            if a.source == b.source {
                continue;
            }
            let same = a.story.is_some() && a.story == b.story;
            let together = lead[&a.id] == lead[&b.id];
            wanted += usize::from(same);
            joined += usize::from(together);
            right += usize::from(same && together);
            if same != together {
                wrong.push(format!(
                    "{} {:?} ({}) / {:?} ({})",
                    if together { "joined" } else { "missed" },
                    a.title,
                    a.source,
                    b.title,
                    b.source
                ));
            }
        }
    }
    let precision = if joined == 0 {
        1.0
    } else {
        right as f64 / joined as f64
    };
    (precision, right as f64 / wanted.max(1) as f64, wrong)
}

#[test]
fn the_evaluation_set_is_grouped_with_precision_and_recall_on_target() {
    let cases = set();
    let settings = Settings::default();
    let (precision, recall, wrong) = scored(&cases, &grouped(&cases, &settings));
    println!(
        "stories evaluation at similarity {}: precision {precision:.3}, recall {recall:.3} ({} items)",
        settings.similarity,
        cases.len()
    );
    for line in &wrong {
        println!("  {line}");
    }
    assert!(precision >= 0.97, "precision {precision:.3}");
    assert!(recall >= 0.90, "recall {recall:.3}");
}

#[test]
fn the_threshold_trades_precision_for_recall() {
    let cases = set();
    let mut seen = HashSet::new();
    for similarity in [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
        let settings = Settings {
            similarity,
            ..Settings::default()
        };
        let (precision, recall, _) = scored(&cases, &grouped(&cases, &settings));
        println!("similarity {similarity}: precision {precision:.3}, recall {recall:.3}");
        seen.insert((precision * 1000.0) as i64 + (recall * 1000.0) as i64 * 10_000);
    }
    // A threshold that changed nothing would be no threshold.
    assert!(seen.len() > 1);
}

//! Stories: the evaluation set (`tests/fixtures/stories/`), grouped the way the store groups
//! items as they arrive, scored by the pairs it joins; then four publishers of one statement
//! polled for real, and what the merged feeds, the site and the commands make of it.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;

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

// ---- End to end: real polls of publishers served on 127.0.0.1 --------------------------------

/// Each ministry's news of its own: four different stories.
const OWN_NEWS: [(&str, &str); 4] = [
    (
        "Harvest festival returns",
        "<p>The harvest festival returns to the market square on \
      Saturday with forty stalls, a brass band and a competition for the largest pumpkin.</p>",
    ),
    (
        "Road resurfacing in December",
        "<p>Crews will resurface the coast road between the two \
      bridges overnight during the first week of December; diversions will be signed.</p>",
    ),
    (
        "New school opens its doors",
        "<p>Pupils arrived at the new primary school in Eastfield \
      this morning, three years after parents began campaigning for it to be built.</p>",
    ),
    (
        "Ferry timetable for winter",
        "<p>The winter ferry timetable starts on Sunday, with two \
      fewer crossings a day on weekdays and an extra late boat on Fridays and Saturdays.</p>",
    ),
];

/// Each ministry's version of the statement (each retitled, one wrapped in its own header,
/// one with its quotes and dashes retyped), beside news of its own.
fn ministries(server: &FeedServer, versions: &[(&str, &str, &str)]) -> String {
    let names = [
        "Ministry North",
        "Ministry South",
        "Ministry East",
        "Ministry West",
    ];
    let mut sources = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let path = format!("/m{n}.xml");
        let (title, body) = OWN_NEWS[n];
        let mut items = vec![with_body(
            &format!("own{n}"),
            title,
            body,
            "Mon, 30 Nov 2026 09:00:00 GMT",
        )];
        if let Some((title, body, date)) = versions.get(n) {
            items.push(with_body(&format!("joint{n}"), title, body, date));
        }
        server.serve(&path, rss(name, &format!("https://m{n}.example/"), &items));
        sources.push((name.to_string(), path));
    }
    let sources: Vec<(&str, &str)> = sources
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    config_with_sources(server, &sources)
}

fn four_versions() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "Joint plan to restore the river's salmon",
            JOINT_STATEMENT.to_string(),
            "Tue, 01 Dec 2026 10:00:00 GMT",
        ),
        (
            "Salmon: governments agree river plan",
            JOINT_STATEMENT.to_string(),
            "Tue, 01 Dec 2026 10:20:00 GMT",
        ),
        (
            "Statement on the river",
            format!(
                "<p>This statement is published on behalf of the four governments.</p>{JOINT_STATEMENT}"
            ),
            "Tue, 01 Dec 2026 11:00:00 GMT",
        ),
        (
            "River plan \u{2013} salmon",
            JOINT_STATEMENT
                .replace('\'', "\u{2019}")
                .replace(", and", " \u{2014} and"),
            "Tue, 01 Dec 2026 12:00:00 GMT",
        ),
    ]
}

/// `versions` as `ministries` takes them.
fn as_refs<'a>(
    versions: &'a [(&'static str, String, &'static str)],
) -> Vec<(&'static str, &'a str, &'static str)> {
    versions
        .iter()
        .map(|(t, b, d)| (*t, b.as_str(), *d))
        .collect()
}

const OUTPUTS: &str = "
[stories]
enabled = true

[[rules]]
when = { reported_by_at_least = 3 }
action = \"tag\"
tag = \"widely covered\"

[[outputs]]
path = \"public/south.xml\"
sources = [\"Ministry South\"]

[[outputs]]
path = \"public/widely.xml\"
tags = [\"widely covered\"]
stories = \"all\"

[[outputs]]
path = \"public/feed.rss\"
provenance = true

[[outputs]]
path = \"public/feed.json\"

[[outputs]]
path = \"public/all.xml\"
stories = \"all\"
";

#[tokio::test]
async fn four_publishers_of_one_statement_make_one_entry_that_names_the_other_three() {
    let server = FeedServer::start().await;
    let versions = four_versions();
    let borrowed = as_refs(&versions);
    let mut config = ministries(&server, &borrowed)
        .replace("max_items = 100", "max_items = 100\nprovenance = true");
    config.push_str(OUTPUTS);
    let ws = Workspace::new(&config);
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // Whichever ministry was stored first leads the story.
    let (lead_title, lead_publisher): (String, String) = ws
        .db()
        .query_row(
            "SELECT i.title, s.name FROM items i JOIN sources s ON s.id = i.source_id
             WHERE i.id = (SELECT DISTINCT story FROM stories)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let statement_titles: Vec<&str> = versions.iter().map(|(t, _, _)| *t).collect();
    // Atom, RSS and JSON Feed: the four own items, and the statement once, under its lead.
    for path in ["public/feed.xml", "public/feed.rss", "public/feed.json"] {
        let titles = feed_titles(&ws, path);
        assert_eq!(titles.len(), 5, "{path}: {titles:?}");
        let shown: Vec<&String> = titles
            .iter()
            .filter(|t| statement_titles.contains(&t.as_str()))
            .collect();
        assert_eq!(shown, [&lead_title], "{path}");
    }
    let others: Vec<&str> = [
        "Ministry North",
        "Ministry South",
        "Ministry East",
        "Ministry West",
    ]
    .into_iter()
    .filter(|m| *m != lead_publisher)
    .collect();
    let atom = ws.feed("public/feed.xml");
    let lead = atom
        .entries
        .iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == lead_title))
        .unwrap();
    let provenance = text_of(lead);
    let reported = provenance
        .split("Also reported by")
        .nth(1)
        .expect(&provenance);
    for other in &others {
        assert!(reported.contains(other), "{other} in {provenance}");
    }
    assert!(!reported.contains(lead_publisher.as_str()), "{provenance}");
    let links: Vec<&str> = lead
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("related"))
        .map(|l| l.href.as_str())
        .collect();
    assert_eq!(links.len(), 3, "{links:?}");
    for link in &links {
        assert!(
            reported.contains(&format!("href=\"{link}\"")),
            "{link} in {provenance}"
        );
    }
    let rss = std::fs::read_to_string(ws.path("public/feed.rss")).unwrap();
    assert_eq!(rss.matches("Also reported by").count(), 1, "{rss}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("public/feed.json")).unwrap())
            .unwrap();
    let with_story: Vec<&serde_json::Value> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["_tributary"]["story"].is_null())
        .collect();
    assert_eq!(with_story.len(), 1);
    let members = with_story[0]["_tributary"]["story"]["members"]
        .as_array()
        .unwrap();
    let publishers: Vec<&str> = members
        .iter()
        .map(|m| m["publisher"].as_str().unwrap())
        .collect();
    assert_eq!(publishers.len(), 4);
    assert_eq!(publishers[0], lead_publisher);
    assert!(
        members[1..]
            .iter()
            .all(|m| m["similarity"].as_f64().unwrap() >= 0.5)
    );

    // An output of one source keeps its version, whoever leads the story.
    let south = feed_titles(&ws, "public/south.xml");
    assert_eq!(south.len(), 2, "{south:?}");
    assert!(south.contains(&versions[1].0.to_string()), "{south:?}");
    // `stories = "all"` keeps every version.
    assert_eq!(feed_titles(&ws, "public/all.xml").len(), 8);
    // A rule tags a story of three publishers or more: every version of it.
    let mut widely = feed_titles(&ws, "public/widely.xml");
    let mut all_four: Vec<String> = statement_titles.iter().map(|t| t.to_string()).collect();
    widely.sort();
    all_four.sort();
    assert_eq!(widely, all_four);
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM stories"), 3);
}

#[tokio::test]
async fn a_later_copy_backdated_before_the_lead_never_replaces_it() {
    let server = FeedServer::start().await;
    let versions = four_versions();
    let first = [(versions[0].0, versions[0].1.as_str(), versions[0].2)];
    let mut config = ministries(&server, &first);
    config.push_str(OUTPUTS);
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    // The next day, another ministry publishes it dated a day before the first.
    let both = [
        first[0],
        (
            versions[1].0,
            versions[1].1.as_str(),
            "Mon, 30 Nov 2026 10:00:00 GMT",
        ),
    ];
    ministries(&server, &both);
    assert!(ws.tributary(&["once"]).await.status.success());

    let atom = ws.feed("public/feed.xml");
    let statement: Vec<_> = atom
        .entries
        .iter()
        .filter(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content.contains("almon"))
        })
        .collect();
    assert_eq!(statement.len(), 1);
    let lead = statement[0];
    assert_eq!(
        lead.title.as_ref().unwrap().content,
        "Joint plan to restore the river's salmon"
    );
    assert_eq!(
        lead.published.unwrap().to_rfc3339(),
        "2026-12-01T10:00:00+00:00"
    );
    assert_eq!(
        lead.links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("related"))
            .count(),
        1
    );
    assert_eq!(feed_titles(&ws, "public/all.xml").len(), 6);
    // Two publishers are not three.
    assert!(feed_titles(&ws, "public/widely.xml").is_empty());
}

/// An office's releases: each short, each followed by the same long notes to editors.
fn releases() -> Vec<TestItem> {
    let notes = "<p>Notes to editors</p><p>About the Institute: the Harbour Institute is an \
        independent research organisation founded in 1987 that studies coastal economies, \
        maritime trade and the communities that depend on them, funded by grants and \
        donations.</p><p>For interviews and images please contact the press office on 020 7946 \
        0000, or by email; out of hours, call the duty press officer.</p><p>The views expressed \
        are those of the authors and not necessarily those of the Institute or its funders.</p>";
    [
        ("r1", "Ports handled record freight", "Ports on the east coast handled a record 41 million tonnes of freight last year, the Institute's annual survey finds."),
        ("r2", "Fishing fleet shrinks again", "The inshore fishing fleet shrank for the ninth year running, with 212 fewer boats registered than a year before."),
        ("r3", "Ferry fares to be capped", "Ferry fares to the islands should be capped at the price of the equivalent bus journey, the Institute recommends."),
    ]
    .iter()
    .map(|(guid, title, lead)| with_body(guid, title, &format!("<p>{lead}</p>{notes}"), "Tue, 01 Dec 2026 09:00:00 GMT"))
    .collect()
}

#[tokio::test]
async fn releases_that_share_an_office_s_boilerplate_stay_apart_and_a_copy_joins_its_own() {
    let server = FeedServer::start().await;
    let office = releases();
    // A wire carries the second release only, retitled.
    let wire = vec![TestItem {
        title: "Fewer fishing boats".into(),
        guid: "w2".into(),
        ..office[1].clone()
    }];
    server.serve(
        "/office.xml",
        rss("Harbour Institute", "https://institute.example/", &office),
    );
    server.serve(
        "/wire.xml",
        rss("Coast Wire", "https://wire.example/", &wire),
    );
    let mut config = config_with_sources(
        &server,
        &[
            ("Harbour Institute", "/office.xml"),
            ("Coast Wire", "/wire.xml"),
        ],
    );
    config.push_str("\n[stories]\nenabled = true\n");
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    // Three entries: the second release once, under whichever of its two versions was stored
    // first; the other two releases apart, though most of their text is the same notes.
    let titles = feed_titles(&ws, "public/feed.xml");
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(
        titles.contains(&"Ferry fares to be capped".to_string()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Ports handled record freight".to_string()),
        "{titles:?}"
    );
    let joined: String = ws
        .db()
        .query_row(
            "SELECT group_concat(guid, ' ') FROM (SELECT i.guid FROM items i
             WHERE i.id IN (SELECT item_id FROM stories UNION SELECT story FROM stories)
             ORDER BY i.guid)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(joined, "r2 w2");
}

#[tokio::test]
async fn changing_the_similarity_groups_the_stored_items_again() {
    let server = FeedServer::start().await;
    // The second half of the copy is its own: about half of it is the statement's.
    let half = format!(
        "{}<p>Our correspondent adds that anglers on the lower river have long campaigned for \
         the weirs to go, and that the farmers' union fears the limits on irrigation will cost \
         its members dearly in a dry year, when the water is most needed for their crops.</p>",
        JOINT_STATEMENT.split("<p>Ministers").next().unwrap()
    );
    let versions = [
        (
            "Joint plan to restore the river's salmon",
            JOINT_STATEMENT,
            "Tue, 01 Dec 2026 10:00:00 GMT",
        ),
        (
            "Salmon plan divides the valley",
            half.as_str(),
            "Tue, 01 Dec 2026 11:00:00 GMT",
        ),
    ];
    let base = ministries(&server, &versions);
    let at = |similarity: &str| format!("{base}\n[stories]\nsimilarity = {similarity}\n");
    let ws = Workspace::new(&at("0.5"));
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM stories"), 1);
    assert_eq!(feed_titles(&ws, "public/feed.xml").len(), 5);

    ws.write("tributary.toml", &at("0.95"));
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM stories"), 0);
    assert_eq!(feed_titles(&ws, "public/feed.xml").len(), 6);

    ws.write(
        "tributary.toml",
        &format!("{base}\n[stories]\nenabled = false\n"),
    );
    assert!(ws.tributary(&["once"]).await.status.success());
    ws.write("tributary.toml", &at("0.5"));
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM stories"), 1);
    assert_eq!(feed_titles(&ws, "public/feed.xml").len(), 5);
}

#[tokio::test]
async fn the_site_has_a_page_per_story_with_every_version_linked_from_the_lead() {
    let server = FeedServer::start().await;
    let versions = four_versions();
    let borrowed = as_refs(&versions);
    let mut config = ministries(&server, &borrowed);
    config.push_str("\n[stories]\nenabled = true\n\n[site]\npages = \"public/\"\n");
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    let stories: Vec<std::path::PathBuf> = std::fs::read_dir(ws.path("public/stories"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stories.len(), 1, "{stories:?}");
    let page = std::fs::read_to_string(&stories[0]).unwrap();
    for (name, (title, _, _)) in [
        "Ministry North",
        "Ministry South",
        "Ministry East",
        "Ministry West",
    ]
    .iter()
    .zip(&versions)
    {
        assert!(page.contains(name), "{name} in {page}");
        assert!(
            page.contains(&title.replace('\'', "&#39;")),
            "{title} in {page}"
        );
    }
    // The version wrapped in a header adds its words; the others are the lead's words.
    assert!(page.contains("<ins>behalf</ins>"), "{page}");
    // The lead's page links to the story's.
    let lead: String = ws
        .db()
        .query_row(
            "SELECT public_id FROM items WHERE id = (SELECT DISTINCT story FROM stories)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let file = stories[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        lead.ends_with(file.trim_end_matches(".html")),
        "{lead} / {file}"
    );
    let lead_page = std::fs::read_to_string(ws.path(&format!("public/items/{file}"))).unwrap();
    assert!(
        lead_page.contains(&format!("href=\"../stories/{file}\"")),
        "{lead_page}"
    );
    assert!(lead_page.contains("all 4 versions"), "{lead_page}");

    // Stories turned off: the story's page goes with them.
    ws.write(
        "tributary.toml",
        &config.replace("enabled = true", "enabled = false"),
    );
    assert!(ws.tributary(&["once"]).await.status.success());
    assert!(!stories[0].exists());
}

#[tokio::test]
async fn the_stories_command_lists_each_story_and_explain_names_the_nearest() {
    let server = FeedServer::start().await;
    let versions = four_versions();
    let two = as_refs(&versions[..2]);
    let mut config = ministries(&server, &two);
    config.push_str("\n[stories]\nenabled = true\n");
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    let out = ws.tributary(&["stories", "--last", "5"]).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.starts_with("2 versions: "), "{text}");
    assert!(
        text.contains("Salmon: governments agree river plan"),
        "{text}"
    );
    assert!(
        text.contains("Joint plan to restore the river's salmon"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");

    // The third ministry's version, before it is stored: explain names the two as nearest.
    let all = as_refs(&versions[..3]);
    ministries(&server, &all);
    let out = ws.tributary(&["explain", "Ministry East"]).await;
    let text = stdout(&out);
    let nearest: Vec<&str> = text.lines().filter(|l| l.contains("nearest:")).collect();
    assert_eq!(nearest.len(), 2, "{text}");
    assert_eq!(
        nearest
            .iter()
            .filter(|l| l.contains("(joins its story)"))
            .count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("no stored item of another source shares its text"),
        "{text}"
    );
    // Nothing was stored.
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM items"), 6);
}

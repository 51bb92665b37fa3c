//! Every real-world feed in `../shared/corpus` goes through parse → store without a panic, and
//! storing the same file twice adds nothing the second time.
//!
//! The corpus lives beside the repository (CI has it there too); where it is absent the test
//! says so and passes without checking anything.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use common::say_skipped;
use tributary::config::{ItemRules, SourceConfig, SourceLocation};
use tributary::model::FetchState;
use tributary::parse::{ParseOptions, parse_feed};
use tributary::store::{Poll, Store};
use url::Url;

fn corpus_feeds() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds");
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    Some(files)
}

#[test]
fn every_corpus_feed_is_parsed_or_refused_and_reingesting_adds_nothing() {
    let Some(files) = corpus_feeds() else {
        say_skipped("SKIPPED: ../shared/corpus/feeds is absent, so the corpus was not checked");
        return;
    };
    assert!(files.len() > 100, "the corpus looks incomplete");
    let mut store = Store::open_in_memory().unwrap();
    let base = Url::parse("https://publisher.example/feed.xml").unwrap();
    let (mut parsed, mut refused, mut items) = (0, 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(file).unwrap();
        let feed = match std::panic::catch_unwind(|| {
            parse_feed(
                &body,
                ParseOptions {
                    base: Some(&base),
                    ..ParseOptions::default()
                },
            )
        }) {
            Ok(Ok(feed)) => feed,
            Ok(Err(error)) => {
                assert!(
                    !error.to_string().is_empty(),
                    "{name}: an error must say why"
                );
                refused += 1;
                continue;
            }
            Err(_) => panic!("{name}: parsing panicked"),
        };
        parsed += 1;
        let source = SourceConfig {
            name: None,
            url: format!("https://publisher.example/{name}"),
            location: SourceLocation::Http(base.clone()),
            interval: Duration::from_secs(60),
            tags: vec![],
            declared_in: PathBuf::from("tributary.toml"),
            declared_line: None,
            fetch: Default::default(),
            kind: Default::default(),
            rules: Vec::new(),
            rewrites: Default::default(),
            full_text: None,
            hub: None,
        };
        let state = FetchState::default();
        let poll = Poll {
            at: Utc::now(),
            state: Some(&state),
            webhooks: &[],
            feed: Some((&feed.meta, &feed.items)),
            event: None,
            // Every item, whatever its age: the check is about identity, not retention.
            rules: &ItemRules {
                max_age: None,
                initial_items: None,
                across_sources: false,
                ..ItemRules::default()
            },
            shaping: &tributary::rules::Shaping::default(),
        };
        let first = store.record_poll(&source, &poll).unwrap();
        assert_eq!(
            first.new,
            feed.items.len(),
            "{name}: keys are unique per fetch"
        );
        let second = store.record_poll(&source, &poll).unwrap();
        assert_eq!(
            (second.new, second.updated),
            (0, 0),
            "{name}: the same feed again changes nothing"
        );
        items += feed.items.len();
    }
    eprintln!(
        "corpus: {} files, {parsed} parsed ({items} items), {refused} refused",
        files.len()
    );
    assert!(parsed > refused, "most of the corpus is readable");
}

/// One feedparser entry from `expected/<file>.json`.
struct Oracle {
    id: Option<String>,
    link: Option<String>,
    date: Option<chrono::DateTime<Utc>>,
}

fn oracle_entries(json: &serde_json::Value) -> Vec<Oracle> {
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|x| x.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    json.get("entries")
        .and_then(|e| e.as_array())
        .map(|entries| {
            entries
                .iter()
                .map(|e| Oracle {
                    id: text(e, "id"),
                    link: text(e, "link"),
                    date: text(e, "published")
                        .or_else(|| text(e, "updated"))
                        .and_then(|d| d.parse().ok()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares every corpus feed with feedparser's reading of it (ids, links, dates, counts), and
/// writes the differences to `corpus-report.md` in the test's temporary folder. The oracle is a
/// reference, not the truth: the report is for reading; the assertions only guard against our
/// agreement getting worse.
#[test]
fn corpus_agreement_with_feedparser_is_reported() {
    let Some(files) = corpus_feeds() else {
        say_skipped("SKIPPED: ../shared/corpus/feeds is absent, so the corpus was not compared");
        return;
    };
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/expected");
    let mut report = String::from("# Corpus: Tributary vs feedparser\n\n");
    let mut details = String::new();
    let (mut files_compared, mut both_read, mut we_refused, mut they_refused) = (0, 0, 0, 0);
    let (mut entries, mut count_differs) = (0, 0);
    let (mut id_same, mut link_same, mut date_same) = (0, 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(json) = std::fs::read_to_string(expected_dir.join(format!("{name}.json"))) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&json) else {
            continue;
        };
        files_compared += 1;
        let oracle = oracle_entries(&json);
        let body = std::fs::read(file).unwrap();
        let ours = parse_feed(&body, ParseOptions::default());
        let feed = match ours {
            Err(error) => {
                if oracle.is_empty() {
                    they_refused += 1;
                } else {
                    we_refused += 1;
                    details.push_str(&format!(
                        "- `{name}`: refused ({error}); feedparser reads {} entries\n",
                        oracle.len()
                    ));
                }
                continue;
            }
            Ok(feed) => feed,
        };
        both_read += 1;
        if feed.items.len() != oracle.len() {
            count_differs += 1;
            details.push_str(&format!(
                "- `{name}`: {} items, feedparser {}\n",
                feed.items.len(),
                oracle.len()
            ));
        }
        for (index, theirs) in oracle.iter().enumerate() {
            entries += 1;
            let mine = feed
                .items
                .iter()
                .find(|i| theirs.id.is_some() && i.guid == theirs.id)
                .or_else(|| {
                    feed.items
                        .iter()
                        .find(|i| theirs.link.is_some() && i.link == theirs.link)
                })
                .or(feed.items.get(index));
            let Some(mine) = mine else { continue };
            let mut differences = Vec::new();
            if mine.guid == theirs.id || (theirs.id.is_none() && mine.guid == theirs.link) {
                id_same += 1;
            } else {
                differences.push(format!("id {:?} vs {:?}", mine.guid, theirs.id));
            }
            if mine.link == theirs.link {
                link_same += 1;
            } else {
                differences.push(format!("link {:?} vs {:?}", mine.link, theirs.link));
            }
            let date = mine.published.or(mine.updated).map(|d| d.timestamp());
            if date == theirs.date.map(|d| d.timestamp()) {
                date_same += 1;
            } else {
                differences.push(format!(
                    "date {:?} vs {:?}",
                    mine.published.or(mine.updated),
                    theirs.date
                ));
            }
            if !differences.is_empty() {
                details.push_str(&format!(
                    "- `{name}` entry {index}: {}\n",
                    differences.join("; ")
                ));
            }
        }
    }
    let percent = |n: usize| 100.0 * n as f64 / entries.max(1) as f64;
    report.push_str(&format!(
        "{files_compared} files compared: {both_read} read by both, {we_refused} refused by Tributary \
         but read by feedparser, {they_refused} read by neither (or empty).\n\
         {count_differs} files differ in item count.\n\
         {entries} feedparser entries: ids agree on {id_same} ({:.1} %), links on {link_same} ({:.1} %), \
         dates on {date_same} ({:.1} %).\n\n## Differences\n\n{details}",
        percent(id_same),
        percent(link_same),
        percent(date_same),
    ));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-report.md");
    std::fs::write(&path, &report).unwrap();
    eprintln!("{}", report.lines().take(5).collect::<Vec<_>>().join("\n"));
    eprintln!("full report: {}", path.display());

    assert!(files_compared > 300, "{files_compared} files compared");
    assert!(
        percent(link_same) >= 90.0,
        "links agree on {:.1} %",
        percent(link_same)
    );
    assert!(
        percent(id_same) >= 85.0,
        "ids agree on {:.1} %",
        percent(id_same)
    );
    assert!(
        percent(date_same) >= 85.0,
        "dates agree on {:.1} %",
        percent(date_same)
    );
}

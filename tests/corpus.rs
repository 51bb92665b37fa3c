//! Every real-world feed in `../shared/corpus` goes through parse → store without a panic, and
//! storing the same file twice adds nothing the second time.
//!
//! The corpus lives beside the repository (CI has it there too); where it is absent the test
//! says so and passes without checking anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
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
        eprintln!("SKIPPED: ../shared/corpus/feeds is absent, so the corpus was not checked");
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
        };
        let state = FetchState::default();
        let poll = Poll {
            at: Utc::now(),
            state: &state,
            feed: Some((&feed.meta, &feed.items)),
            event: None,
            // Every item, whatever its age: the check is about identity, not retention.
            rules: &ItemRules {
                max_age: None,
                initial_items: None,
                across_sources: false,
                ..ItemRules::default()
            },
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

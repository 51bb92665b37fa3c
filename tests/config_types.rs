//! Every config key takes one type, and a value of another is refused before anything is
//! written, named by its key and the type expected: in the file, in `sources.d/` and in the
//! environment. One test per type class, then every key of the example config.

mod common;

use std::path::Path;

use common::*;

/// `tributary check` on `config` (with `env`): its exit code and what it printed on stderr.
async fn check(ws: &Workspace, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let run = ws.tributary_with_env(&["check"], env).await;
    (run.status.code(), stderr(&run))
}

/// Asserts that `config` (with `env`) is refused with `expected` and wrote nothing.
async fn refused(config: &str, env: &[(&str, &str)], expected: &str) {
    let ws = Workspace::new(&format!("{STATE_AND_OUTPUT}\n{config}"));
    let (code, stderr) = check(&ws, env).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(expected),
        "wanted {expected:?} in:\n{stderr}"
    );
    assert!(!ws.path("state").exists(), "nothing is written: {stderr}");
}

#[tokio::test]
async fn a_path_of_another_type_is_refused_and_no_folder_is_made_of_it() {
    refused(
        "[site]\npages = true\n",
        &[],
        "site.pages: expected a folder (a string), found a boolean",
    )
    .await;
    let ws = Workspace::new(&format!("{STATE_AND_OUTPUT}\n[site]\npages = true\n"));
    check(&ws, &[]).await;
    assert!(!ws.path("true").exists());
    refused(
        "[health]\npath = 1\n",
        &[],
        "health.path: expected a file (a string), found an integer",
    )
    .await;
}

#[tokio::test]
async fn a_string_of_another_type_is_refused_but_taken_as_written_from_the_environment() {
    refused(
        "[log]\nlevel = 3\n",
        &[],
        "log.level: expected a string, found an integer",
    )
    .await;
    refused(
        "[[sources]]\nname = [\"Blog\"]\nurl = \"https://a.example/\"\n",
        &[],
        "sources[0].name: expected a string, found a list",
    )
    .await;
    // An environment variable is text: a string key takes it as it is.
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nurl = \"https://a.example/\"\n"
    ));
    let run = ws
        .tributary_with_env(&["check"], &[("TRIBUTARY_DATABASE__PATH", "1234")])
        .await;
    assert!(run.status.success(), "{}", stderr(&run));
    let database = ws.path("1234");
    let shown = format!("database: {}\n", database.display());
    assert!(stdout(&run).contains(&shown), "{}", stdout(&run));
}

#[tokio::test]
async fn a_duration_of_another_type_is_refused() {
    refused(
        "[poll]\ninterval = 30\n",
        &[],
        "poll.interval: expected a duration (a string), found an integer",
    )
    .await;
    refused(
        "[[outputs]]\npath = \"public/b.xml\"\ntitle = \"B\"\nmax_age = 7\n",
        &[],
        "outputs[1].max_age: expected a duration (a string), found an integer",
    )
    .await;
}

#[tokio::test]
async fn an_integer_of_another_type_is_refused_in_the_file_and_the_environment() {
    refused(
        "[poll]\nconcurrency = \"8\"\n",
        &[],
        "poll.concurrency: expected an integer, found a string",
    )
    .await;
    refused(
        "",
        &[("TRIBUTARY_POLL__CONCURRENCY", "eight")],
        "poll.concurrency: expected an integer, found \"eight\" \
         (in the environment: TRIBUTARY_POLL__CONCURRENCY)",
    )
    .await;
    refused(
        "[stories]\nsimilarity = \"high\"\n",
        &[],
        "stories.similarity: expected a number, found a string",
    )
    .await;
}

#[tokio::test]
async fn a_boolean_of_another_type_is_refused_in_the_file_and_the_environment() {
    refused(
        "[service]\nwatch_config = \"false\"\n",
        &[],
        "service.watch_config: expected true or false (a boolean), found a string",
    )
    .await;
    refused(
        "",
        &[("TRIBUTARY_SERVICE__WATCH_CONFIG", "no")],
        "service.watch_config: expected true or false (a boolean), found \"no\"",
    )
    .await;
    let ws = Workspace::new(STATE_AND_OUTPUT);
    let (code, stderr) = check(&ws, &[("TRIBUTARY_SERVICE__WATCH_CONFIG", "false")]).await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn a_list_of_another_type_is_refused_in_the_file_and_in_sources_d() {
    refused(
        "[[outputs]]\npath = \"public/b.xml\"\ntitle = \"B\"\ntags = \"defence\"\n",
        &[],
        "outputs[1].tags: expected a list of strings, found a string",
    )
    .await;
    refused(
        "[dedup]\nstrip_query = [\"utm_source\", 1]\n",
        &[],
        "dedup.strip_query[1]: expected a string, found an integer",
    )
    .await;
    let ws = Workspace::new(STATE_AND_OUTPUT);
    ws.write(
        "sources.d/more.toml",
        "[[sources]]\nurl = \"https://a.example/\"\n\
         [[sources]]\nurl = \"https://b.example/\"\ntags = \"x\"\n",
    );
    let (code, stderr) = check(&ws, &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("more.toml: sources[1].tags: expected a list of strings, found a string"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_table_of_another_type_is_refused_and_every_problem_is_named_at_once() {
    refused(
        "[[sources]]\nurl = \"https://a.example/\"\nauth = \"user:secret\"\n",
        &[],
        "sources[0].auth: expected a table (username and password, or bearer), found a string",
    )
    .await;
    let ws = Workspace::new(&format!(
        "health = \"health.xml\"\n[poll]\ninterval = 5\n{STATE_AND_OUTPUT}"
    ));
    let (code, stderr) = check(&ws, &[("TRIBUTARY_OUTPUTS", "x")]).await;
    assert_eq!(code, Some(2), "{stderr}");
    for expected in [
        "health: expected a table, found a string",
        "poll.interval: expected a duration (a string), found an integer",
        "outputs: a list of outputs (tables) cannot be set from the environment",
    ] {
        assert!(
            stderr.contains(expected),
            "wanted {expected:?} in:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn a_word_a_key_does_not_know_is_named_by_its_key() {
    refused(
        "[log]\nformat = \"jsn\"\n",
        &[],
        "log.format: unknown variant `jsn`, expected `text` or `json`",
    )
    .await;
    refused(
        "[[outputs]]\npath = \"public/b.xml\"\ntitle = \"B\"\nformat = \"atomm\"\n",
        &[],
        "outputs[1].format: unknown variant `atomm`",
    )
    .await;
}

/// Every key the example config sets, at every depth, given a value of another type, is
/// refused by name. The example documents every key (`config_files.rs`), so this covers them.
#[tokio::test]
async fn every_key_of_the_example_refuses_a_value_of_another_type() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let example: toml::Table = toml::from_str(&text).unwrap();
    let mut keys = Vec::new();
    every_key(&example, &mut Vec::new(), &mut keys);
    assert!(keys.len() > 150, "{} keys", keys.len());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tributary.toml");
    for (path, shown) in &keys {
        let mut changed = toml::Value::Table(example.clone());
        let slot = at(&mut changed, path);
        let value = of_another_type(slot);
        *slot = value.clone();
        std::fs::write(&file, toml::to_string(&changed).unwrap()).unwrap();
        let problems = match tributary::config::load(&file) {
            Ok(_) => panic!("{shown} = {value} was accepted"),
            Err(error) => error.to_string(),
        };
        assert!(
            problems.contains(&format!("{shown}: expected "))
                && problems.contains(&format!(", found {}", a_value_like(&value))),
            "{shown} = {value}:\n{problems}"
        );
    }
}

/// A step down a TOML value: a key or an index.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every key below `table` (tables and lists too), as its steps and as errors show it.
fn every_key(table: &toml::Table, above: &mut Vec<Step>, keys: &mut Vec<(Vec<Step>, String)>) {
    for (key, value) in table {
        above.push(Step::Key(key.clone()));
        keys.push((above.clone(), shown(above)));
        match value {
            toml::Value::Table(inner) => every_key(inner, above, keys),
            toml::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        above.push(Step::Index(index));
                        every_key(inner, above, keys);
                        above.pop();
                    }
                }
            }
            _ => {}
        }
        above.pop();
    }
}

fn shown(steps: &[Step]) -> String {
    let mut text = String::new();
    for step in steps {
        match step {
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => text.push_str(&format!(".{key}")),
            Step::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

fn at<'a>(value: &'a mut toml::Value, steps: &[Step]) -> &'a mut toml::Value {
    steps.iter().fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()).unwrap(),
        Step::Index(index) => value.get_mut(*index).unwrap(),
    })
}

fn of_another_type(value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::String(_) => toml::Value::Boolean(true),
        toml::Value::Boolean(_) => toml::Value::String("yes".into()),
        toml::Value::Integer(_) | toml::Value::Float(_) => toml::Value::String("8".into()),
        toml::Value::Array(_) | toml::Value::Table(_) | toml::Value::Datetime(_) => {
            toml::Value::Integer(1)
        }
    }
}

fn a_value_like(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Boolean(_) => "a boolean",
        _ => "an integer",
    }
}

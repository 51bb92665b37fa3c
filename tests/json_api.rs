//! A JSON API as a source: its items found by dotted paths, identified and stored like a
//! feed's, polled as politely.

mod common;

use common::*;

fn answer(releases: &[(&str, &str, &str)]) -> String {
    let items: Vec<String> = releases
        .iter()
        .map(|(id, headline, date)| {
            format!(
                r#"{{"id": {id}, "headline": "{headline}", "links": {{"canonical": "/releases/{id}"}},
                    "published_at": "{date}", "teaser": "About {headline}",
                    "body_html": "<p>{headline} <script>x()</script></p>", "author": {{"name": "Press office"}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"data": {{"releases": [{}, "not an item", {{"id": 9}}]}}}}"#,
        items.join(",")
    )
}

fn config(server: &FeedServer) -> String {
    format!(
        r#"{STATE_AND_OUTPUT}
[[sources]]
name = "Agency releases"
url = "{}"
kind = "json"
[sources.json]
items = "data.releases"
id = "id"
title = "headline"
link = "links.canonical"
date = "published_at"
summary = "teaser"
content = "body_html"
author = "author.name"
"#,
        server.url("/v2/releases?lang=en")
    )
}

#[tokio::test]
async fn an_apis_items_are_stored_once_updated_in_place_and_never_doubled() {
    let server = FeedServer::start().await;
    let path = "/v2/releases?lang=en";
    server.serve(
        path,
        answer(&[
            ("1", "Budget", "2025-08-19T10:00:00Z"),
            ("2", "Bridges", "2025-08-18T10:00:00Z"),
        ]),
    );
    let ws = Workspace::new(&config(&server));
    let out = ws.tributary(&["once"]).await;
    let line = once_line(&stdout(&out), "Agency releases").to_string();
    assert!(line.contains("2 new"), "{line}{}", stderr(&out));

    // Reordered, one retitled, one new: the new one is new, the retitled one updated in place.
    server.serve(
        path,
        answer(&[
            ("3", "Buses", "2025-08-20T10:00:00Z"),
            ("2", "Bridges", "2025-08-18T10:00:00Z"),
            ("1", "Budget (corrected)", "2025-08-19T10:00:00Z"),
        ]),
    );
    let out = ws.tributary(&["once"]).await;
    let line = once_line(&stdout(&out), "Agency releases").to_string();
    assert!(line.contains("1 new, 1 updated, 1 unchanged"), "{line}");
    assert_eq!(items_of(&ws, "Agency releases"), 3);

    let feed = ws.feed("public/feed.xml");
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(titles, ["Buses", "Budget (corrected)", "Bridges"]);
    let budget = &feed.entries[1];
    // Relative links resolve against the API's URL; the content is sanitized HTML.
    assert_eq!(budget.links[0].href, server.url("/releases/1"));
    let content = budget.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(
        content.contains("<p>Budget (corrected)") && !content.contains("script"),
        "{content}"
    );
    assert_eq!(budget.authors[0].name.as_deref(), Some("Press office"));
    assert_eq!(
        budget.published.unwrap().to_rfc3339(),
        "2025-08-19T10:00:00+00:00"
    );
}

#[tokio::test]
async fn an_answer_without_the_items_array_is_that_sources_failure() {
    let server = FeedServer::start().await;
    server.serve(
        "/v2/releases?lang=en",
        r#"{"data": {"other": []}}"#.to_string(),
    );
    let ws = Workspace::new(&config(&server));
    let out = ws.tributary(&["once"]).await;
    let line = once_line(&stdout(&out), "Agency releases").to_string();
    assert!(
        line.contains("no array of items at data.releases"),
        "{line}"
    );
}

#[tokio::test]
async fn a_json_source_without_its_paths_is_a_config_error() {
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"API\"\nurl = \"https://api.example/x\"\n\
         kind = \"json\"\n[sources.json]\nitems = \"data\"\n"
    ));
    let out = ws.tributary(&["check"]).await;
    let text = stderr(&out);
    assert!(!out.status.success());
    assert!(text.contains("json.title: is required"), "{text}");
    assert!(text.contains("json.link: is required"), "{text}");
}

//! Search from the outside: `tributary search` on what real polls stored, a saved search as an
//! output and as a webhook's filter, and the built-in server's `/search`, its feeds and its
//! OpenSearch description. The index itself is checked construct by construct, on SQLite and
//! PostgreSQL, in `store::search`'s tests.

mod common;

use std::time::Duration;

use common::*;

const DATE: &str = "Mon, 18 Aug 2025 10:00:00 GMT";

fn publish(server: &FeedServer, council: &[TestItem], post: &[TestItem]) {
    server.serve(
        "/council.xml",
        rss("City Council", "https://council.example/", council),
    );
    server.serve(
        "/post.xml",
        rss("Evening Post", "https://www.post.example/", post),
    );
}

fn first_items() -> (Vec<TestItem>, Vec<TestItem>) {
    (
        vec![
            with_body(
                "c1",
                "Council notice about cycle routes",
                "<p>The <b>cycle routes</b> consultation opens.</p>",
                DATE,
            ),
            with_body(
                "c2",
                "Budget vote",
                "<p>The council votes on the budget; cycle lanes cut.</p>",
                "Tue, 19 Aug 2025 10:00:00 GMT",
            ),
            with_body(
                "c3",
                "Café licences renewed",
                "<p>Notes to editors: licences for the Café Royal.</p>",
                "Wed, 20 Aug 2025 10:00:00 GMT",
            ),
        ],
        vec![
            with_body(
                "p1",
                "Night buses change",
                "<p>Routes of the night buses change on Monday.</p>",
                DATE,
            ),
            with_body(
                "p2",
                "Cafe owners protest",
                "<p>Owners of the cafe on Main Street protest.</p>",
                "Tue, 19 Aug 2025 09:00:00 GMT",
            ),
        ],
    )
}

/// A config of the two publishers `publish` serves.
fn publishers(server: &FeedServer) -> String {
    config_with_sources(
        server,
        &[
            ("City Council", "/council.xml"),
            ("Evening Post", "/post.xml"),
        ],
    )
}

/// The titles `tributary search` lists, in its order, and its whole output.
async fn searched(ws: &Workspace, args: &[&str]) -> (Vec<String>, String) {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    let out = ws.tributary(&all).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{args:?}: {text}{}", stderr(&out));
    let titles = text
        .lines()
        .filter(|l| !l.starts_with("No item"))
        .map(|l| l.split("  ").nth(2).unwrap_or_default().to_string())
        .collect();
    (titles, text)
}

#[tokio::test]
async fn the_command_finds_what_polls_stored_by_words_phrases_fields_and_dates() {
    let server = FeedServer::start().await;
    let (council, post) = first_items();
    publish(&server, &council, &post);
    let ws = Workspace::new(&publishers(&server));
    assert!(ws.tributary(&["once"]).await.status.success());

    let sorted = |mut titles: Vec<String>| {
        titles.sort();
        titles
    };
    for (query, expected) in [
        (
            "cycle",
            vec!["Budget vote", "Council notice about cycle routes"],
        ),
        (
            "\"cycle routes\"",
            vec!["Council notice about cycle routes"],
        ),
        ("cycle -budget", vec!["Council notice about cycle routes"]),
        ("cafe", vec!["Cafe owners protest", "Café licences renewed"]),
        ("CAFÉ source:post", vec!["Cafe owners protest"]),
        ("budget OR buses", vec!["Budget vote", "Night buses change"]),
        ("(budget OR buses) -night", vec!["Budget vote"]),
        ("title:routes", vec!["Council notice about cycle routes"]),
        ("routes -title:routes", vec!["Night buses change"]),
        (
            "site:post.example",
            vec!["Cafe owners protest", "Night buses change"],
        ),
        ("cafe after:2025-08-20", vec!["Café licences renewed"]),
        ("cafe before:2025-08-20", vec!["Cafe owners protest"]),
        ("-\"notes to editors\" cafe", vec!["Cafe owners protest"]),
        ("trams", vec![]),
    ] {
        let (titles, text) = searched(&ws, &[query]).await;
        assert_eq!(sorted(titles), expected, "{query}:\n{text}");
    }

    // One line per hit: date, publisher, title, link, passage with the words marked.
    let (_, text) = searched(&ws, &["\"cycle routes\""]).await;
    let line = text.lines().next().unwrap();
    assert!(
        line.starts_with("2025-08-18  City Council  Council notice about cycle routes  http"),
        "{line}"
    );
    assert!(line.contains("«cycle» «routes»"), "{line}");

    // --source, --newest, --limit, --json.
    let (titles, _) = searched(&ws, &["cafe", "--source", "City Council"]).await;
    assert_eq!(titles, ["Café licences renewed"]);
    let (titles, _) = searched(&ws, &["cafe OR cycle OR buses", "--newest", "--limit", "2"]).await;
    assert_eq!(titles, ["Café licences renewed", "Budget vote"]);
    let out = ws.tributary(&["search", "cycle routes", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = json["hits"].as_array().unwrap();
    assert_eq!(hits[0]["title"], "Council notice about cycle routes");
    assert_eq!(hits[0]["publisher"], "City Council");
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>cycle</mark>"),
        "{json}"
    );

    // A malformed query names the problem and its place; the database's syntax is data.
    let out = ws.tributary(&["search", "cycle routes \"council"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unclosed quote at 14"),
        "{}",
        stderr(&out)
    );
    for hostile in [
        "NEAR(cycle",
        "\"",
        "(a OR",
        "cycle*",
        "^cycle",
        ":",
        "title:",
        &"x ".repeat(400),
    ] {
        let out = ws.tributary(&["search", hostile]).await;
        let said = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !said.to_lowercase().contains("sql") && !said.contains("fts5"),
            "{hostile}: {said}"
        );
        assert!(!said.contains("panicked"), "{hostile}: {said}");
    }
    let (titles, _) = searched(&ws, &["cycle*"]).await;
    assert_eq!(titles.len(), 2, "a star is punctuation, not a prefix");
}

#[tokio::test]
async fn a_saved_search_is_an_output_that_gains_a_matching_item_at_the_next_poll() {
    let server = FeedServer::start().await;
    let (council, post) = first_items();
    publish(&server, &council, &post);
    let mut config = publishers(&server);
    config.push_str(
        "\n[[outputs]]\npath = \"public/cycling.json\"\ntitle = \"Cycling\"\nquery = \"cycle -budget OR buses\"\nprovenance = true\n",
    );
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(
        feed_titles(&ws, "public/cycling.json"),
        ["Council notice about cycle routes", "Night buses change"]
    );

    let mut post = post;
    post.push(with_body(
        "p3",
        "New cycle path opens",
        "<p>A path by the river.</p>",
        "Thu, 21 Aug 2025 10:00:00 GMT",
    ));
    post.push(with_body(
        "p4",
        "Budget for cycle paths",
        "<p>Money.</p>",
        "Thu, 21 Aug 2025 11:00:00 GMT",
    ));
    publish(&server, &council, &post);
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(
        feed_titles(&ws, "public/cycling.json"),
        [
            "Council notice about cycle routes",
            "New cycle path opens",
            "Night buses change"
        ]
    );
    // With its provenance, as any output's.
    let feed = ws.feed("public/cycling.json");
    let newest = feed
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content == "New cycle path opens")
        })
        .unwrap();
    assert!(
        text_of(newest).contains("Evening Post"),
        "{}",
        text_of(newest)
    );
    // The merged output is not narrowed by it.
    assert_eq!(titles(&ws).len(), 7);
    // A malformed saved search is a config error naming its key.
    let ws_bad = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[outputs]]\npath = \"public/x.xml\"\nquery = \"(cycle\"\n"
    ));
    let out = ws_bad.tributary(&["check"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("outputs[1].query")
            && stderr(&out).contains("unclosed parenthesis at 1"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_webhook_with_a_query_receives_only_matching_new_items() {
    let server = FeedServer::start().await;
    let receiver = FeedServer::start().await;
    receiver.respond("/hook", 204, &[], Vec::new());
    let (council, post) = first_items();
    publish(&server, &council, &post);
    let mut config = publishers(&server);
    config.push_str(&format!(
        "\n[[webhooks]]\nurl = \"{}\"\nsecret = \"s3cret-for-hooks\"\nquery = \"cafe OR (cycle source:council)\"\n",
        receiver.url("/hook")
    ));
    let ws = Workspace::new(&config);
    let daemon = Daemon::start(&ws);
    daemon.ready().await;
    let delivered = || -> Vec<String> {
        let mut titles: Vec<String> = receiver
            .bodies("/hook")
            .iter()
            .flat_map(|body| {
                let json: serde_json::Value = serde_json::from_str(body).unwrap();
                json["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["title"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        titles.sort();
        titles
    };
    let all = wait_for(Duration::from_secs(60), || delivered().len() >= 4).await;
    assert!(all, "{:?}\n{}", delivered(), daemon.log());
    assert!(
        wait_for(Duration::from_secs(60), || count(
            &ws,
            "SELECT count(*) FROM webhook_items"
        ) == 0)
        .await
    );
    assert_eq!(
        delivered(),
        [
            "Budget vote",
            "Cafe owners protest",
            "Café licences renewed",
            "Council notice about cycle routes"
        ]
    );
}

#[tokio::test]
async fn the_server_answers_searches_as_pages_feeds_and_an_opensearch_description() {
    let server = FeedServer::start().await;
    let (council, post) = first_items();
    publish(&server, &council, &post);
    let port = free_port();
    let mut config = publishers(&server);
    config.push_str(&format!(
        "\n[site]\npages = \"public/site/\"\ntitle = \"Press\"\n\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public\"\n"
    ));
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: String| {
        let client = client.clone();
        async move { client.get(path).send().await.unwrap() }
    };
    let found = wait_for_async(Duration::from_secs(60), || async {
        // Both publishers polled.
        let page = get(format!("{base}/search?q=cycle+OR+cafe"))
            .await
            .text()
            .await
            .unwrap_or_default();
        page.contains("Budget vote") && page.contains("Cafe owners protest")
    })
    .await;
    assert!(found, "{}", daemon.log());

    let page = get(format!("{base}/search?q=%22cycle+routes%22")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Council notice about cycle routes"), "{html}");
    assert!(!html.contains("Budget vote"), "{html}");
    assert!(
        html.contains("<mark>cycle</mark> <mark>routes</mark>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"search.xml?q=%22cycle+routes%22\""),
        "{html}"
    );
    // Escaped: a query is shown, never run as markup.
    let page = get(format!("{base}/search?q=%3Cscript%3Ealert(1)%3C/script%3E")).await;
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && html.contains("&lt;script&gt;"),
        "{html}"
    );
    // A malformed query is a 400 with its message.
    let page = get(format!("{base}/search?q=%28cycle")).await;
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("unclosed parenthesis at 1")
    );

    // The same results as feeds, read back.
    for (path, kind) in [
        ("search.xml", "atom"),
        ("search.rss", "rss"),
        ("search.json", "json"),
    ] {
        let response = get(format!("{base}/{path}?q=cafe&order=newest")).await;
        assert_eq!(response.status(), 200, "{path}");
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        let body = response.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&body[..]).unwrap_or_else(|e| panic!("{path}: {e}"));
        let titles: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.title.clone().unwrap().content)
            .collect();
        assert_eq!(
            titles,
            ["Café licences renewed", "Cafe owners protest"],
            "{kind}"
        );
        let again = client
            .get(format!("{base}/{path}?q=cafe&order=newest"))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    assert_eq!(get(format!("{base}/search.xml")).await.status(), 400);

    // Browsers find the search through every page of the site.
    let description = get(format!("{base}/opensearch.xml"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        description.contains(&format!("template=\"{base}/search?q={{searchTerms}}\"")),
        "{description}"
    );
    let index = std::fs::read_to_string(ws.path("public/site/index.html")).unwrap();
    assert!(
        index.contains("<form class=\"search\" role=\"search\" action=\"../search\">"),
        "{index}"
    );
    assert!(index.contains("href=\"../opensearch.xml\""), "{index}");
    daemon.stop().await;
}

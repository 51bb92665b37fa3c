//! Rules that drop, keep and tag, rewrites, and tracking parameters: applied on the way out,
//! to what is stored as much as to what is fetched, and shown before they apply.

mod common;

use std::time::Duration;

use common::*;

/// A wire's feed: items with every field a rule can look at.
fn wire(name: &str, items: &[(&str, &str, &str, &str, &str, &str)]) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>{name}</title>
<link>https://{name}.example/</link><description>d</description>"#
    );
    for (guid, title, summary, content, author, category) in items {
        xml.push_str(&format!(
            r#"<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>
<link>https://{name}.example/{guid}</link><description><![CDATA[{summary}]]></description>
<content:encoded><![CDATA[{content}]]></content:encoded><dc:creator>{author}</dc:creator>
<category>{category}</category><pubDate>Mon, 18 Aug 2025 10:00:00 GMT</pubDate></item>"#
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

/// Five items, each alone in what one condition looks at.
fn wire_a() -> String {
    wire(
        "wire-a",
        &[
            (
                "a1",
                "Sponsored: ten tips",
                "plain teaser",
                "<p>body</p>",
                "Desk",
                "news",
            ),
            (
                "a2",
                "Budget vote",
                "about the Ukrainian grain",
                "<p>body</p>",
                "Desk",
                "news",
            ),
            (
                "a3",
                "Harbour works",
                "teaser",
                "<p>a <b>job</b> advert</p>",
                "Desk",
                "news",
            ),
            (
                "a4",
                "Council meets",
                "teaser",
                "<p>body</p>",
                "Press Office",
                "news",
            ),
            (
                "a5",
                "Weekly digest",
                "teaser",
                "<p>body</p>",
                "Desk",
                "Jobs",
            ),
        ],
    )
}

fn config(server: &FeedServer, rules: &str) -> String {
    format!(
        r#"{STATE_AND_OUTPUT}
[[outputs]]
path = "public/ukraine.json"
title = "Ukraine"
format = "json"
tags = ["ukraine"]

[[outputs]]
path = "public/feed.rss"
title = "Merged RSS"
format = "rss"

[[sources]]
name = "Wire A"
url = "{}"

[[sources]]
name = "Wire B"
url = "{}"
tags = ["ukraine"]
{rules}"#,
        server.url("/a.xml"),
        server.url("/b.xml")
    )
}

async fn served() -> FeedServer {
    let server = FeedServer::start().await;
    server.serve("/a.xml", wire_a());
    server.serve(
        "/b.xml",
        wire(
            "wire-b",
            &[("b1", "Kyiv talks", "teaser", "<p>body</p>", "Desk", "world")],
        ),
    );
    server
}

fn sorted(mut titles: Vec<String>) -> Vec<String> {
    titles.sort();
    titles
}

/// The titles of the entries of a feed file in the workspace, sorted.
fn titles_in(ws: &Workspace, file: &str) -> Vec<String> {
    sorted(
        ws.feed(file)
            .entries
            .into_iter()
            .map(|e| e.title.map(|t| t.content).unwrap_or_default())
            .collect(),
    )
}

#[tokio::test]
async fn drop_rules_look_at_each_field_and_keep_the_items_stored() {
    let server = served().await;
    let all_a = [
        "Budget vote",
        "Council meets",
        "Harbour works",
        "Sponsored: ten tips",
        "Weekly digest",
    ];
    let cases = [
        (r#"title = "(?i)^sponsored""#, "Sponsored: ten tips"),
        (r#"summary = "(?i)ukrain""#, "Budget vote"),
        // Content is matched as a reader reads it: "a job advert", not "<b>job</b>".
        (r#"content = "a job advert""#, "Harbour works"),
        (r#"any = "(?i)grain""#, "Budget vote"),
        (r#"author = "^Press Office$""#, "Council meets"),
        (r#"category = "(?i)^jobs$""#, "Weekly digest"),
        (r#"link = "/a3$""#, "Harbour works"),
    ];
    for (when, dropped) in cases {
        let rule = format!(
            "\n[[rules]]\nsources = [\"Wire A\"]\nwhen = {{ {when} }}\naction = \"drop\"\n"
        );
        let ws = Workspace::new(&config(&server, &rule));
        let out = ws.tributary(&["once"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let expected: Vec<String> = all_a
            .iter()
            .filter(|t| **t != dropped)
            .map(|t| t.to_string())
            .chain(["Kyiv talks".to_string()])
            .collect();
        assert_eq!(
            titles_in(&ws, "public/feed.xml"),
            sorted(expected),
            "{when}"
        );
        // Dropped from the outputs, never from the store.
        assert_eq!(items_of(&ws, "Wire A"), 5, "{when}");
    }
}

#[tokio::test]
async fn dates_decide_with_older_than_and_newer_than() {
    let server = FeedServer::start().await;
    let now = chrono::Utc::now();
    let old = (now - chrono::Duration::days(10)).to_rfc2822();
    let fresh = (now - chrono::Duration::hours(1)).to_rfc2822();
    server.serve(
        "/a.xml",
        rss(
            "Wire A",
            "https://wire-a.example/",
            &[item("new", "Fresh", &fresh), item("old", "Stale", &old)],
        ),
    );
    server.serve("/b.xml", rss("Wire B", "https://wire-b.example/", &[]));
    for (when, left) in [
        (r#"older_than = "7d""#, "Fresh"),
        (r#"newer_than = "2h""#, "Stale"),
    ] {
        let rule = format!("\n[[rules]]\nwhen = {{ {when} }}\naction = \"drop\"\n");
        let ws = Workspace::new(&config(&server, &rule));
        let out = ws.tributary(&["once"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(titles_in(&ws, "public/feed.xml"), [left], "{when}");
        // The item that will turn older later is marked to be shaped again then.
        let rechecks = count(
            &ws,
            "SELECT count(*) FROM items WHERE recheck_at IS NOT NULL",
        );
        assert_eq!(rechecks, 1, "{when}");
    }
}

#[tokio::test]
async fn keep_applies_within_its_scope_and_the_first_decision_wins() {
    let server = served().await;
    let rules = r#"
[[rules]]
sources = ["Wire A"]
when = { title = "Sponsored" }
action = "drop"

[[rules]]
sources = ["Wire A"]
when = { any = "(?i)budget|council|sponsored" }
action = "keep"
"#;
    let ws = Workspace::new(&config(&server, rules));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // Wire A: only what the keep rule matches, less what the drop before it took;
    // Wire B is out of the keep rule's scope.
    assert_eq!(
        titles_in(&ws, "public/feed.xml"),
        ["Budget vote", "Council meets", "Kyiv talks"]
    );
}

#[tokio::test]
async fn tags_fill_topic_outputs_and_show_as_categories_in_every_format() {
    let server = served().await;
    let rules = r#"
[[rules]]
when = { any = "(?i)\\bukrain" }
action = "tag"
tag = "ukraine"

[[rules]]
when = { title = "(?i)budget" }
action = "tag"
tag = "money"
"#;
    let ws = Workspace::new(&config(&server, rules));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The topic output: Wire B by its source's tag, Wire A's item by its own.
    assert_eq!(
        titles_in(&ws, "public/ukraine.json"),
        ["Budget vote", "Kyiv talks"]
    );
    for file in ["public/feed.xml", "public/feed.rss", "public/ukraine.json"] {
        let feed = ws.feed(file);
        let budget = feed
            .entries
            .iter()
            .find(|e| e.title.as_ref().is_some_and(|t| t.content == "Budget vote"))
            .unwrap_or_else(|| panic!("no Budget vote in {file}"));
        let terms: Vec<&str> = budget.categories.iter().map(|c| c.term.as_str()).collect();
        assert!(
            terms.contains(&"ukraine") && terms.contains(&"money"),
            "{file}: {terms:?}"
        );
        assert!(
            terms.contains(&"news"),
            "{file}: the publisher's own category: {terms:?}"
        );
    }
}

#[tokio::test]
async fn rewrites_show_in_every_format_and_are_replayed_from_the_original() {
    let server = FeedServer::start().await;
    let body = r#"<p>The harbour reopens.</p><div class="share-buttons"><a href="https://s.example/">Share</a></div><p class="newsletter-signup">Sign up!</p><img src="https://t.example/p.gif" width="1">"#;
    let mut harbour = item(
        "h1",
        "[PRESS] Harbour reopens",
        "Mon, 18 Aug 2025 10:00:00 GMT",
    );
    harbour.body = body.into();
    server.serve(
        "/h.xml",
        rss("Harbour Institute", "https://harbour.example/", &[harbour]),
    );
    let rewrites = r#"
remove = [".share-buttons", "p.newsletter-signup", "img[width='1']"]
replace = [{ field = "title", pattern = "^\\[PRESS\\] ", with = "" }]
"#;
    let config = |rewrites: &str| {
        format!(
            r#"{STATE_AND_OUTPUT}
[[outputs]]
path = "public/feed.rss"
title = "RSS"
format = "rss"

[[outputs]]
path = "public/feed.json"
title = "JSON"
format = "json"

[[sources]]
name = "Harbour Institute"
url = "{}"
{rewrites}"#,
            server.url("/h.xml")
        )
    };
    let ws = Workspace::new(&config(rewrites));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["public/feed.xml", "public/feed.rss", "public/feed.json"] {
        let feed = ws.feed(file);
        let entry = &feed.entries[0];
        assert_eq!(
            entry.title.as_ref().unwrap().content,
            "Harbour reopens",
            "{file}"
        );
        let text = text_of(entry);
        assert!(text.contains("The harbour reopens."), "{file}: {text}");
        for gone in ["Share", "Sign up", "p.gif"] {
            assert!(!text.contains(gone), "{file} still has {gone}: {text}");
        }
    }
    // The original stays stored; a second run does not rewrite the rewritten.
    let stored: String = ws
        .db()
        .query_row("SELECT title FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "[PRESS] Harbour reopens");
    // Rewrites removed: the original is written again.
    ws.write("tributary.toml", &config(""));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(titles(&ws), ["[PRESS] Harbour reopens"]);
    let feed = ws.feed("public/feed.xml");
    let text = text_of(&feed.entries[0]);
    assert!(text.contains("Sign up!"), "{text}");
}

/// Polls once and asserts that `source` brought nothing new.
async fn poll_finds_nothing_new(ws: &Workspace, source: &str) {
    let out = ws.tributary(&["once"]).await;
    let line = once_line(&stdout(&out), source).to_string();
    assert!(line.contains("0 new"), "{}", stdout(&out));
}

#[tokio::test]
async fn tracking_parameters_are_stripped_and_links_differing_by_them_are_one_item() {
    let server = FeedServer::start().await;
    let feed = |campaigns: &[&str]| {
        let items: Vec<String> = campaigns
            .iter()
            .map(|c| {
                raw_item(
                    None,
                    "Bridge report",
                    Some(&format!(
                        "https://council.example/news/bridge?id=7&amp;utm_source={c}&amp;mc_eid=x{c}"
                    )),
                    "<p>Report</p>",
                    "Mon, 18 Aug 2025 10:00:00 GMT",
                )
            })
            .collect();
        channel("Council", &items)
    };
    server.serve("/c.xml", feed(&["a", "b"]));
    let config = |strip: &str| {
        format!(
            "{STATE_AND_OUTPUT}\n[dedup]\n{strip}\n\n[[sources]]\nname = \"Council\"\nurl = \"{}\"\nstrip_query = [\"mc_eid\"]\n",
            server.url("/c.xml")
        )
    };
    let ws = Workspace::new(&config(r#"strip_query = ["utm_*", "fbclid"]"#));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items_of(&ws, "Council"), 1);
    let links: Vec<String> = ws.feed("public/feed.xml").entries[0]
        .links
        .iter()
        .map(|l| l.href.clone())
        .collect();
    assert_eq!(links[0], "https://council.example/news/bridge?id=7");
    // Another campaign next time: the same article.
    server.serve("/c.xml", feed(&["c"]));
    poll_finds_nothing_new(&ws, "Council").await;
    assert_eq!(items_of(&ws, "Council"), 1);
    // Named no more: the link as first written still leads to the item.
    ws.write("tributary.toml", &config(""));
    server.serve(
        "/c.xml",
        feed(&["a"]).replace("<p>Report</p>", "<p>Report, corrected</p>"),
    );
    poll_finds_nothing_new(&ws, "Council").await;
    assert_eq!(items_of(&ws, "Council"), 1);
}

#[tokio::test]
async fn naming_a_tracking_parameter_later_never_doubles_a_stored_item() {
    let server = FeedServer::start().await;
    let link = "https://council.example/n?id=7&amp;ref=rss";
    let serve = |body: &str| {
        let item = raw_item(
            None,
            "Bridge",
            Some(link),
            body,
            "Mon, 18 Aug 2025 10:00:00 GMT",
        );
        server.serve("/c.xml", channel("Council", &[item]))
    };
    serve("<p>x</p>");

    let config = |strip: &str| {
        format!(
            "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Council\"\nurl = \"{}\"\n{strip}\n",
            server.url("/c.xml")
        )
    };
    let ws = Workspace::new(&config(""));
    assert!(ws.tributary(&["once"]).await.status.success());
    // The parameter named after the item was stored: its link is cleaned in the outputs at once,
    // and the next poll finds the same item.
    ws.write("tributary.toml", &config(r#"strip_query = ["ref"]"#));
    // Its text changed too, so that nothing but its keys can tell it is the same item.
    serve("<p>x, corrected</p>");
    poll_finds_nothing_new(&ws, "Council").await;
    let entry = &ws.feed("public/feed.xml").entries[0];
    assert_eq!(entry.links[0].href, "https://council.example/n?id=7");
    // And named no more: still the same item.
    ws.write("tributary.toml", &config(""));
    serve("<p>x, corrected twice</p>");
    poll_finds_nothing_new(&ws, "Council").await;
    assert_eq!(items_of(&ws, "Council"), 1);
}

#[tokio::test]
async fn a_bad_rule_is_a_config_error_naming_it() {
    let server = served().await;
    let rules = r#"
[[rules]]
when = { title = "(unclosed" }
action = "drop"

[[rules]]
when = { title = "x" }
action = "tag"

[[sources.rules]]
when = { link = "x" }
action = "explode"
"#;
    let ws = Workspace::new(&config(&server, rules));
    let out = ws.tributary(&["check"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("rules[0].when.title: \"(unclosed\" is not a regular expression"),
        "{err}"
    );
    assert!(
        err.contains("rules[1].tag: a \"tag\" rule needs a tag"),
        "{err}"
    );
    assert!(
        err.contains("sources[1] (\"Wire B\").rules[0].action: \"explode\" is not an action"),
        "{err}"
    );
}

#[tokio::test]
async fn rules_test_prints_what_each_rule_and_rewrite_would_do_changing_nothing() {
    let server = served().await;
    let ws = Workspace::new(&config(&server, ""));
    assert!(ws.tributary(&["once"]).await.status.success());
    let before = std::fs::read(ws.path("public/feed.xml")).unwrap();
    // Rules written after the items were stored, tried before they apply.
    let rules = r#"
[[rules]]
sources = ["Wire A"]
when = { title = "(?i)sponsored" }
action = "drop"

[[rules]]
when = { any = "(?i)ukrain|kyiv" }
action = "tag"
tag = "ukraine"
"#;
    let mut text = config(&server, rules);
    text = text.replace(
        "name = \"Wire A\"\n",
        "name = \"Wire A\"\nreplace = [{ field = \"title\", pattern = \"^Council\", with = \"City council\" }]\n",
    );
    ws.write("tributary.toml", &text);
    let out = ws
        .tributary(&["rules", "test", "--source", "Wire A", "--last", "5"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    // Same dates: newest first is the feed's order.
    assert_eq!(
        lines,
        [
            "Wire A · Sponsored: ten tips",
            "  dropped by rules[0]",
            "Wire A · Budget vote",
            "  tagged \"ukraine\" by rules[1]",
            "Wire A · Harbour works",
            "  written as it is",
            "Wire A · Council meets",
            "  title rewritten by replace[0]: \"Council meets\" → \"City council meets\"",
            "Wire A · Weekly digest",
            "  written as it is",
            lines[10],
        ],
        "{printed}"
    );
    assert!(
        lines[10].starts_with("5 items as of ")
            && lines[10]
                .ends_with(": 4 written, 1 dropped; 1 tagged, 1 rewritten (nothing was changed)"),
        "{}",
        lines[10]
    );
    // Nothing changed: not the outputs, not what the store says of the items.
    assert_eq!(std::fs::read(ws.path("public/feed.xml")).unwrap(), before);
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM items WHERE hidden IS NOT NULL OR tags != '[]'"
        ),
        0
    );
}

#[tokio::test]
async fn explain_shows_what_the_rules_would_do_to_each_fetched_item() {
    let server = served().await;
    let rules = r#"
[[rules]]
when = { author = "Press Office" }
action = "drop"
"#;
    let ws = Workspace::new(&config(&server, rules));
    let out = ws.tributary(&["explain", "Wire A"]).await;
    let text = stdout(&out);
    let council = text.split("Council meets").nth(1).unwrap_or_default();
    let council = council.split("\n\n").next().unwrap_or_default();
    assert!(
        council.contains("rules:      dropped by rules[0]"),
        "{text}"
    );
    assert_eq!(text.matches("dropped by rules[0]").count(), 1, "{text}");
}

#[tokio::test]
async fn a_rule_added_to_a_running_daemon_unpublishes_stored_items_and_removing_it_brings_them_back()
 {
    let server = served().await;
    let base = config(&server, "");
    let ws = Workspace::new(&base.replace("[database]", "[poll]\ninterval = \"1h\"\n\n[database]"));
    let daemon = Daemon::start(&ws);
    let limit = Duration::from_secs(60);
    let has = |title: &'static str| {
        let ws = &ws;
        move || {
            std::fs::read(ws.path("public/feed.xml"))
                .ok()
                .and_then(|bytes| feed_rs::parser::parse(&bytes[..]).ok())
                .is_some_and(|feed| {
                    feed.entries
                        .iter()
                        .any(|e| e.title.as_ref().is_some_and(|t| t.content == title))
                })
        }
    };
    assert!(
        wait_for(limit, has("Sponsored: ten tips")).await,
        "{}",
        daemon.log()
    );
    assert!(wait_for(limit, has("Kyiv talks")).await, "{}", daemon.log());
    let requests = server.requests("/a.xml");
    let with_rule = ws.path("tributary.toml");
    let text = std::fs::read_to_string(&with_rule).unwrap();
    let rule = "\n[[rules]]\nwhen = { title = \"(?i)sponsored\" }\naction = \"drop\"\n";
    ws.write("tributary.toml", &format!("{text}{rule}"));
    let gone = wait_for(limit, || !has("Sponsored: ten tips")()).await;
    assert!(gone, "{}", daemon.log());
    assert!(has("Kyiv talks")(), "the rest stays");
    ws.write("tributary.toml", &text);
    assert!(
        wait_for(limit, has("Sponsored: ten tips")).await,
        "{}",
        daemon.log()
    );
    // All of it from the store: no publisher was asked again.
    assert_eq!(server.requests("/a.xml"), requests);
}

#[tokio::test]
async fn a_tag_rule_added_later_fills_a_topic_output_from_the_archive() {
    let server = served().await;
    let ws = Workspace::new(&config(&server, ""));
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(titles_in(&ws, "public/ukraine.json"), ["Kyiv talks"]);
    // Scoped by the sources' tags: Wire B's items only, whatever they say.
    let rules = r#"
[[rules]]
when = { title = "(?i)budget|kyiv" }
action = "tag"
tag = "ukraine"

[[rules]]
tags = ["ukraine"]
when = { any = "(?i)budget|talks" }
action = "tag"
tag = "diplomacy"
"#;
    ws.write("tributary.toml", &config(&server, rules));
    // Nothing new comes: the archive is shaped again.
    poll_finds_nothing_new(&ws, "Wire A").await;
    assert_eq!(
        titles_in(&ws, "public/ukraine.json"),
        ["Budget vote", "Kyiv talks"]
    );
    let tags: Vec<String> = ws
        .db()
        .prepare("SELECT tags FROM items ORDER BY title")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t: &String| t != "[]")
        .collect();
    assert_eq!(tags, [r#"["ukraine"]"#, r#"["ukraine","diplomacy"]"#]);
}

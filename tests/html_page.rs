//! A web page without a feed as a source: its items found by CSS selectors, identified by
//! their links, stored and updated like a feed's.

mod common;

use common::*;

fn page(releases: &[(&str, &str, &str)]) -> String {
    let articles: String = releases
        .iter()
        .map(|(slug, title, date)| {
            format!(
                r#"<article class="press-release"><h2> {title} </h2>
                   <a href="/news/{slug}">Read more</a><time datetime="{date}">{date}</time>
                   <p class="summary">About {title}.</p>
                   <div class="body"><p>{title} in full.</p><script>track()</script></div>
                   <span class="byline">Press office</span></article>"#
            )
        })
        .collect();
    format!(
        r#"<!doctype html><html><head><title>News</title></head><body>
        <nav><a href="/">Home</a></nav>{articles}
        <article class="press-release"><h2>No link here</h2></article></body></html>"#
    )
}

fn config(server: &FeedServer) -> String {
    format!(
        r#"{STATE_AND_OUTPUT}
[[sources]]
name = "Council press releases"
url = "{}"
kind = "html"
[sources.html]
item = "article.press-release"
title = "h2"
link = "a@href"
date = "time@datetime"
date_format = "%d %B %Y"
summary = "p.summary"
content = "div.body"
author = ".byline"
"#,
        server.url("/news")
    )
}

#[tokio::test]
async fn a_pages_items_are_stored_once_updated_in_place_and_never_doubled() {
    let server = FeedServer::start().await;
    server.serve(
        "/news",
        page(&[
            ("budget", "Budget agreed", "19 August 2025"),
            ("bridges", "Bridges reopen", "18 August 2025"),
        ]),
    );
    let ws = Workspace::new(&config(&server));
    let out = ws.tributary(&["once"]).await;
    let line = once_line(&stdout(&out), "Council press releases").to_string();
    assert!(line.contains("2 new"), "{line}{}", stderr(&out));

    // Re-rendered in another order, one retitled, one new.
    server.serve(
        "/news",
        page(&[
            ("buses", "Buses return", "20 August 2025"),
            ("bridges", "Bridges reopen", "18 August 2025"),
            ("budget", "Budget agreed (corrected)", "19 August 2025"),
        ]),
    );
    let out = ws.tributary(&["once"]).await;
    let line = once_line(&stdout(&out), "Council press releases").to_string();
    assert!(line.contains("1 new, 1 updated, 1 unchanged"), "{line}");
    assert_eq!(items_of(&ws, "Council press releases"), 3);

    let feed = ws.feed("public/feed.xml");
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(
        titles,
        [
            "Buses return",
            "Budget agreed (corrected)",
            "Bridges reopen"
        ]
    );
    let budget = &feed.entries[1];
    assert_eq!(budget.links[0].href, server.url("/news/budget"));
    assert_eq!(
        budget.published.unwrap().to_rfc3339(),
        "2025-08-19T00:00:00+00:00"
    );
    let content = budget.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(
        content.contains("in full") && !content.contains("script"),
        "{content}"
    );
    assert_eq!(budget.authors[0].name.as_deref(), Some("Press office"));
    assert_eq!(
        budget.summary.as_ref().unwrap().content,
        "About Budget agreed (corrected)."
    );

    // `explain` counts the match it left out.
    let out = ws.tributary(&["explain", "Council press releases"]).await;
    let text = stdout(&out);
    assert!(
        text.contains("1 matches of the item selector left out: no title or no link"),
        "{text}"
    );
    // And shows what each selector matched.
    for matched in [
        "Budget agreed (corrected)",
        "/news/budget",
        "published:  2025-08-19 00:00:00Z",
        "author:     Press office",
        "summary:    About Budget agreed (corrected).",
        "content:    ",
    ] {
        assert!(text.contains(matched), "{matched} in {text}");
    }
}

#[tokio::test]
async fn a_bad_selector_is_a_config_error_naming_its_key() {
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Page\"\nurl = \"https://council.example/news\"\n\
         kind = \"html\"\n[sources.html]\nitem = \"article[\"\ntitle = \"h2\"\n"
    ));
    let out = ws.tributary(&["check"]).await;
    let text = stderr(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("html.item: \"article[\" is not a CSS selector"),
        "{text}"
    );
    assert!(text.contains("html.link: is required"), "{text}");
}

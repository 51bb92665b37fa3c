//! Full text: each new item's article page fetched once, extracted, stored beside the feed's
//! content and written as the item's content; failures keep the feed's content.

mod common;

use common::*;

/// An article page with the clutter real ones have around the article.
fn article_page(title: &str) -> String {
    let paragraph = format!(
        "<p>{title}: the council approved the harbour plan after a long debate, and the works \
         start in spring, with the first berths open by the end of next year, officials said.</p>"
    );
    format!(
        r#"<!DOCTYPE html><html><head><title>{title}</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About us</a></nav>
<div class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Other story</a></li></ul></div>
<article><h1>{title}</h1>
<div class="article-body">{}<p>Read more in <a href="/report.pdf">the report</a>.</p>
<script>track()</script></div>
<aside class="related">Related: nothing</aside></article>
<footer>Copyright the council. Cookie settings. Newsletter.</footer>
</body></html>"#,
        paragraph.repeat(4)
    )
}

fn feed(server: &FeedServer, items: &[(&str, &str)]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|(path, title)| {
            raw_item(
                Some(path),
                title,
                Some(&server.url(path)),
                "<p>Teaser only.</p>",
                "Mon, 18 Aug 2025 10:00:00 GMT",
            )
        })
        .collect();
    channel("Council", &items)
}

fn config(server: &FeedServer, extra: &str) -> String {
    format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Council\"\nurl = \"{}\"\nfull_text = true\n{extra}\n",
        server.url("/feed.xml")
    )
}

/// The content of the entry titled `title` in the merged Atom feed.
fn content_of(ws: &Workspace, title: &str) -> String {
    let feed = ws.feed("public/feed.xml");
    let entry = feed
        .entries
        .iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == title))
        .unwrap_or_else(|| panic!("no entry {title}"));
    text_of(entry)
}

#[tokio::test]
async fn the_article_is_extracted_once_stored_beside_the_feed_content_and_written() {
    let server = FeedServer::start().await;
    server.serve(
        "/feed.xml",
        feed(&server, &[("/news/harbour", "Harbour plan")]),
    );
    server.serve("/news/harbour", article_page("Harbour plan"));
    let ws = Workspace::new(&config(&server, ""));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let content = content_of(&ws, "Harbour plan");
    assert!(
        content.contains("the council approved the harbour plan"),
        "{content}"
    );
    let report = server.url("/report.pdf");
    assert!(content.contains(&report), "links made absolute: {content}");
    for clutter in ["Most read", "Cookie settings", "track()", "About us"] {
        assert!(!content.contains(clutter), "{clutter} kept: {content}");
    }
    // The feed's own content is kept beside it.
    let (stored, full): (String, String) = ws
        .db()
        .query_row("SELECT summary, full_text FROM items", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(stored, "<p>Teaser only.</p>");
    assert!(full.contains("harbour plan"));
    // Once: the next poll finds the item unchanged and asks for no page.
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success());
    assert_eq!(server.requests("/news/harbour"), 1);
}

#[tokio::test]
async fn a_selector_keeps_only_its_part_of_the_page() {
    let server = FeedServer::start().await;
    server.serve(
        "/feed.xml",
        feed(&server, &[("/news/harbour", "Harbour plan")]),
    );
    server.serve("/news/harbour", article_page("Harbour plan"));
    let ws = Workspace::new(&config(
        &server,
        "full_text_selector = \"div.article-body\"",
    ));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let content = content_of(&ws, "Harbour plan");
    assert!(content.contains("the council approved"), "{content}");
    // Only the selected part: not the headline or the aside around it.
    assert!(
        !content.contains("<h1>") && !content.contains("Related: nothing"),
        "{content}"
    );
}

#[tokio::test]
async fn a_failed_extraction_keeps_the_feed_content_and_is_retried_a_few_times_at_most() {
    let server = FeedServer::start().await;
    server.serve(
        "/feed.xml",
        feed(
            &server,
            &[
                ("/news/broken", "Broken page"),
                ("/news/empty", "Empty page"),
            ],
        ),
    );
    server.respond("/news/broken", 500, &[], b"oops".to_vec());
    server.serve(
        "/news/empty",
        "<html><body><nav>Home</nav></body></html>".into(),
    );
    let ws = Workspace::new(&config(
        &server,
        "full_text_selector = \"div.article-body\"",
    ));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(log.contains("full text not fetched"), "{log}");
    assert!(log.contains("no article found in the page"), "{log}");
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(
        status.contains(
            "Council: full text not fetched for 2 item(s), their feed content shown; the latest: "
        ),
        "{status}"
    );
    for title in ["Broken page", "Empty page"] {
        assert_eq!(content_of(&ws, title), "<p>Teaser only.</p>");
    }
    // Each tried once, each waiting for a retry.
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM items WHERE full_text_tries = 1 AND full_text_wanted = 1 AND full_text_after IS NOT NULL"
        ),
        2
    );
    // At the last try, given up for good.
    ws.db()
        .execute(
            "UPDATE items SET full_text_tries = 2, full_text_after = 0",
            [],
        )
        .unwrap();
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success());
    assert_eq!(server.requests("/news/broken"), 2);
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM items WHERE full_text_tries = 3 AND full_text_wanted = 0"
        ),
        2
    );
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success());
    assert_eq!(server.requests("/news/broken"), 2);
}

#[tokio::test]
async fn an_item_of_a_public_source_linking_to_a_private_address_is_not_fetched() {
    let server = FeedServer::start().await;
    server.serve("/news/inside", article_page("Inside"));
    // A source read from a file has no address: it is no private one, so its items' links to
    // 127.0.0.1 are refused as a public publisher's would be.
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Council\"\nurl = \"file:council.xml\"\nfull_text = true\n"
    ));
    ws.write("council.xml", &feed(&server, &[("/news/inside", "Inside")]));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests("/news/inside"), 0);
    assert!(
        stderr(&out).contains("refused the private address"),
        "{}",
        stderr(&out)
    );
    assert_eq!(content_of(&ws, "Inside"), "<p>Teaser only.</p>");
    // Not worth retrying.
    assert_eq!(
        count(&ws, "SELECT count(*) FROM items WHERE full_text_wanted = 1"),
        0
    );
    // Allowed when the user says so.
    let ws = Workspace::new(&format!(
        "[poll]\nallow_private_redirects = true\n{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Council\"\nurl = \"file:council.xml\"\nfull_text = true\n"
    ));
    ws.write("council.xml", &feed(&server, &[("/news/inside", "Inside")]));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests("/news/inside"), 1);
    assert!(content_of(&ws, "Inside").contains("the council approved"));
}

#[tokio::test]
async fn rules_see_the_full_text() {
    let server = FeedServer::start().await;
    server.serve(
        "/feed.xml",
        feed(
            &server,
            &[("/news/harbour", "Harbour plan"), ("/news/other", "Other")],
        ),
    );
    server.serve("/news/harbour", article_page("Harbour plan"));
    server.serve("/news/other", article_page("Other"));
    let rule =
        "\n[[rules]]\nwhen = { content = \"Harbour plan: the council\" }\naction = \"drop\"\n";
    let ws = Workspace::new(&format!("{}{rule}", config(&server, "")));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The teaser never said it; the article does.
    assert_eq!(titles(&ws), ["Other"]);
}

#[tokio::test]
async fn a_running_daemon_fetches_the_article_beside_its_polls_and_writes_it() {
    let server = FeedServer::start().await;
    server.serve(
        "/feed.xml",
        feed(&server, &[("/news/harbour", "Harbour plan")]),
    );
    server.serve("/news/harbour", article_page("Harbour plan"));
    let config =
        config(&server, "").replace("[database]", "[poll]\ninterval = \"1h\"\n\n[database]");
    let ws = Workspace::new(&config);
    let daemon = Daemon::start(&ws);
    let written = wait_for(std::time::Duration::from_secs(60), || {
        std::fs::read(ws.path("public/feed.xml"))
            .ok()
            .and_then(|bytes| feed_rs::parser::parse(&bytes[..]).ok())
            .is_some_and(|feed| {
                feed.entries
                    .iter()
                    .any(|e| text_of(e).contains("the council approved the harbour plan"))
            })
    })
    .await;
    assert!(written, "{}", daemon.log());
    assert_eq!(server.requests("/news/harbour"), 1);
    assert!(
        daemon.log().contains("full text stored"),
        "{}",
        daemon.log()
    );
}

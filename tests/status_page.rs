//! Operating it: the status page and `/status.json` of the built-in server show what
//! `tributary status` shows, for sources in every state.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn the_status_page_and_its_json_show_every_state_and_note() {
    let server = FeedServer::start().await;
    let feed = |title: &str| {
        rss(
            title,
            "https://p.example/",
            &[item(
                &format!("{title}-1"),
                "News",
                "Mon, 18 Aug 2025 10:00:00 GMT",
            )],
        )
    };
    server.serve("/ok.xml", feed("Fine"));
    server.respond("/fail.xml", 500, &[], Vec::new());
    server.respond("/limit.xml", 429, &[("Retry-After", "7200")], Vec::new());
    server.respond("/gone.xml", 410, &[], Vec::new());
    server.redirect("/old.xml", 301, &server.url("/new.xml"));
    server.serve("/new.xml", feed("Moved"));
    let port = free_port();
    let mut config = format!(
        "[poll]\nadopt_redirect_after = 1\n{STATE_AND_OUTPUT}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\nstatus = true\n"
    );
    for (name, path) in [
        ("Fine", "/ok.xml"),
        ("Broken", "/fail.xml"),
        ("Busy", "/limit.xml"),
        ("Closed", "/gone.xml"),
        ("Moved", "/old.xml"),
    ] {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url(path)
        ));
    }
    let ws = Workspace::new(&config);
    assert!(ws.tributary(&["once"]).await.status.success());
    let cli = stdout(&ws.tributary(&["status"]).await);

    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        wait_for_async(Duration::from_secs(30), || async {
            client
                .get(format!("{base}/status.json"))
                .send()
                .await
                .is_ok()
        })
        .await
    );
    let response = client
        .get(format!("{base}/status.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let sources = json["sources"].as_array().unwrap();
    let state = |name: &str| {
        sources
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {json}"))
    };
    assert_eq!(state("Fine")["state"], "ok");
    assert_eq!(state("Fine")["items"], 1);
    assert!(state("Fine")["last_success"].is_string());
    assert_eq!(state("Broken")["state"], "failing");
    assert!(
        state("Broken")["state_text"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{json}"
    );
    assert!(state("Broken")["next_poll"].is_string(), "{json}");
    assert_eq!(state("Busy")["state"], "rate_limited");
    assert_eq!(state("Busy")["next_poll_reason"], "retry-after");
    assert_eq!(state("Closed")["state"], "gone");
    assert!(state("Closed")["next_poll"].is_null());
    let moved = state("Moved")["notes"][0].as_str().unwrap();
    assert!(
        moved.starts_with("moved permanently; polling ") && moved.contains("/new.xml"),
        "{json}"
    );

    // The page: the same table as `status`, no script, nothing but status.json linked.
    let page = client.get(format!("{base}/status")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"));
    let document = scraper::Html::parse_document(&html);
    let rows: Vec<String> = document
        .select(&scraper::Selector::parse("tbody tr").unwrap())
        .map(|r| r.text().collect::<String>())
        .collect();
    assert_eq!(rows.len(), 5, "{html}");
    for (name, text) in [
        ("Broken", "failing (1 in a row)"),
        ("Busy", "rate limited until"),
        ("Closed", "gone (HTTP 410) since"),
        ("Moved", "moved permanently; polling"),
    ] {
        let row = rows.iter().find(|r| r.contains(name)).unwrap();
        assert!(row.contains(text), "{name}: {row}");
        // The same words as the command line's table.
        assert!(cli.contains(text), "{cli}");
    }
    let links: Vec<&str> = document
        .select(&scraper::Selector::parse("[href], [src]").unwrap())
        .filter_map(|e| e.value().attr("href").or(e.value().attr("src")))
        .collect();
    assert_eq!(links, ["status.json"]);
    daemon.stop().await;
}

#[tokio::test]
async fn the_status_page_is_off_unless_asked_for() {
    let port = free_port();
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n"
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.ready().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        wait_for_async(Duration::from_secs(30), || async {
            client
                .get(format!("{base}/feed.xml"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await,
        "{}",
        daemon.log()
    );
    for path in ["/status", "/status.json"] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    daemon.stop().await;
    // Without the server, status = true is refused.
    ws.write(
        "tributary.toml",
        &format!("{STATE_AND_OUTPUT}\n[serve]\nstatus = true\n"),
    );
    let check = ws.tributary(&["check"]).await;
    assert!(!check.status.success());
    assert!(
        stderr(&check).contains("serve.status: needs [serve] listen"),
        "{}",
        stderr(&check)
    );
}

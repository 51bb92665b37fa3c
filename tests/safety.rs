//! Nothing unsafe goes out: hostile publishers' URLs, dates and titles, read back from every
//! output format and the HTML page.

mod common;

use common::*;
use serde_json::Value;

/// Link-bearing attributes of HTML, as a browser would follow them.
const HTML_URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "action",
    "formaction",
    "poster",
    "cite",
    "background",
    "longdesc",
    "data",
    "codebase",
    "xlink:href",
];

/// Panics unless `url` is one a reader can safely follow: http(s), mailto, or a reference
/// relative to where the reader fetched the document (an Atom self link without a base URL).
fn assert_followable(url: &str, context: &str) {
    let lower = url.to_ascii_lowercase();
    let absolute_ok = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    let path_part = url.split(['/', '?', '#']).next().unwrap_or_default();
    let relative_ok = !url.is_empty()
        && !path_part.contains(':')
        && url.chars().all(|c| !c.is_whitespace() && !c.is_control());
    assert!(
        absolute_ok || relative_ok,
        "{context}: {url:?} is not http(s), mailto or relative"
    );
}

/// Every URL in a piece of HTML (a page, or an item's content).
fn check_html(html: &str, context: &str) {
    let fragment = scraper::Html::parse_document(html);
    for node in fragment.tree.nodes() {
        let Some(element) = node.value().as_element() else {
            continue;
        };
        for (name, value) in element.attrs() {
            if name.starts_with("on") {
                panic!("{context}: event handler {name}={value:?}");
            }
            if HTML_URL_ATTRIBUTES.contains(&name) {
                let context = format!("{context} <{} {name}>", element.name());
                for candidate in value.split(',').filter(|_| name == "srcset") {
                    assert_followable(candidate.split_whitespace().next().unwrap_or(""), &context);
                }
                if name != "srcset" {
                    assert_followable(value, &context);
                }
            }
        }
    }
}

/// Every URL of an Atom or RSS document: link-bearing attributes and elements, and the HTML
/// inside its texts.
fn check_xml(text: &str, context: &str) {
    let doc = roxmltree::Document::parse(text).unwrap();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        for attribute in node.attributes() {
            if matches!(attribute.name(), "href" | "src" | "url" | "uri") {
                assert_followable(
                    attribute.value(),
                    &format!("{context} <{name} {}>", attribute.name()),
                );
            }
        }
        let own_text = node.text().map(str::trim).filter(|t| !t.is_empty());
        if let Some(value) = own_text {
            if matches!(
                name,
                "link" | "uri" | "url" | "comments" | "docs" | "logo" | "icon"
            ) {
                assert_followable(value, &format!("{context} <{name}>"));
            }
            if name == "id" && node.parent().is_some_and(|p| p.has_tag_name("source")) {
                let lower = value.to_ascii_lowercase();
                assert!(
                    ["http://", "https://", "urn:", "tag:"]
                        .iter()
                        .any(|s| lower.starts_with(s)),
                    "{context}: atom:source id {value:?}"
                );
            }
            if value.contains('<') {
                check_html(value, &format!("{context} <{name}>"));
            }
        }
    }
}

/// Every URL of a JSON Feed: its URL members, and the HTML of its items.
fn check_json(value: &Value, context: &str) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    (
                        "url" | "external_url" | "image" | "banner_image" | "icon" | "favicon"
                        | "home_page_url" | "feed_url" | "next_url" | "avatar" | "source_link"
                        | "source_feed",
                        Value::String(url),
                    ) => assert_followable(url, &format!("{context} {key}")),
                    ("content_html", Value::String(html)) => check_html(html, context),
                    _ => check_json(member, context),
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|v| check_json(v, context)),
        _ => {}
    }
}

/// The words of an unsafe scheme, wherever they stand in a file: the backstop of the checks
/// above, for a place they do not know.
fn assert_no_unsafe_scheme(text: &str, context: &str) {
    let squeezed: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect();
    for scheme in ["javascript:", "vbscript:", "data:", "file:"] {
        assert!(!squeezed.contains(scheme), "{context} contains {scheme}");
    }
}

/// A workspace with the standard database and output, `extra` config lines after them (more
/// outputs, or keys of the last output), and one source: `path` on `server`.
fn workspace_with(server: &FeedServer, extra: &str, path: &str) -> Workspace {
    Workspace::new(&format!(
        "{STATE_AND_OUTPUT}{extra}\n[[sources]]\nurl = \"{}\"\n",
        server.url(path)
    ))
}

/// Runs `once` in `ws` and asserts that it succeeded.
async fn once_ok(ws: &Workspace) {
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

const HOSTILE_RSS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Hostile RSS</title><link>javascript:alert('site')</link><description>d</description>
  <image><url>javascript:alert('logo')</url><title>x</title><link>javascript:x</link></image>
  <item><guid isPermaLink="false">r1</guid><title>Mixed case</title><link>JavaScript:alert(1)</link>
    <pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate>
    <enclosure url="data:audio/mpeg;base64,AAAA" length="4" type="audio/mpeg"/>
    <comments>javascript:alert('comments')</comments>
    <description><![CDATA[<a href="JaVaScRiPt:alert(2)">a</a><img src="data:image/svg+xml,<svg onload=alert(3)>"><a href="vbscript:x" onclick="x()">b</a>]]></description></item>
  <item><guid isPermaLink="false">r2</guid><title>Spaces and tabs</title><link>  java&#9;script:alert(4)</link>
    <pubDate>Tue, 19 Aug 2025 11:00:00 GMT</pubDate>
    <media:content url="javascript:alert(5)" type="image/png"/>
    <media:content url="vbscript:alert(6)" type="video/mp4"/>
    <content:encoded><![CDATA[<p><a href="  javascript:alert(7)">c</a><iframe src="javascript:alert(8)"></iframe></p>]]></content:encoded></item>
  <item><title>Data link</title><link>DATA:text/html,&lt;script&gt;alert(9)&lt;/script&gt;</link>
    <pubDate>Tue, 19 Aug 2025 12:00:00 GMT</pubDate></item>
  <item xml:base="javascript:alert(10)//"><guid isPermaLink="false">r4</guid><title>Script base</title>
    <link>https://hostile.example/ok</link><pubDate>Tue, 19 Aug 2025 13:00:00 GMT</pubDate>
    <description><![CDATA[<a href="relative">d</a>]]></description></item>
  <item><guid isPermaLink="true">javascript:alert(11)</guid><title>Script guid</title>
    <pubDate>Tue, 19 Aug 2025 14:00:00 GMT</pubDate></item>
</channel></rss>"#;

const HOSTILE_ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <title>Hostile Atom</title><id>javascript:alert('id')</id>
  <link rel="alternate" href="javascript:alert('home')"/><link rel="self" href="data:x"/>
  <icon>data:image/png,x</icon><logo>javascript:x</logo><updated>2025-08-19T10:00:00Z</updated>
  <author><name>Feed author</name><uri>javascript:alert('feed author')</uri></author>
  <entry><id>urn:a1</id><title>Atom data link</title>
    <link rel="alternate" href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="/>
    <link rel="enclosure" href="vbscript:x" type="audio/mpeg" length="1"/>
    <link rel="enclosure" href="https://hostile.example/ok.mp3" type="audio/mpeg" length="1"/>
    <author><name>Mallory</name><uri>javascript:alert('author')</uri><email>m@hostile.example</email></author>
    <updated>2025-08-19T10:00:00Z</updated>
    <content type="html">&lt;a href="javascript:alert(12)"&gt;x&lt;/a&gt;&lt;img src="data:image/png;base64,AAAA"&gt;</content>
  </entry>
  <entry><id>urn:a2</id><title>Atom xhtml</title><link href="https://hostile.example/a2"/>
    <updated>2025-08-19T11:00:00Z</updated>
    <media:group><media:content url="https://hostile.example/v.mp4" type="video/mp4"/>
      <media:thumbnail url="javascript:alert(13)"/></media:group>
    <summary type="html">&lt;form action="javascript:alert(14)"&gt;&lt;button formaction="javascript:x"&gt;b&lt;/button&gt;&lt;/form&gt;</summary>
  </entry>
</feed>"#;

const HOSTILE_JSON: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "Hostile JSON",
  "home_page_url": "javascript:alert('home')",
  "feed_url": "data:application/json,{}",
  "icon": "javascript:x", "favicon": "data:x",
  "authors": [{"name": "Feed author", "url": "javascript:alert('feed author')"}],
  "items": [
    {"id": "j1", "url": "javascript:alert(15)", "external_url": "data:text/html,x",
     "title": "JSON script link", "image": "data:image/png,x", "banner_image": "javascript:x",
     "date_published": "2025-08-19T10:00:00Z",
     "content_html": "<a href=\"javascript:alert(16)\">x</a><video poster=\"javascript:x\" src=\"data:video/mp4,x\"></video>",
     "authors": [{"name": "Mallory", "url": "vbscript:x", "avatar": "javascript:x"}],
     "attachments": [{"url": "vbscript:x", "mime_type": "audio/mpeg"},
                     {"url": "https://hostile.example/ok.mp3", "mime_type": "audio/mpeg"}]},
    {"id": "j2", "url": " JAVASCRIPT:alert(17)", "title": "JSON spaced link",
     "date_published": "2025-08-19T11:00:00Z", "content_text": "plain"}
  ]
}"#;

#[tokio::test]
async fn hostile_urls_reach_no_output_and_their_items_stay() {
    let server = FeedServer::start().await;
    server.serve("/rss.xml", HOSTILE_RSS.into());
    server.serve("/atom.xml", HOSTILE_ATOM.into());
    server.respond(
        "/feed.json",
        200,
        &[("Content-Type", "application/feed+json")],
        HOSTILE_JSON.as_bytes().to_vec(),
    );
    let mut config = format!(
        "{STATE_AND_OUTPUT}html = \"public/index.html\"\n\
         [[outputs]]\npath = \"public/feed.rss\"\nhtml = \"public/rss.html\"\n\
         [[outputs]]\npath = \"public/feed.json\"\nhtml = \"public/json.html\"\n"
    );
    for path in ["/rss.xml", "/atom.xml", "/feed.json"] {
        config.push_str(&format!("[[sources]]\nurl = \"{}\"\n", server.url(path)));
    }
    let ws = Workspace::new(&config);
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Every item stays, without what was unsafe in it.
    let titles: Vec<String> = ws
        .feed("public/feed.xml")
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(titles.len(), 9, "{titles:?}");
    for title in [
        "Data link",
        "Atom data link",
        "JSON spaced link",
        "Script guid",
    ] {
        assert!(titles.iter().any(|t| t == title), "{title} in {titles:?}");
    }

    for file in ["feed.xml", "feed.rss"] {
        let text = std::fs::read_to_string(ws.path(&format!("public/{file}"))).unwrap();
        check_xml(&text, file);
        assert_no_unsafe_scheme(&text, file);
    }
    let json_text = std::fs::read_to_string(ws.path("public/feed.json")).unwrap();
    check_json(&serde_json::from_str(&json_text).unwrap(), "feed.json");
    assert_no_unsafe_scheme(&json_text, "feed.json");
    for page in ["index.html", "rss.html", "json.html"] {
        let text = std::fs::read_to_string(ws.path(&format!("public/{page}"))).unwrap();
        check_html(&text, page);
        assert_no_unsafe_scheme(&text, page);
    }

    // The safe URLs beside the unsafe ones survive.
    let atom = std::fs::read_to_string(ws.path("public/feed.xml")).unwrap();
    assert!(atom.contains("https://hostile.example/ok.mp3"), "{atom}");
    assert!(atom.contains("https://hostile.example/ok"), "{atom}");

    // `explain` says what it dropped.
    let explained = ws.tributary(&["explain", &server.url("/rss.xml")]).await;
    let text = stdout(&explained);
    assert_eq!(
        text.matches("link dropped: not http(s)").count(),
        3,
        "{text}"
    );
    assert!(text.contains("enclosure dropped: not http(s)"), "{text}");
}

#[tokio::test]
async fn outrageous_dates_are_neither_the_newest_nor_the_oldest() {
    let server = FeedServer::start().await;
    let feed = r#"<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Dates</title><id>urn:d</id><updated>2025-08-19T10:00:00Z</updated>
  <entry><id>urn:future</id><title>Future</title><link href="https://d.example/1"/>
    <published>2099-01-01T00:00:00Z</published><updated>2099-01-01T00:00:00Z</updated></entry>
  <entry><id>urn:epoch</id><title>Epoch</title><link href="https://d.example/2"/>
    <published>1970-01-01T00:00:00Z</published><updated>1970-01-01T00:00:00Z</updated></entry>
  <entry><id>urn:backwards</id><title>Backwards</title><link href="https://d.example/3"/>
    <published>2025-08-19T10:00:00Z</published><updated>2025-08-01T00:00:00Z</updated></entry>
  <entry><id>urn:mixed</id><title>Mixed</title><link href="https://d.example/4"/>
    <published>2025-08-19T09:00:00Z</published><updated>2099-06-01T00:00:00Z</updated></entry>
</feed>"#;
    server.serve("/dates.xml", feed.into());
    let more =
        "\n[[outputs]]\npath = \"public/feed.rss\"\n[[outputs]]\npath = \"public/feed.json\"";
    let ws = workspace_with(&server, more, "/dates.xml");
    let before = chrono::Utc::now();
    once_ok(&ws).await;
    let after = chrono::Utc::now();
    let earliest: chrono::DateTime<chrono::Utc> = "1995-01-01T00:00:00Z".parse().unwrap();
    let plausible = |d: chrono::DateTime<chrono::Utc>, what: &str| {
        assert!(
            d >= earliest && d <= after + chrono::Duration::minutes(10),
            "{what}: {d}"
        );
    };
    for file in ["public/feed.xml", "public/feed.rss", "public/feed.json"] {
        let parsed = ws.feed(file);
        assert_eq!(parsed.entries.len(), 4, "{file}");
        for entry in &parsed.entries {
            let title = &entry.title.as_ref().unwrap().content;
            let what = format!("{file} {title}");
            if let Some(published) = entry.published {
                plausible(published, &what);
            }
            if let Some(updated) = entry.updated {
                plausible(updated, &what);
                if let Some(published) = entry.published {
                    assert!(
                        updated >= published,
                        "{what}: updated {updated} < published {published}"
                    );
                }
            }
        }
    }
    let atom = ws.feed("public/feed.xml");
    let find = |title: &str| {
        atom.entries
            .iter()
            .find(|e| e.title.as_ref().unwrap().content == title)
            .unwrap()
            .clone()
    };
    // The bogus dates read as the time the items were first seen.
    for title in ["Future", "Epoch"] {
        let published = find(title).published.unwrap();
        assert!(
            published >= before - chrono::Duration::seconds(1),
            "{title}: {published}"
        );
    }
    let mixed = find("Mixed");
    assert_eq!(mixed.published, "2025-08-19T09:00:00Z".parse().ok());
    assert_eq!(
        mixed.updated, mixed.published,
        "a bogus update is no update"
    );
    let backwards = find("Backwards");
    assert_eq!(backwards.updated, backwards.published);
}

#[tokio::test]
async fn a_huge_title_is_one_bounded_line_everywhere() {
    let server = FeedServer::start().await;
    let huge = "Breaking\nnews ".repeat(7_200); // about 100 kB
    let author = "A".repeat(5_000);
    let feed = format!(
        r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>{huge}</title>
        <item><guid>1</guid><title>{huge}</title><dc:creator>{author}</dc:creator>
        <category>{author}</category><link>https://t.example/1</link></item></channel></rss>"#
    );
    server.serve("/huge.xml", feed);
    let more = "html = \"public/index.html\"\n[[outputs]]\npath = \"public/feed.json\"";
    let ws = workspace_with(&server, more, "/huge.xml");
    once_ok(&ws).await;
    for file in ["public/feed.xml", "public/feed.json"] {
        let parsed = ws.feed(file);
        let entry = &parsed.entries[0];
        let title = &entry.title.as_ref().unwrap().content;
        assert_eq!(title.chars().count(), 1_000, "{file}");
        assert!(
            title.starts_with("Breaking news Breaking") && title.ends_with('…'),
            "{file}"
        );
        assert!(!title.contains('\n'), "{file}: one line");
        let author = entry.authors[0].name.clone().unwrap_or_default();
        assert!(author.chars().count() <= 200, "{file}");
    }
    let atom = std::fs::read_to_string(ws.path("public/feed.xml")).unwrap();
    let page = std::fs::read_to_string(ws.path("public/index.html")).unwrap();
    assert!(atom.len() < 20_000, "{} bytes", atom.len());
    assert!(page.len() < 20_000, "{} bytes", page.len());
    let source_title = entries_with_publishers(&ws.path("public/feed.xml"))[0]
        .1
        .clone();
    assert_eq!(source_title.chars().count(), 200);
}

#[tokio::test]
async fn relative_urls_in_content_follow_the_feeds_xml_base() {
    let server = FeedServer::start().await;
    let feed = r#"<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://rel.example/blog/">
  <title>Based</title><id>urn:b</id><updated>2025-08-19T10:00:00Z</updated>
  <entry><id>urn:b1</id><title>One</title><link href="posts/one.html"/><updated>2025-08-19T10:00:00Z</updated>
    <content type="html">&lt;img src="img/a.png"&gt; &lt;a href="../about/"&gt;about&lt;/a&gt;</content></entry>
</feed>"#;
    server.serve("/based.xml", feed.into());
    let ws = workspace_with(&server, "", "/based.xml");
    once_ok(&ws).await;
    let parsed = ws.feed("public/feed.xml");
    let entry = &parsed.entries[0];
    assert_eq!(
        entry.links[0].href,
        "https://rel.example/blog/posts/one.html"
    );
    let content = entry.content.as_ref().unwrap().body.clone().unwrap();
    assert!(
        content.contains(r#"src="https://rel.example/blog/img/a.png""#),
        "{content}"
    );
    assert!(
        content.contains(r#"href="https://rel.example/about/""#),
        "{content}"
    );
}

#[tokio::test]
async fn every_atom_output_links_to_itself() {
    let server = FeedServer::start().await;
    server.serve("/a.xml", news(1));
    let ws = workspace_with(
        &server,
        "\n[health]\npath = \"public/health.xml\"",
        "/a.xml",
    );
    once_ok(&ws).await;
    for (file, href) in [
        ("public/feed.xml", "feed.xml"),
        ("public/health.xml", "health.xml"),
    ] {
        let text = std::fs::read_to_string(ws.path(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let own = doc
            .root_element()
            .children()
            .find(|c| c.has_tag_name("link") && c.attribute("rel") == Some("self"))
            .unwrap_or_else(|| panic!("{file} has a self link"));
        assert_eq!(own.attribute("href"), Some(href), "{file}");
    }
}

#[tokio::test]
async fn the_built_in_server_serves_only_what_tributary_writes() {
    let server = FeedServer::start().await;
    server.serve("/a.xml", news(1));
    let port = free_port();
    // The demo's old layout: the database inside the served folder.
    let ws = Workspace::new(&format!(
        r#"[database]
path = "public/tributary.db"
[retention]
max_age = "0"
[serve]
listen = "127.0.0.1:{port}"
[opml]
path = "public/sources.opml"
[health]
path = "public/health.xml"
[[outputs]]
path = "public/feed.xml"
html = "public/index.html"
[[outputs]]
path = "public/topics/feed.json"
[[sources]]
url = "{}"
"#,
        server.url("/a.xml")
    ));
    ws.write("public/.feed.xml.a1b2.tmp", "half a feed");
    ws.write("public/.htpasswd", "admin:secret");
    ws.write("public/notes.txt", "private notes");
    ws.write("public/topics/.hidden", "x");
    std::fs::copy(ws.config(), ws.path("public/tributary.toml")).unwrap();

    let mut daemon = Daemon::start(&ws);
    let written = wait_for(std::time::Duration::from_secs(30), || {
        ws.path("public/topics/feed.json").exists()
            && ws.path("public/health.xml").exists()
            && daemon.log().contains("serving the outputs")
    })
    .await;
    assert!(written, "{}", daemon.log());
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("http://127.0.0.1:{port}{path}")).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    for path in [
        "/feed.xml",
        "/index.html",
        "/",
        "/topics/feed.json",
        "/sources.opml",
        "/health.xml",
    ] {
        assert_eq!(get(path).await, 200, "{path}");
    }
    for path in [
        "/tributary.db",
        "/tributary.db-wal",
        "/tributary.db-shm",
        "/.feed.xml.a1b2.tmp",
        "/.htpasswd",
        "/notes.txt",
        "/tributary.toml",
        "/topics/.hidden",
        "/topics/",
        "/../tributary.toml",
        "/%2e%2e/tributary.toml",
        "/feed.xml/../tributary.db",
    ] {
        assert_eq!(get(path).await, 404, "{path}");
    }
    daemon.stop().await;

    // `check` warns that the database lies in a folder that is published.
    let checked = ws.tributary(&["check"]).await;
    assert!(checked.status.success());
    let warning = stderr(&checked) + &stdout(&checked);
    assert!(
        warning.contains("warning") && warning.contains("tributary.db"),
        "{warning}"
    );
}

#[tokio::test]
async fn import_opml_takes_only_web_feeds_on_public_hosts() {
    let ws = Workspace::new(STATE_AND_OUTPUT);
    ws.write(
        "subscriptions.opml",
        r#"<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="Good" xmlUrl="https://news.example/feed.xml"/>
  <outline text="Passwords" xmlUrl="file:///etc/passwd"/>
  <outline text="Script" xmlUrl="javascript:alert(1)"/>
  <outline text="Metadata" xmlUrl="http://169.254.169.254/latest/meta-data/"/>
  <outline text="Intranet" xmlUrl="http://10.1.2.3/feed"/>
</body></opml>"#,
    );
    let opml = ws.path("subscriptions.opml");
    let opml = opml.to_str().unwrap();
    let out = ws.tributary(&["import-opml", "--append", opml]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let errors = stderr(&out);
    for (outline, url) in [
        ("Passwords", "file:///etc/passwd"),
        ("Script", "javascript:alert(1)"),
        ("Metadata", "http://169.254.169.254/latest/meta-data/"),
        ("Intranet", "http://10.1.2.3/feed"),
    ] {
        let line = errors
            .lines()
            .find(|l| l.contains(&format!("\"{outline}\"")))
            .unwrap_or_else(|| panic!("a line for {outline}: {errors}"));
        assert!(line.contains("refused") && line.contains(url), "{line}");
    }
    let config = std::fs::read_to_string(ws.config()).unwrap();
    assert!(config.contains("https://news.example/feed.xml"), "{config}");
    for refused in ["file:", "javascript:", "169.254", "10.1.2.3"] {
        assert!(!config.contains(refused), "{refused} in {config}");
    }

    let out = ws
        .tributary(&["import-opml", "--append", "--allow-private", opml])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let config = std::fs::read_to_string(ws.config()).unwrap();
    assert!(
        config.contains("http://169.254.169.254/latest/meta-data/"),
        "{config}"
    );
    assert!(config.contains("http://10.1.2.3/feed"), "{config}");
    assert!(
        !config.contains("file:") && !config.contains("javascript:"),
        "{config}"
    );
    assert_eq!(config.matches("https://news.example/feed.xml").count(), 1);
}

/// A publisher feed with the first `n` of three items, and the config of a daemon that polls it
/// every second and pings a hub on `server` that never answers.
fn hanging_hub_setup(server: &FeedServer, extra: &str) -> Workspace {
    server.set("/hub", Reply::Hang);
    server.serve("/news.xml", news(1));
    Workspace::new(&format!(
        r#"[poll]
interval = "1s"
timeout = "120s"
[site]
base_url = "https://feeds.example.org/"
[websub]
hub = "{}"
timeout = "60s"
{extra}
{STATE_AND_OUTPUT}
[[sources]]
url = "{}"
"#,
        server.url("/hub"),
        server.url("/news.xml")
    ))
}

fn news(n: usize) -> String {
    let items: Vec<TestItem> = (1..=n)
        .map(|i| {
            item(
                &format!("n{i}"),
                &format!("News {i}"),
                "Tue, 19 Aug 2025 10:00:00 GMT",
            )
        })
        .collect();
    rss("News", "https://news.example/", &items)
}

#[tokio::test]
async fn a_hub_that_never_answers_delays_no_poll_and_no_stop() {
    let server = FeedServer::start().await;
    let ws = hanging_hub_setup(&server, "[service]\nshutdown_timeout = \"2s\"");
    let mut daemon = Daemon::start(&ws);
    let limit = std::time::Duration::from_secs(30);
    let pinged = wait_for(limit, || server.requests("/hub") >= 1).await;
    assert!(pinged, "the hub was pinged: {}", daemon.log());

    // While that ping hangs, the daemon polls on and writes what it finds.
    server.serve("/news.xml", news(2));
    let entries = |ws: &Workspace| {
        std::fs::read(ws.path("public/feed.xml"))
            .ok()
            .and_then(|bytes| feed_rs::parser::parse(bytes.as_slice()).ok())
            .map_or(0, |feed| feed.entries.len())
    };
    let polled_on = wait_for(limit, || entries(&ws) == 2).await;
    assert!(
        polled_on,
        "a second item while the hub hangs: {}",
        daemon.log()
    );

    // SIGTERM ends it within the shutdown deadline, not the hub's 60 s.
    daemon.stop().await;
}

#[tokio::test]
async fn once_waits_for_a_silent_hub_only_as_long_as_websub_timeout() {
    let server = FeedServer::start().await;
    let ws = hanging_hub_setup(&server, "");
    let config = std::fs::read_to_string(ws.config()).unwrap();
    ws.write(
        "tributary.toml",
        &config.replace("timeout = \"60s\"", "timeout = \"1s\""),
    );
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests("/hub"), 1);
    assert!(
        stderr(&out).contains("WebSub hub did not answer in time"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_notify_socket_nobody_reads_stalls_nothing() {
    let server = FeedServer::start().await;
    server.serve("/news.xml", news(1));
    let ws = Workspace::new(&format!(
        "[poll]\ninterval = \"1s\"\n{STATE_AND_OUTPUT}\n[[sources]]\nurl = \"{}\"\n",
        server.url("/news.xml")
    ));
    // systemd's end of the socket, whose queue is full and which reads nothing.
    let socket = ws.path("notify.sock");
    let _systemd = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    let filler = std::os::unix::net::UnixDatagram::unbound().unwrap();
    filler.set_nonblocking(true).unwrap();
    filler.connect(&socket).unwrap();
    let mut queued = 0;
    while filler.send(b"STATUS=filler\n").is_ok() {
        queued += 1;
        assert!(queued < 1_000_000, "the queue never filled");
    }
    let mut daemon = Daemon::start_with_env(
        &ws,
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            // A watchdog that wants a ping every 100 ms: the loop notifies often.
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let limit = std::time::Duration::from_secs(30);
    let polled = wait_for(limit, || server.requests("/news.xml") >= 2).await;
    assert!(polled, "the daemon polls on: {}", daemon.log());
    assert!(ws.path("public/feed.xml").exists(), "{}", daemon.log());
    server.serve("/news.xml", news(2));
    let written = wait_for(limit, || {
        std::fs::read_to_string(ws.path("public/feed.xml")).is_ok_and(|t| t.contains("News 2"))
    })
    .await;
    assert!(written, "{}", daemon.log());
    daemon.stop().await;
}

/// Asserts that the database file alone (copied as `cp` would back it up) holds `items` items,
/// with no write-ahead log left to complete it.
fn assert_database_file_complete(ws: &Workspace, items: i64) {
    let wal = ws.path("state/tributary.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "{} bytes left in the write-ahead log",
        std::fs::metadata(&wal).map_or(0, |m| m.len())
    );
    let backup = ws.path("backup.db");
    std::fs::copy(ws.path("state/tributary.db"), &backup).unwrap();
    let stored: i64 = rusqlite::Connection::open(&backup)
        .unwrap()
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, items);
    std::fs::remove_file(backup).unwrap();
}

#[tokio::test]
async fn a_clean_exit_leaves_a_complete_database_file() {
    let server = FeedServer::start().await;
    server.serve("/news.xml", news(2));
    let ws = Workspace::new(&format!(
        "[poll]\ninterval = \"1s\"\n{STATE_AND_OUTPUT}\n[[sources]]\nurl = \"{}\"\n",
        server.url("/news.xml")
    ));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_database_file_complete(&ws, 2);

    server.serve("/news.xml", news(3));
    let mut daemon = Daemon::start(&ws);
    let limit = std::time::Duration::from_secs(30);
    let written = wait_for(limit, || {
        std::fs::read_to_string(ws.path("public/feed.xml")).is_ok_and(|t| t.contains("News 3"))
    })
    .await;
    assert!(written, "{}", daemon.log());
    daemon.stop().await;
    assert_database_file_complete(&ws, 3);
}

#[tokio::test]
async fn the_opml_list_names_only_feeds_on_the_web() {
    let server = FeedServer::start().await;
    server.serve("/news.xml", news(1));
    let ws = Workspace::new(&format!(
        "[opml]\npath = \"public/sources.opml\"\n{STATE_AND_OUTPUT}\n[[sources]]\nurl = \"{}\"\n[[sources]]\nname = \"Local\"\nurl = \"file:local.xml\"\n",
        server.url("/news.xml")
    ));
    ws.write("local.xml", &news(1));
    let out = ws.tributary(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = stdout(&ws.tributary(&["export-opml"]).await);
    for opml in [
        std::fs::read_to_string(ws.path("public/sources.opml")).unwrap(),
        exported,
    ] {
        let doc = roxmltree::Document::parse(&opml).unwrap();
        let urls: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("xmlUrl"))
            .collect();
        assert_eq!(urls, [server.url("/news.xml")], "{opml}");
    }
}

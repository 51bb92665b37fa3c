//! The demo site in a real browser: headless Chromium loads the index, an item page and a
//! publisher page from the built-in server, and each must render (a screenshot that is not
//! blank), log no console error and request nothing from another host.
//!
//! Chromium is driven over the DevTools protocol on a WebSocket. `.ci/run` installs Debian's
//! `chromium`; elsewhere, without it, the test says SKIPPED.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// A headless Chromium, killed when dropped.
struct Browser {
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    /// Events received while waiting for answers, in order.
    events: Vec<Value>,
}

impl Browser {
    async fn start(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1000,1400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // It says where its DevTools listen on stderr; a loaded machine may take a while.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ws_url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_string();
                }
            }
            panic!("chromium exited without opening its DevTools");
        })
        .await
        .expect("chromium did not open its DevTools within 60 s");
        // Keep reading its stderr, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .unwrap();
        Browser {
            _child: child,
            _profile: profile,
            socket,
            next_id: 0,
            events: Vec::new(),
        }
    }

    /// Sends a command (to a page's session when given) and returns its result.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        loop {
            let message = self.receive().await;
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    async fn receive(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(60), self.socket.next())
                .await
                .expect("chromium said nothing for 60 s")
                .expect("chromium closed its DevTools")
                .unwrap();
            if let Message::Text(text) = next {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// Waits for the event `method` of `session`, keeping every event seen.
    async fn wait_for_event(&mut self, session: &str, method: &str) {
        let seen = |e: &Value| e["method"] == json!(method) && e["sessionId"] == json!(session);
        if self.events.iter().any(seen) {
            return;
        }
        loop {
            let message = self.receive().await;
            let found = seen(&message);
            self.events.push(message);
            if found {
                return;
            }
        }
    }
}

/// What loading one page did.
struct Visit {
    requested: Vec<String>,
    errors: Vec<String>,
    screenshot: Vec<u8>,
}

async fn visit(browser: &mut Browser, url: &str) -> Visit {
    let target = browser
        .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
        .await;
    let attached = browser
        .call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )
        .await;
    let session = attached["sessionId"].as_str().unwrap().to_string();
    let s = Some(session.as_str());
    for domain in ["Page", "Network", "Runtime", "Log"] {
        browser
            .call(s, &format!("{domain}.enable"), json!({}))
            .await;
    }
    browser.events.clear();
    browser
        .call(s, "Page.navigate", json!({ "url": url }))
        .await;
    browser
        .wait_for_event(&session, "Page.loadEventFired")
        .await;
    let shot = browser
        .call(
            s,
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        )
        .await;
    let screenshot = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let mine: Vec<&Value> = browser
        .events
        .iter()
        .filter(|e| e["sessionId"] == json!(session))
        .collect();
    let requested = mine
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .map(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let errors = mine
        .iter()
        .filter_map(|e| match e["method"].as_str() {
            Some("Runtime.exceptionThrown") => Some(e["params"].to_string()),
            Some("Runtime.consoleAPICalled") if e["params"]["type"] == "error" => {
                Some(e["params"]["args"].to_string())
            }
            Some("Log.entryAdded") if e["params"]["entry"]["level"] == "error" => {
                Some(e["params"]["entry"].to_string())
            }
            _ => None,
        })
        .collect();
    browser
        .call(
            None,
            "Target.closeTarget",
            json!({ "targetId": target["targetId"] }),
        )
        .await;
    Visit {
        requested,
        errors,
        screenshot,
    }
}

/// How many distinct colours a PNG holds, and its size.
fn colours(png_bytes: &[u8]) -> (usize, (u32, u32)) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let mut seen: HashMap<&[u8], ()> = HashMap::new();
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        seen.insert(pixel, ());
    }
    (seen.len(), (frame.width, frame.height))
}

#[tokio::test]
async fn the_demo_site_renders_in_chromium_without_errors_or_other_hosts() {
    let Some(binary) = chromium() else {
        skipped("chromium is not installed (.ci/run installs Debian's chromium)");
        return;
    };
    // The demo, served by the built-in server.
    let ws = Workspace::new("");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = std::fs::read_to_string(root.join("config/demo.toml")).unwrap();
    for entry in std::fs::read_dir(root.join("config/demo")).unwrap() {
        let entry = entry.unwrap();
        let to = ws.path(&format!(
            "config/demo/{}",
            entry.file_name().to_string_lossy()
        ));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(entry.path(), to).unwrap();
    }
    let port = free_port();
    ws.write(
        "tributary.toml",
        &format!(
            "{}\n[serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"demo-out/public/\"\n",
            demo.replace("\"../demo-out/", "\"demo-out/")
                .replace("\"file:demo/", "\"file:config/demo/")
        ),
    );
    let mut daemon = Daemon::start(&ws);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(
        wait_for_async(Duration::from_secs(60), || async {
            match client
                .get(format!("{base}/sources/index.html"))
                .send()
                .await
            {
                Ok(r) => r
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("Harbour Institute")),
                Err(_) => false,
            }
        })
        .await,
        "{}",
        daemon.log()
    );
    let site = ws.path("demo-out/public");
    // A page, not a render's staged file beside it (`.name.html.XXXX.tmp`).
    let item = std::fs::read_dir(site.join("items"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".html") && !name.starts_with('.'))
        .min()
        .unwrap();

    let mut browser = Browser::start(&binary).await;
    for path in [
        "/".to_string(),
        format!("/items/{item}"),
        "/sources/harbour-institute.html".into(),
        "/search?q=the+OR+council".into(),
    ] {
        renders_clean(&mut browser, &base, &path).await;
    }
    daemon.stop().await;
}

/// Loads `base` + `path` in `browser` and asserts that it renders (a screenshot that is not
/// blank), logs no console error and asks nothing of another host.
async fn renders_clean(browser: &mut Browser, base: &str, path: &str) {
    let url = format!("{base}{path}");
    let visit = visit(browser, &url).await;
    assert!(visit.errors.is_empty(), "{path}: {:?}", visit.errors);
    assert!(
        visit.requested.contains(&url),
        "{path}: {:?}",
        visit.requested
    );
    for asked in &visit.requested {
        assert!(
            asked.starts_with(&format!("{base}/")) || asked.starts_with("data:"),
            "{path} asked another host: {asked}"
        );
    }
    let (colours, (width, height)) = colours(&visit.screenshot);
    assert!(width >= 600 && height >= 400, "{path}: {width}×{height}");
    // Text in several shades on a background: a blank page has one or two colours.
    assert!(
        colours > 20,
        "{path}: a blank screenshot ({colours} colours)"
    );
    if let Ok(folder) = std::env::var("SAVE_SCREENSHOTS") {
        let name = path.trim_matches('/').replace('/', "-");
        let name = if name.is_empty() {
            "index.html".into()
        } else {
            name
        };
        std::fs::write(
            Path::new(&folder).join(format!("{name}.png")),
            &visit.screenshot,
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_story_page_renders_in_chromium_with_every_version() {
    let Some(binary) = chromium() else {
        skipped("chromium is not installed (.ci/run installs Debian's chromium)");
        return;
    };
    let server = FeedServer::start().await;
    let publishers = ["Ministry North", "Ministry South", "Ministry East"];
    let mut sources = Vec::new();
    for (n, name) in publishers.iter().enumerate() {
        let version = with_body(
            &format!("joint{n}"),
            &format!("{name}: the river plan"),
            JOINT_STATEMENT,
            "Tue, 01 Dec 2026 10:00:00 GMT",
        );
        let path = format!("/m{n}.xml");
        server.serve(
            &path,
            rss(name, &format!("https://m{n}.example/"), &[version]),
        );
        sources.push((*name, path));
    }
    let sources: Vec<(&str, &str)> = sources.iter().map(|(n, p)| (*n, p.as_str())).collect();
    let port = free_port();
    let config = format!(
        "{}\n[stories]\nenabled = true\n\n[site]\npages = \"public/\"\n\n\
         [serve]\nlisten = \"127.0.0.1:{port}\"\nroot = \"public/\"\n",
        config_with_sources(&server, &sources)
    );
    let ws = Workspace::new(&config);
    let mut daemon = Daemon::start(&ws);
    // The story's page, once the three versions are in it (the sources are polled at once,
    // and the site follows each poll).
    let stories = ws.path("public/stories");
    let complete = || -> Option<String> {
        std::fs::read_dir(&stories).ok()?.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let page = std::fs::read_to_string(e.path()).ok()?;
            let all = publishers.iter().all(|p| page.contains(p));
            (name.ends_with(".html") && !name.starts_with('.') && all).then_some(name)
        })
    };
    assert!(
        wait_for(Duration::from_secs(60), || complete().is_some()).await,
        "{}",
        daemon.log()
    );
    let story = complete().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut browser = Browser::start(&binary).await;
    renders_clean(&mut browser, &base, &format!("/stories/{story}")).await;
    renders_clean(&mut browser, &base, &format!("/items/{story}")).await;
    daemon.stop().await;
}

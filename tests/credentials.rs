//! Sources behind credentials, custom headers and proxies: what the publisher receives, where
//! credentials do not go, and that no secret shows anywhere a user or a reader could see it.

mod common;

use base64::Engine;
use common::*;

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn feed(title: &str, guid: &str) -> String {
    rss(
        title,
        "https://pub.example/",
        &[item(
            guid,
            &format!("{title} item"),
            "Tue, 19 Aug 2025 10:00:00 GMT",
        )],
    )
}

const PASSWORD: &str = "pw-from-a-file-5c1f";
const TOKEN: &str = "token-from-env-9d2e";
const API_KEY: &str = "key-from-env-77aa";
const URL_PASSWORD: &str = "pw-in-the-url-4b0c";

/// A workspace whose sources need a password read from a file, a token and an API key read from
/// the environment, and a password written into the URL; and one that gives no credentials.
async fn guarded_workspace(server: &FeedServer) -> (Workspace, Vec<(&'static str, &'static str)>) {
    server.serve_guarded(
        "/basic.xml",
        "authorization",
        &basic("reader", PASSWORD),
        feed("Basic", "b1"),
    );
    server.serve_guarded(
        "/bearer.xml",
        "authorization",
        &format!("Bearer {TOKEN}"),
        feed("Bearer", "t1"),
    );
    server.serve_guarded("/key.xml", "x-api-key", API_KEY, feed("Key", "k1"));
    server.serve_guarded(
        "/in-url.xml",
        "authorization",
        &basic("urluser", URL_PASSWORD),
        feed("In URL", "u1"),
    );
    let in_url = server
        .url("/in-url.xml")
        .replace("http://", &format!("http://urluser:{URL_PASSWORD}@"));
    let config = format!(
        r#"{STATE_AND_OUTPUT}
[opml]
path = "public/sources.opml"

[health]
path = "public/health.xml"

[[sources]]
name = "Basic"
url = "{basic}"
auth = {{ username = "reader", password = {{ file = "secrets/basic" }} }}

[[sources]]
name = "Bearer"
url = "{bearer}"
auth = {{ bearer = {{ env = "FEED_TEST_TOKEN" }} }}

[[sources]]
name = "Key"
url = "{key}"
headers = {{ "X-Api-Key" = {{ env = "FEED_TEST_KEY" }}, "Accept-Language" = "en" }}

[[sources]]
name = "In URL"
url = "{in_url}"

[[sources]]
name = "No credentials"
url = "{basic_again}"
"#,
        basic = server.url("/basic.xml"),
        bearer = server.url("/bearer.xml"),
        key = server.url("/key.xml"),
        basic_again = server.url("/basic.xml?anonymous"),
    );
    let ws = Workspace::new(&config);
    ws.write("secrets/basic", &format!("{PASSWORD}\n"));
    server.serve_guarded(
        "/basic.xml?anonymous",
        "authorization",
        &basic("reader", PASSWORD),
        feed("Basic", "b1"),
    );
    let env = vec![("FEED_TEST_TOKEN", TOKEN), ("FEED_TEST_KEY", API_KEY)];
    (ws, env)
}

#[tokio::test]
async fn credentials_and_headers_from_files_env_and_urls_reach_the_publisher() {
    let server = FeedServer::start().await;
    let (ws, env) = guarded_workspace(&server).await;
    let out = ws.tributary_with_env(&["once"], &env).await;
    let text = stdout(&out);
    assert!(!text.is_empty(), "{}", stderr(&out));
    for name in ["Basic", "Bearer", "Key", "In URL"] {
        assert!(
            once_line(&text, name).contains("1 new"),
            "{name}: {text}{}",
            stderr(&out)
        );
        assert_eq!(items_of(&ws, name), 1, "{name}");
    }
    // Without credentials the publisher says 401, and that source alone fails.
    assert!(
        once_line(&text, "No credentials").contains("HTTP 401"),
        "{text}"
    );
    let key = &server.seen("/key.xml")[0];
    assert_eq!(
        key.headers.get("accept-language").map(String::as_str),
        Some("en")
    );
}

#[tokio::test]
async fn no_secret_shows_in_outputs_database_logs_or_commands() {
    let server = FeedServer::start().await;
    let (ws, mut env) = guarded_workspace(&server).await;
    env.push(("RUST_LOG", "debug"));
    let once = ws.tributary_with_env(&["once"], &env).await;
    assert!(once_line(&stdout(&once), "Bearer").contains("1 new"));
    let mut seen = vec![(
        "once (stdout and debug log)",
        format!("{}{}", stdout(&once), stderr(&once)),
    )];
    for args in [
        vec!["status"],
        vec!["check"],
        vec!["export-opml"],
        vec!["explain", "Basic"],
        vec!["explain", "In URL"],
        vec!["explain", "No credentials"],
    ] {
        let out = ws.tributary_with_env(&args, &env).await;
        seen.push((args[0], format!("{}{}", stdout(&out), stderr(&out))));
    }
    // A URL shown or listed carries neither its password nor its user name.
    for (what, text) in [&seen[3], &seen[5]] {
        assert!(text.contains("127.0.0.1"), "{what}: {text}");
        assert!(!text.contains("urluser"), "{what}: {text}");
    }
    for file in walk(&ws.path("public"))
        .into_iter()
        .chain(walk(&ws.path("state")))
    {
        let bytes = std::fs::read(&file).unwrap();
        seen.push(("a file", String::from_utf8_lossy(&bytes).into_owned()));
        seen.push(("its name", file.display().to_string()));
    }
    assert!(seen.len() > 10, "the outputs and the database were written");
    for secret in [PASSWORD, TOKEN, API_KEY, URL_PASSWORD] {
        for (what, text) in &seen {
            assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn a_missing_secret_is_a_config_error_naming_its_key() {
    let ws = Workspace::new(&format!(
        r#"{STATE_AND_OUTPUT}
[[sources]]
name = "Members"
url = "https://members.example/feed.xml"
headers = {{ "X-Api-Key" = {{ env = "FEED_TEST_UNSET_VARIABLE" }} }}
auth = {{ username = "reader", password = {{ file = "secrets/missing" }} }}
"#
    ));
    let out = ws.tributary(&["check"]).await;
    assert!(!out.status.success());
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("headers.X-Api-Key"), "{text}");
    assert!(
        text.contains("FEED_TEST_UNSET_VARIABLE is not set"),
        "{text}"
    );
    assert!(text.contains("auth.password"), "{text}");
    assert!(text.contains("secrets/missing"), "{text}");
}

#[tokio::test]
async fn credentials_and_headers_do_not_follow_a_redirect_to_another_origin() {
    let home = FeedServer::start().await;
    let elsewhere = FeedServer::start().await;
    home.redirect("/away.xml", 302, &elsewhere.url("/feed.xml"));
    elsewhere.serve("/feed.xml", feed("Elsewhere", "e1"));
    home.redirect("/stay.xml", 302, "/feed.xml");
    home.serve_guarded(
        "/feed.xml",
        "authorization",
        &format!("Bearer {TOKEN}"),
        feed("Home", "h1"),
    );
    let source = |name: &str, path: &str| {
        format!(
            "[[sources]]\nname = \"{name}\"\nurl = \"{}\"\n\
             auth = {{ bearer = \"{TOKEN}\" }}\nheaders = {{ \"X-Api-Key\" = \"{API_KEY}\" }}\n",
            home.url(path)
        )
    };
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n{}\n{}",
        source("Away", "/away.xml"),
        source("Stay", "/stay.xml")
    ));
    let out = ws.tributary(&["once"]).await;
    let text = stdout(&out);
    assert!(once_line(&text, "Away").contains("1 new"), "{text}");
    assert!(once_line(&text, "Stay").contains("1 new"), "{text}");
    let first = &home.seen("/away.xml")[0];
    assert!(first.headers.contains_key("authorization"));
    assert!(first.headers.contains_key("x-api-key"));
    // Another port is another origin: neither the token nor the key goes there.
    let redirected = &elsewhere.seen("/feed.xml")[0];
    assert!(
        !redirected.headers.contains_key("authorization"),
        "{redirected:?}"
    );
    assert!(
        !redirected.headers.contains_key("x-api-key"),
        "{redirected:?}"
    );
    // The same origin keeps them.
    let same = &home.seen("/feed.xml")[0];
    assert!(same.headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_proxy_carries_the_fetch_and_a_dead_proxy_fails_only_its_source() {
    let publisher = FeedServer::start().await;
    let proxy = FeedServer::start().await;
    let target = publisher.url("/via-proxy.xml");
    // A plain HTTP proxy is asked for the whole URL; this one answers in the publisher's stead.
    proxy.serve(&target, feed("Proxied", "p1"));
    publisher.serve("/direct.xml", feed("Direct", "d1"));
    let (_refusing, port) = refusing_port();
    let dead = format!("http://127.0.0.1:{port}");
    let ws = Workspace::new(&format!(
        r#"{STATE_AND_OUTPUT}
[poll]
proxy = "{proxy}"

[[sources]]
name = "Proxied"
url = "{target}"

[[sources]]
name = "Dead proxy"
url = "{direct}"
proxy = "{dead}"
"#,
        proxy = proxy.base,
        direct = publisher.url("/direct.xml"),
    ));
    let out = ws.tributary(&["once"]).await;
    let text = stdout(&out);
    assert!(once_line(&text, "Proxied").contains("1 new"), "{text}");
    assert_eq!(proxy.requests(&target), 1);
    assert_eq!(
        publisher.requests("/via-proxy.xml"),
        0,
        "the fetch went through the proxy"
    );
    let failed = once_line(&text, "Dead proxy");
    assert!(
        failed.contains(&format!("the proxy {dead}/ could not be reached")),
        "{failed}"
    );
    assert_eq!(publisher.requests("/direct.xml"), 0);
}

#[tokio::test]
async fn ignore_cache_sends_no_validators() {
    let server = FeedServer::start().await;
    for path in ["/cached.xml", "/ignored.xml"] {
        server.respond(
            path,
            200,
            &[
                ("Content-Type", "application/xml"),
                ("ETag", "\"same-forever\""),
            ],
            feed(path, path).into_bytes(),
        );
    }
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Cached\"\nurl = \"{}\"\n\
         [[sources]]\nname = \"Ignored\"\nurl = \"{}\"\nignore_cache = true\n",
        server.url("/cached.xml"),
        server.url("/ignored.xml")
    ));
    for _ in 0..2 {
        let out = ws.tributary(&["once"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let second = |path| server.seen(path)[1].headers.get("if-none-match").cloned();
    assert_eq!(second("/cached.xml").as_deref(), Some("\"same-forever\""));
    assert_eq!(second("/ignored.xml"), None);
}

/// An HTTPS server on 127.0.0.1 whose certificate is signed by the test CA in
/// `tests/fixtures/tls`, answering every request with `body`; its base URL.
async fn https_server(body: String) -> String {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fixture = |name: &str| {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/tls")
                .join(name),
        )
        .unwrap()
    };
    let cert = CertificateDer::from(fixture("server.der"));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(fixture("server.key.der")));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    base
}

#[tokio::test]
async fn a_server_with_its_own_ca_is_trusted_only_where_configured() {
    let base = https_server(feed("Internal", "i1")).await;
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    let ws = Workspace::new(&format!(
        r#"{STATE_AND_OUTPUT}
# Both trusted sources serve the same item; each is to store its own.
[dedup]
across_sources = false

[[sources]]
name = "With its CA"
url = "{base}/a.xml"
tls = {{ ca = "ca.pem" }}

[[sources]]
name = "Accepting any"
url = "{base}/b.xml"
tls = {{ accept_invalid_certs = true }}

[[sources]]
name = "Without"
url = "{base}/c.xml"
"#
    ));
    std::fs::copy(ca, ws.path("ca.pem")).unwrap();
    let out = ws.tributary(&["once"]).await;
    let text = stdout(&out);
    assert!(
        once_line(&text, "With its CA").contains("1 new"),
        "{text}{}",
        stderr(&out)
    );
    assert!(
        once_line(&text, "Accepting any").contains("1 new"),
        "{text}"
    );
    let refused = once_line(&text, "Without");
    assert!(refused.contains("failed"), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
}

/// A proxy on 127.0.0.1 that tunnels: `socks5` (no authentication) or HTTP `CONNECT`. Records
/// each target it was asked for; returns its URL and that record.
async fn tunnel_proxy(socks: bool) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let target = if socks {
                    // Greeting: version, methods; choose "no authentication".
                    let mut head = [0u8; 2];
                    client.read_exact(&mut head).await.ok()?;
                    let mut methods = vec![0u8; usize::from(head[1])];
                    client.read_exact(&mut methods).await.ok()?;
                    client.write_all(&[5, 0]).await.ok()?;
                    // Request: version, CONNECT, reserved, an IPv4 address and a port.
                    let mut request = [0u8; 10];
                    client.read_exact(&mut request).await.ok()?;
                    let ip =
                        std::net::Ipv4Addr::new(request[4], request[5], request[6], request[7]);
                    let port = u16::from_be_bytes([request[8], request[9]]);
                    client
                        .write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
                        .await
                        .ok()?;
                    format!("{ip}:{port}")
                } else {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        client.read_exact(&mut byte).await.ok()?;
                        head.push(byte[0]);
                    }
                    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
                    let target = line
                        .strip_prefix("CONNECT ")?
                        .split(' ')
                        .next()?
                        .to_string();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .ok()?;
                    target
                };
                record.lock().unwrap().push(target.clone());
                let mut upstream = tokio::net::TcpStream::connect(&target).await.ok()?;
                tokio::io::copy_bidirectional(&mut client, &mut upstream)
                    .await
                    .ok()
            });
        }
    });
    let scheme = if socks { "socks5" } else { "http" };
    (format!("{scheme}://127.0.0.1:{port}"), asked)
}

#[tokio::test]
async fn https_through_a_connect_proxy_and_http_through_socks5() {
    let https = https_server(feed("Tunnelled", "t1")).await;
    let publisher = FeedServer::start().await;
    publisher.serve("/socks.xml", feed("Socks", "s1"));
    let (connect, connect_asked) = tunnel_proxy(false).await;
    let (socks, socks_asked) = tunnel_proxy(true).await;
    let ws = Workspace::new(&format!(
        r#"{STATE_AND_OUTPUT}
[[sources]]
name = "Through CONNECT"
url = "{https}/feed.xml"
proxy = "{connect}"
tls = {{ ca = "ca.pem" }}

[[sources]]
name = "Through socks5"
url = "{plain}"
proxy = "{socks}"
"#,
        plain = publisher.url("/socks.xml"),
    ));
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    std::fs::copy(ca, ws.path("ca.pem")).unwrap();
    let out = ws.tributary(&["once"]).await;
    let text = stdout(&out);
    assert!(
        once_line(&text, "Through CONNECT").contains("1 new"),
        "{text}{}",
        stderr(&out)
    );
    assert!(
        once_line(&text, "Through socks5").contains("1 new"),
        "{text}"
    );
    let https_host = https.trim_start_matches("https://");
    assert_eq!(*connect_asked.lock().unwrap(), [https_host.to_string()]);
    let plain_host = publisher.base.trim_start_matches("http://");
    assert_eq!(*socks_asked.lock().unwrap(), [plain_host.to_string()]);
}

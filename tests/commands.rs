//! A program as a source: its standard output is the feed; failing, hanging or printing
//! garbage is that source's failure alone.

mod common;

use common::*;

fn source(name: &str, command: &str, extra: &str) -> String {
    format!("\n[[sources]]\nname = \"{name}\"\nkind = \"command\"\ncommand = {command}\n{extra}")
}

#[tokio::test]
async fn commands_that_succeed_fail_hang_and_print_garbage() {
    let feed = rss(
        "Press inbox",
        "https://inbox.example/",
        &[item("m1", "Mail one", "Tue, 19 Aug 2025 10:00:00 GMT")],
    );
    let mut config = STATE_AND_OUTPUT.to_string();
    // A script in the config's folder, named by a relative path, run there.
    config.push_str(&source(
        "Inbox",
        r#"["./inbox-to-feed.sh", "--folder", "press"]"#,
        "",
    ));
    config.push_str(&source(
        "Failing",
        r#"["sh", "-c", "echo 'inbox locked' >&2; echo 'try later' >&2; exit 3"]"#,
        "",
    ));
    config.push_str(&source(
        "Hanging",
        r#"["sh", "-c", "sleep 30 & echo $! > hanging.pid; sleep 30"]"#,
        "timeout = \"1s\"\n",
    ));
    config.push_str(&source(
        "Garbage",
        r#"["sh", "-c", "echo 'not a feed at all'"]"#,
        "",
    ));
    let ws = Workspace::new(&config);
    ws.write("inbox.xml", &feed);
    ws.write(
        "inbox-to-feed.sh",
        "#!/bin/sh\n[ \"$1 $2\" = '--folder press' ] || exit 9\ncat inbox.xml\n",
    );
    let script = ws.path("inbox-to-feed.sh");
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();

    let started = std::time::Instant::now();
    let out = ws.tributary(&["once"]).await;
    let text = stdout(&out);
    assert!(
        once_line(&text, "Inbox").contains("1 new"),
        "{text}{}",
        stderr(&out)
    );
    assert_eq!(items_of(&ws, "Inbox"), 1);
    let failing = once_line(&text, "Failing");
    assert!(
        failing.contains("sh exited with 3: inbox locked / try later"),
        "{failing}"
    );
    let hanging = once_line(&text, "Hanging");
    assert!(hanging.contains("timed out"), "{hanging}");
    let garbage = once_line(&text, "Garbage");
    assert!(garbage.contains("failed: not a feed"), "{garbage}");
    // The hanging command's whole group was killed, its background child too.
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    let pid = std::fs::read_to_string(ws.path("hanging.pid")).unwrap();
    let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    let gone = || {
        std::fs::read_to_string(proc.join("stat"))
            .map_or(true, |stat| stat.split_whitespace().nth(2) == Some("Z"))
    };
    assert!(
        wait_for(std::time::Duration::from_secs(10), gone).await,
        "the command's child outlived it"
    );
    // The source shows as the command it runs.
    let status = stdout(&ws.tributary(&["status"]).await);
    assert!(
        status.contains("failing (1 in a row): sh exited with 3"),
        "{status}"
    );
}

#[tokio::test]
async fn a_command_source_needs_a_command_and_no_url() {
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"A\"\nkind = \"command\"\n\
         [[sources]]\nname = \"B\"\nkind = \"command\"\ncommand = [\"true\"]\nurl = \"https://x.example/\"\n\
         [[sources]]\nname = \"C\"\ncommand = [\"true\"]\nurl = \"https://y.example/\"\n"
    ));
    let out = ws.tributary(&["check"]).await;
    let text = stderr(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("(\"A\").command: a source of kind \"command\" needs a command"),
        "{text}"
    );
    assert!(
        text.contains("(\"B\").url: a source of kind \"command\" has a command, not a url"),
        "{text}"
    );
    assert!(
        text.contains("(\"C\").command: only a source of kind \"command\" takes a command"),
        "{text}"
    );
}

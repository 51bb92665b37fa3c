//! When an output cannot be written (disk full, read-only), the previous file stays intact, the
//! error is logged, the database keeps ingesting, and the next successful write catches up.
//! The output folder is a small tmpfs mounted for the test, which needs root; elsewhere the test
//! says it was skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A tmpfs mounted on a folder for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        mounted.status.success().then(|| Tmpfs(at.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let done = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(done.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_or_read_only_disk_keeps_the_old_output_and_loses_no_item() {
    let server = FeedServer::start().await;
    server.serve(
        "/big.xml",
        rss("Big", "https://big.example/", &big_items(0, 2)),
    );
    let ws = Workspace::new(&format!(
        "{STATE_AND_OUTPUT}\n[[sources]]\nname = \"Big\"\nurl = \"{}\"\n",
        server.url("/big.xml")
    ));
    let Some(disk) = Tmpfs::mount(&ws.path("public"), "64k") else {
        say_skipped(
            "SKIPPED: cannot mount a tmpfs here (needs root); disk-full handling was not tested",
        );
        return;
    };
    let output = ws.path("public/feed.xml");
    assert!(ws.tributary(&["once"]).await.status.success());
    let before = std::fs::read(&output).unwrap();
    assert_eq!(ws.feed("public/feed.xml").entries.len(), 2);

    // The disk fills: 20 items of about 4 KB each no longer fit in 64 KB.
    server.serve(
        "/big.xml",
        rss("Big", "https://big.example/", &big_items(0, 20)),
    );
    let run = ws.tributary(&["once"]).await;
    assert_eq!(
        run.status.code(),
        Some(1),
        "an unwritten output fails the run"
    );
    assert!(stdout(&run).contains("Big: 18 new"), "{}", stdout(&run));
    assert!(
        stderr(&run).contains("feed.xml") && stderr(&run).contains("No space left"),
        "{}",
        stderr(&run)
    );
    assert_eq!(
        std::fs::read(&output).unwrap(),
        before,
        "the old file is intact"
    );
    assert_eq!(
        count(&ws, "SELECT count(*) FROM items"),
        20,
        "the database kept ingesting"
    );
    let names: Vec<String> = std::fs::read_dir(ws.path("public"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["feed.xml"], "no temp file left behind");

    // Room again: the next write catches up with everything stored meanwhile.
    disk.remount("size=1m");
    assert!(ws.tributary(&["once"]).await.status.success());
    assert_eq!(ws.feed("public/feed.xml").entries.len(), 20);
    let before = std::fs::read(&output).unwrap();

    // The disk turns read-only under a running daemon: it goes on ingesting, logs the failed
    // write, leaves the old file, and writes again once it can.
    let config = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        config.replace("[database]", "[poll]\ninterval = \"1s\"\n[database]"),
    )
    .unwrap();
    let daemon = Daemon::start(&ws);
    let limit = std::time::Duration::from_secs(15);
    assert!(wait_for(limit, || server.requests("/big.xml") >= 4).await);
    disk.remount("ro");
    server.serve(
        "/big.xml",
        rss("Big", "https://big.example/", &big_items(0, 22)),
    );
    assert!(
        wait_for(limit, || count(&ws, "SELECT count(*) FROM items") == 22).await,
        "{}",
        daemon.log()
    );
    assert!(
        wait_for(limit, || daemon.log().contains("Read-only file system")).await,
        "{}",
        daemon.log()
    );
    assert_eq!(
        std::fs::read(&output).unwrap(),
        before,
        "the old file is intact"
    );
    disk.remount("rw");
    assert!(
        wait_for(limit, || ws.feed("public/feed.xml").entries.len() == 22).await,
        "{}",
        daemon.log()
    );
}

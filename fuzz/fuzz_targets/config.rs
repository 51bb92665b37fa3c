//! Arbitrary text as a config file: loaded or refused with problems, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let file = dir.path().join("tributary.toml");
    if std::fs::write(&file, text).is_err() {
        return;
    }
    match tributary::config::load(&file) {
        Ok(config) => assert!(config.poll.concurrency >= 1),
        Err(error) => assert!(!error.problems.is_empty()),
    }
});

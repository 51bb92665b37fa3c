//! Test support: a fake publisher (a real HTTP server on 127.0.0.1, port 0), feed builders, a
//! workspace to run the `tributary` binary in and read back what it left, and a daemon under
//! test.

#![allow(dead_code)] // each test file uses a different part of this module
#![allow(unused_imports)]

mod daemon;
mod feeds;
mod server;
mod workspace;

pub use daemon::*;
pub use feeds::*;
pub use server::*;
pub use workspace::*;

/// Says that a test skipped something, and why, where `cargo test` shows it: straight on
/// stderr, which the test harness does not capture as it captures `eprintln!` of a test that
/// passed.
pub fn say_skipped(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A test that cannot run here for want of something (`why`: what is missing, and what
/// provides it): a failure in CI, where `.ci/run` provides everything and `CI` is set; said as
/// SKIPPED anywhere else.
pub fn skipped(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run this test: {why}"
    );
    say_skipped(&format!("SKIPPED: {why}"));
}

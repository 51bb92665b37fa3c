//! A `tributary run` daemon under test, and waiting for conditions (never for a guess of time).

use std::path::PathBuf;
use std::time::Duration;

use super::workspace::Workspace;

/// Polls `condition` every 50 ms until it holds or `limit` passes.
pub async fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

/// A port on 127.0.0.1 that refuses connections for as long as the returned socket lives:
/// bound, so that no other test's server can be given it, but not listening. (A port merely
/// found free was once given to another test's server, which then answered in place of a dead
/// proxy.)
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls the async `condition` every 100 ms until it holds or `limit` passes.
pub async fn wait_for_async<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    condition().await
}

/// A `tributary run` daemon started on a workspace, its log written to `daemon.log` there.
/// Killed when dropped.
pub struct Daemon {
    pub child: tokio::process::Child,
    log: PathBuf,
}

impl Daemon {
    pub fn start(ws: &Workspace) -> Daemon {
        Daemon::start_with_env(ws, &[])
    }

    /// As [`Daemon::start`], with these environment variables set.
    pub fn start_with_env(ws: &Workspace, env: &[(&str, &str)]) -> Daemon {
        let log = ws.path("daemon.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg("--config")
            .arg(ws.config())
            .arg("run")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal`. Any but SIGKILL waits first for the daemon to be ready: before it has
    /// installed its handlers, SIGTERM, SIGINT or SIGHUP would kill it outright.
    pub async fn signal(&self, signal: rustix::process::Signal) {
        if signal != rustix::process::Signal::KILL {
            self.ready().await;
        }
        let pid = rustix::process::Pid::from_raw(self.child.id().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits until the daemon says it has started (its signal handlers are in place by then).
    pub async fn ready(&self) {
        let started = wait_for(Duration::from_secs(60), || {
            self.log().contains("daemon started")
        })
        .await;
        assert!(started, "the daemon did not start: {}", self.log());
    }

    /// Sends SIGTERM and asserts that the daemon exits 0 within 15 s.
    pub async fn stop(&mut self) {
        self.signal(rustix::process::Signal::TERM).await;
        let status = self.exit(Duration::from_secs(15)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}: {}",
            self.log()
        );
    }

    /// Waits up to `limit` for the daemon to exit, and returns how.
    pub async fn exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

//! Running as a service: the signals that stop it, and talking to systemd (`Type=notify`):
//! readiness, status lines, the watchdog. Every notification is a no-op when the daemon does not
//! run under systemd (no `NOTIFY_SOCKET`).

use std::time::Duration;

use sd_notify::NotifyState;

/// Raises the soft limit of open files to the hard one: services get 1,024 by default, which
/// a few hundred clients of the built-in server and the polls in flight could use up, so that
/// writing an output or answering `status` fails. A failure is logged; the limit stays.
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // "Unlimited" is not a number the kernel takes for open files.
    let hard = limit.maximum.unwrap_or(1 << 20);
    if limit.current.is_some_and(|soft| soft >= hard) {
        return;
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::debug!(open_files = hard, "raised the open-file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// Exit code when a second SIGTERM/SIGINT cut the shutdown short (128 + SIGINT, as shells do).
const EXIT_SECOND_SIGNAL: i32 = 130;

/// Resolves on the first SIGINT or SIGTERM; a second one ends the process at once. That is
/// safe: every database write is a transaction and every output is renamed into place whole.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received: stopping"),
            _ = interrupt.recv() => tracing::info!("SIGINT received: stopping"),
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::warn!("second signal: exiting at once");
            std::process::exit(EXIT_SECOND_SIGNAL);
        });
    })
}

/// The config is loaded and the database migrated: systemd may consider the service started.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// The daemon is re-reading its config.
pub fn reloading() {
    let mut state = vec![NotifyState::Reloading];
    // systemd matches the reload to this moment.
    state.extend(NotifyState::monotonic_usec_now().ok());
    send(&state);
}

/// The daemon is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// A line `systemctl status` shows.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// systemd's watchdog, when it asked for one: told that the daemon's loop is alive at half
/// its timeout.
pub struct Watchdog {
    every: Option<Duration>,
    last_ping: tokio::time::Instant,
}

impl Watchdog {
    /// The watchdog systemd asked for, if any.
    pub fn new() -> Watchdog {
        Watchdog {
            every: sd_notify::watchdog_enabled().map(|timeout| timeout / 2),
            last_ping: tokio::time::Instant::now(),
        }
    }

    /// Tells the watchdog the loop is alive if that is due; returns the earlier of `wake` and
    /// when it is next due.
    pub fn pet_if_due(&mut self, wake: tokio::time::Instant) -> tokio::time::Instant {
        let Some(every) = self.every else {
            return wake;
        };
        if self.last_ping.elapsed() >= every {
            send(&[NotifyState::Watchdog]);
            self.last_ping = tokio::time::Instant::now();
        }
        wake.min(self.last_ping + every)
    }
}

impl Default for Watchdog {
    fn default() -> Watchdog {
        Watchdog::new()
    }
}

/// Sends `state` to systemd without ever waiting: a notification that cannot be sent at once
/// (the manager's queue is full, it stopped reading) is dropped and logged at debug. The
/// daemon must not stall on its supervisor; systemd's watchdog judges a silence for itself.
fn send(state: &[NotifyState<'_>]) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let message: String = state.iter().map(|s| format!("{s}\n")).collect();
    if let Err(error) = send_at_once(&socket, message.as_bytes()) {
        tracing::debug!(%error, "could not notify systemd; notification dropped");
    }
}

fn send_at_once(socket: &std::ffi::OsStr, message: &[u8]) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let datagram = UnixDatagram::unbound()?;
    datagram.set_nonblocking(true)?;
    // An address starting with '@' is in Linux's abstract namespace.
    let address = match socket.as_bytes().strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        _ => SocketAddr::from_pathname(socket)?,
    };
    datagram.connect_addr(&address)?;
    let sent = datagram.send(message)?;
    if sent < message.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "notification cut short",
        ));
    }
    Ok(())
}

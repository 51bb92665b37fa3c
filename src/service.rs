//! Talking to systemd (`Type=notify`): readiness, status lines, the watchdog. Every call is a
//! no-op when the daemon does not run under systemd (no `NOTIFY_SOCKET`).

use std::time::Duration;

use sd_notify::NotifyState;

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

/// Tells the watchdog the scheduler loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog (half its timeout), if systemd asked for one.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

fn send(state: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(state) {
        tracing::debug!(%error, "could not notify systemd");
    }
}

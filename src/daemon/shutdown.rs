//! The one shutdown signal the daemon's jobs obey: the deadline of `[service]
//! shutdown_timeout`, counted from the stop request. Each job that has work in flight waits
//! for it until then, and cancels what is left.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::Sleep;

/// The deadline every job's shutdown shares.
pub struct Shutdown {
    deadline: Pin<Box<Sleep>>,
}

impl Shutdown {
    /// A shutdown that ends `timeout` from now.
    pub fn new(timeout: Duration) -> Shutdown {
        Shutdown {
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Resolves when the deadline has passed (at once, every time after).
    pub async fn passed(&mut self) {
        self.deadline.as_mut().await;
    }
}

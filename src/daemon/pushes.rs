//! The pushes job: content a publisher's hub delivered (its signature already checked by the
//! built-in server) stored through the poll's path, the hub answered once it is.

use std::sync::Arc;

use tokio::task::{JoinError, JoinSet};

use crate::config::SourceConfig;
use crate::model::{PollResult, RefreshOutcome};
use crate::refresh::{self, Pipeline};
use crate::websub::Push;

/// Pushed content being stored.
#[derive(Default)]
pub struct Pushes {
    storing: JoinSet<RefreshOutcome>,
}

impl Pushes {
    /// Stores `push` for `source`; a push for a source that left the config (its subscription
    /// is being ended) is only acknowledged.
    pub fn receive(&mut self, ctx: &Pipeline, source: Option<Arc<SourceConfig>>, push: Push) {
        let Push { content, reply } = push;
        let Some(source) = source else {
            let _ = reply.send(true);
            return;
        };
        let ctx = ctx.clone();
        self.storing.spawn(async move {
            let outcome = refresh::receive_push(&ctx, &source, content).await;
            let stored = !matches!(outcome.result, PollResult::Failed(_));
            let _ = reply.send(stored);
            outcome
        });
    }

    /// The next push stored (pending while none is being stored).
    pub async fn next_stored(&mut self) -> Result<RefreshOutcome, JoinError> {
        match self.storing.join_next().await {
            Some(stored) => stored,
            None => std::future::pending().await,
        }
    }

    /// Whether a stored push changed what the outputs show.
    pub fn stored(stored: Result<RefreshOutcome, JoinError>) -> bool {
        match stored {
            Ok(outcome) => outcome.changed(),
            Err(_) => {
                tracing::error!("storing pushed content crashed");
                false
            }
        }
    }
}

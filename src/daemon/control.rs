//! The control job: requests of the control socket (`tributary poll`, `tributary status`)
//! answered by the running daemon.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Semaphore, oneshot};

use super::leadership::Leadership;
use super::polling::Polling;
use crate::config::Config;
use crate::control::Request;
use crate::report;
use crate::store::SharedStore;

/// Answers the socket's requests.
pub struct Control {
    /// One `status` answered at a time: at 100,000 sources each holds about 100 MB while it
    /// is made, and scripts asking at once should not add them up.
    status_turn: Arc<Semaphore>,
}

impl Default for Control {
    fn default() -> Control {
        Control {
            status_turn: Arc::new(Semaphore::new(1)),
        }
    }
}

/// The parts of the daemon a request may look at and change.
pub struct Parts<'a> {
    /// The config in force.
    pub config: &'a Arc<Config>,
    /// The database.
    pub store: &'a SharedStore,
    /// Why the config file, as last changed, was not applied.
    pub not_applied: Option<&'a str>,
    /// The schedule.
    pub polling: &'a mut Polling,
    /// Whose claims a forced poll bypasses.
    pub leadership: &'a mut Leadership,
}

impl Control {
    /// A request: `poll` polls the sources it names now (a poll under way is waited for),
    /// each result line sent back as it finishes; `status` is answered beside the loop.
    pub fn asked(&self, request: Request, daemon: Parts<'_>) {
        let (targets, reply) = match request {
            Request::Poll { targets, reply } => (targets, reply),
            Request::Status {
                config,
                targets,
                reply,
            } => return self.tell_status(&config, &targets, reply, daemon),
        };
        for target in targets {
            let source = daemon.config.sources.iter().find(|s| s.is_named(&target));
            let asked = source.is_some_and(|s| {
                daemon.leadership.force(&s.url);
                daemon.polling.poll_now(&s.url, reply.clone())
            });
            if !asked {
                let _ = reply.send(format!("{target}: no such source in the config"));
            }
        }
    }

    /// A `status` (of the sources `targets` names, if any), when `file` is this daemon's
    /// config file: read beside the loop, so that a status of 100,000 sources holds up no
    /// poll's start.
    fn tell_status(
        &self,
        file: &Path,
        targets: &[String],
        reply: oneshot::Sender<Result<String, String>>,
        daemon: Parts<'_>,
    ) {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if !same(file, &daemon.config.file) {
            let why = format!("this daemon runs {}", daemon.config.file.display());
            let _ = reply.send(Err(why));
            return;
        }
        let named = match targets.is_empty() {
            true => None,
            false => match daemon.config.sources_named(targets) {
                Ok(named) => Some(named),
                Err(unknown) => {
                    let _ = reply.send(Err(format!("no source is named {unknown:?}")));
                    return;
                }
            },
        };
        let (config, store) = (daemon.config.clone(), daemon.store.clone());
        let not_applied = daemon.not_applied.map(str::to_string);
        let turn = self.status_turn.clone();
        tokio::spawn(async move {
            let _turn = turn.acquire_owned().await;
            let reads = {
                let config = config.clone();
                store
                    .with(move |store| report::read_status(store, &config, named.as_deref()))
                    .await
            };
            let text = match reads {
                Some(Ok(reads)) => {
                    let report =
                        move || report::status_report(reads, &config, not_applied.as_deref());
                    tokio::task::spawn_blocking(report)
                        .await
                        .map_err(|e| e.to_string())
                }
                Some(Err(error)) => Err(format!("reading the database: {error}")),
                None => Err("the store is shut".to_string()),
            };
            let _ = reply.send(text);
        });
    }
}

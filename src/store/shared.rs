//! The store shared by the pipeline's tasks: one thread owns the connection and runs their work
//! in turn, so SQLite never stalls the async workers and there is a single writer.
//!
//! Polls are recorded in batches. The thread opens a write transaction for the first poll it
//! records, records each poll in a savepoint inside it (a poll that fails undoes only itself),
//! and commits when no more work arrives for `BATCH_IDLE`, after `BATCH_POLLS` polls or
//! `BATCH_AGE`, before any other work that writes or publishes (`with`), and when the last
//! handle is dropped. One commit per burst of polls instead of one per poll: commits were the
//! largest cost of a cold ingest, because every commit rewrites the index pages it touched.
//!
//! A poll is therefore reported recorded up to `BATCH_AGE` before it is durable. A crash in
//! between loses the poll's record, not its items: the source's state (validators, next poll)
//! is in the same batch, so the next poll fetches the feed again in full. A failed commit is
//! logged and counted (`unsaved_polls`), for `once` to exit with an error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Store, StoreError};

/// A batch is committed once no poll arrived for this long…
const BATCH_IDLE: Duration = Duration::from_millis(10);
/// …or once it is this old, so that a steady stream of polls still commits often…
const BATCH_AGE: Duration = Duration::from_millis(200);
/// …or holds this many polls.
const BATCH_POLLS: usize = 200;

/// A handle on the store thread; clones share it.
#[derive(Debug, Clone)]
pub struct SharedStore {
    jobs: Sender<Job>,
    unsaved_polls: Arc<AtomicUsize>,
}

enum Job {
    /// Runs after the open batch is committed.
    Alone(Box<dyn FnOnce(&mut Store) + Send>),
    /// Reads inside the open batch, seeing the polls recorded so far.
    Read(Box<dyn FnOnce(&Store) + Send>),
    /// Records a poll inside the open batch.
    Record(Box<dyn FnOnce(&mut Store) + Send>),
    /// Commits, closes the database and ends the thread.
    Close(oneshot::Sender<Result<(), StoreError>>),
}

impl SharedStore {
    /// Starts the thread that owns `store`. It ends, committing what is pending, when the last
    /// handle is dropped.
    pub fn new(mut store: Store) -> std::io::Result<SharedStore> {
        store.checkpoint_in_background();
        let (jobs, queue) = channel();
        let unsaved_polls = Arc::new(AtomicUsize::new(0));
        let unsaved = Arc::clone(&unsaved_polls);
        std::thread::Builder::new()
            .name("tributary-store".into())
            .spawn(move || run(store, &queue, &unsaved))?;
        Ok(SharedStore {
            jobs,
            unsaved_polls,
        })
    }

    /// Runs `work` once every poll recorded so far is committed; `None` if it panicked.
    pub async fn with<R, F>(&self, work: F) -> Option<R>
    where
        F: FnOnce(&mut Store) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(|reply| Job::Alone(Box::new(move |store| drop(reply.send(work(store))))))
            .await
    }

    /// Runs the read-only `work` at once, inside the open batch; `None` if it panicked.
    pub async fn read<R, F>(&self, work: F) -> Option<R>
    where
        F: FnOnce(&Store) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(|reply| Job::Read(Box::new(move |store| drop(reply.send(work(store))))))
            .await
    }

    /// Runs `work`, which records one poll, inside the open batch; `None` if it panicked.
    /// The poll is committed with its batch, within `BATCH_AGE`.
    pub async fn record<R, F>(&self, work: F) -> Option<R>
    where
        F: FnOnce(&mut Store) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(|reply| Job::Record(Box::new(move |store| drop(reply.send(work(store))))))
            .await
    }

    /// Commits what is pending and closes the database, so that its file alone is complete (the
    /// write-ahead log checkpointed into it): what a clean exit does. Work asked of any handle
    /// afterwards is refused (`None`).
    pub async fn close(&self) -> Result<(), StoreError> {
        let (reply, result) = oneshot::channel();
        if self.jobs.send(Job::Close(reply)).is_err() {
            return Ok(()); // closed already
        }
        result.await.unwrap_or(Ok(()))
    }

    /// How many recorded polls were lost because their batch failed to commit.
    pub fn unsaved_polls(&self) -> usize {
        self.unsaved_polls.load(Ordering::Relaxed)
    }

    /// Queues the job that `job` makes around the sender of its result, and waits for it.
    async fn submit<R>(&self, job: impl FnOnce(oneshot::Sender<R>) -> Job) -> Option<R> {
        let (reply, result) = oneshot::channel();
        self.jobs.send(job(reply)).ok()?;
        // A job that panicked dropped its reply unsent.
        result.await.ok()
    }
}

/// The polls recorded since the last commit.
struct Batch {
    started: Instant,
    polls: usize,
}

/// The store thread: runs jobs in the order they come, batching polls.
fn run(mut store: Store, queue: &Receiver<Job>, unsaved: &AtomicUsize) {
    let mut batch: Option<Batch> = None;
    loop {
        let job = match &batch {
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Some(open) => {
                let wait = BATCH_IDLE.min(BATCH_AGE.saturating_sub(open.started.elapsed()));
                match queue.recv_timeout(wait) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        commit(&mut store, &mut batch, unsaved);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        commit(&mut store, &mut batch, unsaved);
                        return;
                    }
                }
            }
        };
        // A panic in a job drops its reply (the caller sees `None`); a poll's savepoint is
        // rolled back as the panic unwinds through it. The thread and the batch go on.
        match job {
            Job::Close(reply) => {
                commit(&mut store, &mut batch, unsaved);
                let _ = reply.send(store.close());
                return;
            }
            Job::Alone(work) => {
                commit(&mut store, &mut batch, unsaved);
                let _ = catch_unwind(AssertUnwindSafe(|| work(&mut store)));
                index(&mut store);
            }
            Job::Read(work) => {
                let _ = catch_unwind(AssertUnwindSafe(|| work(&store)));
            }
            Job::Record(work) => {
                if batch.is_none() {
                    match store.db.begin_batch() {
                        Ok(()) => {
                            batch = Some(Batch {
                                started: Instant::now(),
                                polls: 0,
                            })
                        }
                        // The poll's savepoint is then a transaction of its own, and the
                        // error (another process holding the lock past the busy timeout)
                        // reaches the poll.
                        Err(error) => tracing::warn!(%error, "starting a batch of polls"),
                    }
                }
                let _ = catch_unwind(AssertUnwindSafe(|| work(&mut store)));
                match &mut batch {
                    // SQLite rolls a whole transaction back on some errors (a full disk, an I/O
                    // error); this poll heard of it, the earlier ones of the batch did not.
                    Some(open) if !store.db.in_transaction() => {
                        lost(unsaved, open.polls, "the batch was rolled back");
                        batch = None;
                    }
                    Some(open) => {
                        open.polls += 1;
                        if open.polls >= BATCH_POLLS || open.started.elapsed() >= BATCH_AGE {
                            commit(&mut store, &mut batch, unsaved);
                        }
                    }
                    None => {}
                }
            }
        }
    }
}

fn commit(store: &mut Store, batch: &mut Option<Batch>, unsaved: &AtomicUsize) {
    let Some(done) = batch.take() else { return };
    // Indexed in the batch, so that its items are searchable as soon as they are stored.
    index(store);
    let started = std::time::Instant::now();
    let committed = store.db.commit_batch();
    crate::metrics::global().committed(started.elapsed());
    if let Err(error) = committed {
        lost(unsaved, done.polls, &StoreError::from(error).to_string());
    }
}

/// Indexes and keys what the last writes changed; what fails waits in `search_pending` or
/// `story_pending` for the next.
fn index(store: &mut Store) {
    if let Err(error) = store.index_pending(chrono::Utc::now()) {
        tracing::error!(%error, "indexing items for search failed; they are indexed at the next write");
    }
    if let Err(error) = store.key_pending() {
        tracing::error!(%error, "keying items for stories failed; they are keyed at the next write");
    }
}

fn lost(unsaved: &AtomicUsize, polls: usize, error: &str) {
    if polls == 0 {
        return;
    }
    unsaved.fetch_add(polls, Ordering::Relaxed);
    tracing::error!(
        error,
        polls,
        "saving polls failed; their sources are fetched again in full at their next poll"
    );
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rusqlite::Connection;

    use super::*;
    use crate::config::ItemRules;
    use crate::model::FetchState;
    use crate::store::Poll;
    use crate::store::testing::{on_each_backend_async, source};

    async fn record_poll(shared: &SharedStore, url: &str) {
        let source = source(url, None);
        let recorded = shared
            .record(move |store| {
                let poll = Poll {
                    at: Utc::now(),
                    state: Some(&FetchState::default()),
                    webhooks: &[],
                    feed: None,
                    event: None,
                    rules: &ItemRules::default(),
                    shaping: &crate::rules::Shaping::default(),
                };
                store.record_poll(&source, &poll).map(|_| ())
            })
            .await;
        assert!(matches!(recorded, Some(Ok(()))), "{recorded:?}");
    }

    /// The sources another connection (another process) sees.
    fn committed_sources(other: &Connection) -> Vec<String> {
        let mut query = other
            .prepare("SELECT url FROM sources ORDER BY url")
            .unwrap();
        let urls = query.query_map((), |r| r.get(0)).unwrap();
        urls.collect::<Result<_, _>>().unwrap()
    }

    #[tokio::test]
    async fn batched_polls_are_committed_when_idle_and_before_other_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let shared = SharedStore::new(Store::open(&path).unwrap()).unwrap();
        let other = Connection::open(&path).unwrap();

        tokio::join!(
            record_poll(&shared, "a"),
            record_poll(&shared, "b"),
            record_poll(&shared, "c")
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while committed_sources(&other).len() < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(committed_sources(&other), ["a", "b", "c"]);

        record_poll(&shared, "d").await;
        shared.with(|_| ()).await.unwrap();
        assert_eq!(committed_sources(&other), ["a", "b", "c", "d"]);
        assert_eq!(shared.unsaved_polls(), 0);
    }

    #[tokio::test]
    async fn a_poll_that_fails_or_panics_undoes_only_itself() {
        on_each_backend_async("a_poll_that_fails_or_panics_undoes_only_itself", |store| {
            a_failed_poll_undoes_only_itself(store)
        })
        .await;
    }

    async fn a_failed_poll_undoes_only_itself(store: Store) {
        let shared = SharedStore::new(store).unwrap();
        let insert = |store: &mut Store, url: &str| -> Result<(), StoreError> {
            let poll = store.db.transaction()?;
            poll.execute("INSERT INTO sources (url) VALUES (?1)", [url])?;
            Err(StoreError::from(rusqlite::Error::InvalidQuery))
        };

        record_poll(&shared, "a").await;
        let failed = shared.record(move |store| insert(store, "failed")).await;
        assert!(matches!(failed, Some(Err(_))));
        let panicked = shared
            .record(move |store| {
                let _ = insert(store, "panicked");
                let poll = store.db.transaction().unwrap();
                poll.execute("INSERT INTO sources (url) VALUES ('panicked')", ())
                    .unwrap();
                panic!("a bug while recording a poll");
            })
            .await;
        assert!(panicked.is_none());
        record_poll(&shared, "b").await;

        let urls = shared
            .with(|store| {
                let mut query = store.db.prepare("SELECT url FROM sources ORDER BY url")?;
                let urls = query.query_map((), |r| r.get::<_, String>(0))?;
                urls.collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(urls, ["a", "b"]);
    }

    #[tokio::test]
    async fn closing_leaves_the_database_file_complete_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let shared = SharedStore::new(Store::open(&path).unwrap()).unwrap();
        record_poll(&shared, "a").await;
        record_poll(&shared, "b").await;
        let handle = shared.clone();
        shared.close().await.unwrap();
        assert!(handle.with(|_| ()).await.is_none(), "closed for everyone");
        shared.close().await.unwrap();

        let wal = dir.path().join("t.db-wal");
        assert!(
            std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
            "the log is checkpointed"
        );
        // The file alone, copied as a backup would be, holds every poll.
        let backup = dir.path().join("backup.db");
        std::fs::copy(&path, &backup).unwrap();
        assert_eq!(
            committed_sources(&Connection::open(&backup).unwrap()),
            ["a", "b"]
        );
    }
}

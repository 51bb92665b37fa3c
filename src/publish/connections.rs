//! The built-in server's connections: how many it holds, and for how long, so that no number of
//! slow or idle clients can take the server (or the daemon's open files) from everyone else.
//!
//! - A request's head must arrive within `[serve] header_timeout` of its first byte (of the
//!   connection's opening, for the first request).
//! - A connection with nothing under way closes after `[serve] idle_timeout` without a byte
//!   either way; so does one whose request or response stalls that long.
//! - A body a handler reads must keep arriving ([`read_body`]).
//! - At most `[serve] max_connections` are open. When all are, the oldest one that is idle or
//!   still sending its head is closed to make room; when every one is serving a request, the
//!   next client waits in the kernel's queue, holding none of the daemon's files.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::ServeLimits;

/// Open files kept for everything else the daemon does (the database, outputs being written,
/// polls' sockets, the control socket) when the open-file limit caps the connections.
const RESERVED_FILES: u64 = 256;

/// The pace a request body must keep after the first `[serve] header_timeout`: 16 KiB a second.
const MIN_BODY_BYTES_PER_SECOND: u64 = 16 * 1024;

/// Where a connection is in its exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Accepted; not a byte yet.
    Opened = 0,
    /// A request's head is arriving.
    Head = 1,
    /// A request is being answered.
    Busy = 2,
    /// Answered; waiting for another request.
    Idle = 3,
}

/// One connection as the listener watches it.
struct Watch {
    /// When the connection's current wait began, in milliseconds since the listener started.
    since: AtomicU64,
    /// When a byte last went either way, likewise.
    last_io: AtomicU64,
    phase: AtomicU8,
    /// Told to close, to make room.
    evicted: AtomicBool,
    close: Notify,
}

/// The clock connections are timed by: milliseconds since the listener started.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn instant(self, millis: u64) -> Instant {
        self.0 + Duration::from_millis(millis)
    }
}

impl Watch {
    fn new(now: u64) -> Watch {
        Watch {
            since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            phase: AtomicU8::new(Phase::Opened as u8),
            evicted: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Opened,
            1 => Phase::Head,
            2 => Phase::Busy,
            _ => Phase::Idle,
        }
    }

    fn enter(&self, phase: Phase, now: u64) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.since.store(now, Ordering::Relaxed);
    }

    /// Bytes came in: the first of a request starts the wait for its head.
    fn read(&self, now: u64) {
        self.last_io.store(now, Ordering::Relaxed);
        if matches!(self.phase(), Phase::Opened | Phase::Idle) {
            self.enter(Phase::Head, now);
        }
    }

    /// When the connection is to be closed unless something happens first (milliseconds).
    fn deadline(&self, limits: &ServeLimits) -> u64 {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let since = self.since.load(Ordering::Relaxed);
        let last_io = self.last_io.load(Ordering::Relaxed);
        match self.phase() {
            Phase::Opened | Phase::Head => since.saturating_add(millis(limits.header_timeout)),
            Phase::Busy | Phase::Idle => last_io.saturating_add(millis(limits.idle_timeout)),
        }
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Open {
    by_age: Mutex<BTreeMap<u64, Arc<Watch>>>,
}

impl Open {
    fn add(&self, id: u64, watch: Arc<Watch>) {
        self.lock().insert(id, watch);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Tells the oldest connection that serves no request to close; whether there was one.
    fn evict_oldest_waiting(&self) -> bool {
        let open = self.lock();
        let oldest = open
            .values()
            .find(|w| w.phase() != Phase::Busy && !w.evicted.load(Ordering::Relaxed));
        match oldest {
            Some(watch) => {
                watch.evicted.store(true, Ordering::Relaxed);
                watch.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Watch>>> {
        self.by_age.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The most connections open at once: `[serve] max_connections`, within what the open-file
/// limit leaves once [`RESERVED_FILES`] are kept aside.
pub fn connection_cap(limits: &ServeLimits) -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    match soft {
        Some(soft) => {
            let room =
                usize::try_from(soft.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX);
            if room < limits.max_connections {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    open_file_limit = soft,
                    "[serve] max_connections lowered to {room} to fit the open-file limit (raise LimitNOFILE)"
                );
            }
            limits.max_connections.min(room)
        }
        None => limits.max_connections,
    }
}

/// Accepts connections on `listener` and answers them with `app`, within `limits`, until the
/// process ends.
pub async fn accept(listener: TcpListener, app: Router, limits: ServeLimits) {
    let cap = connection_cap(&limits);
    let slots = Arc::new(Semaphore::new(cap));
    let open = Arc::new(Open::default());
    let clock = Clock(Instant::now());
    let mut refused_at = None;
    for id in 0u64.. {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of files, most likely: say so once a minute, wait a little, go on.
                let now = Instant::now();
                if refused_at.is_none_or(|at: Instant| now - at > Duration::from_secs(60)) {
                    tracing::warn!(%error, "the built-in server could not accept a connection");
                    refused_at = Some(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                open.evict_oldest_waiting();
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                slot
            }
        };
        let watch = Arc::new(Watch::new(clock.now()));
        open.add(id, Arc::clone(&watch));
        let (app, open) = (app.clone(), Arc::clone(&open));
        tokio::spawn(async move {
            serve_connection(stream, app, watch, limits, clock).await;
            open.remove(id);
            drop(slot);
        });
    }
}

/// Answers one connection until it ends, times out or is evicted.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    watch: Arc<Watch>,
    limits: ServeLimits,
    clock: Clock,
) {
    let io = TokioIo::new(Watched {
        stream,
        watch: Arc::clone(&watch),
        clock,
    });
    let service = {
        let watch = Arc::clone(&watch);
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            watch.enter(Phase::Busy, clock.now());
            let (app, watch) = (app.clone(), Arc::clone(&watch));
            async move {
                let response = app.oneshot(request.map(Body::new)).await;
                watch.enter(Phase::Idle, clock.now());
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The head's time is kept here, with the rest: hyper's own would also cut idle connections.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    loop {
        let deadline = clock.instant(watch.deadline(&limits));
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = watch.close.notified() => return,
            _ = tokio::time::sleep_until(deadline) => {
                // Activity may have moved the deadline while this slept.
                if watch.deadline(&limits) <= clock.now() {
                    return;
                }
            }
        }
    }
}

/// A connection's stream, noting each byte's time on its [`Watch`].
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
    clock: Clock,
}

impl Watched {
    /// Notes the time of a write that sent bytes, and gives its result back.
    fn wrote(&self, polled: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch
                .last_io
                .store(self.clock.now(), Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read(self.clock.now());
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        self.wrote(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, data);
        self.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Why a request's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("larger than {0} bytes")]
    /// Past the cap.
    TooLarge(u64),
    #[error("arriving too slowly")]
    /// It fell behind the pace a body must keep.
    TooSlow,
    #[error("broken off: {0}")]
    /// The client broke off.
    Broken(String),
}

/// Reads a request's body of at most `limit` bytes, which must keep arriving: within `grace`
/// (`[serve] header_timeout`), and after it at [`MIN_BODY_BYTES_PER_SECOND`] on average, so
/// that a client sending a byte now and then holds nothing for long.
pub async fn read_body(mut body: Body, limit: u64, grace: Duration) -> Result<Bytes, BodyError> {
    let started = Instant::now();
    let mut read = Vec::new();
    loop {
        let earned = Duration::from_secs_f64(read.len() as f64 / MIN_BODY_BYTES_PER_SECOND as f64);
        let deadline = started + grace + earned;
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let frame = match tokio::time::timeout_at(deadline, frame).await {
            Err(_) => return Err(BodyError::TooSlow),
            Ok(None) => return Ok(Bytes::from(read)),
            Ok(Some(Err(error))) => return Err(BodyError::Broken(error.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if read.len() as u64 + data.len() as u64 > limit {
                return Err(BodyError::TooLarge(limit));
            }
            read.extend_from_slice(&data);
        }
    }
}

//! Telling a running daemon what to do: a Unix socket, `tributary.sock` in the database's
//! folder (mode 0600: only the daemon's user), never a TCP port.
//!
//! A client writes one request line, tab-separated (names may hold spaces), and reads the
//! answer until the daemon closes the connection:
//! - `poll NAME-OR-URL…`: one line per source as its poll finishes, as `once` prints them;
//! - `status CONFIG-FILE [NAME-OR-URL…]`: what `status` prints (of those sources alone, when
//!   named), when the daemon runs that config file (it holds the config and the store, so a
//!   command need not load 100,000 sources to ask); else one line, `error: …`.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// The longest request line read.
const MAX_REQUEST: u64 = 64 * 1024;

/// A request of a client, for the daemon's loop.
#[derive(Debug)]
pub enum Request {
    /// Poll these sources (by name or URL) now; each result line goes to `reply`.
    Poll {
        /// What the client named.
        targets: Vec<String>,
        /// Where the lines go; dropped by the daemon once every target answered.
        reply: mpsc::UnboundedSender<String>,
    },
    /// What `status` prints, if the daemon runs the config file `config`.
    Status {
        /// The config file the client was given, absolute.
        config: PathBuf,
        /// The sources named (by name or URL); none for all.
        targets: Vec<String>,
        /// The whole text, or why this daemon does not answer for that config.
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// Where the socket of the daemon using `database` is.
pub fn socket_path(database: &Path) -> PathBuf {
    database
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("tributary.sock")
}

/// The daemon's end: listens at `path` (replacing a socket a dead daemon left), mode 0600,
/// and hands each request to the returned channel. The socket file is removed when the
/// returned guard is dropped.
pub fn listen(path: &Path) -> std::io::Result<(mpsc::Receiver<Request>, SocketFile)> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!(
                "another daemon answers at {}: one database, one daemon",
                path.display()
            ),
        ));
    }
    let _ = std::fs::remove_file(path);
    // On PostgreSQL nothing else makes the database's folder.
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    let listener = UnixListener::bind(path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    let (requests, received) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_client(stream, requests.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "the control socket could not accept a client");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok((
        received,
        SocketFile {
            path: path.to_path_buf(),
        },
    ))
}

/// The socket file, removed when dropped.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_client(stream: UnixStream, requests: mpsc::Sender<Request>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    if reader.read_line(&mut line).await.is_err() {
        return;
    }
    let mut words = line.trim_end_matches(['\r', '\n']).split('\t');
    let request = match words.next() {
        Some("poll") => {
            let targets: Vec<String> = words.filter(|w| !w.is_empty()).map(String::from).collect();
            let (reply, mut lines) = mpsc::unbounded_channel();
            if requests
                .send(Request::Poll { targets, reply })
                .await
                .is_err()
            {
                return;
            }
            while let Some(line) = lines.recv().await {
                if write
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
            return;
        }
        Some("status") => {
            let config = PathBuf::from(words.next().unwrap_or_default());
            let targets: Vec<String> = words.filter(|w| !w.is_empty()).map(String::from).collect();
            let (reply, answer) = oneshot::channel();
            if requests
                .send(Request::Status {
                    config,
                    targets,
                    reply,
                })
                .await
                .is_err()
            {
                return;
            }
            match answer.await {
                Ok(Ok(text)) => text,
                Ok(Err(why)) => format!("error: {why}\n"),
                Err(_) => return,
            }
        }
        other => format!("error: unknown request {other:?}\n"),
    };
    let _ = write.write_all(request.as_bytes()).await;
}

/// The client's end: asks the daemon at `path` to poll `targets`, calling `line` for each
/// line it answers. `Ok(false)` when no daemon listens there.
pub async fn poll(
    path: &Path,
    targets: &[String],
    mut line: impl FnMut(&str),
) -> std::io::Result<bool> {
    let Ok(stream) = UnixStream::connect(path).await else {
        return Ok(false);
    };
    let (read, mut write) = stream.into_split();
    write.write_all(&request_line("poll", targets)).await?;
    let mut lines = BufReader::new(read).lines();
    while let Some(answer) = lines.next_line().await? {
        line(&answer);
    }
    Ok(true)
}

/// The client's end of `status`: what the daemon at `path` prints for the config file
/// `config` (of the sources `targets` names, if any). `None` when no daemon listens there, it
/// runs another config, knows none of those names, or is older and does not know the request:
/// the caller reads the database itself.
pub async fn status(
    path: &Path,
    config: &Path,
    targets: &[String],
) -> std::io::Result<Option<String>> {
    let Ok(stream) = UnixStream::connect(path).await else {
        return Ok(None);
    };
    let (mut read, mut write) = stream.into_split();
    let words: Vec<String> = std::iter::once(config.display().to_string())
        .chain(targets.iter().cloned())
        .collect();
    write.write_all(&request_line("status", &words)).await?;
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut read, &mut text).await?;
    Ok((!text.starts_with("error: ")).then_some(text))
}

/// A request line: `request`, then `words`, tab-separated.
fn request_line(request: &str, words: &[String]) -> Vec<u8> {
    let mut line = request.to_string();
    for word in words {
        line.push('\t');
        line.push_str(word);
    }
    line.push('\n');
    line.into_bytes()
}

//! Stored items → the merged feed files, each written atomically and only when it changed.

pub mod atom;
pub mod health;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::OutputConfig;
use crate::store::{Store, StoreError};

/// Why an output could not be written. The previous file, if any, is left intact.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("reading items for {path}: {error}")]
    Store { path: PathBuf, error: StoreError },
    #[error("writing {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("rendering the outputs crashed (this is a bug in Tributary; please report it)")]
    Crashed,
}

/// Whether an output's file was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Changed,
    Unchanged,
}

/// Renders one output from the store and writes it if its bytes differ from the file's.
/// `configured` are the URLs of the sources in the config, for outputs that leave out the
/// items of sources no longer there.
pub fn render_output(
    store: &Store,
    output: &OutputConfig,
    configured: &[String],
) -> Result<Written, RenderError> {
    let only = (!output.keep_removed_sources).then_some(configured);
    let items = store
        .newest_items(output.max_items, only)
        .map_err(|error| RenderError::Store {
            path: output.path.clone(),
            error,
        })?;
    let write_error = |error| RenderError::Write {
        path: output.path.clone(),
        error,
    };
    let bytes = atom::render(output, &items).map_err(write_error)?;
    write_if_changed(&output.path, &bytes).map_err(write_error)
}

/// Renders every output, and the health feed if configured; one failing does not keep the
/// others from being written.
pub fn render_all(
    store: &Store,
    outputs: &[OutputConfig],
    configured: &[String],
    health: Option<&Path>,
) -> Vec<Result<Written, RenderError>> {
    let mut results: Vec<(&Path, Result<Written, RenderError>)> = outputs
        .iter()
        .map(|output| {
            (
                output.path.as_path(),
                render_output(store, output, configured),
            )
        })
        .collect();
    if let Some(path) = health {
        results.push((path, render_health(store, path)));
    }
    results
        .into_iter()
        .map(|(path, result)| {
            match &result {
                Ok(Written::Changed) => tracing::info!(path = %path.display(), "output written"),
                Ok(Written::Unchanged) => {
                    tracing::debug!(path = %path.display(), "output unchanged")
                }
                Err(error) => tracing::error!(%error, "output not written"),
            }
            result
        })
        .collect()
}

fn render_health(store: &Store, path: &Path) -> Result<Written, RenderError> {
    let events = store
        .recent_events(health::HEALTH_ITEMS)
        .map_err(|error| RenderError::Store {
            path: path.to_path_buf(),
            error,
        })?;
    let write_error = |error| RenderError::Write {
        path: path.to_path_buf(),
        error,
    };
    let bytes = health::render(&events).map_err(write_error)?;
    write_if_changed(path, &bytes).map_err(write_error)
}

/// Replaces `path` with `bytes` unless it already holds them: a temp file in the same folder,
/// fsync, rename, fsync of the folder. Readers see the old file or the new one, never a part.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<Written> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(Written::Unchanged);
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(folder)?;
    temp.write_all(bytes)?;
    // Temp files are created private; a feed is meant to be served.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(folder)?.sync_all()?;
    Ok(Written::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_bytes_leave_the_file_and_its_mtime_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/feed.xml");
        assert_eq!(write_if_changed(&path, b"one").unwrap(), Written::Changed);
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(write_if_changed(&path, b"one").unwrap(), Written::Unchanged);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_eq!(write_if_changed(&path, b"two").unwrap(), Written::Changed);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["feed.xml"], "no temp files left behind");
    }
}

//! The manifests-directory source (`sesame serve --manifests DIR`): Kubernetes YAML and JSON
//! files read from directories instead of an API server, and watched for changes.
//!
//! [`ManifestState`] is the sync core (per-file objects, precedence, diffs). [`run`] is the
//! thin async shell: it lists and reads files, feeds them to the state, sends the resulting
//! changes, and re-reads the files a settled burst of file-system events touched.

mod parse;
mod state;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use sesame_dag::snapshot::Change;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, error, info};

pub use crate::source::SourceEvent;
pub use parse::{Format, ParseError};
pub use state::{ManifestState, manifest_format};

/// How long the file system must stay quiet, once every file written in a burst has been
/// closed, before the burst is processed: just long enough to gather events that arrive
/// together (the two halves of a rename, several files copied at once). The kernel reports
/// such events within microseconds of each other.
pub const DEBOUNCE: Duration = Duration::from_micros(300);

/// The longest a burst is held back: under a steady stream of writes, changes still go out.
pub const MAX_DELAY: Duration = Duration::from_millis(500);

/// Why the manifests source stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A directory is missing or cannot be read.
    #[error("manifests directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A path given as a directory is something else.
    #[error("manifests directory {}: not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file watcher could not be created.
    #[error("cannot start the file watcher: {0}")]
    Watcher(#[source] notify::Error),
    /// The file watcher could not watch a directory.
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
    /// The file watcher stopped delivering events.
    #[error("the file watcher stopped")]
    WatcherStopped,
    /// A blocking load task panicked.
    #[error("manifest load task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The manifests source and its settings.
#[derive(Clone, Debug)]
pub struct ManifestSource {
    dirs: Vec<PathBuf>,
}

impl ManifestSource {
    /// A source reading these directories; when two define the same object, the later
    /// directory (then the later file name) wins.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        ManifestSource { dirs }
    }

    /// Loads every manifest, sends one [`SourceEvent::Changes`] with all objects and then
    /// [`SourceEvent::Synced`], then watches the directories and sends the changes of each
    /// settled burst of file events. Returns `Ok` when the receiver is dropped, and `Err` when
    /// a directory is missing at start or the watcher fails.
    pub async fn run(self, tx: mpsc::Sender<SourceEvent>) -> Result<(), Error> {
        let dirs = canonical_dirs(&self.dirs)?;
        let (events_tx, mut events) = mpsc::unbounded_channel();
        // Watch before the first listing so that nothing written meanwhile is missed.
        let mut watcher = notify::recommended_watcher(move |event| {
            // Fails only once the loop below is gone.
            let _ = events_tx.send(event);
        })
        .map_err(Error::Watcher)?;
        for dir in &dirs {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|source| Error::Watch {
                    path: dir.clone(),
                    source,
                })?;
        }

        let (mut state, changes) = blocking(ManifestState::new(dirs), load_all).await?;
        let changes = changes?;
        info!(dirs = ?state.dirs(), objects = changes.len(), "loaded manifests");
        if tx.send(SourceEvent::Changes(changes)).await.is_err()
            || tx.send(SourceEvent::Synced).await.is_err()
        {
            return Ok(());
        }

        loop {
            let burst = tokio::select! {
                _ = tx.closed() => return Ok(()),
                burst = next_burst(&mut events) => burst,
            };
            let Some(burst) = burst else {
                return Err(Error::WatcherStopped);
            };
            let changes;
            (state, changes) = blocking(state, move |s| reload(s, burst)).await?;
            if changes.is_empty() {
                continue;
            }
            debug!(changes = changes.len(), "manifest files changed");
            if tx.send(SourceEvent::Changes(changes)).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Runs the manifests source on `dirs` with the default settings (see [`ManifestSource::run`]).
pub async fn run(dirs: Vec<PathBuf>, tx: mpsc::Sender<SourceEvent>) -> Result<(), Error> {
    ManifestSource::new(dirs).run(tx).await
}

/// The paths touched by one burst of file-system events.
#[derive(Debug, Default)]
struct Burst {
    paths: BTreeSet<PathBuf>,
    rescan_all: bool,
    /// Files created or modified and not yet closed: reading them now could see half a write.
    writing: BTreeSet<PathBuf>,
}

impl Burst {
    fn add(&mut self, event: notify::Result<Event>) {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                error!(error = %err, "file watcher error; rescanning the manifests directories");
                self.rescan_all = true;
                return;
            }
        };
        if event.need_rescan() {
            self.rescan_all = true;
        }
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for path in &event.paths {
                    self.writing.remove(path);
                }
            }
            // Opening and reading (ours included) change nothing.
            EventKind::Access(_) => return,
            EventKind::Create(CreateKind::File)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                self.writing.extend(event.paths.iter().cloned());
            }
            _ => {}
        }
        self.paths.extend(event.paths);
    }

    /// Whether every file written in this burst has been closed (a rename or delete needs no
    /// wait). Watchers that report no close events never settle, and wait for [`MAX_DELAY`].
    fn settled(&self) -> bool {
        self.writing.is_empty()
    }
}

/// Waits for an event, then until every file written has been closed and the file system has
/// stayed quiet for [`DEBOUNCE`] (at most [`MAX_DELAY`] in all). `None` when the watcher is
/// gone.
async fn next_burst(events: &mut mpsc::UnboundedReceiver<notify::Result<Event>>) -> Option<Burst> {
    let mut burst = Burst::default();
    burst.add(events.recv().await?);
    let deadline = Instant::now() + MAX_DELAY;
    loop {
        let event = if burst.settled() {
            match quiet_for(events, deadline).await {
                Some(event) => event,
                None => return Some(burst),
            }
        } else {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => return Some(burst),
            }
        };
        burst.add(event);
    }
}

/// The next event if one arrives within [`DEBOUNCE`] (and before `deadline`); `None` once the
/// watcher has been quiet that long or is gone.
///
/// Tokio's timers tick in whole milliseconds and round up, so a sub-millisecond wait through
/// them costs one to two milliseconds on every change. This one polls the channel instead,
/// yielding to other tasks between polls: it costs at most [`DEBOUNCE`] of one thread's time
/// per burst.
async fn quiet_for(
    events: &mut mpsc::UnboundedReceiver<notify::Result<Event>>,
    deadline: Instant,
) -> Option<notify::Result<Event>> {
    let until = (std::time::Instant::now() + DEBOUNCE).min(deadline.into_std());
    loop {
        match events.try_recv() {
            Ok(event) => return Some(event),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) if std::time::Instant::now() >= until => {
                return None;
            }
            Err(mpsc::error::TryRecvError::Empty) => tokio::task::yield_now().await,
        }
    }
}

/// Runs a sync step on the state off the async threads, handing the state back.
async fn blocking<T, F>(mut state: ManifestState, step: F) -> Result<(ManifestState, T), Error>
where
    F: FnOnce(&mut ManifestState) -> T + Send + 'static,
    T: Send + 'static,
{
    Ok(tokio::task::spawn_blocking(move || {
        let out = step(&mut state);
        (state, out)
    })
    .await?)
}

/// The directories, resolved, checked to exist and to be directories.
fn canonical_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    dirs.iter()
        .map(|dir| {
            let path = dir.canonicalize().map_err(|source| Error::Dir {
                path: dir.clone(),
                source,
            })?;
            if !path.is_dir() {
                return Err(Error::NotADirectory { path: dir.clone() });
            }
            Ok(path)
        })
        .collect()
}

/// The first load: every manifest of every directory, as one batch.
fn load_all(state: &mut ManifestState) -> Result<Vec<Change>, Error> {
    let mut files = BTreeSet::new();
    for dir in state.dirs() {
        let listed = list_manifests(dir).map_err(|source| Error::Dir {
            path: dir.clone(),
            source,
        })?;
        files.extend(listed);
    }
    let changes = state.reload_files(read_all(files));
    state.pack();
    Ok(changes)
}

/// Re-reads what a burst touched: the manifest files named by its events, and every file of a
/// directory whose listing may have changed without per-file events (the directory itself, or
/// a Kubernetes volume's `..data` link being swapped).
fn reload(state: &mut ManifestState, burst: Burst) -> Vec<Change> {
    let dirs = state.dirs().to_vec();
    let mut rescan: BTreeSet<usize> = if burst.rescan_all {
        (0..dirs.len()).collect()
    } else {
        BTreeSet::new()
    };
    let mut files = BTreeSet::new();
    for path in burst.paths {
        if let Some(i) = dirs.iter().position(|d| *d == path) {
            rescan.insert(i);
            continue;
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let Some(i) = dirs.iter().position(|d| d == parent) else {
            continue;
        };
        if manifest_format(name).is_some() {
            files.insert(path);
        } else if name.to_string_lossy().starts_with("..") {
            rescan.insert(i);
        }
    }
    for i in rescan {
        match list_manifests(&dirs[i]) {
            Ok(listed) => files.extend(listed),
            Err(err) => {
                error!(dir = %dirs[i].display(), error = %err, "cannot list manifests directory")
            }
        }
        files.extend(state.known_files(i));
    }
    state.reload_files(read_all(files))
}

/// Reads files one at a time as the state consumes them, so that only one file's text is held
/// at once. A file that cannot be read is logged and left out: its objects stay in force.
fn read_all(files: BTreeSet<PathBuf>) -> impl Iterator<Item = (PathBuf, Option<String>)> {
    files.into_iter().filter_map(|path| match read_manifest(&path) {
        Ok(contents) => Some((path, contents)),
        Err(err) => {
            error!(file = %path.display(), error = %err, "cannot read manifest file; its previous objects stay in force");
            None
        }
    })
}

/// A file's text, or `None` when it no longer exists (or is not a file).
fn read_manifest(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file is not valid utf-8")),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The manifest files directly in `dir` (by name; see [`manifest_format`]).
fn list_manifests(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if manifest_format(&entry.file_name()).is_some() {
            files.push(entry.path());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests;

//! Certificate rotation: the TLS files are watched (their directories, so kubelet's `..data`
//! symlink swap is seen) and checked periodically; a new set that loads and checks out replaces
//! the config in force, and a bad one is refused with a log line and a count, leaving the last
//! good set in force.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::{SharedConfig, TlsFiles};

/// How long the files must be quiet after a change before they are read (a rotation writes
/// several files).
const SETTLE: Duration = Duration::from_millis(200);

/// Counts of reloads, for metrics.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// New sets put in force.
    pub reloads: AtomicU64,
    /// Sets refused (missing, unparsable, expired, key not matching).
    pub errors: AtomicU64,
}

/// The bytes of the three files, to tell a real change from a touch.
fn contents(files: &TlsFiles) -> Option<Vec<Vec<u8>>> {
    [&files.ca, &files.cert, &files.key]
        .iter()
        .map(|p| std::fs::read(p).ok())
        .collect()
}

/// Watches `files` until the task is dropped, swapping `config` on every good change.
/// `period` is the interval of the periodic check that backs up the file watcher.
pub async fn watch(
    files: TlsFiles,
    config: SharedConfig,
    stats: Arc<ReloadStats>,
    period: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = tx.send(());
    });
    let _watcher = match watcher {
        Ok(mut w) => {
            let mut dirs: Vec<_> = [&files.ca, &files.cert, &files.key]
                .iter()
                .filter_map(|p| p.parent().map(|d| d.to_path_buf()))
                .collect();
            dirs.sort();
            dirs.dedup();
            for dir in &dirs {
                let dir = if dir.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    dir.as_path()
                };
                if let Err(error) = w.watch(dir, RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %dir.display(), %error, "cannot watch TLS files; relying on the periodic check");
                }
            }
            Some(w)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch TLS files; relying on the periodic check");
            None
        }
    };
    let mut loaded = contents(&files);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = rx.recv() => {
                if event.is_none() {
                    return;
                }
                // Let the rotation finish, and swallow the burst of events it makes.
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            _ = tick.tick() => {}
        }
        // Unchanged bytes, or still missing the same way: nothing new to load or report.
        let now = contents(&files);
        if now == loaded {
            continue;
        }
        match files.server_config() {
            Ok(new) => {
                config.store(new);
                loaded = now;
                stats.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(cert = %files.cert.display(), "xDS TLS certificates reloaded");
            }
            Err(error) => {
                // Remember the refused set, so it is reported once, not at every tick.
                loaded = now;
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "new xDS TLS certificates refused; the last good set stays in force");
            }
        }
    }
}

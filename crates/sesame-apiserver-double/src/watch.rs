//! Watch streams: which stored events a watch sees (a pure translation through its filter), and
//! the task that writes them, plus bookmarks, as newline-terminated JSON into a response body.

use std::convert::Infallible;
use std::future::pending;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};

use crate::meta;
use crate::selector::Filter;
use crate::store::{Event, EventType, WatchStart};

#[cfg(test)]
mod tests;

/// How often a watch that allows bookmarks gets one unasked.
const BOOKMARK_PERIOD: Duration = Duration::from_secs(1);

/// One chunk of a streamed response body.
pub type Chunk = Result<Frame<Bytes>, Infallible>;

/// What one watch request asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// Kind, namespace and selectors.
    pub filter: Filter,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// Whether objects are sent as `PartialObjectMetadata`.
    pub metadata_only: bool,
}

/// The watch event `filter` sees for a stored event, if any: selector transitions turn
/// MODIFIED into ADDED (starts matching) or DELETED (stops matching; the previous object with
/// the new resource version, as the real cacher sends).
pub fn translate(event: &Event, filter: &Filter) -> Option<(&'static str, Value)> {
    if event.resource != filter.resource {
        return None;
    }
    let now = filter.matches(&event.object);
    match event.kind {
        EventType::Added => now.then(|| ("ADDED", event.object.clone())),
        EventType::Deleted => now.then(|| ("DELETED", event.object.clone())),
        EventType::Modified => {
            let before = event.previous.as_ref().is_some_and(|p| filter.matches(p));
            match (before, now) {
                (true, true) => Some(("MODIFIED", event.object.clone())),
                (false, true) => Some(("ADDED", event.object.clone())),
                (true, false) => {
                    let mut previous = event.previous.clone().unwrap_or_default();
                    meta::set_resource_version(&mut previous, event.rv);
                    Some(("DELETED", previous))
                }
                (false, false) => None,
            }
        }
    }
}

/// One watch event as a newline-terminated JSON line.
pub fn line(event_type: &str, object: &Value) -> Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

impl WatchRequest {
    fn event_line(&self, event: &Event) -> Option<Bytes> {
        let (event_type, object) = translate(event, &self.filter)?;
        let object = if self.metadata_only {
            meta::partial(&object)
        } else {
            object
        };
        Some(line(event_type, &object))
    }

    fn bookmark_line(&self, rv: u64) -> Bytes {
        let (kind, api_version) = if self.metadata_only {
            (
                "PartialObjectMetadata".to_owned(),
                "meta.k8s.io/v1".to_owned(),
            )
        } else {
            let resource = self.filter.resource;
            (
                resource.descriptor().kind.to_owned(),
                resource.api_version(),
            )
        };
        let object = json!({
            "kind": kind,
            "apiVersion": api_version,
            "metadata": {"resourceVersion": rv.to_string()},
        });
        line("BOOKMARK", &object)
    }
}

async fn send(tx: &mpsc::Sender<Chunk>, bytes: Bytes) -> bool {
    tx.send(Ok(Frame::data(bytes))).await.is_ok()
}

/// Streams one watch into `tx` until the client goes away, the timeout passes, or the watch
/// falls too far behind (the client then re-watches from its last resource version).
///
/// `position` is the resource version the watch has seen up to, filtered events included; a
/// bookmark carries it, so resuming from a bookmark never skips an event.
pub async fn run(
    request: WatchRequest,
    start: WatchStart,
    mut bookmark_requests: broadcast::Receiver<()>,
    tx: mpsc::Sender<Chunk>,
) {
    let WatchStart {
        replay,
        mut live,
        rv,
    } = start;
    for event in &replay {
        if let Some(bytes) = request.event_line(event)
            && !send(&tx, bytes).await
        {
            return;
        }
    }
    let mut position = replay.last().map_or(rv, |e| e.rv.max(rv));
    let deadline = request.timeout.map(|t| Instant::now() + t);
    let mut ticks = interval_at(Instant::now() + BOOKMARK_PERIOD, BOOKMARK_PERIOD);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let bytes = tokio::select! {
            biased;
            () = tx.closed() => return,
            () = async { match deadline { Some(d) => sleep_until(d).await, None => pending().await } } => return,
            received = live.recv() => match received {
                Ok(event) if event.rv > position => {
                    position = event.rv;
                    request.event_line(&event)
                }
                Ok(_) => None,
                Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
            },
            asked = bookmark_requests.recv(), if request.bookmarks => match asked {
                Err(broadcast::error::RecvError::Closed) => return,
                _ => Some(request.bookmark_line(position)),
            },
            _ = ticks.tick(), if request.bookmarks => Some(request.bookmark_line(position)),
        };
        if let Some(bytes) = bytes
            && !send(&tx, bytes).await
        {
            return;
        }
    }
}

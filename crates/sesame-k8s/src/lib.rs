//! Sesame's sources of Kubernetes objects (the manifests directory and the API-server watchers),
//! the status updates and their writer, and leader election on a Lease.
//!
//! Stage: the left edge of the pipeline. Sources read objects from the outside world and send
//! [`Change`](sesame_dag::Change)s (wrapped in [`SourceEvent`]s) to the rebuild loop. The pure
//! parts (decoding an object, per-file manifest state, relist batches, the Secret index, status
//! merging, the election's decisions) are sync and tested on their own; the async parts only do
//! I/O around them. Must not depend on tonic or `sesame-xds`.

pub mod client;
pub mod decode;
pub mod leader;
pub mod manifests;
pub mod source;
pub mod status;
pub mod watch;

#[cfg(test)]
mod testutil;

pub use source::SourceEvent;

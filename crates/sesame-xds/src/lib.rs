//! Sesame's xDS server: the last stage of the pipeline, between the translated Envoy resources
//! and every connected Envoy.
//!
//! - [`SnapshotStore`] holds the current resources of each type with deterministic content
//!   versions, and tells connections when they change. Nothing is answered before
//!   [`SnapshotStore::mark_ready`].
//! - [`Connection`] is the xDS state-of-the-world protocol for one stream as a sync state machine
//!   (subscribe, ACK, NACK, stale nonce, ADS push order), tested without any I/O.
//! - [`DeltaConnection`] is the incremental (delta) xDS protocol for one stream, the same way:
//!   only changed resources are sent, found through the store's change history; virtual hosts
//!   (VHDS), scopes (SRDS) and the delta listener overlay ([`Table::DeltaListeners`]) are served
//!   to delta clients only.
//! - [`XdsServer`], [`routes`], [`serve`] and [`serve_incoming`] are the thin tonic shell: one task
//!   per stream relays requests and store changes into the state machine and its answers back.
//!
//! This crate must not depend on kube or sesame-k8s: it only sees encoded Envoy resources.

mod answer;
mod connection;
mod delta;
mod server;
mod stats;
mod store;
#[cfg(test)]
mod testing;
pub mod tls;
mod version;

pub use answer::{Answer, CHUNK as ANSWER_CHUNK, DeltaAnswer, GrpcMessage, SotwAnswer};
pub use connection::{Connection, Scope};
pub use delta::DeltaConnection;
pub use server::{
    Error, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, MAX_CONCURRENT_STREAMS,
    MAX_DECODING_MESSAGE_SIZE, XdsServer, routes, serve, serve_incoming,
};
pub use sesame_envoy::ResourceType;
pub use stats::{Counters, StreamGuard, XdsStats};
pub use store::{
    INLINE_ROUTE_TABLE, Patch, Resource, SnapshotStore, StoreView, Table, TypeSnapshot,
};

/// The number of resource types, one slot each in per-type arrays.
pub(crate) const TYPES: usize = ResourceType::ALL.len();

/// The slot of a resource type in per-type arrays (its position in push order).
pub(crate) fn slot(ty: ResourceType) -> usize {
    match ty {
        ResourceType::Cluster => 0,
        ResourceType::ClusterLoadAssignment => 1,
        ResourceType::Secret => 2,
        ResourceType::Listener => 3,
        ResourceType::RouteConfiguration => 4,
        ResourceType::VirtualHost => 5,
        ResourceType::ScopedRouteConfiguration => 6,
    }
}

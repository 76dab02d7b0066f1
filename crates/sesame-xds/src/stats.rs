//! Counters of the xDS server, kept as plain atomics so the binary can export them as metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use sesame_envoy::ResourceType;

use crate::{TYPES, slot};

/// Live counters shared by every connection of one store; read them with [`Counters::snapshot`].
#[derive(Debug, Default)]
pub struct Counters {
    responses: [AtomicU64; TYPES],
    resources: [AtomicU64; TYPES],
    acks: [AtomicU64; TYPES],
    nacks: [AtomicU64; TYPES],
    streams: AtomicU64,
}

impl Counters {
    /// Counts one response sent for `ty`.
    pub fn response_sent(&self, ty: ResourceType) {
        self.responses[slot(ty)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `count` resources sent for `ty` (in one response).
    pub fn resources_sent(&self, ty: ResourceType, count: usize) {
        self.resources[slot(ty)].fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Counts one ACK received for `ty`.
    pub fn ack_received(&self, ty: ResourceType) {
        self.acks[slot(ty)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one NACK received for `ty`.
    pub fn nack_received(&self, ty: ResourceType) {
        self.nacks[slot(ty)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stream as open until the returned guard is dropped.
    pub fn stream_opened(self: &std::sync::Arc<Self>) -> StreamGuard {
        self.streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard {
            counters: self.clone(),
        }
    }

    /// A point-in-time copy of every counter.
    pub fn snapshot(&self) -> XdsStats {
        let load = |a: &[AtomicU64; TYPES]| std::array::from_fn(|i| a[i].load(Ordering::Relaxed));
        XdsStats {
            responses: load(&self.responses),
            resources: load(&self.resources),
            acks: load(&self.acks),
            nacks: load(&self.nacks),
            connected_streams: self.streams.load(Ordering::Relaxed),
        }
    }
}

/// Keeps a stream counted in [`XdsStats::connected_streams`] while alive.
#[derive(Debug)]
pub struct StreamGuard {
    counters: std::sync::Arc<Counters>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.counters.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A copy of the xDS server's counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdsStats {
    responses: [u64; TYPES],
    resources: [u64; TYPES],
    acks: [u64; TYPES],
    nacks: [u64; TYPES],
    /// Streams (ADS or single-type, state of the world or delta) open right now.
    pub connected_streams: u64,
}

impl XdsStats {
    /// Responses sent for `ty` since start.
    pub fn responses_sent(&self, ty: ResourceType) -> u64 {
        self.responses[slot(ty)]
    }

    /// Resources sent for `ty` since start, over every response (state of the world sends
    /// every selected resource in each response; delta only the changed ones).
    pub fn resources_sent(&self, ty: ResourceType) -> u64 {
        self.resources[slot(ty)]
    }

    /// ACKs received for `ty` since start.
    pub fn acks(&self, ty: ResourceType) -> u64 {
        self.acks[slot(ty)]
    }

    /// NACKs (requests with `error_detail`) received for `ty` since start.
    pub fn nacks(&self, ty: ResourceType) -> u64 {
        self.nacks[slot(ty)]
    }
}

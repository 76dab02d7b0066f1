//! The Lease records leader election writes: pure functions from the observed Lease (and the
//! wall-clock time to stamp) to the Lease to create or replace.
//!
//! The wall-clock times written here are for people reading the Lease; no replica ever compares
//! them with its own clock (see [`Elector`](super::elector::Elector)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

/// The current wall-clock time as a `MicroTime`, to stamp `acquireTime`/`renewTime`.
pub(super) fn now() -> MicroTime {
    // A clock before 1970 or beyond jiff's range only makes the informational stamp wrong.
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    MicroTime(Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// `leaseDurationSeconds` for a duration: rounded up to whole seconds, at least 1.
pub(super) fn duration_seconds(duration: Duration) -> i32 {
    let seconds = duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0));
    i32::try_from(seconds.max(1)).unwrap_or(i32::MAX)
}

/// The holder a Lease names; an absent or empty `holderIdentity` means the Lease is free.
pub(super) fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

/// A new Lease naming `identity`, with no transitions yet.
pub(super) fn created(
    name: &str,
    namespace: &str,
    identity: &str,
    lease_duration: Duration,
    now: MicroTime,
) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(identity.to_owned()),
            lease_duration_seconds: Some(duration_seconds(lease_duration)),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

/// `observed` taken over (or renewed) by `identity`: the replacement to PUT, keeping the
/// observed `resourceVersion` so that a concurrent change makes the PUT fail with 409.
///
/// When the holder changes, `acquireTime` is reset and `leaseTransitions` counts one more;
/// when `identity` already holds it, only `renewTime` (and the duration) change.
pub(super) fn claimed(
    observed: &Lease,
    identity: &str,
    lease_duration: Duration,
    now: MicroTime,
) -> Lease {
    let mut lease = observed.clone();
    let same_holder = holder(observed) == Some(identity);
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if !same_holder || spec.acquire_time.is_none() {
        spec.acquire_time = Some(now.clone());
    }
    if !same_holder {
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
    }
    spec.holder_identity = Some(identity.to_owned());
    spec.lease_duration_seconds = Some(duration_seconds(lease_duration));
    spec.renew_time = Some(now);
    lease
}

/// `observed` released (client-go's ReleaseOnCancel): no holder and a 1-second duration, so
/// the other replicas may take it at once; transitions and `resourceVersion` are kept.
pub(super) fn released(observed: &Lease, now: MicroTime) -> Lease {
    let mut lease = observed.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.acquire_time = Some(now.clone());
    spec.renew_time = Some(now);
    lease
}

#[cfg(test)]
mod tests;

//! The Lease records written on create, acquire, renew and release.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use pretty_assertions::assert_eq;

use super::*;

fn at(second: i64) -> MicroTime {
    MicroTime(Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn held(holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some("leader-elect".into()),
            namespace: Some("sesame".into()),
            resource_version: Some("42".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(at(100)),
            renew_time: Some(at(110)),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }),
    }
}

fn spec(lease: &Lease) -> LeaseSpec {
    lease.spec.clone().unwrap_or_default()
}

#[test]
fn durations_round_up_to_whole_seconds() {
    assert_eq!(duration_seconds(Duration::from_secs(15)), 15);
    assert_eq!(duration_seconds(Duration::from_millis(1_500)), 2);
    assert_eq!(duration_seconds(Duration::from_millis(300)), 1);
    assert_eq!(duration_seconds(Duration::ZERO), 1);
    assert_eq!(duration_seconds(Duration::MAX), i32::MAX);
}

#[test]
fn empty_holder_is_free() {
    assert_eq!(holder(&held("a")), Some("a"));
    assert_eq!(holder(&held("")), None);
    assert_eq!(holder(&Lease::default()), None);
}

#[test]
fn created_lease_names_the_identity() {
    let lease = created(
        "leader-elect",
        "sesame",
        "me",
        Duration::from_millis(1_500),
        at(5),
    );
    assert_eq!(lease.metadata.name.as_deref(), Some("leader-elect"));
    assert_eq!(lease.metadata.namespace.as_deref(), Some("sesame"));
    assert_eq!(lease.metadata.resource_version, None);
    assert_eq!(
        spec(&lease),
        LeaseSpec {
            holder_identity: Some("me".into()),
            lease_duration_seconds: Some(2),
            acquire_time: Some(at(5)),
            renew_time: Some(at(5)),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }
    );
}

#[test]
fn taking_over_counts_a_transition() {
    let lease = claimed(&held("other"), "me", Duration::from_secs(10), at(200));
    assert_eq!(lease.metadata.resource_version.as_deref(), Some("42"));
    assert_eq!(
        spec(&lease),
        LeaseSpec {
            holder_identity: Some("me".into()),
            lease_duration_seconds: Some(10),
            acquire_time: Some(at(200)),
            renew_time: Some(at(200)),
            lease_transitions: Some(4),
            ..LeaseSpec::default()
        }
    );
    // A free Lease taken counts too, as in client-go.
    let freed = claimed(&held(""), "me", Duration::from_secs(10), at(200));
    assert_eq!(spec(&freed).lease_transitions, Some(4));
}

#[test]
fn renewing_keeps_acquire_time_and_transitions() {
    let lease = claimed(&held("me"), "me", Duration::from_secs(15), at(200));
    assert_eq!(lease.metadata.resource_version.as_deref(), Some("42"));
    assert_eq!(
        spec(&lease),
        LeaseSpec {
            holder_identity: Some("me".into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(at(100)),
            renew_time: Some(at(200)),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    );
}

#[test]
fn released_lease_is_free_for_a_second() {
    let lease = released(&held("me"), at(300));
    assert_eq!(lease.metadata.resource_version.as_deref(), Some("42"));
    assert_eq!(
        spec(&lease),
        LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: Some(at(300)),
            renew_time: Some(at(300)),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    );
}

#[test]
fn now_is_recent() {
    let MicroTime(now) = now();
    assert!(now > Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::MAX));
}

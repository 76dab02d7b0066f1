//! The election decisions, driven with made-up Leases and instants.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

use super::*;

const LEASE: Duration = Duration::from_secs(15);
const RENEW: Duration = Duration::from_secs(10);
const SECOND: Duration = Duration::from_secs(1);

fn elector() -> Elector {
    Elector::new("me", LEASE, RENEW)
}

/// A Lease held by `holder` ("" for free) at `resource_version`, renewed at `renewed`
/// seconds after the epoch (by the holder's clock, which nobody else trusts).
fn lease(holder: &str, resource_version: &str, renewed: i64) -> Lease {
    let renew_time = MicroTime(Timestamp::from_second(renewed).unwrap_or(Timestamp::UNIX_EPOCH));
    Lease {
        metadata: ObjectMeta {
            name: Some("leader-elect".into()),
            resource_version: Some(resource_version.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(renew_time.clone()),
            acquire_time: Some(renew_time),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }),
    }
}

/// An elector that has just acquired `lease` (an attempt started and ended at `at`).
fn leading(at: Instant) -> Elector {
    let mut elector = elector();
    elector.claimed(&lease("me", "1", 1_000), at, at);
    elector
}

#[test]
fn missing_lease_is_created() {
    let mut elector = elector();
    assert_eq!(elector.observe(None, Instant::now()), Decision::Create);
    assert!(!elector.is_leading());
}

#[test]
fn free_lease_is_acquired() {
    let mut elector = elector();
    assert_eq!(
        elector.observe(Some(&lease("", "7", 0)), Instant::now()),
        Decision::Acquire
    );
    let mut no_spec = lease("", "7", 0);
    no_spec.spec = None;
    assert_eq!(
        elector.observe(Some(&no_spec), Instant::now()),
        Decision::Acquire
    );
}

#[test]
fn lease_held_by_another_and_recently_changed_is_left_alone() {
    let mut elector = elector();
    let t0 = Instant::now();
    assert_eq!(
        elector.observe(Some(&lease("other", "1", 100)), t0),
        Decision::Wait
    );
    // The other replica keeps renewing: each change restarts the local clock.
    for i in 1..10 {
        let lease = lease("other", &format!("{}", i + 1), 100 + i);
        let now = t0 + LEASE * u32::try_from(i).unwrap_or(0) - SECOND;
        assert_eq!(elector.observe(Some(&lease), now), Decision::Wait);
    }
    assert!(!elector.is_leading());
}

#[test]
fn lease_unchanged_for_the_lease_duration_is_acquired() {
    let mut elector = elector();
    let held = lease("other", "1", 100);
    let t0 = Instant::now();
    assert_eq!(elector.observe(Some(&held), t0), Decision::Wait);
    assert_eq!(
        elector.observe(Some(&held), t0 + LEASE - SECOND),
        Decision::Wait
    );
    assert_eq!(elector.observe(Some(&held), t0 + LEASE), Decision::Acquire);
}

#[test]
fn expiry_counts_from_the_last_change_seen() {
    let mut elector = elector();
    let t0 = Instant::now();
    elector.observe(Some(&lease("other", "1", 100)), t0);
    // Same record, new resourceVersion (say, a label was added): still a change.
    let relabelled = lease("other", "2", 100);
    assert_eq!(
        elector.observe(Some(&relabelled), t0 + 10 * SECOND),
        Decision::Wait
    );
    assert_eq!(
        elector.observe(Some(&relabelled), t0 + 24 * SECOND),
        Decision::Wait
    );
    assert_eq!(
        elector.observe(Some(&relabelled), t0 + 25 * SECOND),
        Decision::Acquire
    );
}

#[test]
fn expiry_uses_the_records_lease_duration() {
    let mut elector = elector();
    let mut short = lease("other", "1", 100);
    if let Some(spec) = short.spec.as_mut() {
        spec.lease_duration_seconds = Some(1);
    }
    let t0 = Instant::now();
    assert_eq!(elector.observe(Some(&short), t0), Decision::Wait);
    assert_eq!(
        elector.observe(Some(&short), t0 + SECOND),
        Decision::Acquire
    );
    // Without a usable duration in the record, the replica's own duration applies.
    let mut elector = Elector::new("me", LEASE, RENEW);
    if let Some(spec) = short.spec.as_mut() {
        spec.lease_duration_seconds = Some(0);
    }
    assert_eq!(elector.observe(Some(&short), t0), Decision::Wait);
    assert_eq!(
        elector.observe(Some(&short), t0 + LEASE - SECOND),
        Decision::Wait
    );
    assert_eq!(elector.observe(Some(&short), t0 + LEASE), Decision::Acquire);
}

#[test]
fn renew_times_in_the_record_do_not_matter() {
    let t0 = Instant::now();
    // Renewed "in 1970" by a skewed clock, but seen just now: live.
    let mut elector = elector();
    assert_eq!(
        elector.observe(Some(&lease("other", "1", 0)), t0),
        Decision::Wait
    );
    assert_eq!(
        elector.observe(Some(&lease("other", "1", 0)), t0 + LEASE - SECOND),
        Decision::Wait
    );
    // Renewed "in 2100" by a skewed clock, but unchanged for the lease duration: expired.
    let mut elector = self::elector();
    let future = 4_102_444_800;
    assert_eq!(
        elector.observe(Some(&lease("other", "1", future)), t0),
        Decision::Wait
    );
    assert_eq!(
        elector.observe(Some(&lease("other", "1", future)), t0 + LEASE),
        Decision::Acquire
    );
}

#[test]
fn own_lease_is_renewed() {
    let t0 = Instant::now();
    let mut elector = leading(t0);
    assert!(elector.is_leading());
    assert!(elector.holds_record());
    assert_eq!(elector.lapses_at(), Some(t0 + RENEW));
    assert_eq!(
        elector.observe(Some(&lease("me", "1", 1_000)), t0 + 2 * SECOND),
        Decision::Renew
    );
    assert!(elector.is_leading());
    // A renew that started later pushes the deadline out.
    elector.claimed(&lease("me", "2", 1_002), t0 + 2 * SECOND, t0 + 3 * SECOND);
    assert_eq!(elector.lapses_at(), Some(t0 + 2 * SECOND + RENEW));
}

#[test]
fn leader_steps_down_when_the_renew_deadline_passes() {
    let t0 = Instant::now();
    let mut elector = leading(t0);
    assert!(!elector.expire(t0 + RENEW - SECOND));
    assert!(elector.is_leading());
    assert!(elector.expire(t0 + RENEW));
    assert!(!elector.is_leading());
    assert_eq!(elector.lapses_at(), None);
    assert!(!elector.expire(t0 + RENEW + SECOND));
}

#[test]
fn late_read_of_own_lease_steps_down_then_reacquires() {
    let t0 = Instant::now();
    let mut elector = leading(t0);
    // The read answered after the deadline: not leading any more, but the Lease still
    // names this replica, so it may take it again (as a restarted client-go process would).
    let decision = elector.observe(Some(&lease("me", "1", 1_000)), t0 + RENEW);
    assert_eq!(decision, Decision::Acquire);
    assert!(!elector.is_leading());
}

#[test]
fn leader_steps_down_when_another_holds_the_lease() {
    let t0 = Instant::now();
    let mut elector = leading(t0);
    let decision = elector.observe(Some(&lease("other", "2", 1_000)), t0 + SECOND);
    assert_eq!(decision, Decision::Wait);
    assert!(!elector.is_leading());
    assert_eq!(elector.observed_holder(), Some("other"));
}

#[test]
fn leader_steps_down_when_the_lease_is_deleted_or_freed() {
    let t0 = Instant::now();
    let mut elector = leading(t0);
    assert_eq!(elector.observe(None, t0 + SECOND), Decision::Create);
    assert!(!elector.is_leading());

    let mut elector = leading(t0);
    assert_eq!(
        elector.observe(Some(&lease("", "2", 0)), t0 + SECOND),
        Decision::Acquire
    );
    assert!(!elector.is_leading());
}

#[test]
fn step_down_keeps_the_observation() {
    let t0 = Instant::now();
    let mut elector = leading(t0);
    elector.step_down();
    assert!(!elector.is_leading());
    assert!(elector.holds_record());
}

//! The sync core of leader election: what to do with the Lease just read, and whether this
//! replica is leading.
//!
//! Expiry is judged by local observation time only, as client-go does: the elector remembers
//! the last Lease record it saw and the local [`Instant`] it last saw that record change. Another
//! replica's Lease has expired once it has stayed unchanged for its `leaseDurationSeconds` of
//! local time. The record's `renewTime` is never compared with the local clock, so clock skew
//! between replicas (or with the API server) cannot make a live Lease look expired.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};

use super::record;

/// What to do after reading the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// There is no Lease: create one naming this replica.
    Create,
    /// The Lease is free, expired, or names this replica though it is not (or no longer)
    /// leading: replace it naming this replica.
    Acquire,
    /// This replica leads: replace the Lease with a fresh `renewTime`.
    Renew,
    /// Another replica holds a live Lease: try again later.
    Wait,
}

/// The last Lease record seen, and when it was last seen to change.
#[derive(Debug)]
struct Observation {
    spec: LeaseSpec,
    resource_version: Option<String>,
    changed_at: Instant,
}

/// Leader-election state of one replica.
#[derive(Debug)]
pub(super) struct Elector {
    identity: String,
    lease_duration: Duration,
    renew_deadline: Duration,
    observed: Option<Observation>,
    /// When the last successful acquire or renew started; `Some` exactly while leading.
    renewed_at: Option<Instant>,
}

impl Elector {
    /// A replica called `identity` that is not leading and has seen no Lease yet.
    pub(super) fn new(identity: &str, lease_duration: Duration, renew_deadline: Duration) -> Self {
        Self {
            identity: identity.to_owned(),
            lease_duration,
            renew_deadline,
            observed: None,
            renewed_at: None,
        }
    }

    /// Whether this replica currently leads.
    pub(super) fn is_leading(&self) -> bool {
        self.renewed_at.is_some()
    }

    /// Whether the last Lease record seen names this replica as holder.
    pub(super) fn holds_record(&self) -> bool {
        self.observed_holder() == Some(self.identity.as_str())
    }

    /// The holder named by the last Lease record seen.
    pub(super) fn observed_holder(&self) -> Option<&str> {
        let observed = self.observed.as_ref()?;
        observed
            .spec
            .holder_identity
            .as_deref()
            .filter(|h| !h.is_empty())
    }

    /// When leadership lapses unless a renew succeeds first (`None` when not leading).
    pub(super) fn lapses_at(&self) -> Option<Instant> {
        self.renewed_at.map(|at| at + self.renew_deadline)
    }

    /// Steps down if no renew has succeeded for the renew deadline; true if it just did.
    pub(super) fn expire(&mut self, now: Instant) -> bool {
        let lapsed = self.lapses_at().is_some_and(|at| at <= now);
        if lapsed {
            self.renewed_at = None;
        }
        lapsed
    }

    /// Stops leading, whatever the Lease says (on shutdown).
    pub(super) fn step_down(&mut self) {
        self.renewed_at = None;
    }

    /// Takes in the Lease just read (`None`: it does not exist) and decides what to write.
    /// Steps down if the renew deadline has passed or the Lease no longer names this replica.
    pub(super) fn observe(&mut self, lease: Option<&Lease>, now: Instant) -> Decision {
        self.expire(now);
        let Some(lease) = lease else {
            self.observed = None;
            self.renewed_at = None;
            return Decision::Create;
        };
        self.remember(lease, now);
        match record::holder(lease) {
            Some(holder) if holder == self.identity => {
                if self.is_leading() {
                    Decision::Renew
                } else {
                    Decision::Acquire
                }
            }
            None => {
                self.renewed_at = None;
                Decision::Acquire
            }
            Some(_) => {
                self.renewed_at = None;
                if self.expired(now) {
                    Decision::Acquire
                } else {
                    Decision::Wait
                }
            }
        }
    }

    /// Records a successful create or replace naming this replica, whose attempt started at
    /// `started`: this replica leads until `started + renew_deadline` unless it renews again.
    ///
    /// Counting from the start of the attempt (not from the answer) keeps this replica's
    /// leadership inside the time the others wait: they can only have seen the write change
    /// the Lease after it was sent.
    pub(super) fn claimed(&mut self, lease: &Lease, started: Instant, now: Instant) {
        self.remember(lease, now);
        self.renewed_at = Some(started);
    }

    /// Remembers `lease`, restarting the expiry clock if its record or version changed.
    fn remember(&mut self, lease: &Lease, now: Instant) {
        let spec = lease.spec.clone().unwrap_or_default();
        let resource_version = lease.metadata.resource_version.clone();
        let unchanged = self
            .observed
            .as_ref()
            .is_some_and(|o| o.spec == spec && o.resource_version == resource_version);
        if !unchanged {
            self.observed = Some(Observation {
                spec,
                resource_version,
                changed_at: now,
            });
        }
    }

    /// Whether the observed record has stayed unchanged for its lease duration (the record's
    /// `leaseDurationSeconds`, as in client-go, or this replica's own duration if it has none).
    fn expired(&self, now: Instant) -> bool {
        let Some(observed) = &self.observed else {
            return true;
        };
        let duration = observed
            .spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .filter(|&s| s > 0)
            .map_or(self.lease_duration, Duration::from_secs);
        observed.changed_at + duration <= now
    }
}

#[cfg(test)]
mod tests;

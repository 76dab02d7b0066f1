//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's `leaderelection`
//! semantics (the election Contour runs through controller-runtime).
//!
//! Every replica serves xDS; only the leader writes status. [`run`] tells the rest of the
//! process, through a watch channel, whether this replica currently leads.
//!
//! The decisions live in a sync state machine (`Elector`): it judges expiry by local
//! observation time only, never by comparing the Lease's `renewTime` with the local clock. This
//! module's async shell only reads and writes the Lease with plain GET, POST and PUT, relying on
//! `metadata.resourceVersion` for optimistic concurrency: of two replicas writing the same
//! version, the API server accepts one and answers the other 409 Conflict.

mod elector;
mod record;

use std::future::{Future, pending};
use std::hash::{BuildHasher, RandomState};
use std::pin::pin;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tracing::{debug, info, warn};

use elector::{Decision, Elector};

/// The Lease's name unless configured: Contour's `leader-elect`.
pub const DEFAULT_LEASE_NAME: &str = "leader-elect";

/// How long a Lease stays valid without a renew unless configured: client-go's and Contour's
/// 15 seconds.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// How long the leader keeps leading without a successful renew unless configured:
/// client-go's and Contour's 10 seconds.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// How often the Lease is read and renewed unless configured: client-go's and Contour's
/// 2 seconds.
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// client-go's `JitterFactor`: candidates wait up to this many retry periods (the renew
/// deadline must be longer), and up to 20% more than one retry period between attempts.
const JITTER_FACTOR: f64 = 1.2;

/// Why leader election failed or an attempt on the Lease did not go through.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot give a safe election.
    #[error("invalid leader election config: {0}")]
    Config(String),
    /// The API server refused a call or could not be reached.
    #[error("lease {verb}: {source}")]
    Api {
        /// The call: `get`, `create` or `replace`.
        verb: &'static str,
        /// The client's error.
        source: kube::Error,
    },
    /// The API server did not answer a call in time.
    #[error("lease {verb}: no answer within {timeout:?}")]
    Timeout {
        /// The call: `get`, `create` or `replace`.
        verb: &'static str,
        /// How long the call was given.
        timeout: Duration,
    },
}

impl Error {
    /// Whether the API server refused a write because someone else changed or created the
    /// Lease first: the normal outcome of losing a race, not a failure.
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Api { source: kube::Error::Api(status), .. }
            if status.is_conflict() || status.is_already_exists())
    }
}

/// Where and how this replica takes part in leader election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// The Lease's name ([`DEFAULT_LEASE_NAME`]).
    pub lease_name: String,
    /// The Lease's namespace: Sesame's own.
    pub namespace: String,
    /// This replica's identity, unique among replicas (the pod name or host name).
    pub identity: String,
    /// How long others wait, after last seeing the Lease change, before taking it over.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renew.
    pub renew_deadline: Duration,
    /// How often the Lease is read and renewed.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// The Lease [`DEFAULT_LEASE_NAME`] in `namespace`, for `identity`, with client-go's timings.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            lease_name: DEFAULT_LEASE_NAME.to_owned(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// Checks the names are set and the timings nest as client-go requires:
    /// `lease_duration > renew_deadline > retry_period * 1.2`.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |message: &str| Err(Error::Config(message.to_owned()));
        if self.lease_name.is_empty() {
            return fail("lease name must not be empty");
        }
        if self.namespace.is_empty() {
            return fail("lease namespace must not be empty");
        }
        if self.identity.is_empty() {
            return fail("identity must not be empty");
        }
        if self.retry_period.is_zero() {
            return fail("retryPeriod must be greater than zero");
        }
        if self.lease_duration <= self.renew_deadline {
            return fail("leaseDuration must be greater than renewDeadline");
        }
        if self.renew_deadline <= self.retry_period.mul_f64(JITTER_FACTOR) {
            return fail("renewDeadline must be greater than retryPeriod*JitterFactor(1.2)");
        }
        Ok(())
    }

    /// How long one API call may take: half the renew deadline, so that a leader facing a hung
    /// API server still gets a second try before its deadline (which ends the attempt anyway).
    fn call_timeout(&self) -> Duration {
        self.renew_deadline / 2
    }
}

/// Runs the election until `shutdown` resolves; sends `true` on `leading` the moment this
/// replica holds the Lease and `false` the moment it stops holding it.
///
/// Failed API calls are logged and retried; the only error is an invalid `config`. On
/// shutdown a leader sends `false`, then releases the Lease so another replica can take over
/// at once.
pub async fn run(
    client: kube::Client,
    config: LeaderElectionConfig,
    leading: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    config.validate()?;
    let mut election = Election::new(client, config, leading);
    let mut shutdown = pin!(shutdown);
    loop {
        let lapses_at = election.lapses_at();
        tokio::select! {
            () = &mut shutdown => break,
            () = election.attempt() => {}
            () = until(lapses_at) => {}
        }
        election.expire();
        let wait = election.wait();
        let lapses_at = election.lapses_at();
        tokio::select! {
            () = &mut shutdown => break,
            () = sleep(wait) => {}
            () = until(lapses_at) => election.expire(),
        }
    }
    election.stop().await;
    Ok(())
}

/// Resolves at `deadline`, or never.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}

/// The running election: the elector, the Lease API and the channel it reports to.
struct Election {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    elector: Elector,
    leading: watch::Sender<bool>,
    /// Seeds the jitter of successive waits.
    jitter: RandomState,
    attempts: u64,
}

impl Election {
    fn new(
        client: kube::Client,
        config: LeaderElectionConfig,
        leading: watch::Sender<bool>,
    ) -> Self {
        let elector = Elector::new(
            &config.identity,
            config.lease_duration,
            config.renew_deadline,
        );
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            elector,
            leading,
            jitter: RandomState::new(),
            attempts: 0,
        }
    }

    /// When leadership lapses unless a renew succeeds first.
    fn lapses_at(&self) -> Option<Instant> {
        self.elector.lapses_at().map(Instant::from_std)
    }

    /// The pause before the next attempt: the retry period for a leader (as client-go's renew
    /// loop), plus up to 20% jitter for a candidate so that candidates spread out.
    fn wait(&mut self) -> Duration {
        if self.elector.is_leading() {
            return self.config.retry_period;
        }
        self.attempts = self.attempts.wrapping_add(1);
        let fraction = (self.jitter.hash_one(self.attempts) % 1_000) as f64 / 1_000.0;
        let factor = 1.0 + (JITTER_FACTOR - 1.0) * fraction;
        self.config.retry_period.mul_f64(factor)
    }

    /// One round: read the Lease, then create or replace it if the elector says so.
    async fn attempt(&mut self) {
        let started = Instant::now();
        let lease = match self
            .call("get", self.api.get_opt(&self.config.lease_name))
            .await
        {
            Ok(lease) => lease,
            Err(error) => return self.failed(&error),
        };
        let was_leading = self.elector.is_leading();
        let decision = self
            .elector
            .observe(lease.as_ref(), Instant::now().into_std());
        if was_leading && !self.elector.is_leading() {
            warn!(
                identity = %self.config.identity,
                lease = %self.config.lease_name,
                holder = self.elector.observed_holder().unwrap_or_default(),
                "lease no longer names this replica"
            );
        }
        self.publish();
        let written = match (decision, &lease) {
            (Decision::Create, _) => self.create().await,
            (Decision::Acquire | Decision::Renew, Some(observed)) => {
                let new = record::claimed(
                    observed,
                    &self.config.identity,
                    self.config.lease_duration,
                    record::now(),
                );
                self.replace(&new).await
            }
            (Decision::Acquire | Decision::Renew | Decision::Wait, _) => return,
        };
        match written {
            Ok(lease) => {
                self.elector
                    .claimed(&lease, started.into_std(), Instant::now().into_std());
                self.publish();
            }
            Err(error) => self.failed(&error),
        }
    }

    /// Creates the Lease naming this replica.
    async fn create(&self) -> Result<Lease, Error> {
        let new = record::created(
            &self.config.lease_name,
            &self.config.namespace,
            &self.config.identity,
            self.config.lease_duration,
            record::now(),
        );
        let pp = PostParams::default();
        self.call("create", self.api.create(&pp, &new)).await
    }

    /// Replaces the Lease; fails with 409 if it changed since `new`'s `resourceVersion`.
    async fn replace(&self, new: &Lease) -> Result<Lease, Error> {
        let pp = PostParams::default();
        let name = &self.config.lease_name;
        self.call("replace", self.api.replace(name, &pp, new)).await
    }

    /// Runs one API call, bounded by the call timeout.
    async fn call<T>(
        &self,
        verb: &'static str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, Error> {
        let limit = self.config.call_timeout();
        match timeout(limit, call).await {
            Ok(result) => result.map_err(|source| Error::Api { verb, source }),
            Err(_) => Err(Error::Timeout {
                verb,
                timeout: limit,
            }),
        }
    }

    /// Logs a failed call: lost races quietly, a leader's failures as warnings.
    fn failed(&self, error: &Error) {
        let identity = &self.config.identity;
        let lease = &self.config.lease_name;
        if error.is_conflict() {
            debug!(identity, lease, %error, "lease changed concurrently");
        } else if self.elector.is_leading() {
            warn!(identity, lease, %error, "cannot renew the lease");
        } else {
            debug!(identity, lease, %error, "cannot acquire the lease");
        }
    }

    /// Steps down if the renew deadline has passed.
    fn expire(&mut self) {
        if self.elector.expire(Instant::now().into_std()) {
            warn!(
                identity = %self.config.identity,
                lease = %self.config.lease_name,
                renew_deadline = ?self.config.renew_deadline,
                "no successful renew within the renew deadline"
            );
            self.publish();
        }
    }

    /// Sends the elector's leadership on the channel if it changed, and logs the transition.
    fn publish(&self) {
        let now_leading = self.elector.is_leading();
        let changed = self.leading.send_if_modified(|leading| {
            let changed = *leading != now_leading;
            *leading = now_leading;
            changed
        });
        if !changed {
            return;
        }
        let identity = &self.config.identity;
        let lease = &self.config.lease_name;
        if now_leading {
            info!(identity, lease, "became leader");
        } else {
            info!(identity, lease, "stopped leading");
        }
    }

    /// On shutdown: stops leading, then releases the Lease if it still names this replica
    /// (client-go's ReleaseOnCancel). Failures are logged: the Lease then simply expires.
    async fn stop(mut self) {
        let was_leading = self.elector.is_leading();
        self.elector.step_down();
        self.publish();
        if !(was_leading || self.elector.holds_record()) {
            return;
        }
        match self.release().await {
            Ok(true) => info!(
                identity = %self.config.identity,
                lease = %self.config.lease_name,
                "released the lease"
            ),
            Ok(false) => {}
            Err(error) => warn!(
                identity = %self.config.identity,
                lease = %self.config.lease_name,
                %error,
                "cannot release the lease"
            ),
        }
    }

    /// Clears the holder of the current Lease if it names this replica; true if it did.
    async fn release(&self) -> Result<bool, Error> {
        let current = self
            .call("get", self.api.get_opt(&self.config.lease_name))
            .await?;
        let Some(current) = current else {
            return Ok(false);
        };
        if record::holder(&current) != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        self.replace(&record::released(&current, record::now()))
            .await
            .map(|_| true)
    }
}

#[cfg(test)]
mod tests;

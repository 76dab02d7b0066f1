//! The status writer: sends status updates to the API server while this replica leads.
//!
//! It runs on its own task, so the xDS path never waits for it. It takes the newest set of
//! updates, writes each with a merge patch on the status subresource under the
//! resourceVersion it was computed against, and on `409 Conflict` reads the object again and
//! merges into the fresh status. Writes are rate-limited; it stops the moment leadership is
//! lost, and forgets what it wrote when leadership is won, so a new leader refreshes everything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use sesame_dag::{Kind, ObjectKey};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::{StatusUpdate, StatusUpdates, merge};

/// How many times a write is retried after a conflict.
const CONFLICT_RETRIES: usize = 5;

/// How soon writes that failed for another reason are tried again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// How fast statuses are written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Writes per second, sustained.
    pub per_second: f64,
    /// Writes allowed at once after a quiet spell.
    pub burst: u32,
}

impl Default for RateLimit {
    /// 100 writes a second with bursts of 100: 1 000 HTTPProxies turning valid at once are
    /// written in about ten seconds (client-go's default of 5 a second, which Contour keeps,
    /// would take more than three minutes).
    fn default() -> Self {
        RateLimit {
            per_second: 100.0,
            burst: 100,
        }
    }
}

/// What became of one status update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The status was written.
    Written,
    /// Nothing to write: the same status was written before, or the object already says it.
    Unchanged,
    /// The write failed (it is tried again later).
    Failed,
}

/// Told of every status update the writer handles, for metrics.
pub trait WriteObserver: Send + Sync {
    /// One update of an object of `kind` ended with `outcome` after `conflicts` conflicts,
    /// in `elapsed` (zero when nothing was sent).
    fn observe(&self, kind: Kind, outcome: WriteOutcome, conflicts: u32, elapsed: Duration);
}

/// An observer that ignores everything.
impl WriteObserver for () {
    fn observe(&self, _: Kind, _: WriteOutcome, _: u32, _: Duration) {}
}

/// A token bucket.
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Bucket {
            limit,
            tokens: f64::from(limit.burst.max(1)),
            at: Instant::now(),
        }
    }

    async fn take(&mut self) {
        let rate = self.limit.per_second.max(0.001);
        let burst = f64::from(self.limit.burst.max(1));
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(burst);
        self.at = now;
        if self.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / rate);
            tokio::time::sleep(wait).await;
            self.tokens = 1.0;
            self.at = Instant::now();
        }
        self.tokens -= 1.0;
    }
}

/// Writes statuses until `updates` closes. `refresh` is notified when leadership is won, so
/// that the rebuild loop sends a full set of updates computed against its newest snapshot.
pub async fn run(
    client: Client,
    mut updates: watch::Receiver<Arc<StatusUpdates>>,
    mut leading: watch::Receiver<bool>,
    refresh: Arc<Notify>,
    limit: RateLimit,
    observer: Arc<dyn WriteObserver>,
) {
    let mut bucket = Bucket::new(limit);
    // What was last written for each object, so the same status is never written twice.
    let mut written: HashMap<ObjectKey, Value> = HashMap::new();
    loop {
        if !*leading.borrow_and_update() {
            written.clear();
            if leading.wait_for(|l| *l).await.is_err() {
                return;
            }
            tracing::info!("leading: refreshing every status");
            refresh.notify_one();
            continue;
        }
        let batch = updates.borrow_and_update().clone();
        let mut failed = false;
        for update in batch.values() {
            if !*leading.borrow() {
                tracing::info!("no longer leading: status writes stopped");
                break;
            }
            if updates.has_changed().unwrap_or(false) {
                break;
            }
            let kind = update.key.kind;
            if written.get(&update.key) == Some(&update.ours) {
                observer.observe(kind, WriteOutcome::Unchanged, 0, Duration::ZERO);
                continue;
            }
            bucket.take().await;
            if !*leading.borrow() {
                break;
            }
            let started = Instant::now();
            let mut conflicts = 0;
            let outcome = match write(&client, update, &mut conflicts).await {
                Ok(WriteOutcome::Failed) => {
                    failed = true;
                    tracing::warn!(object = %update.key, conflicts, "status write kept conflicting; will retry");
                    WriteOutcome::Failed
                }
                Ok(outcome) => {
                    written.insert(update.key.clone(), update.ours.clone());
                    outcome
                }
                Err(error) => {
                    failed = true;
                    tracing::warn!(object = %update.key, %error, "status write failed; will retry");
                    WriteOutcome::Failed
                }
            };
            observer.observe(kind, outcome, conflicts, started.elapsed());
        }
        if updates.has_changed().unwrap_or(false) {
            continue;
        }
        let retry = async {
            if failed {
                tokio::time::sleep(RETRY_AFTER).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            changed = updates.changed() => if changed.is_err() { return },
            changed = leading.changed() => if changed.is_err() { return },
            _ = retry => {}
        }
    }
}

/// Writes one status, retrying on conflict against the fresh object and counting the
/// conflicts met; `Failed` when it still conflicted after the last retry.
async fn write(
    client: &Client,
    update: &StatusUpdate,
    conflicts: &mut u32,
) -> Result<WriteOutcome, kube::Error> {
    let Some(api) = api_for(client, &update.key) else {
        return Ok(WriteOutcome::Unchanged);
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut version = update.resource_version.clone();
    let mut status = update.status.clone();
    for _ in 0..=CONFLICT_RETRIES {
        let patch = json!({
            "metadata": { "resourceVersion": version },
            "status": status,
        });
        match api
            .patch_status(
                &update.key.name.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                tracing::debug!(object = %update.key, "status written");
                return Ok(WriteOutcome::Written);
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                *conflicts += 1;
                tracing::debug!(object = %update.key, "status write conflict: reading the object again");
                let fresh = match api.get_opt(&update.key.name.name).await? {
                    Some(object) => object,
                    None => return Ok(WriteOutcome::Unchanged),
                };
                version = fresh.resource_version();
                match merge(fresh.data.get("status"), update, &now) {
                    Some(merged) => status = merged,
                    // The fresh object already says this, or describes a newer generation.
                    None => return Ok(WriteOutcome::Unchanged),
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(WriteOutcome::Unchanged),
            Err(e) => return Err(e),
        }
    }
    Ok(WriteOutcome::Failed)
}

/// The dynamic API of the object's kind, in its namespace (for a namespaced kind); `None`
/// for a kind whose status Sesame does not write.
fn api_for(client: &Client, key: &ObjectKey) -> Option<Api<DynamicObject>> {
    let kind = super::kinds::api_kind(key.kind)?;
    let resource = kind.api_resource();
    Some(if kind.namespaced {
        Api::namespaced_with(client.clone(), &key.name.namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    })
}

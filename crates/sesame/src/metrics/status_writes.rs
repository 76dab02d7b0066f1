//! Contour's status update counters, by kind: every update the writer handled, and how each
//! ended (written, nothing to write, failed, conflicts met on the way), with write latency.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sesame_dag::Kind;
use sesame_k8s::status::writer::{WriteObserver, WriteOutcome};

use super::KindLabel;

/// The status writer's counters.
#[derive(Clone)]
pub struct StatusWrites {
    total: Family<KindLabel, Counter>,
    success: Family<KindLabel, Counter>,
    failed: Family<KindLabel, Counter>,
    conflict: Family<KindLabel, Counter>,
    noop: Family<KindLabel, Counter>,
    seconds: Family<KindLabel, Histogram>,
}

impl Default for StatusWrites {
    fn default() -> Self {
        StatusWrites {
            total: Family::default(),
            success: Family::default(),
            failed: Family::default(),
            conflict: Family::default(),
            noop: Family::default(),
            seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 14))
            }),
        }
    }
}

impl StatusWrites {
    /// Registers the counters under Contour's names.
    pub fn register(&self, registry: &mut Registry) {
        for (name, help, family) in [
            ("status_update", "Status updates handled", &self.total),
            (
                "status_update_success",
                "Status updates written",
                &self.success,
            ),
            (
                "status_update_failed",
                "Status updates that failed (tried again later)",
                &self.failed,
            ),
            (
                "status_update_conflict",
                "Conflicts met writing status updates",
                &self.conflict,
            ),
            (
                "status_update_noop",
                "Status updates with nothing to write",
                &self.noop,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "status_update_duration_seconds",
            "Time to write a status, conflicts included",
            self.seconds.clone(),
        );
    }
}

impl WriteObserver for StatusWrites {
    fn observe(&self, kind: Kind, outcome: WriteOutcome, conflicts: u32, elapsed: Duration) {
        let label = KindLabel {
            kind: kind.as_str().to_string(),
        };
        self.total.get_or_create(&label).inc();
        if conflicts > 0 {
            self.conflict
                .get_or_create(&label)
                .inc_by(u64::from(conflicts));
        }
        match outcome {
            WriteOutcome::Written => {
                self.success.get_or_create(&label).inc();
                self.seconds
                    .get_or_create(&label)
                    .observe(elapsed.as_secs_f64());
            }
            WriteOutcome::Unchanged => {
                self.noop.get_or_create(&label).inc();
            }
            WriteOutcome::Failed => {
                self.failed.get_or_create(&label).inc();
            }
        }
    }
}

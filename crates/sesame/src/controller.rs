//! The rebuild loop: applies changes to the snapshot, builds when the holdoff says so,
//! translates, and publishes to the xDS store. One task owns all of this state.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use sesame_dag::snapshot::Touched;
use sesame_dag::status::ObjectStatus;
use sesame_dag::{BuildConfig, BuildOutput, Change, Impact, NamespacedName, Snapshot, build};
use sesame_envoy::{ResourceType, TranslateConfig, translate};
use sesame_k8s::manifests::SourceEvent;
use sesame_xds::SnapshotStore;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::holdoff::Holdoff;
use crate::metrics::Metrics;

/// The latest build, as the debug endpoints show it.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// The latest build output; `None` until the first build.
    pub output: Option<Arc<BuildOutput>>,
}

/// Work waiting for the next build.
#[derive(Debug, Default)]
struct Pending {
    rebuild: bool,
    endpoints: BTreeSet<NamespacedName>,
}

/// The rebuild loop's state.
pub struct Controller {
    snapshot: Snapshot,
    build_config: BuildConfig,
    translate_config: TranslateConfig,
    holdoff: Holdoff,
    store: SnapshotStore,
    published: watch::Sender<Published>,
    metrics: Metrics,
    last: Arc<BuildOutput>,
    synced: bool,
    pending: Pending,
}

impl Controller {
    /// A controller that publishes into `store` and `published`.
    pub fn new(
        build_config: BuildConfig,
        translate_config: TranslateConfig,
        holdoff: Holdoff,
        store: SnapshotStore,
        published: watch::Sender<Published>,
        metrics: Metrics,
    ) -> Self {
        Controller {
            snapshot: Snapshot::new(),
            build_config,
            translate_config,
            holdoff,
            store,
            published,
            metrics,
            last: Arc::new(BuildOutput::default()),
            synced: false,
            pending: Pending::default(),
        }
    }

    /// Runs until the source closes its channel.
    pub async fn run(mut self, mut events: mpsc::Receiver<SourceEvent>) {
        loop {
            let deadline = self.holdoff.deadline().filter(|_| self.synced);
            tokio::select! {
                event = events.recv() => match event {
                    Some(SourceEvent::Changes(changes)) => self.apply(changes),
                    Some(SourceEvent::Synced) => self.on_synced(),
                    None => return,
                },
                _ = sleep_until(deadline), if deadline.is_some() => self.flush(),
            }
        }
    }

    fn apply(&mut self, changes: Vec<Change>) {
        let now = Instant::now();
        for change in changes {
            let Some(touched) = self.snapshot.apply(change) else {
                continue;
            };
            if !self.synced {
                continue;
            }
            match touched.impact(&self.last.dag) {
                Impact::None => {
                    if let Touched::Object(key) = &touched {
                        tracing::debug!(object = %key, "change to an unreferenced object: nothing to rebuild");
                    }
                    continue;
                }
                Impact::Endpoints(services) => self.pending.endpoints.extend(services),
                Impact::Rebuild => self.pending.rebuild = true,
            }
            self.holdoff.on_change(now);
        }
        self.metrics.set_objects(&self.snapshot);
    }

    fn on_synced(&mut self) {
        if self.synced {
            return;
        }
        self.synced = true;
        self.pending.rebuild = true;
        self.flush();
        self.store.mark_ready();
        tracing::info!("initial objects loaded and built: serving xDS");
    }

    fn flush(&mut self) {
        let now = Instant::now();
        if self.pending.rebuild {
            self.rebuild();
        } else if !self.pending.endpoints.is_empty() {
            self.update_endpoints();
        }
        self.pending = Pending::default();
        self.holdoff.built(now);
    }

    fn rebuild(&mut self) {
        let started = StdInstant::now();
        let output = build(&self.snapshot, &self.build_config);
        let resources = translate(&output.dag, &self.translate_config);
        let endpoints = sesame_envoy::endpoints::endpoints(&output.dag, &self.snapshot);
        self.store.publish(vec![
            (ResourceType::Cluster, resources.clusters),
            (ResourceType::ClusterLoadAssignment, endpoints),
            (ResourceType::Secret, resources.secrets),
            (ResourceType::Listener, resources.listeners),
            (ResourceType::RouteConfiguration, resources.routes),
        ]);
        let elapsed = started.elapsed();
        self.metrics.observe_rebuild(elapsed);
        tracing::info!(
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            virtual_hosts = output.dag.http.len(),
            secure_virtual_hosts = output.dag.https.len(),
            clusters = output.dag.clusters.len(),
            "built configuration"
        );
        log_status_changes(&self.last, &output);
        let output = Arc::new(output);
        self.last = output.clone();
        self.published.send_replace(Published {
            output: Some(output),
        });
    }

    fn update_endpoints(&mut self) {
        let upserts = sesame_envoy::endpoints::service_endpoints(
            &self.last.dag,
            &self.snapshot,
            &self.pending.endpoints,
        );
        tracing::debug!(
            services = self.pending.endpoints.len(),
            assignments = upserts.len(),
            "endpoints changed: updating EDS only"
        );
        self.metrics.observe_endpoint_update();
        self.store.patch(
            ResourceType::ClusterLoadAssignment,
            upserts,
            BTreeSet::new(),
        );
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Logs each object whose status differs from the previous build, once.
fn log_status_changes(before: &BuildOutput, after: &BuildOutput) {
    for (key, status) in &after.status.objects {
        let previous = before.status.objects.get(key);
        if previous == Some(status) {
            continue;
        }
        log_status(key, status, previous.is_none());
    }
    for key in before.status.objects.keys() {
        if !after.status.objects.contains_key(key) {
            tracing::info!(object = %key, "object no longer considered");
        }
    }
}

fn log_status(key: &sesame_dag::ObjectKey, status: &ObjectStatus, first_seen: bool) {
    let errors: Vec<String> = status
        .errors
        .iter()
        .map(|p| format!("{:?}/{}: {}", p.kind, p.reason.as_str(), p.message))
        .collect();
    let warnings: Vec<String> = status
        .warnings
        .iter()
        .map(|p| format!("{:?}/{}: {}", p.kind, p.reason.as_str(), p.message))
        .collect();
    if errors.is_empty() && warnings.is_empty() {
        // A valid object appearing is the normal case: worth a line only when debugging.
        if first_seen {
            tracing::debug!(object = %key, status = status.current.as_str(), "status");
        } else {
            tracing::info!(object = %key, status = status.current.as_str(), "status changed");
        }
    } else {
        tracing::warn!(object = %key, status = status.current.as_str(), ?errors, ?warnings, "status changed");
    }
}

//! The rebuild loop: applies changes to the snapshot, builds when the holdoff says so,
//! translates, and publishes to the xDS store. One task owns all of this state.
//!
//! The first build is a full one; after it, a build brings an [`IncrementalBuild`] up to date
//! with the objects changed since, and only the Envoy resources of what that changed are
//! encoded again and patched into the store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use sesame_dag::snapshot::Touched;
use sesame_dag::status::ObjectStatus;
use sesame_dag::{
    BuildConfig, BuildDelta, BuildOutput, Change, Impact, IncrementalBuild, NamespacedName,
    ObjectKey, Snapshot,
};
use sesame_envoy::incremental::{ResourceChanges, Translator};
use sesame_envoy::{ResourceType, TranslateConfig};
use sesame_k8s::manifests::SourceEvent;
use sesame_k8s::status::{Address, StatusUpdates};
use sesame_k8s::watch::SecretRequest;
use sesame_xds::{Patch, SnapshotStore, Table};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::holdoff::Holdoff;
use crate::metrics::Metrics;

/// What a debug endpoint shows of the latest build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// Every object's status, as a JSON array.
    Statuses,
    /// The DAG, as JSON.
    Dag,
    /// Where a request would go, and why.
    Explain(sesame_dag::explain::Request),
    /// The objects an xDS resource was built from.
    Sources(sesame_dag::explain::Resource),
}

/// A request for a [`View`] of the latest build, answered with its JSON (`None` before the
/// first build).
pub type ViewRequest = (View, oneshot::Sender<Option<Vec<u8>>>);

/// The debug endpoints' handle on the latest build. The rebuild loop renders what they ask for
/// from the build it holds, so no second copy of the build is kept for them (at 10 000 objects
/// a copy costs ~11 ms and tens of MiB per change).
#[derive(Clone, Debug)]
pub struct Published {
    requests: mpsc::Sender<ViewRequest>,
}

impl Published {
    /// A handle and the receiver the rebuild loop answers from.
    pub fn channel() -> (Published, mpsc::Receiver<ViewRequest>) {
        let (requests, receiver) = mpsc::channel(16);
        (Published { requests }, receiver)
    }

    /// The JSON of `view` of the latest build; `None` before the first build (or once the loop
    /// has stopped).
    pub async fn render(&self, view: View) -> Option<Vec<u8>> {
        let (reply, answer) = oneshot::channel();
        self.requests.send((view, reply)).await.ok()?;
        answer.await.ok().flatten()
    }
}

/// How long a build waits for the Secrets it references to be fetched before it is published
/// without them.
const SECRET_FETCH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The Kubernetes side of the rebuild loop: Secrets fetched by reference, and statuses.
pub struct KubeLink {
    /// Where the Secrets a build references are requested.
    pub secrets: mpsc::Sender<SecretRequest>,
    /// Where the status updates of each build go (to the writer, which acts only when leading).
    pub status: watch::Sender<Arc<StatusUpdates>>,
    /// Notified by the writer when it starts leading: recompute every status update.
    pub refresh: Arc<Notify>,
    /// Whether this replica leads; followers compute no status updates at all.
    pub leading: watch::Receiver<bool>,
    /// `--ingress-status-address`: published as is when set.
    pub status_addresses: Vec<String>,
    /// The Envoy Service whose load balancer addresses are published otherwise.
    pub envoy_service: NamespacedName,
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
    translator: Translator,
    holdoff: Holdoff,
    store: SnapshotStore,
    views: mpsc::Receiver<ViewRequest>,
    metrics: Metrics,
    synced: bool,
    /// How many sources must report their initial load before the first build.
    unsynced_sources: usize,
    pending: Pending,
    kube: Option<KubeLink>,
    /// The Secrets the last build referenced, as last sent to the source.
    wanted_secrets: BTreeSet<NamespacedName>,
    /// The build kept up to date change by change; `None` until the first build.
    incremental: Option<IncrementalBuild>,
    /// The objects changed since the last build.
    changed: BTreeSet<ObjectKey>,
}

impl Controller {
    /// A controller that publishes into `store` and `published`.
    pub fn new(
        build_config: BuildConfig,
        translate_config: TranslateConfig,
        holdoff: Holdoff,
        store: SnapshotStore,
        views: mpsc::Receiver<ViewRequest>,
        metrics: Metrics,
    ) -> Self {
        Controller {
            snapshot: Snapshot::new(),
            build_config,
            translator: Translator::new(translate_config),
            holdoff,
            store,
            views,
            metrics,
            synced: false,
            unsynced_sources: 1,
            pending: Pending::default(),
            kube: None,
            wanted_secrets: BTreeSet::new(),
            incremental: None,
            changed: BTreeSet::new(),
        }
    }

    /// Waits for `sources` sources to report their initial load (default 1).
    pub fn with_sources(mut self, sources: usize) -> Self {
        self.unsynced_sources = sources.max(1);
        self
    }

    /// Links the loop to the Kubernetes API: Secrets by reference and status updates.
    pub fn with_kube(mut self, kube: KubeLink) -> Self {
        self.kube = Some(kube);
        self
    }

    /// Runs until the source closes its channel.
    pub async fn run(mut self, mut events: mpsc::Receiver<SourceEvent>) {
        let refresh = self.kube.as_ref().map(|k| k.refresh.clone());
        loop {
            let deadline = self.holdoff.deadline().filter(|_| self.synced);
            // A build due now goes at once: a timer would round it up to the next tick of
            // tokio's millisecond clock.
            if deadline.is_some_and(|at| at <= Instant::now()) {
                // Changes already queued go into this build too.
                self.apply_queued(&mut events);
                self.flush(&mut events).await;
                continue;
            }
            let refreshed = async {
                match &refresh {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    Some(SourceEvent::Changes(changes)) => {
                        self.apply(changes);
                    }
                    Some(SourceEvent::Synced) => self.on_synced(&mut events).await,
                    None => return,
                },
                _ = sleep_until(deadline), if deadline.is_some() => self.flush(&mut events).await,
                _ = refreshed => self.send_status(),
                Some((view, reply)) = self.views.recv() => {
                    let _ = reply.send(self.render(view));
                }
            }
        }
    }

    /// The JSON of `view` of the current build, if there is one.
    fn render(&self, view: View) -> Option<Vec<u8>> {
        let output = self.incremental.as_ref()?.output();
        Some(match view {
            View::Statuses => crate::http::render_statuses(output),
            View::Dag => crate::http::render_dag(output),
            View::Explain(request) => {
                serde_json::to_vec(&sesame_dag::explain::explain(&output.dag, &request))
                    .unwrap_or_default()
            }
            View::Sources(resource) => {
                serde_json::to_vec(&sesame_dag::explain::sources(&output.dag, &resource))
                    .unwrap_or_default()
            }
        })
    }

    /// Applies changes to the snapshot and notes the work they call for. Returns whether the
    /// snapshot changed at all.
    fn apply(&mut self, changes: Vec<Change>) -> bool {
        let now = Instant::now();
        let mut changed = false;
        for change in changes {
            let key = change.key();
            let Some(touched) = self.snapshot.apply(change) else {
                continue;
            };
            changed = true;
            self.changed.insert(key);
            if !self.synced {
                continue;
            }
            if let (Some(kube), Touched::Object(key)) = (&self.kube, &touched)
                && key.kind == sesame_dag::Kind::Service
                && key.name == kube.envoy_service
            {
                // The load balancer's addresses may have changed: statuses follow.
                self.send_status();
            }
            let Some(build) = &self.incremental else {
                self.pending.rebuild = true;
                continue;
            };
            match touched.impact(&build.output().dag) {
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
        changed
    }

    async fn on_synced(&mut self, events: &mut mpsc::Receiver<SourceEvent>) {
        if self.synced {
            return;
        }
        self.unsynced_sources = self.unsynced_sources.saturating_sub(1);
        if self.unsynced_sources > 0 {
            return;
        }
        self.synced = true;
        self.pending.rebuild = true;
        self.flush(events).await;
        self.store.mark_ready();
        tracing::info!("initial objects loaded and built: serving xDS");
    }

    async fn flush(&mut self, events: &mut mpsc::Receiver<SourceEvent>) {
        let now = Instant::now();
        let pending = std::mem::take(&mut self.pending);
        if pending.rebuild {
            self.rebuild(events).await;
        }
        // A build re-reads the endpoints of the clusters it changed only: endpoint changes
        // held back with it still go out.
        if !pending.endpoints.is_empty() {
            self.update_endpoints(&pending.endpoints);
        }
        self.holdoff.built(now);
    }

    /// Builds, first making sure the Secrets the build references are held: when a build
    /// references Secrets not fetched yet, they are fetched and the build is done again before
    /// anything is published, so Envoy and statuses never see a Secret as missing only because
    /// its data had not been loaded.
    async fn rebuild(&mut self, events: &mut mpsc::Receiver<SourceEvent>) {
        let started = StdInstant::now();
        let mut delta = self.build_changes();
        for _ in 0..2 {
            if !self.load_secrets(events).await {
                break;
            }
            self.pending.rebuild = false;
            delta.merge(self.build_changes());
        }
        self.publish(delta, started);
    }

    /// Brings the build up to date with the objects changed since the last one (the first
    /// time, a full build) and says what changed.
    fn build_changes(&mut self) -> BuildDelta {
        let changed: Vec<ObjectKey> = std::mem::take(&mut self.changed).into_iter().collect();
        match &mut self.incremental {
            Some(build) => build.update(&self.snapshot, &changed),
            None => {
                // The initial load is in: the maps it filled are packed once.
                self.snapshot.pack();
                let build = IncrementalBuild::new(&self.snapshot, &self.build_config);
                self.incremental = Some(build);
                BuildDelta {
                    full: true,
                    ..BuildDelta::default()
                }
            }
        }
    }

    /// Asks the source for the Secrets the current build references, when they changed since
    /// the last ask, and applies what it sent. Returns whether anything the build reads changed.
    async fn load_secrets(&mut self, events: &mut mpsc::Receiver<SourceEvent>) -> bool {
        let (Some(kube), Some(build)) = (&self.kube, &self.incremental) else {
            return false;
        };
        let wanted: BTreeSet<NamespacedName> = build
            .output()
            .dag
            .references
            .iter()
            .filter(|k| k.kind == sesame_dag::Kind::Secret)
            .map(|k| k.name.clone())
            .collect();
        if wanted == self.wanted_secrets {
            return false;
        }
        self.wanted_secrets = wanted.clone();
        let (done, answered) = oneshot::channel();
        if kube
            .secrets
            .send(SecretRequest { wanted, done })
            .await
            .is_err()
        {
            return false;
        }
        if tokio::time::timeout(SECRET_FETCH_WAIT, answered)
            .await
            .is_err()
        {
            tracing::warn!("referenced Secrets were not fetched in time: building without them");
        }
        // The source sends the fetched Secrets before answering: apply them, and whatever
        // else arrived meanwhile. (Their impact cannot be judged against the last published
        // DAG, which may predate these references: any change means building again.)
        self.apply_queued(events)
    }

    /// Applies the changes already queued, without waiting for more. Returns whether the
    /// snapshot changed. (Called once synced, when a `Synced` event changes nothing.)
    fn apply_queued(&mut self, events: &mut mpsc::Receiver<SourceEvent>) -> bool {
        let mut changed = false;
        while let Ok(event) = events.try_recv() {
            match event {
                SourceEvent::Changes(changes) => changed |= self.apply(changes),
                SourceEvent::Synced => {}
            }
        }
        changed
    }

    /// Sends what the build changed to the xDS store: everything after a full build, else
    /// only the resources of the changed parts. Then updates the debug view and statuses.
    fn publish(&mut self, delta: BuildDelta, started: StdInstant) {
        let Some(build) = &self.incremental else {
            return;
        };
        let output = build.output();
        if delta.full {
            let (resources, endpoints) = self.translator.full(&output.dag, &self.snapshot);
            self.store.publish(vec![
                (Table::Shared(ResourceType::Cluster), resources.clusters),
                (
                    Table::Shared(ResourceType::ClusterLoadAssignment),
                    endpoints,
                ),
                (Table::Shared(ResourceType::Secret), resources.secrets),
                (Table::Shared(ResourceType::Listener), resources.listeners),
                (
                    Table::Shared(ResourceType::RouteConfiguration),
                    resources.routes,
                ),
                (Table::DeltaListeners, resources.delta_listeners),
                (
                    Table::Shared(ResourceType::VirtualHost),
                    resources.virtual_hosts,
                ),
                (
                    Table::Shared(ResourceType::ScopedRouteConfiguration),
                    resources.scopes,
                ),
            ]);
        } else {
            let changes = self.translator.update(&output.dag, &self.snapshot, &delta);
            self.store.patch_tables(patches(changes));
        }
        let elapsed = started.elapsed();
        self.metrics.observe_rebuild(elapsed);
        tracing::info!(
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            full = delta.full,
            virtual_hosts = output.dag.http.len(),
            secure_virtual_hosts = output.dag.https.len(),
            clusters = output.dag.clusters.len(),
            changed_virtual_hosts = delta.http.len() + delta.https.len(),
            changed_clusters = delta.clusters.len(),
            "built configuration"
        );
        if delta.full {
            log_statuses(output, output.status.objects.keys(), true);
            self.metrics.observe_statuses(
                &self.snapshot,
                output,
                output.status.objects.keys(),
                true,
            );
        } else {
            log_statuses(output, delta.status.iter(), false);
            self.metrics
                .observe_statuses(&self.snapshot, output, delta.status.iter(), false);
        }
        self.send_status();
    }

    /// Computes the status updates of the last build against the snapshot and hands them to
    /// the writer.
    fn send_status(&self) {
        let Some(kube) = &self.kube else {
            return;
        };
        if !self.synced || !*kube.leading.borrow() {
            return;
        }
        let addresses: Vec<Address> = sesame_k8s::status::load_balancer(
            &kube.status_addresses,
            &self.snapshot,
            &kube.envoy_service,
        );
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        );
        let Some(build) = &self.incremental else {
            return;
        };
        let controller = (self.build_config.gateway.as_ref()).map(|g| g.controller_name.as_str());
        let updates = sesame_k8s::status::updates(
            &self.snapshot,
            build.output(),
            &addresses,
            &now,
            controller,
        );
        tracing::debug!(updates = updates.len(), "status updates computed");
        kube.status.send_replace(Arc::new(updates));
    }

    fn update_endpoints(&mut self, services: &BTreeSet<NamespacedName>) {
        let upserts = self.translator.service_endpoints(&self.snapshot, services);
        tracing::debug!(
            services = services.len(),
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

/// The store patches of a translation update, in one atomic change.
fn patches(changes: ResourceChanges) -> Vec<(Table, Patch)> {
    vec![
        (Table::Shared(ResourceType::Cluster), changes.clusters),
        (
            Table::Shared(ResourceType::ClusterLoadAssignment),
            changes.endpoints,
        ),
        (Table::Shared(ResourceType::Secret), changes.secrets),
        (Table::Shared(ResourceType::Listener), changes.listeners),
        (
            Table::Shared(ResourceType::RouteConfiguration),
            changes.routes,
        ),
        (Table::DeltaListeners, changes.delta_listeners),
        (
            Table::Shared(ResourceType::VirtualHost),
            changes.virtual_hosts,
        ),
        (
            Table::Shared(ResourceType::ScopedRouteConfiguration),
            changes.scopes,
        ),
    ]
}

/// Logs the status of each object among `keys` (those whose status changed), once. After a
/// full build (`everything`), valid objects are logged only when debugging: a valid object
/// appearing is the normal case.
fn log_statuses<'a>(
    output: &BuildOutput,
    keys: impl Iterator<Item = &'a ObjectKey>,
    everything: bool,
) {
    for key in keys {
        match output.status.objects.get(key) {
            Some(status) => log_status(key, status, everything),
            None => tracing::info!(object = %key, "object no longer considered"),
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

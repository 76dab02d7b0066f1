//! Sesame's Prometheus metrics, served at `/metrics` on the metrics port.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sesame_dag::{BuildOutput, ObjectKey, Snapshot};

mod httpproxy;
mod status_writes;

pub use httpproxy::ProxyGauges;
pub use status_writes::StatusWrites;

/// The labels of `sesame_build_info`, as Contour's `contour_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildInfoLabel {
    /// The branch built, from `SESAME_BUILD_BRANCH` at compile time, else empty.
    pub branch: String,
    /// The commit built, from `SESAME_BUILD_REVISION` at compile time, else empty.
    pub revision: String,
    /// The crate version.
    pub version: String,
}

/// A label naming a kind of object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind.
    pub kind: String,
}

/// A label naming an xDS resource type.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// The type URL's short name, e.g. `Cluster`.
    #[allow(clippy::struct_field_names)]
    pub r#type: String,
}

/// Every metric Sesame exports, shared by the tasks that update them.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    rebuilds: Counter,
    rebuild_seconds: Histogram,
    rebuild_timestamp: Gauge<f64, AtomicU64>,
    endpoint_updates: Counter,
    objects: Family<KindLabel, Gauge>,
    /// NACKs received from Envoys, by type (mirrored from the xDS store on each scrape).
    pub xds_nacks: Family<TypeLabel, Gauge>,
    /// Responses sent to Envoys, by type (mirrored from the xDS store on each scrape).
    pub xds_responses: Family<TypeLabel, Gauge>,
    /// Resources sent to Envoys over all responses, by type (mirrored on each scrape).
    pub xds_resources_sent: Family<TypeLabel, Gauge>,
    /// Open xDS streams.
    pub xds_streams: Gauge,
    /// xDS TLS certificate sets put in force after start (mirrored on each scrape).
    pub xds_tls_reloads: Gauge,
    /// xDS TLS certificate sets refused (mirrored on each scrape).
    pub xds_tls_reload_errors: Gauge,
    /// The reloader's counts, once mutual TLS is on.
    pub tls_reload: Arc<std::sync::OnceLock<Arc<sesame_xds::tls::reload::ReloadStats>>>,
    /// The HTTPProxy gauges.
    proxies: ProxyGauges,
    /// The status writer's counters.
    pub status_writes: StatusWrites,
}

impl Metrics {
    /// Registers every metric under the `sesame_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sesame");
        let build_info = Family::<BuildInfoLabel, Gauge>::default();
        registry.register(
            "build_info",
            "Sesame's version, branch and commit",
            build_info.clone(),
        );
        build_info
            .get_or_create(&BuildInfoLabel {
                branch: option_env!("SESAME_BUILD_BRANCH").unwrap_or("").to_string(),
                revision: option_env!("SESAME_BUILD_REVISION")
                    .unwrap_or("")
                    .to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        let rebuilds = Counter::default();
        registry.register("dagrebuild", "DAG builds", rebuilds.clone());
        let rebuild_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        registry.register(
            "dagrebuild_seconds",
            "Time to build and translate the configuration",
            rebuild_seconds.clone(),
        );
        let rebuild_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "dagrebuild_timestamp",
            "Unix time of the last build",
            rebuild_timestamp.clone(),
        );
        let endpoint_updates = Counter::default();
        registry.register(
            "eds_update",
            "Endpoint-only updates that skipped the DAG build",
            endpoint_updates.clone(),
        );
        let objects = Family::<KindLabel, Gauge>::default();
        registry.register("dag_cache_object", "Objects held, by kind", objects.clone());
        let xds_nacks = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "xds_nack",
            "NACKs received from Envoy, by resource type",
            xds_nacks.clone(),
        );
        let xds_responses = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "xds_responses",
            "xDS responses sent, by resource type",
            xds_responses.clone(),
        );
        let xds_resources_sent = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "xds_resources_sent",
            "Resources sent in xDS responses, by resource type (delta sends only changed ones)",
            xds_resources_sent.clone(),
        );
        let xds_streams = Gauge::default();
        registry.register("xds_streams", "Open xDS streams", xds_streams.clone());
        let xds_tls_reloads = Gauge::default();
        registry.register(
            "xds_tls_reloads",
            "xDS TLS certificate sets put in force after start",
            xds_tls_reloads.clone(),
        );
        let xds_tls_reload_errors = Gauge::default();
        registry.register(
            "xds_tls_reload_errors",
            "xDS TLS certificate sets refused (the last good set stayed in force)",
            xds_tls_reload_errors.clone(),
        );
        let proxies = ProxyGauges::default();
        proxies.register(&mut registry);
        let status_writes = StatusWrites::default();
        status_writes.register(&mut registry);
        Metrics {
            registry: Arc::new(registry),
            rebuilds,
            rebuild_seconds,
            rebuild_timestamp,
            endpoint_updates,
            objects,
            xds_nacks,
            xds_responses,
            xds_resources_sent,
            xds_streams,
            xds_tls_reloads,
            xds_tls_reload_errors,
            tls_reload: Arc::default(),
            proxies,
            status_writes,
        }
    }

    /// Records one build and how long it took.
    pub fn observe_rebuild(&self, elapsed: Duration) {
        self.rebuilds.inc();
        self.rebuild_seconds.observe(elapsed.as_secs_f64());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.rebuild_timestamp.set(now.as_secs_f64());
    }

    /// Brings the HTTPProxy gauges up to date with a build's statuses: all of them after a
    /// full build, else the keys whose status the build changed.
    pub fn observe_statuses<'a>(
        &self,
        snapshot: &Snapshot,
        output: &BuildOutput,
        keys: impl Iterator<Item = &'a ObjectKey>,
        full: bool,
    ) {
        self.proxies.update(snapshot, output, keys, full);
    }

    /// Records one endpoint-only update.
    pub fn observe_endpoint_update(&self) {
        self.endpoint_updates.inc();
    }

    /// Sets the object counts from the snapshot.
    pub fn set_objects(&self, snapshot: &Snapshot) {
        for (kind, n) in [
            ("Ingress", snapshot.ingresses.len()),
            ("Service", snapshot.services.len()),
            ("Secret", snapshot.secrets.len()),
            ("EndpointSlice", snapshot.endpoint_slices.len()),
            ("Endpoints", snapshot.endpoints.len()),
            ("HTTPProxy", snapshot.httpproxies.len()),
            (
                "TLSCertificateDelegation",
                snapshot.tls_certificate_delegations.len(),
            ),
            ("IngressClass", snapshot.ingress_classes.len()),
            ("ExtensionService", snapshot.extension_services.len()),
        ] {
            self.objects
                .get_or_create(&KindLabel {
                    kind: kind.to_string(),
                })
                .set(n as i64);
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Copies the xDS store's counters into the metrics before a scrape.
pub fn mirror_xds(metrics: &Metrics, store: &sesame_xds::SnapshotStore) {
    let stats = store.stats();
    for ty in sesame_envoy::ResourceType::ALL {
        let label = TypeLabel {
            r#type: short_type_name(ty).to_string(),
        };
        metrics
            .xds_nacks
            .get_or_create(&label)
            .set(stats.nacks(ty) as i64);
        metrics
            .xds_responses
            .get_or_create(&label)
            .set(stats.responses_sent(ty) as i64);
        metrics
            .xds_resources_sent
            .get_or_create(&label)
            .set(stats.resources_sent(ty) as i64);
    }
    metrics.xds_streams.set(stats.connected_streams as i64);
    if let Some(tls) = metrics.tls_reload.get() {
        use std::sync::atomic::Ordering::Relaxed;
        metrics
            .xds_tls_reloads
            .set(tls.reloads.load(Relaxed) as i64);
        metrics
            .xds_tls_reload_errors
            .set(tls.errors.load(Relaxed) as i64);
    }
}

/// The short name of a resource type, for labels.
fn short_type_name(ty: sesame_envoy::ResourceType) -> &'static str {
    ty.type_url().rsplit('.').next().unwrap_or("unknown")
}

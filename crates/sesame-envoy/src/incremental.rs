//! Translation that re-encodes only what a build changed.
//!
//! [`Translator::full`] translates a whole DAG, as [`crate::translate`] does, and remembers what
//! later updates need: for every EDS name, how many clusters use it and the Service port it
//! reads, and the EDS name of every cluster. [`Translator::update`] then takes the keys a build
//! changed (a [`BuildDelta`]) and returns only the resources to upsert and remove: a change to one
//! host encodes one virtual host, however many the DAG holds. The same index answers
//! endpoint-only changes ([`Translator::service_endpoints`]) without scanning every cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::google::protobuf::Any;
use sesame_dag::collections::{VecSet, pack};
use sesame_dag::dag::EdsTarget;
use sesame_dag::{BuildDelta, Dag, NamespacedName, Snapshot};

use crate::endpoint::cluster_load_assignment;
use crate::{Resources, TranslateConfig, cluster, listener, proto, route, scope, secret};

#[cfg(test)]
#[path = "incremental/tests.rs"]
mod tests;

/// Resources of one type to insert or replace, and names to remove.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableChanges {
    /// Resources to insert or replace, by name.
    pub upserts: BTreeMap<String, Any>,
    /// Names of resources that no longer exist.
    pub removals: BTreeSet<String>,
}

impl TableChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removals.is_empty()
    }

    /// Records `name` as upserted (`Some`) or removed (`None`).
    fn set(&mut self, name: String, resource: Option<Any>) {
        match resource {
            Some(any) => {
                self.removals.remove(&name);
                self.upserts.insert(name, any);
            }
            None => {
                self.upserts.remove(&name);
                self.removals.insert(name);
            }
        }
    }
}

/// What an update changes, per type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceChanges {
    /// Clusters (CDS).
    pub clusters: TableChanges,
    /// ClusterLoadAssignments (EDS).
    pub endpoints: TableChanges,
    /// TLS secrets (SDS).
    pub secrets: TableChanges,
    /// Listeners (LDS).
    pub listeners: TableChanges,
    /// Route configurations (RDS) as state-of-the-world clients get them.
    pub routes: TableChanges,
    /// VHDS virtual hosts, the per-host form the state-of-the-world `ingress_http` is made of.
    pub virtual_hosts: TableChanges,
    /// The scopes of `ingress_http`, for clients on incremental xDS.
    pub scopes: TableChanges,
    /// The listeners only clients on incremental xDS get (see [`Resources::delta_listeners`]).
    pub delta_listeners: TableChanges,
}

/// Where the endpoints of one EDS name come from, and how many clusters use it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EdsSource {
    service: NamespacedName,
    port_name: String,
    /// The Services of a cluster over several (an ExtensionService's), whose endpoints are
    /// weighted localities; empty for the one Service port above.
    targets: Vec<EdsTarget>,
    /// The clusters of the last DAG fed by this EDS name (nearly always one).
    users: usize,
}

impl EdsSource {
    /// Every Service whose endpoints this EDS name reads.
    fn services(&self) -> impl Iterator<Item = &NamespacedName> {
        std::iter::once(&self.service).chain(self.targets.iter().map(|t| &t.service))
    }
}

/// The translation state kept between builds. An EDS name is stored once and shared by the
/// three indexes; a Service's EDS names (nearly always one) are a [`VecSet`].
#[derive(Clone, Debug)]
pub struct Translator {
    config: TranslateConfig,
    /// The EDS name of each EDS-fed cluster of the last DAG.
    cluster_eds: BTreeMap<String, Arc<str>>,
    /// Every EDS name of the last DAG.
    eds: BTreeMap<Arc<str>, EdsSource>,
    /// The EDS names that read each Service's endpoints, sorted.
    service_eds: BTreeMap<NamespacedName, VecSet<Arc<str>>>,
    /// The RouteConfiguration names of each Gateway listener of the last DAG (an HTTPS one
    /// has one per filter chain), so that an update removes those that went away.
    gateway_routes: BTreeMap<String, BTreeSet<String>>,
}

impl Translator {
    /// A translator with these listener settings and no DAG yet.
    pub fn new(config: TranslateConfig) -> Self {
        Translator {
            config,
            cluster_eds: BTreeMap::new(),
            eds: BTreeMap::new(),
            service_eds: BTreeMap::new(),
            gateway_routes: BTreeMap::new(),
        }
    }

    /// Translates the whole DAG (the same resources as [`crate::translate`], except that
    /// `ingress_http` is left empty: the xDS store makes the table with every host inline from
    /// the virtual hosts, and only when a state-of-the-world client reads it) and its endpoints
    /// (as [`crate::endpoint::endpoints`]), remembering what [`Translator::update`] needs.
    pub fn full(&mut self, dag: &Dag, snapshot: &Snapshot) -> (Resources, BTreeMap<String, Any>) {
        let resources = crate::translate_with(dag, &self.config, false);
        self.gateway_routes = dag
            .gateway_listeners
            .iter()
            .map(|(name, l)| (name.clone(), crate::gateway::route_config_names(l)))
            .collect();
        self.cluster_eds.clear();
        self.eds.clear();
        self.service_eds.clear();
        for name in dag.clusters.keys() {
            self.add_cluster(dag, name);
        }
        // Filled in key order, their nodes are half empty: rebuilt in bulk, they are full.
        pack(&mut self.cluster_eds);
        pack(&mut self.eds);
        pack(&mut self.service_eds);
        let endpoints = self
            .eds
            .iter()
            .map(|(eds_name, source)| {
                (eds_name.to_string(), assignment(eds_name, source, snapshot))
            })
            .collect();
        (resources, endpoints)
    }

    /// Brings the translation from the last DAG to `dag`, given the DAG keys that differ
    /// (`changes`' virtual hosts, clusters, secrets and fallback secret; a key names something
    /// added, changed or removed), and returns only what changed. Applied to the resources of
    /// the last translation, the result equals a full translation of `dag`.
    pub fn update(
        &mut self,
        dag: &Dag,
        snapshot: &Snapshot,
        changes: &BuildDelta,
    ) -> ResourceChanges {
        let mut out = ResourceChanges::default();
        self.update_http(dag, changes, &mut out);
        // The rate limit filter's timeout comes from its cluster, in every listener.
        let rate_limit_changed = (self.config.listener.rate_limit.as_ref())
            .is_some_and(|r| changes.clusters.contains(&r.cluster));
        let tls_changed = !changes.https.is_empty()
            || !changes.passthrough.is_empty()
            || changes.fallback_secret
            || rate_limit_changed;
        if tls_changed {
            self.update_tls(dag, changes, &mut out);
        }
        for name in &changes.secrets {
            let encoded = dag
                .secrets
                .get(name)
                .map(|s| proto::any(&secret::secret(s)));
            out.secrets.set(name.clone(), encoded);
        }
        self.update_clusters(dag, snapshot, changes, &mut out);
        for name in &changes.gateway_listeners {
            let listener = dag.gateway_listeners.get(name);
            out.listeners.set(
                name.clone(),
                listener.map(|l| proto::any(&crate::gateway::listener(l, &self.config))),
            );
            let configs = listener
                .map(crate::gateway::route_configurations_of)
                .unwrap_or_default();
            let before = self.gateway_routes.remove(name).unwrap_or_default();
            for gone in before.into_iter().filter(|n| !configs.contains_key(n)) {
                out.routes.set(gone, None);
            }
            if listener.is_some() {
                self.gateway_routes
                    .insert(name.clone(), configs.keys().cloned().collect());
            }
            for (rc_name, rc) in configs {
                out.routes.set(rc_name, Some(rc));
            }
        }
        out
    }

    /// The ClusterLoadAssignments of the EDS names that read these Services' endpoints, by EDS
    /// name: what an endpoint-only change needs, found through the index, not by a scan.
    pub fn service_endpoints(
        &self,
        snapshot: &Snapshot,
        services: &BTreeSet<NamespacedName>,
    ) -> BTreeMap<String, Any> {
        services
            .iter()
            .filter_map(|service| self.service_eds.get(service))
            .flatten()
            .filter_map(|eds_name| {
                let source = self.eds.get(eds_name)?;
                Some((eds_name.to_string(), assignment(eds_name, source, snapshot)))
            })
            .collect()
    }

    /// The plain-HTTP hosts: their VHDS resources and their scopes (an exact host's own, or
    /// the fallback scope, for a wildcard or `*`). The state-of-the-world `ingress_http` with
    /// every host inline is not sent again: the xDS store makes it from the VHDS resources, and
    /// only when a state-of-the-world client reads it (see `sesame_xds::INLINE_ROUTE_TABLE`),
    /// as [`Translator::full`] gives it.
    fn update_http(&self, dag: &Dag, changes: &BuildDelta, out: &mut ResourceChanges) {
        let mut fallback_changed = false;
        for hostname in &changes.http {
            let vhost = dag.http.get(hostname);
            out.virtual_hosts.set(
                route::vhds_name(hostname),
                vhost.map(route::encoded_virtual_host),
            );
            if scope::is_exact(hostname) {
                out.scopes
                    .set(scope::scope_name(hostname), vhost.map(scope::exact_scope));
            } else {
                fallback_changed = true;
            }
        }
        if fallback_changed {
            out.scopes.set(
                scope::scope_name(scope::FALLBACK_KEY),
                scope::fallback_scope(dag),
            );
        }
    }

    /// The secure hosts: their route configurations, `ingress_fallbackcert`, and the listeners
    /// (`ingress_https` holds a filter chain per secure or passthrough host).
    fn update_tls(&self, dag: &Dag, changes: &BuildDelta, out: &mut ResourceChanges) {
        for hostname in &changes.https {
            let encoded = dag
                .https
                .get(hostname)
                .and_then(route::secure_route_configuration);
            out.routes
                .set(route::https_route_config_name(hostname), encoded);
        }
        out.routes.set(
            route::FALLBACK_ROUTE_CONFIG.to_string(),
            route::fallback_route_configuration(dag),
        );
        let listeners = listener::listeners(dag, &self.config);
        if !listeners.contains_key(listener::HTTPS_LISTENER) {
            out.listeners
                .removals
                .insert(listener::HTTPS_LISTENER.to_string());
        }
        out.listeners.upserts = listeners;
        out.delta_listeners.upserts = listener::delta_listeners(dag, &self.config);
    }

    /// The changed clusters, and the endpoints of EDS names that appear or disappear with them.
    fn update_clusters(
        &mut self,
        dag: &Dag,
        snapshot: &Snapshot,
        changes: &BuildDelta,
        out: &mut ResourceChanges,
    ) {
        let mut touched_eds = BTreeSet::new();
        for name in &changes.clusters {
            touched_eds.extend(self.remove_cluster(name));
            touched_eds.extend(self.add_cluster(dag, name));
            let encoded = dag
                .clusters
                .get(name)
                .map(|c| proto::any(&cluster::cluster(c)));
            out.clusters.set(name.clone(), encoded);
        }
        for eds_name in touched_eds {
            let encoded = self
                .eds
                .get(&eds_name)
                .map(|source| assignment(&eds_name, source, snapshot));
            out.endpoints.set(eds_name.to_string(), encoded);
        }
    }

    /// Forgets a cluster of the last DAG; returns its EDS name, if it had one.
    fn remove_cluster(&mut self, name: &str) -> Option<Arc<str>> {
        let eds_name = self.cluster_eds.remove(name)?;
        if let Some(source) = self.eds.get_mut(&eds_name) {
            source.users -= 1;
            if source.users == 0 {
                let services: Vec<NamespacedName> = source.services().cloned().collect();
                self.eds.remove(&eds_name);
                for service in services {
                    if let Some(names) = self.service_eds.get_mut(&service) {
                        names.remove(&eds_name);
                        if names.is_empty() {
                            self.service_eds.remove(&service);
                        }
                    }
                }
            }
        }
        Some(eds_name)
    }

    /// Indexes a cluster of `dag` fed by EDS; returns its EDS name, if it has one.
    fn add_cluster(&mut self, dag: &Dag, name: &str) -> Option<Arc<str>> {
        let cluster = dag.clusters.get(name)?;
        // An ExternalName Service has no endpoints: its cluster resolves its name itself.
        if cluster.external_name.is_some() {
            return None;
        }
        let known = self.eds.get_key_value(cluster.eds_name.as_str());
        let (eds_name, source) = match known.map(|(shared, _)| Arc::clone(shared)) {
            Some(eds_name) => {
                let source = self.eds.get_mut(&eds_name)?;
                (eds_name, source)
            }
            None => {
                let eds_name: Arc<str> = cluster.eds_name.as_str().into();
                let source = EdsSource {
                    service: cluster.service.clone(),
                    port_name: cluster.port_name.clone(),
                    targets: cluster.targets.clone(),
                    users: 0,
                };
                for service in source.services() {
                    let names = self.service_eds.entry(service.clone()).or_default();
                    names.insert(Arc::clone(&eds_name));
                }
                let source = self.eds.entry(Arc::clone(&eds_name)).or_insert(source);
                (eds_name, source)
            }
        };
        source.users += 1;
        self.cluster_eds
            .insert(name.to_string(), Arc::clone(&eds_name));
        Some(eds_name)
    }
}

/// The ClusterLoadAssignment of one EDS name, from the snapshot's endpoints.
fn assignment(eds_name: &str, source: &EdsSource, snapshot: &Snapshot) -> Any {
    if !source.targets.is_empty() {
        return crate::endpoint::targets_load_assignment(eds_name, &source.targets, snapshot);
    }
    let endpoints =
        sesame_dag::endpoints::cluster_endpoints(snapshot, &source.service, &source.port_name);
    cluster_load_assignment(eds_name, &endpoints)
}

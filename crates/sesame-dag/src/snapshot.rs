//! The set of objects a build reads, and the changes sources send to it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sesame_api::{ExtensionService, HTTPProxy, TLSCertificateDelegation};
use sesame_gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ListenerSet, ReferenceGrant,
    TcpRoute, TlsRoute,
};

use crate::collections::{VecSet, pack};
use crate::dag::Dag;
use crate::object::compact::{EndpointSlice, Endpoints, Ingress, Service};
use crate::object::{Kind, NamespacedName, Object, ObjectKey};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One change from a source: the same shape whether it came from a watch or a file.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The object was added or modified.
    Apply(Object),
    /// The object is gone.
    Delete(ObjectKey),
}

impl Change {
    /// The key of the object this change is about.
    pub fn key(&self) -> ObjectKey {
        match self {
            Change::Apply(o) => o.key(),
            Change::Delete(k) => k.clone(),
        }
    }
}

/// What a change means for the served configuration, given the last DAG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Impact {
    /// Nothing served depends on it: no work at all.
    None,
    /// Only the endpoints of these Services changed: refresh EDS, skip the DAG build.
    Endpoints(BTreeSet<NamespacedName>),
    /// The DAG must be built again.
    Rebuild,
}

/// What an applied change touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touched {
    /// An object the build reads directly (Ingress, HTTPProxy, Service, Secret, ...).
    Object(ObjectKey),
    /// The endpoints of these Services (an EndpointSlice may move between two).
    Endpoints(BTreeSet<NamespacedName>),
}

impl Touched {
    /// What this touch means for a configuration built into `dag`.
    pub fn impact(&self, dag: &Dag) -> Impact {
        match self {
            Touched::Object(key) => match key.kind {
                Kind::Service | Kind::Secret | Kind::ConfigMap if !dag.references.contains(key) => {
                    Impact::None
                }
                Kind::Ingress
                | Kind::Service
                | Kind::Secret
                | Kind::EndpointSlice
                | Kind::Endpoints
                | Kind::HTTPProxy
                | Kind::TLSCertificateDelegation
                | Kind::IngressClass
                | Kind::GatewayClass
                | Kind::Gateway
                | Kind::HTTPRoute
                | Kind::ReferenceGrant
                | Kind::GRPCRoute
                | Kind::TLSRoute
                | Kind::TCPRoute
                | Kind::BackendTLSPolicy
                | Kind::ListenerSet
                | Kind::Namespace
                | Kind::ConfigMap => Impact::Rebuild,
                Kind::ExtensionService => Impact::Rebuild,
            },
            Touched::Endpoints(services) => {
                let used: BTreeSet<NamespacedName> = services
                    .iter()
                    .filter(|s| {
                        dag.references
                            .contains(&ObjectKey::new(Kind::Service, (*s).clone()))
                    })
                    .cloned()
                    .collect();
                if used.is_empty() {
                    Impact::None
                } else {
                    Impact::Endpoints(used)
                }
            }
        }
    }
}

/// Every object the build may read, keyed by namespace and name and kept in sorted maps so that
/// a build never depends on the order changes arrived in.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Ingresses.
    pub ingresses: BTreeMap<NamespacedName, Arc<Ingress>>,
    /// Services.
    pub services: BTreeMap<NamespacedName, Arc<Service>>,
    /// Secrets.
    pub secrets: BTreeMap<NamespacedName, Arc<Secret>>,
    /// EndpointSlices, by their own name.
    pub endpoint_slices: BTreeMap<NamespacedName, Arc<EndpointSlice>>,
    /// Endpoints, by their Service's name.
    pub endpoints: BTreeMap<NamespacedName, Arc<Endpoints>>,
    /// HTTPProxies.
    pub httpproxies: BTreeMap<NamespacedName, Arc<HTTPProxy>>,
    /// TLSCertificateDelegations.
    pub tls_certificate_delegations: BTreeMap<NamespacedName, Arc<TLSCertificateDelegation>>,
    /// IngressClasses, by name (their namespace is empty).
    pub ingress_classes: BTreeMap<NamespacedName, Arc<IngressClass>>,
    /// GatewayClasses, by name (their namespace is empty).
    pub gateway_classes: BTreeMap<NamespacedName, Arc<GatewayClass>>,
    /// Gateways.
    pub gateways: BTreeMap<NamespacedName, Arc<Gateway>>,
    /// HTTPRoutes.
    pub http_routes: BTreeMap<NamespacedName, Arc<HttpRoute>>,
    /// ReferenceGrants.
    pub reference_grants: BTreeMap<NamespacedName, Arc<ReferenceGrant>>,
    /// ExtensionServices.
    pub extension_services: BTreeMap<NamespacedName, Arc<ExtensionService>>,
    /// GRPCRoutes.
    pub grpc_routes: BTreeMap<NamespacedName, Arc<GrpcRoute>>,
    /// TLSRoutes.
    pub tls_routes: BTreeMap<NamespacedName, Arc<TlsRoute>>,
    /// TCPRoutes.
    pub tcp_routes: BTreeMap<NamespacedName, Arc<TcpRoute>>,
    /// BackendTLSPolicies.
    pub backend_tls_policies: BTreeMap<NamespacedName, Arc<BackendTlsPolicy>>,
    /// ListenerSets.
    pub listener_sets: BTreeMap<NamespacedName, Arc<ListenerSet>>,
    /// Namespaces, by name (their namespace is empty): read for the labels that Gateway
    /// listeners' `allowedRoutes` select on.
    pub namespaces: BTreeMap<NamespacedName, Arc<Namespace>>,
    /// ConfigMaps, each holding its `ca.crt` only: the CA bundles that BackendTLSPolicies and
    /// Gateways' client certificate validation refer to.
    pub config_maps: BTreeMap<NamespacedName, Arc<ConfigMap>>,
    /// The EndpointSlices of each Service, by the slice's `kubernetes.io/service-name` label
    /// (a Service has few slices: a [`VecSet`]).
    slices_by_service: BTreeMap<NamespacedName, VecSet<NamespacedName>>,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds every map from its sorted entries, with full B-tree nodes: a snapshot filled
    /// one object at a time keeps its nodes about half full (a source's initial load mostly
    /// comes in key order). Worth calling once that load is applied.
    pub fn pack(&mut self) {
        pack(&mut self.ingresses);
        pack(&mut self.services);
        pack(&mut self.secrets);
        pack(&mut self.endpoint_slices);
        pack(&mut self.endpoints);
        pack(&mut self.httpproxies);
        pack(&mut self.tls_certificate_delegations);
        pack(&mut self.ingress_classes);
        pack(&mut self.gateway_classes);
        pack(&mut self.gateways);
        pack(&mut self.http_routes);
        pack(&mut self.reference_grants);
        pack(&mut self.extension_services);
        pack(&mut self.grpc_routes);
        pack(&mut self.tls_routes);
        pack(&mut self.tcp_routes);
        pack(&mut self.backend_tls_policies);
        pack(&mut self.listener_sets);
        pack(&mut self.namespaces);
        pack(&mut self.config_maps);
        pack(&mut self.slices_by_service);
    }

    /// Applies a change and says what it touched. Returns `None` when the snapshot already held
    /// exactly this state (a re-sent object, or a delete of something absent), so callers can
    /// skip all work.
    pub fn apply(&mut self, change: Change) -> Option<Touched> {
        let key = change.key();
        let mut services = BTreeSet::new();
        match key.kind {
            Kind::EndpointSlice => {
                if let Some(old) = self.endpoint_slices.get(&key.name) {
                    services.insert(slice_service(old));
                }
                if let Change::Apply(Object::EndpointSlice(new)) = &change {
                    services.insert(slice_service(new));
                }
            }
            Kind::Endpoints => {
                services.insert(key.name.clone());
            }
            _ => {}
        }
        let changed = match change {
            Change::Apply(object) => self.insert(object),
            Change::Delete(key) => self.remove(&key),
        };
        match (changed, key.kind) {
            (false, _) => None,
            (true, Kind::EndpointSlice | Kind::Endpoints) => Some(Touched::Endpoints(services)),
            (true, _) => Some(Touched::Object(key)),
        }
    }

    fn insert(&mut self, object: Object) -> bool {
        let key = object.key().name;
        match object {
            Object::Ingress(o) => upsert_by(&mut self.ingresses, key, o, |a, b| {
                a.spec == b.spec && a.metadata == b.metadata
            }),
            Object::Service(o) => upsert(&mut self.services, key, o),
            Object::Secret(o) => upsert(&mut self.secrets, key, o),
            Object::Endpoints(o) => upsert(&mut self.endpoints, key, o),
            Object::HTTPProxy(o) => upsert_by(&mut self.httpproxies, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::TLSCertificateDelegation(o) => {
                upsert_by(&mut self.tls_certificate_delegations, key, o, |a, b| {
                    a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
                })
            }
            Object::IngressClass(o) => upsert(&mut self.ingress_classes, key, o),
            Object::GatewayClass(o) => upsert_by(&mut self.gateway_classes, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::Gateway(o) => upsert_by(&mut self.gateways, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::HTTPRoute(o) => upsert_by(&mut self.http_routes, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::ReferenceGrant(o) => upsert(&mut self.reference_grants, key, o),
            Object::GRPCRoute(o) => upsert_by(&mut self.grpc_routes, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::TLSRoute(o) => upsert_by(&mut self.tls_routes, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::TCPRoute(o) => upsert_by(&mut self.tcp_routes, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::BackendTLSPolicy(o) => {
                upsert_by(&mut self.backend_tls_policies, key, o, |a, b| {
                    a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
                })
            }
            Object::ListenerSet(o) => upsert_by(&mut self.listener_sets, key, o, |a, b| {
                a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
            }),
            Object::Namespace(o) => upsert_by(&mut self.namespaces, key, o, |a, b| {
                a.metadata.labels == b.metadata.labels
            }),
            Object::ConfigMap(o) => upsert_by(&mut self.config_maps, key, o, |a, b| {
                a.data == b.data && a.binary_data == b.binary_data
            }),
            Object::ExtensionService(o) => {
                upsert_by(&mut self.extension_services, key, o, |a, b| {
                    a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
                })
            }
            Object::EndpointSlice(o) => {
                let service = slice_service(&o);
                if let Some(old) = self.endpoint_slices.get(&key) {
                    let old_service = slice_service(old);
                    if old_service != service {
                        self.unlink_slice(&old_service, &key);
                    }
                }
                (self.slices_by_service.entry(service).or_default()).insert(key.clone());
                upsert(&mut self.endpoint_slices, key, o)
            }
        }
    }

    fn remove(&mut self, key: &ObjectKey) -> bool {
        let name = &key.name;
        match key.kind {
            Kind::Ingress => self.ingresses.remove(name).is_some(),
            Kind::Service => self.services.remove(name).is_some(),
            Kind::Secret => self.secrets.remove(name).is_some(),
            Kind::Endpoints => self.endpoints.remove(name).is_some(),
            Kind::HTTPProxy => self.httpproxies.remove(name).is_some(),
            Kind::TLSCertificateDelegation => {
                self.tls_certificate_delegations.remove(name).is_some()
            }
            Kind::IngressClass => self.ingress_classes.remove(name).is_some(),
            Kind::GatewayClass => self.gateway_classes.remove(name).is_some(),
            Kind::Gateway => self.gateways.remove(name).is_some(),
            Kind::HTTPRoute => self.http_routes.remove(name).is_some(),
            Kind::ReferenceGrant => self.reference_grants.remove(name).is_some(),
            Kind::ExtensionService => self.extension_services.remove(name).is_some(),
            Kind::GRPCRoute => self.grpc_routes.remove(name).is_some(),
            Kind::TLSRoute => self.tls_routes.remove(name).is_some(),
            Kind::TCPRoute => self.tcp_routes.remove(name).is_some(),
            Kind::BackendTLSPolicy => self.backend_tls_policies.remove(name).is_some(),
            Kind::ListenerSet => self.listener_sets.remove(name).is_some(),
            Kind::Namespace => self.namespaces.remove(name).is_some(),
            Kind::ConfigMap => self.config_maps.remove(name).is_some(),
            Kind::EndpointSlice => match self.endpoint_slices.remove(name) {
                Some(old) => {
                    self.unlink_slice(&slice_service(&old), name);
                    true
                }
                None => false,
            },
        }
    }

    fn unlink_slice(&mut self, service: &NamespacedName, slice: &NamespacedName) {
        if let Some(set) = self.slices_by_service.get_mut(service) {
            set.remove(slice);
            if set.is_empty() {
                self.slices_by_service.remove(service);
            }
        }
    }

    /// The EndpointSlices that belong to a Service, in name order.
    pub fn slices_of(&self, service: &NamespacedName) -> impl Iterator<Item = &EndpointSlice> {
        self.slices_by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|name| self.endpoint_slices.get(name).map(Arc::as_ref))
    }
}

/// The Service an EndpointSlice belongs to (its namespace and `kubernetes.io/service-name`).
pub fn slice_service(slice: &EndpointSlice) -> NamespacedName {
    let own = slice.metadata.key();
    NamespacedName::new(own.namespace, slice.service_name.as_str())
}

fn upsert<T: PartialEq>(
    map: &mut BTreeMap<NamespacedName, Arc<T>>,
    key: NamespacedName,
    value: Arc<T>,
) -> bool {
    match map.get(&key) {
        Some(old) if Arc::ptr_eq(old, &value) || **old == *value => false,
        _ => {
            map.insert(key, value);
            true
        }
    }
}

/// Like [`upsert`] for objects that carry a status: a new version that differs from the stored
/// one only in what the build never reads (its status, resourceVersion, managed fields) is
/// stored, so status comparisons see it, but reported as no change, so that Sesame's own
/// status writes do not rebuild anything.
fn upsert_by<T: PartialEq>(
    map: &mut BTreeMap<NamespacedName, Arc<T>>,
    key: NamespacedName,
    value: Arc<T>,
    same_for_build: impl Fn(&T, &T) -> bool,
) -> bool {
    match map.get(&key) {
        Some(old) if Arc::ptr_eq(old, &value) || **old == *value => false,
        Some(old) if same_for_build(old, &value) => {
            map.insert(key, value);
            false
        }
        _ => {
            map.insert(key, value);
            true
        }
    }
}

/// Whether two versions of an object's metadata agree on everything a build reads.
fn same_meta(a: &ObjectMeta, b: &ObjectMeta) -> bool {
    a.name == b.name
        && a.namespace == b.namespace
        && a.generation == b.generation
        && a.labels == b.labels
        && a.annotations == b.annotations
}

#[cfg(test)]
mod tests;

//! The Kubernetes objects Sesame understands, and how they are named.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::networking::v1::IngressClass;
use serde::Serialize;
use sesame_api::{ExtensionService, HTTPProxy, TLSCertificateDelegation};
use sesame_gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ListenerSet, ReferenceGrant,
    TcpRoute, TlsRoute,
};

pub mod compact;

/// The kinds of object Sesame reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `v1` Service.
    Service,
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice,
    /// `v1` Endpoints.
    Endpoints,
    /// `v1` Secret.
    Secret,
    /// `projectsesame.io/v1` HTTPProxy.
    HTTPProxy,
    /// `projectsesame.io/v1` TLSCertificateDelegation.
    TLSCertificateDelegation,
    /// `networking.k8s.io/v1` IngressClass (cluster-scoped: its namespace is empty).
    IngressClass,
    /// `gateway.networking.k8s.io/v1` GatewayClass (cluster-scoped: its namespace is empty).
    GatewayClass,
    /// `gateway.networking.k8s.io/v1` Gateway.
    Gateway,
    /// `gateway.networking.k8s.io/v1` HTTPRoute.
    HTTPRoute,
    /// `gateway.networking.k8s.io/v1` (or `v1beta1`) ReferenceGrant.
    ReferenceGrant,
    /// `projectsesame.io/v1alpha1` ExtensionService.
    ExtensionService,
    /// `gateway.networking.k8s.io/v1` GRPCRoute.
    GRPCRoute,
    /// `gateway.networking.k8s.io/v1` TLSRoute.
    TLSRoute,
    /// `gateway.networking.k8s.io/v1` TCPRoute.
    TCPRoute,
    /// `gateway.networking.k8s.io/v1` BackendTLSPolicy.
    BackendTLSPolicy,
    /// `gateway.networking.k8s.io/v1` ListenerSet.
    ListenerSet,
    /// `v1` Namespace (cluster-scoped: its namespace is empty), read for its labels.
    Namespace,
    /// `v1` ConfigMap, read for the CA bundle (`ca.crt`) that Gateway API objects refer to.
    ConfigMap,
}

impl Kind {
    /// The Kubernetes `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ingress => "Ingress",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Endpoints => "Endpoints",
            Kind::Secret => "Secret",
            Kind::HTTPProxy => "HTTPProxy",
            Kind::TLSCertificateDelegation => "TLSCertificateDelegation",
            Kind::IngressClass => "IngressClass",
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::HTTPRoute => "HTTPRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::ExtensionService => "ExtensionService",
            Kind::GRPCRoute => "GRPCRoute",
            Kind::TLSRoute => "TLSRoute",
            Kind::TCPRoute => "TCPRoute",
            Kind::BackendTLSPolicy => "BackendTLSPolicy",
            Kind::ListenerSet => "ListenerSet",
            Kind::Namespace => "Namespace",
            Kind::ConfigMap => "ConfigMap",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A namespace and a name. Both are shared strings: the many keys that name one object (in
/// the snapshot, the build's indexes, statuses, references) hold one copy of each.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NamespacedName {
    /// The namespace (`default` when the object did not say).
    pub namespace: Arc<str>,
    /// The name.
    pub name: Arc<str>,
}

impl NamespacedName {
    /// A name in a namespace.
    pub fn new(namespace: impl AsRef<str>, name: impl Into<Arc<str>>) -> Self {
        NamespacedName {
            namespace: interned_namespace(namespace.as_ref()),
            name: name.into(),
        }
    }

    /// The namespace and name of an object's metadata (`default` when the namespace is unset).
    pub fn of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Self {
        Self::named(meta.namespace.as_deref(), meta.name.as_deref())
    }

    /// The name of an object from its metadata's `namespace` (`default` when unset) and
    /// `name`.
    pub fn named(namespace: Option<&str>, name: Option<&str>) -> Self {
        NamespacedName {
            namespace: interned_namespace(namespace.unwrap_or("default")),
            name: name.unwrap_or_default().into(),
        }
    }
}

/// The one shared copy of a namespace's name. A cluster has few namespaces and every key
/// names one, so keys made apart (by a source, by the build's lookups and references) share
/// it instead of each allocating its own. Names seen once stay: a namespace costs its name.
fn interned_namespace(namespace: &str) -> Arc<str> {
    static NAMESPACES: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(Mutex::default);
    let mut namespaces = NAMESPACES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = namespaces.get(namespace) {
        return shared.clone();
    }
    let shared: Arc<str> = namespace.into();
    namespaces.insert(shared.clone());
    shared
}

impl fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A kind and a namespaced name: what identifies one object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// The object's kind.
    pub kind: Kind,
    /// The object's namespace and name.
    #[serde(flatten)]
    pub name: NamespacedName,
}

impl ObjectKey {
    /// The key of a kind and a namespaced name.
    pub fn new(kind: Kind, name: NamespacedName) -> Self {
        ObjectKey { kind, name }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One object as a source delivers it. Objects are shared, never copied, once decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    /// An Ingress.
    Ingress(Arc<compact::Ingress>),
    /// A Service, as much of it as Sesame reads.
    Service(Arc<compact::Service>),
    /// An EndpointSlice, as much of it as Sesame reads.
    EndpointSlice(Arc<compact::EndpointSlice>),
    /// An Endpoints, as much of it as Sesame reads.
    Endpoints(Arc<compact::Endpoints>),
    /// A Secret.
    Secret(Arc<Secret>),
    /// An HTTPProxy.
    HTTPProxy(Arc<HTTPProxy>),
    /// A TLSCertificateDelegation.
    TLSCertificateDelegation(Arc<TLSCertificateDelegation>),
    /// An IngressClass.
    IngressClass(Arc<IngressClass>),
    /// A GatewayClass.
    GatewayClass(Arc<GatewayClass>),
    /// A Gateway.
    Gateway(Arc<Gateway>),
    /// An HTTPRoute.
    HTTPRoute(Arc<HttpRoute>),
    /// A ReferenceGrant.
    ReferenceGrant(Arc<ReferenceGrant>),
    /// An ExtensionService.
    ExtensionService(Arc<ExtensionService>),
    /// A GRPCRoute.
    GRPCRoute(Arc<GrpcRoute>),
    /// A TLSRoute.
    TLSRoute(Arc<TlsRoute>),
    /// A TCPRoute.
    TCPRoute(Arc<TcpRoute>),
    /// A BackendTLSPolicy.
    BackendTLSPolicy(Arc<BackendTlsPolicy>),
    /// A ListenerSet.
    ListenerSet(Arc<ListenerSet>),
    /// A Namespace: its metadata only (name and labels).
    Namespace(Arc<Namespace>),
    /// A ConfigMap: its name and its `ca.crt` only.
    ConfigMap(Arc<ConfigMap>),
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Ingress(_) => Kind::Ingress,
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Endpoints(_) => Kind::Endpoints,
            Object::Secret(_) => Kind::Secret,
            Object::HTTPProxy(_) => Kind::HTTPProxy,
            Object::TLSCertificateDelegation(_) => Kind::TLSCertificateDelegation,
            Object::IngressClass(_) => Kind::IngressClass,
            Object::GatewayClass(_) => Kind::GatewayClass,
            Object::Gateway(_) => Kind::Gateway,
            Object::HTTPRoute(_) => Kind::HTTPRoute,
            Object::ReferenceGrant(_) => Kind::ReferenceGrant,
            Object::ExtensionService(_) => Kind::ExtensionService,
            Object::GRPCRoute(_) => Kind::GRPCRoute,
            Object::TLSRoute(_) => Kind::TLSRoute,
            Object::TCPRoute(_) => Kind::TCPRoute,
            Object::BackendTLSPolicy(_) => Kind::BackendTLSPolicy,
            Object::ListenerSet(_) => Kind::ListenerSet,
            Object::Namespace(_) => Kind::Namespace,
            Object::ConfigMap(_) => Kind::ConfigMap,
        }
    }

    /// The object's key (a cluster-scoped IngressClass, GatewayClass or Namespace has an empty
    /// namespace).
    pub fn key(&self) -> ObjectKey {
        let name = match self {
            Object::IngressClass(o) => {
                NamespacedName::new("", o.metadata.name.clone().unwrap_or_default())
            }
            Object::GatewayClass(o) => {
                NamespacedName::new("", o.metadata.name.clone().unwrap_or_default())
            }
            Object::Namespace(o) => {
                NamespacedName::new("", o.metadata.name.clone().unwrap_or_default())
            }
            Object::Ingress(o) => o.metadata.key(),
            Object::Service(o) => o.metadata.key(),
            Object::EndpointSlice(o) => o.metadata.key(),
            Object::Endpoints(o) => o.metadata.key(),
            Object::Secret(o) => NamespacedName::of(&o.metadata),
            Object::HTTPProxy(o) => NamespacedName::of(&o.metadata),
            Object::TLSCertificateDelegation(o) => NamespacedName::of(&o.metadata),
            Object::ExtensionService(o) => NamespacedName::of(&o.metadata),
            Object::Gateway(o) => NamespacedName::of(&o.metadata),
            Object::HTTPRoute(o) => NamespacedName::of(&o.metadata),
            Object::ReferenceGrant(o) => NamespacedName::of(&o.metadata),
            Object::GRPCRoute(o) => NamespacedName::of(&o.metadata),
            Object::TLSRoute(o) => NamespacedName::of(&o.metadata),
            Object::TCPRoute(o) => NamespacedName::of(&o.metadata),
            Object::BackendTLSPolicy(o) => NamespacedName::of(&o.metadata),
            Object::ListenerSet(o) => NamespacedName::of(&o.metadata),
            Object::ConfigMap(o) => NamespacedName::of(&o.metadata),
        };
        ObjectKey::new(self.kind(), name)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::NamespacedName;

    #[test]
    fn keys_made_apart_share_one_copy_of_their_namespace() {
        let a = NamespacedName::new(String::from("shop"), "a");
        let b = NamespacedName::named(Some("shop"), Some("b"));
        let c = NamespacedName::new(Arc::<str>::from("shop"), "c");
        assert!(Arc::ptr_eq(&a.namespace, &b.namespace));
        assert!(Arc::ptr_eq(&a.namespace, &c.namespace));
        let other = NamespacedName::named(None, Some("a"));
        assert_eq!(&*other.namespace, "default");
        assert_ne!(a, other);
    }
}

//! The table of resource kinds the double serves: group, version, kind, plural, scope and
//! whether the kind has a `/status` subresource.

#[cfg(test)]
mod tests;

/// A resource kind the double knows; everything else is a 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// core/v1 Service.
    Service,
    /// core/v1 Secret.
    Secret,
    /// core/v1 Endpoints.
    Endpoints,
    /// core/v1 Namespace (cluster-scoped).
    Namespace,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 Event.
    Event,
    /// events.k8s.io/v1 Event (what kube-runtime's event recorder writes).
    EventsV1Event,
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// networking.k8s.io/v1 IngressClass (cluster-scoped).
    IngressClass,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlice,
    /// coordination.k8s.io/v1 Lease.
    Lease,
    /// projectsesame.io/v1 HTTPProxy.
    HttpProxy,
    /// projectsesame.io/v1 TLSCertificateDelegation.
    TlsCertificateDelegation,
    /// projectsesame.io/v1alpha1 ExtensionService.
    ExtensionService,
    /// gateway.networking.k8s.io/v1 GatewayClass (cluster-scoped).
    GatewayClass,
    /// gateway.networking.k8s.io/v1 Gateway.
    Gateway,
    /// gateway.networking.k8s.io/v1 HTTPRoute.
    HttpRoute,
    /// gateway.networking.k8s.io/v1 GRPCRoute.
    GrpcRoute,
    /// gateway.networking.k8s.io/v1 TLSRoute.
    TlsRoute,
    /// gateway.networking.k8s.io/v1 TCPRoute.
    TcpRoute,
    /// gateway.networking.k8s.io/v1 BackendTLSPolicy.
    BackendTlsPolicy,
    /// gateway.networking.k8s.io/v1 ListenerSet.
    ListenerSet,
    /// gateway.networking.k8s.io/v1 ReferenceGrant.
    ReferenceGrant,
}

/// The static description of one [`Resource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `Service`.
    pub kind: &'static str,
    /// Lower-case plural used in URLs, e.g. `services`.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the kind has a `/status` subresource (then writes to the main resource keep the
    /// stored `status`, and only `/status` writes change it).
    pub status_subresource: bool,
}

/// The API group of the Gateway API kinds.
const GATEWAY: &str = "gateway.networking.k8s.io";

const fn d(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    status_subresource: bool,
) -> Descriptor {
    Descriptor {
        group,
        version: "v1",
        kind,
        plural,
        namespaced,
        status_subresource,
    }
}

impl Resource {
    /// Every kind the double serves.
    pub const ALL: [Resource; 23] = [
        Resource::Service,
        Resource::Secret,
        Resource::Endpoints,
        Resource::Namespace,
        Resource::ConfigMap,
        Resource::Event,
        Resource::EventsV1Event,
        Resource::Ingress,
        Resource::IngressClass,
        Resource::EndpointSlice,
        Resource::Lease,
        Resource::HttpProxy,
        Resource::TlsCertificateDelegation,
        Resource::ExtensionService,
        Resource::GatewayClass,
        Resource::Gateway,
        Resource::HttpRoute,
        Resource::GrpcRoute,
        Resource::TlsRoute,
        Resource::TcpRoute,
        Resource::BackendTlsPolicy,
        Resource::ListenerSet,
        Resource::ReferenceGrant,
    ];

    /// The Gateway API kinds (the CRDs of `examples/gateway/`), for starting the double
    /// without them ([`crate::ApiServer::without`]).
    pub const GATEWAY_API: [Resource; 9] = [
        Resource::GatewayClass,
        Resource::Gateway,
        Resource::HttpRoute,
        Resource::GrpcRoute,
        Resource::TlsRoute,
        Resource::TcpRoute,
        Resource::BackendTlsPolicy,
        Resource::ListenerSet,
        Resource::ReferenceGrant,
    ];

    /// The static description of this kind.
    pub const fn descriptor(self) -> Descriptor {
        match self {
            Resource::Service => d("", "Service", "services", true, true),
            Resource::Secret => d("", "Secret", "secrets", true, false),
            Resource::Endpoints => d("", "Endpoints", "endpoints", true, false),
            Resource::Namespace => d("", "Namespace", "namespaces", false, false),
            Resource::ConfigMap => d("", "ConfigMap", "configmaps", true, false),
            Resource::Event => d("", "Event", "events", true, false),
            Resource::EventsV1Event => d("events.k8s.io", "Event", "events", true, false),
            Resource::Ingress => d("networking.k8s.io", "Ingress", "ingresses", true, true),
            Resource::IngressClass => d(
                "networking.k8s.io",
                "IngressClass",
                "ingressclasses",
                false,
                false,
            ),
            Resource::EndpointSlice => d(
                "discovery.k8s.io",
                "EndpointSlice",
                "endpointslices",
                true,
                false,
            ),
            Resource::Lease => d("coordination.k8s.io", "Lease", "leases", true, false),
            Resource::HttpProxy => d("projectsesame.io", "HTTPProxy", "httpproxies", true, true),
            Resource::TlsCertificateDelegation => d(
                "projectsesame.io",
                "TLSCertificateDelegation",
                "tlscertificatedelegations",
                true,
                true,
            ),
            Resource::ExtensionService => Descriptor {
                version: "v1alpha1",
                ..d(
                    "projectsesame.io",
                    "ExtensionService",
                    "extensionservices",
                    true,
                    true,
                )
            },
            Resource::GatewayClass => d(GATEWAY, "GatewayClass", "gatewayclasses", false, true),
            Resource::Gateway => d(GATEWAY, "Gateway", "gateways", true, true),
            Resource::HttpRoute => d(GATEWAY, "HTTPRoute", "httproutes", true, true),
            Resource::GrpcRoute => d(GATEWAY, "GRPCRoute", "grpcroutes", true, true),
            Resource::TlsRoute => d(GATEWAY, "TLSRoute", "tlsroutes", true, true),
            Resource::TcpRoute => d(GATEWAY, "TCPRoute", "tcproutes", true, true),
            Resource::BackendTlsPolicy => d(
                GATEWAY,
                "BackendTLSPolicy",
                "backendtlspolicies",
                true,
                true,
            ),
            Resource::ListenerSet => d(GATEWAY, "ListenerSet", "listenersets", true, true),
            Resource::ReferenceGrant => {
                d(GATEWAY, "ReferenceGrant", "referencegrants", true, false)
            }
        }
    }

    /// `apiVersion` as written in objects: `v1` for core, `group/version` otherwise.
    pub fn api_version(self) -> String {
        let d = self.descriptor();
        if d.group.is_empty() {
            d.version.to_owned()
        } else {
            format!("{}/{}", d.group, d.version)
        }
    }

    /// The kind for an `apiVersion` + `kind` pair, if served.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.descriptor().kind == kind && r.api_version() == api_version)
    }

    /// The kind for a URL's group, version and plural, if served.
    pub fn from_path(group: &str, version: &str, plural: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| {
            let d = r.descriptor();
            d.group == group && d.version == version && d.plural == plural
        })
    }

    /// The plural qualified by the group, as the API server writes it in messages
    /// (`services`, `ingresses.networking.k8s.io`).
    pub fn qualified_plural(self) -> String {
        let d = self.descriptor();
        if d.group.is_empty() {
            d.plural.to_owned()
        } else {
            format!("{}.{}", d.plural, d.group)
        }
    }
}

//! The API resource of every kind whose status Sesame writes: one row per kind, used to build
//! the writer's requests.

use kube::api::ApiResource;
use sesame_dag::Kind;

/// Where the objects of one kind live in the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiKind {
    /// The API group.
    pub group: &'static str,
    /// The version Sesame writes.
    pub version: &'static str,
    /// The kind, as in `kind:`.
    pub kind: &'static str,
    /// The plural of its URLs.
    pub plural: &'static str,
    /// Whether its objects live in a namespace.
    pub namespaced: bool,
}

impl ApiKind {
    /// As kube's dynamic API wants it.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: format!("{}/{}", self.group, self.version),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

const fn row(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> ApiKind {
    ApiKind {
        group,
        version,
        kind,
        plural,
        namespaced,
    }
}

/// The Gateway API group.
const GATEWAY: &str = sesame_gateway_api::GROUP;

/// The API resource of a kind whose status Sesame writes; `None` for the others.
pub fn api_kind(kind: Kind) -> Option<ApiKind> {
    let sesame = "projectsesame.io";
    Some(match kind {
        Kind::HTTPProxy => row(sesame, "v1", "HTTPProxy", "httpproxies", true),
        Kind::TLSCertificateDelegation => row(
            sesame,
            "v1",
            "TLSCertificateDelegation",
            "tlscertificatedelegations",
            true,
        ),
        Kind::ExtensionService => row(
            sesame,
            "v1alpha1",
            "ExtensionService",
            "extensionservices",
            true,
        ),
        Kind::Ingress => row("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        Kind::GatewayClass => row(GATEWAY, "v1", "GatewayClass", "gatewayclasses", false),
        Kind::Gateway => row(GATEWAY, "v1", "Gateway", "gateways", true),
        Kind::HTTPRoute => row(GATEWAY, "v1", "HTTPRoute", "httproutes", true),
        Kind::GRPCRoute => row(GATEWAY, "v1", "GRPCRoute", "grpcroutes", true),
        Kind::TLSRoute => row(GATEWAY, "v1", "TLSRoute", "tlsroutes", true),
        Kind::TCPRoute => row(GATEWAY, "v1", "TCPRoute", "tcproutes", true),
        Kind::ListenerSet => row(GATEWAY, "v1", "ListenerSet", "listenersets", true),
        Kind::BackendTLSPolicy => row(
            GATEWAY,
            "v1",
            "BackendTLSPolicy",
            "backendtlspolicies",
            true,
        ),
        _ => return None,
    })
}

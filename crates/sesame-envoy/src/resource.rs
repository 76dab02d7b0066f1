//! The kinds of Envoy resource Sesame serves, and a set of encoded resources.

use std::collections::BTreeMap;

use envoy_types::pb::google::protobuf::Any;

/// An xDS resource type. The order of the variants is the order in which ADS pushes them:
/// clusters and endpoints before the listeners and routes that need them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    /// CDS: `envoy.config.cluster.v3.Cluster`.
    Cluster,
    /// EDS: `envoy.config.endpoint.v3.ClusterLoadAssignment`.
    ClusterLoadAssignment,
    /// SDS: `envoy.extensions.transport_sockets.tls.v3.Secret`.
    Secret,
    /// LDS: `envoy.config.listener.v3.Listener`.
    Listener,
    /// RDS: `envoy.config.route.v3.RouteConfiguration`.
    RouteConfiguration,
    /// VHDS: `envoy.config.route.v3.VirtualHost`, named `<route configuration name>/<host>`,
    /// and its own `name` must be that resource name too (Envoy removes VHDS virtual hosts by
    /// resource name). Served to delta (incremental) clients only: state-of-the-world xDS has
    /// no VHDS.
    VirtualHost,
    /// SRDS: `envoy.config.route.v3.ScopedRouteConfiguration`, one scope per exact plain-HTTP
    /// host and one for the others (see [`crate::scope`]). Served to delta (incremental)
    /// clients only: their `ingress_http` listener routes by scope.
    ScopedRouteConfiguration,
}

impl ResourceType {
    /// Every type, in push order.
    pub const ALL: [ResourceType; 7] = [
        ResourceType::Cluster,
        ResourceType::ClusterLoadAssignment,
        ResourceType::Secret,
        ResourceType::Listener,
        ResourceType::RouteConfiguration,
        ResourceType::VirtualHost,
        ResourceType::ScopedRouteConfiguration,
    ];

    /// The type URL Envoy uses for this type.
    pub const fn type_url(self) -> &'static str {
        match self {
            ResourceType::Cluster => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            ResourceType::ClusterLoadAssignment => {
                "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            }
            ResourceType::Secret => {
                "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
            }
            ResourceType::Listener => "type.googleapis.com/envoy.config.listener.v3.Listener",
            ResourceType::RouteConfiguration => {
                "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
            }
            ResourceType::VirtualHost => "type.googleapis.com/envoy.config.route.v3.VirtualHost",
            ResourceType::ScopedRouteConfiguration => {
                "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration"
            }
        }
    }

    /// The type of a type URL, if Sesame serves it.
    pub fn from_type_url(url: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.type_url() == url)
    }

    /// Whether Envoy subscribes to this type with a wildcard (all resources) rather than by name.
    pub fn is_wildcard(self) -> bool {
        matches!(
            self,
            ResourceType::Cluster | ResourceType::Listener | ResourceType::ScopedRouteConfiguration
        )
    }

    /// Whether only delta (incremental) xDS clients are served this type: VHDS exists in the
    /// incremental protocol only, and only delta clients get the scoped `ingress_http`.
    pub fn is_delta_only(self) -> bool {
        matches!(
            self,
            ResourceType::VirtualHost | ResourceType::ScopedRouteConfiguration
        )
    }
}

/// A full set of encoded resources of each type, by resource name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// Listeners (LDS).
    pub listeners: BTreeMap<String, Any>,
    /// Route configurations (RDS).
    pub routes: BTreeMap<String, Any>,
    /// Clusters (CDS).
    pub clusters: BTreeMap<String, Any>,
    /// TLS secrets (SDS).
    pub secrets: BTreeMap<String, Any>,
    /// The plain-HTTP virtual hosts as Virtual Host Discovery (VHDS) resources, for Envoys on
    /// incremental xDS, by [`crate::route::vhds_name`] (see [`crate::route::vhds_virtual_hosts`]).
    pub virtual_hosts: BTreeMap<String, Any>,
    /// The scopes of `ingress_http` for Envoys on incremental xDS, by [`crate::scope::scope_name`]
    /// (see [`crate::scope::scopes`]).
    pub scopes: BTreeMap<String, Any>,
    /// Listeners that Envoys on incremental xDS receive instead of the same-named ones in
    /// `listeners`: `ingress_http` routing by scope (see [`crate::listener::delta_listeners`]).
    pub delta_listeners: BTreeMap<String, Any>,
}

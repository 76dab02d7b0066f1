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
}

impl ResourceType {
    /// Every type, in push order.
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Cluster,
        ResourceType::ClusterLoadAssignment,
        ResourceType::Secret,
        ResourceType::Listener,
        ResourceType::RouteConfiguration,
        ResourceType::VirtualHost,
    ];

    /// The type URL Envoy uses for this type.
    pub fn type_url(self) -> &'static str {
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
        }
    }

    /// The type of a type URL, if Sesame serves it.
    pub fn from_type_url(url: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.type_url() == url)
    }

    /// Whether Envoy subscribes to this type with a wildcard (all resources) rather than by name.
    pub fn is_wildcard(self) -> bool {
        matches!(self, ResourceType::Cluster | ResourceType::Listener)
    }

    /// Whether only delta (incremental) xDS clients are served this type: VHDS exists in the
    /// incremental protocol only.
    pub fn is_delta_only(self) -> bool {
        self == ResourceType::VirtualHost
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
    /// Route configurations that Envoys on incremental xDS receive instead of the same-named
    /// ones in `routes`: `ingress_http` without inline virtual hosts, pointing at VHDS.
    pub delta_routes: BTreeMap<String, Any>,
}

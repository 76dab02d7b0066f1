//! Sesame's pure translation stage: [`Dag`] → Envoy v3 resources, endpoints → ClusterLoadAssignments,
//! and the Envoy bootstrap.
//!
//! Stage: after `sesame-dag::build`, before `sesame-xds`. Pure and synchronous: no tokio, no kube,
//! no tonic server code. Resources come out encoded as `Any`, in sorted maps, so the same DAG
//! always gives byte-identical output.

pub mod bootstrap;
pub mod cluster;
pub mod endpoint;
pub mod listener;
pub mod resource;
pub mod route;
pub mod secret;

mod proto;
#[cfg(test)]
mod testutil;

pub use resource::{ResourceType, Resources};

/// The endpoint translation under the name callers first used (`sesame_envoy::endpoints::endpoints`).
pub use endpoint as endpoints;

use std::net::SocketAddr;

use sesame_dag::Dag;

/// Where Envoy listens, and other installation-wide settings of the translation.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslateConfig {
    /// The plain-HTTP listener `ingress_http` (`--envoy-service-http-address`/`-port`, 0.0.0.0:8080).
    pub http_listener: SocketAddr,
    /// The HTTPS listener `ingress_https` (`--envoy-service-https-address`/`-port`, 0.0.0.0:8443).
    pub https_listener: SocketAddr,
    /// The `stats-health` listener (`--stats-address`/`--stats-port`, 0.0.0.0:8002).
    pub stats_listener: SocketAddr,
}

impl Default for TranslateConfig {
    /// Contour's listener addresses.
    fn default() -> Self {
        TranslateConfig {
            http_listener: SocketAddr::from(([0, 0, 0, 0], 8080)),
            https_listener: SocketAddr::from(([0, 0, 0, 0], 8443)),
            stats_listener: SocketAddr::from(([0, 0, 0, 0], 8002)),
        }
    }
}

/// Translates a DAG into listeners, route configurations, clusters and secrets.
/// Endpoints are not included: see [`endpoint::endpoints`].
pub fn translate(dag: &Dag, config: &TranslateConfig) -> Resources {
    Resources {
        listeners: listener::listeners(dag, config),
        routes: route::route_configurations(dag),
        clusters: cluster::clusters(dag),
        secrets: secret::secrets(dag),
    }
}

#[cfg(test)]
mod tests;

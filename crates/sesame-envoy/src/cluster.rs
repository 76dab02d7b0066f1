//! Clusters (CDS): one EDS cluster per Service port the DAG uses.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream_http_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::{CircuitBreakers, Cluster, UpstreamProtocol};

use crate::proto::{self, u32_value};

/// The key of the upstream HTTP protocol options in `typed_extension_protocol_options`.
pub const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// How long Envoy waits for an upstream connection (Contour's default).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Every cluster of the DAG, encoded, by name.
pub fn clusters(dag: &Dag) -> BTreeMap<String, Any> {
    dag.clusters
        .iter()
        .map(|(name, c)| (name.clone(), proto::any(&cluster(c))))
        .collect()
}

/// An EDS cluster fed over ADS, round robin, with the upstream protocol and circuit breakers
/// of the Service.
pub fn cluster(c: &Cluster) -> cluster_v3::Cluster {
    let mut out = cluster_v3::Cluster {
        name: c.name.clone(),
        alt_stat_name: format!("{}_{}_{}", c.service.namespace, c.service.name, c.port),
        cluster_discovery_type: Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
            cluster_v3::cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster_v3::cluster::EdsClusterConfig {
            eds_config: Some(proto::ads_config_source()),
            service_name: c.eds_name.clone(),
        }),
        connect_timeout: Some(proto::duration(CONNECT_TIMEOUT)),
        lb_policy: cluster_v3::cluster::LbPolicy::RoundRobin as i32,
        circuit_breakers: circuit_breakers(&c.circuit_breakers),
        ..Default::default()
    };
    if matches!(c.protocol, UpstreamProtocol::H2 | UpstreamProtocol::H2c) {
        out.typed_extension_protocol_options.insert(
            HTTP_PROTOCOL_OPTIONS.to_string(),
            proto::any(&http2_options()),
        );
    }
    match c.protocol {
        UpstreamProtocol::H2 => out.transport_socket = Some(upstream_tls(&["h2"])),
        UpstreamProtocol::Tls => out.transport_socket = Some(upstream_tls(&[])),
        UpstreamProtocol::Http1 | UpstreamProtocol::H2c => {}
    }
    out
}

/// Upstream protocol options that make Envoy speak HTTP/2 to the upstream.
pub fn http2_options() -> upstream_http_v3::HttpProtocolOptions {
    use upstream_http_v3::http_protocol_options::{
        ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
    };
    upstream_http_v3::HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                    core_v3::Http2ProtocolOptions::default(),
                )),
            },
        )),
        ..Default::default()
    }
}

/// A TLS transport socket to the upstream, offering these ALPN protocols.
fn upstream_tls(alpn: &[&str]) -> core_v3::TransportSocket {
    let context = tls_v3::UpstreamTlsContext {
        common_tls_context: Some(tls_v3::CommonTlsContext {
            alpn_protocols: alpn.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    proto::tls_transport_socket(&context)
}

/// One DEFAULT-priority threshold with only the limits the Service sets; `None` when it sets none.
pub fn circuit_breakers(cb: &CircuitBreakers) -> Option<cluster_v3::CircuitBreakers> {
    if *cb == CircuitBreakers::default() {
        return None;
    }
    Some(cluster_v3::CircuitBreakers {
        thresholds: vec![cluster_v3::circuit_breakers::Thresholds {
            priority: core_v3::RoutingPriority::Default as i32,
            max_connections: cb.max_connections.and_then(u32_value),
            max_pending_requests: cb.max_pending_requests.and_then(u32_value),
            max_requests: cb.max_requests.and_then(u32_value),
            max_retries: cb.max_retries.and_then(u32_value),
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;

//! The listeners of the served Gateway (Gateway API): one Envoy listener per port, named
//! `http-<gateway port>`, whose HTTP connection manager fetches the RouteConfiguration of the
//! same name over RDS. The connection managers are `ingress_http`'s (timeouts, trusted hops,
//! access log, filters), with the listener's name as stat prefix.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::GatewayListener;

use crate::listener::{Ingress, hcm_filter, ingress_connection_manager, rds};
use crate::{TranslateConfig, proto, route};

/// Every Gateway listener, encoded, by name.
pub fn listeners(dag: &Dag, config: &TranslateConfig) -> BTreeMap<String, Any> {
    dag.gateway_listeners
        .iter()
        .map(|(name, l)| (name.clone(), proto::any(&listener(l, config))))
        .collect()
}

/// One Gateway listener on the address of `ingress_http` and the listener's own port.
pub fn listener(l: &GatewayListener, config: &TranslateConfig) -> listener_v3::Listener {
    let mut hcm = ingress_connection_manager(Ingress::Http, rds(l.name.clone()), &config.listener);
    hcm.stat_prefix = l.name.clone();
    listener_v3::Listener {
        name: l.name.clone(),
        address: Some(proto::listener_address(SocketAddr::new(
            config.http_listener.ip(),
            l.port,
        ))),
        filter_chains: vec![listener_v3::FilterChain {
            filters: vec![hcm_filter(&hcm)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The RouteConfiguration of every Gateway listener, encoded, by name (the listener's).
pub fn route_configurations(dag: &Dag) -> BTreeMap<String, Any> {
    dag.gateway_listeners
        .iter()
        .map(|(name, l)| (name.clone(), route_configuration(l)))
        .collect()
}

/// The RouteConfiguration of one Gateway listener: its virtual hosts in hostname order.
pub fn route_configuration(l: &GatewayListener) -> Any {
    route::encoded_route_configuration(l.name.clone(), l.virtual_hosts.values())
}

#[cfg(test)]
mod tests;

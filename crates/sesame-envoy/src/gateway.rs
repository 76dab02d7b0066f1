//! The listeners of the served Gateways (Gateway API): one Envoy listener per address and
//! port, named `http-<gateway port>` or `https-<gateway port>` on `ingress_http`'s address (and
//! `http-<gateway port>-<address>` on a Gateway's own address), whose HTTP connection managers fetch over
//! RDS the RouteConfiguration of the same name (HTTP) or their own filter chain's, named
//! `https-<gateway port>/<listener name>` (HTTPS). The connection managers are `ingress_http`'s
//! (timeouts, trusted hops, access log, filters), with the listener's name as stat prefix.
//! TLSRoutes add chains matched on SNI to the `https-<port>` listener, TCPRoutes have a
//! `tcp-<port>` listener of one chain: both proxy the connection to clusters (`tcp_proxy`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3 as tls_inspector_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::{ClientValidation, GatewayListener, GatewayTcpRoute, GatewayTls, TlsVersion};

use crate::listener::{
    Ingress, TLS_INSPECTOR, TlsParams, common_tls_context, downstream_tls_context, hcm_filter,
    ingress_connection_manager, rds, tcp_proxy_filter_named,
};
use crate::{TranslateConfig, proto, route};

/// Every Gateway listener, encoded, by name.
pub fn listeners(dag: &Dag, config: &TranslateConfig) -> BTreeMap<String, Any> {
    dag.gateway_listeners
        .iter()
        .map(|(name, l)| (name.clone(), proto::any(&listener(l, config))))
        .collect()
}

/// One Gateway listener on its own address (its Gateway's) or else `ingress_http`'s, and its
/// own port: for HTTP
/// one filter chain; for HTTPS TLS inspection and a chain per TLS entry, matched on SNI (the
/// entry without a name takes the connections no other does), each terminating TLS with its
/// certificate over SDS. Every chain's routes come from the listener's RouteConfiguration.
pub fn listener(l: &GatewayListener, config: &TranslateConfig) -> listener_v3::Listener {
    let ip = l.address.unwrap_or(config.http_listener.ip());
    let address = Some(proto::listener_address(SocketAddr::new(ip, l.port)));
    let stat_prefix = stat_prefix(&l.name);
    let ingress = if l.is_http() {
        Ingress::Http
    } else {
        Ingress::Https
    };
    // Each chain's connection manager reads its own RouteConfiguration.
    let filters = |route_config: &str| {
        let mut hcm =
            ingress_connection_manager(ingress, rds(route_config.to_string()), &config.listener);
        hcm.stat_prefix = stat_prefix.clone();
        vec![hcm_filter(&hcm)]
    };
    if l.is_http() {
        let filters = filters(&l.name);
        return listener_v3::Listener {
            name: l.name.clone(),
            address,
            filter_chains: vec![listener_v3::FilterChain {
                filters,
                ..Default::default()
            }],
            ..Default::default()
        };
    }
    let tls_inspector = listener_v3::ListenerFilter {
        name: TLS_INSPECTOR.to_string(),
        config_type: Some(listener_v3::listener_filter::ConfigType::TypedConfig(
            proto::any(&tls_inspector_v3::TlsInspector::default()),
        )),
        ..Default::default()
    };
    let mut filter_chains: Vec<listener_v3::FilterChain> = l
        .tls
        .iter()
        .map(|tls| listener_v3::FilterChain {
            filter_chain_match: Some(sni_match(tls.server_name.as_deref())),
            filters: filters(&tls.route_config),
            transport_socket: Some(downstream_tls(tls, config)),
            ..Default::default()
        })
        .collect();
    let tcp_chain = |r| tcp_chain(&stat_prefix, r, config);
    filter_chains.extend(l.tcp_routes.iter().filter_map(tcp_chain));
    // A TCP listener reads nothing before proxying: its backend may speak first.
    let inspect = !l.tls.is_empty() || l.tcp_routes.iter().any(|r| r.server_name.is_some());
    listener_v3::Listener {
        name: l.name.clone(),
        address,
        listener_filters: if inspect {
            vec![tls_inspector]
        } else {
            Vec::new()
        },
        filter_chains,
        ..Default::default()
    }
}

/// The stat prefix of a Gateway listener: its name, with the dots and colons of an address in
/// it made underscores (a dot would split the stat name).
fn stat_prefix(name: &str) -> String {
    name.replace(['.', ':'], "_")
}

/// The filter chain of a TLSRoute's SNI name or a TCPRoute's listener (whose stats start with
/// `stat_prefix`): the connection, decrypted first when the route's listener terminates TLS,
/// proxied to its clusters.
fn tcp_chain(
    stat_prefix: &str,
    route: &GatewayTcpRoute,
    config: &TranslateConfig,
) -> Option<listener_v3::FilterChain> {
    let filter = tcp_proxy_filter_named(&route.proxy, stat_prefix, &config.listener)?;
    let transport_socket = route.terminate.as_ref().map(|t| {
        let params = (t.min_tls_version, t.max_tls_version);
        downstream_tls_socket(&t.secret, params, (false, None), config)
    });
    Some(listener_v3::FilterChain {
        filter_chain_match: route
            .server_name
            .as_deref()
            .map(|name| sni_match(Some(name))),
        filters: vec![filter],
        transport_socket,
        ..Default::default()
    })
}

/// The SNI match of one chain: its name, or any TLS connection.
fn sni_match(server_name: Option<&str>) -> listener_v3::FilterChainMatch {
    match server_name {
        Some(name) => listener_v3::FilterChainMatch {
            server_names: vec![name.to_string()],
            ..Default::default()
        },
        None => listener_v3::FilterChainMatch {
            transport_protocol: "tls".to_string(),
            ..Default::default()
        },
    }
}

/// Terminating TLS with the entry's certificate and versions, `ingress_https`'s cipher suites,
/// ALPN `h2` and `http/1.1`, and the entry's client certificate validation if any.
fn downstream_tls(
    tls: &GatewayTls,
    config: &TranslateConfig,
) -> envoy_types::pb::envoy::config::core::v3::TransportSocket {
    let versions = (tls.min_tls_version, tls.max_tls_version);
    let validation = tls.client_validation.as_deref();
    downstream_tls_socket(&tls.secret, versions, (true, validation), config)
}

/// Terminating TLS with a certificate (an SDS name) and the (lowest, highest) TLS versions,
/// `ingress_https`'s cipher suites, ALPN `h2` and `http/1.1` when `alpn`, and client
/// certificates verified as `validation` says when there is one.
fn downstream_tls_socket(
    secret: &str,
    (min, max): (TlsVersion, TlsVersion),
    (alpn, validation): (bool, Option<&ClientValidation>),
    config: &TranslateConfig,
) -> envoy_types::pb::envoy::config::core::v3::TransportSocket {
    let params = TlsParams {
        min,
        max,
        cipher_suites: &config.listener.cipher_suites,
    };
    let common = common_tls_context(secret, &params, alpn);
    proto::tls_transport_socket(&downstream_tls_context(common, validation))
}

/// The RouteConfigurations of every Gateway listener, encoded, by name.
pub fn route_configurations(dag: &Dag) -> BTreeMap<String, Any> {
    dag.gateway_listeners
        .values()
        .flat_map(route_configurations_of)
        .collect()
}

/// The names of the RouteConfigurations of one Gateway listener (see
/// [`route_configurations_of`]).
pub fn route_config_names(l: &GatewayListener) -> std::collections::BTreeSet<String> {
    if l.is_http() {
        return std::collections::BTreeSet::from([l.name.clone()]);
    }
    l.tls.iter().map(|tls| tls.route_config.clone()).collect()
}

/// The RouteConfigurations of one Gateway listener, encoded, by name: for HTTP one named
/// after the listener, for HTTPS one per TLS entry (its `route_config`), each with its
/// virtual hosts in hostname order.
pub fn route_configurations_of(l: &GatewayListener) -> BTreeMap<String, Any> {
    if l.is_http() {
        let rc = route::encoded_route_configuration(l.name.clone(), l.virtual_hosts.values());
        return BTreeMap::from([(l.name.clone(), rc)]);
    }
    l.tls
        .iter()
        .map(|tls| {
            let rc = route::encoded_route_configuration(
                tls.route_config.clone(),
                tls.virtual_hosts.values(),
            );
            (tls.route_config.clone(), rc)
        })
        .collect()
}

#[cfg(test)]
mod grpc_tests;
#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

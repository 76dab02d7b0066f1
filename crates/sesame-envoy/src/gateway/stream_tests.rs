//! TLS and TCP routes of Gateway listeners: chains matched on SNI (passed through or
//! terminated) beside the HTTPS chains, and a plain TCP listener of one chain.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3 as tcp_proxy_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{
    GatewayListener, GatewayTcpRoute, GatewayTlsTermination, TcpProxy, TlsVersion, WeightedCluster,
};
use sesame_dag::object::{Kind, NamespacedName, ObjectKey};

use super::*;
use crate::testutil::decode;

fn tcp_route(
    server_name: Option<&str>,
    terminate: bool,
    clusters: &[(&str, u32)],
) -> GatewayTcpRoute {
    GatewayTcpRoute {
        server_name: server_name.map(String::from),
        terminate: terminate.then(|| GatewayTlsTermination {
            secret: "default/term/1".into(),
            min_tls_version: TlsVersion::V1_2,
            max_tls_version: TlsVersion::V1_3,
        }),
        proxy: TcpProxy {
            clusters: clusters
                .iter()
                .map(|(name, weight)| WeightedCluster::new(*name, *weight))
                .collect(),
        },
        origin: ObjectKey::new(Kind::TLSRoute, NamespacedName::new("default", "r")),
    }
}

fn listener(name: &str, port: u16, tcp_routes: Vec<GatewayTcpRoute>) -> GatewayListener {
    GatewayListener {
        name: name.into(),
        address: None,
        port,
        virtual_hosts: BTreeMap::new(),
        tls: Vec::new(),
        tcp_routes,
    }
}

fn tcp_proxy_of(chain: &listener_v3::FilterChain) -> tcp_proxy_v3::TcpProxy {
    assert_eq!(chain.filters[0].name, "envoy.filters.network.tcp_proxy");
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) = &chain.filters[0].config_type
    else {
        panic!("no typed config")
    };
    decode(any)
}

#[test]
fn tls_routes_are_sni_chains_passed_through_or_terminated() {
    let mut dag = Dag::default();
    let l = listener(
        "https-443",
        8443,
        vec![
            tcp_route(Some("pass.test"), false, &[("a", 1)]),
            tcp_route(Some("term.test"), true, &[("b", 1)]),
        ],
    );
    dag.gateway_listeners.insert(l.name.clone(), l);
    let resources = crate::translate(&dag, &TranslateConfig::default());
    let listener: listener_v3::Listener = decode(&resources.listeners["https-443"]);
    assert_eq!(
        listener.listener_filters[0].name,
        "envoy.filters.listener.tls_inspector"
    );
    let names: Vec<Vec<String>> = listener
        .filter_chains
        .iter()
        .map(|c| c.filter_chain_match.clone().unwrap().server_names)
        .collect();
    assert_eq!(names, [vec!["pass.test"], vec!["term.test"]]);
    // Passthrough: no TLS of Envoy's own.
    let pass = &listener.filter_chains[0];
    assert!(pass.transport_socket.is_none());
    let proxy = tcp_proxy_of(pass);
    assert_eq!(proxy.stat_prefix, "https-443");
    assert_eq!(
        proxy.cluster_specifier,
        Some(tcp_proxy_v3::tcp_proxy::ClusterSpecifier::Cluster(
            "a".into()
        ))
    );
    // Terminate: the listener's certificate, no ALPN (the bytes inside are not HTTP's).
    let socket = listener.filter_chains[1].transport_socket.clone().unwrap();
    let Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) = socket.config_type else {
        panic!("no tls context")
    };
    let context: tls_v3::DownstreamTlsContext = decode(&any);
    let common = context.common_tls_context.unwrap();
    assert_eq!(
        common.tls_certificate_sds_secret_configs[0].name,
        "default/term/1"
    );
    assert!(common.alpn_protocols.is_empty());
    // No RouteConfiguration: nothing here speaks HTTP.
    assert!(!resources.routes.keys().any(|k| k.starts_with("https-443")));
}

#[test]
fn a_tcp_listener_proxies_every_connection_by_weight() {
    let mut dag = Dag::default();
    let l = listener(
        "tcp-9000",
        17000,
        vec![tcp_route(None, false, &[("a", 70), ("b", 30)])],
    );
    dag.gateway_listeners.insert(l.name.clone(), l);
    let resources = crate::translate(&dag, &TranslateConfig::default());
    let listener: listener_v3::Listener = decode(&resources.listeners["tcp-9000"]);
    // Nothing is read before proxying: the backend may speak first.
    assert!(listener.listener_filters.is_empty());
    assert_eq!(listener.filter_chains.len(), 1);
    let chain = &listener.filter_chains[0];
    assert!(chain.filter_chain_match.is_none());
    let Some(tcp_proxy_v3::tcp_proxy::ClusterSpecifier::WeightedClusters(weighted)) =
        tcp_proxy_of(chain).cluster_specifier
    else {
        panic!("not weighted")
    };
    let weights: Vec<(String, u32)> = weighted
        .clusters
        .iter()
        .map(|c| (c.name.clone(), c.weight))
        .collect();
    assert_eq!(weights, [("a".to_string(), 70), ("b".to_string(), 30)]);
    assert!(!resources.routes.contains_key("tcp-9000"));
}

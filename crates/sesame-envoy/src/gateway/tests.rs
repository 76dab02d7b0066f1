use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{GatewayListener, HeaderValue, PathMatch, RouteAction};

use super::*;
use crate::testutil::{decode, forward_route, vhost};

/// The HTTP connection manager of a filter chain's first filter, and the route
/// configuration it reads over RDS.
fn hcm_and_rds(chain: &listener_v3::FilterChain) -> (hcm_v3::HttpConnectionManager, String) {
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) = &chain.filters[0].config_type
    else {
        panic!("no typed config")
    };
    let hcm: hcm_v3::HttpConnectionManager = decode(any);
    match &hcm.route_specifier {
        Some(hcm_v3::http_connection_manager::RouteSpecifier::Rds(rds)) => {
            let name = rds.route_config_name.clone();
            (hcm, name)
        }
        other => panic!("no rds: {other:?}"),
    }
}

fn dag() -> Dag {
    let mut route = forward_route(PathMatch::Prefix("/".into()), "default/echo/80/da39a3ee5e");
    if let RouteAction::Forward(f) = &mut route.action {
        let p = f.policies_mut();
        p.request_headers
            .set
            .push(("x-set".into(), HeaderValue::literal("50%")));
        p.request_headers_append
            .push(("x-add".into(), HeaderValue::literal("a")));
    }
    let mut dag = Dag::default();
    dag.gateway_listeners.insert(
        "http-80".into(),
        GatewayListener {
            name: "http-80".into(),
            address: None,
            port: 8080,
            virtual_hosts: BTreeMap::from([("a.com".to_string(), vhost("a.com", vec![route]))]),
            tls: Vec::new(),
            tcp_routes: Vec::new(),
        },
    );
    dag
}

#[test]
fn a_gateway_listener_is_an_envoy_listener_with_its_own_route_configuration() {
    let config = TranslateConfig {
        http_listener: "127.0.0.1:18080".parse().unwrap(),
        ..TranslateConfig::default()
    };
    let resources = crate::translate(&dag(), &config);
    let listener: listener_v3::Listener = decode(&resources.listeners["http-80"]);
    let Some(core_v3::address::Address::SocketAddress(addr)) =
        listener.address.and_then(|a| a.address)
    else {
        panic!("no socket address")
    };
    assert_eq!(addr.address, "127.0.0.1");
    assert_eq!(
        addr.port_specifier,
        Some(core_v3::socket_address::PortSpecifier::PortValue(8080))
    );
    let (hcm, rds) = hcm_and_rds(&listener.filter_chains[0]);
    assert_eq!(hcm.stat_prefix, "http-80");
    assert_eq!(rds, "http-80");
    let rc: route_v3::RouteConfiguration = decode(&resources.routes["http-80"]);
    assert_eq!(rc.virtual_hosts[0].domains, ["a.com"]);
    let route = &rc.virtual_hosts[0].routes[0];
    let added: Vec<(String, String, i32)> = route
        .request_headers_to_add
        .iter()
        .map(|h| {
            let header = h.header.clone().unwrap();
            (header.key, header.value, h.append_action)
        })
        .collect();
    use core_v3::header_value_option::HeaderAppendAction as A;
    assert_eq!(
        added,
        [
            (
                "x-set".into(),
                "50%%".into(),
                A::OverwriteIfExistsOrAdd as i32
            ),
            ("x-add".into(), "a".into(), A::AppendIfExistsOrAdd as i32),
        ]
    );
    // The static listeners are still there.
    assert!(resources.listeners.contains_key("ingress_http"));
}

#[test]
fn an_https_gateway_listener_terminates_tls_per_sni() {
    use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
    use sesame_dag::dag::{GatewayTls, TlsVersion};
    let mut dag = dag();
    let mut l = dag.gateway_listeners.remove("http-80").unwrap();
    l.name = "https-443".into();
    l.port = 8443;
    let tls = |name: Option<&str>, secret: &str| GatewayTls {
        server_name: name.map(String::from),
        secret: secret.into(),
        min_tls_version: TlsVersion::V1_2,
        max_tls_version: TlsVersion::V1_3,
        client_validation: None,
        route_config: format!("https-443/{}", name.unwrap_or("any")),
        virtual_hosts: l.virtual_hosts.clone(),
    };
    l.tls = vec![
        tls(Some("a.com"), "default/a/1"),
        tls(None, "default/any/2"),
    ];
    dag.gateway_listeners.insert(l.name.clone(), l);
    let resources = crate::translate(&dag, &TranslateConfig::default());
    let listener: listener_v3::Listener = decode(&resources.listeners["https-443"]);
    assert_eq!(
        listener.listener_filters[0].name,
        "envoy.filters.listener.tls_inspector"
    );
    let matches: Vec<(Vec<String>, String)> = listener
        .filter_chains
        .iter()
        .map(|c| {
            let m = c.filter_chain_match.clone().unwrap();
            (m.server_names, m.transport_protocol)
        })
        .collect();
    assert_eq!(
        matches,
        [
            (vec!["a.com".to_string()], String::new()),
            (vec![], "tls".to_string())
        ]
    );
    let socket = listener.filter_chains[0].transport_socket.clone().unwrap();
    let Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) = socket.config_type else {
        panic!("no tls context")
    };
    let context: tls_v3::DownstreamTlsContext = decode(&any);
    let common = context.common_tls_context.unwrap();
    assert_eq!(
        common.tls_certificate_sds_secret_configs[0].name,
        "default/a/1"
    );
    assert_eq!(common.alpn_protocols, ["h2", "http/1.1"]);
    // Each chain reads its own RouteConfiguration.
    assert_eq!(hcm_and_rds(&listener.filter_chains[0]).1, "https-443/a.com");
    assert_eq!(hcm_and_rds(&listener.filter_chains[1]).1, "https-443/any");
    assert!(resources.routes.contains_key("https-443/a.com"));
    assert!(resources.routes.contains_key("https-443/any"));
    assert!(!resources.routes.contains_key("https-443"));
}

#[test]
fn a_gateway_listener_with_an_address_binds_it_under_a_name_of_its_own() {
    let mut dag = dag();
    let mut l = dag.gateway_listeners.remove("http-80").unwrap();
    let ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    l.name = sesame_dag::dag::on_address(l.name, Some(ip));
    l.address = Some(ip);
    dag.gateway_listeners.insert(l.name.clone(), l);
    let config = TranslateConfig {
        http_listener: "0.0.0.0:18080".parse().unwrap(),
        ..TranslateConfig::default()
    };
    let resources = crate::translate(&dag, &config);
    let names: Vec<&String> = resources
        .listeners
        .keys()
        .filter(|n| n.starts_with("http-"))
        .collect();
    assert_eq!(names, ["http-80-127.0.0.2"]);
    let listener: listener_v3::Listener = decode(&resources.listeners["http-80-127.0.0.2"]);
    let Some(core_v3::address::Address::SocketAddress(addr)) =
        listener.address.and_then(|a| a.address)
    else {
        panic!("no socket address")
    };
    assert_eq!(
        (addr.address.as_str(), addr.port_specifier),
        (
            "127.0.0.2",
            Some(core_v3::socket_address::PortSpecifier::PortValue(8080))
        )
    );
    let (hcm, rds) = hcm_and_rds(&listener.filter_chains[0]);
    assert_eq!(hcm.stat_prefix, "http-80-127_0_0_2");
    assert_eq!(rds, "http-80-127.0.0.2");
    let rc: route_v3::RouteConfiguration = decode(&resources.routes["http-80-127.0.0.2"]);
    assert_eq!(rc.name, "http-80-127.0.0.2");
    assert_eq!(rc.virtual_hosts[0].domains, ["a.com"]);
}

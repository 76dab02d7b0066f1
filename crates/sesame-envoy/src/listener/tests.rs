use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::access_loggers::file::v3 as file_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use hcm_v3::http_connection_manager::RouteSpecifier;
use pretty_assertions::assert_eq;

use super::*;
use crate::testutil::{decode, sample_dag, secure_vhost};

fn typed<T: prost::Message + prost::Name + Default>(
    config: &Option<listener_v3::filter::ConfigType>,
) -> T {
    match config {
        Some(listener_v3::filter::ConfigType::TypedConfig(any)) => decode(any),
        other => panic!("expected a typed config, got {other:?}"),
    }
}

fn hcm(chain: &listener_v3::FilterChain) -> hcm_v3::HttpConnectionManager {
    assert_eq!(chain.filters.len(), 1);
    assert_eq!(
        chain.filters[0].name,
        "envoy.filters.network.http_connection_manager"
    );
    typed(&chain.filters[0].config_type)
}

fn rds_name(hcm: &hcm_v3::HttpConnectionManager) -> String {
    match &hcm.route_specifier {
        Some(RouteSpecifier::Rds(rds)) => {
            assert_eq!(rds.config_source, Some(crate::proto::ads_config_source()));
            rds.route_config_name.clone()
        }
        other => panic!("expected RDS, got {other:?}"),
    }
}

fn port_of(l: &listener_v3::Listener) -> (String, u32) {
    match l.address.as_ref().and_then(|a| a.address.as_ref()) {
        Some(core_v3::address::Address::SocketAddress(s)) => match s.port_specifier {
            Some(core_v3::socket_address::PortSpecifier::PortValue(p)) => (s.address.clone(), p),
            _ => panic!("no port"),
        },
        other => panic!("not a socket address: {other:?}"),
    }
}

/// The names of a connection manager's HTTP filters, in order.
fn filter_names(h: &hcm_v3::HttpConnectionManager) -> Vec<&str> {
    h.http_filters.iter().map(|f| f.name.as_str()).collect()
}

/// The filters of the ingress connection managers: CORS and local rate limit before the router.
const INGRESS_FILTERS: [&str; 5] = [
    "envoy.filters.http.cors",
    "envoy.filters.http.local_ratelimit",
    "envoy.filters.http.lua",
    "envoy.filters.http.rbac",
    "envoy.filters.http.router",
];

fn assert_common_hcm(h: &hcm_v3::HttpConnectionManager) {
    let router = h.http_filters.last().expect("a router filter");
    assert_eq!(router.name, "envoy.filters.http.router");
    match &router.config_type {
        Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) => {
            assert_eq!(
                any.type_url,
                "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
            )
        }
        other => panic!("router without typed config: {other:?}"),
    }
    assert_eq!(h.normalize_path.map(|b| b.value), Some(true));
}

#[test]
fn http_listener_shape() {
    let config = TranslateConfig::default();
    let all = listeners(&Dag::default(), &config);
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        vec!["ingress_http", "stats-health"],
        "no ingress_https"
    );
    let l: listener_v3::Listener = decode(&all["ingress_http"]);
    assert_eq!(l.name, "ingress_http");
    assert_eq!(port_of(&l), ("0.0.0.0".to_string(), 8080));
    assert_eq!(l.filter_chains.len(), 1);
    assert_eq!(l.filter_chains[0].filter_chain_match, None);
    let h = hcm(&l.filter_chains[0]);
    assert_common_hcm(&h);
    assert_eq!(filter_names(&h), INGRESS_FILTERS);
    assert_eq!(h.stat_prefix, "ingress_http");
    assert_eq!(rds_name(&h), "ingress_http");
    assert_eq!(h.use_remote_address.map(|b| b.value), Some(true));
    assert!(h.merge_slashes);
    assert_eq!(h.access_log.len(), 1);
    let log = &h.access_log[0];
    let Some(envoy_types::pb::envoy::config::accesslog::v3::access_log::ConfigType::TypedConfig(
        any,
    )) = &log.config_type
    else {
        panic!("access log without config")
    };
    let file: file_v3::FileAccessLog = decode(any);
    assert_eq!(file.path, "/dev/stdout");
}

#[test]
fn listener_addresses_follow_config() {
    let config = TranslateConfig {
        http_listener: "127.0.0.1:18080".parse().expect("addr"),
        https_listener: "[::1]:18443".parse().expect("addr"),
        stats_listener: "127.0.0.1:18002".parse().expect("addr"),
        ..TranslateConfig::default()
    };
    let all = listeners(&sample_dag(), &config);
    assert_eq!(
        port_of(&decode(&all["ingress_http"])),
        ("127.0.0.1".to_string(), 18080)
    );
    assert_eq!(
        port_of(&decode(&all["ingress_https"])),
        ("::1".to_string(), 18443)
    );
    assert_eq!(
        port_of(&decode(&all["stats-health"])),
        ("127.0.0.1".to_string(), 18002)
    );
}

#[test]
fn https_listener_one_chain_per_vhost_in_hostname_order() {
    let mut dag = Dag::default();
    for h in ["zeta.com", "alpha.com", "*.mid.com"] {
        let mut v = secure_vhost(h, Vec::new());
        if h == "alpha.com" {
            v.min_tls_version = sesame_dag::dag::TlsVersion::V1_1;
            v.max_tls_version = sesame_dag::dag::TlsVersion::V1_2;
        }
        dag.https.insert(h.to_string(), v);
    }
    let all = listeners(&dag, &TranslateConfig::default());
    let l: listener_v3::Listener = decode(&all["ingress_https"]);
    assert_eq!(l.name, "ingress_https");
    assert_eq!(port_of(&l), ("0.0.0.0".to_string(), 8443));
    assert_eq!(l.listener_filters.len(), 1);
    assert_eq!(
        l.listener_filters[0].name,
        "envoy.filters.listener.tls_inspector"
    );
    match &l.listener_filters[0].config_type {
        Some(listener_v3::listener_filter::ConfigType::TypedConfig(any)) => assert_eq!(
            any.type_url,
            "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
        ),
        other => panic!("tls inspector without config: {other:?}"),
    }

    let names: Vec<Vec<String>> = l
        .filter_chains
        .iter()
        .map(|c| {
            c.filter_chain_match
                .clone()
                .unwrap_or_default()
                .server_names
        })
        .collect();
    assert_eq!(
        names,
        vec![
            vec!["*.mid.com".to_string()],
            vec!["alpha.com".into()],
            vec!["zeta.com".into()]
        ]
    );

    for (chain, host) in l
        .filter_chains
        .iter()
        .zip(["*.mid.com", "alpha.com", "zeta.com"])
    {
        let h = hcm(chain);
        assert_common_hcm(&h);
        assert_eq!(filter_names(&h), INGRESS_FILTERS);
        assert_eq!(h.stat_prefix, "ingress_https");
        assert_eq!(rds_name(&h), format!("https/{host}"));

        let socket = chain.transport_socket.as_ref().expect("transport socket");
        assert_eq!(socket.name, "envoy.transport_sockets.tls");
        let Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type
        else {
            panic!("no tls config")
        };
        let tls: tls_v3::DownstreamTlsContext = decode(any);
        let common = tls.common_tls_context.expect("common tls context");
        assert_eq!(
            common.alpn_protocols,
            vec!["h2".to_string(), "http/1.1".to_string()]
        );
        assert_eq!(
            common.tls_certificate_sds_secret_configs,
            vec![tls_v3::SdsSecretConfig {
                name: format!("default/{host}-tls/abcde"),
                sds_config: Some(crate::proto::ads_config_source()),
            }]
        );
        let params = common.tls_params.expect("tls params");
        use tls_v3::tls_parameters::TlsProtocol;
        let want = if host == "alpha.com" {
            (TlsProtocol::TlSv11 as i32, TlsProtocol::TlSv12 as i32)
        } else {
            (TlsProtocol::TlSv12 as i32, TlsProtocol::TlSv13 as i32)
        };
        assert_eq!(
            (
                params.tls_minimum_protocol_version,
                params.tls_maximum_protocol_version
            ),
            want
        );
    }
}

#[test]
fn wildcard_secure_vhost_matches_any_tls() {
    let chain = secure_filter_chain(&secure_vhost("*", Vec::new()), &ListenerSettings::default())
        .expect("a chain");
    assert_eq!(
        chain.filter_chain_match,
        Some(listener_v3::FilterChainMatch {
            transport_protocol: "tls".into(),
            ..Default::default()
        })
    );
}

#[test]
fn stats_listener_routes_only_three_exact_get_paths() {
    let all = listeners(&Dag::default(), &TranslateConfig::default());
    let l: listener_v3::Listener = decode(&all["stats-health"]);
    assert_eq!(l.name, "stats-health");
    assert_eq!(port_of(&l), ("0.0.0.0".to_string(), 8002));
    assert_eq!(l.filter_chains.len(), 1);
    let h = hcm(&l.filter_chains[0]);
    assert_common_hcm(&h);
    assert_eq!(filter_names(&h), ["envoy.filters.http.router"]);
    let Some(RouteSpecifier::RouteConfig(rc)) = h.route_specifier else {
        panic!("stats routes must be inline")
    };
    assert_eq!(rc.virtual_hosts.len(), 1);
    let vh = &rc.virtual_hosts[0];
    assert_eq!(vh.domains, vec!["*".to_string()]);
    let get = route_v3::HeaderMatcher {
        name: ":method".into(),
        header_match_specifier: Some(route_v3::header_matcher::HeaderMatchSpecifier::StringMatch(
            matcher_v3::StringMatcher {
                match_pattern: Some(matcher_v3::string_matcher::MatchPattern::Exact(
                    "GET".into(),
                )),
                ignore_case: false,
            },
        )),
        ..Default::default()
    };
    let want: Vec<route_v3::Route> = ["/ready", "/stats", "/stats/prometheus"]
        .iter()
        .map(|p| route_v3::Route {
            r#match: Some(route_v3::RouteMatch {
                path_specifier: Some(route_v3::route_match::PathSpecifier::Path(p.to_string())),
                headers: vec![get.clone()],
                ..Default::default()
            }),
            action: Some(route_v3::route::Action::Route(route_v3::RouteAction {
                cluster_specifier: Some(route_v3::route_action::ClusterSpecifier::Cluster(
                    "envoy-admin".into(),
                )),
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    assert_eq!(vh.routes, want);
}

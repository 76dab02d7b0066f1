//! Translation of what GRPCRoutes make: routes matching gRPC paths on a Gateway listener whose
//! connection manager accepts HTTP/2 without TLS (prior knowledge), to clusters that speak
//! HTTP/2 to their upstreams.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream_http_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{GatewayListener, PathMatch, UpstreamProtocol};

use super::*;
use crate::cluster::HTTP_PROTOCOL_OPTIONS;
use crate::testutil::{self, decode, forward_route, vhost};

#[test]
fn grpc_routes_reach_an_h2c_listener_and_http2_clusters() {
    let c = testutil::cluster("grpc", UpstreamProtocol::H2c);
    let routes = vec![
        forward_route(PathMatch::Exact("/echo.Echo/Echo".into()), &c.name),
        forward_route(PathMatch::Regex("/[^/]+/(?:Put|Post)".into()), &c.name),
        forward_route(PathMatch::Prefix("/other.Other/".into()), &c.name),
    ];
    let mut dag = Dag {
        clusters: [(c.name.clone(), c.clone())].into(),
        ..Default::default()
    };
    dag.gateway_listeners.insert(
        "http-80".into(),
        GatewayListener {
            name: "http-80".into(),
            address: None,
            port: 8080,
            virtual_hosts: BTreeMap::from([(
                "grpc.example.com".to_string(),
                vhost("grpc.example.com", routes),
            )]),
            tls: Vec::new(),
            tcp_routes: Vec::new(),
        },
    );
    let resources = crate::translate(&dag, &TranslateConfig::default());

    let listener: listener_v3::Listener = decode(&resources.listeners["http-80"]);
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) =
        &listener.filter_chains[0].filters[0].config_type
    else {
        panic!("no typed config")
    };
    let hcm: hcm_v3::HttpConnectionManager = decode(any);
    // AUTO takes HTTP/2 with prior knowledge on a plain connection, as gRPC clients send it.
    assert_eq!(
        hcm.codec_type,
        hcm_v3::http_connection_manager::CodecType::Auto as i32
    );

    let rc: route_v3::RouteConfiguration = decode(&resources.routes["http-80"]);
    use route_v3::route_match::PathSpecifier as P;
    let paths: Vec<String> = rc.virtual_hosts[0]
        .routes
        .iter()
        .map(
            |r| match r.r#match.as_ref().and_then(|m| m.path_specifier.clone()) {
                Some(P::Path(p)) => format!("exact {p}"),
                Some(P::Prefix(p)) => format!("prefix {p}"),
                Some(P::SafeRegex(r)) => format!("regex {}", r.regex),
                other => format!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(
        paths,
        [
            "exact /echo.Echo/Echo",
            "regex /[^/]+/(?:Put|Post)",
            "prefix /other.Other/"
        ]
    );

    let cluster: cluster_v3::Cluster = decode(&resources.clusters[&c.name]);
    let options: upstream_http_v3::HttpProtocolOptions =
        decode(&cluster.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS]);
    use upstream_http_v3::http_protocol_options::{
        UpstreamProtocolOptions as U, explicit_http_config::ProtocolConfig,
    };
    let Some(U::ExplicitHttpConfig(explicit)) = options.upstream_protocol_options else {
        panic!("no explicit protocol: {options:?}")
    };
    assert!(matches!(
        explicit.protocol_config,
        Some(ProtocolConfig::Http2ProtocolOptions(_))
    ));
    assert!(cluster.transport_socket.is_none(), "h2c is plain text");
}

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream_http_v3;
use envoy_types::pb::google::protobuf::UInt32Value;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{CircuitBreakers, UpstreamProtocol};

use super::*;
use crate::testutil::{self, decode, seconds};

fn tls_context(c: &cluster_v3::Cluster) -> Option<tls_v3::UpstreamTlsContext> {
    let socket = c.transport_socket.as_ref()?;
    assert_eq!(socket.name, "envoy.transport_sockets.tls");
    match &socket.config_type {
        Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) => Some(decode(any)),
        None => panic!("tls transport socket without config"),
    }
}

fn protocol_options(c: &cluster_v3::Cluster) -> Option<upstream_http_v3::HttpProtocolOptions> {
    assert!(c.typed_extension_protocol_options.len() <= 1);
    c.typed_extension_protocol_options
        .get(HTTP_PROTOCOL_OPTIONS)
        .map(decode)
}

#[test]
fn plain_http1_cluster_whole_message() {
    let c = testutil::cluster("svc", UpstreamProtocol::Http1);
    let dag = Dag {
        clusters: [(c.name.clone(), c)].into(),
        ..Default::default()
    };
    let encoded = clusters(&dag);
    assert_eq!(
        encoded.keys().collect::<Vec<_>>(),
        vec!["default/svc/80/da39a3ee5e"]
    );
    let got: cluster_v3::Cluster = decode(&encoded["default/svc/80/da39a3ee5e"]);
    let want = cluster_v3::Cluster {
        name: "default/svc/80/da39a3ee5e".into(),
        alt_stat_name: "default_svc_80".into(),
        cluster_discovery_type: Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
            cluster_v3::cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster_v3::cluster::EdsClusterConfig {
            eds_config: Some(core_v3::ConfigSource {
                resource_api_version: core_v3::ApiVersion::V3 as i32,
                config_source_specifier: Some(core_v3::config_source::ConfigSourceSpecifier::Ads(
                    core_v3::AggregatedConfigSource {},
                )),
                ..Default::default()
            }),
            service_name: "default/svc/http".into(),
        }),
        connect_timeout: Some(seconds(2)),
        lb_policy: cluster_v3::cluster::LbPolicy::RoundRobin as i32,
        ..Default::default()
    };
    assert_eq!(got, want);
}

fn is_http2(options: &upstream_http_v3::HttpProtocolOptions) -> bool {
    use upstream_http_v3::http_protocol_options::{
        UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
    };
    matches!(
        &options.upstream_protocol_options,
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(e))
            if matches!(e.protocol_config, Some(ProtocolConfig::Http2ProtocolOptions(_)))
    )
}

#[test]
fn upstream_protocols() {
    let http1 = cluster(&testutil::cluster("s", UpstreamProtocol::Http1));
    assert!(protocol_options(&http1).is_none());
    assert!(tls_context(&http1).is_none());

    let h2c = cluster(&testutil::cluster("s", UpstreamProtocol::H2c));
    assert!(is_http2(
        &protocol_options(&h2c).expect("h2c protocol options")
    ));
    assert!(tls_context(&h2c).is_none());

    let h2 = cluster(&testutil::cluster("s", UpstreamProtocol::H2));
    assert!(is_http2(
        &protocol_options(&h2).expect("h2 protocol options")
    ));
    let tls = tls_context(&h2).expect("h2 tls");
    assert_eq!(
        tls.common_tls_context.map(|c| c.alpn_protocols),
        Some(vec!["h2".to_string()])
    );

    let tls1 = cluster(&testutil::cluster("s", UpstreamProtocol::Tls));
    assert!(protocol_options(&tls1).is_none());
    let tls = tls_context(&tls1).expect("tls");
    assert_eq!(
        tls.common_tls_context.map(|c| c.alpn_protocols),
        Some(Vec::new())
    );
}

#[test]
fn circuit_breakers_only_set_fields() {
    let mut c = testutil::cluster("s", UpstreamProtocol::Http1);
    assert_eq!(cluster(&c).circuit_breakers, None);

    c.circuit_breakers = CircuitBreakers {
        max_connections: Some(10),
        max_retries: Some(0),
        ..Default::default()
    };
    assert_eq!(
        cluster(&c).circuit_breakers,
        Some(cluster_v3::CircuitBreakers {
            thresholds: vec![cluster_v3::circuit_breakers::Thresholds {
                priority: core_v3::RoutingPriority::Default as i32,
                max_connections: Some(UInt32Value { value: 10 }),
                max_retries: Some(UInt32Value { value: 0 }),
                ..Default::default()
            }],
            ..Default::default()
        })
    );

    c.circuit_breakers = CircuitBreakers {
        max_pending_requests: Some(5),
        max_requests: Some(7),
        ..Default::default()
    };
    let t = &cluster(&c).circuit_breakers.expect("breakers").thresholds[0];
    assert_eq!(
        (
            t.max_connections,
            t.max_pending_requests,
            t.max_requests,
            t.max_retries
        ),
        (
            None,
            Some(UInt32Value { value: 5 }),
            Some(UInt32Value { value: 7 }),
            None
        )
    );
}

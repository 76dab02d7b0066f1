//! Golden tests for the cluster features HTTPProxy needs: load-balancing policies and slow
//! start, active HTTP and TCP health checks, upstream certificate validation and the idle connection timeout.

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream_http_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::envoy::r#type::v3 as type_v3;
use envoy_types::pb::google::protobuf::UInt32Value;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{
    HealthCheck, HealthChecker as Checker, LbPolicy, SlowStart, Timeout, UpstreamProtocol,
    UpstreamValidation,
};

use super::*;
use crate::testutil::{self, decode, seconds};

fn tls_context(c: &cluster_v3::Cluster) -> Option<tls_v3::UpstreamTlsContext> {
    match &c.transport_socket.as_ref()?.config_type {
        Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) => Some(decode(any)),
        None => panic!("tls transport socket without config"),
    }
}

fn protocol_options(c: &cluster_v3::Cluster) -> Option<upstream_http_v3::HttpProtocolOptions> {
    c.typed_extension_protocol_options
        .get(HTTP_PROTOCOL_OPTIONS)
        .map(decode)
}

#[test]
fn lb_policies() {
    use cluster_v3::cluster::LbPolicy as Envoy;
    for (policy, want) in [
        (LbPolicy::RoundRobin, Envoy::RoundRobin),
        (LbPolicy::LeastRequest, Envoy::LeastRequest),
        (LbPolicy::Random, Envoy::Random),
        (LbPolicy::RingHash, Envoy::RingHash),
    ] {
        let mut c = testutil::cluster("s", UpstreamProtocol::Http1);
        c.lb_policy = policy;
        let got = cluster(&c);
        assert_eq!(got.lb_policy, want as i32, "{policy:?}");
        // Nothing else changes: Envoy's defaults for each policy hold.
        assert_eq!(got.lb_config, None);
    }
}

#[test]
fn http_health_check() {
    use core_v3::health_check::{HealthChecker, HttpHealthCheck as EnvoyHttp};
    let hc = HealthCheck {
        checker: Checker::Http {
            path: "/healthz".into(),
            host: "health.local".into(),
        },
        interval: Duration::from_secs(10),
        timeout: Duration::from_millis(1500),
        unhealthy_threshold: 4,
        healthy_threshold: 1,
    };
    let want = |codec: type_v3::CodecClientType| core_v3::HealthCheck {
        timeout: Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 1,
            nanos: 500_000_000,
        }),
        interval: Some(seconds(10)),
        unhealthy_threshold: Some(UInt32Value { value: 4 }),
        healthy_threshold: Some(UInt32Value { value: 1 }),
        health_checker: Some(HealthChecker::HttpHealthCheck(EnvoyHttp {
            host: "health.local".into(),
            path: "/healthz".into(),
            codec_client_type: codec as i32,
            ..Default::default()
        })),
        ..Default::default()
    };
    for (protocol, codec) in [
        (UpstreamProtocol::Http1, type_v3::CodecClientType::Http1),
        (UpstreamProtocol::Tls, type_v3::CodecClientType::Http1),
        (UpstreamProtocol::H2, type_v3::CodecClientType::Http2),
        (UpstreamProtocol::H2c, type_v3::CodecClientType::Http2),
    ] {
        let mut c = testutil::cluster("s", protocol);
        c.health_check = Some(Box::new(hc.clone()));
        let got = cluster(&c);
        assert_eq!(got.health_checks, vec![want(codec)], "{protocol:?}");
        assert!(got.ignore_health_on_host_removal);
    }

    let plain = cluster(&testutil::cluster("s", UpstreamProtocol::Http1));
    assert!(plain.health_checks.is_empty());
    assert!(!plain.ignore_health_on_host_removal);
}

#[test]
fn tcp_health_check() {
    use core_v3::health_check::{HealthChecker, TcpHealthCheck as EnvoyTcp};
    let mut c = testutil::cluster("s", UpstreamProtocol::Http1);
    c.health_check = Some(Box::new(HealthCheck {
        interval: Duration::from_secs(3),
        ..HealthCheck::new(Checker::Tcp)
    }));
    let got = cluster(&c);
    assert_eq!(
        got.health_checks,
        vec![core_v3::HealthCheck {
            timeout: Some(seconds(2)),
            interval: Some(seconds(3)),
            unhealthy_threshold: Some(UInt32Value { value: 3 }),
            healthy_threshold: Some(UInt32Value { value: 2 }),
            health_checker: Some(HealthChecker::TcpHealthCheck(EnvoyTcp::default())),
            ..Default::default()
        }]
    );
    assert!(got.ignore_health_on_host_removal);
}

#[test]
fn slow_start_config() {
    use cluster_v3::cluster::{LbConfig, LeastRequestLbConfig, RoundRobinLbConfig};
    let slow_start = SlowStart {
        window: Duration::from_secs(30),
        aggression: 1.5,
        min_weight_percent: 20,
    };
    let want = Some(cluster_v3::cluster::SlowStartConfig {
        slow_start_window: Some(seconds(30)),
        aggression: Some(core_v3::RuntimeDouble {
            default_value: 1.5,
            runtime_key: "sesame.slowstart.aggression".into(),
        }),
        min_weight_percent: Some(type_v3::Percent { value: 20.0 }),
    });
    let with = |policy: LbPolicy| {
        let mut c = testutil::cluster("s", UpstreamProtocol::Http1);
        c.lb_policy = policy;
        c.slow_start = Some(Box::new(slow_start.clone()));
        cluster(&c).lb_config
    };
    assert_eq!(
        with(LbPolicy::RoundRobin),
        Some(LbConfig::RoundRobinLbConfig(RoundRobinLbConfig {
            slow_start_config: want.clone(),
        }))
    );
    assert_eq!(
        with(LbPolicy::LeastRequest),
        Some(LbConfig::LeastRequestLbConfig(LeastRequestLbConfig {
            slow_start_config: want,
            ..Default::default()
        }))
    );
    // The DAG refuses slow start with other policies; were one to slip through, Envoy gets none.
    assert_eq!(with(LbPolicy::RingHash), None);
    assert_eq!(with(LbPolicy::Random), None);
}

#[test]
fn health_check_defaults_are_contours() {
    let hc = HealthCheck::http();
    assert_eq!(
        hc.checker,
        Checker::Http {
            path: "/".into(),
            host: "sesame-envoy-healthcheck".into()
        }
    );
    assert_eq!(
        (
            hc.interval,
            hc.timeout,
            hc.unhealthy_threshold,
            hc.healthy_threshold
        ),
        (Duration::from_secs(5), Duration::from_secs(2), 3, 2)
    );
}

#[test]
fn upstream_validation_only_with_tls() {
    use tls_v3::common_tls_context::ValidationContextType;
    use tls_v3::subject_alt_name_matcher::SanType;
    let validation = UpstreamValidation {
        ca_pem: b"-----BEGIN CERTIFICATE-----\nCA\n".to_vec(),
        subject_names: vec!["backend.example.com".into(), "alt.example.com".into()],
        subject_uris: vec!["spiffe://cluster.local/ns/default/sa/backend".into()],
    };
    let want = tls_v3::CertificateValidationContext {
        trusted_ca: Some(core_v3::DataSource {
            specifier: Some(core_v3::data_source::Specifier::InlineBytes(
                validation.ca_pem.clone(),
            )),
            ..Default::default()
        }),
        match_typed_subject_alt_names: [
            (SanType::Dns, "backend.example.com"),
            (SanType::Dns, "alt.example.com"),
            (SanType::Uri, "spiffe://cluster.local/ns/default/sa/backend"),
        ]
        .into_iter()
        .map(|(san_type, name)| tls_v3::SubjectAltNameMatcher {
            san_type: san_type as i32,
            matcher: Some(matcher_v3::StringMatcher {
                match_pattern: Some(matcher_v3::string_matcher::MatchPattern::Exact(name.into())),
                ignore_case: false,
            }),
            oid: String::new(),
        })
        .collect(),
        ..Default::default()
    };
    for (protocol, alpn) in [
        (UpstreamProtocol::Tls, Vec::new()),
        (UpstreamProtocol::H2, vec!["h2".to_string()]),
    ] {
        let mut c = testutil::cluster("s", protocol);
        c.upstream_validation = Some(Box::new(validation.clone()));
        assert_eq!(
            tls_context(&cluster(&c)),
            Some(tls_v3::UpstreamTlsContext {
                common_tls_context: Some(tls_v3::CommonTlsContext {
                    alpn_protocols: alpn,
                    validation_context_type: Some(ValidationContextType::ValidationContext(
                        want.clone()
                    )),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            "{protocol:?}"
        );
    }
    // Without TLS there is nothing to validate.
    for protocol in [UpstreamProtocol::Http1, UpstreamProtocol::H2c] {
        let mut c = testutil::cluster("s", protocol);
        c.upstream_validation = Some(Box::new(validation.clone()));
        assert_eq!(cluster(&c).transport_socket, None, "{protocol:?}");
    }
}

#[test]
fn idle_connection_timeout() {
    use upstream_http_v3::http_protocol_options::{
        ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
    };
    let explicit = |config| {
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(config),
            },
        ))
    };
    let common = |d| {
        Some(core_v3::HttpProtocolOptions {
            idle_timeout: Some(d),
            ..Default::default()
        })
    };

    let mut c = testutil::cluster("s", UpstreamProtocol::Http1);
    c.idle_connection_timeout = Some(Timeout::After(Duration::from_secs(60)));
    assert_eq!(
        protocol_options(&cluster(&c)),
        Some(upstream_http_v3::HttpProtocolOptions {
            common_http_protocol_options: common(seconds(60)),
            upstream_protocol_options: explicit(ProtocolConfig::HttpProtocolOptions(
                core_v3::Http1ProtocolOptions::default()
            )),
            ..Default::default()
        })
    );

    for protocol in [UpstreamProtocol::H2, UpstreamProtocol::H2c] {
        let mut c = testutil::cluster("s", protocol);
        c.idle_connection_timeout = Some(Timeout::Infinite);
        assert_eq!(
            protocol_options(&cluster(&c)),
            Some(upstream_http_v3::HttpProtocolOptions {
                common_http_protocol_options: common(seconds(0)),
                upstream_protocol_options: explicit(ProtocolConfig::Http2ProtocolOptions(
                    core_v3::Http2ProtocolOptions::default()
                )),
                ..Default::default()
            }),
            "{protocol:?}"
        );
    }

    // Unset, HTTP/1.1 clusters carry no protocol options and HTTP/2 ones only the protocol.
    let plain = cluster(&testutil::cluster("s", UpstreamProtocol::Tls));
    assert!(plain.typed_extension_protocol_options.is_empty());
    let h2 = cluster(&testutil::cluster("s", UpstreamProtocol::H2));
    assert_eq!(protocol_options(&h2), Some(http2_options()));
}

//! Golden tests for the config file's upstream settings: the connect timeout, DNS clusters of
//! ExternalName Services and their lookup family, the TLS server name and the client
//! certificate presented over SDS.

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::endpoint::v3 as endpoint_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{DnsLookupFamily, ExternalName, UpstreamProtocol};

use super::*;
use crate::testutil::{self, decode, seconds};

fn tls_context(c: &cluster_v3::Cluster) -> tls_v3::UpstreamTlsContext {
    match c
        .transport_socket
        .as_ref()
        .and_then(|t| t.config_type.as_ref())
    {
        Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) => decode(any),
        None => panic!("no tls transport socket"),
    }
}

fn external(host: &str, family: DnsLookupFamily) -> sesame_dag::dag::Cluster {
    let mut c = testutil::cluster("ext", UpstreamProtocol::Http1);
    c.external_name = Some(Box::new(ExternalName {
        host: host.into(),
        dns_lookup_family: family,
    }));
    c
}

#[test]
fn the_connect_timeout_is_the_clusters() {
    let mut c = testutil::cluster("s", UpstreamProtocol::Http1);
    assert_eq!(cluster(&c).connect_timeout, Some(seconds(2)));
    c.connect_timeout = Duration::from_millis(1500);
    assert_eq!(
        cluster(&c).connect_timeout,
        Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 1,
            nanos: 500_000_000
        })
    );
}

#[test]
fn an_external_name_is_a_strict_dns_cluster_of_its_host_at_the_service_port() {
    use cluster_v3::cluster::{ClusterDiscoveryType, DiscoveryType};
    let got = cluster(&external("api.example.com", DnsLookupFamily::Auto));
    assert_eq!(
        got.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::StrictDns as i32))
    );
    assert_eq!(got.eds_cluster_config, None, "no EDS");
    assert_eq!(
        got.dns_lookup_family,
        cluster_v3::cluster::DnsLookupFamily::Auto as i32
    );
    let endpoint = endpoint_v3::Endpoint {
        address: Some(core_v3::Address {
            address: Some(core_v3::address::Address::SocketAddress(
                core_v3::SocketAddress {
                    address: "api.example.com".into(),
                    port_specifier: Some(core_v3::socket_address::PortSpecifier::PortValue(80)),
                    ..Default::default()
                },
            )),
        }),
        ..Default::default()
    };
    assert_eq!(
        got.load_assignment,
        Some(endpoint_v3::ClusterLoadAssignment {
            cluster_name: "default/ext/http".into(),
            endpoints: vec![endpoint_v3::LocalityLbEndpoints {
                lb_endpoints: vec![endpoint_v3::LbEndpoint {
                    host_identifier: Some(endpoint_v3::lb_endpoint::HostIdentifier::Endpoint(
                        endpoint
                    )),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    // Everything else is as for an EDS cluster.
    assert_eq!(got.connect_timeout, Some(seconds(2)));
    assert_eq!(got.alt_stat_name, "default_ext_80");
    assert_eq!(got.transport_socket, None);
}

#[test]
fn the_dns_lookup_family_and_logical_dns_for_all() {
    use cluster_v3::cluster::{ClusterDiscoveryType, DiscoveryType, DnsLookupFamily as Envoy};
    for (family, envoy, kind) in [
        (DnsLookupFamily::Auto, Envoy::Auto, DiscoveryType::StrictDns),
        (DnsLookupFamily::V4, Envoy::V4Only, DiscoveryType::StrictDns),
        (DnsLookupFamily::V6, Envoy::V6Only, DiscoveryType::StrictDns),
        (DnsLookupFamily::All, Envoy::All, DiscoveryType::LogicalDns),
    ] {
        let got = cluster(&external("api.example.com", family));
        assert_eq!(got.dns_lookup_family, envoy as i32, "{family:?}");
        assert_eq!(
            got.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(kind as i32)),
            "{family:?}"
        );
    }
    // An EDS cluster keeps Envoy's default family: the setting is for DNS clusters.
    let eds = cluster(&testutil::cluster("s", UpstreamProtocol::Http1));
    assert_eq!(eds.dns_lookup_family, Envoy::Auto as i32);
}

#[test]
fn tls_sends_the_server_name_and_presents_the_client_certificate_over_sds() {
    for (protocol, alpn) in [
        (UpstreamProtocol::Tls, vec![]),
        (UpstreamProtocol::H2, vec!["h2"]),
    ] {
        let mut c = external("api.example.com", DnsLookupFamily::Auto);
        c.protocol = protocol;
        c.sni = Some("api.example.com".into());
        c.client_certificate = Some("projectsesame/envoy-client/0123456789".into());
        let tls = tls_context(&cluster(&c));
        assert_eq!(tls.sni, "api.example.com");
        let common = tls.common_tls_context.expect("common context");
        assert_eq!(common.alpn_protocols, alpn);
        assert_eq!(
            common.tls_certificate_sds_secret_configs,
            [tls_v3::SdsSecretConfig {
                name: "projectsesame/envoy-client/0123456789".into(),
                sds_config: Some(crate::proto::ads_config_source()),
            }]
        );
        assert_eq!(common.validation_context_type, None);
    }
    // Without them, the TLS context is as before.
    let plain = tls_context(&cluster(&testutil::cluster("s", UpstreamProtocol::Tls)));
    assert_eq!(plain.sni, "");
    let common = plain.common_tls_context.expect("common context");
    assert!(common.tls_certificate_sds_secret_configs.is_empty());
}

#[test]
fn external_name_clusters_get_no_cluster_load_assignment() {
    let mut dag = sesame_dag::Dag::default();
    for c in [
        external("api.example.com", DnsLookupFamily::Auto),
        testutil::cluster("plain", UpstreamProtocol::Http1),
    ] {
        dag.clusters.insert(c.name.clone(), c);
    }
    let snapshot = sesame_dag::Snapshot::new();
    let eds = crate::endpoint::endpoints(&dag, &snapshot);
    assert_eq!(eds.keys().collect::<Vec<_>>(), ["default/plain/http"]);
    let services = [sesame_dag::NamespacedName::new("default", "ext")].into();
    assert!(testutil::service_endpoints(&dag, &snapshot, &services).is_empty());
}

//! Clusters (CDS): one cluster per Service port the DAG uses: fed by EDS, or for an
//! ExternalName Service, resolved by Envoy through DNS.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream_http_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::envoy::r#type::v3 as type_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::{
    CircuitBreakers, Cluster, DnsLookupFamily, ExternalName, HealthCheck, HealthChecker, LbPolicy,
    SlowStart, UpstreamProtocol, UpstreamValidation,
};

use crate::proto::{self, u32_value};

/// The key of the upstream HTTP protocol options in `typed_extension_protocol_options`.
pub const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// Every cluster of the DAG, encoded, by name.
pub fn clusters(dag: &Dag) -> BTreeMap<String, Any> {
    dag.clusters
        .iter()
        .map(|(name, c)| (name.clone(), proto::any(&cluster(c))))
        .collect()
}

/// A cluster with the upstream protocol, circuit breakers, load-balancing policy, health check,
/// upstream TLS and timeouts of the Service: fed over ADS by EDS, or for an ExternalName
/// Service, a DNS cluster of its external name.
pub fn cluster(c: &Cluster) -> cluster_v3::Cluster {
    let mut out = cluster_v3::Cluster {
        name: c.name.clone(),
        alt_stat_name: format!("{}_{}_{}", c.service.namespace, c.service.name, c.port),
        connect_timeout: Some(proto::duration(c.connect_timeout)),
        lb_policy: lb_policy(c.lb_policy) as i32,
        circuit_breakers: circuit_breakers(&c.circuit_breakers),
        ..Default::default()
    };
    match c.external_name.as_deref() {
        None => {
            out.cluster_discovery_type =
                Some(discovery_type(cluster_v3::cluster::DiscoveryType::Eds));
            out.eds_cluster_config = Some(cluster_v3::cluster::EdsClusterConfig {
                eds_config: Some(proto::ads_config_source()),
                service_name: c.eds_name.clone(),
            });
        }
        Some(external) => dns_discovery(&mut out, c, external),
    }
    if let Some(options) = protocol_options(c) {
        out.typed_extension_protocol_options
            .insert(HTTP_PROTOCOL_OPTIONS.to_string(), proto::any(&options));
    }
    match c.protocol {
        UpstreamProtocol::H2 => out.transport_socket = Some(upstream_tls(&["h2"], c)),
        UpstreamProtocol::Tls => out.transport_socket = Some(upstream_tls(&[], c)),
        UpstreamProtocol::Http1 | UpstreamProtocol::H2c => {}
    }
    if let Some(hc) = &c.health_check {
        out.health_checks = vec![health_check(hc, c.protocol)];
        // A host that leaves EDS is dropped at once, healthy or not (as Contour does).
        out.ignore_health_on_host_removal = true;
    }
    if let Some(slow_start) = &c.slow_start {
        out.lb_config = lb_config(c.lb_policy, slow_start);
    }
    if !c.targets.is_empty() {
        // Each Service of the cluster is a locality with its weight.
        out.common_lb_config = Some(cluster_v3::cluster::CommonLbConfig {
            locality_config_specifier: Some(
                cluster_v3::cluster::common_lb_config::LocalityConfigSpecifier::LocalityWeightedLbConfig(
                    Default::default(),
                ),
            ),
            ..Default::default()
        });
    }
    out
}

/// The runtime key Envoy reads slow start aggression from, when set (Contour's
/// `contour.slowstart.aggression`).
const AGGRESSION_RUNTIME_KEY: &str = "sesame.slowstart.aggression";

/// The round robin or least request configuration carrying the slow start; `None` for other
/// policies (the DAG never gives them a slow start).
fn lb_config(policy: LbPolicy, s: &SlowStart) -> Option<cluster_v3::cluster::LbConfig> {
    use cluster_v3::cluster::{LbConfig, LeastRequestLbConfig, RoundRobinLbConfig};
    let slow_start_config = Some(cluster_v3::cluster::SlowStartConfig {
        slow_start_window: Some(proto::duration(s.window)),
        aggression: Some(core_v3::RuntimeDouble {
            default_value: s.aggression,
            runtime_key: AGGRESSION_RUNTIME_KEY.to_string(),
        }),
        min_weight_percent: Some(type_v3::Percent {
            value: f64::from(s.min_weight_percent),
        }),
    });
    match policy {
        LbPolicy::RoundRobin => Some(LbConfig::RoundRobinLbConfig(RoundRobinLbConfig {
            slow_start_config,
        })),
        LbPolicy::LeastRequest => Some(LbConfig::LeastRequestLbConfig(LeastRequestLbConfig {
            slow_start_config,
            ..Default::default()
        })),
        LbPolicy::Random | LbPolicy::RingHash => None,
    }
}

fn discovery_type(
    kind: cluster_v3::cluster::DiscoveryType,
) -> cluster_v3::cluster::ClusterDiscoveryType {
    cluster_v3::cluster::ClusterDiscoveryType::Type(kind as i32)
}

/// Makes `out` a DNS cluster of the external name at the Service port: STRICT_DNS, or as
/// Contour, LOGICAL_DNS when both address families are asked for (one connection target per
/// name, not one host per address).
fn dns_discovery(out: &mut cluster_v3::Cluster, c: &Cluster, external: &ExternalName) {
    use cluster_v3::cluster::{DiscoveryType, DnsLookupFamily as Family};
    let (kind, family) = match external.dns_lookup_family {
        DnsLookupFamily::Auto => (DiscoveryType::StrictDns, Family::Auto),
        DnsLookupFamily::V4 => (DiscoveryType::StrictDns, Family::V4Only),
        DnsLookupFamily::V6 => (DiscoveryType::StrictDns, Family::V6Only),
        DnsLookupFamily::All => (DiscoveryType::LogicalDns, Family::All),
    };
    out.cluster_discovery_type = Some(discovery_type(kind));
    out.dns_lookup_family = family as i32;
    out.load_assignment = Some(crate::endpoint::host_load_assignment(
        &c.eds_name,
        &external.host,
        u32::try_from(c.port).unwrap_or_default(),
    ));
}

/// The Envoy load-balancing policy.
fn lb_policy(policy: LbPolicy) -> cluster_v3::cluster::LbPolicy {
    use cluster_v3::cluster::LbPolicy as Envoy;
    match policy {
        LbPolicy::RoundRobin => Envoy::RoundRobin,
        LbPolicy::LeastRequest => Envoy::LeastRequest,
        LbPolicy::Random => Envoy::Random,
        LbPolicy::RingHash => Envoy::RingHash,
    }
}

/// The upstream HTTP protocol options of a cluster, if it needs any: HTTP/2 for `h2` and `h2c`,
/// and the idle connection timeout (with HTTP/1.1 made explicit, as Envoy requires a protocol).
fn protocol_options(c: &Cluster) -> Option<upstream_http_v3::HttpProtocolOptions> {
    let http2 = matches!(c.protocol, UpstreamProtocol::H2 | UpstreamProtocol::H2c);
    if !http2 && c.idle_connection_timeout.is_none() {
        return None;
    }
    let mut options = if http2 {
        http2_options()
    } else {
        http1_options()
    };
    options.common_http_protocol_options =
        c.idle_connection_timeout
            .map(|idle| core_v3::HttpProtocolOptions {
                idle_timeout: Some(proto::timeout(idle)),
                ..Default::default()
            });
    Some(options)
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

/// Upstream protocol options that make Envoy speak HTTP/1.1 to the upstream (its default,
/// made explicit).
fn http1_options() -> upstream_http_v3::HttpProtocolOptions {
    use upstream_http_v3::http_protocol_options::{
        ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
    };
    upstream_http_v3::HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::HttpProtocolOptions(
                    core_v3::Http1ProtocolOptions::default(),
                )),
            },
        )),
        ..Default::default()
    }
}

/// A TLS transport socket to the upstream, offering these ALPN protocols, sending the cluster's
/// server name, presenting its client certificate (over SDS) and verifying the upstream's
/// certificate, each when the cluster has one.
fn upstream_tls(alpn: &[&str], c: &Cluster) -> core_v3::TransportSocket {
    use tls_v3::common_tls_context::ValidationContextType;
    let context = tls_v3::UpstreamTlsContext {
        common_tls_context: Some(tls_v3::CommonTlsContext {
            alpn_protocols: alpn.iter().map(|p| p.to_string()).collect(),
            tls_certificate_sds_secret_configs: c
                .client_certificate
                .iter()
                .map(|name| tls_v3::SdsSecretConfig {
                    name: name.clone(),
                    sds_config: Some(proto::ads_config_source()),
                })
                .collect(),
            validation_context_type: c
                .upstream_validation
                .as_deref()
                .map(|v| ValidationContextType::ValidationContext(validation_context(v))),
            ..Default::default()
        }),
        sni: c.sni.clone().unwrap_or_default(),
        ..Default::default()
    };
    proto::tls_transport_socket(&context)
}

/// The CA bundle (inline) and the DNS names or URIs, one of which the upstream's certificate
/// must carry.
pub fn validation_context(v: &UpstreamValidation) -> tls_v3::CertificateValidationContext {
    use tls_v3::subject_alt_name_matcher::SanType;
    tls_v3::CertificateValidationContext {
        trusted_ca: Some(core_v3::DataSource {
            specifier: Some(core_v3::data_source::Specifier::InlineBytes(
                v.ca_pem.clone(),
            )),
            ..Default::default()
        }),
        match_typed_subject_alt_names: (v.subject_names.iter().map(|n| (SanType::Dns, n)))
            .chain(v.subject_uris.iter().map(|u| (SanType::Uri, u)))
            .map(|(san_type, name)| tls_v3::SubjectAltNameMatcher {
                san_type: san_type as i32,
                matcher: Some(matcher_v3::StringMatcher {
                    match_pattern: Some(matcher_v3::string_matcher::MatchPattern::Exact(
                        name.clone(),
                    )),
                    ignore_case: false,
                }),
                oid: String::new(),
            })
            .collect(),
        ..Default::default()
    }
}

/// An active health check: HTTP (over HTTP/2 when the cluster speaks HTTP/2 to its hosts) or a
/// TCP connect.
pub fn health_check(hc: &HealthCheck, protocol: UpstreamProtocol) -> core_v3::HealthCheck {
    use core_v3::health_check::{
        HealthChecker as Envoy, HttpHealthCheck as EnvoyHttp, TcpHealthCheck as EnvoyTcp,
    };
    let checker = match &hc.checker {
        HealthChecker::Http { path, host } => {
            let codec = if matches!(protocol, UpstreamProtocol::H2 | UpstreamProtocol::H2c) {
                type_v3::CodecClientType::Http2
            } else {
                type_v3::CodecClientType::Http1
            };
            Envoy::HttpHealthCheck(EnvoyHttp {
                host: host.clone(),
                path: path.clone(),
                codec_client_type: codec as i32,
                ..Default::default()
            })
        }
        HealthChecker::Tcp => Envoy::TcpHealthCheck(EnvoyTcp::default()),
    };
    core_v3::HealthCheck {
        timeout: Some(proto::duration(hc.timeout)),
        interval: Some(proto::duration(hc.interval)),
        unhealthy_threshold: u32_value(hc.unhealthy_threshold),
        healthy_threshold: u32_value(hc.healthy_threshold),
        health_checker: Some(checker),
        ..Default::default()
    }
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
mod feature_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upstream_tests;

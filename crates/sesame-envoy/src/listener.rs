//! Listeners (LDS): `ingress_http`, `ingress_https` (only with secure virtual hosts) and the
//! static `stats-health` listener.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::accesslog::v3 as accesslog_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::access_loggers::file::v3 as file_v3;
use envoy_types::pb::envoy::extensions::filters::http::router::v3 as router_v3;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3 as tls_inspector_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::{SecureVirtualHost, TlsVersion};

use crate::route::{HTTP_ROUTE_CONFIG, https_route_config_name};
use crate::{TranslateConfig, proto};

/// The name of the plain-HTTP listener.
pub const HTTP_LISTENER: &str = "ingress_http";
/// The name of the HTTPS listener.
pub const HTTPS_LISTENER: &str = "ingress_https";
/// The name of the stats and readiness listener.
pub const STATS_LISTENER: &str = "stats-health";
/// The static cluster, defined by the bootstrap, that reaches Envoy's admin interface.
pub const ADMIN_CLUSTER: &str = "envoy-admin";
/// The only paths the stats listener answers, all with GET.
pub const STATS_PATHS: [&str; 3] = ["/ready", "/stats", "/stats/prometheus"];

const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";
const ROUTER_FILTER: &str = "envoy.filters.http.router";
const TLS_INSPECTOR: &str = "envoy.filters.listener.tls_inspector";
const FILE_ACCESS_LOG: &str = "envoy.access_loggers.file";

/// Every listener, encoded, by name: `ingress_http` and `stats-health` always, `ingress_https`
/// when the DAG has secure virtual hosts.
pub fn listeners(dag: &Dag, config: &TranslateConfig) -> BTreeMap<String, Any> {
    let mut out = BTreeMap::new();
    out.insert(
        HTTP_LISTENER.to_string(),
        proto::any(&http_listener(config)),
    );
    if let Some(https) = https_listener(dag, config) {
        out.insert(HTTPS_LISTENER.to_string(), proto::any(&https));
    }
    out.insert(
        STATS_LISTENER.to_string(),
        proto::any(&stats_listener(config)),
    );
    out
}

/// The plain-HTTP listener: one filter chain whose routes come from RDS `ingress_http`.
pub fn http_listener(config: &TranslateConfig) -> listener_v3::Listener {
    let hcm = http_connection_manager(HTTP_LISTENER, rds(HTTP_ROUTE_CONFIG.to_string()), true);
    listener_v3::Listener {
        name: HTTP_LISTENER.to_string(),
        address: Some(proto::listener_address(config.http_listener)),
        filter_chains: vec![listener_v3::FilterChain {
            filters: vec![hcm_filter(&hcm)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The HTTPS listener: TLS inspection, then one filter chain per secure virtual host chosen by
/// SNI, in hostname order. `None` when there is no secure virtual host.
pub fn https_listener(dag: &Dag, config: &TranslateConfig) -> Option<listener_v3::Listener> {
    if dag.https.is_empty() {
        return None;
    }
    let tls_inspector = listener_v3::ListenerFilter {
        name: TLS_INSPECTOR.to_string(),
        config_type: Some(listener_v3::listener_filter::ConfigType::TypedConfig(
            proto::any(&tls_inspector_v3::TlsInspector::default()),
        )),
        ..Default::default()
    };
    Some(listener_v3::Listener {
        name: HTTPS_LISTENER.to_string(),
        address: Some(proto::listener_address(config.https_listener)),
        listener_filters: vec![tls_inspector],
        filter_chains: dag.https.values().map(secure_filter_chain).collect(),
        ..Default::default()
    })
}

/// The filter chain of one secure virtual host: matched on SNI, terminating TLS with the
/// certificate served over SDS, routes from RDS `https/<hostname>`.
pub fn secure_filter_chain(vhost: &SecureVirtualHost) -> listener_v3::FilterChain {
    let hostname = &vhost.virtual_host.hostname;
    let filter_chain_match = if hostname == "*" {
        // Any SNI, or none: match on the protocol alone.
        listener_v3::FilterChainMatch {
            transport_protocol: "tls".to_string(),
            ..Default::default()
        }
    } else {
        listener_v3::FilterChainMatch {
            server_names: vec![hostname.clone()],
            ..Default::default()
        }
    };
    let hcm = http_connection_manager(HTTPS_LISTENER, rds(https_route_config_name(hostname)), true);
    listener_v3::FilterChain {
        filter_chain_match: Some(filter_chain_match),
        filters: vec![hcm_filter(&hcm)],
        transport_socket: Some(downstream_tls(vhost)),
        ..Default::default()
    }
}

/// The TLS context of a secure virtual host: certificate by SDS over ADS, its TLS versions, and
/// ALPN `h2`, `http/1.1`.
fn downstream_tls(vhost: &SecureVirtualHost) -> core_v3::TransportSocket {
    let context = tls_v3::DownstreamTlsContext {
        common_tls_context: Some(tls_v3::CommonTlsContext {
            tls_params: Some(tls_v3::TlsParameters {
                tls_minimum_protocol_version: tls_protocol(vhost.min_tls_version) as i32,
                tls_maximum_protocol_version: tls_protocol(vhost.max_tls_version) as i32,
                ..Default::default()
            }),
            tls_certificate_sds_secret_configs: vec![tls_v3::SdsSecretConfig {
                name: vhost.secret.clone(),
                sds_config: Some(proto::ads_config_source()),
            }],
            alpn_protocols: vec!["h2".to_string(), "http/1.1".to_string()],
            ..Default::default()
        }),
        ..Default::default()
    };
    proto::tls_transport_socket(&context)
}

/// Envoy's name for a TLS version.
fn tls_protocol(version: TlsVersion) -> tls_v3::tls_parameters::TlsProtocol {
    use tls_v3::tls_parameters::TlsProtocol;
    match version {
        TlsVersion::V1_1 => TlsProtocol::TlSv11,
        TlsVersion::V1_2 => TlsProtocol::TlSv12,
        TlsVersion::V1_3 => TlsProtocol::TlSv13,
    }
}

/// The stats and readiness listener: GET on exactly `/ready`, `/stats` and `/stats/prometheus`
/// goes to Envoy's admin interface; every other request gets a 404.
pub fn stats_listener(config: &TranslateConfig) -> listener_v3::Listener {
    let hcm = http_connection_manager(
        "stats",
        hcm_v3::http_connection_manager::RouteSpecifier::RouteConfig(admin_routes()),
        false,
    );
    listener_v3::Listener {
        name: STATS_LISTENER.to_string(),
        address: Some(proto::listener_address(config.stats_listener)),
        filter_chains: vec![listener_v3::FilterChain {
            filters: vec![hcm_filter(&hcm)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The inline routes of the stats listener.
fn admin_routes() -> route_v3::RouteConfiguration {
    use envoy_types::pb::envoy::config::route::v3::route::Action;
    let routes = STATS_PATHS
        .iter()
        .map(|path| route_v3::Route {
            r#match: Some(route_v3::RouteMatch {
                path_specifier: Some(route_v3::route_match::PathSpecifier::Path(path.to_string())),
                headers: vec![route_v3::HeaderMatcher {
                    name: ":method".to_string(),
                    header_match_specifier: Some(
                        route_v3::header_matcher::HeaderMatchSpecifier::StringMatch(
                            matcher_v3::StringMatcher {
                                match_pattern: Some(
                                    matcher_v3::string_matcher::MatchPattern::Exact(
                                        "GET".to_string(),
                                    ),
                                ),
                                ignore_case: false,
                            },
                        ),
                    ),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            action: Some(Action::Route(route_v3::RouteAction {
                cluster_specifier: Some(route_v3::route_action::ClusterSpecifier::Cluster(
                    ADMIN_CLUSTER.to_string(),
                )),
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    route_v3::RouteConfiguration {
        name: STATS_LISTENER.to_string(),
        virtual_hosts: vec![route_v3::VirtualHost {
            name: "backend".to_string(),
            domains: vec!["*".to_string()],
            routes,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Routes fetched over RDS on the ADS stream.
fn rds(route_config_name: String) -> hcm_v3::http_connection_manager::RouteSpecifier {
    hcm_v3::http_connection_manager::RouteSpecifier::Rds(hcm_v3::Rds {
        config_source: Some(proto::ads_config_source()),
        route_config_name,
    })
}

/// An HTTP connection manager with the router filter, the client address taken from the
/// connection, normalized paths and, when `access_log` is set, an access log on stdout.
pub fn http_connection_manager(
    stat_prefix: &str,
    routes: hcm_v3::http_connection_manager::RouteSpecifier,
    access_log: bool,
) -> hcm_v3::HttpConnectionManager {
    hcm_v3::HttpConnectionManager {
        stat_prefix: stat_prefix.to_string(),
        route_specifier: Some(routes),
        http_filters: vec![hcm_v3::HttpFilter {
            name: ROUTER_FILTER.to_string(),
            config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(proto::any(
                &router_v3::Router::default(),
            ))),
            ..Default::default()
        }],
        use_remote_address: proto::bool_value(true),
        normalize_path: proto::bool_value(true),
        merge_slashes: true,
        access_log: if access_log {
            vec![stdout_access_log()]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// A file access log to `/dev/stdout` in Envoy's default format.
fn stdout_access_log() -> accesslog_v3::AccessLog {
    let file = file_v3::FileAccessLog {
        path: "/dev/stdout".to_string(),
        access_log_format: None,
    };
    accesslog_v3::AccessLog {
        name: FILE_ACCESS_LOG.to_string(),
        config_type: Some(accesslog_v3::access_log::ConfigType::TypedConfig(
            proto::any(&file),
        )),
        ..Default::default()
    }
}

/// The network filter holding an HTTP connection manager.
fn hcm_filter(hcm: &hcm_v3::HttpConnectionManager) -> listener_v3::Filter {
    listener_v3::Filter {
        name: HCM_FILTER.to_string(),
        config_type: Some(listener_v3::filter::ConfigType::TypedConfig(proto::any(
            hcm,
        ))),
    }
}

#[cfg(test)]
mod tests;

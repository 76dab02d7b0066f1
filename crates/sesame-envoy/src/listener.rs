//! Listeners (LDS): `ingress_http`, `ingress_https` (only with secure virtual hosts or TLS
//! passthrough hosts), the static `stats-health` listener and, when configured, the read-only
//! admin listener `envoy-admin`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use envoy_types::pb::envoy::config::accesslog::v3 as accesslog_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3 as tls_inspector_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3 as tcp_proxy_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::{
    ClientValidation, ForwardClientCertificate, SecureVirtualHost, TcpProxy, TlsVersion,
};

use crate::accesslog::file_access_log;
use crate::route::{
    FALLBACK_ROUTE_CONFIG, HTTP_ROUTE_CONFIG, fallback_virtual_hosts, https_route_config_name,
};
use crate::{ListenerSettings, TranslateConfig, http_filter, proto};

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
/// The name of the read-only admin listener (`network.admin-port`).
pub const ADMIN_LISTENER: &str = "envoy-admin";
/// The only paths the admin listener answers, all with GET: Envoy's read-only admin pages.
pub const ADMIN_PATHS: [&str; 11] = [
    "/certs",
    "/clusters",
    "/listeners",
    "/config_dump",
    "/memory",
    "/ready",
    "/runtime",
    "/server_info",
    "/stats",
    "/stats/prometheus",
    "/stats/recentlookups",
];

const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";
const TCP_PROXY_FILTER: &str = "envoy.filters.network.tcp_proxy";
pub(crate) const TLS_INSPECTOR: &str = "envoy.filters.listener.tls_inspector";

/// Every listener, encoded, by name: `ingress_http` and `stats-health` always, `ingress_https`
/// when the DAG has secure virtual hosts or passthrough hosts, `envoy-admin` when an admin
/// port is configured.
pub fn listeners(dag: &Dag, config: &TranslateConfig) -> BTreeMap<String, Any> {
    let config = &with_rate_limit_timeout(dag, config);
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
    if let Some(port) = config.listener.admin_port {
        out.insert(
            ADMIN_LISTENER.to_string(),
            proto::any(&admin_listener(port)),
        );
    }
    out.extend(crate::gateway::listeners(dag, config));
    out
}

/// `config` with the timeout of rate limit calls taken from the rate limit service's cluster in
/// `dag` (its ExtensionService's `timeoutPolicy.response`, as Contour); Envoy's default while
/// the cluster is absent or sets none.
fn with_rate_limit_timeout<'c>(
    dag: &Dag,
    config: &'c TranslateConfig,
) -> std::borrow::Cow<'c, TranslateConfig> {
    let Some(rate_limit) = &config.listener.rate_limit else {
        return std::borrow::Cow::Borrowed(config);
    };
    let timeout = dag
        .clusters
        .get(&rate_limit.cluster)
        .and_then(|c| c.response_timeout);
    if timeout == rate_limit.timeout {
        return std::borrow::Cow::Borrowed(config);
    }
    let mut config = config.clone();
    if let Some(rate_limit) = config.listener.rate_limit.as_mut() {
        rate_limit.timeout = timeout;
    }
    std::borrow::Cow::Owned(config)
}

/// Which ingress listener a filter belongs to: its stat prefix and its access log.
#[derive(Clone, Copy)]
pub(crate) enum Ingress {
    Http,
    Https,
}

impl Ingress {
    fn stat_prefix(self) -> &'static str {
        match self {
            Ingress::Http => HTTP_LISTENER,
            Ingress::Https => HTTPS_LISTENER,
        }
    }

    fn access_log(self, settings: &ListenerSettings) -> accesslog_v3::AccessLog {
        let log = &settings.access_log;
        let path = match self {
            Ingress::Http => &log.http_path,
            Ingress::Https => &log.https_path,
        };
        file_access_log(path, &log.format)
    }
}

/// The listeners that Envoys on incremental xDS get instead of the same-named ones of
/// [`listeners`]: `ingress_http` routing by scope ([`scoped_http_listener`]).
pub fn delta_listeners(dag: &Dag, config: &TranslateConfig) -> BTreeMap<String, Any> {
    let config = with_rate_limit_timeout(dag, config);
    BTreeMap::from([(
        HTTP_LISTENER.to_string(),
        proto::any(&scoped_http_listener(&config)),
    )])
}

/// The plain-HTTP listener: one filter chain whose routes come from RDS `ingress_http`.
pub fn http_listener(config: &TranslateConfig) -> listener_v3::Listener {
    let hcm = ingress_connection_manager(
        Ingress::Http,
        rds(HTTP_ROUTE_CONFIG.to_string()),
        &config.listener,
    );
    plain_http_listener(config, &hcm)
}

/// [`http_listener`] as Envoys on incremental xDS get it: its routes come from the scopes of
/// `ingress_http` (SRDS), keyed by what the Lua filter first in its chain makes of the host
/// (see [`crate::scope`]).
pub fn scoped_http_listener(config: &TranslateConfig) -> listener_v3::Listener {
    let mut hcm = ingress_connection_manager(
        Ingress::Http,
        crate::scope::scoped_routes(),
        &config.listener,
    );
    hcm.http_filters.insert(0, crate::scope::scope_key_filter());
    // Envoy decides upgrades on the route it finds before any filter runs: for scoped routes
    // not the request's route yet. So this listener lets WebSocket upgrades through, and the
    // Lua filter refuses them on the routes that do not accept them.
    hcm.upgrade_configs = vec![hcm_v3::http_connection_manager::UpgradeConfig {
        upgrade_type: "websocket".to_string(),
        ..Default::default()
    }];
    plain_http_listener(config, &hcm)
}

/// The listener `ingress_http` on its address, with this connection manager.
fn plain_http_listener(
    config: &TranslateConfig,
    hcm: &hcm_v3::HttpConnectionManager,
) -> listener_v3::Listener {
    listener_v3::Listener {
        name: HTTP_LISTENER.to_string(),
        address: Some(proto::listener_address(config.http_listener)),
        filter_chains: vec![listener_v3::FilterChain {
            filters: vec![hcm_filter(hcm)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The HTTPS listener: TLS inspection, then the [`https_filter_chains`]. `None` when there is
/// no filter chain (Envoy rejects a listener without one).
pub fn https_listener(dag: &Dag, config: &TranslateConfig) -> Option<listener_v3::Listener> {
    let filter_chains = https_filter_chains(dag, &config.listener);
    if filter_chains.is_empty() {
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
        filter_chains,
        ..Default::default()
    })
}

/// What the TLS connections for one SNI hostname lead to.
enum SniTarget<'a> {
    /// A secure virtual host: TLS is terminated.
    Terminated(&'a SecureVirtualHost),
    /// A passthrough host: the encrypted connection goes to TCP backends.
    Passthrough(&'a TcpProxy),
}

/// The filter chains of the HTTPS listener: one per SNI hostname, secure or passthrough, in
/// hostname order, then the fallback certificate's chain, if any. Every chain has a match of
/// its own, as Envoy requires: a hostname both secure and passthrough gets the secure virtual
/// host's chain only, a TCP proxy without clusters gets none, and the fallback chain (TLS
/// without SNI) exists only when no `*` host, whose chain matches the same, does (see
/// [`fallback_virtual_hosts`]).
pub fn https_filter_chains(
    dag: &Dag,
    settings: &ListenerSettings,
) -> Vec<listener_v3::FilterChain> {
    let mut targets: BTreeMap<&str, SniTarget<'_>> = dag
        .passthrough
        .iter()
        .map(|(hostname, proxy)| (hostname.as_str(), SniTarget::Passthrough(proxy)))
        .collect();
    targets.extend(
        dag.https
            .iter()
            .map(|(hostname, vhost)| (hostname.as_str(), SniTarget::Terminated(vhost))),
    );
    let mut chains: Vec<_> = targets
        .into_iter()
        .filter_map(|(hostname, target)| match target {
            SniTarget::Terminated(vhost) => secure_filter_chain(vhost, settings),
            SniTarget::Passthrough(proxy) => passthrough_filter_chain(hostname, proxy, settings),
        })
        .collect();
    chains.extend(fallback_filter_chain(dag, settings));
    chains
}

/// The match of the filter chain for one SNI hostname: the name itself, or for `*` any TLS
/// connection, with any SNI or none.
fn sni_match(hostname: &str) -> listener_v3::FilterChainMatch {
    if hostname == "*" {
        tls_without_server_names()
    } else {
        listener_v3::FilterChainMatch {
            server_names: vec![hostname.to_string()],
            ..Default::default()
        }
    }
}

/// A match on the transport protocol alone: any TLS connection the other chains do not take,
/// including those without SNI.
fn tls_without_server_names() -> listener_v3::FilterChainMatch {
    listener_v3::FilterChainMatch {
        transport_protocol: "tls".to_string(),
        ..Default::default()
    }
}

/// The filter chain of one secure virtual host: matched on SNI, terminating TLS with the
/// certificate served over SDS, then routes from RDS `https/<hostname>`, or with a TCP proxy the
/// decrypted connection to its clusters (`None` when it has no cluster).
pub fn secure_filter_chain(
    vhost: &SecureVirtualHost,
    settings: &ListenerSettings,
) -> Option<listener_v3::FilterChain> {
    let hostname = &vhost.virtual_host.hostname;
    let filter = match &vhost.tcp_proxy {
        Some(proxy) => tcp_proxy_filter(proxy, settings)?,
        None => {
            let mut hcm = ingress_connection_manager(
                Ingress::Https,
                rds(https_route_config_name(hostname)),
                settings,
            );
            if let Some(validation) = &vhost.client_validation {
                forward_client_certificate(&mut hcm, &validation.forward);
            }
            if let Some(jwt) = crate::jwt::jwt_authn_filter(&vhost.jwt_providers) {
                crate::jwt::insert_filter(&mut hcm.http_filters, jwt);
            }
            if let Some(auth) = &vhost.authorization {
                // After the filters that may refuse the request without asking the
                // authorization server (JWT verification included), before the global rate
                // limit (unauthorized requests are not counted) and the router.
                let at = hcm
                    .http_filters
                    .iter()
                    .position(|f| f.name == crate::global_rate_limit::RATE_LIMIT_FILTER)
                    .unwrap_or(hcm.http_filters.len().saturating_sub(1));
                let filter = crate::ext_authz::ext_authz_filter(auth);
                hcm.http_filters.insert(at, filter);
            }
            hcm_filter(&hcm)
        }
    };
    let alpn = vhost.tcp_proxy.is_none();
    Some(listener_v3::FilterChain {
        filter_chain_match: Some(sni_match(hostname)),
        filters: vec![filter],
        transport_socket: Some(downstream_tls(vhost, alpn, &settings.cipher_suites)),
        ..Default::default()
    })
}

/// The filter chain of one passthrough host: matched on SNI, the still-encrypted connection
/// proxied to the clusters (`None` when there is none).
pub fn passthrough_filter_chain(
    hostname: &str,
    proxy: &TcpProxy,
    settings: &ListenerSettings,
) -> Option<listener_v3::FilterChain> {
    Some(listener_v3::FilterChain {
        filter_chain_match: Some(sni_match(hostname)),
        filters: vec![tcp_proxy_filter(proxy, settings)?],
        ..Default::default()
    })
}

/// The filter chain for TLS clients that send no SNI: terminating TLS with
/// [`Dag::fallback_secret`] and serving the routes of RDS `ingress_fallbackcert`. Its TLS
/// versions are the strictest minimum and the highest maximum of the hosts it serves. `None`
/// when [`fallback_virtual_hosts`] is empty.
pub fn fallback_filter_chain(
    dag: &Dag,
    settings: &ListenerSettings,
) -> Option<listener_v3::FilterChain> {
    let secret = dag.fallback_secret.as_ref()?;
    let vhosts = fallback_virtual_hosts(dag);
    let min = vhosts.iter().map(|v| v.min_tls_version).max()?;
    let max = vhosts.iter().map(|v| v.max_tls_version).max()?;
    let hcm = ingress_connection_manager(
        Ingress::Https,
        rds(FALLBACK_ROUTE_CONFIG.to_string()),
        settings,
    );
    let params = TlsParams {
        min,
        max,
        cipher_suites: &settings.cipher_suites,
    };
    let context = tls_v3::DownstreamTlsContext {
        common_tls_context: Some(common_tls_context(secret, &params, true)),
        ..Default::default()
    };
    Some(listener_v3::FilterChain {
        filter_chain_match: Some(tls_without_server_names()),
        filters: vec![hcm_filter(&hcm)],
        transport_socket: Some(proto::tls_transport_socket(&context)),
        ..Default::default()
    })
}

/// The TLS context of a secure virtual host: certificate by SDS over ADS, its TLS versions,
/// the cipher suites, client certificate verification if it has any, and when `alpn` is set
/// ALPN `h2`, `http/1.1` (a TCP proxy offers none: its backend chooses the protocol).
fn downstream_tls(
    vhost: &SecureVirtualHost,
    alpn: bool,
    cipher_suites: &[String],
) -> core_v3::TransportSocket {
    let params = TlsParams {
        min: vhost.min_tls_version,
        max: vhost.max_tls_version,
        cipher_suites,
    };
    let common = common_tls_context(&vhost.secret, &params, alpn);
    let context = downstream_tls_context(common, vhost.client_validation.as_deref());
    proto::tls_transport_socket(&context)
}

/// A downstream TLS context of `common`, verifying client certificates as `validation` says
/// when there is one: the validation context, and a client certificate required unless
/// `optional`.
pub(crate) fn downstream_tls_context(
    mut common: tls_v3::CommonTlsContext,
    validation: Option<&ClientValidation>,
) -> tls_v3::DownstreamTlsContext {
    let mut context = tls_v3::DownstreamTlsContext::default();
    if let Some(validation) = validation {
        common.validation_context_type = Some(
            tls_v3::common_tls_context::ValidationContextType::ValidationContext(
                validation_context(validation),
            ),
        );
        context.require_client_certificate = proto::bool_value(!validation.optional);
    }
    context.common_tls_context = Some(common);
    context
}

/// The TLS parameters of a downstream TLS context.
pub(crate) struct TlsParams<'a> {
    pub(crate) min: TlsVersion,
    pub(crate) max: TlsVersion,
    /// Empty leaves Envoy's own list.
    pub(crate) cipher_suites: &'a [String],
}

/// A TLS context serving the certificate `secret` by SDS over ADS with these TLS versions and
/// cipher suites and, when `alpn` is set, ALPN `h2`, `http/1.1`.
pub(crate) fn common_tls_context(
    secret: &str,
    params: &TlsParams<'_>,
    alpn: bool,
) -> tls_v3::CommonTlsContext {
    tls_v3::CommonTlsContext {
        tls_params: Some(tls_v3::TlsParameters {
            tls_minimum_protocol_version: tls_protocol(params.min) as i32,
            tls_maximum_protocol_version: tls_protocol(params.max) as i32,
            cipher_suites: params.cipher_suites.to_vec(),
            ..Default::default()
        }),
        tls_certificate_sds_secret_configs: vec![tls_v3::SdsSecretConfig {
            name: secret.to_string(),
            sds_config: Some(proto::ads_config_source()),
        }],
        alpn_protocols: if alpn {
            vec!["h2".to_string(), "http/1.1".to_string()]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// How client certificates are verified: against the CA bundle and the revocation list, both
/// inline; with `skip_verification` a certificate that does not verify is accepted. A revocation
/// list without a CA bundle is left out: with no trusted CA no chain is verified, so there is
/// nothing to check revocation along.
fn validation_context(validation: &ClientValidation) -> tls_v3::CertificateValidationContext {
    use tls_v3::certificate_validation_context::TrustChainVerification;
    let inline = |bytes: &[u8]| core_v3::DataSource {
        specifier: Some(core_v3::data_source::Specifier::InlineBytes(bytes.to_vec())),
        ..Default::default()
    };
    let has_ca = !validation.ca_pem.is_empty();
    tls_v3::CertificateValidationContext {
        trusted_ca: has_ca.then(|| inline(&validation.ca_pem)),
        crl: validation.crl_pem.as_deref().filter(|_| has_ca).map(inline),
        only_verify_leaf_cert_crl: validation.crl_only_leaf,
        trust_chain_verification: if validation.skip_verification {
            TrustChainVerification::AcceptUntrusted as i32
        } else {
            TrustChainVerification::VerifyTrustChain as i32
        },
        ..Default::default()
    }
}

/// Passes the chosen details of a verified client certificate upstream in
/// `x-forwarded-client-cert`, replacing any the client sent. Forwarding nothing keeps Envoy's
/// default: the header is removed.
fn forward_client_certificate(
    hcm: &mut hcm_v3::HttpConnectionManager,
    forward: &ForwardClientCertificate,
) {
    use hcm_v3::http_connection_manager::{ForwardClientCertDetails, SetCurrentClientCertDetails};
    if !forward.any() {
        return;
    }
    hcm.forward_client_cert_details = ForwardClientCertDetails::SanitizeSet as i32;
    hcm.set_current_client_cert_details = Some(SetCurrentClientCertDetails {
        subject: proto::bool_value(forward.subject),
        cert: forward.cert,
        chain: forward.chain,
        dns: forward.dns,
        uri: forward.uri,
        ..Default::default()
    });
}

/// The network filter proxying whole connections to the clusters of `proxy`: one cluster
/// directly, several by weight. `None` when there is no cluster.
fn tcp_proxy_filter(proxy: &TcpProxy, settings: &ListenerSettings) -> Option<listener_v3::Filter> {
    tcp_proxy_filter_named(proxy, Ingress::Https.stat_prefix(), settings)
}

/// [`tcp_proxy_filter`] with its own stat prefix (a Gateway listener's name); the access log is
/// `ingress_https`'s.
pub(crate) fn tcp_proxy_filter_named(
    proxy: &TcpProxy,
    stat_prefix: &str,
    settings: &ListenerSettings,
) -> Option<listener_v3::Filter> {
    let tcp_proxy = tcp_proxy_v3::TcpProxy {
        stat_prefix: stat_prefix.to_string(),
        cluster_specifier: Some(tcp_proxy_clusters(proxy)?),
        access_log: vec![Ingress::Https.access_log(settings)],
        ..Default::default()
    };
    Some(listener_v3::Filter {
        name: TCP_PROXY_FILTER.to_string(),
        config_type: Some(listener_v3::filter::ConfigType::TypedConfig(proto::any(
            &tcp_proxy,
        ))),
    })
}

/// The clusters of a TCP proxy. Envoy requires every weight of a TCP proxy to be at least 1,
/// so clusters of weight 0 are left out (they get no traffic), and when every weight is 0 each
/// cluster gets 1, an even split as for routes. One cluster left is named directly.
fn tcp_proxy_clusters(proxy: &TcpProxy) -> Option<tcp_proxy_v3::tcp_proxy::ClusterSpecifier> {
    use tcp_proxy_v3::tcp_proxy::weighted_cluster::ClusterWeight;
    use tcp_proxy_v3::tcp_proxy::{ClusterSpecifier, WeightedCluster};
    let all_zero = proxy.clusters.iter().all(|c| c.weight == 0);
    let weighted: Vec<ClusterWeight> = proxy
        .clusters
        .iter()
        .filter(|c| all_zero || c.weight > 0)
        .map(|c| ClusterWeight {
            name: c.name.clone(),
            weight: if all_zero { 1 } else { c.weight },
            ..Default::default()
        })
        .collect();
    match weighted.as_slice() {
        [] => None,
        [one] => Some(ClusterSpecifier::Cluster(one.name.clone())),
        _ => Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: weighted,
        })),
    }
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
    admin_proxy_listener(STATS_LISTENER, "stats", config.stats_listener, &STATS_PATHS)
}

/// The read-only admin listener on 127.0.0.1:`port`: GET on exactly one of [`ADMIN_PATHS`]
/// (query strings allowed) goes to Envoy's admin interface; every other request, and every
/// other method, gets a 404.
pub fn admin_listener(port: u16) -> listener_v3::Listener {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    admin_proxy_listener(ADMIN_LISTENER, ADMIN_LISTENER, address, &ADMIN_PATHS)
}

/// A listener named `name` on `address` that passes GET requests for exactly `paths` to
/// Envoy's admin interface, with no access log and none of the ingress settings.
fn admin_proxy_listener(
    name: &str,
    stat_prefix: &str,
    address: SocketAddr,
    paths: &[&str],
) -> listener_v3::Listener {
    let hcm = http_connection_manager(
        stat_prefix,
        hcm_v3::http_connection_manager::RouteSpecifier::RouteConfig(admin_routes(name, paths)),
    );
    listener_v3::Listener {
        name: name.to_string(),
        address: Some(proto::listener_address(address)),
        filter_chains: vec![listener_v3::FilterChain {
            filters: vec![hcm_filter(&hcm)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The inline routes `name` of an admin proxy listener: GET on exactly one of `paths` goes to
/// the admin cluster.
fn admin_routes(name: &str, paths: &[&str]) -> route_v3::RouteConfiguration {
    use envoy_types::pb::envoy::config::route::v3::route::Action;
    let routes = paths
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
        name: name.to_string(),
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
pub(crate) fn rds(route_config_name: String) -> hcm_v3::http_connection_manager::RouteSpecifier {
    hcm_v3::http_connection_manager::RouteSpecifier::Rds(hcm_v3::Rds {
        config_source: Some(proto::ads_config_source()),
        route_config_name,
    })
}

/// The HTTP connection manager of an ingress filter chain: [`http_connection_manager`] with
/// its listener's stat prefix and access log, the configured trusted hops and timeouts, and the
/// filters user policies configure ([`http_filter::ingress_filters`]).
pub(crate) fn ingress_connection_manager(
    ingress: Ingress,
    routes: hcm_v3::http_connection_manager::RouteSpecifier,
    settings: &ListenerSettings,
) -> hcm_v3::HttpConnectionManager {
    let timeout = |t: &Option<sesame_dag::dag::Timeout>| t.map(proto::timeout);
    let timeouts = &settings.timeouts;
    let idle_timeout = timeout(&timeouts.connection_idle_timeout);
    let max_connection_duration = timeout(&timeouts.max_connection_duration);
    let common_http_protocol_options = (idle_timeout.is_some()
        || max_connection_duration.is_some())
    .then(|| core_v3::HttpProtocolOptions {
        idle_timeout,
        max_connection_duration,
        ..Default::default()
    });
    hcm_v3::HttpConnectionManager {
        access_log: vec![ingress.access_log(settings)],
        xff_num_trusted_hops: settings.num_trusted_hops,
        request_timeout: timeout(&timeouts.request_timeout),
        stream_idle_timeout: timeout(&timeouts.stream_idle_timeout),
        delayed_close_timeout: timeout(&timeouts.delayed_close_timeout),
        drain_timeout: timeout(&timeouts.connection_shutdown_grace_period),
        common_http_protocol_options,
        http_filters: ingress_filters(settings),
        ..http_connection_manager(ingress.stat_prefix(), routes)
    }
}

/// [`http_filter::ingress_filters`], with the global rate limit filter just before the router
/// when a rate limit service is configured.
fn ingress_filters(settings: &ListenerSettings) -> Vec<hcm_v3::HttpFilter> {
    let mut filters = http_filter::ingress_filters();
    if let Some(rate_limit) = &settings.rate_limit {
        let router = filters.len().saturating_sub(1);
        filters.insert(
            router,
            crate::global_rate_limit::rate_limit_filter(rate_limit),
        );
    }
    filters
}

/// An HTTP connection manager with the router filter, the client address taken from the
/// connection and normalized paths.
pub fn http_connection_manager(
    stat_prefix: &str,
    routes: hcm_v3::http_connection_manager::RouteSpecifier,
) -> hcm_v3::HttpConnectionManager {
    hcm_v3::HttpConnectionManager {
        stat_prefix: stat_prefix.to_string(),
        route_specifier: Some(routes),
        http_filters: http_filter::router_only(),
        use_remote_address: proto::bool_value(true),
        normalize_path: proto::bool_value(true),
        merge_slashes: true,
        ..Default::default()
    }
}

/// The network filter holding an HTTP connection manager.
pub fn hcm_filter(hcm: &hcm_v3::HttpConnectionManager) -> listener_v3::Filter {
    listener_v3::Filter {
        name: HCM_FILTER.to_string(),
        config_type: Some(listener_v3::filter::ConfigType::TypedConfig(proto::any(
            hcm,
        ))),
    }
}

#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

//! Golden tests for the TLS features HTTPProxy needs on `ingress_https`: TLS passthrough,
//! terminated TCP proxying, client certificate verification and the fallback certificate.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3 as tcp_proxy_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use hcm_v3::http_connection_manager::{
    ForwardClientCertDetails, RouteSpecifier, SetCurrentClientCertDetails,
};
use pretty_assertions::assert_eq;
use sesame_dag::dag::{ClientValidation, ForwardClientCertificate, TcpProxy, WeightedCluster};
use tcp_proxy_v3::tcp_proxy::ClusterSpecifier;
use tls_v3::certificate_validation_context::TrustChainVerification;

use super::*;
use crate::testutil::{decode, secure_vhost};

fn proxy(clusters: &[(&str, u32)]) -> TcpProxy {
    TcpProxy {
        clusters: clusters
            .iter()
            .map(|(name, weight)| WeightedCluster::new(*name, *weight))
            .collect(),
    }
}

fn typed<T: prost::Message + prost::Name + Default>(filter: &listener_v3::Filter) -> T {
    match &filter.config_type {
        Some(listener_v3::filter::ConfigType::TypedConfig(any)) => decode(any),
        other => panic!("expected a typed config, got {other:?}"),
    }
}

fn only_filter(chain: &listener_v3::FilterChain) -> &listener_v3::Filter {
    assert_eq!(chain.filters.len(), 1, "{chain:?}");
    &chain.filters[0]
}

fn tcp_proxy(chain: &listener_v3::FilterChain) -> tcp_proxy_v3::TcpProxy {
    let filter = only_filter(chain);
    assert_eq!(filter.name, "envoy.filters.network.tcp_proxy");
    typed(filter)
}

fn hcm(chain: &listener_v3::FilterChain) -> hcm_v3::HttpConnectionManager {
    let filter = only_filter(chain);
    assert_eq!(filter.name, "envoy.filters.network.http_connection_manager");
    typed(filter)
}

fn rds_name(chain: &listener_v3::FilterChain) -> String {
    match hcm(chain).route_specifier {
        Some(RouteSpecifier::Rds(rds)) => rds.route_config_name,
        other => panic!("expected RDS, got {other:?}"),
    }
}

fn tls_context(chain: &listener_v3::FilterChain) -> tls_v3::DownstreamTlsContext {
    let socket = chain.transport_socket.as_ref().expect("transport socket");
    assert_eq!(socket.name, "envoy.transport_sockets.tls");
    match &socket.config_type {
        Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) => decode(any),
        other => panic!("no tls config: {other:?}"),
    }
}

fn sni(chain: &listener_v3::FilterChain) -> listener_v3::FilterChainMatch {
    chain.filter_chain_match.clone().expect("a match")
}

fn server_names(names: &[&str]) -> listener_v3::FilterChainMatch {
    listener_v3::FilterChainMatch {
        server_names: names.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    }
}

fn any_tls() -> listener_v3::FilterChainMatch {
    listener_v3::FilterChainMatch {
        transport_protocol: "tls".into(),
        ..Default::default()
    }
}

fn validation(configure: impl FnOnce(&mut ClientValidation)) -> Option<Box<ClientValidation>> {
    let mut v = ClientValidation {
        ca_pem: b"ca pem".to_vec(),
        crl_pem: None,
        crl_only_leaf: false,
        optional: false,
        skip_verification: false,
        forward: ForwardClientCertificate::default(),
    };
    configure(&mut v);
    Some(Box::new(v))
}

fn validation_context(
    context: &tls_v3::DownstreamTlsContext,
) -> tls_v3::CertificateValidationContext {
    let common = context.common_tls_context.as_ref().expect("common context");
    match &common.validation_context_type {
        Some(tls_v3::common_tls_context::ValidationContextType::ValidationContext(v)) => v.clone(),
        other => panic!("expected an inline validation context, got {other:?}"),
    }
}

fn inline(bytes: &[u8]) -> Option<core_v3::DataSource> {
    Some(core_v3::DataSource {
        specifier: Some(core_v3::data_source::Specifier::InlineBytes(bytes.to_vec())),
        ..Default::default()
    })
}

/// The filter chain of a secure virtual host with the default settings.
fn secure_chain(vhost: &SecureVirtualHost) -> Option<listener_v3::FilterChain> {
    secure_filter_chain(vhost, &ListenerSettings::default())
}

fn https(dag: &Dag) -> listener_v3::Listener {
    let all = listeners(dag, &TranslateConfig::default());
    decode(all.get("ingress_https").expect("an ingress_https listener"))
}

#[test]
fn passthrough_alone_makes_the_https_listener() {
    let mut dag = Dag::default();
    dag.passthrough
        .insert("pass.com".into(), proxy(&[("default/db/443/x", 1)]));
    let l = https(&dag);
    assert_eq!(
        l.listener_filters[0].name,
        "envoy.filters.listener.tls_inspector"
    );
    assert_eq!(l.filter_chains.len(), 1);
    let chain = &l.filter_chains[0];
    assert_eq!(sni(chain), server_names(&["pass.com"]));
    assert_eq!(chain.transport_socket, None, "passthrough never terminates");
    let p = tcp_proxy(chain);
    assert_eq!(p.stat_prefix, "ingress_https");
    assert_eq!(
        p.cluster_specifier,
        Some(ClusterSpecifier::Cluster("default/db/443/x".into()))
    );
    assert_eq!(p.access_log.len(), 1, "logged like the HTTP chains");
}

#[test]
fn tcp_proxy_splits_by_weight_and_drops_zero_weights() {
    let weights =
        |p: &TcpProxy| match tcp_proxy_filter(p, &ListenerSettings::default()).map(|f| typed(&f)) {
            Some(tcp_proxy_v3::TcpProxy {
                cluster_specifier: Some(ClusterSpecifier::WeightedClusters(w)),
                ..
            }) => w
                .clusters
                .into_iter()
                .map(|c| (c.name, c.weight))
                .collect::<Vec<_>>(),
            other => panic!("expected weighted clusters, got {other:?}"),
        };
    let w = |name: &str, weight| (name.to_string(), weight);
    assert_eq!(
        weights(&proxy(&[("a", 80), ("b", 20)])),
        vec![w("a", 80), w("b", 20)]
    );
    assert_eq!(
        weights(&proxy(&[("a", 0), ("b", 0), ("c", 0)])),
        vec![w("a", 1), w("b", 1), w("c", 1)],
        "all zero: an even split"
    );
    assert_eq!(
        weights(&proxy(&[("a", 0), ("b", 3), ("c", 1)])),
        vec![w("b", 3), w("c", 1)]
    );
    let single = tcp_proxy_filter(&proxy(&[("a", 0), ("b", 5)]), &ListenerSettings::default())
        .map(|f| typed(&f));
    assert_eq!(
        single.and_then(|p: tcp_proxy_v3::TcpProxy| p.cluster_specifier),
        Some(ClusterSpecifier::Cluster("b".into()))
    );
    assert_eq!(
        tcp_proxy_filter(&proxy(&[]), &ListenerSettings::default()),
        None
    );
}

#[test]
fn chains_follow_hostname_order_and_secure_wins_over_passthrough() {
    let mut dag = Dag::default();
    for host in ["b.com", "d.com"] {
        dag.https
            .insert(host.into(), secure_vhost(host, Vec::new()));
    }
    for host in ["a.com", "c.com", "d.com", "*.e.com"] {
        dag.passthrough
            .insert(host.into(), proxy(&[("default/db/443/x", 1)]));
    }
    // A passthrough host without clusters gets no chain.
    dag.passthrough.insert("empty.com".into(), proxy(&[]));
    let l = https(&dag);
    let matches: Vec<_> = l.filter_chains.iter().map(sni).collect();
    assert_eq!(
        matches,
        ["*.e.com", "a.com", "b.com", "c.com", "d.com"]
            .map(|h| server_names(&[h]))
            .to_vec()
    );
    let kinds: Vec<&str> = l
        .filter_chains
        .iter()
        .map(|c| only_filter(c).name.as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "envoy.filters.network.tcp_proxy",
            "envoy.filters.network.tcp_proxy",
            "envoy.filters.network.http_connection_manager",
            "envoy.filters.network.tcp_proxy",
            "envoy.filters.network.http_connection_manager",
        ]
    );
    // Only passthrough hosts without clusters: no chain, so no listener.
    let mut dag = Dag::default();
    dag.passthrough.insert("empty.com".into(), proxy(&[]));
    assert!(!listeners(&dag, &TranslateConfig::default()).contains_key("ingress_https"));
}

#[test]
fn wildcard_passthrough_matches_any_tls() {
    let chain = passthrough_filter_chain("*", &proxy(&[("c", 1)]), &ListenerSettings::default())
        .expect("a chain");
    assert_eq!(sni(&chain), any_tls());
}

#[test]
fn terminated_tcp_proxy_decrypts_and_proxies_without_alpn() {
    let mut v = secure_vhost("tcp.com", Vec::new());
    v.tcp_proxy = Some(proxy(&[("a", 1), ("b", 1)]));
    v.client_validation = validation(|_| {});
    let chain = secure_chain(&v).expect("a chain");
    assert_eq!(sni(&chain), server_names(&["tcp.com"]));
    let p = tcp_proxy(&chain);
    assert!(matches!(
        p.cluster_specifier,
        Some(ClusterSpecifier::WeightedClusters(_))
    ));
    let tls = tls_context(&chain);
    let common = tls.common_tls_context.clone().expect("common");
    assert_eq!(common.alpn_protocols, Vec::<String>::new());
    assert_eq!(
        common.tls_certificate_sds_secret_configs[0].name,
        "default/tcp.com-tls/abcde"
    );
    assert_eq!(tls.require_client_certificate, proto::bool_value(true));
    assert_eq!(validation_context(&tls).trusted_ca, inline(b"ca pem"));
    // Without clusters there is nothing to proxy to.
    v.tcp_proxy = Some(proxy(&[]));
    assert_eq!(secure_chain(&v), None);
}

#[test]
fn client_validation_with_ca_and_crl() {
    let mut v = secure_vhost("mtls.com", Vec::new());
    v.client_validation = validation(|c| {
        c.crl_pem = Some(b"crl pem".to_vec());
        c.crl_only_leaf = true;
    });
    let chain = secure_chain(&v).expect("a chain");
    let tls = tls_context(&chain);
    assert_eq!(tls.require_client_certificate, proto::bool_value(true));
    assert_eq!(
        validation_context(&tls),
        tls_v3::CertificateValidationContext {
            trusted_ca: inline(b"ca pem"),
            crl: inline(b"crl pem"),
            only_verify_leaf_cert_crl: true,
            trust_chain_verification: TrustChainVerification::VerifyTrustChain as i32,
            ..Default::default()
        }
    );
    let common = tls.common_tls_context.expect("common");
    assert_eq!(common.alpn_protocols, vec!["h2", "http/1.1"]);
    // Nothing forwarded: the default, which removes x-forwarded-client-cert.
    let h = hcm(&chain);
    assert_eq!(
        h.forward_client_cert_details,
        ForwardClientCertDetails::Sanitize as i32
    );
    assert_eq!(h.set_current_client_cert_details, None);
    assert_eq!(rds_name(&chain), "https/mtls.com");
}

#[test]
fn optional_and_skipped_client_verification() {
    let mut v = secure_vhost("mtls.com", Vec::new());
    v.client_validation = validation(|c| c.optional = true);
    let tls = tls_context(&secure_chain(&v).expect("a chain"));
    assert_eq!(tls.require_client_certificate, proto::bool_value(false));
    assert_eq!(validation_context(&tls).trusted_ca, inline(b"ca pem"));

    // Skipped without a CA: no trusted CA, and the CRL, with no chain to check, is dropped.
    v.client_validation = validation(|c| {
        c.ca_pem.clear();
        c.skip_verification = true;
        c.crl_pem = Some(b"crl pem".to_vec());
    });
    let tls = tls_context(&secure_chain(&v).expect("a chain"));
    assert_eq!(tls.require_client_certificate, proto::bool_value(true));
    assert_eq!(
        validation_context(&tls),
        tls_v3::CertificateValidationContext {
            trust_chain_verification: TrustChainVerification::AcceptUntrusted as i32,
            ..Default::default()
        }
    );
    // Skipped with a CA: kept, the chain is checked but never refused.
    v.client_validation = validation(|c| c.skip_verification = true);
    let context = validation_context(&tls_context(&secure_chain(&v).expect("a chain")));
    assert_eq!(context.trusted_ca, inline(b"ca pem"));
    assert_eq!(
        context.trust_chain_verification,
        TrustChainVerification::AcceptUntrusted as i32
    );
}

#[test]
fn forwarded_client_certificate_details_replace_the_header() {
    let mut v = secure_vhost("mtls.com", Vec::new());
    v.client_validation = validation(|c| {
        c.forward = ForwardClientCertificate {
            subject: true,
            cert: false,
            chain: true,
            dns: true,
            uri: false,
        }
    });
    let h = hcm(&secure_chain(&v).expect("a chain"));
    assert_eq!(
        h.forward_client_cert_details,
        ForwardClientCertDetails::SanitizeSet as i32
    );
    assert_eq!(
        h.set_current_client_cert_details,
        Some(SetCurrentClientCertDetails {
            subject: proto::bool_value(true),
            cert: false,
            chain: true,
            dns: true,
            uri: false,
            ..Default::default()
        })
    );
    v.client_validation = validation(|c| {
        c.forward = ForwardClientCertificate {
            cert: true,
            uri: true,
            ..Default::default()
        }
    });
    let h = hcm(&secure_chain(&v).expect("a chain"));
    assert_eq!(
        h.set_current_client_cert_details,
        Some(SetCurrentClientCertDetails {
            subject: proto::bool_value(false),
            cert: true,
            uri: true,
            ..Default::default()
        })
    );
}

/// A DAG with `a.com` (fallback, TLS 1.2–1.3), `b.com` (fallback, TLS 1.3 only), `c.com` (no
/// fallback) and the fallback secret.
fn fallback_dag() -> Dag {
    let mut dag = Dag::default();
    for host in ["a.com", "b.com", "c.com"] {
        let mut v = secure_vhost(host, Vec::new());
        v.fallback_certificate = host != "c.com";
        if host == "b.com" {
            v.min_tls_version = TlsVersion::V1_3;
        }
        dag.https.insert(host.into(), v);
    }
    dag.fallback_secret = Some("default/fallback/12345".into());
    dag
}

#[test]
fn fallback_chain_comes_last_and_serves_clients_without_sni() {
    let l = https(&fallback_dag());
    assert_eq!(l.filter_chains.len(), 4);
    let last = &l.filter_chains[3];
    assert_eq!(sni(last), any_tls());
    assert_eq!(rds_name(last), "ingress_fallbackcert");
    assert_eq!(hcm(last).stat_prefix, "ingress_https");
    let tls = tls_context(last);
    assert_eq!(tls.require_client_certificate, None);
    let common = tls.common_tls_context.expect("common");
    assert_eq!(
        common.tls_certificate_sds_secret_configs,
        vec![tls_v3::SdsSecretConfig {
            name: "default/fallback/12345".into(),
            sds_config: Some(proto::ads_config_source()),
        }]
    );
    assert_eq!(common.alpn_protocols, vec!["h2", "http/1.1"]);
    use tls_v3::tls_parameters::TlsProtocol;
    let params = common.tls_params.expect("tls params");
    assert_eq!(
        (
            params.tls_minimum_protocol_version,
            params.tls_maximum_protocol_version
        ),
        (TlsProtocol::TlSv13 as i32, TlsProtocol::TlSv13 as i32),
        "the strictest minimum of the hosts served"
    );
    // The other chains are untouched.
    for (chain, host) in l.filter_chains.iter().zip(["a.com", "b.com", "c.com"]) {
        assert_eq!(sni(chain), server_names(&[host]));
        assert_eq!(rds_name(chain), format!("https/{host}"));
    }
}

#[test]
fn no_fallback_chain_without_secret_or_enabled_host() {
    let mut dag = fallback_dag();
    dag.fallback_secret = None;
    assert_eq!(https(&dag).filter_chains.len(), 3);

    let mut dag = fallback_dag();
    for v in dag.https.values_mut() {
        v.fallback_certificate = false;
    }
    assert_eq!(https(&dag).filter_chains.len(), 3);

    // Hosts that proxy TCP or verify client certificates are never served without SNI.
    let mut dag = fallback_dag();
    if let Some(v) = dag.https.get_mut("a.com") {
        v.tcp_proxy = Some(proxy(&[("c", 1)]));
    }
    if let Some(v) = dag.https.get_mut("b.com") {
        v.client_validation = validation(|_| {});
    }
    assert_eq!(https(&dag).filter_chains.len(), 3);
}

/// Envoy refuses two filter chains with the same match: a `*` host already takes TLS without
/// SNI, so it keeps its chain and the fallback chain is left out.
#[test]
fn wildcard_host_replaces_the_fallback_chain() {
    for passthrough in [false, true] {
        let mut dag = fallback_dag();
        if passthrough {
            dag.passthrough.insert("*".into(), proxy(&[("c", 1)]));
        } else {
            dag.https.insert("*".into(), secure_vhost("*", Vec::new()));
        }
        let l = https(&dag);
        let matches: Vec<_> = l.filter_chains.iter().map(sni).collect();
        assert_eq!(
            matches,
            vec![
                any_tls(),
                server_names(&["a.com"]),
                server_names(&["b.com"]),
                server_names(&["c.com"]),
            ]
        );
        let first = only_filter(&l.filter_chains[0]);
        if passthrough {
            assert_eq!(first.name, "envoy.filters.network.tcp_proxy");
        } else {
            assert_eq!(rds_name(&l.filter_chains[0]), "https/*");
        }
    }
}

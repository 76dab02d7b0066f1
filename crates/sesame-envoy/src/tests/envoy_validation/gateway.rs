//! Real Envoy accepts a Gateway HTTPS listener with client certificate validation as Sesame
//! translates the Gateway's `spec.tls.frontend`: one chain requiring a certificate signed by
//! its CA (`AllowValidOnly`), one serving any client (`AllowInsecureFallback`).

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use sesame_dag::dag::{GatewayListener, GatewayTls};

use super::*;

/// The gateway listener `https-9443` (Envoy port 17443): `a.example.com` requires a client
/// certificate from `ca`, any other SNI takes any client, both serving `cluster` at `/`.
fn frontend_listener(ca: &[u8], cluster: &str, secret: &str) -> GatewayListener {
    let entry = |server_name: Option<&str>, insecure: bool| {
        let host = server_name.unwrap_or("*");
        let route = forward_route(PathMatch::Prefix("/".into()), cluster);
        GatewayTls {
            server_name: server_name.map(str::to_string),
            secret: secret.to_string(),
            min_tls_version: TlsVersion::V1_2,
            max_tls_version: TlsVersion::V1_3,
            client_validation: Some(Box::new(ClientValidation {
                ca_pem: ca.to_vec(),
                crl_pem: None,
                crl_only_leaf: false,
                optional: insecure,
                skip_verification: insecure,
                forward: ForwardClientCertificate::default(),
            })),
            route_config: format!("https-9443/{}", if insecure { "any" } else { "a" }),
            virtual_hosts: BTreeMap::from([(host.to_string(), vhost(host, vec![route]))]),
        }
    };
    GatewayListener {
        name: "https-9443".into(),
        address: None,
        port: 17443,
        virtual_hosts: BTreeMap::new(),
        tls: vec![entry(Some("a.example.com"), false), entry(None, true)],
        tcp_routes: Vec::new(),
    }
}

#[test]
fn envoy_accepts_gateway_client_certificate_validation() {
    use tls_v3::certificate_validation_context::TrustChainVerification;
    let mut dag = every_feature_dag();
    let (ca, _) = ca_and_crl();
    let secret = self_signed_secret("gateway", "a.example.com");
    let cluster = dag.clusters.keys().next().expect("a cluster").clone();
    let listener = frontend_listener(&ca, &cluster, &secret.name);
    dag.secrets.insert(secret.name.clone(), secret);
    dag.gateway_listeners
        .insert(listener.name.clone(), listener);
    let resources = translate(&dag, &TranslateConfig::default());

    // What each chain asks of clients.
    let https: listener_v3::Listener = decode(&resources.listeners["https-9443"]);
    let contexts: Vec<(bool, i32, bool)> = https
        .filter_chains
        .iter()
        .map(|chain| {
            let Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) = chain
                .transport_socket
                .as_ref()
                .and_then(|t| t.config_type.clone())
            else {
                panic!("no TLS on a chain")
            };
            let context: tls_v3::DownstreamTlsContext = decode(&any);
            let common = context.common_tls_context.expect("common context");
            let Some(tls_v3::common_tls_context::ValidationContextType::ValidationContext(v)) =
                common.validation_context_type
            else {
                panic!("no validation context")
            };
            let trusted = v.trusted_ca.and_then(|c| c.specifier);
            (
                context.require_client_certificate.is_some_and(|b| b.value),
                v.trust_chain_verification,
                trusted == Some(core_v3::data_source::Specifier::InlineBytes(ca.clone())),
            )
        })
        .collect();
    assert_eq!(
        contexts,
        [
            (true, TrustChainVerification::VerifyTrustChain as i32, true),
            (false, TrustChainVerification::AcceptUntrusted as i32, true),
        ]
    );

    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

#[test]
fn envoy_accepts_gateway_listeners_on_addresses_of_their_own() {
    let mut dag = every_feature_dag();
    let cluster = dag.clusters.keys().next().expect("a cluster").clone();
    // One Gateway port on two IPv4 addresses and an IPv6 one, as two Gateways of the pool get.
    for ip in ["127.0.0.2", "127.0.0.3", "fd00::1"] {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        let route = forward_route(PathMatch::Prefix("/".into()), &cluster);
        let name = sesame_dag::dag::on_address("http-80".to_string(), Some(ip));
        let listener = GatewayListener {
            name: name.clone(),
            address: Some(ip),
            port: 8080,
            virtual_hosts: BTreeMap::from([("*".to_string(), vhost("*", vec![route]))]),
            tls: Vec::new(),
            tcp_routes: Vec::new(),
        };
        dag.gateway_listeners.insert(name, listener);
    }
    let resources = translate(&dag, &TranslateConfig::default());
    for name in ["http-80-127.0.0.2", "http-80-127.0.0.3", "http-80-fd00::1"] {
        assert!(resources.listeners.contains_key(name), "{name}");
        assert!(resources.routes.contains_key(name), "{name}");
    }

    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

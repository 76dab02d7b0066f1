//! Real Envoy accepts the translation with every setting of the configuration file set: the
//! listener side (timeouts, trusted hops, access logs, admin listener, cipher suites) and the
//! upstream side (connect timeout, client certificate, ExternalName clusters, header
//! policies).

use pretty_assertions::assert_eq;

use super::*;

/// Every listener setting of the configuration file, set: timeouts (bounded and infinite),
/// trusted hops, JSON access logs with Contour's default fields and custom ones, the admin
/// listener and cipher suites with an equal-preference group.
fn every_listener_setting(log_dir: &std::path::Path) -> TranslateConfig {
    use crate::accesslog::{AccessLog, AccessLogFormat};
    let after = |s| Some(Timeout::After(Duration::from_secs(s)));
    let mut json_fields = sesame_api::Config::default().json_fields();
    json_fields.insert("ua".into(), "%REQ(USER-AGENT):10%".into());
    json_fields.insert("when".into(), "%START_TIME(%s)% (%DURATION% ms)".into());
    json_fields.insert("home".into(), "%ENVIRONMENT(HOME)%".into());
    TranslateConfig {
        listener: crate::ListenerSettings {
            timeouts: crate::HttpTimeouts {
                request_timeout: after(30),
                connection_idle_timeout: Some(Timeout::Infinite),
                stream_idle_timeout: after(300),
                max_connection_duration: after(3600),
                delayed_close_timeout: Some(Timeout::After(Duration::from_millis(500))),
                connection_shutdown_grace_period: after(10),
            },
            num_trusted_hops: 2,
            access_log: AccessLog {
                format: AccessLogFormat::Json(json_fields),
                http_path: log_dir.join("http.log").display().to_string(),
                https_path: log_dir.join("https.log").display().to_string(),
            },
            admin_port: Some(9101),
            cipher_suites: vec![
                "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]".into(),
                "ECDHE-RSA-AES256-GCM-SHA384".into(),
                "AES256-SHA".into(),
            ],
            rate_limit: crate::global_rate_limit::tests::rate_limit_config()
                .listener
                .rate_limit,
        },
        ..TranslateConfig::default()
    }
}

#[test]
fn envoy_accepts_every_listener_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let resources = translate(&every_feature_dag(), &every_listener_setting(dir.path()));
    assert_eq!(
        resources.listeners.keys().collect::<Vec<_>>(),
        vec![
            "envoy-admin",
            "ingress_http",
            "ingress_https",
            "stats-health"
        ]
    );
    let Some(envoy) = envoy_binary() else { return };
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

/// The check above builds the TLS contexts: Envoy refuses a cipher suite it does not know.
#[test]
fn envoy_rejects_an_unknown_cipher_suite() {
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = every_listener_setting(dir.path());
    config.listener.cipher_suites = vec!["NOT-A-CIPHER".into()];
    let resources = translate(&every_feature_dag(), &config);
    let Err(refusal) = envoy_verdict(&envoy, dir.path(), &resources) else {
        panic!("envoy accepted an unknown cipher suite")
    };
    assert!(refusal.contains("NOT-A-CIPHER"), "{refusal}");
}

/// Every cluster of `dag` with the config file's upstream settings: a 750 ms connect
/// timeout, and on its TLS clusters a client certificate; plus an ExternalName cluster for
/// each DNS lookup family (TLS with a server name, h2, and plain), and a route to them whose
/// clusters carry global header policies under the route's own.
fn add_upstream_settings(dag: &mut Dag) {
    use sesame_dag::dag::{ClusterRewrites, DnsLookupFamily, ExternalName};
    let client = self_signed_secret("envoy-client", "envoy.example.com");
    for c in dag.clusters.values_mut() {
        c.connect_timeout = Duration::from_millis(750);
        if matches!(c.protocol, UpstreamProtocol::Tls | UpstreamProtocol::H2) {
            c.client_certificate = Some(client.name.clone());
        }
    }
    let families = [
        ("ext-auto", DnsLookupFamily::Auto, UpstreamProtocol::Tls),
        ("ext-v4", DnsLookupFamily::V4, UpstreamProtocol::H2),
        ("ext-v6", DnsLookupFamily::V6, UpstreamProtocol::Http1),
        ("ext-all", DnsLookupFamily::All, UpstreamProtocol::Tls),
    ];
    let mut clusters = Vec::new();
    for (name, family, protocol) in families {
        let mut c = cluster(name, protocol);
        c.connect_timeout = Duration::from_millis(750);
        c.external_name = Some(Box::new(ExternalName {
            host: format!("{name}.example.com."),
            dns_lookup_family: family,
        }));
        if protocol != UpstreamProtocol::Http1 {
            c.sni = Some(format!("{name}.example.com"));
            c.client_certificate = Some(client.name.clone());
        }
        let rewrites = ClusterRewrites {
            request_headers: HeadersPolicy {
                set: vec![("x-env".into(), "prod".into())],
                remove: vec!["x-debug".into()],
            },
            response_headers: HeadersPolicy {
                set: vec![("x-served-by".into(), "sesame".into())],
                remove: vec!["server".into()],
            },
            request_headers_append: vec![("x-added".into(), "per-cluster".into())],
            response_headers_append: vec![("x-trace".into(), "b".into())],
            host_rewrite: Some("global.example.com".into()),
            cookie_rewrites: vec![sesame_dag::dag::CookieRewrite {
                name: "svc".into(),
                path: None,
                domain: None,
                secure: None,
                same_site: Some(sesame_dag::dag::SameSite::Strict),
            }],
        };
        clusters.push(WeightedCluster::new(c.name.clone(), 1).with_rewrites(rewrites));
        dag.clusters.insert(c.name.clone(), c);
    }
    let mut route = forward_route(PathMatch::Prefix("/external".into()), "");
    route.action = RouteAction::Forward(Forward {
        clusters,
        policies: Some(Box::new(ForwardPolicies {
            request_headers: HeadersPolicy {
                set: vec![("x-env".into(), "route".into())],
                remove: Vec::new(),
            },
            ..Default::default()
        })),
        ..Default::default()
    });
    dag.http
        .insert("external.com".into(), vhost("external.com", vec![route]));
    dag.secrets.insert(client.name.clone(), client);
}

#[test]
fn envoy_accepts_the_upstream_settings() {
    let mut dag = every_feature_dag();
    add_upstream_settings(&mut dag);
    let resources = translate(&dag, &TranslateConfig::default());
    let ext: cluster_v3::Cluster = decode(&resources.clusters["default/ext-all/80/da39a3ee5e"]);
    assert_eq!(
        ext.cluster_discovery_type,
        Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
            cluster_v3::cluster::DiscoveryType::LogicalDns as i32
        ))
    );
    assert!(resources.secrets.contains_key("default/envoy-client/abcde"));
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("static.pb");
    std::fs::write(&path, static_bootstrap(&resources).encode_to_vec()).expect("write bootstrap");
    envoy_validate(&envoy, &path);
}

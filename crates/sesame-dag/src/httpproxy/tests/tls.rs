//! TLS scenarios: certificates and delegation, passthrough and TCP proxies, the fallback
//! certificate.

use pretty_assertions::assert_eq;

use super::*;

pub(super) fn tls_yaml(namespace: &str, name: &str, hosts: &[&str]) -> String {
    let pem = cert(hosts);
    // ByteString serializes as base64, as Secret data is written.
    let b64 = |s: &str| {
        serde_json::to_value(k8s_openapi::ByteString(s.as_bytes().to_vec()))
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    };
    format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n",
        b64(&pem.crt),
        b64(&pem.key)
    )
}

fn tls_root(namespace: &str, secret: &str, extra_tls: &str) -> String {
    proxy(
        namespace,
        "web",
        &format!(
            "  virtualhost:\n    fqdn: a.com\n    tls: {{secretName: {secret}{extra_tls}}}\n  routes:\n  - conditions: [{{prefix: /secure}}]\n    services: [{{name: s1, port: 80}}]\n  - conditions: [{{prefix: /open}}]\n    permitInsecure: true\n    services: [{{name: s1, port: 80}}]\n"
        ),
    )
}

#[test]
fn tls_roots_redirect_plain_http_except_permit_insecure_routes() {
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        tls_yaml("default", "cert", &["a.com"]),
        tls_root("default", "cert", ", minimumProtocolVersion: '1.3'")
    );
    let out = build_yaml(&yaml);
    let https = &out.dag.https["a.com"];
    assert_eq!(https.virtual_host.routes.len(), 2);
    assert_eq!(https.min_tls_version, crate::dag::TlsVersion::V1_3);
    assert!(https.secret.starts_with("default/cert/"));
    let http = routes(&out, "a.com");
    assert_eq!(http[0].path, PathMatch::Prefix("/secure".into()));
    assert_eq!(http[0].action, RouteAction::HttpsRedirect);
    assert!(matches!(http[1].action, RouteAction::Forward(_)));

    let config = BuildConfig {
        disable_permit_insecure: true,
        ..BuildConfig::default()
    };
    let out = build_config(&yaml, &config);
    assert!(
        routes(&out, "a.com")
            .iter()
            .all(|r| r.action == RouteAction::HttpsRedirect)
    );
}

#[test]
fn certificates_from_other_namespaces_need_a_delegation() {
    let base = format!(
        "{}{}{}",
        svc("team", "s1"),
        tls_yaml("certs", "wild", &["a.com"]),
        tls_root("team", "certs/wild", "")
    );
    let out = build_yaml(&base);
    let web = key("team", "web");
    assert_eq!(error_reasons(&out, &web), [Reason::DelegationNotPermitted]);
    assert!(messages(&out, &web).contains("certs/wild"));
    assert!(out.dag.https.is_empty());
    assert!(
        out.dag.http.is_empty(),
        "a host meant for TLS is not served in clear"
    );

    let delegation = "---\napiVersion: projectsesame.io/v1\nkind: TLSCertificateDelegation\nmetadata: {name: d, namespace: certs}\nspec:\n  delegations:\n  - secretName: wild\n    targetNamespaces: [team]\n";
    let out = build_yaml(&format!("{base}{delegation}"));
    assert_eq!(current(&out, &web), Validity::Valid);
    assert!(out.dag.https["a.com"].secret.starts_with("certs/wild/"));
}

#[test]
fn passthrough_proxies_tls_to_tcp_services() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "pass",
            "  virtualhost:\n    fqdn: a.com\n    tls: {passthrough: true}\n  tcpproxy:\n    services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    assert_eq!(current(&out, &key("default", "pass")), Validity::Valid);
    let tcp = &out.dag.passthrough["a.com"];
    assert_eq!(tcp.clusters[0].name, "default/s1/80/da39a3ee5e");
    assert!(out.dag.https.is_empty());
}

#[test]
fn tcp_proxy_and_tls_settings_that_cannot_work_are_refused() {
    let s1 = svc("default", "s1");
    let cases = [
        (
            "  virtualhost: {fqdn: a.com}\n  tcpproxy: {services: [{name: s1, port: 80}]}\n  routes:\n  - services: [{name: s1, port: 80}]\n",
            Reason::TLSMustBeConfigured,
        ),
        (
            "  virtualhost: {fqdn: a.com, tls: {passthrough: true}}\n  routes:\n  - services: [{name: s1, port: 80}]\n",
            Reason::TLSConfigNotValid,
        ),
        (
            "  virtualhost: {fqdn: a.com, tls: {passthrough: true, secretName: x}}\n  tcpproxy: {services: [{name: s1, port: 80}]}\n",
            Reason::TLSConfigNotValid,
        ),
        (
            "  virtualhost: {fqdn: a.com, tls: {secretName: cert, enableFallbackCertificate: true}}\n  routes:\n  - services: [{name: s1, port: 80}]\n",
            Reason::FallbackNotPresent,
        ),
        (
            "  virtualhost: {fqdn: a.com, tls: {secretName: cert, enableFallbackCertificate: true, clientValidation: {caSecret: ca}}}\n  routes:\n  - services: [{name: s1, port: 80}]\n",
            Reason::TLSIncompatibleFeatures,
        ),
        (
            "  virtualhost: {fqdn: a.com, tls: {secretName: cert, clientValidation: {caSecret: missing}}}\n  routes:\n  - services: [{name: s1, port: 80}]\n",
            Reason::SecretNotFound,
        ),
        (
            "  virtualhost: {fqdn: a.com, tls: {secretName: cert}}\n  tcpproxy: {services: [{name: s1, port: 80}], include: {name: x}}\n",
            Reason::NoServicesAndInclude,
        ),
    ];
    for (spec, reason) in cases {
        let yaml = format!(
            "{s1}{}{}",
            tls_yaml("default", "cert", &["a.com"]),
            proxy("default", "p", spec)
        );
        let out = build_yaml(&yaml);
        assert_eq!(
            error_reasons(&out, &key("default", "p")),
            [reason],
            "{spec}"
        );
    }
}

#[test]
fn the_fallback_certificate_needs_configuration_delegation_and_a_valid_secret() {
    let config = BuildConfig {
        fallback_certificate: Some(NamespacedName::new("certs", "fallback")),
        ..BuildConfig::default()
    };
    let root = format!(
        "{}{}{}",
        svc("team", "s1"),
        tls_yaml("team", "cert", &["a.com"]),
        tls_root("team", "cert", ", enableFallbackCertificate: true")
    );
    let web = key("team", "web");

    let out = build_config(&root, &config);
    assert_eq!(error_reasons(&out, &web), [Reason::FallbackNotDelegated]);

    let delegation = "---\napiVersion: projectsesame.io/v1\nkind: TLSCertificateDelegation\nmetadata: {name: d, namespace: certs}\nspec:\n  delegations:\n  - secretName: fallback\n    targetNamespaces: ['*']\n";
    let out = build_config(&format!("{root}{delegation}"), &config);
    assert_eq!(error_reasons(&out, &web), [Reason::FallbackNotValid]);
    // The missing Secret is a reference: creating it rebuilds.
    assert!(out.dag.references.contains(&ObjectKey::new(
        Kind::Secret,
        NamespacedName::new("certs", "fallback")
    )));

    let fallback = tls_yaml("certs", "fallback", &["fallback.local"]);
    let out = build_config(&format!("{root}{delegation}{fallback}"), &config);
    assert_eq!(current(&out, &web), Validity::Valid);
    assert!(out.dag.https["a.com"].fallback_certificate);
    let secret = out.dag.fallback_secret.as_deref().unwrap();
    assert!(secret.starts_with("certs/fallback/"));
    assert!(out.dag.secrets.contains_key(secret));
}

#[test]
fn a_tcp_proxy_may_take_its_services_from_an_included_proxy() {
    let yaml = format!(
        "{}{}{}{}",
        svc("db", "s1"),
        tls_yaml("default", "cert", &["a.com"]),
        proxy(
            "default",
            "front",
            "  virtualhost: {fqdn: a.com, tls: {secretName: cert}}\n  tcpproxy:\n    include: {name: backend, namespace: db}\n"
        ),
        proxy(
            "db",
            "backend",
            "  tcpproxy:\n    services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    assert_eq!(current(&out, &key("default", "front")), Validity::Valid);
    assert_eq!(current(&out, &key("db", "backend")), Validity::Valid);
    let tcp = out.dag.https["a.com"].tcp_proxy.as_ref().unwrap();
    assert_eq!(tcp.clusters[0].name, "db/s1/80/da39a3ee5e");
    assert!(out.dag.https["a.com"].virtual_host.routes.is_empty());
}

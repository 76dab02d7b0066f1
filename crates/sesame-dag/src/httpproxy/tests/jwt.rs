//! JWT verification: providers on TLS virtual hosts, their JWKS clusters, the provider each
//! route requires, and every refusal with Contour's reason.

use pretty_assertions::assert_eq;

use super::tls::tls_yaml;
use super::*;
use crate::dag::{DnsLookupFamily, JwtProvider, RemoteJwks};

/// A TLS root `default/<name>` for `fqdn` (certificate Secret `cert-<name>`) with `providers`
/// (YAML list items indented four spaces) and `routes`.
fn jwt_root(name: &str, fqdn: &str, providers: &str, routes: &str) -> String {
    format!(
        "{}{}",
        tls_yaml("default", &format!("cert-{name}"), &[fqdn]),
        proxy(
            "default",
            name,
            &format!(
                "  virtualhost:\n    fqdn: {fqdn}\n    tls: {{secretName: cert-{name}}}\n    jwtProviders:\n{providers}  routes:\n{routes}"
            ),
        )
    )
}

const PROVIDERS: &str = "    - name: b\n      issuer: https://issuer.b\n      audiences: [api, web]\n      forwardJWT: true\n      remoteJWKS: {uri: 'https://Keys.Example.com/jwks.json', timeout: 3s, cacheDuration: 5m, dnsLookupFamily: v4}\n    - name: a\n      default: true\n      remoteJWKS: {uri: 'http://127.0.0.1:8081/jwks'}\n";

const ROUTES: &str = "  - conditions: [{prefix: /b}]\n    jwtVerificationPolicy: {require: b}\n    services: [{name: s1, port: 80}]\n  - conditions: [{prefix: /open}]\n    jwtVerificationPolicy: {disabled: true}\n    services: [{name: s1, port: 80}]\n  - conditions: [{prefix: /insecure}]\n    permitInsecure: true\n    services: [{name: s1, port: 80}]\n  - services: [{name: s1, port: 80}]\n";

fn https_routes<'a>(out: &'a BuildOutput, host: &str) -> &'a [Route] {
    &out.dag.https[host].virtual_host.routes
}

fn jwt_of(routes: &[Route]) -> Vec<(String, Option<String>)> {
    routes
        .iter()
        .map(|r| (r.path.value().to_string(), r.jwt_provider.clone()))
        .collect()
}

#[test]
fn providers_reach_the_secure_host_and_routes_require_one() {
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        jwt_root("web", "a.com", PROVIDERS, ROUTES)
    ));
    let web = key("default", "web");
    assert_eq!(
        current(&out, &web),
        Validity::Valid,
        "{}",
        messages(&out, &web)
    );
    let secure = &out.dag.https["a.com"];
    let names: Vec<_> = secure.jwt_providers.iter().map(|p| &p.name).collect();
    assert_eq!(names, ["a", "b"], "providers in name order");
    assert_eq!(
        secure.jwt_providers[1],
        JwtProvider {
            name: "b".into(),
            issuer: Some("https://issuer.b".into()),
            audiences: vec!["api".into(), "web".into()],
            remote_jwks: RemoteJwks {
                uri: "https://Keys.Example.com/jwks.json".into(),
                cluster: secure.jwt_providers[1].remote_jwks.cluster.clone(),
                timeout: std::time::Duration::from_secs(3),
                cache_duration: Some(std::time::Duration::from_secs(300)),
            },
            forward_jwt: true,
        }
    );
    assert_eq!(
        secure.jwt_providers[0].remote_jwks.timeout,
        std::time::Duration::from_secs(1),
        "Contour's default timeout"
    );
    assert_eq!(
        jwt_of(https_routes(&out, "a.com")),
        [
            ("/insecure".to_string(), Some("a".to_string())),
            ("/open".to_string(), None),
            ("/b".to_string(), Some("b".to_string())),
            ("/".to_string(), Some("a".to_string())),
        ]
    );
    // Plain HTTP has no JWT filter: every verified route redirects, permitInsecure or not.
    for r in routes(&out, "a.com") {
        assert_eq!(r.jwt_provider, None);
        if r.path.value() != "/open" {
            assert_eq!(r.action, RouteAction::HttpsRedirect, "{}", r.path.value());
        }
    }
    let warnings = &status_of(&out, &web).warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("permitInsecure is ignored")),
        "{warnings:?}"
    );

    // The JWKS clusters: DNS clusters of the URIs' hosts, TLS with SNI for https.
    let plain = &out.dag.clusters["dnsname/http/127.0.0.1:8081"];
    assert_eq!(plain.protocol, UpstreamProtocol::Http1);
    assert_eq!(plain.port, 8081);
    assert_eq!(plain.sni, None);
    let ext = plain.external_name.as_ref().unwrap();
    assert_eq!(
        (ext.host.as_str(), ext.dns_lookup_family),
        ("127.0.0.1", DnsLookupFamily::Auto)
    );
    let tls_name = &secure.jwt_providers[1].remote_jwks.cluster;
    assert!(
        tls_name.starts_with("dnsname/https/keys.example.com:443/"),
        "{tls_name}"
    );
    let tls = &out.dag.clusters[tls_name];
    assert_eq!(tls.protocol, UpstreamProtocol::Tls);
    assert_eq!(tls.sni.as_deref(), Some("keys.example.com"));
    assert_eq!(
        tls.external_name.as_ref().unwrap().dns_lookup_family,
        DnsLookupFamily::V4
    );
}

#[test]
fn included_routes_get_the_roots_default_provider() {
    let child = proxy(
        "team",
        "child",
        "  routes:\n  - services: [{name: s1, port: 80}]\n  - conditions: [{prefix: /pub}]\n    jwtVerificationPolicy: {disabled: true}\n    services: [{name: s1, port: 80}]\n",
    );
    let routes = "  - services: [{name: s1, port: 80}]\n";
    let root = jwt_root("web", "a.com", PROVIDERS, routes).replace(
        "  routes:\n",
        "  includes:\n  - {name: child, namespace: team, conditions: [{prefix: /team}]}\n  routes:\n",
    );
    let out = build_yaml(&format!(
        "{}{}{root}{child}",
        svc("default", "s1"),
        svc("team", "s1")
    ));
    assert_eq!(current(&out, &key("team", "child")), Validity::Valid);
    assert_eq!(
        jwt_of(https_routes(&out, "a.com")),
        [
            ("/team/pub".to_string(), None),
            ("/team".to_string(), Some("a".to_string())),
            ("/".to_string(), Some("a".to_string())),
        ]
    );
}

#[test]
fn two_hosts_share_one_jwks_cluster() {
    let providers = "    - name: p\n      default: true\n      remoteJWKS: {uri: 'http://keys.example.com/jwks'}\n";
    let out = build_yaml(&format!(
        "{}{}{}",
        svc("default", "s1"),
        jwt_root("one", "a.com", providers, TO_S1),
        jwt_root(
            "two",
            "b.com",
            &providers.replace("/jwks'", "/other'"),
            TO_S1
        ),
    ));
    let jwks: Vec<_> = out
        .dag
        .clusters
        .keys()
        .filter(|n| n.starts_with("dnsname/"))
        .collect();
    assert_eq!(jwks, ["dnsname/http/keys.example.com:80"]);
    for host in ["a.com", "b.com"] {
        assert_eq!(
            out.dag.https[host].jwt_providers[0].remote_jwks.cluster,
            "dnsname/http/keys.example.com:80"
        );
    }
}

/// The reasons of the errors on `default/web` after building it with `providers` and `routes`.
fn refused(providers: &str, routes: &str) -> (BuildOutput, Vec<Reason>) {
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        jwt_root("web", "a.com", providers, routes)
    ));
    let reasons = error_reasons(&out, &key("default", "web"));
    (out, reasons)
}

#[test]
fn invalid_providers_leave_the_host_unserved_with_contours_reasons() {
    let p = |extra: &str| format!("    - name: p\n{extra}");
    let remote = |fields: &str| {
        p(&format!(
            "      remoteJWKS: {{uri: 'https://k.example.com/j'{fields}}}\n"
        ))
    };
    for (providers, want) in [
        (
            format!("{}{}", remote(""), remote("")),
            Reason::DuplicateProviderName,
        ),
        (
            format!(
                "{}    - name: q\n      default: true\n      remoteJWKS: {{uri: 'https://k.example.com/j'}}\n",
                remote("").replace("    - name: p\n", "    - name: p\n      default: true\n")
            ),
            Reason::MultipleDefaultProvidersSpecified,
        ),
        (
            "    - remoteJWKS: {uri: 'https://k.example.com/j'}\n".to_string(),
            Reason::ProviderNameNotValid,
        ),
        (p(""), Reason::JWKSSourceMissing),
        (
            p("      remoteJWKS: {uri: ''}\n"),
            Reason::JWKSSourceMissing,
        ),
        (
            p("      remoteJWKS: {uri: 'ftp://k.example.com/j'}\n"),
            Reason::RemoteJWKSSchemeInvalid,
        ),
        (
            p("      remoteJWKS: {uri: 'https://k.example.com/a b'}\n"),
            Reason::RemoteJWKSURIInvalid,
        ),
        (
            p("      remoteJWKS: {uri: 'https://u@k.example.com/'}\n"),
            Reason::RemoteJWKSURIInvalid,
        ),
        (
            remote(", timeout: 1parsec"),
            Reason::RemoteJWKSTimeoutInvalid,
        ),
        (remote(", timeout: '-1s'"), Reason::RemoteJWKSTimeoutInvalid),
        (
            remote(", cacheDuration: forever"),
            Reason::RemoteJWKSCacheDurationInvalid,
        ),
        (
            remote(", dnsLookupFamily: v5"),
            Reason::RemoteJWKSDNSLookupFamilyInvalid,
        ),
        (
            p("      remoteJWKS: {uri: 'http://k.example.com/j', validation: {caSecret: ca}}\n"),
            Reason::RemoteJWKSUpstreamValidationInvalid,
        ),
        (
            remote(", validation: {caSecret: missing}"),
            Reason::RemoteJWKSUpstreamValidationInvalid,
        ),
        (
            remote(", validation: {caSecret: other/ca}"),
            Reason::RemoteJWKSCACertificateNotDelegated,
        ),
        (
            format!("{}      issuer: \"a\\nb\"\n", remote("")),
            Reason::JWTProviderNotValid,
        ),
        (
            format!("{}      audiences: ['']\n", remote("")),
            Reason::JWTProviderNotValid,
        ),
    ] {
        let (out, reasons) = refused(&providers, TO_S1);
        assert_eq!(reasons, [want], "{providers}");
        assert!(!out.dag.https.contains_key("a.com"), "{providers}");
        assert!(!out.dag.http.contains_key("a.com"), "{providers}");
        assert!(
            !out.dag.clusters.keys().any(|n| n.starts_with("dnsname/")),
            "{providers}"
        );
    }
}

#[test]
fn providers_need_a_host_that_terminates_tls_without_fallback() {
    let providers = "    - name: p\n      remoteJWKS: {uri: 'https://k.example.com/j'}\n";
    let insecure = proxy(
        "default",
        "web",
        &format!(
            "  virtualhost:\n    fqdn: a.com\n    jwtProviders:\n{providers}  routes:\n{TO_S1}"
        ),
    );
    let out = build_yaml(&format!("{}{insecure}", svc("default", "s1")));
    let web = key("default", "web");
    assert_eq!(
        error_reasons(&out, &web),
        [Reason::JWTVerificationNotPermitted]
    );
    assert!(!out.dag.http.contains_key("a.com"));

    let config = BuildConfig {
        fallback_certificate: Some(NamespacedName::new("default", "fallback")),
        ..BuildConfig::default()
    };
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        tls_yaml("default", "fallback", &["fallback.local"]),
        jwt_root("web", "a.com", providers, TO_S1).replace(
            "secretName: cert-web}",
            "secretName: cert-web, enableFallbackCertificate: true}"
        )
    );
    let out = build_config(&yaml, &config);
    assert_eq!(error_reasons(&out, &web), [Reason::TLSIncompatibleFeatures]);
    assert!(!out.dag.https.contains_key("a.com"));
}

#[test]
fn an_invalid_route_policy_answers_403_and_the_rest_is_served() {
    let providers = "    - name: p\n      remoteJWKS: {uri: 'https://k.example.com/j'}\n";
    let route_yaml = "  - conditions: [{prefix: /both}]\n    jwtVerificationPolicy: {require: p, disabled: true}\n    services: [{name: s1, port: 80}]\n  - conditions: [{prefix: /nope}]\n    jwtVerificationPolicy: {require: nope}\n    services: [{name: s1, port: 80}]\n  - services: [{name: s1, port: 80}]\n";
    let (out, reasons) = refused(providers, route_yaml);
    assert_eq!(
        reasons,
        [
            Reason::InvalidJWTVerificationPolicy,
            Reason::JWTProviderNotDefined
        ]
    );
    let https = https_routes(&out, "a.com");
    let forbidden = RouteAction::DirectResponse {
        status: 403,
        body: None,
    };
    assert_eq!(https[0].path.value(), "/both");
    assert_eq!(https[0].action, forbidden);
    assert_eq!(https[1].path.value(), "/nope");
    assert_eq!(https[1].action, forbidden);
    // No provider is the default: the last route verifies nothing, as in Contour.
    assert_eq!(https[2].jwt_provider, None);
    assert!(matches!(https[2].action, RouteAction::Forward(_)));

    // A route on a host without providers that requires one answers 403 too.
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root(
            "plain",
            "b.com",
            "  - jwtVerificationPolicy: {require: p}\n    services: [{name: s1, port: 80}]\n"
        )
    ));
    assert_eq!(
        error_reasons(&out, &key("default", "plain")),
        [Reason::JWTProviderNotDefined]
    );
    assert_eq!(routes(&out, "b.com")[0].action, forbidden);
}

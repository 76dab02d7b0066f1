//! Scenario tests for Ingress annotations and TLS.

use std::time::Duration;

use pretty_assertions::assert_eq;

use crate::build::{BuildConfig, BuildOutput, build};
use crate::dag::{Forward, RetryPolicy, RouteAction, Timeout, TlsVersion};
use crate::object::Object;
use crate::status::{ProblemKind, Reason, Validity};
use crate::testutil::*;

fn ingress(name: &str, annotations: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations: {{{annotations}}}\nspec:\n{spec}"
    )
}

fn rule(host: &str, path: &str) -> String {
    format!(
        "  - host: {host}\n    http:\n      paths:\n      - {{path: {path}, pathType: Prefix, backend: {{service: {{name: kuard, port: {{number: 80}}}}}}}}\n"
    )
}

fn tls_ingress(name: &str, annotations: &str, hosts: &str, secret: &str) -> String {
    ingress(
        name,
        annotations,
        &format!(
            "  tls:\n  - {{hosts: [{hosts}], secretName: {secret}}}\n  rules:\n{}",
            rule("a.com", "/")
        ),
    )
}

fn build_with(yaml: &str, extra: Vec<Object>) -> BuildOutput {
    let mut objs = objects(&format!("{}{yaml}", service_yaml("kuard")));
    objs.extend(extra);
    build(&snapshot_of(objs), &BuildConfig::default())
}

fn forward(out: &BuildOutput, host: &str) -> Forward {
    match &http_vhost(out, host).routes[0].action {
        RouteAction::Forward(f) => f.clone(),
        other => panic!("not forwarded: {other:?}"),
    }
}

#[test]
fn route_annotations() {
    let out = build_with(
        &ingress(
            "web",
            "projectsesame.io/response-timeout: 1m30s, projectsesame.io/retry-on: '5xx,reset', projectsesame.io/num-retries: '3', projectsesame.io/per-try-timeout: 500ms, projectsesame.io/websocket-routes: '/ws/'",
            &format!(
                "  rules:\n{}{}",
                rule("a.com", "/ws/"),
                rule("a.com", "/other")
            ),
        ),
        vec![],
    );
    let routes = &http_vhost(&out, "a.com").routes;
    let action = |path: &str| {
        routes
            .iter()
            .find(|r| r.path.value() == path)
            .map(|r| r.action.clone())
            .unwrap()
    };
    let RouteAction::Forward(ws) = action("/ws") else {
        panic!()
    };
    let RouteAction::Forward(other) = action("/other") else {
        panic!()
    };
    assert!(ws.websocket, "the route of path /ws/ allows websockets");
    assert!(!other.websocket);
    assert_eq!(other.timeout, Some(Timeout::After(Duration::from_secs(90))));
    assert_eq!(
        other.retry,
        Some(RetryPolicy {
            retry_on: vec!["5xx".into(), "reset".into()],
            num_retries: 3,
            per_try_timeout: Some(Timeout::After(Duration::from_millis(500))),
            retriable_status_codes: Vec::new(),
        })
    );
    let status = status_of(&out, &ingress_key("web"));
    assert_eq!(
        (status.current, status.warnings.len()),
        (Validity::Valid, 0)
    );
}

#[test]
fn infinite_timeout() {
    let out = build_with(
        &ingress(
            "web",
            "projectsesame.io/response-timeout: infinity",
            &format!("  rules:\n{}", rule("a.com", "/")),
        ),
        vec![],
    );
    assert_eq!(forward(&out, "a.com").timeout, Some(Timeout::Infinite));
}

#[test]
fn bad_annotations_are_ignored_with_a_warning() {
    let plain = build_with(
        &ingress("web", "", &format!("  rules:\n{}", rule("a.com", "/"))),
        vec![],
    );
    let bad = build_with(
        &ingress(
            "web",
            "projectsesame.io/response-timeout: '-1s', projectsesame.io/retry-on: 'sometimes', ingress.kubernetes.io/force-ssl-redirect: 'yes', kubernetes.io/ingress.allow-http: 'no'",
            &format!("  rules:\n{}", rule("a.com", "/")),
        ),
        vec![],
    );
    assert_eq!(bad.dag, plain.dag, "no bad value reaches the config");
    let status = status_of(&bad, &ingress_key("web"));
    assert_eq!(status.current, Validity::Valid);
    assert_eq!(status.warnings.len(), 4);
    assert!(
        status
            .warnings
            .iter()
            .all(|w| w.kind == ProblemKind::AnnotationError
                && w.reason == Reason::AnnotationValueInvalid)
    );
    assert_eq!(
        status.warnings[0].message,
        "annotation ingress.kubernetes.io/force-ssl-redirect has invalid value \"yes\": expected \"true\" or \"false\"; ignored"
    );
    assert!(status.warnings.iter().any(|w| {
        w.message
            .contains("\"-1s\": a duration must not be negative")
    }));
}

#[test]
fn valid_tls_secret_makes_a_secure_vhost() {
    let pem = cert(&["a.com"]);
    let out = build_with(
        &tls_ingress("web", "", "a.com", "cert"),
        vec![tls_secret("cert", &pem.crt, &pem.key)],
    );
    let secure = &out.dag.https["a.com"];
    assert_eq!(secure.virtual_host.hostname, "a.com");
    assert_eq!(secure.virtual_host.routes.len(), 1);
    assert!(matches!(
        secure.virtual_host.routes[0].action,
        RouteAction::Forward(_)
    ));
    assert_eq!(
        (secure.min_tls_version, secure.max_tls_version),
        (TlsVersion::V1_2, TlsVersion::V1_3)
    );
    let secret = &out.dag.secrets[&secure.secret];
    assert!(secret.name.starts_with("default/cert/"));
    assert_eq!(secret.certificate_chain, pem.crt.as_bytes());
    assert_eq!(
        forward(&out, "a.com").clusters[0].name,
        "default/kuard/80/da39a3ee5e",
        "plain HTTP still served"
    );
    assert_eq!(
        status_of(&out, &ingress_key("web")).current,
        Validity::Valid
    );
}

#[test]
fn tls_hosts_without_routes_and_the_any_host_get_no_secure_vhost() {
    let pem = cert(&["a.com"]);
    let out = build_with(
        &ingress(
            "web",
            "",
            &format!(
                "  tls:\n  - {{hosts: ['*', b.com], secretName: cert}}\n  rules:\n{}",
                rule("", "/")
            ),
        ),
        vec![tls_secret("cert", &pem.crt, &pem.key)],
    );
    assert!(out.dag.https.is_empty());
    assert!(out.dag.secrets.is_empty(), "unused secrets are not served");
    assert_eq!(out.dag.http.keys().collect::<Vec<_>>(), ["*"]);
}

fn assert_tls_refused(extra: Vec<Object>, secret: &str, reason: Reason, message_part: &str) {
    let out = build_with(&tls_ingress("web", "", "a.com", secret), extra);
    assert!(
        out.dag.https.is_empty() && out.dag.secrets.is_empty(),
        "{message_part}"
    );
    assert_eq!(
        forward(&out, "a.com").clusters.len(),
        1,
        "plain HTTP routes remain"
    );
    let status = status_of(&out, &ingress_key("web"));
    assert_eq!(status.errors.len(), 1, "{status:?}");
    assert_eq!(
        (status.errors[0].kind, status.errors[0].reason),
        (ProblemKind::TLSError, reason)
    );
    assert!(
        status.errors[0].message.contains(message_part),
        "{}",
        status.errors[0].message
    );
}

#[test]
fn bad_tls_secrets_leave_hosts_on_plain_http() {
    let pem = cert(&["a.com"]);
    let other = cert(&["a.com"]);
    assert_tls_refused(
        vec![],
        "cert",
        Reason::SecretNotFound,
        "secret default/cert: secret not found",
    );
    assert_tls_refused(
        vec![tls_secret("cert", "garbage", &pem.key)],
        "cert",
        Reason::SecretNotValid,
        "tls.crt holds no PEM certificate",
    );
    assert_tls_refused(
        vec![tls_secret("cert", &pem.crt, &other.key)],
        "cert",
        Reason::SecretNotValid,
        "private key does not match the certificate",
    );
    assert_tls_refused(
        vec![tls_secret(
            "cert",
            include_str!("../secret/testdata/rsa1024.crt"),
            include_str!("../secret/testdata/rsa1024.key"),
        )],
        "cert",
        Reason::SecretNotValid,
        "at least 2048 bits",
    );
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let nameless = params.self_signed(&key).unwrap();
    assert_tls_refused(
        vec![tls_secret("cert", &nameless.pem(), &key.serialize_pem())],
        "cert",
        Reason::SecretNotValid,
        "certificate has no common name or subject alt name",
    );
    assert_tls_refused(
        vec![tls_secret("cert", &pem.crt, &pem.key)],
        "other/cert",
        Reason::DelegationNotPermitted,
        "certificate delegation not permitted",
    );
}

#[test]
fn secret_named_with_its_own_namespace() {
    let pem = cert(&["a.com"]);
    let out = build_with(
        &tls_ingress("web", "", "a.com", "default/cert"),
        vec![tls_secret("cert", &pem.crt, &pem.key)],
    );
    assert!(out.dag.https["a.com"].secret.starts_with("default/cert/"));
}

#[test]
fn allow_http_false_serves_https_only() {
    let pem = cert(&["a.com"]);
    let out = build_with(
        &tls_ingress(
            "web",
            "kubernetes.io/ingress.allow-http: 'false'",
            "a.com",
            "cert",
        ),
        vec![tls_secret("cert", &pem.crt, &pem.key)],
    );
    assert!(out.dag.http.is_empty());
    assert_eq!(out.dag.https["a.com"].virtual_host.routes.len(), 1);
}

#[test]
fn force_ssl_redirect_wins_over_allow_http_false() {
    let pem = cert(&["a.com"]);
    for annotations in [
        "ingress.kubernetes.io/force-ssl-redirect: 'true'",
        "ingress.kubernetes.io/force-ssl-redirect: 'true', kubernetes.io/ingress.allow-http: 'false'",
    ] {
        let out = build_with(
            &tls_ingress("web", annotations, "a.com", "cert"),
            vec![tls_secret("cert", &pem.crt, &pem.key)],
        );
        assert_eq!(
            http_vhost(&out, "a.com").routes[0].action,
            RouteAction::HttpsRedirect,
            "{annotations}"
        );
        assert!(matches!(
            out.dag.https["a.com"].virtual_host.routes[0].action,
            RouteAction::Forward(_)
        ));
    }
}

#[test]
fn tls_version_annotations() {
    let pem = cert(&["a.com"]);
    let secret = || vec![tls_secret("cert", &pem.crt, &pem.key)];
    let out = build_with(
        &tls_ingress(
            "web",
            "projectsesame.io/tls-minimum-protocol-version: '1.3'",
            "a.com",
            "cert",
        ),
        secret(),
    );
    assert_eq!(out.dag.https["a.com"].min_tls_version, TlsVersion::V1_3);
    let out = build_with(
        &tls_ingress(
            "web",
            "projectsesame.io/tls-maximum-protocol-version: '1.2'",
            "a.com",
            "cert",
        ),
        secret(),
    );
    assert_eq!(out.dag.https["a.com"].max_tls_version, TlsVersion::V1_2);
    let out = build_with(
        &tls_ingress(
            "web",
            "projectsesame.io/tls-minimum-protocol-version: '1.3', projectsesame.io/tls-maximum-protocol-version: '1.2'",
            "a.com",
            "cert",
        ),
        secret(),
    );
    let secure = &out.dag.https["a.com"];
    assert_eq!(
        (secure.min_tls_version, secure.max_tls_version),
        (TlsVersion::V1_2, TlsVersion::V1_3),
        "the defaults are kept"
    );
    assert_eq!(
        error_reasons(&out, &ingress_key("web")),
        [Reason::TLSConfigNotValid]
    );
}

#[test]
fn first_ingress_keeps_the_host_certificate() {
    let one = cert(&["a.com"]);
    let two = cert(&["a.com"]);
    let out = build_with(
        &format!(
            "{}{}",
            tls_ingress("b", "", "a.com", "second"),
            tls_ingress("a", "", "a.com", "first")
        ),
        vec![
            tls_secret("first", &one.crt, &one.key),
            tls_secret("second", &two.crt, &two.key),
        ],
    );
    assert!(out.dag.https["a.com"].secret.starts_with("default/first/"));
    assert_eq!(out.dag.secrets.len(), 1);
    assert_eq!(
        error_reasons(&out, &ingress_key("b")),
        [
            Reason::CertificateConflict,
            Reason::DuplicateMatchConditions
        ]
    );
    assert_eq!(status_of(&out, &ingress_key("a")).current, Validity::Valid);
    // The same secret named by two Ingresses is no conflict.
    let out = build_with(
        &format!(
            "{}{}",
            tls_ingress("a", "", "a.com", "first"),
            tls_ingress("b", "", "a.com", "first")
        ),
        vec![tls_secret("first", &one.crt, &one.key)],
    );
    assert_eq!(
        error_reasons(&out, &ingress_key("b")),
        [Reason::DuplicateMatchConditions]
    );
}

#[test]
fn routes_of_other_ingresses_join_the_secure_vhost() {
    let pem = cert(&["a.com"]);
    let out = build_with(
        &format!(
            "{}{}",
            tls_ingress("a", "", "a.com", "cert"),
            ingress("b", "", &format!("  rules:\n{}", rule("a.com", "/b")))
        ),
        vec![tls_secret("cert", &pem.crt, &pem.key)],
    );
    assert_eq!(out.dag.https["a.com"].virtual_host.routes.len(), 2);
    assert_eq!(http_vhost(&out, "a.com").routes.len(), 2);
}

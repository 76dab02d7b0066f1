//! HTTPS listeners of the served Gateway: certificates from Secrets, across namespaces only
//! with a ReferenceGrant, and invalid references refused on the listener alone.

use pretty_assertions::assert_eq;

use super::tests::{BASE, config, listeners_of, route_conditions};
use crate::build::{BuildOutput, build};
use crate::dag::TlsVersion;
use crate::object::Object;
use crate::status::gateway::{ConditionReason as R, ConditionType as T};
use crate::testutil::{cert, objects, snapshot_of, tls_secret};

const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - name: a
    port: 443
    protocol: HTTPS
    hostname: a.example.com
    allowedRoutes: {namespaces: {from: All}}
    tls: {certificateRefs: [{name: a-cert, namespace: default}]}
  - name: any
    port: 443
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: All}}
    tls: {certificateRefs: [{name: missing}]}
  - name: other-kind
    port: 444
    protocol: HTTPS
    tls: {certificateRefs: [{name: x, kind: ConfigMap}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: a}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
"#;

const GRANT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: certs, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: Secret, name: a-cert}]
"#;

fn build_tls(extra: &str) -> BuildOutput {
    let pem = cert(&["a.example.com"]);
    let mut objs: Vec<Object> = objects(&format!("{BASE}---\n{GATEWAY}{extra}"));
    objs.push(tls_secret("a-cert", &pem.crt, &pem.key));
    build(&snapshot_of(objs), &config())
}

fn resolved(out: &BuildOutput, i: usize) -> (bool, R) {
    let listeners = listeners_of(out);
    let c = listeners[i]
        .conditions
        .iter()
        .find(|c| c.type_ == T::ResolvedRefs)
        .expect("ResolvedRefs");
    (c.status, c.reason)
}

#[test]
fn a_certificate_in_another_namespace_needs_a_reference_grant() {
    let out = build_tls("");
    assert_eq!(resolved(&out, 0), (false, R::RefNotPermitted));
    assert_eq!(
        route_conditions(&out, "web")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert!(!out.dag.gateway_listeners.contains_key("https-443"));

    let out = build_tls(&format!("---\n{GRANT}"));
    assert_eq!(resolved(&out, 0), (true, R::ResolvedRefs));
    assert_eq!(
        route_conditions(&out, "web")[0],
        (T::Accepted, true, R::Accepted)
    );
    let listener = &out.dag.gateway_listeners["https-443"];
    assert_eq!(listener.port, 8443);
    assert_eq!(listener.tls.len(), 1);
    let tls = &listener.tls[0];
    assert_eq!(tls.server_name.as_deref(), Some("a.example.com"));
    assert_eq!(tls.min_tls_version, TlsVersion::V1_2);
    assert!(out.dag.secrets.contains_key(&tls.secret));
    // Its routes are its own; any other host on its connections is misdirected.
    assert!(listener.virtual_hosts.is_empty());
    assert_eq!(tls.route_config, "https-443/a");
    assert_eq!(
        tls.virtual_hosts.keys().collect::<Vec<_>>(),
        ["*", "a.example.com"]
    );
    assert_eq!(
        tls.virtual_hosts["*"].routes[0].action,
        crate::dag::RouteAction::DirectResponse {
            status: 421,
            body: None
        }
    );
}

#[test]
fn invalid_certificate_references_refuse_the_listener_only() {
    let out = build_tls(&format!("---\n{GRANT}"));
    // A missing Secret and a reference to another kind.
    assert_eq!(resolved(&out, 1), (false, R::InvalidCertificateRef));
    assert_eq!(resolved(&out, 2), (false, R::InvalidCertificateRef));
    let listeners = listeners_of(&out);
    assert!(
        listeners[1]
            .conditions
            .iter()
            .any(|c| c.type_ == T::Programmed && !c.status)
    );
    // The valid listener on the same port is served.
    assert_eq!(out.dag.gateway_listeners["https-443"].tls.len(), 1);
    assert!(!out.dag.gateway_listeners.contains_key("https-444"));
    // A Secret that is not a valid certificate is refused too.
    let mut snapshot = snapshot_of(objects(&format!("{BASE}---\n{GATEWAY}---\n{GRANT}")));
    snapshot.apply(crate::Change::Apply(tls_secret(
        "a-cert",
        "not a certificate",
        "not a key",
    )));
    let out = build(&snapshot, &config());
    assert_eq!(resolved(&out, 0), (false, R::InvalidCertificateRef));
}

#[test]
fn grants_that_do_not_name_the_gateway_and_the_secret_exactly_do_not_count() {
    // The upstream GatewaySecretInvalidReferenceGrant grants, one at a time: each misses one
    // field, so the certificate in `default` stays out of reach.
    let grant = |namespace: &str, from: (&str, &str, &str), to: (&str, &str, &str)| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: {namespace}}}\nspec:\n  from: [{{group: \"{}\", kind: {}, namespace: {}}}]\n  to: [{{group: \"{}\", kind: {}, name: {}}}]\n",
            from.0, from.1, from.2, to.0, to.1, to.2
        )
    };
    let gw = ("gateway.networking.k8s.io", "Gateway", "infra");
    let secret = ("", "Secret", "a-cert");
    let wrong = [
        grant("other", gw, secret),
        grant("default", ("not-the-group", "Gateway", "infra"), secret),
        grant(
            "default",
            ("gateway.networking.k8s.io", "HTTPRoute", "infra"),
            secret,
        ),
        grant(
            "default",
            ("gateway.networking.k8s.io", "Gateway", "elsewhere"),
            secret,
        ),
        grant("default", gw, ("not-the-group", "Secret", "a-cert")),
        grant("default", gw, ("", "Service", "a-cert")),
        grant("default", gw, ("", "Secret", "another-cert")),
    ];
    for g in &wrong {
        assert_eq!(
            resolved(&build_tls(g), 0),
            (false, R::RefNotPermitted),
            "{g}"
        );
    }
    // The same grant, right in every field, counts.
    assert_eq!(
        resolved(&build_tls(&grant("default", gw, secret)), 0),
        (true, R::ResolvedRefs)
    );
}

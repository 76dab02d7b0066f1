//! BackendTLSPolicy: TLS to the backends of the served Gateway's routes, the CA bundle from a
//! ConfigMap, conflicts between policies, and refused policies that leave their backends
//! unreachable (never plain text) while the rest is served.

use pretty_assertions::assert_eq;

use super::tests::{BASE, config, route_conditions, vhost};
use crate::build::{BuildOutput, build};
use crate::dag::{Cluster, RouteAction, UpstreamProtocol};
use crate::object::{Kind, NamespacedName, Object, ObjectKey};
use crate::status::gateway::{
    ConditionReason as R, ConditionType as T, GatewayApiStatus, PolicyAncestorStatus,
};
use crate::testutil::{cert, cluster_of, objects, snapshot_of};

/// Services with named ports, a route using each, and a ConfigMap holding a CA bundle.
fn scenario(policies: &str) -> BuildOutput {
    build(&snapshot_of(scenario_objects(policies)), &config())
}

/// The objects of [`scenario`].
fn scenario_objects(policies: &str) -> Vec<Object> {
    let ca = serde_json::to_string(&cert(&["ca.example.com"]).crt).unwrap();
    let yaml = format!(
        r#"{BASE}---
apiVersion: v1
kind: Service
metadata: {{name: secure, namespace: default}}
spec: {{ports: [{{name: https, port: 443}}, {{name: alt, port: 8443}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: grpc, namespace: default}}
spec: {{ports: [{{name: grpc, port: 443}}]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: ca, namespace: default}}
data: {{ca.crt: {ca}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: empty, namespace: default}}
data: {{other: x}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: default}}
spec:
  parentRefs: [{{name: gw, namespace: infra, sectionName: http}}]
  hostnames: [web.example.com]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /secure}}}}]
    backendRefs: [{{name: secure, port: 443}}]
  - matches: [{{path: {{type: PathPrefix, value: /alt}}}}]
    backendRefs: [{{name: secure, port: 8443}}]
  - matches: [{{path: {{type: PathPrefix, value: /plain}}}}]
    backendRefs: [{{name: echo, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {{name: rpc, namespace: default}}
spec:
  parentRefs: [{{name: gw, namespace: infra, sectionName: http}}]
  hostnames: [rpc.example.com]
  rules: [{{backendRefs: [{{name: grpc, port: 443}}]}}]
{policies}"#
    );
    objects(&yaml)
}

/// A policy `name` on `target` (`service` or `service/section`), created at second `created`.
fn policy(name: &str, target: &str, created: u32, validation: &str) -> String {
    let (service, section) = match target.split_once('/') {
        Some((s, section)) => (s, format!(", sectionName: {section}")),
        None => (target, String::new()),
    };
    format!(
        r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {{name: {name}, namespace: default, generation: 2, creationTimestamp: "2026-01-01T00:00:{created:02}Z"}}
spec:
  targetRefs: [{{group: "", kind: Service, name: {service}{section}}}]
  validation: {validation}
"#
    )
}

const VALID: &str = r#"{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], hostname: backend.example.com}"#;

/// The cluster the route `web` sends `prefix` to, or `None` when it answers itself (a 500).
fn cluster_for<'o>(out: &'o BuildOutput, prefix: &str) -> Option<&'o Cluster> {
    let vhost = vhost(out, "http-80", "web.example.com");
    let route = vhost
        .routes
        .iter()
        .find(|r| format!("{:?}", r.path).contains(prefix))
        .unwrap_or_else(|| panic!("no route for {prefix}"));
    match &route.action {
        RouteAction::DirectResponse { status: 500, .. } => None,
        _ => Some(&out.dag.clusters[cluster_of(route)]),
    }
}

/// The one ancestor status of policy `name`, or `None` when it has none.
fn ancestor(out: &BuildOutput, name: &str) -> Option<PolicyAncestorStatus> {
    let key = ObjectKey::new(Kind::BackendTLSPolicy, NamespacedName::new("default", name));
    let status = out.status.objects.get(&key)?;
    match status.gateway_api.as_deref() {
        Some(GatewayApiStatus::Policy { ancestors }) => {
            assert_eq!(ancestors.len(), 1);
            Some(ancestors[0].clone())
        }
        other => panic!("not a policy status: {other:?}"),
    }
}

fn conditions(out: &BuildOutput, name: &str) -> Vec<(T, bool, R)> {
    let ancestor = ancestor(out, name).unwrap_or_else(|| panic!("{name} has no status"));
    (ancestor.conditions.iter())
        .map(|c| (c.type_, c.status, c.reason))
        .collect()
}

#[test]
fn a_valid_policy_makes_its_backend_speak_tls_checked_against_its_ca_and_hostname() {
    let out = scenario(&policy("p", "secure", 1, VALID));
    let cluster = cluster_for(&out, "/secure").expect("served");
    assert_eq!(cluster.protocol, UpstreamProtocol::Tls);
    assert_eq!(cluster.sni.as_deref(), Some("backend.example.com"));
    let validation = cluster.upstream_validation.as_deref().expect("validated");
    assert_eq!(validation.subject_names, ["backend.example.com"]);
    assert!(validation.subject_uris.is_empty());
    assert!(String::from_utf8_lossy(&validation.ca_pem).contains("BEGIN CERTIFICATE"));
    // Every port of the Service: the policy names none.
    assert_eq!(
        cluster_for(&out, "/alt").expect("served").protocol,
        UpstreamProtocol::Tls
    );
    // Other Services are untouched.
    let plain = cluster_for(&out, "/plain").expect("served");
    assert_eq!(plain.protocol, UpstreamProtocol::Http1);
    assert!(plain.upstream_validation.is_none());

    let ancestor = ancestor(&out, "p").expect("status");
    assert_eq!(
        (
            ancestor.ancestor_ref.kind.as_str(),
            ancestor.ancestor_ref.namespace.as_str()
        ),
        ("Gateway", "infra")
    );
    assert_eq!(ancestor.ancestor_ref.name, "gw");
    assert_eq!(
        ancestor.controller_name,
        "projectsesame.io/gateway-controller"
    );
    assert_eq!(
        conditions(&out, "p"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
    assert_eq!(
        route_conditions(&out, "web")[1],
        (T::ResolvedRefs, true, R::ResolvedRefs)
    );
}

#[test]
fn subject_alt_names_replace_the_hostname_in_the_check_but_not_as_sni() {
    let validation = r#"{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], hostname: backend.example.com,
        subjectAltNames: [{type: Hostname, hostname: other.example.com}, {type: URI, uri: "spiffe://cluster/ns/default/sa/secure"}]}"#;
    let out = scenario(&policy("p", "secure", 1, validation));
    let cluster = cluster_for(&out, "/secure").expect("served");
    assert_eq!(cluster.sni.as_deref(), Some("backend.example.com"));
    let v = cluster.upstream_validation.as_deref().unwrap();
    assert_eq!(v.subject_names, ["other.example.com"]);
    assert_eq!(v.subject_uris, ["spiffe://cluster/ns/default/sa/secure"]);
}

#[test]
fn a_policy_without_a_valid_ca_leaves_its_backend_unreachable_and_says_why() {
    for (ca_ref, resolved) in [
        (
            r#"{group: "", kind: ConfigMap, name: missing}"#,
            R::InvalidCACertificateRef,
        ),
        (
            r#"{group: "", kind: ConfigMap, name: empty}"#,
            R::InvalidCACertificateRef,
        ),
        (
            r#"{group: invalid.io, kind: InvalidKind, name: x}"#,
            R::InvalidKind,
        ),
    ] {
        let validation =
            format!("{{caCertificateRefs: [{ca_ref}], hostname: backend.example.com}}");
        let out = scenario(&policy("p", "secure", 1, &validation));
        assert_eq!(
            conditions(&out, "p"),
            [
                (T::Accepted, false, R::NoValidCACertificate),
                (T::ResolvedRefs, false, resolved)
            ],
            "{ca_ref}"
        );
        // Never plain text: the backend's requests get a 500; the rest is served.
        assert!(cluster_for(&out, "/secure").is_none(), "{ca_ref}");
        assert!(cluster_for(&out, "/plain").is_some());
        // The route's own references resolved.
        assert_eq!(
            route_conditions(&out, "web"),
            [
                (T::Accepted, true, R::Accepted),
                (T::ResolvedRefs, true, R::ResolvedRefs)
            ]
        );
    }
}

#[test]
fn one_invalid_reference_of_several_fails_the_backend_but_keeps_the_policy_accepted() {
    let validation = r#"{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}, {group: "", kind: ConfigMap, name: missing}], hostname: backend.example.com}"#;
    let out = scenario(&policy("p", "secure", 1, validation));
    assert_eq!(
        conditions(&out, "p"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, false, R::InvalidCACertificateRef)
        ]
    );
    assert!(cluster_for(&out, "/secure").is_none());
}

#[test]
fn unsupported_values_refuse_the_policy() {
    for validation in [
        r#"{wellKnownCACertificates: System, hostname: backend.example.com}"#,
        r#"{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], hostname: "*.example.com"}"#,
        r#"{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], hostname: "Not A Host"}"#,
        r#"{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], hostname: a.example.com, subjectAltNames: [{type: URI}]}"#,
    ] {
        let out = scenario(&policy("p", "secure", 1, validation));
        assert_eq!(
            conditions(&out, "p"),
            [(T::Accepted, false, R::Invalid)],
            "{validation}"
        );
        assert!(cluster_for(&out, "/secure").is_none(), "{validation}");
    }
}

#[test]
fn the_oldest_policy_on_a_target_wins_and_a_port_policy_wins_over_the_service_one() {
    let newer = VALID.replace("backend.example.com", "newer.example.com");
    let port = VALID.replace("backend.example.com", "port.example.com");
    let out = scenario(
        &[
            policy("b-newer", "secure", 5, &newer),
            policy("z-older", "secure", 1, VALID),
            policy("port", "secure/alt", 9, &port),
        ]
        .concat(),
    );
    assert_eq!(
        conditions(&out, "b-newer"),
        [(T::Accepted, false, R::Conflicted)]
    );
    assert_eq!(
        conditions(&out, "z-older")[0],
        (T::Accepted, true, R::Accepted)
    );
    assert_eq!(
        conditions(&out, "port")[0],
        (T::Accepted, true, R::Accepted)
    );
    let sni = |prefix| cluster_for(&out, prefix).and_then(|c| c.sni.clone());
    assert_eq!(sni("/secure").as_deref(), Some("backend.example.com"));
    assert_eq!(sni("/alt").as_deref(), Some("port.example.com"));
}

#[test]
fn a_grpc_backend_speaks_http2_over_tls_and_unused_policies_get_no_status() {
    let out = scenario(
        &[
            policy("rpc", "grpc", 1, VALID),
            policy("unused", "nobody", 1, VALID),
        ]
        .concat(),
    );
    let vhost = vhost(&out, "http-80", "rpc.example.com");
    let cluster = &out.dag.clusters[cluster_of(&vhost.routes[0])];
    assert_eq!(cluster.protocol, UpstreamProtocol::H2);
    assert_eq!(cluster.sni.as_deref(), Some("backend.example.com"));
    assert_eq!(conditions(&out, "rpc")[0], (T::Accepted, true, R::Accepted));
    assert!(ancestor(&out, "unused").is_none());
}

/// The served Gateway again, presenting `client_ref` (YAML flow) to TLS backends.
fn gateway_presenting(client_ref: &str) -> String {
    format!(
        r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra, generation: 3}}
spec:
  gatewayClassName: sesame
  tls: {{backend: {{clientCertificateRef: {client_ref}}}}}
  listeners:
  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: empty, namespace: infra}}
type: Opaque
data: {{}}
"#
    )
}

/// The Gateway's conditions, as (type, status, reason).
fn gateway_conditions(out: &BuildOutput) -> Vec<(T, bool, R)> {
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", "gw"));
    match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Gateway { conditions, .. }) => (conditions.iter())
            .map(|c| (c.type_, c.status, c.reason))
            .collect(),
        other => panic!("not a gateway status: {other:?}"),
    }
}

#[test]
fn the_gateway_presents_its_client_certificate_to_tls_backends_only() {
    let pem = cert(&["gateway.example.com"]);
    let secret = crate::testutil::tls_secret("client", &pem.crt, &pem.key);
    let Object::Secret(secret) = secret else {
        unreachable!()
    };
    let mut secret = (*secret).clone();
    secret.metadata.namespace = Some("infra".into());
    let yaml = format!(
        "{}{}",
        policy("p", "secure", 1, VALID),
        gateway_presenting("{name: client}")
    );
    let mut objects = scenario_objects(&yaml);
    objects.push(Object::Secret(std::sync::Arc::new(secret)));
    let out = build(&snapshot_of(objects), &config());
    let tls = cluster_for(&out, "/secure").expect("served");
    let client = tls.client_certificate.as_deref().expect("presents one");
    assert!(out.dag.secrets.contains_key(client));
    assert!(
        out.dag.secrets[client]
            .certificate_chain
            .starts_with(b"-----BEGIN")
    );
    // Plain backends present nothing.
    assert!(
        cluster_for(&out, "/plain")
            .unwrap()
            .client_certificate
            .is_none()
    );
    assert_eq!(
        gateway_conditions(&out),
        [
            (T::Accepted, true, R::Accepted),
            (T::Programmed, true, R::Programmed),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
}

#[test]
fn an_unusable_client_certificate_reference_is_reported_and_the_gateway_still_served() {
    for (client_ref, reason) in [
        ("{name: nonexistent}", R::InvalidClientCertificateRef),
        (
            "{group: wrong.example.com, kind: Secret, name: client}",
            R::InvalidClientCertificateRef,
        ),
        (
            "{group: \"\", kind: WrongKind, name: client}",
            R::InvalidClientCertificateRef,
        ),
        ("{name: empty}", R::InvalidClientCertificateRef),
        ("{name: client, namespace: default}", R::RefNotPermitted),
    ] {
        let yaml = format!(
            "{}{}",
            policy("p", "secure", 1, VALID),
            gateway_presenting(client_ref)
        );
        let out = build(&snapshot_of(scenario_objects(&yaml)), &config());
        assert_eq!(
            gateway_conditions(&out),
            [
                (T::Accepted, true, R::Accepted),
                (T::Programmed, true, R::Programmed),
                (T::ResolvedRefs, false, reason)
            ],
            "{client_ref}"
        );
        // The backend is still served over TLS, presenting nothing.
        let tls = cluster_for(&out, "/secure").expect("served");
        assert!(tls.client_certificate.is_none(), "{client_ref}");
    }
}

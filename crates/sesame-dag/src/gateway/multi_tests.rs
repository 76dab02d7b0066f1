//! Several Gateways served at once (the upstream HTTPRouteMultipleGateways objects), the
//! addresses they bind (config `gateway.addresses`), and static Gateway addresses (the upstream
//! GatewayStaticAddresses sequence).

use std::net::IpAddr;

use pretty_assertions::assert_eq;

use super::tests::config;
use crate::build::{BuildConfig, BuildOutput, build};
use crate::dag::RouteAction;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{ConditionReason as R, ConditionType as T, GatewayApiStatus};
use crate::testutil::{objects, snapshot_of};

/// The upstream test's objects: the base manifests' Gateways `same-namespace` (older) and
/// `all-namespaces`, each with an HTTP listener on port 80, a route attached to both and one
/// dedicated route on each.
const MULTIPLE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sesame}
spec: {controllerName: projectsesame.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: same-namespace, namespace: infra, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: all-namespaces, namespace: infra, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: multiple-gateways-shared-route, namespace: infra}
spec:
  parentRefs: [{name: same-namespace}, {name: all-namespaces}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /shared}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: same-namespace-dedicated-route, namespace: infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: all-namespaces-dedicated-route, namespace: infra}
spec:
  parentRefs: [{name: all-namespaces}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: infra-backend-v1, namespace: infra}
spec: {ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: infra-backend-v2, namespace: infra}
spec: {ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: infra-backend-v3, namespace: infra}
spec: {ports: [{port: 8080}]}
"#;

/// `yaml` with `line` added to the spec of the Gateway `infra/name`.
fn with_spec(yaml: &str, name: &str, line: &str) -> String {
    let (before, after) = yaml
        .split_once(&format!("metadata: {{name: {name}, namespace: infra"))
        .expect("the Gateway");
    let (metadata, rest) = after.split_once("spec:\n").expect("its spec");
    format!("{before}metadata: {{name: {name}, namespace: infra{metadata}spec:\n  {line}\n{rest}")
}

/// The test config with no `gatewayRef` and `addresses` as the pool.
fn config_with(addresses: &[&str]) -> BuildConfig {
    let mut config = config();
    let gateway = config.gateway.as_mut().unwrap();
    gateway.gateway_ref = None;
    gateway.addresses = addresses
        .iter()
        .map(|a| sesame_api::cidr::Cidr::parse(a).unwrap())
        .collect();
    config
}

fn build_of(yaml: &str, config: &BuildConfig) -> BuildOutput {
    build(&snapshot_of(objects(yaml)), config)
}

fn gateway_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", name))
}

/// A Gateway's conditions as (type, status, reason), and its own addresses.
fn gateway_status(out: &BuildOutput, name: &str) -> (Vec<(T, bool, R)>, Vec<IpAddr>) {
    let status = out.status.objects.get(&gateway_key(name)).expect("status");
    match status.gateway_api.as_deref() {
        Some(GatewayApiStatus::Gateway {
            conditions,
            addresses,
            ..
        }) => (
            conditions
                .iter()
                .map(|c| (c.type_, c.status, c.reason))
                .collect(),
            addresses.clone(),
        ),
        other => panic!("not a gateway status: {other:?}"),
    }
}

/// Each listener condition of a Gateway's listener `i`, as (type, status, reason).
fn listener_conditions(out: &BuildOutput, name: &str, i: usize) -> Vec<(T, bool, R)> {
    let status = &out.status.objects[&gateway_key(name)];
    match status.gateway_api.as_deref() {
        Some(GatewayApiStatus::Gateway { listeners, .. }) => (listeners[i].conditions.iter())
            .map(|c| (c.type_, c.status, c.reason))
            .collect(),
        other => panic!("not a gateway status: {other:?}"),
    }
}

/// The Service the route for `path` on the `*` host of Envoy listener `listener` sends to.
fn backend_at(out: &BuildOutput, listener: &str, path: &str) -> String {
    let l = (out.dag.gateway_listeners.get(listener))
        .unwrap_or_else(|| panic!("no listener {listener}"));
    let route = l.virtual_hosts["*"]
        .routes
        .iter()
        .find(|r| r.path.value() == path)
        .unwrap_or_else(|| panic!("no route {path} on {listener}"));
    match &route.action {
        RouteAction::Forward(f) => out.dag.clusters[&f.clusters[0].name].service.to_string(),
        other => panic!("not a forward: {other:?}"),
    }
}

/// A route's parents and their `Accepted` status.
fn route_parents(out: &BuildOutput, name: &str) -> Vec<(String, bool)> {
    let key = ObjectKey::new(Kind::HTTPRoute, NamespacedName::new("infra", name));
    match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Route { parents }) => (parents.iter())
            .map(|p| {
                let accepted = p
                    .conditions
                    .iter()
                    .any(|c| c.type_ == T::Accepted && c.status);
                (p.parent_ref.name.clone(), accepted)
            })
            .collect(),
        other => panic!("not a route status: {other:?}"),
    }
}

const ACCEPTED: [(T, bool, R); 2] = [
    (T::Accepted, true, R::Accepted),
    (T::Programmed, true, R::Programmed),
];

#[test]
fn two_gateways_on_port_80_each_get_an_address_of_the_pool_and_their_own_routes() {
    let out = build_of(MULTIPLE, &config_with(&["127.0.0.2/31"]));
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        gateway_status(&out, "same-namespace"),
        (ACCEPTED.to_vec(), vec![ip("127.0.0.2")])
    );
    assert_eq!(
        gateway_status(&out, "all-namespaces"),
        (ACCEPTED.to_vec(), vec![ip("127.0.0.3")])
    );
    let names: Vec<&String> = out.dag.gateway_listeners.keys().collect();
    assert_eq!(names, ["http-80-127.0.0.2", "http-80-127.0.0.3"]);
    let same = &out.dag.gateway_listeners["http-80-127.0.0.2"];
    assert_eq!((same.address, same.port), (Some(ip("127.0.0.2")), 8080));
    assert_eq!(
        backend_at(&out, "http-80-127.0.0.2", "/shared"),
        "infra/infra-backend-v1"
    );
    assert_eq!(
        backend_at(&out, "http-80-127.0.0.2", "/"),
        "infra/infra-backend-v2"
    );
    assert_eq!(
        backend_at(&out, "http-80-127.0.0.3", "/shared"),
        "infra/infra-backend-v1"
    );
    assert_eq!(
        backend_at(&out, "http-80-127.0.0.3", "/"),
        "infra/infra-backend-v3"
    );
    assert_eq!(
        route_parents(&out, "multiple-gateways-shared-route"),
        [
            ("same-namespace".to_string(), true),
            ("all-namespaces".to_string(), true)
        ]
    );
    assert_eq!(
        route_parents(&out, "all-namespaces-dedicated-route"),
        [("all-namespaces".to_string(), true)]
    );
}

#[test]
fn without_a_pool_two_gateways_on_one_port_conflict_and_the_older_wins() {
    let out = build_of(MULTIPLE, &config_with(&[]));
    assert_eq!(
        gateway_status(&out, "same-namespace"),
        (ACCEPTED.to_vec(), vec![])
    );
    assert_eq!(
        gateway_status(&out, "all-namespaces").0,
        [
            (T::Accepted, false, R::ListenersNotValid),
            (T::Programmed, false, R::Invalid)
        ]
    );
    assert!(listener_conditions(&out, "all-namespaces", 0).contains(&(
        T::Conflicted,
        true,
        R::HostnameConflict
    )));
    let names: Vec<&String> = out.dag.gateway_listeners.keys().collect();
    assert_eq!(names, ["http-80"]);
    assert_eq!(backend_at(&out, "http-80", "/"), "infra/infra-backend-v2");
    assert_eq!(
        route_parents(&out, "multiple-gateways-shared-route"),
        [
            ("same-namespace".to_string(), true),
            ("all-namespaces".to_string(), false)
        ]
    );
}

#[test]
fn gateway_ref_still_serves_only_that_gateway() {
    let mut config = config_with(&["127.0.0.2/31"]);
    config.gateway.as_mut().unwrap().gateway_ref =
        Some(NamespacedName::new("infra", "all-namespaces"));
    let out = build_of(MULTIPLE, &config);
    assert!(
        !out.status
            .objects
            .contains_key(&gateway_key("same-namespace"))
    );
    assert_eq!(
        gateway_status(&out, "all-namespaces").1,
        vec!["127.0.0.2".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        route_parents(&out, "multiple-gateways-shared-route"),
        [("all-namespaces".to_string(), true)]
    );
    assert_eq!(
        backend_at(&out, "http-80-127.0.0.2", "/"),
        "infra/infra-backend-v3"
    );
}

/// The upstream GatewayStaticAddresses Gateway with these `spec.addresses`.
fn static_gateway(addresses: &str) -> String {
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: sesame}}
spec: {{controllerName: projectsesame.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gateway-static-addresses, namespace: infra}}
spec:
  gatewayClassName: sesame
  addresses: {addresses}
  listeners:
  - {{name: http, port: 8080, protocol: HTTP}}
"#
    )
}

#[test]
fn static_addresses_unsupported_type_then_unusable_then_usable() {
    let config = config_with(&["127.0.0.2/31"]);
    let name = "gateway-static-addresses";
    let invalid = r#"{type: test/fake-invalid-type, value: "fake address teehee!"}"#;
    let all = format!("[{invalid}, {{value: 10.9.9.9}}, {{value: 127.0.0.3}}]");
    let out = build_of(&static_gateway(&all), &config);
    assert_eq!(
        gateway_status(&out, name),
        (
            vec![
                (T::Accepted, false, R::UnsupportedAddress),
                (T::Programmed, false, R::Invalid)
            ],
            vec![]
        )
    );
    assert!(out.dag.gateway_listeners.is_empty());

    let out = build_of(
        &static_gateway("[{value: 10.9.9.9}, {type: IPAddress, value: 127.0.0.3}]"),
        &config,
    );
    assert_eq!(
        gateway_status(&out, name),
        (
            vec![
                (T::Accepted, true, R::Accepted),
                (T::Programmed, false, R::AddressNotUsable)
            ],
            vec![]
        )
    );
    assert!(out.dag.gateway_listeners.is_empty());

    let out = build_of(&static_gateway("[{value: 127.0.0.3}]"), &config);
    let ip: IpAddr = "127.0.0.3".parse().unwrap();
    assert_eq!(gateway_status(&out, name), (ACCEPTED.to_vec(), vec![ip]));
    assert_eq!(
        listener_conditions(&out, name, 0),
        [
            (T::Accepted, true, R::Accepted),
            (T::Programmed, true, R::Programmed),
            (T::ResolvedRefs, true, R::ResolvedRefs),
            (T::Conflicted, false, R::NoConflicts),
        ]
    );
    let l = &out.dag.gateway_listeners["http-8080-127.0.0.3"];
    assert_eq!((l.address, l.port), (Some(ip), 16080));
}

#[test]
fn without_a_pool_no_static_address_is_usable_and_an_empty_value_asks_for_none() {
    let config = config_with(&[]);
    let name = "gateway-static-addresses";
    let out = build_of(&static_gateway("[{value: 127.0.0.3}]"), &config);
    assert_eq!(
        gateway_status(&out, name).0,
        [
            (T::Accepted, true, R::Accepted),
            (T::Programmed, false, R::AddressNotUsable)
        ]
    );
    let out = build_of(&static_gateway("[{type: IPAddress}]"), &config);
    assert_eq!(gateway_status(&out, name), (ACCEPTED.to_vec(), vec![]));
    assert!(out.dag.gateway_listeners.contains_key("http-8080"));
}

#[test]
fn a_static_address_is_not_given_to_another_gateway_from_the_pool() {
    // all-namespaces (the younger) asks for the pool's first address: same-namespace gets the
    // second.
    let yaml = with_spec(
        MULTIPLE,
        "all-namespaces",
        "addresses: [{value: 127.0.0.2}]",
    );
    let out = build_of(&yaml, &config_with(&["127.0.0.2/31"]));
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(gateway_status(&out, "all-namespaces").1, [ip("127.0.0.2")]);
    assert_eq!(gateway_status(&out, "same-namespace").1, [ip("127.0.0.3")]);
    // A third Gateway finds the pool used up.
    let third = r#"
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: third, namespace: infra, creationTimestamp: "2026-01-03T00:00:00Z"}
spec:
  gatewayClassName: sesame
  listeners: [{name: http, port: 80, protocol: HTTP}]
"#;
    let out = build_of(&format!("{yaml}{third}"), &config_with(&["127.0.0.2/31"]));
    assert_eq!(
        gateway_status(&out, "third").0,
        [
            (T::Accepted, true, R::Accepted),
            (T::Programmed, false, R::AddressNotUsable)
        ]
    );
}

#[test]
fn a_backend_tls_policy_gets_an_ancestor_per_gateway_and_the_oldest_gateways_certificate() {
    use crate::object::Object;
    use crate::testutil::{ca_config_map, cert, cluster_of, tls_secret};
    let mut yaml = MULTIPLE.to_string();
    for name in ["same-namespace", "all-namespaces"] {
        let line = format!("tls: {{backend: {{clientCertificateRef: {{name: client-{name}}}}}}}");
        yaml = with_spec(&yaml, name, &line);
    }
    yaml.push_str(
        r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: tls, namespace: infra}
spec:
  targetRefs: [{group: "", kind: Service, name: infra-backend-v1}]
  validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], hostname: backend.example.com}
"#,
    );
    let pem = cert(&["backend.example.com"]);
    let mut objects = objects(&yaml);
    objects.push(ca_config_map("infra", "ca", &pem.crt));
    for name in ["client-same-namespace", "client-all-namespaces"] {
        let Object::Secret(secret) = tls_secret(name, &pem.crt, &pem.key) else {
            unreachable!()
        };
        let mut secret = (*secret).clone();
        secret.metadata.namespace = Some("infra".into());
        objects.push(Object::Secret(std::sync::Arc::new(secret)));
    }
    let out = build(&snapshot_of(objects), &config_with(&["127.0.0.2/31"]));

    let key = ObjectKey::new(Kind::BackendTLSPolicy, NamespacedName::new("infra", "tls"));
    let ancestors: Vec<String> = match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Policy { ancestors }) => (ancestors.iter())
            .map(|a| a.ancestor_ref.name.clone())
            .collect(),
        other => panic!("not a policy status: {other:?}"),
    };
    assert_eq!(ancestors, ["same-namespace", "all-namespaces"]);
    // The shared route's rules are built once: both Gateways' listeners present the oldest
    // Gateway's certificate.
    for listener in ["http-80-127.0.0.2", "http-80-127.0.0.3"] {
        let l = &out.dag.gateway_listeners[listener];
        let route = (l.virtual_hosts["*"].routes.iter())
            .find(|r| r.path.value() == "/shared")
            .unwrap();
        let cluster = &out.dag.clusters[cluster_of(route)];
        let client = cluster
            .client_certificate
            .as_deref()
            .expect("a certificate");
        assert!(
            client.contains("client-same-namespace"),
            "{listener}: {client}"
        );
    }
}

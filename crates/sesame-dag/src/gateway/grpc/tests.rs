//! GRPCRoute scenarios: method and header matches as routes, HTTP/2 clusters, weights, header
//! filters, refused rules, and the HTTPRoute/GRPCRoute hostname conflict.

use pretty_assertions::assert_eq;

use crate::dag::{
    Forward, HeaderValue, HeaderValueMatch, PathMatch, Route, RouteAction, UpstreamProtocol,
};
use crate::gateway::tests::{build_with, listeners_of, vhost};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{ConditionReason as R, ConditionType as T, GatewayApiStatus};

/// The conditions of a route of `kind` for its first parent, as (type, status, reason).
fn conditions(out: &crate::BuildOutput, kind: Kind, name: &str) -> Vec<(T, bool, R)> {
    let key = ObjectKey::new(kind, NamespacedName::new("default", name));
    let status = out.status.objects.get(&key).expect("route status");
    match status.gateway_api.as_deref() {
        Some(GatewayApiStatus::Route { parents }) => parents[0]
            .conditions
            .iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect(),
        other => panic!("not a route status: {other:?}"),
    }
}

fn grpc(out: &crate::BuildOutput, name: &str) -> Vec<(T, bool, R)> {
    conditions(out, Kind::GRPCRoute, name)
}

fn forward(route: &Route) -> &Forward {
    match &route.action {
        RouteAction::Forward(forward) => forward,
        other => panic!("not a forward: {other:?}"),
    }
}

/// The Service names and protocols of a route's clusters.
fn backends(out: &crate::BuildOutput, route: &Route) -> Vec<(String, u32, UpstreamProtocol)> {
    forward(route)
        .clusters
        .iter()
        .map(|c| {
            let cluster = &out.dag.clusters[&c.name];
            (cluster.service.name.to_string(), c.weight, cluster.protocol)
        })
        .collect()
}

const ACCEPTED: [(T, bool, R); 2] = [
    (T::Accepted, true, R::Accepted),
    (T::ResolvedRefs, true, R::ResolvedRefs),
];

#[test]
fn method_matches_become_paths_served_over_h2c() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: exact-matching, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  rules:
  - name: named-rule
    matches: [{method: {service: echo.Echo, method: Echo}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {service: echo.Echo, method: EchoTwo}}]
    backendRefs: [{name: echo2, port: 80}]
  - matches: [{method: {service: other.Other}}]
    backendRefs: [{name: echo2, port: 80}]
  - matches: [{method: {method: Only}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {type: RegularExpression, service: "re\\.[a-z]+", method: "Get.*"}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {type: RegularExpression, method: "Put|Post"}}]
    backendRefs: [{name: echo2, port: 80}]
"#,
    );
    assert_eq!(grpc(&out, "exact-matching"), ACCEPTED);
    let routes = &vhost(&out, "http-80", "*").routes;
    let paths: Vec<&PathMatch> = routes.iter().map(|r| &r.path).collect();
    assert_eq!(
        paths,
        [
            &PathMatch::Exact("/echo.Echo/EchoTwo".to_string()),
            &PathMatch::Exact("/echo.Echo/Echo".to_string()),
            &PathMatch::Regex("/(?:re\\.[a-z]+)/(?:Get.*)".to_string()),
            &PathMatch::Regex("/[^/]+/(?:Put|Post)".to_string()),
            &PathMatch::Regex("/[^/]+/Only".to_string()),
            &PathMatch::Prefix("/other.Other/".to_string()),
        ]
    );
    let echo = routes
        .iter()
        .find(|r| r.path.value() == "/echo.Echo/Echo")
        .expect("Echo");
    assert_eq!(
        backends(&out, echo),
        [("echo".to_string(), 1, UpstreamProtocol::H2c)]
    );
    assert_eq!(echo.origin.kind, Kind::GRPCRoute);
    let listeners = listeners_of(&out);
    assert_eq!(listeners[0].attached_routes, 1);
    assert_eq!(listeners[0].supported_kinds, ["HTTPRoute", "GRPCRoute"]);
}

#[test]
fn header_matches_weights_and_filters() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: headers, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: echo2, port: 80}]
  - matches: [{headers: [{name: version, value: two}, {name: Color, type: RegularExpression, value: "or.*"}]}]
    backendRefs: [{name: echo, port: 80}]
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Set, value: a}], remove: [X-Drop]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: X-Resp, value: b}]}
    backendRefs:
    - {name: echo, port: 80, weight: 70}
    - {name: echo2, port: 80, weight: 30}
    - {name: other-missing, port: 80, weight: 0}
"#,
    );
    // The weight-0 backend does not exist: it is reported, and takes nothing anyway.
    assert_eq!(
        grpc(&out, "headers"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, false, R::BackendNotFound)
        ]
    );
    let routes = &vhost(&out, "http-80", "grpc.example.com").routes;
    let headers: Vec<Vec<(&str, &HeaderValueMatch)>> = routes
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .map(|h| (h.name.as_str(), &h.value))
                .collect()
        })
        .collect();
    assert_eq!(
        headers,
        [
            vec![
                ("version", &HeaderValueMatch::Exact("two".to_string())),
                ("color", &HeaderValueMatch::Regex("or.*".to_string())),
            ],
            vec![("version", &HeaderValueMatch::Exact("two".to_string()))],
            vec![],
        ]
    );
    assert_eq!(backends(&out, &routes[0])[0].0, "echo");
    assert_eq!(
        backends(&out, &routes[2]),
        [
            ("echo".to_string(), 70, UpstreamProtocol::H2c),
            ("echo2".to_string(), 30, UpstreamProtocol::H2c),
        ]
    );
    let policies = forward(&routes[2]).policies();
    assert_eq!(
        policies.request_headers.set,
        [("x-set".to_string(), HeaderValue::literal("a"))]
    );
    assert_eq!(policies.request_headers.remove, ["x-drop"]);
    assert_eq!(
        policies.response_headers_append,
        [("x-resp".to_string(), HeaderValue::literal("b"))]
    );
}

#[test]
fn invalid_rules_are_refused_and_the_others_served() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: hostile, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  rules:
  - matches: [{method: {type: RegularExpression, service: "a)|(b"}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {type: RegularExpression, method: "(?<name>x)"}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {service: "bad service"}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {method: "a/b"}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{headers: [{name: "bad header", value: x}]}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {service: ext.Ext}}]
    filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Thing, name: x}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{method: {service: ok.Ok}}]
    backendRefs: [{name: echo, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: all-bad, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [bad.example.com]
  rules:
  - matches: [{method: {type: RegularExpression, method: "[z-a]"}}]
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    assert_eq!(
        grpc(&out, "hostile"),
        [
            (T::Accepted, true, R::Accepted),
            (T::PartiallyInvalid, true, R::UnsupportedValue),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
    let paths: Vec<&str> = vhost(&out, "http-80", "*")
        .routes
        .iter()
        .map(|r| r.path.value())
        .collect();
    assert_eq!(paths, ["/ok.Ok/"]);
    assert_eq!(
        grpc(&out, "all-bad")[0],
        (T::Accepted, false, R::UnsupportedValue)
    );
    assert!(
        !out.dag.gateway_listeners["http-80"]
            .virtual_hosts
            .contains_key("bad.example.com")
    );
}

#[test]
fn one_service_behind_an_http_route_and_a_grpc_route_has_two_clusters() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [web.example.com]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [rpc.example.com]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
"#,
    );
    assert_eq!(conditions(&out, Kind::HTTPRoute, "web"), ACCEPTED);
    assert_eq!(grpc(&out, "rpc"), ACCEPTED);
    let web = &vhost(&out, "http-80", "web.example.com").routes[0];
    let rpc = &vhost(&out, "http-80", "rpc.example.com").routes[0];
    assert_eq!(backends(&out, web)[0].2, UpstreamProtocol::Http1);
    assert_eq!(backends(&out, rpc)[0].2, UpstreamProtocol::H2c);
    assert_ne!(forward(web).clusters[0].name, forward(rpc).clusters[0].name);
    assert_eq!(listeners_of(&out)[0].attached_routes, 2);
}

#[test]
fn the_older_of_an_http_route_and_a_grpc_route_on_one_host_wins() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: old-rpc, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: ["*.example.com"]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: young-web, namespace: default, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [web.example.com]
  rules: [{backendRefs: [{name: echo2, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: default, creationTimestamp: "2026-01-03T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [web.example.org]
  rules: [{backendRefs: [{name: echo2, port: 80}]}]
"#,
    );
    assert_eq!(grpc(&out, "old-rpc"), ACCEPTED);
    assert_eq!(
        conditions(&out, Kind::HTTPRoute, "young-web")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert_eq!(conditions(&out, Kind::HTTPRoute, "elsewhere"), ACCEPTED);
    let hosts = &out.dag.gateway_listeners["http-80"].virtual_hosts;
    assert!(!hosts.contains_key("web.example.com"));
    assert_eq!(listeners_of(&out)[0].attached_routes, 2);
}

#[test]
fn listener_kinds_and_reference_grants_name_grpc_routes() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: GRPCRoute}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{method: {service: a.A}}]
    backendRefs: [{name: other, namespace: other, port: 80}]
  - matches: [{method: {service: b.B}}]
    backendRefs: [{name: echo, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: http-only, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
"#,
    );
    let listeners = listeners_of(&out);
    assert_eq!(listeners[0].supported_kinds, ["GRPCRoute"]);
    assert_eq!(
        conditions(&out, Kind::HTTPRoute, "web")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert_eq!(
        grpc(&out, "rpc"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, false, R::RefNotPermitted)
        ]
    );
    let routes = &vhost(&out, "http-80", "*").routes;
    assert_eq!(
        routes[0].action,
        RouteAction::DirectResponse {
            status: 500,
            body: None
        }
    );
    assert_eq!(listeners[0].attached_routes, 1);
}

#[test]
fn mirrors_and_backend_filters() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: mirrored, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  rules:
  - matches: [{method: {service: m.M}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: echo2, port: 80}, fraction: {numerator: 1, denominator: 4}}
    backendRefs:
    - name: echo
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: X-Backend, value: one}]}
  - matches: [{method: {service: bad.Mirror}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: echo2, port: 80}, percent: 101}
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    assert_eq!(
        grpc(&out, "mirrored"),
        [
            (T::Accepted, true, R::Accepted),
            (T::PartiallyInvalid, true, R::UnsupportedValue),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
    let routes = &vhost(&out, "http-80", "*").routes;
    assert_eq!(routes.len(), 1);
    let forward = forward(&routes[0]);
    let mirror = &forward.policies().mirrors[0];
    assert_eq!(mirror.per_million, 250_000);
    // The mirror speaks HTTP/2 too.
    assert_eq!(
        out.dag.clusters[&mirror.cluster].protocol,
        UpstreamProtocol::H2c
    );
    assert_eq!(
        forward.clusters[0].rewrites().request_headers.set,
        [("x-backend".to_string(), HeaderValue::literal("one"))]
    );
}

//! Listener isolation scenarios: the upstream GatewayHTTPListenerIsolation Gateway (four HTTP
//! listeners on one port, from no hostname to an exact one), with routes that name no
//! hostname and with routes whose hostnames intersect several listeners'.

use pretty_assertions::assert_eq;

use super::tests::{build_with, route_conditions};
use crate::BuildOutput;
use crate::status::gateway::{ConditionReason as R, ConditionType as T};

const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: empty-hostname, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: wildcard-example-com, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: wildcard-foo-example-com, port: 80, protocol: HTTP, hostname: "*.foo.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: abc-foo-example-com, port: 80, protocol: HTTP, hostname: abc.foo.example.com, allowedRoutes: {namespaces: {from: All}}}
"#;

/// An HTTPRoute `name` on listener `name` with one rule for `/<name>` and these hostnames.
fn route(name: &str, hostnames: &str) -> String {
    format!(
        r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: default}}
spec:
  parentRefs: [{{name: gw, namespace: infra, sectionName: {name}}}]
  hostnames: {hostnames}
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /{name}}}}}]
    backendRefs: [{{name: echo, port: 80}}]
"#
    )
}

const LISTENERS: [&str; 4] = [
    "empty-hostname",
    "wildcard-example-com",
    "wildcard-foo-example-com",
    "abc-foo-example-com",
];

/// Every virtual host of `http-80` with the paths of its routes.
fn hosts(out: &BuildOutput) -> Vec<(String, Vec<String>)> {
    out.dag.gateway_listeners["http-80"]
        .virtual_hosts
        .iter()
        .map(|(host, vhost)| {
            let paths = vhost.routes.iter().map(|r| r.path.value().to_string());
            (host.clone(), paths.collect())
        })
        .collect()
}

fn expected() -> Vec<(String, Vec<String>)> {
    [
        ("*", "/empty-hostname"),
        ("*.example.com", "/wildcard-example-com"),
        ("*.foo.example.com", "/wildcard-foo-example-com"),
        ("abc.foo.example.com", "/abc-foo-example-com"),
    ]
    .into_iter()
    .map(|(h, p)| (h.to_string(), vec![p.to_string()]))
    .collect()
}

#[test]
fn each_host_reaches_only_the_routes_of_its_most_specific_listener() {
    let routes: String = LISTENERS.iter().map(|l| route(l, "[]")).collect();
    let out = build_with(&format!("{GATEWAY}{routes}"));
    // Envoy picks the most specific domain: bar.com gets `*`, bar.example.com
    // `*.example.com`, bar.foo.example.com `*.foo.example.com`, abc.foo.example.com its own.
    assert_eq!(hosts(&out), expected());
    for l in LISTENERS {
        assert_eq!(
            route_conditions(&out, l)[0],
            (T::Accepted, true, R::Accepted)
        );
    }
}

#[test]
fn route_hostnames_owned_by_a_more_specific_listener_are_left_out() {
    let all = r#"[bar.com, "*.example.com", "*.foo.example.com"]"#;
    let routes: String = LISTENERS.iter().map(|l| route(l, all)).collect();
    let out = build_with(&format!("{GATEWAY}{routes}"));
    // The route on no hostname keeps only bar.com; `*.example.com` and `*.foo.example.com`
    // belong to the wildcard listeners, whose routes keep their own.
    let mut want = expected();
    want[0].0 = "bar.com".to_string();
    want.sort();
    assert_eq!(hosts(&out), want);
}

#[test]
fn a_listener_without_routes_still_owns_its_hostname() {
    let out = build_with(&format!("{GATEWAY}{}", route("empty-hostname", "[]")));
    let empty = |h: &str| (h.to_string(), Vec::<String>::new());
    assert_eq!(
        hosts(&out),
        [
            ("*".to_string(), vec!["/empty-hostname".to_string()]),
            empty("*.example.com"),
            empty("*.foo.example.com"),
            empty("abc.foo.example.com"),
        ]
    );
}

/// The upstream HTTPRoutePathMatchOrder route, and the rest of the spec's precedence: a
/// method match before header matches, more header matches before query matches, and equal
/// matches in the order of their routes and rules.
#[test]
fn matches_are_ordered_by_the_specs_precedence() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: order, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  rules:
  - matches: [{path: {type: Exact, value: /match}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /match/exact}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /match/}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /match/prefix/}}]
    backendRefs: [{name: echo, port: 80}]
  - matches:
    - {path: {type: PathPrefix, value: /m}, queryParams: [{name: a, value: "1"}, {name: b, value: "2"}]}
    - {path: {type: PathPrefix, value: /m}, headers: [{name: x-a, value: "1"}]}
    - {path: {type: PathPrefix, value: /m}, headers: [{name: x-a, value: "1"}, {name: x-b, value: "2"}]}
    - {path: {type: PathPrefix, value: /m}, method: GET}
    backendRefs: [{name: echo, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: younger, namespace: default, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /m}, headers: [{name: x-c, value: "3"}]}]
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    let routes: Vec<String> = out.dag.gateway_listeners["http-80"].virtual_hosts["*"]
        .routes
        .iter()
        .map(|r| {
            let headers: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
            let queries: Vec<&str> = r.query_params.iter().map(|q| q.name.as_str()).collect();
            format!(
                "{} {} {} {}",
                r.path.value(),
                headers.join(","),
                queries.join(","),
                r.origin.name.name
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            "/match/exact   order",
            "/match   order",
            "/match/prefix   order",
            "/match   order",
            "/m :method  order",
            "/m x-a,x-b  order",
            "/m x-a  order",
            "/m x-c  younger",
            "/m  a,b order",
        ]
    );
}

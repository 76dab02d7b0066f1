//! Gateway API scenarios for HTTPRoute features beyond matching: full path rewrites, filters
//! on a backendRef, backend request timeouts, CORS, and redirects completed per listener.

use std::time::Duration;

use pretty_assertions::assert_eq;

use super::tests::{build_with, route_conditions, vhost};
use crate::dag::{
    CorsPolicy, Forward, HeaderValue, OriginMatch, Redirect, RetryPolicy, Route, RouteAction,
    Timeout,
};
use crate::status::gateway::{ConditionReason as R, ConditionType as T};

fn forward(route: &Route) -> &Forward {
    match &route.action {
        RouteAction::Forward(forward) => forward,
        other => panic!("not a forward: {other:?}"),
    }
}

/// The route of a virtual host of `http-80` whose path is `path`.
fn route_at<'a>(out: &'a crate::BuildOutput, host: &str, path: &str) -> &'a Route {
    vhost(out, "http-80", host)
        .routes
        .iter()
        .find(|r| r.path.value() == path)
        .unwrap_or_else(|| panic!("no route {path}"))
}

#[test]
fn full_path_rewrites_backend_filters_and_backend_timeouts() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /full/one}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs:
    - name: echo
      port: 80
      weight: 1
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: X-Backend, value: one}], add: [{name: X-Add, value: a}], remove: [X-Drop]}
      - type: ResponseHeaderModifier
        responseHeaderModifier: {set: [{name: X-Resp, value: one}]}
    - {name: echo2, port: 80, weight: 1}
  - matches: [{path: {type: PathPrefix, value: /slow}}]
    timeouts: {request: 2s, backendRequest: 500ms}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /unbounded}}]
    timeouts: {backendRequest: 0s}
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    assert_eq!(
        route_conditions(&out, "web"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
    let full = forward(route_at(&out, "*", "/full/one")).policies();
    assert_eq!(full.path_rewrite.as_deref(), Some("/one"));
    assert_eq!(full.prefix_rewrite, None);

    let split = forward(route_at(&out, "*", "/split"));
    let rewrites = split.clusters[0].rewrites();
    assert_eq!(
        rewrites.request_headers.set,
        [("x-backend".to_string(), HeaderValue::literal("one"))]
    );
    assert_eq!(rewrites.request_headers.remove, ["x-drop"]);
    assert_eq!(
        rewrites.request_headers_append,
        [("x-add".to_string(), HeaderValue::literal("a"))]
    );
    assert_eq!(
        rewrites.response_headers.set,
        [("x-resp".to_string(), HeaderValue::literal("one"))]
    );
    // The other backend gets none of it, nor does the route as a whole.
    assert!(!split.clusters[1].has_policies());
    assert!(split.policies.is_none());

    let slow = forward(route_at(&out, "*", "/slow"));
    assert_eq!(slow.timeout, Some(Timeout::After(Duration::from_secs(2))));
    assert_eq!(
        slow.retry,
        Some(RetryPolicy {
            retry_on: Vec::new(),
            num_retries: 0,
            per_try_timeout: Some(Timeout::After(Duration::from_millis(500))),
            retriable_status_codes: Vec::new(),
        })
    );
    // `0s` switches the per-try timeout off: nothing to set.
    let unbounded = forward(route_at(&out, "*", "/unbounded"));
    assert_eq!((unbounded.timeout, &unbounded.retry), (None, &None));
}

#[test]
fn cors_filters_become_the_routes_own_cors_policy() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /cors-1}}]
    filters:
    - type: CORS
      cors:
        allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
        allowMethods: [GET, OPTIONS]
        allowHeaders: [x-header-1, x-header-2]
        exposeHeaders: [x-header-3]
        allowCredentials: true
        maxAge: 3600
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cors-2}}]
    filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"]}}]
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    let cors = |path| {
        forward(route_at(&out, "*", path))
            .policies()
            .cors
            .as_deref()
            .cloned()
    };
    assert_eq!(
        cors("/cors-1"),
        Some(CorsPolicy {
            allow_origin: vec![
                OriginMatch::Exact("https://www.foo.com".into()),
                OriginMatch::Regex(r"https://[A-Za-z0-9._~-]+\.bar\.com".into()),
            ],
            allow_methods: vec!["GET".into(), "OPTIONS".into()],
            allow_headers: vec!["x-header-1".into(), "x-header-2".into()],
            expose_headers: vec!["x-header-3".into()],
            max_age: Some(3600),
            allow_credentials: true,
            allow_private_network: false,
        })
    );
    let wildcard = cors("/cors-2").expect("cors");
    assert_eq!(wildcard.allow_origin, [OriginMatch::Exact("*".into())]);
    assert_eq!(wildcard.allow_methods, ["*"]);
    assert!(!wildcard.allow_credentials);
}

#[test]
fn redirects_keep_the_listeners_port_unless_the_scheme_changes() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}, {name: gw, sectionName: same-ns}]
  hostnames: [a.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /keep}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /https}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /to-80}}]
    filters: [{type: RequestRedirect, requestRedirect: {port: 80, hostname: example.org}}]
"#,
    );
    let port = |listener: &str, path: &str| {
        let route = vhost(&out, listener, "a.example.com")
            .routes
            .iter()
            .find(|r| r.path.value() == path)
            .unwrap_or_else(|| panic!("no route {path}"));
        match &route.action {
            RouteAction::Redirect(Redirect { port, .. }) => *port,
            other => panic!("{other:?}"),
        }
    };
    // On port 80 the listener's port is http's own: left out.
    assert_eq!(port("http-80", "/keep"), None);
    // On port 81 it is kept, unless the scheme changes (then https's 443, left out) or the
    // filter names 80 (http's own).
    assert_eq!(port("http-81", "/keep"), Some(81));
    assert_eq!(port("http-81", "/https"), None);
    assert_eq!(port("http-81", "/to-80"), None);
}

#[test]
fn backend_app_protocols_choose_h2c_and_websocket_upgrades() {
    let out = build_with(
        r#"
apiVersion: v1
kind: Service
metadata: {name: proto, namespace: default}
spec:
  ports:
  - {name: h2c, port: 8081, appProtocol: kubernetes.io/h2c}
  - {name: ws, port: 8082, appProtocol: kubernetes.io/ws}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: protocols, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /h2c}}]
    backendRefs: [{name: proto, port: 8081}]
  - matches: [{path: {type: PathPrefix, value: /ws}}]
    backendRefs: [{name: proto, port: 8082}]
  - matches: [{path: {type: PathPrefix, value: /plain}}]
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    let h2c = forward(route_at(&out, "*", "/h2c"));
    assert_eq!(
        out.dag.clusters[&h2c.clusters[0].name].protocol,
        crate::dag::UpstreamProtocol::H2c
    );
    assert!(!h2c.websocket);
    let ws = forward(route_at(&out, "*", "/ws"));
    assert_eq!(
        out.dag.clusters[&ws.clusters[0].name].protocol,
        crate::dag::UpstreamProtocol::Http1
    );
    assert!(ws.websocket);
    assert!(!forward(route_at(&out, "*", "/plain")).websocket);
}

#[test]
fn mirror_fractions_are_kept_to_a_millionth() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: m, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /third}}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: echo2, port: 80}, fraction: {numerator: 1, denominator: 3}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: echo, port: 80}, percent: 20}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /over}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo2, port: 80}, fraction: {numerator: 3, denominator: 2}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /zero}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo2, port: 80}, fraction: {numerator: 1, denominator: 0}}}]
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    let shares: Vec<u32> = forward(route_at(&out, "*", "/third"))
        .policies()
        .mirrors
        .iter()
        .map(|m| m.per_million)
        .collect();
    assert_eq!(shares, [333_333, 200_000]);
    // A share over 1 and a zero denominator are refused; the rule is not served.
    assert_eq!(vhost(&out, "http-80", "*").routes.len(), 1);
    assert_eq!(
        route_conditions(&out, "m")[1],
        (T::PartiallyInvalid, true, R::UnsupportedValue)
    );
}

//! Gateway API scenarios: a GatewayClass, a Gateway and HTTPRoutes in, Gateway listeners and
//! Gateway API conditions out.

use pretty_assertions::assert_eq;

use crate::build::{BuildConfig, BuildOutput, GatewayConfig, build};
use crate::dag::{
    HeaderValueMatch, PathMatch, QueryValueMatch, RedirectPath, RouteAction, VirtualHost,
};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ListenerStatus,
};
use crate::testutil::{objects, snapshot_of};

pub(super) const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sesame}
spec: {controllerName: projectsesame.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: someone-else}
spec: {controllerName: example.com/other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra, generation: 3}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: same-ns, port: 81, protocol: HTTP, hostname: "*.example.com"}
  - {name: tls, port: 443, protocol: TLS}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo2, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: other}
spec: {ports: [{port: 80}]}
"#;

pub(super) fn config() -> BuildConfig {
    BuildConfig {
        gateway: Some(GatewayConfig {
            controller_name: "projectsesame.io/gateway-controller".to_string(),
            gateway_ref: Some(NamespacedName::new("infra", "gw")),
            reserved_ports: vec![8002],
            addresses: Vec::new(),
        }),
        ..BuildConfig::default()
    }
}

pub(super) fn build_with(extra: &str) -> BuildOutput {
    build(
        &snapshot_of(objects(&format!("{BASE}---\n{extra}"))),
        &config(),
    )
}

pub(super) fn route_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::HTTPRoute, NamespacedName::new("default", name))
}

pub(super) fn vhost<'a>(out: &'a BuildOutput, listener: &str, host: &str) -> &'a VirtualHost {
    let l = out
        .dag
        .gateway_listeners
        .get(listener)
        .unwrap_or_else(|| panic!("no listener {listener}"));
    l.virtual_hosts
        .get(host)
        .unwrap_or_else(|| panic!("no vhost {host}: {:?}", l.virtual_hosts.keys()))
}

/// The route's conditions for its first parent, as (type, status, reason).
pub(super) fn route_conditions(out: &BuildOutput, name: &str) -> Vec<(T, bool, R)> {
    conditions_of(out, &route_key(name))
}

/// The conditions of a route of any kind for its first parent, as (type, status, reason).
pub(super) fn conditions_of(out: &BuildOutput, key: &ObjectKey) -> Vec<(T, bool, R)> {
    let status = out.status.objects.get(key).expect("route status");
    match status.gateway_api.as_deref() {
        Some(GatewayApiStatus::Route { parents }) => parents[0]
            .conditions
            .iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect(),
        other => panic!("not a route status: {other:?}"),
    }
}

pub(super) fn listeners_of(out: &BuildOutput) -> Vec<ListenerStatus> {
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", "gw"));
    match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Gateway { listeners, .. }) => listeners.clone(),
        other => panic!("not a gateway status: {other:?}"),
    }
}

const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  hostnames: [web.example.com]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /app/}
      headers: [{name: X-Env, value: canary}]
      queryParams: [{name: q, type: RegularExpression, value: "^a+$"}]
      method: POST
    backendRefs: [{name: echo, port: 80, weight: 3}, {name: echo2, port: 80, weight: 1}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: "100%"}]
        add: [{name: X-Add, value: a}]
        remove: [X-Drop]
  - matches: [{path: {type: Exact, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: new.example.com, statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /new}}
"#;

#[test]
fn gateway_class_and_gateway_are_accepted_and_listeners_checked() {
    let out = build_with(ROUTE);
    let class = ObjectKey::new(Kind::GatewayClass, NamespacedName::new("", "sesame"));
    assert!(matches!(
        out.status.objects[&class].gateway_api.as_deref(),
        Some(GatewayApiStatus::GatewayClass { conditions }) if conditions[0].status
    ));
    let other = ObjectKey::new(Kind::GatewayClass, NamespacedName::new("", "someone-else"));
    assert!(!out.status.objects.contains_key(&other));
    let gw = ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", "gw"));
    let status = &out.status.objects[&gw];
    assert_eq!(status.observed_generation, Some(3));
    let Some(GatewayApiStatus::Gateway { conditions, .. }) = status.gateway_api.as_deref() else {
        panic!()
    };
    assert_eq!(
        conditions
            .iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect::<Vec<_>>(),
        [
            (T::Accepted, true, R::ListenersNotValid),
            (T::Programmed, true, R::Programmed)
        ]
    );
    let listeners = listeners_of(&out);
    assert_eq!(listeners[0].attached_routes, 1);
    assert_eq!(listeners[0].supported_kinds, ["HTTPRoute", "GRPCRoute"]);
    assert_eq!(listeners[1].attached_routes, 0);
    assert!(listeners[2].conditions.contains(&Condition::no(
        T::Accepted,
        R::UnsupportedValue,
        "a TLS listener needs tls.mode (Passthrough or Terminate)"
    )));
    // Envoy listens on port + 8000; the HTTPS listener is not served.
    assert_eq!(
        out.dag
            .gateway_listeners
            .values()
            .map(|l| (l.name.as_str(), l.port))
            .collect::<Vec<_>>(),
        [("http-80", 8080), ("http-81", 8081)]
    );
}

#[test]
fn http_route_matches_filters_and_weights_become_routes() {
    let out = build_with(ROUTE);
    assert_eq!(
        route_conditions(&out, "web"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
    let vhost = vhost(&out, "http-80", "web.example.com");
    assert_eq!(vhost.routes.len(), 2);
    let exact = &vhost.routes[0];
    assert_eq!(exact.path, PathMatch::Exact("/old".into()));
    let RouteAction::Redirect(redirect) = &exact.action else {
        panic!("{exact:?}")
    };
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.scheme.as_deref(), Some("https"));
    assert_eq!(redirect.host.as_deref(), Some("new.example.com"));
    assert_eq!(redirect.path, Some(RedirectPath::Full("/new".into())));
    let app = &vhost.routes[1];
    assert_eq!(app.path, PathMatch::SegmentPrefix("/app".into()));
    assert_eq!(
        app.headers
            .iter()
            .map(|h| (h.name.as_str(), &h.value))
            .collect::<Vec<_>>(),
        [
            (":method", &HeaderValueMatch::Exact("POST".into())),
            ("x-env", &HeaderValueMatch::Exact("canary".into()))
        ]
    );
    assert_eq!(
        app.query_params[0].value,
        QueryValueMatch::Regex("^a+$".into())
    );
    let RouteAction::Forward(forward) = &app.action else {
        panic!()
    };
    assert_eq!(
        forward
            .clusters
            .iter()
            .map(|c| c.weight)
            .collect::<Vec<_>>(),
        [3, 1]
    );
    let policies = forward.policies();
    assert_eq!(policies.request_headers.set[0].0, "x-set");
    assert_eq!(
        policies.request_headers.set[0].1.as_literal().as_deref(),
        Some("100%")
    );
    assert_eq!(policies.request_headers_append[0].0, "x-add");
    assert_eq!(policies.request_headers.remove, ["x-drop"]);
}

#[test]
fn attachment_is_checked_per_parent() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wrong-ns, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: same-ns}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: no-section, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: nope}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other-gateway, namespace: default}
spec:
  parentRefs: [{name: not-ours, namespace: infra}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
"#,
    );
    assert_eq!(
        route_conditions(&out, "wrong-ns")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert_eq!(
        route_conditions(&out, "no-section")[0],
        (T::Accepted, false, R::NoMatchingParent)
    );
    assert!(!out.status.objects.contains_key(&route_key("other-gateway")));
    assert!(
        out.dag.gateway_listeners["http-80"]
            .virtual_hosts
            .is_empty()
    );
}

#[test]
fn hostnames_are_intersected_with_the_listeners() {
    let cfg = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: wild, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: both, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [a.example.com, other.org, "*.example.com"]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: none, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [other.org]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
"#;
    let out = build_with(cfg);
    let hosts: Vec<&String> = out.dag.gateway_listeners["http-80"]
        .virtual_hosts
        .keys()
        .collect();
    assert_eq!(hosts, ["*.example.com", "a.example.com"]);
    assert_eq!(
        route_conditions(&out, "none")[0],
        (T::Accepted, false, R::NoMatchingListenerHostname)
    );
    assert_eq!(listeners_of(&out)[0].attached_routes, 1);
}

#[test]
fn backends_need_a_service_and_consent_across_namespaces() {
    let routes = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: missing, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: nope, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [cross.example.com]
  rules: [{backendRefs: [{name: other, namespace: other, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: kind, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [kind.example.com]
  rules: [{backendRefs: [{name: b, kind: Bucket, group: example.com, port: 80}]}]
"#;
    let out = build_with(routes);
    assert_eq!(
        route_conditions(&out, "missing"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, false, R::BackendNotFound)
        ]
    );
    assert_eq!(
        route_conditions(&out, "cross")[1],
        (T::ResolvedRefs, false, R::RefNotPermitted)
    );
    assert_eq!(
        route_conditions(&out, "kind")[1],
        (T::ResolvedRefs, false, R::InvalidKind)
    );
    // Requests matching a rule whose backends are all invalid get a 500.
    let cross = &vhost(&out, "http-80", "cross.example.com").routes[0];
    assert_eq!(
        cross.action,
        RouteAction::DirectResponse {
            status: 500,
            body: None
        }
    );

    let granted = build_with(&format!(
        "{routes}---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: other}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}}]\n  to: [{{group: '', kind: Service}}]\n"
    ));
    assert_eq!(
        route_conditions(&granted, "cross")[1],
        (T::ResolvedRefs, true, R::ResolvedRefs)
    );
    let cross = &vhost(&granted, "http-80", "cross.example.com").routes[0];
    assert!(matches!(cross.action, RouteAction::Forward(_)));
}

#[test]
fn hostile_rules_are_refused_and_the_rest_served() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hostile, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [h.example.com]
  rules:
  - matches: [{path: {type: RegularExpression, value: "(unclosed"}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /ok}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /crlf}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, value: "a\r\nb"}]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /host}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Host, value: evil}]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /full}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: "/x y"}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /exact-prefix}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /cors}}]
    filters: [{type: CORS, cors: {allowOrigins: ["https://a.*.com"]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /cors-method}}]
    filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["GET, POST"]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /backend-filter}}]
    backendRefs:
    - name: echo
      port: 80
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, value: "b\nc"}]}}]
  - matches: [{path: {type: Exact, value: /backend-mirror}}]
    backendRefs:
    - name: echo
      port: 80
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo2, port: 80}}}]
  - matches: [{path: {type: Exact, value: /backend-timeout}}]
    timeouts: {request: 1s, backendRequest: 2s}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /bad-timeout}}]
    timeouts: {backendRequest: soon}
    backendRefs: [{name: echo, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: all-bad, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [bad.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: "no-slash"}}]
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    assert_eq!(
        route_conditions(&out, "hostile")[..2],
        [
            (T::Accepted, true, R::Accepted),
            (T::PartiallyInvalid, true, R::UnsupportedValue)
        ]
    );
    let paths: Vec<&PathMatch> = vhost(&out, "http-80", "h.example.com")
        .routes
        .iter()
        .map(|r| &r.path)
        .collect();
    assert_eq!(paths, [&PathMatch::Exact("/ok".into())]);
    assert_eq!(
        route_conditions(&out, "all-bad")[0],
        (T::Accepted, false, R::UnsupportedValue)
    );
    assert!(
        !out.dag.gateway_listeners["http-80"]
            .virtual_hosts
            .contains_key("bad.example.com")
    );
}

#[test]
fn the_oldest_route_wins_a_repeated_match_and_conflicting_listeners_are_refused() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: young, namespace: default, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: echo2, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: zz-old, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
"#,
    );
    let route = &vhost(&out, "http-80", "*").routes[0];
    assert_eq!(route.origin, route_key("zz-old"));

    let conflicted = build(
        &snapshot_of(objects(&BASE.replace(
            "  - {name: tls, port: 443, protocol: TLS}",
            "  - {name: again, port: 80, protocol: HTTP}\n  - {name: stats, port: 2, protocol: HTTP, hostname: a.b}",
        ))),
        &config(),
    );
    let listeners = listeners_of(&conflicted);
    assert!(
        listeners[0]
            .conditions
            .iter()
            .any(|c| c.type_ == T::Conflicted && c.status && c.reason == R::HostnameConflict)
    );
    // Port 2 maps to Envoy port 8002, Sesame's stats listener.
    assert!(
        listeners[3]
            .conditions
            .iter()
            .any(|c| c.reason == R::PortUnavailable && !c.status)
    );
    assert_eq!(
        conflicted.dag.gateway_listeners.keys().collect::<Vec<_>>(),
        ["http-81"]
    );
}

#[test]
fn nothing_is_served_without_gateway_config_or_with_a_foreign_class() {
    let snapshot = snapshot_of(objects(&format!("{BASE}---\n{ROUTE}")));
    let out = build(&snapshot, &BuildConfig::default());
    assert!(out.dag.gateway_listeners.is_empty());
    assert!(!out.status.objects.contains_key(&route_key("web")));
    let mut foreign = config();
    foreign.gateway.as_mut().unwrap().controller_name = "example.com/other".into();
    let out = build(&snapshot, &foreign);
    assert!(out.dag.gateway_listeners.is_empty());
}

#[test]
fn request_timeouts_are_route_timeouts() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: t, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: Exact, value: /two}}]
    timeouts: {request: 2s}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /off}}]
    timeouts: {request: 0s}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /bad}}]
    timeouts: {request: soon}
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    let timeouts: Vec<(String, Option<crate::dag::Timeout>)> = vhost(&out, "http-80", "*")
        .routes
        .iter()
        .map(|r| match &r.action {
            RouteAction::Forward(f) => (r.path.value().to_string(), f.timeout),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        timeouts,
        // Equally specific matches keep the order of their rules.
        [
            (
                "/two".to_string(),
                Some(crate::dag::Timeout::After(std::time::Duration::from_secs(
                    2
                )))
            ),
            ("/off".to_string(), Some(crate::dag::Timeout::Infinite)),
        ]
    );
    assert_eq!(
        route_conditions(&out, "t")[1],
        (T::PartiallyInvalid, true, R::UnsupportedValue)
    );
}

#[test]
fn rewrites_and_mirrors() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rw, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new/}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: echo2, port: 80}, fraction: {numerator: 1, denominator: 4}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: nope, port: 80}}
    backendRefs: [{name: echo, port: 80}]
"#,
    );
    let route = &vhost(&out, "http-80", "*").routes[0];
    let RouteAction::Forward(forward) = &route.action else {
        panic!("{route:?}")
    };
    let p = forward.policies();
    assert_eq!(p.host_rewrite.as_deref(), Some("internal.example.com"));
    assert_eq!(p.prefix_rewrite.as_deref(), Some("/new"));
    assert_eq!(p.mirrors.len(), 1);
    assert_eq!(p.mirrors[0].per_million, 250_000);
    assert!(out.dag.clusters.contains_key(&p.mirrors[0].cluster));
    // The mirror that does not resolve is left out and said so.
    assert_eq!(
        route_conditions(&out, "rw"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, false, R::BackendNotFound)
        ]
    );
}

//! More Gateway API scenarios: redirect details, rules without backends, listener kinds and
//! parentRef ports.

use pretty_assertions::assert_eq;

use super::tests::{build_with, listeners_of, route_conditions, vhost};
use crate::dag::{Redirect, RedirectPath, RouteAction};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{ConditionReason as R, ConditionType as T, GatewayApiStatus};

#[test]
fn redirects_carry_port_prefix_and_every_status_code() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: Exact, value: /port}}]
    filters: [{type: RequestRedirect, requestRedirect: {port: 8443, statusCode: 303}}]
  - matches: [{path: {type: Exact, value: /s307}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 307}}]
  - matches: [{path: {type: Exact, value: /s308}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 308}}]
  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /other}}}]
  - matches: [{path: {type: Exact, value: /s200}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 200}}]
"#,
    );
    let redirects: Vec<(String, Redirect)> = vhost(&out, "http-80", "*")
        .routes
        .iter()
        .map(|r| match &r.action {
            RouteAction::Redirect(redirect) => (r.path.value().to_string(), redirect.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    let plain = |status| Redirect {
        scheme: None,
        host: None,
        port: None,
        path: None,
        status,
    };
    assert_eq!(
        redirects,
        [
            (
                "/port".to_string(),
                Redirect {
                    port: Some(8443),
                    ..plain(303)
                }
            ),
            ("/s307".to_string(), plain(307)),
            ("/s308".to_string(), plain(308)),
            (
                "/prefix".to_string(),
                Redirect {
                    path: Some(RedirectPath::Prefix("/other".into())),
                    ..plain(302)
                }
            ),
        ]
    );
    assert_eq!(
        route_conditions(&out, "r")[1],
        (T::PartiallyInvalid, true, R::UnsupportedValue)
    );
}

#[test]
fn a_rule_without_backends_answers_500() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: empty, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
"#,
    );
    assert_eq!(
        vhost(&out, "http-80", "*").routes[0].action,
        RouteAction::DirectResponse {
            status: 500,
            body: None
        }
    );
    assert_eq!(
        route_conditions(&out, "empty"),
        [
            (T::Accepted, true, R::Accepted),
            (T::ResolvedRefs, true, R::ResolvedRefs)
        ]
    );
}

#[test]
fn listener_kinds_and_parent_ports_decide_attachment() {
    let out = build_with(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - name: tls-only
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: TLSRoute}]}
  - name: mixed
    port: 81
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-tls-only, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: tls-only}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-port, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, port: 81}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wrong-port, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, port: 82}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
"#,
    );
    let listeners = listeners_of(&out);
    // A listener that allows no HTTPRoute supports no kind and says so.
    assert!(listeners[0].supported_kinds.is_empty());
    let resolved = |i: usize| {
        listeners[i]
            .conditions
            .iter()
            .find(|c| c.type_ == T::ResolvedRefs)
            .map(|c| (c.status, c.reason))
    };
    assert_eq!(resolved(0), Some((false, R::InvalidRouteKinds)));
    assert_eq!(listeners[1].supported_kinds, ["HTTPRoute"]);
    assert_eq!(resolved(1), Some((false, R::InvalidRouteKinds)));
    assert_eq!(
        route_conditions(&out, "to-tls-only")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert_eq!(
        route_conditions(&out, "by-port")[0],
        (T::Accepted, true, R::Accepted)
    );
    assert_eq!(listeners[1].attached_routes, 1);
    assert_eq!(
        route_conditions(&out, "wrong-port")[0],
        (T::Accepted, false, R::NoMatchingParent)
    );
}

#[test]
fn a_namespace_selector_admits_routes_by_their_namespaces_labels() {
    let gateway = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels: {gateway: shared}
          matchExpressions: [{key: env, operator: NotIn, values: [dev]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {gateway: shared, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {gateway: shared, env: dev}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: prod}
spec: {ports: [{port: 80}]}
"#;
    let route = |ns: &str| {
        format!(
            r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: {ns}}}
spec:
  parentRefs: [{{name: gw, namespace: infra}}]
  hostnames: [{ns}.example.com]
  rules: [{{backendRefs: [{{name: echo, port: 80}}]}}]
"#
        )
    };
    let routes: Vec<String> = ["prod", "dev", "plain"]
        .iter()
        .map(|ns| route(ns))
        .collect();
    let out = build_alone(&format!("{gateway}---\n{}", routes.join("---\n")));
    let accepted = |ns: &str| {
        let key = ObjectKey::new(Kind::HTTPRoute, NamespacedName::new(ns, "r"));
        match out.status.objects[&key].gateway_api.as_deref() {
            Some(GatewayApiStatus::Route { parents }) => {
                let c = &parents[0].conditions[0];
                (c.type_, c.status, c.reason)
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(accepted("prod"), (T::Accepted, true, R::Accepted));
    assert_eq!(
        accepted("dev"),
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert_eq!(
        accepted("plain"),
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    let hosts: Vec<&str> = out.dag.gateway_listeners["http-80"]
        .virtual_hosts
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(hosts, ["prod.example.com"]);
    assert_eq!(listeners_of(&out)[0].attached_routes, 1);
}

#[test]
fn a_listener_on_port_8080_is_served_and_counts_only_the_routes_naming_it() {
    let out = build_alone(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: http-unattached, port: 8080, protocol: HTTP, allowedRoutes: {kinds: [{kind: HTTPRoute}], namespaces: {from: All}}}
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{kind: HTTPRoute}], namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{kind: Gateway, name: gw, namespace: infra, sectionName: http}]
  rules: [{backendRefs: [{name: echo, port: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: infra}
spec: {ports: [{port: 8080}]}
"#,
    );
    let listeners = listeners_of(&out);
    let summary: Vec<_> = listeners
        .iter()
        .map(|l| {
            let conditions = l
                .conditions
                .iter()
                .filter(|c| matches!(c.type_, T::Accepted | T::ResolvedRefs))
                .map(|c| (c.type_, c.status))
                .collect();
            (
                l.name.as_str(),
                l.attached_routes,
                &l.supported_kinds[..],
                conditions,
            )
        })
        .collect();
    let http_route = ["HTTPRoute".to_string()];
    let ok = vec![(T::Accepted, true), (T::ResolvedRefs, true)];
    assert_eq!(
        summary,
        [
            ("http-unattached", 0, &http_route[..], ok.clone()),
            ("http", 1, &http_route[..], ok),
        ]
    );
    // Gateway port 8080 is Envoy port 16080, with no route of its own; port 80 (8080) serves the
    // route.
    let ports: Vec<(&str, u16, usize)> = out
        .dag
        .gateway_listeners
        .values()
        .map(|l| (l.name.as_str(), l.port, l.virtual_hosts.len()))
        .collect();
    assert_eq!(ports, [("http-80", 8080, 1), ("http-8080", 16080, 0)]);
}

/// Builds Sesame's GatewayClass with `objects` alone (no Gateway but those given).
pub(super) fn build_alone(objects: &str) -> crate::build::BuildOutput {
    let class = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sesame}
spec: {controllerName: projectsesame.io/gateway-controller}
"#;
    crate::build::build(
        &crate::testutil::snapshot_of(crate::testutil::objects(&format!("{class}---\n{objects}"))),
        &super::tests::config(),
    )
}

#[test]
fn a_gateway_with_parameters_sesame_cannot_read_is_refused_and_not_served() {
    let gateway = |infrastructure: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: sesame\n  listeners: [{{name: http, port: 80, protocol: HTTP}}]\n{infrastructure}"
        )
    };
    let conditions = |out: &crate::build::BuildOutput| {
        let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", "gw"));
        match out.status.objects[&key].gateway_api.as_deref() {
            Some(GatewayApiStatus::Gateway { conditions, .. }) => conditions
                .iter()
                .map(|c| (c.type_, c.status, c.reason))
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        }
    };
    let out = build_alone(&gateway(
        "  infrastructure: {parametersRef: {group: invalid.io, kind: InvalidParameters, name: invalid}}\n",
    ));
    assert_eq!(
        conditions(&out),
        [
            (T::Accepted, false, R::InvalidParameters),
            (T::Programmed, false, R::Invalid)
        ]
    );
    assert!(out.dag.gateway_listeners.is_empty());
    // Infrastructure labels alone are fine.
    let out = build_alone(&gateway("  infrastructure: {labels: {team: web}}\n"));
    assert_eq!(conditions(&out)[0], (T::Accepted, true, R::Accepted));
    assert!(out.dag.gateway_listeners.contains_key("http-80"));
}

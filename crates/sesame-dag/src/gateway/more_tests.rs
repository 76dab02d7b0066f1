//! More Gateway API scenarios: redirect details, rules without backends, listener kinds and
//! parentRef ports.

use pretty_assertions::assert_eq;

use super::tests::{build_with, listeners_of, route_conditions, vhost};
use crate::dag::{Redirect, RedirectPath, RouteAction};
use crate::status::gateway::{ConditionReason as R, ConditionType as T};

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

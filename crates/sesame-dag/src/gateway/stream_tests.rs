//! TLS and TCP listeners: TLSRoutes passed through or terminated by SNI, TCPRoutes taking every
//! connection of their listeners, with the statuses the upstream conformance tests expect.

use pretty_assertions::assert_eq;

use super::tests::{BASE, conditions_of, config, listeners_of};
use crate::build::{BuildOutput, build};
use crate::dag::{GatewayTcpRoute, WeightedCluster};
use crate::object::{Kind, NamespacedName, Object, ObjectKey};
use crate::status::gateway::{ConditionReason as R, ConditionType as T};
use crate::testutil::{cert, objects, snapshot_of, tls_secret};

/// TLS listeners on 443 beside an HTTPS one, a terminating TLS listener on 8443, and TCP
/// listeners; Services `echo`, `echo2` (default) and `other` (other) come from [`BASE`].
const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - name: pass
    port: 443
    protocol: TLS
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: TCPRoute}, {kind: TLSRoute}]}
    tls: {mode: Passthrough}
  - name: web
    port: 443
    protocol: HTTPS
    hostname: web.example.com
    allowedRoutes: {namespaces: {from: All}}
    tls: {certificateRefs: [{name: web-cert, namespace: default}]}
  - name: term
    port: 8443
    protocol: TLS
    hostname: term.test
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Terminate, certificateRefs: [{name: term-cert, namespace: default}]}
  - {name: tcp, port: 9000, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}
  - {name: tcp2, port: 9001, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}
  - {name: plain, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: certs, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: Secret}]
"#;

/// Builds [`BASE`], [`GATEWAY`] with its certificates, and `extra`.
fn build_stream(extra: &str) -> BuildOutput {
    let web = cert(&["web.example.com"]);
    let term = cert(&["term.test"]);
    let mut objs: Vec<Object> = objects(&format!("{BASE}---\n{GATEWAY}---\n{extra}"));
    objs.push(tls_secret("web-cert", &web.crt, &web.key));
    objs.push(tls_secret("term-cert", &term.crt, &term.key));
    build(&snapshot_of(objs), &config())
}

/// A route's conditions for its first parent, as (type, status, reason).
fn conditions(out: &BuildOutput, kind: Kind, name: &str) -> Vec<(T, bool, R)> {
    conditions_of(
        out,
        &ObjectKey::new(kind, NamespacedName::new("default", name)),
    )
}

/// The served chains of an Envoy listener, as (SNI name, terminated, origin name, clusters).
fn chains(out: &BuildOutput, listener: &str) -> Vec<(Option<String>, bool, String, Vec<String>)> {
    let Some(l) = out.dag.gateway_listeners.get(listener) else {
        return Vec::new();
    };
    l.tcp_routes
        .iter()
        .map(|r: &GatewayTcpRoute| {
            (
                r.server_name.clone(),
                r.terminate.is_some(),
                r.origin.name.name.to_string(),
                r.proxy.clusters.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect()
}

fn tls_route(name: &str, created: &str, section: &str, hosts: &str, backends: &str) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {{name: {name}, namespace: default, creationTimestamp: "{created}"}}
spec:
  parentRefs: [{{name: gw, namespace: infra, sectionName: {section}}}]
  hostnames: {hosts}
  rules: [{{backendRefs: {backends}}}]
---
"#
    )
}

fn tcp_route(name: &str, created: &str, parent: &str, backends: &str) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: {name}, namespace: default, creationTimestamp: "{created}"}}
spec:
  parentRefs: [{parent}]
  rules: [{{backendRefs: {backends}}}]
---
"#
    )
}

const ECHO: &str = "[{name: echo, port: 80}]";
const T1: &str = "2026-01-01T00:00:00Z";
const T2: &str = "2026-01-02T00:00:00Z";

#[test]
fn tls_listeners_support_tls_routes_and_refuse_other_kinds() {
    let out = build_stream("");
    let listeners = listeners_of(&out);
    let kinds: Vec<Vec<String>> = listeners
        .iter()
        .map(|l| l.supported_kinds.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            vec!["TLSRoute"],
            vec!["HTTPRoute", "GRPCRoute"],
            vec!["TLSRoute"],
            vec!["TCPRoute"],
            vec!["TCPRoute"],
            vec!["HTTPRoute", "GRPCRoute"]
        ]
    );
    let condition = |i: usize, t: T| {
        listeners[i]
            .conditions
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| (c.status, c.reason))
    };
    // Every listener is accepted; TLS and HTTPS share port 443 without conflict.
    for i in 0..listeners.len() {
        assert_eq!(condition(i, T::Accepted), Some((true, R::Accepted)), "{i}");
        assert_eq!(
            condition(i, T::Conflicted),
            Some((false, R::NoConflicts)),
            "{i}"
        );
    }
    // `pass` also names TCPRoute, which a TLS listener does not serve.
    assert_eq!(
        condition(0, T::ResolvedRefs),
        Some((false, R::InvalidRouteKinds))
    );
    assert_eq!(condition(2, T::ResolvedRefs), Some((true, R::ResolvedRefs)));
    // A TLS or TCP listener without routes serves nothing of its own.
    assert!(chains(&out, "https-443").is_empty());
    assert!(!out.dag.gateway_listeners.contains_key("tcp-9000"));
}

#[test]
fn passthrough_serves_the_intersection_of_hostnames_oldest_route_first() {
    let routes = [
        tls_route("exact", T1, "pass", "[abc.example.com]", ECHO),
        tls_route(
            "wide",
            T1,
            "pass",
            "[\"*.com\"]",
            "[{name: echo2, port: 80}]",
        ),
        tls_route(
            "young",
            T2,
            "pass",
            "[abc.example.com]",
            "[{name: echo2, port: 80}]",
        ),
        tls_route(
            "nomatch",
            T1,
            "pass",
            "[a.other.org, \"*.other.org\"]",
            ECHO,
        ),
        // web.example.com belongs to the HTTPS listener: only x.example.com is served.
        tls_route(
            "owned",
            T1,
            "pass",
            "[web.example.com, x.example.com]",
            ECHO,
        ),
        tls_route("on-https", T1, "web", "[web.example.com]", ECHO),
        tls_route("no-section", T1, "nope", "[abc.example.com]", ECHO),
        tls_route("on-http", T1, "plain", "[abc.example.com]", ECHO),
    ]
    .concat();
    let out = build_stream(&routes);
    let served = |host: &str, origin: &str, cluster: &str| {
        (
            Some(host.to_string()),
            false,
            origin.to_string(),
            vec![cluster.to_string()],
        )
    };
    assert_eq!(
        chains(&out, "https-443"),
        [
            served("*.example.com", "wide", "default/echo2/80/da39a3ee5e"),
            served("abc.example.com", "exact", "default/echo/80/da39a3ee5e"),
            served("x.example.com", "owned", "default/echo/80/da39a3ee5e"),
        ]
    );
    let https = &out.dag.gateway_listeners["https-443"];
    assert_eq!(https.tls.len(), 1, "the HTTPS listener keeps its chain");
    let accepted = vec![
        (T::Accepted, true, R::Accepted),
        (T::ResolvedRefs, true, R::ResolvedRefs),
    ];
    for name in ["exact", "wide", "young", "owned"] {
        assert_eq!(conditions(&out, Kind::TLSRoute, name), accepted, "{name}");
    }
    let refused = |name: &str| conditions(&out, Kind::TLSRoute, name)[0];
    assert_eq!(
        refused("nomatch"),
        (T::Accepted, false, R::NoMatchingListenerHostname)
    );
    assert_eq!(
        refused("on-https"),
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert_eq!(
        refused("no-section"),
        (T::Accepted, false, R::NoMatchingParent)
    );
    assert_eq!(
        refused("on-http"),
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    let listeners = listeners_of(&out);
    assert_eq!(listeners[0].attached_routes, 4);
    assert_eq!(listeners[1].attached_routes, 0);
    assert_eq!(listeners[5].attached_routes, 0);
}

#[test]
fn unresolved_backends_are_reported_and_serve_nothing() {
    let routes = [
        tls_route(
            "missing",
            T1,
            "pass",
            "[a.example.com]",
            "[{name: nope, port: 80}]",
        ),
        tls_route(
            "kind",
            T1,
            "pass",
            "[b.example.com]",
            "[{group: unknownkind.example.com, kind: NonExistent, name: echo, port: 80}]",
        ),
        tls_route(
            "cross",
            T1,
            "pass",
            "[c.example.com]",
            "[{name: other, namespace: other, port: 80}]",
        ),
        tcp_route(
            "tcp-missing",
            T1,
            "{name: gw, namespace: infra, sectionName: tcp2}",
            "[{name: nope, port: 80}]",
        ),
        tls_route(
            "zero",
            T1,
            "pass",
            "[d.example.com]",
            "[{name: echo, port: 80, weight: 0}]",
        ),
        tcp_route(
            "tcp-cross",
            T1,
            "{name: gw, namespace: infra, sectionName: tcp}",
            "[{name: other, namespace: other, port: 80}]",
        ),
        tcp_route(
            "tcp-missing",
            T1,
            "{name: gw, namespace: infra, sectionName: tcp2}",
            "[{name: nope, port: 80}]",
        ),
    ]
    .concat();
    let out = build_stream(&routes);
    let resolved = |kind: Kind, name: &str| conditions(&out, kind, name)[1];
    assert_eq!(
        resolved(Kind::TLSRoute, "missing"),
        (T::ResolvedRefs, false, R::BackendNotFound)
    );
    assert_eq!(
        resolved(Kind::TLSRoute, "kind"),
        (T::ResolvedRefs, false, R::InvalidKind)
    );
    assert_eq!(
        resolved(Kind::TLSRoute, "cross"),
        (T::ResolvedRefs, false, R::RefNotPermitted)
    );
    assert_eq!(
        resolved(Kind::TCPRoute, "tcp-cross"),
        (T::ResolvedRefs, false, R::RefNotPermitted)
    );
    assert_eq!(
        resolved(Kind::TCPRoute, "tcp-missing"),
        (T::ResolvedRefs, false, R::BackendNotFound)
    );
    // Accepted, but no chain: connections for these names are closed.
    assert_eq!(
        conditions(&out, Kind::TLSRoute, "missing")[0],
        (T::Accepted, true, R::Accepted)
    );
    assert!(chains(&out, "https-443").is_empty());
    assert!(!out.dag.gateway_listeners.contains_key("tcp-9000"));
    assert!(!out.dag.gateway_listeners.contains_key("tcp-9001"));

    // A ReferenceGrant for TLSRoutes lets the TLSRoute in, not the TCPRoute.
    let grant = r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: routes, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: default}]
  to: [{group: "", kind: Service, name: other}]
"#;
    let out = build_stream(&format!("{routes}{grant}"));
    assert_eq!(
        conditions(&out, Kind::TLSRoute, "cross")[1],
        (T::ResolvedRefs, true, R::ResolvedRefs)
    );
    assert_eq!(
        chains(&out, "https-443")[0].0.as_deref(),
        Some("c.example.com")
    );
    assert_eq!(
        conditions(&out, Kind::TCPRoute, "tcp-cross")[1],
        (T::ResolvedRefs, false, R::RefNotPermitted)
    );
}

#[test]
fn terminate_listeners_decrypt_with_their_certificate() {
    let routes = [
        tls_route("term", T1, "term", "[term.test]", ECHO),
        tls_route("elsewhere", T1, "term", "[other.test]", ECHO),
    ]
    .concat();
    let out = build_stream(&routes);
    assert_eq!(
        chains(&out, "https-8443"),
        [(
            Some("term.test".to_string()),
            true,
            "term".to_string(),
            vec!["default/echo/80/da39a3ee5e".to_string()]
        )]
    );
    let terminate = out.dag.gateway_listeners["https-8443"].tcp_routes[0]
        .terminate
        .clone()
        .expect("terminated");
    assert!(out.dag.secrets.contains_key(&terminate.secret));
    assert_eq!(
        conditions(&out, Kind::TLSRoute, "elsewhere")[0],
        (T::Accepted, false, R::NoMatchingListenerHostname)
    );

    // Without its certificate the listener is not valid and its routes are not allowed.
    let out = build(
        &snapshot_of(objects(&format!("{BASE}---\n{GATEWAY}---\n{routes}"))),
        &config(),
    );
    let listeners = listeners_of(&out);
    assert!(
        listeners[2]
            .conditions
            .iter()
            .any(|c| c.type_ == T::ResolvedRefs
                && !c.status
                && c.reason == R::InvalidCertificateRef)
    );
    assert_eq!(
        conditions(&out, Kind::TLSRoute, "term")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    assert!(!out.dag.gateway_listeners.contains_key("https-8443"));
}

#[test]
fn tcp_routes_take_every_connection_weighted_oldest_route_served() {
    let parent = "{name: gw, namespace: infra, sectionName: tcp}";
    let routes = [
        tcp_route(
            "split",
            T1,
            parent,
            "[{name: echo, port: 80, weight: 70}, {name: echo2, port: 80, weight: 30}, {name: other, namespace: other, port: 80, weight: 0}]",
        ),
        tcp_route("newer", T2, parent, "[{name: echo2, port: 80}]"),
        // No sectionName nor port: every TCP listener (and not the HTTP one).
        tcp_route("all", T2, "{name: gw, namespace: infra}", ECHO),
        tcp_route("by-port", T1, "{name: gw, namespace: infra, port: 9001}", "[{name: echo2, port: 80}]"),
        tcp_route("on-http", T1, "{name: gw, namespace: infra, sectionName: plain}", ECHO),
    ]
    .concat();
    let out = build_stream(&routes);
    let tcp = &out.dag.gateway_listeners["tcp-9000"];
    assert_eq!((tcp.port, tcp.tls.is_empty()), (17000, true));
    assert_eq!(
        tcp.tcp_routes[0].proxy.clusters,
        [
            WeightedCluster::new("default/echo/80/da39a3ee5e", 70),
            WeightedCluster::new("default/echo2/80/da39a3ee5e", 30)
        ]
    );
    assert_eq!(
        chains(&out, "tcp-9000"),
        [(
            None,
            false,
            "split".to_string(),
            vec![
                "default/echo/80/da39a3ee5e".to_string(),
                "default/echo2/80/da39a3ee5e".to_string()
            ]
        )]
    );
    assert_eq!(chains(&out, "tcp-9001")[0].2, "by-port");
    for name in ["split", "newer", "all", "by-port"] {
        assert_eq!(
            conditions(&out, Kind::TCPRoute, name)[0],
            (T::Accepted, true, R::Accepted),
            "{name}"
        );
    }
    assert_eq!(
        conditions(&out, Kind::TCPRoute, "on-http")[0],
        (T::Accepted, false, R::NotAllowedByListeners)
    );
    let listeners = listeners_of(&out);
    assert_eq!(listeners[3].attached_routes, 3);
    assert_eq!(listeners[4].attached_routes, 2);
    assert_eq!(listeners[5].attached_routes, 0);
}

#[test]
fn invalid_and_conflicting_tls_and_tcp_listeners_are_refused() {
    let gateway = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sesame
  listeners:
  - {name: no-mode, port: 443, protocol: TLS, hostname: a.test}
  - {name: named-tcp, port: 9000, protocol: TCP, hostname: a.test}
  - {name: tcp, port: 9001, protocol: TCP}
  - {name: tls-on-tcp, port: 9001, protocol: TLS, tls: {mode: Passthrough}}
  - {name: https, port: 444, protocol: HTTPS, hostname: b.test, tls: {certificateRefs: [{name: web-cert}]}}
  - {name: same-host, port: 444, protocol: TLS, hostname: b.test, tls: {mode: Passthrough}}
  - {name: udp, port: 53, protocol: UDP}
"#;
    let out = build(
        &snapshot_of(objects(&format!("{BASE}---\n{gateway}"))),
        &config(),
    );
    let listeners = listeners_of(&out);
    let reasons: Vec<Vec<(T, bool, R)>> = listeners
        .iter()
        .map(|l| {
            l.conditions
                .iter()
                .filter(|c| matches!(c.type_, T::Accepted | T::Conflicted))
                .map(|c| (c.type_, c.status, c.reason))
                .collect()
        })
        .collect();
    let accepted = (T::Accepted, true, R::Accepted);
    let conflict = |r| vec![accepted, (T::Conflicted, true, r)];
    assert_eq!(
        reasons,
        [
            vec![
                (T::Accepted, false, R::UnsupportedValue),
                (T::Conflicted, false, R::NoConflicts)
            ],
            vec![
                (T::Accepted, false, R::UnsupportedValue),
                (T::Conflicted, false, R::NoConflicts)
            ],
            conflict(R::ProtocolConflict),
            conflict(R::ProtocolConflict),
            conflict(R::HostnameConflict),
            conflict(R::HostnameConflict),
            vec![
                (T::Accepted, false, R::UnsupportedProtocol),
                (T::Conflicted, false, R::NoConflicts)
            ],
        ]
    );
    assert!(out.dag.gateway_listeners.is_empty());
}

#[test]
fn tls_routes_that_break_the_spec_are_refused() {
    let no_hosts = tls_route("no-hosts", T1, "pass", "[]", ECHO);
    let star = tls_route("star", T1, "pass", "[\"*\"]", ECHO);
    let two_rules = r#"apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: two-rules, namespace: default}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: pass}]
  hostnames: [a.example.com]
  rules: [{backendRefs: [{name: echo, port: 80}]}, {backendRefs: [{name: echo2, port: 80}]}]
"#;
    let out = build_stream(&format!("{no_hosts}{star}{two_rules}"));
    for name in ["no-hosts", "star", "two-rules"] {
        assert_eq!(
            conditions(&out, Kind::TLSRoute, name)[0],
            (T::Accepted, false, R::UnsupportedValue),
            "{name}"
        );
    }
    assert!(chains(&out, "https-443").is_empty());
}

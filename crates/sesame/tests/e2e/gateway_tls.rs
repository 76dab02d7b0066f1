//! Gateway API TLS and TCP listeners through a real Envoy: TLSRoutes passed through to a TLS
//! backend (which shows its own certificate) or terminated with the listener's certificate to a
//! plain backend, beside an HTTPS listener on the same port; TCPRoutes splitting connections by
//! weight. Connections for names no route serves are closed, hostile routes are refused with
//! their conditions, and Envoy rejects nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::gateway::GATEWAY_CLASS;
use crate::gateway_http::{conditions, start};
use crate::harness::{
    Pki, Reply, backend, free_port, get_plain, get_tls, services, services_in, tls_backend,
    tls_secret_in,
};

/// A TLSRoute `name` (created on January `day`, 2026) on `parent`, serving
/// `hostnames` (a YAML list) from Service `backend` port 80.
fn tls_route(name: &str, day: u8, parent: &str, hostnames: &str, backend: &str) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {{name: {name}, namespace: default, creationTimestamp: "2026-01-0{day}T00:00:00Z"}}
spec:
  parentRefs: [{parent}]
  hostnames: {hostnames}
  rules: [{{backendRefs: [{{name: {backend}, port: 80}}]}}]
---
"#
    )
}

/// A Gateway whose port serves three listeners told apart by SNI: TLS passthrough for
/// `*.gw.test`, TLS terminated for `term.gw.test`, HTTPS for `web.gw.test`; and the routes:
/// two for one name (the older is served), one whose backend is missing, one for a name no
/// listener has, a hostile one and one on the HTTPS listener.
fn tls_gateway(port: u16) -> String {
    let pass = "{name: gw, sectionName: pass}";
    let routes = [
        tls_route("pass", 1, pass, "[pass.gw.test]", "svc-tls"),
        tls_route("younger", 2, pass, "[pass.gw.test]", "svc-plain"),
        tls_route("term", 1, "{name: gw}", "[term.gw.test]", "svc-plain"),
        tls_route("missing", 1, pass, "[missing.gw.test]", "nope"),
        tls_route("elsewhere", 1, pass, "[pass.other.test]", "svc-tls"),
        tls_route(
            "hostile",
            1,
            "{name: gw}",
            r#"["*", "bad host.gw.test"]"#,
            "svc-tls",
        ),
        tls_route(
            "on-https",
            1,
            "{name: gw, sectionName: web}",
            "[web.gw.test]",
            "svc-tls",
        ),
    ]
    .concat();
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  listeners:
  - name: pass
    port: {port}
    protocol: TLS
    hostname: "*.gw.test"
    tls: {{mode: Passthrough}}
  - name: term
    port: {port}
    protocol: TLS
    hostname: term.gw.test
    tls: {{mode: Terminate, certificateRefs: [{{name: term}}]}}
  - name: web
    port: {port}
    protocol: HTTPS
    hostname: web.gw.test
    tls: {{certificateRefs: [{{name: web}}]}}
---
{routes}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: web}}]
  rules: [{{backendRefs: [{{name: svc-web, port: 80}}]}}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_routes_pass_through_or_terminate_by_sni() {
    // The TLS backend's certificate comes from a CA Envoy never sees.
    let backend_pki = Pki::new();
    let (cert, key) = backend_pki.leaf(&["pass.gw.test"]);
    let tls = tls_backend("tls-backend", &cert, &key).await;
    let (plain, web) = (backend("plain").await, backend("web").await);
    let gateway_pki = Pki::new();
    let (term_cert, term_key) = gateway_pki.leaf(&["term.gw.test"]);
    let (web_cert, web_key) = gateway_pki.leaf(&["web.gw.test"]);
    let envoy_port = free_port();
    let secrets = format!(
        "{}\n---\n{}",
        tls_secret_in("default", "term", term_cert.as_bytes(), term_key.as_bytes()),
        tls_secret_in("default", "web", web_cert.as_bytes(), web_key.as_bytes()),
    );
    let svcs = services(&[("svc-tls", &tls), ("svc-plain", &plain), ("svc-web", &web)]);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("secrets.yaml", &secrets),
        ("gateway.yaml", &tls_gateway(envoy_port - 8000)),
    ])
    .await;
    let tls_get = |host: &'static str, path: &'static str, ca: &'static str| async move {
        get_tls(envoy_port, host, path, ca.as_bytes())
            .await
            .unwrap_or_else(Reply::failed)
    };
    let backend_ca: &'static str = backend_pki.ca_pem.clone().leak();
    let gateway_ca: &'static str = gateway_pki.ca_pem.clone().leak();

    // Passthrough: the backend terminates TLS with its own certificate; the oldest route of
    // the name is the one served.
    let reply = cluster
        .eventually_reply(
            "TLS passed through to the TLS backend",
            || tls_get("pass.gw.test", "/through?x=1", backend_ca),
            |r| r.from("tls-backend"),
        )
        .await;
    assert_eq!(reply.server_names, ["pass.gw.test"]);
    assert_eq!(
        tls.requests().last().map(String::as_str),
        Some("/through?x=1")
    );
    // Terminate: Envoy's certificate for the listener, plain bytes to the backend.
    let reply = cluster
        .eventually_reply(
            "TLS terminated to the plain backend",
            || tls_get("term.gw.test", "/inside", gateway_ca),
            |r| r.from("plain"),
        )
        .await;
    assert_eq!(reply.server_names, ["term.gw.test"]);
    assert_eq!(reply.echoed_path(), Some("/inside"));
    // The HTTPS listener on the same port still serves its HTTPRoute.
    let reply = tls_get("web.gw.test", "/w", gateway_ca).await;
    assert!(reply.from("web"), "{reply:?}");
    // Names no route serves (or whose backend is missing) get their connection closed.
    for host in ["other.gw.test", "missing.gw.test", "pass.other.test"] {
        let reply = tls_get(host, "/", backend_ca).await;
        assert_eq!(reply.status, 0, "{host}: {reply:?}");
    }

    let c = &cluster;
    let status = |name: &'static str| async move {
        let status = c
            .object_status("TLSRoute", "default", name)
            .await
            .unwrap_or_else(|| panic!("status of {name}"));
        conditions(&status)
    };
    let accepted = ["Accepted=true/Accepted", "ResolvedRefs=true/ResolvedRefs"];
    assert_eq!(status("pass").await, accepted);
    assert_eq!(status("younger").await, accepted);
    assert_eq!(status("term").await, accepted);
    assert_eq!(
        status("missing").await,
        [
            "Accepted=true/Accepted",
            "ResolvedRefs=false/BackendNotFound"
        ]
    );
    assert_eq!(
        status("elsewhere").await[0],
        "Accepted=false/NoMatchingListenerHostname"
    );
    assert_eq!(
        status("hostile").await[0],
        "Accepted=false/UnsupportedValue"
    );
    assert_eq!(
        status("on-https").await[0],
        "Accepted=false/NotAllowedByListeners"
    );

    let gw = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    let listeners = &gw["gateway_api"]["gateway"]["listeners"];
    let summary: Vec<(Value, Value)> = (0..3)
        .map(|i| {
            (
                listeners[i]["supportedKinds"].clone(),
                listeners[i]["attachedRoutes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (serde_json::json!(["TLSRoute"]), serde_json::json!(3)),
            (serde_json::json!(["TLSRoute"]), serde_json::json!(1)),
            (
                serde_json::json!(["HTTPRoute", "GRPCRoute"]),
                serde_json::json!(1)
            ),
        ],
        "{gw}"
    );
    cluster.assert_no_update_rejected().await;
}

/// A Gateway with two TCP listeners: one split 3:1 by a TCPRoute (a third backend weighted 0,
/// a younger route that is accepted but not served), one to a Service in another namespace.
fn tcp_gateway(port: u16, other_port: u16) -> String {
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  listeners:
  - {{name: tcp, port: {port}, protocol: TCP}}
  - {{name: cross, port: {other_port}, protocol: TCP}}
  - {{name: named, port: {other_port}, protocol: TCP, hostname: a.test}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: split, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}}
spec:
  parentRefs: [{{name: gw, sectionName: tcp}}]
  rules:
  - backendRefs:
    - {{name: svc-a, port: 80, weight: 3}}
    - {{name: svc-b, port: 80, weight: 1}}
    - {{name: svc-c, port: 80, weight: 0}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: newer, namespace: default, creationTimestamp: "2026-01-02T00:00:00Z"}}
spec:
  parentRefs: [{{name: gw, port: {port}}}]
  rules: [{{backendRefs: [{{name: svc-c, port: 80}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {{name: cross, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: cross}}]
  rules: [{{backendRefs: [{{name: svc-o, namespace: other, port: 80}}]}}]
"#
    )
}

const TCP_GRANT: &str = r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: tcp, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: default}]
  to: [{group: "", kind: Service, name: svc-o}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_routes_split_connections_by_weight() {
    let (a, b, c, o) = (
        backend("a").await,
        backend("b").await,
        backend("c").await,
        backend("o").await,
    );
    let (envoy_port, other_port) = (free_port(), free_port());
    let svcs = format!(
        "{}\n---\n{}",
        services(&[("svc-a", &a), ("svc-b", &b), ("svc-c", &c)]),
        services_in("other", &[("svc-o", &o)])
    );
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        (
            "gateway.yaml",
            &tcp_gateway(envoy_port - 8000, other_port - 8000),
        ),
    ])
    .await;
    // HTTP over the proxied connections: the echo backends say who answered.
    let get = |port: u16| async move {
        get_plain(port, "any.test", "/")
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster
        .eventually_reply(
            "the TCP listener proxies",
            || get(envoy_port),
            |r| r.status == 200,
        )
        .await;
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..60 {
        let reply = get(envoy_port).await;
        *seen
            .entry(
                reply
                    .backend
                    .unwrap_or_else(|| format!("none: {}", reply.body)),
            )
            .or_default() += 1;
    }
    // 3:1 between a and b; c (weight 0, and the younger route's) never.
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["a", "b"], "{seen:?}");
    assert!(seen["a"] > seen["b"], "{seen:?}");

    let c = &cluster;
    let status = |name: &'static str| async move {
        let status = c
            .object_status("TCPRoute", "default", name)
            .await
            .unwrap_or_else(|| panic!("status of {name}"));
        conditions(&status)
    };
    assert_eq!(status("newer").await[0], "Accepted=true/Accepted");
    assert_eq!(
        status("cross").await,
        [
            "Accepted=true/Accepted",
            "ResolvedRefs=false/RefNotPermitted"
        ]
    );
    let gw = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    let listeners = &gw["gateway_api"]["gateway"]["listeners"];
    assert_eq!(listeners[0]["attachedRoutes"], 2, "{gw}");
    assert_eq!(
        listeners[0]["supportedKinds"],
        serde_json::json!(["TCPRoute"])
    );
    // A TCP listener with a hostname is refused; the other listener of its port is served.
    assert_eq!(
        listeners[2]["conditions"][0]["reason"], "UnsupportedValue",
        "{gw}"
    );
    assert_eq!(get(other_port).await.status, 0);

    // A ReferenceGrant for TCPRoutes lets the other namespace's Service in.
    cluster.write("grant.yaml", TCP_GRANT);
    cluster
        .eventually_reply(
            "the granted backend is reached",
            || get(other_port),
            |r| r.from("o"),
        )
        .await;
    cluster
        .eventually_status(("TCPRoute", "default", "cross"), "resolved", |s| {
            conditions(s).contains(&"ResolvedRefs=true/ResolvedRefs".to_string())
        })
        .await;
    cluster.assert_no_update_rejected().await;
}

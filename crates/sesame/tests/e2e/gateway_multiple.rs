//! Several Gateways served at once, each on an address of its own, through a real Envoy: the
//! upstream HTTPRouteMultipleGateways objects (two Gateways with an HTTP listener on one port,
//! a route attached to both, a dedicated route on each) answering on each Gateway's address,
//! and the upstream GatewayStaticAddresses sequence (an unsupported address type, an unusable
//! address, a usable one). No `gatewayRef`: every Gateway of Sesame's class is served, from
//! the pool `127.0.0.2/31` (loopback addresses Linux answers without setup).

use std::net::IpAddr;

use serde_json::Value;

use crate::gateway::GATEWAY_CLASS;
use crate::harness::{Cluster, Reply, backend, free_port, request_plain_to, services_in};

/// The config: every Gateway of Sesame's class, on addresses of `127.0.0.2/31`.
const CONFIG: &str = "gateway:\n  addresses: [127.0.0.2/31]\n";

/// The upstream objects, with both Gateways' listeners on `port` (the base manifests'
/// Gateways `same-namespace` and `all-namespaces`, the older first).
fn multiple(port: u16) -> String {
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: same-namespace, namespace: infra, creationTimestamp: "2026-01-01T00:00:00Z"}}
spec:
  gatewayClassName: sesame
  listeners:
  - {{name: http, port: {port}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: Same}}}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: all-namespaces, namespace: infra, creationTimestamp: "2026-01-02T00:00:00Z"}}
spec:
  gatewayClassName: sesame
  listeners:
  - {{name: http, port: {port}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: multiple-gateways-shared-route, namespace: infra}}
spec:
  parentRefs: [{{name: same-namespace}}, {{name: all-namespaces}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /shared}}}}]
    backendRefs: [{{name: infra-backend-v1, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: same-namespace-dedicated-route, namespace: infra}}
spec:
  parentRefs: [{{name: same-namespace}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /}}}}]
    backendRefs: [{{name: infra-backend-v2, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: all-namespaces-dedicated-route, namespace: infra}}
spec:
  parentRefs: [{{name: all-namespaces}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /}}}}]
    backendRefs: [{{name: infra-backend-v3, port: 80}}]
"#
    )
}

/// A Gateway's conditions in `/status`, as `type=status/reason` strings.
fn gateway_conditions(status: &Value) -> Vec<String> {
    status["gateway_api"]["gateway"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            format!("{}={}/{}", s(&c["type"]), c["status"], s(&c["reason"]))
        })
        .collect()
}

/// The addresses a Gateway's `/status` shows.
fn gateway_addresses(status: &Value) -> Vec<IpAddr> {
    status["gateway_api"]["gateway"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str()?.parse().ok())
        .collect()
}

/// Waits for the Gateway `infra/name` to be accepted and programmed, and returns its address.
async fn programmed_address(cluster: &Cluster, name: &str) -> IpAddr {
    let status = cluster
        .eventually_status(("Gateway", "infra", name), "programmed", |s| {
            gateway_conditions(s).contains(&"Programmed=true/Programmed".to_string())
                && !gateway_addresses(s).is_empty()
        })
        .await;
    assert_eq!(
        gateway_conditions(&status),
        ["Accepted=true/Accepted", "Programmed=true/Programmed"]
    );
    gateway_addresses(&status)[0]
}

/// GETs `path` at `address`, until `check` holds.
async fn eventually_at(
    cluster: &Cluster,
    address: (IpAddr, u16),
    path: &'static str,
    check: impl Fn(&Reply) -> bool,
) -> Reply {
    let what = format!("{path} at {}:{}", address.0, address.1);
    let get = || async move {
        request_plain_to(address, "GET", "example.com", path, &[])
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster.eventually_reply(&what, get, check).await
}

/// Writes the config file and starts Sesame and Envoy over `files`.
async fn start(dir: &tempfile::TempDir, files: &[(&str, &str)]) -> Cluster {
    let config = dir.path().join("sesame.yaml");
    std::fs::write(&config, CONFIG).expect("write config");
    let config = config.to_str().expect("utf-8 path").to_string();
    Cluster::start_with(files, &["--config-path", &config]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_port_each_serve_their_routes_on_their_own_address() {
    let (v1, v2, v3) = (
        backend("v1").await,
        backend("v2").await,
        backend("v3").await,
    );
    let envoy_port = free_port();
    let svcs = services_in(
        "infra",
        &[
            ("infra-backend-v1", &v1),
            ("infra-backend-v2", &v2),
            ("infra-backend-v3", &v3),
        ],
    );
    let dir = tempfile::tempdir().expect("config dir");
    let gateways = multiple(envoy_port - 8000);
    let cluster = start(&dir, &[("svc.yaml", &svcs), ("gateways.yaml", &gateways)]).await;

    let same = programmed_address(&cluster, "same-namespace").await;
    let all = programmed_address(&cluster, "all-namespaces").await;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!((same, all), (ip("127.0.0.2"), ip("127.0.0.3")));
    for (address, dedicated) in [(same, "v2"), (all, "v3")] {
        let at = (address, envoy_port);
        eventually_at(&cluster, at, "/shared", |r| r.from("v1")).await;
        eventually_at(&cluster, at, "/", |r| r.from(dedicated)).await;
    }
    let shared = cluster
        .object_status("HTTPRoute", "infra", "multiple-gateways-shared-route")
        .await
        .expect("route status");
    let parents: Vec<(&str, &str)> = shared["gateway_api"]["route"]["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let accepted = p["conditions"][0]["reason"].as_str().unwrap_or_default();
            (
                p["parentRef"]["name"].as_str().unwrap_or_default(),
                accepted,
            )
        })
        .collect();
    assert_eq!(
        parents,
        [
            ("same-namespace", "Accepted"),
            ("all-namespaces", "Accepted")
        ]
    );
    cluster.assert_no_update_rejected().await;
}

/// The upstream GatewayStaticAddresses Gateway, with these `spec.addresses` and its HTTP
/// listener on `port`, and a route to `static-backend` attached to it.
fn static_gateway(port: u16, addresses: &str) -> String {
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gateway-static-addresses, namespace: infra}}
spec:
  gatewayClassName: sesame
  addresses: {addresses}
  listeners:
  - {{name: http, port: {port}, protocol: HTTP}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: static, namespace: infra}}
spec:
  parentRefs: [{{name: gateway-static-addresses}}]
  rules: [{{backendRefs: [{{name: static-backend, port: 80}}]}}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_addresses_unsupported_then_unusable_then_usable() {
    let b = backend("static").await;
    let envoy_port = free_port();
    let port = envoy_port - 8000;
    let svcs = services_in("infra", &[("static-backend", &b)]);
    let invalid = r#"{type: test/fake-invalid-type, value: "fake address teehee!"}"#;
    let (unusable, usable) = ("{value: 10.9.9.9}", "{value: 127.0.0.3}");
    let all = format!("[{invalid}, {unusable}, {usable}]");
    let dir = tempfile::tempdir().expect("config dir");
    let cluster = start(
        &dir,
        &[
            ("svc.yaml", &svcs),
            ("gateway.yaml", &static_gateway(port, &all)),
        ],
    )
    .await;
    let key = ("Gateway", "infra", "gateway-static-addresses");
    let has =
        |wanted: &'static str| move |s: &Value| gateway_conditions(s).iter().any(|c| c == wanted);

    let status =
        (cluster.eventually_status(key, "unsupported", has("Accepted=false/UnsupportedAddress")))
            .await;
    assert!(gateway_addresses(&status).is_empty());

    cluster.write(
        "gateway.yaml",
        &static_gateway(port, &format!("[{unusable}, {usable}]")),
    );
    let status =
        (cluster.eventually_status(key, "unusable", has("Programmed=false/AddressNotUsable")))
            .await;
    assert_eq!(
        gateway_conditions(&status),
        [
            "Accepted=true/Accepted",
            "Programmed=false/AddressNotUsable"
        ]
    );
    let at = (IpAddr::from([127, 0, 0, 3]), envoy_port);
    let refused = request_plain_to(at, "GET", "example.com", "/", &[]).await;
    assert!(refused.is_err(), "nothing listens yet: {refused:?}");

    cluster.write(
        "gateway.yaml",
        &static_gateway(port, &format!("[{usable}]")),
    );
    let status =
        (cluster.eventually_status(key, "usable", has("Programmed=true/Programmed"))).await;
    assert_eq!(
        gateway_conditions(&status),
        ["Accepted=true/Accepted", "Programmed=true/Programmed"]
    );
    assert_eq!(gateway_addresses(&status), [at.0]);
    eventually_at(&cluster, at, "/", |r| r.from("static")).await;
    cluster.assert_no_update_rejected().await;
}

//! HTTPRoute traffic through a real Envoy (file mode): weighted splits, mirrors (several, and
//! fractions of a percent), named rules, WebSocket backends and the Service types of the
//! upstream conformance tests of the same names.

use std::net::SocketAddr;
use std::time::Duration;

use crate::gateway_http::{gateway, service_at, service_speaking, start};
use crate::harness::{
    Reply, backend, eventually, free_port, request_plain, services, upgrade_backend,
};

/// The routes of the upstream HTTPRouteWeight, HTTPRouteRequestPercentageMirror (a fraction
/// that is no whole percentage), HTTPRouteRequestMultipleMirrors, HTTPRouteNamedRule and
/// HTTPRouteBackendProtocolWebSocket and HTTPRouteServiceTypes tests, on `gw.example.com`.
const TRAFFIC_ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: traffic, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [gw.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /weight}}]
    backendRefs:
    - {name: svc-a, port: 80, weight: 70}
    - {name: svc-b, port: 80, weight: 30}
    - {name: svc-c, port: 80, weight: 0}
  - matches: [{path: {type: PathPrefix, value: /third}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: svc-m, port: 80}, fraction: {numerator: 1, denominator: 3}}
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /multi-mirror}}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: svc-b, port: 80}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: svc-c, port: 80}}}
    backendRefs: [{name: svc-a, port: 80}]
  - name: named-rule
    matches: [{path: {type: PathPrefix, value: /named}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /unnamed}}]
    backendRefs: [{name: svc-b, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /ws}}]
    backendRefs: [{name: svc-ws, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /not-ws}}]
    backendRefs: [{name: svc-ws-unmarked, port: 80}]
  - matches: [{path: {type: Exact, value: /manual-endpointslices}}]
    backendRefs: [{name: manual-endpointslices, port: 8080}]
  - matches: [{path: {type: Exact, value: /headless-manual-endpointslices}}]
    backendRefs: [{name: headless-manual-endpointslices, port: 8080}]
"#;

/// The Services of the upstream HTTPRouteServiceTypes test: a named port 8080 whose
/// EndpointSlices (an IPv4 one pointing at `addr`, an empty IPv6 one) are written by hand,
/// with a cluster IP or headless.
fn service_types(addr: SocketAddr) -> String {
    let items: Vec<serde_json::Value> = [("manual-endpointslices", false), ("headless-manual-endpointslices", true)]
        .into_iter()
        .flat_map(|(name, headless)| {
            let mut spec = serde_json::json!({"ports": [
                {"name": "first-port", "protocol": "TCP", "port": 8080, "targetPort": addr.port()}
            ]});
            if headless {
                spec["clusterIP"] = "None".into();
            }
            let slice = |family: &str, endpoints: serde_json::Value| {
                serde_json::json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": format!("{name}-{}", family.to_lowercase()), "namespace": "default",
                                 "labels": {"kubernetes.io/service-name": name}},
                    "addressType": family, "endpoints": endpoints,
                    "ports": [{"name": "first-port", "port": addr.port(), "protocol": "TCP"}]})
            };
            [
                serde_json::json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": "default"}, "spec": spec}),
                slice("IPv4", serde_json::json!([{"addresses": [addr.ip().to_string()], "conditions": {"ready": true}}])),
                slice("IPv6", serde_json::json!([])),
            ]
        })
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// How many of `n` requests, each going one way with probability `p`, may go that way
/// without the split being wrong: the mean plus or minus five standard deviations (a false
/// failure about once in 1.7 million runs).
fn band(n: u32, p: f64) -> std::ops::RangeInclusive<u32> {
    let mean = f64::from(n) * p;
    let spread = 5.0 * (mean * (1.0 - p)).sqrt();
    ((mean - spread).floor().max(0.0) as u32)..=((mean + spread).ceil() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_mirror_fractions_named_rules_and_websocket_backends() {
    let (a, b, c, m) = (
        backend("a").await,
        backend("b").await,
        backend("c").await,
        backend("m").await,
    );
    let ws = upgrade_backend().await;
    let envoy_port = free_port();
    let svcs = format!(
        "{}\n---\n{}\n---\n{}\n---\n{}",
        services(&[("svc-a", &a), ("svc-b", &b), ("svc-c", &c), ("svc-m", &m)]),
        service_speaking("svc-ws", ws.addr, Some("kubernetes.io/ws")),
        service_at("svc-ws-unmarked", ws.addr),
        service_types(a.addr),
    );
    let gw = gateway(envoy_port - 8000);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("gateway.yaml", &gw),
        ("routes.yaml", TRAFFIC_ROUTES),
    ])
    .await;
    let get = |path: String| async move {
        request_plain(envoy_port, "GET", "gw.example.com", &path, &[])
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster
        .eventually_reply(
            "the gateway listener serves the route",
            || get("/named".to_string()),
            |r| r.from("a"),
        )
        .await;

    // HTTPRouteNamedRule: named and unnamed rules are both served.
    assert!(get("/unnamed".to_string()).await.from("b"));
    // HTTPRouteServiceTypes: Services with hand-written EndpointSlices, headless or not.
    for path in ["/manual-endpointslices", "/headless-manual-endpointslices"] {
        let reply = get(path.to_string()).await;
        assert!(reply.from("a"), "{path}: {reply:?}");
    }

    // HTTPRouteWeight: 70/30/0 over 1000 requests.
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for i in 0..1000 {
        let reply = get(format!("/weight?i={i}")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        *counts.entry(reply.backend.unwrap_or_default()).or_default() += 1;
    }
    let count = |name: &str| counts.get(name).copied().unwrap_or(0);
    assert!(band(1000, 0.7).contains(&count("a")), "{counts:?}");
    assert_eq!(
        count("a") + count("b"),
        1000,
        "weight 0 takes nothing: {counts:?}"
    );

    // HTTPRouteRequestPercentageMirror with a third: Envoy mirrors about 1 request in 3.
    for i in 0..900 {
        assert!(get(format!("/third?i={i}")).await.from("a"));
    }
    let mirrored = || {
        m.requests()
            .iter()
            .filter(|r| r.starts_with("/third"))
            .count() as u32
    };
    let expected = band(900, 1.0 / 3.0);
    let low = *expected.start();
    assert!(
        eventually(Duration::from_secs(5), || async { mirrored() >= low }).await,
        "mirrored {} of 900",
        mirrored()
    );
    assert!(
        expected.contains(&mirrored()),
        "mirrored {} of 900",
        mirrored()
    );

    // HTTPRouteRequestMultipleMirrors: both mirrors see the request.
    assert!(get("/multi-mirror/x".to_string()).await.from("a"));
    let both = eventually(Duration::from_secs(5), || async {
        [&b, &c]
            .iter()
            .all(|mirror| mirror.requests().iter().any(|r| r == "/multi-mirror/x"))
    })
    .await;
    assert!(both, "b saw {:?}, c saw {:?}", b.requests(), c.requests());

    // HTTPRouteBackendProtocolWebSocket: a Service port with appProtocol kubernetes.io/ws
    // gets the upgrade; the connection is then a tunnel to the backend, which echoes.
    let (status, mut stream) = crate::httpproxy::upgrade(envoy_port, "gw.example.com", "/ws").await;
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"Websocket Support!")
        .await
        .expect("write frame");
    let mut echo = [0u8; 18];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut echo))
        .await
        .expect("echo in time")
        .expect("read echo");
    assert_eq!(&echo, b"Websocket Support!");
    // A port that does not say so gets no upgrade.
    let (status, _) = crate::httpproxy::upgrade(envoy_port, "gw.example.com", "/not-ws").await;
    assert!(!status.starts_with("HTTP/1.1 101"), "{status}");
    cluster.assert_no_update_rejected().await;
}

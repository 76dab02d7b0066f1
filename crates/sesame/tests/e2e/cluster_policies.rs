//! Cluster policies through a real Envoy: slow start on a route's services (carried by the
//! cluster Envoy runs, with requests served) and TCP health checks on a TCP proxy (a closed
//! backend port marked unhealthy, a live one healthy and carrying TLS-terminated traffic), and
//! hostile values that must become status conditions, never NACKs.

use serde_json::Value;

use crate::harness::{Cluster, Pki, backend, free_port, get_plain, services};
use crate::httpproxy::{key, proxy, refused_then_canary};

/// A Service `name` whose one endpoint is 127.0.0.1 at `port`, where nothing listens.
fn closed_service(name: &str, port: u16) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": "default"},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": format!("{name}-1"), "namespace": "default",
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
         "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
    ]})
    .to_string()
}

/// The `health_flags` of every host of the clusters of `service` (in `default`, port 80), from
/// Envoy's admin `/clusters`.
async fn health_flags(cluster: &Cluster, service: &str) -> Vec<String> {
    let reply = get_plain(cluster.ports.admin, "127.0.0.1", "/clusters")
        .await
        .unwrap_or_default();
    let prefix = format!("default/{service}/80/");
    reply
        .body
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.split_once("::health_flags::").map(|(_, f)| f.to_string()))
        .collect()
}

/// The dynamic clusters Envoy runs, from its admin `/config_dump`.
async fn active_clusters(cluster: &Cluster) -> Vec<Value> {
    let reply = get_plain(
        cluster.ports.admin,
        "127.0.0.1",
        "/config_dump?resource=dynamic_active_clusters",
    )
    .await
    .unwrap_or_default();
    let dump: Value = serde_json::from_str(&reply.body).unwrap_or_default();
    dump["configs"]
        .as_array()
        .map(|c| c.iter().map(|c| c["cluster"].clone()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_start_reaches_envoy_clusters_and_requests_are_served() {
    let a = backend("a").await;
    let spec = "{virtualhost: {fqdn: slow.test}, routes: [\
        {conditions: [{prefix: /lr}], loadBalancerPolicy: {strategy: WeightedLeastRequest}, \
         services: [{name: svc-a, port: 80, slowStartPolicy: {window: 2m, minWeightPercent: 0}}]}, \
        {services: [{name: svc-a, port: 80, \
         slowStartPolicy: {window: 5s, aggression: '1.5', minWeightPercent: 20}}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("slow.yaml", &proxy("default", "slow", spec)),
    ])
    .await;
    cluster
        .eventually_http("slow.test", "/", "slow start route served", |r| r.from("a"))
        .await;
    cluster
        .eventually_http("slow.test", "/lr/x", "least request route served", |r| {
            r.from("a")
        })
        .await;
    let clusters = active_clusters(&cluster).await;
    let slow_start = |config: &str| -> Vec<Value> {
        clusters
            .iter()
            .filter(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("default/svc-a/80/"))
            })
            .map(|c| c[config]["slow_start_config"].clone())
            .filter(|s| !s.is_null())
            .collect()
    };
    assert_eq!(
        slow_start("round_robin_lb_config"),
        [serde_json::json!({
            "slow_start_window": "5s",
            "aggression": {"default_value": 1.5, "runtime_key": "sesame.slowstart.aggression"},
            "min_weight_percent": {"value": 20}
        })],
        "{clusters:#?}"
    );
    assert_eq!(
        slow_start("least_request_lb_config"),
        [serde_json::json!({
            "slow_start_window": "120s",
            "aggression": {"default_value": 1, "runtime_key": "sesame.slowstart.aggression"},
            "min_weight_percent": {}
        })],
        "{clusters:#?}"
    );
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_slow_start_policies_become_invalid_status_and_never_reach_envoy() {
    let a = backend("a").await;
    let cluster = Cluster::start(&[("svc.yaml", &services(&[("svc-a", &a)]))]).await;
    let hostile = [
        ("window-fast", "{window: fast}", "RoundRobin"),
        (
            "aggression-negative",
            "{window: 5s, aggression: '-1'}",
            "RoundRobin",
        ),
        (
            "aggression-abc",
            "{window: 5s, aggression: abc}",
            "RoundRobin",
        ),
        (
            "min-weight-101",
            "{window: 5s, minWeightPercent: 101}",
            "RoundRobin",
        ),
        (
            "request-hash",
            "{window: 5s}",
            "RequestHash, requestHashPolicies: [{hashSourceIP: true}]",
        ),
        ("random", "{window: 5s}", "Random"),
    ];
    for (name, policy, strategy) in hostile {
        let spec = format!(
            "{{virtualhost: {{fqdn: {name}.hostile.test}}, routes: [{{\
             loadBalancerPolicy: {{strategy: {strategy}}}, \
             services: [{{name: svc-a, port: 80, slowStartPolicy: {policy}}}]}}]}}"
        );
        cluster.write(&format!("{name}.yaml"), &proxy("default", name, &spec));
    }
    let refused: Vec<_> = hostile
        .iter()
        .map(|(n, _, _)| (*n, "SlowStartInvalid"))
        .collect();
    refused_then_canary(&cluster, &refused).await;
    cluster.assert_no_update_rejected().await;
    assert!(
        active_clusters(&cluster)
            .await
            .iter()
            .all(|c| c["round_robin_lb_config"].is_null() && c["least_request_lb_config"].is_null()),
        "no slow start reached Envoy"
    );
    for (name, _, _) in hostile {
        let reply = cluster.http(&format!("{name}.hostile.test"), "/").await;
        assert_eq!(reply.status, 404, "{name}: {reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_health_checks_mark_a_closed_backend_unhealthy_and_a_live_one_carries_traffic() {
    let a = backend("a").await;
    let closed = free_port();
    let pki = Pki::new();
    let check = "healthCheckPolicy: {intervalSeconds: 1, timeoutSeconds: 1, \
        unhealthyThresholdCount: 1, healthyThresholdCount: 1}";
    let tcp = |fqdn: &str, service: &str| {
        format!(
            "{{virtualhost: {{fqdn: {fqdn}, tls: {{secretName: cert}}}}, \
             tcpproxy: {{services: [{{name: {service}, port: 80}}], {check}}}}}"
        )
    };
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("closed.json", &closed_service("svc-closed", closed)),
        (
            "cert.json",
            &pki.secret("cert", &["live.test", "dead.test"]),
        ),
        (
            "live.yaml",
            &proxy("default", "live", &tcp("live.test", "svc-a")),
        ),
        (
            "dead.yaml",
            &proxy("default", "dead", &tcp("dead.test", "svc-closed")),
        ),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    // TLS terminated by Envoy, the decrypted stream proxied to the echo backend.
    let reply = cluster
        .eventually_reply(
            "tcp proxy to the live backend",
            || cluster.https("live.test", "/through", ca),
            |r| r.from("a"),
        )
        .await;
    assert_eq!(reply.body.lines().next(), Some("a /through"));

    // Envoy checks every second; one failure marks the closed port, one success the live one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let dead = health_flags(&cluster, "svc-closed").await;
        let live = health_flags(&cluster, "svc-a").await;
        if dead == ["/failed_active_hc"] && live == ["healthy"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "health flags: closed {dead:?}, live {live:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Nothing healthy behind dead.test: Envoy closes the connection.
    let reply = cluster.https("dead.test", "/", ca).await;
    assert!(!reply.from("a"), "{reply:?}");

    for name in ["live", "dead"] {
        let status = cluster
            .eventually_status(key("default", name), "tcp proxy status", |_| true)
            .await;
        assert_eq!(status["current"], "valid", "{status}");
    }
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tcp_health_checks_become_invalid_status_and_never_reach_envoy() {
    let a = backend("a").await;
    let pki = Pki::new();
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("cert.json", &pki.secret("cert", &["*.hostile.test"])),
    ])
    .await;
    let hostile = [
        ("negative-interval", "{intervalSeconds: -1}"),
        ("year-timeout", "{timeoutSeconds: 31536000}"),
        ("many-failures", "{unhealthyThresholdCount: 5000}"),
    ];
    for (name, policy) in hostile {
        let spec = format!(
            "{{virtualhost: {{fqdn: {name}.hostile.test, tls: {{secretName: cert}}}}, \
             tcpproxy: {{services: [{{name: svc-a, port: 80}}], healthCheckPolicy: {policy}}}}}"
        );
        cluster.write(&format!("{name}.yaml"), &proxy("default", name, &spec));
    }
    let refused: Vec<_> = hostile
        .iter()
        .map(|(n, _)| (*n, "HealthCheckPolicyNotValid"))
        .collect();
    refused_then_canary(&cluster, &refused).await;
    cluster.assert_no_update_rejected().await;
    assert!(
        active_clusters(&cluster)
            .await
            .iter()
            .all(|c| c["health_checks"].is_null()),
        "no health check reached Envoy"
    );
}

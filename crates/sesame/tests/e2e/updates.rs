//! Changes to the manifests directory reaching a running Envoy, in either xDS mode (the suite runs
//! once per mode).

use crate::harness::{Backend, Cluster, PATIENCE, backend, services};

fn simple(name: &str, host: &str, svc: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {svc}\n            port:\n              number: 80\n"
    )
}

/// Echo backends `a` and `b` behind Services `svc-a` and `svc-b`, and an Envoy routing
/// `app.example.com` (in `app.yaml`) to `svc-a`, with `more` files besides. The backends live
/// as long as the handles.
async fn app_routed_to_a(more: &[(&str, &str)]) -> (Cluster, [Backend; 2]) {
    let (a, b) = (backend("a").await, backend("b").await);
    let svc = services(&[("svc-a", &a), ("svc-b", &b)]);
    let app = simple("app", "app.example.com", "svc-a");
    let mut files = vec![("svc.yaml", svc.as_str()), ("app.yaml", app.as_str())];
    files.extend_from_slice(more);
    let cluster = Cluster::start(&files).await;
    cluster
        .eventually_http("app.example.com", "/", "initial route", |r| r.from("a"))
        .await;
    (cluster, [a, b])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_manifest_moves_traffic_and_deleted_manifest_leaves_no_route() {
    let other = simple("other", "other.example.com", "svc-a");
    let (cluster, _backends) = app_routed_to_a(&[("other.yaml", &other)]).await;

    cluster.write("app.yaml", &simple("app", "app.example.com", "svc-b"));
    cluster
        .eventually_http("app.example.com", "/", "edit moves traffic to b", |r| {
            r.from("b")
        })
        .await;

    cluster.remove("app.yaml");
    cluster
        .eventually_http(
            "app.example.com",
            "/",
            "deleted manifest leaves no route",
            |r| r.status == 404,
        )
        .await;
    assert!(cluster.http("other.example.com", "/").await.from("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_file_and_invalid_objects_leave_other_routes_serving() {
    let (a, b) = (backend("a").await, backend("b").await);
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
        ("keep.yaml", &simple("keep", "keep.example.com", "svc-a")),
        ("flaky.yaml", &simple("flaky", "flaky.example.com", "svc-b")),
    ])
    .await;
    cluster
        .eventually_http("flaky.example.com", "/", "initial route", |r| r.from("b"))
        .await;

    // A file that no longer parses keeps the objects it held.
    cluster.write(
        "flaky.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: [this is: not valid\n",
    );
    // An invalid object (bad host, bad regex) is skipped; everything else keeps serving.
    let invalid = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: invalid\n  namespace: default\nspec:\n  rules:\n  - host: \"bad..host\"\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: svc-a\n            port:\n              number: 80\n  - host: regex.example.com\n    http:\n      paths:\n      - path: \"/(?=lookahead)[\"\n        pathType: ImplementationSpecific\n        backend:\n          service:\n            name: svc-a\n            port:\n              number: 80\n";
    cluster.write("invalid.yaml", invalid);
    let sesame_saw_it = crate::harness::eventually(PATIENCE, || async {
        cluster
            .debug("/status")
            .await
            .body
            .contains("InvalidHostname")
    })
    .await;
    assert!(
        sesame_saw_it,
        "invalid object never reported\n{}",
        cluster.logs()
    );
    assert!(cluster.http("keep.example.com", "/").await.from("a"));
    assert!(cluster.http("flaky.example.com", "/").await.from("b"));
    assert!(
        cluster.sesame.log().contains("flaky.yaml"),
        "the parse error names the file\n{}",
        cluster.logs()
    );

    // Fixing the file applies its new content.
    cluster.write("flaky.yaml", &simple("flaky", "flaky.example.com", "svc-a"));
    cluster
        .eventually_http("flaky.example.com", "/", "fixed file applies", |r| {
            r.from("a")
        })
        .await;
}

/// Moving a route to another Service under steady traffic: each move brings a new cluster,
/// and the route reaches Envoy only once that cluster has warmed, so no request in between is
/// answered 503 for want of a cluster (Envoy's `no_cluster`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_route_to_a_new_cluster_under_traffic_fails_no_request() {
    let (cluster, _backends) = app_routed_to_a(&[]).await;
    let cluster = std::sync::Arc::new(cluster);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Background traffic through every move, besides the requests that wait for each one.
    let traffic = {
        let (cluster, stop) = (cluster.clone(), stop.clone());
        tokio::spawn(async move {
            let mut failed = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let reply = cluster.http("app.example.com", "/").await;
                if reply.status != 200 {
                    failed.push(reply.status);
                }
            }
            failed
        })
    };
    let mut failed = Vec::new();
    for k in 1..=6 {
        let (svc, name) = if k % 2 == 1 {
            ("svc-b", "b")
        } else {
            ("svc-a", "a")
        };
        cluster.write("app.yaml", &simple("app", "app.example.com", svc));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let reply = cluster.http("app.example.com", "/").await;
            if reply.status != 200 {
                failed.push(reply.status);
            }
            if reply.from(name) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "move {k} to {svc} never served\n{}",
                cluster.logs()
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    failed.extend(traffic.await.expect("traffic task"));
    assert!(
        failed.is_empty(),
        "requests failed while routes moved: {failed:?}"
    );
    let no_cluster = cluster.envoy_counters("http.ingress_http.no_cluster").await;
    assert_eq!(
        no_cluster,
        [("http.ingress_http.no_cluster".to_string(), 0)]
    );
    cluster.assert_no_update_rejected().await;
}

//! Changes to the manifests directory reaching a running Envoy.

use crate::harness::{Cluster, backend, services};

fn simple(name: &str, host: &str, svc: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {svc}\n            port:\n              number: 80\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_manifest_moves_traffic_and_deleted_manifest_leaves_no_route() {
    let (a, b) = (backend("a").await, backend("b").await);
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
        ("app.yaml", &simple("app", "app.example.com", "svc-a")),
        ("other.yaml", &simple("other", "other.example.com", "svc-a")),
    ])
    .await;
    cluster
        .eventually_http("app.example.com", "/", "initial route", |r| r.from("a"))
        .await;

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
    let sesame_saw_it = crate::harness::eventually(crate::harness::PATIENCE, || async {
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

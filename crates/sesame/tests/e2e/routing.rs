//! Host and path routing through a real Envoy.

use crate::harness::{Cluster, backend, services};

fn ingress(name: &str, class: Option<&str>, rules: &str) -> String {
    let class = class
        .map(|c| format!("  ingressClassName: {c}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{class}  rules:\n{rules}"
    )
}

fn path(path: &str, path_type: &str, service: &str) -> String {
    format!(
        "      - path: \"{path}\"\n        pathType: {path_type}\n        backend:\n          service:\n            name: {service}\n            port:\n              number: 80\n"
    )
}

fn rule(host: &str, paths: &[String]) -> String {
    format!(
        "  - host: \"{host}\"\n    http:\n      paths:\n{}",
        paths.concat()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_and_path_routing() {
    let (a, b, c) = (backend("a").await, backend("b").await, backend("c").await);
    let routes = ingress(
        "routes",
        None,
        &[
            rule("a.example.com", &[path("/", "Prefix", "svc-a")]),
            rule("b.example.com", &[path("/", "Prefix", "svc-b")]),
            rule(
                "paths.example.com",
                &[
                    path("/b/", "Prefix", "svc-b"),
                    path("/exact", "Exact", "svc-c"),
                    path("/impl", "ImplementationSpecific", "svc-c"),
                    path("/re/[0-9]+", "ImplementationSpecific", "svc-b"),
                    path("/", "Prefix", "svc-a"),
                ],
            ),
        ]
        .concat(),
    );
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-a", &a), ("svc-b", &b), ("svc-c", &c)]),
        ),
        ("ingress.yaml", &routes),
    ])
    .await;

    cluster
        .eventually_http("a.example.com", "/", "host a routes to a", |r| r.from("a"))
        .await;
    assert!(cluster.http("b.example.com", "/x").await.from("b"));
    // A Host header with a port still matches.
    assert!(cluster.http("b.example.com:8080", "/x").await.from("b"));
    // Host names match case-insensitively.
    assert!(cluster.http("A.Example.COM", "/").await.from("a"));
    // Unknown hosts get 404.
    assert_eq!(cluster.http("nope.example.com", "/").await.status, 404);

    // Prefix is segment-wise: /b and /b/c go to b, /bc does not.
    assert!(cluster.http("paths.example.com", "/b").await.from("b"));
    assert!(cluster.http("paths.example.com", "/b/c").await.from("b"));
    assert!(cluster.http("paths.example.com", "/bc").await.from("a"));
    // Exact matches only the exact path.
    assert!(cluster.http("paths.example.com", "/exact").await.from("c"));
    assert!(
        cluster
            .http("paths.example.com", "/exact/more")
            .await
            .from("a")
    );
    // ImplementationSpecific without metacharacters is a plain prefix.
    assert!(cluster.http("paths.example.com", "/impl").await.from("c"));
    assert!(
        cluster
            .http("paths.example.com", "/implied")
            .await
            .from("c")
    );
    // ...and with metacharacters a regular expression over the whole path.
    assert!(cluster.http("paths.example.com", "/re/42").await.from("b"));
    assert!(cluster.http("paths.example.com", "/re/abc").await.from("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_backend_and_wildcard_hosts() {
    let (a, b) = (backend("a").await, backend("b").await);
    let manifest = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: default\n  namespace: default\nspec:\n  defaultBackend:\n    service:\n      name: svc-a\n      port:\n        number: 80\n  rules:\n{}",
        [
            rule("*.wild.example.com", &[path("/", "Prefix", "svc-b")]),
            rule("only.wild.example.com", &[path("/only", "Prefix", "svc-b")]),
        ]
        .concat()
    );
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
        ("ingress.yaml", &manifest),
    ])
    .await;
    cluster
        .eventually_http(
            "anything.test",
            "/any/path",
            "default backend serves unknown hosts",
            |r| r.from("a"),
        )
        .await;
    assert!(cluster.http("one.wild.example.com", "/").await.from("b"));
    // A wildcard matches exactly one label: deeper names are not routed by it (404, as in Contour).
    assert_eq!(
        cluster.http("two.one.wild.example.com", "/").await.status,
        404
    );
    // Exact hosts not otherwise routed fall to the default backend.
    assert!(cluster.http("wild.example.com", "/").await.from("a"));
    // An exact host is routed by its own rules alone: a path none of them takes is a 404,
    // whatever the wildcard or the default backend would take. In any case and with a port.
    assert!(
        cluster
            .http("only.wild.example.com", "/only")
            .await
            .from("b")
    );
    assert!(
        cluster
            .http("Only.Wild.Example.com:80", "/only")
            .await
            .from("b")
    );
    for host in ["only.wild.example.com", "ONLY.wild.example.com:8080"] {
        let reply = cluster.http(host, "/other").await;
        assert_eq!((reply.status, reply.body.as_str()), (404, ""), "{host}");
    }
    assert!(
        cluster
            .http("Other.Wild.Example.COM:80", "/")
            .await
            .from("b")
    );
    // A client cannot pick the routes itself with the header scoped routing reads (delta
    // xDS), and the header Envoy writes there never reaches a backend.
    let scope = [("x-sesame-route-scope", "*")];
    let reply = cluster
        .http_with("only.wild.example.com", "/other", &scope)
        .await;
    assert_eq!(reply.status, 404);
    let reply = cluster.http("only.wild.example.com", "/only").await;
    assert!(reply.from("b"));
    assert!(
        !reply.body.contains("x-sesame-route-scope"),
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_class_filtering() {
    let (a, b, c) = (backend("a").await, backend("b").await, backend("c").await);
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-a", &a), ("svc-b", &b), ("svc-c", &c)]),
        ),
        (
            "none.yaml",
            &ingress(
                "none",
                None,
                &rule("none.example.com", &[path("/", "Prefix", "svc-a")]),
            ),
        ),
        (
            "ours.yaml",
            &ingress(
                "ours",
                Some("sesame"),
                &rule("ours.example.com", &[path("/", "Prefix", "svc-b")]),
            ),
        ),
        (
            "other.yaml",
            &ingress(
                "other",
                Some("nginx"),
                &rule("other.example.com", &[path("/", "Prefix", "svc-c")]),
            ),
        ),
    ])
    .await;
    cluster
        .eventually_http("none.example.com", "/", "no class is served", |r| {
            r.from("a")
        })
        .await;
    assert!(cluster.http("ours.example.com", "/").await.from("b"));
    assert_eq!(cluster.http("other.example.com", "/").await.status, 404);

    // With --ingress-class-name, only that class is served.
    let cluster = Cluster::start_with(
        &[
            ("svc.yaml", &services(&[("svc-a", &a), ("svc-c", &c)])),
            (
                "none.yaml",
                &ingress(
                    "none",
                    None,
                    &rule("none.example.com", &[path("/", "Prefix", "svc-a")]),
                ),
            ),
            (
                "other.yaml",
                &ingress(
                    "other",
                    Some("nginx"),
                    &rule("other.example.com", &[path("/", "Prefix", "svc-c")]),
                ),
            ),
        ],
        &["--ingress-class-name", "nginx"],
    )
    .await;
    cluster
        .eventually_http("other.example.com", "/", "the named class is served", |r| {
            r.from("c")
        })
        .await;
    assert_eq!(cluster.http("none.example.com", "/").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_listener_exposes_only_ready_and_stats() {
    let cluster = Cluster::start(&[]).await;
    let stats = cluster.ports.stats;
    let get = |path: &'static str| async move {
        crate::harness::get_plain(stats, "127.0.0.1", path)
            .await
            .unwrap_or_default()
    };
    assert_eq!(get("/ready").await.status, 200);
    let prometheus = get("/stats/prometheus").await;
    assert_eq!(prometheus.status, 200);
    assert!(prometheus.body.contains("envoy_"), "{}", prometheus.body);
    assert_eq!(get("/stats").await.status, 200);
    // Nothing else of Envoy's admin is reachable, however the path is spelled.
    for path in [
        "/config_dump",
        "/quitquitquit",
        "/healthcheck/fail",
        "/stats/../config_dump",
        "/stats/prometheus/../../config_dump",
        "/stats/%2e%2e/config_dump",
        "/ready/",
        "/clusters",
    ] {
        let reply = get(path).await;
        assert_ne!(
            reply.status, 200,
            "{path} reached the admin: {}",
            reply.body
        );
        assert!(
            !reply.body.contains("configs"),
            "{path} leaked the config dump"
        );
    }
    // Envoy is still serving after all of that.
    assert_eq!(get("/ready").await.status, 200);
}

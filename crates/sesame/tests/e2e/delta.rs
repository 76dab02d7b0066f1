//! Delta (incremental) xDS with a real Envoy (`sesame bootstrap --xds-mode delta`): routing,
//! updates, deletes and TLS through real requests, the HTTP routes as one scope per host (SRDS);
//! a restarted Sesame re-sends nothing Envoy already holds; a state-of-the-world and a delta
//! Envoy served by one Sesame.

use crate::harness::{
    Backend, Cluster, PATIENCE, Pki, Process, backend, envoy_command, eventually, free_port,
    get_plain, services, write_bootstrap,
};

const DELTA: &[&str] = &["--xds-mode", "delta"];

/// The types a delta Envoy subscribes to for plain HTTP routing.
const TYPES: [&str; 4] = [
    "Cluster",
    "ClusterLoadAssignment",
    "Listener",
    "ScopedRouteConfiguration",
];

fn ingress(name: &str, host: &str, svc: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {svc}\n            port:\n              number: 80\n"
    )
}

fn tls_ingress(name: &str, host: &str, secret: &str, svc: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  tls:\n  - hosts: [\"{host}\"]\n    secretName: {secret}\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {svc}\n            port:\n              number: 80\n"
    )
}

/// Sesame's metric `name{type="<ty>"}` (an xDS counter by resource type), if exported.
async fn xds_metric(cluster: &Cluster, name: &str, ty: &str) -> Option<u64> {
    let value = cluster
        .sesame_metric(&format!("{name}{{type=\"{ty}\"}}"))
        .await?;
    Some(value as u64)
}

/// Sesame's unlabelled metric `name`, if exported.
async fn metric(cluster: &Cluster, name: &str) -> Option<u64> {
    Some(cluster.sesame_metric(name).await? as u64)
}

/// The sum of Envoy's counters whose names contain `filter` and end with `suffix`.
async fn envoy_sum(cluster: &Cluster, filter: &str, suffix: &str) -> u64 {
    cluster
        .envoy_counters(filter)
        .await
        .iter()
        .filter(|(name, _)| name.ends_with(suffix))
        .map(|(_, v)| v)
        .sum()
}

/// Envoy's counts of clusters modified and added and of listeners modified.
async fn modified(cluster: &Cluster) -> (u64, u64, u64) {
    (
        envoy_sum(cluster, "cluster_manager.cluster_", "cluster_modified").await,
        envoy_sum(cluster, "cluster_manager.cluster_", "cluster_added").await,
        envoy_sum(cluster, "listener_manager.listener_", "listener_modified").await,
    )
}

/// Asserts that Envoy rejected nothing and Sesame counted no NACK.
async fn assert_no_rejections(cluster: &Cluster) {
    let rejected = cluster.envoy_counters("update_rejected").await;
    assert!(!rejected.is_empty(), "no update_rejected stats at all");
    assert!(
        rejected.iter().all(|(_, v)| *v == 0),
        "Envoy rejected an update: {rejected:?}\n{}",
        cluster.logs()
    );
    for ty in [
        "Cluster",
        "ClusterLoadAssignment",
        "Secret",
        "Listener",
        "RouteConfiguration",
        "VirtualHost",
        "ScopedRouteConfiguration",
    ] {
        assert_eq!(
            xds_metric(cluster, "sesame_xds_nack", ty).await,
            Some(0),
            "{ty}"
        );
    }
}

/// Echo backends `a` and `b` behind Services `svc-a` and `svc-b`, and a delta Envoy routing
/// `app.example.com` (in `app.yaml`) to `svc-a`. The backends live as long as the handles.
async fn app_routed_to_a() -> (Cluster, [Backend; 2]) {
    let (a, b) = (backend("a").await, backend("b").await);
    let mut cluster = Cluster::sesame_only(
        &[
            ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
            ("app.yaml", &ingress("app", "app.example.com", "svc-a")),
        ],
        &[],
    );
    cluster.start_envoy_with(DELTA).await;
    cluster
        .eventually_http("app.example.com", "/", "initial route", |r| r.from("a"))
        .await;
    (cluster, [a, b])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_envoy_routes_moves_traffic_drops_deleted_routes_and_serves_tls() {
    let (a, b) = (backend("a").await, backend("b").await);
    let pki = Pki::new();
    let mut cluster = Cluster::sesame_only(
        &[
            ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
            ("app.yaml", &ingress("app", "app.example.com", "svc-a")),
            (
                "other.yaml",
                &ingress("other", "other.example.com", "svc-a"),
            ),
            ("secret.json", &pki.secret("cert", &["secure.example.com"])),
            (
                "secure.yaml",
                &tls_ingress("secure", "secure.example.com", "cert", "svc-b"),
            ),
        ],
        &[],
    );
    cluster.start_envoy_with(DELTA).await;
    assert!(
        cluster.sesame.log().contains("delta xDS stream from Envoy"),
        "Envoy did not connect over delta xDS\n{}",
        cluster.logs()
    );
    cluster
        .eventually_http("app.example.com", "/", "initial route", |r| r.from("a"))
        .await;
    // The HTTP routes came as a scope per host, not as virtual hosts over VHDS.
    let scopes = xds_metric(
        &cluster,
        "sesame_xds_resources_sent",
        "ScopedRouteConfiguration",
    );
    let scopes = scopes.await;
    assert!(scopes.is_some_and(|n| n >= 2), "{scopes:?}");
    let vhosts = xds_metric(&cluster, "sesame_xds_resources_sent", "VirtualHost").await;
    assert!(vhosts.unwrap_or_default() == 0, "{vhosts:?}");

    // TLS: the listener's certificate came over SDS on the delta stream.
    let ca = pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "secure.example.com served over TLS",
            || cluster.https("secure.example.com", "/", ca),
            |r| r.from("b"),
        )
        .await;
    assert_eq!(reply.server_names, ["secure.example.com"]);

    cluster.write("app.yaml", &ingress("app", "app.example.com", "svc-b"));
    cluster
        .eventually_http("app.example.com", "/", "edit moves traffic to b", |r| {
            r.from("b")
        })
        .await;

    cluster.remove("app.yaml");
    cluster
        .eventually_http("app.example.com", "/", "deleted route", |r| r.status == 404)
        .await;
    assert!(cluster.http("other.example.com", "/").await.from("a"));
    assert_no_rejections(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_sesame_sends_a_reconnecting_delta_envoy_only_what_changed() {
    let (mut cluster, _backends) = app_routed_to_a().await;
    for ty in ["Cluster", "Listener", "ScopedRouteConfiguration"] {
        let sent = xds_metric(&cluster, "sesame_xds_resources_sent", ty).await;
        assert!(sent.is_some_and(|n| n > 0), "{ty}: {sent:?}");
    }
    let before = modified(&cluster).await;
    let connects = envoy_sum(&cluster, "control_plane.connected_state", "").await;
    assert_eq!(connects, 1, "Envoy is connected");

    cluster.restart_sesame();
    // Envoy reconnects with the versions it holds; every type is answered (ACKed) but no
    // resource is sent again, since none changed.
    let answered = eventually(PATIENCE, || async {
        let mut all = true;
        for ty in TYPES {
            all &= xds_metric(&cluster, "sesame_xds_responses", ty)
                .await
                .is_some_and(|n| n > 0);
        }
        all && metric(&cluster, "sesame_xds_streams").await == Some(1)
    })
    .await;
    assert!(answered, "Envoy never reconnected\n{}", cluster.logs());
    assert!(
        cluster.sesame.log().contains("delta xDS stream from Envoy"),
        "{}",
        cluster.logs()
    );
    for ty in TYPES {
        assert_eq!(
            xds_metric(&cluster, "sesame_xds_resources_sent", ty).await,
            Some(0),
            "{ty} resources were re-sent after the restart\n{}",
            cluster.logs()
        );
    }
    assert_eq!(
        modified(&cluster).await,
        before,
        "Envoy saw changed resources"
    );
    assert!(cluster.http("app.example.com", "/").await.from("a"));

    // The new stream carries changes: the edited host's scope alone, not the other hosts,
    // route tables or the listeners.
    cluster.write("app.yaml", &ingress("app", "app.example.com", "svc-b"));
    cluster
        .eventually_http("app.example.com", "/", "edit after restart", |r| {
            r.from("b")
        })
        .await;
    let sent = |ty| xds_metric(&cluster, "sesame_xds_resources_sent", ty);
    assert_eq!(sent("ScopedRouteConfiguration").await, Some(1));
    assert_eq!(sent("RouteConfiguration").await, Some(0));
    assert_eq!(sent("Listener").await, Some(0));
    assert_no_rejections(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sotw_and_delta_envoys_on_one_sesame_both_route() {
    let a = backend("a").await;
    let mut cluster = Cluster::sesame_only(
        &[
            ("svc.yaml", &services(&[("svc-a", &a)])),
            ("app.yaml", &ingress("app", "app.example.com", "svc-a")),
        ],
        &[],
    );
    // The first Envoy speaks state of the world (delta is the bootstrap's default).
    cluster.start_envoy_with(&["--xds-mode", "sotw"]).await;
    cluster
        .eventually_http("app.example.com", "/", "SotW Envoy routes", |r| r.from("a"))
        .await;

    // A second Envoy, over delta, on its own admin port. Both bind the pushed listeners'
    // ports with SO_REUSEPORT (Envoy's default), so the kernel spreads connections over them.
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = free_port();
    let bootstrap = dir.path().join("envoy-delta.json");
    write_bootstrap(&bootstrap, cluster.ports.xds, admin, DELTA);
    let delta = Process::spawn(
        &mut envoy_command(&bootstrap, "e2e-delta"),
        dir.path().join("envoy-delta.log"),
    );
    let ready = eventually(PATIENCE, || async {
        matches!(get_plain(admin, "127.0.0.1", "/ready").await, Ok(r) if r.status == 200)
    })
    .await;
    assert!(ready, "the delta Envoy never became ready\n{}", delta.log());

    // Requests through the shared port until each Envoy answered some: both route.
    let served = |port: u16| async move {
        let reply = get_plain(
            port,
            "127.0.0.1",
            "/stats?filter=http.ingress_http.downstream_rq_2xx",
        )
        .await
        .unwrap_or_default();
        reply
            .body
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
            .sum::<u64>()
    };
    let both = eventually(PATIENCE, || async {
        for _ in 0..10 {
            let reply = cluster.http("app.example.com", "/").await;
            assert!(reply.from("a"), "{reply:?}\n{}", cluster.logs());
        }
        served(cluster.ports.admin).await > 0 && served(admin).await > 0
    })
    .await;
    assert!(
        both,
        "not both Envoys served: sotw {} delta {}\n{}\n--- delta envoy ---\n{}",
        served(cluster.ports.admin).await,
        served(admin).await,
        cluster.logs(),
        delta.log()
    );
    assert!(cluster.sesame.log().contains("delta xDS stream from Envoy"));
    assert_eq!(metric(&cluster, "sesame_xds_streams").await, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modified_cluster_warms_at_once_with_its_endpoints_sent_again() {
    modified_cluster_warms_at_once(DELTA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modified_cluster_warms_at_once_in_state_of_the_world_too() {
    modified_cluster_warms_at_once(&["--xds-mode", "sotw"]).await;
}

/// A Service annotation modifies a cluster: Envoy (on `mode`) serves it again well before its
/// 15 s initial fetch timeout, because the unchanged endpoints are sent again.
async fn modified_cluster_warms_at_once(mode: &[&str]) {
    let a = backend("a").await;
    let mut cluster = Cluster::sesame_only(
        &[
            ("svc.yaml", &services(&[("svc-a", &a)])),
            ("app.yaml", &ingress("app", "app.example.com", "svc-a")),
        ],
        &[],
    );
    cluster.start_envoy_with(mode).await;
    cluster
        .eventually_http("app.example.com", "/", "initial route", |r| r.from("a"))
        .await;
    let endpoints_sent = xds_metric(
        &cluster,
        "sesame_xds_resources_sent",
        "ClusterLoadAssignment",
    )
    .await
    .unwrap_or_default();
    let (modified_before, _, _) = modified(&cluster).await;

    // A Service annotation changes the cluster (circuit breakers) but not its endpoints. Envoy
    // warms the modified cluster on an EDS watch it does not subscribe again: unless Sesame
    // sends the unchanged ClusterLoadAssignment again, the cluster waits out the initial fetch
    // timeout (15 s) before it serves.
    let mut list: serde_json::Value =
        serde_json::from_str(&services(&[("svc-a", &a)])).expect("service json");
    list["items"][0]["metadata"]["annotations"] =
        serde_json::json!({ "projectsesame.io/max-connections": "7" });
    let started = std::time::Instant::now();
    cluster.write("svc.yaml", &list.to_string());
    let warmed = eventually(PATIENCE, || async {
        modified(&cluster).await.0 > modified_before
            && envoy_sum(&cluster, "cluster_manager.warming_clusters", "").await == 0
    })
    .await;
    assert!(warmed, "the cluster never changed\n{}", cluster.logs());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "warming took {:?}",
        started.elapsed()
    );
    assert_eq!(
        xds_metric(
            &cluster,
            "sesame_xds_resources_sent",
            "ClusterLoadAssignment"
        )
        .await,
        Some(endpoints_sent + 1)
    );
    assert!(cluster.http("app.example.com", "/").await.from("a"));
    assert_no_rejections(&cluster).await;
}

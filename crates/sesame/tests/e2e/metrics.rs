//! Sesame's `/metrics` as a Contour user's dashboards read it: the HTTPProxy gauges by
//! namespace and virtual host (valid, invalid, orphaned, roots), following changes; the build
//! counters; the build information.

use crate::harness::{Cluster, PATIENCE, backend, eventually, services_in};
use crate::httpproxy::proxy;

/// Every HTTPProxy gauge series and its value, sorted; none while Sesame is not up yet.
async fn proxy_series(cluster: &Cluster) -> Vec<(String, f64)> {
    let Ok(reply) = crate::harness::get_plain(cluster.ports.metrics, "127.0.0.1", "/metrics").await
    else {
        return Vec::new();
    };
    let mut series: Vec<(String, f64)> = reply
        .body
        .lines()
        .filter(|l| l.starts_with("sesame_httpproxy"))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

fn expect(series: &[(&str, f64)]) -> Vec<(String, f64)> {
    let mut series: Vec<(String, f64)> = series.iter().map(|(s, v)| (s.to_string(), *v)).collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

/// Waits until the HTTPProxy gauges are exactly `want`.
async fn gauges_become(cluster: &Cluster, want: &[(&str, f64)], what: &str) {
    let want = expect(want);
    let reached = eventually(PATIENCE, || async { proxy_series(cluster).await == want }).await;
    assert!(
        reached,
        "{what}: HTTPProxy gauges never became\n{want:#?}\nbut are\n{:#?}\n{}",
        proxy_series(cluster).await,
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpproxy_gauges_count_valid_invalid_orphaned_and_roots_by_namespace() {
    let echo = backend("echo").await;
    let svc = |ns| services_in(ns, &[("svc", &echo)]);
    let valid_root = proxy(
        "a",
        "valid",
        "{virtualhost: {fqdn: valid.test}, includes: [{name: child, namespace: b}], \
         routes: [{conditions: [{prefix: /own}], services: [{name: svc, port: 80}]}]}",
    );
    let invalid_root = proxy(
        "a",
        "broken",
        "{virtualhost: {fqdn: broken.test}, routes: [{services: [{name: ghost, port: 80}]}]}",
    );
    let child = proxy(
        "b",
        "child",
        "{routes: [{services: [{name: svc, port: 80}]}]}",
    );
    let orphan = proxy(
        "b",
        "orphan",
        "{routes: [{services: [{name: svc, port: 80}]}]}",
    );
    let cluster = Cluster::sesame_only(
        &[
            ("svc-a.yaml", &svc("a")),
            ("svc-b.yaml", &svc("b")),
            ("valid.yaml", &valid_root),
            ("broken.yaml", &invalid_root),
            ("child.yaml", &child),
            ("orphan.yaml", &orphan),
        ],
        &[],
    );
    gauges_become(
        &cluster,
        &[
            (r#"sesame_httpproxy{namespace="a"}"#, 2.0),
            (r#"sesame_httpproxy{namespace="b"}"#, 2.0),
            (r#"sesame_httpproxy_root{namespace="a"}"#, 2.0),
            (
                r#"sesame_httpproxy_valid{namespace="a",vhost="valid.test"}"#,
                1.0,
            ),
            (
                r#"sesame_httpproxy_invalid{namespace="a",vhost="broken.test"}"#,
                1.0,
            ),
            (r#"sesame_httpproxy_valid{namespace="b",vhost=""}"#, 1.0),
            (r#"sesame_httpproxy_orphaned{namespace="b"}"#, 1.0),
        ],
        "at start",
    )
    .await;

    // Fixing the broken root moves it from invalid to valid under its own host; deleting the
    // orphan takes it out of every gauge, and a series that falls to zero disappears.
    cluster.write(
        "broken.yaml",
        &proxy(
            "a",
            "broken",
            "{virtualhost: {fqdn: broken.test}, routes: [{services: [{name: svc, port: 80}]}]}",
        ),
    );
    cluster.remove("orphan.yaml");
    gauges_become(
        &cluster,
        &[
            (r#"sesame_httpproxy{namespace="a"}"#, 2.0),
            (r#"sesame_httpproxy{namespace="b"}"#, 1.0),
            (r#"sesame_httpproxy_root{namespace="a"}"#, 2.0),
            (
                r#"sesame_httpproxy_valid{namespace="a",vhost="valid.test"}"#,
                1.0,
            ),
            (
                r#"sesame_httpproxy_valid{namespace="a",vhost="broken.test"}"#,
                1.0,
            ),
            (r#"sesame_httpproxy_valid{namespace="b",vhost=""}"#, 1.0),
        ],
        "after the fix and the delete",
    )
    .await;

    // The root that included the child goes: the child is an orphan now.
    cluster.remove("valid.yaml");
    gauges_become(
        &cluster,
        &[
            (r#"sesame_httpproxy{namespace="a"}"#, 1.0),
            (r#"sesame_httpproxy{namespace="b"}"#, 1.0),
            (r#"sesame_httpproxy_root{namespace="a"}"#, 1.0),
            (
                r#"sesame_httpproxy_valid{namespace="a",vhost="broken.test"}"#,
                1.0,
            ),
            (r#"sesame_httpproxy_orphaned{namespace="b"}"#, 1.0),
        ],
        "after the root's delete",
    )
    .await;

    // Each change was a build; the last one is timestamped; the version is exported.
    let builds = cluster.sesame_metric("sesame_dagrebuild_total").await;
    assert!(builds.is_some_and(|n| n >= 3.0), "builds: {builds:?}");
    let at = cluster.sesame_metric("sesame_dagrebuild_timestamp").await;
    assert!(at.is_some_and(|t| t > 1.7e9), "timestamp: {at:?}");
    let info = format!(
        "sesame_build_info{{branch=\"\",revision=\"\",version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(cluster.sesame_metric(&info).await, Some(1.0));
}

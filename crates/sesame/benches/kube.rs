//! Benchmarks of `sesame serve` against the in-process API-server double (real HTTP list and
//! watch): memory with many unrelated Secrets, and status write throughput. Writes Markdown
//! tables.
//!
//! Run: `cargo bench -p sesame --bench kube`. `SESAME_BENCH_SECRETS` (default 1000) and
//! `SESAME_BENCH_PROXIES` (default 1000) choose the sizes.
#![allow(missing_docs)]

#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sesame_apiserver_double::ApiServer;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// A few routes, so that the Sesame measured is a working one.
fn routes(api: &ApiServer) {
    api.apply(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80}]}}));
    for i in 0..10 {
        api.apply(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": format!("web-{i}"), "namespace": "default"},
            "spec": {"rules": [{"host": format!("web-{i}.bench.test"), "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        );
    }
}

/// Peak and current RSS of a Sesame that listed `n` Secrets of `bytes` each, of `kind`.
async fn rss_with_secrets(kind: Option<&str>, n: usize, bytes: usize) -> (f64, f64) {
    let api = ApiServer::start().await.expect("api server");
    routes(&api);
    if let Some(kind) = kind {
        // Base64 of `bytes` bytes, as the API server stores Secret data.
        let blob = "QUJD".repeat(bytes / 3);
        for i in 0..n {
            api.apply(json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
                "metadata": {"name": format!("unrelated-{i}"), "namespace": "default"},
                "data": {"blob": blob}}));
        }
    }
    let cluster = harness::Cluster::sesame_on(&api, &["--disable-leader-election"]);
    let debug = cluster.ports.debug;
    let synced = harness::eventually(Duration::from_secs(120), || async move {
        let Ok(reply) = harness::get_plain(debug, "127.0.0.1", "/status").await else {
            return false;
        };
        let page: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        reply.status == 200 && page["api"]["synced"] == true
    })
    .await;
    assert!(synced, "sesame never synced\n{}", cluster.logs());
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.sesame.memory_mib()
}

async fn secrets_table() {
    let n = size("SESAME_BENCH_SECRETS", 1000);
    let bytes = 128 * 1024;
    println!("\n### Memory with {n} unrelated Secrets of 128 KiB (watched through the API)\n");
    println!("| Secrets | peak RSS (VmHWM) | RSS after sync | peak above baseline |");
    println!("|---|---|---|---|");
    let (base_hwm, base_rss) = rss_with_secrets(None, 0, 0).await;
    println!("| none (baseline) | {base_hwm:.1} MiB | {base_rss:.1} MiB | — |");
    for kind in ["Opaque", "kubernetes.io/tls", "helm.sh/release.v1"] {
        let (hwm, rss) = rss_with_secrets(Some(kind), n, bytes).await;
        println!(
            "| {n} × `{kind}` | {hwm:.1} MiB | {rss:.1} MiB | {:+.1} MiB |",
            hwm - base_hwm
        );
    }
}

async fn status_table() {
    let n = size("SESAME_BENCH_PROXIES", 1000);
    let api = ApiServer::start().await.expect("api server");
    routes(&api);
    let cluster = harness::Cluster::sesame_on(&api, &[]);
    let debug = cluster.ports.debug;
    let leading = harness::eventually(Duration::from_secs(60), || async move {
        let Ok(reply) = harness::get_plain(debug, "127.0.0.1", "/status").await else {
            return false;
        };
        let page: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        page["leading"] == true
    })
    .await;
    assert!(leading, "sesame never led\n{}", cluster.logs());
    api.clear_requests();
    let started = Instant::now();
    for i in 0..n {
        api.apply(
            json!({"apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
            "metadata": {"name": format!("p-{i}"), "namespace": "default"},
            "spec": {"virtualhost": {"fqdn": format!("p-{i}.bench.test")},
                     "routes": [{"services": [{"name": "web", "port": 80}]}]}}),
        );
    }
    let created = started.elapsed();
    let all_valid = || {
        api.list("projectsesame.io/v1", "HTTPProxy")
            .iter()
            .filter(|p| p["status"]["currentStatus"] == "valid")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while all_valid() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let written = started.elapsed();
    let valid = all_valid();
    let patches = api
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/status"))
        .count();
    println!("\n### Status writes: {n} HTTPProxies created at once\n");
    println!(
        "| HTTPProxies | created in | every status written after | statuses valid | status PATCHes |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {n} | {:.2} s | {:.2} s | {valid} | {patches} |",
        created.as_secs_f64(),
        written.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects one table.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wants("secrets") {
        secrets_table().await;
    }
    if wants("status") {
        status_table().await;
    }
}

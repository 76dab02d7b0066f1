//! Benchmark probes of a running `sesame serve`: peak memory and cold start holding N
//! Ingresses, and manifest write → Envoy routing the new backend, through a real Envoy.
//! Writes Markdown tables.
//!
//! Run: `cargo bench -p sesame --bench serve` (needs Envoy: `scripts/setup-envoy.sh`).
//! `SESAME_BENCH_RSS_SIZES` (default `1000,10000`), `SESAME_BENCH_LATENCY_SIZES` (default
//! `100,1000`) and `SESAME_BENCH_LATENCY_SAMPLES` (default 40) choose the sizes.
#![allow(missing_docs)]

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::{Duration, Instant};

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

/// The value of the first line starting with `prefix` (then a space) at `path` on `port`.
async fn stat(port: u16, path: &str, prefix: &str) -> f64 {
    let reply = harness::get_plain(port, "127.0.0.1", path)
        .await
        .unwrap_or_default();
    reply
        .body
        .lines()
        .find_map(|l| {
            l.strip_prefix(prefix)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn rss(n: usize) {
    let chunk = 1000;
    let files: Vec<(String, String)> = (0..n.div_ceil(chunk))
        .map(|c| {
            (
                format!("fixtures-{c:03}.json"),
                fixtures::manifest(c * chunk..((c + 1) * chunk).min(n), 8080),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let started = Instant::now();
    let cluster = harness::Cluster::sesame_only(&refs, &[]);
    drop(files);
    let debug = cluster.ports.debug;
    let built = harness::eventually(Duration::from_secs(120), || async move {
        matches!(harness::get_plain(debug, "127.0.0.1", "/status").await, Ok(r) if r.status == 200)
    })
    .await;
    assert!(built, "sesame never built\n{}", cluster.logs());
    let cold = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (hwm, rss) = cluster.sesame.memory_mib();
    println!("| {n} | {hwm:.1} MiB | {rss:.1} MiB | {} |", ms(cold));
}

async fn latency(n: usize, samples: usize) {
    let (a, b) = (
        harness::backend("probe-a").await,
        harness::backend("probe-b").await,
    );
    let probe = |svc: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: probe, namespace: default}}\nspec:\n  rules:\n  - host: probe.bench.example.com\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}\n"
        )
    };
    let fixtures = fixtures::manifest(0..n, 8080);
    let services = harness::services(&[("probe-a", &a), ("probe-b", &b)]);
    let probe_a = probe("probe-a");
    let cluster = harness::Cluster::start(&[
        ("fixtures.json", &fixtures),
        ("probe-svc.yaml", &services),
        ("probe.yaml", &probe_a),
    ])
    .await;
    cluster
        .eventually_http("probe.bench.example.com", "/", "probe route", |r| {
            r.from("probe-a")
        })
        .await;
    let mut results = Vec::with_capacity(samples);
    let mut sesame_share = Vec::with_capacity(samples);
    let mut envoy_applied = Vec::with_capacity(samples);
    for s in 0..samples {
        // Space changes out so that each one is isolated, as a user's edit is.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let target = if s % 2 == 0 { "probe-b" } else { "probe-a" };
        let started = Instant::now();
        let wall = unix_ms();
        cluster.write("probe.yaml", &probe(target));
        loop {
            let reply = cluster.http("probe.bench.example.com", "/").await;
            if reply.from(target) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the change never arrived\n{}",
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        results.push(started.elapsed());
        let built = stat(
            cluster.ports.metrics,
            "/metrics",
            "sesame_dagrebuild_timestamp",
        )
        .await
            * 1e3;
        let applied = stat(
            cluster.ports.admin,
            "/stats?filter=^http.ingress_http.rds.ingress_http.update_time$",
            "http.ingress_http.rds.ingress_http.update_time:",
        )
        .await;
        sesame_share.push(Duration::from_secs_f64(((built - wall) / 1e3).max(0.0)));
        envoy_applied.push(Duration::from_secs_f64(((applied - wall) / 1e3).max(0.0)));
    }
    results.sort();
    sesame_share.sort();
    envoy_applied.sort();
    println!(
        "| {n} | {samples} | {} | {} | {} | {} | {} | {} |",
        ms(percentile(&results, 0.5)),
        ms(percentile(&results, 0.9)),
        ms(percentile(&results, 0.99)),
        ms(results[0]),
        ms(percentile(&sesame_share, 0.5)),
        ms(percentile(&envoy_applied, 0.5)),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    println!("### Peak memory and cold start of `sesame serve --manifests`\n");
    println!(
        "| N Ingresses (+ N Services, N EndpointSlices) | peak RSS (VmHWM) | RSS after build | start → first build |"
    );
    println!("|---:|---:|---:|---:|");
    for n in sizes("SESAME_BENCH_RSS_SIZES", &[1_000, 10_000]) {
        rss(n).await;
    }
    println!("\n### Manifest write → Envoy routing the new backend (isolated changes)\n");
    println!(
        "| N Ingresses | samples | p50 | p90 | p99 | min | write → Sesame built (p50) | write → Envoy applied RDS (p50) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let samples = std::env::var("SESAME_BENCH_LATENCY_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    for n in sizes("SESAME_BENCH_LATENCY_SIZES", &[100, 1_000]) {
        latency(n, samples).await;
    }
}

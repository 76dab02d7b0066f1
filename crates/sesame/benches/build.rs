//! Benchmark: full build + translate of N Ingresses (each with its own host, Service and
//! EndpointSlice) and of N HTTPProxies (roots with includes), and the incremental paths. Writes
//! Markdown tables.
//!
//! Run: `cargo bench -p sesame --bench build` (set `SESAME_BENCH_SIZES=1000,10000` to choose N).
#![allow(missing_docs)]

#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use sesame_dag::{BuildConfig, Change, NamespacedName, Snapshot, build};
use sesame_envoy::{TranslateConfig, translate};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                black_box(f());
                started.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let sizes = sizes_from_env();
    let build_config = BuildConfig::default();
    let translate_config = TranslateConfig::default();
    println!(
        "| N Ingresses | build | translate | endpoints (all) | build + translate + endpoints | per object | one EDS-only update |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let mut snapshot = Snapshot::new();
        for i in 0..n {
            for object in fixtures::objects(i) {
                snapshot.apply(Change::Apply(object));
            }
        }
        let runs = if n >= 10_000 { 7 } else { 21 };
        let output = build(&snapshot, &build_config);
        assert_eq!(
            output.dag.clusters.len(),
            n,
            "every fixture builds a cluster"
        );
        let t_build = time(runs, || build(&snapshot, &build_config));
        let t_translate = time(runs, || translate(&output.dag, &translate_config));
        let t_endpoints = time(runs, || {
            sesame_envoy::endpoints::endpoints(&output.dag, &snapshot)
        });
        let t_total = time(runs, || {
            let output = build(&snapshot, &build_config);
            let resources = translate(&output.dag, &translate_config);
            let endpoints = sesame_envoy::endpoints::endpoints(&output.dag, &snapshot);
            (output, resources, endpoints)
        });
        let one: BTreeSet<NamespacedName> =
            [NamespacedName::new("bench", format!("app-{}", n / 2))].into();
        let t_eds = time(runs, || {
            sesame_envoy::endpoints::service_endpoints(&output.dag, &snapshot, &one)
        });
        let per_object = t_total.as_secs_f64() * 1e6 / n as f64;
        println!(
            "| {n} | {} | {} | {} | {} | {per_object:.1} µs | {:.1} µs |",
            ms(t_build),
            ms(t_translate),
            ms(t_endpoints),
            ms(t_total),
            t_eds.as_secs_f64() * 1e6
        );
    }
    println!();
    httpproxies(&sizes_from_env());
}

fn sizes_from_env() -> Vec<usize> {
    std::env::var("SESAME_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000])
}

/// The same measures for N HTTPProxies: a root per four, three included children each, ten
/// routes per group (see `fixtures::httpproxy_objects`).
fn httpproxies(sizes: &[usize]) {
    let build_config = BuildConfig::default();
    let translate_config = TranslateConfig::default();
    println!(
        "| N HTTPProxies | routes | build | translate | endpoints (all) | build + translate + endpoints | per HTTPProxy |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let mut snapshot = Snapshot::new();
        for i in 0..n {
            for object in fixtures::httpproxy_objects(i) {
                snapshot.apply(Change::Apply(object));
            }
        }
        let runs = if n >= 10_000 { 7 } else { 21 };
        let output = build(&snapshot, &build_config);
        assert!(
            output
                .status
                .objects
                .values()
                .all(|s| s.current == sesame_dag::status::Validity::Valid),
            "every fixture HTTPProxy is valid"
        );
        let routes: usize = output.dag.http.values().map(|v| v.routes.len()).sum();
        assert_eq!(routes, n / 4 * 10, "ten routes per group");
        let t_build = time(runs, || build(&snapshot, &build_config));
        let t_translate = time(runs, || translate(&output.dag, &translate_config));
        let t_endpoints = time(runs, || {
            sesame_envoy::endpoints::endpoints(&output.dag, &snapshot)
        });
        let t_total = time(runs, || {
            let output = build(&snapshot, &build_config);
            let resources = translate(&output.dag, &translate_config);
            let endpoints = sesame_envoy::endpoints::endpoints(&output.dag, &snapshot);
            (output, resources, endpoints)
        });
        let per_object = t_total.as_secs_f64() * 1e6 / n as f64;
        println!(
            "| {n} | {routes} | {} | {} | {} | {} | {per_object:.1} µs |",
            ms(t_build),
            ms(t_translate),
            ms(t_endpoints),
            ms(t_total),
        );
    }
}

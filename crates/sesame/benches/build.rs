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
use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame_dag::{BuildConfig, Change, IncrementalBuild, NamespacedName, Object, Snapshot, build};
use sesame_envoy::{TranslateConfig, translate};

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
        // An endpoint-only change, as the rebuild loop answers it: through the translator's
        // Service → EDS name index.
        let mut translator = sesame_envoy::incremental::Translator::new(translate_config.clone());
        translator.full(&output.dag, &snapshot);
        let t_eds = time(runs, || translator.service_endpoints(&snapshot, &one));
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
    println!();
    incremental(&sizes);
}

/// How many one-object updates the incremental rows time (their median is reported).
const UPDATE_RUNS: usize = 101;

/// The median time of `IncrementalBuild::update` after each of `UPDATE_RUNS` changes made by
/// `change(run)` (applied to the snapshot outside the timing), checking the output against a
/// full build at the end.
fn time_updates(
    snapshot: &mut Snapshot,
    incremental: &mut IncrementalBuild,
    mut change: impl FnMut(usize) -> Object,
) -> Duration {
    let samples = (0..UPDATE_RUNS)
        .map(|run| {
            let object = change(run);
            let key = object.key();
            snapshot.apply(Change::Apply(object));
            let started = Instant::now();
            black_box(incremental.update(snapshot, std::slice::from_ref(&key)));
            started.elapsed()
        })
        .collect();
    assert!(
        *incremental.output() == build(snapshot, incremental.config()),
        "the incremental output equals a full build"
    );
    median(samples)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// One-object updates with `IncrementalBuild`: an Ingress's backend or host edited in the
/// Ingress fixture, a child's or a root's route edited in the HTTPProxy fixture.
fn incremental(sizes: &[usize]) {
    let config = BuildConfig::default();
    println!(
        "| N | fixture | IncrementalBuild::new | one update: backend edit (p50) | one update: host edit (p50) | clone of the output |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for &n in sizes {
        let mut snapshot = Snapshot::new();
        for i in 0..n {
            for object in fixtures::objects(i) {
                snapshot.apply(Change::Apply(object));
            }
        }
        let runs = if n >= 10_000 { 7 } else { 21 };
        let t_new = time(runs, || IncrementalBuild::new(&snapshot, &config));
        let mut incremental = IncrementalBuild::new(&snapshot, &config);
        let i = n / 2;
        let t_backend = time_updates(&mut snapshot, &mut incremental, |run| {
            let target = format!("app-{}", i + run % 2);
            Object::Ingress(Arc::new(fixtures::ingress(i, Some(&target)).into()))
        });
        let t_host = time_updates(&mut snapshot, &mut incremental, |run| {
            let mut ingress = fixtures::ingress(i, None);
            if run % 2 == 0 {
                let rules = ingress.spec.as_mut().and_then(|s| s.rules.as_mut());
                if let Some(rule) = rules.and_then(|r| r.first_mut()) {
                    rule.host = Some("moved.bench.example.com".to_string());
                }
            }
            Object::Ingress(Arc::new(ingress.into()))
        });
        let t_clone = time(runs, || incremental.output().clone());
        println!(
            "| {n} | Ingresses | {} | {} | {} | {} |",
            ms(t_new),
            us(t_backend),
            us(t_host),
            ms(t_clone)
        );
    }
    for &n in sizes {
        let mut snapshot = Snapshot::new();
        for i in 0..n {
            for object in fixtures::httpproxy_objects(i) {
                snapshot.apply(Change::Apply(object));
            }
        }
        let runs = if n >= 10_000 { 7 } else { 21 };
        let t_new = time(runs, || IncrementalBuild::new(&snapshot, &config));
        let mut incremental = IncrementalBuild::new(&snapshot, &config);
        // Fixture `4g + 1` is a child of root `4g`: point its routes at the canary Service
        // and back.
        let g = n / 8;
        let t_backend = time_updates(&mut snapshot, &mut incremental, |run| {
            proxy_edited(4 * g + 1, |spec| {
                if run % 2 == 0 {
                    spec["routes"][0]["services"][0]["name"] = format!("app-{g}-canary").into();
                }
            })
        });
        let t_host = time_updates(&mut snapshot, &mut incremental, |run| {
            proxy_edited(4 * g, |spec| {
                if run % 2 == 0 {
                    spec["virtualhost"]["fqdn"] = "moved.bench.example.com".into();
                }
            })
        });
        let t_clone = time(runs, || incremental.output().clone());
        println!(
            "| {n} | HTTPProxies | {} | {} | {} | {} |",
            ms(t_new),
            us(t_backend),
            us(t_host),
            ms(t_clone)
        );
    }
}

/// HTTPProxy fixture `i` with its spec edited.
fn proxy_edited(i: usize, edit: impl FnOnce(&mut serde_json::Value)) -> Object {
    let Some(Object::HTTPProxy(proxy)) = fixtures::httpproxy_objects(i).into_iter().next() else {
        panic!("fixture {i} starts with its HTTPProxy");
    };
    let mut value = serde_json::to_value(proxy.as_ref()).expect("an HTTPProxy encodes");
    edit(&mut value["spec"]);
    Object::HTTPProxy(Arc::new(
        serde_json::from_value(value).expect("an edited HTTPProxy decodes"),
    ))
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

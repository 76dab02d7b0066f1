//! Fan-out benchmark: `sesame serve --manifests` holding N fixture Ingresses with M synthetic
//! ADS clients connected (real tonic clients over 127.0.0.1 that subscribe to CDS, EDS, LDS and
//! RDS `ingress_http` — in delta, the scopes of `ingress_http` instead of RDS — and ACK every
//! response). One probe Ingress, in a file of its own, is edited once every 0.7 s; for each
//! change, the time from the file write to each client receiving the response that carries it
//! (state of the world: the RDS response; delta: the scope's). Blocks of ten changes alternate between these
//! clients alone and with one more client that subscribes and never reads its stream (stuck).
//! Writes a Markdown table.
//!
//! Run: `cargo bench -p sesame --bench fanout`. `SESAME_BENCH_FANOUT_SIZE` (N, default 1000),
//! `SESAME_BENCH_FANOUT_CLIENTS` (M, default 100), `SESAME_BENCH_FANOUT_CHANGES` (default 40).
//! `SESAME_BENCH_XDS_MODE=delta` makes the clients (the stuck one too) speak delta xDS; unset
//! or anything else, state of the world.
#![allow(missing_docs)]

#[path = "support/figures.rs"]
mod figures;
#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "support/xds_client.rs"]
mod xds_client;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use figures::{ms, percentile};
use tokio::sync::{mpsc, watch};
use xds_client::{Arrival, Change, Mode};

/// Changes per block; blocks alternate between no stuck client and one.
const BLOCK: usize = 10;

fn env_or(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

/// The path of change `k`, unique in the route configuration.
fn marker(k: usize) -> String {
    format!("change-{k:04}")
}

fn probe(k: usize) -> String {
    fixtures::probe_ingress("bench", "app-0", &format!("/{}", marker(k)))
}

fn change(k: usize) -> Option<Arc<Change>> {
    Some(Arc::new(Change {
        index: k,
        marker: marker(k).into_bytes(),
        written: Instant::now(),
    }))
}

/// Sesame's last build, in Unix milliseconds.
async fn last_build_ms(metrics: u16) -> f64 {
    let reply = harness::get_plain(metrics, "127.0.0.1", "/metrics")
        .await
        .unwrap_or_default();
    reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix("sesame_dagrebuild_timestamp "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |s| s * 1e3)
}

/// Waits for `clients` arrivals of change `k`; returns them.
async fn arrivals_of(
    k: usize,
    clients: usize,
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    patience: Duration,
) -> Vec<Arrival> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut got = Vec::with_capacity(clients);
    let mut seen = BTreeSet::new();
    while got.len() < clients {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(a)) if a.change == k && seen.insert(a.client) => got.push(a),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!(
                "change {k}: {} of {clients} clients received it within {patience:?}",
                got.len()
            ),
        }
    }
    got
}

#[derive(Default)]
struct Run {
    latencies: Vec<Duration>,
    built: Vec<Duration>,
}

/// Makes `changes` changes, numbered from `first`, and times their arrival at `clients` clients.
async fn run(
    cluster: &harness::Cluster,
    tx: &watch::Sender<Option<Arc<Change>>>,
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    clients: usize,
    first: usize,
    changes: usize,
    out: &mut Run,
) {
    for k in first..first + changes {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let next = change(k);
        let written = next.as_ref().map_or_else(Instant::now, |c| c.written);
        let wall = unix_ms();
        let _ = tx.send(next);
        cluster.write("probe.yaml", &probe(k));
        for a in arrivals_of(k, clients, rx, Duration::from_secs(60)).await {
            out.latencies.push(a.at.duration_since(written));
        }
        let built = last_build_ms(cluster.ports.metrics).await;
        out.built
            .push(Duration::from_secs_f64(((built - wall) / 1e3).max(0.0)));
    }
}

fn row(what: &str, n: usize, changes: usize, run: &mut Run) -> String {
    run.latencies.sort();
    run.built.sort();
    let l = &run.latencies;
    format!(
        "| {what} | {n} | {changes} | {} | {} | {} | {} | {} | {} |",
        l.len(),
        ms(percentile(l, 0.5)),
        ms(percentile(l, 0.9)),
        ms(percentile(l, 0.99)),
        ms(l.last().copied().unwrap_or_default()),
        ms(percentile(&run.built, 0.5)),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_or("SESAME_BENCH_FANOUT_SIZE", 1_000);
    let clients = env_or("SESAME_BENCH_FANOUT_CLIENTS", 100);
    let changes = env_or("SESAME_BENCH_FANOUT_CHANGES", 40);
    let mode = Mode::from_env();
    let chunk = 5000;
    let mut files: Vec<(String, String)> = (0..n.div_ceil(chunk))
        .map(|c| {
            (
                format!("fixtures-{c:03}.json"),
                fixtures::manifest(c * chunk..((c + 1) * chunk).min(n), 8080),
            )
        })
        .collect();
    files.push(("probe.yaml".to_string(), probe(0)));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let cluster = harness::Cluster::sesame_only(&refs, &[]);
    let debug = cluster.ports.debug;
    let built = harness::eventually(Duration::from_secs(120), || async move {
        matches!(harness::get_plain(debug, "127.0.0.1", "/status").await, Ok(r) if r.status == 200)
    })
    .await;
    assert!(built, "sesame never built\n{}", cluster.logs());
    let addr = SocketAddr::from(([127, 0, 0, 1], cluster.ports.xds));

    let (tx, changes_rx) = watch::channel(change(0));
    let (arrivals, mut rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for id in 0..clients {
        let task = xds_client::spawn_client(mode, addr, id, changes_rx.clone(), arrivals.clone())
            .await
            .unwrap_or_else(|e| panic!("client {id}: {e}\n{}", cluster.logs()));
        tasks.push(task);
    }
    arrivals_of(0, clients, &mut rx, Duration::from_secs(120)).await;
    let synced = started.elapsed();
    eprintln!("{clients} clients synced in {synced:?}");

    // Blocks of ten changes, alternately without and with a stuck client (a new one each
    // time), so that the VM's drift falls on both alike.
    let (mut free, mut with_stuck) = (Run::default(), Run::default());
    let mut next = 1;
    for block in 0..2 * changes.div_ceil(BLOCK) {
        let size = BLOCK.min(changes - (block / 2) * BLOCK);
        if block % 2 == 0 {
            run(&cluster, &tx, &mut rx, clients, next, size, &mut free).await;
        } else {
            let stuck = xds_client::stuck_client(mode, addr, clients + block)
                .await
                .unwrap_or_else(|e| panic!("stuck client: {e}"));
            tokio::time::sleep(Duration::from_secs(1)).await;
            run(&cluster, &tx, &mut rx, clients, next, size, &mut with_stuck).await;
            drop(stuck);
        }
        next += size;
    }

    let carrier = match mode {
        Mode::Sotw => "RDS response",
        Mode::Delta => "ScopedRouteConfiguration (SRDS) response",
    };
    println!(
        "### Fan-out ({mode} xDS clients): manifest write → {carrier} carrying the change, at each client\n"
    );
    println!(
        "Initial sync: {clients} clients connected and holding the full state in {}.\n",
        ms(synced)
    );
    println!(
        "| clients | N Ingresses | changes | samples (clients × changes) | p50 | p90 | p99 | max | write → Sesame built (p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!("{}", row(&clients.to_string(), n, changes, &mut free));
    println!(
        "{}",
        row(
            &format!("{clients} + 1 stuck (the {clients} measured)"),
            n,
            changes,
            &mut with_stuck
        )
    );
    for task in tasks {
        task.abort();
    }
}

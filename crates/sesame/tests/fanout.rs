//! Fan-out through a real `sesame serve --manifests`: an xDS client that subscribes and then
//! never reads its stream does not hold back the changes the other clients receive. Functional
//! only; how fast the change arrives is measured by `benches/fanout.rs`. Run once with state
//! of the world clients and once with delta clients.

#[path = "../benches/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../benches/support/xds_client.rs"]
#[allow(dead_code)]
mod xds_client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use xds_client::{Arrival, Change, Mode};

/// Enough Ingresses that the first responses (≈ 120 KB of routes, 160 KB of clusters) overflow
/// the stuck client's 64 KiB HTTP/2 window, so the server really is blocked on it.
const INGRESSES: usize = 1000;

/// The other, reading clients.
const CLIENTS: usize = 3;

fn probe(k: usize) -> String {
    fixtures::probe_ingress("bench", "app-0", &format!("/change-{k:04}"))
}

fn change(k: usize) -> Option<Arc<Change>> {
    Some(Arc::new(Change {
        index: k,
        marker: format!("change-{k:04}").into_bytes(),
        written: Instant::now(),
    }))
}

/// Waits until every client has received change `k`; fails with who did not.
async fn every_client_receives(
    k: usize,
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    cluster: &harness::Cluster,
) {
    let deadline = tokio::time::Instant::now() + harness::PATIENCE;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < CLIENTS {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(a)) if a.change == k => {
                seen.insert(a.client);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!(
                "change {k} reached clients {seen:?} of {CLIENTS} only\n{}",
                cluster.logs()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_client_does_not_hold_back_the_others() {
    stuck_client_does_not_hold_back_the_others(Mode::Sotw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_delta_client_does_not_hold_back_the_other_delta_clients() {
    stuck_client_does_not_hold_back_the_others(Mode::Delta).await;
}

/// The stuck client and the others all speak `mode`.
async fn stuck_client_does_not_hold_back_the_others(mode: Mode) {
    let fixtures = fixtures::manifest(0..INGRESSES, 8080);
    let cluster = harness::Cluster::sesame_only(
        &[("fixtures.json", &fixtures), ("probe.yaml", &probe(0))],
        &[],
    );
    let debug = cluster.ports.debug;
    let built = harness::eventually(Duration::from_secs(60), || async move {
        matches!(harness::get_plain(debug, "127.0.0.1", "/status").await, Ok(r) if r.status == 200)
    })
    .await;
    assert!(built, "sesame never built\n{}", cluster.logs());
    let addr = SocketAddr::from(([127, 0, 0, 1], cluster.ports.xds));

    // The stuck client subscribes first, so the server is already blocked on it.
    let stuck = xds_client::stuck_client(mode, addr, CLIENTS)
        .await
        .expect("stuck client connects");
    let (tx, changes) = watch::channel(change(0));
    let (arrivals, mut rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for id in 0..CLIENTS {
        let task = xds_client::spawn_client(mode, addr, id, changes.clone(), arrivals.clone())
            .await
            .expect("client connects");
        tasks.push(task);
    }
    every_client_receives(0, &mut rx, &cluster).await;

    for k in 1..=3 {
        let _ = tx.send(change(k));
        cluster.write("probe.yaml", &probe(k));
        every_client_receives(k, &mut rx, &cluster).await;
    }
    // The stuck client was still connected all along: Sesame counts its stream.
    let metrics = cluster.ports.metrics;
    let streams = format!("sesame_xds_streams {}", CLIENTS + 1);
    let counted = harness::eventually(harness::PATIENCE, || {
        let streams = streams.clone();
        async move {
            harness::get_plain(metrics, "127.0.0.1", "/metrics")
                .await
                .is_ok_and(|r| r.body.lines().any(|l| l == streams))
        }
    })
    .await;
    assert!(counted, "{streams} never shown\n{}", cluster.logs());
    drop(stuck);
    for task in tasks {
        task.abort();
    }
}

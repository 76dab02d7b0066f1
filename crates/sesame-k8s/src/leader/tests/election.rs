//! The election run against the API-server double: real HTTP, real kube clients, real time.
//!
//! Timings are short (lease 2s, renew deadline 1.5s, retry 300ms) and each scenario prints the
//! fail-over time it measured (`cargo test -- --nocapture`).

use std::time::Duration;

use serde_json::Value;
use sesame_apiserver_double::ApiServer;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

use super::super::*;
use super::proxy::Proxy;

const LEASE: Duration = Duration::from_secs(2);
const RENEW: Duration = Duration::from_millis(1_500);
const RETRY: Duration = Duration::from_millis(300);
/// The longest a candidate waits between attempts: the retry period plus 20% jitter.
const JITTERED_RETRY: Duration = Duration::from_millis(360);
/// Allowance for HTTP round trips and scheduling.
const SLACK: Duration = Duration::from_millis(400);
/// How long to wait for something expected to happen eventually.
const EVENTUALLY: Duration = Duration::from_secs(10);
const NAMESPACE: &str = "sesame";

fn config(identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: LEASE,
        renew_deadline: RENEW,
        retry_period: RETRY,
        ..LeaderElectionConfig::new(NAMESPACE, identity)
    }
}

fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("url"));
    kube::Client::try_from(config).expect("client")
}

/// The Lease as stored by the double.
fn stored_lease(server: &ApiServer) -> Value {
    server
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            Some(NAMESPACE),
            DEFAULT_LEASE_NAME,
        )
        .expect("lease exists")
}

fn holder(lease: &Value) -> Option<&str> {
    lease["spec"]["holderIdentity"].as_str()
}

fn transitions(lease: &Value) -> i64 {
    lease["spec"]["leaseTransitions"].as_i64().unwrap_or(-1)
}

/// One replica running the election.
struct Replica {
    identity: String,
    leading: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl Replica {
    fn start(url: &str, identity: &str) -> Self {
        let (tx, leading) = watch::channel(false);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(run(client(url), config(identity), tx, shutdown));
        Replica {
            identity: identity.to_owned(),
            leading,
            stop: Some(stop),
            task,
        }
    }

    fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// Waits until the replica reports `leading`; returns how long that took.
    async fn wait_for(&mut self, leading: bool, within: Duration) -> Duration {
        let start = Instant::now();
        let seen = timeout(within, self.leading.wait_for(|l| *l == leading)).await;
        match seen {
            Ok(Ok(_)) => start.elapsed(),
            Ok(Err(_)) => panic!("{}: election task ended", self.identity),
            Err(_) => panic!("{}: not leading={leading} within {within:?}", self.identity),
        }
    }

    /// Graceful shutdown: resolves the shutdown future and waits for `run` to return.
    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = timeout(EVENTUALLY, &mut self.task).await;
        assert!(
            matches!(result, Ok(Ok(Ok(())))),
            "{}: run ended with {result:?}",
            self.identity
        );
    }

    /// Simulates a killed process: the task is gone, the Lease is not released.
    async fn kill(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

/// Waits until one of `replicas` leads; returns its index and how long that took.
async fn leader(replicas: &[&Replica], within: Duration) -> (usize, Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(i) = replicas.iter().position(|r| r.is_leading()) {
            return (i, start.elapsed());
        }
        sleep(Duration::from_millis(5)).await;
    }
    panic!("no leader within {within:?}");
}

/// Checks that exactly one replica leads, and no replica changes its mind, for `period`.
async fn assert_steady(replicas: &mut [&mut Replica], period: Duration) {
    for replica in replicas.iter_mut() {
        replica.leading.borrow_and_update();
    }
    let start = Instant::now();
    while start.elapsed() < period {
        let leaders = replicas.iter().filter(|r| r.is_leading()).count();
        assert_eq!(leaders, 1, "leaders after {:?}", start.elapsed());
        sleep(Duration::from_millis(10)).await;
    }
    for replica in replicas.iter() {
        let changed = replica.leading.has_changed().expect("election running");
        assert!(!changed, "{} changed its mind", replica.identity);
    }
}

#[tokio::test]
async fn run_refuses_an_invalid_config() {
    let (tx, _rx) = watch::channel(false);
    let mut config = config("a");
    config.renew_deadline = LEASE;
    let result = run(
        client("http://127.0.0.1:9"),
        config,
        tx,
        std::future::pending(),
    )
    .await;
    assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
}

#[tokio::test]
async fn exactly_one_of_two_replicas_leads() {
    let server = ApiServer::start().await.expect("api server");
    let mut a = Replica::start(&server.url(), "a");
    let mut b = Replica::start(&server.url(), "b");
    let (first, took) = leader(&[&a, &b], EVENTUALLY).await;
    println!("first leader elected after {took:?}");
    // Longer than a lease duration: a follower that wrongly thought the lease expired would
    // take it in this time.
    assert_steady(&mut [&mut a, &mut b], 2 * LEASE).await;
    let identity = [&a, &b][first].identity.clone();
    let lease = stored_lease(&server);
    assert_eq!(holder(&lease), Some(identity.as_str()));
    assert_eq!(transitions(&lease), 0);
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 2);
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test]
async fn killed_leader_is_replaced_after_the_lease_expires() {
    let server = ApiServer::start().await.expect("api server");
    let mut a = Replica::start(&server.url(), "a");
    a.wait_for(true, EVENTUALLY).await;
    let mut b = Replica::start(&server.url(), "b");
    // Let b see a renew or two, then kill a without releasing its lease.
    sleep(3 * RETRY).await;
    assert!(!b.is_leading());
    a.kill().await;
    let took = b.wait_for(true, LEASE + 2 * JITTERED_RETRY + SLACK).await;
    println!("fail-over after a killed leader: {took:?}");
    // b last saw the lease change at most one renew interval before the kill.
    assert!(
        took >= LEASE - RETRY - SLACK,
        "took over too early: {took:?}"
    );
    let lease = stored_lease(&server);
    assert_eq!(holder(&lease), Some("b"));
    assert_eq!(transitions(&lease), 1);
    b.shut_down().await;
}

#[tokio::test]
async fn gracefully_stopped_leader_hands_over_at_once() {
    let server = ApiServer::start().await.expect("api server");
    let mut a = Replica::start(&server.url(), "a");
    a.wait_for(true, EVENTUALLY).await;
    let mut b = Replica::start(&server.url(), "b");
    sleep(3 * RETRY).await;
    let start = Instant::now();
    a.shut_down().await;
    assert!(!a.is_leading(), "a sent false on shutdown");
    b.wait_for(true, EVENTUALLY).await;
    let took = start.elapsed();
    println!("hand-over after a graceful shutdown: {took:?}");
    assert!(took < JITTERED_RETRY + SLACK, "hand-over took {took:?}");
    let lease = stored_lease(&server);
    assert_eq!(holder(&lease), Some("b"));
    assert_eq!(transitions(&lease), 1);
    b.shut_down().await;
}

#[tokio::test]
async fn lease_records_holder_renewals_release_and_transitions() {
    let server = ApiServer::start().await.expect("api server");
    let mut a = Replica::start(&server.url(), "a");
    a.wait_for(true, EVENTUALLY).await;
    let created = stored_lease(&server);
    assert_eq!(holder(&created), Some("a"));
    assert_eq!(transitions(&created), 0);
    assert_eq!(created["spec"]["acquireTime"], created["spec"]["renewTime"]);

    sleep(3 * RETRY).await;
    let renewed = stored_lease(&server);
    assert_eq!(holder(&renewed), Some("a"));
    assert_eq!(
        renewed["spec"]["acquireTime"],
        created["spec"]["acquireTime"]
    );
    assert_ne!(renewed["spec"]["renewTime"], created["spec"]["renewTime"]);
    assert_ne!(
        renewed["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    a.shut_down().await;
    let released = stored_lease(&server);
    assert_eq!(holder(&released), None);
    assert_eq!(released["spec"]["leaseDurationSeconds"], 1);
    assert_eq!(transitions(&released), 0);

    let mut b = Replica::start(&server.url(), "b");
    b.wait_for(true, EVENTUALLY).await;
    let taken = stored_lease(&server);
    assert_eq!(holder(&taken), Some("b"));
    assert_eq!(transitions(&taken), 1);

    let mut a = Replica::start(&server.url(), "a");
    sleep(3 * RETRY).await;
    b.kill().await;
    a.wait_for(true, EVENTUALLY).await;
    let retaken = stored_lease(&server);
    assert_eq!(holder(&retaken), Some("a"));
    assert_eq!(transitions(&retaken), 2);
    a.shut_down().await;
}

#[tokio::test]
async fn leader_steps_down_when_the_api_server_is_unreachable() {
    let server = ApiServer::start().await.expect("api server");
    let mut a = Replica::start(&server.url(), "a");
    let mut b = Replica::start(&server.url(), "b");
    let (first, _) = leader(&[&a, &b], EVENTUALLY).await;
    sleep(3 * RETRY).await;
    let start = Instant::now();
    server.set_unreachable(true);
    let took = if first == 0 {
        a.wait_for(false, RENEW + SLACK).await
    } else {
        b.wait_for(false, RENEW + SLACK).await
    };
    println!(
        "stepped down {:?} after the API server became unreachable",
        start.elapsed()
    );
    // It rode out the outage until the renew deadline rather than stepping down at once.
    assert!(took >= RENEW - RETRY - SLACK, "stepped down after {took:?}");
    sleep(LEASE).await;
    assert!(
        !a.is_leading() && !b.is_leading(),
        "nobody leads while unreachable"
    );

    server.set_unreachable(false);
    let (_, took) = leader(&[&a, &b], LEASE + 2 * JITTERED_RETRY + SLACK).await;
    println!("a leader again {took:?} after the API server came back");
    assert_steady(&mut [&mut a, &mut b], LEASE).await;
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test]
async fn leader_steps_down_by_the_renew_deadline_when_the_api_server_hangs() {
    let server = ApiServer::start().await.expect("api server");
    let proxy = Proxy::start(&server.url()).await;
    let mut a = Replica::start(&proxy.url(), "a");
    a.wait_for(true, EVENTUALLY).await;
    sleep(3 * RETRY).await;
    let start = Instant::now();
    proxy.set_hung(true);
    a.wait_for(false, RENEW + SLACK).await;
    let took = start.elapsed();
    println!("stepped down {took:?} after the API server hung");
    assert!(took >= RENEW - RETRY - SLACK, "stepped down after {took:?}");

    proxy.set_hung(false);
    let took = a.wait_for(true, EVENTUALLY).await;
    println!("leading again {took:?} after the API server recovered");
    assert_eq!(holder(&stored_lease(&server)), Some("a"));
    a.shut_down().await;
}

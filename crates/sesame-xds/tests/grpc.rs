//! The xDS server through a real socket: a tonic server on 127.0.0.1:0 and envoy-types' clients.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_client::ClusterDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::pb::google::rpc;
use envoy_types::util::pack_any;
use prost::Message;
use sesame_xds::{ResourceType, SnapshotStore, serve};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

/// How long a test waits to conclude that nothing was sent (a behaviour check, not a speed test).
const QUIET: Duration = Duration::from_millis(300);

/// How long a test waits for something that must happen.
const PATIENCE: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running server and the way to stop it.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), sesame_xds::Error>>,
}

async fn start(store: &SnapshotStore) -> Result<Running, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    Ok(Running { addr, stop, task })
}

fn clusters(names: &[(&str, u64)]) -> (ResourceType, BTreeMap<String, Any>) {
    let map = names
        .iter()
        .map(|(name, timeout)| {
            let cluster = Cluster {
                name: name.to_string(),
                connect_timeout: Some(envoy_types::pb::google::protobuf::Duration {
                    seconds: *timeout as i64,
                    nanos: 0,
                }),
                ..Default::default()
            };
            (name.to_string(), pack_any(cluster))
        })
        .collect();
    (ResourceType::Cluster, map)
}

fn assignments(names: &[&str]) -> (ResourceType, BTreeMap<String, Any>) {
    let map = names
        .iter()
        .map(|name| {
            let cla = ClusterLoadAssignment {
                cluster_name: name.to_string(),
                ..Default::default()
            };
            (name.to_string(), pack_any(cla))
        })
        .collect();
    (ResourceType::ClusterLoadAssignment, map)
}

fn listeners_and_routes() -> Vec<(ResourceType, BTreeMap<String, Any>)> {
    let listener = Listener {
        name: "ingress_http".to_string(),
        ..Default::default()
    };
    let route = RouteConfiguration {
        name: "ingress_http".to_string(),
        ..Default::default()
    };
    vec![
        (
            ResourceType::Listener,
            BTreeMap::from([("ingress_http".to_string(), pack_any(listener))]),
        ),
        (
            ResourceType::RouteConfiguration,
            BTreeMap::from([("ingress_http".to_string(), pack_any(route))]),
        ),
    ]
}

fn request(ty: ResourceType, names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: ty.type_url().to_string(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        node: Some(Node {
            id: "test-envoy".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ack(resp: &DiscoveryResponse, names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: resp.type_url.clone(),
        version_info: resp.version_info.clone(),
        response_nonce: resp.nonce.clone(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    }
}

fn cluster_names(resp: &DiscoveryResponse) -> Vec<String> {
    resp.resources
        .iter()
        .filter_map(|a| Cluster::decode(a.value.as_slice()).ok())
        .map(|c| c.name)
        .collect()
}

/// An open ADS stream: requests go in through `tx`, responses come out of `rx`.
struct Stream {
    tx: mpsc::Sender<DiscoveryRequest>,
    rx: Streaming<DiscoveryResponse>,
}

impl Stream {
    async fn open(addr: SocketAddr) -> Result<Stream, Box<dyn std::error::Error>> {
        let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://{addr}"))
            .await?
            .max_decoding_message_size(256 << 20);
        let (tx, requests) = mpsc::channel(16);
        let rx = client
            .stream_aggregated_resources(ReceiverStream::new(requests))
            .await?
            .into_inner();
        Ok(Stream { tx, rx })
    }

    async fn send(&self, req: DiscoveryRequest) -> TestResult {
        self.tx.send(req).await?;
        Ok(())
    }

    /// The next response; fails if none comes within [`PATIENCE`].
    async fn next(&mut self) -> Result<DiscoveryResponse, Box<dyn std::error::Error>> {
        match tokio::time::timeout(PATIENCE, self.rx.message()).await?? {
            Some(resp) => Ok(resp),
            None => Err("stream ended".into()),
        }
    }

    /// Whether nothing arrives for [`QUIET`].
    async fn quiet(&mut self) -> bool {
        tokio::time::timeout(QUIET, self.rx.message())
            .await
            .is_err()
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) -> TestResult {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[tokio::test]
async fn ads_waits_for_ready_then_serves_acks_and_updates() -> TestResult {
    let store = SnapshotStore::new();
    let mut update = vec![clusters(&[("a", 1), ("b", 1)]), assignments(&["a", "b"])];
    update.extend(listeners_and_routes());
    store.publish(update);
    let server = start(&store).await?;
    let mut ads = Stream::open(server.addr).await?;

    ads.send(request(ResourceType::Listener, &[])).await?;
    ads.send(request(ResourceType::Cluster, &[])).await?;
    eventually("the stream to be counted", || {
        store.stats().connected_streams == 1
    })
    .await?;
    assert!(ads.quiet().await, "answered before the store was ready");

    store.mark_ready();
    // Both subscriptions are answered, clusters first.
    let cds = ads.next().await?;
    let lds = ads.next().await?;
    assert_eq!(cds.type_url, ResourceType::Cluster.type_url());
    assert_eq!(cluster_names(&cds), ["a", "b"]);
    assert_eq!(cds.version_info, store.version(ResourceType::Cluster));
    assert_eq!(lds.type_url, ResourceType::Listener.type_url());

    // Envoy's order: EDS for the clusters, then ACKs.
    ads.send(request(ResourceType::ClusterLoadAssignment, &["a"]))
        .await?;
    let eds = ads.next().await?;
    assert_eq!(eds.type_url, ResourceType::ClusterLoadAssignment.type_url());
    assert_eq!(eds.resources.len(), 1);
    ads.send(ack(&cds, &[])).await?;
    ads.send(ack(&eds, &["a"])).await?;
    ads.send(ack(&lds, &[])).await?;
    assert!(ads.quiet().await, "an ACK was answered");

    // A publish reaches the open stream.
    store.publish(vec![clusters(&[("a", 1), ("b", 1), ("c", 2)])]);
    let update = ads.next().await?;
    assert_eq!(update.type_url, ResourceType::Cluster.type_url());
    assert_eq!(cluster_names(&update), ["a", "b", "c"]);
    assert_ne!(update.version_info, cds.version_info);
    // Only a cluster was added: Envoy keeps the endpoints it holds and asks for the new
    // cluster's itself, so they are not sent again unasked.
    assert!(ads.quiet().await, "unchanged endpoints were sent unasked");

    // A NACK is counted and the rejected clusters are not sent again.
    let mut nack = ack(&update, &[]);
    nack.version_info = cds.version_info.clone();
    nack.error_detail = Some(rpc::Status {
        code: 3,
        message: "cluster c: bad".to_string(),
        details: Vec::new(),
    });
    ads.send(nack).await?;
    eventually("the NACK to be counted", || {
        store.stats().nacks(ResourceType::Cluster) == 1
    })
    .await?;
    store.publish(vec![clusters(&[("a", 1), ("b", 1), ("c", 2)])]);
    assert!(ads.quiet().await, "rejected clusters were resent");
    assert!(store.stats().responses_sent(ResourceType::Cluster) >= 2);

    // A modified cluster is warmed again by Envoy, so its (unchanged) endpoints follow it.
    store.publish(vec![clusters(&[("a", 3), ("b", 1), ("c", 2)])]);
    let modified = ads.next().await?;
    assert_eq!(modified.type_url, ResourceType::Cluster.type_url());
    assert_eq!(cluster_names(&modified), ["a", "b", "c"]);
    let endpoints = ads.next().await?;
    assert_eq!(
        endpoints.type_url,
        ResourceType::ClusterLoadAssignment.type_url()
    );
    assert_eq!(endpoints.version_info, eds.version_info);

    drop(ads);
    eventually("the stream to be closed", || {
        store.stats().connected_streams == 0
    })
    .await?;
    let _ = server.stop.send(());
    tokio::time::timeout(PATIENCE, server.task).await???;
    Ok(())
}

#[tokio::test]
async fn fetch_clusters_waits_for_ready_and_answers_the_current_state() -> TestResult {
    let store = SnapshotStore::new();
    store.publish(vec![clusters(&[("x", 1), ("y", 1)])]);
    let server = start(&store).await?;
    let mut client =
        ClusterDiscoveryServiceClient::connect(format!("http://{}", server.addr)).await?;

    let mut fetch = Box::pin(client.fetch_clusters(request(ResourceType::Cluster, &[])));
    assert!(
        tokio::time::timeout(QUIET, &mut fetch).await.is_err(),
        "fetch answered before the store was ready"
    );
    store.mark_ready();
    let resp = tokio::time::timeout(PATIENCE, fetch).await??.into_inner();
    assert_eq!(cluster_names(&resp), ["x", "y"]);
    assert_eq!(resp.version_info, store.version(ResourceType::Cluster));

    let _ = server.stop.send(());
    tokio::time::timeout(PATIENCE, server.task).await???;
    Ok(())
}

#[tokio::test]
async fn cds_service_stream_serves_clusters_only() -> TestResult {
    let store = SnapshotStore::new();
    store.publish(vec![clusters(&[("a", 1)])]);
    store.mark_ready();
    let server = start(&store).await?;
    let mut client =
        ClusterDiscoveryServiceClient::connect(format!("http://{}", server.addr)).await?;
    let (tx, requests) = mpsc::channel(16);
    let mut rx = client
        .stream_clusters(ReceiverStream::new(requests))
        .await?
        .into_inner();

    tx.send(request(ResourceType::Listener, &[])).await?;
    tx.send(request(ResourceType::Cluster, &[])).await?;
    let first = tokio::time::timeout(PATIENCE, rx.message())
        .await??
        .ok_or("stream ended")?;
    assert_eq!(first.type_url, ResourceType::Cluster.type_url());
    assert_eq!(cluster_names(&first), ["a"]);

    tx.send(ack(&first, &[])).await?;
    assert!(tokio::time::timeout(QUIET, rx.message()).await.is_err());
    store.publish(vec![clusters(&[("a", 1), ("b", 1)])]);
    let second = tokio::time::timeout(PATIENCE, rx.message())
        .await??
        .ok_or("stream ended")?;
    assert_eq!(cluster_names(&second), ["a", "b"]);

    let _ = server.stop.send(());
    tokio::time::timeout(PATIENCE, server.task).await???;
    Ok(())
}

#[tokio::test]
async fn ten_thousand_clusters_fit_in_one_response() -> TestResult {
    let store = SnapshotStore::new();
    let names: Vec<String> = (0..10_000)
        .map(|i| format!("namespace-{i}/service-with-a-long-name-{i}/8080/da39a3ee5e"))
        .collect();
    let map: BTreeMap<String, Any> = names
        .iter()
        .map(|name| {
            let cluster = Cluster {
                name: name.clone(),
                alt_stat_name: name.repeat(8),
                ..Default::default()
            };
            (name.clone(), pack_any(cluster))
        })
        .collect();
    store.publish(vec![(ResourceType::Cluster, map)]);
    store.mark_ready();
    let server = start(&store).await?;
    let mut ads = Stream::open(server.addr).await?;
    ads.send(request(ResourceType::Cluster, &[])).await?;
    let resp = ads.next().await?;
    assert_eq!(resp.resources.len(), 10_000);
    assert!(resp.encoded_len() > 4 << 20, "{}", resp.encoded_len());
    // Written in pieces, read back whole and in order.
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(cluster_names(&resp), sorted);
    let _ = server.stop.send(());
    tokio::time::timeout(PATIENCE, server.task).await???;
    Ok(())
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_returns() -> TestResult {
    let store = SnapshotStore::new();
    store.publish(vec![clusters(&[("a", 1)])]);
    store.mark_ready();
    let server = start(&store).await?;
    let mut ads = Stream::open(server.addr).await?;
    ads.send(request(ResourceType::Cluster, &[])).await?;
    ads.next().await?;

    let _ = server.stop.send(());
    tokio::time::timeout(PATIENCE, server.task).await???;
    let end = tokio::time::timeout(PATIENCE, ads.rx.message()).await?;
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    Ok(())
}

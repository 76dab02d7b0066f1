//! Delta (incremental) xDS through a real socket: a tonic server on 127.0.0.1:0 and
//! envoy-types' delta clients (ADS, EDS, VHDS), beside a state-of-the-world client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::route::v3::VirtualHost;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest,
};
use envoy_types::pb::envoy::service::endpoint::v3::endpoint_discovery_service_client::EndpointDiscoveryServiceClient;
use envoy_types::pb::envoy::service::route::v3::virtual_host_discovery_service_client::VirtualHostDiscoveryServiceClient;
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

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), sesame_xds::Error>>,
}

impl Running {
    async fn start(store: &SnapshotStore) -> Result<Running, std::io::Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, store.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Running { addr, stop, task })
    }

    async fn stop(self) -> TestResult {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task).await???;
        Ok(())
    }
}

fn clusters(items: &[(&str, i64)]) -> (ResourceType, BTreeMap<String, Any>) {
    let map = items
        .iter()
        .map(|(name, timeout)| {
            let cluster = Cluster {
                name: name.to_string(),
                connect_timeout: Some(envoy_types::pb::google::protobuf::Duration {
                    seconds: *timeout,
                    nanos: 0,
                }),
                ..Default::default()
            };
            (name.to_string(), pack_any(cluster))
        })
        .collect();
    (ResourceType::Cluster, map)
}

fn virtual_hosts(names: &[&str]) -> (ResourceType, BTreeMap<String, Any>) {
    let map = names
        .iter()
        .map(|name| {
            let vh = VirtualHost {
                name: name.to_string(),
                domains: vec![name.rsplit('/').next().unwrap_or_default().to_string()],
                ..Default::default()
            };
            (name.to_string(), pack_any(vh))
        })
        .collect();
    (ResourceType::VirtualHost, map)
}

fn subscribe(ty: ResourceType, names: &[&str]) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: ty.type_url().to_string(),
        resource_names_subscribe: names.iter().map(|n| n.to_string()).collect(),
        node: Some(Node {
            id: "delta-envoy".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ack(resp: &DeltaDiscoveryResponse) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: resp.type_url.clone(),
        response_nonce: resp.nonce.clone(),
        ..Default::default()
    }
}

fn names(resp: &DeltaDiscoveryResponse) -> Vec<String> {
    resp.resources.iter().map(|r| r.name.clone()).collect()
}

/// An open delta stream: requests go in through `tx`, responses come out of `rx`.
struct DeltaStream {
    tx: mpsc::Sender<DeltaDiscoveryRequest>,
    rx: Streaming<DeltaDiscoveryResponse>,
}

impl DeltaStream {
    async fn ads(addr: SocketAddr) -> Result<DeltaStream, Box<dyn std::error::Error>> {
        let mut client =
            AggregatedDiscoveryServiceClient::connect(format!("http://{addr}")).await?;
        let (tx, requests) = mpsc::channel(16);
        let rx = client
            .delta_aggregated_resources(ReceiverStream::new(requests))
            .await?
            .into_inner();
        Ok(DeltaStream { tx, rx })
    }

    async fn send(&self, req: DeltaDiscoveryRequest) -> TestResult {
        self.tx.send(req).await?;
        Ok(())
    }

    async fn next(&mut self) -> Result<DeltaDiscoveryResponse, Box<dyn std::error::Error>> {
        match tokio::time::timeout(PATIENCE, self.rx.message()).await?? {
            Some(resp) => Ok(resp),
            None => Err("stream ended".into()),
        }
    }

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
async fn delta_ads_waits_for_ready_then_sends_only_changes() -> TestResult {
    let store = SnapshotStore::new();
    store.publish(vec![clusters(&[("a", 1), ("b", 1)])]);
    let server = Running::start(&store).await?;
    let mut ads = DeltaStream::ads(server.addr).await?;
    ads.send(subscribe(ResourceType::Listener, &[])).await?;
    ads.send(subscribe(ResourceType::Cluster, &[])).await?;
    eventually("the stream to be counted", || {
        store.stats().connected_streams == 1
    })
    .await?;
    assert!(ads.quiet().await, "answered before the store was ready");

    store.mark_ready();
    let cds = ads.next().await?;
    // Listeners wait until the clusters are answered (Envoy answers once they have warmed).
    assert!(
        ads.quiet().await,
        "listeners went before the clusters were answered"
    );
    ads.send(ack(&cds)).await?;
    let lds = ads.next().await?;
    assert_eq!(cds.type_url, ResourceType::Cluster.type_url());
    assert_eq!(names(&cds), ["a", "b"]);
    let view = store.view();
    assert_eq!(
        cds.resources[0].version,
        view.get(ResourceType::Cluster).resources()["a"].version()
    );
    let decoded = Cluster::decode(
        cds.resources[0]
            .resource
            .as_ref()
            .ok_or("no resource")?
            .value
            .as_slice(),
    )?;
    assert_eq!(decoded.name, "a");
    assert_eq!(
        cds.system_version_info,
        store.version(ResourceType::Cluster)
    );
    // Nothing to send for listeners, but the first answer completes Envoy's initial fetch.
    assert_eq!(lds.type_url, ResourceType::Listener.type_url());
    assert!(lds.resources.is_empty());
    ads.send(ack(&lds)).await?;
    assert!(ads.quiet().await, "an ACK was answered");
    eventually("the ACKs to be counted", || {
        store.stats().acks(ResourceType::Cluster) == 1
    })
    .await?;

    // One changed and one added cluster: only those two. A removed one: after them, once
    // Envoy has answered them (it does once they have warmed).
    store.publish(vec![clusters(&[("a", 2), ("c", 1)])]);
    let update = ads.next().await?;
    assert_eq!(names(&update), ["a", "c"]);
    assert!(update.removed_resources.is_empty());
    assert!(
        ads.quiet().await,
        "the removal went before the clusters were answered"
    );
    ads.send(ack(&update)).await?;
    let removal = ads.next().await?;
    assert!(removal.resources.is_empty());
    assert_eq!(removal.removed_resources, ["b"]);

    // A NACK is counted and the rejected content is not sent again.
    let mut nack = ack(&removal);
    nack.error_detail = Some(rpc::Status {
        code: 3,
        message: "no".to_string(),
        details: Vec::new(),
    });
    ads.send(nack).await?;
    eventually("the NACK to be counted", || {
        store.stats().nacks(ResourceType::Cluster) == 1
    })
    .await?;
    store.publish(vec![clusters(&[("a", 2), ("c", 1)])]);
    assert!(ads.quiet().await, "rejected content was resent");
    drop(ads);
    eventually("the stream to be closed", || {
        store.stats().connected_streams == 0
    })
    .await?;
    server.stop().await
}

#[tokio::test]
async fn reconnect_with_initial_versions_resends_nothing_unchanged() -> TestResult {
    let store = SnapshotStore::new();
    store.publish(vec![clusters(&[("a", 1), ("b", 1)])]);
    store.mark_ready();
    let server = Running::start(&store).await?;
    let mut first = DeltaStream::ads(server.addr).await?;
    first.send(subscribe(ResourceType::Cluster, &[])).await?;
    let held = first.next().await?;
    let sent = store.stats().resources_sent(ResourceType::Cluster);
    assert_eq!(sent, 2);
    drop(first);
    eventually("the first stream to be closed", || {
        store.stats().connected_streams == 0
    })
    .await?;

    // Meanwhile `b` is gone and `c` appears.
    store.publish(vec![clusters(&[("a", 1), ("c", 1)])]);
    let mut again = DeltaStream::ads(server.addr).await?;
    let mut req = subscribe(ResourceType::Cluster, &[]);
    req.initial_resource_versions = held
        .resources
        .iter()
        .map(|r| (r.name.clone(), r.version.clone()))
        .collect();
    again.send(req).await?;
    let resp = again.next().await?;
    assert_eq!(names(&resp), ["c"]);
    assert_eq!(resp.removed_resources, ["b"]);
    assert_eq!(
        store.stats().resources_sent(ResourceType::Cluster),
        sent + 1
    );
    server.stop().await
}

#[tokio::test]
async fn single_type_delta_services_serve_eds_and_vhds() -> TestResult {
    let store = SnapshotStore::new();
    let (_, cla) = clusters(&[]);
    assert!(cla.is_empty());
    store.publish(vec![virtual_hosts(&[
        "ingress_http/a.com",
        "ingress_http/b.com",
        "other/c.com",
    ])]);
    store.patch(
        ResourceType::ClusterLoadAssignment,
        BTreeMap::from([(
            "x".to_string(),
            pack_any(
                envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment {
                    cluster_name: "x".to_string(),
                    ..Default::default()
                },
            ),
        )]),
        Default::default(),
    );
    store.mark_ready();
    let server = Running::start(&store).await?;
    let endpoint = format!("http://{}", server.addr);

    let (tx, requests) = mpsc::channel(4);
    tx.send(subscribe(ResourceType::VirtualHost, &["ingress_http"]))
        .await?;
    let mut vhds = VirtualHostDiscoveryServiceClient::connect(endpoint.clone())
        .await?
        .delta_virtual_hosts(ReceiverStream::new(requests))
        .await?
        .into_inner();
    let resp = tokio::time::timeout(PATIENCE, vhds.message())
        .await??
        .ok_or("stream ended")?;
    assert_eq!(names(&resp), ["ingress_http/a.com", "ingress_http/b.com"]);
    let vh = VirtualHost::decode(
        resp.resources[0]
            .resource
            .as_ref()
            .ok_or("no resource")?
            .value
            .as_slice(),
    )?;
    assert_eq!(vh.domains, ["a.com"]);

    let (etx, erequests) = mpsc::channel(4);
    let mut req = subscribe(ResourceType::ClusterLoadAssignment, &["x"]);
    req.type_url.clear();
    etx.send(req).await?;
    let mut eds = EndpointDiscoveryServiceClient::connect(endpoint)
        .await?
        .delta_endpoints(ReceiverStream::new(erequests))
        .await?
        .into_inner();
    let resp = tokio::time::timeout(PATIENCE, eds.message())
        .await??
        .ok_or("stream ended")?;
    assert_eq!(names(&resp), ["x"]);
    drop((tx, etx));
    server.stop().await
}

#[tokio::test]
async fn sotw_and_delta_clients_share_one_store() -> TestResult {
    let store = SnapshotStore::new();
    store.publish(vec![
        clusters(&[("a", 1)]),
        virtual_hosts(&["ingress_http/a.com"]),
    ]);
    store.mark_ready();
    let server = Running::start(&store).await?;
    let mut delta = DeltaStream::ads(server.addr).await?;
    delta.send(subscribe(ResourceType::Cluster, &[])).await?;
    assert_eq!(names(&delta.next().await?), ["a"]);

    let mut client =
        AggregatedDiscoveryServiceClient::connect(format!("http://{}", server.addr)).await?;
    let (tx, requests) = mpsc::channel(4);
    tx.send(DiscoveryRequest {
        type_url: ResourceType::Cluster.type_url().to_string(),
        ..Default::default()
    })
    .await?;
    // A state-of-the-world VHDS request is ignored.
    tx.send(DiscoveryRequest {
        type_url: ResourceType::VirtualHost.type_url().to_string(),
        resource_names: vec!["ingress_http".to_string()],
        ..Default::default()
    })
    .await?;
    let mut sotw = client
        .stream_aggregated_resources(ReceiverStream::new(requests))
        .await?
        .into_inner();
    let first = tokio::time::timeout(PATIENCE, sotw.message())
        .await??
        .ok_or("stream ended")?;
    assert_eq!(first.resources.len(), 1);
    eventually("both streams to be counted", || {
        store.stats().connected_streams == 2
    })
    .await?;

    store.publish(vec![clusters(&[("a", 1), ("b", 1)])]);
    assert_eq!(names(&delta.next().await?), ["b"]);
    let second = tokio::time::timeout(PATIENCE, sotw.message())
        .await??
        .ok_or("stream ended")?;
    assert_eq!(second.type_url, ResourceType::Cluster.type_url());
    assert_eq!(second.resources.len(), 2);
    assert!(
        tokio::time::timeout(QUIET, sotw.message()).await.is_err(),
        "the SotW stream got a VHDS answer"
    );
    assert_eq!(store.stats().responses_sent(ResourceType::Cluster), 4);
    drop(tx);
    server.stop().await
}

#[tokio::test]
async fn an_answer_larger_than_a_piece_arrives_whole_and_shutdown_ends_the_stream_ok() -> TestResult
{
    // ~300 kB of clusters: the answer goes out in several pieces.
    let names: Vec<String> = (0..5000).map(|i| format!("cluster-{i:04}")).collect();
    let items: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    let store = SnapshotStore::new();
    store.publish(vec![clusters(&items)]);
    store.mark_ready();
    let server = Running::start(&store).await?;
    let mut ads = DeltaStream::ads(server.addr).await?;
    ads.send(subscribe(ResourceType::Cluster, &[])).await?;

    let cds = ads.next().await?;
    assert!(cds.encoded_len() > 4 * sesame_xds::ANSWER_CHUNK);
    assert_eq!(self::names(&cds), names);
    let view = store.view();
    for resource in &cds.resources {
        assert_eq!(
            resource.version,
            view.get(ResourceType::Cluster).resources()[&resource.name].version()
        );
        let any = resource.resource.as_ref().ok_or("no resource")?;
        assert_eq!(Cluster::decode(any.value.as_slice())?.name, resource.name);
    }

    // The server's shutdown ends the stream with status OK, as tonic's own services do.
    let (end, stopped) = tokio::join!(
        tokio::time::timeout(PATIENCE, ads.rx.message()),
        server.stop()
    );
    let end = end?;
    assert!(matches!(end, Ok(None)), "{end:?}");
    stopped
}

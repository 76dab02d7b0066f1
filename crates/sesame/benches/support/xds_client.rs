//! A synthetic xDS client for the fan-out bench and test: a real tonic ADS (state of the world)
//! client over 127.0.0.1 that behaves like a quiet Envoy — it subscribes to CDS, EDS (every
//! cluster CDS names), LDS and RDS `ingress_http`, and ACKs every response — and reports when a
//! route configuration carrying a change's marker arrives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

/// The type URLs the client subscribes to.
pub const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// Endpoints.
pub const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
/// Listeners.
pub const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// Route configurations.
pub const RDS: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

/// The route configuration of the HTTP listener.
pub const ROUTES: &str = "ingress_http";

/// One change made by the bench: the route configuration that carries it contains `marker`.
#[derive(Debug)]
pub struct Change {
    /// Which change (0, 1, 2, …).
    pub index: usize,
    /// Bytes found only in a route configuration carrying this change.
    pub marker: Vec<u8>,
    /// When the change was written.
    pub written: Instant,
}

/// A client saw change `change` in an RDS response received at `at`.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// The client's number.
    pub client: usize,
    /// The change's index.
    pub change: usize,
    /// When the response was received (before it was searched for the marker).
    pub at: Instant,
}

/// The latest change, as the clients see it.
pub type Changes = watch::Receiver<Option<Arc<Change>>>;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A channel to Sesame's xDS port with HTTP/2 windows of 64 KiB (h2's defaults, stated so a
/// client that stops reading is certain to hold the server back once 64 KiB are in flight).
async fn channel(addr: SocketAddr) -> Result<Channel, Error> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .tcp_nodelay(true)
        .connect()
        .await?)
}

fn request(type_url: &str, names: &[String], id: usize) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: type_url.to_string(),
        resource_names: names.to_vec(),
        node: Some(Node {
            id: format!("bench-client-{id}"),
            cluster: "sesame".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Opens one ADS stream and sends the first subscriptions: CDS, LDS, RDS `ingress_http`.
async fn open(
    addr: SocketAddr,
    id: usize,
) -> Result<
    (
        mpsc::UnboundedSender<DiscoveryRequest>,
        Streaming<DiscoveryResponse>,
    ),
    Error,
> {
    let mut client = AggregatedDiscoveryServiceClient::new(channel(addr).await?)
        .max_decoding_message_size(1 << 30);
    let (tx, requests) = mpsc::unbounded_channel();
    for (ty, names) in [
        (CDS, vec![]),
        (LDS, vec![]),
        (RDS, vec![ROUTES.to_string()]),
    ] {
        tx.send(request(ty, &names, id))?;
    }
    let stream = client
        .stream_aggregated_resources(UnboundedReceiverStream::new(requests))
        .await?
        .into_inner();
    Ok((tx, stream))
}

/// Whether `haystack` contains `needle` (SIMD search: ~10 µs for a 1k-host route table, so
/// 100 clients searching on the bench's two threads add little to one another's times).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// Connects client `id` and runs it in a task until its stream ends: ACKs every response,
/// follows CDS with an EDS subscription for every cluster, and sends an [`Arrival`] the first
/// time an RDS response carries the current change's marker.
pub async fn spawn_client(
    addr: SocketAddr,
    id: usize,
    mut changes: Changes,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let (tx, mut stream) = open(addr, id).await?;
    Ok(tokio::spawn(async move {
        let mut eds_names: Vec<String> = Vec::new();
        let mut reported: Option<usize> = None;
        while let Ok(Some(resp)) = stream.message().await {
            let at = Instant::now();
            let names = match resp.type_url.as_str() {
                CDS => {
                    let mut clusters: Vec<String> = resp
                        .resources
                        .iter()
                        .filter_map(|a| Cluster::decode(a.value.as_slice()).ok())
                        .map(|c| c.name)
                        .collect();
                    clusters.sort();
                    if clusters != eds_names {
                        eds_names = clusters;
                        let _ = tx.send(request(EDS, &eds_names, id));
                    }
                    Vec::new()
                }
                EDS => eds_names.clone(),
                RDS => {
                    let change = changes.borrow_and_update().clone();
                    if let Some(change) = change.filter(|c| reported != Some(c.index))
                        && resp
                            .resources
                            .iter()
                            .any(|a| contains(&a.value, &change.marker))
                    {
                        reported = Some(change.index);
                        let _ = arrivals.send(Arrival {
                            client: id,
                            change: change.index,
                            at,
                        });
                    }
                    vec![ROUTES.to_string()]
                }
                _ => Vec::new(),
            };
            let ack = DiscoveryRequest {
                type_url: resp.type_url.clone(),
                version_info: resp.version_info.clone(),
                response_nonce: resp.nonce.clone(),
                resource_names: names,
                ..Default::default()
            };
            if tx.send(ack).is_err() {
                break;
            }
        }
    }))
}

/// A stuck client: subscribes like [`spawn_client`] and then never reads its stream, so the
/// server's sends to it stop once the HTTP/2 window (64 KiB) is full. Keep it alive to keep it
/// stuck.
pub struct Stuck {
    _requests: mpsc::UnboundedSender<DiscoveryRequest>,
    _stream: Streaming<DiscoveryResponse>,
}

/// Connects a [`Stuck`] client.
pub async fn stuck_client(addr: SocketAddr, id: usize) -> Result<Stuck, Error> {
    let (requests, stream) = open(addr, id).await?;
    Ok(Stuck {
        _requests: requests,
        _stream: stream,
    })
}

//! A synthetic xDS client for the fan-out bench and test: a real tonic ADS client over
//! 127.0.0.1 that behaves like a quiet Envoy, in either protocol ([`Mode`]):
//! - state of the world: subscribes to CDS, EDS (every cluster CDS names), LDS and RDS
//!   `ingress_http`, ACKs every response, and reports when a route configuration carrying a
//!   change's marker arrives;
//! - delta: subscribes (wildcard) to CDS, LDS and scoped routes (SRDS, as the scoped
//!   `ingress_http` of a delta Envoy does), to EDS for every cluster it learned, ACKs every
//!   response by nonce, and reports when a scope carrying a change's marker arrives.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use prost::Message;
use sesame_envoy::ResourceType;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

/// The type URLs the client subscribes to.
pub const CDS: &str = ResourceType::Cluster.type_url();
/// Endpoints.
pub const EDS: &str = ResourceType::ClusterLoadAssignment.type_url();
/// Listeners.
pub const LDS: &str = ResourceType::Listener.type_url();
/// Route configurations.
pub const RDS: &str = ResourceType::RouteConfiguration.type_url();

/// Scopes of `ingress_http` (delta only: SRDS), named `ingress_http/<host>`.
pub const SRDS: &str = ResourceType::ScopedRouteConfiguration.type_url();

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

/// The xDS protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// State of the world (`StreamAggregatedResources`).
    Sotw,
    /// Incremental (`DeltaAggregatedResources`).
    Delta,
}

impl Mode {
    /// `SESAME_BENCH_XDS_MODE=delta` selects delta; anything else, or unset, state of the world.
    pub fn from_env() -> Mode {
        match std::env::var("SESAME_BENCH_XDS_MODE") {
            Ok(m) if m.trim().eq_ignore_ascii_case("delta") => Mode::Delta,
            _ => Mode::Sotw,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Sotw => "state of the world",
            Mode::Delta => "delta",
        })
    }
}

/// Sends an [`Arrival`] the first time a response carries the current change's marker (both
/// client types).
struct Reporter {
    client: usize,
    changes: Changes,
    arrivals: mpsc::UnboundedSender<Arrival>,
    reported: Option<usize>,
}

impl Reporter {
    /// Looks for the current change's marker in `payloads` (a response's resources) received
    /// at `at`.
    fn check<'a>(&mut self, at: Instant, payloads: impl IntoIterator<Item = &'a [u8]>) {
        let change = self.changes.borrow_and_update().clone();
        if let Some(change) = change.filter(|c| self.reported != Some(c.index))
            && payloads.into_iter().any(|p| contains(p, &change.marker))
        {
            self.reported = Some(change.index);
            let _ = self.arrivals.send(Arrival {
                client: self.client,
                change: change.index,
                at,
            });
        }
    }
}

fn node(id: usize) -> Option<Node> {
    Some(Node {
        id: format!("bench-client-{id}"),
        cluster: "sesame".to_string(),
        ..Default::default()
    })
}

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
        node: node(id),
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

/// Connects client `id` speaking `mode` and runs it in a task until its stream ends; it sends
/// an [`Arrival`] the first time a response carries the current change's marker.
pub async fn spawn_client(
    mode: Mode,
    addr: SocketAddr,
    id: usize,
    changes: Changes,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let reporter = Reporter {
        client: id,
        changes,
        arrivals,
        reported: None,
    };
    match mode {
        Mode::Sotw => spawn_sotw(addr, id, reporter).await,
        Mode::Delta => spawn_delta(addr, id, reporter).await,
    }
}

/// State of the world: ACKs every response, follows CDS with an EDS subscription for every
/// cluster, and looks for the marker in RDS responses.
async fn spawn_sotw(
    addr: SocketAddr,
    id: usize,
    mut reporter: Reporter,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let (tx, mut stream) = open(addr, id).await?;
    Ok(tokio::spawn(async move {
        let mut eds_names: Vec<String> = Vec::new();
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
                    reporter.check(at, resp.resources.iter().map(|a| a.value.as_slice()));
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

fn delta_request(
    type_url: &str,
    subscribe: Vec<String>,
    unsubscribe: Vec<String>,
    id: usize,
) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: type_url.to_string(),
        resource_names_subscribe: subscribe,
        resource_names_unsubscribe: unsubscribe,
        node: node(id),
        ..Default::default()
    }
}

/// Opens one delta ADS stream and sends the first subscriptions: CDS, LDS and SRDS (wildcard).
async fn open_delta(
    addr: SocketAddr,
    id: usize,
) -> Result<
    (
        mpsc::UnboundedSender<DeltaDiscoveryRequest>,
        Streaming<DeltaDiscoveryResponse>,
    ),
    Error,
> {
    let mut client = AggregatedDiscoveryServiceClient::new(channel(addr).await?)
        .max_decoding_message_size(1 << 30);
    let (tx, requests) = mpsc::unbounded_channel();
    for (ty, names) in [(CDS, vec![]), (LDS, vec![]), (SRDS, vec![])] {
        tx.send(delta_request(ty, names, Vec::new(), id))?;
    }
    let stream = client
        .delta_aggregated_resources(UnboundedReceiverStream::new(requests))
        .await?
        .into_inner();
    Ok((tx, stream))
}

/// Delta: ACKs every response by nonce, subscribes EDS to every cluster added (and
/// unsubscribes the removed ones), and looks for the marker in SRDS responses.
async fn spawn_delta(
    addr: SocketAddr,
    id: usize,
    mut reporter: Reporter,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let (tx, mut stream) = open_delta(addr, id).await?;
    Ok(tokio::spawn(async move {
        let mut clusters: BTreeSet<String> = BTreeSet::new();
        while let Ok(Some(resp)) = stream.message().await {
            let at = Instant::now();
            match resp.type_url.as_str() {
                CDS => {
                    let added: Vec<String> = resp
                        .resources
                        .iter()
                        .filter(|r| clusters.insert(r.name.clone()))
                        .map(|r| r.name.clone())
                        .collect();
                    let removed: Vec<String> = resp
                        .removed_resources
                        .iter()
                        .filter(|n| clusters.remove(n.as_str()))
                        .cloned()
                        .collect();
                    if !added.is_empty() || !removed.is_empty() {
                        let _ = tx.send(delta_request(EDS, added, removed, id));
                    }
                }
                SRDS => reporter.check(
                    at,
                    resp.resources
                        .iter()
                        .filter_map(|r| r.resource.as_ref())
                        .map(|a| a.value.as_slice()),
                ),
                _ => {}
            }
            let ack = DeltaDiscoveryRequest {
                type_url: resp.type_url.clone(),
                response_nonce: resp.nonce.clone(),
                ..Default::default()
            };
            if tx.send(ack).is_err() {
                break;
            }
        }
    }))
}

/// A stuck client: subscribes like [`spawn_client`] (in delta, without EDS, whose names it
/// would have to read) and then never reads its stream, so the server's sends to it stop once
/// the HTTP/2 window (64 KiB) is full. Keep it alive to keep it stuck.
pub struct Stuck {
    _stream: Box<dyn Send>,
}

/// Connects a [`Stuck`] client speaking `mode`.
pub async fn stuck_client(mode: Mode, addr: SocketAddr, id: usize) -> Result<Stuck, Error> {
    let stream: Box<dyn Send> = match mode {
        Mode::Sotw => Box::new(open(addr, id).await?),
        Mode::Delta => Box::new(open_delta(addr, id).await?),
    };
    Ok(Stuck { _stream: stream })
}

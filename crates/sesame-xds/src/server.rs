//! The tonic shell: ADS and the five single-type discovery services, each in state of the world
//! and delta flavours, and the (delta only) virtual host discovery service. The generated
//! services serve the unary fetches; every streaming method is routed past them (see
//! `stream_route`), to be answered from the store's resources without copying them.
//!
//! Each stream is one task that `select!`s over Envoy's requests, store changes and shutdown,
//! feeds them to its [`Connection`] or [`DeltaConnection`] and relays the responses through a
//! bounded channel. Before the store is ready the task keeps reading requests but answers
//! nothing.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_server::{
    ClusterDiscoveryService, ClusterDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::endpoint::v3::endpoint_discovery_service_server::{
    EndpointDiscoveryService, EndpointDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::listener::v3::listener_discovery_service_server::{
    ListenerDiscoveryService, ListenerDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::route::v3::route_discovery_service_server::{
    RouteDiscoveryService, RouteDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::route::v3::scoped_routes_discovery_service_server::{
    ScopedRoutesDiscoveryService, ScopedRoutesDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::route::v3::virtual_host_discovery_service_server::{
    VirtualHostDiscoveryService, VirtualHostDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_server::{
    SecretDiscoveryService, SecretDiscoveryServiceServer,
};
use futures::{Stream, StreamExt};
use sesame_envoy::ResourceType;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::service::Routes;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::answer::{Answer, DeltaAnswer, SotwAnswer};
use crate::connection::{Connection, Scope};
use crate::delta::DeltaConnection;
use crate::stats::Counters;
use crate::store::{SnapshotStore, StoreView};

mod stream_route;

/// HTTP/2 streams allowed per connection: Envoy may open one stream per resource type, or one
/// EDS stream per cluster without ADS (Contour uses `1 << 20` too).
pub const MAX_CONCURRENT_STREAMS: u32 = 1 << 20;

/// Interval of HTTP/2 keepalive pings to Envoy.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);

/// Time to wait for a keepalive ping's answer before closing the connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest request accepted (tonic's default is 4 MiB; an EDS request naming thousands of
/// clusters can be large). Responses are not limited (tonic's default).
pub const MAX_DECODING_MESSAGE_SIZE: usize = 64 << 20;

/// Responses buffered per stream before the task waits for Envoy to read.
const STREAM_BUFFER: usize = 16;

/// Errors of the xDS server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gRPC transport failed (accepting or serving connections).
    #[error("xds grpc transport failed")]
    Transport(#[from] tonic::transport::Error),
}

/// The response stream the generated services declare for SotW streams; never made, as
/// [`XdsServer::routes`] routes every streaming method past them.
type ResponseStream = ReceiverStream<Result<DiscoveryResponse, Status>>;

/// The same for delta streams.
type DeltaStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

/// What the generated services answer to a streaming method, were it routed to them.
fn stream_not_routed<T>() -> Result<T, Status> {
    Err(Status::internal(
        "xds streams are served by sesame's stream routes",
    ))
}

/// The gRPC services over one [`SnapshotStore`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct XdsServer {
    store: SnapshotStore,
    shutdown: Arc<watch::Sender<bool>>,
    next_stream: Arc<AtomicU64>,
}

impl XdsServer {
    /// Services answering from `store`.
    pub fn new(store: SnapshotStore) -> Self {
        XdsServer {
            store,
            shutdown: Arc::new(watch::channel(false).0),
            next_stream: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Ends every open stream (and makes new ones end at once). Needed for a graceful server
    /// shutdown: Envoy never closes its xDS streams on its own.
    pub fn close_streams(&self) {
        self.shutdown.send_replace(true);
    }

    /// The eight discovery services (ADS, LDS, RDS, CDS, EDS, SDS, VHDS, SRDS) as tonic routes:
    /// the generated services for the unary fetches, every streaming method routed past them.
    pub fn routes(&self) -> Routes {
        macro_rules! svc {
            ($server:ident) => {
                $server::new(self.clone())
                    .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
                    .max_encoding_message_size(usize::MAX)
            };
        }
        let generated = Routes::new(svc!(AggregatedDiscoveryServiceServer))
            .add_service(svc!(ListenerDiscoveryServiceServer))
            .add_service(svc!(RouteDiscoveryServiceServer))
            .add_service(svc!(ClusterDiscoveryServiceServer))
            .add_service(svc!(EndpointDiscoveryServiceServer))
            .add_service(svc!(SecretDiscoveryServiceServer))
            .add_service(svc!(VirtualHostDiscoveryServiceServer))
            .add_service(svc!(ScopedRoutesDiscoveryServiceServer));
        Routes::from(stream_route::route_streams(
            generated.into_axum_router(),
            self,
        ))
    }

    /// Starts the task serving one stream with the protocol `P` and returns its response stream.
    fn stream<P: Protocol>(
        &self,
        scope: Scope,
        request: Request<Streaming<P::Request>>,
    ) -> Response<ReceiverStream<Result<P::Response, Status>>> {
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed) + 1;
        let remote = request.remote_addr();
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let span =
            tracing::info_span!("xds_stream", stream = id, remote = ?remote, protocol = P::NAME);
        let task = relay::<P>(
            scope,
            request.into_inner(),
            self.store.clone(),
            self.shutdown.subscribe(),
            tx,
        );
        tokio::spawn(task.instrument(span));
        Response::new(ReceiverStream::new(rx))
    }

    /// Answers a unary Fetch with the current state of `ty`, once the store is ready.
    async fn fetch(
        &self,
        ty: ResourceType,
        request: Request<DiscoveryRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        let mut views = self.store.subscribe();
        let view = views
            .wait_for(|v| v.is_ready())
            .await
            .map_err(|_| Status::unavailable("xds store is gone"))?
            .clone();
        let mut conn = Connection::new(Scope::Single(ty), self.store.counters());
        let mut req = request.into_inner();
        req.response_nonce.clear();
        req.error_detail = None;
        conn.handle_request(&req, &view)
            .pop()
            .map(|answer| Response::new(answer.to_message()))
            .ok_or_else(|| Status::invalid_argument("type url does not match the service"))
    }
}

/// An xDS protocol flavour: its messages and its per-stream state machine.
trait Protocol: Send + 'static {
    /// The requests Envoy sends.
    type Request: prost::Message + Default + Send + 'static;
    /// The responses sent back.
    type Response: Answer;
    /// The flavour's name, for logs.
    const NAME: &'static str;

    /// A fresh state machine for one stream.
    fn new(scope: Scope, counters: Arc<Counters>) -> Self;
    /// See [`Connection::handle_request`].
    fn handle_request(&mut self, req: &Self::Request, view: &StoreView) -> Vec<Self::Response>;
    /// See [`Connection::handle_snapshot_update`].
    fn handle_snapshot_update(&mut self, view: &StoreView) -> Vec<Self::Response>;
    /// The Envoy node id, once known.
    fn node(&self) -> Option<&str>;
}

impl Protocol for Connection {
    type Request = DiscoveryRequest;
    type Response = SotwAnswer;
    const NAME: &'static str = "sotw";

    fn new(scope: Scope, counters: Arc<Counters>) -> Self {
        Connection::new(scope, counters)
    }
    fn handle_request(&mut self, req: &DiscoveryRequest, view: &StoreView) -> Vec<SotwAnswer> {
        Connection::handle_request(self, req, view)
    }
    fn handle_snapshot_update(&mut self, view: &StoreView) -> Vec<SotwAnswer> {
        Connection::handle_snapshot_update(self, view)
    }
    fn node(&self) -> Option<&str> {
        Connection::node(self)
    }
}

impl Protocol for DeltaConnection {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaAnswer;
    const NAME: &'static str = "delta";

    fn new(scope: Scope, counters: Arc<Counters>) -> Self {
        DeltaConnection::new(scope, counters)
    }
    fn handle_request(
        &mut self,
        req: &DeltaDiscoveryRequest,
        view: &StoreView,
    ) -> Vec<DeltaAnswer> {
        DeltaConnection::handle_request(self, req, view)
    }
    fn handle_snapshot_update(&mut self, view: &StoreView) -> Vec<DeltaAnswer> {
        DeltaConnection::handle_snapshot_update(self, view)
    }
    fn node(&self) -> Option<&str> {
        DeltaConnection::node(self)
    }
}

/// The body of one stream's task: relays requests and store changes through its state machine.
async fn relay<P: Protocol>(
    scope: Scope,
    mut requests: Streaming<P::Request>,
    store: SnapshotStore,
    mut shutdown: watch::Receiver<bool>,
    tx: mpsc::Sender<Result<P::Response, Status>>,
) {
    let counters = store.counters();
    let _guard = counters.stream_opened();
    let mut conn = P::new(scope, counters.clone());
    let mut views = store.subscribe();
    tracing::debug!(?scope, "xds stream opened");
    loop {
        let responses = tokio::select! {
            req = requests.next() => match req {
                Some(Ok(req)) => {
                    let view = views.borrow().clone();
                    conn.handle_request(&req, &view)
                }
                Some(Err(status)) => {
                    tracing::debug!(code = ?status.code(), message = status.message(), "xds stream error from client");
                    break;
                }
                None => break,
            },
            changed = views.changed() => {
                if changed.is_err() {
                    break;
                }
                let view = views.borrow_and_update().clone();
                conn.handle_snapshot_update(&view)
            },
            _ = shutdown.wait_for(|closing| *closing) => break,
            () = tx.closed() => break,
        };
        for response in responses {
            if tx.send(Ok(response)).await.is_err() {
                tracing::debug!(
                    node = conn.node().unwrap_or_default(),
                    "xds client went away"
                );
                return;
            }
        }
    }
    tracing::debug!(node = conn.node().unwrap_or_default(), "xds stream closed");
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for XdsServer {
    type StreamAggregatedResourcesStream = ResponseStream;
    type DeltaAggregatedResourcesStream = DeltaStream;

    async fn stream_aggregated_resources(
        &self,
        _: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        stream_not_routed()
    }

    async fn delta_aggregated_resources(
        &self,
        _: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        stream_not_routed()
    }
}

/// Implements one single-type discovery service with the shared stream and fetch code.
macro_rules! single_type_service {
    ($trait:ident, $ty:expr, $stream:ident, $Stream:ident, $delta:ident, $Delta:ident, $fetch:ident) => {
        #[tonic::async_trait]
        impl $trait for XdsServer {
            type $Stream = ResponseStream;
            type $Delta = DeltaStream;

            async fn $stream(
                &self,
                _: Request<Streaming<DiscoveryRequest>>,
            ) -> Result<Response<Self::$Stream>, Status> {
                stream_not_routed()
            }

            async fn $delta(
                &self,
                _: Request<Streaming<DeltaDiscoveryRequest>>,
            ) -> Result<Response<Self::$Delta>, Status> {
                stream_not_routed()
            }

            async fn $fetch(
                &self,
                request: Request<DiscoveryRequest>,
            ) -> Result<Response<DiscoveryResponse>, Status> {
                self.fetch($ty, request).await
            }
        }
    };
}

single_type_service!(
    ListenerDiscoveryService,
    ResourceType::Listener,
    stream_listeners,
    StreamListenersStream,
    delta_listeners,
    DeltaListenersStream,
    fetch_listeners
);
single_type_service!(
    RouteDiscoveryService,
    ResourceType::RouteConfiguration,
    stream_routes,
    StreamRoutesStream,
    delta_routes,
    DeltaRoutesStream,
    fetch_routes
);
single_type_service!(
    ClusterDiscoveryService,
    ResourceType::Cluster,
    stream_clusters,
    StreamClustersStream,
    delta_clusters,
    DeltaClustersStream,
    fetch_clusters
);
single_type_service!(
    EndpointDiscoveryService,
    ResourceType::ClusterLoadAssignment,
    stream_endpoints,
    StreamEndpointsStream,
    delta_endpoints,
    DeltaEndpointsStream,
    fetch_endpoints
);
single_type_service!(
    SecretDiscoveryService,
    ResourceType::Secret,
    stream_secrets,
    StreamSecretsStream,
    delta_secrets,
    DeltaSecretsStream,
    fetch_secrets
);

single_type_service!(
    ScopedRoutesDiscoveryService,
    ResourceType::ScopedRouteConfiguration,
    stream_scoped_routes,
    StreamScopedRoutesStream,
    delta_scoped_routes,
    DeltaScopedRoutesStream,
    fetch_scoped_routes
);

#[tonic::async_trait]
impl VirtualHostDiscoveryService for XdsServer {
    type DeltaVirtualHostsStream = DeltaStream;

    async fn delta_virtual_hosts(
        &self,
        _: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaVirtualHostsStream>, Status> {
        stream_not_routed()
    }
}

/// The eight discovery services over `store`, to mount on a tonic server. Streams served this way
/// are not ended on shutdown; use [`XdsServer::close_streams`] or [`serve_incoming`] for that.
pub fn routes(store: SnapshotStore) -> Routes {
    XdsServer::new(store).routes()
}

/// Serves xDS on `listener` (plaintext) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store: SnapshotStore,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "cannot set TCP_NODELAY on an xds connection");
            }
        })
    });
    serve_incoming(incoming, store, shutdown).await
}

/// Serves xDS on any stream of accepted connections (e.g. TLS streams from Sesame's own
/// acceptor) until `shutdown` completes; then ends every open stream and drains connections.
pub async fn serve_incoming<I, IO, IE>(
    incoming: I,
    store: SnapshotStore,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let server = XdsServer::new(store);
    let closer = server.clone();
    let shutdown = async move {
        shutdown.await;
        tracing::info!("xds server shutting down; closing streams");
        closer.close_streams();
    };
    tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_routes(server.routes())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

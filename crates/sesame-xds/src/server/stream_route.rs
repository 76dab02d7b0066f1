//! The streaming discovery methods, served beside the generated services rather than through
//! them.
//!
//! A generated service takes generated responses, whose every resource owns a copy of its
//! bytes, and encodes each into a buffer that doubles as it fills and that the stream keeps for
//! its lifetime. A [`StreamRoute`] writes each [`Answer`] from the store's shared resources in
//! pieces of 64 KiB, each encoded as the connection takes it. At 10 000 hosts a first delta
//! answer no longer copies ~7 MB, nor holds an 8 MiB buffer (BENCHMARKS.md, stop 28).

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::task::{Context, Poll};

use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_server as cds;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server as ads;
use envoy_types::pb::envoy::service::endpoint::v3::endpoint_discovery_service_server as eds;
use envoy_types::pb::envoy::service::listener::v3::listener_discovery_service_server as lds;
use envoy_types::pb::envoy::service::route::v3::route_discovery_service_server as rds;
use envoy_types::pb::envoy::service::route::v3::scoped_routes_discovery_service_server as srds;
use envoy_types::pb::envoy::service::route::v3::virtual_host_discovery_service_server as vhds;
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_server as sds;
use futures::StreamExt;
use http_body::Frame;
use http_body_util::StreamBody;
use sesame_envoy::ResourceType::{self, *};
use tokio_stream::wrappers::ReceiverStream;
use tonic::body::Body;
use tonic::codec::Streaming;
use tonic::codegen::{Service, http};
use tonic::{Request, Status};

use super::{MAX_DECODING_MESSAGE_SIZE, Protocol, XdsServer};
use crate::answer::{Answer, GrpcMessage, RequestDecoder};
use crate::connection::{Connection, Scope};
use crate::delta::DeltaConnection;

/// A streaming method: its service, its name and what its streams serve.
type Method = (&'static str, &'static str, Scope);

/// Every state-of-the-world streaming method (VHDS has none).
const SOTW_METHODS: [Method; 7] = [
    (
        ads::SERVICE_NAME,
        "StreamAggregatedResources",
        Scope::Aggregated,
    ),
    (lds::SERVICE_NAME, "StreamListeners", single(Listener)),
    (
        rds::SERVICE_NAME,
        "StreamRoutes",
        single(RouteConfiguration),
    ),
    (cds::SERVICE_NAME, "StreamClusters", single(Cluster)),
    (
        eds::SERVICE_NAME,
        "StreamEndpoints",
        single(ClusterLoadAssignment),
    ),
    (sds::SERVICE_NAME, "StreamSecrets", single(Secret)),
    (
        srds::SERVICE_NAME,
        "StreamScopedRoutes",
        single(ScopedRouteConfiguration),
    ),
];

/// Every delta method.
const DELTA_METHODS: [Method; 8] = [
    (
        ads::SERVICE_NAME,
        "DeltaAggregatedResources",
        Scope::Aggregated,
    ),
    (lds::SERVICE_NAME, "DeltaListeners", single(Listener)),
    (rds::SERVICE_NAME, "DeltaRoutes", single(RouteConfiguration)),
    (cds::SERVICE_NAME, "DeltaClusters", single(Cluster)),
    (
        eds::SERVICE_NAME,
        "DeltaEndpoints",
        single(ClusterLoadAssignment),
    ),
    (sds::SERVICE_NAME, "DeltaSecrets", single(Secret)),
    (vhds::SERVICE_NAME, "DeltaVirtualHosts", single(VirtualHost)),
    (
        srds::SERVICE_NAME,
        "DeltaScopedRoutes",
        single(ScopedRouteConfiguration),
    ),
];

/// The scope of a single-type service.
const fn single(ty: ResourceType) -> Scope {
    Scope::Single(ty)
}

/// Routes every streaming method of `server` to a [`StreamRoute`]. A method's own path takes
/// precedence over its service's catch-all route, which the generated service holds.
pub(super) fn route_streams(router: axum::Router, server: &XdsServer) -> axum::Router {
    fn add<P: Protocol>(
        router: axum::Router,
        methods: &[Method],
        server: &XdsServer,
    ) -> axum::Router {
        methods
            .iter()
            .fold(router, |router, &(service, method, scope)| {
                let route = StreamRoute::<P> {
                    server: server.clone(),
                    scope,
                    protocol: PhantomData,
                };
                router.route_service(&format!("/{service}/{method}"), route)
            })
    }
    let router = add::<Connection>(router, &SOTW_METHODS, server);
    add::<DeltaConnection>(router, &DELTA_METHODS, server)
}

/// One streaming method of protocol `P`: a gRPC bidirectional stream of requests in and
/// [`Answer`]s out, each answer written as one gRPC message.
struct StreamRoute<P> {
    server: XdsServer,
    scope: Scope,
    protocol: PhantomData<fn() -> P>,
}

impl<P> Clone for StreamRoute<P> {
    fn clone(&self) -> Self {
        StreamRoute {
            server: self.server.clone(),
            scope: self.scope,
            protocol: PhantomData,
        }
    }
}

impl<P: Protocol> Service<http::Request<axum::body::Body>> for StreamRoute<P> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<axum::body::Body>) -> Self::Future {
        let request = Request::from_http(request.map(|body| {
            Streaming::new_request(
                RequestDecoder::<P::Request>::default(),
                body,
                None,
                Some(MAX_DECODING_MESSAGE_SIZE),
            )
        }));
        let answers = self.server.stream::<P>(self.scope, request).into_inner();
        let mut response = http::Response::new(response_body(answers));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        ready(Ok(response))
    }
}

/// The body of a stream: each answer as a gRPC message, then the stream's status as trailers
/// (OK when the stream ends, as tonic's own services end it).
fn response_body<A: Answer>(answers: ReceiverStream<Result<A, Status>>) -> Body {
    /// The answers left, and the rest of the message being sent.
    struct Sending<A> {
        answers: Option<ReceiverStream<Result<A, Status>>>,
        message: Option<GrpcMessage<A>>,
    }
    let start = Sending {
        answers: Some(answers),
        message: None,
    };
    let frames = futures::stream::unfold(start, |mut sending| async move {
        loop {
            if let Some(piece) = sending.message.as_mut().and_then(Iterator::next) {
                return Some((Ok(Frame::data(piece)), sending));
            }
            let status = match sending.answers.as_mut()?.next().await {
                Some(Ok(answer)) => {
                    sending.message = Some(answer.grpc_message());
                    continue;
                }
                Some(Err(status)) => status,
                None => Status::ok(""),
            };
            sending.answers = None;
            let mut trailers = http::HeaderMap::new();
            let trailers = status.add_header(&mut trailers).map(|()| trailers);
            return Some((trailers.map(Frame::trailers), sending));
        }
    });
    Body::new(StreamBody::new(frames))
}

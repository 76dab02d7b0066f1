//! The delta methods, served beside the generated services rather than through them.
//!
//! A generated service takes `DeltaDiscoveryResponse`s, whose every resource owns a copy of its
//! bytes, and encodes them into a buffer that doubles as it fills and that the stream keeps for
//! its lifetime. A [`DeltaRoute`] writes each [`DeltaAnswer`] from the store's shared resources
//! in pieces of 64 KiB, each encoded as the connection takes it. At 10 000 hosts a first answer
//! no longer copies ~7 MB, nor holds an 8 MiB buffer (BENCHMARKS.md, stop 28).

use std::convert::Infallible;
use std::future::{Ready, ready};
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
use sesame_envoy::ResourceType;
use tokio_stream::wrappers::ReceiverStream;
use tonic::body::Body;
use tonic::codec::Streaming;
use tonic::codegen::{Service, http};
use tonic::{Request, Status};

use super::{MAX_DECODING_MESSAGE_SIZE, XdsServer};
use crate::connection::Scope;
use crate::delta::{DeltaAnswer, DeltaConnection, GrpcMessage, RequestDecoder};

/// Every delta method: its service, its name and what its streams serve.
pub(super) const DELTA_METHODS: [(&str, &str, Scope); 8] = [
    (
        ads::SERVICE_NAME,
        "DeltaAggregatedResources",
        Scope::Aggregated,
    ),
    (
        lds::SERVICE_NAME,
        "DeltaListeners",
        Scope::Single(ResourceType::Listener),
    ),
    (
        rds::SERVICE_NAME,
        "DeltaRoutes",
        Scope::Single(ResourceType::RouteConfiguration),
    ),
    (
        cds::SERVICE_NAME,
        "DeltaClusters",
        Scope::Single(ResourceType::Cluster),
    ),
    (
        eds::SERVICE_NAME,
        "DeltaEndpoints",
        Scope::Single(ResourceType::ClusterLoadAssignment),
    ),
    (
        sds::SERVICE_NAME,
        "DeltaSecrets",
        Scope::Single(ResourceType::Secret),
    ),
    (
        vhds::SERVICE_NAME,
        "DeltaVirtualHosts",
        Scope::Single(ResourceType::VirtualHost),
    ),
    (
        srds::SERVICE_NAME,
        "DeltaScopedRoutes",
        Scope::Single(ResourceType::ScopedRouteConfiguration),
    ),
];

/// One delta method: a gRPC bidirectional stream of `DeltaDiscoveryRequest`s in and
/// [`DeltaAnswer`]s out, each answer written as one gRPC message.
#[derive(Clone, Debug)]
pub(super) struct DeltaRoute {
    pub(super) server: XdsServer,
    pub(super) scope: Scope,
}

impl Service<http::Request<axum::body::Body>> for DeltaRoute {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<axum::body::Body>) -> Self::Future {
        let request = Request::from_http(request.map(|body| {
            Streaming::new_request(RequestDecoder, body, None, Some(MAX_DECODING_MESSAGE_SIZE))
        }));
        let answers = self
            .server
            .stream::<DeltaConnection>(self.scope, request)
            .into_inner();
        let mut response = http::Response::new(response_body(answers));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        ready(Ok(response))
    }
}

/// The body of a delta stream: each answer as a gRPC message, then the stream's status as
/// trailers (OK when the stream ends, as tonic's own services end it).
fn response_body(answers: ReceiverStream<Result<DeltaAnswer, Status>>) -> Body {
    /// The answers left, and the rest of the message being sent.
    struct Sending {
        answers: Option<ReceiverStream<Result<DeltaAnswer, Status>>>,
        message: Option<GrpcMessage>,
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

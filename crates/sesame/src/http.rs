//! Sesame's own HTTP endpoints: metrics and health on the metrics port, status and the DAG on
//! the debug port.

use std::future::Future;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sesame_api::HTTPProxyStatus;
use sesame_dag::Kind;
use sesame_dag::ObjectKey;
use sesame_dag::status::ObjectStatus;
use sesame_xds::SnapshotStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use sesame_k8s::watch::ApiHealth;

use crate::controller::{Published, View};
use crate::metrics::Metrics;

/// Serves `/metrics` and `/healthz` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Metrics,
    store: SnapshotStore,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/health", get(healthz))
        .with_state((metrics, store));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics_text(State((metrics, store)): State<(Metrics, SnapshotStore)>) -> Response {
    crate::metrics::mirror_xds(&metrics, &store);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "OK"
}

/// What the debug endpoints show.
#[derive(Clone)]
pub struct DebugState {
    /// The latest build.
    pub published: Published,
    /// The API-server source's health, when Sesame watches an API server.
    pub api: Option<watch::Receiver<ApiHealth>>,
    /// Whether this replica leads (always true without leader election).
    pub leading: watch::Receiver<bool>,
}

/// Serves `/status`, `/debug/dag`, `/debug/explain` and `/debug/sources` until `shutdown`
/// completes.
pub async fn serve_debug(
    listener: TcpListener,
    state: DebugState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/status", get(status))
        .route("/debug/dag", get(dag))
        .route("/debug/explain", get(explain))
        .route("/debug/sources", get(sources))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// One object's status as `/status` shows it.
#[derive(Serialize)]
struct StatusEntry<'a> {
    #[serde(flatten)]
    object: &'a ObjectKey,
    #[serde(flatten)]
    status: &'a ObjectStatus,
    /// What Sesame writes to the object's `status` (HTTPProxy only, for now).
    #[serde(rename = "status", skip_serializing_if = "Option::is_none")]
    resource_status: Option<HTTPProxyStatus>,
}

/// `/status` without its objects: this replica's state.
#[derive(Serialize)]
struct StatusHead {
    /// Whether this replica leads (writes status).
    leading: bool,
    /// The API-server source, when there is one; `reachable: false` while it is unreachable
    /// (Envoy keeps the last good configuration meanwhile).
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<ApiHealth>,
}

/// The JSON array of every object's status in a build, as `/status` lists them. Rendered by
/// the rebuild loop on request, so no copy of the build is kept for the debug endpoints.
pub fn render_statuses(output: &sesame_dag::BuildOutput) -> Vec<u8> {
    let entries: Vec<StatusEntry<'_>> = output
        .status
        .objects
        .iter()
        .map(|(object, status)| StatusEntry {
            object,
            status,
            resource_status: (object.kind == Kind::HTTPProxy).then(|| status.httpproxy_status()),
        })
        .collect();
    serde_json::to_vec(&entries).unwrap_or_default()
}

/// The JSON of a build's DAG, as `/debug/dag` shows it.
pub fn render_dag(output: &sesame_dag::BuildOutput) -> Vec<u8> {
    serde_json::to_vec(&output.dag).unwrap_or_default()
}

/// `/status`: `{leading, api, objects}`, with every object's status.
async fn status(State(state): State<DebugState>) -> Response {
    let api = state.api.as_ref().map(|a| a.borrow().clone());
    let leading = *state.leading.borrow();
    let Some(objects) = state.published.render(View::Statuses).await else {
        let body = serde_json::json!({"leading": leading, "api": api, "objects": null, "error": "no build yet"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    };
    // The head is an object of its own; the objects array is spliced in as the last member.
    let mut body = serde_json::to_vec(&StatusHead { leading, api }).unwrap_or_default();
    body.pop();
    body.extend_from_slice(b",\"objects\":");
    body.extend_from_slice(&objects);
    body.push(b'}');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/debug/dag`: the DAG of the latest build.
async fn dag(State(state): State<DebugState>) -> Response {
    let Some(dag) = state.published.render(View::Dag).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no build yet\n").into_response();
    };
    ([(header::CONTENT_TYPE, "application/json")], dag).into_response()
}

/// `/debug/explain?host=H&path=P[&method=M][&header=Name:Value...][&https=true]`: which route
/// and backend the latest build sends such a request to, and why.
async fn explain(
    State(state): State<DebugState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let mut request = sesame_dag::explain::Request::get("", "/");
    for (name, value) in params {
        match name.as_str() {
            "host" => request.host = value,
            "path" => request.path = value,
            "method" => request.method = value,
            "https" => request.secure = value == "true",
            "header" => match value.split_once(':') {
                Some((name, value)) => request
                    .headers
                    .push((name.trim().to_string(), value.trim().to_string())),
                None => {
                    let message = format!("header {value:?}: expected Name:Value\n");
                    return (StatusCode::BAD_REQUEST, message).into_response();
                }
            },
            other => {
                let message =
                    format!("unknown parameter {other:?}: host, path, method, header, https\n");
                return (StatusCode::BAD_REQUEST, message).into_response();
            }
        }
    }
    if request.host.is_empty() {
        return (StatusCode::BAD_REQUEST, "host is required\n").into_response();
    }
    let Some(body) = state.published.render(View::Explain(request)).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no build yet\n").into_response();
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/debug/sources?type=cds|sds|rds|vhds&name=N`: the Kubernetes objects an xDS resource of the
/// latest build was made from.
async fn sources(
    State(state): State<DebugState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    use sesame_dag::explain::Resource;
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let (Some(ty), Some(name)) = (param("type"), param("name")) else {
        return (StatusCode::BAD_REQUEST, "type and name are required\n").into_response();
    };
    let resource = match ty.as_str() {
        "cds" => Resource::Cluster(name),
        "sds" => Resource::Secret(name),
        "rds" => Resource::RouteConfiguration(name),
        "vhds" => Resource::VirtualHost(name),
        other => {
            let message = format!("type {other:?}: one of cds, sds, rds, vhds\n");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    let Some(body) = state.published.render(View::Sources(resource)).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no build yet\n").into_response();
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

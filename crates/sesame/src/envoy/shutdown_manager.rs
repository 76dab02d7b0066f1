//! `sesame envoy shutdown-manager`: the sidecar whose `/shutdown` blocks until the drain is over.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tracing::info;

/// How often `/shutdown` looks for the ready file.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Flags of `sesame envoy shutdown-manager` (Contour's names and defaults).
#[derive(Debug, clap::Args)]
pub struct ShutdownManagerArgs {
    /// The address to serve on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub serve_address: IpAddr,
    /// The port to serve on.
    #[arg(long, default_value_t = 8090)]
    pub serve_port: u16,
    /// The file `sesame envoy shutdown` writes once the drain is over.
    #[arg(long, default_value = "/admin/ok")]
    pub ready_file: PathBuf,
}

/// Serves `/healthz` and `/shutdown` until SIGTERM or SIGINT.
pub async fn run(args: ShutdownManagerArgs) -> anyhow::Result<()> {
    let addr = SocketAddr::new(args.serve_address, args.serve_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    info!(%addr, file = %args.ready_file.display(), "serving the shutdown manager");
    axum::serve(listener, router(args.ready_file))
        .with_graceful_shutdown(stop_signal())
        .await
        .context("serving the shutdown manager")
}

/// The routes: `/healthz` and `/shutdown`.
fn router(ready_file: PathBuf) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/shutdown", get(shutdown))
        .with_state(Arc::new(ready_file))
}

async fn healthz() -> &'static str {
    "OK"
}

/// Answers once the ready file exists.
async fn shutdown(State(ready_file): State<Arc<PathBuf>>) -> &'static str {
    info!(file = %ready_file.display(), "waiting for the ready file");
    while !tokio::fs::try_exists(ready_file.as_path())
        .await
        .unwrap_or(false)
    {
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    info!("the ready file exists: Envoy may stop");
    "OK"
}

/// Completes on SIGTERM or SIGINT.
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!("interrupted"),
        () = terminate => info!("terminated"),
    }
}

//! The network shell: the accept loop, one task per HTTP/1.1 connection (registered so they
//! can all be aborted at once), the unreachable switch and the request log.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, header};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tracing::{debug, warn};

use crate::handler::{self, Body};
use crate::store::Store;

/// One HTTP request the double answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The HTTP method, e.g. `GET`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (empty if none).
    pub query: String,
    /// The response's HTTP status code (200 for watches, whatever they stream).
    pub status: u16,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the accept loop, the connections and the [`crate::ApiServer`] handle.
#[derive(Default)]
pub struct Shared {
    /// The objects.
    pub store: Arc<Store>,
    log: Mutex<Vec<RequestRecord>>,
    connections: Mutex<HashMap<u64, AbortHandle>>,
    next_connection: AtomicU64,
    unreachable: AtomicBool,
}

impl Shared {
    /// A copy of the request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Aborts every open connection.
    pub fn drop_connections(&self) {
        let connections: Vec<AbortHandle> =
            lock(&self.connections).drain().map(|(_, h)| h).collect();
        debug!(count = connections.len(), "dropping connections");
        for connection in connections {
            connection.abort();
        }
    }

    /// While `down`, new connections are closed right after accept (existing ones are dropped).
    pub fn set_unreachable(&self, down: bool) {
        self.unreachable.store(down, Ordering::SeqCst);
        if down {
            self.drop_connections();
        }
    }

    fn spawn_connection(self: &Arc<Self>, stream: TcpStream) {
        let mut connections = lock(&self.connections);
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(self);
        let task = tokio::spawn(async move {
            let service_shared = Arc::clone(&shared);
            let service = service_fn(move |request| {
                let shared = Arc::clone(&service_shared);
                async move { Ok::<_, Infallible>(shared.serve(request).await) }
            });
            let served = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                debug!(%error, "connection ended with an error");
            }
            lock(&shared.connections).remove(&id);
        });
        connections.insert(id, task.abort_handle());
    }

    async fn serve(&self, request: Request<Incoming>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let text = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &header::HeaderValue| v.to_str().ok())
                .unwrap_or_default()
        };
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                debug!(%error, "could not read the request body");
                bytes::Bytes::new()
            }
        };
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or_default();
        let response = handler::handle(
            &self.store,
            handler::Request {
                method: &parts.method,
                path,
                query,
                accept: text(header::ACCEPT),
                content_type: text(header::CONTENT_TYPE),
                body: &body,
            },
        );
        let status = response.status().as_u16();
        debug!(method = %parts.method, path, query, status, "request");
        lock(&self.log).push(RequestRecord {
            method: parts.method.to_string(),
            path: path.to_owned(),
            query: query.to_owned(),
            status,
        });
        response
    }
}

/// Accepts connections forever, serving each in its own registered task.
pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.unreachable.load(Ordering::SeqCst) {
            drop(stream);
            continue;
        }
        shared.spawn_connection(stream);
    }
}

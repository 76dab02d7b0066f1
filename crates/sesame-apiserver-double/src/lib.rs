//! An in-process Kubernetes API-server double for tests: real HTTP/1.1 + JSON on 127.0.0.1,
//! good enough for unmodified kube-rs clients (`Api<K>`, `watcher`, `metadata_watcher`).
//!
//! Stage: none; test support only. It stands where the API server stands, for Sesame's
//! sources, status writer and leader election in other crates' tests and for a separate
//! `sesame serve` process pointed at it through [`ApiServer::kubeconfig`]. Must not depend on
//! kube or any Sesame crate (kube is a dev-dependency, to prove real clients work).
//!
//! What it serves: the kinds in [`Resource`] (the Gateway API ones can be left out, as CRDs not
//! installed: [`ApiServer::without`]); GET/POST on collections (list with `limit` and
//! `continue`, label and field selectors, watches with history replay, bookmarks and
//! `timeoutSeconds`), GET/PUT/PATCH/DELETE on objects and GET/PUT/PATCH on `/status`, the
//! `PartialObjectMetadata` views, and `GET /version`. Objects get `uid`, `creationTimestamp`,
//! `generation` and a global, etcd-like `resourceVersion`. Faults can be injected: dropped
//! connections, an unreachable server, compaction (410 Gone) and status write conflicts.
//!
//! A watch with `resourceVersion` absent or `"0"` starts from now: unlike a real server it sends
//! no synthetic ADDED events for existing objects (kube-rs lists first, so it never relies on
//! them). `sendInitialEvents` is ignored.

mod error;
mod handler;
mod meta;
mod page;
mod patch;
mod query;
mod resources;
mod route;
mod selector;
mod server;
mod status;
mod store;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use error::Error;
pub use resources::{Descriptor, Resource};
pub use server::RequestRecord;

use server::Shared;
use store::{Key, Subresource};

/// A running API-server double. Dropping it shuts the server down.
pub struct ApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.drop_connections();
    }
}

fn resource_of(object: &Value) -> Result<Resource, Error> {
    let field = |f: &str| object.get(f).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    Resource::from_type(api_version, kind)
        .ok_or_else(|| Error::UnknownKind(format!("{api_version}/{kind}")))
}

impl ApiServer {
    /// Starts a server, as [`ApiServer::start`], that answers 404 for `resources` as a real
    /// server does for CRDs that are not installed, until [`ApiServer::install`] serves them.
    pub async fn without(resources: &[Resource]) -> std::io::Result<ApiServer> {
        let server = ApiServer::start().await?;
        server.shared.store.set_served(resources, false);
        Ok(server)
    }

    /// Serves `resources` from now on, as installing their CRDs would.
    pub fn install(&self, resources: &[Resource]) {
        self.shared.store.set_served(resources, true);
    }

    fn check_served(&self, resource: Resource) -> Result<Resource, Error> {
        if self.shared.store.served(resource) {
            Ok(resource)
        } else {
            Err(Error::UnknownKind(resource.qualified_plural()))
        }
    }
}

fn key_of(object: &Value) -> Result<Key, Error> {
    let resource = resource_of(object)?;
    let name = meta::name(object);
    if name.is_empty() {
        return Err(Error::Invalid("metadata.name: Required value".into()));
    }
    Ok(Key::new(resource, Some(namespace_or_default(object)), name))
}

/// `metadata.namespace`, or `default` when unset (ignored for cluster-scoped kinds).
fn namespace_or_default(object: &Value) -> &str {
    Some(meta::namespace(object))
        .filter(|ns| !ns.is_empty())
        .unwrap_or("default")
}

fn key(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Result<Key, Error> {
    let resource = Resource::from_type(api_version, kind)
        .ok_or_else(|| Error::UnknownKind(format!("{api_version}/{kind}")))?;
    Ok(Key::new(resource, namespace, name))
}

impl ApiServer {
    /// Starts a server on `127.0.0.1` at a free port (plain HTTP). Needs a tokio runtime.
    pub async fn start() -> std::io::Result<ApiServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared)));
        tracing::debug!(%addr, "api-server double listening");
        Ok(ApiServer {
            shared,
            addr,
            accept,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig with one cluster (this server), one user without credentials and one
    /// context, which is current.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: apiserver-double\n  cluster:\n    server: {url}\n\
             users:\n\
             - name: apiserver-double\n  user: {{}}\n\
             contexts:\n\
             - name: apiserver-double\n  context:\n    cluster: apiserver-double\n    user: apiserver-double\n    namespace: default\n\
             current-context: apiserver-double\n\
             preferences: {{}}\n",
            url = self.url()
        )
    }

    /// Writes [`ApiServer::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Creates `object` (kind from `apiVersion`/`kind`, namespace from `metadata.namespace`,
    /// `default` if unset), as a POST would: for kinds with a status subresource the `status`
    /// is dropped (set it with [`ApiServer::update_status`]).
    pub fn create(&self, object: Value) -> Result<Value, Error> {
        let resource = self.check_served(resource_of(&object)?)?;
        let namespace = namespace_or_default(&object).to_owned();
        self.shared.store.create(resource, Some(&namespace), object)
    }

    /// Replaces `object`, as a PUT would: a set, stale `metadata.resourceVersion` is a
    /// conflict, and kinds with a status subresource keep their stored status.
    pub fn update(&self, object: Value) -> Result<Value, Error> {
        let key = key_of(&object)?;
        self.shared.store.replace(&key, object, Subresource::Main)
    }

    /// Replaces only the `status` of `object`, as a PUT to `/status` would (injected status
    /// conflicts apply).
    pub fn update_status(&self, object: Value) -> Result<Value, Error> {
        let key = key_of(&object)?;
        self.shared.store.replace(&key, object, Subresource::Status)
    }

    /// Creates `object` or replaces it whatever its `metadata.resourceVersion` (`status` is
    /// handled as by [`ApiServer::create`] and [`ApiServer::update`]).
    ///
    /// # Panics
    /// If the kind is unknown or the object is invalid; use [`ApiServer::try_apply`] to get
    /// the error instead.
    pub fn apply(&self, object: Value) -> Value {
        match self.try_apply(object) {
            Ok(object) => object,
            Err(error) => panic!("apiserver double: apply failed: {error}"),
        }
    }

    /// Creates `object` or replaces it whatever its `metadata.resourceVersion`.
    pub fn try_apply(&self, mut object: Value) -> Result<Value, Error> {
        self.check_served(resource_of(&object)?)?;
        let key = key_of(&object)?;
        meta::metadata_mut(&mut object).remove("resourceVersion");
        match self
            .shared
            .store
            .replace(&key, object.clone(), Subresource::Main)
        {
            Err(Error::NotFound) => self.create(object),
            other => other,
        }
    }

    /// Deletes an object, returning it as it was.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, Error> {
        self.shared
            .store
            .delete(&key(api_version, kind, namespace, name)?)
    }

    /// One object, if it exists (and the kind is served).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.shared
            .store
            .get(&key(api_version, kind, namespace, name).ok()?)
    }

    /// Every object of a kind, sorted by namespace then name (empty for unknown kinds).
    pub fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let Some(resource) = Resource::from_type(api_version, kind) else {
            return Vec::new();
        };
        let filter = selector::Filter::all(resource, None);
        self.shared
            .store
            .list(&filter, None, None)
            .map(|page| page.items)
            .unwrap_or_default()
    }

    /// The current global resource version.
    pub fn resource_version(&self) -> String {
        self.shared.store.rv().to_string()
    }

    /// Aborts every open HTTP connection now: watch streams end abruptly, with no final event.
    pub fn drop_connections(&self) {
        self.shared.drop_connections();
    }

    /// While `down` is true, drops all connections and closes each new one right after accept.
    pub fn set_unreachable(&self, down: bool) {
        self.shared.set_unreachable(down);
    }

    /// Forgets the event history up to now: watches and continue tokens from an older resource
    /// version get 410 Gone.
    pub fn compact(&self) {
        self.shared.store.compact();
    }

    /// The next `n` writes to a `/status` subresource answer 409 Conflict, and bump the
    /// object's resource version as if someone else had written it.
    pub fn fail_status_updates_with_conflict(&self, n: usize) {
        self.shared.store.fail_status_updates_with_conflict(n);
    }

    /// Every HTTP request answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Sends a BOOKMARK now on every watch that asked for bookmarks.
    pub fn send_bookmarks(&self) {
        self.shared.store.send_bookmarks();
    }
}

//! The versioned snapshot store: the current resources of each type, shared by every connection.
//!
//! Writers (the rebuild loop, endpoint updates) replace whole types or patch single resources;
//! each write builds a new immutable [`StoreView`] and wakes every connection once through a
//! `tokio::sync::watch` channel. Views share unchanged types and resources through `Arc`s, so a
//! resource is hashed once when it is stored and never re-encoded per connection.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::google::protobuf::Any;
use sesame_envoy::ResourceType;
use tokio::sync::watch;

use crate::stats::{Counters, XdsStats};
use crate::version::{Digest, resource_digest, set_digest, version_string};
use crate::{TYPES, slot};

#[cfg(test)]
#[path = "store/tests.rs"]
mod tests;

/// One stored resource: its encoded form and its content digest.
#[derive(Debug)]
pub struct Resource {
    any: Any,
    digest: Digest,
}

impl Resource {
    /// Wraps an encoded resource, hashing it once.
    fn new(any: Any) -> Self {
        let digest = resource_digest(&any);
        Resource { any, digest }
    }

    /// The encoded resource, as put into a `DiscoveryResponse`.
    pub fn any(&self) -> &Any {
        &self.any
    }

    /// The resource's content version (a hash of its encoded bytes).
    pub fn version(&self) -> String {
        version_string(&self.digest)
    }

    /// The resource's content digest.
    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }
}

/// Every resource of one type at one version.
#[derive(Debug)]
pub struct TypeSnapshot {
    resources: BTreeMap<String, Arc<Resource>>,
    digest: Digest,
}

impl TypeSnapshot {
    /// A type snapshot from already hashed resources.
    fn from_resources(resources: BTreeMap<String, Arc<Resource>>) -> Self {
        let digest = set_digest(resources.iter().map(|(n, r)| (n.as_str(), r.digest())));
        TypeSnapshot { resources, digest }
    }

    /// A type snapshot from encoded resources, dropping any whose type URL is not `ty`'s
    /// (Envoy would reject the whole response for it).
    fn build(ty: ResourceType, resources: BTreeMap<String, Any>, current: &TypeSnapshot) -> Self {
        let resources = resources
            .into_iter()
            .filter(|(name, any)| type_matches(ty, name, any))
            .map(|(name, any)| {
                // Most resources are unchanged from one build to the next: comparing bytes is far
                // cheaper than hashing them again, and keeps one copy of them.
                let resource = match current.resources.get(&name) {
                    Some(old) if old.any == any => Arc::clone(old),
                    _ => Arc::new(Resource::new(any)),
                };
                (name, resource)
            })
            .collect();
        TypeSnapshot::from_resources(resources)
    }

    /// The type version: a hash over `(name, resource version)` pairs in name order.
    pub fn version(&self) -> String {
        version_string(&self.digest)
    }

    /// The resources by name.
    pub fn resources(&self) -> &BTreeMap<String, Arc<Resource>> {
        &self.resources
    }

    /// The digest behind [`TypeSnapshot::version`].
    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }
}

/// Whether `any` has the type URL of `ty`; logs and refuses it otherwise.
fn type_matches(ty: ResourceType, name: &str, any: &Any) -> bool {
    let ok = any.type_url == ty.type_url();
    if !ok {
        tracing::error!(
            resource = name,
            expected = ty.type_url(),
            actual = %any.type_url,
            "resource has the wrong type url; not serving it"
        );
    }
    ok
}

/// An immutable view of the whole store at one moment.
#[derive(Clone, Debug)]
pub struct StoreView {
    ready: bool,
    types: [Arc<TypeSnapshot>; TYPES],
}

impl StoreView {
    /// An empty, not ready view.
    fn empty() -> Self {
        StoreView {
            ready: false,
            types: std::array::from_fn(|_| Arc::new(TypeSnapshot::from_resources(BTreeMap::new()))),
        }
    }

    /// Whether the store may be served (see [`SnapshotStore::mark_ready`]).
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The resources of one type.
    pub fn get(&self, ty: ResourceType) -> &TypeSnapshot {
        &self.types[slot(ty)]
    }

    /// The version of one type.
    pub fn version(&self, ty: ResourceType) -> String {
        self.get(ty).version()
    }
}

/// The shared, versioned store of Envoy resources; cheap to clone.
#[derive(Clone, Debug)]
pub struct SnapshotStore {
    inner: Arc<Inner>,
}

/// The state behind a [`SnapshotStore`].
#[derive(Debug)]
struct Inner {
    view: watch::Sender<Arc<StoreView>>,
    counters: Arc<Counters>,
}

impl Default for SnapshotStore {
    fn default() -> Self {
        SnapshotStore::new()
    }
}

impl SnapshotStore {
    /// An empty store that answers nothing until [`SnapshotStore::mark_ready`].
    pub fn new() -> Self {
        let (view, _) = watch::channel(Arc::new(StoreView::empty()));
        SnapshotStore {
            inner: Arc::new(Inner {
                view,
                counters: Arc::new(Counters::default()),
            }),
        }
    }

    /// Replaces the full set of each listed type at once (unlisted types stay as they are) and
    /// wakes every connection once, if anything changed.
    pub fn publish(&self, update: Vec<(ResourceType, BTreeMap<String, Any>)>) {
        let current = self.view();
        let built: Vec<_> = update
            .into_iter()
            .map(|(ty, resources)| {
                let set = TypeSnapshot::build(ty, resources, current.get(ty));
                (ty, Arc::new(set))
            })
            .collect();
        self.inner.view.send_if_modified(|view| {
            let mut next = StoreView::clone(view);
            let mut changed = false;
            for (ty, set) in built {
                let current = &mut next.types[slot(ty)];
                if current.digest != set.digest {
                    *current = set;
                    changed = true;
                }
            }
            if changed {
                *view = Arc::new(next);
            }
            changed
        });
    }

    /// Changes some resources of one type: inserts or replaces `upserts`, deletes `removals`.
    /// Used for endpoint-only updates, which need not rebuild the other resources.
    pub fn patch(
        &self,
        ty: ResourceType,
        upserts: BTreeMap<String, Any>,
        removals: BTreeSet<String>,
    ) {
        let upserts: Vec<_> = upserts
            .into_iter()
            .filter(|(name, any)| type_matches(ty, name, any))
            .map(|(name, any)| (name, Arc::new(Resource::new(any))))
            .collect();
        self.inner.view.send_if_modified(|view| {
            let mut resources = view.get(ty).resources.clone();
            for name in &removals {
                resources.remove(name);
            }
            for (name, resource) in upserts {
                resources.insert(name, resource);
            }
            let set = TypeSnapshot::from_resources(resources);
            if set.digest == view.get(ty).digest {
                return false;
            }
            let mut next = StoreView::clone(view);
            next.types[slot(ty)] = Arc::new(set);
            *view = Arc::new(next);
            true
        });
    }

    /// Allows answering Envoy: call once the caches synced and the first build is published.
    /// Until then connections are kept open but get no response at all.
    pub fn mark_ready(&self) {
        self.inner.view.send_if_modified(|view| {
            if view.ready {
                return false;
            }
            let mut next = StoreView::clone(view);
            next.ready = true;
            *view = Arc::new(next);
            true
        });
    }

    /// Whether [`SnapshotStore::mark_ready`] was called.
    pub fn is_ready(&self) -> bool {
        self.inner.view.borrow().ready
    }

    /// The current version of one type.
    pub fn version(&self, ty: ResourceType) -> String {
        self.inner.view.borrow().version(ty)
    }

    /// The current view of the whole store.
    pub fn view(&self) -> Arc<StoreView> {
        self.inner.view.borrow().clone()
    }

    /// A receiver woken on every change of the store.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<StoreView>> {
        self.inner.view.subscribe()
    }

    /// The live counters shared by this store's connections.
    pub fn counters(&self) -> Arc<Counters> {
        self.inner.counters.clone()
    }

    /// A copy of the counters: responses and NACKs per type, connected streams.
    pub fn stats(&self) -> XdsStats {
        self.inner.counters.snapshot()
    }
}

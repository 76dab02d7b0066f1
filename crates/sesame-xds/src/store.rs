//! The versioned snapshot store: the current resources of each type, shared by every connection.
//!
//! Writers (the rebuild loop, endpoint updates) replace whole tables or patch single resources;
//! each write builds a new immutable [`StoreView`] and wakes every connection once through a
//! `tokio::sync::watch` channel. Views share unchanged types and resources through `Arc`s, so a
//! resource is hashed once when it is stored and never re-encoded per connection.
//!
//! The store holds one [`Table`] per resource type, shared by state-of-the-world and delta
//! clients, plus [`Table::DeltaListeners`]: listeners that replace same-named ones for delta
//! clients only (`ingress_http` routing by scope instead of through one full route table).
//!
//! Every view carries a generation number and the names each recent write changed, so a delta
//! connection finds what an update changed in O(changed names) instead of comparing every
//! resource; a connection further behind than the kept history falls back to a full compare.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use envoy_types::pb::envoy::config::route::v3::VirtualHost;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use sesame_envoy::ResourceType;
use tokio::sync::watch;

use crate::stats::{Counters, XdsStats};
use crate::version::{
    Digest, add_entry, remove_entry, resource_digest, set_digest, version_string,
};
use crate::{TYPES, slot};

/// The number of tables: one per resource type, and the delta listener overlay.
const TABLES: usize = TYPES + 1;

/// The most recent views whose changed names a view keeps.
const HISTORY_VIEWS: usize = 64;

/// The most changed names the kept history may hold (beyond it, laggards compare in full).
const HISTORY_NAMES: usize = 100_000;

/// Up to this many changed names, the history is kept whatever the store's size; beyond it, at
/// most half as many names as the store has resources. A connection further behind compares
/// in full, at about the cost of going through that many names, and the first write of a
/// large store (every name at once) is not kept for a connection that cannot need it.
const HISTORY_SMALL: usize = 1024;

#[cfg(test)]
#[path = "store/tests.rs"]
mod tests;

/// Stored resources by name: a persistent map, so that a write patching a few resources
/// copies O(changed · log n) of the table instead of all of it, and views share the rest.
pub type Resources = imbl::OrdMap<String, Arc<Resource>>;

/// The plain-HTTP route configuration of state-of-the-world clients (delta clients route by
/// scope instead), with every virtual host inline: the store makes it from its VirtualHost
/// table, the hosts one by one (see [`Resource::inline_route_table`]), whatever a writer gives
/// for it.
pub const INLINE_ROUTE_TABLE: &str = sesame_envoy::route::HTTP_ROUTE_CONFIG;

/// One stored resource: its encoded form and its content digest. The type URL is the table's
/// (one static string, not a copy per resource: a store holds tens of thousands of them).
#[derive(Debug)]
pub struct Resource {
    type_url: &'static str,
    value: OnceLock<Box<[u8]>>,
    /// For the state-of-the-world route table with every VHDS virtual host inline: the
    /// VirtualHost table snapshot (its serial and resources) put together into `value` when it
    /// is first read.
    inline_hosts: Option<Box<(u64, Resources)>>,
    digest: Digest,
}

impl Resource {
    /// Wraps an encoded resource of type `ty` (its type URL already checked), hashing it once.
    pub(crate) fn new(ty: ResourceType, any: Any) -> Self {
        let digest = resource_digest(&any);
        Resource {
            type_url: ty.type_url(),
            value: OnceLock::from(any.value.into_boxed_slice()),
            inline_hosts: None,
            digest,
        }
    }

    /// The route table [`INLINE_ROUTE_TABLE`] over these VHDS virtual hosts. It costs O(1)
    /// until read: only state-of-the-world clients read it, and a change of one host would
    /// otherwise copy and hash every host (1.3 MB at 10 000 hosts). Its digest is the virtual
    /// hosts' set digest, so the same hosts give the same version.
    fn inline_route_table(virtual_hosts: &TypeSnapshot) -> Self {
        let mut digest = [0; 20];
        add_entry(&mut digest, INLINE_ROUTE_TABLE, virtual_hosts.digest());
        Resource {
            type_url: ResourceType::RouteConfiguration.type_url(),
            value: OnceLock::new(),
            inline_hosts: Some(Box::new((
                virtual_hosts.serial,
                virtual_hosts.resources.clone(),
            ))),
            digest,
        }
    }

    /// The encoded resource (without its type URL).
    pub fn value(&self) -> &[u8] {
        self.value.get_or_init(|| {
            let hosts = self.inline_hosts.iter().flat_map(|h| h.1.values());
            let table =
                sesame_envoy::route::http_route_configuration_from_vhds(hosts.map(|r| r.value()));
            table.value.into_boxed_slice()
        })
    }

    /// The resource as a generated message holds it: a copy of its type URL and bytes (answers
    /// write it from the store instead; tests compare against it).
    #[cfg(test)]
    pub(crate) fn to_any(&self) -> Any {
        Any {
            type_url: self.type_url.to_string(),
            value: self.value().to_vec(),
        }
    }

    /// Whether `any` encodes this very resource.
    fn is(&self, any: &Any) -> bool {
        self.type_url == any.type_url && *self.value() == *any.value
    }

    /// The resource's content version (a hash of its encoded bytes).
    pub fn version(&self) -> String {
        version_string(&self.digest)
    }

    /// The resource's type URL.
    pub(crate) fn type_url(&self) -> &'static str {
        self.type_url
    }

    /// The resource's content digest.
    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }
}

/// Resources are the same when their encoded bytes are: compared by digest.
impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

/// The digest of a table of resources: over `(name, resource digest)` pairs in name order.
pub(crate) fn resources_digest(resources: &Resources) -> Digest {
    set_digest(resources.iter().map(|(n, r)| (n.as_str(), r.digest())))
}

/// Every resource of one type at one version.
#[derive(Debug)]
pub struct TypeSnapshot {
    resources: Resources,
    digest: Digest,
    /// Unique to this snapshot: a connection that saw it has seen this content.
    serial: u64,
}

/// The source of [`TypeSnapshot`] serials.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

impl TypeSnapshot {
    /// A type snapshot from already hashed resources and their set digest.
    fn new(resources: Resources, digest: Digest) -> Self {
        TypeSnapshot {
            resources,
            digest,
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// A type snapshot from already hashed resources.
    fn from_resources(resources: Resources) -> Self {
        let digest = resources_digest(&resources);
        TypeSnapshot::new(resources, digest)
    }

    /// A type snapshot from encoded resources, dropping any whose type URL is not `ty`'s
    /// (Envoy would reject the whole response for it) and any badly named virtual host.
    fn build(ty: ResourceType, resources: BTreeMap<String, Any>, current: &TypeSnapshot) -> Self {
        let resources = resources
            .into_iter()
            .filter(|(name, any)| type_matches(ty, name, any))
            .filter_map(|(name, any)| {
                // Most resources are unchanged from one build to the next: comparing bytes is far
                // cheaper than hashing them again, and keeps one copy of them.
                let resource = match current.resources.get(&name) {
                    // The inline route table is the store's own: kept until its hosts change.
                    Some(old) if old.inline_hosts.is_some() => Arc::clone(old),
                    Some(old) if old.is(&any) => Arc::clone(old),
                    _ if !virtual_host_named(ty, &name, &any) => return None,
                    _ => Arc::new(Resource::new(ty, any)),
                };
                Some((name, resource))
            })
            .collect();
        TypeSnapshot::from_resources(resources)
    }

    /// The type version: a hash over `(name, resource version)` pairs in name order.
    pub fn version(&self) -> String {
        version_string(&self.digest)
    }

    /// The resources by name.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// The digest behind [`TypeSnapshot::version`].
    pub(crate) fn digest(&self) -> &Digest {
        &self.digest
    }

    /// What identifies this snapshot among all of the store's: equal serials, same content.
    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }
}

/// Whether a virtual host's own name is its resource name (other types always pass); logs and
/// refuses it otherwise. Envoy keeps VHDS virtual hosts by their `name` but removes them by
/// resource name, so a virtual host named otherwise could never be removed.
fn virtual_host_named(ty: ResourceType, name: &str, any: &Any) -> bool {
    if ty != ResourceType::VirtualHost {
        return true;
    }
    let own = VirtualHost::decode(any.value.as_slice()).map(|vh| vh.name);
    let ok = own.as_deref() == Ok(name);
    if !ok {
        tracing::error!(
            resource = name,
            virtual_host = ?own,
            "virtual host name differs from its resource name; not serving it"
        );
    }
    ok
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

/// One table of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// The resources of one type, served to every client (the delta-only types: to delta
    /// clients only).
    Shared(ResourceType),
    /// Listeners that replace same-named [`ResourceType::Listener`]s for delta clients only
    /// (names found only here are served to delta clients too).
    DeltaListeners,
}

impl Table {
    /// The resource type the table holds.
    pub fn resource_type(self) -> ResourceType {
        match self {
            Table::Shared(ty) => ty,
            Table::DeltaListeners => ResourceType::Listener,
        }
    }

    /// The table's slot in per-table arrays.
    fn slot(self) -> usize {
        match self {
            Table::Shared(ty) => slot(ty),
            Table::DeltaListeners => TYPES,
        }
    }
}

impl From<ResourceType> for Table {
    fn from(ty: ResourceType) -> Self {
        Table::Shared(ty)
    }
}

/// Changes to some resources of one table (see [`SnapshotStore::patch_tables`]): what an
/// incremental translation returns per type.
pub use sesame_envoy::incremental::TableChanges as Patch;

/// The names one write changed (added, replaced with other content, or removed), per table.
#[derive(Debug)]
struct ViewChanges {
    generation: u64,
    names: [BTreeSet<String>; TABLES],
}

impl ViewChanges {
    /// How many names the entry holds.
    fn len(&self) -> usize {
        self.names.iter().map(BTreeSet::len).sum()
    }
}

/// An immutable view of the whole store at one moment.
#[derive(Clone, Debug)]
pub struct StoreView {
    ready: bool,
    generation: u64,
    types: [Arc<TypeSnapshot>; TABLES],
    /// The changes of the latest views, oldest first; the last one made this view.
    history: VecDeque<Arc<ViewChanges>>,
}

impl StoreView {
    /// An empty, not ready view.
    fn empty() -> Self {
        StoreView {
            ready: false,
            generation: 0,
            types: std::array::from_fn(|_| {
                Arc::new(TypeSnapshot::from_resources(Resources::new()))
            }),
            history: VecDeque::new(),
        }
    }

    /// The view after this one: `edits` replace tables (with the names they changed).
    fn next(&self, edits: Vec<(Table, Arc<TypeSnapshot>, BTreeSet<String>)>) -> StoreView {
        let mut next = self.clone();
        next.generation += 1;
        let mut names: [BTreeSet<String>; TABLES] = Default::default();
        for (table, set, changed) in edits {
            next.types[table.slot()] = set;
            names[table.slot()].extend(changed);
        }
        next.history.push_back(Arc::new(ViewChanges {
            generation: next.generation,
            names,
        }));
        let mut total: usize = next.history.iter().map(|c| c.len()).sum();
        let resources: usize = next.types.iter().map(|t| t.resources.len()).sum();
        let limit = HISTORY_NAMES.min(HISTORY_SMALL.max(resources / 2));
        while next.history.len() > HISTORY_VIEWS || total > limit {
            let Some(old) = next.history.pop_front() else {
                break;
            };
            total -= old.len();
        }
        next
    }

    /// Whether the store may be served (see [`SnapshotStore::mark_ready`]).
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The number of writes (including [`SnapshotStore::mark_ready`]) before this view.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The resources of one type as state-of-the-world clients see them.
    pub fn get(&self, ty: ResourceType) -> &TypeSnapshot {
        self.table(Table::Shared(ty))
    }

    /// The resources of one table.
    pub fn table(&self, table: Table) -> &TypeSnapshot {
        &self.types[table.slot()]
    }

    /// The version of one type (as state-of-the-world clients see it).
    pub fn version(&self, ty: ResourceType) -> String {
        self.get(ty).version()
    }

    /// The tables a delta client's resources of `ty` come from, the overriding one first.
    pub fn delta_tables(&self, ty: ResourceType) -> Vec<&TypeSnapshot> {
        match ty {
            ResourceType::Listener => vec![self.table(Table::DeltaListeners), self.get(ty)],
            _ => vec![self.get(ty)],
        }
    }

    /// The resource named `name` of `ty` as delta clients see it (the overlay first).
    pub fn delta_resource(&self, ty: ResourceType, name: &str) -> Option<&Arc<Resource>> {
        self.delta_tables(ty)
            .into_iter()
            .find_map(|t| t.resources.get(name))
    }

    /// The version of `ty` as delta clients see it (their `system_version_info`).
    pub fn delta_version(&self, ty: ResourceType) -> String {
        match ty {
            ResourceType::Listener => {
                let shared = self.get(ty).digest();
                let overlay = self.table(Table::DeltaListeners).digest();
                version_string(&set_digest([("shared", shared), ("delta", overlay)]))
            }
            _ => self.get(ty).version(),
        }
    }

    /// The names of each type that changed for delta clients between the view of `generation`
    /// and this one; `None` when that view is older than the kept history (compare in full).
    pub fn delta_changes_since(
        &self,
        generation: u64,
    ) -> Option<BTreeMap<ResourceType, BTreeSet<&str>>> {
        let mut out = BTreeMap::new();
        for ty in ResourceType::ALL {
            let names = self.delta_changed_names(ty, generation)?;
            if !names.is_empty() {
                out.insert(ty, names);
            }
        }
        Some(out)
    }

    /// The names of `ty` that changed for delta clients between the view of `generation` and
    /// this one (for listeners, in the shared table or the overlay), in
    /// O(changed names); `None` when that view is older than the kept history.
    pub fn delta_changed_names(&self, ty: ResourceType, generation: u64) -> Option<BTreeSet<&str>> {
        let mut out = BTreeSet::new();
        if generation == self.generation {
            return Some(out);
        }
        let oldest = self.history.front()?.generation;
        if generation > self.generation || oldest > generation + 1 {
            return None;
        }
        let mut slots = vec![slot(ty)];
        if ty == ResourceType::Listener {
            slots.push(Table::DeltaListeners.slot());
        }
        for changes in self.history.iter().filter(|c| c.generation > generation) {
            for &i in &slots {
                out.extend(changes.names[i].iter().map(String::as_str));
            }
        }
        Some(out)
    }
}

/// The names whose resources differ between two tables (by content digest).
fn changed_names(old: &TypeSnapshot, new: &TypeSnapshot) -> BTreeSet<String> {
    if old.digest == new.digest {
        return BTreeSet::new();
    }
    let (mut a, mut b) = (
        old.resources.iter().peekable(),
        new.resources.iter().peekable(),
    );
    let mut out = BTreeSet::new();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return out,
            (Some((n, _)), None) => {
                out.insert((*n).clone());
                a.next();
            }
            (None, Some((n, _))) => {
                out.insert((*n).clone());
                b.next();
            }
            (Some((na, ra)), Some((nb, rb))) => match na.cmp(nb) {
                std::cmp::Ordering::Less => {
                    out.insert((*na).clone());
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    out.insert((*nb).clone());
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if ra.digest != rb.digest {
                        out.insert((*na).clone());
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
}

/// Makes [`INLINE_ROUTE_TABLE`], where the route configurations after `edits` have it, the
/// inline form of the virtual hosts after `edits`: O(1) per write.
fn keep_inline_route_table(
    view: &StoreView,
    edits: &mut Vec<(Table, Arc<TypeSnapshot>, BTreeSet<String>)>,
) {
    let after = |table: Table| {
        (edits.iter().find(|(t, _, _)| *t == table))
            .map_or_else(|| view.table(table), |(_, set, _)| set.as_ref())
    };
    let routes = after(Table::Shared(ResourceType::RouteConfiguration));
    let Some(current) = routes.resources.get(INLINE_ROUTE_TABLE) else {
        return;
    };
    let virtual_hosts = after(Table::Shared(ResourceType::VirtualHost));
    if current.inline_hosts.as_ref().map(|h| h.0) == Some(virtual_hosts.serial) {
        return;
    }
    let inline = Resource::inline_route_table(virtual_hosts);
    let mut resources = routes.resources.clone();
    let mut digest = routes.digest;
    remove_entry(&mut digest, INLINE_ROUTE_TABLE, &current.digest);
    add_entry(&mut digest, INLINE_ROUTE_TABLE, &inline.digest);
    resources.insert(INLINE_ROUTE_TABLE.to_string(), Arc::new(inline));
    let set = Arc::new(TypeSnapshot::new(resources, digest));
    let table = Table::Shared(ResourceType::RouteConfiguration);
    match edits.iter_mut().find(|(t, _, _)| *t == table) {
        Some(edit) => {
            edit.1 = set;
            edit.2.insert(INLINE_ROUTE_TABLE.to_string());
        }
        None => edits.push((table, set, BTreeSet::from([INLINE_ROUTE_TABLE.to_string()]))),
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

    /// Replaces the full set of each listed table at once (unlisted tables stay as they are)
    /// and wakes every connection once, if anything changed. Tables are given as a
    /// [`ResourceType`] (its shared table) or as a [`Table`].
    pub fn publish<T: Into<Table>>(&self, update: Vec<(T, BTreeMap<String, Any>)>) {
        let current = self.view();
        let built: Vec<_> = update
            .into_iter()
            .map(|(table, resources)| {
                let table = table.into();
                let set =
                    TypeSnapshot::build(table.resource_type(), resources, current.table(table));
                (table, Arc::new(set))
            })
            .collect();
        self.commit(|view| {
            built
                .into_iter()
                .map(|(table, set)| {
                    let changed = changed_names(view.table(table), &set);
                    (table, set, changed)
                })
                .collect()
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
        self.patch_tables(vec![(Table::Shared(ty), Patch { upserts, removals })]);
    }

    /// Changes some resources of several tables in one view change (connections see all of it
    /// or none of it): per table, deletes the `removals`, then inserts or replaces the `upserts`.
    pub fn patch_tables(&self, patches: Vec<(Table, Patch)>) {
        let hashed: Vec<_> = patches
            .into_iter()
            .map(|(table, patch)| {
                let ty = table.resource_type();
                let upserts: Vec<_> = patch
                    .upserts
                    .into_iter()
                    .filter(|(name, any)| {
                        type_matches(ty, name, any) && virtual_host_named(ty, name, any)
                    })
                    .map(|(name, any)| (name, Arc::new(Resource::new(ty, any))))
                    .collect();
                (table, upserts, patch.removals)
            })
            .collect();
        self.commit(|view| {
            let mut tables: BTreeMap<Table, (Resources, Digest, BTreeSet<String>)> =
                BTreeMap::new();
            for (table, upserts, removals) in hashed {
                let (resources, digest, changed) = tables.entry(table).or_insert_with(|| {
                    let set = view.table(table);
                    (set.resources.clone(), set.digest, BTreeSet::new())
                });
                // The set digest follows each change: O(changed), not O(table).
                for name in removals {
                    if let Some(old) = resources.remove(&name) {
                        remove_entry(digest, &name, &old.digest);
                        changed.insert(name);
                    }
                }
                for (name, resource) in upserts {
                    let old = resources.get(&name);
                    if old.is_some_and(|r| r.digest == resource.digest) {
                        continue;
                    }
                    if let Some(old) = old {
                        remove_entry(digest, &name, &old.digest);
                    }
                    add_entry(digest, &name, &resource.digest);
                    resources.insert(name.clone(), resource);
                    changed.insert(name);
                }
            }
            tables
                .into_iter()
                .filter(|(_, (_, _, changed))| !changed.is_empty())
                .map(|(table, (resources, digest, changed))| {
                    (
                        table,
                        Arc::new(TypeSnapshot::new(resources, digest)),
                        changed,
                    )
                })
                .collect()
        });
    }

    /// Applies `edit`'s table replacements as one new view, if any of them changed a name.
    fn commit(
        &self,
        edit: impl FnOnce(&StoreView) -> Vec<(Table, Arc<TypeSnapshot>, BTreeSet<String>)>,
    ) {
        self.inner.view.send_if_modified(|view| {
            let mut edits: Vec<_> = edit(view)
                .into_iter()
                .filter(|(_, _, changed)| !changed.is_empty())
                .collect();
            keep_inline_route_table(view, &mut edits);
            if edits.is_empty() {
                return false;
            }
            *view = Arc::new(view.next(edits));
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
            let mut next = view.next(Vec::new());
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

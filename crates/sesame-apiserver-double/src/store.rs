//! The object store: every object by kind, namespace and name; one global resource-version
//! counter (like etcd); the event history that watches replay; and the broadcast channel that
//! fans live events out to them. Sync and lock-protected: the HTTP layer and the direct Rust
//! API both call it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use crate::error::Error;
use crate::meta;
use crate::page::ContinueToken;
use crate::patch::{self, PatchKind};
use crate::resources::Resource;
use crate::selector::Filter;

#[cfg(test)]
mod tests;

/// How many live events a slow watch may fall behind before its stream is ended.
const EVENT_BUFFER: usize = 4096;

/// The resource version of an empty store, as etcd's first revision: never `0`, which a watch
/// reads as "from now" rather than "after version 0".
const INITIAL_RV: u64 = 1;

/// Where an object lives; orders like the API server lists: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// The kind.
    pub resource: Resource,
    /// The namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl Key {
    /// The key of `name` in `namespace` (ignored for cluster-scoped kinds).
    pub fn new(resource: Resource, namespace: Option<&str>, name: &str) -> Key {
        let namespace = if resource.descriptor().namespaced {
            namespace.unwrap_or_default()
        } else {
            ""
        };
        Key {
            resource,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object itself.
    Main,
    /// The `/status` subresource.
    Status,
}

/// The type of a stored watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// An object was created.
    Added,
    /// An object was changed.
    Modified,
    /// An object was deleted.
    Deleted,
}

/// One entry of the event history.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The resource version this event produced.
    pub rv: u64,
    /// The kind of the object.
    pub resource: Resource,
    /// What happened.
    pub kind: EventType,
    /// The object after the event (for `Deleted`, the last state with the new resource version).
    pub object: Value,
    /// The object before a `Modified` event, so watches can tell selector transitions.
    pub previous: Option<Value>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The matching objects, sorted by namespace then name.
    pub items: Vec<Value>,
    /// The list's resource version (the first page's, for later pages).
    pub rv: u64,
    /// The token for the next page, if more items match.
    pub continue_token: Option<String>,
}

/// Why a list failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    /// The continue token is malformed (400).
    BadToken(String),
    /// The continue token predates the compaction point (410).
    Expired,
}

/// A watch's starting point: the history to replay, then the live receiver.
pub struct WatchStart {
    /// Events after the requested resource version, oldest first.
    pub replay: Vec<Arc<Event>>,
    /// Live events from now on (every kind; the watch filters).
    pub live: broadcast::Receiver<Arc<Event>>,
    /// The global resource version when the watch started.
    pub rv: u64,
}

struct State {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: Vec<Arc<Event>>,
    compacted: u64,
    status_conflicts: usize,
    uids: u64,
    uid_seed: u32,
    events: broadcast::Sender<Arc<Event>>,
    /// Kinds answered with 404, as a real server answers for a CRD that is not installed.
    unserved: BTreeSet<Resource>,
}

/// The lock-protected store.
pub struct Store {
    state: Mutex<State>,
    bookmarks: broadcast::Sender<()>,
}

impl Default for Store {
    fn default() -> Store {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Store {
            state: Mutex::new(State {
                objects: BTreeMap::new(),
                rv: INITIAL_RV,
                history: Vec::new(),
                compacted: INITIAL_RV,
                status_conflicts: 0,
                uids: 0,
                uid_seed: seed,
                events: broadcast::channel(EVENT_BUFFER).0,
                unserved: BTreeSet::new(),
            }),
            bookmarks: broadcast::channel(16).0,
        }
    }
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn next_uid(&mut self) -> String {
        self.uids += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", self.uid_seed, self.uids)
    }

    fn emit(
        &mut self,
        resource: Resource,
        kind: EventType,
        object: Value,
        previous: Option<Value>,
    ) {
        let rv = self.rv;
        let event = Arc::new(Event {
            rv,
            resource,
            kind,
            object,
            previous,
        });
        self.history.push(Arc::clone(&event));
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    fn create(&mut self, key: &Key, mut object: Value) -> Result<Value, Error> {
        if self.objects.contains_key(key) {
            return Err(Error::AlreadyExists);
        }
        let d = key.resource.descriptor();
        if let Value::Object(map) = &mut object {
            map.insert(
                "apiVersion".into(),
                Value::String(key.resource.api_version()),
            );
            map.insert("kind".into(), Value::String(d.kind.into()));
            if d.status_subresource {
                map.remove("status");
            }
        }
        let uid = self.next_uid();
        let rv = self.next_rv();
        let metadata = meta::metadata_mut(&mut object);
        metadata.insert("name".into(), Value::String(key.name.clone()));
        if d.namespaced {
            metadata.insert("namespace".into(), Value::String(key.namespace.clone()));
        } else {
            metadata.remove("namespace");
        }
        metadata.insert("uid".into(), Value::String(uid));
        metadata.insert(
            "creationTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        metadata.insert("generation".into(), Value::from(1));
        metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
        self.objects.insert(key.clone(), object.clone());
        self.emit(key.resource, EventType::Added, object.clone(), None);
        Ok(object)
    }

    /// Stores `next` as the new state of `key` (whose current state is `current`), keeping
    /// identity metadata and computing the generation. A write that changes nothing is a no-op.
    fn commit(&mut self, key: &Key, current: &Value, sub: Subresource, body: Value) -> Value {
        let d = key.resource.descriptor();
        let (mut next, status) = match sub {
            Subresource::Status => (current.clone(), body.get("status").cloned()),
            Subresource::Main if d.status_subresource => (body, current.get("status").cloned()),
            Subresource::Main => {
                let status = body.get("status").cloned();
                (body, status)
            }
        };
        if let Value::Object(map) = &mut next {
            map.insert(
                "apiVersion".into(),
                Value::String(key.resource.api_version()),
            );
            map.insert("kind".into(), Value::String(d.kind.into()));
            match status {
                Some(status) => map.insert("status".into(), status),
                None => map.remove("status"),
            };
        }
        let old = current
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let metadata = meta::metadata_mut(&mut next);
        for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
            restore(metadata, &old, field);
        }
        metadata.insert("name".into(), Value::String(key.name.clone()));
        if d.namespaced {
            metadata.insert("namespace".into(), Value::String(key.namespace.clone()));
        }
        if next == *current {
            return next;
        }
        if meta::spec_part(&next) != meta::spec_part(current) {
            let generation = old.get("generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            meta::metadata_mut(&mut next).insert("generation".into(), Value::from(generation));
        }
        let rv = self.next_rv();
        meta::set_resource_version(&mut next, rv);
        self.objects.insert(key.clone(), next.clone());
        self.emit(
            key.resource,
            EventType::Modified,
            next.clone(),
            Some(current.clone()),
        );
        next
    }

    /// Consumes one injected status conflict, if any: bumps the object as if someone else wrote it.
    fn injected_conflict(&mut self, key: &Key, current: &Value) -> Result<(), Error> {
        if self.status_conflicts == 0 {
            return Ok(());
        }
        self.status_conflicts -= 1;
        let mut bumped = current.clone();
        let rv = self.next_rv();
        meta::set_resource_version(&mut bumped, rv);
        self.objects.insert(key.clone(), bumped.clone());
        self.emit(
            key.resource,
            EventType::Modified,
            bumped,
            Some(current.clone()),
        );
        Err(Error::Conflict)
    }

    fn current(&self, key: &Key) -> Result<Value, Error> {
        self.objects.get(key).cloned().ok_or(Error::NotFound)
    }

    fn check_status_target(key: &Key, sub: Subresource) -> Result<(), Error> {
        if sub == Subresource::Status && !key.resource.descriptor().status_subresource {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

fn restore(metadata: &mut Map<String, Value>, old: &Map<String, Value>, field: &str) {
    match old.get(field) {
        Some(value) => metadata.insert(field.to_owned(), value.clone()),
        None => metadata.remove(field),
    };
}

/// A `generateName` suffix: five characters from the API server's alphabet, unique per counter.
fn name_suffix(mut n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let base = ALPHABET.len() as u64;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % base) as usize];
            n /= base;
            char::from(c)
        })
        .collect()
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `resource` is served (its CRD, for a custom kind, is installed).
    pub fn served(&self, resource: Resource) -> bool {
        !self.lock().unserved.contains(&resource)
    }

    /// Serves `resources` (`served`), or answers 404 for them as for a CRD not installed.
    pub fn set_served(&self, resources: &[Resource], served: bool) {
        let mut state = self.lock();
        for resource in resources {
            if served {
                state.unserved.remove(resource);
            } else {
                state.unserved.insert(*resource);
            }
        }
    }

    /// Creates `object` of `resource`. `namespace` (from the URL) wins over
    /// `metadata.namespace`; `metadata.generateName` is honoured when there is no name.
    pub fn create(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        mut object: Value,
    ) -> Result<Value, Error> {
        if !object.is_object() {
            return Err(Error::Invalid("the body must be a JSON object".into()));
        }
        let mut state = self.lock();
        let metadata = meta::metadata_mut(&mut object);
        let field = |m: &Map<String, Value>, f: &str| {
            m.get(f)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let name = match (field(metadata, "name"), field(metadata, "generateName")) {
            (Some(name), _) => name,
            (None, Some(prefix)) => format!(
                "{prefix}{}",
                name_suffix(state.uids + u64::from(state.uid_seed))
            ),
            (None, None) => {
                return Err(Error::Invalid(
                    "metadata.name: Required value: name or generateName is required".into(),
                ));
            }
        };
        let namespace = namespace
            .map(str::to_owned)
            .or_else(|| field(metadata, "namespace"));
        if resource.descriptor().namespaced && namespace.is_none() {
            return Err(Error::Invalid("metadata.namespace: Required value".into()));
        }
        metadata.remove("resourceVersion");
        state.create(&Key::new(resource, namespace.as_deref(), &name), object)
    }

    /// Replaces the object (or only its status); a set, stale `metadata.resourceVersion` is a
    /// conflict.
    pub fn replace(&self, key: &Key, body: Value, sub: Subresource) -> Result<Value, Error> {
        if !body.is_object() {
            return Err(Error::Invalid("the body must be a JSON object".into()));
        }
        let mut state = self.lock();
        State::check_status_target(key, sub)?;
        let current = state.current(key)?;
        if sub == Subresource::Status {
            state.injected_conflict(key, &current)?;
        }
        if meta::resource_version(&body)
            .is_some_and(|rv| Some(rv) != meta::resource_version(&current))
        {
            return Err(Error::Conflict);
        }
        Ok(state.commit(key, &current, sub, body))
    }

    /// Patches the object (or only its status). An apply patch creates a missing object.
    pub fn patch(
        &self,
        key: &Key,
        kind: PatchKind,
        body: &Value,
        sub: Subresource,
    ) -> Result<Value, Error> {
        let mut state = self.lock();
        State::check_status_target(key, sub)?;
        let current = match state.objects.get(key) {
            Some(current) => current.clone(),
            None if kind == PatchKind::Apply && sub == Subresource::Main => {
                let mut object = Value::Object(Map::new());
                patch::apply(kind, &mut object, body).map_err(Error::Invalid)?;
                meta::metadata_mut(&mut object).remove("resourceVersion");
                return state.create(key, object);
            }
            None => return Err(Error::NotFound),
        };
        if sub == Subresource::Status {
            state.injected_conflict(key, &current)?;
        }
        let mut patched = current.clone();
        patch::apply(kind, &mut patched, body).map_err(Error::Invalid)?;
        if meta::resource_version(&patched)
            .is_some_and(|rv| Some(rv) != meta::resource_version(&current))
        {
            return Err(Error::Conflict);
        }
        Ok(state.commit(key, &current, sub, patched))
    }

    /// Deletes the object, returning it as it was; the DELETED event carries a new resource
    /// version.
    pub fn delete(&self, key: &Key) -> Result<Value, Error> {
        let mut state = self.lock();
        let current = state.objects.remove(key).ok_or(Error::NotFound)?;
        let rv = state.next_rv();
        let mut gone = current.clone();
        meta::set_resource_version(&mut gone, rv);
        state.emit(key.resource, EventType::Deleted, gone, None);
        Ok(current)
    }

    /// The object at `key`, if any.
    pub fn get(&self, key: &Key) -> Option<Value> {
        self.lock().objects.get(key).cloned()
    }

    /// One page of the objects `filter` selects, sorted by namespace then name.
    pub fn list(
        &self,
        filter: &Filter,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, ListError> {
        let state = self.lock();
        let (rv, after) = match continue_token {
            Some(token) => {
                let token = ContinueToken::decode(token).map_err(ListError::BadToken)?;
                if token.rv < state.compacted {
                    return Err(ListError::Expired);
                }
                (token.rv, Some((token.namespace, token.name)))
            }
            None => (state.rv, None),
        };
        let start = Key {
            resource: filter.resource,
            namespace: String::new(),
            name: String::new(),
        };
        let matching = state
            .objects
            .range(start..)
            .take_while(|(k, _)| k.resource == filter.resource)
            .filter(|(k, _)| {
                after
                    .as_ref()
                    .is_none_or(|(ns, n)| (&k.namespace, &k.name) > (ns, n))
            })
            .filter(|(_, v)| filter.matches(v));
        let mut page = Page {
            items: Vec::new(),
            rv,
            continue_token: None,
        };
        let mut last: Option<&Key> = None;
        for (key, object) in matching {
            if let (Some(limit), Some(last)) = (limit, last)
                && page.items.len() >= limit
            {
                let token = ContinueToken {
                    rv,
                    namespace: last.namespace.clone(),
                    name: last.name.clone(),
                };
                page.continue_token = Some(token.encode());
                break;
            }
            page.items.push(object.clone());
            last = Some(key);
        }
        Ok(page)
    }

    /// Starts a watch on `resource` after resource version `from` (from now if `None`); the
    /// error is the compaction point when `from` predates it.
    pub fn watch(&self, resource: Resource, from: Option<u64>) -> Result<WatchStart, u64> {
        let state = self.lock();
        if from.is_some_and(|n| n < state.compacted) {
            return Err(state.compacted);
        }
        let replay = match from {
            Some(n) => state
                .history
                .iter()
                .filter(|e| e.rv > n && e.resource == resource)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        Ok(WatchStart {
            replay,
            live: state.events.subscribe(),
            rv: state.rv,
        })
    }

    /// The current global resource version.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    /// Forgets the event history up to now.
    pub fn compact(&self) {
        let mut state = self.lock();
        state.history.clear();
        state.compacted = state.rv;
    }

    /// Makes the next `n` status writes fail with a conflict.
    pub fn fail_status_updates_with_conflict(&self, n: usize) {
        self.lock().status_conflicts = n;
    }

    /// A receiver that fires whenever [`Store::send_bookmarks`] is called.
    pub fn bookmark_requests(&self) -> broadcast::Receiver<()> {
        self.bookmarks.subscribe()
    }

    /// Asks every bookmark-enabled watch to send a BOOKMARK now.
    pub fn send_bookmarks(&self) {
        let _ = self.bookmarks.send(());
    }
}

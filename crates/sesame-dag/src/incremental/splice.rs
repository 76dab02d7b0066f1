//! The output as the sum of its parts: each part's entries are put into the output, and an
//! entry several parts share (a cluster, a Secret, a reference, a Service's status) stays until
//! the last part holding it is gone.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use crate::build::BuildOutput;
use crate::object::ObjectKey;
use crate::status::ObjectStatus;

use super::BuildDelta;

/// The keys of the entries one part put into the output.
#[derive(Clone, Debug, Default)]
pub(crate) struct Keys {
    http: Vec<String>,
    https: Vec<String>,
    passthrough: Vec<String>,
    gateway_listeners: Vec<String>,
    clusters: Vec<String>,
    secrets: Vec<String>,
    fallback: Vec<String>,
    /// The Services and Secrets the part looked up.
    pub references: Vec<ObjectKey>,
    status: Vec<ObjectKey>,
}

/// How many parts hold each entry of the output.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    http: HashMap<String, u32>,
    https: HashMap<String, u32>,
    passthrough: HashMap<String, u32>,
    gateway_listeners: HashMap<String, u32>,
    clusters: HashMap<String, u32>,
    secrets: HashMap<String, u32>,
    fallback: HashMap<String, u32>,
    references: HashMap<ObjectKey, u32>,
    status: HashMap<ObjectKey, u32>,
}

/// An edit of the output that replaces some parts by others: the entries of the parts
/// replaced are released when it starts, the new parts' entries are put one part at a time
/// (so a part's own output is dropped as soon as it is in), and the entries no part holds any
/// more are removed when it finishes. Every entry whose value changed is recorded in the
/// delta, if one is given; an entry released and put back with the same value is not.
pub(crate) struct Splice<'a> {
    output: &'a mut BuildOutput,
    counts: &'a mut Counts,
    released: Keys,
    delta: Option<&'a mut BuildDelta>,
}

impl<'a> Splice<'a> {
    /// Starts replacing the parts whose keys are `old`.
    pub(crate) fn new(
        output: &'a mut BuildOutput,
        counts: &'a mut Counts,
        old: Vec<Keys>,
        delta: Option<&'a mut BuildDelta>,
    ) -> Self {
        let mut released = Keys::default();
        for keys in old {
            released.append(keys);
        }
        release(&mut counts.http, &released.http);
        release(&mut counts.https, &released.https);
        release(&mut counts.passthrough, &released.passthrough);
        release(&mut counts.gateway_listeners, &released.gateway_listeners);
        release(&mut counts.clusters, &released.clusters);
        release(&mut counts.secrets, &released.secrets);
        release(&mut counts.fallback, &released.fallback);
        release(&mut counts.references, &released.references);
        release(&mut counts.status, &released.status);
        Splice {
            output,
            counts,
            released,
            delta,
        }
    }

    /// Puts the entries of one new part, and returns their keys.
    pub(crate) fn add(&mut self, part: BuildOutput) -> Keys {
        let BuildOutput { dag: part, status } = part;
        let (dag, counts) = (&mut self.output.dag, &mut *self.counts);
        let mut delta = self.delta.as_deref_mut();
        let mut fallback_changed = BTreeSet::new();
        let keys = Keys {
            http: hold(
                &mut dag.http,
                &mut counts.http,
                part.http,
                delta.as_mut().map(|d| &mut d.http),
            ),
            https: hold(
                &mut dag.https,
                &mut counts.https,
                part.https,
                delta.as_mut().map(|d| &mut d.https),
            ),
            passthrough: hold(
                &mut dag.passthrough,
                &mut counts.passthrough,
                part.passthrough,
                delta.as_mut().map(|d| &mut d.passthrough),
            ),
            gateway_listeners: hold(
                &mut dag.gateway_listeners,
                &mut counts.gateway_listeners,
                part.gateway_listeners,
                delta.as_mut().map(|d| &mut d.gateway_listeners),
            ),
            clusters: hold(
                &mut dag.clusters,
                &mut counts.clusters,
                part.clusters,
                delta.as_mut().map(|d| &mut d.clusters),
            ),
            secrets: hold(
                &mut dag.secrets,
                &mut counts.secrets,
                part.secrets,
                delta.as_mut().map(|d| &mut d.secrets),
            ),
            fallback: hold(
                &mut dag.fallback_secret,
                &mut counts.fallback,
                part.fallback_secret.map(|name| (name, ())),
                Some(&mut fallback_changed),
            ),
            references: hold(
                &mut dag.references,
                &mut counts.references,
                part.references.into_iter().map(|k| (k, ())),
                delta.as_mut().map(|d| &mut d.references),
            ),
            status: hold(
                &mut self.output.status.objects,
                &mut counts.status,
                status.objects,
                delta.as_mut().map(|d| &mut d.status),
            ),
        };
        if let Some(delta) = delta {
            delta.fallback_secret |= !fallback_changed.is_empty();
        }
        keys
    }

    /// Removes the entries released that no part holds any more.
    pub(crate) fn finish(self) {
        let Splice {
            output,
            counts,
            released,
            mut delta,
        } = self;
        let dag = &mut output.dag;
        let mut fallback_changed = BTreeSet::new();
        drop_unheld(
            &mut dag.http,
            &mut counts.http,
            released.http,
            delta.as_mut().map(|d| &mut d.http),
        );
        drop_unheld(
            &mut dag.https,
            &mut counts.https,
            released.https,
            delta.as_mut().map(|d| &mut d.https),
        );
        drop_unheld(
            &mut dag.passthrough,
            &mut counts.passthrough,
            released.passthrough,
            delta.as_mut().map(|d| &mut d.passthrough),
        );
        drop_unheld(
            &mut dag.gateway_listeners,
            &mut counts.gateway_listeners,
            released.gateway_listeners,
            delta.as_mut().map(|d| &mut d.gateway_listeners),
        );
        drop_unheld(
            &mut dag.clusters,
            &mut counts.clusters,
            released.clusters,
            delta.as_mut().map(|d| &mut d.clusters),
        );
        drop_unheld(
            &mut dag.secrets,
            &mut counts.secrets,
            released.secrets,
            delta.as_mut().map(|d| &mut d.secrets),
        );
        drop_unheld(
            &mut dag.fallback_secret,
            &mut counts.fallback,
            released.fallback,
            Some(&mut fallback_changed),
        );
        drop_unheld(
            &mut dag.references,
            &mut counts.references,
            released.references,
            delta.as_mut().map(|d| &mut d.references),
        );
        drop_unheld(
            &mut output.status.objects,
            &mut counts.status,
            released.status,
            delta.as_mut().map(|d| &mut d.status),
        );
        if let Some(delta) = delta {
            delta.fallback_secret |= !fallback_changed.is_empty();
        }
    }
}

impl Keys {
    /// Adds the keys of another part.
    fn append(&mut self, other: Keys) {
        self.http.extend(other.http);
        self.https.extend(other.https);
        self.passthrough.extend(other.passthrough);
        self.gateway_listeners.extend(other.gateway_listeners);
        self.clusters.extend(other.clusters);
        self.secrets.extend(other.secrets);
        self.fallback.extend(other.fallback);
        self.references.extend(other.references);
        self.status.extend(other.status);
    }
}

/// Sets (or with `None` removes) the status of an object that only one place in the output
/// holds, such as a TLSCertificateDelegation.
pub(crate) fn set_status(
    output: &mut BuildOutput,
    counts: &mut Counts,
    key: &ObjectKey,
    status: Option<ObjectStatus>,
    delta: &mut BuildDelta,
) {
    let changed = match status {
        Some(status) => {
            counts.status.insert(key.clone(), 1);
            output.status.objects.put(key.clone(), status)
        }
        None => {
            counts.status.remove(key);
            output.status.objects.take(key)
        }
    };
    if changed {
        delta.status.insert(key.clone());
    }
}

/// Where the entries of one field of the output live.
trait Store<K> {
    /// The value of an entry.
    type Value;
    /// Sets an entry; returns whether its value changed.
    fn put(&mut self, key: K, value: Self::Value) -> bool;
    /// Removes an entry; returns whether it was there.
    fn take(&mut self, key: &K) -> bool;
}

impl<K: Ord, V: PartialEq> Store<K> for BTreeMap<K, V> {
    type Value = V;
    fn put(&mut self, key: K, value: V) -> bool {
        match self.entry(key) {
            Entry::Occupied(old) if *old.get() == value => false,
            Entry::Occupied(mut old) => {
                old.insert(value);
                true
            }
            Entry::Vacant(slot) => {
                slot.insert(value);
                true
            }
        }
    }
    fn take(&mut self, key: &K) -> bool {
        self.remove(key).is_some()
    }
}

impl<K: Ord> Store<K> for BTreeSet<K> {
    type Value = ();
    fn put(&mut self, key: K, (): ()) -> bool {
        self.insert(key)
    }
    fn take(&mut self, key: &K) -> bool {
        self.remove(key)
    }
}

/// The fallback certificate: one SDS name, or none.
impl Store<String> for Option<String> {
    type Value = ();
    fn put(&mut self, key: String, (): ()) -> bool {
        let changed = self.as_ref() != Some(&key);
        *self = Some(key);
        changed
    }
    fn take(&mut self, key: &String) -> bool {
        if self.as_ref() == Some(key) {
            *self = None;
            true
        } else {
            false
        }
    }
}

/// Counts one holder less for each key released.
fn release<K: Eq + Hash>(counts: &mut HashMap<K, u32>, released: &[K]) {
    for key in released {
        if let Some(count) = counts.get_mut(key) {
            *count = count.saturating_sub(1);
        }
    }
}

/// Puts the entries of one part, counting it as a holder of each, and returns their keys.
fn hold<K, S>(
    store: &mut S,
    counts: &mut HashMap<K, u32>,
    entries: impl IntoIterator<Item = (K, S::Value)>,
    mut delta: Option<&mut BTreeSet<K>>,
) -> Vec<K>
where
    K: Clone + Ord + Hash,
    S: Store<K>,
{
    entries
        .into_iter()
        .map(|(key, value)| {
            match counts.get_mut(&key) {
                Some(count) => *count += 1,
                None => {
                    counts.insert(key.clone(), 1);
                }
            }
            let changed = store.put(key.clone(), value);
            if let Some(delta) = delta.as_deref_mut().filter(|_| changed) {
                delta.insert(key.clone());
            }
            key
        })
        .collect()
}

/// Removes the entries released that no part holds any more.
fn drop_unheld<K, S>(
    store: &mut S,
    counts: &mut HashMap<K, u32>,
    released: Vec<K>,
    mut delta: Option<&mut BTreeSet<K>>,
) where
    K: Clone + Ord + Hash,
    S: Store<K>,
{
    for key in released {
        if counts.get(&key) == Some(&0) {
            counts.remove(&key);
            let removed = store.take(&key);
            if let Some(delta) = delta.as_deref_mut().filter(|_| removed) {
                delta.insert(key);
            }
        }
    }
}

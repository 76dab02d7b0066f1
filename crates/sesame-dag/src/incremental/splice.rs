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
    clusters: HashMap<String, u32>,
    secrets: HashMap<String, u32>,
    fallback: HashMap<String, u32>,
    references: HashMap<ObjectKey, u32>,
    status: HashMap<ObjectKey, u32>,
}

/// Replaces the parts whose keys are `old` by the parts built as `new` in `output`, and
/// records in `delta`, if given, every entry whose value changed. Returns the keys of the new
/// parts.
pub(crate) fn splice(
    output: &mut BuildOutput,
    counts: &mut Counts,
    old: Vec<Keys>,
    new: Vec<BuildOutput>,
    delta: Option<&mut BuildDelta>,
) -> Vec<Keys> {
    let record = delta.is_some();
    let mut unrecorded = BuildDelta::default();
    let delta = delta.unwrap_or(&mut unrecorded);
    let mut keys = vec![Keys::default(); new.len()];
    let mut olds = old;
    let mut news = new;
    let dag = &mut output.dag;
    macro_rules! splice_field {
        ($name:ident, $store:expr, $counts:expr, $delta:expr, |$part:ident| $entries:expr) => {{
            let old = olds
                .iter_mut()
                .map(|k| std::mem::take(&mut k.$name))
                .collect();
            let new = news
                .iter_mut()
                .map(|$part| $entries.into_iter().collect())
                .collect();
            let held = field($store, $counts, old, new, record.then_some($delta));
            for (k, held) in keys.iter_mut().zip(held) {
                k.$name = held;
            }
        }};
    }
    splice_field!(
        http,
        &mut dag.http,
        &mut counts.http,
        &mut delta.http,
        |p| { std::mem::take(&mut p.dag.http) }
    );
    splice_field!(
        https,
        &mut dag.https,
        &mut counts.https,
        &mut delta.https,
        |p| { std::mem::take(&mut p.dag.https) }
    );
    splice_field!(
        passthrough,
        &mut dag.passthrough,
        &mut counts.passthrough,
        &mut delta.passthrough,
        |p| { std::mem::take(&mut p.dag.passthrough) }
    );
    splice_field!(
        clusters,
        &mut dag.clusters,
        &mut counts.clusters,
        &mut delta.clusters,
        |p| { std::mem::take(&mut p.dag.clusters) }
    );
    splice_field!(
        secrets,
        &mut dag.secrets,
        &mut counts.secrets,
        &mut delta.secrets,
        |p| { std::mem::take(&mut p.dag.secrets) }
    );
    let mut fallback = BTreeSet::new();
    splice_field!(
        fallback,
        &mut dag.fallback_secret,
        &mut counts.fallback,
        &mut fallback,
        |p| { p.dag.fallback_secret.take().map(|name| (name, ())) }
    );
    delta.fallback_secret |= !fallback.is_empty();
    splice_field!(
        references,
        &mut dag.references,
        &mut counts.references,
        &mut delta.references,
        |p| {
            std::mem::take(&mut p.dag.references)
                .into_iter()
                .map(|k| (k, ()))
        }
    );
    splice_field!(
        status,
        &mut output.status.objects,
        &mut counts.status,
        &mut delta.status,
        |p| { std::mem::take(&mut p.status.objects) }
    );
    keys
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

/// Releases the `old` keys, puts the `new` entries, then removes the entries no part holds any
/// more. Every key whose entry changed goes into `delta`. Returns the keys of each new part.
fn field<K, S>(
    store: &mut S,
    counts: &mut HashMap<K, u32>,
    old: Vec<Vec<K>>,
    new: Vec<Vec<(K, S::Value)>>,
    mut delta: Option<&mut BTreeSet<K>>,
) -> Vec<Vec<K>>
where
    K: Clone + Ord + Hash,
    S: Store<K>,
{
    let released: Vec<K> = old.into_iter().flatten().collect();
    for key in &released {
        if let Some(count) = counts.get_mut(key) {
            *count = count.saturating_sub(1);
        }
    }
    let held = new
        .into_iter()
        .map(|entries| {
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
        })
        .collect();
    for key in released {
        if counts.get(&key) == Some(&0) {
            counts.remove(&key);
            let removed = store.take(&key);
            if let Some(delta) = delta.as_deref_mut().filter(|_| removed) {
                delta.insert(key);
            }
        }
    }
    held
}

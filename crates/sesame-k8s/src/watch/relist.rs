//! The sync core of one watch stream: what was sent downstream, and a relist in progress.
//!
//! kube-rs's watcher reports a (re)list as `Init`, one `InitApply` per object, then
//! `InitDone`. The objects of a relist are held back until `InitDone` and then sent as one
//! batch together with a delete for every object the relist no longer contains, so that a
//! relist never shows the rebuild loop an empty or half-filled view.

use std::collections::{BTreeMap, BTreeSet};

use kube::runtime::watcher::Event;
use sesame_dag::NamespacedName;

/// One update for downstream, keyed by namespace and name.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Update<V> {
    /// The object was added or modified.
    Apply(NamespacedName, V),
    /// The object is gone.
    Delete(NamespacedName),
}

/// The state of one watch stream.
#[derive(Debug)]
pub(crate) struct StreamState<V> {
    /// Every object sent downstream and not deleted since.
    sent: BTreeSet<NamespacedName>,
    /// The objects of a relist in progress.
    relist: Option<BTreeMap<NamespacedName, V>>,
    /// Whether a first list has completed.
    synced: bool,
}

impl<V> Default for StreamState<V> {
    fn default() -> Self {
        StreamState {
            sent: BTreeSet::new(),
            relist: None,
            synced: false,
        }
    }
}

impl<V> StreamState<V> {
    /// Whether a first list has completed.
    pub(crate) fn synced(&self) -> bool {
        self.synced
    }

    /// Takes one watcher event (its object already keyed) and returns what to send downstream:
    /// nothing while a relist is in progress, everything at once when it is done.
    pub(crate) fn on_event(&mut self, event: Event<(NamespacedName, V)>) -> Vec<Update<V>> {
        match event {
            Event::Init => {
                self.relist = Some(BTreeMap::new());
                Vec::new()
            }
            Event::InitApply((name, value)) => {
                self.relist
                    .get_or_insert_with(BTreeMap::new)
                    .insert(name, value);
                Vec::new()
            }
            Event::InitDone => {
                let listed = self.relist.take().unwrap_or_default();
                let mut updates: Vec<Update<V>> = self
                    .sent
                    .iter()
                    .filter(|name| !listed.contains_key(*name))
                    .cloned()
                    .map(Update::Delete)
                    .collect();
                self.sent = listed.keys().cloned().collect();
                updates.extend(listed.into_iter().map(|(n, v)| Update::Apply(n, v)));
                self.synced = true;
                updates
            }
            Event::Apply((name, value)) => {
                self.sent.insert(name.clone());
                vec![Update::Apply(name, value)]
            }
            Event::Delete((name, _)) => {
                self.sent.remove(&name);
                vec![Update::Delete(name)]
            }
        }
    }
}

#[cfg(test)]
mod tests;

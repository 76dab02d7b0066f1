//! Secrets by reference: every Secret is watched as metadata only, and a Secret's data is
//! fetched, and kept in the snapshot, only while a build references it. A cluster full of Helm
//! releases or unrelated certificates costs Sesame a name and a resourceVersion each.

use std::collections::{BTreeMap, BTreeSet};

use sesame_dag::{Change, Kind, NamespacedName, ObjectKey};

use super::relist::Update;

/// What the Secret index asks its shell to do.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct SecretWork {
    /// Secrets whose data must be fetched.
    pub fetch: Vec<NamespacedName>,
    /// Changes to send straight away (data dropped from the snapshot).
    pub changes: Vec<Change>,
}

/// Which Secrets exist, which are wanted, and which are held with their data.
#[derive(Debug, Default)]
pub(crate) struct SecretIndex {
    /// The resourceVersion of every Secret the watch lists (metadata only).
    known: BTreeMap<NamespacedName, String>,
    /// The resourceVersion of every Secret whose data is in the snapshot.
    loaded: BTreeMap<NamespacedName, String>,
    /// The Secrets the last build referenced.
    wanted: BTreeSet<NamespacedName>,
}

impl SecretIndex {
    /// How many Secrets exist, and how many are held with their data.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.known.len(), self.loaded.len())
    }

    /// Metadata updates from the watch, their work together.
    pub(crate) fn on_updates(&mut self, updates: Vec<Update<String>>) -> SecretWork {
        let mut work = SecretWork::default();
        for update in updates {
            let w = self.on_update(update);
            work.fetch.extend(w.fetch);
            work.changes.extend(w.changes);
        }
        work
    }

    /// A metadata update from the watch.
    pub(crate) fn on_update(&mut self, update: Update<String>) -> SecretWork {
        let mut work = SecretWork::default();
        match update {
            Update::Apply(name, version) => {
                if self.wanted.contains(&name) && self.loaded.get(&name) != Some(&version) {
                    work.fetch.push(name.clone());
                }
                self.known.insert(name, version);
            }
            Update::Delete(name) => {
                self.known.remove(&name);
                if self.loaded.remove(&name).is_some() {
                    work.changes.push(delete(name));
                }
            }
        }
        work
    }

    /// The Secrets a build references: fetch those that exist and are not held at their latest
    /// version; drop the data of those no longer referenced.
    pub(crate) fn want(&mut self, wanted: BTreeSet<NamespacedName>) -> SecretWork {
        let mut work = SecretWork::default();
        for name in &wanted {
            if let Some(version) = self.known.get(name)
                && self.loaded.get(name) != Some(version)
            {
                work.fetch.push(name.clone());
            }
        }
        let dropped: Vec<NamespacedName> = self
            .loaded
            .keys()
            .filter(|name| !wanted.contains(*name))
            .cloned()
            .collect();
        for name in dropped {
            self.loaded.remove(&name);
            work.changes.push(delete(name));
        }
        self.wanted = wanted;
        work
    }

    /// A fetched Secret (`None`: it is gone). Returns whether its data may enter the snapshot
    /// (it is still wanted), recording the version held.
    pub(crate) fn fetched(&mut self, name: &NamespacedName, version: Option<String>) -> Fetched {
        match version {
            Some(version) if self.wanted.contains(name) => {
                self.loaded.insert(name.clone(), version);
                Fetched::Keep
            }
            Some(_) => Fetched::Ignore,
            None => {
                self.known.remove(name);
                if self.loaded.remove(name).is_some() {
                    Fetched::Delete
                } else {
                    Fetched::Ignore
                }
            }
        }
    }
}

/// What to do with a fetched Secret.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// Send it downstream.
    Keep,
    /// Drop it: no longer wanted, or already absent.
    Ignore,
    /// It is gone: delete it downstream.
    Delete,
}

fn delete(name: NamespacedName) -> Change {
    Change::Delete(ObjectKey::new(Kind::Secret, name))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn n(name: &str) -> NamespacedName {
        NamespacedName::new("ns", name)
    }

    #[test]
    fn only_referenced_secrets_are_fetched() {
        let mut index = SecretIndex::default();
        for (name, rv) in [("tls", "1"), ("helm", "2")] {
            let work = index.on_update(Update::Apply(n(name), rv.into()));
            assert_eq!(work, SecretWork::default(), "nothing is wanted yet");
        }
        let work = index.want([n("tls"), n("missing")].into());
        assert_eq!(
            work.fetch,
            vec![n("tls")],
            "a Secret that does not exist is not fetched"
        );
        assert_eq!(index.fetched(&n("tls"), Some("1".into())), Fetched::Keep);
        assert_eq!(index.counts(), (2, 1));

        assert_eq!(
            index.on_update(Update::Apply(n("tls"), "1".into())).fetch,
            Vec::<NamespacedName>::new(),
            "the held version is not fetched again"
        );
        assert_eq!(
            index.on_update(Update::Apply(n("tls"), "5".into())).fetch,
            vec![n("tls")],
            "a new version of a wanted Secret is fetched"
        );
        assert!(
            index
                .on_update(Update::Apply(n("helm"), "6".into()))
                .fetch
                .is_empty(),
            "an unreferenced Secret is never fetched"
        );
    }

    #[test]
    fn data_is_dropped_when_no_longer_referenced() {
        let mut index = SecretIndex::default();
        index.on_update(Update::Apply(n("tls"), "1".into()));
        index.want([n("tls")].into());
        index.fetched(&n("tls"), Some("1".into()));
        let work = index.want(BTreeSet::new());
        assert_eq!(
            work.changes,
            vec![Change::Delete(ObjectKey::new(Kind::Secret, n("tls")))]
        );
        assert_eq!(index.counts(), (1, 0));
        assert_eq!(
            index.want([n("tls")].into()).fetch,
            vec![n("tls")],
            "referenced again: fetched again"
        );
    }

    #[test]
    fn deleted_and_vanished_secrets_are_deleted_downstream() {
        let mut index = SecretIndex::default();
        index.on_update(Update::Apply(n("a"), "1".into()));
        index.on_update(Update::Apply(n("b"), "1".into()));
        index.want([n("a"), n("b")].into());
        index.fetched(&n("a"), Some("1".into()));
        index.fetched(&n("b"), Some("1".into()));
        assert_eq!(
            index.on_update(Update::Delete(n("a"))).changes,
            vec![Change::Delete(ObjectKey::new(Kind::Secret, n("a")))]
        );
        assert_eq!(
            index.fetched(&n("b"), None),
            Fetched::Delete,
            "404 on fetch"
        );
        assert_eq!(index.counts(), (0, 0));
    }
}

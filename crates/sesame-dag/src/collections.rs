//! Collections for long-lived indexes that hold one entry per object: at 10 000 objects, the
//! slack of a general-purpose collection (a half-empty B-tree node, a `Vec` grown to four
//! elements for one) is megabytes.

use std::borrow::Borrow;

/// A small set kept as a sorted `Vec` with no spare capacity. Most of the sets it serves hold
/// one element (the files that define an object, the EndpointSlices of a Service), which a
/// `BTreeSet` keeps in a whole node and a `Vec` pushed to once in room for four.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecSet<T>(Vec<T>);

impl<T> Default for VecSet<T> {
    fn default() -> Self {
        VecSet(Vec::new())
    }
}

impl<T: Ord> VecSet<T> {
    /// Adds `item`; false when it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.reserve_exact(1);
                self.0.insert(at, item);
                true
            }
        }
    }

    /// Removes `item`; false when it was not there.
    pub fn remove<Q>(&mut self, item: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.0.binary_search_by(|e| e.borrow().cmp(item)) {
            Ok(at) => {
                self.0.remove(at);
                self.0.shrink_to_fit();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `item` is in the set.
    pub fn contains<Q>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|e| e.borrow().cmp(item)).is_ok()
    }
}

impl<T> VecSet<T> {
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many elements the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The elements, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The greatest element.
    pub fn last(&self) -> Option<&T> {
        self.0.last()
    }
}

impl<'a, T> IntoIterator for &'a VecSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Rebuilds a B-tree map or set from its sorted entries, with full nodes. Inserting keys one at
/// a time in ascending order, as an initial load or a first build does, leaves each node a
/// little over half full; for the same entries, a packed map takes ~40 % less memory. It
/// costs one pass over the collection: worth doing once, after such a load.
pub fn pack<C>(collection: &mut C)
where
    C: Default + IntoIterator + FromIterator<<C as IntoIterator>::Item>,
{
    *collection = std::mem::take(collection).into_iter().collect();
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn a_vec_set_stays_sorted_without_duplicates_and_keeps_no_spare_room() {
        let mut set = VecSet::default();
        assert!(set.insert(3));
        assert_eq!(set.0.capacity(), 1);
        assert!(set.insert(1));
        assert!(!set.insert(3));
        assert!(set.insert(2));
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(set.0.capacity(), 3);
        assert!(set.contains(&2));
        assert!(set.remove(&2));
        assert!(!set.remove(&2));
        assert_eq!(set.0.capacity(), 2);
        assert_eq!((set.len(), set.last()), (2, Some(&3)));
        assert!(set.remove(&1) && set.remove(&3) && set.is_empty());
    }

    #[test]
    fn a_packed_set_holds_the_same_entries() {
        let mut set: BTreeSet<u32> = (0..3000).rev().collect();
        let before = set.clone();
        pack(&mut set);
        assert_eq!(set, before);
    }

    #[test]
    fn a_packed_map_holds_the_same_entries() {
        let mut map: BTreeMap<u32, String> = (0..1000).map(|i| (i, i.to_string())).collect();
        for i in 1000..3000 {
            map.insert(i, i.to_string());
        }
        let before = map.clone();
        pack(&mut map);
        assert_eq!(map, before);
        map.insert(5000, "after".into());
        assert_eq!(map.len(), 3001);
    }
}

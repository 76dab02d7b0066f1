//! Deterministic content versions: the same resources always hash to the same version, across
//! connections and across restarts, so a restarted Sesame causes no config churn in Envoy.
//!
//! A set's digest is the sum, modulo 2^160, of one hash per entry (its name and its resource's
//! digest). A sum does not depend on the order of its terms, so a change of k resources updates
//! the digest of a type of N in O(k) instead of hashing all N again. Only versions are made
//! from these sums: whether a connection's resources changed is decided by which table
//! snapshot it last saw, never by comparing sums alone.

use envoy_types::pb::google::protobuf::Any;
use sha1::{Digest as _, Sha1};

/// A SHA-1 content digest.
pub(crate) type Digest = [u8; 20];

/// The digest of one encoded resource: its type URL and its encoded bytes.
pub(crate) fn resource_digest(any: &Any) -> Digest {
    let mut h = Sha1::new();
    h.update(any.type_url.as_bytes());
    h.update([0]);
    h.update(&any.value);
    h.finalize().into()
}

/// The term one entry `(name, resource digest)` adds to its set's digest.
fn entry_digest(name: &str, digest: &Digest) -> Digest {
    let mut h = Sha1::new();
    h.update((name.len() as u64).to_be_bytes());
    h.update(name.as_bytes());
    h.update(digest);
    h.finalize().into()
}

/// The digest of a set of resources, from its `(name, resource digest)` pairs in any order.
pub(crate) fn set_digest<'a>(items: impl IntoIterator<Item = (&'a str, &'a Digest)>) -> Digest {
    let mut sum = [0; 20];
    for (name, digest) in items {
        add_entry(&mut sum, name, digest);
    }
    sum
}

/// Adds the entry `(name, digest)` to the set whose digest is `sum`.
pub(crate) fn add_entry(sum: &mut Digest, name: &str, digest: &Digest) {
    let term = entry_digest(name, digest);
    let mut carry = 0u16;
    for (s, t) in sum.iter_mut().zip(term).rev() {
        let total = u16::from(*s) + u16::from(t) + carry;
        *s = total as u8;
        carry = total >> 8;
    }
}

/// Takes the entry `(name, digest)` out of the set whose digest is `sum`.
pub(crate) fn remove_entry(sum: &mut Digest, name: &str, digest: &Digest) {
    let term = entry_digest(name, digest);
    let mut borrow = 0i16;
    for (s, t) in sum.iter_mut().zip(term).rev() {
        let diff = i16::from(*s) - i16::from(t) - borrow;
        *s = diff.rem_euclid(256) as u8;
        borrow = i16::from(diff < 0);
    }
}

/// The version string of a digest, as sent in `version_info`.
pub(crate) fn version_string(digest: &Digest) -> String {
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(byte: u8) -> Digest {
        [byte; 20]
    }

    #[test]
    fn a_set_digest_does_not_depend_on_order_and_follows_each_entry() {
        let (a, b, c) = (d(1), d(2), d(3));
        let all = set_digest([("a", &a), ("b", &b), ("c", &c)]);
        assert_eq!(all, set_digest([("c", &c), ("a", &a), ("b", &b)]));
        // Names and contents both count.
        assert_ne!(all, set_digest([("a", &a), ("b", &b), ("c", &b)]));
        assert_ne!(all, set_digest([("a", &a), ("b", &b), ("d", &c)]));
        assert_ne!(all, set_digest([("a", &a), ("b", &b)]));
        assert_eq!(set_digest([]), [0; 20]);
    }

    #[test]
    fn entries_added_and_removed_give_the_digest_of_the_resulting_set() {
        let (a, b, c) = (d(1), d(2), d(3));
        let mut sum = set_digest([("a", &a), ("b", &b)]);
        add_entry(&mut sum, "c", &c);
        assert_eq!(sum, set_digest([("a", &a), ("b", &b), ("c", &c)]));
        remove_entry(&mut sum, "a", &a);
        assert_eq!(sum, set_digest([("b", &b), ("c", &c)]));
        // Replacing one resource's content.
        remove_entry(&mut sum, "b", &b);
        add_entry(&mut sum, "b", &a);
        assert_eq!(sum, set_digest([("b", &a), ("c", &c)]));
        remove_entry(&mut sum, "b", &a);
        remove_entry(&mut sum, "c", &c);
        assert_eq!(sum, [0; 20]);
    }
}

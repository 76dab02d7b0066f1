//! Deterministic content versions: the same resources always hash to the same version, across
//! connections and across restarts, so a restarted Sesame causes no config churn in Envoy.

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

/// The digest of a set of resources, from `(name, resource digest)` pairs in name order.
pub(crate) fn set_digest<'a>(items: impl IntoIterator<Item = (&'a str, &'a Digest)>) -> Digest {
    let mut h = Sha1::new();
    for (name, digest) in items {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(digest);
    }
    h.finalize().into()
}

/// The version string of a digest, as sent in `version_info`.
pub(crate) fn version_string(digest: &Digest) -> String {
    hex::encode(digest)
}

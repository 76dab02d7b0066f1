//! Global rate limits: the descriptors Envoy sends to the rate limit service (config
//! `rateLimitService`) for each request of a virtual host or route, which then decides.

use serde::Serialize;

use super::HeaderMatch;

/// The descriptors of a virtual host or route: Envoy sends each to the rate limit service,
/// which refuses the request if any is over its limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GlobalRateLimit {
    /// The descriptors, each with at least one entry.
    pub descriptors: Vec<RateLimitDescriptor>,
}

/// One descriptor: its entries, in order. Envoy sends none when an entry cannot be generated
/// (a request header that is missing, header matches that do not hold).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RateLimitDescriptor {
    /// The entries (at least one).
    pub entries: Vec<DescriptorEntry>,
}

/// One entry of a descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DescriptorEntry {
    /// A fixed key (Envoy's `generic_key` when `None`) and value (not empty).
    GenericKey {
        /// The key.
        key: Option<String>,
        /// The value.
        value: String,
    },
    /// The value of a request header, under a key.
    RequestHeader {
        /// The header (a valid name, lower case).
        header: String,
        /// The key (not empty).
        key: String,
    },
    /// A fixed value when the headers match (or, with `expect_match` false, when they do not).
    HeaderValueMatch {
        /// The header matches, all of which must hold (at least one).
        headers: Vec<HeaderMatch>,
        /// Whether the entry is generated on a match or on a mismatch.
        expect_match: bool,
        /// The value (not empty).
        value: String,
    },
    /// The client's address (`remote_address`, as Envoy derives it).
    RemoteAddress,
}

/// A route's own global rate limit setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RouteGlobalRateLimit {
    /// The route's descriptors, replacing its virtual host's.
    Descriptors(GlobalRateLimit),
    /// No descriptors at all for this route: its virtual host's are ignored.
    Disabled,
}

//! Rate limiting of a virtual host or a route: local (a token bucket in each Envoy) and global
//! (descriptors sent to a rate limit service), in Contour's shape.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::HeaderMatchCondition;
use super::route::HeaderValue;
use crate::is_false;

/// The rate limits of a virtual host or a route.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitPolicy {
    /// A limit enforced by each Envoy on its own, with a token bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalRateLimitPolicy>,
    /// Descriptors sent to an external rate limit service, which decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalRateLimitPolicy>,
}

/// A local rate limit: `requests` per `unit`, plus `burst`, in each Envoy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalRateLimitPolicy {
    /// How many requests are allowed per `unit` (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<i64>,
    /// The period the limit counts over: `second`, `minute` or `hour`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// How many requests above `requests` are allowed in a short burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<i64>,
    /// The status of rate-limited responses, 400 to 599 (429 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status_code: Option<i64>,
    /// Headers set on rate-limited responses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers_to_add: Vec<HeaderValue>,
}

/// A global rate limit: the descriptors generated for each request.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GlobalRateLimitPolicy {
    /// Opt out of the installation's default global rate limit policy.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// The descriptors sent to the rate limit service, each of one or more entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptors: Vec<RateLimitDescriptor>,
}

/// One descriptor: a list of key-value entries.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitDescriptor {
    /// The entries, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<RateLimitDescriptorEntry>,
}

/// One entry of a descriptor: set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitDescriptorEntry {
    /// A fixed key and value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_key: Option<GenericKeyDescriptor>,
    /// The value of a request header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header: Option<RequestHeaderDescriptor>,
    /// A fixed value when request headers match (or do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_value_match: Option<RequestHeaderValueMatchDescriptor>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_address: Option<RemoteAddressDescriptor>,
}

/// A descriptor entry with a fixed key and value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericKeyDescriptor {
    /// The key (`generic_key` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A descriptor entry whose value is a request header's.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestHeaderDescriptor {
    /// The request header read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
    /// The key of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_key: Option<String>,
}

/// A descriptor entry with a fixed value, generated when request headers match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestHeaderValueMatchDescriptor {
    /// The header conditions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatchCondition>,
    /// Generate the entry when the headers match (`true`, the default) or when they do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_match: Option<bool>,
    /// The value of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A descriptor entry whose value is the client's address.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteAddressDescriptor {}

//! The upstream side of the configuration file: `cluster:`, `policy:`, and the checks of
//! `enableExternalNameService`'s companions and `tls.envoy-client-certificate`.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::header;

/// Upstream cluster settings (`cluster:`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterParameters {
    /// Which address families Envoy asks DNS for when a cluster's hosts are resolved by name
    /// (ExternalName Services): `auto`, `v4`, `v6` or `all` (`auto` by default).
    #[serde(default, rename = "dns-lookup-family", alias = "dnsLookupFamily")]
    pub dns_lookup_family: Option<String>,
}

impl ClusterParameters {
    /// The configured DNS lookup family, `auto` when none is (or when it is not valid, which
    /// [`Config::validate`] refuses).
    pub fn dns_lookup_family(&self) -> DnsLookupFamily {
        self.dns_lookup_family
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    }
}

/// Which address families Envoy asks DNS for. `sesame bootstrap --dns-lookup-family` and
/// `cluster.dns-lookup-family` take the same values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum DnsLookupFamily {
    /// IPv6 if there is any, else IPv4 (Envoy's default).
    #[default]
    Auto,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
    /// Both.
    All,
}

/// A DNS lookup family other than `auto`, `v4`, `v6` or `all`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown dns lookup family {0:?}: expected auto, v4, v6 or all")]
pub struct UnknownDnsLookupFamily(pub String);

impl FromStr for DnsLookupFamily {
    type Err = UnknownDnsLookupFamily;

    /// Parses `auto`, `v4`, `v6` or `all` (Contour's values).
    fn from_str(s: &str) -> Result<Self, UnknownDnsLookupFamily> {
        match s {
            "auto" => Ok(DnsLookupFamily::Auto),
            "v4" => Ok(DnsLookupFamily::V4),
            "v6" => Ok(DnsLookupFamily::V6),
            "all" => Ok(DnsLookupFamily::All),
            other => Err(UnknownDnsLookupFamily(other.to_string())),
        }
    }
}

/// Headers set and removed on every route (`policy:`): on each HTTPProxy route, and on each
/// Ingress route when `applyToIngress` is set. A route's or service's own policy wins for the
/// headers it names.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyParameters {
    /// Headers set on and removed from requests. `Host` in `set` rewrites the host.
    #[serde(default, rename = "request-headers", alias = "requestHeaders")]
    pub request_headers: HeadersPolicyParameters,
    /// Headers set on and removed from responses.
    #[serde(default, rename = "response-headers", alias = "responseHeaders")]
    pub response_headers: HeadersPolicyParameters,
    /// Apply the policies to Ingress routes too (off by default, as Contour).
    #[serde(default, rename = "applyToIngress", alias = "apply-to-ingress")]
    pub apply_to_ingress: bool,
}

/// One direction's header policy: headers to set (name to value) and names to remove.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersPolicyParameters {
    /// Headers to set, overwriting any value already there.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Headers to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

impl Config {
    /// Checks the upstream settings: the DNS lookup family, the header policies and the client
    /// certificate's Secret reference.
    pub(super) fn validate_upstream(&self) -> Result<(), ConfigError> {
        if let Some(family) = &self.cluster.dns_lookup_family
            && family.parse::<DnsLookupFamily>().is_err()
        {
            return Err(ConfigError::invalid(
                "cluster.dns-lookup-family",
                family,
                "expected auto, v4, v6 or all",
            ));
        }
        self.policy.request_headers.validate(
            "policy.request-headers.set",
            "policy.request-headers.remove",
            true,
        )?;
        self.policy.response_headers.validate(
            "policy.response-headers.set",
            "policy.response-headers.remove",
            false,
        )?;
        if let Some(client) = &self.tls.envoy_client_certificate {
            client.validate(
                "tls.envoy-client-certificate.name",
                "tls.envoy-client-certificate.namespace",
            )?;
        }
        Ok(())
    }
}

impl HeadersPolicyParameters {
    /// Checks names and values as Envoy takes them. `Host` may be set on requests (a host
    /// rewrite, as Contour) with a value, never on responses, and is never removed: Envoy refuses
    /// to remove it.
    fn validate(
        &self,
        set_key: &'static str,
        remove_key: &'static str,
        request: bool,
    ) -> Result<(), ConfigError> {
        let invalid = ConfigError::invalid;
        let mut seen = Vec::with_capacity(self.set.len());
        for (name, value) in &self.set {
            let lower = header::name(name).map_err(|_| {
                invalid(
                    set_key,
                    name,
                    "expected a header name (letters, digits and !#$%&'*+-.^_`|~)",
                )
            })?;
            if seen.contains(&lower) {
                return Err(invalid(
                    set_key,
                    name,
                    "header set twice (names are case-insensitive)",
                ));
            }
            header::value(value).map_err(|_| {
                invalid(
                    set_key,
                    value,
                    "expected a header value without control characters, at most 16384 bytes",
                )
            })?;
            if lower == "host" && !request {
                return Err(invalid(
                    set_key,
                    name,
                    "the Host header cannot be set on responses",
                ));
            }
            if lower == "host" && value.is_empty() {
                return Err(invalid(
                    set_key,
                    name,
                    "the Host header needs a value (it rewrites the host)",
                ));
            }
            seen.push(lower);
        }
        for name in &self.remove {
            let lower = header::name(name).map_err(|_| {
                invalid(
                    remove_key,
                    name,
                    "expected a header name (letters, digits and !#$%&'*+-.^_`|~)",
                )
            })?;
            if lower == "host" {
                return Err(invalid(
                    remove_key,
                    name,
                    "the Host header cannot be removed",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

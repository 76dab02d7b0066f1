//! `rateLimitService:`: the ExtensionService Envoy asks about global rate limits, and how.

use serde::Deserialize;

use super::ConfigError;
use crate::httpproxy::GlobalRateLimitPolicy;

/// The global rate limit service (Contour's `rateLimitService`); unset, Envoy has no global
/// rate limit filter.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimitServiceConfig {
    /// The ExtensionService implementing `envoy.service.ratelimit.v3.RateLimitService`, as
    /// `namespace/name`.
    pub extension_service: String,
    /// The rate limit domain sent with every request (required).
    #[serde(default)]
    pub domain: String,
    /// Let requests through when the service cannot be reached or fails (else 500).
    #[serde(default)]
    pub fail_open: bool,
    /// Add Envoy's `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
    /// response headers (IETF draft 03).
    #[serde(default, rename = "enableXRateLimitHeaders")]
    pub enable_x_rate_limit_headers: bool,
    /// Answer gRPC requests that are over the limit with RESOURCE_EXHAUSTED instead of
    /// UNAVAILABLE.
    #[serde(default)]
    pub enable_resource_exhausted_code: bool,
    /// The descriptors of every virtual host that sets no global rate limit policy.
    #[serde(default)]
    pub default_global_rate_limit_policy: Option<GlobalRateLimitPolicy>,
}

impl RateLimitServiceConfig {
    /// The ExtensionService's namespace and name.
    pub fn extension_service(&self) -> Option<(&str, &str)> {
        let (namespace, name) = self.extension_service.split_once('/')?;
        let valid = |s: &str| !s.is_empty() && !s.contains('/');
        (valid(namespace) && valid(name)).then_some((namespace, name))
    }

    /// Checks the keys (the default policy's descriptors are checked where they are built).
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.extension_service().is_none() {
            return Err(ConfigError::invalid(
                "rateLimitService.extensionService",
                &self.extension_service,
                "expected namespace/name of an ExtensionService",
            ));
        }
        if self.domain.is_empty() {
            return Err(ConfigError::invalid(
                "rateLimitService.domain",
                &self.domain,
                "expected a non-empty rate limit domain",
            ));
        }
        Ok(())
    }
}

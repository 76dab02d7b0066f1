//! The `sesame.yaml` configuration file: installation-wide settings, strict and defaulted.
//!
//! Unknown keys are refused (`deny_unknown_fields`), values are checked by [`Config::validate`],
//! and every default is the one Contour documents, so a migrating user gets the same behaviour.

use serde::Deserialize;

mod gateway;
mod listener;
mod rate_limit;
mod upstream;

pub use gateway::{DEFAULT_GATEWAY_CONTROLLER, GatewayParameters, GatewayRef};
pub use listener::{
    AccessLogFormat, DEFAULT_JSON_FIELDS, NetworkParameters, TimeoutParameters, VALID_CIPHER_SUITES,
};
pub use rate_limit::RateLimitServiceConfig;
pub use upstream::{
    ClusterParameters, DnsLookupFamily, HeadersPolicyParameters, PolicyParameters,
    UnknownDnsLookupFamily,
};

/// An error in the configuration file. The message names the key and the value at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid YAML for this schema (unknown key, wrong type).
    #[error("config file: {0}")]
    Parse(String),
    /// A key has a value outside what it accepts.
    #[error("config file: key {key}: invalid value {value:?}: {reason}")]
    InvalidValue {
        /// The dotted path of the key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What it should be.
        reason: &'static str,
    },
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Use the in-cluster Kubernetes configuration.
    #[serde(default)]
    pub incluster: bool,
    /// Path to a kubeconfig file.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Make every HTTPProxy `permitInsecure` ineffective.
    #[serde(default)]
    pub disable_permit_insecure: bool,
    /// Listener TLS settings.
    #[serde(default)]
    pub tls: TlsParameters,
    /// Leader election settings.
    #[serde(default)]
    pub leaderelection: LeaderElectionParameters,
    /// The address written to the status of Ingresses.
    #[serde(default, rename = "ingress-status-address")]
    pub ingress_status_address: Option<String>,
    /// The name of the Envoy Service whose addresses go into status (`envoy`).
    #[serde(default, rename = "envoy-service-name")]
    pub envoy_service_name: Option<String>,
    /// The namespace of the Envoy Service (Sesame's namespace).
    #[serde(default, rename = "envoy-service-namespace")]
    pub envoy_service_namespace: Option<String>,
    /// Timeouts of the HTTP connection managers and of upstream connects (`timeouts:`).
    #[serde(default)]
    pub timeouts: TimeoutParameters,
    // Upstream (cluster and route) settings; `tls.envoy-client-certificate` is in `tls`.
    /// Proxy to Services of type ExternalName (off by default: CVE-2021-32783).
    #[serde(default)]
    pub enable_external_name_service: bool,
    /// Upstream cluster settings (`cluster:`).
    #[serde(default)]
    pub cluster: ClusterParameters,
    /// Headers set and removed on every route (`policy:`).
    #[serde(default)]
    pub policy: PolicyParameters,
    /// The access log format, `envoy` (the default) or `json`.
    #[serde(default, rename = "accesslog-format")]
    pub accesslog_format: Option<String>,
    /// The fields of JSON access log lines: names, or `name=%OPERATOR%`.
    #[serde(default, rename = "json-fields")]
    pub json_fields: Option<Vec<String>>,
    /// Envoy network settings (`network:`).
    #[serde(default)]
    pub network: NetworkParameters,
    /// Gateway API settings (`gateway:`); unset, no Gateway is served.
    #[serde(default)]
    pub gateway: Option<GatewayParameters>,
    /// The global rate limit service (`rateLimitService:`), if any.
    #[serde(default)]
    pub rate_limit_service: Option<RateLimitServiceConfig>,
}

/// Listener TLS settings (`tls:`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsParameters {
    /// The lowest TLS version served (`1.2` by default; `1.1` is honoured with a warning).
    #[serde(
        default,
        rename = "minimum-protocol-version",
        alias = "minimumProtocolVersion"
    )]
    pub minimum_protocol_version: Option<String>,
    /// The highest TLS version served (`1.3` by default).
    #[serde(
        default,
        rename = "maximum-protocol-version",
        alias = "maximumProtocolVersion"
    )]
    pub maximum_protocol_version: Option<String>,
    /// The Secret served to TLS clients that send no SNI, by the HTTPProxies that enable it.
    #[serde(
        default,
        rename = "fallback-certificate",
        alias = "fallbackCertificate"
    )]
    pub fallback_certificate: Option<SecretReference>,
    /// The Secret whose certificate Envoy presents to TLS upstreams.
    #[serde(
        default,
        rename = "envoy-client-certificate",
        alias = "envoyClientCertificate"
    )]
    pub envoy_client_certificate: Option<SecretReference>,
    /// The TLS 1.2 cipher suites of `ingress_https`, in order of preference (Contour's four by
    /// default).
    #[serde(default, rename = "cipher-suites")]
    pub cipher_suites: Option<Vec<String>>,
}

/// A Secret, by namespace and name.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretReference {
    /// The Secret's name.
    pub name: String,
    /// The Secret's namespace.
    pub namespace: String,
}

/// Leader election settings (`leaderelection:`). `configmap-name`/`configmap-namespace` of older
/// configs name the Lease.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderElectionParameters {
    /// The Lease name.
    #[serde(default, rename = "configmap-name")]
    pub configmap_name: Option<String>,
    /// The Lease namespace.
    #[serde(default, rename = "configmap-namespace")]
    pub configmap_namespace: Option<String>,
    /// How long a Lease is held without renewal (Go duration, `15s`).
    #[serde(default, rename = "lease-duration", alias = "leaseDuration")]
    pub lease_duration: Option<String>,
    /// How long the leader keeps trying to renew before it stops leading (`10s`).
    #[serde(default, rename = "renew-deadline", alias = "renewDeadline")]
    pub renew_deadline: Option<String>,
    /// How often candidates try to acquire, and the leader renews (`2s`).
    #[serde(default, rename = "retry-period", alias = "retryPeriod")]
    pub retry_period: Option<String>,
    /// Only the leader opens its xDS port (the older mode), so that a TCP readiness probe
    /// sends every Envoy to the leader.
    #[serde(default, rename = "xdsLeaderOnly", alias = "xds-leader-only")]
    pub xds_leader_only: Option<bool>,
    /// Run without leader election: this replica always writes status.
    #[serde(
        default,
        rename = "disable-leader-election",
        alias = "disableLeaderElection"
    )]
    pub disable_leader_election: Option<bool>,
}

impl Config {
    /// Parses a configuration file's text and validates it.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; parsing already refused unknown keys and wrong types.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "tls.minimum-protocol-version",
                &self.tls.minimum_protocol_version,
            ),
            (
                "tls.maximum-protocol-version",
                &self.tls.maximum_protocol_version,
            ),
        ] {
            if let Some(v) = value
                && !matches!(v.as_str(), "1.1" | "1.2" | "1.3")
            {
                return Err(ConfigError::invalid(key, v, "expected 1.1, 1.2 or 1.3"));
            }
        }
        for (key, value) in [
            (
                "leaderelection.lease-duration",
                &self.leaderelection.lease_duration,
            ),
            (
                "leaderelection.renew-deadline",
                &self.leaderelection.renew_deadline,
            ),
            (
                "leaderelection.retry-period",
                &self.leaderelection.retry_period,
            ),
        ] {
            if let Some(v) = value
                && !crate::duration::parse_duration(v).is_ok_and(|d| !d.is_zero())
            {
                return Err(ConfigError::invalid(
                    key,
                    v,
                    "expected a positive duration such as 15s",
                ));
            }
        }
        if let Some(fallback) = &self.tls.fallback_certificate {
            fallback.validate(
                "tls.fallback-certificate.name",
                "tls.fallback-certificate.namespace",
            )?;
        }
        for (key, value) in [
            ("envoy-service-name", &self.envoy_service_name),
            ("envoy-service-namespace", &self.envoy_service_namespace),
        ] {
            if let Some(v) = value
                && !crate::dns::is_label(v)
            {
                return Err(ConfigError::invalid(
                    key,
                    v,
                    "expected a DNS label (lower-case letters, digits and '-', at most 63)",
                ));
            }
        }
        if let (Some(min), Some(max)) = (
            &self.tls.minimum_protocol_version,
            &self.tls.maximum_protocol_version,
        ) && min > max
        {
            return Err(ConfigError::invalid(
                "tls.minimum-protocol-version",
                min,
                "must not be above tls.maximum-protocol-version",
            ));
        }
        self.timeouts.validate_connect_timeout()?;
        if let Some(rate_limit) = &self.rate_limit_service {
            rate_limit.validate()?;
        }
        self.validate_upstream()?;
        if let Some(gateway) = &self.gateway {
            gateway.validate()?;
        }
        self.validate_listener()
    }
}

impl ConfigError {
    /// The error for `value` of `key`, which should be what `reason` says.
    pub(crate) fn invalid(key: &'static str, value: &str, reason: &'static str) -> ConfigError {
        ConfigError::InvalidValue {
            key,
            value: value.to_string(),
            reason,
        }
    }
}

impl SecretReference {
    /// Checks that both parts are object names; the errors name `name_key` or `namespace_key`.
    fn validate(
        &self,
        name_key: &'static str,
        namespace_key: &'static str,
    ) -> Result<(), ConfigError> {
        for (key, value) in [(name_key, &self.name), (namespace_key, &self.namespace)] {
            if value.is_empty() || value.contains('/') {
                return Err(ConfigError::invalid(
                    key,
                    value,
                    "expected a non-empty Kubernetes object name",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

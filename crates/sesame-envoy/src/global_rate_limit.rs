//! Global rate limiting: Envoy's rate limit HTTP filter in the ingress connection managers when
//! the config file names a rate limit service, the descriptors (`rate_limits`) of virtual
//! hosts and routes, and the per-route setting that ignores the virtual host's.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::ratelimit::v3 as ratelimit_config_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::http::ratelimit::v3 as ratelimit_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::dag::{DescriptorEntry, GlobalRateLimit, Timeout};

use crate::proto;
use crate::route::header_matcher;

/// The global rate limit filter.
pub const RATE_LIMIT_FILTER: &str = "envoy.filters.http.ratelimit";

/// How Envoy calls the rate limit service (config `rateLimitService`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// The ExtensionService's cluster, `extension/<namespace>/<name>`.
    pub cluster: String,
    /// The `:authority` of the calls, `<name>.<namespace>` (the cluster name has `/`s, which
    /// strict HTTP/2 servers refuse).
    pub authority: String,
    /// The rate limit domain (not empty).
    pub domain: String,
    /// Let requests through when the service fails or cannot be reached (else 500).
    pub fail_open: bool,
    /// Add the `x-ratelimit-*` response headers (IETF draft 03).
    pub x_rate_limit_headers: bool,
    /// Answer over-limit gRPC requests with RESOURCE_EXHAUSTED.
    pub resource_exhausted: bool,
    /// How long a call may take (the ExtensionService's `timeoutPolicy.response`, set from
    /// the DAG when translating); `None` keeps Envoy's default, 20 ms.
    pub timeout: Option<Timeout>,
}

impl RateLimitSettings {
    /// The settings for ExtensionService `namespace/name`.
    pub fn new(namespace: &str, name: &str, domain: &str) -> Self {
        RateLimitSettings {
            cluster: format!("extension/{namespace}/{name}"),
            authority: format!("{name}.{namespace}"),
            domain: domain.to_string(),
            fail_open: false,
            x_rate_limit_headers: false,
            resource_exhausted: false,
            timeout: None,
        }
    }
}

/// The rate limit filter calling the service.
pub fn rate_limit_filter(settings: &RateLimitSettings) -> hcm_v3::HttpFilter {
    use ratelimit_v3::rate_limit::XRateLimitHeadersRfcVersion;
    let headers = if settings.x_rate_limit_headers {
        XRateLimitHeadersRfcVersion::DraftVersion03
    } else {
        XRateLimitHeadersRfcVersion::Off
    };
    let config = ratelimit_v3::RateLimit {
        domain: settings.domain.clone(),
        failure_mode_deny: !settings.fail_open,
        rate_limited_as_resource_exhausted: settings.resource_exhausted,
        timeout: settings.timeout.map(proto::timeout),
        enable_x_ratelimit_headers: headers as i32,
        rate_limit_service: Some(ratelimit_config_v3::RateLimitServiceConfig {
            grpc_service: Some(crate::ext_authz::grpc_service(
                &settings.cluster,
                &settings.authority,
                None,
            )),
            transport_api_version: core_v3::ApiVersion::V3 as i32,
        }),
        ..Default::default()
    };
    hcm_v3::HttpFilter {
        name: RATE_LIMIT_FILTER.to_string(),
        config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(proto::any(
            &config,
        ))),
        ..Default::default()
    }
}

/// The `rate_limits` of a virtual host or route: one per descriptor, one action per entry.
pub fn rate_limits(limit: &GlobalRateLimit) -> Vec<route_v3::RateLimit> {
    use route_v3::rate_limit::action::{self, ActionSpecifier};
    limit
        .descriptors
        .iter()
        .map(|descriptor| route_v3::RateLimit {
            actions: descriptor
                .entries
                .iter()
                .map(|entry| {
                    let specifier = match entry {
                        DescriptorEntry::GenericKey { key, value } => {
                            ActionSpecifier::GenericKey(action::GenericKey {
                                descriptor_value: value.clone(),
                                descriptor_key: key.clone().unwrap_or_default(),
                                ..Default::default()
                            })
                        }
                        DescriptorEntry::RequestHeader { header, key } => {
                            ActionSpecifier::RequestHeaders(action::RequestHeaders {
                                header_name: header.clone(),
                                descriptor_key: key.clone(),
                                ..Default::default()
                            })
                        }
                        DescriptorEntry::HeaderValueMatch {
                            headers,
                            expect_match,
                            value,
                        } => ActionSpecifier::HeaderValueMatch(action::HeaderValueMatch {
                            descriptor_value: value.clone(),
                            expect_match: proto::bool_value(*expect_match),
                            headers: headers.iter().map(header_matcher).collect(),
                            ..Default::default()
                        }),
                        DescriptorEntry::RemoteAddress => {
                            ActionSpecifier::RemoteAddress(action::RemoteAddress::default())
                        }
                    };
                    route_v3::rate_limit::Action {
                        action_specifier: Some(specifier),
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// The per-route setting of a route whose global limits are disabled: its virtual host's
/// descriptors are ignored.
pub fn ignore_virtual_host_limits() -> Any {
    proto::any(&ratelimit_v3::RateLimitPerRoute {
        vh_rate_limits: ratelimit_v3::rate_limit_per_route::VhRateLimitsOptions::Ignore as i32,
        ..Default::default()
    })
}

#[cfg(test)]
pub(crate) mod tests;

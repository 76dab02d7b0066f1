//! The HTTP filters of the ingress connection managers (CORS, local rate limit, RBAC, router) and
//! the per-virtual-host and per-route configurations that switch the first three on.
//!
//! As in Contour, the CORS, local rate limit and RBAC filters are always in the chain, configured
//! to do nothing; a virtual host or route turns them on with its `typed_per_filter_config`, so
//! the listeners do not change when a policy does.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::rbac::v3 as rbac_config_v3;
use envoy_types::pb::envoy::extensions::filters::http::cors::v3 as cors_v3;
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3 as local_ratelimit_v3;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3 as rbac_v3;
use envoy_types::pb::envoy::extensions::filters::http::router::v3 as router_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::envoy::r#type::v3 as type_v3;
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};
use sesame_dag::dag::{
    CorsPolicy, IpFilter, IpFilterAction, IpSource, LocalRateLimit, OriginMatch,
};

use crate::proto;
use crate::route::{headers_to_add, regex_matcher};

/// The CORS filter.
pub const CORS_FILTER: &str = "envoy.filters.http.cors";
/// The local rate limit filter.
pub const LOCAL_RATE_LIMIT_FILTER: &str = "envoy.filters.http.local_ratelimit";
/// The RBAC filter, which applies IP filters.
pub const RBAC_FILTER: &str = "envoy.filters.http.rbac";
/// The router filter, always last.
pub const ROUTER_FILTER: &str = "envoy.filters.http.router";

/// The stat prefix of the local rate limit filter in the chain (Contour's).
const LOCAL_RATE_LIMIT_STAT_PREFIX: &str = "http";

/// An HTTP filter of a connection manager.
pub(crate) fn filter<T: Message + Name>(name: &str, config: &T) -> hcm_v3::HttpFilter {
    hcm_v3::HttpFilter {
        name: name.to_string(),
        config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(proto::any(
            config,
        ))),
        ..Default::default()
    }
}

/// The router filter alone: the chain of connection managers that serve no user policy.
pub fn router_only() -> Vec<hcm_v3::HttpFilter> {
    vec![filter(ROUTER_FILTER, &router_v3::Router::default())]
}

/// The filters of the ingress connection managers: CORS, local rate limit, Lua (cookie rewrites)
/// and RBAC, idle until a virtual host or route configures them, then the router (Contour's
/// order, without the filters Sesame does not configure).
pub fn ingress_filters() -> Vec<hcm_v3::HttpFilter> {
    vec![
        filter(CORS_FILTER, &cors_v3::Cors::default()),
        // No token bucket: the filter limits nothing until a virtual host or route sets one.
        filter(
            LOCAL_RATE_LIMIT_FILTER,
            &local_ratelimit_v3::LocalRateLimit {
                stat_prefix: LOCAL_RATE_LIMIT_STAT_PREFIX.to_string(),
                ..Default::default()
            },
        ),
        // No default code: the script runs only for routes with cookie rewrites.
        crate::cookie::lua_filter(),
        // No rules: the filter enforces nothing until a virtual host or route sets an IP filter.
        filter(RBAC_FILTER, &rbac_v3::Rbac::default()),
        filter(ROUTER_FILTER, &router_v3::Router::default()),
    ]
}

/// The `typed_per_filter_config` of a virtual host: its CORS policy, its local rate limit,
/// counted under `vhost.<virtual host name>`, and its IP filter.
pub fn virtual_host_filter_configs(
    vhost_name: &str,
    cors: Option<&CorsPolicy>,
    rate_limit: Option<&LocalRateLimit>,
    ip_filter: Option<&IpFilter>,
) -> HashMap<String, Any> {
    let mut out = HashMap::new();
    if let Some(cors) = cors {
        out.insert(CORS_FILTER.to_string(), proto::any(&cors_policy(cors)));
    }
    if let Some(limit) = rate_limit {
        out.insert(
            LOCAL_RATE_LIMIT_FILTER.to_string(),
            proto::any(&local_rate_limit(limit, vhost_name)),
        );
    }
    if let Some(ip_filter) = ip_filter {
        out.insert(
            RBAC_FILTER.to_string(),
            proto::any(&rbac_per_route(ip_filter)),
        );
    }
    out
}

/// The `typed_per_filter_config` of a route with its own local rate limit or IP filter
/// (replacing its virtual host's); the limit is counted under the virtual host's stat prefix as
/// in Contour.
pub fn route_filter_configs(
    vhost_name: &str,
    rate_limit: Option<&LocalRateLimit>,
    ip_filter: Option<&IpFilter>,
) -> HashMap<String, Any> {
    virtual_host_filter_configs(vhost_name, None, rate_limit, ip_filter)
}

/// An IP filter as Contour writes it: one policy, `ip-rules`, matching any request from any of
/// the rules' ranges, with the ALLOW or DENY action. `Peer` matches the connection's address
/// (`direct_remote_ip`), `Remote` the client address Envoy derives (`remote_ip`).
pub fn rbac_per_route(ip_filter: &IpFilter) -> rbac_v3::RbacPerRoute {
    use rbac_config_v3::principal::Identifier;
    let principals = ip_filter
        .rules
        .iter()
        .map(|rule| {
            let range = core_v3::CidrRange {
                address_prefix: rule.address.to_string(),
                prefix_len: proto::u32_value(u32::from(rule.prefix_len)),
            };
            let identifier = match rule.source {
                IpSource::Peer => Identifier::DirectRemoteIp(range),
                IpSource::Remote => Identifier::RemoteIp(range),
            };
            rbac_config_v3::Principal {
                identifier: Some(identifier),
            }
        })
        .collect();
    let action = match ip_filter.action {
        IpFilterAction::Allow => rbac_config_v3::rbac::Action::Allow,
        IpFilterAction::Deny => rbac_config_v3::rbac::Action::Deny,
    };
    let policy = rbac_config_v3::Policy {
        permissions: vec![rbac_config_v3::Permission {
            rule: Some(rbac_config_v3::permission::Rule::Any(true)),
        }],
        principals,
        ..Default::default()
    };
    rbac_v3::RbacPerRoute {
        rbac: Some(rbac_v3::Rbac {
            rules: Some(rbac_config_v3::Rbac {
                action: action as i32,
                policies: HashMap::from([("ip-rules".to_string(), policy)]),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// A CORS policy: origins matched exactly (case-insensitively) or by regex, the allow and
/// expose lists comma-joined (each entry is a validated HTTP token).
pub fn cors_policy(cors: &CorsPolicy) -> cors_v3::CorsPolicy {
    use matcher_v3::string_matcher::MatchPattern;
    let allow_origin_string_match = cors
        .allow_origin
        .iter()
        .map(|origin| match origin {
            OriginMatch::Exact(o) => matcher_v3::StringMatcher {
                match_pattern: Some(MatchPattern::Exact(o.clone())),
                ignore_case: true,
            },
            OriginMatch::Regex(r) => matcher_v3::StringMatcher {
                match_pattern: Some(MatchPattern::SafeRegex(regex_matcher(r))),
                ignore_case: false,
            },
        })
        .collect();
    cors_v3::CorsPolicy {
        allow_origin_string_match,
        allow_methods: cors.allow_methods.join(","),
        allow_headers: cors.allow_headers.join(","),
        expose_headers: cors.expose_headers.join(","),
        max_age: cors.max_age.map(|s| s.to_string()).unwrap_or_default(),
        allow_credentials: proto::bool_value(cors.allow_credentials),
        allow_private_network_access: proto::bool_value(cors.allow_private_network),
        ..Default::default()
    }
}

/// A local rate limit: the token bucket, enabled and enforced for every request, the status of
/// refused requests (Envoy's 429 when unset) and the headers added to them.
pub fn local_rate_limit(
    limit: &LocalRateLimit,
    vhost_name: &str,
) -> local_ratelimit_v3::LocalRateLimit {
    let everyone = || {
        Some(core_v3::RuntimeFractionalPercent {
            default_value: Some(type_v3::FractionalPercent {
                numerator: 100,
                denominator: type_v3::fractional_percent::DenominatorType::Hundred as i32,
            }),
            runtime_key: String::new(),
        })
    };
    local_ratelimit_v3::LocalRateLimit {
        stat_prefix: format!("vhost.{vhost_name}"),
        status: limit.status.map(|code| type_v3::HttpStatus {
            code: i32::from(code),
        }),
        token_bucket: Some(type_v3::TokenBucket {
            max_tokens: limit.max_tokens,
            tokens_per_fill: proto::u32_value(limit.tokens_per_fill),
            fill_interval: Some(proto::duration(limit.fill_interval)),
        }),
        filter_enabled: everyone(),
        filter_enforced: everyone(),
        response_headers_to_add: headers_to_add(&limit.response_headers),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;

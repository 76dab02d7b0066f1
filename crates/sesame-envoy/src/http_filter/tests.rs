//! Golden tests: CORS policies, local rate limits and IP filters of a DAG → the filters'
//! per-virtual-host and per-route configurations.

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{HeadersPolicy, PathMatch, RATE_LIMIT_STATUS_CODES, RouteAction};

use super::*;
use crate::route::virtual_host;
use crate::testutil::{decode, forward_route, seconds, vhost};

fn cors() -> CorsPolicy {
    CorsPolicy {
        allow_origin: vec![
            OriginMatch::Exact("https://a.example.com".into()),
            OriginMatch::Regex(r"https://.*\.b\.com".into()),
        ],
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["authorization".into(), "X-Custom".into()],
        expose_headers: vec!["X-Request-Id".into()],
        max_age: Some(600),
        allow_credentials: true,
        allow_private_network: false,
    }
}

fn limit(requests: u32, burst: u32, status: Option<u16>) -> LocalRateLimit {
    LocalRateLimit {
        max_tokens: requests + burst,
        tokens_per_fill: requests,
        fill_interval: Duration::from_secs(60),
        status,
        response_headers: HeadersPolicy {
            set: vec![("x-limited".into(), "100%".into())],
            remove: Vec::new(),
        },
    }
}

#[test]
fn a_cors_policy_is_the_virtual_hosts_cors_filter_config() {
    let mut vh = vhost(
        "a.com",
        vec![forward_route(PathMatch::Prefix("/".into()), "c")],
    );
    vh.cors = Some(Box::new(cors()));
    let out = virtual_host(&vh);
    assert_eq!(
        out.typed_per_filter_config.keys().collect::<Vec<_>>(),
        vec![CORS_FILTER]
    );
    let got: cors_v3::CorsPolicy = decode(&out.typed_per_filter_config[CORS_FILTER]);
    use matcher_v3::string_matcher::MatchPattern;
    assert_eq!(
        got,
        cors_v3::CorsPolicy {
            allow_origin_string_match: vec![
                matcher_v3::StringMatcher {
                    match_pattern: Some(MatchPattern::Exact("https://a.example.com".into())),
                    ignore_case: true,
                },
                matcher_v3::StringMatcher {
                    match_pattern: Some(MatchPattern::SafeRegex(matcher_v3::RegexMatcher {
                        regex: r"https://.*\.b\.com".into(),
                        engine_type: None,
                    })),
                    ignore_case: false,
                },
            ],
            allow_methods: "GET,POST".into(),
            allow_headers: "authorization,X-Custom".into(),
            expose_headers: "X-Request-Id".into(),
            max_age: "600".into(),
            allow_credentials: proto::bool_value(true),
            allow_private_network_access: proto::bool_value(false),
            ..Default::default()
        }
    );
    // No route carries a configuration of its own.
    assert!(out.routes[0].typed_per_filter_config.is_empty());
}

#[test]
fn max_age_unset_sends_none_and_zero_forbids_caching() {
    let mut policy = cors();
    policy.max_age = None;
    assert_eq!(cors_policy(&policy).max_age, "");
    policy.max_age = Some(0);
    assert_eq!(cors_policy(&policy).max_age, "0");
}

#[test]
fn local_rate_limits_of_the_virtual_host_and_a_route() {
    let mut strict = forward_route(PathMatch::Prefix("/strict".into()), "c");
    if let RouteAction::Forward(f) = &mut strict.action {
        f.policies_mut().rate_limit = Some(limit(2, 0, Some(503)));
    }
    let plain = forward_route(PathMatch::Prefix("/".into()), "c");
    let mut vh = vhost("a.com", vec![strict, plain]);
    vh.rate_limit = Some(Box::new(limit(100, 20, None)));
    let out = virtual_host(&vh);

    let host: local_ratelimit_v3::LocalRateLimit =
        decode(&out.typed_per_filter_config[LOCAL_RATE_LIMIT_FILTER]);
    let enforced = Some(core_v3::RuntimeFractionalPercent {
        default_value: Some(type_v3::FractionalPercent {
            numerator: 100,
            denominator: type_v3::fractional_percent::DenominatorType::Hundred as i32,
        }),
        runtime_key: String::new(),
    });
    assert_eq!(
        host,
        local_ratelimit_v3::LocalRateLimit {
            stat_prefix: "vhost.a.com".into(),
            status: None,
            token_bucket: Some(type_v3::TokenBucket {
                max_tokens: 120,
                tokens_per_fill: proto::u32_value(100),
                fill_interval: Some(seconds(60)),
            }),
            filter_enabled: enforced.clone(),
            filter_enforced: enforced,
            // `%` is escaped: Envoy would read `%…%` as a command.
            response_headers_to_add: vec![core_v3::HeaderValueOption {
                header: Some(core_v3::HeaderValue {
                    key: "x-limited".into(),
                    value: "100%%".into(),
                    ..Default::default()
                }),
                append_action:
                    core_v3::header_value_option::HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
                ..Default::default()
            }],
            ..Default::default()
        }
    );
    let route_config = |r: &route_v3::Route| -> Option<local_ratelimit_v3::LocalRateLimit> {
        r.typed_per_filter_config
            .get(LOCAL_RATE_LIMIT_FILTER)
            .map(decode)
    };
    let strict = route_config(&out.routes[0]).expect("the route's own limit");
    assert_eq!(strict.stat_prefix, "vhost.a.com");
    assert_eq!(strict.status, Some(type_v3::HttpStatus { code: 503 }));
    assert_eq!(
        strict
            .token_bucket
            .map(|b| (b.max_tokens, b.tokens_per_fill)),
        Some((2, proto::u32_value(2)))
    );
    assert_eq!(
        route_config(&out.routes[1]),
        None,
        "the host's limit applies"
    );
}

#[test]
fn every_status_a_rate_limit_may_answer_is_one_envoy_accepts() {
    for code in RATE_LIMIT_STATUS_CODES {
        assert!(
            type_v3::StatusCode::try_from(i32::from(*code)).is_ok(),
            "{code} is not in envoy.type.v3.StatusCode"
        );
    }
    // And every 4xx/5xx Envoy accepts is allowed.
    let accepted = (400..600)
        .filter(|c| type_v3::StatusCode::try_from(*c).is_ok())
        .count();
    assert_eq!(accepted, RATE_LIMIT_STATUS_CODES.len());
}

#[test]
fn the_filters_are_idle_until_configured_and_the_router_is_last() {
    let names: Vec<_> = ingress_filters().into_iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            CORS_FILTER,
            LOCAL_RATE_LIMIT_FILTER,
            crate::cookie::LUA_FILTER,
            RBAC_FILTER,
            ROUTER_FILTER
        ]
    );
    let Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) = &ingress_filters()[1].config_type
    else {
        panic!("local rate limit without config");
    };
    let idle: local_ratelimit_v3::LocalRateLimit = decode(any);
    assert_eq!(idle.token_bucket, None);
    assert_eq!(idle.stat_prefix, "http");
}

#[test]
fn the_rbac_filter_enforces_nothing_until_configured() {
    let Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) = &ingress_filters()[3].config_type
    else {
        panic!("rbac without config");
    };
    let idle: rbac_v3::Rbac = decode(any);
    assert_eq!(idle, rbac_v3::Rbac::default());
}

fn ip_rule(source: IpSource, address: &str, prefix_len: u8) -> sesame_dag::dag::IpFilterRule {
    sesame_dag::dag::IpFilterRule {
        source,
        address: address.parse().unwrap(),
        prefix_len,
    }
}

/// Contour's RBAC policy for `action` over `principals`.
fn rbac(
    action: rbac_config_v3::rbac::Action,
    principals: Vec<rbac_config_v3::Principal>,
) -> rbac_v3::RbacPerRoute {
    rbac_v3::RbacPerRoute {
        rbac: Some(rbac_v3::Rbac {
            rules: Some(rbac_config_v3::Rbac {
                action: action as i32,
                policies: HashMap::from([(
                    "ip-rules".to_string(),
                    rbac_config_v3::Policy {
                        permissions: vec![rbac_config_v3::Permission {
                            rule: Some(rbac_config_v3::permission::Rule::Any(true)),
                        }],
                        principals,
                        ..Default::default()
                    },
                )]),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn principal(
    identifier: fn(core_v3::CidrRange) -> rbac_config_v3::principal::Identifier,
    address: &str,
    prefix_len: u32,
) -> rbac_config_v3::Principal {
    rbac_config_v3::Principal {
        identifier: Some(identifier(core_v3::CidrRange {
            address_prefix: address.into(),
            prefix_len: proto::u32_value(prefix_len),
        })),
    }
}

#[test]
fn ip_filters_of_the_virtual_host_and_a_route_are_rbac_policies() {
    use rbac_config_v3::principal::Identifier::{DirectRemoteIp, RemoteIp};
    let mut admin = forward_route(PathMatch::Prefix("/admin".into()), "c");
    admin.ip_filter = Some(Box::new(IpFilter {
        action: IpFilterAction::Deny,
        rules: vec![ip_rule(IpSource::Remote, "192.168.0.0", 16)],
    }));
    // A route that does not forward is filtered too.
    let mut redirect = forward_route(PathMatch::Prefix("/old".into()), "c");
    redirect.action = RouteAction::HttpsRedirect;
    redirect.ip_filter = admin.ip_filter.clone();
    let plain = forward_route(PathMatch::Prefix("/".into()), "c");
    let mut vh = vhost("a.com", vec![admin, redirect, plain]);
    vh.ip_filter = Some(Box::new(IpFilter {
        action: IpFilterAction::Allow,
        rules: vec![
            ip_rule(IpSource::Peer, "127.0.0.1", 32),
            ip_rule(IpSource::Remote, "2001:db8::", 32),
        ],
    }));
    let out = virtual_host(&vh);

    let host: rbac_v3::RbacPerRoute = decode(&out.typed_per_filter_config[RBAC_FILTER]);
    assert_eq!(
        host,
        rbac(
            rbac_config_v3::rbac::Action::Allow,
            vec![
                principal(DirectRemoteIp, "127.0.0.1", 32),
                principal(RemoteIp, "2001:db8::", 32),
            ]
        )
    );
    let deny = rbac(
        rbac_config_v3::rbac::Action::Deny,
        vec![principal(RemoteIp, "192.168.0.0", 16)],
    );
    for route in &out.routes[..2] {
        let own: rbac_v3::RbacPerRoute = decode(&route.typed_per_filter_config[RBAC_FILTER]);
        assert_eq!(own, deny);
    }
    assert!(
        out.routes[2].typed_per_filter_config.is_empty(),
        "the host's filter applies"
    );
}

use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::http::ratelimit::v3 as ratelimit_v3;
use pretty_assertions::assert_eq;
use sesame_dag::Dag;
use sesame_dag::dag::{
    Forward, ForwardPolicies, HeaderMatch, HeaderValueMatch, PathMatch, RateLimitDescriptor,
    RouteAction, RouteGlobalRateLimit,
};

use super::*;
use crate::testutil::{cluster, decode, forward_route, vhost};
use crate::{TranslateConfig, translate};

/// Every kind of descriptor entry, in one descriptor, and a second descriptor.
pub(crate) fn every_descriptor() -> GlobalRateLimit {
    GlobalRateLimit {
        descriptors: vec![
            RateLimitDescriptor {
                entries: vec![
                    DescriptorEntry::GenericKey {
                        key: Some("tier".into()),
                        value: "gold".into(),
                    },
                    DescriptorEntry::RequestHeader {
                        header: "x-user".into(),
                        key: "user".into(),
                    },
                    DescriptorEntry::HeaderValueMatch {
                        headers: vec![HeaderMatch {
                            name: "x-beta".into(),
                            value: HeaderValueMatch::Present,
                            invert: false,
                            ignore_case: false,
                        }],
                        expect_match: false,
                        value: "stable".into(),
                    },
                ],
            },
            RateLimitDescriptor {
                entries: vec![DescriptorEntry::RemoteAddress],
            },
        ],
    }
}

/// A DAG with `limited.com`: its own descriptors, a route with its own, a route that
/// disables them, and a plain route.
pub(crate) fn rate_limited_dag() -> Dag {
    let web = cluster("web", sesame_dag::dag::UpstreamProtocol::Http1);
    let with = |path: &str, limit: Option<RouteGlobalRateLimit>| {
        let mut route = forward_route(PathMatch::Prefix(path.into()), &web.name);
        if let RouteAction::Forward(Forward { policies, .. }) = &mut route.action {
            *policies = Some(Box::new(ForwardPolicies {
                global_rate_limit: limit,
                ..Default::default()
            }));
        }
        route
    };
    let own = GlobalRateLimit {
        descriptors: vec![RateLimitDescriptor {
            entries: vec![DescriptorEntry::GenericKey {
                key: None,
                value: "own".into(),
            }],
        }],
    };
    let mut host = vhost(
        "limited.com",
        vec![
            with("/own", Some(RouteGlobalRateLimit::Descriptors(own))),
            with("/free", Some(RouteGlobalRateLimit::Disabled)),
            with("/", None),
        ],
    );
    host.global_rate_limit = Some(Box::new(every_descriptor()));
    let mut dag = Dag::default();
    dag.http.insert("limited.com".into(), host);
    dag.clusters.insert(web.name.clone(), web);
    dag
}

pub(crate) fn rate_limit_config() -> TranslateConfig {
    let mut config = TranslateConfig::default();
    let mut settings = RateLimitSettings::new("projectsesame", "ratelimit", "sesame");
    settings.x_rate_limit_headers = true;
    settings.resource_exhausted = true;
    config.listener.rate_limit = Some(settings);
    config
}

#[test]
fn descriptors_become_envoy_actions() {
    use route_v3::rate_limit::action::ActionSpecifier;
    let limits = rate_limits(&every_descriptor());
    assert_eq!(limits.len(), 2);
    let actions: Vec<_> = limits[0]
        .actions
        .iter()
        .map(|a| a.action_specifier.clone().unwrap())
        .collect();
    assert!(matches!(&actions[0], ActionSpecifier::GenericKey(g)
        if g.descriptor_key == "tier" && g.descriptor_value == "gold"));
    assert!(matches!(&actions[1], ActionSpecifier::RequestHeaders(h)
        if h.header_name == "x-user" && h.descriptor_key == "user"));
    assert!(matches!(&actions[2], ActionSpecifier::HeaderValueMatch(m)
        if m.descriptor_value == "stable" && m.expect_match.map(|b| b.value) == Some(false)
            && m.headers[0].name == "x-beta"));
    assert!(matches!(
        limits[1].actions[0].action_specifier,
        Some(ActionSpecifier::RemoteAddress(_))
    ));
}

#[test]
fn hosts_and_routes_carry_their_limits() {
    let resources = translate(&rate_limited_dag(), &rate_limit_config());
    let config: route_v3::RouteConfiguration = decode(&resources.routes["ingress_http"]);
    let vh = &config.virtual_hosts[0];
    assert_eq!(vh.rate_limits.len(), 2);
    let action = |r: &route_v3::Route| match &r.action {
        Some(route_v3::route::Action::Route(a)) => a.rate_limits.len(),
        other => panic!("{other:?}"),
    };
    let by_path = |p: &str| {
        vh.routes
            .iter()
            .find(|r| {
                matches!(&r.r#match.as_ref().unwrap().path_specifier,
                Some(route_v3::route_match::PathSpecifier::Prefix(x)) if x == p)
            })
            .unwrap()
    };
    assert_eq!(action(by_path("/own")), 1);
    assert_eq!(action(by_path("/")), 0);
    let free: ratelimit_v3::RateLimitPerRoute =
        decode(&by_path("/free").typed_per_filter_config[RATE_LIMIT_FILTER]);
    assert_eq!(
        free.vh_rate_limits,
        ratelimit_v3::rate_limit_per_route::VhRateLimitsOptions::Ignore as i32
    );
    assert!(
        !by_path("/")
            .typed_per_filter_config
            .contains_key(RATE_LIMIT_FILTER)
    );
}

#[test]
fn the_filter_is_in_the_ingress_chains_only_when_configured() {
    let names = |config: &TranslateConfig| {
        let resources = translate(&rate_limited_dag(), config);
        let listener: listener_v3::Listener = decode(&resources.listeners["ingress_http"]);
        let hcm: envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager =
            match &listener.filter_chains[0].filters[0].config_type {
                Some(listener_v3::filter::ConfigType::TypedConfig(any)) => decode(any),
                other => panic!("{other:?}"),
            };
        hcm.http_filters
    };
    assert!(
        names(&TranslateConfig::default())
            .iter()
            .all(|f| f.name != RATE_LIMIT_FILTER)
    );
    let filters = names(&rate_limit_config());
    let at = filters.len() - 2;
    assert_eq!(filters[at].name, RATE_LIMIT_FILTER);
    let config: ratelimit_v3::RateLimit = match &filters[at].config_type {
        Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) => decode(any),
        other => panic!("{other:?}"),
    };
    assert_eq!(config.domain, "sesame");
    assert!(config.failure_mode_deny);
    assert!(config.rate_limited_as_resource_exhausted);
    assert_eq!(
        config.enable_x_ratelimit_headers,
        ratelimit_v3::rate_limit::XRateLimitHeadersRfcVersion::DraftVersion03 as i32
    );
    let service = config.rate_limit_service.unwrap();
    assert_eq!(
        service.transport_api_version,
        core_v3::ApiVersion::V3 as i32
    );
    let Some(core_v3::grpc_service::TargetSpecifier::EnvoyGrpc(grpc)) =
        service.grpc_service.unwrap().target_specifier
    else {
        panic!("not envoy grpc")
    };
    assert_eq!(grpc.cluster_name, "extension/projectsesame/ratelimit");
    assert_eq!(grpc.authority, "ratelimit.projectsesame");
}

/// The decoded rate limit filter of `ingress_http` in `resources`.
fn http_rate_limit_filter(resources: &crate::Resources) -> ratelimit_v3::RateLimit {
    let listener: listener_v3::Listener = decode(&resources.listeners["ingress_http"]);
    let hcm: envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager =
        match &listener.filter_chains[0].filters[0].config_type {
            Some(listener_v3::filter::ConfigType::TypedConfig(any)) => decode(any),
            other => panic!("{other:?}"),
        };
    let filter = hcm
        .http_filters
        .iter()
        .find(|f| f.name == RATE_LIMIT_FILTER)
        .expect("rate limit filter");
    match &filter.config_type {
        Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) => decode(any),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_calls_take_the_extension_services_response_timeout_and_follow_its_changes() {
    use std::time::Duration;
    let config = rate_limit_config();
    let mut dag = rate_limited_dag();
    // No cluster yet: Envoy's default.
    assert_eq!(
        http_rate_limit_filter(&translate(&dag, &config)).timeout,
        None
    );
    let mut rls = cluster("rls", sesame_dag::dag::UpstreamProtocol::H2c);
    rls.name = "extension/projectsesame/ratelimit".into();
    rls.response_timeout = Some(Timeout::After(Duration::from_millis(250)));
    dag.clusters.insert(rls.name.clone(), rls.clone());
    let full = translate(&dag, &config);
    assert_eq!(
        http_rate_limit_filter(&full).timeout,
        Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 0,
            nanos: 250_000_000
        })
    );
    // Incrementally: a change to that cluster alone re-encodes the listeners.
    let snapshot = sesame_dag::Snapshot::new();
    let mut translator = crate::incremental::Translator::new(config.clone());
    translator.full(&dag, &snapshot);
    rls.response_timeout = Some(Timeout::After(Duration::from_secs(2)));
    dag.clusters.insert(rls.name.clone(), rls.clone());
    let delta = sesame_dag::BuildDelta {
        clusters: [rls.name.clone()].into(),
        ..Default::default()
    };
    let changes = translator.update(&dag, &snapshot, &delta);
    let listener = &changes.listeners.upserts["ingress_http"];
    assert_eq!(
        listener,
        &translate(&dag, &config).listeners["ingress_http"]
    );
    let mut updated = full.clone();
    updated
        .listeners
        .insert("ingress_http".into(), listener.clone());
    assert_eq!(
        http_rate_limit_filter(&updated).timeout,
        Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 2,
            nanos: 0
        })
    );
}

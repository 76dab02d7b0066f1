//! Translation of the HTTPRoute features that reach Envoy as route settings: a full path
//! rewrite, a route's own CORS policy, headers added per weighted cluster, a per-try timeout.

use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::http::cors::v3 as cors_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{
    ClusterRewrites, CorsPolicy, HeaderValue, OriginMatch, PathMatch, RetryPolicy, RouteAction,
    Timeout, WeightedCluster,
};

use crate::route::{route, virtual_host};
use crate::testutil::{decode, forward_route, vhost};

fn action(r: &route_v3::Route) -> &route_v3::RouteAction {
    match &r.action {
        Some(route_v3::route::Action::Route(action)) => action,
        other => panic!("not a route action: {other:?}"),
    }
}

#[test]
fn a_full_path_rewrite_is_a_regex_rewrite_of_the_whole_path() {
    let mut r = forward_route(PathMatch::SegmentPrefix("/full".into()), "c");
    if let RouteAction::Forward(f) = &mut r.action {
        f.policies_mut().path_rewrite = Some(r"/one\x".into());
    }
    let out = route(&r);
    let rewrite = action(&out).regex_rewrite.clone().expect("regex rewrite");
    assert_eq!(rewrite.pattern.expect("pattern").regex, "^.*$");
    // A backslash is doubled: RE2 would read `\x` as an escape in the substitution.
    assert_eq!(rewrite.substitution, r"/one\\x");
    assert_eq!(action(&out).prefix_rewrite, "");
}

#[test]
fn backend_headers_cors_and_per_try_timeouts_reach_the_route() {
    let mut r = forward_route(PathMatch::Prefix("/".into()), "a");
    if let RouteAction::Forward(f) = &mut r.action {
        f.clusters = vec![
            WeightedCluster::new("a", 1).with_rewrites(ClusterRewrites {
                request_headers_append: vec![("x-add".into(), HeaderValue::literal("1"))],
                ..ClusterRewrites::default()
            }),
            WeightedCluster::new("b", 1),
        ];
        f.retry = Some(RetryPolicy {
            retry_on: Vec::new(),
            num_retries: 0,
            per_try_timeout: Some(Timeout::After(Duration::from_millis(1500))),
            retriable_status_codes: Vec::new(),
        });
        f.policies_mut().cors = Some(Box::new(CorsPolicy {
            allow_origin: vec![OriginMatch::Exact("*".into())],
            allow_methods: vec!["PUT".into()],
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: None,
            allow_credentials: false,
            allow_private_network: false,
        }));
    }
    let host = virtual_host(&vhost("a.com", vec![r]));
    let out = &host.routes[0];
    let Some(route_v3::route_action::ClusterSpecifier::WeightedClusters(split)) =
        &action(out).cluster_specifier
    else {
        panic!("not weighted")
    };
    let added = &split.clusters[0].request_headers_to_add;
    assert_eq!(added.len(), 1);
    assert_eq!(
        added[0].append_action,
        envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction::AppendIfExistsOrAdd as i32
    );
    assert!(split.clusters[1].request_headers_to_add.is_empty());
    let retry = action(out).retry_policy.clone().expect("retry policy");
    assert_eq!(retry.num_retries.map(|n| n.value), Some(0));
    assert_eq!(
        retry.per_try_timeout,
        Some(crate::proto::duration(Duration::from_millis(1500)))
    );
    let cors: cors_v3::CorsPolicy =
        decode(&out.typed_per_filter_config[crate::http_filter::CORS_FILTER]);
    assert_eq!(cors.allow_methods, "PUT");
    // The virtual host has no policy of its own.
    assert!(host.typed_per_filter_config.is_empty());
}

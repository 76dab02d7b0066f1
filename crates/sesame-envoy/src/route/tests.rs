use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use pretty_assertions::assert_eq;
use route_v3::route::Action;
use route_v3::route_action::ClusterSpecifier;
use route_v3::route_match::PathSpecifier;
use sesame_dag::dag::{
    Forward, HeaderMatch, HeaderValueMatch, PathMatch, RetryPolicy, RouteAction, Timeout,
    WeightedCluster,
};

use super::*;
use crate::testutil::{decode, forward_route, sample_dag, seconds, secure_vhost, vhost};

fn path_of(m: PathMatch) -> PathSpecifier {
    route(&forward_route(m, "c"))
        .r#match
        .and_then(|m| m.path_specifier)
        .expect("path specifier")
}

fn route_action_of(action: RouteAction) -> route_v3::RouteAction {
    let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
    r.action = action;
    match route(&r).action {
        Some(Action::Route(a)) => a,
        other => panic!("expected a route action, got {other:?}"),
    }
}

fn forward(clusters: &[(&str, u32)]) -> Forward {
    Forward {
        clusters: clusters
            .iter()
            .map(|(n, w)| WeightedCluster::new(*n, *w))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn path_matches() {
    assert_eq!(
        path_of(PathMatch::Prefix("/a".into())),
        PathSpecifier::Prefix("/a".into())
    );
    assert_eq!(
        path_of(PathMatch::SegmentPrefix("/a".into())),
        PathSpecifier::PathSeparatedPrefix("/a".into())
    );
    assert_eq!(
        path_of(PathMatch::Exact("/a".into())),
        PathSpecifier::Path("/a".into())
    );
    assert_eq!(
        path_of(PathMatch::Regex("/a/[0-9]+".into())),
        PathSpecifier::SafeRegex(matcher_v3::RegexMatcher {
            regex: "/a/[0-9]+".into(),
            engine_type: None
        })
    );
}

#[test]
fn header_matchers() {
    use matcher_v3::string_matcher::MatchPattern;
    use route_v3::header_matcher::HeaderMatchSpecifier as S;
    let string = |p| {
        Some(S::StringMatch(matcher_v3::StringMatcher {
            ignore_case: false,
            match_pattern: Some(p),
        }))
    };
    let cases = [
        (
            HeaderValueMatch::Present,
            false,
            Some(S::PresentMatch(true)),
        ),
        (
            HeaderValueMatch::Exact("v".into()),
            false,
            string(MatchPattern::Exact("v".into())),
        ),
        (
            HeaderValueMatch::Contains("v".into()),
            true,
            string(MatchPattern::Contains("v".into())),
        ),
        (
            HeaderValueMatch::Regex("v.*".into()),
            false,
            string(MatchPattern::SafeRegex(matcher_v3::RegexMatcher {
                regex: "v.*".into(),
                engine_type: None,
            })),
        ),
    ];
    for (value, invert, want) in cases {
        let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
        r.headers = vec![HeaderMatch {
            name: "x-h".into(),
            value,
            invert,
            ignore_case: false,
        }];
        let got = route(&r).r#match.expect("match").headers;
        assert_eq!(
            got,
            vec![route_v3::HeaderMatcher {
                name: "x-h".into(),
                invert_match: invert,
                header_match_specifier: want,
                ..Default::default()
            }]
        );
    }
}

#[test]
fn single_cluster_forward() {
    let a = route_action_of(RouteAction::Forward(forward(&[("c1", 100)])));
    assert_eq!(
        a,
        route_v3::RouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster("c1".into())),
            ..Default::default()
        }
    );
}

#[test]
fn weighted_clusters_keep_weights() {
    let a = route_action_of(RouteAction::Forward(forward(&[
        ("c1", 80),
        ("c2", 20),
        ("c3", 0),
    ])));
    let Some(ClusterSpecifier::WeightedClusters(wc)) = a.cluster_specifier else {
        panic!("not weighted")
    };
    let got: Vec<(String, u32)> = wc
        .clusters
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.weight.map(|w| w.value).unwrap_or(u32::MAX),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("c1".into(), 80), ("c2".into(), 20), ("c3".into(), 0)]
    );
}

#[test]
fn all_zero_weights_split_evenly() {
    let a = route_action_of(RouteAction::Forward(forward(&[("c1", 0), ("c2", 0)])));
    let Some(ClusterSpecifier::WeightedClusters(wc)) = a.cluster_specifier else {
        panic!("not weighted")
    };
    assert!(
        wc.clusters
            .iter()
            .all(|c| c.weight.map(|w| w.value) == Some(1))
    );
}

#[test]
fn timeouts() {
    let with = |timeout| {
        let mut f = forward(&[("c", 1)]);
        f.timeout = timeout;
        route_action_of(RouteAction::Forward(f)).timeout
    };
    assert_eq!(with(None), None);
    assert_eq!(with(Some(Timeout::Infinite)), Some(seconds(0)));
    assert_eq!(
        with(Some(Timeout::After(Duration::from_secs(30)))),
        Some(seconds(30))
    );
    assert_eq!(
        with(Some(Timeout::After(Duration::from_millis(1500)))),
        Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 1,
            nanos: 500_000_000
        })
    );
}

#[test]
fn retries_and_websocket() {
    let mut f = forward(&[("c", 1)]);
    f.retry = Some(RetryPolicy {
        retry_on: vec!["5xx".into(), "gateway-error".into()],
        num_retries: 3,
        per_try_timeout: Some(Timeout::After(Duration::from_secs(2))),
        retriable_status_codes: Vec::new(),
    });
    f.websocket = true;
    let a = route_action_of(RouteAction::Forward(f));
    assert_eq!(
        a.retry_policy,
        Some(route_v3::RetryPolicy {
            retry_on: "5xx,gateway-error".into(),
            num_retries: Some(envoy_types::pb::google::protobuf::UInt32Value { value: 3 }),
            per_try_timeout: Some(seconds(2)),
            ..Default::default()
        })
    );
    assert_eq!(
        a.upgrade_configs,
        vec![route_v3::route_action::UpgradeConfig {
            upgrade_type: "websocket".into(),
            ..Default::default()
        }]
    );

    let plain = route_action_of(RouteAction::Forward(forward(&[("c", 1)])));
    assert_eq!(plain.retry_policy, None);
    assert!(plain.upgrade_configs.is_empty());
}

#[test]
fn redirect_and_direct_response() {
    let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
    r.action = RouteAction::HttpsRedirect;
    assert_eq!(
        route(&r).action,
        Some(Action::Redirect(route_v3::RedirectAction {
            scheme_rewrite_specifier: Some(
                route_v3::redirect_action::SchemeRewriteSpecifier::HttpsRedirect(true)
            ),
            ..Default::default()
        }))
    );

    r.action = RouteAction::DirectResponse {
        status: 418,
        body: Some("teapot".into()),
    };
    assert_eq!(
        route(&r).action,
        Some(Action::DirectResponse(route_v3::DirectResponseAction {
            status: 418,
            body: Some(core_v3::DataSource {
                specifier: Some(core_v3::data_source::Specifier::InlineString(
                    "teapot".into()
                )),
                ..Default::default()
            }),
            ..Default::default()
        }))
    );

    r.action = RouteAction::DirectResponse {
        status: 503,
        body: None,
    };
    assert_eq!(
        route(&r).action,
        Some(Action::DirectResponse(route_v3::DirectResponseAction {
            status: 503,
            ..Default::default()
        }))
    );
}

#[test]
fn forward_without_cluster_answers_503() {
    let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
    r.action = RouteAction::Forward(Forward::default());
    assert_eq!(
        route(&r).action,
        Some(Action::DirectResponse(route_v3::DirectResponseAction {
            status: 503,
            ..Default::default()
        }))
    );
}

#[test]
fn route_configurations_of_the_dag() {
    let dag = sample_dag();
    let rcs = route_configurations(&dag);
    assert_eq!(
        rcs.keys().collect::<Vec<_>>(),
        vec!["https/secure.com", "ingress_http"]
    );

    let http: route_v3::RouteConfiguration = decode(&rcs["ingress_http"]);
    assert_eq!(http.name, "ingress_http");
    assert!(http.ignore_port_in_host_matching);
    assert_eq!(http.virtual_hosts.len(), 1);
    let vh = &http.virtual_hosts[0];
    assert_eq!(
        (vh.name.as_str(), vh.domains.clone()),
        ("foo.com", vec!["foo.com".to_string()])
    );
    assert_eq!(vh.routes.len(), 1);

    let https: route_v3::RouteConfiguration = decode(&rcs["https/secure.com"]);
    assert_eq!(https.name, "https/secure.com");
    assert!(https.ignore_port_in_host_matching);
    assert_eq!(
        https
            .virtual_hosts
            .iter()
            .map(|v| v.domains.clone())
            .collect::<Vec<_>>(),
        vec![vec!["secure.com".to_string()]]
    );
}

#[test]
fn empty_dag_still_has_ingress_http() {
    let rcs = route_configurations(&Dag::default());
    assert_eq!(rcs.len(), 1);
    let http: route_v3::RouteConfiguration = decode(&rcs["ingress_http"]);
    assert_eq!(
        http,
        route_v3::RouteConfiguration {
            name: "ingress_http".into(),
            ignore_port_in_host_matching: true,
            ..Default::default()
        }
    );
}

#[test]
fn vhosts_in_hostname_order_and_wildcard_domain() {
    let mut dag = Dag::default();
    for h in ["b.com", "*", "a.com", "*.c.com"] {
        dag.http.insert(
            h.into(),
            vhost(h, vec![forward_route(PathMatch::Prefix("/".into()), "c")]),
        );
    }
    let http: route_v3::RouteConfiguration = decode(&route_configurations(&dag)["ingress_http"]);
    let domains: Vec<Vec<String>> = http
        .virtual_hosts
        .iter()
        .map(|v| v.domains.clone())
        .collect();
    assert_eq!(
        domains,
        vec![
            vec!["*".to_string()],
            vec!["*.c.com".into()],
            vec!["a.com".into()],
            vec!["b.com".into()]
        ]
    );
    // A secure vhost is only in its own route configuration.
    dag.https
        .insert("s.com".into(), secure_vhost("s.com", Vec::new()));
    let http2: route_v3::RouteConfiguration = decode(&route_configurations(&dag)["ingress_http"]);
    assert_eq!(http2.virtual_hosts.len(), 4);
}

#[test]
fn long_vhost_names_are_shortened() {
    let short = "a".repeat(60);
    assert_eq!(virtual_host_name(&short), short);

    let long = format!("{}.example.com", "x".repeat(60));
    let name = virtual_host_name(&long);
    assert_eq!(name.len(), 60);
    assert!(name.starts_with(&long[..53]), "{name}");
    assert_eq!(&name[53..54], "-");
    assert!(name[54..].chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    // Deterministic, and distinct for names that share the first 53 characters.
    assert_eq!(virtual_host_name(&long), name);
    let other = format!("{}.example.org", "x".repeat(60));
    assert_ne!(virtual_host_name(&other), name);

    // The vhost keeps the full hostname as its domain.
    let vh = virtual_host(&vhost(&long, Vec::new()));
    assert_eq!((vh.name, vh.domains), (name, vec![long]));
}

#[test]
fn encoded_route_configuration_decodes_to_the_whole_message() {
    use prost::Message;
    let hosts: Vec<VirtualHost> = (0..3)
        .map(|i| VirtualHost {
            hostname: format!("h{i}.example.com"),
            routes: vec![],
            ..Default::default()
        })
        .collect();
    let whole = route_configuration("ingress_http".to_string(), hosts.iter());
    let any = encoded_route_configuration("ingress_http".to_string(), hosts.iter());
    assert_eq!(
        any.type_url,
        "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    );
    let decoded = route_v3::RouteConfiguration::decode(any.value.as_slice()).unwrap();
    assert_eq!(decoded, whole);
    assert_eq!(decoded.virtual_hosts.len(), 3);
}

#[test]
fn prefix_rewritten_to_root_is_stripped_with_a_regex() {
    let rewritten = |path: PathMatch, to: &str| {
        let mut r = forward_route(path, "c");
        if let RouteAction::Forward(f) = &mut r.action {
            f.policies_mut().prefix_rewrite = Some(to.to_string());
        }
        match route(&r).action {
            Some(Action::Route(action)) => action,
            other => panic!("not a route action: {other:?}"),
        }
    };
    let action = rewritten(PathMatch::Prefix("/a.b(c)".into()), "/");
    assert_eq!(action.prefix_rewrite, "");
    assert_eq!(
        action.regex_rewrite,
        Some(matcher_v3::RegexMatchAndSubstitute {
            pattern: Some(matcher_v3::RegexMatcher {
                regex: r"^/a\.b\(c\)/*".into(),
                engine_type: None,
            }),
            substitution: "/".into(),
        })
    );
    // Any other replacement, or a rewrite of the root itself, stays a prefix rewrite.
    let action = rewritten(PathMatch::Prefix("/api".into()), "/v2");
    assert_eq!(
        (action.prefix_rewrite.as_str(), action.regex_rewrite),
        ("/v2", None)
    );
    let action = rewritten(PathMatch::Prefix("/".into()), "/");
    assert_eq!(
        (action.prefix_rewrite.as_str(), action.regex_rewrite),
        ("/", None)
    );
}

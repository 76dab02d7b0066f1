//! Golden tests for the route features HTTPProxy needs: case-insensitive and prefix/suffix
//! header matches, query parameter matches, rewrites, header policies, mirrors, hash policies,
//! retriable status codes and redirects.

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::envoy::r#type::v3 as type_v3;
use envoy_types::pb::google::protobuf::UInt32Value;
use pretty_assertions::assert_eq;
use route_v3::route::Action;
use route_v3::route_action::ClusterSpecifier;
use sesame_dag::dag::{
    Forward, HashPolicy, HashPolicyKind, HeaderMatch, HeaderValueMatch, HeadersPolicy, Mirror,
    PathMatch, QueryParamMatch, QueryValueMatch, Redirect, RedirectPath, RetryPolicy, RouteAction,
    Timeout, WeightedCluster,
};

use super::*;
use crate::testutil::{decode, forward_route, seconds};

fn expected_matcher(
    pattern: matcher_v3::string_matcher::MatchPattern,
    ignore_case: bool,
) -> matcher_v3::StringMatcher {
    matcher_v3::StringMatcher {
        match_pattern: Some(pattern),
        ignore_case,
    }
}

fn overwrite(key: &str, value: &str) -> core_v3::HeaderValueOption {
    core_v3::HeaderValueOption {
        header: Some(core_v3::HeaderValue {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        }),
        append_action: core_v3::header_value_option::HeaderAppendAction::OverwriteIfExistsOrAdd
            as i32,
        ..Default::default()
    }
}

fn policy(set: &[(&str, &str)], remove: &[&str]) -> HeadersPolicy {
    HeadersPolicy {
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect(),
        remove: remove.iter().map(|r| r.to_string()).collect(),
    }
}

fn forward_to(cluster: &str) -> Forward {
    Forward {
        clusters: vec![WeightedCluster::new(cluster, 1)],
        ..Default::default()
    }
}

fn route_of(forward: Forward) -> route_v3::Route {
    let mut r = forward_route(PathMatch::Prefix("/".into()), "unused");
    r.action = RouteAction::Forward(forward);
    route(&r)
}

fn route_action_of(forward: Forward) -> route_v3::RouteAction {
    match route_of(forward).action {
        Some(Action::Route(a)) => a,
        other => panic!("expected a route action, got {other:?}"),
    }
}

#[test]
fn header_matches_ignore_case_prefix_and_suffix() {
    use matcher_v3::string_matcher::MatchPattern;
    use route_v3::header_matcher::HeaderMatchSpecifier as S;
    let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
    let header = |value, ignore_case| HeaderMatch {
        name: "x-h".into(),
        value,
        invert: false,
        ignore_case,
    };
    r.headers = vec![
        header(HeaderValueMatch::Exact("Ab".into()), true),
        header(HeaderValueMatch::Prefix("pre".into()), false),
        header(HeaderValueMatch::Suffix("suf".into()), true),
        // Present ignores ignore_case: there is no string matcher to carry it.
        header(HeaderValueMatch::Present, true),
        // So does a regex: Envoy rejects ignore_case on one.
        header(HeaderValueMatch::Regex("a.*".into()), true),
    ];
    let got = route(&r).r#match.expect("match").headers;
    let want = |specifier| route_v3::HeaderMatcher {
        name: "x-h".into(),
        header_match_specifier: Some(specifier),
        ..Default::default()
    };
    assert_eq!(
        got,
        vec![
            want(S::StringMatch(expected_matcher(
                MatchPattern::Exact("Ab".into()),
                true
            ))),
            want(S::StringMatch(expected_matcher(
                MatchPattern::Prefix("pre".into()),
                false
            ))),
            want(S::StringMatch(expected_matcher(
                MatchPattern::Suffix("suf".into()),
                true
            ))),
            want(S::PresentMatch(true)),
            want(S::StringMatch(expected_matcher(
                MatchPattern::SafeRegex(matcher_v3::RegexMatcher {
                    regex: "a.*".into(),
                    engine_type: None,
                }),
                false
            ))),
        ]
    );
}

#[test]
fn query_parameter_matches() {
    use matcher_v3::string_matcher::MatchPattern;
    use route_v3::query_parameter_matcher::QueryParameterMatchSpecifier as S;
    let cases = [
        (QueryValueMatch::Present, true, S::PresentMatch(true)),
        (
            QueryValueMatch::Exact("v".into()),
            true,
            S::StringMatch(expected_matcher(MatchPattern::Exact("v".into()), true)),
        ),
        (
            QueryValueMatch::Prefix("p".into()),
            false,
            S::StringMatch(expected_matcher(MatchPattern::Prefix("p".into()), false)),
        ),
        (
            QueryValueMatch::Suffix("s".into()),
            false,
            S::StringMatch(expected_matcher(MatchPattern::Suffix("s".into()), false)),
        ),
        (
            QueryValueMatch::Contains("c".into()),
            true,
            S::StringMatch(expected_matcher(MatchPattern::Contains("c".into()), true)),
        ),
        (
            QueryValueMatch::Regex("[0-9]+".into()),
            true,
            S::StringMatch(expected_matcher(
                MatchPattern::SafeRegex(matcher_v3::RegexMatcher {
                    regex: "[0-9]+".into(),
                    engine_type: None,
                }),
                false,
            )),
        ),
    ];
    for (value, ignore_case, want) in cases {
        let mut r = forward_route(PathMatch::Exact("/q".into()), "c");
        r.query_params = vec![QueryParamMatch {
            name: "page".into(),
            value,
            ignore_case,
        }];
        assert_eq!(
            route(&r).r#match,
            Some(route_v3::RouteMatch {
                path_specifier: Some(route_v3::route_match::PathSpecifier::Path("/q".into())),
                query_parameters: vec![route_v3::QueryParameterMatcher {
                    name: "page".into(),
                    query_parameter_match_specifier: Some(want),
                }],
                ..Default::default()
            })
        );
    }
}

#[test]
fn rewrites_and_idle_timeout() {
    use route_v3::route_action::HostRewriteSpecifier;
    let mut f = forward_to("c");
    f.policies_mut().idle_timeout = Some(Timeout::After(Duration::from_secs(90)));
    f.policies_mut().prefix_rewrite = Some("/new/".into());
    f.policies_mut().host_rewrite = Some("backend.internal".into());
    assert_eq!(
        route_action_of(f),
        route_v3::RouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster("c".into())),
            idle_timeout: Some(seconds(90)),
            prefix_rewrite: "/new/".into(),
            host_rewrite_specifier: Some(HostRewriteSpecifier::HostRewriteLiteral(
                "backend.internal".into()
            )),
            ..Default::default()
        }
    );

    let mut f = forward_to("c");
    f.policies_mut().idle_timeout = Some(Timeout::Infinite);
    assert_eq!(route_action_of(f).idle_timeout, Some(seconds(0)));
}

#[test]
fn route_level_header_policies() {
    let mut f = forward_to("c");
    f.policies_mut().request_headers = policy(&[("x-a", "1"), ("x-b", "two")], &["x-drop"]);
    f.policies_mut().response_headers =
        policy(&[("x-served-by", "sesame")], &["server", "x-internal"]);
    let r = route_of(f);
    assert_eq!(
        r.request_headers_to_add,
        vec![overwrite("x-a", "1"), overwrite("x-b", "two")]
    );
    assert_eq!(r.request_headers_to_remove, vec!["x-drop".to_string()]);
    assert_eq!(
        r.response_headers_to_add,
        vec![overwrite("x-served-by", "sesame")]
    );
    assert_eq!(
        r.response_headers_to_remove,
        vec!["server".to_string(), "x-internal".to_string()]
    );
    // A single cluster without policies of its own stays a plain cluster.
    assert_eq!(
        r.action.and_then(|a| match a {
            Action::Route(a) => a.cluster_specifier,
            _ => None,
        }),
        Some(ClusterSpecifier::Cluster("c".into()))
    );
}

#[test]
fn percent_signs_in_header_values_stay_literal() {
    let mut f = forward_to("c");
    f.policies_mut().request_headers = policy(&[("x-share", "100%"), ("x-var", "%REQ(x)%")], &[]);
    let r = route_of(f);
    assert_eq!(
        r.request_headers_to_add,
        vec![
            overwrite("x-share", "100%%"),
            overwrite("x-var", "%%REQ(x)%%")
        ]
    );
}

#[test]
fn dynamic_header_values_become_envoy_commands_and_literal_percents_are_doubled() {
    use sesame_dag::dag::{EnvoyVariable, HeaderValue, HeaderValuePart::*};
    let mut f = forward_to("c");
    f.policies_mut().request_headers.set = vec![(
        "x-dyn".into(),
        HeaderValue(vec![
            Literal("%FOO% ".into()),
            RequestHeader("x-foo".into()),
            Literal(" 5%".into()),
            Envoy(EnvoyVariable::DownstreamRemoteAddressWithoutPort),
            Envoy(EnvoyVariable::Hostname),
        ]),
    )];
    let r = route_of(f);
    assert_eq!(
        r.request_headers_to_add,
        vec![overwrite(
            "x-dyn",
            "%%FOO%% %REQ(x-foo)% 5%%%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%%HOSTNAME%"
        )]
    );
}

#[test]
fn per_cluster_policies_and_host_rewrite() {
    use route_v3::weighted_cluster::ClusterWeight;
    use route_v3::weighted_cluster::cluster_weight::HostRewriteSpecifier;
    let mut a = WeightedCluster::new("a", 70);
    a.rewrites_mut().request_headers = policy(&[("x-to", "a")], &["x-old"]);
    a.rewrites_mut().response_headers = policy(&[("x-from", "a")], &["x-secret"]);
    a.rewrites_mut().host_rewrite = Some("a.internal".into());
    let b = WeightedCluster::new("b", 30);
    let f = Forward {
        clusters: vec![a.clone(), b],
        ..Default::default()
    };
    let want_a = ClusterWeight {
        name: "a".into(),
        weight: Some(UInt32Value { value: 70 }),
        request_headers_to_add: vec![overwrite("x-to", "a")],
        request_headers_to_remove: vec!["x-old".into()],
        response_headers_to_add: vec![overwrite("x-from", "a")],
        response_headers_to_remove: vec!["x-secret".into()],
        host_rewrite_specifier: Some(HostRewriteSpecifier::HostRewriteLiteral(
            "a.internal".into(),
        )),
        ..Default::default()
    };
    assert_eq!(
        route_action_of(f).cluster_specifier,
        Some(ClusterSpecifier::WeightedClusters(
            route_v3::WeightedCluster {
                clusters: vec![
                    want_a.clone(),
                    ClusterWeight {
                        name: "b".into(),
                        weight: Some(UInt32Value { value: 30 }),
                        ..Default::default()
                    }
                ],
                ..Default::default()
            }
        ))
    );

    // A single cluster with policies of its own becomes a one-entry split, so they apply.
    let mut one = a;
    one.weight = 100;
    let f = Forward {
        clusters: vec![one],
        ..Default::default()
    };
    assert_eq!(
        route_action_of(f).cluster_specifier,
        Some(ClusterSpecifier::WeightedClusters(
            route_v3::WeightedCluster {
                clusters: vec![ClusterWeight {
                    weight: Some(UInt32Value { value: 100 }),
                    ..want_a
                }],
                ..Default::default()
            }
        ))
    );
}

/// The config file's global headers ride on each cluster (the DAG merges them under the
/// service's own); the route's own policy stays on the route, which Envoy applies after the
/// cluster's, so for a header both set the route's value is the one sent.
#[test]
fn global_headers_on_the_cluster_and_the_routes_own_on_the_route() {
    let mut global = WeightedCluster::new("a", 1);
    global.rewrites_mut().request_headers = policy(&[("x-env", "prod")], &["x-debug"]);
    global.rewrites_mut().response_headers = policy(&[("x-served-by", "sesame")], &[]);
    let mut f = Forward {
        clusters: vec![global],
        ..Default::default()
    };
    f.policies_mut().request_headers = policy(&[("x-env", "route")], &[]);
    let r = route_of(f);
    assert_eq!(r.request_headers_to_add, vec![overwrite("x-env", "route")]);
    let Some(Action::Route(action)) = r.action else {
        panic!("not a route action")
    };
    let Some(ClusterSpecifier::WeightedClusters(split)) = action.cluster_specifier else {
        panic!("a one-entry split carries the cluster's headers")
    };
    let cluster = &split.clusters[0];
    assert_eq!(
        cluster.request_headers_to_add,
        vec![overwrite("x-env", "prod")]
    );
    assert_eq!(cluster.request_headers_to_remove, ["x-debug"]);
    assert_eq!(
        cluster.response_headers_to_add,
        vec![overwrite("x-served-by", "sesame")]
    );
}

#[test]
fn mirrors() {
    let mut f = forward_to("c");
    f.policies_mut().mirrors = vec![
        Mirror {
            cluster: "all".into(),
            per_million: 1_000_000,
        },
        Mirror {
            cluster: "some".into(),
            per_million: 150_000,
        },
    ];
    assert_eq!(
        route_action_of(f).request_mirror_policies,
        vec![
            route_v3::route_action::RequestMirrorPolicy {
                cluster: "all".into(),
                ..Default::default()
            },
            route_v3::route_action::RequestMirrorPolicy {
                cluster: "some".into(),
                runtime_fraction: Some(core_v3::RuntimeFractionalPercent {
                    default_value: Some(type_v3::FractionalPercent {
                        numerator: 15,
                        denominator: type_v3::fractional_percent::DenominatorType::Hundred as i32,
                    }),
                    runtime_key: String::new(),
                }),
                ..Default::default()
            },
        ]
    );
}

#[test]
fn hash_policies() {
    use route_v3::route_action::HashPolicy as Envoy;
    use route_v3::route_action::hash_policy::{self as hp, PolicySpecifier as P};
    let mut f = forward_to("c");
    f.policies_mut().hash_policies = vec![
        HashPolicy {
            kind: HashPolicyKind::Header("x-user".into()),
            terminal: true,
        },
        HashPolicy {
            kind: HashPolicyKind::QueryParameter("id".into()),
            terminal: false,
        },
        HashPolicy {
            kind: HashPolicyKind::SourceIp,
            terminal: false,
        },
        HashPolicy {
            kind: HashPolicyKind::Cookie {
                name: "session".into(),
                ttl: Some(Duration::from_secs(3600)),
                path: Some("/app".into()),
            },
            terminal: false,
        },
        HashPolicy {
            kind: HashPolicyKind::Cookie {
                name: "plain".into(),
                ttl: None,
                path: None,
            },
            terminal: true,
        },
    ];
    let policy = |terminal, specifier| Envoy {
        terminal,
        policy_specifier: Some(specifier),
    };
    assert_eq!(
        route_action_of(f).hash_policy,
        vec![
            policy(
                true,
                P::Header(hp::Header {
                    header_name: "x-user".into(),
                    regex_rewrite: None,
                })
            ),
            policy(
                false,
                P::QueryParameter(hp::QueryParameter { name: "id".into() })
            ),
            policy(
                false,
                P::ConnectionProperties(hp::ConnectionProperties { source_ip: true })
            ),
            policy(
                false,
                P::Cookie(hp::Cookie {
                    name: "session".into(),
                    ttl: Some(seconds(3600)),
                    path: "/app".into(),
                    attributes: Vec::new(),
                })
            ),
            policy(
                true,
                P::Cookie(hp::Cookie {
                    name: "plain".into(),
                    ..Default::default()
                })
            ),
        ]
    );
}

#[test]
fn retriable_status_codes() {
    let mut f = forward_to("c");
    f.retry = Some(RetryPolicy {
        retry_on: vec!["retriable-status-codes".into()],
        num_retries: 2,
        per_try_timeout: None,
        retriable_status_codes: vec![502, 504],
    });
    assert_eq!(
        route_action_of(f).retry_policy,
        Some(route_v3::RetryPolicy {
            retry_on: "retriable-status-codes".into(),
            num_retries: Some(UInt32Value { value: 2 }),
            retriable_status_codes: vec![502, 504],
            ..Default::default()
        })
    );
}

#[test]
fn redirects() {
    use route_v3::redirect_action::{
        PathRewriteSpecifier, RedirectResponseCode as Code, SchemeRewriteSpecifier,
    };
    let redirect_of = |redirect: Redirect| {
        let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
        r.action = RouteAction::Redirect(redirect);
        let out = route(&r);
        // No header policy applies to a redirect.
        assert!(out.request_headers_to_add.is_empty() && out.response_headers_to_add.is_empty());
        match out.action {
            Some(Action::Redirect(a)) => a,
            other => panic!("expected a redirect, got {other:?}"),
        }
    };
    let full = Redirect {
        scheme: Some("https".into()),
        host: Some("example.com".into()),
        port: Some(8443),
        path: Some(RedirectPath::Full("/new".into())),
        status: 308,
    };
    assert_eq!(
        redirect_of(full.clone()),
        route_v3::RedirectAction {
            scheme_rewrite_specifier: Some(SchemeRewriteSpecifier::SchemeRedirect("https".into())),
            host_redirect: "example.com".into(),
            port_redirect: 8443,
            path_rewrite_specifier: Some(PathRewriteSpecifier::PathRedirect("/new".into())),
            response_code: Code::PermanentRedirect as i32,
            strip_query: false,
        }
    );
    let prefix = Redirect {
        scheme: None,
        host: None,
        port: None,
        path: Some(RedirectPath::Prefix("/v2/".into())),
        status: 302,
    };
    assert_eq!(
        redirect_of(prefix),
        route_v3::RedirectAction {
            path_rewrite_specifier: Some(PathRewriteSpecifier::PrefixRewrite("/v2/".into())),
            response_code: Code::Found as i32,
            ..Default::default()
        }
    );
    for (status, code) in [
        (301, Code::MovedPermanently),
        (302, Code::Found),
        (303, Code::SeeOther),
        (307, Code::TemporaryRedirect),
        (308, Code::PermanentRedirect),
    ] {
        let got = redirect_of(Redirect {
            status,
            ..full.clone()
        });
        assert_eq!(got.response_code, code as i32, "{status}");
    }
}

#[test]
fn new_features_survive_encoding() {
    // The whole route configuration, encoded and decoded, keeps the new fields.
    let mut r = forward_route(PathMatch::Prefix("/".into()), "c");
    r.query_params = vec![QueryParamMatch {
        name: "q".into(),
        value: QueryValueMatch::Present,
        ignore_case: false,
    }];
    let mut f = forward_to("c");
    f.policies_mut().prefix_rewrite = Some("/x".into());
    f.policies_mut().request_headers = policy(&[("x-a", "1")], &[]);
    r.action = RouteAction::Forward(f);
    let vh = sesame_dag::dag::VirtualHost {
        hostname: "foo.com".into(),
        routes: vec![r.clone()],
        ..Default::default()
    };
    let rc: route_v3::RouteConfiguration = decode(&encoded_route_configuration(
        "ingress_http".into(),
        std::iter::once(&vh),
    ));
    assert_eq!(rc.virtual_hosts[0].routes, vec![route(&r)]);
}

/// A DAG with secure `a.com` and `b.com` (fallback), `c.com` (no fallback), `d.com` (fallback
/// but TCP proxied) and the fallback secret.
fn fallback_dag() -> Dag {
    use crate::testutil::secure_vhost;
    let mut dag = Dag::default();
    for host in ["a.com", "b.com", "c.com", "d.com"] {
        let mut v = secure_vhost(
            host,
            vec![forward_route(PathMatch::Prefix("/".into()), host)],
        );
        v.fallback_certificate = host != "c.com";
        if host == "d.com" {
            v.virtual_host.routes.clear();
            v.tcp_proxy = Some(sesame_dag::dag::TcpProxy {
                clusters: vec![WeightedCluster::new("backend", 1)],
            });
        }
        dag.https.insert(host.into(), v);
    }
    dag.fallback_secret = Some("default/fallback/12345".into());
    dag
}

#[test]
fn fallback_route_configuration_holds_each_fallback_host() {
    let dag = fallback_dag();
    let all = route_configurations(&dag);
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        vec![
            "https/a.com",
            "https/b.com",
            "https/c.com",
            "ingress_fallbackcert",
            "ingress_http"
        ],
        "no https/d.com: a TCP proxy has no routes"
    );
    let fallback: route_v3::RouteConfiguration = decode(&all["ingress_fallbackcert"]);
    assert_eq!(
        fallback,
        route_configuration(
            "ingress_fallbackcert".into(),
            ["a.com", "b.com"].map(|h| &dag.https[h].virtual_host)
        )
    );
    // Each virtual host is the same as in its own route configuration.
    for host in ["a.com", "b.com"] {
        let own: route_v3::RouteConfiguration = decode(&all[&format!("https/{host}")]);
        assert!(fallback.virtual_hosts.contains(&own.virtual_hosts[0]));
    }
}

#[test]
fn no_fallback_route_configuration_when_no_chain_serves_it() {
    let mut dag = fallback_dag();
    dag.fallback_secret = None;
    assert!(!route_configurations(&dag).contains_key("ingress_fallbackcert"));

    let mut dag = fallback_dag();
    dag.https
        .insert("*".into(), crate::testutil::secure_vhost("*", Vec::new()));
    assert!(!route_configurations(&dag).contains_key("ingress_fallbackcert"));
    assert!(fallback_virtual_hosts(&dag).is_empty());
}

#[test]
fn internal_redirect_policy_with_contour_predicates() {
    use sesame_dag::dag::{CrossScheme, InternalRedirect};
    let mut f = forward_to("c");
    f.policies_mut().internal_redirect = Some(InternalRedirect {
        max_redirects: Some(2),
        response_codes: vec![301, 302],
        cross_scheme: CrossScheme::SafeOnly,
        deny_repeated_route: true,
    });
    let p = route_action_of(f)
        .internal_redirect_policy
        .expect("internal redirect policy");
    assert_eq!(p.max_internal_redirects.map(|v| v.value), Some(2));
    assert_eq!(p.redirect_response_codes, [301, 302]);
    assert!(p.allow_cross_scheme_redirect);
    let names: Vec<_> = p.predicates.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "envoy.internal_redirect_predicates.safe_cross_scheme",
            "envoy.internal_redirect_predicates.previous_routes"
        ]
    );
    // Never: no predicate, no cross-scheme redirect, Envoy's default count.
    let mut f = forward_to("c");
    f.policies_mut().internal_redirect = Some(InternalRedirect {
        max_redirects: None,
        response_codes: Vec::new(),
        cross_scheme: CrossScheme::Never,
        deny_repeated_route: false,
    });
    let p = route_action_of(f).internal_redirect_policy.unwrap();
    assert!(!p.allow_cross_scheme_redirect && p.predicates.is_empty());
    assert_eq!(p.max_internal_redirects, None);
}

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use pretty_assertions::assert_eq;
use prost::Message;
use sesame_dag::dag::{ClusterRewrites, CookieRewrite, PathMatch, SameSite, WeightedCluster};

use super::*;
use crate::testutil::{decode, forward_route};

fn rule(name: &str) -> CookieRewrite {
    CookieRewrite {
        name: name.into(),
        path: None,
        domain: None,
        secure: None,
        same_site: None,
    }
}

fn rules_of(config: &Any) -> Vec<Vec<String>> {
    let per_route: lua_v3::LuaPerRoute = decode(config);
    assert_eq!(
        per_route.r#override,
        Some(lua_v3::lua_per_route::Override::Name(SCRIPT_NAME.into()))
    );
    let context = per_route.filter_context.expect("filter context");
    let Some(Kind::ListValue(rules)) = &context.fields["rules"].kind else {
        panic!("rules are a list")
    };
    rules
        .values
        .iter()
        .map(|rule| {
            let Some(Kind::ListValue(fields)) = &rule.kind else {
                panic!("a rule is a list")
            };
            fields
                .values
                .iter()
                .map(|v| match &v.kind {
                    Some(Kind::StringValue(s)) => s.clone(),
                    other => panic!("not a string: {other:?}"),
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_script_is_fixed_text_and_holds_no_rule() {
    let Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) = lua_filter().config_type else {
        panic!("no config")
    };
    let lua: lua_v3::Lua = decode(&any);
    assert_eq!(lua.default_source_code, None);
    let Some(core_v3::data_source::Specifier::InlineString(script)) =
        &lua.source_codes[SCRIPT_NAME].specifier
    else {
        panic!("inline script")
    };
    assert_eq!(script, SCRIPT);
    assert!(SCRIPT.contains("function envoy_on_response"));
}

#[test]
fn route_rules_go_on_the_route_and_cluster_rules_merged_on_their_cluster() {
    let mut route = forward_route(PathMatch::Prefix("/".into()), "a");
    let RouteAction::Forward(forward) = &mut route.action else {
        unreachable!()
    };
    forward.policies_mut().cookie_rewrites = vec![
        CookieRewrite {
            path: Some("/app".into()),
            secure: Some(true),
            ..rule("s")
        },
        CookieRewrite {
            same_site: Some(SameSite::Lax),
            ..rule("t")
        },
    ];
    forward.clusters = vec![
        WeightedCluster::new("a", 1).with_rewrites(ClusterRewrites {
            cookie_rewrites: vec![CookieRewrite {
                secure: Some(false),
                domain: Some("a.example.com".into()),
                ..rule("s")
            }],
            ..Default::default()
        }),
        WeightedCluster::new("b", 1),
    ];
    let out = crate::route::virtual_host(&crate::testutil::vhost("x.com", vec![route]));
    let r = &out.routes[0];
    assert_eq!(
        rules_of(&r.typed_per_filter_config[LUA_FILTER]),
        [["s", "/app", "", "true", ""], ["t", "", "", "", "Lax"]]
    );
    let Some(route_v3::route::Action::Route(action)) = &r.action else {
        panic!("a route action")
    };
    let Some(route_v3::route_action::ClusterSpecifier::WeightedClusters(weighted)) =
        &action.cluster_specifier
    else {
        panic!("weighted clusters")
    };
    assert_eq!(
        rules_of(&weighted.clusters[0].typed_per_filter_config[LUA_FILTER]),
        [
            ["s", "/app", "a.example.com", "false", ""],
            ["t", "", "", "", "Lax"]
        ],
        "the cluster's attributes win, the route's others stay"
    );
    assert!(weighted.clusters[1].typed_per_filter_config.is_empty());
}

#[test]
fn a_single_cluster_with_rules_becomes_a_one_entry_split() {
    let mut route = forward_route(PathMatch::Prefix("/".into()), "a");
    let RouteAction::Forward(forward) = &mut route.action else {
        unreachable!()
    };
    forward.clusters[0] = WeightedCluster::new("a", 1).with_rewrites(ClusterRewrites {
        cookie_rewrites: vec![CookieRewrite {
            secure: Some(true),
            ..rule("only")
        }],
        ..Default::default()
    });
    let out = crate::route::virtual_host(&crate::testutil::vhost("x.com", vec![route]));
    let r = &out.routes[0];
    assert!(!r.typed_per_filter_config.contains_key(LUA_FILTER));
    let Some(route_v3::route::Action::Route(action)) = &r.action else {
        panic!("a route action")
    };
    let Some(route_v3::route_action::ClusterSpecifier::WeightedClusters(weighted)) =
        &action.cluster_specifier
    else {
        panic!("weighted clusters")
    };
    assert_eq!(
        rules_of(&weighted.clusters[0].typed_per_filter_config[LUA_FILTER]),
        [["only", "", "", "true", ""]]
    );
}

#[test]
fn the_rules_encode_in_the_same_bytes_every_time() {
    let rules: Vec<_> = (0..6)
        .map(|i| CookieRewrite {
            path: Some(format!("/{i}")),
            secure: Some(i % 2 == 0),
            ..rule(&format!("c{i}"))
        })
        .collect();
    let first = per_route(&rules).encode_to_vec();
    for _ in 0..20 {
        assert_eq!(per_route(&rules).encode_to_vec(), first);
    }
}

//! Cookie rewrites (`cookieRewritePolicies`): Envoy's Lua filter with one fixed script, which
//! reads the rules of the route or weighted cluster from its `filter_context` as data.
//!
//! Contour templated the policies' values into Lua source until that let a Service author run
//! code in the shared Envoy (CVE-2026-41246). Envoy has no typed filter that rewrites
//! `Set-Cookie` attributes, so Sesame keeps Lua for the parsing, with a script whose text never
//! changes, and hands it the rules as a typed `Struct`: a list of rules, each a list of five
//! strings (see `cookie/rewrite.lua`). Values are validated in the DAG as well, so a rewritten
//! header is always well formed.

use std::collections::{BTreeMap, HashMap};

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::http::lua::v3 as lua_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::google::protobuf::{Any, ListValue, Struct, Value, value::Kind};
use sesame_dag::dag::{CookieRewrite, Route, RouteAction};

use crate::proto;

/// The Lua filter.
pub const LUA_FILTER: &str = "envoy.filters.http.lua";

/// The name of the cookie rewrite script among the Lua filter's source codes.
pub const SCRIPT_NAME: &str = "sesame-cookie-rewrite";

/// The cookie rewrite script: fixed text, no user value in it.
pub const SCRIPT: &str = include_str!("cookie/rewrite.lua");

/// The Lua filter of the ingress chains: the script under [`SCRIPT_NAME`] and no default code,
/// so it runs only for routes whose `typed_per_filter_config` names it.
pub fn lua_filter() -> hcm_v3::HttpFilter {
    let lua = lua_v3::Lua {
        source_codes: HashMap::from([(SCRIPT_NAME.to_string(), proto::inline_string(SCRIPT))]),
        ..Default::default()
    };
    crate::http_filter::filter(LUA_FILTER, &lua)
}

/// Adds the cookie rewrites of a forwarding route to its Envoy route: the route's own rules in
/// its `typed_per_filter_config`, and for each weighted cluster with rules of its own, those
/// merged over the route's in the cluster's (Envoy applies the most specific one).
pub fn add_route_configs(route: &Route, out: &mut route_v3::Route) {
    let RouteAction::Forward(forward) = &route.action else {
        return;
    };
    let own = &forward.policies().cookie_rewrites;
    if !own.is_empty() {
        out.typed_per_filter_config
            .insert(LUA_FILTER.to_string(), per_route(own));
    }
    let Some(route_v3::route::Action::Route(action)) = out.action.as_mut() else {
        return;
    };
    let Some(route_v3::route_action::ClusterSpecifier::WeightedClusters(weighted)) =
        action.cluster_specifier.as_mut()
    else {
        return;
    };
    for (weight, cluster) in weighted.clusters.iter_mut().zip(&forward.clusters) {
        let theirs = &cluster.rewrites().cookie_rewrites;
        if !theirs.is_empty() {
            weight
                .typed_per_filter_config
                .insert(LUA_FILTER.to_string(), per_route(&merge(own, theirs)));
        }
    }
}

/// The rules of a cluster over a route's: for a cookie both name, each attribute the cluster
/// sets replaces the route's (as Contour merges them); in cookie name order.
pub fn merge(route: &[CookieRewrite], cluster: &[CookieRewrite]) -> Vec<CookieRewrite> {
    let mut merged: BTreeMap<&str, CookieRewrite> =
        route.iter().map(|r| (r.name.as_str(), r.clone())).collect();
    for c in cluster {
        match merged.get_mut(c.name.as_str()) {
            None => {
                merged.insert(&c.name, c.clone());
            }
            Some(r) => {
                r.path = c.path.clone().or(r.path.take());
                r.domain = c.domain.clone().or(r.domain.take());
                r.secure = c.secure.or(r.secure);
                r.same_site = c.same_site.or(r.same_site);
            }
        }
    }
    merged.into_values().collect()
}

/// The `LuaPerRoute` running the script with `rules` as its filter context.
pub fn per_route(rules: &[CookieRewrite]) -> Any {
    proto::any(&lua_v3::LuaPerRoute {
        r#override: Some(lua_v3::lua_per_route::Override::Name(
            SCRIPT_NAME.to_string(),
        )),
        filter_context: Some(filter_context(rules)),
        ..Default::default()
    })
}

/// `{rules: [[name, path, domain, secure, sameSite], …]}`: lists, not maps, so that the same
/// rules always encode to the same bytes (prost writes a map in `HashMap` order, which changes
/// from one run to the next); the one map has one entry.
pub fn filter_context(rules: &[CookieRewrite]) -> Struct {
    let string = |s: &str| Value {
        kind: Some(Kind::StringValue(s.to_string())),
    };
    let list = |values: Vec<Value>| Value {
        kind: Some(Kind::ListValue(ListValue { values })),
    };
    let rules = rules
        .iter()
        .map(|r| {
            list(vec![
                string(&r.name),
                string(r.path.as_deref().unwrap_or_default()),
                string(r.domain.as_deref().unwrap_or_default()),
                string(match r.secure {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                }),
                string(r.same_site.map(|s| s.as_str()).unwrap_or_default()),
            ])
        })
        .collect();
    Struct {
        fields: HashMap::from([("rules".to_string(), list(rules))]),
    }
}

#[cfg(test)]
mod tests;

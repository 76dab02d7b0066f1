//! Scoped routes (SRDS): how Envoys on incremental xDS get the plain-HTTP routes.
//!
//! Their `ingress_http` listener picks a route configuration by a key computed from each
//! request, and each exact host has its own scope: a change of one host sends one small scope,
//! and Envoy rebuilds that scope alone. (Over VHDS, Envoy rebuilds its whole route table on
//! every virtual host it receives: ~70 ms at 10 000 hosts; BENCHMARKS.md, stop 26.)
//!
//! A scope key is compared byte for byte, where Envoy matches virtual host domains without
//! regard to case or port, and a wildcard host cannot be a key. So that requests route exactly
//! as they do through one table:
//! - a Lua filter, first in the chain, writes the request's host in lower case and without its
//!   port to [`SCOPE_HEADER`], the header the key is read from;
//! - the hosts no key can express (wildcards, and `*` of a default backend) share the
//!   fallback scope, key [`FALLBACK_KEY`], where Envoy's usual domain precedence applies;
//! - every route of an exact host is marked [`EXACT_MARK`], and its virtual host ends with a
//!   route answering 404 to any other path;
//! - unless the route found under the host's key has that mark (no scope has the key, or the
//!   scope has no route for the path), the script writes the fallback key instead. An exact
//!   host's unknown path thus gets its own 404 and never reaches a wildcard, as in one table.
//!
//! Envoy decides upgrades on the route it finds before any filter runs, before the key is
//! written: the scoped listener accepts WebSocket upgrades, and the script refuses them on a
//! route not marked [`WEBSOCKET_MARK`].
//!
//! The script is a constant: no user value is ever written into it. The key header is removed
//! before the request goes upstream, except where Envoy needs it to follow a redirect itself.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::google::protobuf::{Any, Struct, Value, value::Kind};
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};
use sesame_dag::Dag;
use sesame_dag::dag::{RouteAction, VirtualHost};

use crate::proto;
use crate::route::{HTTP_ROUTE_CONFIG, VIRTUAL_HOSTS_FIELD};

/// The request header the scope key is read from, written by the [`scope_key_filter`].
pub const SCOPE_HEADER: &str = "x-sesame-route-scope";

/// The key of the fallback scope. No request's host gives it: `*` is not a host name.
pub const FALLBACK_KEY: &str = "*";

/// The name of the Lua filter, under which route metadata is visible to its script.
pub const LUA_FILTER: &str = "sesame.scope";

/// The field of a route's metadata (under [`LUA_FILTER`]) that holds its marks, separated by
/// spaces.
pub const MARKS_FIELD: &str = "route";

/// The mark of a route of an exact host.
pub const EXACT_MARK: &str = "exact";

/// The mark of a route that accepts WebSocket upgrades.
pub const WEBSOCKET_MARK: &str = "websocket";

/// The script of the [`scope_key_filter`]. It also refuses a WebSocket upgrade (403, as Envoy
/// does) unless the route it settled on accepts one: Envoy decides upgrades on the route it
/// finds before any filter runs, which for scoped routes is not the request's route yet, so
/// the scoped `ingress_http` lets every WebSocket upgrade through to this check.
const SCOPE_KEY_SCRIPT: &str = r#"function envoy_on_request(request)
  local headers = request:headers()
  local host = string.lower(headers:get(":authority") or "")
  host = string.gsub(host, ":%d*$", "")
  headers:replace("x-sesame-route-scope", host)
  request:clearRouteCache()
  local marks = request:metadata():get("route") or ""
  if string.find(marks, "exact", 1, true) == nil then
    headers:replace("x-sesame-route-scope", "*")
    request:clearRouteCache()
    marks = request:metadata():get("route") or ""
  end
  local upgrade = headers:get("upgrade")
  if upgrade ~= nil and string.lower(upgrade) == "websocket"
      and string.find(marks, "websocket", 1, true) == nil then
    request:respond({[":status"] = "403"}, "")
  end
end
"#;

/// The field number of `ScopedRouteConfiguration.route_configuration`.
const SCOPE_ROUTE_CONFIGURATION: u32 = 5;

/// The name of the scope keyed `key`: `ingress_http/<key>`.
pub fn scope_name(key: &str) -> String {
    format!("{HTTP_ROUTE_CONFIG}/{key}")
}

/// Whether a plain-HTTP host has a scope of its own: any host but a wildcard or `*`.
pub fn is_exact(hostname: &str) -> bool {
    !hostname.starts_with('*')
}

/// The scopes of `ingress_http`, by [`scope_name`]: one per exact host, and the fallback scope
/// when there are other hosts.
pub fn scopes(dag: &Dag) -> BTreeMap<String, Any> {
    let mut out: BTreeMap<String, Any> = dag
        .http
        .iter()
        .filter(|(hostname, _)| is_exact(hostname))
        .map(|(hostname, vhost)| (scope_name(hostname), exact_scope(vhost)))
        .collect();
    if let Some(fallback) = fallback_scope(dag) {
        out.insert(scope_name(FALLBACK_KEY), fallback);
    }
    out
}

/// The scope of one exact host: its virtual host, every route marked [`EXACT_MARK`], ending
/// with a route that answers 404 to the paths no other route takes.
pub fn exact_scope(vhost: &VirtualHost) -> Any {
    scope(&vhost.hostname, [scoped_virtual_host(vhost, true)])
}

/// The fallback scope: the wildcard hosts and `*`, without the exact mark; `None` when there
/// are none. A wildcard host's name starts with `*`, which sorts before any letter or digit:
/// they are the first hosts of the DAG.
pub fn fallback_scope(dag: &Dag) -> Option<Any> {
    let vhosts: Vec<route_v3::VirtualHost> = dag
        .http
        .iter()
        .take_while(|(hostname, _)| !is_exact(hostname))
        .map(|(_, vhost)| scoped_virtual_host(vhost, false))
        .collect();
    (!vhosts.is_empty()).then(|| scope(FALLBACK_KEY, vhosts))
}

/// A virtual host as a scope holds it:
/// - an `exact` host's routes marked [`EXACT_MARK`], after them a route answering 404;
/// - the routes that accept WebSocket upgrades marked [`WEBSOCKET_MARK`];
/// - the key header removed before the request goes upstream, unless a route follows
///   redirects itself (Envoy finds the route of the redirect's target with the request's
///   headers as they were sent upstream: without the key, it would find none and refuse).
fn scoped_virtual_host(vhost: &VirtualHost, exact: bool) -> route_v3::VirtualHost {
    let mut encoded = crate::route::virtual_host(vhost);
    if exact {
        encoded.routes.push(route_v3::Route {
            r#match: Some(route_v3::RouteMatch {
                path_specifier: Some(route_v3::route_match::PathSpecifier::Prefix("/".into())),
                ..Default::default()
            }),
            action: Some(crate::route::action(&RouteAction::DirectResponse {
                status: 404,
                body: None,
            })),
            ..Default::default()
        });
    }
    let mut redirects = false;
    for route in &mut encoded.routes {
        let mut marks = Vec::new();
        if exact {
            marks.push(EXACT_MARK);
        }
        if let Some(route_v3::route::Action::Route(action)) = &route.action {
            redirects |= action.internal_redirect_policy.is_some();
            let websocket = (action.upgrade_configs.iter())
                .any(|u| u.upgrade_type.eq_ignore_ascii_case("websocket"));
            if websocket {
                marks.push(WEBSOCKET_MARK);
            }
        }
        if !marks.is_empty() {
            mark(route, &marks.join(" "));
        }
    }
    if !redirects {
        encoded.request_headers_to_remove = vec![SCOPE_HEADER.to_string()];
    }
    encoded
}

/// Sets a route's marks, the metadata `{route: "<marks>"}` for [`LUA_FILTER`], where the script
/// reads it. (One field, so that its encoding is always the same: the map is a `HashMap`.)
fn mark(route: &mut route_v3::Route, marks: &str) {
    let value = Value {
        kind: Some(Kind::StringValue(marks.to_string())),
    };
    let fields = [(MARKS_FIELD.to_string(), value)].into();
    let metadata = route.metadata.get_or_insert_default();
    (metadata.filter_metadata).insert(LUA_FILTER.to_string(), Struct { fields });
}

/// The scope keyed `key` with these virtual hosts in its inline route configuration, encoded
/// byte-stably (each virtual host through [`crate::canonical::virtual_host`]).
fn scope(key: &str, vhosts: impl IntoIterator<Item = route_v3::VirtualHost>) -> Any {
    use route_v3::scoped_route_configuration::{Key, key::Fragment, key::fragment::Type};
    let name = scope_name(key);
    let vhosts: Vec<Vec<u8>> = vhosts
        .into_iter()
        .map(crate::canonical::virtual_host)
        .collect();
    let routes_head = route_v3::RouteConfiguration {
        ignore_port_in_host_matching: true,
        ..Default::default()
    }
    .encode_to_vec();
    let head = route_v3::ScopedRouteConfiguration {
        name,
        key: Some(Key {
            fragments: vec![Fragment {
                r#type: Some(Type::StringKey(key.to_string())),
            }],
        }),
        ..Default::default()
    }
    .encode_to_vec();
    // Sized exactly: tens of thousands of these are kept, and each would otherwise carry the
    // spare room of a grown `Vec` until the store shrinks it (leaving holes in the heap).
    let routes_len = routes_head.len()
        + (vhosts.iter())
            .map(|v| proto::message_field_len(v.len()))
            .sum::<usize>();
    let mut value = Vec::with_capacity(head.len() + proto::message_field_len(routes_len));
    value.extend_from_slice(&head);
    // The route configuration's own head, then its virtual hosts, as one field.
    encode_key(
        SCOPE_ROUTE_CONFIGURATION,
        WireType::LengthDelimited,
        &mut value,
    );
    encode_varint(routes_len as u64, &mut value);
    value.extend_from_slice(&routes_head);
    for vhost in &vhosts {
        proto::append_message(&mut value, VIRTUAL_HOSTS_FIELD, vhost);
    }
    debug_assert_eq!(value.len(), value.capacity());
    Any {
        type_url: <route_v3::ScopedRouteConfiguration as prost::Name>::type_url(),
        value,
    }
}

/// The route specifier of the scoped `ingress_http`: scopes over ADS, keyed by
/// [`SCOPE_HEADER`].
pub fn scoped_routes() -> hcm_v3::http_connection_manager::RouteSpecifier {
    use hcm_v3::scoped_routes::scope_key_builder::FragmentBuilder;
    use hcm_v3::scoped_routes::scope_key_builder::fragment_builder::{
        HeaderValueExtractor, Type, header_value_extractor::ExtractType,
    };
    hcm_v3::http_connection_manager::RouteSpecifier::ScopedRoutes(hcm_v3::ScopedRoutes {
        name: HTTP_ROUTE_CONFIG.to_string(),
        scope_key_builder: Some(hcm_v3::scoped_routes::ScopeKeyBuilder {
            fragments: vec![FragmentBuilder {
                r#type: Some(Type::HeaderValueExtractor(HeaderValueExtractor {
                    name: SCOPE_HEADER.to_string(),
                    element_separator: String::new(),
                    extract_type: Some(ExtractType::Index(0)),
                })),
            }],
        }),
        rds_config_source: Some(proto::ads_config_source()),
        config_specifier: Some(hcm_v3::scoped_routes::ConfigSpecifier::ScopedRds(
            hcm_v3::ScopedRds {
                scoped_rds_config_source: Some(proto::ads_config_source()),
                ..Default::default()
            },
        )),
    })
}

/// The Lua filter that writes the scope key; first in the chain, before any filter asks for
/// the route.
pub fn scope_key_filter() -> hcm_v3::HttpFilter {
    use envoy_types::pb::envoy::extensions::filters::http::lua::v3 as lua_v3;
    let lua = lua_v3::Lua {
        default_source_code: Some(proto::inline_string(SCOPE_KEY_SCRIPT)),
        ..Default::default()
    };
    crate::http_filter::filter(LUA_FILTER, &lua)
}

#[cfg(test)]
#[path = "scope/tests.rs"]
mod tests;

//! Byte-stable encodings of the route messages whose maps can hold several entries.
//!
//! prost writes a `map` field in `HashMap` order, which changes from one map to the next: a
//! route with two `typed_per_filter_config` entries (a JWT requirement and an IP filter, say)
//! came out in either order, so the same DAG gave different bytes, and different resource
//! versions, from one translation to the next. A map field is a run of entries that a parser
//! merges, so a message is written here without its map and then followed by one single-entry
//! message per entry, in key order: the same message once decoded, always in the same bytes.
//! Messages whose maps hold at most one entry keep prost's own encoding.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

/// The field number of `VirtualHost.routes`.
const VIRTUAL_HOST_ROUTES: u32 = 3;

/// A virtual host, encoded: its own and its routes' `typed_per_filter_config` in key order.
pub fn virtual_host(mut vhost: route_v3::VirtualHost) -> Vec<u8> {
    let stable = vhost.typed_per_filter_config.len() <= 1
        && vhost
            .routes
            .iter()
            .all(|r| r.typed_per_filter_config.len() <= 1);
    if stable {
        return vhost.encode_to_vec();
    }
    let routes = std::mem::take(&mut vhost.routes);
    let configs = std::mem::take(&mut vhost.typed_per_filter_config);
    let mut out = vhost.encode_to_vec();
    for r in routes {
        crate::proto::append_message(&mut out, VIRTUAL_HOST_ROUTES, &route(r));
    }
    for (name, config) in sorted(configs) {
        let one = route_v3::VirtualHost {
            typed_per_filter_config: HashMap::from([(name, config)]),
            ..Default::default()
        };
        out.extend(one.encode_to_vec());
    }
    out
}

/// A route, encoded: its `typed_per_filter_config` in key order.
pub fn route(mut route: route_v3::Route) -> Vec<u8> {
    if route.typed_per_filter_config.len() <= 1 {
        return route.encode_to_vec();
    }
    let configs = std::mem::take(&mut route.typed_per_filter_config);
    let mut out = route.encode_to_vec();
    for (name, config) in sorted(configs) {
        let one = route_v3::Route {
            typed_per_filter_config: HashMap::from([(name, config)]),
            ..Default::default()
        };
        out.extend(one.encode_to_vec());
    }
    out
}

fn sorted(map: HashMap<String, Any>) -> Vec<(String, Any)> {
    let mut entries: Vec<_> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> (String, Any) {
        (
            name.to_string(),
            Any {
                type_url: format!("type.googleapis.com/{name}"),
                value: name.as_bytes().to_vec(),
            },
        )
    }

    fn configs() -> HashMap<String, Any> {
        ["a", "b", "c", "d"].into_iter().map(config).collect()
    }

    #[test]
    fn maps_encode_in_key_order_and_decode_to_the_same_message() {
        let make = || route_v3::VirtualHost {
            name: "v".into(),
            domains: vec!["a.com".into()],
            typed_per_filter_config: configs(),
            routes: vec![
                route_v3::Route {
                    name: "one".into(),
                    typed_per_filter_config: configs(),
                    ..Default::default()
                },
                route_v3::Route {
                    name: "two".into(),
                    typed_per_filter_config: HashMap::from([config("x")]),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let first = virtual_host(make());
        for _ in 0..20 {
            assert_eq!(virtual_host(make()), first);
        }
        let decoded = route_v3::VirtualHost::decode(first.as_slice()).expect("decodes");
        assert_eq!(decoded, make());
        // The name stays first, as the VHDS re-assembly of `ingress_http` needs.
        assert_eq!(first[0], (1 << 3) | 2);
    }

    #[test]
    fn single_entry_maps_keep_prosts_encoding() {
        let vhost = route_v3::VirtualHost {
            name: "v".into(),
            typed_per_filter_config: HashMap::from([config("a")]),
            routes: vec![route_v3::Route::default()],
            ..Default::default()
        };
        assert_eq!(virtual_host(vhost.clone()), vhost.encode_to_vec());
    }
}

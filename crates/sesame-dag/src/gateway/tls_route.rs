//! TLSRoutes: the SNI names a route serves (its hostnames, which the spec requires) and its one
//! rule's backends, in the terms [`super::stream`] attaches.

use sesame_gateway_api::TlsRoute;

use super::stream::{StreamRoute, as_stream_route};
use crate::hostname;
use crate::object::{Kind, NamespacedName};
use crate::status::gateway::ConditionReason as R;

/// A TLSRoute as a [`StreamRoute`]: invalid when it has no hostname, a hostname that is not
/// valid (or `*`, which no SNI name is), or not exactly one rule.
pub(super) fn stream_route<'a>(name: &NamespacedName, route: &'a TlsRoute) -> StreamRoute<'a> {
    let mut invalid = None;
    let mut hostnames = Vec::new();
    for raw in &route.spec.hostnames {
        match hostname::parse(raw) {
            Ok(h) if h != "*" => hostnames.push(h.into_owned()),
            Ok(_) => {
                invalid.get_or_insert((
                    R::UnsupportedValue,
                    "hostname \"*\": a TLSRoute hostname is an SNI name, exact or *.suffix"
                        .to_string(),
                ));
            }
            Err(e) => {
                invalid.get_or_insert((R::UnsupportedValue, format!("hostname {raw:?}: {e}")));
            }
        }
    }
    if hostnames.is_empty() {
        invalid.get_or_insert((
            R::UnsupportedValue,
            "a TLSRoute needs at least one hostname (the SNI names it serves)".to_string(),
        ));
    }
    as_stream_route!(Kind::TLSRoute, name, route, Some(hostnames), invalid)
}

//! TCPRoutes: every connection of the TCP listeners a route attaches to goes to its one rule's
//! backends, in the terms [`super::stream`] attaches.

use sesame_gateway_api::TcpRoute;

use super::stream::{StreamRoute, as_stream_route};
use crate::object::{Kind, NamespacedName};

/// A TCPRoute as a [`StreamRoute`]: invalid unless it has exactly one rule.
pub(super) fn stream_route<'a>(name: &NamespacedName, route: &'a TcpRoute) -> StreamRoute<'a> {
    as_stream_route!(Kind::TCPRoute, name, route, None, None)
}

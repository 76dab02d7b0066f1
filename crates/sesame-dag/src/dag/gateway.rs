//! The listeners of a Gateway (Gateway API), each an Envoy listener of its own.

use std::collections::BTreeMap;

use serde::Serialize;

use super::VirtualHost;

/// One Envoy listener made from the HTTP listeners of the served Gateway that share a port.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayListener {
    /// The Envoy listener name, `http-<gateway port>` (also its RouteConfiguration's name).
    pub name: String,
    /// The port Envoy listens on: the Gateway listener's port plus 8000, as Contour maps it
    /// (so that Envoy needs no privileged port).
    pub port: u16,
    /// The virtual hosts, by hostname (`*` matches any host).
    pub virtual_hosts: BTreeMap<String, VirtualHost>,
}

/// The Envoy port of a Gateway listener port: plus 8000, wrapping past 65535 to 1024 and up
/// (Contour's mapping).
pub fn envoy_port(gateway_port: u16) -> u16 {
    let port = u32::from(gateway_port) + 8000;
    if port > 65535 {
        // 65536 maps to 1024: ports under 1024 are never used.
        (port - 65536 + 1024) as u16
    } else {
        port as u16
    }
}

/// The Envoy listener name of a Gateway HTTP listener port.
pub fn http_listener_name(gateway_port: u16) -> String {
    format!("http-{gateway_port}")
}

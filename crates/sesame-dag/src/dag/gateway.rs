//! The listeners of a Gateway (Gateway API), each an Envoy listener of its own.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::{ClientValidation, TcpProxy, TlsVersion, VirtualHost};
use crate::object::ObjectKey;

/// One Envoy listener made from the HTTP (or HTTPS) listeners of the served Gateways that share
/// an address and a port.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayListener {
    /// The Envoy listener name, `http-<gateway port>` or `https-<gateway port>` (also its
    /// RouteConfiguration's name), followed by `-<address>` on an address of its own (see
    /// [`on_address`]).
    pub name: String,
    /// The address it binds: its Gateway's own (config `gateway.addresses`); `None` binds
    /// `ingress_http`'s.
    pub address: Option<IpAddr>,
    /// The port Envoy listens on: the Gateway listener's port plus 8000, as Contour maps it
    /// (so that Envoy needs no privileged port).
    pub port: u16,
    /// For HTTP, the virtual hosts, by hostname (`*` matches any host); for HTTPS each TLS
    /// entry has its own and this is empty.
    pub virtual_hosts: BTreeMap<String, VirtualHost>,
    /// For HTTPS: how TLS is terminated, one entry per Gateway listener on the port (by SNI);
    /// empty for plain HTTP.
    pub tls: Vec<GatewayTls>,
    /// The TLSRoutes and TCPRoutes served: whole connections proxied to clusters, one entry
    /// per SNI name on a TLS port, a single one without a name on a TCP port (see
    /// [`GatewayTcpRoute`]). Empty for HTTP and HTTPS alone.
    pub tcp_routes: Vec<GatewayTcpRoute>,
}

impl GatewayListener {
    /// Whether it serves plain HTTP: no TLS termination and no TCP route.
    pub fn is_http(&self) -> bool {
        self.tls.is_empty() && self.tcp_routes.is_empty()
    }
}

/// Connections of a TLS or TCP listener proxied whole to clusters: a TLSRoute's (matched on
/// SNI, the TLS passed through or terminated) or a TCPRoute's (every connection of the port).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayTcpRoute {
    /// The SNI name matched (exact or `*.` wildcard); `None` for a TCP listener, which takes
    /// every connection.
    pub server_name: Option<String>,
    /// For a TLS listener in mode `Terminate`: the TLS terminated before proxying the
    /// decrypted bytes; `None` passes TLS through to the backends untouched.
    pub terminate: Option<GatewayTlsTermination>,
    /// The clusters, with their weights (at least one, none of weight 0).
    pub proxy: TcpProxy,
    /// The route served.
    pub origin: ObjectKey,
}

/// How a TLS listener in mode `Terminate` terminates TLS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GatewayTlsTermination {
    /// The SDS name of the certificate (a key of `Dag::secrets`).
    pub secret: String,
    /// The lowest TLS version accepted.
    pub min_tls_version: TlsVersion,
    /// The highest TLS version accepted.
    pub max_tls_version: TlsVersion,
}

/// TLS termination for one HTTPS listener of a Gateway.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GatewayTls {
    /// The SNI name matched (exact or `*.` wildcard); `None` takes every TLS connection the
    /// others do not, with any SNI or none.
    pub server_name: Option<String>,
    /// The SDS name of the certificate (a key of `Dag::secrets`).
    pub secret: String,
    /// The lowest TLS version accepted.
    pub min_tls_version: TlsVersion,
    /// The highest TLS version accepted.
    pub max_tls_version: TlsVersion,
    /// Client certificate verification (the Gateway's `spec.tls.frontend`), if any.
    pub client_validation: Option<Box<ClientValidation>>,
    /// The RouteConfiguration of this entry's connections, `<Envoy listener>/<Gateway listener>`.
    pub route_config: String,
    /// Its virtual hosts, by hostname: its Gateway listener's, and for the hostnames of the
    /// port's other listeners (and any other host) one answering 421 Misdirected Request.
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

/// The Envoy listener name of a Gateway HTTPS listener port.
pub fn https_listener_name(gateway_port: u16) -> String {
    format!("https-{gateway_port}")
}

/// The Envoy listener name of a Gateway TCP listener port.
pub fn tcp_listener_name(gateway_port: u16) -> String {
    format!("tcp-{gateway_port}")
}

/// The Envoy listener name of a Gateway HTTP listener port.
pub fn http_listener_name(gateway_port: u16) -> String {
    format!("http-{gateway_port}")
}

/// An Envoy listener name (`http-<port>`, ...) for a Gateway bound to `address`: unchanged on
/// the default address (`None`), `<name>-<address>` on another (`http-80-127.0.0.2`,
/// `http-80-fd00::1`), so that listeners of one port on different addresses differ.
pub fn on_address(name: String, address: Option<IpAddr>) -> String {
    match address {
        Some(address) => format!("{name}-{address}"),
        None => name,
    }
}

//! Endpoints of a cluster, read straight from EndpointSlices or Endpoints (EDS bypasses the DAG).

use serde::Serialize;

use crate::object::NamespacedName;
use crate::object::compact::{EndpointSlice, Endpoints};
use crate::snapshot::Snapshot;

/// One ready upstream address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Endpoint {
    /// The IP address, as written in the EndpointSlice or Endpoints.
    pub ip: String,
    /// The target port.
    pub port: u16,
}

/// The ready endpoints of one port (by the Service port's name; empty for an unnamed port) of
/// a Service: from its EndpointSlices when it has any, else from its Endpoints. Sorted and
/// without duplicates.
pub fn cluster_endpoints(
    snapshot: &Snapshot,
    service: &NamespacedName,
    port_name: &str,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    let mut slices = snapshot.slices_of(service).peekable();
    if slices.peek().is_some() {
        for slice in slices {
            from_slice(slice, port_name, &mut out);
        }
    } else if let Some(endpoints) = snapshot.endpoints.get(service) {
        from_endpoints(endpoints, port_name, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a port protocol is TCP (unset means TCP).
fn is_tcp(protocol: Option<&str>) -> bool {
    protocol.is_none_or(|p| p == "TCP")
}

/// A port number as Envoy takes it, if it is one.
fn port_number(port: i32) -> Option<u16> {
    u16::try_from(port).ok().filter(|p| *p != 0)
}

/// The ready endpoints of one EndpointSlice: the first address of each ready endpoint (as
/// Contour does) on the TCP port named `port_name`.
fn from_slice(slice: &EndpointSlice, port_name: &str, out: &mut Vec<Endpoint>) {
    if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
        return;
    }
    let ports = slice.ports.iter().filter(|p| {
        p.name.as_deref().unwrap_or_default() == port_name && is_tcp(p.protocol.as_deref())
    });
    for port in ports.filter_map(|p| p.port.and_then(port_number)) {
        for ip in &slice.ready_addresses {
            out.push(Endpoint {
                ip: ip.clone(),
                port,
            });
        }
    }
}

/// The ready addresses of an Endpoints object on the TCP port named `port_name`.
fn from_endpoints(endpoints: &Endpoints, port_name: &str, out: &mut Vec<Endpoint>) {
    for subset in &endpoints.subsets {
        let ports = subset.ports.iter().filter(|p| {
            p.name.as_deref().unwrap_or_default() == port_name && is_tcp(p.protocol.as_deref())
        });
        for port in ports.filter_map(|p| port_number(p.port)) {
            for ip in &subset.addresses {
                out.push(Endpoint {
                    ip: ip.clone(),
                    port,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;

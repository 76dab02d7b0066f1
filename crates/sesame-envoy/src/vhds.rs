//! VHDS for delta xDS clients: the HTTP route configuration split into a small table whose
//! virtual hosts come from a `vhds` source on ADS, and those virtual hosts as resources of
//! their own, so an edit of one host sends that host alone instead of the whole table.
//!
//! State-of-the-world clients keep the full table (VHDS exists in delta xDS only); the xDS
//! store serves the small table to delta clients in its place.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

use crate::listener::HTTP_LISTENER;
use crate::proto;

#[cfg(test)]
mod tests;

/// The route configurations whose virtual hosts delta clients get over VHDS: the HTTP
/// listener's (the HTTPS ones hold one virtual host each).
pub const VHDS_ROUTE_CONFIGURATIONS: [&str; 1] = [HTTP_LISTENER];

/// What delta clients get instead of the full route configurations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeltaRoutes {
    /// Small route configurations naming a `vhds` source, by name; they replace the
    /// same-named full ones for delta clients.
    pub route_configurations: BTreeMap<String, Any>,
    /// Their virtual hosts, by resource name `<route configuration>/<virtual host>`; each
    /// virtual host is renamed to its resource name (Envoy removes VHDS virtual hosts by
    /// resource name).
    pub virtual_hosts: BTreeMap<String, Any>,
}

/// Splits the route configurations of [`VHDS_ROUTE_CONFIGURATIONS`] found in `routes` (the
/// translated, full route configurations). One that does not decode is left out: delta
/// clients then get the full one.
pub fn delta_routes(routes: &BTreeMap<String, Any>) -> DeltaRoutes {
    let mut out = DeltaRoutes::default();
    for name in VHDS_ROUTE_CONFIGURATIONS {
        let Some(full) = routes.get(name) else {
            continue;
        };
        let Ok(mut config) = route_v3::RouteConfiguration::decode(full.value.as_slice()) else {
            continue;
        };
        for mut vhost in std::mem::take(&mut config.virtual_hosts) {
            vhost.name = format!("{}/{}", config.name, vhost.name);
            out.virtual_hosts
                .insert(vhost.name.clone(), proto::any(&vhost));
        }
        config.vhds = Some(route_v3::Vhds {
            config_source: Some(proto::ads_config_source()),
        });
        out.route_configurations
            .insert(name.to_string(), proto::any(&config));
    }
    out
}

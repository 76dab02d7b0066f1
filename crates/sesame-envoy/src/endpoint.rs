//! ClusterLoadAssignments (EDS), read from the Services' endpoints. They bypass the DAG build:
//! an endpoint change recomputes only the assignments of the Services it touched (found through
//! [`crate::incremental::Translator::service_endpoints`]). The clusters
//! of ExternalName Services carry their one host inline instead ([`host_load_assignment`]).

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::endpoint::v3 as endpoint_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::dag::{Cluster, EdsTarget};
use sesame_dag::endpoints::{Endpoint, cluster_endpoints};
use sesame_dag::{Dag, Snapshot};

use crate::proto;

/// A ClusterLoadAssignment named `eds_name` with these endpoints in one locality. With no
/// endpoints it has no locality at all: the cluster exists, with no host to send to.
pub fn cluster_load_assignment(eds_name: &str, endpoints: &[Endpoint]) -> Any {
    proto::any(&load_assignment(eds_name, endpoints))
}

/// The ClusterLoadAssignment behind [`cluster_load_assignment`], not yet encoded.
pub fn load_assignment(
    eds_name: &str,
    endpoints: &[Endpoint],
) -> endpoint_v3::ClusterLoadAssignment {
    let localities = if endpoints.is_empty() {
        Vec::new()
    } else {
        vec![endpoint_v3::LocalityLbEndpoints {
            lb_endpoints: endpoints
                .iter()
                .map(|e| lb_endpoint(e.ip.clone(), u32::from(e.port)))
                .collect(),
            ..Default::default()
        }]
    };
    endpoint_v3::ClusterLoadAssignment {
        cluster_name: eds_name.to_string(),
        endpoints: localities,
        ..Default::default()
    }
}

/// The ClusterLoadAssignment of a cluster over several Services (an ExtensionService's): one
/// locality per Service (its `sub_zone` the Service's `namespace/name`, so that each is its own
/// locality), weighted; a Service without endpoints has no locality.
pub fn weighted_load_assignment(
    eds_name: &str,
    targets: &[(&EdsTarget, Vec<Endpoint>)],
) -> endpoint_v3::ClusterLoadAssignment {
    let localities = targets
        .iter()
        .filter(|(_, endpoints)| !endpoints.is_empty())
        .map(|(target, endpoints)| endpoint_v3::LocalityLbEndpoints {
            locality: Some(envoy_types::pb::envoy::config::core::v3::Locality {
                sub_zone: target.service.to_string(),
                ..Default::default()
            }),
            lb_endpoints: endpoints
                .iter()
                .map(|e| lb_endpoint(e.ip.clone(), u32::from(e.port)))
                .collect(),
            load_balancing_weight: target.weight.map(proto::u32_value).unwrap_or_default(),
            ..Default::default()
        })
        .collect();
    endpoint_v3::ClusterLoadAssignment {
        cluster_name: eds_name.to_string(),
        endpoints: localities,
        ..Default::default()
    }
}

/// The encoded ClusterLoadAssignment named `eds_name` of a cluster over `targets`.
pub fn targets_load_assignment(eds_name: &str, targets: &[EdsTarget], snapshot: &Snapshot) -> Any {
    let parts: Vec<(&EdsTarget, Vec<Endpoint>)> = targets
        .iter()
        .map(|t| (t, cluster_endpoints(snapshot, &t.service, &t.port_name)))
        .collect();
    proto::any(&weighted_load_assignment(eds_name, &parts))
}

/// The load assignment of a DNS cluster named `eds_name`: the one host `host` (a DNS name or
/// an IP address) at `port`, which Envoy resolves itself.
pub fn host_load_assignment(
    eds_name: &str,
    host: &str,
    port: u32,
) -> endpoint_v3::ClusterLoadAssignment {
    endpoint_v3::ClusterLoadAssignment {
        cluster_name: eds_name.to_string(),
        endpoints: vec![endpoint_v3::LocalityLbEndpoints {
            lb_endpoints: vec![lb_endpoint(host.to_string(), port)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn lb_endpoint(address: String, port: u32) -> endpoint_v3::LbEndpoint {
    endpoint_v3::LbEndpoint {
        host_identifier: Some(endpoint_v3::lb_endpoint::HostIdentifier::Endpoint(
            endpoint_v3::Endpoint {
                address: Some(proto::socket_address(address, port)),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// One ClusterLoadAssignment per distinct EDS name among the DAG's clusters, by EDS name. Every
/// cluster gets one, empty when its Service has no ready endpoint.
pub fn endpoints(dag: &Dag, snapshot: &Snapshot) -> BTreeMap<String, Any> {
    assignments(dag.clusters.values(), snapshot)
}

fn assignments<'a>(
    clusters: impl Iterator<Item = &'a Cluster>,
    snapshot: &Snapshot,
) -> BTreeMap<String, Any> {
    let mut out = BTreeMap::new();
    for cluster in clusters {
        // Several clusters (e.g. differing only in protocol) share one EDS name. An ExternalName
        // Service has no endpoints: its cluster resolves its name itself and never asks EDS.
        if cluster.external_name.is_some() || out.contains_key(&cluster.eds_name) {
            continue;
        }
        if !cluster.targets.is_empty() {
            let assignment = targets_load_assignment(&cluster.eds_name, &cluster.targets, snapshot);
            out.insert(cluster.eds_name.clone(), assignment);
            continue;
        }
        let endpoints = cluster_endpoints(snapshot, &cluster.service, &cluster.port_name);
        out.insert(
            cluster.eds_name.clone(),
            cluster_load_assignment(&cluster.eds_name, &endpoints),
        );
    }
    out
}

#[cfg(test)]
mod tests;

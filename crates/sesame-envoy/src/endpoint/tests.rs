use std::collections::BTreeSet;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::endpoint::v3 as endpoint_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::UpstreamProtocol;
use sesame_dag::{Change, NamespacedName, Object};

use super::*;
use crate::testutil::{cluster, decode, service_endpoints, slice};

fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.to_string(),
        port,
    }
}

fn addresses(cla: &endpoint_v3::ClusterLoadAssignment) -> Vec<(String, u32)> {
    cla.endpoints
        .iter()
        .flat_map(|l| &l.lb_endpoints)
        .map(|lb| match &lb.host_identifier {
            Some(endpoint_v3::lb_endpoint::HostIdentifier::Endpoint(e)) => {
                match e.address.as_ref().and_then(|a| a.address.as_ref()) {
                    Some(core_v3::address::Address::SocketAddress(s)) => match s.port_specifier {
                        Some(core_v3::socket_address::PortSpecifier::PortValue(p)) => {
                            (s.address.clone(), p)
                        }
                        _ => panic!("no port"),
                    },
                    other => panic!("not a socket address: {other:?}"),
                }
            }
            other => panic!("not an endpoint: {other:?}"),
        })
        .collect()
}

#[test]
fn load_assignment_with_endpoints() {
    let any = cluster_load_assignment(
        "default/svc/http",
        &[ep("10.0.0.1", 8080), ep("fd00::2", 8080)],
    );
    let cla: endpoint_v3::ClusterLoadAssignment = decode(&any);
    assert_eq!(cla.cluster_name, "default/svc/http");
    assert_eq!(cla.endpoints.len(), 1, "one locality");
    assert_eq!(
        addresses(&cla),
        vec![
            ("10.0.0.1".to_string(), 8080),
            ("fd00::2".to_string(), 8080)
        ]
    );
}

#[test]
fn empty_load_assignment() {
    let cla: endpoint_v3::ClusterLoadAssignment =
        decode(&cluster_load_assignment("default/svc", &[]));
    assert_eq!(
        cla,
        endpoint_v3::ClusterLoadAssignment {
            cluster_name: "default/svc".into(),
            ..Default::default()
        }
    );
}

fn dag_of(clusters: Vec<sesame_dag::dag::Cluster>) -> Dag {
    Dag {
        clusters: clusters.into_iter().map(|c| (c.name.clone(), c)).collect(),
        ..Default::default()
    }
}

#[test]
fn every_cluster_has_an_assignment_and_eds_names_are_shared() {
    let a = cluster("a", UpstreamProtocol::Http1);
    let mut a_h2 = cluster("a", UpstreamProtocol::H2);
    a_h2.name = "default/a/80/0123456789".into();
    let b = cluster("b", UpstreamProtocol::Http1);
    let dag = dag_of(vec![a, a_h2, b]);
    let got = endpoints(&dag, &Snapshot::new());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        vec!["default/a/http", "default/b/http"]
    );
    for (name, any) in &got {
        let cla: endpoint_v3::ClusterLoadAssignment = decode(any);
        assert_eq!(&cla.cluster_name, name);
        assert!(cla.endpoints.is_empty());
    }

    let only_b = service_endpoints(
        &dag,
        &Snapshot::new(),
        &BTreeSet::from([NamespacedName::new("default", "b")]),
    );
    assert_eq!(only_b.keys().collect::<Vec<_>>(), vec!["default/b/http"]);
    let unknown = service_endpoints(
        &dag,
        &Snapshot::new(),
        &BTreeSet::from([NamespacedName::new("other", "b")]),
    );
    assert!(unknown.is_empty());
}

/// Needs `sesame_dag::endpoints::cluster_endpoints`, which reads the EndpointSlices.
#[test]
fn endpoints_from_endpoint_slices() {
    let mut snapshot = Snapshot::new();
    for s in [
        slice("a-1", "a", &[("10.0.0.2", true), ("10.0.0.9", false)], 8080),
        slice("a-2", "a", &[("10.0.0.1", true)], 8080),
        slice("b-1", "b", &[("10.0.1.1", true)], 9090),
    ] {
        snapshot.apply(Change::Apply(Object::EndpointSlice(Arc::new(s.into()))));
    }
    let dag = dag_of(vec![
        cluster("a", UpstreamProtocol::Http1),
        cluster("b", UpstreamProtocol::Http1),
    ]);

    let all = endpoints(&dag, &snapshot);
    let a: endpoint_v3::ClusterLoadAssignment = decode(&all["default/a/http"]);
    assert_eq!(
        addresses(&a),
        vec![
            ("10.0.0.1".to_string(), 8080),
            ("10.0.0.2".to_string(), 8080)
        ]
    );
    let b: endpoint_v3::ClusterLoadAssignment = decode(&all["default/b/http"]);
    assert_eq!(addresses(&b), vec![("10.0.1.1".to_string(), 9090)]);

    let only_a = service_endpoints(
        &dag,
        &snapshot,
        &BTreeSet::from([NamespacedName::new("default", "a")]),
    );
    assert_eq!(only_a.keys().collect::<Vec<_>>(), vec!["default/a/http"]);
    assert_eq!(only_a["default/a/http"], all["default/a/http"]);
}

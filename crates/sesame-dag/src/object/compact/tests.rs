use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as networking;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::object::Object;
use crate::snapshot::{Change, Snapshot};

fn service(cluster_ip: &str) -> Service {
    let full: core::Service = serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "shop", "generation": 4, "uid": "u-1",
            "resourceVersion": "77", "labels": {"app": "web"},
            "annotations": {"projectsesame.io/upstream-protocol.h2c": "80"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        },
        "spec": {
            "type": "LoadBalancer", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
            "selector": {"app": "web"}, "sessionAffinity": "None",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP", "appProtocol": "h2c"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example.com"}]}},
    }))
    .unwrap();
    full.into()
}

#[test]
fn a_service_keeps_its_annotations_ports_and_load_balancer_only() {
    let kept = service("10.96.0.1");
    assert_eq!(kept.metadata.name.as_deref(), Some("web"));
    assert_eq!(kept.metadata.namespace.as_deref(), Some("shop"));
    assert_eq!(kept.metadata.generation, Some(4));
    assert_eq!(
        kept.metadata.annotations.as_ref().unwrap()["projectsesame.io/upstream-protocol.h2c"],
        "80"
    );
    // Labels, uid and managed fields have no place in the kept metadata at all.
    assert_eq!(kept.metadata.key().to_string(), "shop/web");
    assert_eq!(kept.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(kept.ports.len(), 1);
    assert_eq!(kept.ports[0].name.as_deref(), Some("http"));
    assert_eq!(kept.ports[0].port, 80);
    assert_eq!(kept.ports[0].app_protocol.as_deref(), Some("h2c"));
    assert_eq!(kept.ports[0].node_port, None);
    let lb: Vec<_> = (kept.load_balancer.iter())
        .map(|i| (i.ip.as_deref(), i.hostname.as_deref()))
        .collect();
    assert_eq!(
        lb,
        [(Some("192.0.2.1"), None), (None, Some("lb.example.com"))]
    );
}

#[test]
fn a_change_to_what_is_not_kept_is_no_change_at_all() {
    let mut snapshot = Snapshot::new();
    let apply = |s: Service| Change::Apply(Object::Service(Arc::new(s)));
    assert!(snapshot.apply(apply(service("10.96.0.1"))).is_some());
    assert!(snapshot.apply(apply(service("10.96.0.2"))).is_none());
}

fn ingress(label: &str, resource_version: &str, lb_ip: &str) -> Ingress {
    let full: networking::Ingress = serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "shop", "generation": 2, "uid": "u-2",
            "resourceVersion": resource_version, "labels": {"team": label},
            "annotations": {"ingress.kubernetes.io/force-ssl-redirect": "true"},
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "ingressClassName": "sesame",
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
            "rules": [{"host": "web.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            ]}}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": lb_ip}]}},
    }))
    .unwrap();
    full.into()
}

#[test]
fn an_ingress_keeps_its_annotations_spec_status_and_resource_version() {
    let kept = ingress("a", "12", "192.0.2.1");
    assert_eq!(kept.metadata.key().to_string(), "shop/web");
    assert_eq!(kept.metadata.generation, Some(2));
    assert_eq!(
        kept.metadata.annotations.as_ref().unwrap()["ingress.kubernetes.io/force-ssl-redirect"],
        "true"
    );
    assert_eq!(kept.resource_version.as_deref(), Some("12"));
    let spec = kept.spec.as_ref().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("sesame"));
    assert_eq!(
        spec.tls.as_ref().unwrap()[0].secret_name.as_deref(),
        Some("web-tls")
    );
    assert_eq!(
        spec.rules.as_ref().unwrap()[0].host.as_deref(),
        Some("web.example.com")
    );
    let lb = kept.status.as_ref().and_then(|s| s.load_balancer.as_ref());
    let ip = lb
        .and_then(|lb| lb.ingress.as_ref())
        .map(|i| i[0].ip.clone());
    assert_eq!(ip, Some(Some("192.0.2.1".to_string())));
}

#[test]
fn an_ingress_status_write_is_kept_without_a_rebuild_and_its_labels_not_at_all() {
    let mut snapshot = Snapshot::new();
    let apply = |i: Ingress| Change::Apply(Object::Ingress(Arc::new(i)));
    assert!(
        snapshot
            .apply(apply(ingress("a", "12", "192.0.2.1")))
            .is_some()
    );
    // Labels are not read: the same Ingress.
    assert!(
        snapshot
            .apply(apply(ingress("b", "12", "192.0.2.1")))
            .is_none()
    );
    // A status write: nothing to build, but the status writer's next precondition and
    // comparison read the new resource version and status.
    assert!(
        snapshot
            .apply(apply(ingress("b", "13", "192.0.2.9")))
            .is_none()
    );
    let stored = &snapshot.ingresses[&crate::object::NamespacedName::new("shop", "web")];
    assert_eq!(stored.resource_version.as_deref(), Some("13"));
    assert_eq!(stored, &Arc::new(ingress("c", "13", "192.0.2.9")));
}

#[test]
fn a_slice_keeps_the_first_address_of_each_ready_endpoint() {
    let full: discovery::EndpointSlice = serde_json::from_value(json!({
        "metadata": {
            "name": "web-x1", "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "x"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.1", "10.0.0.99"], "conditions": {"ready": true}, "nodeName": "n1", "zone": "a",
             "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
            {"addresses": ["10.0.0.3"]},
            {"addresses": [], "conditions": {"ready": true}},
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }))
    .unwrap();
    let kept = EndpointSlice::from(full);
    assert_eq!(kept.ready_addresses, ["10.0.0.1", "10.0.0.3"]);
    assert_eq!(kept.address_type, "IPv4");
    assert_eq!(kept.ports.len(), 1);
    assert_eq!(kept.metadata.annotations, None);
    assert_eq!(kept.service_name, "web");
    // The addresses kept hold no more room than they need.
    assert_eq!(kept.ready_addresses.capacity(), kept.ready_addresses.len());
}

#[test]
fn endpoints_keep_the_ready_addresses_of_each_subset() {
    let full: core::Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "subsets": [{
            "addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p"}}],
            "notReadyAddresses": [{"ip": "10.0.0.2"}],
            "ports": [{"name": "http", "port": 8080}],
        }],
    }))
    .unwrap();
    let kept = Endpoints::from(full);
    assert_eq!(kept.subsets.len(), 1);
    assert_eq!(kept.subsets[0].addresses, ["10.0.0.1"]);
    assert_eq!(kept.subsets[0].ports[0].port, 8080);
    // No room is kept from the decoded addresses and subsets.
    assert_eq!(kept.subsets.capacity(), kept.subsets.len());
    assert_eq!(kept.subsets[0].addresses.capacity(), 1);
}

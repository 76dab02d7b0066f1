use pretty_assertions::assert_eq;

use super::*;
use crate::testutil::{objects, snapshot_of};

fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.into(),
        port,
    }
}

const SLICES: &str = "
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kuard-a, namespace: default, labels: {kubernetes.io/service-name: kuard}}
addressType: IPv4
ports:
- {name: http, port: 8080}
- {port: 9000}
- {name: dns, port: 53, protocol: UDP}
endpoints:
- addresses: [10.0.0.2, 10.0.0.99]
- addresses: [10.0.0.1]
  conditions: {ready: true}
- addresses: [10.0.0.3]
  conditions: {ready: false}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kuard-b, namespace: default, labels: {kubernetes.io/service-name: kuard}}
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [10.0.0.1]
- addresses: [10.0.0.4]
  conditions: {serving: true}
---
apiVersion: v1
kind: Endpoints
metadata: {name: kuard, namespace: default}
subsets:
- addresses: [{ip: 192.168.0.1}]
  ports: [{name: http, port: 8080}]
";

#[test]
fn from_endpoint_slices_when_the_service_has_any() {
    let snapshot = snapshot_of(objects(SLICES));
    let svc = NamespacedName::new("default", "kuard");
    assert_eq!(
        cluster_endpoints(&snapshot, &svc, "http"),
        [
            ep("10.0.0.1", 8080),
            ep("10.0.0.2", 8080),
            ep("10.0.0.4", 8080)
        ]
    );
    assert_eq!(
        cluster_endpoints(&snapshot, &svc, ""),
        [ep("10.0.0.1", 9000), ep("10.0.0.2", 9000)]
    );
    assert_eq!(
        cluster_endpoints(&snapshot, &svc, "dns"),
        [],
        "UDP ports are not served"
    );
    assert_eq!(
        cluster_endpoints(&snapshot, &NamespacedName::new("default", "other"), "http"),
        []
    );
}

#[test]
fn from_endpoints_otherwise() {
    let snapshot = snapshot_of(objects(
        "
apiVersion: v1
kind: Endpoints
metadata: {name: kuard, namespace: default}
subsets:
- addresses: [{ip: 10.1.0.2}, {ip: 10.1.0.1}]
  notReadyAddresses: [{ip: 10.1.0.9}]
  ports: [{name: http, port: 8080}, {port: 80}, {name: dns, port: 53, protocol: UDP}]
- addresses: [{ip: 10.1.0.1}]
  ports: [{name: http, port: 8080}]
",
    ));
    let svc = NamespacedName::new("default", "kuard");
    assert_eq!(
        cluster_endpoints(&snapshot, &svc, "http"),
        [ep("10.1.0.1", 8080), ep("10.1.0.2", 8080)]
    );
    assert_eq!(
        cluster_endpoints(&snapshot, &svc, ""),
        [ep("10.1.0.1", 80), ep("10.1.0.2", 80)]
    );
    assert_eq!(cluster_endpoints(&snapshot, &svc, "dns"), []);
}

//! Gateway API kinds in file mode: decoded in both versions upstream serves, cluster-scoped
//! GatewayClasses without a namespace, and invalid documents refused with the field at fault.

use pretty_assertions::assert_eq;
use serde_json::json;
use sesame_dag::object::{Kind, NamespacedName, Object, ObjectKey};

use super::*;

fn decode(value: Value) -> Object {
    match decode_object(value) {
        Ok(Some(object)) => object,
        other => panic!("expected an object, got {other:?}"),
    }
}

#[test]
fn gateway_api_kinds_decode_in_v1_and_v1beta1() {
    for version in ["v1", "v1beta1"] {
        let api_version = format!("gateway.networking.k8s.io/{version}");
        let cases = [
            (
                json!({"apiVersion": api_version, "kind": "Gateway", "metadata": {"name": "a"}, "spec": {"gatewayClassName": "c", "listeners": [{"name": "l", "port": 80, "protocol": "HTTP"}]}}),
                Kind::Gateway,
            ),
            (
                json!({"apiVersion": api_version, "kind": "HTTPRoute", "metadata": {"name": "a"}, "spec": {"rules": [{"matches": [{"path": {"type": "Exact", "value": "/"}}]}]}}),
                Kind::HTTPRoute,
            ),
            (
                json!({"apiVersion": api_version, "kind": "ReferenceGrant", "metadata": {"name": "a"}, "spec": {"from": [], "to": []}}),
                Kind::ReferenceGrant,
            ),
        ];
        for (value, kind) in cases {
            assert_eq!(
                decode(value).key(),
                ObjectKey::new(kind, NamespacedName::new("default", "a"))
            );
        }
        let class = decode(
            json!({"apiVersion": api_version, "kind": "GatewayClass", "metadata": {"name": "c", "namespace": "x"}, "spec": {"controllerName": "projectsesame.io/gateway-controller"}}),
        );
        assert_eq!(
            class.key(),
            ObjectKey::new(Kind::GatewayClass, NamespacedName::new("", "c"))
        );
    }
}

#[test]
fn an_invalid_route_is_refused_naming_the_field() {
    let err = decode_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "a"},
        "spec": {"rules": [{"matches": [{"path": {"type": "Glob", "value": "/"}}]}]}
    }))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.rules[0].matches[0].path.type"),
        "{err}"
    );
    let other = json!({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "UDPRoute", "metadata": {"name": "a"}});
    assert!(matches!(decode_object(other), Ok(None)));
}

#[test]
fn route_policy_and_listener_set_kinds_decode_in_v1() {
    let api_version = "gateway.networking.k8s.io/v1";
    let cases = [
        (
            json!({"apiVersion": api_version, "kind": "GRPCRoute", "metadata": {"name": "a"}, "spec": {"rules": [{"matches": [{"method": {"service": "echo.Echo", "method": "Say"}}]}]}}),
            Kind::GRPCRoute,
        ),
        (
            json!({"apiVersion": api_version, "kind": "TLSRoute", "metadata": {"name": "a"}, "spec": {"hostnames": ["a.example.com"], "rules": [{"backendRefs": [{"name": "s", "port": 443}]}]}}),
            Kind::TLSRoute,
        ),
        (
            json!({"apiVersion": api_version, "kind": "TCPRoute", "metadata": {"name": "a"}, "spec": {"rules": [{"backendRefs": [{"name": "s", "port": 5432}]}]}}),
            Kind::TCPRoute,
        ),
        (
            json!({"apiVersion": api_version, "kind": "BackendTLSPolicy", "metadata": {"name": "a"}, "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "s"}], "validation": {"hostname": "s.example.com", "wellKnownCACertificates": "System"}}}),
            Kind::BackendTLSPolicy,
        ),
        (
            json!({"apiVersion": api_version, "kind": "ListenerSet", "metadata": {"name": "a"}, "spec": {"parentRef": {"name": "gw"}, "listeners": [{"name": "l", "port": 80, "protocol": "HTTP"}]}}),
            Kind::ListenerSet,
        ),
    ];
    for (value, kind) in cases {
        assert_eq!(
            decode(value).key(),
            ObjectKey::new(kind, NamespacedName::new("default", "a"))
        );
    }
}

#[test]
fn a_namespace_keeps_its_name_and_labels_only() {
    let object = decode(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"env": "prod"}, "annotations": {"big": "x"}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
    }));
    assert_eq!(
        object.key(),
        ObjectKey::new(Kind::Namespace, NamespacedName::new("", "team-a"))
    );
    let Object::Namespace(namespace) = object else {
        panic!("not a Namespace");
    };
    assert_eq!(
        serde_json::to_value(namespace.as_ref()).unwrap(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "prod"}}})
    );
}

#[test]
fn a_config_map_keeps_its_name_and_ca_bundle_only() {
    let object = decode(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "ca", "namespace": "team-a", "labels": {"env": "prod"}},
        "data": {"ca.crt": "PEM", "other": "large"}, "binaryData": {"blob": "AAAA"}
    }));
    assert_eq!(
        object.key(),
        ObjectKey::new(Kind::ConfigMap, NamespacedName::new("team-a", "ca"))
    );
    let Object::ConfigMap(config_map) = object else {
        panic!("not a ConfigMap");
    };
    assert_eq!(
        serde_json::to_value(config_map.as_ref()).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "ca", "namespace": "team-a"}, "data": {"ca.crt": "PEM"}})
    );
}

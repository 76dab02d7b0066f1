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
fn decodes_each_known_kind() {
    let cases = [
        (
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a", "namespace": "ns"}}),
            Kind::Ingress,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "ns"}, "spec": {"ports": [{"port": 80}]}}),
            Kind::Service,
        ),
        (
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "a", "namespace": "ns"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]}),
            Kind::EndpointSlice,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a", "namespace": "ns"}}),
            Kind::Endpoints,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "ns"}}),
            Kind::Secret,
        ),
    ];
    for (value, kind) in cases {
        let object = decode(value);
        assert_eq!(
            object.key(),
            ObjectKey::new(kind, NamespacedName::new("ns", "a"))
        );
    }
}

#[test]
fn unknown_kinds_and_versions_are_skipped() {
    for (api_version, kind) in [
        ("apps/v1", "Deployment"),
        ("networking.k8s.io/v1beta1", "Ingress"),
        ("v1", "ConfigMap"),
        ("projectsesame.io/v1", "TLSCertificateDelegation"),
    ] {
        let value = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        assert!(
            matches!(decode_object(value), Ok(None)),
            "{api_version} {kind}"
        );
    }
}

#[test]
fn missing_namespace_becomes_default() {
    let object = decode(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}));
    assert_eq!(object.meta().namespace.as_deref(), Some("default"));
    let object = decode(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": ""}}),
    );
    assert_eq!(object.meta().namespace.as_deref(), Some("default"));
}

#[test]
fn managed_fields_are_dropped() {
    let object = decode(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "a", "namespace": "ns", "managedFields": [
            {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}
        ]},
    }));
    assert_eq!(object.meta().managed_fields, None);
}

#[test]
fn secret_data_is_base64_and_string_data_is_merged_over_it() {
    let object = decode(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "b2xk"},
        "stringData": {"tls.key": "new", "ca.crt": "ca"},
    }));
    let Object::Secret(secret) = object else {
        panic!("not a secret")
    };
    let data: Vec<(&str, &[u8])> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.0.as_slice()))
        .collect();
    assert_eq!(
        data,
        vec![
            ("ca.crt", &b"ca"[..]),
            ("tls.crt", b"cert"),
            ("tls.key", b"new")
        ]
    );
    assert_eq!(secret.string_data, None);
}

#[test]
fn secret_with_only_string_data() {
    let Object::Secret(secret) = decode(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "stringData": {"k": "v"},
    })) else {
        panic!("not a secret")
    };
    assert_eq!(
        secret
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(|v| v.0.as_slice()),
        Some(&b"v"[..])
    );
}

#[test]
fn invalid_known_kind_names_the_object_and_the_field() {
    let err = decode_object(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ports": [{"port": "eighty"}]},
    }))
    .expect_err("a string port must not decode");
    let message = err.to_string();
    assert!(message.contains("Service shop/web"), "{message}");
    assert!(message.contains("spec.ports[0].port"), "{message}");
    assert!(matches!(err, DecodeError::Invalid { .. }));
}

#[test]
fn invalid_base64_in_a_secret_is_an_error() {
    let err = decode_object(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"},
    }))
    .expect_err("bad base64 must not decode");
    assert!(err.to_string().contains("data.k"), "{err}");
}

#[test]
fn malformed_documents_are_errors() {
    assert!(matches!(
        decode_object(json!("text")),
        Err(DecodeError::NotAnObject { found: "a string" })
    ));
    assert!(matches!(
        decode_object(json!({"metadata": {"name": "a"}})),
        Err(DecodeError::MissingTypeMeta { .. })
    ));
    assert!(matches!(
        decode_object(json!({"apiVersion": "v1", "kind": "Service", "metadata": {}})),
        Err(DecodeError::MissingName { .. })
    ));
}

#[test]
fn type_info_display() {
    let info = TypeInfo::of(
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}}),
    );
    assert_eq!(info.to_string(), "Deployment x/d (apps/v1)");
}

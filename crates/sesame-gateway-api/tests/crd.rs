//! The types are what kopium generated from the CRDs checked in under `examples/gateway/`
//! (gateway-api v1.6.1, standard channel): every field of the served version's schema, and no
//! other, is in the types' own schema, at the same place and of the same JSON type.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test")]

use std::collections::BTreeMap;

use kube_core::CustomResourceExt;
use pretty_assertions::assert_eq;
use serde_json::Value;
use sesame_gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ListenerSet, ReferenceGrant,
    TcpRoute, TlsRoute,
};

/// Every property path of a structural schema, with its JSON type (`?` when not stated).
fn fields(schema: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let p = format!("{path}.{name}");
            let ty = sub.get("type").and_then(Value::as_str).unwrap_or("?");
            out.insert(p.clone(), ty.to_string());
            fields(sub, &p, out);
        }
    }
    if let Some(items) = schema.get("items") {
        fields(items, &format!("{path}[]"), out);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        fields(extra, &format!("{path}{{}}"), out);
    }
}

fn schema_of(crd: &Value, version: &str) -> BTreeMap<String, String> {
    let versions = crd["spec"]["versions"].as_array().unwrap();
    let v = versions
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("no version {version}"));
    let mut out = BTreeMap::new();
    fields(&v["schema"]["openAPIV3Schema"], "", &mut out);
    // kube's derive adds apiVersion/kind/metadata itself; compare what the spec and status say.
    out.retain(|k, _| k.starts_with(".spec") || k.starts_with(".status"));
    out
}

fn upstream(plural: &str) -> Value {
    let path = format!(
        "{}/../../examples/gateway/gateway.networking.k8s.io_{plural}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn check(plural: &str, version: &str, ours: Value) {
    let theirs = upstream(plural);
    assert_eq!(
        theirs["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"],
        sesame_gateway_api::UPSTREAM_VERSION
    );
    assert_eq!(
        theirs["metadata"]["annotations"]["gateway.networking.k8s.io/channel"],
        "standard"
    );
    assert_eq!(
        schema_of(&ours, version),
        schema_of(&theirs, version),
        "{plural}"
    );
}

#[test]
fn gatewayclass_matches_upstream_crd() {
    check(
        "gatewayclasses",
        "v1",
        serde_json::to_value(GatewayClass::crd()).unwrap(),
    );
}

#[test]
fn gateway_matches_upstream_crd() {
    check(
        "gateways",
        "v1",
        serde_json::to_value(Gateway::crd()).unwrap(),
    );
}

#[test]
fn httproute_matches_upstream_crd() {
    let ours = schema_of(&serde_json::to_value(HttpRoute::crd()).unwrap(), "v1");
    assert_eq!(ours[".spec.rules[].matches[].path.type"], "string");
    check(
        "httproutes",
        "v1",
        serde_json::to_value(HttpRoute::crd()).unwrap(),
    );
}

#[test]
fn referencegrant_matches_upstream_crd() {
    check(
        "referencegrants",
        "v1",
        serde_json::to_value(ReferenceGrant::crd()).unwrap(),
    );
}

#[test]
fn referencegrant_v1beta1_has_the_v1_schema() {
    let crd = upstream("referencegrants");
    assert_eq!(schema_of(&crd, "v1beta1"), schema_of(&crd, "v1"));
}

#[test]
fn the_other_kinds_match_their_upstream_crds() {
    check(
        "grpcroutes",
        "v1",
        serde_json::to_value(GrpcRoute::crd()).unwrap(),
    );
    check(
        "tlsroutes",
        "v1",
        serde_json::to_value(TlsRoute::crd()).unwrap(),
    );
    check(
        "tcproutes",
        "v1",
        serde_json::to_value(TcpRoute::crd()).unwrap(),
    );
    check(
        "backendtlspolicies",
        "v1",
        serde_json::to_value(BackendTlsPolicy::crd()).unwrap(),
    );
    check(
        "listenersets",
        "v1",
        serde_json::to_value(ListenerSet::crd()).unwrap(),
    );
}

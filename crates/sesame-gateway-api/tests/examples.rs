//! The upstream examples (`tests/upstream-examples/`, from gateway-api v1.6.1
//! `examples/standard/`, a directory's files named `<dir>-<file>`) decode into the types and encode back to the same objects: no field
//! is lost or invented.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test")]

use pretty_assertions::assert_eq;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sesame_gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ListenerSet, ReferenceGrant,
    TcpRoute, TlsRoute,
};

fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value, file: &str) -> Value {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{file}: {} {}: {e}", doc["kind"], doc["metadata"]["name"]));
    serde_json::to_value(&typed).unwrap()
}

#[test]
fn upstream_examples_round_trip() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upstream-examples");
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        for mut doc in docs.into_iter().filter(|d| !d.is_null()) {
            // ReferenceGrant is served as v1 and v1beta1 with one schema; the types are v1.
            if doc["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
                && doc["kind"] == "ReferenceGrant"
            {
                doc["apiVersion"] = "gateway.networking.k8s.io/v1".into();
            }
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let back = match kind.as_str() {
                "GatewayClass" => round_trip::<GatewayClass>(&doc, &file),
                "Gateway" => round_trip::<Gateway>(&doc, &file),
                "HTTPRoute" => round_trip::<HttpRoute>(&doc, &file),
                "ReferenceGrant" => round_trip::<ReferenceGrant>(&doc, &file),
                "GRPCRoute" => round_trip::<GrpcRoute>(&doc, &file),
                "TLSRoute" => round_trip::<TlsRoute>(&doc, &file),
                "TCPRoute" => round_trip::<TcpRoute>(&doc, &file),
                "BackendTLSPolicy" => round_trip::<BackendTlsPolicy>(&doc, &file),
                "ListenerSet" => round_trip::<ListenerSet>(&doc, &file),
                _ => continue,
            };
            assert_eq!(back, doc, "{file}: {kind}");
            *seen.entry(kind).or_default() += 1;
        }
    }
    // Every kind is exercised, most of them many times.
    assert_eq!(
        seen.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "BackendTLSPolicy",
            "GRPCRoute",
            "Gateway",
            "GatewayClass",
            "HTTPRoute",
            "ListenerSet",
            "ReferenceGrant",
            "TCPRoute",
            "TLSRoute"
        ]
    );
    assert!(seen["HTTPRoute"] >= 20, "{seen:?}");
}

#[test]
fn redirect_status_codes_are_numbers() {
    let route: HttpRoute = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"rules": [{"filters": [{"type": "RequestRedirect",
            "requestRedirect": {"statusCode": 301, "scheme": "https"}}]}]}
    }))
    .unwrap();
    let back = serde_json::to_value(&route).unwrap();
    assert_eq!(
        back["spec"]["rules"][0]["filters"][0]["requestRedirect"]["statusCode"],
        301
    );
}

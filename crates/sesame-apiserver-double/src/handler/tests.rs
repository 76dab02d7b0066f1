use serde_json::json;

use super::*;

fn call(store: &Store, method: Method, path_and_query: &str, body: Value) -> (u16, Value) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let request = Request {
        method: &method,
        path,
        query,
        accept: "application/json",
        content_type: "application/merge-patch+json",
        body: &body,
    };
    match answer(store, request) {
        Ok(Answer::Json(code, value)) => (code, value),
        Ok(Answer::Watch(..)) => (0, Value::Null),
        Err(status) => (status.code, status.to_json()),
    }
}

const SERVICES: &str = "/api/v1/namespaces/ns/services";

#[test]
fn version_and_unknown_paths() {
    let store = Store::default();
    let (code, version) = call(&store, Method::GET, "/version", Value::Null);
    assert_eq!(
        (code, version["gitVersion"].as_str()),
        (200, Some("v1.33.0"))
    );
    let (code, status) = call(&store, Method::GET, "/api/v1/pods", Value::Null);
    assert_eq!(
        (code, status["kind"].as_str(), status["reason"].as_str()),
        (404, Some("Status"), Some("NotFound"))
    );
}

#[test]
fn kinds_not_installed_are_not_found_until_installed() {
    let store = Store::default();
    let routes = "/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes";
    store.set_served(&Resource::GATEWAY_API, false);
    let (code, status) = call(&store, Method::GET, routes, Value::Null);
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
    assert_eq!(call(&store, Method::GET, SERVICES, Value::Null).0, 200);
    store.set_served(&Resource::GATEWAY_API, true);
    let (code, list) = call(&store, Method::GET, routes, Value::Null);
    assert_eq!((code, list["kind"].as_str()), (200, Some("HTTPRouteList")));
}

#[test]
fn create_get_and_errors() {
    let store = Store::default();
    let body = json!({"metadata": {"name": "a", "namespace": "elsewhere"}, "spec": {}});
    let (code, created) = call(&store, Method::POST, SERVICES, body.clone());
    assert_eq!(
        (code, created["metadata"]["namespace"].as_str()),
        (201, Some("ns"))
    );
    let (code, status) = call(&store, Method::POST, SERVICES, body);
    assert_eq!(
        (code, status["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    assert_eq!(status["message"], "services \"a\" already exists");
    let (code, got) = call(&store, Method::GET, &format!("{SERVICES}/a"), Value::Null);
    assert_eq!((code, got), (200, created));
    let (code, status) = call(&store, Method::GET, &format!("{SERVICES}/b"), Value::Null);
    assert_eq!(
        (code, status["message"].as_str()),
        (404, Some("services \"b\" not found"))
    );
    let (code, _) = call(
        &store,
        Method::PUT,
        &format!("{SERVICES}/a"),
        json!({"metadata": {"name": "b"}}),
    );
    assert_eq!(code, 400);
    let (code, _) = call(
        &store,
        Method::DELETE,
        &format!("{SERVICES}/a/status"),
        Value::Null,
    );
    assert_eq!(code, 405);
    let (code, _) = call(
        &store,
        Method::PUT,
        "/api/v1/namespaces/ns/secrets/a/status",
        json!({}),
    );
    assert_eq!(code, 404);
    let (code, _) = call(&store, Method::POST, SERVICES, json!("not an object"));
    assert_eq!(code, 422);
}

#[test]
fn lists_with_selectors_and_pages() {
    let store = Store::default();
    for name in ["a", "b", "c"] {
        call(
            &store,
            Method::POST,
            SERVICES,
            json!({"metadata": {"name": name, "labels": {"n": name}}}),
        );
    }
    let (code, list) = call(
        &store,
        Method::GET,
        "/api/v1/services?labelSelector=n%21%3Db&limit=1",
        Value::Null,
    );
    assert_eq!(
        (code, list["kind"].as_str(), list["apiVersion"].as_str()),
        (200, Some("ServiceList"), Some("v1"))
    );
    assert_eq!(list["metadata"]["resourceVersion"], "4");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let token = list["metadata"]["continue"].as_str().unwrap_or_default();
    let (_, rest) = call(
        &store,
        Method::GET,
        &format!("/api/v1/services?labelSelector=n%21%3Db&limit=1&continue={token}"),
        Value::Null,
    );
    assert_eq!(rest["items"][0]["metadata"]["name"], "c");
    assert_eq!(rest["metadata"].get("continue"), None);
    store
        .create(
            Resource::Service,
            Some("ns"),
            json!({"metadata": {"name": "d"}}),
        )
        .unwrap_or_default();
    store.compact();
    let (code, status) = call(
        &store,
        Method::GET,
        &format!("/api/v1/services?limit=1&continue={token}"),
        Value::Null,
    );
    assert_eq!((code, status["reason"].as_str()), (410, Some("Expired")));
    let (code, _) = call(
        &store,
        Method::GET,
        "/api/v1/services?fieldSelector=spec.type%3DX",
        Value::Null,
    );
    assert_eq!(code, 400);
}

#[test]
fn metadata_presentation() {
    assert_eq!(
        Presentation::from_accept(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            true
        ),
        Presentation::Metadata
    );
    assert_eq!(
        Presentation::from_accept(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            false
        ),
        Presentation::Full
    );
    assert_eq!(
        Presentation::from_accept(
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
            false
        ),
        Presentation::Metadata
    );
    assert_eq!(
        Presentation::from_accept("application/json", true),
        Presentation::Full
    );
}

#[test]
fn patch_needs_a_known_content_type() {
    let store = Store::default();
    call(
        &store,
        Method::POST,
        SERVICES,
        json!({"metadata": {"name": "a"}}),
    );
    let body = b"{}";
    let request = Request {
        method: &Method::PATCH,
        path: "/api/v1/namespaces/ns/services/a",
        query: "",
        accept: "",
        content_type: "application/json",
        body,
    };
    assert!(matches!(
        answer(&store, request),
        Err(Status { code: 415, .. })
    ));
}

use std::sync::Arc;

use pretty_assertions::assert_eq;
use sesame_api::HTTPProxy;
use sesame_dag::status::{ProblemKind, Reason};
use sesame_dag::{BuildOutput, Change, Object};

use super::*;

fn now(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
}

fn proxy(status: Option<Value>) -> HTTPProxy {
    let mut proxy: HTTPProxy = serde_json::from_value(json!({
        "apiVersion": "projectsesame.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": "web", "namespace": "ns", "generation": 2, "resourceVersion": "7"},
        "spec": {},
    }))
    .unwrap();
    proxy.status = status.map(|s| serde_json::from_value(s).unwrap());
    proxy
}

fn key() -> ObjectKey {
    ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("ns", "web"))
}

fn output(status: ObjectStatus) -> BuildOutput {
    let mut output = BuildOutput::default();
    output.status.objects.insert(key(), status);
    output
}

fn snapshot(proxy: HTTPProxy) -> Snapshot {
    let mut snapshot = Snapshot::new();
    snapshot.apply(Change::Apply(Object::HTTPProxy(Arc::new(proxy))));
    snapshot
}

#[test]
fn an_extension_service_gets_a_valid_condition_with_typed_errors() {
    let ext: sesame_api::ExtensionService = serde_json::from_value(json!({
        "apiVersion": "projectsesame.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": "authz", "namespace": "ns", "generation": 3, "resourceVersion": "9"},
        "spec": {"services": [{"name": "missing", "port": 9000}]},
    }))
    .unwrap();
    let mut snapshot = Snapshot::new();
    snapshot.apply(Change::Apply(Object::ExtensionService(Arc::new(ext))));
    let key = ObjectKey::new(Kind::ExtensionService, NamespacedName::new("ns", "authz"));
    let mut status = ObjectStatus::valid(Some(3));
    status.error(
        ProblemKind::ServiceError,
        Reason::ServiceUnresolvedReference,
        "unresolved service ns/missing: not found",
    );
    let mut output = BuildOutput::default();
    output.status.objects.insert(key.clone(), status);
    let updates = updates(&snapshot, &output, &[], &now(1000), None);
    let update = &updates[&key];
    assert_eq!(update.resource_version.as_deref(), Some("9"));
    assert_eq!(
        update.status,
        json!({
            "conditions": [{
                "type": "Valid", "status": "False", "observedGeneration": 3,
                "lastTransitionTime": "1970-01-01T00:16:40Z",
                "reason": "ErrorPresent",
                "message": "At least one error present, see Errors for details",
                "errors": [{
                    "type": "ServiceError", "status": "True",
                    "reason": "ServiceUnresolvedReference",
                    "message": "unresolved service ns/missing: not found",
                }],
            }],
        })
    );
}

#[test]
fn a_new_proxy_gets_contours_status_shape() {
    let updates = updates(
        &snapshot(proxy(None)),
        &output(ObjectStatus::valid(Some(2))),
        &[
            Address::parse("192.0.2.1"),
            Address::parse("lb.example.com"),
        ],
        &now(1000),
        None,
    );
    let update = &updates[&key()];
    assert_eq!(update.resource_version.as_deref(), Some("7"));
    assert_eq!(
        update.status,
        json!({
            "currentStatus": "valid",
            "description": "Valid HTTPProxy",
            "loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example.com"}]},
            "conditions": [{
                "type": "Valid", "status": "True", "observedGeneration": 2,
                "lastTransitionTime": "1970-01-01T00:16:40Z",
                "reason": "Valid", "message": "Valid HTTPProxy",
            }],
        })
    );
}

#[test]
fn an_unchanged_status_is_not_written_again_and_keeps_its_transition_time() {
    let first = updates(
        &snapshot(proxy(None)),
        &output(ObjectStatus::valid(Some(2))),
        &[],
        &now(1000),
        None,
    );
    let written = first[&key()].status.clone();
    let again = updates(
        &snapshot(proxy(Some(written.clone()))),
        &output(ObjectStatus::valid(Some(2))),
        &[],
        &now(2000),
        None,
    );
    assert!(again.is_empty(), "{again:?}");

    let mut broken = ObjectStatus::valid(Some(2));
    broken.error(
        ProblemKind::ServiceError,
        Reason::ServiceUnresolvedReference,
        "gone",
    );
    let changed = updates(
        &snapshot(proxy(Some(written))),
        &output(broken),
        &[],
        &now(3000),
        None,
    );
    let condition = &changed[&key()].status["conditions"][0];
    assert_eq!(condition["status"], "False");
    assert_eq!(
        condition["lastTransitionTime"], "1970-01-01T00:50:00Z",
        "status flipped: new time"
    );
    assert_eq!(
        condition["errors"][0]["reason"],
        "ServiceUnresolvedReference"
    );
}

#[test]
fn a_newer_generation_is_never_overwritten_and_other_conditions_are_kept() {
    let newer = json!({
        "currentStatus": "valid",
        "conditions": [
            {"type": "Valid", "status": "True", "observedGeneration": 5, "reason": "Valid", "message": "Valid HTTPProxy"},
        ],
    });
    let stale = updates(
        &snapshot(proxy(Some(newer))),
        &output(ObjectStatus::valid(Some(2))),
        &[],
        &now(1),
        None,
    );
    assert!(stale.is_empty(), "observedGeneration never goes backwards");

    let foreign = json!({
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "External", "message": "someone else's"},
        ],
    });
    let merged = updates(
        &snapshot(proxy(Some(foreign))),
        &output(ObjectStatus::valid(Some(2))),
        &[],
        &now(1),
        None,
    );
    let conditions = merged[&key()].status["conditions"]
        .as_array()
        .unwrap()
        .clone();
    let types: Vec<&str> = conditions
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Valid", "Ready"]);
}

#[test]
fn load_balancer_addresses_come_from_config_or_the_envoy_service() {
    let mut snapshot = Snapshot::new();
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": "envoy", "namespace": "projectsesame"},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
    }))
    .unwrap();
    snapshot.apply(Change::Apply(Object::Service(Arc::new(service.into()))));
    let envoy = NamespacedName::new("projectsesame", "envoy");
    assert_eq!(
        load_balancer(&[], &snapshot, &envoy),
        vec![Address::parse("203.0.113.9")]
    );
    assert_eq!(
        load_balancer(&["ingress.example.com".into()], &snapshot, &envoy),
        vec![Address {
            ip: None,
            hostname: Some("ingress.example.com".into())
        }]
    );
}

//! BackendTLSPolicy `ancestors`: Sesame's entry for the served Gateway, other controllers'
//! entries kept, and ours removed once no route of the Gateway uses the policy.

use std::sync::Arc;

use pretty_assertions::assert_eq;
use sesame_dag::status::gateway::{ConditionReason as R, ConditionType as T};
use sesame_dag::{BuildOutput, Change, Object};

use super::super::{StatusUpdates, updates};
use super::*;

const CONTROLLER: &str = "projectsesame.io/gateway-controller";

fn now(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
}

fn policy(generation: i64, status: Option<Value>) -> Snapshot {
    let mut policy: BackendTlsPolicy = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "BackendTLSPolicy",
        "metadata": {"name": "tls", "namespace": "ns", "generation": generation, "resourceVersion": "9"},
        "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "web"}],
                 "validation": {"hostname": "web.example.com",
                                "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}]}},
    }))
    .unwrap();
    policy.status = status.map(|s| serde_json::from_value(s).unwrap());
    let mut snapshot = Snapshot::new();
    snapshot.apply(Change::Apply(Object::BackendTLSPolicy(Arc::new(policy))));
    snapshot
}

fn key() -> ObjectKey {
    ObjectKey::new(Kind::BackendTLSPolicy, NamespacedName::new("ns", "tls"))
}

/// The build's status of the policy: accepted, or refused for want of a CA bundle.
fn output(generation: i64, accepted: bool) -> BuildOutput {
    let mut status = ObjectStatus::valid(Some(generation));
    let conditions = if accepted {
        vec![
            Condition::yes(T::Accepted, R::Accepted, "accepted"),
            Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "resolved"),
        ]
    } else {
        vec![
            Condition::no(T::Accepted, R::NoValidCACertificate, "no CA"),
            Condition::no(T::ResolvedRefs, R::InvalidCACertificateRef, "no ConfigMap"),
        ]
    };
    status.gateway_api = Some(Box::new(GatewayApiStatus::Policy {
        ancestors: vec![PolicyAncestorStatus {
            ancestor_ref: ParentRef {
                group: GROUP.into(),
                kind: "Gateway".into(),
                namespace: "infra".into(),
                name: "gw".into(),
                section_name: None,
                port: None,
            },
            controller_name: CONTROLLER.into(),
            conditions,
        }],
    }));
    let mut output = BuildOutput::default();
    output.status.objects.insert(key(), status);
    output
}

fn write(snapshot: &Snapshot, output: &BuildOutput, at: i64) -> StatusUpdates {
    updates(snapshot, output, &[], &now(at), Some(CONTROLLER))
}

#[test]
fn a_policy_names_the_gateway_as_its_ancestor_with_typed_conditions() {
    let updates = write(&policy(2, None), &output(2, false), 1000);
    let update = &updates[&key()];
    assert_eq!(update.resource_version.as_deref(), Some("9"));
    let ancestor = &update.status["ancestors"][0];
    assert_eq!(
        ancestor["ancestorRef"],
        json!({"group": GROUP, "kind": "Gateway", "namespace": "infra", "name": "gw"})
    );
    assert_eq!(ancestor["controllerName"], CONTROLLER);
    let conditions: Vec<String> = (ancestor["conditions"].as_array().unwrap().iter())
        .map(|c| {
            format!(
                "{}={}/{}@{}",
                c["type"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["reason"].as_str().unwrap(),
                c["observedGeneration"]
            )
        })
        .collect();
    assert_eq!(
        conditions,
        [
            "Accepted=False/NoValidCACertificate@2",
            "ResolvedRefs=False/InvalidCACertificateRef@2"
        ]
    );
    // Written once, unchanged afterwards: nothing to write.
    let written = update.status.clone();
    assert!(write(&policy(2, Some(written)), &output(2, false), 2000).is_empty());
}

#[test]
fn other_controllers_ancestors_are_kept_and_ours_go_when_the_policy_is_unused() {
    let foreign = json!({
        "ancestorRef": {"group": GROUP, "kind": "Gateway", "namespace": "infra", "name": "theirs"},
        "controllerName": "example.com/other",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                        "message": "theirs", "lastTransitionTime": "2020-01-01T00:00:00Z"}],
    });
    let snapshot = policy(2, Some(json!({"ancestors": [foreign.clone()]})));
    let updates = write(&snapshot, &output(2, true), 1000);
    let ancestors = updates[&key()].status["ancestors"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ancestors.len(), 2);
    assert_eq!(ancestors[0], foreign);
    assert_eq!(ancestors[1]["ancestorRef"]["name"], "gw");

    // No route of the served Gateway uses the policy any more: our entry goes.
    let snapshot = policy(2, Some(json!({"ancestors": ancestors})));
    let left = write(&snapshot, &BuildOutput::default(), 2000);
    assert_eq!(left[&key()].status, json!({"ancestors": [foreign]}));
}

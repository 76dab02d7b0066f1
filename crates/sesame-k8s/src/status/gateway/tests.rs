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

fn route(generation: i64, status: Option<Value>) -> HttpRoute {
    let mut route: HttpRoute = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "ns", "generation": generation, "resourceVersion": "7"},
        "spec": {"parentRefs": [{"name": "gw", "sectionName": "http"}, {"name": "other-gw"}]},
    }))
    .unwrap();
    route.status = status.map(|s| serde_json::from_value(s).unwrap());
    route
}

fn route_key() -> ObjectKey {
    ObjectKey::new(Kind::HTTPRoute, NamespacedName::new("ns", "web"))
}

/// The build's status of the route: one parent, the served Gateway `ns/gw`, listener `http`.
fn route_output(generation: i64, accepted: bool) -> BuildOutput {
    let mut status = ObjectStatus::valid(Some(generation));
    let condition = if accepted {
        Condition::yes(T::Accepted, R::Accepted, "accepted")
    } else {
        Condition::no(T::Accepted, R::NotAllowedByListeners, "not allowed")
    };
    status.gateway_api = Some(Box::new(GatewayApiStatus::Route {
        parents: vec![RouteParentStatus {
            parent_ref: ParentRef {
                group: GROUP.into(),
                kind: "Gateway".into(),
                namespace: "ns".into(),
                name: "gw".into(),
                section_name: Some("http".into()),
                port: None,
            },
            controller_name: CONTROLLER.into(),
            conditions: vec![
                condition,
                Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "resolved"),
            ],
        }],
    }));
    let mut output = BuildOutput::default();
    output.status.objects.insert(route_key(), status);
    output
}

fn snapshot_of(object: Object) -> Snapshot {
    let mut snapshot = Snapshot::new();
    snapshot.apply(Change::Apply(object));
    snapshot
}

fn write(snapshot: &Snapshot, output: &BuildOutput, at: i64) -> StatusUpdates {
    updates(snapshot, output, &[], &now(at), Some(CONTROLLER))
}

/// `type=status@observedGeneration@lastTransitionTime` of each condition.
fn summary(conditions: &Value) -> Vec<String> {
    (conditions.as_array().into_iter().flatten())
        .map(|c| {
            format!(
                "{}={}@{}@{}",
                c["type"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["observedGeneration"],
                c["lastTransitionTime"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn route_parents_echo_the_parent_ref_as_written_with_the_generation() {
    let snapshot = snapshot_of(Object::HTTPRoute(Arc::new(route(3, None))));
    let updates = write(&snapshot, &route_output(3, true), 1000);
    let status = &updates[&route_key()].status;
    assert_eq!(
        status["parents"][0]["parentRef"],
        json!({"name": "gw", "sectionName": "http"}),
        "as written: no defaults added"
    );
    assert_eq!(status["parents"][0]["controllerName"], CONTROLLER);
    assert_eq!(
        summary(&status["parents"][0]["conditions"]),
        [
            "Accepted=True@3@1970-01-01T00:16:40Z",
            "ResolvedRefs=True@3@1970-01-01T00:16:40Z"
        ]
    );
}

#[test]
fn a_spec_change_bumps_observed_generation_and_keeps_unchanged_transition_times() {
    let snapshot = snapshot_of(Object::HTTPRoute(Arc::new(route(3, None))));
    let first = write(&snapshot, &route_output(3, true), 1000)[&route_key()]
        .status
        .clone();
    let again = snapshot_of(Object::HTTPRoute(Arc::new(route(3, Some(first.clone())))));
    assert!(
        write(&again, &route_output(3, true), 2000).is_empty(),
        "nothing changed: nothing to write"
    );

    // Generation 4: the route is no longer accepted; ResolvedRefs is unchanged.
    let bumped = snapshot_of(Object::HTTPRoute(Arc::new(route(4, Some(first)))));
    let second = write(&bumped, &route_output(4, false), 3000);
    assert_eq!(
        summary(&second[&route_key()].status["parents"][0]["conditions"]),
        [
            "Accepted=False@4@1970-01-01T00:50:00Z",
            "ResolvedRefs=True@4@1970-01-01T00:16:40Z"
        ]
    );
}

#[test]
fn parents_of_other_controllers_are_kept_untouched() {
    let foreign = json!({
        "parentRef": {"name": "other-gw"},
        "controllerName": "example.com/other",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                        "message": "theirs", "lastTransitionTime": "2020-01-01T00:00:00Z"}],
    });
    let stale_ours = json!({
        "parentRef": {"name": "gone"},
        "controllerName": CONTROLLER,
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                        "message": "old", "lastTransitionTime": "2020-01-01T00:00:00Z"}],
    });
    let current = json!({"parents": [foreign.clone(), stale_ours]});
    let snapshot = snapshot_of(Object::HTTPRoute(Arc::new(route(3, Some(current)))));
    let updates = write(&snapshot, &route_output(3, true), 1000);
    let parents = updates[&route_key()].status["parents"].as_array().unwrap();
    assert_eq!(parents.len(), 2, "{parents:#?}");
    assert_eq!(
        parents[0], foreign,
        "the other controller's entry is kept as it was"
    );
    assert_eq!(parents[1]["parentRef"]["name"], "gw", "ours replaced");

    // The route leaves the served Gateway: our entry goes, theirs stays.
    let current = updates[&route_key()].status.clone();
    let snapshot = snapshot_of(Object::HTTPRoute(Arc::new(route(3, Some(current)))));
    let left = write(&snapshot, &BuildOutput::default(), 2000);
    assert_eq!(left[&route_key()].status, json!({"parents": [foreign]}));
    let without_gateway =
        super::super::updates(&snapshot, &BuildOutput::default(), &[], &now(2000), None);
    assert!(
        without_gateway.is_empty(),
        "no gateway configured: not ours to clean"
    );
}

fn gateway_output() -> BuildOutput {
    let mut status = ObjectStatus::valid(Some(5));
    status.gateway_api = Some(Box::new(GatewayApiStatus::Gateway {
        conditions: vec![
            Condition::yes(T::Accepted, R::Accepted, "Gateway is accepted"),
            Condition::yes(T::Programmed, R::Programmed, "Gateway is programmed"),
        ],
        listeners: vec![ListenerStatus {
            name: "http".into(),
            attached_routes: 2,
            supported_kinds: vec!["HTTPRoute".into()],
            conditions: vec![Condition::yes(
                T::Accepted,
                R::Accepted,
                "listener accepted",
            )],
        }],
        attached_listener_sets: 1,
        addresses: Vec::new(),
    }));
    let mut output = BuildOutput::default();
    output.status.objects.insert(
        ObjectKey::new(Kind::Gateway, NamespacedName::new("ns", "gw")),
        status,
    );
    output
}

fn gateway(status: Option<Value>) -> sesame_gateway_api::Gateway {
    let mut gateway: sesame_gateway_api::Gateway = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "ns", "generation": 5, "resourceVersion": "9"},
        "spec": {"gatewayClassName": "sesame", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }))
    .unwrap();
    gateway.status = status.map(|s| serde_json::from_value(s).unwrap());
    gateway
}

#[test]
fn a_gateway_gets_conditions_listeners_and_addresses() {
    let snapshot = snapshot_of(Object::Gateway(Arc::new(gateway(None))));
    let addresses = [
        Address::parse("192.0.2.1"),
        Address::parse("lb.example.com"),
    ];
    let updates = updates(
        &snapshot,
        &gateway_output(),
        &addresses,
        &now(1000),
        Some(CONTROLLER),
    );
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("ns", "gw"));
    let status = &updates[&key].status;
    assert_eq!(
        summary(&status["conditions"]),
        [
            "Accepted=True@5@1970-01-01T00:16:40Z",
            "Programmed=True@5@1970-01-01T00:16:40Z"
        ]
    );
    assert_eq!(
        status["addresses"],
        json!([{"type": "IPAddress", "value": "192.0.2.1"}, {"type": "Hostname", "value": "lb.example.com"}])
    );
    assert_eq!(status["attachedListenerSets"], 1);
    let listener = &status["listeners"][0];
    assert_eq!(listener["name"], "http");
    assert_eq!(listener["attachedRoutes"], 2);
    assert_eq!(
        listener["supportedKinds"],
        json!([{"group": GROUP, "kind": "HTTPRoute"}])
    );
    assert_eq!(
        summary(&listener["conditions"]),
        ["Accepted=True@5@1970-01-01T00:16:40Z"]
    );

    // Read back through the Gateway's type, the written status asks for no new write.
    let written = snapshot_of(Object::Gateway(Arc::new(gateway(Some(status.clone())))));
    let again = super::super::updates(
        &written,
        &gateway_output(),
        &addresses,
        &now(2000),
        Some(CONTROLLER),
    );
    assert!(again.is_empty(), "{again:#?}");
}

#[test]
fn a_gateway_on_an_address_of_its_own_shows_that_address_alone() {
    let snapshot = snapshot_of(Object::Gateway(Arc::new(gateway(None))));
    let mut output = gateway_output();
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("ns", "gw"));
    if let Some(GatewayApiStatus::Gateway { addresses, .. }) = (output.status.objects)
        .get_mut(&key)
        .and_then(|s| s.gateway_api.as_deref_mut())
    {
        addresses.push("127.0.0.3".parse().unwrap());
    }
    let published = [Address::parse("192.0.2.1")];
    let updates = updates(&snapshot, &output, &published, &now(1000), Some(CONTROLLER));
    assert_eq!(
        updates[&key].status["addresses"],
        json!([{"type": "IPAddress", "value": "127.0.0.3"}])
    );
}

#[test]
fn listener_conditions_keep_their_transition_time_by_listener_name() {
    let current = json!([{"name": "http", "conditions": [
        {"type": "Accepted", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}]);
    let ours = json!([{"name": "http", "conditions": [{"type": "Accepted", "status": "True"}]},
                      {"name": "new", "conditions": [{"type": "Accepted", "status": "True"}]}]);
    let merged = listeners(&ours, Some(&current), &now(1000));
    assert_eq!(
        merged[0]["conditions"][0]["lastTransitionTime"],
        "2020-01-01T00:00:00Z"
    );
    assert_eq!(
        merged[1]["conditions"][0]["lastTransitionTime"],
        "1970-01-01T00:16:40Z"
    );
}

#[test]
fn a_listener_set_gets_its_conditions_and_listeners() {
    let set: sesame_gateway_api::ListenerSet = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
        "metadata": {"name": "ls", "namespace": "ns", "generation": 2, "resourceVersion": "4"},
        "spec": {"parentRef": {"name": "gw"}, "listeners": [{"name": "extra", "port": 80, "protocol": "HTTP"}]},
    }))
    .unwrap();
    let snapshot = snapshot_of(Object::ListenerSet(Arc::new(set)));
    let key = ObjectKey::new(Kind::ListenerSet, NamespacedName::new("ns", "ls"));
    let mut status = ObjectStatus::valid(Some(2));
    status.gateway_api = Some(Box::new(GatewayApiStatus::ListenerSet {
        conditions: vec![
            Condition::yes(T::Accepted, R::Accepted, "ListenerSet is accepted"),
            Condition::yes(T::Programmed, R::Programmed, "ListenerSet is programmed"),
        ],
        listeners: vec![ListenerStatus {
            name: "extra".into(),
            attached_routes: 1,
            supported_kinds: vec!["HTTPRoute".into()],
            conditions: vec![Condition::yes(
                T::Accepted,
                R::Accepted,
                "listener accepted",
            )],
        }],
    }));
    let mut output = BuildOutput::default();
    output.status.objects.insert(key.clone(), status);
    let updates = updates(&snapshot, &output, &[], &now(1000), Some(CONTROLLER));
    let status = &updates[&key].status;
    assert_eq!(
        summary(&status["conditions"]),
        [
            "Accepted=True@2@1970-01-01T00:16:40Z",
            "Programmed=True@2@1970-01-01T00:16:40Z"
        ]
    );
    assert_eq!(status["listeners"][0]["name"], "extra");
    assert_eq!(status["listeners"][0]["attachedRoutes"], 1);
}

#[test]
fn the_insecure_frontend_condition_is_written_and_removed_with_the_mode() {
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("ns", "gw"));
    let mut insecure = gateway_output();
    if let Some(GatewayApiStatus::Gateway { conditions, .. }) = insecure
        .status
        .objects
        .get_mut(&key)
        .and_then(|s| s.gateway_api.as_deref_mut())
    {
        conditions.push(Condition::yes(
            T::InsecureFrontendValidationMode,
            R::ConfigurationChanged,
            "spec.tls.frontend.default has mode AllowInsecureFallback",
        ));
    }
    let snapshot = snapshot_of(Object::Gateway(Arc::new(gateway(None))));
    let updates = write(&snapshot, &insecure, 1000);
    let status = &updates[&key].status;
    assert_eq!(
        status["conditions"][2]["type"],
        "InsecureFrontendValidationMode"
    );
    assert_eq!(status["conditions"][2]["reason"], "ConfigurationChanged");
    assert_eq!(
        summary(&status["conditions"])[2],
        "InsecureFrontendValidationMode=True@5@1970-01-01T00:16:40Z"
    );

    // Read back through the Gateway's type, it asks for no new write.
    let written = snapshot_of(Object::Gateway(Arc::new(gateway(Some(status.clone())))));
    assert!(write(&written, &insecure, 2000).is_empty());
    // Back to AllowValidOnly, the condition is removed.
    let updates = write(&written, &gateway_output(), 3000);
    let types: Vec<&str> = (updates[&key].status["conditions"].as_array().into_iter())
        .flatten()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["Accepted", "Programmed"]);
}

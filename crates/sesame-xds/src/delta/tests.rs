use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryResponse;
use pretty_assertions::assert_eq;
use sesame_envoy::ResourceType::{self, *};

use super::DeltaConnection;
use crate::connection::Scope;
use crate::store::SnapshotStore;
use crate::testing::{
    Logs, delta_ack, delta_contents, delta_nack, delta_subscribe, delta_type, eds_cluster, set,
};

/// A ready store with two clusters and two load assignments.
pub(super) fn store() -> SnapshotStore {
    let store = SnapshotStore::new();
    store.publish(vec![
        set(Cluster, &[("a", "c1"), ("b", "c1")]),
        set(ClusterLoadAssignment, &[("a", "e1"), ("b", "e1")]),
    ]);
    store.mark_ready();
    store
}

pub(super) fn ads(store: &SnapshotStore) -> DeltaConnection {
    DeltaConnection::new(Scope::Aggregated, store.counters())
}

/// `(type, upserted contents, removed names)` of each response, in order.
pub(super) fn summary(
    out: &[DeltaDiscoveryResponse],
) -> Vec<(ResourceType, Vec<String>, Vec<String>)> {
    out.iter()
        .map(|r| {
            let ty = delta_type(r).unwrap_or(Cluster);
            (ty, delta_contents(r), r.removed_resources.clone())
        })
        .collect()
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cds_wildcard_subscription_gets_every_resource_with_its_version() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(delta_type(&out[0]), Some(Cluster));
    assert_eq!(delta_contents(&out[0]), ["a=c1", "b=c1"]);
    let view = store.view();
    let names: Vec<_> = out[0].resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        out[0].resources[0].version,
        view.get(Cluster).resources()["a"].version()
    );
    assert_eq!(out[0].system_version_info, store.version(Cluster));
    assert!(!out[0].nonce.is_empty());
    assert!(out[0].removed_resources.is_empty());
    assert_eq!(conn.node(), Some("envoy-1"));
    assert_eq!(store.stats().responses_sent(Cluster), 1);
    assert_eq!(store.stats().resources_sent(Cluster), 2);
}

#[test]
fn ack_sends_nothing_and_is_counted() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    assert!(
        conn.decoded_request(&delta_ack(&first[0]), &store.view())
            .is_empty()
    );
    assert_eq!(store.stats().acks(Cluster), 1);
    assert!(conn.decoded_update(&store.view()).is_empty());
}

#[test]
fn store_update_sends_only_what_changed() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(&delta_ack(&first[0]), &store.view());

    store.publish(vec![set(Cluster, &[("a", "c2"), ("b", "c1"), ("c", "c1")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(Cluster, strings(&["a=c2", "c=c1"]), vec![])]
    );
    assert_eq!(out[0].system_version_info, store.version(Cluster));
    assert_ne!(out[0].nonce, first[0].nonce);
    // An unrelated type's change sends nothing.
    store.publish(vec![set(Listener, &[("http", "l1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
}

#[test]
fn nack_is_logged_and_counted_and_not_resent() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(&delta_ack(&first[0]), &store.view());
    store.publish(vec![set(Cluster, &[("a", "bad"), ("b", "c1")])]);
    let bad = conn.decoded_update(&store.view());
    assert_eq!(delta_contents(&bad[0]), ["a=bad"]);

    let logs = Logs::default();
    let req = delta_nack(&bad[0], "cluster a: invalid");
    let out = logs.capture(|| conn.decoded_request(&req, &store.view()));
    assert!(out.is_empty());
    assert_eq!(store.stats().nacks(Cluster), 1);
    assert_eq!(store.stats().acks(Cluster), 1);
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("envoy-1"), "{text}");
    assert!(text.contains(Cluster.type_url()), "{text}");
    assert!(text.contains("cluster a: invalid"), "{text}");

    // Neither a wake-up, a republish of the same content nor another type's change resends.
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(Cluster, &[("a", "bad"), ("b", "c1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(Listener, &[("http", "l1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    // A fix is sent.
    store.publish(vec![set(Cluster, &[("a", "good"), ("b", "c1")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(summary(&out), [(Cluster, strings(&["a=good"]), vec![])]);
}

#[test]
fn stale_nonce_verdict_is_ignored_but_its_subscriptions_apply() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(
        &delta_subscribe(ClusterLoadAssignment, &["a"]),
        &store.view(),
    );
    conn.decoded_request(&delta_ack(&first[0]), &store.view());
    // The same nonce again, and one never sent: neither counts.
    let mut stale = delta_ack(&first[0]);
    assert!(conn.decoded_request(&stale, &store.view()).is_empty());
    stale.response_nonce = "999".to_string();
    stale.error_detail = delta_nack(&first[0], "old").error_detail;
    assert!(conn.decoded_request(&stale, &store.view()).is_empty());
    assert_eq!(store.stats().acks(ClusterLoadAssignment), 1);
    assert_eq!(store.stats().nacks(ClusterLoadAssignment), 0);
    // Envoy piggybacks subscription changes on ACKs: they apply even with a stale nonce.
    stale.error_detail = None;
    stale.resource_names_subscribe = strings(&["b"]);
    let out = conn.decoded_request(&stale, &store.view());
    assert_eq!(
        summary(&out),
        [(ClusterLoadAssignment, strings(&["b=e1"]), vec![])]
    );
}

#[test]
fn acks_of_earlier_responses_in_flight_count() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    store.publish(vec![set(Cluster, &[("a", "c2"), ("b", "c1")])]);
    let second = conn.decoded_update(&store.view());
    conn.decoded_request(&delta_ack(&first[0]), &store.view());
    conn.decoded_request(&delta_ack(&second[0]), &store.view());
    assert_eq!(store.stats().acks(Cluster), 2);
}

#[test]
fn named_subscribe_and_unsubscribe() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(
        &delta_subscribe(ClusterLoadAssignment, &["a"]),
        &store.view(),
    );
    assert_eq!(delta_contents(&out[0]), ["a=e1"]);
    let mut more = delta_ack(&out[0]);
    more.resource_names_subscribe = strings(&["b"]);
    let out = conn.decoded_request(&more, &store.view());
    assert_eq!(delta_contents(&out[0]), ["b=e1"]);

    let mut less = delta_ack(&out[0]);
    less.resource_names_unsubscribe = strings(&["a"]);
    assert!(conn.decoded_request(&less, &store.view()).is_empty());
    // An unsubscribed resource is neither updated nor removed.
    store.publish(vec![set(
        ClusterLoadAssignment,
        &[("a", "e2"), ("b", "e1")],
    )]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(ClusterLoadAssignment, &[("b", "e1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    assert_eq!(
        conn.client_versions(ClusterLoadAssignment)
            .keys()
            .collect::<Vec<_>>(),
        ["b"]
    );
}

#[test]
fn subscribing_again_on_an_open_stream_resends() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(
        &delta_subscribe(ClusterLoadAssignment, &["a"]),
        &store.view(),
    );
    let mut again = delta_ack(&out[0]);
    again.resource_names_subscribe = strings(&["a"]);
    let out = conn.decoded_request(&again, &store.view());
    assert_eq!(delta_contents(&out[0]), ["a=e1"]);
}

#[test]
fn a_named_resource_that_does_not_exist_is_sent_when_it_appears() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(&delta_subscribe(RouteConfiguration, &["r"]), &store.view());
    // The first answer of a type completes Envoy's initial fetch even when empty.
    assert_eq!(summary(&out), [(RouteConfiguration, vec![], vec![])]);
    store.publish(vec![set(RouteConfiguration, &[("other", "x")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(
        RouteConfiguration,
        &[("other", "x"), ("r", "r1")],
    )]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(RouteConfiguration, strings(&["r=r1"]), vec![])]
    );
}

#[test]
fn wildcard_rules() {
    let store = store();
    store.publish(vec![set(Listener, &[("http", "l1")])]);
    let mut conn = ads(&store);
    // LDS with no names: everything.
    let out = conn.decoded_request(&delta_subscribe(Listener, &[]), &store.view());
    assert_eq!(delta_contents(&out[0]), ["http=l1"]);
    // EDS with no names: nothing (only an empty first answer).
    let out = conn.decoded_request(&delta_subscribe(ClusterLoadAssignment, &[]), &store.view());
    assert_eq!(summary(&out), [(ClusterLoadAssignment, vec![], vec![])]);
    // `*` subscribes any type to everything.
    let mut star = delta_ack(&out[0]);
    star.resource_names_subscribe = strings(&["*"]);
    let out = conn.decoded_request(&star, &store.view());
    assert_eq!(delta_contents(&out[0]), ["a=e1", "b=e1"]);
    // Leaving the wildcard leaves nothing selected; nothing more is sent.
    let mut unstar = delta_ack(&out[0]);
    unstar.resource_names_unsubscribe = strings(&["*"]);
    assert!(conn.decoded_request(&unstar, &store.view()).is_empty());
    store.publish(vec![set(ClusterLoadAssignment, &[("a", "e2")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
}

#[test]
fn initial_resource_versions_skip_what_the_client_holds_and_remove_what_is_gone() {
    let store = store();
    let view = store.view();
    let a = view.get(Cluster).resources()["a"].version();
    let mut req = delta_subscribe(Cluster, &[]);
    req.initial_resource_versions = BTreeMap::from([
        ("a".to_string(), a),
        ("b".to_string(), "0000".to_string()),
        ("gone".to_string(), "1234".to_string()),
    ])
    .into_iter()
    .collect();
    let mut conn = ads(&store);
    let out = conn.decoded_request(&req, &view);
    assert_eq!(
        summary(&out),
        [(Cluster, strings(&["b=c1"]), strings(&["gone"]))]
    );

    // Holding everything at the current version: an empty first answer.
    let mut conn = ads(&store);
    let mut req = delta_subscribe(ClusterLoadAssignment, &["a", "b"]);
    req.initial_resource_versions = view
        .get(ClusterLoadAssignment)
        .resources()
        .iter()
        .map(|(n, r)| (n.clone(), r.version()))
        .collect();
    let out = conn.decoded_request(&req, &view);
    assert_eq!(summary(&out), [(ClusterLoadAssignment, vec![], vec![])]);
    assert_eq!(store.stats().resources_sent(ClusterLoadAssignment), 0);
}

#[test]
fn removals_only_name_resources_the_client_had() {
    let store = store();
    let mut conn = ads(&store);
    conn.decoded_request(
        &delta_subscribe(ClusterLoadAssignment, &["a", "z"]),
        &store.view(),
    );
    store.publish(vec![set(ClusterLoadAssignment, &[("a", "e1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(ClusterLoadAssignment, &[])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(ClusterLoadAssignment, vec![], strings(&["a"]))]
    );
}

#[test]
fn update_order_is_ads_order_with_routes_after_cluster_warming_and_removals_last() {
    let store = store();
    store.publish(vec![
        set(Secret, &[("s", "s1")]),
        set(Listener, &[("http", "l1")]),
        set(RouteConfiguration, &[("http", "r1")]),
        set(VirtualHost, &[("http/a.com", "v1")]),
        set(ScopedRouteConfiguration, &[("http/a.com", "k1")]),
    ]);
    let mut conn = ads(&store);
    let view = store.view();
    for (ty, names) in [
        (Listener, vec![]),
        (RouteConfiguration, vec!["http"]),
        (VirtualHost, vec!["http"]),
        (ScopedRouteConfiguration, vec![]),
        (Cluster, vec![]),
        (Secret, vec!["s"]),
        (ClusterLoadAssignment, vec!["a", "b"]),
    ] {
        assert_eq!(
            conn.decoded_request(&delta_subscribe(ty, &names), &view)
                .len(),
            1
        );
    }
    store.publish(vec![
        set(Cluster, &[("a", "c1"), ("c", "c1")]),
        set(ClusterLoadAssignment, &[("a", "e2")]),
        set(Secret, &[("s", "s2")]),
        set(Listener, &[("http", "l2")]),
        set(RouteConfiguration, &[("http", "r2")]),
        set(VirtualHost, &[("http/a.com", "v2")]),
        set(ScopedRouteConfiguration, &[("http/a.com", "k2")]),
    ]);
    let out = conn.decoded_update(&store.view());
    // A new cluster: what can name it waits until Envoy answers, which it does once the
    // cluster has warmed.
    assert_eq!(
        summary(&out),
        [
            (Cluster, strings(&["c=c1"]), vec![]),
            (ClusterLoadAssignment, strings(&["a=e2"]), vec![]),
            (Secret, strings(&["s=s2"]), vec![]),
        ]
    );
    // Meanwhile a further change of the held types goes nowhere yet.
    store.publish(vec![set(Listener, &[("http", "l3")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    // Answers to other responses release nothing.
    let eds_ack = delta_ack(&out[1]);
    assert!(conn.decoded_request(&eds_ack, &store.view()).is_empty());
    let later = conn.decoded_request(&delta_ack(&out[0]), &store.view());
    assert_eq!(
        summary(&later),
        [
            (Listener, strings(&["http=l3"]), vec![]),
            (RouteConfiguration, strings(&["http=r2"]), vec![]),
            (VirtualHost, strings(&["http/a.com=v2"]), vec![]),
            (
                ScopedRouteConfiguration,
                strings(&["http/a.com=k2"]),
                vec![]
            ),
            (Cluster, vec![], strings(&["b"])),
            (ClusterLoadAssignment, vec![], strings(&["b"])),
        ]
    );
    let nonces: BTreeSet<_> = out.iter().chain(&later).map(|r| r.nonce.clone()).collect();
    assert_eq!(nonces.len(), out.len() + later.len());

    // A change that sends no cluster holds nothing back.
    store.publish(vec![set(Listener, &[("http", "l4")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(summary(&out), [(Listener, strings(&["http=l4"]), vec![])]);
}

#[test]
fn a_nack_of_the_cluster_response_releases_the_held_types_too() {
    let store = store();
    store.publish(vec![set(Listener, &[("http", "l1")])]);
    let mut conn = ads(&store);
    let view = store.view();
    conn.decoded_request(&delta_subscribe(Cluster, &[]), &view);
    conn.decoded_request(&delta_subscribe(Listener, &[]), &view);
    store.publish(vec![
        set(Cluster, &[("a", "c2"), ("b", "c1")]),
        set(Listener, &[("http", "l2")]),
    ]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(summary(&out), [(Cluster, strings(&["a=c2"]), vec![])]);
    let later = conn.decoded_request(&delta_nack(&out[0], "rejected"), &store.view());
    assert_eq!(summary(&later), [(Listener, strings(&["http=l2"]), vec![])]);
}

#[test]
fn nothing_is_answered_before_the_store_is_ready() {
    let store = SnapshotStore::new();
    store.publish(vec![set(Cluster, &[("a", "c1")])]);
    let mut conn = ads(&store);
    assert!(
        conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view())
            .is_empty()
    );
    assert!(
        conn.decoded_request(&delta_subscribe(Listener, &[]), &store.view())
            .is_empty()
    );
    store.publish(vec![set(Cluster, &[("a", "c2")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.mark_ready();
    let out = conn.decoded_update(&store.view());
    assert_eq!(summary(&out), [(Cluster, strings(&["a=c2"]), vec![])]);
    let out = conn.decoded_request(&delta_ack(&out[0]), &store.view());
    assert_eq!(summary(&out), [(Listener, vec![], vec![])]);
}

#[test]
fn a_connection_far_behind_the_history_compares_in_full() {
    let store = store();
    let mut conn = ads(&store);
    conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    for i in 0..100 {
        store.publish(vec![set(Listener, &[("http", &format!("l{i}"))])]);
    }
    store.publish(vec![set(Cluster, &[("a", "c9")])]);
    assert!(store.view().delta_changes_since(0).is_none());
    let out = conn.decoded_update(&store.view());
    assert_eq!(summary(&out), [(Cluster, strings(&["a=c9"]), vec![])]);
    let out = conn.decoded_request(&delta_ack(&out[0]), &store.view());
    assert_eq!(summary(&out), [(Cluster, vec![], strings(&["b"]))]);
}

#[test]
fn single_type_streams_serve_their_type_only() {
    let store = store();
    let mut conn = DeltaConnection::new(Scope::Single(ClusterLoadAssignment), store.counters());
    assert!(
        conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view())
            .is_empty()
    );
    let mut req = delta_subscribe(ClusterLoadAssignment, &["a"]);
    req.type_url.clear();
    let out = conn.decoded_request(&req, &store.view());
    assert_eq!(delta_contents(&out[0]), ["a=e1"]);
}

#[test]
fn a_modified_cluster_brings_its_load_assignment_again() {
    let store = SnapshotStore::new();
    let clusters = |timeout| {
        (
            Cluster,
            BTreeMap::from([
                (
                    "svc-a/80".to_string(),
                    eds_cluster("svc-a/80", "svc-a/http", timeout),
                ),
                (
                    "svc-b/80".to_string(),
                    eds_cluster("svc-b/80", "svc-b/http", 1),
                ),
            ]),
        )
    };
    store.publish(vec![
        clusters(1),
        set(
            ClusterLoadAssignment,
            &[("svc-a/http", "e1"), ("svc-b/http", "e1")],
        ),
    ]);
    store.mark_ready();
    let mut conn = ads(&store);
    conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(
        &delta_subscribe(ClusterLoadAssignment, &["svc-a/http", "svc-b/http"]),
        &store.view(),
    );
    // svc-a's cluster changes, its endpoints do not: both go, clusters first.
    store.publish(vec![clusters(2)]);
    let out = conn.decoded_update(&store.view());
    let names: Vec<_> = out
        .iter()
        .map(|r| {
            let names: Vec<_> = r.resources.iter().map(|x| x.name.as_str()).collect();
            (delta_type(r), names)
        })
        .collect();
    assert_eq!(
        names,
        [
            (Some(Cluster), vec!["svc-a/80"]),
            (Some(ClusterLoadAssignment), vec!["svc-a/http"])
        ]
    );
    // Once only.
    assert!(conn.decoded_update(&store.view()).is_empty());

    // A reconnecting client whose cluster changed meanwhile gets its endpoints too, even
    // though it holds them at the current version.
    let view = store.view();
    let held = |ty: ResourceType, names: &[&str], view: &crate::store::StoreView| {
        names
            .iter()
            .map(|n| {
                let version = view.get(ty).resources()[*n].version();
                (n.to_string(), version)
            })
            .collect::<std::collections::HashMap<_, _>>()
    };
    let mut cds = delta_subscribe(Cluster, &[]);
    cds.initial_resource_versions = held(Cluster, &["svc-b/80"], &view);
    cds.initial_resource_versions
        .insert("svc-a/80".to_string(), "0".repeat(40));
    let mut eds = delta_subscribe(ClusterLoadAssignment, &["svc-a/http", "svc-b/http"]);
    eds.initial_resource_versions =
        held(ClusterLoadAssignment, &["svc-a/http", "svc-b/http"], &view);
    let mut again = ads(&store);
    let out = again.decoded_request(&cds, &view);
    assert_eq!(out[0].resources.len(), 1);
    let out = again.decoded_request(&eds, &view);
    let names: Vec<_> = out[0].resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["svc-a/http"]);
}

#[test]
fn a_renamed_cluster_over_held_endpoints_brings_them_again() {
    let store = SnapshotStore::new();
    let clusters = |name: &str| {
        (
            Cluster,
            BTreeMap::from([(name.to_string(), eds_cluster(name, "svc-a/http", 1))]),
        )
    };
    store.publish(vec![
        clusters("svc-a/80/plain"),
        set(ClusterLoadAssignment, &[("svc-a/http", "e1")]),
    ]);
    store.mark_ready();
    let mut conn = ads(&store);
    conn.decoded_request(&delta_subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(
        &delta_subscribe(ClusterLoadAssignment, &["svc-a/http"]),
        &store.view(),
    );
    // New settings rename the cluster over the same endpoints (a client certificate, a
    // health check): Envoy warms the new cluster on the EDS watch it already has, so the
    // endpoints go again, after the new cluster and before the old one's removal.
    store.publish(vec![clusters("svc-a/80/tls")]);
    let out = conn.decoded_update(&store.view());
    let sent: Vec<_> = out
        .iter()
        .map(|r| {
            let names: Vec<_> = r.resources.iter().map(|x| x.name.as_str()).collect();
            (delta_type(r), names, r.removed_resources.clone())
        })
        .collect();
    assert_eq!(
        sent,
        [
            (Some(Cluster), vec!["svc-a/80/tls"], vec![]),
            (Some(ClusterLoadAssignment), vec!["svc-a/http"], vec![]),
        ]
    );
    let removal = conn.decoded_request(&delta_ack(&out[0]), &store.view());
    assert_eq!(
        summary(&removal),
        [(Cluster, vec![], strings(&["svc-a/80/plain"]))]
    );
    // A new cluster over endpoints the client does not hold yet brings nothing extra: Envoy
    // subscribes to them itself.
    store.publish(vec![(
        Cluster,
        BTreeMap::from([
            (
                "svc-a/80/tls".to_string(),
                eds_cluster("svc-a/80/tls", "svc-a/http", 1),
            ),
            (
                "svc-b/80".to_string(),
                eds_cluster("svc-b/80", "svc-b/http", 1),
            ),
        ]),
    )]);
    let out = conn.decoded_update(&store.view());
    let types: Vec<_> = out.iter().map(delta_type).collect();
    assert_eq!(types, [Some(Cluster)]);
}

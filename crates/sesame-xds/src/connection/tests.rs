use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use pretty_assertions::assert_eq;
use sesame_envoy::ResourceType::{self, *};

use super::{Connection, Scope};
use crate::store::SnapshotStore;
use crate::testing::{Logs, ack, any, contents, eds_cluster, nack, set, subscribe, type_of};

/// A ready store with two clusters and two load assignments.
fn store() -> SnapshotStore {
    let store = SnapshotStore::new();
    store.publish(vec![
        set(Cluster, &[("a", "c1"), ("b", "c1")]),
        set(ClusterLoadAssignment, &[("a", "e1"), ("b", "e1")]),
    ]);
    store.mark_ready();
    store
}

fn ads(store: &SnapshotStore) -> Connection {
    Connection::new(Scope::Aggregated, store.counters())
}

#[test]
fn cds_wildcard_subscription_gets_the_full_set() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(type_of(&out[0]), Some(Cluster));
    assert_eq!(contents(&out[0]), ["a=c1", "b=c1"]);
    assert_eq!(out[0].version_info, store.version(Cluster));
    assert!(!out[0].nonce.is_empty());
    assert_eq!(store.stats().responses_sent(Cluster), 1);
    assert_eq!(conn.node(), Some("envoy-1"));
}

#[test]
fn explicit_wildcard_name_selects_everything() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(&subscribe(ClusterLoadAssignment, &["*"]), &store.view());
    assert_eq!(contents(&out[0]), ["a=e1", "b=e1"]);
}

#[test]
fn ack_sends_nothing_and_records_the_version() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    let out = conn.decoded_request(&ack(&first[0], &[]), &store.view());
    assert!(out.is_empty());
    assert_eq!(
        conn.acked_version(Cluster),
        Some(first[0].version_info.as_str())
    );
    assert_eq!(store.stats().acks(Cluster), 1);
    assert!(conn.decoded_update(&store.view()).is_empty());
}

#[test]
fn store_update_sends_a_new_version() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(&ack(&first[0], &[]), &store.view());

    store.publish(vec![set(Cluster, &[("a", "c2"), ("b", "c1")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(contents(&out[0]), ["a=c2", "b=c1"]);
    assert_ne!(out[0].version_info, first[0].version_info);
    assert_eq!(out[0].version_info, store.version(Cluster));
    assert_ne!(out[0].nonce, first[0].nonce);
}

#[test]
fn update_of_an_unsubscribed_type_sends_nothing() {
    let store = store();
    let mut conn = ads(&store);
    conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    store.publish(vec![set(Listener, &[("http", "l1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
}

#[test]
fn nack_is_logged_and_counted_and_not_resent() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(&ack(&first[0], &[]), &store.view());
    store.publish(vec![set(Cluster, &[("a", "bad"), ("b", "c1")])]);
    let bad = conn.decoded_update(&store.view());
    assert_eq!(bad.len(), 1);

    let logs = Logs::default();
    let req = nack(&bad[0], &first[0].version_info, &[], "cluster a: invalid");
    let out = logs.capture(|| conn.decoded_request(&req, &store.view()));
    assert!(out.is_empty());
    assert_eq!(store.stats().nacks(Cluster), 1);
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains("node=\"envoy-1\"") || text.contains("node=envoy-1"),
        "{text}"
    );
    assert!(text.contains(Cluster.type_url()), "{text}");
    assert!(text.contains(&bad[0].version_info), "{text}");
    assert!(text.contains("cluster a: invalid"), "{text}");

    // Neither a store wake-up without change nor a republish of the same content resends.
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(Cluster, &[("a", "bad"), ("b", "c1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    store.publish(vec![set(Listener, &[("http", "l1")])]);
    assert!(conn.decoded_update(&store.view()).is_empty());
    assert_eq!(acked_or_none(&conn), Some(first[0].version_info.clone()));
}

fn acked_or_none(conn: &Connection) -> Option<String> {
    conn.acked_version(Cluster).map(str::to_string)
}

#[test]
fn after_a_nack_a_different_update_is_sent() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    store.publish(vec![set(Cluster, &[("a", "bad")])]);
    let bad = conn.decoded_update(&store.view());
    conn.decoded_request(
        &nack(&bad[0], &first[0].version_info, &[], "no"),
        &store.view(),
    );

    store.publish(vec![set(Cluster, &[("a", "fixed")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(contents(&out[0]), ["a=fixed"]);
}

#[test]
fn stale_nonce_is_ignored() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&subscribe(ClusterLoadAssignment, &["a"]), &store.view());
    store.publish(vec![set(ClusterLoadAssignment, &[("a", "e2")])]);
    let second = conn.decoded_update(&store.view());
    assert_eq!(second.len(), 1);

    // An ACK (even with new names) or NACK of the first response is stale: nothing happens.
    let stale_ack = ack(&first[0], &["a", "b"]);
    assert!(conn.decoded_request(&stale_ack, &store.view()).is_empty());
    let stale_nack = nack(&first[0], "", &["a"], "old");
    assert!(conn.decoded_request(&stale_nack, &store.view()).is_empty());
    assert_eq!(store.stats().nacks(ClusterLoadAssignment), 0);
    assert_eq!(conn.acked_version(ClusterLoadAssignment), None);

    // The ACK of the latest response counts.
    assert!(
        conn.decoded_request(&ack(&second[0], &["a"]), &store.view())
            .is_empty()
    );
    assert_eq!(
        conn.acked_version(ClusterLoadAssignment),
        Some(second[0].version_info.as_str())
    );
}

#[test]
fn eds_named_subscription_gets_only_existing_requested_names() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(
        &subscribe(ClusterLoadAssignment, &["b", "missing"]),
        &store.view(),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(contents(&out[0]), ["b=e1"]);
    assert_ne!(out[0].version_info, store.version(ClusterLoadAssignment));
}

#[test]
fn named_subscription_with_nothing_existing_still_gets_an_answer() {
    let store = store();
    let mut conn = ads(&store);
    let out = conn.decoded_request(&subscribe(Secret, &["missing"]), &store.view());
    assert_eq!(out.len(), 1);
    assert!(out[0].resources.is_empty());
}

#[test]
fn changed_names_on_ack_send_the_new_subset() {
    let store = store();
    let mut conn = ads(&store);
    let first = conn.decoded_request(&subscribe(ClusterLoadAssignment, &["a"]), &store.view());
    let out = conn.decoded_request(&ack(&first[0], &["a", "b"]), &store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(contents(&out[0]), ["a=e1", "b=e1"]);

    let out2 = conn.decoded_request(&ack(&out[0], &["b"]), &store.view());
    assert_eq!(out2.len(), 1);
    assert_eq!(contents(&out2[0]), ["b=e1"]);

    // Same names again: nothing.
    assert!(
        conn.decoded_request(&ack(&out2[0], &["b"]), &store.view())
            .is_empty()
    );
}

#[test]
fn update_of_one_assignment_is_not_sent_to_subscribers_of_another() {
    let store = store();
    let mut only_b = ads(&store);
    let mut only_a = ads(&store);
    let b0 = only_b.decoded_request(&subscribe(ClusterLoadAssignment, &["b"]), &store.view());
    let a0 = only_a.decoded_request(&subscribe(ClusterLoadAssignment, &["a"]), &store.view());
    only_b.decoded_request(&ack(&b0[0], &["b"]), &store.view());
    only_a.decoded_request(&ack(&a0[0], &["a"]), &store.view());

    store.patch(
        ClusterLoadAssignment,
        BTreeMap::from([("a".to_string(), any(ClusterLoadAssignment, "a", "e2"))]),
        BTreeSet::new(),
    );
    assert!(only_b.decoded_update(&store.view()).is_empty());
    let out = only_a.decoded_update(&store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(contents(&out[0]), ["a=e2"]);
}

#[test]
fn removed_assignment_is_sent_as_a_smaller_set() {
    let store = store();
    let mut conn = ads(&store);
    conn.decoded_request(
        &subscribe(ClusterLoadAssignment, &["a", "b"]),
        &store.view(),
    );
    store.patch(
        ClusterLoadAssignment,
        BTreeMap::new(),
        BTreeSet::from(["a".to_string()]),
    );
    let out = conn.decoded_update(&store.view());
    assert_eq!(contents(&out[0]), ["b=e1"]);
}

#[test]
fn ads_sends_a_multi_type_update_in_push_order() {
    let store = store();
    let mut conn = ads(&store);
    // Subscribe in the reverse of push order.
    for (ty, names) in [
        (RouteConfiguration, vec!["http"]),
        (Listener, vec![]),
        (Secret, vec!["cert"]),
        (ClusterLoadAssignment, vec!["a"]),
        (Cluster, vec![]),
    ] {
        let out = conn.decoded_request(&subscribe(ty, &names), &store.view());
        assert_eq!(out.len(), 1);
    }
    store.publish(vec![
        set(RouteConfiguration, &[("http", "r2")]),
        set(Listener, &[("http", "l2")]),
        set(Secret, &[("cert", "s2")]),
        set(ClusterLoadAssignment, &[("a", "e2")]),
        set(Cluster, &[("a", "c2")]),
    ]);
    let out = conn.decoded_update(&store.view());
    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [Cluster, ClusterLoadAssignment, Secret]);
    // The listeners and routes follow once Envoy answers the clusters, and the cluster no
    // longer wanted (`b`) goes after them.
    assert_eq!(contents(&out[0]), ["a=c2", "b=c1"]);
    let out = conn.decoded_request(&ack(&out[0], &[]), &store.view());
    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [Listener, RouteConfiguration, Cluster]);
    assert_eq!(contents(&out[2]), ["a=c2"]);
    assert_eq!(out[2].version_info, store.version(Cluster));
}

/// Clusters `a` and routes `http` naming `a`, with Envoy having ACKed both.
fn routed_to_a() -> (SnapshotStore, Connection, Vec<DiscoveryResponse>) {
    let store = SnapshotStore::new();
    move_route(&store, "a", "c1");
    store.mark_ready();
    let mut conn = ads(&store);
    let mut sent = Vec::new();
    for (ty, names) in [(Cluster, vec![]), (RouteConfiguration, vec!["http"])] {
        let out = conn.decoded_request(&subscribe(ty, &names), &store.view());
        assert!(
            conn.decoded_request(&ack(&out[0], &names), &store.view())
                .is_empty()
        );
        sent.extend(out);
    }
    (store, conn, sent)
}

/// Publishes clusters `{name: content}` alone and the route `http` naming `name`.
fn move_route(store: &SnapshotStore, name: &str, content: &str) {
    store.publish(vec![
        set(Cluster, &[(name, content)]),
        set(RouteConfiguration, &[("http", &format!("to-{name}"))]),
    ]);
}

#[test]
fn a_route_moved_to_a_new_cluster_waits_for_it_and_the_old_cluster_goes_last() {
    let (store, mut conn, _) = routed_to_a();
    move_route(&store, "b", "c1");
    let out = conn.decoded_update(&store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(type_of(&out[0]), Some(Cluster));
    assert_eq!(contents(&out[0]), ["a=c1", "b=c1"]);
    assert_ne!(out[0].version_info, store.version(Cluster));
    // Nothing more goes until Envoy answers the clusters.
    assert!(conn.decoded_update(&store.view()).is_empty());

    let after = conn.decoded_request(&ack(&out[0], &[]), &store.view());
    let order: Vec<_> = after.iter().filter_map(type_of).collect();
    assert_eq!(order, [RouteConfiguration, Cluster]);
    assert_eq!(contents(&after[0]), ["http=to-b"]);
    assert_eq!(contents(&after[1]), ["b=c1"]);
    assert_eq!(after[1].version_info, store.version(Cluster));
    // The final set warms nothing: no hold after it.
    store.publish(vec![set(RouteConfiguration, &[("http", "to-b-2")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(contents(&out[0]), ["http=to-b-2"]);
}

#[test]
fn removing_clusters_alone_sends_the_routes_first_and_holds_nothing() {
    let (store, mut conn, _) = routed_to_a();
    store.publish(vec![
        set(Cluster, &[]),
        set(RouteConfiguration, &[("http", "none")]),
    ]);
    let out = conn.decoded_update(&store.view());
    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [RouteConfiguration, Cluster]);
    assert!(contents(&out[1]).is_empty());
}

#[test]
fn a_change_while_clusters_warm_keeps_the_accepted_clusters_envoy_may_still_route_to() {
    let (store, mut conn, _) = routed_to_a();
    move_route(&store, "b", "c1");
    let first = conn.decoded_update(&store.view());
    assert_eq!(contents(&first[0]), ["a=c1", "b=c1"]);
    move_route(&store, "c", "c1");
    let second = conn.decoded_update(&store.view());
    assert_eq!(second.len(), 1);
    // `a` was accepted and the routes Envoy holds name it. `b` was never accepted: no route
    // sent names it, and kept it would warm on endpoints that are gone (15 s, holding the
    // routes back all along).
    assert_eq!(contents(&second[0]), ["a=c1", "c=c1"]);
    // Envoy's answer to the first is stale now; the answer to the second releases the routes.
    assert!(
        conn.decoded_request(&ack(&first[0], &[]), &store.view())
            .is_empty()
    );
    let after = conn.decoded_request(&ack(&second[0], &[]), &store.view());
    assert_eq!(contents(&after[0]), ["http=to-c"]);
    assert_eq!(contents(&after[1]), ["c=c1"]);
}

#[test]
fn a_nack_of_the_clusters_also_releases_the_held_routes() {
    let (store, mut conn, sent) = routed_to_a();
    move_route(&store, "b", "bad");
    let out = conn.decoded_update(&store.view());
    // An answer about another type releases nothing.
    store.publish(vec![
        set(Cluster, &[("b", "bad")]),
        set(RouteConfiguration, &[("http", "to-b")]),
        set(ClusterLoadAssignment, &[("b", "e1")]),
    ]);
    let eds = conn.decoded_request(&subscribe(ClusterLoadAssignment, &["b"]), &store.view());
    assert_eq!(
        eds.iter().filter_map(type_of).collect::<Vec<_>>(),
        [ClusterLoadAssignment]
    );
    let nacked = nack(&out[0], &sent[0].version_info, &[], "bad cluster");
    let after = conn.decoded_request(&nacked, &store.view());
    let order: Vec<_> = after.iter().filter_map(type_of).collect();
    assert_eq!(order, [RouteConfiguration, Cluster]);
    assert_eq!(store.stats().nacks(Cluster), 1);
}

#[test]
fn nothing_is_answered_before_ready_and_everything_after() {
    let store = SnapshotStore::new();
    store.publish(vec![
        set(Cluster, &[("a", "c1")]),
        set(Listener, &[("http", "l1")]),
    ]);
    let mut conn = ads(&store);
    assert!(
        conn.decoded_request(&subscribe(Listener, &[]), &store.view())
            .is_empty()
    );
    assert!(
        conn.decoded_request(&subscribe(Cluster, &[]), &store.view())
            .is_empty()
    );
    assert!(conn.decoded_update(&store.view()).is_empty());
    assert_eq!(store.stats().responses_sent(Cluster), 0);

    store.mark_ready();
    let out = conn.decoded_update(&store.view());
    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [Cluster, Listener]);
    assert_eq!(contents(&out[0]), ["a=c1"]);
}

#[test]
fn unknown_type_url_is_ignored() {
    let store = store();
    let mut conn = ads(&store);
    let mut req = subscribe(Cluster, &[]);
    req.type_url = "type.googleapis.com/envoy.service.runtime.v3.Runtime".to_string();
    let logs = Logs::default();
    assert!(
        logs.capture(|| conn.decoded_request(&req, &store.view()))
            .is_empty()
    );
    assert!(logs.text().contains("Runtime"));
    // The stream keeps working.
    assert_eq!(
        conn.decoded_request(&subscribe(Cluster, &[]), &store.view())
            .len(),
        1
    );
}

#[test]
fn single_type_stream_serves_only_its_type() {
    let store = store();
    let mut conn = Connection::new(Scope::Single(Cluster), store.counters());
    assert!(
        conn.decoded_request(&subscribe(Listener, &[]), &store.view())
            .is_empty()
    );
    let mut req = subscribe(Cluster, &[]);
    req.type_url.clear();
    let out = conn.decoded_request(&req, &store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(type_of(&out[0]), Some(Cluster));
}

#[test]
fn nonces_are_unique_per_connection() {
    let store = store();
    let mut conn = ads(&store);
    let mut nonces = BTreeSet::new();
    for ty in ResourceType::ALL {
        for resp in conn.decoded_request(&subscribe(ty, &["a"]), &store.view()) {
            assert!(nonces.insert(resp.nonce.clone()));
        }
    }
    store.publish(vec![
        set(Cluster, &[("a", "c9")]),
        set(ClusterLoadAssignment, &[("a", "e9")]),
    ]);
    for resp in conn.decoded_update(&store.view()) {
        assert!(nonces.insert(resp.nonce.clone()));
    }
    assert_eq!(nonces.len(), 7);
}

#[test]
fn request_with_a_nonce_from_another_server_is_a_new_subscription() {
    let store = store();
    let mut conn = ads(&store);
    let mut req = subscribe(Cluster, &[]);
    req.response_nonce = "42".to_string();
    req.version_info = "old".to_string();
    let out = conn.decoded_request(&req, &store.view());
    assert_eq!(out.len(), 1);
    assert_eq!(contents(&out[0]), ["a=c1", "b=c1"]);
}

#[test]
fn same_resources_give_the_same_version_on_every_connection() {
    let store = store();
    let mut one = ads(&store);
    let mut two = ads(&store);
    let a = one.decoded_request(
        &subscribe(ClusterLoadAssignment, &["a", "b"]),
        &store.view(),
    );
    let b = two.decoded_request(
        &subscribe(ClusterLoadAssignment, &["b", "a"]),
        &store.view(),
    );
    assert_eq!(a[0].version_info, b[0].version_info);
    assert_eq!(a[0].version_info, store.version(ClusterLoadAssignment));
}

#[test]
fn sotw_request_for_virtual_hosts_is_ignored_with_a_warning() {
    let store = store();
    store.publish(vec![set(VirtualHost, &[("ingress_http/a.com", "v1")])]);
    let mut conn = ads(&store);
    let logs = Logs::default();
    let out = logs.capture(|| {
        conn.decoded_request(&subscribe(VirtualHost, &["ingress_http"]), &store.view())
    });
    assert!(out.is_empty());
    assert!(logs.text().contains("delta xDS only"), "{}", logs.text());
    assert!(conn.decoded_update(&store.view()).is_empty());
}

#[test]
fn changed_clusters_bring_their_unchanged_endpoints_again() {
    let store = store();
    let mut conn = ads(&store);
    let cds = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    let eds = conn.decoded_request(&subscribe(ClusterLoadAssignment, &["a"]), &store.view());
    conn.decoded_request(&ack(&cds[0], &[]), &store.view());
    conn.decoded_request(&ack(&eds[0], &["a"]), &store.view());

    // Cluster `a` is modified (Envoy warms it again); its endpoints are unchanged.
    store.publish(vec![set(Cluster, &[("a", "c2"), ("b", "c1")])]);
    let out = conn.decoded_update(&store.view());

    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [Cluster, ClusterLoadAssignment]);
    assert_eq!(contents(&out[1]), ["a=e1"]);
    assert_eq!(out[1].version_info, eds[0].version_info);

    // Endpoints alone changing does not resend the clusters.
    store.publish(vec![set(
        ClusterLoadAssignment,
        &[("a", "e2"), ("b", "e1")],
    )]);
    let out = conn.decoded_update(&store.view());
    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [ClusterLoadAssignment]);
}

#[test]
fn a_new_cluster_gets_its_endpoints_again_only_when_envoy_asked_for_them_already() {
    let store = SnapshotStore::new();
    let clusters = |names: &[(&str, &str)]| {
        let clusters = names
            .iter()
            .map(|(name, eds)| (name.to_string(), eds_cluster(name, eds, 1)))
            .collect();
        (Cluster, clusters)
    };
    store.publish(vec![
        clusters(&[("a", "svc-a")]),
        set(ClusterLoadAssignment, &[("svc-a", "e1"), ("svc-b", "e1")]),
    ]);
    store.mark_ready();
    let mut conn = ads(&store);
    let cds = conn.decoded_request(&subscribe(Cluster, &[]), &store.view());
    conn.decoded_request(&ack(&cds[0], &[]), &store.view());
    let eds = conn.decoded_request(&subscribe(ClusterLoadAssignment, &["svc-a"]), &store.view());
    conn.decoded_request(&ack(&eds[0], &["svc-a"]), &store.view());

    // A cluster of another Service: Envoy asks for its endpoints itself.
    store.publish(vec![clusters(&[("a", "svc-a"), ("b", "svc-b")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        out.iter().filter_map(type_of).collect::<Vec<_>>(),
        [Cluster]
    );
    let asked = conn.decoded_request(&ack(&eds[0], &["svc-a", "svc-b"]), &store.view());
    assert_eq!(contents(&asked[0]), ["svc-a=e1", "svc-b=e1"]);
    conn.decoded_request(&ack(&asked[0], &["svc-a", "svc-b"]), &store.view());
    conn.decoded_request(&ack(&out[0], &[]), &store.view());

    // A new cluster over endpoints Envoy holds (same Service, other settings): Envoy asks
    // for nothing, so they are sent again.
    store.publish(vec![clusters(&[
        ("a", "svc-a"),
        ("b", "svc-b"),
        ("a2", "svc-a"),
    ])]);
    let out = conn.decoded_update(&store.view());
    let order: Vec<_> = out.iter().filter_map(type_of).collect();
    assert_eq!(order, [Cluster, ClusterLoadAssignment]);
    assert_eq!(contents(&out[1]), ["svc-a=e1", "svc-b=e1"]);
}

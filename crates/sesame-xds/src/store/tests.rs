use std::collections::{BTreeMap, BTreeSet};

use pretty_assertions::assert_eq;
use sesame_envoy::ResourceType::*;

use super::{Patch, SnapshotStore, Table};
use crate::testing::{any, set};

#[test]
fn same_resources_give_the_same_version_in_any_order() {
    let one = SnapshotStore::new();
    let two = SnapshotStore::new();
    one.publish(vec![set(Cluster, &[("a", "x"), ("b", "y")])]);
    two.publish(vec![set(Cluster, &[("b", "y")])]);
    two.patch(
        Cluster,
        BTreeMap::from([("a".to_string(), any(Cluster, "a", "x"))]),
        BTreeSet::new(),
    );
    assert_eq!(one.version(Cluster), two.version(Cluster));
    // A patch that replaces and removes gives the version of the same content published anew.
    two.patch(
        Cluster,
        BTreeMap::from([("b".to_string(), any(Cluster, "b", "z"))]),
        BTreeSet::from(["a".to_string()]),
    );
    let three = SnapshotStore::new();
    three.publish(vec![set(Cluster, &[("b", "z")])]);
    assert_eq!(two.version(Cluster), three.version(Cluster));
    assert_ne!(two.version(Cluster), one.version(Cluster));
    // Pinned values: versions are content hashes, stable across restarts. (Type versions
    // changed once, when they became sums that a change updates in O(changed).)
    assert_eq!(
        one.version(Cluster),
        "22e4773450784b09921d1cce3e5192bc2d13325e"
    );
    assert_eq!(
        SnapshotStore::new().version(Cluster),
        "0000000000000000000000000000000000000000"
    );
}

#[test]
fn different_resources_give_different_versions() {
    let store = SnapshotStore::new();
    let empty = store.version(Cluster);
    store.publish(vec![set(Cluster, &[("a", "x")])]);
    let v1 = store.version(Cluster);
    store.publish(vec![set(Cluster, &[("a", "y")])]);
    let v2 = store.version(Cluster);
    store.publish(vec![set(Cluster, &[("b", "y")])]);
    let v3 = store.version(Cluster);
    let all = BTreeSet::from([&empty, &v1, &v2, &v3]);
    assert_eq!(all.len(), 4);
}

#[test]
fn resource_versions_follow_content() {
    let store = SnapshotStore::new();
    store.publish(vec![set(Listener, &[("a", "x"), ("b", "x")])]);
    let view = store.view();
    let res = view.get(Listener).resources();
    // Different names, different bytes: different versions.
    assert_ne!(res["a"].version(), res["b"].version());
    store.publish(vec![set(Listener, &[("a", "x"), ("b", "z")])]);
    let after = store.view();
    // The unchanged resource keeps its version.
    assert_eq!(
        after.get(Listener).resources()["a"].version(),
        res["a"].version()
    );
}

#[test]
fn publish_replaces_only_the_listed_types() {
    let store = SnapshotStore::new();
    store.publish(vec![
        set(Cluster, &[("a", "x")]),
        set(Listener, &[("l", "x")]),
    ]);
    let listeners = store.version(Listener);
    store.publish(vec![set(Cluster, &[("b", "x")])]);
    let view = store.view();
    assert_eq!(
        view.get(Cluster).resources().keys().collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(store.version(Listener), listeners);
}

#[test]
fn unchanged_publish_does_not_wake_connections() {
    let store = SnapshotStore::new();
    store.publish(vec![set(Cluster, &[("a", "x")])]);
    let mut rx = store.subscribe();
    store.publish(vec![set(Cluster, &[("a", "x")])]);
    store.patch(
        Cluster,
        BTreeMap::new(),
        BTreeSet::from(["missing".to_string()]),
    );
    assert!(!rx.has_changed().unwrap_or(true));
    store.publish(vec![
        set(Cluster, &[("a", "y")]),
        set(Listener, &[("l", "y")]),
    ]);
    assert!(rx.has_changed().unwrap_or(false));
    rx.borrow_and_update();
    store.mark_ready();
    assert!(rx.has_changed().unwrap_or(false));
    rx.borrow_and_update();
    store.mark_ready();
    assert!(!rx.has_changed().unwrap_or(true));
}

#[test]
fn readiness_is_explicit() {
    let store = SnapshotStore::new();
    store.publish(vec![set(Cluster, &[("a", "x")])]);
    assert!(!store.is_ready());
    assert!(!store.view().is_ready());
    store.mark_ready();
    assert!(store.is_ready());
    assert!(store.clone().view().is_ready());
}

#[test]
fn resources_with_the_wrong_type_url_are_not_served() {
    let store = SnapshotStore::new();
    let (_, mut clusters) = set(Cluster, &[("a", "x")]);
    clusters.insert("l".to_string(), any(Listener, "l", "x"));
    store.publish(vec![(Cluster, clusters)]);
    assert_eq!(
        store
            .view()
            .get(Cluster)
            .resources()
            .keys()
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn views_share_unchanged_resources() {
    let store = SnapshotStore::new();
    store.publish(vec![
        set(Cluster, &[("a", "x")]),
        set(ClusterLoadAssignment, &[("a", "e")]),
    ]);
    let before = store.view();
    store.patch(
        ClusterLoadAssignment,
        BTreeMap::from([("b".to_string(), any(ClusterLoadAssignment, "b", "e"))]),
        BTreeSet::new(),
    );
    let after = store.view();
    assert!(std::sync::Arc::ptr_eq(&before.types[0], &after.types[0]));
    assert!(std::sync::Arc::ptr_eq(
        &before.get(ClusterLoadAssignment).resources()["a"],
        &after.get(ClusterLoadAssignment).resources()["a"],
    ));
}

#[test]
fn every_change_advances_the_generation_and_records_the_changed_names() {
    let store = SnapshotStore::new();
    let g0 = store.view().generation();
    store.publish(vec![set(Cluster, &[("a", "x"), ("b", "x")])]);
    store.publish(vec![set(Cluster, &[("a", "y"), ("b", "x"), ("c", "x")])]);
    store.patch(
        ClusterLoadAssignment,
        BTreeMap::from([("e".to_string(), any(ClusterLoadAssignment, "e", "1"))]),
        BTreeSet::new(),
    );
    let view = store.view();
    assert_eq!(view.generation(), g0 + 3);
    let names = |since| {
        view.delta_changes_since(since)
            .unwrap_or_default()
            .into_iter()
            .map(|(ty, names)| (ty, names.into_iter().collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(g0 + 1),
        [
            (Cluster, vec!["a", "c"]),
            (ClusterLoadAssignment, vec!["e"])
        ]
    );
    assert_eq!(names(g0 + 2), [(ClusterLoadAssignment, vec!["e"])]);
    assert_eq!(names(g0 + 3), []);
    assert_eq!(
        names(g0),
        [
            (Cluster, vec!["a", "b", "c"]),
            (ClusterLoadAssignment, vec!["e"])
        ]
    );
    // Unchanged writes make no view.
    store.publish(vec![set(Cluster, &[("a", "y"), ("b", "x"), ("c", "x")])]);
    assert_eq!(store.view().generation(), g0 + 3);
}

#[test]
fn multi_table_patch_is_one_view_change() {
    let store = SnapshotStore::new();
    store.publish(vec![
        set(Cluster, &[("a", "x"), ("b", "x")]),
        set(ClusterLoadAssignment, &[("a", "e")]),
    ]);
    let mut rx = store.subscribe();
    let before = store.view().generation();
    store.patch_tables(vec![
        (
            Table::Shared(Cluster),
            Patch {
                upserts: BTreeMap::from([("c".to_string(), any(Cluster, "c", "x"))]),
                removals: BTreeSet::from(["b".to_string()]),
            },
        ),
        (
            Table::Shared(ClusterLoadAssignment),
            Patch {
                upserts: BTreeMap::from([("a".to_string(), any(ClusterLoadAssignment, "a", "e2"))]),
                removals: BTreeSet::new(),
            },
        ),
        (
            Table::DeltaListeners,
            Patch {
                upserts: BTreeMap::from([("l".to_string(), any(Listener, "l", "v"))]),
                removals: BTreeSet::new(),
            },
        ),
    ]);
    assert!(rx.has_changed().unwrap_or(false));
    let view = rx.borrow_and_update().clone();
    assert_eq!(view.generation(), before + 1);
    assert_eq!(
        view.get(Cluster).resources().keys().collect::<Vec<_>>(),
        ["a", "c"]
    );
    // The overlay is not the shared table: SotW clients do not see it.
    assert!(view.get(Listener).resources().is_empty());
    assert!(view.delta_resource(Listener, "l").is_some());
    let changes = view.delta_changes_since(before).unwrap_or_default();
    assert_eq!(changes[&Cluster], BTreeSet::from(["b", "c"]));
    assert_eq!(changes[&Listener], BTreeSet::from(["l"]));
    // The same patch again changes nothing and wakes nobody.
    store.patch_tables(vec![(
        Table::Shared(Cluster),
        Patch {
            upserts: BTreeMap::from([("c".to_string(), any(Cluster, "c", "x"))]),
            removals: BTreeSet::from(["b".to_string()]),
        },
    )]);
    assert!(!rx.has_changed().unwrap_or(true));
}

#[test]
fn changed_names_of_a_large_type_are_found_without_a_scan() {
    let store = SnapshotStore::new();
    let names: Vec<String> = (0..10_000).map(|i| format!("c-{i}")).collect();
    let items: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
    store.publish(vec![set(Cluster, &items)]);
    let before = store.view().generation();
    store.patch(
        Cluster,
        BTreeMap::from([("c-5".to_string(), any(Cluster, "c-5", "y"))]),
        BTreeSet::from(["c-7".to_string()]),
    );
    store.publish(vec![set(Listener, &[("l", "x")])]);
    let view = store.view();
    assert_eq!(
        view.delta_changed_names(Cluster, before),
        Some(BTreeSet::from(["c-5", "c-7"]))
    );
    assert_eq!(
        view.delta_changed_names(Cluster, before + 1),
        Some(BTreeSet::new())
    );
    assert_eq!(
        view.delta_changed_names(Listener, before),
        Some(BTreeSet::from(["l"]))
    );
    // A view older than the kept history: the caller compares in full.
    for i in 0..100 {
        store.publish(vec![set(Listener, &[("l", &format!("{i}"))])]);
    }
    assert_eq!(store.view().delta_changed_names(Cluster, before), None);
}

#[test]
fn a_write_naming_most_of_a_large_store_is_not_kept_in_the_history() {
    let store = SnapshotStore::new();
    let names: Vec<String> = (0..10_000).map(|i| format!("c-{i}")).collect();
    let items: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
    let empty = store.view().generation();
    store.publish(vec![set(Cluster, &items)]);
    let loaded = store.view().generation();
    // 10 000 names out of 10 000 resources: a connection that saw nothing compares in full.
    assert_eq!(store.view().delta_changed_names(Cluster, empty), None);
    // A small change after it is kept.
    store.patch(
        Cluster,
        BTreeMap::new(),
        BTreeSet::from(["c-7".to_string()]),
    );
    let view = store.view();
    assert_eq!(
        view.delta_changed_names(Cluster, loaded),
        Some(BTreeSet::from(["c-7"]))
    );
    assert_eq!(view.delta_changed_names(Cluster, empty), None);
}

#[test]
fn virtual_hosts_must_carry_their_resource_name() {
    let store = SnapshotStore::new();
    let good = any(VirtualHost, "ingress_http/a.com", "a.com");
    // Named `other/b.com` inside, offered as `ingress_http/b.com`: Envoy could never remove it.
    let bad = any(VirtualHost, "other/b.com", "b.com");
    store.publish(vec![(
        VirtualHost,
        BTreeMap::from([
            ("ingress_http/a.com".to_string(), good),
            ("ingress_http/b.com".to_string(), bad.clone()),
        ]),
    )]);
    store.patch(
        VirtualHost,
        BTreeMap::from([("ingress_http/c.com".to_string(), bad)]),
        BTreeSet::new(),
    );
    let view = store.view();
    assert_eq!(
        view.get(VirtualHost).resources().keys().collect::<Vec<_>>(),
        ["ingress_http/a.com"]
    );
}

#[test]
fn the_inline_route_table_is_the_virtual_hosts_put_together_when_read() {
    use sesame_envoy::route::http_route_configuration_from_vhds;

    use super::INLINE_ROUTE_TABLE;

    let hosts = |items: &[(&str, &str)]| set(VirtualHost, items);
    let store = SnapshotStore::new();
    // Whatever a writer gives for the inline table, it is made from the virtual hosts.
    store.publish(vec![
        set(RouteConfiguration, &[(INLINE_ROUTE_TABLE, "anything")]),
        hosts(&[("ingress_http/a.com", "a.com")]),
    ]);
    let inline_of = |store: &SnapshotStore| {
        let view = store.view();
        let table = view.get(RouteConfiguration).resources()[INLINE_ROUTE_TABLE].clone();
        let hosts: Vec<_> = view
            .get(VirtualHost)
            .resources()
            .values()
            .cloned()
            .collect();
        let expected = http_route_configuration_from_vhds(hosts.iter().map(|r| r.value()));
        assert_eq!(table.to_any(), expected);
        table.version()
    };
    let first = inline_of(&store);

    // A change of one virtual host is a change of the inline table.
    let generation = store.view().generation();
    store.patch(
        VirtualHost,
        BTreeMap::from([(
            "ingress_http/b.com".to_string(),
            any(VirtualHost, "ingress_http/b.com", "b.com"),
        )]),
        BTreeSet::new(),
    );
    let view = store.view();
    assert_eq!(view.generation(), generation + 1);
    assert!(
        (view.delta_changed_names(RouteConfiguration, generation))
            .is_some_and(|names| names.contains(INLINE_ROUTE_TABLE))
    );
    let second = inline_of(&store);
    assert_ne!(first, second);

    // The same virtual hosts give the same version in another store, and publishing the
    // same content again changes nothing.
    let other = SnapshotStore::new();
    other.publish(vec![
        set(RouteConfiguration, &[(INLINE_ROUTE_TABLE, "other bytes")]),
        hosts(&[
            ("ingress_http/a.com", "a.com"),
            ("ingress_http/b.com", "b.com"),
        ]),
    ]);
    assert_eq!(inline_of(&other), second);
    let generation = other.view().generation();
    other.publish(vec![
        set(RouteConfiguration, &[(INLINE_ROUTE_TABLE, "other bytes")]),
        hosts(&[
            ("ingress_http/a.com", "a.com"),
            ("ingress_http/b.com", "b.com"),
        ]),
    ]);
    assert_eq!(other.view().generation(), generation);

    // Without the table in the route configurations, no inline table.
    other.publish(vec![set(RouteConfiguration, &[("other", "r")])]);
    assert!(
        !other
            .view()
            .get(RouteConfiguration)
            .resources()
            .contains_key(INLINE_ROUTE_TABLE)
    );
}

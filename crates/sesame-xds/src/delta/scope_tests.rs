//! Delta xDS tests of what only delta clients get: the listener overlay and scoped routes.

use std::collections::{BTreeMap, BTreeSet};

use pretty_assertions::assert_eq;
use sesame_envoy::ResourceType::*;

use super::tests::{ads, store, strings, summary};
use crate::connection::{Connection, Scope};
use crate::store::{Patch, Table};
use crate::testing::{any, contents, delta_contents, delta_subscribe, set, subscribe};

#[test]
fn delta_listener_overlay_is_seen_by_delta_clients_only() {
    let store = store();
    store.publish(vec![
        (
            Table::Shared(Listener),
            BTreeMap::from([
                ("http".to_string(), any(Listener, "http", "rds")),
                ("https".to_string(), any(Listener, "https", "tls")),
            ]),
        ),
        (
            Table::DeltaListeners,
            BTreeMap::from([("http".to_string(), any(Listener, "http", "scoped"))]),
        ),
    ]);
    let mut delta = ads(&store);
    let out = delta.decoded_request(&delta_subscribe(Listener, &[]), &store.view());
    assert_eq!(delta_contents(&out[0]), ["http=scoped", "https=tls"]);
    let mut sotw = Connection::new(Scope::Aggregated, store.counters());
    let out = sotw.decoded_request(&subscribe(Listener, &[]), &store.view());
    assert_eq!(contents(&out[0]), ["http=rds", "https=tls"]);

    // A change of the shared listener alone reaches SotW clients only.
    store.publish(vec![(
        Table::Shared(Listener),
        BTreeMap::from([
            ("http".to_string(), any(Listener, "http", "rds2")),
            ("https".to_string(), any(Listener, "https", "tls")),
        ]),
    )]);
    assert!(delta.decoded_update(&store.view()).is_empty());
    assert_eq!(sotw.decoded_update(&store.view()).len(), 1);
    // An overlay change reaches delta clients only.
    store.patch_tables(vec![(
        Table::DeltaListeners,
        Patch {
            upserts: BTreeMap::from([("http".to_string(), any(Listener, "http", "scoped2"))]),
            removals: BTreeSet::new(),
        },
    )]);
    let out = delta.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(Listener, strings(&["http=scoped2"]), vec![])]
    );
    assert!(sotw.decoded_update(&store.view()).is_empty());
    // Removing the overlay entry falls back to the shared one for delta clients.
    store.publish(vec![(Table::DeltaListeners, BTreeMap::new())]);
    let out = delta.decoded_update(&store.view());
    assert_eq!(summary(&out), [(Listener, strings(&["http=rds2"]), vec![])]);
}

#[test]
fn scopes_are_a_wildcard_subscription_of_delta_clients_only() {
    let store = store();
    store.publish(vec![set(
        ScopedRouteConfiguration,
        &[("http/a.com", "ka"), ("http/*", "kf")],
    )]);
    // Envoy's SRDS names nothing: every scope.
    let mut delta = ads(&store);
    let out = delta.decoded_request(
        &delta_subscribe(ScopedRouteConfiguration, &[]),
        &store.view(),
    );
    assert_eq!(delta_contents(&out[0]), ["http/*=kf", "http/a.com=ka"]);
    // One scope changes, one goes: that is all a delta client is sent.
    store.publish(vec![set(
        ScopedRouteConfiguration,
        &[("http/a.com", "ka2")],
    )]);
    let out = delta.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(
            ScopedRouteConfiguration,
            strings(&["http/a.com=ka2"]),
            strings(&["http/*"])
        )]
    );
    // State of the world has no scopes: the request is ignored.
    let mut sotw = Connection::new(Scope::Aggregated, store.counters());
    let out = sotw.decoded_request(&subscribe(ScopedRouteConfiguration, &[]), &store.view());
    assert!(out.is_empty());
}

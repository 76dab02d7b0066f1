//! Delta xDS tests of Virtual Host Discovery: VHDS subscriptions by route configuration,
//! following the stream's routes, reconnects and on-demand names.

use pretty_assertions::assert_eq;
use sesame_envoy::ResourceType::{self, *};

use super::DeltaConnection;
use super::tests::{ads, store, strings, summary};
use crate::connection::Scope;
use crate::testing::{delta_ack, delta_contents, delta_subscribe, set};

#[test]
fn vhds_subscription_by_route_configuration_name_selects_its_virtual_hosts() {
    let store = store();
    store.publish(vec![set(
        VirtualHost,
        &[
            ("ingress_http/a.com", "va"),
            ("ingress_http/b.com", "vb"),
            ("ingress_http2/x.com", "vx"),
            ("other/c.com", "vc"),
        ],
    )]);
    let mut conn = ads(&store);
    let out = conn.decoded_request(
        &delta_subscribe(VirtualHost, &["ingress_http"]),
        &store.view(),
    );
    assert_eq!(
        delta_contents(&out[0]),
        ["ingress_http/a.com=va", "ingress_http/b.com=vb"]
    );
    // An explicit `<route config>/<host>` name selects that one.
    let mut one = delta_ack(&out[0]);
    one.resource_names_subscribe = strings(&["other/c.com"]);
    let out = conn.decoded_request(&one, &store.view());
    assert_eq!(delta_contents(&out[0]), ["other/c.com=vc"]);
    // Changes within the namespace reach the client; others do not.
    store.publish(vec![set(
        VirtualHost,
        &[
            ("ingress_http/a.com", "va2"),
            ("ingress_http/new.com", "vn"),
            ("ingress_http2/x.com", "vx2"),
            ("other/c.com", "vc"),
            ("other/d.com", "vd"),
        ],
    )]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(
            VirtualHost,
            strings(&["ingress_http/a.com=va2", "ingress_http/new.com=vn"]),
            strings(&["ingress_http/b.com"])
        )]
    );
}

#[test]
fn unnamed_vhds_subscription_follows_the_streams_route_configurations() {
    let store = store();
    store.publish(vec![
        set(
            RouteConfiguration,
            &[("ingress_http", "r1"), ("https/a", "r2")],
        ),
        set(
            VirtualHost,
            &[
                ("ingress_http/a.com", "va"),
                ("https/a/a.com", "vs"),
                ("other/c.com", "vc"),
            ],
        ),
    ]);
    let mut conn = ads(&store);
    let view = store.view();
    conn.decoded_request(
        &delta_subscribe(RouteConfiguration, &["ingress_http"]),
        &view,
    );
    // Envoy's VHDS names nothing (namespace matching): the stream's route configurations count.
    let out = conn.decoded_request(&delta_subscribe(VirtualHost, &[]), &view);
    assert_eq!(
        summary(&out),
        [(VirtualHost, strings(&["ingress_http/a.com=va"]), vec![])]
    );
    // Another route configuration subscribed: its response, then its virtual hosts.
    let mut more = delta_ack(&out[0]);
    more.type_url = RouteConfiguration.type_url().to_string();
    more.response_nonce.clear();
    more.resource_names_subscribe = strings(&["https/a"]);
    let out = conn.decoded_request(&more, &view);
    assert_eq!(
        summary(&out),
        [
            (RouteConfiguration, strings(&["https/a=r2"]), vec![]),
            (VirtualHost, strings(&["https/a/a.com=vs"]), vec![])
        ]
    );
    // Unsubscribing a route configuration drops its virtual hosts from the subscription.
    let mut less = more.clone();
    less.resource_names_subscribe.clear();
    less.resource_names_unsubscribe = strings(&["ingress_http"]);
    assert!(conn.decoded_request(&less, &view).is_empty());
    store.publish(vec![set(
        VirtualHost,
        &[("ingress_http/a.com", "va2"), ("https/a/a.com", "vs2")],
    )]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(VirtualHost, strings(&["https/a/a.com=vs2"]), vec![])]
    );
    // On a VHDS-only stream an unnamed subscription selects every virtual host.
    let mut vhds = DeltaConnection::new(Scope::Single(VirtualHost), store.counters());
    let out = vhds.decoded_request(&delta_subscribe(VirtualHost, &[]), &store.view());
    assert_eq!(
        delta_contents(&out[0]),
        ["https/a/a.com=vs2", "ingress_http/a.com=va2"]
    );
}

#[test]
fn reconnecting_vhds_before_rds_resends_no_held_virtual_host() {
    let store = store();
    store.publish(vec![
        set(RouteConfiguration, &[("http", "r1")]),
        set(VirtualHost, &[("http/a.com", "va"), ("http/b.com", "vb")]),
    ]);
    let view = store.view();
    let held = |ty: ResourceType, names: &[&str]| {
        names
            .iter()
            .map(|n| {
                let v = view.delta_resource(ty, n).map(|r| r.version());
                (n.to_string(), v.unwrap_or_default())
            })
            .collect::<std::collections::HashMap<_, _>>()
    };
    let mut conn = ads(&store);
    let mut vhds = delta_subscribe(VirtualHost, &[]);
    vhds.initial_resource_versions = held(VirtualHost, &["http/a.com", "http/b.com"]);
    let out = conn.decoded_request(&vhds, &view);
    assert_eq!(summary(&out), [(VirtualHost, vec![], vec![])]);
    let mut rds = delta_subscribe(RouteConfiguration, &["http"]);
    rds.initial_resource_versions = held(RouteConfiguration, &["http"]);
    let out = conn.decoded_request(&rds, &view);
    assert_eq!(summary(&out), [(RouteConfiguration, vec![], vec![])]);
    assert_eq!(store.stats().resources_sent(VirtualHost), 0);
    // Changes still flow.
    store.publish(vec![set(VirtualHost, &[("http/a.com", "va2")])]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(
            VirtualHost,
            strings(&["http/a.com=va2"]),
            strings(&["http/b.com"])
        )]
    );
}

#[test]
fn on_demand_vhds_names_that_do_not_exist_get_an_empty_aliased_resource() {
    let store = store();
    store.publish(vec![
        set(RouteConfiguration, &[("ingress_http", "r1")]),
        set(VirtualHost, &[("ingress_http/a.com", "va")]),
    ]);
    let mut conn = ads(&store);
    let view = store.view();
    let first = conn.decoded_request(&delta_subscribe(VirtualHost, &["ingress_http"]), &view);
    let mut on_demand = delta_ack(&first[0]);
    on_demand.resource_names_subscribe = strings(&["ingress_http/new.com", "ingress_http/a.com"]);
    let out = conn.decoded_request(&on_demand, &view);
    assert_eq!(out.len(), 1);
    let found: Vec<_> = out[0]
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.aliases.clone(), r.resource.is_some()))
        .collect();
    assert_eq!(
        found,
        [
            ("ingress_http/a.com", vec![], true),
            (
                "ingress_http/new.com",
                strings(&["ingress_http/new.com"]),
                false
            ),
        ]
    );
    assert_eq!(store.stats().resources_sent(VirtualHost), 2);
    // Once it exists it is sent for real.
    store.publish(vec![set(
        VirtualHost,
        &[("ingress_http/a.com", "va"), ("ingress_http/new.com", "vn")],
    )]);
    let out = conn.decoded_update(&store.view());
    assert_eq!(
        summary(&out),
        [(VirtualHost, strings(&["ingress_http/new.com=vn"]), vec![])]
    );
}

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{PathMatch, TcpProxy, UpstreamProtocol, WeightedCluster};
use sesame_dag::{BuildOutput, Change, Object};

use super::*;
use crate::testutil::{cluster, decode, forward_route, secure_vhost, slice, tls_secret, vhost};

/// What differs between two DAGs, as an incremental build would say it.
fn delta(before: &Dag, after: &Dag) -> BuildDelta {
    let output = |dag: &Dag| BuildOutput {
        dag: dag.clone(),
        ..BuildOutput::default()
    };
    BuildDelta::between(&output(before), &output(after))
}

/// A small deterministic generator (xorshift), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A random DAG over a small universe of hosts, clusters and secrets, so that consecutive DAGs
/// share most keys and differ in a few (added, changed, removed).
fn random_dag(rng: &mut Rng) -> Dag {
    let mut dag = Dag::default();
    let mut cluster_names = Vec::new();
    for i in 0..5 {
        if !rng.chance(70) {
            continue;
        }
        // Two clusters of one Service share an EDS name; protocols vary the content.
        let protocol = if rng.chance(50) {
            UpstreamProtocol::Http1
        } else {
            UpstreamProtocol::H2c
        };
        let mut c = cluster(&format!("svc{}", i % 3), protocol);
        c.name = format!("{}-{i}", c.name);
        cluster_names.push(c.name.clone());
        dag.clusters.insert(c.name.clone(), c);
    }
    let target = |rng: &mut Rng| -> String {
        if cluster_names.is_empty() {
            "none".to_string()
        } else {
            cluster_names[rng.below(cluster_names.len() as u64) as usize].clone()
        }
    };
    for i in 0..6 {
        if rng.chance(60) {
            let host = format!("h{i}.example.com");
            let path = format!("/{}", rng.below(3));
            let route = forward_route(PathMatch::Prefix(path), &target(rng));
            dag.http.insert(host.clone(), vhost(&host, vec![route]));
        }
    }
    if rng.chance(30) {
        let route = forward_route(PathMatch::Prefix("/".into()), &target(rng));
        dag.http.insert("*".to_string(), vhost("*", vec![route]));
    }
    // Wildcard hosts share the fallback scope with `*`.
    for i in 0..2 {
        if rng.chance(30) {
            let host = format!("*.w{i}.example.com");
            let route = forward_route(PathMatch::Prefix("/".into()), &target(rng));
            dag.http.insert(host.clone(), vhost(&host, vec![route]));
        }
    }
    for i in 0..4 {
        if !rng.chance(50) {
            continue;
        }
        let host = format!("s{i}.example.com");
        let route = forward_route(PathMatch::Prefix("/".into()), &target(rng));
        let mut secure = secure_vhost(&host, vec![route]);
        secure.secret = format!("default/tls{}/abcde", rng.below(2));
        secure.fallback_certificate = rng.chance(40);
        if rng.chance(20) {
            secure.virtual_host.routes.clear();
            secure.tcp_proxy = Some(TcpProxy {
                clusters: vec![WeightedCluster::new(target(rng), 100)],
            });
        }
        dag.secrets
            .insert(secure.secret.clone(), tls_secret(&secure.secret));
        dag.https.insert(host, secure);
    }
    if rng.chance(30) {
        dag.passthrough.insert(
            "p0.example.com".to_string(),
            TcpProxy {
                clusters: vec![WeightedCluster::new(target(rng), 100)],
            },
        );
    }
    for port in [80u16, 81] {
        if rng.chance(50) {
            let name = sesame_dag::dag::http_listener_name(port);
            let mut virtual_hosts = BTreeMap::new();
            if rng.chance(70) {
                let path = format!("/{}", rng.below(3));
                let route = forward_route(PathMatch::Prefix(path), &target(rng));
                virtual_hosts.insert(
                    "g.example.com".to_string(),
                    vhost("g.example.com", vec![route]),
                );
            }
            let listener = sesame_dag::dag::GatewayListener {
                name: name.clone(),
                address: None,
                port: sesame_dag::dag::envoy_port(port),
                virtual_hosts,
                tls: Vec::new(),
                tcp_routes: Vec::new(),
            };
            dag.gateway_listeners.insert(name, listener);
        }
    }
    if rng.chance(40) {
        let name = sesame_dag::dag::https_listener_name(443);
        let route = forward_route(PathMatch::Prefix("/".into()), &target(rng));
        let secret = format!("default/gw{}/abcde", rng.below(2));
        dag.secrets.insert(secret.clone(), tls_secret(&secret));
        // The chain's RouteConfiguration is named after its Gateway listener: one that goes
        // away must be removed.
        let listener = sesame_dag::dag::GatewayListener {
            name: name.clone(),
            address: None,
            port: 8443,
            virtual_hosts: BTreeMap::new(),
            tls: vec![sesame_dag::dag::GatewayTls {
                server_name: Some("g.example.com".into()),
                secret,
                min_tls_version: sesame_dag::dag::TlsVersion::V1_2,
                max_tls_version: sesame_dag::dag::TlsVersion::V1_3,
                client_validation: None,
                route_config: format!("{name}/l{}", rng.below(2)),
                virtual_hosts: BTreeMap::from([(
                    "g.example.com".to_string(),
                    vhost("g.example.com", vec![route]),
                )]),
            }],
            tcp_routes: Vec::new(),
        };
        dag.gateway_listeners.insert(name, listener);
    }
    // TLS and TCP routes: passthrough beside the HTTPS chain, a terminating TLS-only port, a
    // TCP port.
    for (name, server_name, terminate) in [
        ("https-443", Some("p.example.com"), false),
        ("https-8443", Some("t.example.com"), true),
        ("tcp-9000", None, false),
    ] {
        if !rng.chance(40) {
            continue;
        }
        let terminate = terminate.then(|| {
            let secret = format!("default/tls{}/abcde", rng.below(2));
            dag.secrets.insert(secret.clone(), tls_secret(&secret));
            sesame_dag::dag::GatewayTlsTermination {
                secret,
                min_tls_version: sesame_dag::dag::TlsVersion::V1_2,
                max_tls_version: sesame_dag::dag::TlsVersion::V1_3,
            }
        });
        let route = sesame_dag::dag::GatewayTcpRoute {
            server_name: server_name.map(String::from),
            terminate,
            proxy: TcpProxy {
                clusters: vec![WeightedCluster::new(target(rng), 1 + rng.below(3) as u32)],
            },
            origin: sesame_dag::object::ObjectKey::new(
                sesame_dag::object::Kind::TLSRoute,
                sesame_dag::object::NamespacedName::new("default", "r"),
            ),
        };
        let port = 8000 + rng.below(2) as u16 + if name == "tcp-9000" { 9000 } else { 443 };
        dag.gateway_listeners
            .entry(name.to_string())
            .or_insert_with(|| sesame_dag::dag::GatewayListener {
                name: name.to_string(),
                address: None,
                port,
                virtual_hosts: BTreeMap::new(),
                tls: Vec::new(),
                tcp_routes: Vec::new(),
            })
            .tcp_routes
            .push(route);
    }
    if rng.chance(50) {
        let name = "default/fallback/abcde".to_string();
        dag.secrets.insert(name.clone(), tls_secret(&name));
        dag.fallback_secret = Some(name);
    }
    dag
}

/// Endpoints for `svc0` and `svc1`; `svc2` has none.
fn snapshot() -> Snapshot {
    let mut snapshot = Snapshot::new();
    for (name, service, ip) in [("a", "svc0", "10.0.0.1"), ("b", "svc1", "10.0.0.2")] {
        let s = slice(name, service, &[(ip, true)], 8080);
        snapshot.apply(Change::Apply(Object::EndpointSlice(Arc::new(s.into()))));
    }
    snapshot
}

/// Every resource a client may be served, per table, as a full translation gives them.
#[derive(Debug, PartialEq)]
struct Served {
    clusters: BTreeMap<String, Any>,
    endpoints: BTreeMap<String, Any>,
    secrets: BTreeMap<String, Any>,
    listeners: BTreeMap<String, Any>,
    routes: BTreeMap<String, Any>,
    virtual_hosts: BTreeMap<String, Any>,
    scopes: BTreeMap<String, Any>,
    delta_listeners: BTreeMap<String, Any>,
}

impl Served {
    fn from_full((resources, endpoints): (Resources, BTreeMap<String, Any>)) -> Self {
        let mut served = Served {
            clusters: resources.clusters,
            endpoints,
            secrets: resources.secrets,
            listeners: resources.listeners,
            routes: resources.routes,
            virtual_hosts: resources.virtual_hosts,
            scopes: resources.scopes,
            delta_listeners: resources.delta_listeners,
        };
        served.inline_route_table();
        served
    }

    /// What the xDS store does: `ingress_http` with every host inline is made from the
    /// virtual hosts, whatever the translation said of it.
    fn inline_route_table(&mut self) {
        if let Some(inline) = self.routes.get_mut(route::HTTP_ROUTE_CONFIG) {
            *inline = route::http_route_configuration_from_vhds(
                self.virtual_hosts.values().map(|v| &v.value[..]),
            );
        }
    }

    fn apply(&mut self, changes: ResourceChanges) {
        fn table(into: &mut BTreeMap<String, Any>, changes: TableChanges) {
            for name in changes.removals {
                into.remove(&name);
            }
            into.extend(changes.upserts);
        }
        table(&mut self.clusters, changes.clusters);
        table(&mut self.endpoints, changes.endpoints);
        table(&mut self.secrets, changes.secrets);
        table(&mut self.listeners, changes.listeners);
        table(&mut self.routes, changes.routes);
        table(&mut self.virtual_hosts, changes.virtual_hosts);
        table(&mut self.scopes, changes.scopes);
        table(&mut self.delta_listeners, changes.delta_listeners);
        self.inline_route_table();
    }
}

#[test]
fn updates_add_up_to_a_full_translation() {
    let snapshot = snapshot();
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut translator = Translator::new(TranslateConfig::default());
        let mut dag = random_dag(&mut rng);
        let mut served = Served::from_full(translator.full(&dag, &snapshot));
        for step in 0..25 {
            let next = random_dag(&mut rng);
            let changes = delta(&dag, &next);
            served.apply(translator.update(&next, &snapshot, &changes));
            let expected = Served::from_full(
                Translator::new(TranslateConfig::default()).full(&next, &snapshot),
            );
            assert!(
                served == expected,
                "seed {seed}, step {step}: incremental translation differs\n{}",
                pretty_assertions::Comparison::new(&served, &expected)
            );
            dag = next;
        }
    }
}

#[test]
fn one_changed_host_encodes_one_virtual_host() {
    let snapshot = snapshot();
    let c = cluster("svc0", UpstreamProtocol::Http1);
    let mut dag = Dag::default();
    dag.clusters.insert(c.name.clone(), c.clone());
    for i in 0..100 {
        let host = format!("h{i}.example.com");
        let route = forward_route(PathMatch::Prefix("/".into()), &c.name);
        dag.http.insert(host.clone(), vhost(&host, vec![route]));
    }
    let mut translator = Translator::new(TranslateConfig::default());
    translator.full(&dag, &snapshot);
    let mut next = dag.clone();
    let edited = next.http.get_mut("h7.example.com").expect("host");
    edited.routes[0].path = PathMatch::Prefix("/v2".into());

    let changes = translator.update(&next, &snapshot, &delta(&dag, &next));

    assert_eq!(
        changes.virtual_hosts.upserts.keys().collect::<Vec<_>>(),
        ["ingress_http/h7.example.com"]
    );
    // Delta clients get that host's scope, and nothing else.
    assert_eq!(
        changes.scopes.upserts.keys().collect::<Vec<_>>(),
        ["ingress_http/h7.example.com"]
    );
    assert!(changes.scopes.removals.is_empty());
    // Nor is the whole `ingress_http` put together again: the xDS store does that for
    // state-of-the-world clients, when they read it.
    for unchanged in [
        &changes.clusters,
        &changes.endpoints,
        &changes.secrets,
        &changes.listeners,
        &changes.routes,
        &changes.delta_listeners,
    ] {
        assert!(unchanged.is_empty(), "{unchanged:?}");
    }
}

#[test]
fn service_endpoints_come_from_the_index() {
    let snapshot = snapshot();
    let mut dag = Dag::default();
    for (service, suffix) in [("svc0", "a"), ("svc0", "b"), ("svc1", "a"), ("svc2", "a")] {
        let mut c = cluster(service, UpstreamProtocol::Http1);
        c.name = format!("{}-{suffix}", c.name);
        dag.clusters.insert(c.name.clone(), c);
    }
    let mut translator = Translator::new(TranslateConfig::default());
    let (_, all) = translator.full(&dag, &snapshot);

    let services = BTreeSet::from([NamespacedName::new("default", "svc0")]);
    let got = translator.service_endpoints(&snapshot, &services);

    assert_eq!(got.keys().collect::<Vec<_>>(), ["default/svc0/http"]);
    assert_eq!(got["default/svc0/http"], all["default/svc0/http"]);
}

#[test]
fn a_removed_cluster_keeps_endpoints_another_cluster_still_uses() {
    let snapshot = snapshot();
    let mut dag = Dag::default();
    let mut names = Vec::new();
    for suffix in ["a", "b"] {
        let mut c = cluster("svc0", UpstreamProtocol::Http1);
        c.name = format!("{}-{suffix}", c.name);
        names.push(c.name.clone());
        dag.clusters.insert(c.name.clone(), c);
    }
    let mut translator = Translator::new(TranslateConfig::default());
    translator.full(&dag, &snapshot);

    let mut one = dag.clone();
    one.clusters.remove(&names[0]);
    let changes = translator.update(&one, &snapshot, &delta(&dag, &one));
    assert_eq!(
        changes.clusters.removals,
        BTreeSet::from([names[0].clone()])
    );
    assert!(changes.endpoints.removals.is_empty(), "{changes:?}");

    let none = Dag::default();
    let changes = translator.update(&none, &snapshot, &delta(&one, &none));
    assert_eq!(
        changes.endpoints.removals,
        BTreeSet::from(["default/svc0/http".to_string()])
    );
}

#[test]
fn state_of_the_world_table_is_the_directly_encoded_one() {
    let mut dag = random_dag(&mut Rng(7));
    for host in [
        "b.example.com".to_string(),
        format!("{}.example.com", "z".repeat(70)),
        format!("{}.example.com", "c".repeat(70)),
    ] {
        let route = forward_route(PathMatch::Prefix("/".into()), "c");
        dag.http.insert(host.clone(), vhost(&host, vec![route]));
    }
    let resources = crate::translate(&dag, &TranslateConfig::default());
    assert_eq!(
        resources.routes["ingress_http"],
        route::encoded_route_configuration(route::HTTP_ROUTE_CONFIG.to_string(), dag.http.values())
    );
    let long = format!("{}.example.com", "a".repeat(70));
    let vhds: route_v3::VirtualHost =
        decode(&route::encoded_virtual_host(&vhost(&long, Vec::new())));
    assert_eq!(vhds.name, route::vhds_name(&long));
    assert!(
        vhds.name.starts_with("ingress_http/aaaa") && vhds.name.len() == 73,
        "{}",
        vhds.name
    );
    for (name, any) in &resources.virtual_hosts {
        let decoded: route_v3::VirtualHost = decode(any);
        assert_eq!(
            &decoded.name, name,
            "a VHDS virtual host carries its resource name"
        );
    }
    assert_eq!(resources.virtual_hosts.len(), dag.http.len());
}

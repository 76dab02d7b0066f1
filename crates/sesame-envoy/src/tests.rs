//! Whole-translation tests: what `translate` emits, and that it is deterministic.

use pretty_assertions::assert_eq;
use prost::Message;
use sesame_dag::dag::{PathMatch, UpstreamProtocol};

use super::*;
use crate::testutil::{cluster, forward_route, sample_dag, secure_vhost, tls_secret, vhost};

#[test]
fn translate_emits_every_kind() {
    let r = translate(&sample_dag(), &TranslateConfig::default());
    assert_eq!(
        r.listeners.keys().collect::<Vec<_>>(),
        vec!["ingress_http", "ingress_https", "stats-health"]
    );
    assert_eq!(
        r.routes.keys().collect::<Vec<_>>(),
        vec!["https/secure.com", "ingress_http"]
    );
    assert_eq!(
        r.clusters.keys().collect::<Vec<_>>(),
        vec!["default/svc/80/da39a3ee5e"]
    );
    assert_eq!(
        r.secrets.keys().collect::<Vec<_>>(),
        vec!["default/secure.com-tls/abcde"]
    );
    for (map, ty) in [
        (&r.listeners, ResourceType::Listener),
        (&r.routes, ResourceType::RouteConfiguration),
        (&r.clusters, ResourceType::Cluster),
        (&r.secrets, ResourceType::Secret),
    ] {
        assert!(map.values().all(|a| a.type_url == ty.type_url()), "{ty:?}");
    }
}

/// A DAG exercising every feature, built in two different insertion orders.
fn big_dag(reverse: bool) -> Dag {
    let mut dag = Dag::default();
    let mut hosts: Vec<usize> = (0..20).collect();
    if reverse {
        hosts.reverse();
    }
    for i in hosts {
        let c = cluster(
            &format!("svc{i}"),
            [UpstreamProtocol::Http1, UpstreamProtocol::H2][i % 2],
        );
        let host = format!("host{i}.example.com");
        let routes = vec![
            forward_route(PathMatch::Exact(format!("/exact{i}")), &c.name),
            forward_route(PathMatch::Prefix("/".into()), &c.name),
        ];
        dag.http.insert(host.clone(), vhost(&host, routes.clone()));
        let s = secure_vhost(&host, routes);
        dag.secrets.insert(s.secret.clone(), tls_secret(&s.secret));
        dag.https.insert(host, s);
        dag.clusters.insert(c.name.clone(), c);
    }
    dag
}

#[test]
fn translation_is_deterministic() {
    let config = TranslateConfig::default();
    let a = translate(&big_dag(false), &config);
    let b = translate(&big_dag(true), &config);
    let c = translate(&big_dag(false), &config);
    assert_eq!(a, b);
    assert_eq!(a, c);
    // Byte-identical encodings, not merely equal messages.
    for (x, y) in a.clusters.values().zip(b.clusters.values()) {
        assert_eq!(x.encode_to_vec(), y.encode_to_vec());
    }
}

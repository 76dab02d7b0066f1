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

/// SHA-1 over the names, type URLs and encoded bytes of the chosen resource maps, in order.
fn digest(
    maps: &[&std::collections::BTreeMap<String, envoy_types::pb::google::protobuf::Any>],
) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    for map in maps {
        for (name, any) in *map {
            for part in [
                name.as_bytes(),
                any.type_url.as_bytes(),
                any.value.as_slice(),
            ] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part);
            }
        }
    }
    hex::encode(h.finalize())
}

/// Digests of the translations of the sample DAG, the big DAG and the Ingress-feature DAG.
fn digests(config: &TranslateConfig) -> [String; 3] {
    let r = translate(&sample_dag(), config);
    let sample = digest(&[&r.listeners, &r.routes, &r.clusters, &r.secrets]);
    let r = translate(&big_dag(false), config);
    let big = digest(&[&r.listeners, &r.routes, &r.clusters, &r.secrets]);
    // The secrets of this DAG carry fresh keys, so they are left out.
    let r = translate(&envoy_validation::ingress_feature_dag(), config);
    let ingress = digest(&[&r.listeners, &r.routes, &r.clusters]);
    [sample, big, ingress]
}

/// The DAG fields added for HTTPProxy all default to nothing, and so do the listener settings
/// of the configuration file but two: what existed before them still translates byte for byte
/// as it did (digests recorded before the fields were added) once those two are switched off.
/// The ingress connection managers have since gained the idle CORS and local rate limit filters
/// of Contour's chain: with the router alone in their place, the digests were the earlier
/// `5426035…`, `85792bb…` and `f9f03d4…` (checked when these were recorded). Then the idle RBAC
/// filter: without it, the digests were `91ac77f…`, `99e8a5d…` and `04a9340…` (checked). Then
/// the idle Lua filter of cookie rewrites: without it, `a75eb68…`, `a83d9ce…`, `f4df87f…`
/// (checked). The filter carries the script's text, so editing the script changes these too.
#[test]
fn defaults_translate_byte_identically() {
    let mut before_config_file = TranslateConfig::default();
    before_config_file.listener.timeouts.connection_idle_timeout = None;
    before_config_file.listener.cipher_suites.clear();
    assert_eq!(
        digests(&before_config_file),
        [
            "92bfea79366778fe9c725ef282baf02483fa8210",
            "337cd3c539f2d86f0a3b932feb38909f586ab108",
            "59b841c250fb711c6a98d616bcd79a7730ead664",
        ]
    );
}

/// The translation of the defaults, which adds Contour's 60s connection idle timeout to every
/// ingress HTTP connection manager and its cipher suites to every TLS context: recorded when
/// those defaults were introduced, and again when the CORS and local rate limit filters joined
/// the ingress chains (with the router alone: `c2d44a6…`, `7ab8d7b…`, `e2a72b7…`), and when the
/// RBAC filter joined them (without it: `874a874…`, `1106968…`, `5c47c91…`, checked), and when
/// the Lua filter of cookie rewrites joined them (without it: `b0a5341…`, `baad93e…`,
/// `f3537e2…`, checked).
#[test]
fn contour_listener_defaults_translate_byte_identically() {
    assert_eq!(
        digests(&TranslateConfig::default()),
        [
            "99b2eb5a6e4fbec77300568aa00d0f59aa284d36",
            "21f6fcc2de87ceae889a5733661f6bc6da99209f",
            "1c5456f50c012c59b71a44b75e1f9bbf61ce4f33",
        ]
    );
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

mod envoy_validation;

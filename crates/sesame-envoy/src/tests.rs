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

mod envoy_validation {
    //! Envoy itself checks the translated resources: they go into a static bootstrap (binary
    //! proto, which Envoy reads from a `.pb` file), with each RDS reference replaced by the
    //! route configuration it names, and `envoy --mode validate` must accept it.

    use std::time::Duration;

    use envoy_types::pb::envoy::config::bootstrap::v3 as bootstrap_v3;
    use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
    use envoy_types::pb::envoy::config::core::v3 as core_v3;
    use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
    use envoy_types::pb::envoy::config::route::v3 as route_v3;
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
    use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
    use hcm_v3::http_connection_manager::RouteSpecifier;
    use pretty_assertions::assert_eq;
    use prost::Message;
    use sesame_dag::dag::{
        CircuitBreakers, Forward, HeaderMatch, HeaderValueMatch, PathMatch, RetryPolicy, Route,
        RouteAction, Timeout, TlsVersion, UpstreamProtocol, WeightedCluster,
    };

    use super::*;
    use crate::bootstrap::tests::{envoy_binary, envoy_validate};
    use crate::testutil::{cluster, decode, forward_route, secure_vhost, vhost};

    /// A DAG using every feature the translation knows.
    fn every_feature_dag() -> Dag {
        let mut dag = Dag::default();
        let protocols = [
            UpstreamProtocol::Http1,
            UpstreamProtocol::H2,
            UpstreamProtocol::H2c,
            UpstreamProtocol::Tls,
        ];
        let mut names = Vec::new();
        for (i, p) in protocols.into_iter().enumerate() {
            let mut c = cluster(&format!("svc{i}"), p);
            if i == 0 {
                c.circuit_breakers = CircuitBreakers {
                    max_connections: Some(10),
                    max_pending_requests: Some(20),
                    max_requests: Some(30),
                    max_retries: Some(4),
                };
            }
            names.push(c.name.clone());
            dag.clusters.insert(c.name.clone(), c);
        }
        let header = |value, invert| HeaderMatch {
            name: "x-h".into(),
            value,
            invert,
        };
        let mut routes = vec![
            forward_route(PathMatch::Exact("/exact".into()), &names[0]),
            forward_route(PathMatch::Regex("/re/[a-z]+".into()), &names[1]),
            forward_route(PathMatch::SegmentPrefix("/seg".into()), &names[2]),
        ];
        let mut with_headers = forward_route(PathMatch::Prefix("/h".into()), &names[3]);
        with_headers.headers = vec![
            header(HeaderValueMatch::Present, false),
            header(HeaderValueMatch::Exact("a".into()), true),
            header(HeaderValueMatch::Contains("b".into()), false),
            header(HeaderValueMatch::Regex("c.*".into()), false),
        ];
        routes.push(with_headers);
        let mut split = forward_route(PathMatch::Prefix("/split".into()), &names[0]);
        split.action = RouteAction::Forward(Forward {
            clusters: vec![
                WeightedCluster {
                    name: names[0].clone(),
                    weight: 90,
                },
                WeightedCluster {
                    name: names[1].clone(),
                    weight: 10,
                },
            ],
            timeout: Some(Timeout::After(Duration::from_millis(2500))),
            retry: Some(RetryPolicy {
                retry_on: vec!["5xx".into(), "reset".into()],
                num_retries: 2,
                per_try_timeout: Some(Timeout::Infinite),
            }),
            websocket: true,
        });
        routes.push(split);
        let mut direct = forward_route(PathMatch::Prefix("/direct".into()), &names[0]);
        direct.action = RouteAction::DirectResponse {
            status: 404,
            body: Some("nope".into()),
        };
        routes.push(direct);
        let mut infinite = forward_route(PathMatch::Prefix("/".into()), &names[0]);
        if let RouteAction::Forward(f) = &mut infinite.action {
            f.timeout = Some(Timeout::Infinite);
        }
        routes.push(infinite);

        let redirect = Route {
            action: RouteAction::HttpsRedirect,
            ..forward_route(PathMatch::Prefix("/".into()), "")
        };
        let long = format!("{}.example.com", "long".repeat(20));
        for host in ["foo.com", "*.wild.com", long.as_str()] {
            dag.http.insert(host.into(), vhost(host, routes.clone()));
        }
        dag.http
            .insert("secure.com".into(), vhost("secure.com", vec![redirect]));
        dag.http.insert(
            "*".into(),
            vhost(
                "*",
                vec![forward_route(PathMatch::Prefix("/".into()), &names[0])],
            ),
        );

        for host in ["secure.com", "*.wild.com"] {
            let mut s = secure_vhost(host, routes.clone());
            if host == "secure.com" {
                s.min_tls_version = TlsVersion::V1_1;
            }
            let key = match rcgen::generate_simple_self_signed(vec![host.to_string()]) {
                Ok(k) => k,
                Err(e) => panic!("rcgen: {e}"),
            };
            dag.secrets.insert(
                s.secret.clone(),
                sesame_dag::dag::TlsSecret {
                    name: s.secret.clone(),
                    source: sesame_dag::NamespacedName::new("default", host),
                    certificate_chain: key.cert.pem().into_bytes(),
                    private_key: key.signing_key.serialize_pem().into_bytes(),
                },
            );
            dag.https.insert(host.into(), s);
        }
        dag
    }

    /// A listener with every RDS reference replaced by the route configuration it names.
    fn inline_routes(
        mut listener: listener_v3::Listener,
        resources: &Resources,
    ) -> listener_v3::Listener {
        for chain in &mut listener.filter_chains {
            for filter in &mut chain.filters {
                let Some(listener_v3::filter::ConfigType::TypedConfig(any)) =
                    &mut filter.config_type
                else {
                    panic!("filter without typed config")
                };
                let mut hcm: hcm_v3::HttpConnectionManager = decode(any);
                if let Some(RouteSpecifier::Rds(rds)) = &hcm.route_specifier {
                    let rc: route_v3::RouteConfiguration =
                        decode(&resources.routes[&rds.route_config_name]);
                    hcm.route_specifier = Some(RouteSpecifier::RouteConfig(rc));
                }
                any.value = hcm.encode_to_vec();
            }
        }
        listener
    }

    fn static_cluster(name: &str, port: u32, http2: bool) -> cluster_v3::Cluster {
        let mut c = cluster_v3::Cluster {
            name: name.into(),
            cluster_discovery_type: Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
                cluster_v3::cluster::DiscoveryType::Static as i32,
            )),
            connect_timeout: Some(envoy_types::pb::google::protobuf::Duration {
                seconds: 1,
                nanos: 0,
            }),
            load_assignment: Some(crate::endpoint::load_assignment(
                name,
                &[sesame_dag::endpoints::Endpoint {
                    ip: "127.0.0.1".into(),
                    port: port as u16,
                }],
            )),
            ..Default::default()
        };
        if http2 {
            c.typed_extension_protocol_options.insert(
                crate::cluster::HTTP_PROTOCOL_OPTIONS.into(),
                crate::proto::any(&crate::cluster::http2_options()),
            );
        }
        c
    }

    fn static_bootstrap(resources: &Resources) -> bootstrap_v3::Bootstrap {
        let mut clusters: Vec<cluster_v3::Cluster> =
            resources.clusters.values().map(decode).collect();
        clusters.push(static_cluster("sesame", 8001, true));
        clusters.push(static_cluster("envoy-admin", 9001, false));
        bootstrap_v3::Bootstrap {
            static_resources: Some(bootstrap_v3::bootstrap::StaticResources {
                listeners: resources
                    .listeners
                    .values()
                    .map(|a| inline_routes(decode(a), resources))
                    .collect(),
                clusters,
                secrets: resources
                    .secrets
                    .values()
                    .map(decode::<tls_v3::Secret>)
                    .collect(),
            }),
            dynamic_resources: Some(bootstrap_v3::bootstrap::DynamicResources {
                ads_config: Some(core_v3::ApiConfigSource {
                    api_type: core_v3::api_config_source::ApiType::Grpc as i32,
                    transport_api_version: core_v3::ApiVersion::V3 as i32,
                    grpc_services: vec![core_v3::GrpcService {
                        target_specifier: Some(core_v3::grpc_service::TargetSpecifier::EnvoyGrpc(
                            core_v3::grpc_service::EnvoyGrpc {
                                cluster_name: "sesame".into(),
                                ..Default::default()
                            },
                        )),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn envoy_accepts_the_translated_resources() {
        let dag = every_feature_dag();
        let resources = translate(&dag, &TranslateConfig::default());
        assert_eq!(resources.listeners.len(), 3);
        assert_eq!(resources.routes.len(), 3);
        let Some(envoy) = envoy_binary() else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("static.pb");
        std::fs::write(&path, static_bootstrap(&resources).encode_to_vec())
            .expect("write bootstrap");
        envoy_validate(&envoy, &path);
    }

    /// The check above must be able to fail: Envoy rejects a route to an unknown cluster.
    #[test]
    fn envoy_rejects_a_broken_translation() {
        let Some(envoy) = envoy_binary() else { return };
        let mut dag = Dag::default();
        dag.http.insert(
            "foo.com".into(),
            vhost(
                "foo.com",
                vec![forward_route(PathMatch::Prefix("/".into()), "nope")],
            ),
        );
        let resources = translate(&dag, &TranslateConfig::default());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("static.pb");
        std::fs::write(&path, static_bootstrap(&resources).encode_to_vec())
            .expect("write bootstrap");
        let result = std::panic::catch_unwind(|| envoy_validate(&envoy, &path));
        assert!(
            result.is_err(),
            "envoy accepted a route to an unknown cluster"
        );
    }
}

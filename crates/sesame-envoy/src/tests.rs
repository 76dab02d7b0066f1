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

/// The DAG fields added for HTTPProxy all default to nothing: what existed before them still
/// translates byte for byte as it did (digests recorded before the fields were added).
#[test]
fn defaults_translate_byte_identically() {
    let r = translate(&sample_dag(), &TranslateConfig::default());
    let sample = digest(&[&r.listeners, &r.routes, &r.clusters, &r.secrets]);
    let r = translate(&big_dag(false), &TranslateConfig::default());
    let big = digest(&[&r.listeners, &r.routes, &r.clusters, &r.secrets]);
    // The secrets of this DAG carry fresh keys, so they are left out.
    let r = translate(
        &envoy_validation::ingress_feature_dag(),
        &TranslateConfig::default(),
    );
    let ingress = digest(&[&r.listeners, &r.routes, &r.clusters]);
    assert_eq!(
        (sample.as_str(), big.as_str(), ingress.as_str()),
        (
            "5426035641634bf7a29be4f7260c37d7d78f4327",
            "85792bbf3b3fdf8e95a8646caa40e8f725188995",
            "f9f03d4af03df55f0c579a4225a96dcca7e82bdf",
        )
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
        CircuitBreakers, Forward, ForwardPolicies, HashPolicy, HashPolicyKind, HeaderMatch,
        HeaderValueMatch, HeadersPolicy, HttpHealthCheck, LbPolicy, Mirror, PathMatch,
        QueryParamMatch, QueryValueMatch, Redirect, RedirectPath, RetryPolicy, Route, RouteAction,
        Timeout, TlsVersion, UpstreamProtocol, UpstreamValidation, WeightedCluster,
    };

    use super::*;
    use crate::bootstrap::tests::{envoy_binary, envoy_validate};
    use crate::testutil::{cluster, decode, forward_route, secure_vhost, vhost};

    /// A DAG using every feature the Ingress translation used before HTTPProxy's additions.
    pub(super) fn ingress_feature_dag() -> Dag {
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
            ignore_case: false,
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
                WeightedCluster::new(names[0].clone(), 90),
                WeightedCluster::new(names[1].clone(), 10),
            ],
            timeout: Some(Timeout::After(Duration::from_millis(2500))),
            retry: Some(RetryPolicy {
                retry_on: vec!["5xx".into(), "reset".into()],
                num_retries: 2,
                per_try_timeout: Some(Timeout::Infinite),
                retriable_status_codes: Vec::new(),
            }),
            websocket: true,
            ..Default::default()
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

    /// [`ingress_feature_dag`] plus every feature added for HTTPProxy, on the plain vhost
    /// `proxy.com` and the secure vhost `secure-proxy.com`.
    fn every_feature_dag() -> Dag {
        let mut dag = ingress_feature_dag();
        let ca = match rcgen::generate_simple_self_signed(vec!["backend.example.com".into()]) {
            Ok(k) => k.cert.pem().into_bytes(),
            Err(e) => panic!("rcgen: {e}"),
        };
        let health = HttpHealthCheck {
            path: "/healthz".into(),
            host: "health.local".into(),
            ..Default::default()
        };
        let settings = [
            ("lr", UpstreamProtocol::Http1, LbPolicy::LeastRequest, true),
            ("rand", UpstreamProtocol::H2c, LbPolicy::Random, false),
            ("ring", UpstreamProtocol::Tls, LbPolicy::RingHash, true),
            ("h2v", UpstreamProtocol::H2, LbPolicy::RoundRobin, true),
            (
                "mirror",
                UpstreamProtocol::Http1,
                LbPolicy::RoundRobin,
                false,
            ),
        ];
        let mut names = Vec::new();
        for (i, (name, protocol, lb_policy, checked)) in settings.into_iter().enumerate() {
            let mut c = cluster(name, protocol);
            c.lb_policy = lb_policy;
            c.health_check = checked.then(|| Box::new(health.clone()));
            c.idle_connection_timeout = match i {
                0 => Some(Timeout::After(Duration::from_secs(60))),
                1 => Some(Timeout::Infinite),
                3 => Some(Timeout::After(Duration::from_millis(1500))),
                _ => None,
            };
            if matches!(protocol, UpstreamProtocol::Tls | UpstreamProtocol::H2) {
                c.upstream_validation = Some(Box::new(UpstreamValidation {
                    ca_pem: ca.clone(),
                    subject_names: if i == 2 {
                        vec!["backend.example.com".into(), "alt.example.com".into()]
                    } else {
                        Vec::new()
                    },
                }));
            }
            names.push(c.name.clone());
            dag.clusters.insert(c.name.clone(), c);
        }
        let policy = |set: &[(&str, &str)], remove: &[&str]| HeadersPolicy {
            set: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remove: remove.iter().map(|r| r.to_string()).collect(),
        };

        let mut matched = forward_route(PathMatch::Prefix("/match".into()), &names[0]);
        matched.headers = [
            HeaderValueMatch::Exact("A".into()),
            HeaderValueMatch::Prefix("pre".into()),
            HeaderValueMatch::Suffix("suf".into()),
            HeaderValueMatch::Contains("mid".into()),
            HeaderValueMatch::Regex("r.*".into()),
            HeaderValueMatch::Present,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, value)| HeaderMatch {
            name: format!("x-h{i}"),
            value,
            invert: i == 1,
            ignore_case: true,
        })
        .collect();
        matched.query_params = [
            QueryValueMatch::Present,
            QueryValueMatch::Exact("e".into()),
            QueryValueMatch::Prefix("p".into()),
            QueryValueMatch::Suffix("s".into()),
            QueryValueMatch::Contains("c".into()),
            QueryValueMatch::Regex("[0-9]+".into()),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, value)| QueryParamMatch {
            name: format!("q{i}"),
            value,
            ignore_case: i % 2 == 0,
        })
        .collect();

        let mut a = WeightedCluster::new(names[0].clone(), 60);
        a.rewrites_mut().request_headers = policy(&[("x-to", "lr")], &["x-old"]);
        a.rewrites_mut().response_headers = policy(&[("x-from", "lr")], &["x-secret"]);
        a.rewrites_mut().host_rewrite = Some("lr.internal".into());
        let everything = Forward {
            clusters: vec![
                a.clone(),
                WeightedCluster::new(names[1].clone(), 30),
                WeightedCluster::new(names[2].clone(), 10),
            ],
            timeout: Some(Timeout::After(Duration::from_secs(30))),
            retry: Some(RetryPolicy {
                retry_on: vec!["5xx".into(), "retriable-status-codes".into()],
                num_retries: 3,
                per_try_timeout: Some(Timeout::After(Duration::from_secs(5))),
                retriable_status_codes: vec![502, 503, 504],
            }),
            websocket: true,
            policies: Some(Box::new(ForwardPolicies {
                idle_timeout: Some(Timeout::After(Duration::from_secs(300))),
                prefix_rewrite: Some("/backend/".into()),
                host_rewrite: Some("backend.internal".into()),
                request_headers: policy(&[("x-a", "1"), ("x-b", "two words")], &["x-drop"]),
                response_headers: policy(&[("x-served-by", "sesame")], &["server"]),
                mirrors: vec![
                    Mirror {
                        cluster: names[4].clone(),
                        percent: 100,
                    },
                    Mirror {
                        cluster: names[3].clone(),
                        percent: 10,
                    },
                ],
                hash_policies: vec![
                    HashPolicy {
                        kind: HashPolicyKind::Header("x-user".into()),
                        terminal: true,
                    },
                    HashPolicy {
                        kind: HashPolicyKind::QueryParameter("id".into()),
                        terminal: false,
                    },
                    HashPolicy {
                        kind: HashPolicyKind::SourceIp,
                        terminal: false,
                    },
                    HashPolicy {
                        kind: HashPolicyKind::Cookie {
                            name: "session".into(),
                            ttl: Some(Duration::from_secs(3600)),
                            path: Some("/".into()),
                        },
                        terminal: false,
                    },
                ],
            })),
        };
        let mut all = forward_route(PathMatch::Prefix("/all".into()), &names[0]);
        all.action = RouteAction::Forward(everything);
        let mut single = forward_route(PathMatch::Prefix("/single".into()), &names[3]);
        single.action = RouteAction::Forward(Forward {
            clusters: vec![a],
            policies: Some(Box::new(ForwardPolicies {
                idle_timeout: Some(Timeout::Infinite),
                ..Default::default()
            })),
            ..Default::default()
        });

        let redirect = |path, status, scheme: Option<&str>, port| {
            let mut r = forward_route(PathMatch::Prefix(format!("/redirect{status}")), "");
            r.action = RouteAction::Redirect(Redirect {
                scheme: scheme.map(str::to_string),
                host: Some("example.com".into()),
                port,
                path,
                status,
            });
            r
        };
        let mut routes = vec![matched, all, single];
        routes.extend([
            redirect(
                Some(RedirectPath::Full("/new".into())),
                301,
                Some("https"),
                Some(8443),
            ),
            redirect(Some(RedirectPath::Prefix("/v2".into())), 302, None, None),
            redirect(None, 303, Some("http"), Some(8080)),
            redirect(None, 307, None, None),
            redirect(Some(RedirectPath::Full("/".into())), 308, None, None),
        ]);
        dag.http
            .insert("proxy.com".into(), vhost("proxy.com", routes.clone()));
        let secure = secure_vhost("secure-proxy.com", routes);
        let key = match rcgen::generate_simple_self_signed(vec!["secure-proxy.com".into()]) {
            Ok(k) => k,
            Err(e) => panic!("rcgen: {e}"),
        };
        dag.secrets.insert(
            secure.secret.clone(),
            sesame_dag::dag::TlsSecret {
                name: secure.secret.clone(),
                source: sesame_dag::NamespacedName::new("default", "secure-proxy"),
                certificate_chain: key.cert.pem().into_bytes(),
                private_key: key.signing_key.serialize_pem().into_bytes(),
            },
        );
        dag.https.insert("secure-proxy.com".into(), secure);
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
        assert_eq!(resources.routes.len(), 4);
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

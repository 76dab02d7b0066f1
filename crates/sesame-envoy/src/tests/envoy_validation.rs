//! Envoy itself checks the translated resources: they go into a static bootstrap (binary
//! proto, which Envoy reads from a `.pb` file), with each RDS reference replaced by the
//! route configuration it names and each SDS certificate taken from the bootstrap's static
//! secrets, and `envoy --mode validate` must accept it.

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
    CircuitBreakers, ClientValidation, CorsPolicy, Forward, ForwardClientCertificate,
    ForwardPolicies, HashPolicy, HashPolicyKind, HeaderMatch, HeaderValueMatch, HeadersPolicy,
    HealthCheck, HealthChecker, IpFilter, IpFilterAction, IpFilterRule, IpSource, LbPolicy,
    LocalRateLimit, Mirror, OriginMatch, PathMatch, QueryParamMatch, QueryValueMatch, Redirect,
    RedirectPath, RetryPolicy, Route, RouteAction, SecureVirtualHost, SlowStart, TcpProxy, Timeout,
    TlsVersion, UpstreamProtocol, UpstreamValidation, WeightedCluster,
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
/// `proxy.com` and the secure vhost `secure-proxy.com` (CORS and local rate limits included).
fn every_feature_dag() -> Dag {
    let mut dag = ingress_feature_dag();
    let ca = match rcgen::generate_simple_self_signed(vec!["backend.example.com".into()]) {
        Ok(k) => k.cert.pem().into_bytes(),
        Err(e) => panic!("rcgen: {e}"),
    };
    let health = HealthCheck::new(HealthChecker::Http {
        path: "/healthz".into(),
        host: "health.local".into(),
    });
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
        if name == "mirror" {
            c.health_check = Some(Box::new(HealthCheck::new(HealthChecker::Tcp)));
        }
        if matches!(lb_policy, LbPolicy::LeastRequest | LbPolicy::RoundRobin) {
            c.slow_start = Some(Box::new(SlowStart {
                window: Duration::from_millis(1500),
                aggression: 1.5,
                min_weight_percent: if i == 0 { 0 } else { 100 },
            }));
        }
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
                subject_uris: if i == 2 {
                    vec!["spiffe://cluster.local/ns/default/sa/backend".into()]
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
            .map(|(k, v)| (k.to_string(), (*v).into()))
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

    // Every dynamic header value the DAG lets through, around literal `%`s.
    let dynamic_headers = |mut p: HeadersPolicy| {
        use sesame_dag::dag::{EnvoyVariable, HeaderValue, HeaderValuePart};
        let mut parts = vec![HeaderValuePart::Literal("100% %FOO% ".into())];
        parts.extend(EnvoyVariable::ALL.map(HeaderValuePart::Envoy));
        parts.push(HeaderValuePart::RequestHeader("x-Forwarded_for".into()));
        p.set.push(("x-dynamic".into(), HeaderValue(parts)));
        p
    };
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
            path_rewrite: None,
            host_rewrite: Some("backend.internal".into()),
            request_headers: dynamic_headers(policy(
                &[("x-a", "1"), ("x-b", "two words")],
                &["x-drop"],
            )),
            response_headers: policy(&[("x-served-by", "sesame")], &["server"]),
            request_headers_append: vec![("x-added".into(), "100%".into())],
            response_headers_append: vec![("x-trace".into(), "a".into())],
            mirrors: vec![
                Mirror {
                    cluster: names[4].clone(),
                    per_million: 1_000_000,
                },
                Mirror {
                    cluster: names[3].clone(),
                    per_million: 123_457,
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
            rate_limit: Some(LocalRateLimit {
                max_tokens: 2,
                tokens_per_fill: 2,
                fill_interval: Duration::from_secs(60),
                status: Some(511),
                response_headers: policy(&[("x-limited", "100%")], &[]),
            }),
            internal_redirect: Some(sesame_dag::dag::InternalRedirect {
                max_redirects: Some(3),
                response_codes: vec![301, 302, 303, 307, 308],
                cross_scheme: sesame_dag::dag::CrossScheme::SafeOnly,
                deny_repeated_route: true,
            }),
            global_rate_limit: None,
            cookie_rewrites: cookies::rewrites(),
            // A route's own CORS policy (Gateway API), with a wildcard origin as a regex.
            cors: Some(Box::new(sesame_dag::dag::CorsPolicy {
                allow_origin: vec![
                    sesame_dag::dag::OriginMatch::Exact("https://a.example.com".into()),
                    sesame_dag::dag::OriginMatch::Regex(r"https://.*\.example\.org".into()),
                ],
                allow_methods: vec!["GET".into(), "*".into()],
                allow_headers: vec!["x-a".into()],
                expose_headers: Vec::new(),
                max_age: Some(3600),
                allow_credentials: true,
                allow_private_network: false,
            })),
        })),
    };
    let mut all = forward_route(PathMatch::Prefix("/all".into()), &names[0]);
    all.action = RouteAction::Forward(everything);
    let mut single = forward_route(PathMatch::Prefix("/single".into()), &names[3]);
    single.action = RouteAction::Forward(Forward {
        clusters: vec![a],
        policies: Some(Box::new(ForwardPolicies {
            idle_timeout: Some(Timeout::Infinite),
            internal_redirect: Some(sesame_dag::dag::InternalRedirect {
                max_redirects: None,
                response_codes: Vec::new(),
                cross_scheme: sesame_dag::dag::CrossScheme::Always,
                deny_repeated_route: false,
            }),
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
    // A route's own IP filter (deny), on a forwarding route and on a redirect.
    let deny = Some(Box::new(IpFilter {
        action: IpFilterAction::Deny,
        rules: vec![
            ip_rule(IpSource::Remote, "192.168.0.0", 16),
            ip_rule(IpSource::Peer, "fd00::", 8),
        ],
    }));
    single.ip_filter = deny.clone();
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
    if let Some(last) = routes.last_mut() {
        last.ip_filter = deny;
    }
    let mut plain = vhost("proxy.com", routes.clone());
    plain.cors = Some(Box::new(CorsPolicy {
        allow_origin: vec![
            OriginMatch::Exact("*".into()),
            OriginMatch::Exact("https://a.example.com:8443".into()),
            OriginMatch::Regex(r"https://.*\.b\.example\.com".into()),
        ],
        allow_methods: vec!["GET".into(), "OPTIONS".into()],
        allow_headers: vec!["authorization".into()],
        expose_headers: vec!["x-request-id".into(), "x-b3".into()],
        max_age: Some(0),
        allow_credentials: true,
        allow_private_network: true,
    }));
    plain.rate_limit = Some(Box::new(LocalRateLimit {
        max_tokens: 120,
        tokens_per_fill: 100,
        fill_interval: Duration::from_secs(1),
        status: None,
        response_headers: HeadersPolicy::default(),
    }));
    plain.ip_filter = Some(Box::new(IpFilter {
        action: IpFilterAction::Allow,
        rules: vec![
            ip_rule(IpSource::Peer, "127.0.0.1", 32),
            ip_rule(IpSource::Remote, "10.0.0.0", 8),
            ip_rule(IpSource::Peer, "::", 0),
        ],
    }));
    let mut secure = secure_vhost("secure-proxy.com", routes);
    secure.virtual_host.cors = plain.cors.clone();
    secure.virtual_host.rate_limit = plain.rate_limit.clone();
    secure.virtual_host.ip_filter = plain.ip_filter.clone();
    dag.http.insert("proxy.com".into(), plain);
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
    add_tls_features(&mut dag, &names);
    dag
}

/// A TLS secret `default/<name>/abcde` with a fresh self-signed certificate for `host`.
fn self_signed_secret(name: &str, host: &str) -> sesame_dag::dag::TlsSecret {
    let key = match rcgen::generate_simple_self_signed(vec![host.to_string()]) {
        Ok(k) => k,
        Err(e) => panic!("rcgen: {e}"),
    };
    sesame_dag::dag::TlsSecret {
        name: format!("default/{name}/abcde"),
        source: sesame_dag::NamespacedName::new("default", name),
        certificate_chain: key.cert.pem().into_bytes(),
        private_key: key.signing_key.serialize_pem().into_bytes(),
    }
}

/// A fresh CA allowed to sign CRLs, and a CRL it signed revoking serial 42, both PEM.
fn ca_and_crl() -> (Vec<u8>, Vec<u8>) {
    let built = (|| -> Result<(Vec<u8>, Vec<u8>), rcgen::Error> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = params.self_signed(&key)?.pem();
        let issuer = rcgen::Issuer::new(params, key);
        let crl = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2124, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(42u64),
                revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)?
        .pem()?;
        Ok((ca.into_bytes(), crl.into_bytes()))
    })();
    built.unwrap_or_else(|e| panic!("rcgen: {e}"))
}

/// Adds the TLS features to a DAG holding `secure.com`, `*.wild.com` and `secure-proxy.com`:
/// passthrough `passthrough.com` (one cluster) and `*.pass.com` (split), the terminated TCP
/// proxy `tcp.secure.com` (verification skipped, no CA), client validation with a CA, a CRL
/// and every detail forwarded on `secure-proxy.com`, optional validation checking only the
/// leaf against the CRL on `optional.secure.com`, and the fallback certificate for
/// `secure.com` and `*.wild.com`.
fn add_tls_features(dag: &mut Dag, clusters: &[String]) {
    let proxy = |weights: &[(usize, u32)]| TcpProxy {
        clusters: weights
            .iter()
            .map(|(i, w)| WeightedCluster::new(clusters[*i].clone(), *w))
            .collect(),
    };
    dag.passthrough
        .insert("passthrough.com".into(), proxy(&[(0, 1)]));
    dag.passthrough
        .insert("*.pass.com".into(), proxy(&[(0, 70), (1, 30), (2, 0)]));
    let (ca_pem, crl_pem) = ca_and_crl();
    let validation = |configure: &dyn Fn(&mut ClientValidation)| {
        let mut v = ClientValidation {
            ca_pem: ca_pem.clone(),
            crl_pem: Some(crl_pem.clone()),
            crl_only_leaf: false,
            optional: false,
            skip_verification: false,
            forward: ForwardClientCertificate::default(),
        };
        configure(&mut v);
        Some(Box::new(v))
    };
    let mut add = |host: &str, configure: &dyn Fn(&mut SecureVirtualHost)| {
        let routes = vec![forward_route(PathMatch::Prefix("/".into()), &clusters[0])];
        let mut v = secure_vhost(host, routes);
        let secret = self_signed_secret(host, host);
        v.secret = secret.name.clone();
        configure(&mut v);
        dag.secrets.insert(secret.name.clone(), secret);
        dag.https.insert(host.into(), v);
    };
    add("tcp.secure.com", &|v| {
        v.virtual_host.routes.clear();
        v.tcp_proxy = Some(proxy(&[(1, 1)]));
        v.client_validation = validation(&|c| {
            c.ca_pem.clear();
            c.crl_pem = None;
            c.skip_verification = true;
        });
    });
    add("optional.secure.com", &|v| {
        v.client_validation = validation(&|c| {
            c.optional = true;
            c.crl_only_leaf = true;
            c.forward.subject = true;
        });
    });
    if let Some(v) = dag.https.get_mut("secure-proxy.com") {
        v.client_validation = validation(&|c| {
            c.forward = ForwardClientCertificate {
                subject: true,
                cert: true,
                chain: true,
                dns: true,
                uri: true,
            };
        });
    }
    for host in ["secure.com", "*.wild.com"] {
        if let Some(v) = dag.https.get_mut(host) {
            v.fallback_certificate = true;
        }
    }
    let fallback = self_signed_secret("fallback", "fallback.example.com");
    dag.fallback_secret = Some(fallback.name.clone());
    dag.secrets.insert(fallback.name.clone(), fallback);
}

#[test]
fn envoy_accepts_the_translated_resources() {
    let dag = every_feature_dag();
    let resources = translate(&dag, &TranslateConfig::default());
    assert_eq!(resources.listeners.len(), 3);
    assert_eq!(
        resources.routes.keys().collect::<Vec<_>>(),
        vec![
            "https/*.wild.com",
            "https/optional.secure.com",
            "https/secure-proxy.com",
            "https/secure.com",
            "ingress_fallbackcert",
            "ingress_http"
        ]
    );
    let https: listener_v3::Listener = decode(&resources.listeners["ingress_https"]);
    assert_eq!(
        https.filter_chains.len(),
        8,
        "5 secure, 2 passthrough, 1 fallback"
    );
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

/// What Envoys on incremental xDS get instead: `ingress_http` routing by scope, with the Lua
/// filter writing the key, and a scope per exact host plus the fallback scope.
#[test]
fn envoy_accepts_the_scoped_http_listener_and_its_scopes() {
    let dag = every_feature_dag();
    let mut resources = translate(&dag, &TranslateConfig::default());
    let exact = dag
        .http
        .keys()
        .filter(|h| crate::scope::is_exact(h))
        .count();
    assert!(
        exact >= 2 && exact < dag.http.len(),
        "exact and wildcard hosts"
    );
    assert_eq!(resources.scopes.len(), exact + 1);
    resources
        .listeners
        .extend(resources.delta_listeners.clone());
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

/// A `*` secure virtual host and the fallback certificate both take TLS clients without
/// SNI. Envoy rejects two filter chains with the same match, so the `*` host keeps its chain
/// and the fallback chain is left out; adding it back makes Envoy refuse the listener.
#[test]
fn envoy_accepts_a_wildcard_host_beside_the_fallback_certificate() {
    let mut dag = every_feature_dag();
    let fallback =
        crate::listener::fallback_filter_chain(&dag, &TranslateConfig::default().listener)
            .expect("a fallback chain");
    let star = self_signed_secret("star", "star.example.com");
    let mut wildcard = secure_vhost("*", Vec::new());
    wildcard.secret = star.name.clone();
    dag.secrets.insert(star.name.clone(), star);
    dag.https.insert("*".into(), wildcard);
    let mut resources = translate(&dag, &TranslateConfig::default());
    assert!(!resources.routes.contains_key("ingress_fallbackcert"));
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));

    let mut https: listener_v3::Listener = decode(&resources.listeners["ingress_https"]);
    assert_eq!(
        https.filter_chains[0].filter_chain_match,
        fallback.filter_chain_match
    );
    // `ingress_fallbackcert` was not emitted: borrow the `*` chain's routes, so that the
    // match is all Envoy can object to.
    let mut fallback = fallback;
    fallback.filters = https.filter_chains[0].filters.clone();
    https.filter_chains.push(fallback);
    resources
        .listeners
        .insert("ingress_https".into(), crate::proto::any(&https));
    let Err(refusal) = envoy_verdict(&envoy, dir.path(), &resources) else {
        panic!("envoy accepted two chains with one match")
    };
    assert!(refusal.contains("the same matching rules"), "{refusal}");
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
    assert!(
        envoy_verdict(&envoy, dir.path(), &resources).is_err(),
        "envoy accepted a route to an unknown cluster"
    );
}

mod cookies;
mod extension;
mod gateway;
mod jwt;
mod offline;
mod settings;

use offline::{envoy_verdict, static_bootstrap};

/// An IP filter rule for `address/prefix_len`.
fn ip_rule(source: IpSource, address: &str, prefix_len: u8) -> IpFilterRule {
    IpFilterRule {
        source,
        address: address.parse().expect("test address"),
        prefix_len,
    }
}

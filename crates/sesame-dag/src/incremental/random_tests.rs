//! Random sequences of changes over a small universe of names: after every step the
//! incremental output must equal a full build, and the delta must name exactly what differs.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::build::build;
use crate::object::NamespacedName;
use crate::snapshot::Change;
use crate::testutil::{Pem, cert, object};

mod gateway;

/// A small seeded generator (SplitMix64): the same seed always gives the same sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMESPACES: [&str; 2] = ["default", "other"];
const HOSTS: [&str; 5] = ["a.com", "b.com", "*.c.com", "x.c.com", ""];
const PATHS: [&str; 3] = ["/", "/a", "/b"];
const SERVICES: [&str; 3] = ["s1", "s2", "gone"];
const SECRETS: [&str; 3] = ["t1", "t2", "other/t3"];
const PROXIES: [&str; 5] = ["p0", "p1", "p2", "p3", "p4"];
const EXTENSIONS: [&str; 3] = ["e1", "e2", "gone"];

/// The universe's certificates: two valid, for any host.
struct Certs {
    valid: [Pem; 2],
}

fn meta(rng: &mut Rng, namespace: &str, name: &str) -> Value {
    json!({"name": name, "namespace": namespace, "generation": 1 + rng.below(3)})
}

fn backend(rng: &mut Rng) -> Value {
    let port = match rng.below(10) {
        0..=4 => json!({"number": 80}),
        5..=8 => json!({"name": "http"}),
        _ => json!({"number": 81}),
    };
    json!({"service": {"name": rng.pick(&SERVICES), "port": port}})
}

fn ingress(rng: &mut Rng, namespace: &str, name: &str) -> Value {
    let mut metadata = meta(rng, namespace, name);
    match rng.below(8) {
        0 => metadata["annotations"] = json!({"kubernetes.io/ingress.class": "ic"}),
        1 => metadata["annotations"] = json!({"kubernetes.io/ingress.allow-http": "false"}),
        _ => {}
    }
    let rules: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| {
            let paths: Vec<Value> = (0..1 + rng.below(2))
                .map(|_| json!({"path": rng.pick(&PATHS), "pathType": "Prefix", "backend": backend(rng)}))
                .collect();
            json!({"host": rng.pick(&HOSTS), "http": {"paths": paths}})
        })
        .collect();
    let mut spec = json!({"rules": rules});
    if rng.chance(15) {
        spec["defaultBackend"] = backend(rng);
    }
    if rng.chance(40) {
        let hosts: Vec<&str> = (0..1 + rng.below(2)).map(|_| *rng.pick(&HOSTS)).collect();
        spec["tls"] = json!([{"hosts": hosts, "secretName": rng.pick(&SECRETS)}]);
    }
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec})
}

fn proxy(rng: &mut Rng, namespace: &str, name: &str) -> Value {
    let mut spec = json!({});
    let root = rng.chance(50);
    if root {
        let mut vhost = json!({"fqdn": rng.pick(&HOSTS[..4])});
        if rng.chance(40) {
            let secret = rng.pick(&SECRETS);
            vhost["tls"] =
                json!({"secretName": secret, "enableFallbackCertificate": rng.chance(30)});
        }
        if rng.chance(30) {
            let mut auth =
                json!({"extensionRef": {"name": rng.pick(&EXTENSIONS), "namespace": "default"}});
            if rng.chance(30) {
                auth["authPolicy"] = json!({"context": {"k": "v"}, "disabled": rng.chance(30)});
            }
            vhost["authorization"] = auth;
        }
        if rng.chance(20) {
            vhost["rateLimitPolicy"] = json!({"global": global_policy(rng)});
        }
        if rng.chance(if vhost.get("tls").is_some() { 60 } else { 10 }) {
            vhost["jwtProviders"] = jwt_providers(rng);
        }
        spec["virtualhost"] = vhost;
    }
    if root && rng.chance(15) {
        spec["virtualhost"]["tls"] = json!({"passthrough": true});
        spec["tcpproxy"] = if rng.chance(50) {
            json!({"services": [{"name": rng.pick(&SERVICES), "port": 80}]})
        } else {
            json!({"include": {"name": rng.pick(&PROXIES), "namespace": rng.pick(&NAMESPACES)}})
        };
    } else if !root && rng.chance(10) {
        spec["tcpproxy"] = json!({"services": [{"name": rng.pick(&SERVICES), "port": 80}]});
    }
    let routes: Vec<Value> = (0..rng.below(3))
        .map(|_| {
            let mut route = json!({
                "conditions": [{"prefix": rng.pick(&PATHS)}],
                "services": [{"name": rng.pick(&SERVICES), "port": 80}],
                "permitInsecure": rng.chance(20),
            });
            if rng.chance(20) {
                route["authPolicy"] = json!({"disabled": rng.chance(50), "context": {"r": "1"}});
            }
            if rng.chance(15) {
                route["rateLimitPolicy"] = json!({"global": global_policy(rng)});
            }
            if rng.chance(20) {
                route["jwtVerificationPolicy"] = match rng.below(3) {
                    0 => json!({"disabled": true}),
                    _ => json!({"require": rng.pick(&JWT_PROVIDERS)}),
                };
            }
            route
        })
        .collect();
    spec["routes"] = json!(routes);
    let includes: Vec<Value> = (0..rng.below(3))
        .map(|_| {
            let mut include = json!({"name": rng.pick(&PROXIES), "conditions": [{"prefix": rng.pick(&PATHS[1..])}]});
            if rng.chance(30) {
                include["namespace"] = json!(rng.pick(&NAMESPACES));
            }
            include
        })
        .collect();
    spec["includes"] = json!(includes);
    if rng.chance(8) {
        spec["ingressClassName"] = json!("ic");
    }
    json!({"apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy", "metadata": meta(rng, namespace, name), "spec": spec})
}

/// JWT provider names, the last one never defined.
const JWT_PROVIDERS: [&str; 3] = ["p", "q", "undefined"];
/// JWKS URIs: two share a host, so hosts of different parts share a JWKS cluster.
const JWKS_URIS: [&str; 4] = [
    "http://keys.example.com/a",
    "http://keys.example.com/b",
    "https://keys.example.com/c",
    "ftp://keys.example.com/bad",
];

/// One or two JWT providers, sometimes invalid (a bad URI, two defaults, a duplicate name), some
/// verifying their server with a CA Secret or asking DNS for IPv4 only.
fn jwt_providers(rng: &mut Rng) -> Value {
    let providers: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| {
            let mut remote = json!({"uri": rng.pick(&JWKS_URIS)});
            if rng.chance(25) {
                remote["dnsLookupFamily"] = json!("v4");
            }
            if rng.chance(20) {
                remote["validation"] = json!({"caSecret": rng.pick(&SECRETS)});
            }
            json!({
                "name": rng.pick(&JWT_PROVIDERS[..2]),
                "default": rng.chance(50),
                "remoteJWKS": remote,
            })
        })
        .collect();
    json!(providers)
}

fn service(rng: &mut Rng, namespace: &str, name: &str) -> Value {
    let mut metadata = meta(rng, namespace, name);
    match rng.below(4) {
        0 => metadata["annotations"] = json!({"projectsesame.io/max-connections": "lots"}),
        1 => metadata["annotations"] = json!({"projectsesame.io/upstream-protocol.tls": "80"}),
        _ => {}
    }
    let ports = match rng.below(10) {
        0 => json!([{"port": 8080}]),
        // Two ports of one number (TCP and UDP): by number and by name they are two ports.
        1 => json!([{"port": 80}, {"name": "http", "port": 80, "protocol": "UDP"}]),
        _ => json!([{"port": 80}, {"name": "http", "port": 8080}]),
    };
    json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {"ports": ports}})
}

fn secret(rng: &mut Rng, certs: &Certs, namespace: &str, name: &str) -> Value {
    let (crt, key) = match rng.below(3) {
        2 => ("not a certificate".to_string(), "not a key".to_string()),
        i => (certs.valid[i].crt.clone(), certs.valid[i].key.clone()),
    };
    tls_secret(namespace, name, &crt, &key)
}

fn tls_secret(namespace: &str, name: &str, crt: &str, key: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls", "stringData": {"tls.crt": crt, "tls.key": key},
    })
}

fn delegation(rng: &mut Rng) -> Value {
    let targets = if rng.chance(50) {
        json!(["default"])
    } else {
        json!(["*"])
    };
    json!({
        "apiVersion": "projectsesame.io/v1", "kind": "TLSCertificateDelegation",
        "metadata": {"name": "d", "namespace": "other"},
        "spec": {"delegations": [{"secretName": "t3", "targetNamespaces": targets}]},
    })
}

/// A global rate limit policy: disabled, valid descriptors, or (rarely) an invalid entry.
fn global_policy(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => json!({"disabled": true}),
        1 => {
            json!({"descriptors": [{"entries": [{"remoteAddress": {}, "genericKey": {"value": "x"}}]}]})
        }
        _ => {
            json!({"descriptors": [{"entries": [{"genericKey": {"value": rng.pick(&PATHS)}}, {"remoteAddress": {}}]}]})
        }
    }
}

fn extension_service(rng: &mut Rng, name: &str) -> Value {
    let services: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| {
            let port = if rng.chance(80) { 80 } else { 81 };
            json!({"name": rng.pick(&SERVICES), "port": port, "weight": rng.below(3)})
        })
        .collect();
    let mut spec = json!({"services": services});
    if rng.chance(30) {
        spec["protocol"] = json!("h2c");
    }
    if rng.chance(20) {
        spec["validation"] = json!({"caSecret": rng.pick(&SECRETS), "subjectName": "ext"});
    }
    if rng.chance(20) {
        spec["timeoutPolicy"] = json!({"response": "1s"});
    }
    json!({
        "apiVersion": "projectsesame.io/v1alpha1", "kind": "ExtensionService",
        "metadata": meta(rng, "default", name), "spec": spec,
    })
}

fn ingress_class(rng: &mut Rng) -> Value {
    let controller = if rng.chance(50) {
        crate::build::INGRESS_CONTROLLER
    } else {
        "example.com/other"
    };
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "ic"}, "spec": {"controller": controller},
    })
}

/// One random change: an apply or a delete of an object of the universe.
fn change(rng: &mut Rng, certs: &Certs) -> Change {
    let namespace = if rng.chance(80) {
        NAMESPACES[0]
    } else {
        NAMESPACES[1]
    };
    let (kind, value) = match rng.below(30) {
        0..=5 => {
            let name = format!("i{}", rng.below(4));
            (Kind::Ingress, ingress(rng, namespace, &name))
        }
        6..=12 => {
            let name = *rng.pick(&PROXIES);
            (Kind::HTTPProxy, proxy(rng, namespace, name))
        }
        13..=15 => {
            let name = *rng.pick(&SERVICES[..2]);
            (Kind::Service, service(rng, namespace, name))
        }
        16..=17 => {
            let name = *rng.pick(&["t1", "t2", "t3", "client", "fallback"]);
            let namespace = if name == "t3" { "other" } else { "default" };
            (Kind::Secret, secret(rng, certs, namespace, name))
        }
        18 => (Kind::TLSCertificateDelegation, delegation(rng)),
        19 => (Kind::IngressClass, ingress_class(rng)),
        20..=21 => {
            let name = *rng.pick(&EXTENSIONS[..2]);
            (Kind::ExtensionService, extension_service(rng, name))
        }
        22..=24 => gateway::frontend_config_map(rng, &certs.valid[0].crt),
        _ => gateway::object(rng, namespace),
    };
    let object = object(value);
    if rng.chance(20) {
        let name = object.key().name;
        Change::Delete(ObjectKey::new(kind, name))
    } else {
        Change::Apply(object)
    }
}

fn configs() -> Vec<BuildConfig> {
    let mut rich = BuildConfig {
        fallback_certificate: Some(NamespacedName::new("default", "fallback")),
        ..BuildConfig::default()
    };
    rich.upstream.client_certificate = Some(NamespacedName::new("default", "client"));
    rich.default_global_rate_limit = Some(crate::dag::GlobalRateLimit {
        descriptors: vec![crate::dag::RateLimitDescriptor {
            entries: vec![crate::dag::DescriptorEntry::RemoteAddress],
        }],
    });
    rich.gateway = Some(gateway::config());
    // Every Gateway of the class, on pool addresses.
    let gateway = BuildConfig {
        gateway: Some(gateway::multi_config()),
        ..BuildConfig::default()
    };
    vec![BuildConfig::default(), rich, gateway]
}

/// How many steps of a run ended with: a host that verifies JWTs, routes on a Gateway
/// listener, an HTTPS Gateway listener, a backend a BackendTLSPolicy applies to.
#[derive(Default)]
struct Seen {
    jwt: usize,
    gateway: usize,
    https_gateway: usize,
    backend_tls: usize,
}

/// Runs `steps` random steps; returns what the steps ended with.
fn run(seed: u64, config: &BuildConfig, certs: &Certs, steps: usize) -> Seen {
    let mut rng = Rng(seed);
    let mut snapshot = Snapshot::new();
    for namespace in NAMESPACES {
        for name in &SERVICES[..2] {
            snapshot.apply(Change::Apply(object(service(&mut rng, namespace, name))));
        }
    }
    for (namespace, name) in [
        ("default", "t1"),
        ("default", "t2"),
        ("other", "t3"),
        ("default", "client"),
        ("default", "fallback"),
    ] {
        let pem = &certs.valid[0];
        snapshot.apply(Change::Apply(object(tls_secret(
            namespace, name, &pem.crt, &pem.key,
        ))));
    }
    for start in gateway::start(&mut rng, &certs.valid[0].crt) {
        snapshot.apply(Change::Apply(object(start)));
    }
    // BackendTLSPolicies and a route to their Services from the start: policies are rare
    // among the changes, and random routes rarely meet them.
    for _ in 0..2 {
        let policy = gateway::backend_tls_policy(&mut rng, "default");
        snapshot.apply(Change::Apply(object(policy)));
    }
    snapshot.apply(Change::Apply(object(gateway::route_to_every_service())));
    for _ in 0..rng.below(12) {
        snapshot.apply(change(&mut rng, certs));
    }
    let mut incremental = IncrementalBuild::new(&snapshot, config);
    assert_eq!(
        *incremental.output(),
        build(&snapshot, config),
        "seed {seed}: initial build"
    );
    let mut seen = Seen::default();
    for step in 0..steps {
        let mut changed = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let change = change(&mut rng, certs);
            let key = change.key();
            if snapshot.apply(change).is_some() {
                changed.push(key);
            }
        }
        let before = incremental.output().clone();
        let delta = incremental.update(&snapshot, &changed);
        let expected = build(&snapshot, config);
        assert_eq!(
            *incremental.output(),
            expected,
            "seed {seed} step {step}: after changes to {changed:?}"
        );
        let exact = BuildDelta {
            full: delta.full,
            ..BuildDelta::between(&before, &expected)
        };
        assert_eq!(
            delta, exact,
            "seed {seed} step {step}: delta of {changed:?}"
        );
        let mut users: BTreeMap<&str, usize> = BTreeMap::new();
        for vhost in expected.dag.https.values() {
            let clusters: BTreeSet<&str> = (vhost.jwt_providers.iter())
                .map(|p| p.remote_jwks.cluster.as_str())
                .collect();
            for cluster in clusters {
                *users.entry(cluster).or_default() += 1;
            }
        }
        seen.jwt += usize::from(!users.is_empty());
        seen.gateway += usize::from(
            expected
                .dag
                .gateway_listeners
                .values()
                .any(|l| l.virtual_hosts.values().any(|v| !v.routes.is_empty())),
        );
        seen.https_gateway += usize::from(
            expected
                .dag
                .gateway_listeners
                .values()
                .any(|l| !l.tls.is_empty()),
        );
        seen.backend_tls += usize::from(
            (expected.dag.clusters.values())
                .any(|c| c.upstream_validation.is_some() && c.sni.is_some()),
        );
    }
    seen
}

#[test]
fn random_changes_build_what_a_full_build_builds() {
    let certs = Certs {
        valid: [cert(&["a.com", "*.c.com"]), cert(&["b.com"])],
    };
    let seeds: u64 = std::env::var("SESAME_INCREMENTAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let mut seen = Seen::default();
    for config in configs() {
        for seed in 0..seeds {
            let run = run(seed, &config, &certs, 40);
            seen.jwt += run.jwt;
            seen.gateway += run.gateway;
            seen.https_gateway += run.https_gateway;
            seen.backend_tls += run.backend_tls;
        }
    }
    assert!(
        seeds < 40 || seen.https_gateway > 20,
        "only {} steps had an HTTPS Gateway listener",
        seen.https_gateway
    );
    // And Gateway listeners with routes.
    assert!(
        seeds < 40 || seen.gateway > 100,
        "only {} steps had routes on a Gateway listener",
        seen.gateway
    );
    // And backends that a BackendTLSPolicy makes speak TLS.
    assert!(
        seeds < 40 || seen.backend_tls > 10,
        "only {} steps had a backend under a BackendTLSPolicy",
        seen.backend_tls
    );
    // The universe does reach hosts that verify JWTs (with a JWKS cluster each).
    assert!(
        seeds < 40 || seen.jwt > 0,
        "no step had a host verifying JWTs"
    );
}

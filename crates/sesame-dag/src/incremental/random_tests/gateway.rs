//! Random Gateway API objects for the incremental property test: one GatewayClass and two
//! Gateways (either may be someone else's; random `spec.addresses`), HTTPRoutes, GRPCRoutes, TLSRoutes and TCPRoutes
//! that attach or not, a ReferenceGrant, labelled Namespaces for a listener's namespace
//! selector, the CA ConfigMaps of the Gateway's client certificate validation, and
//! BackendTLSPolicies (whose CA bundles are those ConfigMaps).

use serde_json::{Value, json};

use super::{HOSTS, NAMESPACES, PATHS, Rng, SERVICES};
use crate::build::GatewayConfig;
use crate::object::{Kind, NamespacedName};

/// The Gateway API config of the test: Sesame serves `default/gw`.
pub(super) fn config() -> GatewayConfig {
    GatewayConfig {
        controller_name: "projectsesame.io/gateway-controller".to_string(),
        gateway_ref: Some(NamespacedName::new("default", "gw")),
        reserved_ports: vec![8002],
        addresses: Vec::new(),
    }
}

/// The Gateway API config serving every Gateway of the class, on addresses of a pool of two.
pub(super) fn multi_config() -> GatewayConfig {
    GatewayConfig {
        gateway_ref: None,
        addresses: vec![sesame_api::cidr::Cidr::parse("127.0.0.2/31").expect("a range")],
        ..config()
    }
}

/// The Gateways: `gw`, and `gw2` of the same class.
const GATEWAYS: [&str; 2] = ["gw", "gw2"];

/// A random `spec.addresses`, mostly none: a pool address, one outside it, an unsupported
/// type, an entry without a value.
fn addresses(rng: &mut Rng) -> Option<Value> {
    Some(match rng.below(10) {
        0 => json!([{"value": "127.0.0.3"}]),
        1 => json!([{"type": "IPAddress", "value": "10.9.9.9"}]),
        2 => json!([{"type": "Hostname", "value": "gw.example.com"}]),
        3 => json!([{"type": "IPAddress"}]),
        _ => return None,
    })
}

/// HTTPRoute names.
const ROUTES: [&str; 3] = ["r0", "r1", "r2"];

fn class(rng: &mut Rng) -> Value {
    let controller = if rng.chance(80) {
        "projectsesame.io/gateway-controller"
    } else {
        "example.com/other"
    };
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "gc", "generation": 1 + rng.below(2)},
        "spec": {"controllerName": controller},
    })
}

fn gateway(rng: &mut Rng) -> Value {
    let cert = *rng.pick(&["t1", "t2", "missing"]);
    let all = [
        json!({"name": "f", "port": 443, "protocol": "HTTPS", "hostname": "a.com",
            "tls": {"certificateRefs": [{"name": cert}]}, "allowedRoutes": {"namespaces": {"from": "All"}}}),
        json!({"name": "g", "port": 443, "protocol": "HTTPS",
            "tls": {"certificateRefs": [{"name": "t3", "namespace": "other"}]}}),
        json!({"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}),
        json!({"name": "b", "port": 81, "protocol": "HTTP", "hostname": "*.c.com"}),
        json!({"name": "c", "port": 80, "protocol": "HTTP", "hostname": "a.com"}),
        json!({"name": "d", "port": 82, "protocol": "TCP"}),
        json!({"name": "e", "port": 81, "protocol": "HTTP", "hostname": "*.c.com"}),
        json!({"name": "h", "port": 83, "protocol": "HTTP", "allowedRoutes": {"namespaces": {
            "from": "Selector", "selector": {"matchLabels": {"team": "web"}}}}}),
        json!({"name": "t", "port": 443, "protocol": "TLS", "hostname": "*.c.com",
            "tls": {"mode": "Passthrough"}, "allowedRoutes": {"namespaces": {"from": "All"}}}),
        json!({"name": "u", "port": 8443, "protocol": "TLS",
            "tls": {"mode": "Terminate", "certificateRefs": [{"name": cert}]}}),
    ];
    let listeners: Vec<Value> = all.into_iter().filter(|_| rng.chance(60)).collect();
    let class = if rng.chance(90) { "gc" } else { "nope" };
    let name = if rng.chance(70) { "gw" } else { "gw2" };
    let mut gateway = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": "default", "generation": 1 + rng.below(3),
            "creationTimestamp": format!("2026-01-0{}T00:00:00Z", 1 + rng.below(3))},
        "spec": {"gatewayClassName": class, "listeners": listeners},
    });
    if let Some(addresses) = addresses(rng) {
        gateway["spec"]["addresses"] = addresses;
    }
    if rng.chance(50) {
        gateway["spec"]["tls"] = json!({"frontend": frontend(rng)});
    }
    if rng.chance(40) {
        // The certificate presented to TLS backends: valid, missing, or not granted.
        let (name, namespace) =
            *rng.pick(&[("t1", "default"), ("missing", "default"), ("t3", "other")]);
        gateway["spec"]["tls"]["backend"] =
            json!({"clientCertificateRef": {"name": name, "namespace": namespace}});
    }
    gateway
}

/// The CA ConfigMaps a Gateway's `spec.tls.frontend` may name: (namespace, name).
const CA_CONFIG_MAPS: [(&str, &str); 3] =
    [("default", "ca1"), ("default", "ca2"), ("other", "ca3")];

/// A random `spec.tls.frontend`: a default validation and perhaps a perPort one on 443 or
/// 8443, each of one to two references (the CA ConfigMaps, missing ones, one across
/// namespaces, a Secret, a Service) and either mode.
fn frontend(rng: &mut Rng) -> Value {
    let validation = |rng: &mut Rng| {
        let refs: Vec<Value> = (0..1 + rng.below(2))
            .map(|_| match rng.below(8) {
                0 => json!({"group": "", "kind": "Service", "name": "s1"}),
                1 => json!({"group": "", "kind": "Secret", "name": "t1"}),
                2 => json!({"group": "", "kind": "ConfigMap", "name": "missing"}),
                _ => {
                    let (namespace, name) = *rng.pick(&CA_CONFIG_MAPS);
                    json!({"group": "", "kind": "ConfigMap", "name": name, "namespace": namespace})
                }
            })
            .collect();
        let mut v = json!({"caCertificateRefs": refs});
        if rng.chance(50) {
            v["mode"] = json!(rng.pick(&["AllowValidOnly", "AllowInsecureFallback"]));
        }
        v
    };
    let mut frontend = json!({"default": {"validation": validation(rng)}});
    if rng.chance(50) {
        let port = *rng.pick(&[443, 8443]);
        frontend["perPort"] = json!([{"port": port, "tls": {"validation": validation(rng)}}]);
    }
    frontend
}

/// The Gateway API objects a run starts with: the class and the Gateway, and every CA
/// ConfigMap of [`CA_CONFIG_MAPS`] with the valid bundle `ca` (so that client certificate
/// validation is served often enough to be changed).
pub(super) fn start(rng: &mut Rng, ca: &str) -> Vec<Value> {
    let mut out = vec![class(rng), gateway(rng), gateway(rng)];
    out.extend(
        (CA_CONFIG_MAPS.iter())
            .map(|(namespace, name)| config_map(namespace, name, json!({"ca.crt": ca}))),
    );
    out
}

fn config_map(namespace: &str, name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}, "data": data,
    })
}

/// A CA ConfigMap of [`CA_CONFIG_MAPS`]: `ca.crt` a valid bundle (`ca`), garbage, or absent;
/// or, now and then, the ReferenceGrant letting the Gateway use `other`'s.
pub(super) fn frontend_config_map(rng: &mut Rng, ca: &str) -> (Kind, Value) {
    if rng.chance(15) {
        let grant = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ReferenceGrant",
            "metadata": {"name": "ca", "namespace": "other"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default"}],
                "to": [{"group": "", "kind": "ConfigMap"}]},
        });
        return (Kind::ReferenceGrant, grant);
    }
    let (namespace, name) = *rng.pick(&CA_CONFIG_MAPS);
    let data = match rng.below(4) {
        0 => json!({"ca.crt": "not a certificate"}),
        1 => json!({}),
        _ => json!({"ca.crt": ca}),
    };
    (Kind::ConfigMap, config_map(namespace, name, data))
}

fn route(rng: &mut Rng, namespace: &str, name: &str) -> Value {
    let gateway = if rng.chance(90) {
        *rng.pick(&GATEWAYS)
    } else {
        "other"
    };
    let mut parent = json!({"name": gateway, "namespace": "default"});
    if rng.chance(30) {
        parent["sectionName"] = json!(rng.pick(&["a", "b", "c", "f", "z"]));
    }
    // Some routes name both Gateways.
    let mut parents = vec![parent];
    if rng.chance(25) {
        parents.push(json!({"name": rng.pick(&GATEWAYS), "namespace": "default"}));
    }
    let hostnames: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&HOSTS[..4])).collect();
    let rules: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| {
            let backends: Vec<Value> = (0..rng.below(3))
                .map(|_| {
                    let mut b = json!({"name": rng.pick(&SERVICES), "port": 80, "weight": rng.below(3)});
                    if rng.chance(20) {
                        b["namespace"] = json!(rng.pick(&NAMESPACES));
                    }
                    b
                })
                .collect();
            let mut rule = json!({
                "matches": [{"path": {"type": if rng.chance(50) { "PathPrefix" } else { "Exact" }, "value": rng.pick(&PATHS)}}],
                "backendRefs": backends,
            });
            match rng.below(6) {
                0 => rule["filters"] = json!([{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1"}]}}]),
                1 => rule["filters"] = json!([{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]),
                2 => rule["filters"] = json!([{"type": "URLRewrite", "urlRewrite": {"hostname": "x.com"}}]),
                _ => {}
            }
            rule
        })
        .collect();
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "generation": 1 + rng.below(3),
            "creationTimestamp": format!("2026-01-0{}T00:00:00Z", 1 + rng.below(3))},
        "spec": {"parentRefs": parents, "hostnames": hostnames, "rules": rules},
    })
}

/// A Namespace whose labels the selector listener `h` may or may not pick.
fn labelled_namespace(rng: &mut Rng) -> Value {
    let team = *rng.pick(&["web", "api"]);
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": rng.pick(&NAMESPACES), "labels": {"team": team}},
    })
}

/// A GRPCRoute like [`route`]'s HTTPRoutes (same names, hosts and backends), its rules
/// matching a gRPC method; it shares hosts with the HTTPRoutes, so either may be refused.
fn grpc_route(rng: &mut Rng, namespace: &str, name: &str) -> Value {
    let mut out = route(rng, namespace, name);
    out["kind"] = json!("GRPCRoute");
    for rule in out["spec"]["rules"].as_array_mut().into_iter().flatten() {
        let mut method = json!({"service": rng.pick(&["a.A", "b.B"])});
        if rng.chance(50) {
            method["method"] = json!(rng.pick(&["Get", "Put"]));
        }
        rule["matches"] = json!([{"method": method}]);
        if rule["filters"][0]["type"] != "RequestHeaderModifier" {
            rule.as_object_mut().map(|r| r.remove("filters"));
        }
    }
    out
}

fn grant(rng: &mut Rng) -> Value {
    if rng.chance(30) {
        return json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ReferenceGrant",
            "metadata": {"name": "g", "namespace": "other"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default"}],
                "to": [{"group": "", "kind": "Secret"}]},
        });
    }
    let from = *rng.pick(&["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"]);
    let to = if rng.chance(50) {
        json!([{"group": "", "kind": "Service"}])
    } else {
        json!([{"group": "", "kind": "Service", "name": "s1"}])
    };
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ReferenceGrant",
        "metadata": {"name": "g", "namespace": "other"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": from, "namespace": "default"}], "to": to},
    })
}

/// A TLSRoute or a TCPRoute (`kind`), attached to the TLS and TCP listeners or not.
fn stream_route(rng: &mut Rng, namespace: &str, name: &str, kind: Kind) -> Value {
    let mut parent = json!({"name": "gw", "namespace": "default"});
    if rng.chance(50) {
        parent["sectionName"] = json!(rng.pick(&["d", "t", "u", "a"]));
    }
    let backends: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| {
            let mut b = json!({"name": rng.pick(&SERVICES), "port": 80, "weight": rng.below(3)});
            if rng.chance(20) {
                b["namespace"] = json!(rng.pick(&NAMESPACES));
            }
            b
        })
        .collect();
    let mut spec = json!({"parentRefs": [parent], "rules": [{"backendRefs": backends}]});
    if kind == Kind::TLSRoute {
        let hostnames: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&HOSTS[..4])).collect();
        spec["hostnames"] = json!(hostnames);
    }
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": kind.as_str(),
        "metadata": {"name": name, "namespace": namespace, "generation": 1 + rng.below(3),
            "creationTimestamp": format!("2026-01-0{}T00:00:00Z", 1 + rng.below(3))},
        "spec": spec,
    })
}

/// A route to both Services on the Gateway, to start from: random routes rarely meet the
/// Services' BackendTLSPolicies.
pub(super) fn route_to_every_service() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": ROUTES[0], "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw"}, {"name": "gw2"}], "rules": [{"backendRefs": [
            {"name": SERVICES[0], "port": 80}, {"name": SERVICES[1], "port": 80}]}]},
    })
}

/// A BackendTLSPolicy on a Service (one of its ports, or all), with a CA bundle from a
/// ConfigMap that may be missing or invalid, or of another kind.
pub(super) fn backend_tls_policy(rng: &mut Rng, namespace: &str) -> Value {
    let mut target = json!({"group": "", "kind": "Service", "name": rng.pick(&SERVICES[..2])});
    if rng.chance(15) {
        target["sectionName"] = json!("http");
    }
    let ca = match rng.below(8) {
        0 => json!({"group": "example.com", "kind": "Bundle", "name": "ca0"}),
        1 => json!({"group": "", "kind": "ConfigMap", "name": "missing"}),
        2 => json!({"group": "", "kind": "ConfigMap", "name": CA_CONFIG_MAPS[1].1}),
        _ => json!({"group": "", "kind": "ConfigMap", "name": CA_CONFIG_MAPS[0].1}),
    };
    // A wildcard hostname now and then, which refuses the policy.
    let hostname = if rng.chance(10) {
        "*.c.com"
    } else {
        *rng.pick(&["a.com", "x.c.com"])
    };
    let mut validation = json!({"caCertificateRefs": [ca], "hostname": hostname});
    if rng.chance(20) {
        validation["subjectAltNames"] = json!([{"type": "URI", "uri": "spiffe://c/ns/default"}]);
    }
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy",
        "metadata": {"name": rng.pick(&["p0", "p1"]), "namespace": namespace,
            "generation": 1 + rng.below(3),
            "creationTimestamp": format!("2026-01-0{}T00:00:00Z", 1 + rng.below(3))},
        "spec": {"targetRefs": [target], "validation": validation},
    })
}

/// One random Gateway API object, with its kind.
pub(super) fn object(rng: &mut Rng, namespace: &str) -> (Kind, Value) {
    match rng.below(12) {
        11 => (Kind::BackendTLSPolicy, backend_tls_policy(rng, namespace)),
        0 => (Kind::GatewayClass, class(rng)),
        8 => (Kind::Namespace, labelled_namespace(rng)),
        1..=2 => (Kind::Gateway, gateway(rng)),
        3 => (Kind::ReferenceGrant, grant(rng)),
        4..=5 => {
            let name = *rng.pick(&ROUTES);
            match rng.below(3) {
                0 => (Kind::GRPCRoute, grpc_route(rng, namespace, name)),
                n => {
                    let kind = [Kind::TLSRoute, Kind::TCPRoute][n - 1];
                    (kind, stream_route(rng, namespace, name, kind))
                }
            }
        }
        _ => {
            let name = *rng.pick(&ROUTES);
            (Kind::HTTPRoute, route(rng, namespace, name))
        }
    }
}

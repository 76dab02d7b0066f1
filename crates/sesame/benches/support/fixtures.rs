//! Fixtures for the benchmarks: N Ingresses, each with its own host, Service and EndpointSlice.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sesame_dag::Object;

fn meta(name: &str, labels: Option<(&str, &str)>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some("bench".to_string()),
        labels: labels.map(|(k, v)| [(k.to_string(), v.to_string())].into()),
        generation: Some(1),
        ..Default::default()
    }
}

/// The Ingress number `i`, routing host `app-<i>.bench.example.com` to Service `app-<i>` (or
/// `target` when given).
pub fn ingress(i: usize, target: Option<&str>) -> Ingress {
    let service = target
        .map(str::to_string)
        .unwrap_or_else(|| format!("app-{i}"));
    Ingress {
        metadata: meta(&format!("app-{i}"), None),
        spec: Some(IngressSpec {
            rules: Some(vec![IngressRule {
                host: Some(format!("app-{i}.bench.example.com")),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_string()),
                        path_type: "Prefix".to_string(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: service,
                                port: Some(ServiceBackendPort {
                                    number: Some(80),
                                    name: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The Service `app-<i>`.
pub fn service(i: usize) -> Service {
    Service {
        metadata: meta(&format!("app-{i}"), None),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("http".to_string()),
                port: 80,
                target_port: Some(
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080),
                ),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The EndpointSlice of Service `app-<i>`: three ready endpoints on port `port`.
pub fn endpoint_slice(i: usize, port: i32) -> EndpointSlice {
    EndpointSlice {
        metadata: meta(
            &format!("app-{i}-1"),
            Some(("kubernetes.io/service-name", &format!("app-{i}"))),
        ),
        address_type: "IPv4".to_string(),
        endpoints: (1..=3)
            .map(|n| Endpoint {
                addresses: vec![format!("127.0.{}.{}", (i / 250) % 250, n + (i % 250) % 250)],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("http".to_string()),
            port: Some(port),
            protocol: Some("TCP".to_string()),
            app_protocol: None,
        }]),
    }
}

/// The three objects of fixture `i`.
#[allow(dead_code)]
pub fn objects(i: usize) -> [Object; 3] {
    [
        Object::Ingress(Arc::new(ingress(i, None).into())),
        Object::Service(Arc::new(service(i).into())),
        Object::EndpointSlice(Arc::new(endpoint_slice(i, 8080).into())),
    ]
}

/// The objects of HTTPProxy fixture `i`. Every fourth HTTPProxy is a root
/// (`app-<g>.bench.example.com`, `g = i / 4`) with a route and three includes; the other three are
/// its children, each with three routes: a prefix with retry and timeout policies, a header
/// condition splitting 90/10 between the group's two Services, and an exact path answered
/// directly. A root also brings the group's two Services and their EndpointSlices.
#[allow(dead_code)]
pub fn httpproxy_objects(i: usize) -> Vec<Object> {
    let g = i / 4;
    let proxy = if i.is_multiple_of(4) {
        serde_json::json!({
            "apiVersion": "projectsesame.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": format!("root-{g}"), "namespace": "bench", "generation": 1},
            "spec": {
                "virtualhost": {"fqdn": format!("app-{g}.bench.example.com")},
                "routes": [{"services": [{"name": format!("app-{g}"), "port": 80}]}],
                "includes": (1..=3).map(|c| serde_json::json!({
                    "name": format!("child-{g}-{c}"),
                    "conditions": [{"prefix": format!("/team{c}")}],
                })).collect::<Vec<_>>(),
            },
        })
    } else {
        let c = i % 4;
        serde_json::json!({
            "apiVersion": "projectsesame.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": format!("child-{g}-{c}"), "namespace": "bench", "generation": 1},
            "spec": {"routes": [
                {
                    "conditions": [{"prefix": "/api"}],
                    "services": [{"name": format!("app-{g}"), "port": 80}],
                    "timeoutPolicy": {"response": "30s"},
                    "retryPolicy": {"count": 2, "perTryTimeout": "5s"},
                },
                {
                    "conditions": [{"prefix": "/api"}, {"header": {"name": "x-canary", "exact": "true"}}],
                    "services": [
                        {"name": format!("app-{g}"), "port": 80, "weight": 90},
                        {"name": format!("app-{g}-canary"), "port": 80, "weight": 10},
                    ],
                },
                {
                    "conditions": [{"exact": "/healthz"}],
                    "directResponsePolicy": {"statusCode": 200, "body": "ok"},
                },
            ]},
        })
    };
    let mut objects = vec![Object::HTTPProxy(Arc::new(
        serde_json::from_value(proxy).expect("fixture HTTPProxy decodes"),
    ))];
    if i.is_multiple_of(4) {
        for (n, name) in [
            (2 * g, format!("app-{g}")),
            (2 * g + 1, format!("app-{g}-canary")),
        ] {
            let mut svc = service(n);
            svc.metadata.name = Some(name.clone());
            let mut slice = endpoint_slice(n, 8080);
            slice.metadata.name = Some(format!("{name}-1"));
            slice.metadata.labels = Some([("kubernetes.io/service-name".to_string(), name)].into());
            objects.push(Object::Service(Arc::new(svc.into())));
            objects.push(Object::EndpointSlice(Arc::new(slice.into())));
        }
    }
    objects
}

/// A manifest (JSON, one `List`) of fixtures `range`, for `sesame serve --manifests`.
#[allow(dead_code)]
pub fn manifest(range: std::ops::Range<usize>, port: i32) -> String {
    let mut items = Vec::with_capacity(range.len() * 3);
    for i in range {
        items.push(with_type(
            serde_json::to_value(ingress(i, None)),
            "networking.k8s.io/v1",
            "Ingress",
        ));
        items.push(with_type(serde_json::to_value(service(i)), "v1", "Service"));
        items.push(with_type(
            serde_json::to_value(endpoint_slice(i, port)),
            "discovery.k8s.io/v1",
            "EndpointSlice",
        ));
    }
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// A JSON object with its `apiVersion` and `kind` set.
pub fn with_type(
    value: Result<serde_json::Value, serde_json::Error>,
    api_version: &str,
    kind: &str,
) -> serde_json::Value {
    let mut value = value.unwrap_or_default();
    value["apiVersion"] = api_version.into();
    value["kind"] = kind.into();
    value
}

/// The probe Ingress (`probe` in `namespace`, YAML, in a file of its own): host
/// `probe.bench.example.com`, one `Prefix` path `path`, to port 80 of Service `service`.
#[allow(dead_code)]
pub fn probe_ingress(namespace: &str, service: &str, path: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: probe, namespace: {namespace}}}\nspec:\n  rules:\n  - host: probe.bench.example.com\n    http:\n      paths:\n      - {{path: {path}, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n"
    )
}

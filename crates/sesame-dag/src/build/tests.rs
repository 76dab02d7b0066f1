//! Scenario tests: Ingress manifests in, virtual hosts, routes, clusters and status out.

use pretty_assertions::assert_eq;

use super::*;
use crate::dag::{
    Cluster, HeaderMatch, HeaderValueMatch, PathMatch, RouteAction, UpstreamProtocol,
};
use crate::object::NamespacedName;
use crate::snapshot::{Change, Impact};
use crate::status::{ProblemKind, Reason, Validity};
use crate::testutil::*;

const KUARD: &str = "
apiVersion: v1
kind: Service
metadata: {name: kuard, namespace: default}
spec:
  ports:
  - port: 80
  - name: http
    port: 8080
";

fn ingress(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default, generation: 3}}\nspec:\n{spec}"
    )
}

fn paths(out: &BuildOutput, host: &str) -> Vec<PathMatch> {
    http_vhost(out, host)
        .routes
        .iter()
        .map(|r| r.path.clone())
        .collect()
}

#[test]
fn default_backend_serves_every_host_at_root() {
    let out = build_yaml(&format!(
        "{KUARD}{}",
        ingress(
            "web",
            "  defaultBackend:\n    service: {name: kuard, port: {number: 80}}\n"
        )
    ));
    assert_eq!(out.dag.http.keys().collect::<Vec<_>>(), ["*"]);
    let vhost = http_vhost(&out, "*");
    assert_eq!(vhost.hostname, "*");
    assert_eq!(vhost.routes.len(), 1);
    assert_eq!(vhost.routes[0].path, PathMatch::Prefix("/".into()));
    assert!(vhost.routes[0].headers.is_empty());
    assert_eq!(vhost.routes[0].origin, ingress_key("web"));
    assert_eq!(cluster_of(&vhost.routes[0]), "default/kuard/80/da39a3ee5e");
    assert_eq!(
        out.dag.clusters.values().collect::<Vec<_>>(),
        [&Cluster {
            name: "default/kuard/80/da39a3ee5e".into(),
            service: NamespacedName::new("default", "kuard"),
            port: 80,
            port_name: String::new(),
            eds_name: "default/kuard".into(),
            protocol: UpstreamProtocol::Http1,
            circuit_breakers: Default::default(),
            lb_policy: Default::default(),
            health_check: None,
            slow_start: None,
            upstream_validation: None,
            idle_connection_timeout: None,
            connect_timeout: std::time::Duration::from_secs(2),
            external_name: None,
            sni: None,
            client_certificate: None,
            targets: Vec::new(),
            response_timeout: None,
        }]
    );
    assert!(out.dag.https.is_empty() && out.dag.secrets.is_empty());
    let status = status_of(&out, &ingress_key("web"));
    assert_eq!(status.current, Validity::Valid);
    assert_eq!(status.observed_generation, Some(3));
}

#[test]
fn each_path_type() {
    let out = build_yaml(&format!(
        "{KUARD}{}",
        ingress(
            "web",
            "  rules:
  - host: Foo.Example.com
    http:
      paths:
      - {path: /prefix/, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}
      - {path: /, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}
      - {path: /exact, pathType: Exact, backend: {service: {name: kuard, port: {name: http}}}}
      - {path: /plain, pathType: ImplementationSpecific, backend: {service: {name: kuard, port: {number: 80}}}}
      - {path: '/re/[0-9]+', pathType: ImplementationSpecific, backend: {service: {name: kuard, port: {number: 80}}}}
"
        )
    ));
    assert_eq!(
        paths(&out, "foo.example.com"),
        [
            PathMatch::Exact("/exact".into()),
            PathMatch::Regex("/re/[0-9]+".into()),
            PathMatch::SegmentPrefix("/prefix".into()),
            PathMatch::Prefix("/plain".into()),
            PathMatch::Prefix("/".into()),
        ]
    );
    let exact = &http_vhost(&out, "foo.example.com").routes[0];
    assert_eq!(cluster_of(exact), "default/kuard/8080/da39a3ee5e");
    assert_eq!(
        out.dag.clusters["default/kuard/8080/da39a3ee5e"].eds_name,
        "default/kuard/http"
    );
    assert_eq!(out.dag.clusters.len(), 2);
    assert_eq!(
        status_of(&out, &ingress_key("web")).current,
        Validity::Valid
    );
}

#[test]
fn empty_host_and_empty_path_mean_any_host_at_root() {
    let out = build_yaml(&format!(
        "{KUARD}{}",
        ingress(
            "web",
            "  rules:\n  - http:\n      paths:\n      - {pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}\n"
        )
    ));
    assert_eq!(paths(&out, "*"), [PathMatch::Prefix("/".into())]);
}

#[test]
fn wildcard_host_matches_one_label_only() {
    let out = build_yaml(&format!(
        "{KUARD}{}",
        ingress(
            "web",
            "  rules:\n  - host: '*.foo.com'\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}\n"
        )
    ));
    let route = &http_vhost(&out, "*.foo.com").routes[0];
    assert_eq!(
        route.headers,
        [HeaderMatch {
            name: ":authority".into(),
            value: HeaderValueMatch::Regex(
                r"(?i)^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.foo\.com(:[0-9]+)?$".into()
            ),
            invert: false,
            ignore_case: false,
        }]
    );
    let HeaderValueMatch::Regex(re) = &route.headers[0].value else {
        unreachable!()
    };
    let re = regex_automata::meta::Regex::new(re).unwrap();
    assert!(re.is_match("a.foo.com"));
    assert!(!re.is_match("a.b.foo.com"), "a.b.foo.com must get a 404");
}

const GOOD_RULE: &str = "  - host: good.com
    http:
      paths:
      - {path: /app, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}
";

/// The DAG of `good` alone equals the DAG of `good` plus `bad_rules` in the same Ingress, and
/// the Ingress reports each bad part with `reasons`.
fn assert_bad_part_skipped(bad_rules: &str, reasons: &[Reason]) {
    let good = build_yaml(&format!(
        "{KUARD}{}",
        ingress("web", &format!("  rules:\n{GOOD_RULE}"))
    ));
    let mixed = build_yaml(&format!(
        "{KUARD}{}",
        ingress("web", &format!("  rules:\n{GOOD_RULE}{bad_rules}"))
    ));
    assert_eq!(
        mixed.dag, good.dag,
        "bad rules changed the served config: {bad_rules}"
    );
    assert_eq!(
        error_reasons(&mixed, &ingress_key("web")),
        reasons,
        "{:?}",
        status_of(&mixed, &ingress_key("web"))
    );
    assert_eq!(
        status_of(&mixed, &ingress_key("web")).current,
        Validity::Invalid
    );
    // A separate Ingress made only of the bad parts leaves the rest byte-identical too.
    let separate = build_yaml(&format!(
        "{KUARD}{}{}",
        ingress("web", &format!("  rules:\n{GOOD_RULE}")),
        ingress("worse", &format!("  rules:\n{bad_rules}"))
    ));
    assert_eq!(separate.dag, good.dag);
    assert_eq!(
        status_of(&separate, &ingress_key("web")).current,
        Validity::Valid
    );
}

#[test]
fn invalid_hosts_skip_only_their_rule() {
    for host in [
        "foo.*.com",
        "'*foo.com'",
        "'**.com'",
        "'*'",
        "foo.com.",
        "föö.com",
        "a_b.com",
    ] {
        assert_bad_part_skipped(
            &format!(
                "  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: kuard, port: {{number: 80}}}}}}}}\n"
            ),
            &[Reason::InvalidHostname],
        );
    }
    let long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
    assert_bad_part_skipped(
        &format!(
            "  - host: {long}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: kuard, port: {{number: 80}}}}}}}}\n"
        ),
        &[Reason::InvalidHostname],
    );
}

#[test]
fn invalid_paths_skip_only_their_path() {
    let rule = |path: &str, ty: &str| {
        format!(
            "  - host: good.com\n    http:\n      paths:\n      - {{path: '{path}', pathType: {ty}, backend: {{service: {{name: kuard, port: {{number: 80}}}}}}}}\n"
        )
    };
    for (path, ty) in [
        ("/foo/../admin", "Prefix"),
        ("//x", "Exact"),
        ("/a%2Fb", "Prefix"),
        ("/a/.", "Exact"),
        ("relative", "Prefix"),
        ("/a b", "Prefix"),
        ("/a#x", "ImplementationSpecific"),
    ] {
        assert_bad_part_skipped(&rule(path, ty), &[Reason::PathNotValid]);
    }
    assert_bad_part_skipped(&rule("/x", "Sometimes"), &[Reason::PathTypeNotValid]);
    for regex in ["/[a](a{1000}){1000}", "/(?=x)+", "/[a&&b]*", "/(*"] {
        assert_bad_part_skipped(
            &rule(regex, "ImplementationSpecific"),
            &[Reason::RegexNotValid],
        );
    }
}

#[test]
fn invalid_path_message_names_the_path() {
    let out = build_yaml(&format!(
        "{KUARD}{}",
        ingress(
            "web",
            "  rules:\n  - host: a.com\n    http:\n      paths:\n      - {path: '/x[0-9](a{1000}){1000}', backend: {service: {name: kuard, port: {number: 80}}}}\n"
        )
    ));
    let problem = &status_of(&out, &ingress_key("web")).errors[0];
    assert_eq!(problem.kind, ProblemKind::RouteError);
    assert!(
        problem.message.contains("/x[0-9](a{1000}){1000}"),
        "{}",
        problem.message
    );
    assert!(out.dag.http.is_empty(), "a vhost with no routes is pruned");
}

fn classed(name: &str, annotations: &str, class_name: Option<&str>) -> String {
    let class = class_name
        .map(|c| format!("  ingressClassName: {c}\n"))
        .unwrap_or_default();
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations: {{{annotations}}}\nspec:\n{class}  rules:\n  - host: {name}.com\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: kuard, port: {{number: 80}}}}}}}}\n"
    )
}

fn served(yaml: &str, config: &BuildConfig) -> Vec<String> {
    let out = build(&snapshot_of(objects(yaml)), config);
    let hosts: Vec<String> = out
        .dag
        .http
        .keys()
        .map(|h| h.trim_end_matches(".com").to_string())
        .collect();
    let statuses: Vec<String> = out
        .status
        .objects
        .keys()
        .map(|k| k.name.name.to_string())
        .collect();
    assert_eq!(
        hosts, statuses,
        "exactly the served Ingresses have a status"
    );
    hosts
}

#[test]
fn class_filtering() {
    let yaml = [
        KUARD.to_string(),
        classed("none", "", None),
        classed("sesame", "", Some("sesame")),
        classed("other", "", Some("nginx")),
        classed(
            "annotated",
            "'kubernetes.io/ingress.class': sesame",
            Some("nginx"),
        ),
        classed(
            "annotatedother",
            "'kubernetes.io/ingress.class': nginx",
            Some("sesame"),
        ),
        classed(
            "ours",
            "'projectsesame.io/ingress.class': sesame, 'kubernetes.io/ingress.class': nginx",
            None,
        ),
        classed(
            "oursother",
            "'projectsesame.io/ingress.class': internal, 'kubernetes.io/ingress.class': sesame",
            None,
        ),
    ]
    .concat();
    assert_eq!(
        served(&yaml, &BuildConfig::default()),
        ["annotated", "none", "ours", "sesame"]
    );
    let internal = BuildConfig {
        ingress_class_names: vec!["internal".into(), "nginx".into()],
        ..BuildConfig::default()
    };
    assert_eq!(
        served(&yaml, &internal),
        ["annotatedother", "other", "oursother"]
    );
}

#[test]
fn an_ingress_class_naming_sesames_controller_is_served() {
    let class = |name: &str, controller: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: {name}\nspec:\n  controller: {controller}\n"
        )
    };
    let yaml = [
        KUARD.to_string(),
        class("edge", "projectsesame.io/ingress-controller"),
        class("nginx", "k8s.io/ingress-nginx"),
        classed("edge", "", Some("edge")),
        classed("nginx", "", Some("nginx")),
        classed("unknown", "", Some("unknown")),
    ]
    .concat();
    assert_eq!(served(&yaml, &BuildConfig::default()), ["edge"]);
    let named = BuildConfig {
        ingress_class_names: vec!["nginx".into()],
        ..BuildConfig::default()
    };
    assert_eq!(
        served(&yaml, &named),
        ["nginx"],
        "configured class names are the whole list"
    );
}

#[test]
fn missing_service_answers_503() {
    let out = build_yaml(&ingress(
        "web",
        "  rules:\n  - host: a.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: ghost, port: {number: 80}}}}\n",
    ));
    let route = &http_vhost(&out, "a.com").routes[0];
    assert_eq!(
        route.action,
        RouteAction::DirectResponse {
            status: 503,
            body: None
        }
    );
    let problem = &status_of(&out, &ingress_key("web")).errors[0];
    assert_eq!(
        (problem.kind, problem.reason),
        (
            ProblemKind::ServiceError,
            Reason::ServiceUnresolvedReference
        )
    );
    assert_eq!(problem.message, "service default/ghost not found");
    assert!(out.dag.clusters.is_empty());
    assert!(out.dag.references.contains(&ObjectKey::new(
        Kind::Service,
        NamespacedName::new("default", "ghost")
    )));
}

#[test]
fn service_ports_by_number_and_name() {
    let backend = |port: &str| {
        format!(
            "  - host: a.com\n    http:\n      paths:\n      - {{path: /{}, pathType: Exact, backend: {{service: {{name: kuard, port: {port}}}}}}}\n",
            port.len()
        )
    };
    let out = build_yaml(&format!(
        "{KUARD}{}",
        ingress(
            "web",
            &format!(
                "  rules:\n{}{}{}{}",
                backend("{number: 8080}"),
                backend("{name: http}"),
                backend("{number: 9}"),
                backend("{name: grpc-web}")
            )
        )
    ));
    let routes = &http_vhost(&out, "a.com").routes;
    assert_eq!(routes.len(), 4);
    let action = |path: &str| {
        routes
            .iter()
            .find(|r| r.path == PathMatch::Exact(path.into()))
            .unwrap()
            .action
            .clone()
    };
    for ok in ["/14", "/12"] {
        let RouteAction::Forward(f) = action(ok) else {
            panic!("{ok} should forward")
        };
        assert_eq!(f.clusters[0].name, "default/kuard/8080/da39a3ee5e");
    }
    for bad in ["/11", "/16"] {
        assert_eq!(
            action(bad),
            RouteAction::DirectResponse {
                status: 503,
                body: None
            }
        );
    }
    let status = status_of(&out, &ingress_key("web"));
    assert_eq!(
        error_reasons(&out, &ingress_key("web")),
        [Reason::ServicePortInvalid, Reason::ServicePortInvalid]
    );
    assert_eq!(
        status.errors[0].message,
        "service default/kuard has no port 9"
    );
    assert_eq!(
        status.errors[1].message,
        "service default/kuard has no port named \"grpc-web\""
    );
    assert_eq!(out.dag.clusters.len(), 1);
}

#[test]
fn resource_backends_are_not_valid() {
    let out = build_yaml(&ingress(
        "web",
        "  rules:\n  - host: a.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: assets}}}\n",
    ));
    assert_eq!(
        error_reasons(&out, &ingress_key("web")),
        [Reason::BackendNotValid]
    );
    assert_eq!(
        http_vhost(&out, "a.com").routes[0].action,
        RouteAction::DirectResponse {
            status: 503,
            body: None
        }
    );
}

#[test]
fn upstream_protocols_and_circuit_breakers_from_the_service() {
    let svc = "
apiVersion: v1
kind: Service
metadata:
  name: grpc
  namespace: default
  annotations:
    projectsesame.io/upstream-protocol.h2c: '80,web'
    projectsesame.io/upstream-protocol.tls: '443'
    projectsesame.io/max-connections: '50'
    projectsesame.io/max-requests: 'lots'
spec:
  ports:
  - {port: 80}
  - {port: 443}
  - {name: web, port: 8080, appProtocol: https}
  - {name: plain, port: 9090}
";
    let rules: String = [80, 443, 8080, 9090]
        .iter()
        .map(|p| format!("      - {{path: /{p}, pathType: Prefix, backend: {{service: {{name: grpc, port: {{number: {p}}}}}}}}}\n"))
        .collect();
    let out = build_yaml(&format!(
        "{svc}{}",
        ingress(
            "web",
            &format!("  rules:\n  - host: a.com\n    http:\n      paths:\n{rules}")
        )
    ));
    let protocols: Vec<(i32, UpstreamProtocol)> = out
        .dag
        .clusters
        .values()
        .map(|c| (c.port, c.protocol))
        .collect();
    assert_eq!(
        protocols
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [
            (80, UpstreamProtocol::H2c),
            (443, UpstreamProtocol::Tls),
            (8080, UpstreamProtocol::Tls),
            (9090, UpstreamProtocol::Http1)
        ]
        .into()
    );
    for cluster in out.dag.clusters.values() {
        assert_eq!(cluster.circuit_breakers.max_connections, Some(50));
        assert_eq!(cluster.circuit_breakers.max_requests, None);
        assert_eq!(
            cluster.name.ends_with("/da39a3ee5e"),
            cluster.protocol == UpstreamProtocol::Http1,
            "{}",
            cluster.name
        );
    }
    // The bad annotation is a warning on the Service, not an error on the Ingress.
    let svc_key = ObjectKey::new(Kind::Service, NamespacedName::new("default", "grpc"));
    let svc_status = status_of(&out, &svc_key);
    assert_eq!(svc_status.current, Validity::Valid);
    assert_eq!(svc_status.warnings.len(), 1);
    assert!(
        svc_status.warnings[0]
            .message
            .contains("projectsesame.io/max-requests"),
        "{}",
        svc_status.warnings[0].message
    );
    assert_eq!(
        status_of(&out, &ingress_key("web")).current,
        Validity::Valid
    );
}

#[test]
fn references_and_impact() {
    let pem = cert(&["a.com"]);
    let mut objs = objects(&format!(
        "{KUARD}{}{}",
        service_yaml("unused"),
        ingress(
            "web",
            "  tls:\n  - {hosts: [a.com], secretName: cert}\n  - {hosts: [b.com], secretName: nothere}\n  rules:\n  - host: a.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}\n      - {path: /x, pathType: Prefix, backend: {service: {name: ghost, port: {number: 80}}}}\n"
        )
    ));
    objs.push(tls_secret("cert", &pem.crt, &pem.key));
    objs.push(tls_secret("other", &pem.crt, &pem.key));
    let mut snapshot = snapshot_of(objs);
    let out = build(&snapshot, &BuildConfig::default());
    let refs: Vec<String> = out.dag.references.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        refs,
        [
            "Service default/ghost",
            "Service default/kuard",
            "Secret default/cert",
            "Secret default/nothere"
        ]
    );
    let dag = &out.dag;

    let touch = |snapshot: &mut Snapshot, yaml: String| {
        snapshot
            .apply(Change::Apply(objects(&yaml).remove(0)))
            .unwrap()
    };
    let secret_yaml = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: default}}\ntype: Opaque\n"
        )
    };
    assert_eq!(
        touch(&mut snapshot, secret_yaml("other")).impact(dag),
        Impact::None
    );
    assert_eq!(
        touch(&mut snapshot, secret_yaml("cert")).impact(dag),
        Impact::Rebuild
    );
    assert_eq!(
        touch(&mut snapshot, secret_yaml("nothere")).impact(dag),
        Impact::Rebuild,
        "a missing secret that appears rebuilds"
    );
    let svc = |name: &str| format!("{}  - port: 81\n", service_yaml(name));
    assert_eq!(
        touch(&mut snapshot, svc("unused")).impact(dag),
        Impact::None
    );
    assert_eq!(
        touch(&mut snapshot, svc("kuard")).impact(dag),
        Impact::Rebuild
    );
    assert_eq!(
        touch(&mut snapshot, svc("ghost")).impact(dag),
        Impact::Rebuild
    );
    let slice = |svc: &str| {
        format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {svc}-abc\n  namespace: default\n  labels: {{kubernetes.io/service-name: {svc}}}\naddressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n"
        )
    };
    assert_eq!(
        touch(&mut snapshot, slice("kuard")).impact(dag),
        Impact::Endpoints([NamespacedName::new("default", "kuard")].into())
    );
    assert_eq!(
        touch(&mut snapshot, slice("unused")).impact(dag),
        Impact::None
    );
}

#[test]
fn routes_are_ordered_most_specific_first_across_ingresses() {
    let path = |p: &str, ty: &str| {
        format!(
            "      - {{path: '{p}', pathType: {ty}, backend: {{service: {{name: kuard, port: {{number: 80}}}}}}}}\n"
        )
    };
    let rule =
        |paths: String| format!("  rules:\n  - host: a.com\n    http:\n      paths:\n{paths}");
    let out = build_yaml(&format!(
        "{KUARD}{}{}",
        ingress(
            "one",
            &rule(
                [
                    path("/", "Prefix"),
                    path("/api", "Prefix"),
                    path("/a.*", "ImplementationSpecific")
                ]
                .concat()
            )
        ),
        ingress(
            "two",
            &rule(
                [
                    path("/api/v1", "Exact"),
                    path("/api/longer", "Prefix"),
                    path("/api", "ImplementationSpecific"),
                    path("/z", "Exact")
                ]
                .concat()
            )
        ),
    ));
    assert_eq!(
        paths(&out, "a.com"),
        [
            PathMatch::Exact("/api/v1".into()),
            PathMatch::Exact("/z".into()),
            PathMatch::Regex("/a.*".into()),
            PathMatch::SegmentPrefix("/api/longer".into()),
            PathMatch::SegmentPrefix("/api".into()),
            PathMatch::Prefix("/api".into()),
            PathMatch::Prefix("/".into()),
        ]
    );
}

#[test]
fn duplicate_routes_first_ingress_wins() {
    let rule = |svc_port: u16| {
        format!(
            "  rules:\n  - host: a.com\n    http:\n      paths:\n      - {{path: /app/, pathType: Prefix, backend: {{service: {{name: kuard, port: {{number: {svc_port}}}}}}}}}\n"
        )
    };
    let out = build_yaml(&format!(
        "{KUARD}{}{}",
        ingress("b-second", &rule(8080)),
        ingress("a-first", &rule(80))
    ));
    let routes = &http_vhost(&out, "a.com").routes;
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].origin, ingress_key("a-first"));
    assert_eq!(cluster_of(&routes[0]), "default/kuard/80/da39a3ee5e");
    assert_eq!(
        status_of(&out, &ingress_key("a-first")).current,
        Validity::Valid
    );
    let loser = status_of(&out, &ingress_key("b-second"));
    assert_eq!(loser.errors.len(), 1);
    assert_eq!(loser.errors[0].reason, Reason::DuplicateMatchConditions);
    assert_eq!(
        loser.errors[0].message,
        "duplicate route for host \"a.com\" path \"/app\": already served by Ingress default/a-first"
    );
    assert!(
        !out.dag
            .clusters
            .contains_key("default/kuard/8080/da39a3ee5e"),
        "the losing route's cluster is not built"
    );
}

#[test]
fn same_objects_in_any_order_build_the_same_output() {
    let pem = cert(&["a.com", "b.com"]);
    let mut objs = objects(&format!(
        "{KUARD}{}{}{}{}",
        service_yaml("other"),
        ingress(
            "one",
            "  tls:\n  - {hosts: [a.com], secretName: cert}\n  rules:\n  - host: a.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}\n"
        ),
        ingress(
            "two",
            "  rules:\n  - host: a.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: other, port: {number: 80}}}}\n      - {path: /b, pathType: Exact, backend: {service: {name: other, port: {name: http}}}}\n"
        ),
        ingress(
            "three",
            "  defaultBackend:\n    service: {name: ghost, port: {number: 1}}\n  rules:\n  - host: '*.b.com'\n    http:\n      paths:\n      - {path: '/x[0-9]', backend: {service: {name: kuard, port: {name: http}}}}\n"
        ),
    ));
    objs.push(tls_secret("cert", &pem.crt, &pem.key));
    let forward = build(&snapshot_of(objs.clone()), &BuildConfig::default());
    objs.reverse();
    let backward = build(&snapshot_of(objs.clone()), &BuildConfig::default());
    objs.rotate_left(2);
    let rotated = build(&snapshot_of(objs), &BuildConfig::default());
    assert_eq!(forward, backward);
    assert_eq!(forward, rotated);
    assert_eq!(
        serde_json::to_string(&forward.dag).unwrap(),
        serde_json::to_string(&rotated.dag).unwrap()
    );
    assert_eq!(forward.dag.https.len(), 1);
    assert_eq!(forward.status.objects.len(), 3);
}

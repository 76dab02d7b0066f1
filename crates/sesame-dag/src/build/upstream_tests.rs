//! Scenario tests for the config file's upstream settings: ExternalName Services, the DNS lookup
//! family, the connect timeout, the global header policies and the Envoy client certificate.

use std::time::Duration;

use pretty_assertions::assert_eq;

use super::*;
use crate::dag::{
    Cluster, ClusterRewrites, DnsLookupFamily, ExternalName, Forward, RouteAction,
    UpstreamProtocol, WeightedCluster,
};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::policy::GlobalHeaders;
use crate::snapshot::{Impact, Touched};
use crate::status::{ProblemKind, Reason, Validity};
use crate::testutil::*;

/// A Service `default/<name>` of type ExternalName pointing at `target`, port 443 named `https`
/// with the TLS annotation, and port 80.
fn external(name: &str, target: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\n  annotations: {{projectsesame.io/upstream-protocol.tls: \"443\"}}\nspec:\n  type: ExternalName\n  externalName: {target}\n  ports:\n  - port: 80\n  - name: https\n    port: 443\n"
    )
}

fn proxy(name: &str, fqdn: &str, routes: &str) -> String {
    format!(
        "---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {{name: {name}, namespace: default, generation: 1}}\nspec:\n  virtualhost: {{fqdn: {fqdn}}}\n  routes:\n{routes}"
    )
}

fn ingress(name: &str, host: &str, service: &str, port: u16) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: {port}}}}}}}}}\n"
    )
}

fn proxy_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("default", name))
}

fn with_external_names() -> BuildConfig {
    BuildConfig {
        upstream: UpstreamConfig {
            enable_external_name_service: true,
            ..UpstreamConfig::default()
        },
        ..BuildConfig::default()
    }
}

fn build_with(yaml: &str, config: &BuildConfig) -> BuildOutput {
    build(&snapshot_of(objects(yaml)), config)
}

fn forward<'a>(out: &'a BuildOutput, host: &str) -> &'a Forward {
    match &http_vhost(out, host).routes[0].action {
        RouteAction::Forward(f) => f,
        other => panic!("{host}: route does not forward: {other:?}"),
    }
}

fn answers_503(out: &BuildOutput, host: &str) -> bool {
    matches!(
        http_vhost(out, host).routes[0].action,
        RouteAction::DirectResponse { status: 503, .. }
    )
}

fn only_error(out: &BuildOutput, key: &ObjectKey) -> (ProblemKind, Reason, String) {
    let status = status_of(out, key);
    assert_eq!(status.current, Validity::Invalid, "{status:?}");
    assert_eq!(status.errors.len(), 1, "{status:?}");
    let p = &status.errors[0];
    (p.kind, p.reason, p.message.clone())
}

/// The ExternalName Service `ext` pointing at `target`, and `web.example.com` (an HTTPProxy)
/// and `ing.example.com` (an Ingress) routing to its port 80.
fn routes_to_external(target: &str) -> String {
    format!(
        "{}{}{}",
        external("ext", target),
        proxy(
            "web",
            "web.example.com",
            "  - services: [{name: ext, port: 80}]\n"
        ),
        ingress("ing", "ing.example.com", "ext", 80)
    )
}

/// The messages of the HTTPProxy `web` and the Ingress `ing`, each of which must have exactly
/// one error: its Service unresolved.
fn unresolved_messages(out: &BuildOutput) -> Vec<String> {
    [proxy_key("web"), ingress_key("ing")]
        .iter()
        .map(|key| {
            let (kind, reason, message) = only_error(out, key);
            assert_eq!(
                (kind, reason),
                (
                    ProblemKind::ServiceError,
                    Reason::ServiceUnresolvedReference
                ),
                "{key}: {message}"
            );
            message
        })
        .collect()
}

#[test]
fn external_name_services_are_refused_unless_enabled() {
    let out = build_yaml(&routes_to_external("api.example.com"));
    for message in unresolved_messages(&out) {
        assert!(
            message.contains("default/ext") && message.contains("enableExternalNameService"),
            "{message}"
        );
    }
    // Both routes answer 503 rather than fall through; no cluster is sent.
    assert!(answers_503(&out, "web.example.com") && answers_503(&out, "ing.example.com"));
    assert!(out.dag.clusters.is_empty(), "{:?}", out.dag.clusters);
    // The Service is referenced: enabling it (or changing it) rebuilds.
    let service = ObjectKey::new(Kind::Service, NamespacedName::new("default", "ext"));
    assert!(out.dag.references.contains(&service));
}

#[test]
fn an_enabled_external_name_is_a_dns_cluster_at_the_service_port() {
    let mut config = with_external_names();
    config.upstream.dns_lookup_family = DnsLookupFamily::V4;
    let yaml = format!(
        "{}{}",
        external("ext", "API.Example.com"),
        proxy(
            "web",
            "web.example.com",
            "  - services: [{name: ext, port: 80}]\n"
        )
    );
    let out = build_with(&yaml, &config);
    assert_eq!(status_of(&out, &proxy_key("web")).current, Validity::Valid);
    let name = &forward(&out, "web.example.com").clusters[0].name;
    let cluster = &out.dag.clusters[name];
    assert_eq!(
        cluster.external_name.as_deref(),
        Some(&ExternalName {
            host: "api.example.com".into(),
            dns_lookup_family: DnsLookupFamily::V4,
        })
    );
    assert_eq!(
        (cluster.port, cluster.protocol),
        (80, UpstreamProtocol::Http1)
    );
    // Plain HTTP: no TLS server name; the Host header is left as the client sent it.
    assert_eq!(cluster.sni, None);
    assert!(forward(&out, "web.example.com").policies.is_none());
    assert_ne!(name, "default/ext/80/da39a3ee5e", "an EDS cluster's name");
}

#[test]
fn a_tls_external_name_sends_its_name_or_the_rewritten_host_as_sni() {
    let routes = "  - conditions: [{prefix: /plain}]\n    services: [{name: ext, port: 443}]\n  - conditions: [{prefix: /route}]\n    requestHeadersPolicy: {set: [{name: Host, value: route.example.com}]}\n    services: [{name: ext, port: 443}]\n  - conditions: [{prefix: /service}]\n    requestHeadersPolicy: {set: [{name: Host, value: route.example.com}]}\n    services: [{name: ext, port: 443, requestHeadersPolicy: {set: [{name: Host, value: svc.example.com}]}}]\n";
    let yaml = format!(
        "{}{}{}",
        external("ext", "api.example.com."),
        proxy("web", "web.example.com", routes),
        ingress("ing", "ing.example.com", "ext", 443)
    );
    let out = build_with(&yaml, &with_external_names());
    let sni = |path: &str| {
        let route = http_vhost(&out, "web.example.com")
            .routes
            .iter()
            .find(|r| r.path.value() == path)
            .unwrap_or_else(|| panic!("no route {path}"));
        let RouteAction::Forward(f) = &route.action else {
            panic!("{path} does not forward")
        };
        let cluster = &out.dag.clusters[&f.clusters[0].name];
        assert_eq!(cluster.protocol, UpstreamProtocol::Tls);
        cluster.sni.clone()
    };
    assert_eq!(sni("/plain").as_deref(), Some("api.example.com"));
    assert_eq!(sni("/route").as_deref(), Some("route.example.com"));
    assert_eq!(sni("/service").as_deref(), Some("svc.example.com"));
    // As Contour, an Ingress route sends no server name.
    let ingress_cluster = &out.dag.clusters[&forward(&out, "ing.example.com").clusters[0].name];
    assert_eq!(ingress_cluster.sni, None);
    assert!(ingress_cluster.external_name.is_some());
}

#[test]
fn external_names_of_the_local_host_are_refused() {
    for target in [
        "localhost",
        "127.0.0.1",
        "::1",
        "169.254.169.254",
        "0.0.0.0",
        "admin.localhost",
    ] {
        let yaml = routes_to_external(&format!("\"{target}\""));
        let out = build_with(&yaml, &with_external_names());
        for message in unresolved_messages(&out) {
            assert!(
                message.contains("points at the Envoy host itself") && message.contains(target),
                "{message}"
            );
        }
        assert!(answers_503(&out, "web.example.com"), "{target}");
        assert!(
            out.dag.clusters.is_empty(),
            "{target}: {:?}",
            out.dag.clusters
        );
    }
}

/// `web.example.com`: `/ext` to the ExternalName Service `ext`, `/` to the Service `plain`.
fn external_and_plain() -> String {
    format!(
        "{}{}{}",
        external("ext", "api.example.com"),
        service_yaml("plain"),
        proxy(
            "web",
            "web.example.com",
            "  - conditions: [{prefix: /ext}]\n    services: [{name: ext, port: 80}]\n  - services: [{name: plain, port: 80}]\n"
        )
    )
}

#[test]
fn other_services_keep_their_eds_clusters_and_endpoint_changes_only_refresh_eds() {
    let yaml = external_and_plain();
    let out = build_with(&yaml, &with_external_names());
    let plain = &out.dag.clusters["default/plain/80/da39a3ee5e"];
    assert_eq!(plain.external_name, None);
    assert_eq!(plain.eds_name, "default/plain");
    assert_eq!(
        out.dag
            .clusters
            .values()
            .filter(|c| c.external_name.is_some())
            .count(),
        1
    );
    // An EndpointSlice naming the ExternalName Service (there should be none) refreshes EDS
    // only, without a build; the endpoint translation skips its cluster (see sesame-envoy).
    let touched = Touched::Endpoints([NamespacedName::new("default", "ext")].into());
    assert!(matches!(touched.impact(&out.dag), Impact::Endpoints(_)));
}

#[test]
fn the_connect_timeout_is_on_every_cluster() {
    let config = BuildConfig {
        upstream: UpstreamConfig {
            connect_timeout: Duration::from_millis(750),
            enable_external_name_service: true,
            ..UpstreamConfig::default()
        },
        ..BuildConfig::default()
    };
    let yaml = external_and_plain();
    let out = build_with(&yaml, &config);
    assert_eq!(out.dag.clusters.len(), 2);
    assert!(
        out.dag
            .clusters
            .values()
            .all(|c| c.connect_timeout == Duration::from_millis(750))
    );
    let default = build_yaml(&format!(
        "{}{}",
        service_yaml("plain"),
        ingress("i", "a.com", "plain", 80)
    ));
    assert!(
        default
            .dag
            .clusters
            .values()
            .all(|c: &Cluster| c.connect_timeout == Duration::from_secs(2))
    );
}

fn global_headers(apply_to_ingress: bool) -> BuildConfig {
    let policy = sesame_api::Config::from_yaml(&format!(
        "policy:\n  request-headers:\n    set: {{X-Env: prod, X-Team: platform}}\n    remove: [X-Debug]\n  response-headers:\n    set: {{X-Served-By: sesame}}\n    remove: [Server]\n  applyToIngress: {apply_to_ingress}\n"
    ))
    .unwrap()
    .policy;
    BuildConfig {
        policy: GlobalHeaders::from_config(&policy),
        ..BuildConfig::default()
    }
}

fn rewrites<'a>(out: &'a BuildOutput, host: &str) -> &'a ClusterRewrites {
    forward(out, host).clusters[0].rewrites()
}

#[test]
fn global_headers_apply_to_every_httpproxy_route_under_its_own() {
    let routes = "  - conditions: [{prefix: /own}]\n    requestHeadersPolicy: {set: [{name: X-Env, value: route}]}\n    services: [{name: s1, port: 80, requestHeadersPolicy: {set: [{name: X-Team, value: svc}]}, responseHeadersPolicy: {remove: [X-Served-By]}}]\n  - services: [{name: s1, port: 80}]\n";
    let yaml = format!(
        "{}{}",
        service_yaml("s1"),
        proxy("web", "web.example.com", routes)
    );
    let out = build_with(&yaml, &global_headers(false));
    let routes = &http_vhost(&out, "web.example.com").routes;
    let cluster = |path: &str| -> &WeightedCluster {
        let route = routes.iter().find(|r| r.path.value() == path).unwrap();
        match &route.action {
            RouteAction::Forward(f) => &f.clusters[0],
            other => panic!("{other:?}"),
        }
    };
    let plain = cluster("/").rewrites();
    assert_eq!(
        plain.request_headers.set,
        [
            ("x-env".into(), "prod".into()),
            ("x-team".into(), "platform".into())
        ]
    );
    assert_eq!(plain.request_headers.remove, ["x-debug"]);
    assert_eq!(
        plain.response_headers.set,
        [("x-served-by".into(), "sesame".into())]
    );
    assert_eq!(plain.response_headers.remove, ["server"]);
    // The service's own value wins; the route's own policy stays on the route, which Envoy
    // applies after the cluster's, so it wins too.
    let own = cluster("/own").rewrites();
    assert_eq!(
        own.request_headers.set,
        [
            ("x-team".into(), "svc".into()),
            ("x-env".into(), "prod".into())
        ]
    );
    assert_eq!(own.response_headers.remove, ["x-served-by", "server"]);
    let route = routes.iter().find(|r| r.path.value() == "/own").unwrap();
    let RouteAction::Forward(f) = &route.action else {
        panic!()
    };
    assert_eq!(
        f.policies().request_headers.set,
        [("x-env".to_string(), "route".into())]
    );
    assert_eq!(status_of(&out, &proxy_key("web")).current, Validity::Valid);
}

#[test]
fn global_headers_apply_to_ingress_routes_only_when_asked() {
    let yaml = format!(
        "{}{}{}",
        service_yaml("s1"),
        proxy(
            "web",
            "web.example.com",
            "  - services: [{name: s1, port: 80}]\n"
        ),
        ingress("ing", "ing.example.com", "s1", 80)
    );
    let out = build_with(&yaml, &global_headers(false));
    assert!(!forward(&out, "ing.example.com").clusters[0].has_policies());
    assert!(forward(&out, "web.example.com").clusters[0].has_policies());

    let out = build_with(&yaml, &global_headers(true));
    let ingress = rewrites(&out, "ing.example.com");
    assert_eq!(ingress, rewrites(&out, "web.example.com"));
    assert_eq!(ingress.request_headers.remove, ["x-debug"]);
    assert_eq!(
        ingress.response_headers.set,
        [("x-served-by".into(), "sesame".into())]
    );
}

#[test]
fn a_global_host_rewrite_yields_to_the_services_own() {
    let config = BuildConfig {
        policy: GlobalHeaders {
            host_rewrite: Some("global.example.com".into()),
            ..GlobalHeaders::default()
        },
        ..BuildConfig::default()
    };
    let routes = "  - conditions: [{prefix: /own}]\n    services: [{name: s1, port: 80, requestHeadersPolicy: {set: [{name: Host, value: own.example.com}]}}]\n  - services: [{name: s1, port: 80}]\n";
    let yaml = format!(
        "{}{}",
        service_yaml("s1"),
        proxy("web", "web.example.com", routes)
    );
    let out = build_with(&yaml, &config);
    let host = |path: &str| {
        let route = http_vhost(&out, "web.example.com")
            .routes
            .iter()
            .find(|r| r.path.value() == path)
            .unwrap();
        let RouteAction::Forward(f) = &route.action else {
            panic!()
        };
        f.clusters[0].rewrites().host_rewrite.clone()
    };
    assert_eq!(host("/").as_deref(), Some("global.example.com"));
    assert_eq!(host("/own").as_deref(), Some("own.example.com"));
}

/// `tls.envoy-client-certificate` names `default/envoy-client`; `svc` has a TLS port 443 and a
/// plain port 80.
fn client_certificate_yaml() -> String {
    let routes = "  - conditions: [{prefix: /tls}]\n    services: [{name: svc, port: 443}]\n  - services: [{name: svc, port: 80}]\n";
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: default\n  annotations: {{projectsesame.io/upstream-protocol.tls: \"443\"}}\nspec:\n  ports:\n  - port: 80\n  - port: 443\n{}{}",
        proxy("web", "web.example.com", routes),
        ingress("ing", "ing.example.com", "svc", 443)
    )
}

fn with_client_certificate() -> BuildConfig {
    BuildConfig {
        upstream: UpstreamConfig {
            client_certificate: Some(NamespacedName::new("default", "envoy-client")),
            ..UpstreamConfig::default()
        },
        ..BuildConfig::default()
    }
}

fn tls_cluster(out: &BuildOutput) -> Option<&Cluster> {
    out.dag
        .clusters
        .values()
        .find(|c| c.protocol == UpstreamProtocol::Tls)
}

#[test]
fn tls_clusters_present_the_client_certificate() {
    let pem = cert(&["envoy.example.com"]);
    let mut objects = objects(&client_certificate_yaml());
    objects.push(tls_secret("envoy-client", &pem.crt, &pem.key));
    let out = build(&snapshot_of(objects), &with_client_certificate());
    let cluster = tls_cluster(&out).expect("a TLS cluster");
    let sds = cluster
        .client_certificate
        .as_deref()
        .expect("a client certificate");
    let secret = &out.dag.secrets[sds];
    assert_eq!(
        secret.source,
        NamespacedName::new("default", "envoy-client")
    );
    assert_eq!(secret.certificate_chain, pem.crt.as_bytes());
    // The plain cluster presents nothing.
    let plain = &out.dag.clusters["default/svc/80/da39a3ee5e"];
    assert_eq!(plain.client_certificate, None);
    for key in [proxy_key("web"), ingress_key("ing")] {
        assert_eq!(status_of(&out, &key).current, Validity::Valid, "{key}");
    }
    let secret_key = ObjectKey::new(Kind::Secret, NamespacedName::new("default", "envoy-client"));
    assert!(out.dag.references.contains(&secret_key));
}

#[test]
fn a_missing_or_invalid_client_certificate_closes_only_the_tls_routes() {
    let pem = cert(&["envoy.example.com"]);
    let other = cert(&["other.example.com"]);
    let secret_key = ObjectKey::new(Kind::Secret, NamespacedName::new("default", "envoy-client"));
    for (secret, reason) in [
        (None, Reason::SecretNotFound),
        (
            Some(tls_secret("envoy-client", &pem.crt, &other.key)),
            Reason::SecretNotValid,
        ),
    ] {
        let mut objects = objects(&client_certificate_yaml());
        objects.extend(secret);
        let out = build(&snapshot_of(objects), &with_client_certificate());
        assert_eq!(
            tls_cluster(&out),
            None,
            "no TLS cluster without its certificate"
        );
        assert!(out.dag.secrets.is_empty(), "{:?}", out.dag.secrets);
        // The Secret is referenced, so that it is fetched and its arrival rebuilds.
        assert!(out.dag.references.contains(&secret_key));
        assert_eq!(
            Touched::Object(secret_key.clone()).impact(&out.dag),
            Impact::Rebuild
        );
        for key in [proxy_key("web"), ingress_key("ing")] {
            let (kind, got, message) = only_error(&out, &key);
            assert_eq!((kind, got), (ProblemKind::TLSError, reason), "{key}");
            assert!(
                message.contains("tls.envoy-client-certificate default/envoy-client"),
                "{message}"
            );
        }
        assert!(answers_503(&out, "ing.example.com"));
        let tls_route = http_vhost(&out, "web.example.com")
            .routes
            .iter()
            .find(|r| r.path.value() == "/tls")
            .unwrap();
        assert!(matches!(
            tls_route.action,
            RouteAction::DirectResponse { status: 503, .. }
        ));
        // The plain route is served as before.
        assert_eq!(
            crate::testutil::cluster_of(
                http_vhost(&out, "web.example.com")
                    .routes
                    .iter()
                    .find(|r| r.path.value() == "/")
                    .unwrap()
            ),
            "default/svc/80/da39a3ee5e"
        );
    }
}

#[test]
fn without_a_client_certificate_nothing_is_referenced_or_sent() {
    let out = build_yaml(&client_certificate_yaml());
    let cluster = tls_cluster(&out).expect("a TLS cluster");
    assert_eq!(cluster.client_certificate, None);
    assert!(out.dag.secrets.is_empty());
    assert!(!out.dag.references.iter().any(|k| k.kind == Kind::Secret));
}

#[test]
fn two_ports_of_one_number_are_two_clusters() {
    let service = "---\napiVersion: v1\nkind: Service\nmetadata: {name: dns, namespace: default}\nspec:\n  ports:\n  - {name: dns-tcp, port: 53}\n  - {name: dns-udp, port: 53, protocol: UDP}\n";
    let by_name = "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: b, namespace: default}\nspec:\n  rules:\n  - host: b.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: dns, port: {name: dns-udp}}}}\n";
    let out = build_yaml(&format!(
        "{service}{}{by_name}",
        ingress("a", "a.com", "dns", 53)
    ));
    let a = forward(&out, "a.com").clusters[0].name.clone();
    let b = forward(&out, "b.com").clusters[0].name.clone();
    assert_ne!(a, b, "one cluster per port");
    assert_eq!(out.dag.clusters[&a].eds_name, "default/dns/dns-tcp");
    assert_eq!(out.dag.clusters[&b].eds_name, "default/dns/dns-udp");
}

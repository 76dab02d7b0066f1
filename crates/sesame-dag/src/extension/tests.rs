//! Scenarios: ExtensionServices in, their clusters and statuses out; HTTPProxies that use one
//! for external authorization.

use pretty_assertions::assert_eq;

use crate::build::BuildOutput;
use crate::dag::{EdsTarget, LbPolicy, RouteAuthorization, Timeout, UpstreamProtocol};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::{ProblemKind, Reason, Validity};
use crate::testutil::*;

fn ext_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::ExtensionService, NamespacedName::new("auth", name))
}

fn proxy_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("default", name))
}

/// Services `authz-a` and `authz-b` (port 9000, named `grpc`) and `external` (ExternalName)
/// in namespace `auth`, and an ExtensionService `name` with `spec`.
fn extension(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: authz-a, namespace: auth}}\nspec:\n  ports:\n  - {{name: grpc, port: 9000}}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {{name: authz-b, namespace: auth}}\nspec:\n  ports:\n  - {{port: 9000}}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {{name: external, namespace: auth}}\nspec:\n  type: ExternalName\n  externalName: auth.example.com\n  ports:\n  - {{port: 9000}}\n\
         ---\napiVersion: projectsesame.io/v1alpha1\nkind: ExtensionService\nmetadata: {{name: {name}, namespace: auth, generation: 2}}\nspec:\n{spec}"
    )
}

/// A TLS root `name` on `fqdn` in `default` with `authorization` under its virtual host and
/// two routes, `/open` (with `open_policy`) and `/`.
fn authorized_root(name: &str, fqdn: &str, authorization: &str, open_policy: &str) -> String {
    format!(
        "{}---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  virtualhost:\n    fqdn: {fqdn}\n    tls: {{secretName: tls}}\n    authorization:\n{authorization}\n  routes:\n  - conditions: [{{prefix: /open}}]\n    authPolicy: {open_policy}\n    services: [{{name: web, port: 80}}]\n  - services: [{{name: web, port: 80}}]\n",
        service_yaml("web")
    )
}

fn build_with_tls(yaml: &str) -> BuildOutput {
    let pem = cert(&["a.com", "b.com"]);
    let mut objects = objects(yaml);
    objects.push(tls_secret("tls", &pem.crt, &pem.key));
    crate::build(&snapshot_of(objects), &crate::BuildConfig::default())
}

#[test]
fn a_valid_extension_is_a_cluster_over_its_services_by_weight() {
    let yaml = extension(
        "authz",
        "  services:\n  - {name: authz-a, port: 9000, weight: 3}\n  - {name: authz-b, port: 9000}\n  timeoutPolicy: {response: 2s, idleConnection: 30s}\n  loadBalancerPolicy: {strategy: Random}\n",
    );
    let out = build_yaml(&yaml);
    let status = status_of(&out, &ext_key("authz"));
    assert_eq!(status.current, Validity::Valid, "{status:?}");
    assert_eq!(status.observed_generation, Some(2));
    let cluster = &out.dag.clusters["extension/auth/authz"];
    assert_eq!(cluster.eds_name, "extension/auth/authz");
    assert_eq!(cluster.protocol, UpstreamProtocol::H2);
    assert_eq!(cluster.lb_policy, LbPolicy::Random);
    assert_eq!(
        cluster.idle_connection_timeout,
        Some(Timeout::After(std::time::Duration::from_secs(30)))
    );
    assert_eq!(
        cluster.targets,
        [
            EdsTarget {
                service: NamespacedName::new("auth", "authz-a"),
                port_name: "grpc".into(),
                weight: Some(3),
            },
            EdsTarget {
                service: NamespacedName::new("auth", "authz-b"),
                port_name: String::new(),
                weight: None,
            },
        ]
    );
    // Its Services are references: a change to one rebuilds.
    assert!(out.dag.references.contains(&ObjectKey::new(
        Kind::Service,
        NamespacedName::new("auth", "authz-b")
    )));

    // Without weights, each Service gets an equal share; h2c is plaintext.
    let yaml = extension(
        "authz",
        "  protocol: h2c\n  services:\n  - {name: authz-a, port: 9000}\n  - {name: authz-b, port: 9000}\n",
    );
    let out = build_yaml(&yaml);
    let cluster = &out.dag.clusters["extension/auth/authz"];
    assert_eq!(cluster.protocol, UpstreamProtocol::H2c);
    let weights: Vec<_> = cluster.targets.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [Some(1), Some(1)]);
}

#[test]
fn invalid_extensions_have_contours_reasons_and_no_cluster() {
    let cases = [
        ("  services: []\n", Reason::ServiceUnresolvedReference),
        (
            "  services: [{name: missing, port: 9000}]\n",
            Reason::ServiceUnresolvedReference,
        ),
        (
            "  services: [{name: authz-a, port: 9001}]\n",
            Reason::ServicePortInvalid,
        ),
        (
            "  services: [{name: authz-a, port: 70000}]\n",
            Reason::ServicePortInvalid,
        ),
        (
            "  services: [{name: external, port: 9000}]\n",
            Reason::UnsupportedServiceType,
        ),
        (
            "  services: [{name: authz-a, port: 9000, weight: -1}]\n",
            Reason::WeightsNotValid,
        ),
        (
            "  protocol: http/1.1\n  services: [{name: authz-a, port: 9000}]\n",
            Reason::UnsupportedProtocol,
        ),
        (
            "  protocolVersion: v2\n  services: [{name: authz-a, port: 9000}]\n",
            Reason::UnsupportedProtocolVersion,
        ),
        (
            "  protocol: h2c\n  validation: {caSecret: ca}\n  services: [{name: authz-a, port: 9000}]\n",
            Reason::InconsistentProtocol,
        ),
        (
            "  validation: {caSecret: missing-ca}\n  services: [{name: authz-a, port: 9000}]\n",
            Reason::SecretNotFound,
        ),
        (
            "  timeoutPolicy: {response: soon}\n  services: [{name: authz-a, port: 9000}]\n",
            Reason::TimeoutPolicyNotValid,
        ),
    ];
    for (spec, reason) in cases {
        let out = build_yaml(&extension("authz", spec));
        let key = ext_key("authz");
        assert_eq!(status_of(&out, &key).current, Validity::Invalid, "{spec}");
        assert_eq!(error_reasons(&out, &key), [reason], "{spec}");
        assert!(
            !out.dag.clusters.contains_key("extension/auth/authz"),
            "{spec}"
        );
    }
    // A sticky strategy does not apply: a warning, round robin.
    let out = build_yaml(&extension(
        "authz",
        "  loadBalancerPolicy: {strategy: Cookie}\n  services: [{name: authz-a, port: 9000}]\n",
    ));
    let status = status_of(&out, &ext_key("authz"));
    assert_eq!(status.current, Validity::Valid);
    assert_eq!(status.warnings[0].kind, ProblemKind::SpecError);
    assert_eq!(status.warnings[0].reason, Reason::IgnoredField);
    assert_eq!(
        out.dag.clusters["extension/auth/authz"].lb_policy,
        LbPolicy::RoundRobin
    );
}

#[test]
fn authorization_reaches_the_secure_host_and_its_routes() {
    let yaml = format!(
        "{}{}",
        extension(
            "authz",
            "  services: [{name: authz-a, port: 9000}]\n  timeoutPolicy: {response: 3s}\n"
        ),
        authorized_root(
            "web",
            "a.com",
            "      extensionRef: {name: authz, namespace: auth}\n      failOpen: true\n      withRequestBody: {maxRequestBytes: 512, packAsBytes: true}\n      authPolicy:\n        context: {tier: gold}",
            "{disabled: true}",
        )
    );
    let out = build_with_tls(&yaml);
    assert_eq!(status_of(&out, &proxy_key("web")).current, Validity::Valid);
    let vhost = &out.dag.https["a.com"];
    let auth = vhost.authorization.as_ref().unwrap();
    assert_eq!(auth.cluster, "extension/auth/authz");
    assert_eq!(auth.authority, "authz-a.auth");
    assert!(auth.fail_open);
    // The ExtensionService's response timeout is the default.
    assert_eq!(
        auth.timeout,
        Some(Timeout::After(std::time::Duration::from_secs(3)))
    );
    let body = auth.with_request_body.unwrap();
    assert_eq!(body.max_request_bytes, 512);
    assert!(body.pack_as_bytes && !body.allow_partial_message);
    let routes = &vhost.virtual_host.routes;
    assert_eq!(
        routes[0].authorization.as_deref(),
        Some(&RouteAuthorization::Disabled)
    );
    assert_eq!(
        routes[1].authorization.as_deref(),
        Some(&RouteAuthorization::Context(
            [("tier".to_string(), "gold".to_string())].into()
        ))
    );
    // Plain HTTP only redirects: no authorization there.
    assert!(
        out.dag.http["a.com"]
            .routes
            .iter()
            .all(|r| r.authorization.is_none())
    );
    // The proxy references the ExtensionService: a change to it rebuilds the proxy.
    assert!(out.dag.references.contains(&ext_key("authz")));
}

#[test]
fn a_bad_authorization_keeps_only_its_host_closed() {
    let ext = extension("authz", "  services: [{name: authz-a, port: 9000}]\n");
    let bad_ext = extension("broken", "  services: [{name: missing, port: 9000}]\n");
    let good = authorized_root(
        "good",
        "b.com",
        "      extensionRef: {name: authz, namespace: auth}",
        "{}",
    );
    let cases = [
        (
            "      extensionRef: {name: nope, namespace: auth}",
            Reason::ExtensionServiceNotFound,
        ),
        (
            "      extensionRef: {name: broken, namespace: auth}",
            Reason::ExtensionServiceNotFound,
        ),
        (
            "      extensionRef: {name: authz, namespace: auth, apiVersion: projectcontour.io/v1alpha1}",
            Reason::AuthBadResourceVersion,
        ),
        (
            "      extensionRef: {name: authz, namespace: auth}\n      responseTimeout: forever",
            Reason::AuthResponseTimeoutInvalid,
        ),
        (
            "      extensionRef: {name: authz, namespace: auth}\n      withRequestBody: {maxRequestBytes: 5000000000}",
            Reason::AuthRequestBodyNotValid,
        ),
    ];
    for (authorization, reason) in cases {
        let yaml = format!(
            "{ext}{bad_ext}{good}{}",
            authorized_root("web", "a.com", authorization, "{}")
        );
        let out = build_with_tls(&yaml);
        assert_eq!(
            error_reasons(&out, &proxy_key("web")),
            [reason],
            "{authorization}"
        );
        assert!(!out.dag.https.contains_key("a.com"), "{authorization}");
        assert!(!out.dag.http.contains_key("a.com"), "{authorization}");
        assert_eq!(status_of(&out, &proxy_key("good")).current, Validity::Valid);
        assert!(out.dag.https["b.com"].authorization.is_some());
    }
}

#[test]
fn authorization_needs_a_host_that_terminates_tls() {
    let ext = extension("authz", "  services: [{name: authz-a, port: 9000}]\n");
    let insecure = format!(
        "{ext}{}---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {{name: web, namespace: default}}\nspec:\n  virtualhost:\n    fqdn: a.com\n    authorization:\n      extensionRef: {{name: authz, namespace: auth}}\n  routes:\n  - services: [{{name: web, port: 80}}]\n",
        service_yaml("web")
    );
    let out = build_with_tls(&insecure);
    assert_eq!(
        error_reasons(&out, &proxy_key("web")),
        [Reason::AuthNotPermitted]
    );
    assert_eq!(
        status_of(&out, &proxy_key("web")).errors[0].kind,
        ProblemKind::AuthError
    );
    assert!(out.dag.http.is_empty(), "served open: {:?}", out.dag.http);
}

#[test]
fn a_route_auth_policy_without_host_authorization_is_ignored() {
    let yaml = format!(
        "{}---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {{name: web, namespace: default}}\nspec:\n  virtualhost: {{fqdn: a.com}}\n  routes:\n  - authPolicy: {{disabled: true}}\n    services: [{{name: web, port: 80}}]\n",
        service_yaml("web")
    );
    let out = build_yaml(&yaml);
    assert_eq!(status_of(&out, &proxy_key("web")).current, Validity::Valid);
    assert!(out.dag.http["a.com"].routes[0].authorization.is_none());
}

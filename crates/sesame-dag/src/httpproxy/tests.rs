//! Scenario tests: HTTPProxy manifests in, virtual hosts, routes, clusters and status out.

use pretty_assertions::assert_eq;

use crate::build::{BuildConfig, BuildOutput, build};
use crate::dag::{
    HashPolicyKind, HeaderValueMatch, HealthChecker, LbPolicy, PathMatch, QueryValueMatch, Route,
    RouteAction, Timeout, UpstreamProtocol,
};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::{ProblemKind, Reason, Validity};
use crate::testutil::*;

fn svc(namespace: &str, name: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  ports:\n  - port: 80\n"
    )
}

fn proxy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {{name: {name}, namespace: {namespace}, generation: 2}}\nspec:\n{spec}"
    )
}

/// A root `default/<name>` for `fqdn` with one route to `default/s1` under `prefix`.
fn root(name: &str, fqdn: &str, route: &str) -> String {
    proxy(
        "default",
        name,
        &format!("  virtualhost: {{fqdn: {fqdn}}}\n  routes:\n{route}"),
    )
}

const TO_S1: &str = "  - services: [{name: s1, port: 80}]\n";

fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(Kind::HTTPProxy, NamespacedName::new(namespace, name))
}

fn build_config(yaml: &str, config: &BuildConfig) -> BuildOutput {
    build(&snapshot_of(objects(yaml)), config)
}

fn routes<'a>(out: &'a BuildOutput, host: &str) -> &'a [Route] {
    &http_vhost(out, host).routes
}

fn paths(out: &BuildOutput, host: &str) -> Vec<PathMatch> {
    routes(out, host).iter().map(|r| r.path.clone()).collect()
}

fn current(out: &BuildOutput, key: &ObjectKey) -> Validity {
    status_of(out, key).current
}

fn messages(out: &BuildOutput, key: &ObjectKey) -> String {
    status_of(out, key)
        .errors
        .iter()
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn forward(route: &Route) -> &crate::dag::Forward {
    match &route.action {
        RouteAction::Forward(f) => f,
        other => panic!("route does not forward: {other:?}"),
    }
}

#[test]
fn a_root_serves_its_routes_on_its_fqdn() {
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root("web", "Web.Example.COM", TO_S1)
    ));
    let r = routes(&out, "web.example.com");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].path, PathMatch::Prefix("/".into()));
    assert_eq!(cluster_of(&r[0]), "default/s1/80/da39a3ee5e");
    assert_eq!(r[0].origin, key("default", "web"));
    let status = status_of(&out, &key("default", "web"));
    assert_eq!(status.current, Validity::Valid);
    assert_eq!(status.observed_generation, Some(2));
}

#[test]
fn includes_join_prefixes_and_headers_across_namespaces() {
    let yaml = format!(
        "{}{}{}",
        svc("team", "s1"),
        proxy(
            "default",
            "root",
            "  virtualhost: {fqdn: a.com}\n  includes:\n  - name: child\n    namespace: team\n    conditions: [{prefix: /api}, {header: {name: X-Env, exact: prod}}]\n"
        ),
        proxy(
            "team",
            "child",
            "  routes:\n  - conditions: [{prefix: /v1}]\n    services: [{name: s1, port: 80}]\n  - services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    let r = routes(&out, "a.com");
    assert_eq!(
        paths(&out, "a.com"),
        [
            PathMatch::Prefix("/api/v1".into()),
            PathMatch::Prefix("/api".into())
        ]
    );
    for route in r {
        assert_eq!(route.headers.len(), 1);
        assert_eq!(route.headers[0].name, "x-env");
        assert_eq!(
            route.headers[0].value,
            HeaderValueMatch::Exact("prod".into())
        );
        assert_eq!(route.origin, key("team", "child"));
        // The child's services are looked up in the child's namespace.
        assert_eq!(cluster_of(route), "team/s1/80/da39a3ee5e");
    }
    assert_eq!(current(&out, &key("team", "child")), Validity::Valid);
    assert_eq!(current(&out, &key("default", "root")), Validity::Valid);
}

#[test]
fn include_prefix_slashes_collapse_as_in_contour() {
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "root",
            "  virtualhost: {fqdn: a.com}\n  includes:\n  - name: child\n    conditions: [{prefix: /api/}]\n"
        ),
        proxy(
            "default",
            "child",
            "  routes:\n  - conditions: [{prefix: /v1}]\n    services: [{name: s1, port: 80}]\n  - conditions: [{exact: /exact}]\n    services: [{name: s1, port: 80}]\n  - conditions: [{regex: '/re.[0-9]+'}]\n    services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    assert_eq!(
        paths(&out, "a.com"),
        [
            PathMatch::Exact("/api/exact".into()),
            // The include prefix is literal text at the start of the regex.
            PathMatch::Regex("/api/re.[0-9]+".into()),
            PathMatch::Prefix("/api/v1".into()),
        ]
    );
}

#[test]
fn a_missing_include_answers_502_on_its_conditions() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "root",
            "  virtualhost: {fqdn: a.com}\n  routes:\n  - services: [{name: s1, port: 80}]\n  includes:\n  - {name: gone, namespace: team, conditions: [{prefix: /gone}]}\n"
        ),
    );
    let out = build_yaml(&yaml);
    let r = routes(&out, "a.com");
    assert_eq!(r[0].path, PathMatch::Prefix("/gone".into()));
    assert_eq!(
        r[0].action,
        RouteAction::DirectResponse {
            status: 502,
            body: None
        }
    );
    assert_eq!(cluster_of(&r[1]), "default/s1/80/da39a3ee5e");
    assert_eq!(
        error_reasons(&out, &key("default", "root")),
        [Reason::IncludeNotFound]
    );
    assert!(messages(&out, &key("default", "root")).contains("include team/gone not found"));
}

#[test]
fn an_include_cycle_is_refused_where_it_closes() {
    let yaml = format!(
        "{}{}{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "root",
            "  virtualhost: {fqdn: a.com}\n  includes:\n  - {name: b, conditions: [{prefix: /b}]}\n"
        ),
        proxy(
            "default",
            "b",
            "  routes:\n  - services: [{name: s1, port: 80}]\n  includes:\n  - {name: c, conditions: [{prefix: /c}]}\n"
        ),
        proxy(
            "default",
            "c",
            "  includes:\n  - {name: b, conditions: [{prefix: /again}]}\n"
        ),
    );
    let out = build_yaml(&yaml);
    assert_eq!(paths(&out, "a.com"), [PathMatch::Prefix("/b".into())]);
    let c = key("default", "c");
    assert_eq!(error_reasons(&out, &c), [Reason::IncludeCreatesCycle]);
    assert!(
        messages(&out, &c).contains("default/b -> default/c -> default/b"),
        "{}",
        messages(&out, &c)
    );
    assert_eq!(current(&out, &key("default", "b")), Validity::Valid);
}

#[test]
fn a_root_cannot_include_a_root() {
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "one",
            "  virtualhost: {fqdn: a.com}\n  routes:\n  - services: [{name: s1, port: 80}]\n  includes:\n  - {name: two, conditions: [{prefix: /two}]}\n"
        ),
        root("two", "b.com", TO_S1),
    );
    let out = build_yaml(&yaml);
    assert_eq!(
        error_reasons(&out, &key("default", "one")),
        [Reason::RootIncludesRoot]
    );
    assert_eq!(paths(&out, "a.com"), [PathMatch::Prefix("/".into())]);
    assert_eq!(current(&out, &key("default", "two")), Validity::Valid);
}

#[test]
fn a_child_no_root_reaches_is_orphaned() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "lonely",
            "  routes:\n  - services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    let status = status_of(&out, &key("default", "lonely"));
    assert_eq!(status.current, Validity::Orphaned);
    assert_eq!(status.errors[0].kind, ProblemKind::Orphaned);
    assert_eq!(status.description(), crate::status::ORPHANED);
    assert!(out.dag.http.is_empty());
}

#[test]
fn a_duplicate_fqdn_invalidates_every_claimant() {
    let yaml = format!(
        "{}{}{}{}",
        svc("default", "s1"),
        root("one", "a.com", TO_S1),
        root("two", "A.com", TO_S1),
        root("three", "b.com", TO_S1),
    );
    let out = build_yaml(&yaml);
    for name in ["one", "two"] {
        assert_eq!(
            error_reasons(&out, &key("default", name)),
            [Reason::DuplicateVhost]
        );
        assert!(messages(&out, &key("default", name)).contains("default/one, default/two"));
    }
    assert!(!out.dag.http.contains_key("a.com"));
    assert!(out.dag.http.contains_key("b.com"));
}

#[test]
fn roots_outside_the_root_namespaces_are_refused() {
    let config = BuildConfig {
        root_namespaces: vec!["roots".into()],
        ..BuildConfig::default()
    };
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        svc("roots", "s1"),
        root("web", "a.com", TO_S1),
    ) + &proxy(
        "roots",
        "web",
        "  virtualhost: {fqdn: b.com}\n  routes:\n  - services: [{name: s1, port: 80}]\n",
    );
    let out = build_config(&yaml, &config);
    assert_eq!(
        error_reasons(&out, &key("default", "web")),
        [Reason::RootProxyNotAllowedInNamespace]
    );
    assert_eq!(
        status_of(&out, &key("default", "web")).errors[0].kind,
        ProblemKind::RootNamespaceError
    );
    assert_eq!(out.dag.http.keys().collect::<Vec<_>>(), ["b.com"]);
}

#[test]
fn a_ten_thousand_deep_include_chain_is_walked_without_recursion() {
    const DEPTH: usize = 10_000;
    let mut docs = vec![
        svc("default", "s1"),
        proxy(
            "default",
            "root",
            "  virtualhost: {fqdn: deep.com}\n  includes:\n  - {name: c0, conditions: [{prefix: /d}]}\n",
        ),
    ];
    for i in 0..DEPTH {
        let spec = if i + 1 == DEPTH {
            "  routes:\n  - services: [{name: s1, port: 80}]\n".to_string()
        } else {
            format!(
                "  includes:\n  - {{name: c{}, conditions: [{{prefix: /d}}]}}\n",
                i + 1
            )
        };
        docs.push(proxy("default", &format!("c{i}"), &spec));
    }
    // One document at a time: the YAML reader caps documents per stream.
    let out = build(
        &snapshot_of(docs.iter().flat_map(|d| objects(d))),
        &BuildConfig::default(),
    );
    let r = routes(&out, "deep.com");
    assert_eq!(r.len(), 1);
    // The root's include and those of the first DEPTH - 1 children each add `/d`.
    let expected = PathMatch::Prefix("/d".repeat(DEPTH));
    assert!(
        r[0].path == expected,
        "path of {} bytes",
        r[0].path.value().len()
    );
    assert!(
        out.status
            .objects
            .values()
            .all(|s| s.current == Validity::Valid)
    );
    assert_eq!(out.status.objects.len(), DEPTH + 1);
}

#[test]
fn includes_that_multiply_are_cut_off_at_the_visit_limit() {
    // Every level includes the next twice: 2^40 include paths from 41 objects.
    let mut yaml = svc("default", "s1");
    yaml += &proxy(
        "default",
        "root",
        "  virtualhost: {fqdn: wide.com}\n  includes:\n  - {name: l0}\n",
    );
    for i in 0..40 {
        let spec = format!(
            "  routes:\n  - conditions: [{{header: {{name: x-l{i}, present: true}}}}]\n    services: [{{name: s1, port: 80}}]\n  includes:\n  - {{name: l{n}, conditions: [{{prefix: /a}}]}}\n  - {{name: l{n}, conditions: [{{prefix: /b}}]}}\n",
            n = i + 1
        );
        yaml += &proxy("default", &format!("l{i}"), &spec);
    }
    let out = build_yaml(&yaml);
    assert_eq!(
        error_reasons(&out, &key("default", "root")),
        [Reason::IncludeLimitExceeded]
    );
}

#[test]
fn route_conditions_become_matches_most_specific_first() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        root(
            "web",
            "a.com",
            "  - conditions: [{prefix: /}]\n    services: [{name: s1, port: 80}]\n  - conditions: [{prefix: /api}, {header: {name: x-a, contains: b, ignoreCase: true}}, {queryParameter: {name: q, prefix: v}}]\n    services: [{name: s1, port: 80}]\n  - conditions: [{prefix: /api}]\n    services: [{name: s1, port: 80}]\n  - conditions: [{exact: /api/exact}, {header: {name: x-b, notpresent: true}}]\n    services: [{name: s1, port: 80}]\n  - conditions: [{regex: '/r/[a-z]+'}, {queryParameter: {name: flag, present: true}}]\n    services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    let r = routes(&out, "a.com");
    assert_eq!(
        paths(&out, "a.com"),
        [
            PathMatch::Exact("/api/exact".into()),
            PathMatch::Regex("/r/[a-z]+".into()),
            PathMatch::Prefix("/api".into()),
            PathMatch::Prefix("/api".into()),
            PathMatch::Prefix("/".into()),
        ]
    );
    assert!(r[0].headers[0].invert && r[0].headers[0].value == HeaderValueMatch::Present);
    assert_eq!(r[1].query_params[0].value, QueryValueMatch::Present);
    // More matches first within the same path.
    assert!(r[2].headers[0].ignore_case);
    assert_eq!(
        r[2].query_params[0].value,
        QueryValueMatch::Prefix("v".into())
    );
    assert!(r[3].headers.is_empty());
}

#[test]
fn includes_refuse_exact_and_regex_conditions_and_duplicates() {
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "root",
            "  virtualhost: {fqdn: a.com}\n  includes:\n  - {name: c, conditions: [{exact: /x}]}\n  - {name: c, conditions: [{prefix: /y}]}\n  - {name: c, conditions: [{prefix: /y}]}\n"
        ),
        proxy(
            "default",
            "c",
            "  routes:\n  - services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    let reasons = error_reasons(&out, &key("default", "root"));
    assert!(
        reasons.contains(&Reason::IncludeMatchConditionsNotValid),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&Reason::DuplicateMatchConditions),
        "{reasons:?}"
    );
    assert_eq!(paths(&out, "a.com"), [PathMatch::Prefix("/y".into())]);
}

#[test]
fn weights_default_to_equal_and_mirrors_take_a_percentage() {
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        svc("default", "s2"),
        root(
            "web",
            "a.com",
            "  - conditions: [{prefix: /equal}]\n    services: [{name: s1, port: 80}, {name: s2, port: 80}]\n  - conditions: [{prefix: /split}]\n    services: [{name: s1, port: 80, weight: 80}, {name: s2, port: 80}]\n  - services: [{name: s1, port: 80}, {name: s2, port: 80, mirror: true, weight: 25}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    let r = routes(&out, "a.com");
    let weights = |route: &Route| {
        forward(route)
            .clusters
            .iter()
            .map(|c| c.weight)
            .collect::<Vec<_>>()
    };
    assert_eq!(r[0].path, PathMatch::Prefix("/equal".into()));
    assert_eq!(weights(&r[0]), [1, 1]);
    assert_eq!(weights(&r[1]), [80, 0]);
    let mirror = &forward(&r[2]).policies().mirrors;
    assert_eq!(mirror.len(), 1);
    assert_eq!(mirror[0].cluster, "default/s2/80/da39a3ee5e");
    assert_eq!(mirror[0].per_million, 250_000);
}

#[test]
fn missing_services_answer_503_and_say_why() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        root(
            "web",
            "a.com",
            "  - conditions: [{prefix: /gone}]\n    services: [{name: gone, port: 80}]\n  - conditions: [{prefix: /half}]\n    services: [{name: s1, port: 80, weight: 50}, {name: gone, port: 80, weight: 50}]\n  - services: [{name: s1, port: 81}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    let r = routes(&out, "a.com");
    assert_eq!(
        r[0].action,
        RouteAction::DirectResponse {
            status: 503,
            body: None
        }
    );
    // The Service that exists keeps serving its share.
    assert_eq!(forward(&r[1]).clusters.len(), 1);
    assert_eq!(
        r[2].action,
        RouteAction::DirectResponse {
            status: 503,
            body: None
        }
    );
    let web = key("default", "web");
    assert_eq!(
        error_reasons(&out, &web),
        [
            Reason::ServiceUnresolvedReference,
            Reason::ServicePortInvalid
        ]
    );
    assert!(messages(&out, &web).contains("service default/gone not found"));
}

#[test]
fn route_policies_reach_the_dag() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        root(
            "web",
            "a.com",
            "  - conditions: [{prefix: /api}]\n    enableWebsockets: true\n    services:\n    - name: s1\n      port: 80\n      protocol: h2c\n      requestHeadersPolicy: {set: [{name: Host, value: upstream.local}]}\n    timeoutPolicy: {response: 30s, idle: infinity, idleConnection: 90s}\n    retryPolicy: {count: 3, perTryTimeout: 2s, retryOn: [gateway-error, retriable-status-codes], retriableStatusCodes: [503]}\n    loadBalancerPolicy: {strategy: Cookie}\n    healthCheckPolicy: {path: /healthz, intervalSeconds: 7}\n    pathRewritePolicy: {replacePrefix: [{prefix: /other, replacement: /x}, {prefix: /api, replacement: /v2}]}\n    requestHeadersPolicy: {set: [{name: X-Share, value: 100%}], remove: [X-Drop]}\n    responseHeadersPolicy: {remove: [Server]}\n"
        ),
    );
    let out = build_yaml(&yaml);
    let r = &routes(&out, "a.com")[0];
    let f = forward(r);
    assert!(f.websocket);
    assert_eq!(
        f.timeout,
        Some(Timeout::After(std::time::Duration::from_secs(30)))
    );
    let retry = f.retry.as_ref().unwrap();
    assert_eq!(retry.num_retries, 3);
    assert_eq!(retry.retry_on, ["gateway-error", "retriable-status-codes"]);
    assert_eq!(retry.retriable_status_codes, [503]);
    let p = f.policies();
    assert_eq!(p.idle_timeout, Some(Timeout::Infinite));
    assert_eq!(p.prefix_rewrite.as_deref(), Some("/v2"));
    assert_eq!(
        p.request_headers.set,
        [("x-share".to_string(), "100%".into())]
    );
    assert_eq!(p.request_headers.remove, ["x-drop"]);
    assert_eq!(p.response_headers.remove, ["server"]);
    assert!(matches!(
        &p.hash_policies[0].kind,
        HashPolicyKind::Cookie { name, .. } if name == "X-Sesame-Session-Affinity"
    ));
    assert_eq!(
        f.clusters[0].rewrites().host_rewrite.as_deref(),
        Some("upstream.local")
    );
    let cluster = &out.dag.clusters[&f.clusters[0].name];
    assert_eq!(cluster.protocol, UpstreamProtocol::H2c);
    assert_eq!(cluster.lb_policy, LbPolicy::RingHash);
    assert!(matches!(
        &cluster.health_check.as_ref().unwrap().checker,
        HealthChecker::Http { path, .. } if path == "/healthz"
    ));
    assert_eq!(
        cluster.health_check.as_ref().unwrap().interval,
        std::time::Duration::from_secs(7)
    );
    assert_eq!(
        cluster.idle_connection_timeout,
        Some(Timeout::After(std::time::Duration::from_secs(90)))
    );
    // Settings beyond the protocol give the cluster a name of its own.
    assert!(cluster.name.starts_with("default/s1/80/"));
    assert_ne!(cluster.name, "default/s1/80/da39a3ee5e");
    assert_eq!(current(&out, &key("default", "web")), Validity::Valid);
}

#[test]
fn redirect_and_direct_response_policies() {
    let yaml = root(
        "web",
        "a.com",
        "  - conditions: [{prefix: /old}]\n    requestRedirectPolicy: {scheme: https, hostname: New.com, port: 8443, statusCode: 301, prefix: /new}\n  - directResponsePolicy: {statusCode: 418, body: teapot}\n",
    );
    let out = build_yaml(&yaml);
    let r = routes(&out, "a.com");
    match &r[0].action {
        RouteAction::Redirect(redirect) => {
            assert_eq!(redirect.scheme.as_deref(), Some("https"));
            assert_eq!(redirect.host.as_deref(), Some("new.com"));
            assert_eq!(redirect.port, Some(8443));
            assert_eq!(redirect.status, 301);
            assert_eq!(
                redirect.path,
                Some(crate::dag::RedirectPath::Prefix("/new".into()))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r[1].action,
        RouteAction::DirectResponse {
            status: 418,
            body: Some("teapot".into())
        }
    );
}

#[test]
fn proxies_of_other_classes_are_ignored() {
    let yaml = format!(
        "{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "other",
            "  ingressClassName: nginx\n  virtualhost: {fqdn: a.com}\n  routes:\n  - services: [{name: s1, port: 80}]\n"
        ),
    );
    let out = build_yaml(&yaml);
    assert!(out.dag.http.is_empty());
    assert!(!out.status.objects.contains_key(&key("default", "other")));
}

#[test]
fn wildcard_roots_match_one_label_through_the_authority() {
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root("web", "'*.Example.com'", TO_S1)
    ));
    let r = routes(&out, "*.example.com");
    assert_eq!(r[0].headers[0].name, ":authority");
    assert!(matches!(r[0].headers[0].value, HeaderValueMatch::Regex(_)));
}

#[test]
fn upstream_validation_and_request_hashing_reach_the_cluster() {
    let ca = cert(&["ca.local"]).crt;
    let b64 = serde_json::to_value(k8s_openapi::ByteString(ca.into_bytes())).unwrap();
    let ca_secret = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: upstream-ca, namespace: default}}\ndata:\n  ca.crt: {}\n",
        b64.as_str().unwrap()
    );
    let yaml = format!(
        "{}{ca_secret}{}",
        svc("default", "s1"),
        root(
            "web",
            "a.com",
            "  - services:\n    - name: s1\n      port: 80\n      validation: {caSecret: upstream-ca, subjectName: s1.default}\n    loadBalancerPolicy:\n      strategy: RequestHash\n      requestHashPolicies:\n      - {headerHashOptions: {headerName: X-User}, terminal: true}\n      - {hashSourceIP: true}\n      - {queryParameterHashOptions: {parameterName: ''}}\n"
        ),
    );
    let out = build_yaml(&yaml);
    let web = key("default", "web");
    assert_eq!(current(&out, &web), Validity::Valid);
    // The unusable hash policy is a warning, not an error.
    assert_eq!(
        status_of(&out, &web).warnings[0].reason,
        Reason::LoadBalancerPolicyNotValid
    );
    let f = forward(&routes(&out, "a.com")[0]);
    let kinds: Vec<_> = f
        .policies()
        .hash_policies
        .iter()
        .map(|h| h.kind.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            HashPolicyKind::Header("x-user".into()),
            HashPolicyKind::SourceIp
        ]
    );
    let cluster = &out.dag.clusters[&f.clusters[0].name];
    assert_eq!(cluster.protocol, UpstreamProtocol::Tls);
    assert_eq!(cluster.lb_policy, LbPolicy::RingHash);
    let validation = cluster.upstream_validation.as_ref().unwrap();
    assert_eq!(validation.subject_names, ["s1.default"]);
    assert!(!validation.ca_pem.is_empty());

    // A CA Secret without a certificate makes the route's service an error.
    let bad = yaml.replace("ca.crt:", "other:");
    let out = build_yaml(&bad);
    assert!(
        messages(&out, &web).contains("validation.caSecret default/upstream-ca"),
        "{}",
        messages(&out, &web)
    );
}

mod cluster_policies;
mod cookies;
mod global_rate_limits;
mod jwt;
mod policies;
mod refusals;
mod tls;

//! Policies that shape a service's cluster: slow start on route services and TCP health checks
//! on TCP proxies, what reaches the DAG and what is refused, on which object, with which reason.

use std::time::Duration;

use pretty_assertions::assert_eq;

use super::tls::tls_yaml;
use super::*;
use crate::dag::{Cluster, HealthCheck, HealthChecker, SlowStart};

/// The cluster the first service of the route to `prefix` on `host` uses.
fn cluster_of<'a>(out: &'a BuildOutput, host: &str, prefix: &str) -> &'a Cluster {
    let route = routes(out, host)
        .iter()
        .find(|r| r.path == PathMatch::Prefix(prefix.into()))
        .unwrap_or_else(|| panic!("no route {prefix} on {host}"));
    &out.dag.clusters[&forward(route).clusters[0].name]
}

/// A root for `a.com` with a route under `/slow` to `s1` with `service` fields added (YAML
/// flow-map entries), `strategy` (and any other `loadBalancerPolicy` entries) as its load
/// balancing, and a plain route under `/` to `s1`.
fn slow_root(service: &str, strategy: &str) -> String {
    format!(
        "{}{}",
        svc("default", "s1"),
        root(
            "web",
            "a.com",
            &format!(
                "  - conditions: [{{prefix: /slow}}]\n    loadBalancerPolicy: {{strategy: {strategy}}}\n    services: [{{name: s1, port: 80, {service}}}]\n{TO_S1}"
            ),
        )
    )
}

#[test]
fn slow_start_reaches_its_cluster_and_names_it() {
    let out = build_yaml(&slow_root(
        "slowStartPolicy: {window: 30s, aggression: '1.5', minWeightPercent: 5}",
        "RoundRobin",
    ));
    assert_eq!(current(&out, &key("default", "web")), Validity::Valid);
    assert!(status_of(&out, &key("default", "web")).warnings.is_empty());
    let slow = cluster_of(&out, "a.com", "/slow");
    assert_eq!(
        slow.slow_start.as_deref(),
        Some(&SlowStart {
            window: Duration::from_secs(30),
            aggression: 1.5,
            min_weight_percent: 5,
        })
    );
    // The plain route to the same Service port keeps its own cluster, without slow start.
    let plain = cluster_of(&out, "a.com", "/");
    assert_eq!(plain.name, "default/s1/80/da39a3ee5e");
    assert_eq!(plain.slow_start, None);
    assert_ne!(slow.name, plain.name);
    assert!(slow.name.starts_with("default/s1/80/"));
}

#[test]
fn slow_start_defaults_are_contours_and_least_request_takes_it() {
    let out = build_yaml(&slow_root(
        "slowStartPolicy: {window: 1m30s}",
        "WeightedLeastRequest",
    ));
    assert_eq!(current(&out, &key("default", "web")), Validity::Valid);
    let slow = cluster_of(&out, "a.com", "/slow");
    assert_eq!(slow.lb_policy, LbPolicy::LeastRequest);
    assert_eq!(
        slow.slow_start.as_deref(),
        Some(&SlowStart {
            window: Duration::from_secs(90),
            aggression: 1.0,
            min_weight_percent: 10,
        })
    );
}

#[test]
fn hostile_slow_start_policies_are_refused_with_slow_start_invalid() {
    let cases = [
        ("slowStartPolicy: {window: fast}", "RoundRobin"),
        ("slowStartPolicy: {aggression: '2'}", "RoundRobin"),
        ("slowStartPolicy: {window: -5s}", "RoundRobin"),
        ("slowStartPolicy: {window: 9999h}", "RoundRobin"),
        (
            "slowStartPolicy: {window: 10s, aggression: '-1'}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, aggression: abc}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, aggression: '0'}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, aggression: '1e3'}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, aggression: NaN}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, aggression: '99999'}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, minWeightPercent: 101}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s, minWeightPercent: -1}",
            "RoundRobin",
        ),
        (
            "slowStartPolicy: {window: 10s}",
            "RequestHash, requestHashPolicies: [{hashSourceIP: true}]",
        ),
        ("slowStartPolicy: {window: 10s}", "Random"),
        ("slowStartPolicy: {window: 10s}", "Cookie"),
    ];
    for (service, strategy) in cases {
        let out = build_yaml(&slow_root(service, strategy));
        let web = key("default", "web");
        assert_eq!(
            error_reasons(&out, &web),
            [Reason::SlowStartInvalid],
            "{service} {strategy}"
        );
        assert_eq!(
            status_of(&out, &web).errors[0].kind,
            ProblemKind::ServiceError
        );
        // The refused route never reaches the DAG; no cluster carries a slow start.
        assert_eq!(
            paths(&out, "a.com"),
            [PathMatch::Prefix("/".into())],
            "{service}"
        );
        assert!(out.dag.clusters.values().all(|c| c.slow_start.is_none()));
    }
}

/// A passthrough root for `a.com` proxying to `s1` with `tcpproxy` fields added (YAML lines
/// indented four spaces).
fn tcp_root(extra: &str) -> String {
    format!(
        "{}{}",
        svc("default", "s1"),
        proxy(
            "default",
            "pass",
            &format!(
                "  virtualhost:\n    fqdn: a.com\n    tls: {{passthrough: true}}\n  tcpproxy:\n    services: [{{name: s1, port: 80}}]\n{extra}"
            ),
        ),
    )
}

#[test]
fn a_tcp_health_check_reaches_the_tcp_proxy_clusters() {
    let out = build_yaml(&tcp_root(
        "    healthCheckPolicy: {intervalSeconds: 3, timeoutSeconds: 1, unhealthyThresholdCount: 2, healthyThresholdCount: 1}\n",
    ));
    let pass = key("default", "pass");
    assert_eq!(current(&out, &pass), Validity::Valid);
    assert!(status_of(&out, &pass).warnings.is_empty());
    let name = &out.dag.passthrough["a.com"].clusters[0].name;
    assert_ne!(name, "default/s1/80/da39a3ee5e");
    assert_eq!(
        out.dag.clusters[name].health_check.as_deref(),
        Some(&HealthCheck {
            checker: HealthChecker::Tcp,
            interval: Duration::from_secs(3),
            timeout: Duration::from_secs(1),
            unhealthy_threshold: 2,
            healthy_threshold: 1,
        })
    );

    // An empty policy checks with Contour's defaults.
    let out = build_yaml(&tcp_root("    healthCheckPolicy: {}\n"));
    let name = &out.dag.passthrough["a.com"].clusters[0].name;
    assert_eq!(
        out.dag.clusters[name].health_check.as_deref(),
        Some(&HealthCheck::new(HealthChecker::Tcp))
    );
}

#[test]
fn a_tcp_health_check_out_of_range_refuses_the_tcp_proxy() {
    for policy in [
        "{intervalSeconds: -1}",
        "{timeoutSeconds: 100000}",
        "{unhealthyThresholdCount: 5000}",
        "{healthyThresholdCount: -3}",
    ] {
        let out = build_yaml(&tcp_root(&format!("    healthCheckPolicy: {policy}\n")));
        let pass = key("default", "pass");
        assert_eq!(
            error_reasons(&out, &pass),
            [Reason::HealthCheckPolicyNotValid],
            "{policy}"
        );
        assert_eq!(
            status_of(&out, &pass).errors[0].kind,
            ProblemKind::TCPProxyError
        );
        assert!(out.dag.passthrough.is_empty(), "{policy}");
        assert!(out.dag.clusters.is_empty(), "{policy}");
    }
}

#[test]
fn slow_start_on_a_tcp_proxy_service_is_ignored_with_a_warning() {
    let out = build_yaml(&format!(
        "{}{}{}",
        svc("default", "s1"),
        tls_yaml("default", "cert", &["a.com"]),
        proxy(
            "default",
            "tcp",
            "  virtualhost: {fqdn: a.com, tls: {secretName: cert}}\n  tcpproxy:\n    services: [{name: s1, port: 80, slowStartPolicy: {window: 10s}}]\n",
        ),
    ));
    let tcp = key("default", "tcp");
    assert_eq!(current(&out, &tcp), Validity::Valid);
    let warnings: Vec<_> = status_of(&out, &tcp)
        .warnings
        .iter()
        .map(|w| w.reason)
        .collect();
    assert_eq!(warnings, [Reason::NotSupported]);
    assert!(out.dag.clusters.values().all(|c| c.slow_start.is_none()));
}

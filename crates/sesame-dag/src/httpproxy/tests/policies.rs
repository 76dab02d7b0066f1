//! Virtual host and route policies: CORS, local rate limits and IP filters, what reaches the DAG
//! and what is refused, on which object, with which reason.

use std::time::Duration;

use pretty_assertions::assert_eq;

use super::tls::tls_yaml;
use super::*;
use crate::dag::{
    CorsPolicy, IpFilter, IpFilterAction, IpFilterRule, IpSource, LocalRateLimit, OriginMatch,
};

/// A root `default/<name>` for `fqdn` whose virtual host also has `vhost` (YAML lines indented
/// four spaces), with `routes`.
pub(super) fn root_with(name: &str, fqdn: &str, vhost: &str, routes: &str) -> String {
    proxy(
        "default",
        name,
        &format!("  virtualhost:\n    fqdn: {fqdn}\n{vhost}  routes:\n{routes}"),
    )
}

const CORS: &str = "    corsPolicy:\n      allowCredentials: true\n      allowPrivateNetwork: true\n      allowOrigin: ['*', 'https://a.example.com', 'https://.*\\.b\\.example\\.com']\n      allowMethods: [GET, OPTIONS]\n      allowHeaders: [authorization, X-Custom]\n      exposeHeaders: [X-Request-Id]\n      maxAge: 10m\n";

fn warnings(out: &BuildOutput, key: &ObjectKey) -> Vec<(ProblemKind, Reason)> {
    status_of(out, key)
        .warnings
        .iter()
        .map(|p| (p.kind, p.reason))
        .collect()
}

#[test]
fn a_cors_policy_reaches_both_listeners_of_its_host_only() {
    let out = build_yaml(&format!(
        "{}{}{}{}",
        svc("default", "s1"),
        tls_yaml("default", "cert", &["a.com"]),
        proxy(
            "default",
            "web",
            &format!(
                "  virtualhost:\n    fqdn: a.com\n    tls: {{secretName: cert}}\n{CORS}  routes:\n{TO_S1}"
            ),
        ),
        root("other", "b.com", TO_S1),
    ));
    let want = CorsPolicy {
        allow_origin: vec![
            OriginMatch::Exact("*".into()),
            OriginMatch::Exact("https://a.example.com".into()),
            OriginMatch::Regex(r"https://.*\.b\.example\.com".into()),
        ],
        allow_methods: vec!["GET".into(), "OPTIONS".into()],
        allow_headers: vec!["authorization".into(), "X-Custom".into()],
        expose_headers: vec!["X-Request-Id".into()],
        max_age: Some(600),
        allow_credentials: true,
        allow_private_network: true,
    };
    assert_eq!(current(&out, &key("default", "web")), Validity::Valid);
    assert_eq!(http_vhost(&out, "a.com").cors.as_deref(), Some(&want));
    assert_eq!(
        out.dag.https["a.com"].virtual_host.cors.as_deref(),
        Some(&want)
    );
    assert_eq!(http_vhost(&out, "b.com").cors, None);
    assert!(status_of(&out, &key("default", "web")).warnings.is_empty());
}

#[test]
fn vhost_and_route_local_rate_limits_reach_the_dag() {
    let vhost = "    rateLimitPolicy:\n      local: {requests: 100, unit: second, burst: 20}\n";
    let routes = "  - conditions: [{prefix: /strict}]\n    services: [{name: s1, port: 80}]\n    rateLimitPolicy:\n      local:\n        requests: 2\n        unit: minute\n        responseStatusCode: 503\n        responseHeadersToAdd: [{name: X-RateLimited, value: '100%'}]\n  - services: [{name: s1, port: 80}]\n";
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root_with("web", "a.com", vhost, routes)
    ));
    assert_eq!(current(&out, &key("default", "web")), Validity::Valid);
    let vh = http_vhost(&out, "a.com");
    assert_eq!(
        vh.rate_limit.as_deref(),
        Some(&LocalRateLimit {
            max_tokens: 120,
            tokens_per_fill: 100,
            fill_interval: Duration::from_secs(1),
            status: None,
            response_headers: Default::default(),
        })
    );
    let strict = forward(&vh.routes[0])
        .policies()
        .rate_limit
        .clone()
        .unwrap();
    assert_eq!(
        (
            strict.max_tokens,
            strict.tokens_per_fill,
            strict.fill_interval
        ),
        (2, 2, Duration::from_secs(60))
    );
    assert_eq!(strict.status, Some(503));
    assert_eq!(
        strict.response_headers.set,
        vec![("x-ratelimited".to_string(), "100%".into())]
    );
    assert_eq!(forward(&vh.routes[1]).policies().rate_limit, None);
}

#[test]
fn limits_on_routes_without_services_are_warnings() {
    let vhost = "    rateLimitPolicy:\n      local: {requests: 1, unit: hour}\n      global: {descriptors: [{entries: [{remoteAddress: {}}]}]}\n";
    let routes = "  - conditions: [{prefix: /gone}]\n    directResponsePolicy: {statusCode: 410}\n    rateLimitPolicy: {local: {requests: 1, unit: second}}\n  - services: [{name: s1, port: 80}]\n    rateLimitPolicy: {global: {descriptors: [{entries: [{genericKey: {value: x}}]}]}}\n";
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root_with("web", "a.com", vhost, routes)
    ));
    let web = key("default", "web");
    assert_eq!(current(&out, &web), Validity::Valid);
    assert_eq!(
        warnings(&out, &web),
        vec![(ProblemKind::RouteError, Reason::RateLimitPolicyNotValid)]
    );
    let vh = http_vhost(&out, "a.com");
    assert!(
        vh.rate_limit.is_some(),
        "the local limit applies beside the global one"
    );
    assert!(vh.global_rate_limit.is_some());
    assert_eq!(vh.routes.len(), 2);
}

/// Builds `good` plus a root `bad` for `bad.com` with `vhost` and `routes`; checks `bad` is
/// invalid with (`kind`, `reason`) and a message containing `needle`, `bad.com` is not served,
/// and `good.com` is served exactly as alone.
fn assert_host_refused(vhost: &str, routes: &str, kind: ProblemKind, reason: Reason, needle: &str) {
    let good = format!(
        "{}{}",
        svc("default", "s1"),
        root("good", "good.com", TO_S1)
    );
    let alone = build_yaml(&good);
    let out = build_yaml(&format!(
        "{good}{}",
        root_with("bad", "bad.com", vhost, routes)
    ));
    let bad = key("default", "bad");
    let status = status_of(&out, &bad);
    assert_eq!(status.current, Validity::Invalid, "{vhost}{routes}");
    assert!(
        status
            .errors
            .iter()
            .any(|p| p.kind == kind && p.reason == reason && p.message.contains(needle)),
        "{vhost}{routes}: want {kind:?}/{reason:?} with {needle:?}: {:?}",
        status.errors
    );
    assert_eq!(out.dag.http.get("good.com"), alone.dag.http.get("good.com"));
    assert!(!out.dag.http.contains_key("bad.com"), "{vhost}{routes}");
}

#[test]
fn an_invalid_cors_policy_keeps_its_host_closed() {
    let cors = |fields: &str| format!("    corsPolicy: {{{fields}}}\n");
    for (fields, needle) in [
        ("allowMethods: [GET]", "allowOrigin must list at least one"),
        ("allowOrigin: ['*']", "allowMethods must list at least one"),
        (
            "allowOrigin: ['https://(a.com'], allowMethods: [GET]",
            "allowOrigin \"https://(a.com\"",
        ),
        (
            "allowOrigin: ['*.a.com'], allowMethods: [GET]",
            "nor a valid regular expression",
        ),
        (
            "allowOrigin: ['/(?<=x)y'], allowMethods: [GET]",
            "look-around",
        ),
        (
            "allowOrigin: ['*'], allowMethods: ['GET, POST']",
            "allowMethods \"GET, POST\"",
        ),
        (
            "allowOrigin: ['*'], allowMethods: [GET], allowHeaders: [\"x\\r\\ny\"]",
            "allowHeaders",
        ),
        (
            "allowOrigin: ['*'], allowMethods: [GET], exposeHeaders: ['']",
            "exposeHeaders",
        ),
        (
            "allowOrigin: ['*'], allowMethods: [GET], maxAge: -1s",
            "maxAge \"-1s\"",
        ),
        (
            "allowOrigin: ['*'], allowMethods: [GET], maxAge: 1fortnight",
            "maxAge",
        ),
    ] {
        assert_host_refused(
            &cors(fields),
            TO_S1,
            ProblemKind::CORSError,
            Reason::PolicyDidNotParse,
            needle,
        );
    }
}

#[test]
fn an_invalid_rate_limit_is_refused_on_its_host_or_route() {
    let local = |fields: &str| format!("    rateLimitPolicy: {{local: {{{fields}}}}}\n");
    let cases = [
        ("requests: 0, unit: second", "requests 0"),
        ("unit: second", "requests (none)"),
        ("requests: 1, unit: fortnight", "unit \"fortnight\""),
        ("requests: 1, unit: second, burst: -1", "burst -1"),
        (
            "requests: 1, unit: second, responseStatusCode: 200",
            "responseStatusCode 200",
        ),
        (
            "requests: 1, unit: second, responseHeadersToAdd: [{name: 'x y', value: v}]",
            "responseHeadersToAdd",
        ),
    ];
    for (fields, needle) in cases {
        assert_host_refused(
            &local(fields),
            TO_S1,
            ProblemKind::VirtualHostError,
            Reason::RateLimitPolicyNotValid,
            &format!("Spec.VirtualHost.rateLimitPolicy.local.{needle}"),
        );
        // On a route, the route alone is refused (here the host's only route).
        let route = format!("{TO_S1}    rateLimitPolicy: {{local: {{{fields}}}}}\n");
        assert_host_refused(
            "",
            &route,
            ProblemKind::RouteError,
            Reason::RateLimitPolicyNotValid,
            &format!("rateLimitPolicy.local.{needle}"),
        );
    }
}

/// The rule of an IP filter with `source`, for `address/prefix_len`.
fn ip_rule(source: IpSource, address: &str, prefix_len: u8) -> IpFilterRule {
    IpFilterRule {
        source,
        address: address.parse().unwrap(),
        prefix_len,
    }
}

#[test]
fn ip_filters_reach_both_listeners_and_a_route_filter_replaces_the_host_filter() {
    let vhost = "    tls: {secretName: cert}\n    ipAllowPolicy:\n    - {source: Peer, cidr: 10.1.2.3/8}\n    - {source: Remote, cidr: '2001:db8::1'}\n";
    let routes = format!(
        "  - conditions: [{{prefix: /admin}}]\n    services: [{{name: s1, port: 80}}]\n    ipDenyPolicy: [{{source: Remote, cidr: 192.168.0.1}}]\n{TO_S1}"
    );
    let out = build_yaml(&format!(
        "{}{}{}{}",
        svc("default", "s1"),
        tls_yaml("default", "cert", &["a.com"]),
        root_with("web", "a.com", vhost, &routes),
        root("other", "b.com", TO_S1),
    ));
    assert_eq!(current(&out, &key("default", "web")), Validity::Valid);
    let host = IpFilter {
        action: IpFilterAction::Allow,
        // Normalised to the network address, as Go's net.ParseCIDR does for Contour.
        rules: vec![
            ip_rule(IpSource::Peer, "10.0.0.0", 8),
            ip_rule(IpSource::Remote, "2001:db8::1", 128),
        ],
    };
    let admin = IpFilter {
        action: IpFilterAction::Deny,
        rules: vec![ip_rule(IpSource::Remote, "192.168.0.1", 32)],
    };
    let secure = &out.dag.https["a.com"].virtual_host;
    for vh in [http_vhost(&out, "a.com"), secure] {
        assert_eq!(vh.ip_filter.as_deref(), Some(&host));
        assert_eq!(vh.routes.len(), 2);
        // On HTTP, the route's redirect to HTTPS is filtered too.
        assert_eq!(vh.routes[0].path, PathMatch::Prefix("/admin".into()));
        assert_eq!(vh.routes[0].ip_filter.as_deref(), Some(&admin));
        assert_eq!(vh.routes[1].ip_filter, None);
    }
    assert_eq!(http_vhost(&out, "b.com").ip_filter, None);
}

#[test]
fn an_invalid_ip_filter_keeps_its_host_closed() {
    for (vhost, reason, needle) in [
        (
            "    ipAllowPolicy: [{source: Peer, cidr: 10.0.0.0/8}]\n    ipDenyPolicy: [{source: Peer, cidr: 10.0.0.1}]\n",
            Reason::IncompatibleIPAddressFilters,
            "Spec.VirtualHost: cannot specify both",
        ),
        (
            "    ipAllowPolicy: [{source: Peer, cidr: 10.0.0.0/33}]\n",
            Reason::InvalidCIDR,
            "Spec.VirtualHost.ipAllowPolicy[0]: cidr \"10.0.0.0/33\"",
        ),
        (
            "    ipDenyPolicy: [{source: Peer, cidr: 10.0.0.1}, {source: Remote, cidr: not-an-ip}]\n",
            Reason::InvalidCIDR,
            "Spec.VirtualHost.ipDenyPolicy[1]: cidr \"not-an-ip\"",
        ),
        (
            "    ipAllowPolicy: [{source: Peer}]\n",
            Reason::InvalidCIDR,
            "cidr is required",
        ),
        (
            "    ipAllowPolicy: [{source: Sideways, cidr: 10.0.0.0/8}]\n",
            Reason::IPFilterPolicyNotValid,
            "source \"Sideways\" is not Peer or Remote",
        ),
        (
            "    ipAllowPolicy: [{cidr: 10.0.0.0/8}]\n",
            Reason::IPFilterPolicyNotValid,
            "source \"\"",
        ),
    ] {
        assert_host_refused(vhost, TO_S1, ProblemKind::IPFilterError, reason, needle);
    }
}

#[test]
fn an_invalid_route_ip_filter_answers_403_on_that_route_while_the_others_serve() {
    let routes = format!(
        "  - conditions: [{{prefix: /admin}}]\n    services: [{{name: s1, port: 80}}]\n    ipDenyPolicy: [{{source: Sideways, cidr: 10.0.0.0/8}}]\n{TO_S1}"
    );
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root_with("web", "a.com", "", &routes),
    ));
    let web = key("default", "web");
    assert_eq!(current(&out, &web), Validity::Invalid);
    assert!(
        messages(&out, &web).contains("route \"/admin\": ipDenyPolicy[0]: source \"Sideways\""),
        "{}",
        messages(&out, &web)
    );
    assert_eq!(
        error_reasons(&out, &web),
        vec![Reason::IPFilterPolicyNotValid]
    );
    let vh = http_vhost(&out, "a.com");
    // Dropped, /admin would fall through to `/` unfiltered: it is closed instead.
    assert_eq!(
        vh.routes[0].action,
        RouteAction::DirectResponse {
            status: 403,
            body: None
        }
    );
    assert_eq!(vh.routes[0].ip_filter, None);
    assert_eq!(forward(&vh.routes[1]).clusters.len(), 1);
}

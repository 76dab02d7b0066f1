//! Virtual host policies through a real Envoy: CORS preflights answered by Envoy and CORS headers
//! on actual responses, local rate limits counted request by request, and hostile policy values
//! that must become status conditions, never NACKs.

use crate::harness::{Cluster, Reply, backend, request_plain, services};
use crate::httpproxy::{proxy, refused_then_canary};

/// A request through Envoy's plain-HTTP listener with any method.
async fn request(cluster: &Cluster, method: &str, host: &str, headers: &[(&str, &str)]) -> Reply {
    request_plain(cluster.ports.http, method, host, "/", headers)
        .await
        .unwrap_or_else(|e| panic!("{method} {host}: {e}"))
}

/// A CORS preflight for a PUT from `origin` to `cors.test`.
async fn preflight(cluster: &Cluster, origin: &str) -> Reply {
    let headers = [("origin", origin), ("access-control-request-method", "PUT")];
    request(cluster, "OPTIONS", "cors.test", &headers).await
}

/// The single value of a response header, if present.
fn one<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.header(name).first().copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_are_answered_by_envoy_for_allowed_origins_only() {
    let a = backend("a").await;
    let spec = r"{virtualhost: {fqdn: cors.test, corsPolicy: {
        allowOrigin: ['https://allowed.example', 'https://.*\.regex\.example'],
        allowMethods: [GET, PUT], allowHeaders: [X-Custom], exposeHeaders: [X-Exposed],
        maxAge: 10m, allowCredentials: true}},
      routes: [{services: [{name: svc-a, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("cors.yaml", &proxy("default", "cors", spec)),
    ])
    .await;
    cluster
        .eventually_http("cors.test", "/", "cors proxy served", |r| r.from("a"))
        .await;

    for origin in ["https://allowed.example", "https://x.regex.example"] {
        let reply = preflight(&cluster, origin).await;
        assert_eq!(reply.status, 200, "{origin}: {reply:?}");
        assert_eq!(
            reply.backend, None,
            "Envoy answers the preflight: {reply:?}"
        );
        assert_eq!(one(&reply, "access-control-allow-origin"), Some(origin));
        assert_eq!(one(&reply, "access-control-allow-methods"), Some("GET,PUT"));
        assert_eq!(
            one(&reply, "access-control-allow-headers"),
            Some("X-Custom")
        );
        assert_eq!(one(&reply, "access-control-max-age"), Some("600"));
        assert_eq!(
            one(&reply, "access-control-allow-credentials"),
            Some("true")
        );
    }
    // A disallowed origin gets no CORS answer: Envoy passes the request on.
    let reply = preflight(&cluster, "https://evil.example").await;
    assert!(
        reply.header("access-control-allow-origin").is_empty()
            && reply.header("access-control-allow-methods").is_empty(),
        "{reply:?}"
    );
    // The actual request from an allowed origin carries the CORS headers on the backend's
    // response; one from another origin does not.
    let reply = request(
        &cluster,
        "GET",
        "cors.test",
        &[("origin", "https://allowed.example")],
    )
    .await;
    assert!(reply.from("a"), "{reply:?}");
    assert_eq!(
        one(&reply, "access-control-allow-origin"),
        Some("https://allowed.example")
    );
    assert_eq!(
        one(&reply, "access-control-expose-headers"),
        Some("X-Exposed")
    );
    let reply = request(
        &cluster,
        "GET",
        "cors.test",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert!(reply.from("a"), "{reply:?}");
    assert!(
        reply.header("access-control-allow-origin").is_empty(),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_rate_limits_refuse_requests_over_the_limit_and_routes_override_the_host() {
    let a = backend("a").await;
    // Per hour, so that no refill happens during the test.
    let spec = "{virtualhost: {fqdn: ratelimit.test, rateLimitPolicy: {local: {
        requests: 2, unit: hour, burst: 0,
        responseHeadersToAdd: [{name: X-RateLimited, value: vhost}]}}},
      routes: [
        {conditions: [{prefix: /ready}], services: [{name: svc-a, port: 80}],
         rateLimitPolicy: {local: {requests: 1000, unit: second}}},
        {conditions: [{prefix: /strict}], services: [{name: svc-a, port: 80}],
         rateLimitPolicy: {local: {requests: 1, unit: hour, responseStatusCode: 503,
           responseHeadersToAdd: [{name: X-RateLimited, value: route}]}}},
        {services: [{name: svc-a, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("limit.yaml", &proxy("default", "limit", spec)),
    ])
    .await;
    // Polled on a route with its own, generous limit: the host's tokens stay untouched.
    cluster
        .eventually_http(
            "ratelimit.test",
            "/ready",
            "rate-limited proxy served",
            |r| r.from("a"),
        )
        .await;

    let mut host = Vec::new();
    for _ in 0..5 {
        host.push(cluster.http("ratelimit.test", "/").await);
    }
    let served = host.iter().filter(|r| r.from("a")).count();
    let limited: Vec<_> = host.iter().filter(|r| r.status == 429).collect();
    assert_eq!((served, limited.len()), (2, 3), "{host:?}");
    for reply in &limited {
        assert_eq!(reply.header("x-ratelimited"), ["vhost"], "{reply:?}");
        assert_eq!(reply.backend, None, "{reply:?}");
    }

    // The route's own limit (1 per hour, 503) replaces the host's, which is already spent.
    let mut strict = Vec::new();
    for _ in 0..3 {
        strict.push(cluster.http("ratelimit.test", "/strict").await);
    }
    assert!(strict[0].from("a"), "{strict:?}");
    for reply in &strict[1..] {
        assert_eq!(reply.status, 503, "{reply:?}");
        assert_eq!(reply.header("x-ratelimited"), ["route"], "{reply:?}");
    }
    // And the generous route still serves.
    assert!(cluster.http("ratelimit.test", "/ready").await.from("a"));

    // Envoy counted every refusal under the host's stat prefix.
    let counted: u64 = cluster
        .envoy_counters("http_local_rate_limit.rate_limited")
        .await
        .iter()
        .filter(|(name, _)| name.contains("vhost.ratelimit.test"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(counted, 5, "3 on the host, 2 on /strict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_policy_values_become_invalid_status_and_never_reach_envoy() {
    use serde_json::json;
    let a = backend("a").await;
    let good = "{virtualhost: {fqdn: good.test, corsPolicy: {allowOrigin: ['*'], allowMethods: [GET]}, \
        rateLimitPolicy: {local: {requests: 100, unit: second}}}, \
        routes: [{services: [{name: svc-a, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("good.yaml", &proxy("default", "good", good)),
    ])
    .await;
    cluster
        .eventually_http("good.test", "/", "good proxy served", |r| r.from("a"))
        .await;
    let cors = |policy: serde_json::Value| json!({"corsPolicy": policy});
    let local = |policy: serde_json::Value| json!({"rateLimitPolicy": {"local": policy}});
    let hostile: Vec<(&str, serde_json::Value, serde_json::Value, &str)> = vec![
        (
            "bad-origin-regex",
            cors(json!({"allowOrigin": ["https://(unclosed"], "allowMethods": ["GET"]})),
            json!({}),
            "PolicyDidNotParse",
        ),
        (
            "crlf-method",
            cors(json!({"allowOrigin": ["*"], "allowMethods": ["GET\r\nx-injected: 1"]})),
            json!({}),
            "PolicyDidNotParse",
        ),
        (
            "negative-max-age",
            cors(json!({"allowOrigin": ["*"], "allowMethods": ["GET"], "maxAge": "-1s"})),
            json!({}),
            "PolicyDidNotParse",
        ),
        (
            "zero-requests",
            local(json!({"requests": 0, "unit": "second"})),
            json!({}),
            "RateLimitPolicyNotValid",
        ),
        (
            "fortnight",
            local(json!({"requests": 1, "unit": "fortnight"})),
            json!({}),
            "RateLimitPolicyNotValid",
        ),
        (
            "status-499",
            json!({}),
            local(json!({"requests": 1, "unit": "second", "responseStatusCode": 499})),
            "RateLimitPolicyNotValid",
        ),
        (
            "crlf-header",
            json!({}),
            local(json!({"requests": 1, "unit": "second",
                "responseHeadersToAdd": [{"name": "x-a", "value": "1\r\nx-injected: 1"}]})),
            "RateLimitPolicyNotValid",
        ),
    ];
    for (name, vhost, route, _) in &hostile {
        let mut virtualhost = vhost.clone();
        virtualhost["fqdn"] = json!(format!("{name}.hostile.test"));
        let mut route = route.clone();
        route["services"] = json!([{"name": "svc-a", "port": 80}]);
        let manifest = json!({
            "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"virtualhost": virtualhost, "routes": [route]}
        });
        cluster.write(&format!("{name}.json"), &manifest.to_string());
    }
    let refused: Vec<_> = hostile.iter().map(|(n, _, _, r)| (*n, *r)).collect();
    refused_then_canary(&cluster, &refused).await;
    let reply = request(
        &cluster,
        "GET",
        "good.test",
        &[("origin", "https://x.example")],
    )
    .await;
    assert!(reply.from("a"), "{reply:?}");
    // `*` allows any origin; Envoy answers with the origin itself.
    assert_eq!(
        one(&reply, "access-control-allow-origin"),
        Some("https://x.example")
    );
    cluster.assert_no_update_rejected().await;
    // The hosts with a hostile policy are not served at all.
    for (name, _, _, _) in &hostile {
        let reply = cluster.http(&format!("{name}.hostile.test"), "/").await;
        assert_eq!(reply.status, 404, "{name}: {reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_filters_allow_and_deny_by_peer_and_remote_address() {
    let a = backend("a").await;
    let to_a = "services: [{name: svc-a, port: 80}]";
    let allowed = format!(
        "{{virtualhost: {{fqdn: allowed.test, ipAllowPolicy: [{{source: Peer, cidr: 127.0.0.1/32}}]}},
      routes: [{{conditions: [{{prefix: /admin}}], {to_a},
                 ipDenyPolicy: [{{source: Peer, cidr: 127.0.0.0/8}}]}},
               {{{to_a}}}]}}"
    );
    let excluded = format!(
        "{{virtualhost: {{fqdn: excluded.test, ipAllowPolicy: [{{source: Peer, cidr: 10.0.0.0/8}}, {{source: Peer, cidr: '::1'}}]}},
      routes: [{{{to_a}}}]}}"
    );
    // Remote: the client address Envoy derives. With Sesame's default of no trusted hops it is
    // the peer's, whatever X-Forwarded-For says.
    let remote = format!(
        "{{virtualhost: {{fqdn: remote.test, ipAllowPolicy: [{{source: Remote, cidr: 127.0.0.1}}]}},
      routes: [{{conditions: [{{prefix: /xff}}], {to_a},
                 ipAllowPolicy: [{{source: Remote, cidr: 10.0.0.0/8}}]}},
               {{{to_a}}}]}}"
    );
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("allowed.yaml", &proxy("default", "allowed", &allowed)),
        ("excluded.yaml", &proxy("default", "excluded", &excluded)),
        ("remote.yaml", &proxy("default", "remote", &remote)),
    ])
    .await;
    cluster
        .eventually_http("allowed.test", "/", "allowed proxy served", |r| r.from("a"))
        .await;
    // The host's allow list holds 127.0.0.1; the deny list of /admin (a route's filter replaces
    // the host's) refuses it there only.
    let reply = cluster.http("allowed.test", "/admin").await;
    assert_eq!(
        (reply.status, reply.backend.as_deref()),
        (403, None),
        "{reply:?}"
    );
    assert!(cluster.http("allowed.test", "/other").await.from("a"));
    // A host whose allow list leaves 127.0.0.1 out answers 403.
    cluster
        .eventually_http("excluded.test", "/", "excluded host refused", |r| {
            r.status == 403
        })
        .await;
    // Remote, no trusted hops: X-Forwarded-For is not believed.
    let xff = [("x-forwarded-for", "10.1.2.3")];
    cluster
        .eventually_http("remote.test", "/", "remote proxy served", |r| r.from("a"))
        .await;
    assert!(cluster.http_with("remote.test", "/", &xff).await.from("a"));
    let reply = cluster.http_with("remote.test", "/xff", &xff).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ip_filters_become_invalid_status_and_never_reach_envoy() {
    let a = backend("a").await;
    let cluster = Cluster::start(&[("svc.yaml", &services(&[("svc-a", &a)]))]).await;
    let hostile = [
        (
            "wide-prefix",
            "ipAllowPolicy: [{source: Peer, cidr: 10.0.0.0/33}]",
            "InvalidCIDR",
        ),
        (
            "not-an-ip",
            "ipDenyPolicy: [{source: Peer, cidr: not-an-ip}]",
            "InvalidCIDR",
        ),
        (
            "sideways",
            "ipAllowPolicy: [{source: Sideways, cidr: 10.0.0.0/8}]",
            "IPFilterPolicyNotValid",
        ),
        (
            "both",
            "ipAllowPolicy: [{source: Peer, cidr: 10.0.0.0/8}], ipDenyPolicy: [{source: Peer, cidr: 10.0.0.1}]",
            "IncompatibleIPAddressFilters",
        ),
    ];
    for (name, filter, _) in &hostile {
        // On the host, and (on another proxy) on a route.
        let on_host = format!(
            "{{virtualhost: {{fqdn: {name}.hostile.test, {filter}}}, routes: [{{services: [{{name: svc-a, port: 80}}]}}]}}"
        );
        cluster.write(&format!("{name}.yaml"), &proxy("default", name, &on_host));
        let on_route = format!(
            "{{virtualhost: {{fqdn: {name}.route.test}}, routes: [
              {{conditions: [{{prefix: /filtered}}], services: [{{name: svc-a, port: 80}}], {filter}}},
              {{services: [{{name: svc-a, port: 80}}]}}]}}"
        );
        let route_name = format!("{name}-route");
        cluster.write(
            &format!("{route_name}.yaml"),
            &proxy("default", &route_name, &on_route),
        );
    }
    let route_names: Vec<String> = hostile
        .iter()
        .map(|(n, _, _)| format!("{n}-route"))
        .collect();
    let mut refused: Vec<(&str, &str)> = hostile.iter().map(|(n, _, r)| (*n, *r)).collect();
    refused.extend(
        route_names
            .iter()
            .zip(&hostile)
            .map(|(n, (_, _, r))| (n.as_str(), *r)),
    );
    refused_then_canary(&cluster, &refused).await;
    cluster.assert_no_update_rejected().await;
    for (name, _, _) in &hostile {
        // The host with a hostile filter is not served at all ...
        let reply = cluster.http(&format!("{name}.hostile.test"), "/").await;
        assert_eq!(reply.status, 404, "{name}: {reply:?}");
        // ... and a route with one is closed (403), not left to a shorter route, while the
        // host's other routes serve.
        let host = format!("{name}.route.test");
        let reply = cluster.http(&host, "/filtered").await;
        assert_eq!(
            (reply.status, reply.backend.as_deref()),
            (403, None),
            "{name}: {reply:?}"
        );
        assert!(cluster.http(&host, "/").await.from("a"), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_ip_filters_believe_x_forwarded_for_behind_trusted_hops() {
    let a = backend("a").await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("sesame.yaml");
    // One proxy in front of Envoy: the client is the last address it appended.
    std::fs::write(&config, "network:\n  num-trusted-hops: 1\n").expect("write config");
    let config = config.display().to_string();
    let spec =
        "{virtualhost: {fqdn: hops.test, ipAllowPolicy: [{source: Remote, cidr: 10.0.0.0/8}]},
      routes: [{conditions: [{prefix: /peer}], services: [{name: svc-a, port: 80}],
                ipAllowPolicy: [{source: Peer, cidr: 10.0.0.0/8}]},
               {services: [{name: svc-a, port: 80}]}]}";
    let cluster = Cluster::start_with(
        &[
            ("svc.yaml", &services(&[("svc-a", &a)])),
            ("hops.yaml", &proxy("default", "hops", spec)),
        ],
        &["-c", &config],
    )
    .await;
    let inside = [("x-forwarded-for", "10.1.2.3")];
    cluster
        .eventually_reply(
            "the trusted X-Forwarded-For admits",
            || cluster.http_with("hops.test", "/", &inside),
            |r| r.from("a"),
        )
        .await;
    // Outside the range, or with no X-Forwarded-For (the client is then the peer, 127.0.0.1):
    // refused.
    let outside = [("x-forwarded-for", "192.0.2.7")];
    assert_eq!(
        cluster.http_with("hops.test", "/", &outside).await.status,
        403
    );
    assert_eq!(cluster.http("hops.test", "/").await.status, 403);
    // Only the last hop is trusted: an address the client wrote before it counts for nothing.
    let spoofed = [("x-forwarded-for", "10.9.9.9, 192.0.2.7")];
    assert_eq!(
        cluster.http_with("hops.test", "/", &spoofed).await.status,
        403
    );
    // A Peer filter ignores X-Forwarded-For whatever the trusted hops: the peer is 127.0.0.1.
    assert_eq!(
        cluster
            .http_with("hops.test", "/peer", &inside)
            .await
            .status,
        403
    );
    cluster.assert_no_update_rejected().await;
}

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

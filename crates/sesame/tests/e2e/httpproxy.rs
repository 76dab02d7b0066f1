//! HTTPProxy routing through a real Envoy: includes across namespaces, conditions, weights,
//! mirroring, rewrites, header policies, redirects, direct responses, websockets, and hostile
//! values that must become status conditions, never NACKs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Cluster, backend, redirect_backend, services, services_in, upgrade_backend};

/// An HTTPProxy manifest; `spec` is a YAML flow mapping.
pub fn proxy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec: {spec}\n"
    )
}

/// The key of an HTTPProxy's `/status` entry.
pub fn key<'a>(namespace: &'a str, name: &'a str) -> (&'static str, &'a str, &'a str) {
    ("HTTPProxy", namespace, name)
}

/// Whether a `/status` entry carries an error with `reason`.
pub fn has_error(status: &serde_json::Value, reason: &str) -> bool {
    status["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e["reason"] == reason))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_across_namespaces_joins_prefixes_and_missing_include_answers_502() {
    let (root, child) = (backend("root").await, backend("child").await);
    let root_proxy = proxy(
        "a",
        "root",
        "{virtualhost: {fqdn: include.test}, includes: [\
         {name: child, namespace: b, conditions: [{prefix: /child}]}, \
         {name: missing, namespace: b, conditions: [{prefix: /missing}]}], \
         routes: [{services: [{name: svc-root, port: 80}]}]}",
    );
    let child_proxy = proxy(
        "b",
        "child",
        "{routes: [{conditions: [{prefix: /api}], services: [{name: svc-child, port: 80}]}]}",
    );
    let cluster = Cluster::start(&[
        ("svc-a.yaml", &services_in("a", &[("svc-root", &root)])),
        ("svc-b.yaml", &services_in("b", &[("svc-child", &child)])),
        ("root.yaml", &root_proxy),
        ("child.yaml", &child_proxy),
    ])
    .await;
    let reply = cluster
        .eventually_http("include.test", "/child/api/x", "child route", |r| {
            r.from("child")
        })
        .await;
    // The include's prefix and the child's are joined, and the path reaches the child unchanged.
    assert_eq!(reply.echoed_path(), Some("/child/api/x"));
    // Outside the child's joined prefix, the root's own route answers.
    assert!(
        cluster
            .http("include.test", "/child/other")
            .await
            .from("root")
    );
    assert!(cluster.http("include.test", "/api").await.from("root"));
    assert!(cluster.http("include.test", "/").await.from("root"));
    // The child's route is not served at its own prefix, nor is the child a root.
    assert!(cluster.http("include.test", "/apix").await.from("root"));
    // A missing include answers 502 on its prefix and is reported on the root.
    let reply = cluster.http("include.test", "/missing/anything").await;
    assert_eq!(reply.status, 502, "{reply:?}");
    let status = cluster
        .eventually_status(key("a", "root"), "missing include reported", |s| {
            has_error(s, "IncludeNotFound")
        })
        .await;
    assert_eq!(status["current"], "invalid", "{status}");
    let child = cluster
        .eventually_status(key("b", "child"), "child status", |_| true)
        .await;
    assert_eq!(child["current"], "valid", "{child}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_query_parameter_conditions_pick_the_backend() {
    let (gold, silver, plain) = (
        backend("gold").await,
        backend("silver").await,
        backend("plain").await,
    );
    let spec = "{virtualhost: {fqdn: conditions.test}, routes: [\
        {conditions: [{prefix: /}, {header: {name: x-tier, exact: gold}}], \
         services: [{name: svc-gold, port: 80}]}, \
        {conditions: [{prefix: /}, {queryParameter: {name: tier, exact: silver}}], \
         services: [{name: svc-silver, port: 80}]}, \
        {conditions: [{prefix: /}, {header: {name: x-beta, present: true}}, \
                      {queryParameter: {name: beta, prefix: 'y'}}], \
         services: [{name: svc-silver, port: 80}]}, \
        {services: [{name: svc-plain, port: 80}]}]}";
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[
                ("svc-gold", &gold),
                ("svc-silver", &silver),
                ("svc-plain", &plain),
            ]),
        ),
        ("proxy.yaml", &proxy("default", "conditions", spec)),
    ])
    .await;
    cluster
        .eventually_http("conditions.test", "/", "default route", |r| r.from("plain"))
        .await;
    let host = "conditions.test";
    assert!(
        cluster
            .http_with(host, "/x", &[("x-tier", "gold")])
            .await
            .from("gold")
    );
    assert!(
        cluster
            .http_with(host, "/x", &[("x-tier", "bronze")])
            .await
            .from("plain")
    );
    assert!(cluster.http(host, "/x?tier=silver").await.from("silver"));
    assert!(cluster.http(host, "/x?tier=silverish").await.from("plain"));
    assert!(
        cluster
            .http(host, "/x?other=1&tier=silver")
            .await
            .from("silver")
    );
    // Both conditions of one route must hold.
    let beta = [("x-beta", "1")];
    assert!(
        cluster
            .http_with(host, "/x?beta=yes", &beta)
            .await
            .from("silver")
    );
    assert!(
        cluster
            .http_with(host, "/x?beta=no", &beta)
            .await
            .from("plain")
    );
    assert!(cluster.http(host, "/x?beta=yes").await.from("plain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_services_split_traffic() {
    let (heavy, light) = (backend("heavy").await, backend("light").await);
    let spec = "{virtualhost: {fqdn: weights.test}, routes: [{services: [\
        {name: svc-heavy, port: 80, weight: 80}, {name: svc-light, port: 80, weight: 20}]}]}";
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-heavy", &heavy), ("svc-light", &light)]),
        ),
        ("proxy.yaml", &proxy("default", "weights", spec)),
    ])
    .await;
    cluster
        .eventually_http("weights.test", "/", "route served", |r| r.status == 200)
        .await;
    let total = 200;
    let mut heavy_hits = 0;
    for _ in 0..total {
        let reply = cluster.http("weights.test", "/").await;
        match reply.backend.as_deref() {
            Some("heavy") => heavy_hits += 1,
            Some("light") => {}
            _ => panic!("unexpected reply {reply:?}"),
        }
    }
    let share = heavy_hits * 100 / total;
    assert!(
        (70..=90).contains(&share),
        "heavy got {heavy_hits} of {total}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_sees_the_request_and_the_client_gets_the_primary() {
    let (primary, shadow) = (backend("primary").await, backend("shadow").await);
    let spec = "{virtualhost: {fqdn: mirror.test}, routes: [{services: [\
        {name: svc-primary, port: 80}, {name: svc-shadow, port: 80, mirror: true}]}]}";
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-primary", &primary), ("svc-shadow", &shadow)]),
        ),
        ("proxy.yaml", &proxy("default", "mirror", spec)),
    ])
    .await;
    cluster
        .eventually_http("mirror.test", "/warmup", "primary answers", |r| {
            r.from("primary")
        })
        .await;
    let reply = cluster.http("mirror.test", "/mirrored?id=42").await;
    assert!(reply.from("primary"), "{reply:?}");
    let mirrored = crate::harness::eventually(crate::harness::PATIENCE, || async {
        shadow.requests().iter().any(|r| r == "/mirrored?id=42")
    })
    .await;
    assert!(
        mirrored,
        "the mirror never saw the request: {:?}\n{}",
        shadow.requests(),
        cluster.logs()
    );
    assert!(primary.requests().iter().any(|r| r == "/mirrored?id=42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_prefix_rewrites_the_path_the_backend_sees() {
    let app = backend("app").await;
    let spec = "{virtualhost: {fqdn: rewrite.test}, routes: [\
        {conditions: [{prefix: /api}], services: [{name: svc-app, port: 80}], \
         pathRewritePolicy: {replacePrefix: [{replacement: /v2}]}}, \
        {conditions: [{prefix: /strip}], services: [{name: svc-app, port: 80}], \
         pathRewritePolicy: {replacePrefix: [{prefix: /strip, replacement: /}]}}, \
        {services: [{name: svc-app, port: 80}]}], \
        includes: [{name: rewrite-child, conditions: [{prefix: /team}]}]}";
    // An included proxy rewrites the prefix it is included under, picking the entry that matches.
    let child = "{routes: [{conditions: [{prefix: /v1}], services: [{name: svc-app, port: 80}], \
        pathRewritePolicy: {replacePrefix: [{prefix: /elsewhere, replacement: /no}, \
                                            {prefix: /team/v1, replacement: /internal}]}}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-app", &app)])),
        ("proxy.yaml", &proxy("default", "rewrite", spec)),
        ("child.yaml", &proxy("default", "rewrite-child", child)),
    ])
    .await;
    let reply = cluster
        .eventually_http("rewrite.test", "/api/users?page=2", "rewrite route", |r| {
            r.from("app")
        })
        .await;
    assert_eq!(reply.echoed_path(), Some("/v2/users?page=2"));
    let reply = cluster.http("rewrite.test", "/api").await;
    assert_eq!(reply.echoed_path(), Some("/v2"), "{reply:?}");
    // Rewriting to `/` strips the prefix without leaving a double slash.
    let reply = cluster.http("rewrite.test", "/strip/deep/path").await;
    assert_eq!(reply.echoed_path(), Some("/deep/path"), "{reply:?}");
    let reply = cluster.http("rewrite.test", "/strip?q=1").await;
    assert_eq!(reply.echoed_path(), Some("/?q=1"), "{reply:?}");
    let reply = cluster.http("rewrite.test", "/team/v1/list").await;
    assert_eq!(reply.echoed_path(), Some("/internal/list"), "{reply:?}");
    // Routes without a rewrite keep the path.
    let reply = cluster.http("rewrite.test", "/other").await;
    assert_eq!(reply.echoed_path(), Some("/other"), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_policies_set_and_remove_per_route_and_per_service() {
    let (one, two) = (backend("one").await, backend("two").await);
    let spec = "{virtualhost: {fqdn: headers.test}, routes: [\
        {conditions: [{prefix: /}], \
         requestHeadersPolicy: {set: [{name: x-route, value: r1}, \
                                      {name: x-literal, value: '%FOO% 100% %START_TIME%'}, \
                                      {name: x-dynamic, value: 'ns=%SESAME_NAMESPACE% foo=%REQ(x-foo)% ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'}, \
                                      {name: x-route-service, value: '%SESAME_SERVICE_NAME%'}], \
                                remove: [x-drop-me]}, \
         responseHeadersPolicy: {set: [{name: x-route-resp, value: '50% off %%'}], remove: [x-echo]}, \
         services: [{name: svc-one, port: 80, \
                     requestHeadersPolicy: {set: [{name: x-service, value: one}, \
                                                  {name: x-service-var, value: '%SESAME_SERVICE_NAME%:%SESAME_SERVICE_PORT% %%REQ(x-foo)%%'}], \
                                            remove: [x-drop-per-service]}, \
                     responseHeadersPolicy: {set: [{name: x-service-resp, value: '%START_TIME%'}]}}]}]}";
    let other = "{virtualhost: {fqdn: plain-headers.test}, routes: [{services: [{name: svc-two, port: 80}]}]}";
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-one", &one), ("svc-two", &two)]),
        ),
        ("proxy.yaml", &proxy("default", "headers", spec)),
        ("other.yaml", &proxy("default", "other", other)),
    ])
    .await;
    let sent = [
        ("x-drop-me", "gone"),
        ("x-drop-per-service", "gone"),
        ("x-keep", "kept"),
        ("x-foo", "bar"),
    ];
    let reply = cluster
        .eventually_reply(
            "header policy route",
            || cluster.http_with("headers.test", "/", &sent),
            |r| r.from("one"),
        )
        .await;
    // Request headers, as the backend saw them.
    assert_eq!(reply.echoed_header("x-route"), ["r1"], "{}", reply.body);
    assert_eq!(reply.echoed_header("x-service"), ["one"], "{}", reply.body);
    assert_eq!(
        reply.echoed_header("x-literal"),
        ["%FOO% 100% %START_TIME%"],
        "a % that is not a documented variable arrives literally\n{}",
        reply.body
    );
    // Dynamic values: Sesame's own variables substituted, Envoy's filled in per request.
    assert_eq!(
        reply.echoed_header("x-dynamic"),
        ["ns=default foo=bar ip=127.0.0.1"],
        "{}",
        reply.body
    );
    // A route's policies have no service, so its service variables stay text (as in Contour).
    assert_eq!(
        reply.echoed_header("x-route-service"),
        ["%SESAME_SERVICE_NAME%"],
        "{}",
        reply.body
    );
    assert_eq!(
        reply.echoed_header("x-service-var"),
        ["svc-one:80 %bar%"],
        "{}",
        reply.body
    );
    assert!(
        reply.echoed_header("x-drop-me").is_empty(),
        "{}",
        reply.body
    );
    assert!(
        reply.echoed_header("x-drop-per-service").is_empty(),
        "{}",
        reply.body
    );
    assert_eq!(reply.echoed_header("x-keep"), ["kept"], "{}", reply.body);
    // Response headers, as the client saw them.
    assert_eq!(reply.header("x-route-resp"), ["50% off %%"], "{reply:?}");
    assert_eq!(
        reply.header("x-service-resp"),
        ["%START_TIME%"],
        "{reply:?}"
    );
    assert!(reply.header("x-echo").is_empty(), "{reply:?}");
    // Another host is untouched by these policies.
    let reply = cluster.http_with("plain-headers.test", "/", &sent).await;
    assert!(reply.from("two"), "{reply:?}");
    assert_eq!(reply.echoed_header("x-drop-me"), ["gone"], "{}", reply.body);
    assert_eq!(reply.header("x-echo"), ["yes"], "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_and_direct_response_policies() {
    let spec = "{virtualhost: {fqdn: policies.test}, routes: [\
        {conditions: [{prefix: /old}], \
         requestRedirectPolicy: {scheme: https, hostname: new.test, statusCode: 301, path: /new}}, \
        {conditions: [{prefix: /moved}], \
         requestRedirectPolicy: {hostname: other.test, port: 8080, prefix: /elsewhere}}, \
        {conditions: [{prefix: /gone}], \
         directResponsePolicy: {statusCode: 410, body: 'gone for good'}}, \
        {conditions: [{prefix: /teapot}], directResponsePolicy: {statusCode: 418}}]}";
    let cluster = Cluster::start(&[("proxy.yaml", &proxy("default", "policies", spec))]).await;
    let reply = cluster
        .eventually_http("policies.test", "/old/page?q=1", "redirect", |r| {
            r.status == 301
        })
        .await;
    assert_eq!(reply.location.as_deref(), Some("https://new.test/new?q=1"));
    // The status code defaults to 302; a prefix replaces the matched prefix only.
    let reply = cluster.http("policies.test", "/moved/rest").await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(
        reply.location.as_deref(),
        Some("http://other.test:8080/elsewhere/rest")
    );
    let reply = cluster.http("policies.test", "/gone").await;
    assert_eq!(reply.status, 410, "{reply:?}");
    assert_eq!(reply.body, "gone for good");
    let reply = cluster.http("policies.test", "/teapot").await;
    assert_eq!(reply.status, 418, "{reply:?}");
    assert_eq!(reply.body, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_redirect_is_followed_by_envoy_only_where_the_route_asks() {
    let redirector = redirect_backend("http://redirect.test/landed").await;
    let landed = backend("landed").await;
    let spec = "{virtualhost: {fqdn: redirect.test}, routes: [\
        {conditions: [{prefix: /follow}], services: [{name: svc-redirector, port: 80}], \
         internalRedirectPolicy: {maxInternalRedirects: 2, redirectResponseCodes: [302, 307], \
                                  allowCrossSchemeRedirect: SafeOnly, denyRepeatedRouteRedirect: true}}, \
        {conditions: [{prefix: /nofollow}], services: [{name: svc-redirector, port: 80}]}, \
        {conditions: [{prefix: /landed}], services: [{name: svc-landed, port: 80}]}]}";
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-redirector", &redirector), ("svc-landed", &landed)]),
        ),
        ("proxy.yaml", &proxy("default", "redirect", spec)),
    ])
    .await;
    // Envoy follows the upstream's 302 itself: the client sees the final answer.
    let reply = cluster
        .eventually_http("redirect.test", "/follow", "internal redirect", |r| {
            r.from("landed")
        })
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.echoed_path(), Some("/landed"), "{reply:?}");
    assert!(redirector.requests().contains(&"/follow".to_string()));
    // Without the policy the 302 goes back to the client.
    let reply = cluster.http("redirect.test", "/nofollow").await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(
        reply.location.as_deref(),
        Some("http://redirect.test/landed")
    );
    let status = cluster
        .eventually_status(key("default", "redirect"), "valid", |s| {
            s["current"] == "valid"
        })
        .await;
    assert_eq!(status["current"], "valid", "{status}");
}

/// Sends a WebSocket upgrade request on a raw connection; returns the status line and the
/// connection.
pub(crate) async fn upgrade(port: u16, host: &str, path: &str) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to Envoy");
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("response head in time")
            .expect("read response head");
        if read == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status_line = head.lines().next().unwrap_or_default().to_string();
    (status_line, stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_reaches_the_backend_only_where_enabled() {
    let (ws, app) = (upgrade_backend().await, backend("app").await);
    let spec = "{virtualhost: {fqdn: ws.test}, routes: [\
        {conditions: [{prefix: /ws}], enableWebsockets: true, services: [{name: svc-ws, port: 80}]}, \
        {conditions: [{prefix: /nows}], services: [{name: svc-ws, port: 80}]}, \
        {services: [{name: svc-app, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-ws", &ws), ("svc-app", &app)])),
        ("proxy.yaml", &proxy("default", "ws", spec)),
    ])
    .await;
    cluster
        .eventually_http("ws.test", "/", "proxy served", |r| r.from("app"))
        .await;
    let (status, mut stream) = upgrade(cluster.ports.http, "ws.test", "/ws/chat").await;
    assert!(
        status.starts_with("HTTP/1.1 101"),
        "{status}\n{}",
        cluster.logs()
    );
    // The upgraded connection is a tunnel to the backend, which echoes.
    stream.write_all(b"ping").await.expect("write frame");
    let mut echo = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut echo))
        .await
        .expect("echo in time")
        .expect("read echo");
    assert_eq!(&echo, b"ping");
    assert_eq!(ws.requests(), ["/ws/chat"]);
    // Without enableWebsockets, Envoy refuses the upgrade.
    let (status, _) = upgrade(cluster.ports.http, "ws.test", "/nows").await;
    assert!(!status.starts_with("HTTP/1.1 101"), "{status}");
}

/// Waits until each HTTPProxy `default/<name>` is invalid with an error of `reason`, then
/// proves Envoy has been sent a snapshot holding them: a root `canary.test` written after them
/// (to `svc-a`, whose backend is `a`) is served.
pub async fn refused_then_canary(cluster: &Cluster, refused: &[(&str, &str)]) {
    for (name, reason) in refused {
        let status = cluster
            .eventually_status(key("default", name), "hostile value refused", |s| {
                s["current"] == "invalid"
            })
            .await;
        assert!(
            has_error(&status, reason),
            "{name}: want {reason}: {status}"
        );
    }
    let canary =
        "{virtualhost: {fqdn: canary.test}, routes: [{services: [{name: svc-a, port: 80}]}]}";
    cluster.write("canary.yaml", &proxy("default", "canary", canary));
    cluster
        .eventually_http("canary.test", "/", "canary served", |r| r.from("a"))
        .await;
}

/// A root HTTPProxy for `<name>.hostile.test` with one route, `route` (a JSON object), sent to
/// `svc-a` unless it names its services.
fn hostile_proxy(name: &str, route: serde_json::Value) -> String {
    let mut route = route;
    if route.get("services").is_none() {
        route["services"] = serde_json::json!([{"name": "svc-a", "port": 80}]);
    }
    serde_json::json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"virtualhost": {"fqdn": format!("{name}.hostile.test")}, "routes": [route]}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_become_invalid_status_and_never_reach_envoy() {
    use serde_json::json;
    let a = backend("a").await;
    let good = "{virtualhost: {fqdn: good.test}, routes: [{services: [{name: svc-a, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &a)])),
        ("good.yaml", &proxy("default", "good", good)),
    ])
    .await;
    cluster
        .eventually_http("good.test", "/", "good proxy served", |r| r.from("a"))
        .await;
    let set = |name: &str, value: &str| json!({"requestHeadersPolicy": {"set": [{"name": name, "value": value}]}});
    // Each hostile value in its own HTTPProxy (JSON manifests: YAML can carry these too, but
    // JSON spells control characters unambiguously).
    let hostile: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "crlf-value",
            set("x-a", "ok\r\nx-injected: 1"),
            "HeadersPolicyNotValid",
        ),
        ("nul-name", set("x-a\u{0}b", "v"), "HeadersPolicyNotValid"),
        (
            "unterminated-req",
            set("x-a", "%REQ(x-foo)"),
            "HeadersPolicyNotValid",
        ),
        (
            "req-length",
            json!({"responseHeadersPolicy": {"set": [{"name": "x-a", "value": "%REQ(x):5%"}]}}),
            "HeadersPolicyNotValid",
        ),
        (
            "internal-redirect-negative",
            json!({"internalRedirectPolicy": {"maxInternalRedirects": -1}}),
            "InternalRedirectPolicyNotValid",
        ),
        (
            "internal-redirect-code",
            json!({"internalRedirectPolicy": {"redirectResponseCodes": [200]}}),
            "InternalRedirectPolicyNotValid",
        ),
        (
            "internal-redirect-scheme",
            json!({"internalRedirectPolicy": {"allowCrossSchemeRedirect": "Sometimes"}}),
            "InternalRedirectPolicyNotValid",
        ),
        (
            "redirect-418",
            json!({"services": [], "requestRedirectPolicy": {"statusCode": 418}}),
            "RedirectPolicyNotValid",
        ),
        (
            "redirect-crlf-path",
            json!({"services": [], "requestRedirectPolicy": {"path": "/a\r\nx: y"}}),
            "RedirectPolicyNotValid",
        ),
        ("space-name", set("x a", "v"), "HeadersPolicyNotValid"),
        (
            "nul-condition",
            json!({"conditions": [{"prefix": "/"}, {"header": {"name": "x-a\u{0}", "present": true}}]}),
            "HeaderMatchConditionsNotValid",
        ),
        (
            "crlf-condition",
            json!({"conditions": [{"prefix": "/"}, {"header": {"name": "x-a", "exact": "1\r\nx: y"}}]}),
            "HeaderMatchConditionsNotValid",
        ),
        (
            "nul-query",
            json!({"conditions": [{"prefix": "/"}, {"queryParameter": {"name": "q\u{0}", "exact": "1"}}]}),
            "QueryParameterMatchConditionsNotValid",
        ),
        (
            "lookbehind",
            json!({"conditions": [{"regex": "/(?<=x)y"}]}),
            "PathMatchConditionsNotValid",
        ),
        (
            "huge-regex",
            json!({"conditions": [{"regex": "/(a{1000}){1000}"}]}),
            "PathMatchConditionsNotValid",
        ),
        (
            "huge-timeout",
            json!({"timeoutPolicy": {"response": "9999999999h"}}),
            "TimeoutPolicyNotValid",
        ),
        (
            "zero-weights",
            json!({"services": [{"name": "svc-a", "port": 80, "weight": 0},
                                {"name": "svc-b", "port": 80, "weight": 0}]}),
            "WeightsNotValid",
        ),
        (
            "no-slash",
            json!({"conditions": [{"prefix": "api"}]}),
            "PathMatchConditionsNotValid",
        ),
        (
            "dot-dot",
            json!({"conditions": [{"prefix": "/a/../admin"}]}),
            "PathMatchConditionsNotValid",
        ),
        (
            "encoded-slash",
            json!({"conditions": [{"prefix": "/a%2fb"}]}),
            "PathMatchConditionsNotValid",
        ),
    ];
    for (name, route, _) in &hostile {
        cluster.write(&format!("{name}.json"), &hostile_proxy(name, route.clone()));
    }
    let refused: Vec<_> = hostile.iter().map(|(n, _, r)| (*n, *r)).collect();
    refused_then_canary(&cluster, &refused).await;
    assert!(cluster.http("good.test", "/").await.from("a"));
    let good = cluster
        .eventually_status(key("default", "good"), "good status", |_| true)
        .await;
    assert_eq!(good["current"], "valid", "{good}");
    // Envoy accepted every update: no listener, cluster, route or secret update was rejected.
    cluster.assert_no_update_rejected().await;
    // None of the hostile hosts sends the hostile value on: each is either not served or served
    // without the invalid part.
    let reply = cluster.http("crlf-value.hostile.test", "/").await;
    assert!(reply.echoed_header("x-injected").is_empty(), "{reply:?}");
}

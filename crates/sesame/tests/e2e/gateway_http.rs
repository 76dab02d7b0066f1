//! HTTPRoute features through a real Envoy (file mode): URL rewrites of the whole path,
//! redirects completed with the listener's port, header filters on a backendRef, backend
//! request timeouts and CORS, as the upstream conformance tests of the same names check them;
//! hostile values get their conditions and Envoy rejects nothing.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    Cluster, Pki, Reply, backend, free_port, get_tls_sni, request_plain, services,
};

/// The config that serves `default/gw`.
const CONFIG: &str = "gateway:\n  gatewayRef: {namespace: default, name: gw}\n";

/// A GatewayClass of Sesame's controller and Gateway `default/gw` with one HTTP listener on
/// `port`.
pub(crate) fn gateway(port: u16) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: sesame}}
spec: {{controllerName: projectsesame.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  listeners:
  - {{name: web, port: {port}, protocol: HTTP}}
"#
    )
}

/// The routes of the upstream HTTPRouteRewritePath, HTTPRouteRedirectPortAndScheme (the
/// listener on a port other than 80), HTTPRouteBackendRequestHeaderModifier,
/// HTTPRouteTimeoutBackendRequest and HTTPRouteCORS tests, on `gw.example.com`.
const ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: features, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [gw.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /full/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /full/rewrite-path-and-modify-headers}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /test}}
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Header-Set, value: set-overwrites-values}]
        add: [{name: X-Header-Add-Append, value: header-val-2}]
        remove: [X-Header-Remove]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /scheme-nil-and-port-nil}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-nil-and-port-80}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, port: 80}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-https-and-port-nil}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, scheme: https}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-https-and-port-443}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, scheme: https, port: 443}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-https-and-port-8443}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, scheme: https, port: 8443}}]
  - matches: [{path: {type: PathPrefix, value: /backend-headers}}]
    backendRefs:
    - name: svc-a
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set: [{name: X-Header-Set, value: from-a}]
          add: [{name: X-Header-Add, value: add-a}]
          remove: [X-Header-Remove]
      - type: ResponseHeaderModifier
        responseHeaderModifier: {set: [{name: X-Resp, value: from-a}]}
    - name: svc-b
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: X-Header-Set, value: from-b}]}
  - matches: [{path: {type: PathPrefix, value: /backend-timeout}}]
    timeouts: {backendRequest: 500ms}
    backendRefs: [{name: slow, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /disable-backend-timeout}}]
    timeouts: {backendRequest: 0s}
    backendRefs: [{name: slow, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cors-1}}]
    filters:
    - type: CORS
      cors:
        allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
        allowMethods: [GET, OPTIONS]
        allowHeaders: [x-header-1, x-header-2]
        exposeHeaders: [x-header-3, x-header-4]
        allowCredentials: true
        maxAge: 3600
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cors-wildcard-origin}}]
    filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: [PUT], allowCredentials: false}}]
    backendRefs: [{name: svc-a, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hostile, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [hostile.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /full}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: "/a\r\nb"}}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /backend}}]
    backendRefs:
    - name: svc-a
      port: 80
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: "X-A", value: "a\r\nSet-Cookie: x"}]}}]
  - matches: [{path: {type: Exact, value: /backend-host}}]
    backendRefs:
    - name: svc-a
      port: 80
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Host, value: admin}]}}]
  - matches: [{path: {type: Exact, value: /backend-redirect}}]
    backendRefs:
    - name: svc-a
      port: 80
      filters: [{type: RequestRedirect, requestRedirect: {hostname: evil.example.com}}]
  - matches: [{path: {type: Exact, value: /timeout}}]
    timeouts: {request: 1s, backendRequest: 10s}
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /cors}}]
    filters: [{type: CORS, cors: {allowOrigins: ["https://*.*.com", "javascript:alert(1)"]}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /cors-header}}]
    filters: [{type: CORS, cors: {allowOrigins: ["*"], allowHeaders: ["x-a,\r\nx-b"]}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /ok}}]
    backendRefs: [{name: svc-b, port: 80}]
"#;

/// A backend that answers `200` with `x-backend: slow` after waiting the milliseconds of its
/// `delay` query parameter (none by default).
pub(crate) async fn slow_backend() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind slow backend");
    let addr = listener.local_addr().expect("slow backend addr");
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        let delay = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("delay=")))
            .and_then(|ms| ms.parse::<u64>().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        ([("x-backend", "slow")], "slow\n")
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

/// A Service `name` on port 80 with an EndpointSlice pointing at `addr`.
pub(crate) fn service_at(name: &str, addr: SocketAddr) -> String {
    service_speaking(name, addr, None)
}

/// As [`service_at`], the port with this `appProtocol`.
pub(crate) fn service_speaking(name: &str, addr: SocketAddr, app_protocol: Option<&str>) -> String {
    let mut port = serde_json::json!({"name": "http", "port": 80, "targetPort": addr.port()});
    if let Some(protocol) = app_protocol {
        port["appProtocol"] = protocol.into();
    }
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": "default"},
         "spec": {"ports": [port]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": format!("{name}-1"), "namespace": "default",
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": [addr.ip().to_string()], "conditions": {"ready": true}}],
         "ports": [{"name": "http", "port": addr.port(), "protocol": "TCP"}]}
    ]})
    .to_string()
}

/// The conditions of a route's first parent, as `type=status/reason` strings.
pub(crate) fn conditions(status: &Value) -> Vec<String> {
    condition_strings(&status["gateway_api"]["route"]["parents"][0]["conditions"])
}

/// A list of conditions as `type=status/reason` strings.
pub(crate) fn condition_strings(conditions: &Value) -> Vec<String> {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{}={}/{}",
                c["type"].as_str().unwrap_or_default(),
                c["status"],
                c["reason"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// Starts Sesame and Envoy with `manifests` and a config file serving `default/gw`.
pub(crate) async fn start(manifests: &[(&str, &str)]) -> (Cluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("sesame.yaml");
    std::fs::write(&config, CONFIG).expect("write config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let cluster = Cluster::start_with(manifests, &["--config-path", &config]).await;
    (cluster, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_route_rewrites_redirects_backend_filters_timeouts_and_cors() {
    let (a, b) = (backend("a").await, backend("b").await);
    let (slow, _slow_task) = slow_backend().await;
    let envoy_port = free_port();
    let gateway_port = envoy_port - 8000;
    let svcs = format!(
        "{}\n---\n{}",
        services(&[("svc-a", &a), ("svc-b", &b)]),
        service_at("slow", slow)
    );
    let gw = gateway(gateway_port);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("gateway.yaml", &gw),
        ("routes.yaml", ROUTES),
    ])
    .await;
    let send = |method: &'static str, path: String, headers: Vec<(&'static str, &'static str)>| async move {
        request_plain(envoy_port, method, "gw.example.com", &path, &headers)
            .await
            .unwrap_or_else(Reply::failed)
    };
    let get = |path: &'static str| send("GET", path.to_string(), Vec::new());
    cluster
        .eventually_reply(
            "the gateway listener serves the route",
            || get("/prefix/one/two"),
            |r| r.from("a"),
        )
        .await;

    // HTTPRouteRewritePath: the prefix, then the whole path (the query kept), with headers.
    assert_eq!(get("/prefix/one/two").await.echoed_path(), Some("/one/two"));
    assert_eq!(get("/full/one/two").await.echoed_path(), Some("/one"));
    assert_eq!(
        get("/full/one/two?q=1").await.echoed_path(),
        Some("/one?q=1")
    );
    let modified = send(
        "GET",
        "/full/rewrite-path-and-modify-headers/test".to_string(),
        vec![
            ("x-header-remove", "remove-val"),
            ("x-header-add-append", "append-val-1"),
            ("x-header-set", "set-val"),
        ],
    )
    .await;
    assert_eq!(modified.echoed_path(), Some("/test"), "{modified:?}");
    assert_eq!(
        modified.echoed_header("x-header-set"),
        ["set-overwrites-values"]
    );
    assert_eq!(
        modified.echoed_header("x-header-add-append").join(","),
        "append-val-1,header-val-2"
    );
    assert!(modified.echoed_header("x-header-remove").is_empty());

    // HTTPRouteRedirectPortAndScheme on a listener whose port is not 80: without a port the
    // listener's own is kept, unless the scheme changes; well-known ports are left out.
    let location = |path: &'static str| async move {
        let reply = get(path).await;
        assert_eq!(reply.status, 302, "{path}: {reply:?}");
        reply.location.unwrap_or_default()
    };
    assert_eq!(
        location("/scheme-nil-and-port-nil").await,
        format!("http://example.org:{gateway_port}/scheme-nil-and-port-nil")
    );
    assert_eq!(
        location("/scheme-nil-and-port-80").await,
        "http://example.org/scheme-nil-and-port-80"
    );
    assert_eq!(
        location("/scheme-https-and-port-nil").await,
        "https://example.org/scheme-https-and-port-nil"
    );
    assert_eq!(
        location("/scheme-https-and-port-443").await,
        "https://example.org/scheme-https-and-port-443"
    );
    assert_eq!(
        location("/scheme-https-and-port-8443").await,
        "https://example.org:8443/scheme-https-and-port-8443"
    );

    // HTTPRouteBackendRequestHeaderModifier: each backend gets its own headers, both are used.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let reply = send(
            "GET",
            "/backend-headers".to_string(),
            vec![("x-header-remove", "gone"), ("x-header-add", "first")],
        )
        .await;
        match reply.backend.as_deref() {
            Some("a") => {
                assert_eq!(reply.echoed_header("x-header-set"), ["from-a"], "{reply:?}");
                assert_eq!(reply.echoed_header("x-header-add").join(","), "first,add-a");
                assert!(reply.echoed_header("x-header-remove").is_empty());
                assert_eq!(reply.header("x-resp"), ["from-a"]);
            }
            Some("b") => {
                assert_eq!(reply.echoed_header("x-header-set"), ["from-b"], "{reply:?}");
                assert_eq!(reply.echoed_header("x-header-remove"), ["gone"]);
                assert!(reply.header("x-resp").is_empty());
            }
            other => panic!("unexpected backend {other:?}: {reply:?}"),
        }
        seen.extend(reply.backend);
    }
    assert_eq!(seen.len(), 2, "both backends take requests");

    // HTTPRouteTimeoutBackendRequest: 500 ms per try answers 504 to a backend taking 1 s;
    // `0s` waits.
    assert_eq!(get("/backend-timeout").await.status, 200);
    assert_eq!(get("/backend-timeout?delay=1000").await.status, 504);
    assert_eq!(get("/disable-backend-timeout?delay=1000").await.status, 200);

    // HTTPRouteCORS: preflights from exact and wildcard origins are answered by Envoy,
    // others are not allowed; actual requests get the allow-origin header.
    let preflight = |path: &'static str, origin: &'static str, method: &'static str| {
        send(
            "OPTIONS",
            path.to_string(),
            vec![
                ("origin", origin),
                ("access-control-request-method", method),
                ("access-control-request-headers", "x-header-1, x-header-2"),
            ],
        )
    };
    for origin in [
        "https://www.foo.com",
        "https://www.bar.com",
        "https://xpto.www.bar.com",
    ] {
        let reply = preflight("/cors-1", origin, "GET").await;
        assert!([200, 204].contains(&reply.status), "{reply:?}");
        assert_eq!(reply.header("access-control-allow-origin"), [origin]);
        assert_eq!(
            reply.header("access-control-allow-methods"),
            ["GET,OPTIONS"]
        );
        assert_eq!(
            reply.header("access-control-allow-headers"),
            ["x-header-1,x-header-2"]
        );
        assert_eq!(
            reply.header("access-control-expose-headers"),
            ["x-header-3,x-header-4"]
        );
        assert_eq!(reply.header("access-control-max-age"), ["3600"]);
        assert_eq!(reply.header("access-control-allow-credentials"), ["true"]);
    }
    let refused = preflight("/cors-1", "https://foobar.com", "GET").await;
    assert!(
        refused.header("access-control-allow-origin").is_empty(),
        "{refused:?}"
    );
    let simple = send(
        "GET",
        "/cors-1".to_string(),
        vec![("origin", "https://www.bar.com")],
    )
    .await;
    assert!(simple.from("a"), "{simple:?}");
    assert_eq!(
        simple.header("access-control-allow-origin"),
        ["https://www.bar.com"]
    );
    let wildcard = preflight("/cors-wildcard-origin", "https://foobar.com:12345", "PUT").await;
    assert!([200, 204].contains(&wildcard.status), "{wildcard:?}");
    let allowed = wildcard.header("access-control-allow-origin");
    assert!(
        allowed == ["https://foobar.com:12345"] || allowed == ["*"],
        "{wildcard:?}"
    );
    assert_eq!(wildcard.header("access-control-allow-methods"), ["PUT"]);
    assert!(
        wildcard
            .header("access-control-allow-credentials")
            .is_empty()
    );

    // Hostile values: every rule but /ok refused with the spec's condition, never served.
    let hostile = cluster
        .eventually_status(
            ("HTTPRoute", "default", "hostile"),
            "partially invalid",
            |s| conditions(s).contains(&"PartiallyInvalid=true/UnsupportedValue".to_string()),
        )
        .await;
    assert!(conditions(&hostile).contains(&"Accepted=true/Accepted".to_string()));
    let hostile_get = |path: &'static str| async move {
        request_plain(envoy_port, "GET", "hostile.example.com", path, &[])
            .await
            .unwrap_or_else(Reply::failed)
    };
    assert!(hostile_get("/ok").await.from("b"));
    for path in [
        "/full",
        "/backend",
        "/backend-host",
        "/backend-redirect",
        "/timeout",
        "/cors",
        "/cors-header",
    ] {
        assert_eq!(hostile_get(path).await.status, 404, "{path}");
    }
    let features = cluster
        .object_status("HTTPRoute", "default", "features")
        .await
        .expect("status of features");
    assert_eq!(
        conditions(&features),
        ["Accepted=true/Accepted", "ResolvedRefs=true/ResolvedRefs"]
    );
    cluster.assert_no_update_rejected().await;
}

/// The listeners of the upstream GatewayHTTPListenerIsolation Gateway on `http` and of the
/// HTTPRouteHTTPSListenerDetectMisdirectedRequests one on `https`, in one Gateway, with their
/// routes (the isolation routes are the hostname-intersection variant).
fn isolation_gateway(http: u16, https: u16) -> String {
    let mut out = format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: sesame}}
spec: {{controllerName: projectsesame.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  listeners:
  - {{name: empty-hostname, port: {http}, protocol: HTTP}}
  - {{name: wildcard-example-com, port: {http}, protocol: HTTP, hostname: "*.example.com"}}
  - {{name: wildcard-foo-example-com, port: {http}, protocol: HTTP, hostname: "*.foo.example.com"}}
  - {{name: abc-foo-example-com, port: {http}, protocol: HTTP, hostname: abc.foo.example.com}}
  - {{name: https, port: {https}, protocol: HTTPS, tls: {{certificateRefs: [{{name: cert}}]}}}}
  - {{name: https-with-hostname, port: {https}, protocol: HTTPS, hostname: second-example.org, tls: {{certificateRefs: [{{name: cert}}]}}}}
  - {{name: https-with-wildcard-hostname, port: {https}, protocol: HTTPS, hostname: "*.wildcard.org", tls: {{certificateRefs: [{{name: cert}}]}}}}
  - {{name: https-with-hostname-matching-wildcard, port: {https}, protocol: HTTPS, hostname: fourth-example.wildcard.org, tls: {{certificateRefs: [{{name: cert}}]}}}}
"#
    );
    let hostnames = r#"[bar.com, "*.example.com", "*.foo.example.com"]"#;
    for listener in [
        "empty-hostname",
        "wildcard-example-com",
        "wildcard-foo-example-com",
        "abc-foo-example-com",
    ] {
        out.push_str(&format!(
            r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {listener}, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: {listener}}}]
  hostnames: {hostnames}
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /{listener}}}}}]
    backendRefs: [{{name: svc-a, port: 80}}]
"#
        ));
    }
    for (listener, hostnames, backend) in [
        ("https", "[example.org]", "svc-a"),
        ("https-with-hostname", "[]", "svc-b"),
        ("https-with-wildcard-hostname", "[]", "svc-c"),
        ("https-with-hostname-matching-wildcard", "[]", "svc-a"),
    ] {
        out.push_str(&format!(
            r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {listener}, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: {listener}}}]
  hostnames: {hostnames}
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /detect-misdirected-requests}}}}]
    backendRefs: [{{name: {backend}, port: 80}}]
"#
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_of_one_port_are_isolated_and_misdirected_requests_get_421() {
    let (a, b, c) = (backend("a").await, backend("b").await, backend("c").await);
    let (http_port, https_port) = (free_port(), free_port());
    let pki = Pki::new();
    let cert = pki.secret(
        "cert",
        &[
            "example.org",
            "second-example.org",
            "unknown-example.org",
            "*.wildcard.org",
        ],
    );
    let svcs = services(&[("svc-a", &a), ("svc-b", &b), ("svc-c", &c)]);
    let gw = isolation_gateway(http_port - 8000, https_port - 8000);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("cert.yaml", &cert),
        ("gateway.yaml", &gw),
    ])
    .await;
    let get = |host: &'static str, path: &'static str| async move {
        request_plain(http_port, "GET", host, path, &[])
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster
        .eventually_reply(
            "the isolated listeners serve",
            || get("abc.foo.example.com", "/abc-foo-example-com"),
            |r| r.from("a"),
        )
        .await;
    // GatewayHTTPListenerIsolation: each host reaches only its most specific listener's routes.
    let owners = [
        ("bar.com", "/empty-hostname"),
        ("bar.example.com", "/wildcard-example-com"),
        ("bar.foo.example.com", "/wildcard-foo-example-com"),
        ("abc.foo.example.com", "/abc-foo-example-com"),
    ];
    for (host, owned) in owners {
        for (_, path) in owners {
            let reply = get(host, path).await;
            if path == owned {
                assert!(reply.from("a"), "{host}{path}: {reply:?}");
            } else {
                assert_eq!(reply.status, 404, "{host}{path}: {reply:?}");
            }
        }
    }

    // HTTPRouteHTTPSListenerDetectMisdirectedRequests: the SNI picks the listener; a Host that
    // belongs to another listener of the port gets 421.
    let ca = pki.ca_pem.as_bytes();
    let https = |sni: &'static str, host: &'static str| async move {
        get_tls_sni(https_port, sni, host, "/detect-misdirected-requests", ca)
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster
        .eventually_reply(
            "the HTTPS listeners serve",
            || https("example.org", "example.org"),
            |r| r.from("a"),
        )
        .await;
    let cases: [(&str, &str, u16, Option<&str>); 15] = [
        ("example.org", "example.org", 200, Some("a")),
        ("example.org", "second-example.org", 421, None),
        ("example.org", "unknown-example.org", 404, None),
        ("second-example.org", "second-example.org", 200, Some("b")),
        ("second-example.org", "example.org", 421, None),
        ("second-example.org", "unknown-example.org", 421, None),
        (
            "third-example.wildcard.org",
            "third-example.wildcard.org",
            200,
            Some("c"),
        ),
        (
            "third-example.wildcard.org",
            "fith-example.wildcard.org",
            200,
            Some("c"),
        ),
        (
            "third-example.wildcard.org",
            "fourth-example.wildcard.org",
            421,
            None,
        ),
        (
            "third-example.wildcard.org",
            "second-example.org",
            421,
            None,
        ),
        (
            "third-example.wildcard.org",
            "unknown-example.org",
            421,
            None,
        ),
        (
            "fourth-example.wildcard.org",
            "fourth-example.wildcard.org",
            200,
            Some("a"),
        ),
        (
            "fourth-example.wildcard.org",
            "fith-example.wildcard.org",
            421,
            None,
        ),
        ("unknown-example.org", "example.org", 200, Some("a")),
        ("unknown-example.org", "unknown-example.org", 404, None),
    ];
    for (sni, host, status, from) in cases {
        let reply = https(sni, host).await;
        assert_eq!(reply.status, status, "SNI {sni}, Host {host}: {reply:?}");
        if let Some(name) = from {
            assert!(reply.from(name), "SNI {sni}, Host {host}: {reply:?}");
        }
    }
    cluster.assert_no_update_rejected().await;
}

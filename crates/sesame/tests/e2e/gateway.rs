//! Gateway API in file mode through a real Envoy: a GatewayClass, a Gateway and HTTPRoutes from
//! the manifests directory route real requests on the Gateway listener's own Envoy port
//! (the listener's port + 8000); invalid routes get their conditions, and Envoy rejects nothing.

use crate::gateway_http::conditions;
use crate::harness::{
    Cluster, Pki, Reply, backend, free_port, get_plain_with, get_tls, request_plain, services,
    services_in, tls_secret_in,
};

/// The config that serves `default/gw`.
const CONFIG: &str = "gateway:\n  gatewayRef: {namespace: default, name: gw}\n";

/// The GatewayClass `sesame` of Sesame's controller, and a document separator.
pub(crate) const GATEWAY_CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sesame}
spec: {controllerName: projectsesame.io/gateway-controller}
---";

/// A GatewayClass of Sesame's controller and Gateway `default/gw` with one HTTP listener on
/// `port`, open to routes of every namespace.
fn gateway(port: u16) -> String {
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  listeners:
  - {{name: web, port: {port}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}
  - {{name: tls, port: 443, protocol: TLS}}
"#
    )
}

const ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: main, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [gw.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: svc-b, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs: [{name: svc-a, port: 80, weight: 1}, {name: svc-b, port: 80, weight: 1}]
  - matches:
    - headers: [{name: X-Canary, value: "yes"}]
    - path: {type: PathPrefix, value: /q}
      queryParams: [{name: v, value: "2"}]
    - path: {type: PathPrefix, value: /m}
      method: POST
    backendRefs: [{name: svc-c, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /rewrite}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: svc-c, port: 80}}
    backendRefs: [{name: svc-b, port: 80}]
  - matches: [{path: {type: Exact, value: /redirect}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: new.example.com, statusCode: 301}
  - matches: [{path: {type: PathPrefix, value: /}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: "100%"}]
        add: [{name: X-Add, value: added}]
        remove: [X-Drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: X-Resp, value: gateway}]
    backendRefs: [{name: svc-a, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hostile, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [hostile.example.com]
  rules:
  - matches: [{path: {type: RegularExpression, value: "(unclosed"}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /host}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Host, value: admin}]}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /crlf}}]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-A, value: "a\r\nSet-Cookie: x"}]}}]
    backendRefs: [{name: svc-a, port: 80}]
  - matches: [{path: {type: Exact, value: /ok}}]
    backendRefs: [{name: svc-b, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: missing, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [missing.example.com]
  rules: [{backendRefs: [{name: nope, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [cross.example.com]
  rules: [{backendRefs: [{name: svc-o, namespace: other, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: tls}]
  rules: [{backendRefs: [{name: svc-a, port: 80}]}]
"#;

const GRANT: &str = r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-default, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_routes_on_a_gateway_listener() {
    let (a, b, c, o) = (
        backend("a").await,
        backend("b").await,
        backend("c").await,
        backend("o").await,
    );
    let envoy_port = free_port();
    let gateway_port = envoy_port - 8000;
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("sesame.yaml");
    std::fs::write(&config, CONFIG).expect("write config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let svcs = format!(
        "{}\n---\n{}",
        services(&[("svc-a", &a), ("svc-b", &b), ("svc-c", &c)]),
        services_in("other", &[("svc-o", &o)])
    );
    let cluster = Cluster::start_with(
        &[
            ("svc.yaml", &svcs),
            ("gateway.yaml", &gateway(gateway_port)),
            ("routes.yaml", ROUTES),
        ],
        &["--config-path", &config],
    )
    .await;
    let get = |host: &'static str,
               path: &'static str,
               headers: &'static [(&'static str, &'static str)]| async move {
        get_plain_with(envoy_port, host, path, headers)
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster
        .eventually_reply(
            "the gateway listener serves the route",
            || get("gw.example.com", "/exact", &[]),
            |r| r.from("b"),
        )
        .await;

    // Path, header, query and method matches.
    assert!(get("gw.example.com", "/exact/more", &[]).await.from("a"));
    assert!(
        get("gw.example.com", "/anything", &[("x-canary", "yes")])
            .await
            .from("c")
    );
    assert!(get("gw.example.com", "/q?v=2", &[]).await.from("c"));
    assert!(get("gw.example.com", "/q?v=3", &[]).await.from("a"));
    let post = request_plain(envoy_port, "POST", "gw.example.com", "/m", &[]).await;
    assert!(post.expect("POST").from("c"));
    assert!(get("gw.example.com", "/m", &[]).await.from("a"));
    // The listener has no hostname: other hosts of no route get 404.
    assert_eq!(get("nope.example.com", "/", &[]).await.status, 404);

    // Weighted backends: both get requests.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        if let Some(name) = get("gw.example.com", "/split", &[]).await.backend {
            seen.insert(name);
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"]);

    // Header modifiers: set (a literal percent sign), add, remove, and on the response.
    let reply = get(
        "gw.example.com",
        "/h",
        &[("x-drop", "1"), ("x-add", "first")],
    )
    .await;
    assert!(reply.from("a"), "{reply:?}");
    assert_eq!(reply.echoed_header("x-set"), ["100%"]);
    let added = reply.echoed_header("x-add").join(",");
    assert!(
        added.contains("first") && added.contains("added"),
        "{added}"
    );
    assert!(reply.echoed_header("x-drop").is_empty());
    assert_eq!(reply.header("x-resp"), ["gateway"]);

    // URL rewrite (host and path prefix) and a mirror of every request.
    let rewritten = get("gw.example.com", "/rewrite/x?q=1", &[]).await;
    assert!(rewritten.from("b"), "{rewritten:?}");
    assert_eq!(rewritten.echoed_path(), Some("/new/x?q=1"));
    assert_eq!(rewritten.echoed_header("host"), ["internal.example.com"]);
    let mirrored = crate::harness::eventually(std::time::Duration::from_secs(5), || async {
        c.requests().iter().any(|r| r == "/new/x?q=1")
    })
    .await;
    assert!(mirrored, "mirror saw {:?}", c.requests());

    // Redirect.
    let redirect = get("gw.example.com", "/redirect", &[]).await;
    assert_eq!(redirect.status, 301);
    assert_eq!(
        redirect.location.as_deref(),
        Some("https://new.example.com/redirect")
    );

    // Hostile rules are refused with the spec's condition; the rest of the route is served.
    let hostile = cluster
        .eventually_status(
            ("HTTPRoute", "default", "hostile"),
            "partially invalid",
            |s| conditions(s).contains(&"PartiallyInvalid=true/UnsupportedValue".to_string()),
        )
        .await;
    assert!(conditions(&hostile).contains(&"Accepted=true/Accepted".to_string()));
    assert!(get("hostile.example.com", "/ok", &[]).await.from("b"));
    assert_eq!(get("hostile.example.com", "/host", &[]).await.status, 404);
    assert_eq!(get("hostile.example.com", "/crlf", &[]).await.status, 404);

    // A missing backend: 500, BackendNotFound; another namespace without a grant: RefNotPermitted.
    let missing = cluster
        .object_status("HTTPRoute", "default", "missing")
        .await
        .expect("status of missing");
    assert!(conditions(&missing).contains(&"ResolvedRefs=false/BackendNotFound".to_string()));
    assert_eq!(get("missing.example.com", "/", &[]).await.status, 500);
    let cross = cluster
        .object_status("HTTPRoute", "default", "cross")
        .await
        .expect("status of cross");
    assert!(conditions(&cross).contains(&"ResolvedRefs=false/RefNotPermitted".to_string()));
    assert_eq!(get("cross.example.com", "/", &[]).await.status, 500);
    // An HTTPRoute is not allowed on the TLS listener (which, without tls.mode, is not valid).
    let elsewhere = cluster
        .object_status("HTTPRoute", "default", "elsewhere")
        .await
        .expect("status of elsewhere");
    assert_eq!(
        conditions(&elsewhere)[0],
        "Accepted=false/NotAllowedByListeners"
    );

    // The Gateway: accepted with one listener not valid, routes attached to the other.
    let gw = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    let listeners = &gw["gateway_api"]["gateway"]["listeners"];
    assert_eq!(listeners[0]["attachedRoutes"], 4, "{gw}");
    assert_eq!(listeners[1]["conditions"][0]["reason"], "UnsupportedValue");

    // A ReferenceGrant lets the cross-namespace backend in.
    cluster.write("grant.yaml", GRANT);
    cluster
        .eventually_reply(
            "the granted backend is reached",
            || get("cross.example.com", "/", &[]),
            |r| r.from("o"),
        )
        .await;

    // The static listener is untouched, and Envoy rejected nothing.
    assert_eq!(cluster.http("gw.example.com", "/exact").await.status, 404);
    cluster.assert_no_update_rejected().await;
}

/// A Gateway with two HTTPS listeners on one port: one whose certificate (in another
/// namespace, granted) serves `*.gw.test`, one whose certificate is not valid.
fn https_gateway(port: u16) -> String {
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  listeners:
  - name: wild
    port: {port}
    protocol: HTTPS
    hostname: "*.gw.test"
    tls: {{certificateRefs: [{{name: wild, namespace: certs}}]}}
  - name: broken
    port: {port}
    protocol: HTTPS
    hostname: broken.test
    tls: {{certificateRefs: [{{name: broken}}]}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: gateways, namespace: certs}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}}]
  to: [{{group: "", kind: Secret}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: secure, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [a.gw.test, broken.test]
  rules: [{{backendRefs: [{{name: svc-a, port: 80}}]}}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listeners_terminate_tls_with_their_certificates() {
    let a = backend("a").await;
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["*.gw.test"]);
    let envoy_port = free_port();
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("sesame.yaml");
    std::fs::write(&config, CONFIG).expect("write config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let secrets = format!(
        "{}\n---\n{}",
        tls_secret_in("certs", "wild", cert.as_bytes(), key.as_bytes()),
        tls_secret_in("default", "broken", b"not a certificate", b"not a key"),
    );
    let cluster = Cluster::start_with(
        &[
            ("svc.yaml", &services(&[("svc-a", &a)])),
            ("secrets.yaml", &secrets),
            ("gateway.yaml", &https_gateway(envoy_port - 8000)),
        ],
        &["--config-path", &config],
    )
    .await;
    let ca = pki.ca_pem.as_bytes();
    let https = |host: &'static str| async move {
        get_tls(envoy_port, host, "/", ca)
            .await
            .unwrap_or_else(Reply::failed)
    };
    let reply = cluster
        .eventually_reply(
            "TLS terminated on the gateway listener",
            || https("a.gw.test"),
            |r| r.from("a"),
        )
        .await;
    assert!(
        reply.server_names.contains(&"*.gw.test".to_string()),
        "{reply:?}"
    );
    let gw = cluster
        .eventually_status(("Gateway", "default", "gw"), "listener conditions", |s| {
            s["gateway_api"]["gateway"]["listeners"][1]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["reason"] == "InvalidCertificateRef"))
        })
        .await;
    assert_eq!(
        gw["gateway_api"]["gateway"]["listeners"][0]["attachedRoutes"], 1,
        "{gw}"
    );
    // The listener with the bad certificate serves nothing: its name matches no chain.
    assert_ne!(https("broken.test").await.status, 200);
    // Plain HTTP on the HTTPS port gets no answer.
    let plain = get_plain_with(envoy_port, "a.gw.test", "/", &[]).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status != 200));
    cluster.assert_no_update_rejected().await;
}

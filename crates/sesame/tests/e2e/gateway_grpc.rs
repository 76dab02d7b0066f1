//! GRPCRoute through a real Envoy (file mode): a real gRPC client (tonic) calls real gRPC
//! backends on 127.0.0.1 over h2c through the Gateway's listeners, routed by method, by
//! header, by listener hostname and split by weight, as the upstream GRPCExactMethodMatching,
//! GRPCRouteHeaderMatching, GRPCRouteListenerHostnameMatching, GRPCRouteWeight and
//! GRPCRouteNamedRule tests check them; a Service behind both an HTTPRoute and a GRPCRoute
//! answers HTTP/1.1 and gRPC; hostile matches get their conditions and Envoy rejects nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tonic::codegen::http;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

use crate::gateway_http::{conditions, start};
use crate::harness::{Pki, Reply, free_port, get_tls, request_plain, service_at};

/// A gRPC backend on 127.0.0.1: answers every unary call, whatever its service and method,
/// with the message `<name> <path>` and the response metadata `x-backend: <name>`; a plain
/// HTTP/1.1 request gets `x-backend: <name>` too.
struct GrpcBackend {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GrpcBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The answer of a [`GrpcBackend`] to one call.
struct Answer {
    name: &'static str,
    path: String,
}

impl tonic::server::UnaryService<String> for Answer {
    type Response = String;
    type Future = std::future::Ready<Result<tonic::Response<String>, tonic::Status>>;

    fn call(&mut self, _request: tonic::Request<String>) -> Self::Future {
        let mut response = tonic::Response::new(format!("{} {}", self.name, self.path));
        response
            .metadata_mut()
            .insert("x-backend", MetadataValue::from_static(self.name));
        std::future::ready(Ok(response))
    }
}

/// Starts a [`GrpcBackend`].
async fn grpc_backend(name: &'static str) -> GrpcBackend {
    serve_backend(name, true).await
}

/// Starts a [`GrpcBackend`] that speaks HTTP/2 only (prior knowledge, no HTTP/1.1): the h2c
/// backend of the upstream HTTPRouteBackendProtocolH2C test.
async fn h2c_backend(name: &'static str) -> GrpcBackend {
    serve_backend(name, false).await
}

/// Starts a [`GrpcBackend`], taking HTTP/1.1 too when `http1`.
async fn serve_backend(name: &'static str, http1: bool) -> GrpcBackend {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind grpc backend");
    let addr = listener.local_addr().expect("grpc backend addr");
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| async move {
        let grpc = (req.headers().get("content-type"))
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        if !grpc {
            return ([("x-backend", name)], format!("{name} {}\n", req.uri())).into_response();
        }
        let path = req.uri().path().to_string();
        let mut server = tonic::server::Grpc::new(ProstCodec::<String, String>::default());
        server
            .unary(Answer { name, path }, req)
            .await
            .into_response()
    });
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .accept_http1(http1)
            .add_routes(tonic::service::Routes::from(app))
            .serve_with_incoming(incoming)
            .await;
    });
    GrpcBackend { addr, task }
}

/// A gRPC channel to Envoy's `port` whose calls carry `:authority` `host`.
fn channel(port: u16, host: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .origin(format!("http://{host}").parse().expect("origin"))
        .connect_lazy()
}

/// As [`channel`], over TLS with SNI `host` and the CA `ca` (HTTP/2 negotiated with ALPN).
fn tls_channel(port: u16, host: &str, ca: &str) -> Channel {
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
        .domain_name(host);
    tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .expect("endpoint")
        .origin(format!("https://{host}").parse().expect("origin"))
        .tls_config(tls)
        .expect("tls config")
        .connect_lazy()
}

/// Calls `path` (`/<service>/<method>`) with the metadata `headers`: the name of the backend
/// that answered, or the gRPC status of the failure.
async fn call(
    channel: &Channel,
    path: &str,
    headers: &[(&'static str, &'static str)],
) -> Result<String, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new("hello".to_string());
    for (name, value) in headers {
        request
            .metadata_mut()
            .insert(*name, MetadataValue::from_static(value));
    }
    let path = http::uri::PathAndQuery::try_from(path).expect("path");
    let response = client
        .unary(
            request,
            path.clone(),
            ProstCodec::<String, String>::default(),
        )
        .await?;
    let backend = (response.metadata().get("x-backend"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        response.get_ref(),
        &format!("{backend} {}", path.path()),
        "the backend saw the path called"
    );
    Ok(backend)
}

/// The backend of a call that must succeed.
async fn backend_of(
    channel: &Channel,
    path: &str,
    headers: &[(&'static str, &'static str)],
) -> String {
    call(channel, path, headers)
        .await
        .unwrap_or_else(|s| panic!("{path} {headers:?}: {s:?}"))
}

/// The gRPC status code of a call that must fail.
async fn failure(
    channel: &Channel,
    path: &str,
    headers: &[(&'static str, &'static str)],
) -> tonic::Code {
    match call(channel, path, headers).await {
        Ok(backend) => panic!("{path} {headers:?} reached {backend}"),
        Err(status) => status.code(),
    }
}

/// The GatewayClass, and Gateway `default/gw` with listener `web` on `web` and the four
/// listeners of the upstream GRPCRouteListenerHostnameMatching Gateway on `hosts`.
fn gateway(web: u16, hosts: u16) -> String {
    let mut out = crate::gateway_http::gateway(web);
    for (i, hostname) in ["bar.com", "foo.bar.com", "*.bar.com", "*.foo.com"]
        .iter()
        .enumerate()
    {
        out.push_str(&format!(
            "  - {{name: listener-{}, port: {hosts}, protocol: HTTP, hostname: {hostname:?}}}\n",
            i + 1
        ));
    }
    out
}

/// The service of the upstream tests.
const SERVICE: &str = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

/// The routes of the upstream tests, each on a hostname of its own on listener `web` (the
/// hostname matching ones on their listeners), a mixed HTTPRoute, and a hostile GRPCRoute.
const ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: exact-matching, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [exact.example.com]
  rules:
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}}]
    backendRefs: [{name: grpc-v1, port: 80}]
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: EchoTwo}}]
    backendRefs: [{name: grpc-v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc-named-rules, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [named.example.com]
  rules:
  - name: named-rule
    matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}}]
    backendRefs: [{name: grpc-v1, port: 80}]
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: EchoTwo}}]
    backendRefs: [{name: grpc-v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc-header-matching, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [headers.example.com]
  rules:
  - matches: [{headers: [{name: version, value: one}]}]
    backendRefs: [{name: grpc-v1, port: 80}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: grpc-v2, port: 80}]
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: grpc-v1, port: 80}]
  - matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]
    backendRefs: [{name: grpc-v1, port: 80}]
  - matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]
    backendRefs: [{name: grpc-v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: weighted-backends, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [weight.example.com]
  rules:
  - backendRefs:
    - {name: grpc-v1, port: 80, weight: 70}
    - {name: grpc-v2, port: 80, weight: 30}
    - {name: grpc-v3, port: 80, weight: 0}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: backend-v1, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: listener-1}]
  rules: [{backendRefs: [{name: grpc-v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: backend-v2, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: listener-2}]
  rules: [{backendRefs: [{name: grpc-v2, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: backend-v3, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: listener-3}, {name: gw, sectionName: listener-4}]
  rules: [{backendRefs: [{name: grpc-v3, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: plain, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [plain.example.com]
  rules: [{backendRefs: [{name: grpc-v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: hostile, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  hostnames: [hostile.example.com]
  rules:
  - matches: [{method: {type: RegularExpression, service: "a)|(b", method: Echo}}]
    backendRefs: [{name: grpc-v2, port: 80}]
  - matches: [{method: {type: RegularExpression, method: "(?<name>Echo)"}}]
    backendRefs: [{name: grpc-v2, port: 80}]
  - matches: [{method: {service: "bad service/x", method: Echo}}]
    backendRefs: [{name: grpc-v2, port: 80}]
  - matches: [{method: {type: RegularExpression, service: "gateway_api_conformance\\..*", method: "Echo.*"}}]
    backendRefs: [{name: grpc-v1, port: 80}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_routes_match_methods_headers_hostnames_and_weights() {
    let backends = [
        ("grpc-v1", grpc_backend("grpc-v1").await),
        ("grpc-v2", grpc_backend("grpc-v2").await),
        ("grpc-v3", grpc_backend("grpc-v3").await),
    ];
    let svcs = (backends.iter())
        .map(|(name, b)| service_at("default", name, b.addr))
        .collect::<Vec<_>>()
        .join("\n---\n");
    let (web, hosts) = (free_port(), free_port());
    let gw = gateway(web - 8000, hosts - 8000);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("gateway.yaml", &gw),
        ("routes.yaml", ROUTES),
    ])
    .await;
    let echo = format!("/{SERVICE}/Echo");
    let echo_two = format!("/{SERVICE}/EchoTwo");

    // GRPCExactMethodMatching: each method to its backend, another method nowhere.
    let exact = channel(web, "exact.example.com");
    cluster
        .eventually_reply(
            "the GRPCRoute is served",
            || async { Reply::failed(format!("{:?}", call(&exact, &echo, &[]).await)) },
            |r| r.body == r#"Ok("grpc-v1")"#,
        )
        .await;
    assert_eq!(backend_of(&exact, &echo_two, &[]).await, "grpc-v2");
    let three = format!("/{SERVICE}/EchoThree");
    assert_eq!(
        failure(&exact, &three, &[]).await,
        tonic::Code::Unimplemented
    );

    // GRPCRouteNamedRule: a rule with a name is served as any other.
    let named = channel(web, "named.example.com");
    assert_eq!(backend_of(&named, &echo, &[]).await, "grpc-v1");
    assert_eq!(backend_of(&named, &echo_two, &[]).await, "grpc-v2");
    let status = cluster
        .object_status("GRPCRoute", "default", "grpc-named-rules")
        .await
        .expect("status of grpc-named-rules");
    assert_eq!(
        conditions(&status),
        ["Accepted=true/Accepted", "ResolvedRefs=true/ResolvedRefs"]
    );

    // GRPCRouteHeaderMatching: the most header matches first, then rule order.
    let headers = channel(web, "headers.example.com");
    for (metadata, expected) in [
        (&[("version", "one")][..], "grpc-v1"),
        (&[("version", "two")][..], "grpc-v2"),
        (&[("version", "two"), ("color", "orange")][..], "grpc-v1"),
        (&[("version", "two"), ("color", "blue")][..], "grpc-v2"),
        (&[("color", "blue")][..], "grpc-v1"),
        (&[("color", "green")][..], "grpc-v1"),
        (&[("color", "red")][..], "grpc-v2"),
        (&[("color", "yellow")][..], "grpc-v2"),
    ] {
        assert_eq!(
            backend_of(&headers, &echo, metadata).await,
            expected,
            "{metadata:?}"
        );
    }
    for metadata in [
        &[("color", "orange")][..],
        &[("some-other-header", "one")][..],
        &[("color", "purple")][..],
    ] {
        assert_eq!(
            failure(&headers, &echo, metadata).await,
            tonic::Code::Unimplemented
        );
    }

    // GRPCRouteListenerHostnameMatching: each authority to its listener's route.
    for (authority, expected) in [
        ("bar.com", Some("grpc-v1")),
        ("foo.bar.com", Some("grpc-v2")),
        ("baz.bar.com", Some("grpc-v3")),
        ("boo.bar.com", Some("grpc-v3")),
        ("multiple.prefixes.bar.com", Some("grpc-v3")),
        ("multiple.prefixes.foo.com", Some("grpc-v3")),
        ("foo.com", None),
        ("no.matching.host", None),
    ] {
        let got = call(&channel(hosts, authority), &echo, &[]).await;
        match expected {
            Some(backend) => assert_eq!(got.as_deref().ok(), Some(backend), "{authority}: {got:?}"),
            None => assert_eq!(
                got.map_err(|s| s.code()),
                Err(tonic::Code::Unimplemented),
                "{authority}"
            ),
        }
    }

    // GRPCRouteWeight: 70/30/0 over 500 calls, v1 within a binomial band (p = 0.7,
    // sd = 10.2: ±5 sd), v3 never.
    let weight = channel(web, "weight.example.com");
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..500 {
        *counts
            .entry(backend_of(&weight, &echo, &[]).await)
            .or_default() += 1;
    }
    let v1 = counts.get("grpc-v1").copied().unwrap_or_default();
    assert!((300..=400).contains(&v1), "{counts:?}");
    assert_eq!(
        counts.get("grpc-v2").copied().unwrap_or_default(),
        500 - v1,
        "{counts:?}"
    );

    // The Service behind the GRPCRoutes answers an HTTPRoute over HTTP/1.1: its own cluster.
    let plain = request_plain(web, "GET", "plain.example.com", "/hello", &[])
        .await
        .unwrap_or_else(Reply::failed);
    assert!(plain.from("grpc-v1"), "{plain:?}");

    // Hostile matches: those rules refused with the spec's condition, the valid one served.
    let hostile = cluster
        .eventually_status(
            ("GRPCRoute", "default", "hostile"),
            "partially invalid",
            |s| conditions(s).contains(&"PartiallyInvalid=true/UnsupportedValue".to_string()),
        )
        .await;
    assert!(conditions(&hostile).contains(&"Accepted=true/Accepted".to_string()));
    let hostile = channel(web, "hostile.example.com");
    assert_eq!(backend_of(&hostile, &echo, &[]).await, "grpc-v1");
    assert_eq!(backend_of(&hostile, &echo_two, &[]).await, "grpc-v1");
    assert_eq!(
        failure(&hostile, "/a/Echo", &[]).await,
        tonic::Code::Unimplemented
    );

    // Every listener lists both kinds and counts its routes.
    let gateway = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    let listeners = gateway["gateway_api"]["gateway"]["listeners"]
        .as_array()
        .expect("listeners");
    let web_listener = &listeners[0];
    assert_eq!(
        web_listener["supportedKinds"],
        serde_json::json!(["HTTPRoute", "GRPCRoute"])
    );
    assert_eq!(web_listener["attachedRoutes"], 6, "{web_listener}");
    assert_eq!(listeners[3]["attachedRoutes"], 1, "{}", listeners[3]);
    cluster.assert_no_update_rejected().await;
}

/// On an HTTPS listener: a GRPCRoute and an HTTPRoute on other hosts, and a younger HTTPRoute
/// on the GRPCRoute's host, which the spec refuses.
const TLS_ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, sectionName: secure}]
  hostnames: [grpc.gw.test]
  rules: [{backendRefs: [{name: grpc-v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: late, namespace: default, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: gw, sectionName: secure}]
  hostnames: [grpc.gw.test]
  rules: [{backendRefs: [{name: grpc-v2, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: secure}]
  hostnames: [www.gw.test]
  rules: [{backendRefs: [{name: grpc-v2, port: 80}]}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_and_the_older_of_two_route_kinds_on_one_host() {
    let (v1, v2) = (grpc_backend("grpc-v1").await, grpc_backend("grpc-v2").await);
    let svcs = format!(
        "{}\n---\n{}",
        service_at("default", "grpc-v1", v1.addr),
        service_at("default", "grpc-v2", v2.addr)
    );
    let (web, secure) = (free_port(), free_port());
    let mut gw = crate::gateway_http::gateway(web - 8000);
    gw.push_str(&format!(
        "  - {{name: secure, port: {}, protocol: HTTPS, hostname: \"*.gw.test\", \
         tls: {{certificateRefs: [{{name: wild}}]}}}}\n",
        secure - 8000
    ));
    let pki = Pki::new();
    let secret = pki.secret("wild", &["*.gw.test"]);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("secret.yaml", &secret),
        ("gateway.yaml", &gw),
        ("routes.yaml", TLS_ROUTES),
    ])
    .await;
    let echo = format!("/{SERVICE}/Echo");
    let rpc = tls_channel(secure, "grpc.gw.test", &pki.ca_pem);
    cluster
        .eventually_reply(
            "the GRPCRoute is served over TLS",
            || async { Reply::failed(format!("{:?}", call(&rpc, &echo, &[]).await)) },
            |r| r.body == r#"Ok("grpc-v1")"#,
        )
        .await;
    let site = get_tls(secure, "www.gw.test", "/", pki.ca_pem.as_bytes())
        .await
        .unwrap_or_else(Reply::failed);
    assert!(site.from("grpc-v2"), "{site:?}");

    // The younger HTTPRoute on the GRPCRoute's host is not accepted and serves nothing.
    let late = cluster
        .object_status("HTTPRoute", "default", "late")
        .await
        .expect("status of late");
    assert_eq!(conditions(&late)[0], "Accepted=false/NotAllowedByListeners");
    let plain = get_tls(secure, "grpc.gw.test", "/", pki.ca_pem.as_bytes())
        .await
        .unwrap_or_else(Reply::failed);
    assert!(!plain.from("grpc-v2"), "{plain:?}");
    cluster.assert_no_update_rejected().await;
}

/// HTTPRouteBackendProtocolH2C: a Service port with `appProtocol: kubernetes.io/h2c` is reached
/// over HTTP/2 without TLS, so a backend that speaks nothing else answers; the same backend
/// behind a port without it is spoken to in HTTP/1.1 and cannot answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_app_protocol_reaches_an_http2_only_backend() {
    let h2c = h2c_backend("h2c").await;
    let web = free_port();
    let services = format!(
        "{}\n---\n{}",
        crate::gateway_http::service_speaking("h2c-svc", h2c.addr, Some("kubernetes.io/h2c")),
        crate::gateway_http::service_speaking("plain-svc", h2c.addr, None)
    );
    let route = |name: &str, service: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{name}.example.com]\n  rules: [{{backendRefs: [{{name: {service}, port: 80}}]}}]\n"
        )
    };
    let routes = format!(
        "{}---\n{}",
        route("h2c", "h2c-svc"),
        route("plain", "plain-svc")
    );
    let gw = crate::gateway_http::gateway(web - 8000);
    let (cluster, _dir) = start(&[
        ("svc.yaml", &services),
        ("gateway.yaml", &gw),
        ("routes.yaml", &routes),
    ])
    .await;
    cluster
        .eventually_reply(
            "the h2c Service answers through the HTTPRoute",
            || async {
                request_plain(web, "GET", "h2c.example.com", "/", &[])
                    .await
                    .unwrap_or_else(Reply::failed)
            },
            |r| r.status == 200 && r.from("h2c"),
        )
        .await;
    let plain = request_plain(web, "GET", "plain.example.com", "/", &[])
        .await
        .unwrap_or_else(Reply::failed);
    assert!(
        plain.status >= 500 && !plain.from("h2c"),
        "HTTP/1.1 to an HTTP/2-only backend cannot succeed: {plain:?}"
    );
    cluster.assert_no_update_rejected().await;
}

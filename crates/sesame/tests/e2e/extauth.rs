//! External authorization through a real Envoy: an ExtensionService whose Service points at a
//! gRPC `envoy.service.auth.v3.Authorization` server in this process, which allows a request
//! when its path holds `allow` and records every check. Users see 200 or 403, routes that
//! disable checks bypass the server, context extensions reach it, a down server fails closed
//! (or open when asked), and hostile authorization settings never reach Envoy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse, check_response,
};
use envoy_types::pb::envoy::r#type::v3::{HttpStatus, StatusCode};
use envoy_types::pb::google::rpc::Status as RpcStatus;

use crate::harness::{Cluster, Pki, backend, ca_secret, free_port, services};
use crate::httpproxy::{has_error, key, proxy, refused_then_canary};

/// One check the server answered: the request path and its context extensions.
#[derive(Clone, Debug)]
struct Check {
    path: String,
    context: HashMap<String, String>,
}

/// The authorization server: allows paths containing `allow` (adding `x-authz: ok` to the
/// request), denies the rest with 403 and a body.
#[derive(Clone, Default)]
struct Authz {
    checks: Arc<Mutex<Vec<Check>>>,
}

#[tonic::async_trait]
impl Authorization for Authz {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let attributes = request.into_inner().attributes.unwrap_or_default();
        let path = attributes
            .request
            .and_then(|r| r.http)
            .map(|h| h.path)
            .unwrap_or_default();
        self.checks.lock().expect("checks").push(Check {
            path: path.clone(),
            context: attributes.context_extensions,
        });
        let response = if path.contains("allow") {
            CheckResponse {
                status: Some(RpcStatus {
                    code: 0,
                    ..Default::default()
                }),
                http_response: Some(check_response::HttpResponse::OkResponse(OkHttpResponse {
                    headers: vec![HeaderValueOption {
                        header: Some(HeaderValue {
                            key: "x-authz".into(),
                            value: "ok".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            }
        } else {
            CheckResponse {
                // PERMISSION_DENIED
                status: Some(RpcStatus {
                    code: 7,
                    ..Default::default()
                }),
                http_response: Some(check_response::HttpResponse::DeniedResponse(
                    DeniedHttpResponse {
                        status: Some(HttpStatus {
                            code: StatusCode::Forbidden as i32,
                        }),
                        body: "denied by authz".into(),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }
        };
        Ok(tonic::Response::new(response))
    }
}

impl Authz {
    fn checks(&self) -> Vec<Check> {
        self.checks.lock().expect("checks").clone()
    }
}

/// Serves `authz` over plaintext HTTP/2 (h2c) on 127.0.0.1; the task ends with the test.
async fn serve(authz: Authz) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    serve_with(authz, None).await
}

/// As [`serve`], over TLS with `identity` (cert PEM, key PEM) when given.
async fn serve_with(
    authz: Authz,
    identity: Option<(String, String)>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind authz");
    let addr = listener.local_addr().expect("authz addr");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let mut builder = tonic::transport::Server::builder();
    if let Some((cert, key)) = identity {
        let tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert, key));
        builder = builder.tls_config(tls).expect("server tls");
    }
    let task = tokio::spawn(async move {
        let _ = builder
            .add_service(AuthorizationServer::new(authz))
            .serve_with_incoming(incoming)
            .await;
    });
    (addr, task)
}

/// A Service `name` (port 80, named `grpc`) in `default` whose one endpoint is `addr`.
fn grpc_service(name: &str, addr: SocketAddr) -> String {
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "grpc", "port": 80, "targetPort": addr.port()}]}
    });
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-1"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [addr.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "grpc", "port": addr.port(), "protocol": "TCP"}]
    });
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [svc, slice]}).to_string()
}

/// An ExtensionService `name` in `default` over Service `service` port 80, plaintext HTTP/2.
fn extension(name: &str, service: &str) -> String {
    format!(
        "apiVersion: projectsesame.io/v1alpha1\nkind: ExtensionService\nmetadata:\n  name: {name}\n  namespace: default\n\
         spec:\n  protocol: h2c\n  services:\n  - name: {service}\n    port: 80\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_allows_denies_bypasses_and_sends_context() {
    let app = backend("app").await;
    let authz = Authz::default();
    let (addr, _server) = serve(authz.clone()).await;
    let pki = Pki::new();
    let spec = "{virtualhost: {fqdn: auth.test, tls: {secretName: cert}, authorization: {\
        extensionRef: {name: authz}, authPolicy: {context: {tier: gold}}}}, routes: [\
        {conditions: [{prefix: /public}], authPolicy: {disabled: true}, services: [{name: svc-app, port: 80}]}, \
        {conditions: [{prefix: /ctx}], authPolicy: {context: {route: ctx, tier: silver}}, services: [{name: svc-app, port: 80}]}, \
        {services: [{name: svc-app, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-app", &app)])),
        ("authz-svc.json", &grpc_service("svc-authz", addr)),
        ("authz.yaml", &extension("authz", "svc-authz")),
        ("secret.json", &pki.secret("cert", &["auth.test"])),
        ("proxy.yaml", &proxy("default", "auth", spec)),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "an allowed request served",
            || cluster.https("auth.test", "/allow/me", ca),
            |r| r.from("app"),
        )
        .await;
    // The server's header reached the upstream.
    assert_eq!(reply.echoed_header("x-authz"), ["ok"], "{reply:?}");
    let denied = cluster.https("auth.test", "/secret", ca).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    assert!(!denied.from("app"));
    assert!(denied.body.contains("denied by authz"), "{denied:?}");
    // A route that disables checks is served without asking.
    let before = authz.checks().len();
    assert!(
        cluster
            .https("auth.test", "/public/secret", ca)
            .await
            .from("app")
    );
    assert_eq!(authz.checks().len(), before, "the server was asked");
    // Context: the host's on plain routes, the route's merged over it.
    assert!(
        cluster
            .https("auth.test", "/ctx/allow", ca)
            .await
            .from("app")
    );
    let checks = authz.checks();
    let plain = checks
        .iter()
        .find(|c| c.path == "/allow/me")
        .expect("checked");
    assert_eq!(
        plain.context,
        HashMap::from([("tier".to_string(), "gold".to_string())])
    );
    let ctx = checks
        .iter()
        .find(|c| c.path == "/ctx/allow")
        .expect("checked");
    assert_eq!(
        ctx.context,
        HashMap::from([
            ("tier".to_string(), "silver".to_string()),
            ("route".to_string(), "ctx".to_string())
        ])
    );
    assert!(checks.iter().all(|c| !c.path.starts_with("/public")));
    // Plain HTTP only redirects to HTTPS: nothing is served around the check.
    assert_eq!(cluster.http("auth.test", "/secret").await.status, 301);
    let status = cluster
        .eventually_status(("ExtensionService", "default", "authz"), "valid", |s| {
            s["current"] == "valid"
        })
        .await;
    assert!(
        status["errors"].as_array().is_none_or(|e| e.is_empty()),
        "{status}"
    );
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_over_tls_verifies_the_servers_certificate() {
    let app = backend("app").await;
    let pki = Pki::new();
    let authz = Authz::default();
    let (addr, _server) = serve_with(authz.clone(), Some(pki.leaf(&["authz.test"]))).await;
    // `good` trusts the CA and expects the server's name; `wrong` expects another name.
    let ext = |name: &str, subject: &str| {
        format!(
            "apiVersion: projectsesame.io/v1alpha1\nkind: ExtensionService\nmetadata:\n  name: {name}\n  namespace: default\n\
             spec:\n  protocol: h2\n  validation: {{caSecret: authz-ca, subjectName: {subject}}}\n  services:\n  - name: svc-authz\n    port: 80\n"
        )
    };
    let host = |name: &str, ext: &str| {
        proxy(
            "default",
            name,
            &format!(
                "{{virtualhost: {{fqdn: {name}.test, tls: {{secretName: cert}}, authorization: {{extensionRef: {{name: {ext}}}}}}}, \
                 routes: [{{services: [{{name: svc-app, port: 80}}]}}]}}"
            ),
        )
    };
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-app", &app)])),
        ("authz-svc.json", &grpc_service("svc-authz", addr)),
        (
            "ca.json",
            &ca_secret("default", "authz-ca", pki.ca_pem.as_bytes()),
        ),
        ("good.yaml", &ext("good", "authz.test")),
        ("wrong.yaml", &ext("wrong", "other.test")),
        (
            "secret.json",
            &pki.secret("cert", &["tls-good.test", "tls-wrong.test"]),
        ),
        ("tls-good.yaml", &host("tls-good", "good")),
        ("tls-wrong.yaml", &host("tls-wrong", "wrong")),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    cluster
        .eventually_reply(
            "checked over verified TLS",
            || cluster.https("tls-good.test", "/allow", ca),
            |r| r.from("app"),
        )
        .await;
    assert_eq!(
        cluster.https("tls-good.test", "/deny", ca).await.status,
        403
    );
    let before = authz.checks().len();
    // The certificate does not name `other.test`: no check reaches the server, and the
    // request fails closed.
    let reply = cluster.https("tls-wrong.test", "/allow", ca).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(authz.checks().len(), before);
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_authorization_server_fails_closed_unless_fail_open() {
    let app = backend("app").await;
    // Nothing listens there.
    let down: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let pki = Pki::new();
    let spec = |host: &str, fail_open: bool| {
        format!(
            "{{virtualhost: {{fqdn: {host}, tls: {{secretName: cert}}, authorization: {{\
             extensionRef: {{name: authz}}, failOpen: {fail_open}, responseTimeout: 500ms}}}}, \
             routes: [{{services: [{{name: svc-app, port: 80}}]}}]}}"
        )
    };
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-app", &app)])),
        ("authz-svc.json", &grpc_service("svc-authz", down)),
        ("authz.yaml", &extension("authz", "svc-authz")),
        (
            "secret.json",
            &pki.secret("cert", &["closed.test", "open.test"]),
        ),
        (
            "closed.yaml",
            &proxy("default", "closed", &spec("closed.test", false)),
        ),
        (
            "open.yaml",
            &proxy("default", "open", &spec("open.test", true)),
        ),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    cluster
        .eventually_reply(
            "fail open serves",
            || cluster.https("open.test", "/allow", ca),
            |r| r.from("app"),
        )
        .await;
    let closed = cluster
        .eventually_reply(
            "fail closed refuses",
            || cluster.https("closed.test", "/allow", ca),
            |r| r.status == 403,
        )
        .await;
    assert!(!closed.from("app"), "{closed:?}");
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_authorization_is_refused_with_zero_nacks() {
    let a = backend("a").await;
    let authz = Authz::default();
    let (addr, _server) = serve(authz.clone()).await;
    let pki = Pki::new();
    let broken = "apiVersion: projectsesame.io/v1alpha1\nkind: ExtensionService\nmetadata:\n  name: broken\n  namespace: default\n\
        spec:\n  protocol: h2c\n  validation: {caSecret: cert}\n  services:\n  - name: svc-authz\n    port: 80\n";
    let hosts: Vec<String> = [
        "good", "insecure", "missing", "broken", "version", "timeout", "body",
    ]
    .iter()
    .map(|n| format!("{n}.hostile.test"))
    .collect();
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("authz-svc.json", &grpc_service("svc-authz", addr)),
        ("authz.yaml", &extension("authz", "svc-authz")),
        ("broken-extension.yaml", broken),
        ("secret.json", &pki.secret("cert", &host_refs)),
    ])
    .await;
    let root = |name: &str, tls: bool, authorization: &str| {
        let tls = if tls { ", tls: {secretName: cert}" } else { "" };
        proxy(
            "default",
            name,
            &format!(
                "{{virtualhost: {{fqdn: {name}.hostile.test{tls}, authorization: {{{authorization}}}}}, \
                 routes: [{{services: [{{name: svc-a, port: 80}}]}}]}}"
            ),
        )
    };
    let hostile = [
        (
            "insecure",
            false,
            "extensionRef: {name: authz}",
            "AuthNotPermitted",
        ),
        (
            "missing",
            true,
            "extensionRef: {name: nope}",
            "ExtensionServiceNotFound",
        ),
        (
            "broken",
            true,
            "extensionRef: {name: broken}",
            "ExtensionServiceNotFound",
        ),
        (
            "version",
            true,
            "extensionRef: {name: authz, apiVersion: projectcontour.io/v1alpha1}",
            "AuthBadResourceVersion",
        ),
        (
            "timeout",
            true,
            "extensionRef: {name: authz}, responseTimeout: 1fortnight",
            "AuthResponseTimeoutInvalid",
        ),
        (
            "body",
            true,
            "extensionRef: {name: authz}, withRequestBody: {maxRequestBytes: 99999999999}",
            "AuthRequestBodyNotValid",
        ),
    ];
    cluster.write(
        "good.yaml",
        &root("good", true, "extensionRef: {name: authz}"),
    );
    for (name, tls, authorization, _) in &hostile {
        cluster.write(&format!("{name}.yaml"), &root(name, *tls, authorization));
    }
    let refused: Vec<(&str, &str)> = hostile.iter().map(|(n, _, _, r)| (*n, *r)).collect();
    refused_then_canary(&cluster, &refused).await;
    let status = cluster
        .eventually_status(("ExtensionService", "default", "broken"), "invalid", |s| {
            s["current"] == "invalid"
        })
        .await;
    assert!(has_error(&status, "InconsistentProtocol"), "{status}");
    cluster.assert_no_update_rejected().await;
    let ca = pki.ca_pem.as_bytes();
    for (name, ..) in &hostile {
        // Never served open, on either listener.
        let host = format!("{name}.hostile.test");
        let reply = cluster.https(&host, "/allow", ca).await;
        assert!(!reply.from("a"), "{name}: {reply:?}");
        assert!(!cluster.http(&host, "/allow").await.from("a"), "{name}");
    }
    // The valid authorized host beside them is served, and checked.
    let reply = cluster
        .eventually_reply(
            "good host served",
            || cluster.https("good.hostile.test", "/allow", ca),
            |r| r.from("a"),
        )
        .await;
    assert_eq!(reply.echoed_header("x-authz"), ["ok"]);
    assert_eq!(
        cluster.https("good.hostile.test", "/no", ca).await.status,
        403
    );
    let good = cluster
        .object_status(key("default", "good").0, "default", "good")
        .await
        .expect("good status");
    assert_eq!(good["current"], "valid", "{good}");
}

//! HTTPProxy TLS through a real Envoy: termination, redirects and permitInsecure, certificate
//! delegation, passthrough to a TLS backend, and client certificate validation.

use crate::harness::{
    Cluster, Pki, backend, ca_secret, services, services_in, tls_backend, tls_secret_in,
};
use crate::httpproxy::{has_error, key, proxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination_redirects_plain_http_except_permit_insecure() {
    let (secure, open) = (backend("secure").await, backend("open").await);
    let pki = Pki::new();
    let spec = "{virtualhost: {fqdn: tls.test, tls: {secretName: cert}}, routes: [\
        {conditions: [{prefix: /open}], permitInsecure: true, services: [{name: svc-open, port: 80}]}, \
        {services: [{name: svc-secure, port: 80}]}]}";
    let cluster = Cluster::start(&[
        (
            "svc.yaml",
            &services(&[("svc-secure", &secure), ("svc-open", &open)]),
        ),
        ("secret.json", &pki.secret("cert", &["tls.test"])),
        ("proxy.yaml", &proxy("default", "tls", spec)),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "HTTPS served",
            || cluster.https("tls.test", "/page", ca),
            |r| r.from("secure"),
        )
        .await;
    assert_eq!(reply.server_names, ["tls.test"]);
    assert!(cluster.https("tls.test", "/open/x", ca).await.from("open"));
    // Plain HTTP is redirected to HTTPS, path and query kept...
    let reply = cluster.http("tls.test", "/page?q=1").await;
    assert_eq!(reply.status, 301, "{reply:?}");
    assert_eq!(reply.location.as_deref(), Some("https://tls.test/page?q=1"));
    // ...except on the permitInsecure route, which is served as is.
    assert!(cluster.http("tls.test", "/open/x").await.from("open"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_delegation_is_honoured_only_for_the_target_namespace() {
    let a = backend("a").await;
    let pki = Pki::new();
    let (cert, key_pem) = pki.leaf(&["*.deleg.test"]);
    let delegation = "apiVersion: projectsesame.io/v1\nkind: TLSCertificateDelegation\n\
        metadata:\n  name: wild\n  namespace: certs\n\
        spec:\n  delegations:\n  - secretName: wild\n    targetNamespaces: [default]\n";
    let spec = |host: &str| {
        format!(
            "{{virtualhost: {{fqdn: {host}, tls: {{secretName: certs/wild}}}}, \
             routes: [{{services: [{{name: svc-a, port: 80}}]}}]}}"
        )
    };
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("svc-other.yaml", &services_in("other", &[("svc-a", &a)])),
        (
            "wild.json",
            &tls_secret_in("certs", "wild", cert.as_bytes(), key_pem.as_bytes()),
        ),
        ("delegation.yaml", delegation),
        ("ok.yaml", &proxy("default", "ok", &spec("ok.deleg.test"))),
        ("no.yaml", &proxy("other", "no", &spec("no.deleg.test"))),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "delegated certificate served",
            || cluster.https("ok.deleg.test", "/", ca),
            |r| r.from("a"),
        )
        .await;
    assert_eq!(reply.server_names, ["*.deleg.test"]);
    let status = cluster
        .eventually_status(key("other", "no"), "delegation refused", |s| {
            has_error(s, "DelegationNotPermitted")
        })
        .await;
    assert_eq!(status["current"], "invalid", "{status}");
    let reply = cluster.https("no.deleg.test", "/", ca).await;
    assert_eq!(reply.status, 0, "no TLS without delegation: {reply:?}");
    let ok = cluster
        .eventually_status(key("default", "ok"), "ok status", |_| true)
        .await;
    assert_eq!(ok["current"], "valid", "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_reaches_the_tls_backend_with_its_own_certificate() {
    // The backend's certificate comes from a CA Envoy never sees.
    let backend_pki = Pki::new();
    let (cert, key_pem) = backend_pki.leaf(&["pass.test"]);
    let tls = tls_backend("tls-backend", &cert, &key_pem).await;
    let spec = "{virtualhost: {fqdn: pass.test, tls: {passthrough: true}}, \
        tcpproxy: {services: [{name: svc-tls, port: 80}]}}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-tls", &tls)])),
        ("proxy.yaml", &proxy("default", "pass", spec)),
    ])
    .await;
    let ca = backend_pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "passthrough served",
            || cluster.https("pass.test", "/through?x=1", ca),
            |r| r.from("tls-backend"),
        )
        .await;
    assert_eq!(reply.server_names, ["pass.test"]);
    assert_eq!(reply.body, "tls-backend /through?x=1\n");
    assert_eq!(
        tls.requests().last().map(String::as_str),
        Some("/through?x=1")
    );
    let status = cluster
        .eventually_status(key("default", "pass"), "pass status", |_| true)
        .await;
    assert_eq!(status["current"], "valid", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_and_checked_against_the_ca() {
    let a = backend("a").await;
    let server_pki = Pki::new();
    let client_pki = Pki::new();
    let stranger_pki = Pki::new();
    let spec = "{virtualhost: {fqdn: mtls.test, tls: {secretName: cert, \
        clientValidation: {caSecret: client-ca}}}, routes: [{services: [{name: svc-a, port: 80}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("secret.json", &server_pki.secret("cert", &["mtls.test"])),
        (
            "ca.json",
            &ca_secret("default", "client-ca", client_pki.ca_pem.as_bytes()),
        ),
        ("proxy.yaml", &proxy("default", "mtls", spec)),
    ])
    .await;
    let ca = server_pki.ca_pem.as_bytes();
    let (cert, key_pem) = client_pki.leaf(&["client.test"]);
    let reply = cluster
        .eventually_reply(
            "a client certificate from the CA is accepted",
            || cluster.https_as("mtls.test", "/", ca, Some((&cert, &key_pem))),
            |r| r.from("a"),
        )
        .await;
    assert_eq!(reply.server_names, ["mtls.test"]);
    let reply = cluster.https_as("mtls.test", "/", ca, None).await;
    assert_eq!(reply.status, 0, "no client certificate: {reply:?}");
    let (cert, key_pem) = stranger_pki.leaf(&["client.test"]);
    let reply = cluster
        .https_as("mtls.test", "/", ca, Some((&cert, &key_pem)))
        .await;
    assert_eq!(
        reply.status, 0,
        "client certificate from another CA: {reply:?}"
    );
}

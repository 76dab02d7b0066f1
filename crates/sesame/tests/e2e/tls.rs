//! TLS termination through a real Envoy: certificates per SNI, redirects, allow-http.

use crate::harness::{Cluster, Pki, backend, services};

fn tls_ingress(name: &str, annotations: &str, hosts: &[(&str, &str, &str)]) -> String {
    // hosts: (host, secret, service)
    let mut tls = String::new();
    let mut rules = String::new();
    for (host, secret, svc) in hosts {
        tls.push_str(&format!(
            "  - hosts: [\"{host}\"]\n    secretName: {secret}\n"
        ));
        rules.push_str(&format!(
            "  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {svc}\n            port:\n              number: 80\n"
        ));
    }
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations:\n{annotations}spec:\n  tls:\n{tls}  rules:\n{rules}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_host_gets_its_own_certificate() {
    let (a, b) = (backend("a").await, backend("b").await);
    let pki = Pki::new();
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
        ("secret-a.json", &pki.secret("cert-a", &["a.tls.test"])),
        ("secret-b.json", &pki.secret("cert-b", &["b.tls.test"])),
        (
            "ingress.yaml",
            &tls_ingress(
                "tls",
                "    {}\n",
                &[
                    ("a.tls.test", "cert-a", "svc-a"),
                    ("b.tls.test", "cert-b", "svc-b"),
                ],
            ),
        ),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "a.tls.test served over TLS",
            || cluster.https("a.tls.test", "/", ca),
            |r| r.from("a"),
        )
        .await;
    assert_eq!(reply.server_names, vec!["a.tls.test".to_string()]);
    let reply = cluster.https("b.tls.test", "/", ca).await;
    assert!(reply.from("b"), "{reply:?}");
    assert_eq!(reply.server_names, vec!["b.tls.test".to_string()]);
    // Plain HTTP is still served for TLS hosts unless asked otherwise.
    assert!(cluster.http("a.tls.test", "/").await.from("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_ssl_redirect_and_allow_http() {
    let (a, b) = (backend("a").await, backend("b").await);
    let pki = Pki::new();
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
        (
            "secret.json",
            &pki.secret("cert", &["redirect.test", "nohttp.test"]),
        ),
        (
            "redirect.yaml",
            &tls_ingress(
                "redirect",
                "    ingress.kubernetes.io/force-ssl-redirect: \"true\"\n",
                &[("redirect.test", "cert", "svc-a")],
            ),
        ),
        (
            "nohttp.yaml",
            &tls_ingress(
                "nohttp",
                "    kubernetes.io/ingress.allow-http: \"false\"\n",
                &[("nohttp.test", "cert", "svc-b")],
            ),
        ),
    ])
    .await;
    let reply = cluster
        .eventually_http(
            "redirect.test",
            "/some/path?q=1&r=2",
            "plain HTTP is redirected",
            |r| r.status == 301,
        )
        .await;
    assert_eq!(
        reply.location.as_deref(),
        Some("https://redirect.test/some/path?q=1&r=2")
    );
    let ca = pki.ca_pem.as_bytes();
    assert!(cluster.https("redirect.test", "/", ca).await.from("a"));
    // allow-http false: no plain-HTTP route at all, HTTPS still served.
    assert!(cluster.https("nohttp.test", "/", ca).await.from("b"));
    assert_eq!(cluster.http("nohttp.test", "/").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_secret_leaves_other_hosts_serving() {
    let (a, b) = (backend("a").await, backend("b").await);
    let pki = Pki::new();
    let (cert, _) = pki.leaf(&["bad.tls.test"]);
    let (_, other_key) = pki.leaf(&["bad.tls.test"]);
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a), ("svc-b", &b)])),
        ("good.json", &pki.secret("good", &["good.tls.test"])),
        (
            "bad.json",
            &crate::harness::tls_secret("bad", cert.as_bytes(), other_key.as_bytes()),
        ),
        (
            "ingress.yaml",
            &tls_ingress(
                "mixed",
                "    {}\n",
                &[
                    ("good.tls.test", "good", "svc-a"),
                    ("bad.tls.test", "bad", "svc-b"),
                ],
            ),
        ),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    cluster
        .eventually_reply(
            "good.tls.test served over TLS",
            || cluster.https("good.tls.test", "/", ca),
            |r| r.from("a"),
        )
        .await;
    // The host whose key does not match its certificate gets no TLS, says why, and keeps plain HTTP.
    assert!(cluster.https("bad.tls.test", "/", ca).await.status == 0);
    assert!(cluster.http("bad.tls.test", "/").await.from("b"));
    let status = cluster.debug("/status").await.body;
    assert!(status.contains("SecretNotValid"), "{status}");
}

//! BackendTLSPolicy through a real Envoy: a policy makes Envoy speak TLS to a Service's
//! backend, sending the policy's hostname as SNI and checking the backend's certificate against
//! the ConfigMap's CA and the hostname (or the subjectAltNames, DNS or URI). A wrong hostname,
//! a wrong CA or a wrong subjectAltName fails the request, never falls back to plain text; a policy whose
//! ConfigMap is missing gets a 500 and its status says why, until the ConfigMap appears; of two
//! policies on one Service the older applies. A Gateway's `tls.backend.clientCertificateRef`
//! is the certificate Envoy presents to such backends. Envoy rejects nothing.

use serde_json::Value;

use crate::gateway::GATEWAY_CLASS;
use crate::gateway_http::{condition_strings, start};
use crate::harness::{
    Pki, Reply, ca_config_map, free_port, get_plain, services, tls_backend, tls_backend_verifying,
    tls_secret,
};

/// The Gateway `default/gw` with an HTTP listener on `port` and a route for `tls.test` sending
/// `/<service>` to each Service.
fn gateway(port: u16, services: &[&str]) -> String {
    gateway_with(port, services, "{}")
}

/// As [`gateway`], the Gateway's `spec.tls` being `tls` (YAML flow).
fn gateway_with(port: u16, services: &[&str], tls: &str) -> String {
    let rules: String = services
        .iter()
        .map(|s| {
            format!(
                "  - matches: [{{path: {{type: PathPrefix, value: /{s}}}}}]\n    backendRefs: [{{name: {s}, port: 80}}]\n"
            )
        })
        .collect();
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  tls: {tls}
  listeners: [{{name: web, port: {port}, protocol: HTTP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [tls.test]
  rules:
{rules}"#
    )
}

/// A BackendTLSPolicy `name` on Service `service`, created at second `created`, trusting
/// ConfigMap `ca` for `hostname`, with `extra` validation fields (YAML flow, may be empty).
fn policy(
    name: &str,
    service: &str,
    created: u8,
    (ca, hostname, extra): (&str, &str, &str),
) -> String {
    format!(
        r#"---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {{name: {name}, namespace: default, creationTimestamp: "2026-01-01T00:00:{created:02}Z"}}
spec:
  targetRefs: [{{group: "", kind: Service, name: {service}}}]
  validation: {{caCertificateRefs: [{{group: "", kind: ConfigMap, name: {ca}}}], hostname: {hostname}{extra}}}
"#
    )
}

/// The policy's conditions for the served Gateway, as `type=status/reason`.
fn policy_conditions(status: &Value) -> Vec<String> {
    let ancestor = &status["gateway_api"]["policy"]["ancestors"][0];
    assert_eq!(ancestor["ancestorRef"]["name"], "gw", "{status:#}");
    condition_strings(&ancestor["conditions"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_tls_policies_verify_the_backend_or_fail_the_request() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf_with_uri(&["backend.tls.test"], "spiffe://tls.test/backend");
    let backend = tls_backend("secure", &cert, &key).await;
    let envoy_port = free_port();
    let names = [
        "good",
        "wrong-host",
        "wrong-ca",
        "wrong-san",
        "uri-san",
        "wrong-uri-san",
        "missing-ca",
        "conflict",
    ];
    let svcs = services(&names.map(|n| (n, &backend)));
    let uri = |uri: &str| format!(", subjectAltNames: [{{type: URI, uri: \"{uri}\"}}]");
    let (right_uri, wrong_uri) = (
        uri("spiffe://tls.test/backend"),
        uri("spiffe://tls.test/other"),
    );
    let good = ("ca", "backend.tls.test", "");
    let policies = [
        policy("good", "good", 1, good),
        policy("wrong-host", "wrong-host", 1, ("ca", "other.tls.test", "")),
        policy(
            "wrong-ca",
            "wrong-ca",
            1,
            ("other-ca", "backend.tls.test", ""),
        ),
        policy(
            "wrong-san",
            "wrong-san",
            1,
            (
                "ca",
                "backend.tls.test",
                ", subjectAltNames: [{type: Hostname, hostname: nobody.tls.test}]",
            ),
        ),
        // The URI names the backend; the hostname is only the SNI then.
        policy("uri-san", "uri-san", 1, ("ca", "sni.tls.test", &right_uri)),
        policy(
            "wrong-uri-san",
            "wrong-uri-san",
            1,
            ("ca", "backend.tls.test", &wrong_uri),
        ),
        policy(
            "missing-ca",
            "missing-ca",
            1,
            ("later-ca", "backend.tls.test", ""),
        ),
        // Two policies on one Service: the older (here the second) applies.
        policy(
            "conflict-newer",
            "conflict",
            5,
            ("other-ca", "backend.tls.test", ""),
        ),
        policy("conflict-older", "conflict", 2, good),
    ]
    .concat();
    let cas = format!(
        "{}\n---\n{}",
        ca_config_map("default", "ca", &pki.ca_pem),
        ca_config_map("default", "other-ca", &Pki::new().ca_pem)
    );
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("cas.yaml", &cas),
        ("gateway.yaml", &gateway(envoy_port - 8000, &names)),
        ("policies.yaml", &policies),
    ])
    .await;
    let get = |path: &'static str| async move {
        get_plain(envoy_port, "tls.test", path)
            .await
            .unwrap_or_else(Reply::failed)
    };

    // TLS to the backend, with the policy's hostname as SNI.
    let reply = cluster
        .eventually_reply(
            "the backend answers over TLS",
            || get("/good"),
            |r| r.from("secure"),
        )
        .await;
    assert_eq!(reply.header("x-sni"), ["backend.tls.test"]);
    assert_eq!(backend.requests().last().map(String::as_str), Some("/good"));
    let status = cluster
        .eventually_status(("BackendTLSPolicy", "default", "good"), "accepted", |s| {
            !s["gateway_api"]["policy"].is_null()
        })
        .await;
    assert_eq!(
        policy_conditions(&status),
        ["Accepted=true/Accepted", "ResolvedRefs=true/ResolvedRefs"]
    );

    // A URI subjectAltName the certificate carries: served, with the hostname as SNI only.
    let reply = get("/uri-san").await;
    assert!(reply.from("secure"), "{}", reply.body);
    assert_eq!(reply.header("x-sni"), ["sni.tls.test"]);

    // A certificate that does not match fails the request: the name, the CA or a SAN.
    for path in ["/wrong-host", "/wrong-ca", "/wrong-san", "/wrong-uri-san"] {
        let reply = get(path).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.body);
        assert!(!reply.from("secure"), "{path}");
    }

    // The older of two policies applies; the newer one is Conflicted.
    let reply = get("/conflict").await;
    assert!(reply.from("secure"), "{}", reply.body);
    let status = cluster
        .eventually_status(
            ("BackendTLSPolicy", "default", "conflict-newer"),
            "conflicted",
            |s| !s["gateway_api"]["policy"].is_null(),
        )
        .await;
    assert_eq!(policy_conditions(&status), ["Accepted=false/Conflicted"]);

    // A policy without its CA bundle: a 500, never plain text, and a status saying why.
    let reply = get("/missing-ca").await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    let status = cluster
        .eventually_status(
            ("BackendTLSPolicy", "default", "missing-ca"),
            "refused",
            |s| !s["gateway_api"]["policy"].is_null(),
        )
        .await;
    assert_eq!(
        policy_conditions(&status),
        [
            "Accepted=false/NoValidCACertificate",
            "ResolvedRefs=false/InvalidCACertificateRef"
        ]
    );
    // The ConfigMap appears: the backend is served.
    cluster.write(
        "later-ca.yaml",
        &ca_config_map("default", "later-ca", &pki.ca_pem),
    );
    cluster
        .eventually_reply(
            "the backend answers once its CA exists",
            || get("/missing-ca"),
            |r| r.from("secure"),
        )
        .await;
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_presents_its_client_certificate_to_tls_backends() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["backend.tls.test"]);
    let clients = Pki::new();
    let backend = tls_backend_verifying("mtls", &cert, &key, Some(&clients.ca_pem)).await;
    let envoy_port = free_port();
    let svcs = services(&[("mtls", &backend)]);
    let cas = ca_config_map("default", "ca", &pki.ca_pem);
    let policy = policy("mtls", "mtls", 1, ("ca", "backend.tls.test", ""));
    let gateway = |secret: &str| {
        let tls = format!("{{backend: {{clientCertificateRef: {{name: {secret}}}}}}}");
        gateway_with(envoy_port - 8000, &["mtls"], &tls)
    };
    // The Gateway names a Secret that does not exist yet: the backend refuses Envoy.
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svcs),
        ("cas.yaml", &cas),
        ("policies.yaml", &policy),
        ("gateway.yaml", &gateway("gateway-client")),
    ])
    .await;
    let get = || async move {
        get_plain(envoy_port, "tls.test", "/mtls")
            .await
            .unwrap_or_else(Reply::failed)
    };
    let status = cluster
        .eventually_status(("Gateway", "default", "gw"), "unresolved", |s| {
            condition_strings(&s["gateway_api"]["gateway"]["conditions"])
                .contains(&"ResolvedRefs=false/InvalidClientCertificateRef".to_string())
        })
        .await;
    assert!(
        condition_strings(&status["gateway_api"]["gateway"]["conditions"])
            .contains(&"Accepted=true/Accepted".to_string()),
        "{status:#}"
    );
    cluster
        .eventually_reply(
            "without a client certificate the backend refuses Envoy",
            get,
            |r| r.status == 503,
        )
        .await;

    // The Secret appears: Envoy presents it and the backend sees its names.
    let (client_cert, client_key) = clients.leaf(&["gateway.tls.test"]);
    cluster.write(
        "client.yaml",
        &tls_secret(
            "gateway-client",
            client_cert.as_bytes(),
            client_key.as_bytes(),
        ),
    );
    let reply = cluster
        .eventually_reply("Envoy presents the Gateway's certificate", get, |r| {
            r.from("mtls")
        })
        .await;
    assert!(
        reply.body.contains("client: gateway.tls.test"),
        "{}",
        reply.body
    );
    cluster
        .eventually_status(("Gateway", "default", "gw"), "resolved", |s| {
            condition_strings(&s["gateway_api"]["gateway"]["conditions"])
                .contains(&"ResolvedRefs=true/ResolvedRefs".to_string())
        })
        .await;
    cluster.assert_no_update_rejected().await;
}

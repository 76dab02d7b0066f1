//! Gateway API client certificate validation (`spec.tls.frontend`) through a real Envoy: the
//! default CA on one HTTPS port and a perPort override on another, each accepting only its
//! CA's clients; `AllowInsecureFallback` serving every client and reported on the Gateway; an
//! invalid default refusing the HTTPS listener while the HTTP one still answers, until the
//! ConfigMap it names appears. Envoy rejects nothing.

use serde_json::Value;

use crate::gateway::GATEWAY_CLASS;
use crate::gateway_http::{condition_strings, start};
use crate::harness::{
    Cluster, Pki, Reply, backend, ca_config_map, free_port, get_plain, get_tls_as, services,
    tls_secret_in,
};

/// The Gateway `default/gw` with `frontend` (its `spec.tls.frontend`, YAML flow) and
/// `listeners` (YAML flow items), routes for `example.test` (any listener) to `svc-v1` and for
/// the listener `second` to `svc-v2`.
fn gateway(frontend: &str, listeners: &[String]) -> String {
    let listeners: String = listeners.iter().map(|l| format!("  - {l}\n")).collect();
    format!(
        r#"{GATEWAY_CLASS}
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  tls: {{frontend: {frontend}}}
  listeners:
{listeners}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: first, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [example.test]
  rules: [{{backendRefs: [{{name: svc-v1, port: 80}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: second, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: second}}]
  rules: [{{backendRefs: [{{name: svc-v2, port: 80}}]}}]
"#
    )
}

/// An HTTPS listener on Gateway port `port` with the certificate `server`.
fn https(name: &str, port: u16, hostname: Option<&str>) -> String {
    let hostname = hostname
        .map(|h| format!(", hostname: {h}"))
        .unwrap_or_default();
    format!(
        "{{name: {name}, port: {port}, protocol: HTTPS{hostname}, tls: {{certificateRefs: [{{name: server}}]}}}}"
    )
}

/// A validation by the ConfigMap `config_map`, in `mode` (the default when empty).
fn validation(config_map: &str, mode: &str) -> String {
    let mode = if mode.is_empty() {
        String::new()
    } else {
        format!(", mode: {mode}")
    };
    format!(
        "{{validation: {{caCertificateRefs: [{{kind: ConfigMap, group: \"\", name: {config_map}}}]{mode}}}}}"
    )
}

/// `spec.tls.frontend`: `ca-one` by default, `ca-two` on `per_port`, both in `mode`.
fn frontend(per_port: u16, mode: &str) -> String {
    format!(
        "{{default: {}, perPort: [{{port: {per_port}, tls: {}}}]}}",
        validation("ca-one", mode),
        validation("ca-two", mode)
    )
}

/// A client presenting no certificate, or one (cert PEM, key PEM).
type Client<'a> = Option<(&'a str, &'a str)>;

/// GET `/` for `host` over TLS on Envoy port `port` as `client`, trusting the server's `ca`.
async fn get_as(port: u16, host: &str, ca: &str, client: Client<'_>) -> Reply {
    get_tls_as(port, host, "/", ca.as_bytes(), client)
        .await
        .unwrap_or_else(Reply::failed)
}

/// The conditions of the Gateway listener `name` on the debug `/status` page.
async fn listener_conditions(cluster: &Cluster, name: &str) -> Vec<String> {
    let gw = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    let listener = (gw["gateway_api"]["gateway"]["listeners"].as_array())
        .and_then(|l| l.iter().find(|l| l["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no listener {name}: {gw}"));
    let mut conditions = condition_strings(&listener["conditions"]);
    conditions.retain(|c| !c.starts_with("Conflicted="));
    conditions.sort();
    conditions
}

/// Whether the Gateway's own conditions include `InsecureFrontendValidationMode`, as
/// `status/reason`.
fn insecure_mode(gw: &Value) -> Option<String> {
    (condition_strings(&gw["gateway_api"]["gateway"]["conditions"]).into_iter()).find_map(|c| {
        c.strip_prefix("InsecureFrontendValidationMode=")
            .map(str::to_string)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_checked_by_the_default_and_per_port_cas() {
    let (v1, v2) = (backend("v1").await, backend("v2").await);
    let (server, one, two) = (Pki::new(), Pki::new(), Pki::new());
    let (server_cert, server_key) = server.leaf(&["example.test", "second.test"]);
    let (first_port, second_port) = (free_port(), free_port());
    let listeners = [
        https("first", first_port - 8000, None),
        https("second", second_port - 8000, Some("second.test")),
    ];
    let manifests = [
        services(&[("svc-v1", &v1), ("svc-v2", &v2)]),
        tls_secret_in(
            "default",
            "server",
            server_cert.as_bytes(),
            server_key.as_bytes(),
        ),
        ca_config_map("default", "ca-one", &one.ca_pem),
        ca_config_map("default", "ca-two", &two.ca_pem),
    ];
    let (cluster, _dir) = start(&[
        ("svc.yaml", &manifests[0]),
        ("secret.json", &manifests[1]),
        ("ca-one.json", &manifests[2]),
        ("ca-two.json", &manifests[3]),
        (
            "gateway.yaml",
            &gateway(&frontend(second_port - 8000, ""), &listeners),
        ),
    ])
    .await;
    let ca = server.ca_pem.as_str();
    let (one_cert, one_key) = one.leaf(&["client.test"]);
    let (two_cert, two_key) = two.leaf(&["client.test"]);
    let by_one: Client = Some((&one_cert, &one_key));
    let by_two: Client = Some((&two_cert, &two_key));

    // The default: CA one's clients only.
    let reply = cluster
        .eventually_reply(
            "a client of CA one served by the default port",
            || get_as(first_port, "example.test", ca, by_one),
            |r| r.from("v1"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = get_as(first_port, "example.test", ca, by_two).await;
    assert_eq!(reply.status, 0, "a client of CA two: {reply:?}");
    let reply = get_as(first_port, "example.test", ca, None).await;
    assert_eq!(reply.status, 0, "no client certificate: {reply:?}");
    // The perPort override: CA two's clients only.
    let reply = cluster
        .eventually_reply(
            "a client of CA two served by the per-port port",
            || get_as(second_port, "second.test", ca, by_two),
            |r| r.from("v2"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = get_as(second_port, "second.test", ca, by_one).await;
    assert_eq!(reply.status, 0, "a client of CA one: {reply:?}");
    let reply = get_as(second_port, "second.test", ca, None).await;
    assert_eq!(reply.status, 0, "no client certificate: {reply:?}");
    let gw = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    assert_eq!(insecure_mode(&gw), None, "{gw}");

    // AllowInsecureFallback: every client served, on both ports, and the Gateway says so.
    cluster.write(
        "gateway.yaml",
        &gateway(
            &frontend(second_port - 8000, "AllowInsecureFallback"),
            &listeners,
        ),
    );
    cluster
        .eventually_reply(
            "no client certificate served on the default port",
            || get_as(first_port, "example.test", ca, None),
            |r| r.from("v1"),
        )
        .await;
    cluster
        .eventually_reply(
            "no client certificate served on the per-port port",
            || get_as(second_port, "second.test", ca, None),
            |r| r.from("v2"),
        )
        .await;
    for (port, host, backend) in [
        (first_port, "example.test", "v1"),
        (second_port, "second.test", "v2"),
    ] {
        for (who, client) in [("CA one", by_one), ("CA two", by_two)] {
            let reply = get_as(port, host, ca, client).await;
            assert!(reply.from(backend), "{host}, a client of {who}: {reply:?}");
        }
    }
    let gw = cluster
        .eventually_status(
            ("Gateway", "default", "gw"),
            "the Gateway reports the insecure fallback",
            |gw| insecure_mode(gw).is_some(),
        )
        .await;
    assert_eq!(
        insecure_mode(&gw).as_deref(),
        Some("true/ConfigurationChanged")
    );
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_default_refuses_the_https_listener_and_keeps_the_http_one() {
    let v1 = backend("v1").await;
    let (server, client_ca) = (Pki::new(), Pki::new());
    let (server_cert, server_key) = server.leaf(&["example.test"]);
    let (https_port, http_port) = (free_port(), free_port());
    let frontend = format!(
        "{{default: {}, perPort: [{{port: {}, tls: {}}}]}}",
        validation("does-not-exist", ""),
        http_port - 8000,
        validation("ca-one", "")
    );
    let listeners = [
        https("https", https_port - 8000, None),
        format!("{{name: http, port: {}, protocol: HTTP}}", http_port - 8000),
    ];
    let svc = services(&[("svc-v1", &v1)]);
    let secret = tls_secret_in(
        "default",
        "server",
        server_cert.as_bytes(),
        server_key.as_bytes(),
    );
    let (cluster, _dir) = start(&[
        ("svc.yaml", &svc),
        ("secret.json", &secret),
        (
            "ca-one.json",
            &ca_config_map("default", "ca-one", &client_ca.ca_pem),
        ),
        ("gateway.yaml", &gateway(&frontend, &listeners)),
    ])
    .await;
    let ca = server.ca_pem.as_str();
    let (cert, key) = client_ca.leaf(&["client.test"]);

    // The HTTP listener answers (a perPort entry on its port changes nothing there).
    cluster
        .eventually_reply(
            "the HTTP listener serves its route",
            || async {
                get_plain(http_port, "example.test", "/")
                    .await
                    .unwrap_or_else(Reply::failed)
            },
            |r| r.from("v1"),
        )
        .await;
    assert_eq!(
        listener_conditions(&cluster, "http").await,
        [
            "Accepted=true/Accepted",
            "Programmed=true/Programmed",
            "ResolvedRefs=true/ResolvedRefs"
        ]
    );
    // The HTTPS listener is refused, never served without client authentication.
    assert_eq!(
        listener_conditions(&cluster, "https").await,
        [
            "Accepted=false/NoValidCACertificate",
            "Programmed=false/Invalid",
            "ResolvedRefs=false/InvalidCACertificateRef"
        ]
    );
    for client in [None, Some((cert.as_str(), key.as_str()))] {
        let reply = get_as(https_port, "example.test", ca, client).await;
        assert_eq!(reply.status, 0, "{reply:?}");
    }

    // The ConfigMap it names appears: the listener is served to that CA's clients.
    cluster.write(
        "missing.json",
        &ca_config_map("default", "does-not-exist", &client_ca.ca_pem),
    );
    cluster
        .eventually_reply(
            "a client of the new CA served",
            || get_as(https_port, "example.test", ca, Some((&cert, &key))),
            |r| r.from("v1"),
        )
        .await;
    let reply = get_as(https_port, "example.test", ca, None).await;
    assert_eq!(reply.status, 0, "no client certificate: {reply:?}");
    assert_eq!(
        listener_conditions(&cluster, "https").await,
        [
            "Accepted=true/Accepted",
            "Programmed=true/Programmed",
            "ResolvedRefs=true/ResolvedRefs"
        ]
    );
    cluster.assert_no_update_rejected().await;
}

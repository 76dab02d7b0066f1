//! The listener side of the configuration file through a real Envoy: JSON access logs in the
//! files the flags name, which `X-Forwarded-For` address counts as the client, the read-only
//! admin listener, and the timeouts as Envoy reports them.

use std::path::Path;

use serde_json::Value;

use crate::harness::{
    Cluster, PATIENCE, Pki, Reply, backend, eventually, free_port, request_plain, services,
};

/// An Ingress routing `plain.cfg.test` and, over TLS with Secret `cfg-tls`, `tls.cfg.test`
/// to Service `svc`.
fn ingress() -> String {
    let rule = |host: &str| {
        format!(
            "  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: svc\n            port:\n              number: 80\n"
        )
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: cfg\n  namespace: default\nspec:\n  tls:\n  - hosts: [tls.cfg.test]\n    secretName: cfg-tls\n  rules:\n{}{}",
        rule("plain.cfg.test"),
        rule("tls.cfg.test")
    )
}

/// Starts Sesame with the configuration file `config` and the access logs in `logs`, and
/// Envoy, serving [`ingress`]; waits until `plain.cfg.test` answers.
async fn start(config: &str, logs: &Path, pki: &Pki, echo: &crate::harness::Backend) -> Cluster {
    let config_path = logs.join("sesame.yaml");
    std::fs::write(&config_path, config).expect("write config");
    let path = |name: &str| logs.join(name).display().to_string();
    let (config_path, http_log, https_log) =
        (path("sesame.yaml"), path("http.log"), path("https.log"));
    let cluster = Cluster::start_with(
        &[
            ("svc.yaml", &services(&[("svc", echo)])),
            ("secret.json", &pki.secret("cfg-tls", &["tls.cfg.test"])),
            ("ingress.yaml", &ingress()),
        ],
        &[
            "-c",
            &config_path,
            "--envoy-http-access-log",
            &http_log,
            "--envoy-https-access-log",
            &https_log,
        ],
    )
    .await;
    cluster
        .eventually_http("plain.cfg.test", "/", "the Ingress is served", |r| {
            r.from("echo")
        })
        .await;
    cluster
}

/// Polls the access log file `path` until it has a line whose `path` field is `request_path`;
/// returns that line, parsed.
async fn logged(cluster: &Cluster, path: &Path, request_path: &str) -> Value {
    let find = || {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|entry| entry["path"] == request_path)
    };
    let found = eventually(PATIENCE, || async { find().is_some() }).await;
    let log = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        found,
        "no JSON line for {request_path} in {}:\n{log}\n{}",
        path.display(),
        cluster.logs()
    );
    find().unwrap_or_default()
}

/// The address Envoy tells the backend is the client's (`x-envoy-external-address`), for a
/// request to `path` that claims `X-Forwarded-For: forwarded_for`.
async fn external_address(cluster: &Cluster, path: &str, forwarded_for: &str) -> Vec<String> {
    let headers = [("x-forwarded-for", forwarded_for)];
    let reply = cluster.http_with("plain.cfg.test", path, &headers).await;
    assert!(reply.from("echo"), "{reply:?}");
    reply
        .echoed_header("x-envoy-external-address")
        .into_iter()
        .map(String::from)
        .collect()
}

fn keys(entry: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = entry
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_shapes_access_logs_client_address_and_admin_listener() {
    let echo = backend("echo").await;
    let pki = Pki::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let admin_port = free_port();
    let config = format!(
        "accesslog-format: json
json-fields:
  - \"@timestamp\"
  - method
  - path
  - response_code
  - requested_server_name
  - upstream=%UPSTREAM_CLUSTER%
network:
  num-trusted-hops: 1
  admin-port: {admin_port}
timeouts:
  request-timeout: 45s
  connection-idle-timeout: 2m
  stream-idle-timeout: infinity
"
    );
    let cluster = start(&config, logs.path(), &pki, &echo).await;

    // One trusted hop: the last X-Forwarded-For address, not the connection's peer, is the
    // client, which Envoy reports upstream as the external address.
    let client = external_address(&cluster, "/logged?q=1", "198.51.100.9, 203.0.113.7").await;
    assert_eq!(client, vec!["203.0.113.7"]);

    // The HTTP listener's log file gets one JSON object a line with exactly the fields asked.
    let entry = logged(&cluster, &logs.path().join("http.log"), "/logged?q=1").await;
    assert_eq!(
        keys(&entry),
        vec![
            "@timestamp",
            "method",
            "path",
            "requested_server_name",
            "response_code",
            "upstream"
        ],
        "{entry}"
    );
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["response_code"], 200);
    // Envoy logs a cluster by its stat name.
    assert_eq!(entry["upstream"], "default_svc_80");

    // The HTTPS listener logs to its own file.
    let ca = pki.ca_pem.as_bytes();
    let reply = cluster
        .eventually_reply(
            "tls.cfg.test served over TLS",
            || cluster.https("tls.cfg.test", "/secure-logged", ca),
            |r| r.from("echo"),
        )
        .await;
    assert!(reply.from("echo"));
    let entry = logged(&cluster, &logs.path().join("https.log"), "/secure-logged").await;
    assert_eq!(entry["requested_server_name"], "tls.cfg.test");
    let http_log = std::fs::read_to_string(logs.path().join("http.log")).unwrap_or_default();
    assert!(!http_log.contains("/secure-logged"), "{http_log}");

    // The read-only admin listener: GET on a read-only admin page is answered...
    let admin = |method: &'static str, path: &'static str| async move {
        request_plain(admin_port, method, "127.0.0.1", path, &[])
            .await
            .unwrap_or_else(Reply::failed)
    };
    let ready = admin("GET", "/ready").await;
    assert_eq!(
        (ready.status, ready.body.trim()),
        (200, "LIVE"),
        "{ready:?}"
    );
    let dump = admin("GET", "/config_dump?resource=dynamic_listeners").await;
    assert_eq!(dump.status, 200, "{dump:?}");
    // ... and shows the configured timeouts and trusted hops on the ingress listeners.
    for setting in [
        "\"request_timeout\": \"45s\"",
        "\"idle_timeout\": \"120s\"",
        "\"stream_idle_timeout\": \"0s\"",
        "\"xff_num_trusted_hops\": 1",
    ] {
        assert!(
            dump.body.contains(setting),
            "{setting} not in {}",
            dump.body
        );
    }
    // ... but nothing that changes Envoy: other methods and other pages get Envoy's 404 for
    // an unrouted request, never reaching the admin interface.
    for (method, path) in [
        ("POST", "/quitquitquit"),
        ("GET", "/quitquitquit"),
        ("POST", "/healthcheck/fail"),
        ("POST", "/logging?level=trace"),
        ("POST", "/ready"),
    ] {
        let reply = admin(method, path).await;
        assert_eq!(reply.status, 404, "{method} {path}: {reply:?}");
        assert!(
            reply.header("x-envoy-upstream-service-time").is_empty(),
            "{method} {path} reached the admin interface: {reply:?}"
        );
    }
    // Envoy is still serving, and still healthy.
    assert!(cluster.http("plain.cfg.test", "/").await.from("echo"));
    let ready = admin("GET", "/ready").await;
    assert_eq!(ready.status, 200, "{ready:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_config_file_the_peer_is_the_client_and_logs_are_envoy_text() {
    let echo = backend("echo").await;
    let pki = Pki::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let cluster = start("", logs.path(), &pki, &echo).await;

    // No trusted hop: a client cannot choose its address with X-Forwarded-For.
    let client = external_address(&cluster, "/text-logged", "203.0.113.7").await;
    assert_eq!(client, vec!["127.0.0.1"], "the connection's peer");

    // Envoy's default text format, in the file the flag names.
    let path = logs.path().join("http.log");
    let found = eventually(PATIENCE, || async {
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .contains("\"GET /text-logged HTTP/1.1\" 200")
    })
    .await;
    let log = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(found, "{log}\n{}", cluster.logs());
    assert!(!log.trim_start().starts_with('{'), "{log}");
}

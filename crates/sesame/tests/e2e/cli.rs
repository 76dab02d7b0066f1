//! `sesame cli` against a running `sesame serve`: every xDS type printed as the protobuf JSON
//! mapping (and YAML), names selecting resources, `--watch` following a change, delta xDS, and
//! mutual TLS with the certificates `sesame certgen` makes.

use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Cluster, PATIENCE, Pki, backend, borrowed, eventually, services};
use crate::httpproxy::proxy;

/// Runs `sesame cli ARGS` against the cluster's xDS port; its stdout as text, or its stderr.
fn cli_text(cluster: &Cluster, args: &[&str]) -> Result<String, String> {
    let address = format!("127.0.0.1:{}", cluster.ports.xds);
    let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("cli")
        .args(args)
        .args(["--sesame", &address])
        .output()
        .expect("run sesame cli");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `sesame cli ARGS` and parses the one JSON response it prints.
fn cli(cluster: &Cluster, args: &[&str]) -> Value {
    let text = cli_text(cluster, args).unwrap_or_else(|e| panic!("sesame cli {args:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The names of a response's resources.
fn names(response: &Value) -> Vec<String> {
    let mut names: Vec<String> = response["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Every `@type` anywhere in a value.
fn types(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("@type") {
                found.push(t.clone());
            }
            map.values().for_each(|v| types(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| types(v, found)),
        _ => {}
    }
}

fn ingress(name: &str, host: &str, service: &str, tls: Option<&str>) -> String {
    let tls = tls.map_or(String::new(), |secret| {
        format!("  tls:\n  - hosts: [\"{host}\"]\n    secretName: {secret}\n")
    });
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{tls}  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {service}\n            port:\n              number: 80\n"
    )
}

/// A Sesame with plain and TLS Ingresses and an HTTPProxy whose policies put typed filter
/// configurations into the listeners and routes.
async fn serving(extra: &[&str]) -> (Cluster, Vec<(String, String)>) {
    let (a, b) = (backend("a").await, backend("b").await);
    let pki = Pki::new();
    let policies = "{virtualhost: {fqdn: policy.test, \
        corsPolicy: {allowOrigin: ['*'], allowMethods: [GET]}, \
        rateLimitPolicy: {local: {requests: 5, unit: second}}}, \
        routes: [{ipAllowPolicy: [{cidr: 127.0.0.1/32, source: Peer}], \
                  services: [{name: svc-b, port: 80}]}]}";
    let files = vec![
        (
            "services.yaml".to_string(),
            services(&[("svc-a", &a), ("svc-b", &b)]),
        ),
        (
            "cert.yaml".to_string(),
            pki.secret("cert", &["secure.test"]),
        ),
        (
            "plain.yaml".to_string(),
            ingress("plain", "plain.test", "svc-a", None),
        ),
        (
            "secure.yaml".to_string(),
            ingress("secure", "secure.test", "svc-b", Some("cert")),
        ),
        (
            "policy.yaml".to_string(),
            proxy("default", "policy", policies),
        ),
    ];
    let cluster = Cluster::sesame_only(&borrowed(&files), extra);
    (cluster, files)
}

/// Waits until `sesame cli cds` answers with the clusters of both Services.
async fn wait_for_clusters(cluster: &Cluster, tls: &[&str]) {
    let mut args = vec!["cds"];
    args.extend(tls);
    let up = eventually(PATIENCE, || async {
        cli_text(cluster, &args).is_ok_and(|text| text.contains("svc-a") && text.contains("svc-b"))
    })
    .await;
    assert!(
        up,
        "sesame cli cds never listed both clusters\n{}",
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_xds_type_prints_as_json_and_yaml_and_names_select_resources() {
    let (cluster, _files) = serving(&[]).await;
    wait_for_clusters(&cluster, &[]).await;

    let clusters = cli(&cluster, &["cds"]);
    assert_eq!(
        clusters["typeUrl"],
        "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    );
    assert!(
        clusters["versionInfo"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    let cluster_names = names(&clusters);
    assert_eq!(cluster_names.len(), 2, "{cluster_names:?}");
    assert!(cluster_names.iter().all(|n| n.starts_with("default/svc-")));

    // Endpoints by the name the cluster asks EDS for: the backend's address.
    let eds_name = clusters["resources"][0]["edsClusterConfig"]["serviceName"]
        .as_str()
        .expect("an EDS cluster")
        .to_string();
    let eds = cli(&cluster, &["eds", &eds_name]);
    let endpoints = &eds["resources"];
    assert_eq!(endpoints.as_array().map(Vec::len), Some(1), "{eds:#}");
    assert_eq!(endpoints[0]["clusterName"], eds_name.as_str());
    let address =
        &endpoints[0]["endpoints"][0]["lbEndpoints"][0]["endpoint"]["address"]["socketAddress"];
    assert_eq!(address["address"], "127.0.0.1", "{eds:#}");

    // Listeners carry their filters as typed configurations, each printed with its @type.
    let listeners = cli(&cluster, &["lds"]);
    let listener_names = names(&listeners);
    assert!(
        listener_names.contains(&"ingress_http".to_string()),
        "{listener_names:?}"
    );
    assert!(
        listener_names.contains(&"ingress_https".to_string()),
        "{listener_names:?}"
    );
    let mut found = Vec::new();
    types(&listeners, &mut found);
    assert!(
        found.iter().any(|t| t.ends_with("HttpConnectionManager")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|t| t.ends_with("DownstreamTlsContext")),
        "{found:?}"
    );

    // Routes: the plain table holds both plain hosts, with the HTTPProxy's per-route filters.
    let routes = cli(&cluster, &["rds", "ingress_http"]);
    assert_eq!(names(&routes), ["ingress_http"]);
    let domains: Vec<&str> = routes["resources"][0]["virtualHosts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|vh| vh["domains"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(domains.contains(&"plain.test"), "{domains:?}");
    assert!(domains.contains(&"policy.test"), "{domains:?}");
    let mut found = Vec::new();
    types(&routes, &mut found);
    assert!(found.iter().any(|t| t.contains("rbac")), "{found:?}");

    // Secrets: the Ingress's certificate, named after its Secret; the key is printed as
    // the bytes Envoy gets, so only the names are compared here.
    let secrets = cli(&cluster, &["sds"]);
    let secret_names = names(&secrets);
    assert_eq!(secret_names.len(), 1, "{secret_names:?}");
    assert!(
        secret_names[0].starts_with("default/cert"),
        "{secret_names:?}"
    );

    // YAML says the same as JSON.
    let yaml = cli_text(&cluster, &["cds", "-o", "yaml"]).expect("yaml");
    let from_yaml: Value = serde_saphyr::from_str(&yaml).expect("parse yaml");
    assert_eq!(names(&from_yaml), cluster_names);

    // Delta xDS: the same clusters, each as a named resource.
    let delta = cli(&cluster, &["cds", "--delta"]);
    let delta_names = names(&delta);
    assert_eq!(delta_names, cluster_names);
    assert_eq!(
        delta["resources"][0]["resource"]["@type"],
        "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    );

    // Delta Envoys route plain HTTP by scope: one per host, its routes inline.
    let scopes = cli(&cluster, &["srds", "--delta"]);
    let scope_names = names(&scopes);
    assert!(
        scope_names.contains(&"ingress_http/plain.test".to_string())
            && scope_names.contains(&"ingress_http/policy.test".to_string()),
        "{scope_names:?}"
    );
    let scopes = cli(&cluster, &["srds", "--delta", "ingress_http/plain.test"]);
    assert_eq!(names(&scopes), ["ingress_http/plain.test"]);
    let scope = &scopes["resources"][0]["resource"];
    assert_eq!(scope["key"]["fragments"][0]["stringKey"], "plain.test");
    let vhost = &scope["routeConfiguration"]["virtualHosts"][0];
    assert_eq!(vhost["domains"][0], "plain.test", "{scopes:#}");

    // A name Sesame does not have: an empty answer, not an error.
    let none = cli(&cluster, &["eds", "default/nothing/80/x"]);
    assert!(names(&none).is_empty(), "{none:#}");
    // A server that is not there: a clear error.
    let refused = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["cli", "cds", "--sesame", "127.0.0.1:1"])
        .output()
        .expect("run sesame cli");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("connecting to Sesame at 127.0.0.1:1")
    );
}

/// The next document `--watch` printed, if one comes within 20 s.
async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_each_change_as_it_comes() {
    let (cluster, _files) = serving(&[]).await;
    wait_for_clusters(&cluster, &[]).await;
    let address = format!("127.0.0.1:{}", cluster.ports.xds);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["cli", "cds", "--watch", "--sesame", &address])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sesame cli --watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let docs = serde_json::Deserializer::from_reader(BufReader::new(stdout)).into_iter();
        for doc in docs {
            let Ok(doc) = doc else { break };
            if tx.send(doc).is_err() {
                break;
            }
        }
    });
    let first = next(&mut rx).await.expect("first response");
    assert_eq!(names(&first).len(), 2);

    // A new Service and its Ingress: a later response carries the third cluster.
    let c = backend("c").await;
    cluster.write("svc-c.yaml", &services(&[("svc-c", &c)]));
    cluster.write("third.yaml", &ingress("third", "third.test", "svc-c", None));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut latest = first;
    while names(&latest).len() != 3 && tokio::time::Instant::now() < deadline {
        match next(&mut rx).await {
            Some(doc) => latest = doc,
            None => break,
        }
    }
    let grew = names(&latest).len() == 3;
    let _ = child.kill();
    let _ = child.wait();
    assert!(grew, "never saw the third cluster: {latest:#}");
    assert!(
        names(&latest)
            .iter()
            .any(|n| n.starts_with("default/svc-c/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_mutual_tls_with_certgen_certificates() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("certgen")
        .arg(dir.path())
        .arg("--pem")
        .output()
        .expect("certgen");
    assert!(out.status.success(), "{out:?}");
    let file = |name: &str| dir.path().join(name).display().to_string();
    let (ca, sesame_cert, sesame_key) = (
        file("cacert.pem"),
        file("sesamecert.pem"),
        file("sesamekey.pem"),
    );
    let (envoy_cert, envoy_key) = (file("envoycert.pem"), file("envoykey.pem"));
    let (cluster, _files) = serving(&[
        "--sesame-cafile",
        &ca,
        "--sesame-cert-file",
        &sesame_cert,
        "--sesame-key-file",
        &sesame_key,
    ])
    .await;
    let tls = [
        "--cafile",
        ca.as_str(),
        "--cert-file",
        envoy_cert.as_str(),
        "--key-file",
        envoy_key.as_str(),
    ];
    wait_for_clusters(&cluster, &tls).await;
    let mut args = vec!["cds"];
    args.extend(tls);
    assert_eq!(names(&cli(&cluster, &args)).len(), 2);

    // Without a client certificate, or in plain text, Sesame refuses.
    let partial = cli_text(&cluster, &["cds", "--cafile", &ca]).expect_err("partial TLS flags");
    assert!(partial.contains("go together"), "{partial}");
    assert!(
        cli_text(&cluster, &["cds"]).is_err(),
        "plain text was served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_the_route_the_object_and_the_backend() {
    let (cluster, _files) = serving(&[]).await;
    wait_for_clusters(&cluster, &[]).await;
    let debug = format!("127.0.0.1:{}", cluster.ports.debug);
    let explain = |args: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
            .args(["cli", "explain", "--debug-address", &debug])
            .args(args)
            .output()
            .expect("run sesame cli explain");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    };

    let plain = explain(&["--host", "plain.test:8080", "--path", "/anything"]);
    assert_eq!(plain["listener"], "ingress_http");
    assert_eq!(plain["virtualHost"], "plain.test");
    let route = plain["routes"]
        .as_array()
        .and_then(|r| r.last())
        .expect("a route");
    assert_eq!(route["matched"], true);
    assert_eq!(route["origin"]["kind"], "Ingress");
    assert_eq!(route["origin"]["name"], "plain");
    assert_eq!(plain["outcome"]["kind"], "forward");
    assert_eq!(plain["outcome"]["backends"][0]["service"], "default/svc-a");

    let proxied = explain(&["--host", "policy.test", "-H", "x-any: 1"]);
    assert_eq!(
        proxied["outcome"]["backends"][0]["service"],
        "default/svc-b"
    );
    let route = &proxied["routes"][0];
    assert_eq!(route["origin"]["kind"], "HTTPProxy");
    assert_eq!(route["origin"]["namespace"], "default");
    assert_eq!(route["origin"]["name"], "policy");

    // The TLS host is served on HTTPS, and on plain HTTP too (no force-ssl-redirect).
    let secure = explain(&["--host", "secure.test", "--https"]);
    assert_eq!(secure["listener"], "ingress_https");
    assert_eq!(secure["outcome"]["backends"][0]["service"], "default/svc-b");
    let insecure = explain(&["--host", "secure.test"]);
    assert_eq!(insecure["listener"], "ingress_http");
    assert_eq!(insecure["outcome"]["kind"], "forward", "{insecure:#}");

    let unknown = explain(&["--host", "nowhere.test"]);
    assert_eq!(unknown["outcome"]["kind"], "noVirtualHost");
    assert_eq!(unknown["virtualHost"], Value::Null);

    // A header without a colon is refused before anything is asked.
    let bad = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["cli", "explain", "--debug-address", &debug])
        .args(["--host", "plain.test", "-H", "no-colon"])
        .output()
        .expect("run sesame cli explain");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected Name: Value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_name_the_objects_behind_each_resource() {
    let (cluster, _files) = serving(&[]).await;
    wait_for_clusters(&cluster, &[]).await;
    let debug = format!("127.0.0.1:{}", cluster.ports.debug);
    let sources = |ty: &str, name: &str| -> Vec<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
            .args(["cli", "sources", ty, name, "--debug-address", &debug])
            .output()
            .expect("run sesame cli sources");
        assert!(out.status.success(), "{out:?}");
        let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
        answer["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| format!("{}/{}/{}", o["kind"], o["namespace"], o["name"]).replace('"', ""))
            .collect()
    };
    // Names as the xDS answers give them.
    let clusters = names(&cli(&cluster, &["cds"]));
    let svc_b = clusters
        .iter()
        .find(|n| n.starts_with("default/svc-b/"))
        .expect("svc-b's cluster");
    assert_eq!(
        sources("cds", svc_b),
        [
            "Ingress/default/secure",
            "Service/default/svc-b",
            "HTTPProxy/default/policy"
        ]
    );
    let secret = names(&cli(&cluster, &["sds"]))
        .pop()
        .expect("the certificate");
    assert_eq!(
        sources("sds", &secret),
        ["Ingress/default/secure", "Secret/default/cert"]
    );
    assert_eq!(
        sources("rds", "https/secure.test"),
        ["Ingress/default/secure"]
    );
    assert_eq!(sources("vhds", "policy.test"), ["HTTPProxy/default/policy"]);
    assert!(sources("cds", "default/none/80/x").is_empty());
}

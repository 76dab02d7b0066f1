//! Incremental builds through a running `sesame serve`: after a sequence of edits (each built
//! on its own, then a burst built together), every resource served and every status reported
//! equals what a Sesame started on the final files serves and reports.
#![allow(missing_docs)]

#[path = "e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_client::ClusterDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::envoy::service::endpoint::v3::endpoint_discovery_service_client::EndpointDiscoveryServiceClient;
use envoy_types::pb::envoy::service::listener::v3::listener_discovery_service_client::ListenerDiscoveryServiceClient;
use envoy_types::pb::envoy::service::route::v3::route_discovery_service_client::RouteDiscoveryServiceClient;
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_client::SecretDiscoveryServiceClient;
use tonic::transport::Channel;

const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: team}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
"#;

/// The Services with `a` annotated, so that its cluster changes.
fn services_with_a_limited() -> String {
    SERVICES.replacen(
        "metadata: {name: a, namespace: default}",
        "metadata: {name: a, namespace: default, annotations: {projectsesame.io/max-connections: \"9\"}}",
        1,
    )
}

fn ingress(name: &str, host: Option<&str>, service: &str, path: &str) -> String {
    let host = host.map(|h| format!("host: {h}\n    ")).unwrap_or_default();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  rules:\n  - {host}http:\n      paths:\n      - {{path: {path}, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n"
    )
}

fn tls_ingress(host: &str, secret: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: secure, namespace: default}}\nspec:\n  tls:\n  - {{hosts: [{host}], secretName: {secret}}}\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: b, port: {{number: 80}}}}}}}}\n"
    )
}

const ROOT: &str = r#"
apiVersion: projectsesame.io/v1
kind: HTTPProxy
metadata: {name: root, namespace: default}
spec:
  virtualhost: {fqdn: proxy.example.com}
  routes:
  - conditions: [{prefix: /}]
    services: [{name: a, port: 80}]
  includes:
  - {name: child, namespace: team, conditions: [{prefix: /team}]}
"#;

const CHILD: &str = r#"
apiVersion: projectsesame.io/v1
kind: HTTPProxy
metadata: {name: child, namespace: team}
spec:
  routes:
  - conditions: [{prefix: /}]
    services: [{name: c, port: 80}]
"#;

/// Every resource type a state-of-the-world client can fetch, fetched whole (`*`) from the
/// Sesame on `port`: (type URL, version, resources), in one fixed order.
async fn served(port: u16) -> Vec<DiscoveryResponse> {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to xDS");
    let all = || {
        tonic::Request::new(DiscoveryRequest {
            resource_names: vec!["*".to_string()],
            ..Default::default()
        })
    };
    let answer = |r: Result<tonic::Response<DiscoveryResponse>, tonic::Status>| {
        r.expect("fetch").into_inner()
    };
    vec![
        answer(
            ClusterDiscoveryServiceClient::new(channel.clone())
                .fetch_clusters(all())
                .await,
        ),
        answer(
            EndpointDiscoveryServiceClient::new(channel.clone())
                .fetch_endpoints(all())
                .await,
        ),
        answer(
            SecretDiscoveryServiceClient::new(channel.clone())
                .fetch_secrets(all())
                .await,
        ),
        answer(
            ListenerDiscoveryServiceClient::new(channel.clone())
                .fetch_listeners(all())
                .await,
        ),
        answer(
            RouteDiscoveryServiceClient::new(channel)
                .fetch_routes(all())
                .await,
        ),
    ]
}

/// What a Sesame serves and reports, comparable across two processes: per type its version
/// and resources, and every object's status.
async fn state(cluster: &harness::Cluster) -> (Vec<(String, String, usize)>, serde_json::Value) {
    let responses = served(cluster.ports.xds).await;
    let resources = responses
        .iter()
        .map(|r| {
            (
                r.type_url.clone(),
                r.version_info.clone(),
                r.resources.len(),
            )
        })
        .collect();
    let status = cluster.debug("/status").await;
    let status: serde_json::Value = serde_json::from_str(&status.body).expect("status json");
    (resources, status["objects"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_built_incrementally_serve_what_a_fresh_start_serves() {
    let pki = harness::Pki::new();
    let mut files: BTreeMap<&str, String> = BTreeMap::from([
        ("services.yaml", SERVICES.to_string()),
        (
            "ing-a.yaml",
            ingress("a", Some("one.example.com"), "a", "/"),
        ),
    ]);
    let initial: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let edited = harness::Cluster::sesame_only(&initial, &[]);
    harness::eventually(Duration::from_secs(20), || async {
        edited.debug("/status").await.status == 200
    })
    .await;

    let secret = pki.secret("cert", &["secure.example.com"]);
    let steps: Vec<(&str, Option<String>)> = vec![
        // Two Ingresses on one host, then one moves away.
        (
            "ing-b.yaml",
            Some(ingress("b", Some("one.example.com"), "b", "/b")),
        ),
        (
            "ing-a.yaml",
            Some(ingress("a", Some("two.example.com"), "a", "/")),
        ),
        // A TLS host whose Secret comes after it.
        (
            "ing-secure.yaml",
            Some(tls_ingress("secure.example.com", "cert")),
        ),
        ("secret.yaml", Some(secret)),
        // An include whose child arrives later, then a cluster setting changes.
        ("root.yaml", Some(ROOT.to_string())),
        ("child.yaml", Some(CHILD.to_string())),
        ("services.yaml", Some(services_with_a_limited())),
        ("ing-b.yaml", None),
        (
            "ing-default.yaml",
            Some(ingress("fallback", None, "a", "/")),
        ),
        // The TLS host loses its Secret: served without TLS.
        ("secret.yaml", None),
    ];
    for (name, contents) in steps {
        apply(&edited, &mut files, name, contents);
        // More than the holdoff: each edit is built on its own, incrementally.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A burst built together: the child goes, the TLS host gets a new certificate, a host is
    // taken over, the cluster setting goes back.
    let burst: Vec<(&str, Option<String>)> = vec![
        ("child.yaml", None),
        (
            "secret.yaml",
            Some(pki.secret("cert", &["secure.example.com"])),
        ),
        (
            "ing-b.yaml",
            Some(ingress("b", Some("two.example.com"), "b", "/b")),
        ),
        ("services.yaml", Some(SERVICES.to_string())),
    ];
    for (name, contents) in burst {
        apply(&edited, &mut files, name, contents);
    }

    // What the edited Sesame settles on, against the same Sesame restarted on the final files
    // (same flags and ports): one full build.
    let got = settled(&edited).await;
    let mut edited = edited;
    edited.restart_sesame();
    let expected = settled(&edited).await;
    assert!(
        got == expected,
        "the edited Sesame served something else than a fresh start\nedited: {got:#?}\nfresh: {expected:#?}\n{}",
        edited.logs()
    );
    // The comparison has something to compare: every kind of resource is there, and the
    // include that lost its child is reported.
    for (type_url, _, count) in &expected.0 {
        assert!(*count > 0, "no {type_url} served");
    }
    let root_invalid = expected
        .1
        .as_array()
        .expect("statuses")
        .iter()
        .any(|s| s["name"] == "root" && s["current"] == "invalid");
    assert!(root_invalid, "the root lost its include: {:#}", expected.1);
}

/// The state of a Sesame once two reads 300 ms apart agree (its builds are done).
async fn settled(cluster: &harness::Cluster) -> (Vec<(String, String, usize)>, serde_json::Value) {
    harness::eventually(Duration::from_secs(20), || async {
        cluster.debug("/status").await.status == 200
    })
    .await;
    let mut last = state(cluster).await;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = state(cluster).await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("Sesame never settled\n{}", cluster.logs());
}

/// Writes (or, with `None`, removes) one manifest file and remembers the result.
fn apply<'a>(
    cluster: &harness::Cluster,
    files: &mut BTreeMap<&'a str, String>,
    name: &'a str,
    contents: Option<String>,
) {
    match contents {
        Some(text) => {
            cluster.write(name, &text);
            files.insert(name, text);
        }
        None => {
            cluster.remove(name);
            files.remove(name);
        }
    }
}

//! Pipeline test: manifests in, `sesame serve` building, a real gRPC ADS client reading the
//! resources it serves, and `/status` reporting every object.
#![allow(missing_docs)]

#[path = "e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster as ClusterProto;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use prost::Message;
use tokio_stream::StreamExt;

const ENDPOINTS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: broken, namespace: shop}
spec:
  rules:
  - host: "UPPER_case!"
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"#;

async fn request(
    tx: &tokio::sync::mpsc::Sender<DiscoveryRequest>,
    type_url: &str,
    names: &[&str],
    ack: Option<&DiscoveryResponse>,
) {
    let request = DiscoveryRequest {
        node: Some(envoy_types::pb::envoy::config::core::v3::Node {
            id: "pipeline".into(),
            cluster: "sesame".into(),
            ..Default::default()
        }),
        type_url: type_url.into(),
        resource_names: names.iter().map(|s| s.to_string()).collect(),
        version_info: ack.map(|r| r.version_info.clone()).unwrap_or_default(),
        response_nonce: ack.map(|r| r.nonce.clone()).unwrap_or_default(),
        ..Default::default()
    };
    tx.send(request).await.expect("send request");
}

/// An ADS stream to the Sesame of `cluster`: a sender of requests and a function awaiting the
/// next response.
struct Ads {
    tx: tokio::sync::mpsc::Sender<DiscoveryRequest>,
    responses: tonic::Streaming<DiscoveryResponse>,
}

impl Ads {
    async fn connect(cluster: &harness::Cluster) -> Ads {
        let endpoint = format!("http://127.0.0.1:{}", cluster.ports.xds);
        let mut client = None;
        for _ in 0..200 {
            if let Ok(c) = AggregatedDiscoveryServiceClient::connect(endpoint.clone()).await {
                client = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut client =
            client.unwrap_or_else(|| panic!("xDS server never listened\n{}", cluster.logs()));
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let responses = client
            .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .expect("ADS stream")
            .into_inner();
        Ads { tx, responses }
    }

    async fn next(&mut self) -> DiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(20), self.responses.next())
            .await
            .expect("a response in time")
            .expect("stream open")
            .expect("response ok")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_reach_an_ads_client_and_status() {
    let cluster = harness::Cluster::sesame_only(&[("objects.yaml", MANIFESTS)], &[]);
    let mut ads = Ads::connect(&cluster).await;

    request(&ads.tx, CLUSTER, &[], None).await;
    let clusters = ads.next().await;
    assert_eq!(clusters.type_url, CLUSTER);
    let names: Vec<String> = clusters
        .resources
        .iter()
        .map(|a| {
            ClusterProto::decode(a.value.as_slice())
                .expect("cluster")
                .name
        })
        .collect();
    assert_eq!(names, vec!["shop/web/80/da39a3ee5e".to_string()]);
    request(&ads.tx, CLUSTER, &[], Some(&clusters)).await;

    request(&ads.tx, LISTENER, &[], None).await;
    let listeners = ads.next().await;
    assert_eq!(listeners.type_url, LISTENER);
    let mut names: Vec<String> = listeners
        .resources
        .iter()
        .map(|a| Listener::decode(a.value.as_slice()).expect("listener").name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["ingress_http".to_string(), "stats-health".to_string()]
    );
    request(&ads.tx, LISTENER, &[], Some(&listeners)).await;

    request(&ads.tx, ROUTE, &["ingress_http"], None).await;
    let routes = ads.next().await;
    let config = RouteConfiguration::decode(routes.resources[0].value.as_slice())
        .expect("route configuration");
    let domains: Vec<&str> = config
        .virtual_hosts
        .iter()
        .flat_map(|v| v.domains.iter().map(String::as_str))
        .collect();
    assert_eq!(domains, vec!["shop.example.com"]);

    let status = cluster.debug("/status").await;
    assert_eq!(status.status, 200);
    let entries: serde_json::Value = serde_json::from_str(&status.body).expect("status json");
    let find = |name: &str| {
        entries["objects"]
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["kind"] == "Ingress" && e["name"] == name)
            .cloned()
    };
    assert_eq!(find("web").expect("web status")["current"], "valid");
    let broken = find("broken").expect("broken status");
    assert_eq!(broken["current"], "invalid");
    assert_eq!(broken["errors"][0]["reason"], "InvalidHostname");
}

fn slice(ip: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: web-1, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}\naddressType: IPv4\nendpoints: [{{addresses: [\"{ip}\"], conditions: {{ready: true}}}}]\nports: [{{name: http, port: 8080, protocol: TCP}}]\n"
    )
}

fn secret(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: unrelated, namespace: shop}}\ntype: Opaque\nstringData: {{key: \"{value}\"}}\n"
    )
}

async fn metric(cluster: &harness::Cluster, name: &str) -> f64 {
    let reply = harness::get_plain(cluster.ports.metrics, "127.0.0.1", "/metrics")
        .await
        .unwrap_or_default();
    reply
        .body
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn endpoint_ips(response: &DiscoveryResponse) -> Vec<String> {
    response
        .resources
        .iter()
        .map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).expect("assignment"))
        .flat_map(|cla| cla.endpoints.into_iter().flat_map(|l| l.lb_endpoints))
        .filter_map(|e| match e.host_identifier {
            Some(
                envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(
                    ep,
                ),
            ) => ep.address,
            _ => None,
        })
        .filter_map(|a| match a.address {
            Some(envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(sa)) => {
                Some(sa.address)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_changes_skip_the_build_and_unreferenced_objects_cost_nothing() {
    let cluster = harness::Cluster::sesame_only(
        &[
            ("objects.yaml", MANIFESTS),
            ("slice.yaml", &slice("10.0.0.1")),
            ("secret.yaml", &secret("one")),
        ],
        &[],
    );
    let mut ads = Ads::connect(&cluster).await;
    request(&ads.tx, ENDPOINTS, &["shop/web/http"], None).await;
    let first = ads.next().await;
    assert_eq!(endpoint_ips(&first), vec!["10.0.0.1".to_string()]);
    request(&ads.tx, ENDPOINTS, &["shop/web/http"], Some(&first)).await;
    assert_eq!(metric(&cluster, "sesame_dagrebuild_total").await, 1.0);

    // A Secret nothing references changes, then the Service's endpoints change.
    cluster.write("secret.yaml", &secret("two"));
    cluster.write("slice.yaml", &slice("10.0.0.2"));
    let second = ads.next().await;
    assert_eq!(endpoint_ips(&second), vec!["10.0.0.2".to_string()]);
    assert_ne!(second.version_info, first.version_info);
    // EDS changed without a build; the unreferenced Secret rebuilt nothing.
    assert_eq!(
        metric(&cluster, "sesame_eds_update_total").await,
        1.0,
        "{}",
        cluster.logs()
    );
    assert_eq!(
        metric(&cluster, "sesame_dagrebuild_total").await,
        1.0,
        "{}",
        cluster.logs()
    );

    // A referenced object does rebuild.
    let edited = MANIFESTS.replace("targetPort: 8080", "targetPort: 9090");
    cluster.write("objects.yaml", &edited);
    let rebuilt = harness::eventually(Duration::from_secs(20), || async {
        metric(&cluster, "sesame_dagrebuild_total").await == 2.0
    })
    .await;
    assert!(rebuilt, "{}", cluster.logs());
}

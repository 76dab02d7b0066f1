//! Global rate limits through a real Envoy: the config file's `rateLimitService` names an
//! ExtensionService whose Service points at a gRPC `envoy.service.ratelimit.v3` server in this
//! process, which allows two hits per descriptor and refuses the rest. Users see 200s, then
//! 429s with `x-ratelimit-*` headers; routes that disable limits, hosts that opt out and a
//! down service behave as configured; hostile descriptors never reach Envoy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus, RateLimit, rate_limit::Unit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};

use crate::harness::{Backend, Cluster, backend, free_port, services};
use crate::httpproxy::{proxy, refused_then_canary};

/// The hits each descriptor may have.
const LIMIT: u32 = 2;

/// The rate limit service: counts hits per descriptor (its entries, `key=value` joined by
/// `,`) and records every request's domain and descriptors.
#[derive(Clone, Default)]
struct Limiter {
    hits: Arc<Mutex<HashMap<String, u32>>>,
    /// The domain and descriptor of every descriptor received.
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

#[tonic::async_trait]
impl RateLimitService for Limiter {
    async fn should_rate_limit(
        &self,
        request: tonic::Request<RateLimitRequest>,
    ) -> Result<tonic::Response<RateLimitResponse>, tonic::Status> {
        let request = request.into_inner();
        let mut statuses = Vec::new();
        let mut over = false;
        let mut hits = self.hits.lock().expect("hits");
        for descriptor in &request.descriptors {
            let key: Vec<String> = descriptor
                .entries
                .iter()
                .map(|e| format!("{}={}", e.key, e.value))
                .collect();
            let key = key.join(",");
            self.seen
                .lock()
                .expect("seen")
                .push((request.domain.clone(), key.clone()));
            let count = hits.entry(key).or_default();
            *count += 1;
            let code = if *count > LIMIT {
                over = true;
                Code::OverLimit
            } else {
                Code::Ok
            };
            statuses.push(DescriptorStatus {
                code: code as i32,
                current_limit: Some(RateLimit {
                    requests_per_unit: LIMIT,
                    unit: Unit::Minute as i32,
                    ..Default::default()
                }),
                limit_remaining: LIMIT.saturating_sub(*count),
                duration_until_reset: Some(envoy_types::pb::google::protobuf::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            });
        }
        let overall = if over { Code::OverLimit } else { Code::Ok };
        Ok(tonic::Response::new(RateLimitResponse {
            overall_code: overall as i32,
            statuses,
            ..Default::default()
        }))
    }
}

impl Limiter {
    /// The descriptors of every request so far, as `key=value,...` strings.
    fn descriptors(&self) -> Vec<String> {
        let seen = self.seen.lock().expect("seen");
        seen.iter().map(|(_, d)| d.clone()).collect()
    }

    fn domains(&self) -> Vec<String> {
        let seen = self.seen.lock().expect("seen");
        seen.iter().map(|(d, _)| d.clone()).collect()
    }
}

/// Serves `limiter` over h2c on 127.0.0.1.
async fn serve(limiter: Limiter) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind rls");
    let addr = listener.local_addr().expect("rls addr");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(RateLimitServiceServer::new(limiter))
            .serve_with_incoming(incoming)
            .await;
    });
    (addr, task)
}

/// A Service `svc-rls` (port 80) whose endpoint is `addr`, and the ExtensionService
/// `default/ratelimit` over it (h2c), whose 5 s response timeout bounds each call (Envoy's
/// default, 20 ms, is short for a loaded test machine).
fn rls_objects(addr: SocketAddr) -> String {
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "svc-rls", "namespace": "default"},
        "spec": {"ports": [{"name": "grpc", "port": 80, "targetPort": addr.port()}]}
    });
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "svc-rls-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "svc-rls"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [addr.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "grpc", "port": addr.port(), "protocol": "TCP"}]
    });
    let ext = serde_json::json!({
        "apiVersion": "projectsesame.io/v1alpha1", "kind": "ExtensionService",
        "metadata": {"name": "ratelimit", "namespace": "default"},
        "spec": {"protocol": "h2c", "services": [{"name": "svc-rls", "port": 80}],
                 "timeoutPolicy": {"response": "5s"}}
    });
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [svc, slice, ext]}).to_string()
}

/// Starts Sesame with `config` as its configuration file, the rate limit objects for `addr`,
/// backend `app` as `svc-a`, and `proxies`.
async fn start(
    dir: &Path,
    config: &str,
    addr: SocketAddr,
    app: &Backend,
    proxies: &[(&str, &str)],
) -> Cluster {
    let config_path = dir.join("sesame.yaml");
    std::fs::write(&config_path, config).expect("write config");
    let rls = rls_objects(addr);
    let svc = services(&[("svc-a", app)]);
    let mut files: Vec<(&str, &str)> = vec![("rls.json", &rls), ("svc.yaml", &svc)];
    files.extend_from_slice(proxies);
    Cluster::start_with(&files, &["-c", &config_path.display().to_string()]).await
}

const CONFIG: &str = "rateLimitService:\n  extensionService: default/ratelimit\n  domain: sesame\n  enableXRateLimitHeaders: true\n  defaultGlobalRateLimitPolicy:\n    descriptors:\n    - entries:\n      - genericKey: {key: default, value: fallback}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_limits_answer_429_past_the_limit_with_rate_limit_headers() {
    let app = backend("a").await;
    let limiter = Limiter::default();
    let (addr, _server) = serve(limiter.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let limited = proxy(
        "default",
        "limited",
        "{virtualhost: {fqdn: limited.test, rateLimitPolicy: {global: {descriptors: [\
         {entries: [{remoteAddress: {}}, {genericKey: {value: limited}}]}]}}}, routes: [\
         {conditions: [{prefix: /free}], rateLimitPolicy: {global: {disabled: true}}, services: [{name: svc-a, port: 80}]}, \
         {conditions: [{prefix: /user}], rateLimitPolicy: {global: {descriptors: [{entries: [{requestHeader: {headerName: X-User, descriptorKey: user}}]}]}}, services: [{name: svc-a, port: 80}]}, \
         {services: [{name: svc-a, port: 80}]}]}",
    );
    let fallback = proxy(
        "default",
        "fallback",
        "{virtualhost: {fqdn: fallback.test}, routes: [{services: [{name: svc-a, port: 80}]}]}",
    );
    let optout = proxy(
        "default",
        "optout",
        "{virtualhost: {fqdn: optout.test, rateLimitPolicy: {global: {disabled: true}}}, routes: [{services: [{name: svc-a, port: 80}]}]}",
    );
    let cluster = start(
        dir.path(),
        CONFIG,
        addr,
        &app,
        &[
            ("limited.yaml", &limited),
            ("fallback.yaml", &fallback),
            ("optout.yaml", &optout),
        ],
    )
    .await;
    // The host's descriptor: two hits, then 429 with the headers Envoy derives from the
    // service's answer.
    cluster
        .eventually_http("limited.test", "/", "served through the limiter", |r| {
            r.from("a")
        })
        .await;
    let second = cluster.http("limited.test", "/").await;
    assert!(second.from("a"), "{second:?}");
    assert_eq!(
        second.header("x-ratelimit-limit"),
        ["2, 2;w=60"],
        "{second:?}"
    );
    let third = cluster.http("limited.test", "/").await;
    assert_eq!(third.status, 429, "{third:?}");
    assert!(!third.from("a"));
    assert_eq!(third.header("x-ratelimit-remaining"), ["0"], "{third:?}");
    assert_eq!(third.header("x-envoy-ratelimited"), ["true"], "{third:?}");
    assert!(
        limiter
            .descriptors()
            .contains(&"remote_address=127.0.0.1,generic_key=limited".to_string()),
        "{:?}",
        limiter.descriptors()
    );
    assert!(limiter.domains().iter().all(|d| d == "sesame"));
    // A route that disables limits is served whatever the host's count, without asking.
    let asked = limiter.descriptors().len();
    for _ in 0..4 {
        assert!(cluster.http("limited.test", "/free").await.from("a"));
    }
    assert_eq!(limiter.descriptors().len(), asked, "the service was asked");
    // A route's own descriptors replace the host's: counted per user.
    for _ in 0..LIMIT {
        let reply = cluster
            .http_with("limited.test", "/user", &[("x-user", "alice")])
            .await;
        assert!(reply.from("a"), "{reply:?}");
    }
    let reply = cluster
        .http_with("limited.test", "/user", &[("x-user", "alice")])
        .await;
    assert_eq!(reply.status, 429, "{reply:?}");
    let reply = cluster
        .http_with("limited.test", "/user", &[("x-user", "bob")])
        .await;
    assert!(reply.from("a"), "{reply:?}");
    assert!(limiter.descriptors().contains(&"user=alice".to_string()));
    // A host without a policy takes the config's default; one that opts out has none.
    let statuses: Vec<u16> = futures_statuses(&cluster, "fallback.test", 3).await;
    assert_eq!(statuses, [200, 200, 429]);
    assert!(
        limiter
            .descriptors()
            .contains(&"default=fallback".to_string())
    );
    let statuses = futures_statuses(&cluster, "optout.test", 4).await;
    assert_eq!(statuses, [200, 200, 200, 200]);
    cluster.assert_no_update_rejected().await;
}

/// The statuses of `n` GETs of `host` `/` in turn.
async fn futures_statuses(cluster: &Cluster, host: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(cluster.http(host, "/").await.status);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_rate_limit_service_fails_closed_unless_fail_open() {
    let app = backend("a").await;
    let down: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let host = |name: &str| {
        proxy(
            "default",
            name,
            &format!(
                "{{virtualhost: {{fqdn: {name}.test, rateLimitPolicy: {{global: {{descriptors: [{{entries: [{{genericKey: {{value: v}}}}]}}]}}}}}}, \
                 routes: [{{conditions: [{{prefix: /free}}], rateLimitPolicy: {{global: {{disabled: true}}}}, services: [{{name: svc-a, port: 80}}]}}, \
                 {{services: [{{name: svc-a, port: 80}}]}}]}}"
            ),
        )
    };
    // The service down, then (`nope`) an ExtensionService that does not exist at all: Envoy
    // takes the filter either way, and the calls fail.
    for (fail_open, want, extension) in [
        (false, 500, "ratelimit"),
        (true, 200, "ratelimit"),
        (false, 500, "nope"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "rateLimitService:\n  extensionService: default/{extension}\n  domain: sesame\n  failOpen: {fail_open}\n"
        );
        let cluster = start(dir.path(), &config, down, &app, &[("h.yaml", &host("h"))]).await;
        cluster
            .eventually_http("h.test", "/free", "a route without limits", |r| r.from("a"))
            .await;
        let reply = cluster
            .eventually_http("h.test", "/", "the service is down", |r| r.status == want)
            .await;
        assert_eq!(reply.from("a"), fail_open, "{reply:?}");
        cluster.assert_no_update_rejected().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_descriptors_are_refused_with_zero_nacks() {
    let a = backend("a").await;
    let limiter = Limiter::default();
    let (addr, _server) = serve(limiter.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // No default policy here: every host's requests would share its one counter.
    let config = "rateLimitService:\n  extensionService: default/ratelimit\n  domain: sesame\n";
    let cluster = start(dir.path(), config, addr, &a, &[]).await;
    let hostile = [
        ("two-fields", "{genericKey: {value: v}, remoteAddress: {}}"),
        ("no-field", "{}"),
        ("empty-value", "{genericKey: {key: k, value: ''}}"),
        (
            "bad-header",
            "{requestHeader: {headerName: 'x y', descriptorKey: k}}",
        ),
        ("no-key", "{requestHeader: {headerName: x-a}}"),
        ("no-headers", "{requestHeaderValueMatch: {value: v}}"),
        (
            "bad-regex",
            "{requestHeaderValueMatch: {headers: [{name: x-a, regex: '(('}], value: v}}",
        ),
    ];
    for (name, entry) in &hostile {
        let spec = format!(
            "{{virtualhost: {{fqdn: {name}.hostile.test, rateLimitPolicy: {{global: {{descriptors: [{{entries: [{entry}]}}]}}}}}}, \
             routes: [{{services: [{{name: svc-a, port: 80}}]}}]}}"
        );
        cluster.write(&format!("{name}.yaml"), &proxy("default", name, &spec));
        let route = format!(
            "{{virtualhost: {{fqdn: {name}.route.test}}, routes: [\
             {{conditions: [{{prefix: /limited}}], rateLimitPolicy: {{global: {{descriptors: [{{entries: [{entry}]}}]}}}}, services: [{{name: svc-a, port: 80}}]}}, \
             {{services: [{{name: svc-a, port: 80}}]}}]}}"
        );
        cluster.write(
            &format!("{name}-route.yaml"),
            &proxy("default", &format!("{name}-route"), &route),
        );
    }
    let route_names: Vec<String> = hostile.iter().map(|(n, _)| format!("{n}-route")).collect();
    let mut refused: Vec<(&str, &str)> = hostile
        .iter()
        .map(|(n, _)| (*n, "RateLimitPolicyNotValid"))
        .collect();
    refused.extend(
        route_names
            .iter()
            .map(|n| (n.as_str(), "RateLimitPolicyNotValid")),
    );
    refused_then_canary(&cluster, &refused).await;
    cluster.assert_no_update_rejected().await;
    for (name, _) in &hostile {
        // The host is not served; the route with a bad limit is dropped, the rest served.
        let reply = cluster.http(&format!("{name}.hostile.test"), "/").await;
        assert_eq!(reply.status, 404, "{name}: {reply:?}");
        let host = format!("{name}.route.test");
        assert!(cluster.http(&host, "/").await.from("a"), "{name}");
    }
}

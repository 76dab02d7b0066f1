//! Envoy applying a one-host change among N plain-HTTP hosts, with the host table split two ways
//! (issue 12, item 2):
//! - **VHDS**: one `ingress_http` route configuration whose virtual hosts come over Virtual Host
//!   Discovery, one resource per host (what Sesame serves Envoys on delta xDS);
//! - **scoped routes** (SRDS): one route configuration per host, chosen by the request's
//!   `:authority`; each host's route configuration either fetched over RDS, or carried inline in
//!   its scope.
//!
//! No Sesame runs here: a minimal delta ADS server in this binary serves a real Envoy (bootstrap
//! from `sesame bootstrap --xds-mode delta`) a listener, two static clusters (echo backends
//! `fixture` and `changed`) and N hosts routed to `fixture`. A change re-routes one host to
//! `changed`; its figure is the time from handing that response to the gRPC stream to Envoy
//! answering the host from `changed` (the serve bench's probe). Changes are 0.3 s apart. The
//! start figure is from spawning Envoy to 101 sampled hosts routing.
//!
//! Run: `cargo bench -p sesame --bench route_split` (needs Envoy: `scripts/setup-envoy.sh`).
//! `SESAME_BENCH_SPLIT_SIZES` (default `1000,10000`), `SESAME_BENCH_SPLIT_CHANGES` (default 20).
#![allow(missing_docs)]

#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "support/probe.rs"]
#[allow(dead_code)]
mod probe;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::endpoint::v3 as endpoint_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::{Any, Duration as ProtoDuration};
use probe::{KeepAlive, fixture_host, wait_routed};
use prost::{Message, Name};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

const ROUTE_CONFIG: &str = "ingress_http";
const PATIENCE: Duration = Duration::from_secs(300);

/// How the hosts reach Envoy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Split {
    /// `ingress_http` over RDS, its virtual hosts over VHDS.
    Vhds,
    /// A scope per host over SRDS, naming its route configuration, fetched over RDS.
    ScopedRds,
    /// A scope per host over SRDS, its route configuration inline.
    ScopedInline,
}

impl Split {
    const ALL: [Split; 3] = [Split::Vhds, Split::ScopedRds, Split::ScopedInline];

    fn label(self) -> &'static str {
        match self {
            Split::Vhds => "VHDS (one route configuration, a virtual host per resource)",
            Split::ScopedRds => "scoped routes, a route configuration per host over RDS",
            Split::ScopedInline => "scoped routes, a route configuration per host inline",
        }
    }
}

fn any<T: Message + Name>(message: &T) -> Any {
    Any {
        type_url: T::type_url(),
        value: message.encode_to_vec(),
    }
}

fn ads() -> core_v3::ConfigSource {
    core_v3::ConfigSource {
        resource_api_version: core_v3::ApiVersion::V3 as i32,
        config_source_specifier: Some(core_v3::config_source::ConfigSourceSpecifier::Ads(
            core_v3::AggregatedConfigSource {},
        )),
        ..Default::default()
    }
}

fn address(addr: SocketAddr) -> core_v3::Address {
    core_v3::Address {
        address: Some(core_v3::address::Address::SocketAddress(
            core_v3::SocketAddress {
                address: addr.ip().to_string(),
                port_specifier: Some(core_v3::socket_address::PortSpecifier::PortValue(
                    u32::from(addr.port()),
                )),
                ..Default::default()
            },
        )),
    }
}

/// A static cluster named after its one echo backend.
fn cluster(name: &str, backend: SocketAddr) -> cluster_v3::Cluster {
    use endpoint_v3::lb_endpoint::HostIdentifier;
    cluster_v3::Cluster {
        name: name.to_string(),
        connect_timeout: Some(ProtoDuration {
            seconds: 2,
            nanos: 0,
        }),
        cluster_discovery_type: Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
            cluster_v3::cluster::DiscoveryType::Static as i32,
        )),
        load_assignment: Some(endpoint_v3::ClusterLoadAssignment {
            cluster_name: name.to_string(),
            endpoints: vec![endpoint_v3::LocalityLbEndpoints {
                lb_endpoints: vec![endpoint_v3::LbEndpoint {
                    host_identifier: Some(HostIdentifier::Endpoint(endpoint_v3::Endpoint {
                        address: Some(address(backend)),
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A virtual host sending everything to the cluster `backend`.
fn virtual_host(name: String, domain: String, backend: &str) -> route_v3::VirtualHost {
    use route_v3::route_match::PathSpecifier;
    route_v3::VirtualHost {
        name,
        domains: vec![domain],
        routes: vec![route_v3::Route {
            r#match: Some(route_v3::RouteMatch {
                path_specifier: Some(PathSpecifier::Prefix("/".to_string())),
                ..Default::default()
            }),
            action: Some(route_v3::route::Action::Route(route_v3::RouteAction {
                cluster_specifier: Some(route_v3::route_action::ClusterSpecifier::Cluster(
                    backend.to_string(),
                )),
                ..Default::default()
            })),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// What the server serves: N hosts, each routed to `fixture` until it is changed.
struct Hosts {
    split: Split,
    n: usize,
    listener: SocketAddr,
    backends: [(&'static str, SocketAddr); 2],
    changed: Mutex<HashSet<usize>>,
    nacks: AtomicUsize,
}

impl Hosts {
    fn backend(&self, i: usize) -> &'static str {
        let changed = self.changed.lock().expect("changed lock").contains(&i);
        self.backends[usize::from(changed)].0
    }

    fn listener(&self) -> listener_v3::Listener {
        use hcm_v3::http_connection_manager::RouteSpecifier;
        use hcm_v3::scoped_routes::scope_key_builder::FragmentBuilder;
        use hcm_v3::scoped_routes::scope_key_builder::fragment_builder::{
            HeaderValueExtractor, Type, header_value_extractor::ExtractType,
        };
        let routes = match self.split {
            Split::Vhds => RouteSpecifier::Rds(hcm_v3::Rds {
                config_source: Some(ads()),
                route_config_name: ROUTE_CONFIG.to_string(),
            }),
            Split::ScopedRds | Split::ScopedInline => {
                RouteSpecifier::ScopedRoutes(hcm_v3::ScopedRoutes {
                    name: ROUTE_CONFIG.to_string(),
                    // The scope key is the host without its port.
                    scope_key_builder: Some(hcm_v3::scoped_routes::ScopeKeyBuilder {
                        fragments: vec![FragmentBuilder {
                            r#type: Some(Type::HeaderValueExtractor(HeaderValueExtractor {
                                name: ":authority".to_string(),
                                element_separator: ":".to_string(),
                                extract_type: Some(ExtractType::Index(0)),
                            })),
                        }],
                    }),
                    rds_config_source: Some(ads()),
                    config_specifier: Some(hcm_v3::scoped_routes::ConfigSpecifier::ScopedRds(
                        hcm_v3::ScopedRds {
                            scoped_rds_config_source: Some(ads()),
                            ..Default::default()
                        },
                    )),
                })
            }
        };
        let hcm = sesame_envoy::listener::http_connection_manager(ROUTE_CONFIG, routes);
        listener_v3::Listener {
            name: ROUTE_CONFIG.to_string(),
            address: Some(address(self.listener)),
            filter_chains: vec![listener_v3::FilterChain {
                filters: vec![listener_v3::Filter {
                    name: "envoy.filters.network.http_connection_manager".to_string(),
                    config_type: Some(listener_v3::filter::ConfigType::TypedConfig(any(&hcm))),
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Host `i`'s VHDS resource.
    fn vhds_host(&self, i: usize) -> (String, Any) {
        let host = fixture_host(i);
        let name = format!("{ROUTE_CONFIG}/{host}");
        let vhost = virtual_host(name.clone(), host, self.backend(i));
        (name, any(&vhost))
    }

    /// Host `i`'s own route configuration: one virtual host matching any host.
    fn host_routes(&self, i: usize) -> route_v3::RouteConfiguration {
        route_v3::RouteConfiguration {
            name: format!("route/{}", fixture_host(i)),
            virtual_hosts: vec![virtual_host(
                fixture_host(i),
                "*".to_string(),
                self.backend(i),
            )],
            ..Default::default()
        }
    }

    /// Host `i`'s scope: keyed by its host, with its route configuration named or inline.
    fn scope(&self, i: usize) -> (String, Any) {
        use route_v3::scoped_route_configuration::{Key, key::Fragment, key::fragment::Type};
        let routes = self.host_routes(i);
        let (route_configuration_name, route_configuration) = match self.split {
            Split::ScopedInline => (String::new(), Some(routes)),
            _ => (routes.name, None),
        };
        let name = format!("scope/{}", fixture_host(i));
        let scope = route_v3::ScopedRouteConfiguration {
            name: name.clone(),
            route_configuration_name,
            route_configuration,
            key: Some(Key {
                fragments: vec![Fragment {
                    r#type: Some(Type::StringKey(fixture_host(i))),
                }],
            }),
            ..Default::default()
        };
        (name, any(&scope))
    }

    /// The resources of `type_url` a request asks for: every one for a type's first request
    /// without names (a wildcard, or VHDS following its route configuration), else the ones
    /// it names.
    fn requested(&self, type_url: &str, all: bool, names: &[String]) -> Vec<(String, Any)> {
        let host_index = |name: &str| -> Option<usize> {
            let rest = name.strip_prefix("route/app-")?;
            rest.split('.').next()?.parse().ok()
        };
        if type_url == cluster_v3::Cluster::type_url() {
            return self
                .backends
                .iter()
                .map(|(name, addr)| (name.to_string(), any(&cluster(name, *addr))))
                .collect();
        }
        if type_url == listener_v3::Listener::type_url() {
            return vec![(ROUTE_CONFIG.to_string(), any(&self.listener()))];
        }
        if type_url == route_v3::ScopedRouteConfiguration::type_url() && all {
            return (0..self.n).map(|i| self.scope(i)).collect();
        }
        if type_url == route_v3::VirtualHost::type_url() && all {
            return (0..self.n).map(|i| self.vhds_host(i)).collect();
        }
        if type_url == route_v3::RouteConfiguration::type_url() {
            return names
                .iter()
                .filter_map(|name| {
                    if name == ROUTE_CONFIG {
                        let vhds = route_v3::RouteConfiguration {
                            name: ROUTE_CONFIG.to_string(),
                            vhds: Some(route_v3::Vhds {
                                config_source: Some(ads()),
                            }),
                            ..Default::default()
                        };
                        return Some((name.clone(), any(&vhds)));
                    }
                    let routes = self.host_routes(host_index(name)?);
                    Some((name.clone(), any(&routes)))
                })
                .collect();
        }
        Vec::new()
    }

    /// Re-routes host `i` to `changed`: the type and resource that carry the change.
    fn change(&self, i: usize) -> (String, (String, Any)) {
        self.changed.lock().expect("changed lock").insert(i);
        match self.split {
            Split::Vhds => (route_v3::VirtualHost::type_url(), self.vhds_host(i)),
            Split::ScopedRds => {
                let routes = self.host_routes(i);
                (
                    route_v3::RouteConfiguration::type_url(),
                    (routes.name.clone(), any(&routes)),
                )
            }
            Split::ScopedInline => (
                route_v3::ScopedRouteConfiguration::type_url(),
                self.scope(i),
            ),
        }
    }
}

type Responses = mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>;

/// The ADS server: answers the requests of its one Envoy; the bench pushes changes through
/// the same stream.
#[derive(Clone)]
struct Ads {
    hosts: Arc<Hosts>,
    stream: Arc<Mutex<Option<Responses>>>,
    nonce: Arc<AtomicU64>,
}

impl Ads {
    fn response(&self, type_url: String, resources: Vec<(String, Any)>) -> DeltaDiscoveryResponse {
        let nonce = self.nonce.fetch_add(1, Ordering::Relaxed).to_string();
        DeltaDiscoveryResponse {
            system_version_info: nonce.clone(),
            resources: resources
                .into_iter()
                .map(|(name, resource)| Resource {
                    name,
                    version: nonce.clone(),
                    resource: Some(resource),
                    ..Default::default()
                })
                .collect(),
            type_url,
            nonce,
            ..Default::default()
        }
    }

    /// Answers one stream's requests: a type's first request, and any request naming resources;
    /// ACKs get nothing. A NACK is counted.
    async fn serve(self, mut requests: Streaming<DeltaDiscoveryRequest>, out: Responses) {
        let mut seen = HashSet::new();
        while let Ok(Some(req)) = requests.message().await {
            if let Some(error) = &req.error_detail {
                eprintln!("NACK of {}: {}", req.type_url, error.message);
                self.hosts.nacks.fetch_add(1, Ordering::Relaxed);
            }
            let first = seen.insert(req.type_url.clone());
            let names = &req.resource_names_subscribe;
            if !first && names.is_empty() {
                continue;
            }
            let all = first && names.iter().all(|n| n == "*");
            let resources = self.hosts.requested(&req.type_url, all, names);
            let response = self.response(req.type_url.clone(), resources);
            if out.send(Ok(response)).await.is_err() {
                break;
            }
        }
    }

    /// Pushes a change to the connected Envoy.
    async fn push(&self, type_url: String, resource: (String, Any)) {
        let out = self.stream.lock().expect("stream lock").clone();
        let out = out.expect("Envoy is connected");
        out.send(Ok(self.response(type_url, vec![resource])))
            .await
            .expect("push");
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = ReceiverStream<Result<DiscoveryResponse, Status>>;
    type DeltaAggregatedResourcesStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        _: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        Err(Status::unimplemented("delta only"))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let (tx, rx) = mpsc::channel(64);
        *self.stream.lock().expect("stream lock") = Some(tx.clone());
        tokio::spawn(self.clone().serve(request.into_inner(), tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// One row: N hosts split one way, a real Envoy, `changes` isolated changes.
async fn run(split: Split, n: usize, changes: usize) -> String {
    let fixture = harness::backend("fixture").await;
    let changed = harness::backend("changed").await;
    let listener_port = harness::free_port();
    let hosts = Arc::new(Hosts {
        split,
        n,
        listener: SocketAddr::from(([127, 0, 0, 1], listener_port)),
        backends: [("fixture", fixture.addr), ("changed", changed.addr)],
        changed: Mutex::new(HashSet::new()),
        nacks: AtomicUsize::new(0),
    });
    let ads = Ads {
        hosts: hosts.clone(),
        stream: Arc::new(Mutex::new(None)),
        nonce: Arc::new(AtomicU64::new(1)),
    };
    let xds = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind xDS");
    let xds_port = xds.local_addr().expect("xDS address").port();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AggregatedDiscoveryServiceServer::new(ads.clone()))
            .serve_with_incoming(TcpListenerStream::new(xds)),
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let bootstrap = dir.path().join("envoy.json");
    let admin = harness::free_port().to_string();
    let status = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("bootstrap")
        .arg(&bootstrap)
        .args([
            "--xds-address",
            "127.0.0.1",
            "--xds-port",
            &xds_port.to_string(),
        ])
        .args(["--admin-address", "127.0.0.1", "--admin-port", &admin])
        .args(["--xds-mode", "delta"])
        .status()
        .expect("sesame bootstrap");
    assert!(status.success(), "sesame bootstrap failed");
    let started = Instant::now();
    let mut envoy = harness::Process::spawn(
        Command::new(harness::envoy_binary())
            .arg("-c")
            .arg(&bootstrap)
            .args(["--service-cluster", "sesame", "--service-node", "split"])
            .args(["--disable-hot-restart", "--log-level", "warn"])
            .args(["--concurrency", "1"]),
        dir.path().join("envoy.log"),
    );
    let sample: Vec<usize> = (0..100).map(|k| k * n / 100).chain([n - 1]).collect();
    let routed = wait_routed(listener_port, sample, PATIENCE).await;
    assert!(routed, "Envoy never routed the hosts\n{}", envoy.log());
    let start = started.elapsed();

    let mut client = KeepAlive::new(listener_port);
    let mut times = Vec::with_capacity(changes);
    for k in 0..changes {
        let i = (k * 7919 + 1) % n;
        let (type_url, resource) = hosts.change(i);
        let pushed = Instant::now();
        ads.push(type_url, resource).await;
        while !client.routes(&fixture_host(i), "changed").await {
            assert!(
                pushed.elapsed() < Duration::from_secs(30),
                "host {i} never changed\n{}",
                envoy.log()
            );
        }
        times.push(pushed.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    times.sort();
    let (_, envoy_rss) = envoy.memory_mib();
    envoy.kill();
    server.abort();
    let nacks = hosts.nacks.load(Ordering::Relaxed);
    assert_eq!(nacks, 0, "Envoy rejected configuration\n{}", envoy.log());
    format!(
        "| {n} | {} | {:.2} s | {} | {} | {} | {} | {} | {envoy_rss:.0} MiB |",
        split.label(),
        start.as_secs_f64(),
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.9)),
        ms(percentile(&times, 0.99)),
        ms(times.first().copied().unwrap_or_default()),
    )
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SESAME_BENCH_SPLIT_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 10000]);
    let changes = std::env::var("SESAME_BENCH_SPLIT_CHANGES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        println!("### One host re-routed among N: push → Envoy routing it to the new backend\n");
        println!(
            "| N hosts | split | Envoy start → sampled hosts routing | changes | p50 | p90 | p99 | min | Envoy RSS |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        for n in sizes {
            for split in Split::ALL {
                println!("{}", run(split, n, changes).await);
            }
        }
    });
}

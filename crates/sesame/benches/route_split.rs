//! Envoy applying a one-host change among N plain-HTTP hosts, with the host table split two ways
//! (issue 12, item 2):
//! - **VHDS**: one `ingress_http` route configuration whose virtual hosts come over Virtual Host
//!   Discovery, one resource per host (what Sesame served Envoys on delta xDS until stop 27);
//! - **scoped routes** (SRDS): one route configuration per host, chosen by the request's
//!   `:authority`; each host's route configuration either fetched over RDS, or carried inline in
//!   its scope; inline with the key normalized first by a Lua filter; and that, plus a fallback
//!   scope for the wildcard host, which the Lua filter picks when no exact host's route answers.
//!
//! No Sesame runs here: a minimal delta ADS server in this binary serves a real Envoy (bootstrap
//! from `sesame bootstrap --xds-mode delta`) a listener, three static clusters (echo backends
//! `fixture`, `changed` and `wildcard`) and N hosts routed to `fixture`. A change re-routes one
//! host to `changed`; its figure is the time from handing that response to the gRPC stream to
//! Envoy answering the host from `changed` (the serve bench's probe). Changes are 0.3 s apart.
//! The start figure is from spawning Envoy to 101 sampled hosts routing. Beside the N hosts the
//! server serves a wildcard host (`*.bench.example.com`, backend `wildcard`) and an exact host
//! with a route for `/only` alone. Each row also says what a user would see: whether a host
//! written in upper case with its port is routed (virtual host domains are matched without
//! regard to either), whether a host only the wildcard covers is routed, and whether the exact
//! host answers 404 for a path it has no route for (rather than the wildcard answering); and the
//! median of 200 requests to one host on a kept-alive connection (the cost of the Lua filter).
//!
//! Run: `cargo bench -p sesame --bench route_split` (needs Envoy: `scripts/setup-envoy.sh`).
//! `SESAME_BENCH_SPLIT_SIZES` (default `1000,10000`), `SESAME_BENCH_SPLIT_CHANGES` (default 20).
#![allow(missing_docs)]

#[path = "support/figures.rs"]
mod figures;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "support/probe.rs"]
#[allow(dead_code)]
mod probe;

use std::collections::HashSet;
use std::net::SocketAddr;
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
use envoy_types::util::pack_any;
use figures::{ms, percentile};
use probe::{KeepAlive, fixture_host, wait_routed};
use prost::Name;
use sesame_dag::dag::{PathMatch, RouteAction};
use sesame_envoy::ads_config_source;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

const ROUTE_CONFIG: &str = "ingress_http";
const PATIENCE: Duration = Duration::from_secs(300);
/// Requests timed to one routed host (kept alive), for each split's cost per request.
const REQUESTS: usize = 200;

/// How the hosts reach Envoy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Split {
    /// `ingress_http` over RDS, its virtual hosts over VHDS.
    Vhds,
    /// A scope per host over SRDS, naming its route configuration, fetched over RDS.
    ScopedRds,
    /// A scope per host over SRDS, its route configuration inline.
    ScopedInline,
    /// As `ScopedInline`, keyed by the host a Lua filter normalizes first (lower case, no port,
    /// no trailing dot), as virtual host domains are matched.
    ScopedLua,
    /// As `ScopedLua`, with the wildcard host in a fallback scope: the Lua filter picks it when
    /// the host's own scope does not answer (the routes of exact hosts are marked, and end in a
    /// 404 for any other path).
    ScopedFallback,
}

impl Split {
    const ALL: [Split; 5] = [
        Split::Vhds,
        Split::ScopedRds,
        Split::ScopedInline,
        Split::ScopedLua,
        Split::ScopedFallback,
    ];

    fn label(self) -> &'static str {
        match self {
            Split::Vhds => "VHDS (one route configuration, a virtual host per resource)",
            Split::ScopedRds => "scoped routes, a route configuration per host over RDS",
            Split::ScopedInline => "scoped routes, a route configuration per host inline",
            Split::ScopedLua => "scoped routes inline, the key normalized by a Lua filter",
            Split::ScopedFallback => "scoped routes inline, Lua key, wildcard in a fallback scope",
        }
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

/// A match on the path `prefix`, as Sesame translates one.
fn prefix_match(prefix: &str) -> route_v3::RouteMatch {
    sesame_envoy::route::route_match(&PathMatch::Prefix(prefix.to_string()), &[], &[])
}

/// A virtual host sending what starts with `prefix` to the cluster `backend`.
fn virtual_host(domain: &str, prefix: &str, backend: &str) -> route_v3::VirtualHost {
    route_v3::VirtualHost {
        name: domain.to_string(),
        domains: vec![domain.to_string()],
        routes: vec![route_v3::Route {
            r#match: Some(prefix_match(prefix)),
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

/// A host with routes for `/only` alone: a request for another path must get a 404, not
/// fall through to the wildcard host.
const PATHS_HOST: &str = "paths.bench.example.com";
/// The wildcard host, answered by the echo backend `wildcard`.
const WILDCARD_HOST: &str = "*.bench.example.com";
/// The scope key of the wildcard host's table: no request's host gives it.
const WILDCARD_KEY: &str = "*";

/// The request header the Lua filter writes the scope key to.
const SCOPE_HEADER: &str = "x-sesame-route-scope";

/// Writes the host as virtual host domains are matched (lower case, without its port or a
/// trailing dot) to [`SCOPE_HEADER`].
const SCOPE_KEY_LUA: &str = r#"
  local headers = request:headers()
  local host = string.lower(headers:get(":authority") or "")
  host = string.gsub(host, ":%d*$", "")
  host = string.gsub(host, "%.$", "")
  headers:replace("x-sesame-route-scope", host)
"#;

/// [`Split::ScopedFallback`]: unless the route found is an exact host's, the key of the
/// wildcard's scope instead. (The route cache is cleared by hand so that the script sees
/// the route of the key it has just written.)
const FALLBACK_LUA: &str = r#"
  request:clearRouteCache()
  if request:metadata():get("exact") == nil then
    headers:replace("x-sesame-route-scope", "*")
    request:clearRouteCache()
  end
"#;

/// The Lua filter writing [`SCOPE_HEADER`] before anything asks for the route (Envoy
/// recomputes the route when a Lua script changes request headers).
fn scope_key_filter(fallback: bool) -> hcm_v3::HttpFilter {
    use envoy_types::pb::envoy::extensions::filters::http::lua::v3 as lua_v3;
    let tail = if fallback { FALLBACK_LUA } else { "" };
    let script = format!("function envoy_on_request(request){SCOPE_KEY_LUA}{tail}end\n");
    let lua = lua_v3::Lua {
        default_source_code: Some(core_v3::DataSource {
            specifier: Some(core_v3::data_source::Specifier::InlineString(script)),
            ..Default::default()
        }),
        ..Default::default()
    };
    hcm_v3::HttpFilter {
        name: LUA_FILTER.to_string(),
        config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(pack_any(lua))),
        ..Default::default()
    }
}

const LUA_FILTER: &str = "envoy.filters.http.lua";

/// One routing table: a scope key and its virtual host.
struct Table {
    key: String,
    vhost: route_v3::VirtualHost,
}

/// What the server serves: N hosts, each routed to `fixture` until it is changed, plus
/// [`PATHS_HOST`] and [`WILDCARD_HOST`].
struct Hosts {
    split: Split,
    n: usize,
    listener: SocketAddr,
    /// `fixture`, `changed` and `wildcard`.
    backends: [(&'static str, SocketAddr); 3],
    changed: Mutex<HashSet<usize>>,
}

impl Hosts {
    /// Host `i`'s table.
    fn table(&self, i: usize) -> Table {
        let changed = self.changed.lock().expect("changed lock").contains(&i);
        let backend = self.backends[usize::from(changed)].0;
        Table {
            key: fixture_host(i),
            vhost: virtual_host(&fixture_host(i), "/", backend),
        }
    }

    /// The tables of [`PATHS_HOST`] and [`WILDCARD_HOST`].
    fn specials(&self) -> [Table; 2] {
        [
            Table {
                key: PATHS_HOST.to_string(),
                vhost: virtual_host(PATHS_HOST, "/only", self.backends[0].0),
            },
            Table {
                key: WILDCARD_KEY.to_string(),
                vhost: virtual_host(WILDCARD_HOST, "/", self.backends[2].0),
            },
        ]
    }

    fn tables(&self) -> impl Iterator<Item = Table> + '_ {
        (0..self.n).map(|i| self.table(i)).chain(self.specials())
    }

    fn listener(&self) -> listener_v3::Listener {
        use hcm_v3::http_connection_manager::RouteSpecifier;
        use hcm_v3::scoped_routes::scope_key_builder::FragmentBuilder;
        use hcm_v3::scoped_routes::scope_key_builder::fragment_builder::{
            HeaderValueExtractor, Type, header_value_extractor::ExtractType,
        };
        let routes = if self.split == Split::Vhds {
            RouteSpecifier::Rds(hcm_v3::Rds {
                config_source: Some(ads_config_source()),
                route_config_name: ROUTE_CONFIG.to_string(),
            })
        } else {
            // The scope key is the host without its port, or what the Lua filter made of it.
            let (header, separator) = match self.split {
                Split::ScopedLua | Split::ScopedFallback => (SCOPE_HEADER, ""),
                _ => (":authority", ":"),
            };
            RouteSpecifier::ScopedRoutes(hcm_v3::ScopedRoutes {
                name: ROUTE_CONFIG.to_string(),
                scope_key_builder: Some(hcm_v3::scoped_routes::ScopeKeyBuilder {
                    fragments: vec![FragmentBuilder {
                        r#type: Some(Type::HeaderValueExtractor(HeaderValueExtractor {
                            name: header.to_string(),
                            element_separator: separator.to_string(),
                            extract_type: Some(ExtractType::Index(0)),
                        })),
                    }],
                }),
                rds_config_source: Some(ads_config_source()),
                config_specifier: Some(hcm_v3::scoped_routes::ConfigSpecifier::ScopedRds(
                    hcm_v3::ScopedRds {
                        scoped_rds_config_source: Some(ads_config_source()),
                        ..Default::default()
                    },
                )),
            })
        };
        let mut hcm = sesame_envoy::listener::http_connection_manager(ROUTE_CONFIG, routes);
        if matches!(self.split, Split::ScopedLua | Split::ScopedFallback) {
            let filter = scope_key_filter(self.split == Split::ScopedFallback);
            hcm.http_filters.insert(0, filter);
        }
        listener_v3::Listener {
            name: ROUTE_CONFIG.to_string(),
            address: Some(address(self.listener)),
            filter_chains: vec![listener_v3::FilterChain {
                filters: vec![sesame_envoy::listener::hcm_filter(&hcm)],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// A table as a VHDS resource.
    fn vhds_resource(&self, table: Table) -> (String, Any) {
        let mut vhost = table.vhost;
        vhost.name = format!("{ROUTE_CONFIG}/{}", vhost.name);
        (vhost.name.clone(), pack_any(vhost))
    }

    /// A table as its own route configuration (`route/<key>`). The Lua filter's header does not
    /// reach the backend.
    fn route_configuration(&self, table: Table) -> route_v3::RouteConfiguration {
        use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
        let mut vhost = table.vhost;
        if self.split == Split::ScopedFallback && table.key != WILDCARD_KEY {
            // Every route of an exact host says so, down to a last one answering 404 for the
            // paths it has no route for (so that they do not fall back to the wildcard).
            let exact = Value {
                kind: Some(Kind::BoolValue(true)),
            };
            let fields = [("exact".to_string(), exact)].into();
            let metadata = core_v3::Metadata {
                filter_metadata: [(LUA_FILTER.to_string(), Struct { fields })].into(),
                ..Default::default()
            };
            let not_found = RouteAction::DirectResponse {
                status: 404,
                body: None,
            };
            vhost.routes.push(route_v3::Route {
                r#match: Some(prefix_match("/")),
                action: Some(sesame_envoy::route::action(&not_found)),
                ..Default::default()
            });
            for route in &mut vhost.routes {
                route.metadata = Some(metadata.clone());
            }
        }
        let mut routes = route_v3::RouteConfiguration {
            name: format!("route/{}", table.key),
            virtual_hosts: vec![vhost],
            ignore_port_in_host_matching: true,
            ..Default::default()
        };
        if matches!(self.split, Split::ScopedLua | Split::ScopedFallback) {
            routes.request_headers_to_remove = vec![SCOPE_HEADER.to_string()];
        }
        routes
    }

    /// A table's scope, with its route configuration named or inline.
    fn scope(&self, table: Table) -> (String, Any) {
        use route_v3::scoped_route_configuration::{Key, key::Fragment, key::fragment::Type};
        let key = table.key.clone();
        let routes = self.route_configuration(table);
        let (route_configuration_name, route_configuration) = match self.split {
            Split::ScopedRds => (routes.name, None),
            _ => (String::new(), Some(routes)),
        };
        let name = format!("scope/{key}");
        let scope = route_v3::ScopedRouteConfiguration {
            name: name.clone(),
            route_configuration_name,
            route_configuration,
            key: Some(Key {
                fragments: vec![Fragment {
                    r#type: Some(Type::StringKey(key)),
                }],
            }),
            ..Default::default()
        };
        (name, pack_any(scope))
    }

    /// The table a route configuration name (`route/<key>`) stands for.
    fn table_named(&self, name: &str) -> Option<Table> {
        let key = name.strip_prefix("route/")?;
        if let Some(special) = self.specials().into_iter().find(|t| t.key == key) {
            return Some(special);
        }
        let i = key.strip_prefix("app-")?.split('.').next()?.parse().ok()?;
        Some(self.table(i))
    }

    /// The resources of `type_url` a request asks for: every one for a type's first request
    /// without names (a wildcard, or VHDS following its route configuration), else the ones
    /// it names.
    fn requested(&self, type_url: &str, all: bool, names: &[String]) -> Vec<(String, Any)> {
        if type_url == cluster_v3::Cluster::type_url() {
            return self
                .backends
                .iter()
                .map(|(name, addr)| (name.to_string(), pack_any(cluster(name, *addr))))
                .collect();
        }
        if type_url == listener_v3::Listener::type_url() {
            return vec![(ROUTE_CONFIG.to_string(), pack_any(self.listener()))];
        }
        if type_url == route_v3::ScopedRouteConfiguration::type_url() && all {
            return self.tables().map(|t| self.scope(t)).collect();
        }
        if type_url == route_v3::VirtualHost::type_url() && all {
            return self.tables().map(|t| self.vhds_resource(t)).collect();
        }
        if type_url == route_v3::RouteConfiguration::type_url() {
            return names
                .iter()
                .filter_map(|name| {
                    if name == ROUTE_CONFIG {
                        let vhds = route_v3::RouteConfiguration {
                            name: ROUTE_CONFIG.to_string(),
                            vhds: Some(route_v3::Vhds {
                                config_source: Some(ads_config_source()),
                            }),
                            // As Sesame's `ingress_http`.
                            ignore_port_in_host_matching: true,
                            ..Default::default()
                        };
                        return Some((name.clone(), pack_any(vhds)));
                    }
                    let routes = self.route_configuration(self.table_named(name)?);
                    Some((name.clone(), pack_any(routes)))
                })
                .collect();
        }
        Vec::new()
    }

    /// Re-routes host `i` to `changed`: the type and resource that carry the change.
    fn change(&self, i: usize) -> (String, (String, Any)) {
        self.changed.lock().expect("changed lock").insert(i);
        let table = self.table(i);
        match self.split {
            Split::Vhds => (route_v3::VirtualHost::type_url(), self.vhds_resource(table)),
            Split::ScopedRds => {
                let routes = self.route_configuration(table);
                (
                    route_v3::RouteConfiguration::type_url(),
                    (routes.name.clone(), pack_any(routes)),
                )
            }
            _ => (
                route_v3::ScopedRouteConfiguration::type_url(),
                self.scope(table),
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
    /// Responses Envoy rejected.
    nacks: Arc<AtomicUsize>,
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
                self.nacks.fetch_add(1, Ordering::Relaxed);
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

/// One row: N hosts split one way, a real Envoy, `changes` isolated changes.
async fn run(split: Split, n: usize, changes: usize) -> String {
    let fixture = harness::backend("fixture").await;
    let changed = harness::backend("changed").await;
    let wildcard = harness::backend("wildcard").await;
    let listener_port = harness::free_port();
    let hosts = Arc::new(Hosts {
        split,
        n,
        listener: SocketAddr::from(([127, 0, 0, 1], listener_port)),
        backends: [
            ("fixture", fixture.addr),
            ("changed", changed.addr),
            ("wildcard", wildcard.addr),
        ],
        changed: Mutex::new(HashSet::new()),
    });
    let ads = Ads {
        hosts: hosts.clone(),
        stream: Arc::new(Mutex::new(None)),
        nonce: Arc::new(AtomicU64::new(1)),
        nacks: Arc::new(AtomicUsize::new(0)),
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
    let admin = harness::free_port();
    harness::write_bootstrap(&bootstrap, xds_port, admin, &["--xds-mode", "delta"]);
    let started = Instant::now();
    let mut envoy = harness::Process::spawn(
        &mut harness::envoy_command(&bootstrap, "split"),
        dir.path().join("envoy.log"),
    );
    let sample: Vec<usize> = (0..100).map(|k| k * n / 100).chain([n - 1]).collect();
    let routed = wait_routed(listener_port, sample, PATIENCE).await;
    assert!(routed, "Envoy never routed the hosts\n{}", envoy.log());
    let start = started.elapsed();

    let mut client = KeepAlive::new(listener_port);
    // Host 0 written in upper case with the port, as a client may send it: routed by VHDS,
    // whose domains Envoy matches without regard to case or port.
    let mixed_case = format!("{}:80", fixture_host(0).to_uppercase());
    let mixed_case_routed = client.routes(&mixed_case, "fixture").await;
    // A host only the wildcard covers; and a path the exact host has no route for, which must
    // not fall through to the wildcard.
    let wildcard_routed = client.routes("other.bench.example.com", "wildcard").await;
    let paths = (
        client.get_path(PATHS_HOST, "/only").await,
        client.get_path(PATHS_HOST, "/elsewhere").await,
    );
    let exact_wins = matches!(paths, (Ok((200, Some(ref b))), Ok((404, _))) if b == "fixture");
    let mut requests = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let sent = Instant::now();
        assert!(client.routes(&fixture_host(0), "fixture").await);
        requests.push(sent.elapsed());
    }
    requests.sort();
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
    let nacks = ads.nacks.load(Ordering::Relaxed);
    assert_eq!(nacks, 0, "Envoy rejected configuration\n{}", envoy.log());
    format!(
        "| {n} | {} | {:.2} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {envoy_rss:.0} MiB |",
        split.label(),
        start.as_secs_f64(),
        yes_no(mixed_case_routed),
        yes_no(wildcard_routed),
        yes_no(exact_wins),
        ms(percentile(&requests, 0.5)),
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.9)),
        ms(percentile(&times, 0.99)),
        ms(times.first().copied().unwrap_or_default()),
    )
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
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
            "| N hosts | split | Envoy start → sampled hosts routing | `APP-0.…:80` routed | wildcard host routed | exact host's path miss is 404 | request p50 | changes | p50 | p90 | p99 | min | Envoy RSS |"
        );
        println!("|---:|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for n in sizes {
            for split in Split::ALL {
                println!("{}", run(split, n, changes).await);
            }
        }
    });
}

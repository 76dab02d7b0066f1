//! VHDS with a real Envoy over delta ADS: the listener's route configuration comes from the
//! delta-only overlay with a `vhds` source, its virtual hosts (`<route config>/<host>`) from the
//! VirtualHost table, and answers prove which virtual hosts Envoy holds. Skipped without Envoy
//! (`SESAME_ENVOY`, or the workspace's `.venv/bin/envoy` from `scripts/setup-envoy.sh`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::http::on_demand::v3 as on_demand_v3;
use envoy_types::pb::envoy::extensions::filters::http::router::v3 as router_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;
use sesame_envoy::ads_config_source;
use sesame_envoy::bootstrap::{AdminAddress, BootstrapConfig, XdsMode, bootstrap};
use sesame_xds::{ResourceType, SnapshotStore, Table, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(30);

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The Envoy binary, or `None` (with the reason printed) when there is none.
fn envoy_binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SESAME_ENVOY").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.venv/bin/envoy"
        ))),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        eprintln!("skipping: no Envoy (set SESAME_ENVOY or run scripts/setup-envoy.sh)");
    }
    found
}

/// A free port on 127.0.0.1.
fn free_port() -> Result<u16, std::io::Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Envoy, killed when dropped.
struct Envoy(Child);

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listener(port: u16) -> Any {
    let hcm = hcm_v3::HttpConnectionManager {
        stat_prefix: "vhds_http".to_string(),
        route_specifier: Some(hcm_v3::http_connection_manager::RouteSpecifier::Rds(
            hcm_v3::Rds {
                config_source: Some(ads_config_source()),
                route_config_name: "vhds_http".to_string(),
            },
        )),
        // On-demand VHDS: a host Envoy does not know is asked for as `vhds_http/<host>`.
        http_filters: vec![
            hcm_v3::HttpFilter {
                name: "envoy.filters.http.on_demand".to_string(),
                config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(pack_any(
                    on_demand_v3::OnDemand::default(),
                ))),
                ..Default::default()
            },
            hcm_v3::HttpFilter {
                name: "envoy.filters.http.router".to_string(),
                config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(pack_any(
                    router_v3::Router::default(),
                ))),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    pack_any(listener_v3::Listener {
        name: "vhds_http".to_string(),
        address: Some(core_v3::Address {
            address: Some(core_v3::address::Address::SocketAddress(
                core_v3::SocketAddress {
                    address: "127.0.0.1".to_string(),
                    port_specifier: Some(core_v3::socket_address::PortSpecifier::PortValue(
                        u32::from(port),
                    )),
                    ..Default::default()
                },
            )),
        }),
        filter_chains: vec![listener_v3::FilterChain {
            filters: vec![sesame_envoy::listener::hcm_filter(&hcm)],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A virtual host for `host` answering every request with `body`.
fn virtual_host(host: &str, body: &str) -> Any {
    pack_any(route_v3::VirtualHost {
        name: format!("vhds_http/{host}"),
        domains: vec![host.to_string()],
        routes: vec![route_v3::Route {
            r#match: Some(route_v3::RouteMatch {
                path_specifier: Some(route_v3::route_match::PathSpecifier::Prefix(
                    "/".to_string(),
                )),
                ..Default::default()
            }),
            action: Some(route_v3::route::Action::DirectResponse(
                route_v3::DirectResponseAction {
                    status: 200,
                    body: Some(core_v3::DataSource {
                        specifier: Some(core_v3::data_source::Specifier::InlineString(
                            body.to_string(),
                        )),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn virtual_hosts(hosts: &[(&str, &str)]) -> (Table, BTreeMap<String, Any>) {
    let map = hosts
        .iter()
        .map(|(h, b)| (format!("vhds_http/{h}"), virtual_host(h, b)))
        .collect();
    (Table::Shared(ResourceType::VirtualHost), map)
}

/// GET / with `Host: host` through Envoy; the status line and body, or an error text.
async fn get(port: u16, host: &str) -> String {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Ok::<_, std::io::Error>(text)
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "timed out".to_string(),
    }
}

async fn eventually(port: u16, host: &str, check: impl Fn(&str) -> bool) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let reply = get(port, host).await;
        if check(&reply) {
            return Ok(reply);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{host}: last reply {reply:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_gets_virtual_hosts_over_vhds_and_their_updates() -> TestResult {
    let Some(envoy) = envoy_binary() else {
        return Ok(());
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter("sesame_xds=debug")
        .with_test_writer()
        .try_init();
    let (http, admin) = (free_port()?, free_port()?);
    let store = SnapshotStore::new();
    // The route configuration pointing at VHDS. (Not `ingress_http`: the store makes that
    // one the inline table of every virtual host, for state-of-the-world clients.)
    let vhds = pack_any(route_v3::RouteConfiguration {
        name: "vhds_http".to_string(),
        vhds: Some(route_v3::Vhds {
            config_source: Some(ads_config_source()),
        }),
        ..Default::default()
    });
    store.publish(vec![
        (
            Table::Shared(ResourceType::Listener),
            BTreeMap::from([("vhds_http".to_string(), listener(http))]),
        ),
        (
            Table::Shared(ResourceType::RouteConfiguration),
            BTreeMap::from([("vhds_http".to_string(), vhds)]),
        ),
        virtual_hosts(&[("a.test", "A1"), ("b.test", "B1")]),
    ]);
    store.mark_ready();
    let listener_socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let xds_port = listener_socket.local_addr()?.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener_socket, store.clone(), async {
        let _ = stopped.await;
    }));

    let dir = tempfile::tempdir()?;
    let config = BootstrapConfig {
        xds_port,
        admin: AdminAddress::Tcp {
            address: "127.0.0.1".to_string(),
            port: admin,
        },
        xds_mode: XdsMode::Delta,
        ..Default::default()
    };
    let path = dir.path().join("envoy.json");
    std::fs::write(&path, bootstrap(&config).to_string())?;
    let log = std::fs::File::create(dir.path().join("envoy.log"))?;
    let _envoy = Envoy(
        Command::new(envoy)
            .arg("-c")
            .arg(&path)
            .args(["--service-cluster", "vhds", "--service-node", "vhds-test"])
            .args([
                "--disable-hot-restart",
                "--concurrency",
                "1",
                "--log-level",
                "warn",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    );
    let envoy_log = || std::fs::read_to_string(dir.path().join("envoy.log")).unwrap_or_default();

    let reply = eventually(http, "a.test", |r| r.ends_with("A1")).await;
    let reply = reply.map_err(|e| format!("{e}\n{}", envoy_log()))?;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(get(http, "b.test").await.ends_with("B1"));
    assert!(store.stats().responses_sent(ResourceType::VirtualHost) >= 1);

    // An update of one virtual host, one added, one removed: Envoy follows.
    store.publish(vec![virtual_hosts(&[("a.test", "A2"), ("c.test", "C1")])]);
    eventually(http, "a.test", |r| r.ends_with("A2"))
        .await
        .map_err(|e| format!("{e}\n{}", envoy_log()))?;
    eventually(http, "c.test", |r| r.ends_with("C1")).await?;
    eventually(http, "b.test", |r| r.starts_with("HTTP/1.1 404")).await?;
    // An unknown host is looked up on demand; the empty aliased answer ends the wait.
    let responses = store.stats().responses_sent(ResourceType::VirtualHost);
    let started = std::time::Instant::now();
    let reply = get(http, "unknown.test").await;
    assert!(
        reply.starts_with("HTTP/1.1 404"),
        "{reply}\n{}",
        envoy_log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(store.stats().responses_sent(ResourceType::VirtualHost) > responses);
    assert_eq!(store.stats().nacks(ResourceType::VirtualHost), 0);
    assert_eq!(store.stats().nacks(ResourceType::RouteConfiguration), 0);
    assert_eq!(store.stats().nacks(ResourceType::Listener), 0);
    let log = envoy_log();
    assert!(!log.contains("initial fetch timed out"), "{log}");
    assert!(!log.contains("rejected"), "{log}");

    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, server).await???;
    Ok(())
}

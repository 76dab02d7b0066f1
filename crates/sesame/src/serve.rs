//! `sesame serve`: flags, configuration, and the tasks of a running Sesame.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use sesame_api::Config;
use sesame_dag::dag::{GlobalRateLimit, TlsVersion};
use sesame_dag::policy::GlobalHeaders;
use sesame_dag::{BuildConfig, GatewayConfig, NamespacedName, UpstreamConfig};
use sesame_envoy::TranslateConfig;
use sesame_xds::SnapshotStore;
use sesame_xds::tls::{SharedConfig, TlsFiles};
use tokio::sync::{mpsc, watch};

use crate::controller::{Controller, Published};
use crate::holdoff::Holdoff;
use crate::kube::KubeArgs;
use crate::metrics::Metrics;

mod listener;

/// Flags of `sesame serve`, with Contour's names and defaults.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Read Kubernetes objects from the YAML and JSON files in this directory, and watch it
    /// (repeatable).
    #[arg(long = "manifests", value_name = "DIR")]
    pub manifests: Vec<PathBuf>,
    /// Address the xDS gRPC server listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub xds_address: IpAddr,
    /// Port the xDS gRPC server listens on.
    #[arg(long, default_value_t = 8001)]
    pub xds_port: u16,
    /// Serve xDS in plain text, without mutual TLS.
    #[arg(long)]
    pub insecure: bool,
    /// CA bundle that Envoy's client certificates must chain to (xDS mutual TLS).
    #[arg(long, env = "SESAME_CAFILE", value_name = "PATH")]
    pub sesame_cafile: Option<PathBuf>,
    /// Sesame's xDS server certificate (PEM chain).
    #[arg(long, env = "SESAME_CERT_FILE", value_name = "PATH")]
    pub sesame_cert_file: Option<PathBuf>,
    /// Sesame's xDS server key (PEM).
    #[arg(long, env = "SESAME_KEY_FILE", value_name = "PATH")]
    pub sesame_key_file: Option<PathBuf>,
    /// Address of Envoy's plain-HTTP listener.
    #[arg(long, default_value = "0.0.0.0")]
    pub envoy_service_http_address: IpAddr,
    /// Port of Envoy's plain-HTTP listener.
    #[arg(long, default_value_t = 8080)]
    pub envoy_service_http_port: u16,
    /// Address of Envoy's HTTPS listener.
    #[arg(long, default_value = "0.0.0.0")]
    pub envoy_service_https_address: IpAddr,
    /// Port of Envoy's HTTPS listener.
    #[arg(long, default_value_t = 8443)]
    pub envoy_service_https_port: u16,
    /// Address of Sesame's metrics and health endpoints (`/metrics`, `/healthz`).
    #[arg(long, default_value = "0.0.0.0")]
    pub http_address: IpAddr,
    /// Port of Sesame's metrics and health endpoints.
    #[arg(long, default_value_t = 8000)]
    pub http_port: u16,
    /// Address of Envoy's stats and readiness listener.
    #[arg(long, default_value = "0.0.0.0")]
    pub stats_address: IpAddr,
    /// Port of Envoy's stats and readiness listener.
    #[arg(long, default_value_t = 8002)]
    pub stats_port: u16,
    /// Address of Sesame's debug endpoints (`/status`, `/debug/dag`).
    #[arg(long, default_value = "127.0.0.1")]
    pub debug_http_address: IpAddr,
    /// Port of Sesame's debug endpoints.
    #[arg(long, default_value_t = 6060)]
    pub debug_http_port: u16,
    /// Serve only Ingresses of these classes (comma-separated). Unset: no class, or `sesame`.
    #[arg(long, value_delimiter = ',')]
    pub ingress_class_name: Vec<String>,
    /// Namespaces where root HTTPProxies may live (comma-separated). Unset: all namespaces.
    #[arg(long, value_delimiter = ',')]
    pub root_namespaces: Vec<String>,
    /// Path to the configuration file.
    #[arg(short = 'c', long = "config-path")]
    pub config_path: Option<PathBuf>,
    /// Wait this long after a change for more before building, when the last build was recent.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub holdoff_delay: Duration,
    /// Never hold a waiting change back longer than this after the previous build.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub holdoff_max_delay: Duration,
    /// The Kubernetes API server, leader election and status.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Envoy's access logs.
    #[command(flatten)]
    pub access_log: listener::AccessLogArgs,
}

impl ServeArgs {
    /// The xDS TLS files: all three flags or none; none needs `--insecure`.
    pub(crate) fn tls_files(&self) -> anyhow::Result<Option<TlsFiles>> {
        match (
            &self.sesame_cafile,
            &self.sesame_cert_file,
            &self.sesame_key_file,
        ) {
            (Some(ca), Some(cert), Some(key)) => {
                if self.insecure {
                    bail!(
                        "--insecure cannot be combined with --sesame-cafile, --sesame-cert-file and --sesame-key-file"
                    );
                }
                Ok(Some(TlsFiles {
                    ca: ca.clone(),
                    cert: cert.clone(),
                    key: key.clone(),
                }))
            }
            (None, None, None) => {
                if !self.insecure {
                    bail!(
                        "xDS needs mutual TLS (--sesame-cafile, --sesame-cert-file, --sesame-key-file) or, explicitly, --insecure"
                    );
                }
                Ok(None)
            }
            _ => bail!(
                "--sesame-cafile, --sesame-cert-file and --sesame-key-file go together: give all three or none"
            ),
        }
    }

    fn build_config(&self, config: &Config) -> anyhow::Result<BuildConfig> {
        let defaults = BuildConfig::default();
        let tls = |v: &Option<String>, default| {
            v.as_deref().and_then(TlsVersion::parse).unwrap_or(default)
        };
        Ok(BuildConfig {
            ingress_class_names: self
                .ingress_class_name
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            min_tls_version: tls(
                &config.tls.minimum_protocol_version,
                defaults.min_tls_version,
            ),
            max_tls_version: tls(
                &config.tls.maximum_protocol_version,
                defaults.max_tls_version,
            ),
            root_namespaces: self
                .root_namespaces
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            disable_permit_insecure: config.disable_permit_insecure,
            fallback_certificate: config
                .tls
                .fallback_certificate
                .as_ref()
                .map(|f| NamespacedName::new(f.namespace.as_str(), f.name.as_str())),
            upstream: upstream_config(config),
            policy: GlobalHeaders::from_config(&config.policy),
            gateway: self.gateway_config(config),
            default_global_rate_limit: default_global_rate_limit(config)?,
        })
    }

    /// The config file's `gateway` settings, with the Envoy ports Sesame's own listeners use
    /// (a Gateway listener may not take them).
    fn gateway_config(&self, config: &Config) -> Option<GatewayConfig> {
        let gateway = config.gateway.as_ref()?;
        let mut reserved_ports = vec![
            self.envoy_service_http_port,
            self.envoy_service_https_port,
            self.stats_port,
        ];
        reserved_ports.extend(config.network.admin_port());
        Some(GatewayConfig {
            controller_name: gateway.controller().to_string(),
            gateway_ref: gateway
                .gateway_ref
                .as_ref()
                .map(|r| NamespacedName::new(r.namespace.as_str(), r.name.as_str())),
            reserved_ports,
            addresses: gateway.address_ranges(),
        })
    }

    fn translate_config(&self, config: &Config) -> anyhow::Result<TranslateConfig> {
        Ok(TranslateConfig {
            http_listener: SocketAddr::new(
                self.envoy_service_http_address,
                self.envoy_service_http_port,
            ),
            https_listener: SocketAddr::new(
                self.envoy_service_https_address,
                self.envoy_service_https_port,
            ),
            stats_listener: SocketAddr::new(self.stats_address, self.stats_port),
            listener: self.access_log.listener_settings(config)?,
        })
    }
}

/// The config file's `rateLimitService.defaultGlobalRateLimitPolicy`, checked as an
/// HTTPProxy's would be; a bad one stops start-up.
fn default_global_rate_limit(config: &Config) -> anyhow::Result<Option<GlobalRateLimit>> {
    use sesame_dag::global_rate_limit::{GlobalPolicy, global_policy};
    let Some(policy) = config
        .rate_limit_service
        .as_ref()
        .and_then(|r| r.default_global_rate_limit_policy.as_ref())
    else {
        return Ok(None);
    };
    match global_policy("rateLimitService.defaultGlobalRateLimitPolicy", policy)
        .map_err(|e| anyhow::anyhow!("config file: {e}"))?
    {
        GlobalPolicy::Disabled => Ok(None),
        GlobalPolicy::Descriptors(limit) => Ok(Some(limit).filter(|l| !l.descriptors.is_empty())),
    }
}

/// The config file's upstream settings, as the build takes them.
fn upstream_config(config: &Config) -> UpstreamConfig {
    UpstreamConfig {
        connect_timeout: config.timeouts.connect_timeout(),
        enable_external_name_service: config.enable_external_name_service,
        dns_lookup_family: config.cluster.dns_lookup_family(),
        client_certificate: config
            .tls
            .envoy_client_certificate
            .as_ref()
            .map(|c| NamespacedName::new(c.namespace.as_str(), c.name.as_str())),
    }
}

/// A Go-style duration flag value (`100ms`, `1m30s`); a bad one fails start-up naming the flag.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    sesame_api::duration::parse_duration(text).map_err(|e| e.to_string())
}

/// Loads the configuration file, if one was named.
fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    let config = Config::from_yaml(&text)
        .with_context(|| format!("loading config file {}", path.display()))?;
    if config.tls.minimum_protocol_version.as_deref() == Some("1.1") {
        tracing::warn!(
            "config tls.minimum-protocol-version 1.1: TLS 1.1 is obsolete and insecure; honouring it as asked"
        );
    }
    if config.enable_external_name_service {
        tracing::warn!(
            "config enableExternalNameService: Services of type ExternalName are proxied to; anyone who can write a Service can point Envoy at any DNS name (CVE-2021-32783; local names and addresses are refused)"
        );
    }
    Ok(config)
}

/// How often the xDS TLS files are checked, besides the file watcher.
const TLS_CHECK_PERIOD: Duration = Duration::from_secs(10);

/// Runs `sesame serve` until interrupted.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args.config_path.as_ref())?;
    args.tls_files()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(args, config))
}

async fn serve(args: ServeArgs, config: Config) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let store = SnapshotStore::new();
    let (published, views) = Published::channel();
    let kube_plan = if args.kube.wanted(&config, !args.manifests.is_empty()) {
        Some(args.kube.plan(&config, &crate::kube::Environment::read())?)
    } else {
        None
    };

    let tls = match args.tls_files()? {
        Some(files) => {
            let config = files.server_config().context("xDS TLS certificates")?;
            let shared: SharedConfig = Arc::new(arc_swap::ArcSwap::new(config));
            let stats = Arc::new(sesame_xds::tls::reload::ReloadStats::default());
            let _ = metrics.tls_reload.set(stats.clone());
            tokio::spawn(sesame_xds::tls::reload::watch(
                files,
                shared.clone(),
                stats,
                TLS_CHECK_PERIOD,
            ));
            Some(shared)
        }
        None => None,
    };
    let xds_addr = SocketAddr::new(args.xds_address, args.xds_port);
    let http_addr = SocketAddr::new(args.http_address, args.http_port);
    let http_listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("--http-port: binding {http_addr}"))?;
    let debug_addr = SocketAddr::new(args.debug_http_address, args.debug_http_port);
    let debug_listener = tokio::net::TcpListener::bind(debug_addr)
        .await
        .with_context(|| format!("--debug-http-port: binding {debug_addr}"))?;
    let xds_leader_only = kube_plan.as_ref().is_some_and(|p| p.xds_leader_only);
    // Bound now, so that a port in use fails start-up, unless it opens only while leading.
    let xds_listener = if xds_leader_only {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(xds_addr)
                .await
                .with_context(|| format!("--xds-port: binding {xds_addr}"))?,
        )
    };
    tracing::info!(xds = %xds_addr, metrics = %http_addr, debug = %debug_addr, "sesame listening");

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shutdown = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut sources: tokio::task::JoinSet<(&'static str, anyhow::Result<()>)> =
        tokio::task::JoinSet::new();
    let (source_tx, source_rx) = mpsc::channel(64);
    let (leading_tx, leading_rx) = watch::channel(kube_plan.is_none());
    let mut source_count = 0;
    if !args.manifests.is_empty() {
        source_count += 1;
        let dirs = args.manifests.clone();
        let tx = source_tx.clone();
        sources.spawn(async move {
            let r = sesame_k8s::manifests::run(dirs, tx)
                .await
                .context("manifest source");
            ("manifest source", r)
        });
    }
    let mut api_health = None;
    let mut controller = Controller::new(
        args.build_config(&config)?,
        args.translate_config(&config)?,
        Holdoff::new(args.holdoff_delay, args.holdoff_max_delay),
        store.clone(),
        views,
        metrics.clone(),
    );
    if let Some(plan) = &kube_plan {
        source_count += 1;
        let client = plan
            .connection
            .client()
            .await
            .context("connecting to the Kubernetes API server")?;
        let kube = crate::kube::start(
            client,
            plan,
            source_tx.clone(),
            leading_tx,
            shutdown(shutdown_rx.clone()),
            &mut sources,
            &metrics,
        );
        api_health = Some(kube.health);
        controller = controller.with_kube(kube.link);
    } else {
        drop(leading_tx);
    }
    drop(source_tx);
    let controller = tokio::spawn(controller.with_sources(source_count).run(source_rx));

    let xds = tokio::spawn(serve_xds(
        xds_listener,
        tls,
        xds_addr,
        store.clone(),
        leading_rx.clone(),
        shutdown(shutdown_rx.clone()),
    ));
    let http = tokio::spawn(crate::http::serve_metrics(
        http_listener,
        metrics.clone(),
        store.clone(),
        shutdown(shutdown_rx.clone()),
    ));
    let debug = tokio::spawn(crate::http::serve_debug(
        debug_listener,
        crate::http::DebugState {
            published,
            api: api_health,
            leading: leading_rx,
        },
        shutdown(shutdown_rx.clone()),
    ));

    let stop = |tx: &watch::Sender<bool>| {
        let _ = tx.send(true);
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, shutting down"),
        _ = terminate() => tracing::info!("terminated, shutting down"),
        Some(r) = sources.join_next() => match r {
            Ok((name, Ok(()))) => tracing::info!(source = name, "source ended"),
            Ok((_, Err(e))) => { stop(&shutdown_tx); return Err(e); }
            Err(e) => { stop(&shutdown_tx); return Err(e).context("a source panicked"); }
        },
        r = controller => { stop(&shutdown_tx); r.context("rebuild loop panicked")?; bail!("rebuild loop ended"); }
        r = xds => { stop(&shutdown_tx); r.context("xDS server panicked")?.context("xDS server failed")?; bail!("xDS server ended"); }
    }
    stop(&shutdown_tx);
    // Give the election a moment to release the Lease, and the HTTP servers to finish.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while sources.join_next().await.is_some() {}
        let _ = http.await;
        let _ = debug.await;
    })
    .await;
    Ok(())
}

/// Serves xDS: on `listener` for the life of the process or, with `--xds-leader-only` (no
/// listener given), on `addr` only while this replica leads, closing it when leadership is lost
/// so the Envoys connected to it reconnect to the new leader.
async fn serve_xds(
    listener: Option<tokio::net::TcpListener>,
    tls: Option<SharedConfig>,
    addr: SocketAddr,
    store: SnapshotStore,
    mut leading: watch::Receiver<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if let Some(listener) = listener {
        return serve_on(listener, tls, store, shutdown).await;
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            r = leading.wait_for(|l| *l) => if r.is_err() { return Ok(()) },
            _ = &mut shutdown => return Ok(()),
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--xds-port: binding {addr}"))?;
        tracing::info!(xds = %addr, "leading: xDS port open");
        let mut lost = leading.clone();
        let until_lost = async move {
            let _ = lost.wait_for(|l| !*l).await;
        };
        tokio::select! {
            r = serve_on(listener, tls.clone(), store.clone(), until_lost) => r?,
            _ = &mut shutdown => return Ok(()),
        }
        tracing::info!(xds = %addr, "no longer leading: xDS port closed");
    }
}

/// Serves xDS on one listener, over mutual TLS when configured, until `until` completes.
async fn serve_on(
    listener: tokio::net::TcpListener,
    tls: Option<SharedConfig>,
    store: SnapshotStore,
    until: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    match tls {
        Some(config) => sesame_xds::tls::serve_tls(listener, config, store, until).await,
        None => sesame_xds::serve(listener, store, until).await,
    }
    .context("xDS server")
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}

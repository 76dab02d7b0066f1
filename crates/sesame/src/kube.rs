//! `sesame serve` against a Kubernetes API server: its flags, and the tasks that watch, elect a
//! leader and write status.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sesame_api::Config;
use sesame_dag::NamespacedName;
use sesame_k8s::SourceEvent;
use sesame_k8s::client::Connection;
use sesame_k8s::leader::LeaderElectionConfig;
use sesame_k8s::status::StatusUpdates;
use sesame_k8s::status::writer::RateLimit;
use sesame_k8s::watch::{ApiHealth, SecretRequest, WatchConfig};
use tokio::sync::{Notify, mpsc, watch};

use crate::controller::KubeLink;

/// The namespace Sesame runs in, when `SESAME_NAMESPACE` does not say.
pub const DEFAULT_NAMESPACE: &str = "projectsesame";

/// Flags of `sesame serve` for the Kubernetes API, with Contour's names and defaults.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Path to a kubeconfig file. Default: `$KUBECONFIG`, then `~/.kube/config`.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Reach the API server with the Pod's service account.
    #[arg(long)]
    pub incluster: bool,
    /// Watch only these namespaces (comma-separated). Unset: all namespaces.
    #[arg(long, value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,
    /// Do not elect a leader: this replica always writes status.
    #[arg(long)]
    pub disable_leader_election: bool,
    /// How long a Lease is valid without renewal. Default 15s.
    #[arg(long, value_parser = crate::serve::parse_duration)]
    pub leader_election_lease_duration: Option<Duration>,
    /// How long the leader keeps trying to renew before it stops leading. Default 10s.
    #[arg(long, value_parser = crate::serve::parse_duration)]
    pub leader_election_renew_deadline: Option<Duration>,
    /// How often to try to acquire or renew the Lease. Default 2s.
    #[arg(long, value_parser = crate::serve::parse_duration)]
    pub leader_election_retry_period: Option<Duration>,
    /// The name of the Lease. Default `leader-elect`.
    #[arg(long)]
    pub leader_election_resource_name: Option<String>,
    /// The namespace of the Lease. Default: Sesame's namespace.
    #[arg(long)]
    pub leader_election_resource_namespace: Option<String>,
    /// Open the xDS port only while leading, so that a TCP readiness probe on it sends every
    /// Envoy to the leader (the older mode; by default every replica serves xDS).
    #[arg(long)]
    pub xds_leader_only: bool,
    /// The name of the Envoy Service whose load balancer addresses go into status. Default
    /// `envoy`.
    #[arg(long)]
    pub envoy_service_name: Option<String>,
    /// The namespace of the Envoy Service. Default: Sesame's namespace.
    #[arg(long)]
    pub envoy_service_namespace: Option<String>,
    /// Addresses to publish in `status.loadBalancer` instead of the Envoy Service's
    /// (comma-separated IPs or host names).
    #[arg(long, value_delimiter = ',')]
    pub ingress_status_address: Vec<String>,
    /// Status writes per second, sustained.
    #[arg(long, default_value_t = RateLimit::default().per_second)]
    pub status_update_rate: f64,
    /// Status writes allowed at once after a quiet spell.
    #[arg(long, default_value_t = RateLimit::default().burst)]
    pub status_update_burst: u32,
    /// With `gateway` configured: how often a Gateway API kind whose CRD is not installed is
    /// listed again. Default 1m.
    #[arg(long, value_parser = crate::serve::parse_duration)]
    pub gateway_crd_recheck: Option<Duration>,
}

/// What Sesame takes from its environment, read once at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    /// `SESAME_NAMESPACE`: the namespace Sesame runs in, the default of every namespace setting
    /// (it does not override one set in the file).
    pub namespace: Option<String>,
    /// Whether `KUBECONFIG` is set. kube reads it itself (it may list several files); it
    /// overrides the file's `kubeconfig`.
    pub kubeconfig: bool,
}

impl Environment {
    /// Reads the process environment; empty values count as unset.
    pub fn read() -> Environment {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Environment {
            namespace: var("SESAME_NAMESPACE"),
            kubeconfig: var("KUBECONFIG").is_some(),
        }
    }
}

/// Everything resolved from flags, environment and config file.
#[derive(Debug)]
pub struct KubePlan {
    /// How to reach the API server.
    pub connection: Connection,
    /// What to watch.
    pub watch: WatchConfig,
    /// The election, unless disabled.
    pub election: Option<LeaderElectionConfig>,
    /// Open xDS only while leading.
    pub xds_leader_only: bool,
    /// The Envoy Service.
    pub envoy_service: NamespacedName,
    /// Configured load balancer addresses.
    pub status_addresses: Vec<String>,
    /// Status write rate.
    pub rate: RateLimit,
}

impl KubeArgs {
    /// Whether Sesame should watch an API server: asked for, or no manifests to read instead.
    pub fn wanted(&self, config: &Config, has_manifests: bool) -> bool {
        self.incluster
            || self.kubeconfig.is_some()
            || config.incluster
            || config.kubeconfig.is_some()
            || !has_manifests
    }

    /// Resolves defaults < config file < environment < flags.
    pub fn plan(&self, config: &Config, env: &Environment) -> anyhow::Result<KubePlan> {
        let namespace = env
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        let le = &config.leaderelection;
        let duration = |flag: Option<Duration>, file: &Option<String>, default: u64| {
            flag.or_else(|| {
                file.as_deref()
                    .and_then(|v| sesame_api::duration::parse_duration(v).ok())
            })
            .unwrap_or(Duration::from_secs(default))
        };
        let disabled = self.disable_leader_election || le.disable_leader_election.unwrap_or(false);
        let election = (!disabled).then(|| LeaderElectionConfig {
            lease_name: self
                .leader_election_resource_name
                .clone()
                .or_else(|| le.configmap_name.clone())
                .unwrap_or_else(|| "leader-elect".to_string()),
            namespace: self
                .leader_election_resource_namespace
                .clone()
                .or_else(|| le.configmap_namespace.clone())
                .unwrap_or_else(|| namespace.clone()),
            identity: identity(),
            lease_duration: duration(self.leader_election_lease_duration, &le.lease_duration, 15),
            renew_deadline: duration(self.leader_election_renew_deadline, &le.renew_deadline, 10),
            retry_period: duration(self.leader_election_retry_period, &le.retry_period, 2),
        });
        if let Some(e) = &election {
            e.validate().context("leader election settings")?;
        }
        let mut watch = WatchConfig {
            namespaces: self
                .watch_namespaces
                .iter()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect(),
            gateway: config.gateway.is_some(),
            crd_recheck: self
                .gateway_crd_recheck
                .unwrap_or(sesame_k8s::watch::CRD_RECHECK),
        };
        // As Contour: the client certificate's Secret can only be fetched from a watched
        // namespace.
        if let Some(client) = &config.tls.envoy_client_certificate
            && !watch.namespaces.is_empty()
            && !watch.namespaces.contains(&client.namespace)
        {
            anyhow::bail!(
                "tls.envoy-client-certificate: its namespace {:?} must be watched: add it to --watch-namespaces",
                client.namespace
            );
        }
        let envoy_service = NamespacedName::new(
            self.envoy_service_namespace
                .clone()
                .or_else(|| config.envoy_service_namespace.clone())
                .unwrap_or(namespace),
            self.envoy_service_name
                .clone()
                .or_else(|| config.envoy_service_name.clone())
                .unwrap_or_else(|| "envoy".to_string()),
        );
        // The Envoy Service's addresses are read from the watch: watch its namespace too.
        if !watch.namespaces.is_empty()
            && !watch
                .namespaces
                .iter()
                .any(|n| **n == *envoy_service.namespace)
        {
            watch.namespaces.push(envoy_service.namespace.to_string());
        }
        let mut status_addresses = self.ingress_status_address.clone();
        if status_addresses.is_empty()
            && let Some(a) = &config.ingress_status_address
        {
            status_addresses = a.split(',').map(|s| s.trim().to_string()).collect();
        }
        if self.status_update_rate.is_nan() || self.status_update_rate <= 0.0 {
            anyhow::bail!("--status-update-rate must be positive");
        }
        Ok(KubePlan {
            connection: Connection {
                incluster: self.incluster || config.incluster,
                // None lets kube read `$KUBECONFIG`, then `~/.kube/config`.
                kubeconfig: self.kubeconfig.clone().or_else(|| {
                    config
                        .kubeconfig
                        .as_ref()
                        .filter(|_| !env.kubeconfig)
                        .map(PathBuf::from)
                }),
            },
            watch,
            election,
            xds_leader_only: self.xds_leader_only || le.xds_leader_only.unwrap_or(false),
            envoy_service,
            status_addresses: status_addresses
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            rate: RateLimit {
                per_second: self.status_update_rate,
                burst: self.status_update_burst,
            },
        })
    }
}

/// This replica's name in the election: `POD_NAME`, else the host name, then a random suffix
/// (as controller-runtime does) so that two processes on one host never share an identity.
fn identity() -> String {
    use std::hash::BuildHasher;
    let name = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "sesame".to_string());
    let suffix = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("{name}_{:08x}", suffix as u32)
}

#[cfg(test)]
mod tests;

/// The running Kubernetes tasks' handles to the rest of Sesame.
pub struct KubeTasks {
    /// The link the rebuild loop uses.
    pub link: KubeLink,
    /// The source's health, for `/status`.
    pub health: watch::Receiver<ApiHealth>,
}

/// Starts the API-server source, the status writer and the election. `leading` is driven by
/// the election (or set for good when it is disabled).
pub fn start(
    client: kube::Client,
    plan: &KubePlan,
    source: mpsc::Sender<SourceEvent>,
    leading: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    tasks: &mut tokio::task::JoinSet<(&'static str, anyhow::Result<()>)>,
    metrics: &crate::metrics::Metrics,
) -> KubeTasks {
    let (secrets_tx, secrets_rx) = mpsc::channel::<SecretRequest>(4);
    let (health_tx, health_rx) = watch::channel(ApiHealth::default());
    let watch_client = client.clone();
    let watch_config = plan.watch.clone();
    tasks.spawn(async move {
        let r = sesame_k8s::watch::run(watch_client, watch_config, source, secrets_rx, health_tx)
            .await
            .context("API-server source");
        ("API-server source", r)
    });

    let (status_tx, status_rx) = watch::channel(Arc::new(StatusUpdates::new()));
    let leading_rx = leading.subscribe();
    let refresh = Arc::new(Notify::new());
    let writer = sesame_k8s::status::writer::run(
        client.clone(),
        status_rx,
        leading.subscribe(),
        refresh.clone(),
        plan.rate,
        Arc::new(metrics.status_writes.clone()),
    );
    tokio::spawn(writer);

    match plan.election.clone() {
        Some(election) => {
            tasks.spawn(async move {
                let r = sesame_k8s::leader::run(client, election, leading, shutdown)
                    .await
                    .context("leader election");
                ("leader election", r)
            });
        }
        None => {
            leading.send_replace(true);
            // Keep the sender alive for the life of the process.
            tokio::spawn(async move {
                leading.closed().await;
            });
        }
    }
    KubeTasks {
        link: KubeLink {
            secrets: secrets_tx,
            status: status_tx,
            refresh,
            leading: leading_rx,
            status_addresses: plan.status_addresses.clone(),
            envoy_service: plan.envoy_service.clone(),
        },
        health: health_rx,
    }
}

//! Connecting to the API server: from inside a Pod, or with a kubeconfig file.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Where the API server's address and credentials come from.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    /// Use the Pod's service account (`KUBERNETES_SERVICE_HOST`, the mounted token and CA).
    pub incluster: bool,
    /// A kubeconfig file; unset: `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
}

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The in-cluster environment is incomplete.
    #[error("in-cluster configuration: {0}")]
    InCluster(#[source] kube::config::InClusterError),
    /// The kubeconfig file cannot be read or parsed.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file, or `$KUBECONFIG / ~/.kube/config`.
        path: String,
        /// What went wrong.
        source: kube::config::KubeconfigError,
    },
    /// The client cannot be built from the configuration (TLS material, proxy).
    #[error("kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

impl Connection {
    /// A client for this connection, with rustls.
    pub async fn client(&self) -> Result<Client, Error> {
        let config = if self.incluster {
            Config::incluster().map_err(Error::InCluster)?
        } else {
            let (kubeconfig, path) = match &self.kubeconfig {
                Some(path) => (Kubeconfig::read_from(path), path.display().to_string()),
                None => (
                    Kubeconfig::read(),
                    "$KUBECONFIG or ~/.kube/config".to_string(),
                ),
            };
            let kubeconfig = kubeconfig.map_err(|source| Error::Kubeconfig {
                path: path.clone(),
                source,
            })?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|source| Error::Kubeconfig { path, source })?
        };
        Client::try_from(config).map_err(Error::Client)
    }
}

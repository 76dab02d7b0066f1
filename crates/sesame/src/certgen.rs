//! `sesame certgen`: generates the CA and the `sesame` (xDS server) and `envoy` (xDS client)
//! certificates, and writes them as PEM files, Secret manifests or Secrets in the cluster.

mod cluster;
mod files;
pub(crate) mod pki;
pub(crate) mod secrets;

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgGroup, Args};

pub use secrets::SecretsFormat;

/// Flags of `sesame certgen`, with Contour's names.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("output").required(true).multiple(true).args(["pem", "yaml", "kube"])
))]
pub struct CertgenArgs {
    /// Directory for `--pem` and `--yaml` output.
    #[arg(default_value = "certs")]
    pub outdir: PathBuf,
    /// Write the certificates and keys as PEM files.
    #[arg(long)]
    pub pem: bool,
    /// Write the Secrets as YAML manifests, one file per Secret.
    #[arg(long)]
    pub yaml: bool,
    /// Create the Secrets in the cluster.
    #[arg(long)]
    pub kube: bool,
    /// Replace existing files and Secrets instead of leaving them.
    #[arg(long)]
    pub overwrite: bool,
    /// With `--kube`: use the Pod's service account.
    #[arg(long, conflicts_with = "kubeconfig")]
    pub incluster: bool,
    /// With `--kube`: the kubeconfig file (default `$KUBECONFIG`, then `~/.kube/config`).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of the Secrets and of the Services named in the certificates.
    #[arg(long, env = "SESAME_NAMESPACE", default_value = "projectsesame")]
    pub namespace: String,
    /// How long the certificates are valid, in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub certificate_lifetime: u32,
    /// Layout of the Secrets.
    #[arg(long, value_enum, default_value_t = SecretsFormat::Legacy)]
    pub secrets_format: SecretsFormat,
    /// Appended to the name of every Secret (may start with `-`, as in `-x`).
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub secrets_name_suffix: String,
}

/// Generates the certificates and writes every requested output.
pub fn run(args: &CertgenArgs) -> anyhow::Result<()> {
    if args.namespace.is_empty() {
        anyhow::bail!("--namespace must not be empty");
    }
    let certs = pki::generate(
        &args.namespace,
        args.certificate_lifetime,
        time::OffsetDateTime::now_utc(),
    )
    .context("generating certificates")?;
    let secrets = secrets::secrets(
        &certs,
        args.secrets_format,
        &args.namespace,
        &args.secrets_name_suffix,
    );
    if args.pem {
        files::write_pem(&args.outdir, &certs, args.overwrite)?;
    }
    if args.yaml {
        files::write_yaml(&args.outdir, &secrets, args.overwrite)?;
    }
    if args.kube {
        let connection = sesame_k8s::client::Connection {
            incluster: args.incluster,
            kubeconfig: args.kubeconfig.clone(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        runtime.block_on(cluster::create(&connection, &secrets, args.overwrite))?;
    }
    Ok(())
}

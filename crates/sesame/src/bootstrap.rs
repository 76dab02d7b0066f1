//! `sesame bootstrap`: writes the Envoy bootstrap that points Envoy at Sesame over ADS.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use sesame_envoy::bootstrap::{
    AdminAddress, BootstrapConfig, CertificateDelivery, DnsLookupFamily, XdsMode, XdsTls,
    bootstrap, sds_files,
};

/// Flags of `sesame bootstrap`, with Contour's names.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Where to write the bootstrap JSON (`-` for standard output).
    pub path: PathBuf,
    /// Address of Sesame's xDS server.
    #[arg(long, default_value = "127.0.0.1")]
    pub xds_address: String,
    /// Port of Sesame's xDS server.
    #[arg(long, default_value_t = 8001)]
    pub xds_port: u16,
    /// Envoy's admin address: an IP address, or the path of a Unix socket.
    #[arg(long, default_value = "127.0.0.1")]
    pub admin_address: String,
    /// Envoy's admin port (when the admin address is an IP address).
    #[arg(long, default_value_t = 9001)]
    pub admin_port: u16,
    /// DNS lookup family for the xDS cluster: auto, v4, v6 or all.
    #[arg(long, default_value = "auto", value_parser = parse_family)]
    pub dns_lookup_family: DnsLookupFamily,
    /// The namespace Sesame runs in.
    #[arg(long, env = "SESAME_NAMESPACE", default_value = "projectsesame")]
    pub namespace: String,
    /// The xDS API version: `v3`, the only one.
    #[arg(long, default_value = "v3", value_parser = ["v3"])]
    pub xds_resource_version: String,
    /// The xDS protocol Envoy speaks over ADS: `sotw` (state of the world) or `delta`
    /// (incremental: only changed resources are sent).
    #[arg(long, env = "SESAME_XDS_MODE", default_value = "delta", value_parser = parse_xds_mode)]
    pub xds_mode: XdsMode,
    /// CA bundle that Sesame's xDS server certificate must chain to (mutual TLS).
    #[arg(long, env = "ENVOY_CAFILE", value_name = "PATH")]
    pub envoy_cafile: Option<PathBuf>,
    /// Envoy's client certificate for xDS (PEM chain).
    #[arg(long, env = "ENVOY_CERT_FILE", value_name = "PATH")]
    pub envoy_cert_file: Option<PathBuf>,
    /// Envoy's client key for xDS (PEM).
    #[arg(long, env = "ENVOY_KEY_FILE", value_name = "PATH")]
    pub envoy_key_file: Option<PathBuf>,
    /// Write the xDS certificates as SDS files under this directory, which Envoy watches, so a
    /// rotated certificate or CA is used without restarting Envoy. Without it the file names
    /// are inline in the bootstrap and read once.
    #[arg(long, value_name = "DIR")]
    pub resources_dir: Option<PathBuf>,
}

impl BootstrapArgs {
    /// The xDS TLS settings: all three files or none. The files must exist and not be empty
    /// (Envoy would otherwise start with no way to reach Sesame).
    fn xds_tls(&self) -> anyhow::Result<Option<XdsTls>> {
        let (ca, cert, key) = match (
            &self.envoy_cafile,
            &self.envoy_cert_file,
            &self.envoy_key_file,
        ) {
            (None, None, None) => {
                if self.resources_dir.is_some() {
                    tracing::warn!(
                        "--resources-dir without --envoy-cafile, --envoy-cert-file and --envoy-key-file: nothing to write there"
                    );
                }
                return Ok(None);
            }
            (Some(ca), Some(cert), Some(key)) => (ca, cert, key),
            _ => bail!(
                "--envoy-cafile, --envoy-cert-file and --envoy-key-file go together: give all three or none"
            ),
        };
        for (flag, path) in [
            ("--envoy-cafile", ca),
            ("--envoy-cert-file", cert),
            ("--envoy-key-file", key),
        ] {
            let meta =
                std::fs::metadata(path).with_context(|| format!("{flag} {}", path.display()))?;
            if meta.len() == 0 {
                bail!("{flag} {}: the file is empty", path.display());
            }
        }
        let text = |p: &PathBuf| p.display().to_string();
        Ok(Some(XdsTls {
            ca_file: text(ca),
            cert_file: text(cert),
            key_file: text(key),
            delivery: match &self.resources_dir {
                Some(dir) => CertificateDelivery::Sds {
                    resources_dir: text(dir),
                },
                None => CertificateDelivery::Inline,
            },
        }))
    }
}

fn parse_xds_mode(s: &str) -> Result<XdsMode, String> {
    s.parse::<XdsMode>().map_err(|e| e.to_string())
}

fn parse_family(s: &str) -> Result<DnsLookupFamily, String> {
    s.parse::<DnsLookupFamily>().map_err(|e| e.to_string())
}

/// Writes the bootstrap.
pub fn run(args: &BootstrapArgs) -> anyhow::Result<()> {
    let admin = if args.admin_address.parse::<IpAddr>().is_ok() || args.admin_address == "localhost"
    {
        AdminAddress::Tcp {
            address: args.admin_address.clone(),
            port: args.admin_port,
        }
    } else {
        AdminAddress::Unix(args.admin_address.clone())
    };
    let config = BootstrapConfig {
        xds_address: args.xds_address.clone(),
        xds_port: args.xds_port,
        admin,
        dns_lookup_family: args.dns_lookup_family,
        namespace: args.namespace.clone(),
        xds_tls: args.xds_tls()?,
        xds_mode: args.xds_mode,
    };
    if let Some(dir) = &args.resources_dir {
        for (file, content) in sds_files(&config) {
            let path = dir.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let mut text =
                serde_json::to_string_pretty(&content).context("encoding an SDS file")?;
            text.push('\n');
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let mut text =
        serde_json::to_string_pretty(&bootstrap(&config)).context("encoding the bootstrap")?;
    text.push('\n');
    if args.path.as_os_str() == "-" {
        std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing the bootstrap to stdout")?;
    } else {
        std::fs::write(&args.path, text)
            .with_context(|| format!("writing the bootstrap to {}", args.path.display()))?;
    }
    Ok(())
}

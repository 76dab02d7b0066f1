//! `sesame bootstrap`: writes the Envoy bootstrap that points Envoy at Sesame over ADS.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sesame_envoy::bootstrap::{AdminAddress, BootstrapConfig, DnsLookupFamily, bootstrap};

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
        ..BootstrapConfig::default()
    };
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

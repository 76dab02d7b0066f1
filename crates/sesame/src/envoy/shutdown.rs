//! `sesame envoy shutdown`: drain Envoy before it is stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::Method;
use tracing::{info, warn};

use super::admin::AdminAddress;
use super::prometheus;

/// How many times the health check is failed before giving up.
const FAIL_ATTEMPTS: u32 = 4;

/// The pause after the first failed attempt; it doubles after each one.
const FAIL_BACKOFF: Duration = Duration::from_millis(250);

/// Flags of `sesame envoy shutdown` (Contour's names and defaults).
#[derive(Debug, clap::Args)]
pub struct ShutdownArgs {
    /// Envoy's admin interface: a Unix socket path, or host:port.
    #[arg(long, default_value = "/admin/admin.sock")]
    pub admin_address: AdminAddress,
    /// How long to wait before failing Envoy's health check.
    #[arg(long, default_value = "0s", value_parser = super::duration)]
    pub drain_delay: Duration,
    /// How long to wait after failing the health check before counting connections.
    #[arg(long, default_value = "0s", value_parser = super::duration)]
    pub check_delay: Duration,
    /// How often to count open connections.
    #[arg(long, default_value = "5s", value_parser = super::duration)]
    pub check_interval: Duration,
    /// The number of open connections at or below which the drain is over.
    #[arg(long, default_value_t = 0)]
    pub min_open_connections: u64,
    /// The file written once the drain is over.
    #[arg(long, default_value = "/admin/ok")]
    pub ready_file: PathBuf,
}

/// Fails Envoy's health check, waits for the ingress listeners to drain, writes the ready file.
pub async fn run(args: ShutdownArgs) -> anyhow::Result<()> {
    info!(delay = ?args.drain_delay, "waiting before draining");
    tokio::time::sleep(args.drain_delay).await;
    fail_health_check(&args.admin_address).await?;
    info!(delay = ?args.check_delay, "failed Envoy's health check");
    tokio::time::sleep(args.check_delay).await;
    wait_for_drain(&args).await?;
    write_ready_file(&args.ready_file)?;
    info!(file = %args.ready_file.display(), "drained: wrote the ready file");
    Ok(())
}

/// POSTs `/healthcheck/fail`, retrying with a doubling pause.
async fn fail_health_check(admin: &AdminAddress) -> anyhow::Result<()> {
    let mut pause = FAIL_BACKOFF;
    for attempt in 1..=FAIL_ATTEMPTS {
        let result = admin
            .request(Method::POST, "/healthcheck/fail")
            .await
            .and_then(|reply| reply.ok("/healthcheck/fail"));
        match result {
            Ok(_) => return Ok(()),
            Err(e) if attempt < FAIL_ATTEMPTS => {
                warn!(attempt, error = %format!("{e:#}"), "failing the health check");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "failing Envoy's health check at {admin} ({FAIL_ATTEMPTS} attempts)"
                )));
            }
        }
    }
    bail!("failing Envoy's health check at {admin}")
}

/// Counts open connections every check interval until there are few enough.
///
/// A failed count is logged and retried at the next interval: Envoy may be busy, and the
/// kubelet's grace period bounds the wait anyway.
async fn wait_for_drain(args: &ShutdownArgs) -> anyhow::Result<()> {
    let path = format!(
        "/stats/prometheus?filter={}",
        query_escape(prometheus::DOWNSTREAM_CX_ACTIVE_FILTER)
    );
    let mut interval = tokio::time::interval(args.check_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let reply = args.admin_address.request(Method::GET, &path).await;
        match reply.and_then(|r| r.ok("/stats/prometheus")) {
            Ok(text) => {
                let open = prometheus::open_connections(&text);
                info!(
                    open_connections = open,
                    min_open_connections = args.min_open_connections,
                    "counted open connections"
                );
                if open <= args.min_open_connections {
                    return Ok(());
                }
            }
            Err(e) => warn!(error = %format!("{e:#}"), "counting open connections"),
        }
    }
}

/// Creates the ready file, and its parent directories.
fn write_ready_file(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, b"").with_context(|| format!("writing {}", path.display()))
}

/// Percent-encodes everything but unreserved characters, for a query value.
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;

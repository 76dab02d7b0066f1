//! `sesame envoy`: helpers that run beside Envoy in its pod to drain it gracefully, as
//! `contour envoy shutdown-manager` and `contour envoy shutdown` do.
//!
//! `shutdown` (the sidecar's preStop hook) fails Envoy's health check, waits for the ingress
//! listeners' open connections to drain, then writes a ready file; `shutdown-manager` (a
//! sidecar, whose `/shutdown` is Envoy's preStop hook) answers only once that file exists, so the
//! kubelet holds off killing Envoy until the drain is over.

pub(crate) mod admin;
mod prometheus;
mod shutdown;
mod shutdown_manager;

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

/// The `sesame envoy` subcommands.
#[derive(Debug, Subcommand)]
pub enum EnvoyCommand {
    /// Serve `/healthz` and `/shutdown`, which answers once the drain's ready file exists.
    ShutdownManager(shutdown_manager::ShutdownManagerArgs),
    /// Fail Envoy's health check, wait for open connections to drain, then write the ready file.
    Shutdown(shutdown::ShutdownArgs),
}

/// Runs one `sesame envoy` subcommand to completion.
pub fn run(command: EnvoyCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match command {
        EnvoyCommand::ShutdownManager(args) => runtime.block_on(shutdown_manager::run(args)),
        EnvoyCommand::Shutdown(args) => runtime.block_on(shutdown::run(args)),
    }
}

/// Parses a Go-style duration flag (`5s`, `500ms`, `1m30s`).
fn duration(value: &str) -> Result<Duration, String> {
    sesame_api::duration::parse_duration(value).map_err(|e| e.to_string())
}

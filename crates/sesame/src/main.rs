//! `sesame`: the binary. Command line, configuration loading, the rebuild loop, the metrics,
//! health and debug endpoints, and `sesame bootstrap`.
//!
//! Stage: the outermost I/O shell. It wires the sources (`sesame-k8s`) into the pure core
//! (`sesame-dag`, `sesame-envoy`) and the result into the xDS server (`sesame-xds`).

mod bootstrap;
mod certgen;
mod cli;
mod controller;
mod envoy;
mod holdoff;
mod http;
mod kube;
#[cfg(test)]
mod manifests_tests;
mod metrics;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};

/// Sesame: a Kubernetes ingress controller that configures Envoy over xDS.
#[derive(Debug, Parser)]
#[command(name = "sesame", version, about, long_about = None)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Watch Kubernetes objects and serve Envoy configuration over xDS.
    Serve(Box<serve::ServeArgs>),
    /// Write Envoy's bootstrap configuration.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Help Envoy shut down gracefully: drain it, and hold off its stop until drained.
    Envoy {
        #[command(subcommand)]
        command: envoy::EnvoyCommand,
    },
    /// Generate the CA and the Sesame and Envoy certificates for xDS TLS.
    Certgen(certgen::CertgenArgs),
    /// Ask a running Sesame's xDS server for resources and print them (a debugging client).
    Cli(Box<cli::CliArgs>),
    /// Print the version.
    Version,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Bootstrap(args) => bootstrap::run(&args),
        Command::Envoy { command } => envoy::run(command),
        Command::Certgen(args) => certgen::run(&args),
        Command::Cli(args) => cli::run(*args),
        Command::Version => {
            println!("sesame {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("sesame: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

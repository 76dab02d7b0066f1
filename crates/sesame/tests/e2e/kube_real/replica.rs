//! A second `sesame serve` replica with an identity of its own.
//!
//! A replica's identity in leader election is `POD_NAME`, else the host name, so every
//! replica the harness starts on one machine has the same one, and each takes a Lease naming
//! that host for its own and leads at once. A fail-over test needs two identities: this
//! replica runs with `POD_NAME` set. It serves no Envoy; its debug page says whether it leads.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::daemon::Daemon;
use crate::harness::{free_port, get_plain};

/// A `sesame serve` replica watching an API server, with every listener on a free port of
/// 127.0.0.1.
pub struct Replica {
    daemon: Daemon,
    debug_port: u16,
    _dir: tempfile::TempDir,
}

impl Replica {
    /// Starts `sesame serve --kubeconfig <kubeconfig>` as `identity`, with `extra` flags.
    pub fn start(kubeconfig: &Path, identity: &str, extra: &[&str]) -> Replica {
        let dir = tempfile::tempdir().expect("temp dir");
        let debug_port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sesame"));
        command
            .args(["serve", "--insecure", "--kubeconfig"])
            .arg(kubeconfig);
        for (name, port) in [
            ("xds", free_port()),
            ("http", free_port()),
            ("debug-http", debug_port),
            ("envoy-service-http", free_port()),
            ("envoy-service-https", free_port()),
            ("stats", free_port()),
        ] {
            command
                .arg(format!("--{name}-address"))
                .arg("127.0.0.1")
                .arg(format!("--{name}-port"))
                .arg(port.to_string());
        }
        command
            .args(extra)
            .env("SESAME_LOG", "info")
            .env("POD_NAME", identity);
        let log = dir.path().join("sesame.log");
        Replica {
            daemon: Daemon::spawn(&format!("sesame {identity}"), &mut command, log),
            debug_port,
            _dir: dir,
        }
    }

    /// Whether its debug `/status` says it leads (false while it does not answer).
    pub async fn leading(&self) -> bool {
        let Ok(reply) = get_plain(self.debug_port, "127.0.0.1", "/status").await else {
            return false;
        };
        serde_json::from_str::<Value>(&reply.body).is_ok_and(|page| page["leading"] == true)
    }

    /// The end of its log.
    pub fn log(&self) -> String {
        self.daemon.log()
    }
}

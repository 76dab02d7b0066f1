//! A network namespace for the echo backends. A real API server refuses loopback addresses in
//! EndpointSlices, so the backends listen on the namespace's end of a veth pair, on an address
//! from 198.18.0.0/15 (the range set aside for benchmarking, never routed anywhere), and the
//! EndpointSlices point there. No traffic goes to any other address.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use super::daemon::Daemon;
use crate::harness::{PATIENCE, eventually};

/// The first port a backend listens on; the namespace is new, so every port in it is free.
const FIRST_PORT: u16 = 8001;

/// A network namespace joined to the host by a veth pair, and the backends running in it.
/// Dropping it kills the backends and deletes the pair and the namespace.
pub struct Netns {
    name: String,
    host_link: String,
    /// The namespace's end of the pair: the only address the backends listen on.
    pub ip: Ipv4Addr,
    backends: Vec<Daemon>,
    logs: tempfile::TempDir,
}

impl Netns {
    /// Creates the namespace and the pair, each end with its address in a /30 of its own
    /// (chosen by process id, so two runs at once do not meet) and up. Panics with what `ip`
    /// said if it may not (creating a namespace needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN).
    pub fn create() -> Netns {
        let pid = std::process::id();
        let block = pid % (1 << 14);
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + block * 4;
        let (host_ip, ns_ip) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        let name = format!("sesame-e2e-{pid}");
        if let Err(e) = ip(&["netns", "add", &name]) {
            panic!(
                "this test runs its backends in a network namespace and could not create one \
                 (`ip netns add {name}` needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN): {e}"
            );
        }
        let netns = Netns {
            name,
            host_link: format!("sesh{pid}"),
            ip: ns_ip,
            backends: Vec::new(),
            logs: tempfile::tempdir().expect("temp dir"),
        };
        let peer = format!("sesn{pid}");
        let (n, host) = (netns.name.as_str(), netns.host_link.as_str());
        let steps: [&[&str]; 7] = [
            &["link", "add", host, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", n],
            &["addr", "add", &format!("{host_ip}/30"), "dev", host],
            &["link", "set", host, "up"],
            &["-n", n, "addr", "add", &format!("{ns_ip}/30"), "dev", &peer],
            &["-n", n, "link", "set", &peer, "up"],
            &["-n", n, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if let Err(e) = ip(step) {
                panic!(
                    "setting up the network namespace {n}: `ip {}`: {e}",
                    step.join(" ")
                );
            }
        }
        netns
    }

    /// Starts an echo backend named `name` inside the namespace and waits until it accepts
    /// connections; returns its address. It answers every GET as the harness's echo backend
    /// does: `x-backend: <name>` and a body naming the backend and the path, then the headers.
    pub async fn backend(&mut self, name: &str) -> SocketAddr {
        let port = FIRST_PORT + u16::try_from(self.backends.len()).expect("few backends");
        let addr = SocketAddr::from((self.ip, port));
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name, "python3", "-c", ECHO_SERVER])
            .args([name, &self.ip.to_string(), &port.to_string()]);
        let log = self.logs.path().join(format!("backend-{name}.log"));
        let mut daemon = Daemon::spawn(&format!("backend {name}"), &mut command, log);
        let up = eventually(PATIENCE, || async {
            tokio::net::TcpStream::connect(addr).await.is_ok()
        })
        .await;
        daemon.assert_running();
        assert!(
            up,
            "backend {name} never listened on {addr}\n{}",
            daemon.log()
        );
        self.backends.push(daemon);
        addr
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // The backends first: a namespace with processes in it outlives `ip netns del`.
        self.backends.clear();
        let _ = ip(&["link", "del", &self.host_link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Runs `ip` with `args`; its standard error if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// The echo backend, run by `python3 -c` with arguments name, address, port.
const ECHO_SERVER: &str = r#"
import http.server, sys
name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        lines = [f"{name} {self.path}"]
        lines += [f"{k.lower()}: {v}" for k, v in self.headers.items()]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("x-backend", name)
        self.send_header("x-echo", "yes")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer((host, port), Echo).serve_forever()
"#;

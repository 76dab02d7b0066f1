//! The end-to-end harness: a real `sesame serve --manifests`, a real Envoy bootstrapped by
//! `sesame bootstrap`, echo backends and an HTTP(S) client, all on 127.0.0.1.

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// How long a behaviour may take to show before a test gives up.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A free TCP port on 127.0.0.1 for Sesame or Envoy to bind later, never the same one twice in
/// a process.
///
/// Ports come from below Linux's ephemeral range (32768 and up): a port picked there by
/// binding port 0 was often taken, before Sesame or Envoy could bind it, by a backend bound to
/// port 0 or by the local end of some test's outgoing connection ("address already in use").
/// Each process starts at an offset of its own so test binaries running at once rarely meet.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 10_000;
    const COUNT: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id().wrapping_mul(7_919) % COUNT;
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + (offset + n) % COUNT).expect("port below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port from {FIRST} to {}", FIRST + COUNT - 1)
}

/// The Envoy binary: `SESAME_ENVOY`, else the project's `.venv/bin/envoy`.
pub fn envoy_binary() -> PathBuf {
    if let Ok(path) = std::env::var("SESAME_ENVOY") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/envoy");
    assert!(
        path.exists(),
        "no Envoy at {}: run scripts/setup-envoy.sh or set SESAME_ENVOY",
        path.display()
    );
    path
}

/// Writes Envoy's bootstrap to `path` with `sesame bootstrap`: xDS at 127.0.0.1:`xds`, the admin
/// interface at 127.0.0.1:`admin`, and `extra` flags.
pub fn write_bootstrap(path: &Path, xds: u16, admin: u16, extra: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("bootstrap")
        .arg(path)
        .args(["--xds-address", "127.0.0.1", "--xds-port", &xds.to_string()])
        .args([
            "--admin-address",
            "127.0.0.1",
            "--admin-port",
            &admin.to_string(),
        ])
        .args(extra)
        .status()
        .expect("sesame bootstrap");
    assert!(status.success(), "sesame bootstrap failed");
}

/// Envoy on `bootstrap` as the tests run it: node `node` of cluster `sesame`, one worker,
/// warnings only.
pub fn envoy_command(bootstrap: &Path, node: &str) -> Command {
    let mut command = Command::new(envoy_binary());
    command
        .arg("-c")
        .arg(bootstrap)
        .args(["--service-cluster", "sesame", "--service-node", node])
        .args([
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "--concurrency",
            "1",
        ]);
    command
}

/// A child process killed when dropped.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Spawns `command` with its standard error going to `log`.
    pub fn spawn(command: &mut Command, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn");
        Process { child, log }
    }

    /// The process's standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak (`VmHWM`) and current (`VmRSS`) resident memory, in MiB.
    pub fn memory_mib(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
                .unwrap_or(f64::NAN)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// Kills the process at once (SIGKILL: no clean shutdown) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ports of one Sesame + Envoy pair.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// Sesame's xDS port.
    pub xds: u16,
    /// Sesame's metrics port.
    pub metrics: u16,
    /// Sesame's debug port.
    pub debug: u16,
    /// Envoy's HTTP listener.
    pub http: u16,
    /// Envoy's HTTPS listener.
    pub https: u16,
    /// Envoy's stats listener.
    pub stats: u16,
    /// Envoy's admin port.
    pub admin: u16,
}

impl Ports {
    fn new() -> Ports {
        Ports {
            xds: free_port(),
            metrics: free_port(),
            debug: free_port(),
            http: free_port(),
            https: free_port(),
            stats: free_port(),
            admin: free_port(),
        }
    }
}

/// A running Sesame and Envoy reading manifests from a temporary directory.
pub struct Cluster {
    /// The ports in use.
    pub ports: Ports,
    /// The manifests directory Sesame watches.
    pub manifests: PathBuf,
    /// The `sesame serve` process.
    pub sesame: Process,
    /// The Envoy process (started by [`Cluster::start`]).
    pub envoy: Option<Process>,
    /// The arguments `sesame serve` was started with, for [`Cluster::restart_sesame`].
    sesame_args: Vec<OsString>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts Sesame on a fresh manifests directory holding `files`, then Envoy, and waits until
    /// Envoy is ready.
    pub async fn start(files: &[(&str, &str)]) -> Cluster {
        Self::start_with(files, &[]).await
    }

    /// As [`Cluster::start`], with extra `sesame serve` flags.
    pub async fn start_with(files: &[(&str, &str)], extra: &[&str]) -> Cluster {
        let mut cluster = Self::sesame_only(files, extra);
        cluster.start_envoy().await;
        cluster
    }

    /// Starts only Sesame.
    pub fn sesame_only(files: &[(&str, &str)], extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifests = dir.path().join("manifests");
        std::fs::create_dir(&manifests).expect("manifests dir");
        for (name, text) in files {
            std::fs::write(manifests.join(name), text).expect("write manifest");
        }
        let source = [OsString::from("--manifests"), manifests.clone().into()];
        Self::spawn_sesame(dir, manifests, &source, extra)
    }

    /// Starts only Sesame, watching the API server a kubeconfig points at.
    pub fn sesame_watching(kubeconfig: &Path, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifests = dir.path().join("manifests");
        let source = [OsString::from("--kubeconfig"), kubeconfig.into()];
        Self::spawn_sesame(dir, manifests, &source, extra)
    }

    /// Starts only Sesame, watching the in-process API-server double.
    pub fn sesame_on(api: &sesame_apiserver_double::ApiServer, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let manifests = dir.path().join("manifests");
        let source = [OsString::from("--kubeconfig"), kubeconfig.into()];
        Self::spawn_sesame(dir, manifests, &source, extra)
    }

    fn spawn_sesame(
        dir: tempfile::TempDir,
        manifests: PathBuf,
        source: &[OsString],
        extra: &[&str],
    ) -> Cluster {
        let ports = Ports::new();
        let mut args: Vec<OsString> = vec!["serve".into()];
        // Plain-text xDS unless the test gives Sesame its TLS files.
        if !extra.contains(&"--sesame-cafile") {
            args.push("--insecure".into());
        }
        args.extend(source.iter().cloned());
        // Every listener on 127.0.0.1, each flag pair `--<name>-address` / `--<name>-port`.
        for (name, port) in [
            ("xds", ports.xds),
            ("http", ports.metrics),
            ("debug-http", ports.debug),
            ("envoy-service-http", ports.http),
            ("envoy-service-https", ports.https),
            ("stats", ports.stats),
        ] {
            args.push(format!("--{name}-address").into());
            args.push("127.0.0.1".into());
            args.push(format!("--{name}-port").into());
            args.push(port.to_string().into());
        }
        args.extend(extra.iter().map(OsString::from));
        let sesame = Self::spawn_sesame_process(&args, dir.path().join("sesame.log"));
        Cluster {
            ports,
            manifests,
            sesame,
            envoy: None,
            sesame_args: args,
            dir,
        }
    }

    fn spawn_sesame_process(args: &[OsString], log: PathBuf) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sesame"));
        command.args(args).env("SESAME_LOG", "info");
        Process::spawn(&mut command, log)
    }

    /// Kills `sesame serve` (SIGKILL) and starts it again with the same flags and ports; its
    /// log goes on in a new file.
    pub fn restart_sesame(&mut self) {
        let log = self
            .dir
            .path()
            .join(format!("sesame-after-{}.log", self.sesame.pid()));
        self.sesame.kill();
        self.sesame = Self::spawn_sesame_process(&self.sesame_args, log);
    }

    /// Writes Envoy's bootstrap with `sesame bootstrap`, starts Envoy, and waits until it is ready.
    pub async fn start_envoy(&mut self) {
        self.start_envoy_with(&[]).await;
    }

    /// As [`Cluster::start_envoy`], with extra `sesame bootstrap` flags.
    pub async fn start_envoy_with(&mut self, bootstrap_extra: &[&str]) {
        self.spawn_envoy(bootstrap_extra);
        let ready = format!("http://127.0.0.1:{}/ready", self.ports.stats);
        let stats = self.ports.stats;
        let ok = eventually(PATIENCE, || async move {
            matches!(get_plain(stats, "127.0.0.1", "/ready").await, Ok(r) if r.status == 200)
        })
        .await;
        assert!(ok, "Envoy never became ready at {ready}\n{}", self.logs());
    }

    /// Writes Envoy's bootstrap with `sesame bootstrap` (plus `bootstrap_extra` flags) and starts
    /// Envoy, without waiting for it to become ready.
    pub fn spawn_envoy(&mut self, bootstrap_extra: &[&str]) {
        let bootstrap = self.dir.path().join("envoy.json");
        write_bootstrap(
            &bootstrap,
            self.ports.xds,
            self.ports.admin,
            bootstrap_extra,
        );
        self.envoy = Some(Process::spawn(
            &mut envoy_command(&bootstrap, "e2e"),
            self.dir.path().join("envoy.log"),
        ));
    }

    /// Sesame's and Envoy's logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- sesame ---\n{}\n--- envoy ---\n{}",
            self.sesame.log(),
            self.envoy.as_ref().map(Process::log).unwrap_or_default()
        )
    }

    /// Writes (or replaces) a manifest atomically, as editors and kubectl do.
    pub fn write(&self, name: &str, text: &str) {
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write manifest");
        std::fs::rename(&tmp, self.manifests.join(name)).expect("rename manifest");
    }

    /// Deletes a manifest.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.manifests.join(name)).expect("remove manifest");
    }

    /// A plain-HTTP request through Envoy.
    pub async fn http(&self, host: &str, path: &str) -> Reply {
        get_plain(self.ports.http, host, path)
            .await
            .unwrap_or_else(Reply::failed)
    }

    /// An HTTPS request through Envoy with SNI `host`, trusting `ca`.
    pub async fn https(&self, host: &str, path: &str, ca: &[u8]) -> Reply {
        get_tls(self.ports.https, host, path, ca)
            .await
            .unwrap_or_else(Reply::failed)
    }

    /// Polls `check` on plain-HTTP replies until it holds; panics with the logs if it never does.
    pub async fn eventually_http(
        &self,
        host: &str,
        path: &str,
        what: &str,
        check: impl Fn(&Reply) -> bool,
    ) -> Reply {
        let what = format!("{what} ({host}{path})");
        self.eventually_reply(&what, || self.http(host, path), check)
            .await
    }

    /// A plain-HTTP request through Envoy with extra request headers.
    pub async fn http_with(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        get_plain_with(self.ports.http, host, path, headers)
            .await
            .unwrap_or_else(Reply::failed)
    }

    /// As [`Cluster::https`], presenting the client certificate `client` (cert PEM, key PEM).
    pub async fn https_as(
        &self,
        host: &str,
        path: &str,
        ca: &[u8],
        client: Option<(&str, &str)>,
    ) -> Reply {
        get_tls_as(self.ports.https, host, path, ca, client)
            .await
            .unwrap_or_else(Reply::failed)
    }

    /// As [`Cluster::https`], with extra request headers.
    pub async fn https_with(
        &self,
        host: &str,
        path: &str,
        ca: &[u8],
        headers: &[(&str, &str)],
    ) -> Reply {
        get_tls_with(self.ports.https, host, path, ca, None, headers)
            .await
            .unwrap_or_else(Reply::failed)
    }

    /// Polls `request` until `check` holds on its reply; panics with the logs if it never does.
    pub async fn eventually_reply<F, Fut>(
        &self,
        what: &str,
        request: F,
        check: impl Fn(&Reply) -> bool,
    ) -> Reply
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Reply>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let reply = request().await;
            if check(&reply) {
                return reply;
            }
            if Instant::now() > deadline {
                panic!("{what}: last reply: {reply:?}\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `/status` entry of one object (`kind`, `namespace`, `name`), as JSON, if the latest
    /// build has one.
    pub async fn object_status(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let reply = self.debug("/status").await;
        let page: serde_json::Value = serde_json::from_str(&reply.body).ok()?;
        page["objects"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == kind && e["namespace"] == namespace && e["name"] == name)
            .cloned()
    }

    /// Polls `/status` until the object's entry satisfies `check`; panics with it if it never does.
    pub async fn eventually_status(
        &self,
        (kind, namespace, name): (&str, &str, &str),
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.object_status(kind, namespace, name).await;
            if let Some(status) = status.as_ref().filter(|s| check(s)) {
                return status.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: {kind} {namespace}/{name}: last status {status:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of one series on Sesame's `/metrics`, named in full (with its labels, as
    /// `sesame_httpproxy{namespace="default"}`), or `None` when it is not exported.
    pub async fn sesame_metric(&self, series: &str) -> Option<f64> {
        let reply = get_plain(self.ports.metrics, "127.0.0.1", "/metrics")
            .await
            .ok()?;
        reply.body.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// Envoy's counters whose names contain `filter`, from its admin `/stats`.
    pub async fn envoy_counters(&self, filter: &str) -> Vec<(String, u64)> {
        let path = format!("/stats?filter={filter}");
        let reply = get_plain(self.ports.admin, "127.0.0.1", &path)
            .await
            .unwrap_or_else(Reply::failed);
        assert_eq!(reply.status, 200, "admin /stats: {reply:?}");
        reply
            .body
            .lines()
            .filter_map(|line| line.split_once(": "))
            .filter_map(|(name, value)| Some((name.to_string(), value.trim().parse().ok()?)))
            .collect()
    }

    /// Asserts that Envoy accepted every update: its LDS, CDS and RDS `update_rejected`
    /// counters exist and are all zero.
    pub async fn assert_no_update_rejected(&self) {
        let rejected = self.envoy_counters("update_rejected").await;
        assert!(
            rejected.iter().any(|(n, _)| n.contains("lds"))
                && rejected.iter().any(|(n, _)| n.contains("cds"))
                && rejected.iter().any(|(n, _)| n.contains("rds")),
            "expected LDS, CDS and RDS counters: {rejected:?}"
        );
        let nacked: Vec<_> = rejected.iter().filter(|(_, v)| *v > 0).collect();
        assert!(
            nacked.is_empty(),
            "Envoy rejected updates: {nacked:?}\n{}",
            self.logs()
        );
    }

    /// GET on Sesame's debug port.
    pub async fn debug(&self, path: &str) -> Reply {
        get_plain(self.ports.debug, "127.0.0.1", path)
            .await
            .unwrap_or_else(Reply::failed)
    }
}

// Explicit paths: this file is also included by `#[path]` from other test crates.
#[path = "harness/backend.rs"]
mod backend;
#[path = "harness/client.rs"]
mod client;
#[path = "harness/manifests.rs"]
mod manifests;

#[allow(
    unused_imports,
    reason = "not every test crate that includes the harness uses every part"
)]
pub use backend::*;
#[allow(
    unused_imports,
    reason = "not every test crate that includes the harness uses every part"
)]
pub use client::*;
#[allow(
    unused_imports,
    reason = "not every test crate that includes the harness uses every part"
)]
pub use manifests::*;

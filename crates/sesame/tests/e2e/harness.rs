//! The end-to-end harness: a real `sesame serve --manifests`, a real Envoy bootstrapped by
//! `sesame bootstrap`, echo backends and an HTTP(S) client, all on 127.0.0.1.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
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

/// A child process killed when dropped.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(command: &mut Command, log: PathBuf) -> Process {
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
        let ports = Ports::new();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sesame"));
        command
            .arg("serve")
            .arg("--insecure")
            .arg("--manifests")
            .arg(&manifests)
            .args([
                "--xds-address",
                "127.0.0.1",
                "--xds-port",
                &ports.xds.to_string(),
            ])
            .args([
                "--http-address",
                "127.0.0.1",
                "--http-port",
                &ports.metrics.to_string(),
            ])
            .args([
                "--debug-http-address",
                "127.0.0.1",
                "--debug-http-port",
                &ports.debug.to_string(),
            ])
            .args([
                "--envoy-service-http-address",
                "127.0.0.1",
                "--envoy-service-http-port",
                &ports.http.to_string(),
            ])
            .args([
                "--envoy-service-https-address",
                "127.0.0.1",
                "--envoy-service-https-port",
                &ports.https.to_string(),
            ])
            .args([
                "--stats-address",
                "127.0.0.1",
                "--stats-port",
                &ports.stats.to_string(),
            ])
            .args(extra)
            .env("SESAME_LOG", "info");
        let sesame = Process::spawn(&mut command, dir.path().join("sesame.log"));
        Cluster {
            ports,
            manifests,
            sesame,
            envoy: None,
            dir,
        }
    }

    /// Writes Envoy's bootstrap with `sesame bootstrap`, starts Envoy, and waits until it is ready.
    pub async fn start_envoy(&mut self) {
        let bootstrap = self.dir.path().join("envoy.json");
        let status = Command::new(env!("CARGO_BIN_EXE_sesame"))
            .arg("bootstrap")
            .arg(&bootstrap)
            .args([
                "--xds-address",
                "127.0.0.1",
                "--xds-port",
                &self.ports.xds.to_string(),
            ])
            .args([
                "--admin-address",
                "127.0.0.1",
                "--admin-port",
                &self.ports.admin.to_string(),
            ])
            .status()
            .expect("sesame bootstrap");
        assert!(status.success(), "sesame bootstrap failed");
        let mut command = Command::new(envoy_binary());
        command
            .arg("-c")
            .arg(&bootstrap)
            .args([
                "--service-cluster",
                "sesame",
                "--service-node",
                "e2e",
                "--disable-hot-restart",
            ])
            .args(["--log-level", "warn", "--concurrency", "1"]);
        self.envoy = Some(Process::spawn(
            &mut command,
            self.dir.path().join("envoy.log"),
        ));
        let ready = format!("http://127.0.0.1:{}/ready", self.ports.stats);
        let stats = self.ports.stats;
        let ok = eventually(PATIENCE, || async move {
            matches!(get_plain(stats, "127.0.0.1", "/ready").await, Ok(r) if r.status == 200)
        })
        .await;
        assert!(ok, "Envoy never became ready at {ready}\n{}", self.logs());
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
        let entries: Vec<serde_json::Value> = serde_json::from_str(&reply.body).ok()?;
        entries
            .into_iter()
            .find(|e| e["kind"] == kind && e["namespace"] == namespace && e["name"] == name)
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

    /// GET on Sesame's debug port.
    pub async fn debug(&self, path: &str) -> Reply {
        get_plain(self.ports.debug, "127.0.0.1", path)
            .await
            .unwrap_or_else(Reply::failed)
    }
}

/// An HTTP reply, or the error that stood in its way (status 0).
#[derive(Clone, Debug, Default)]
pub struct Reply {
    /// The status code; 0 when the request failed.
    pub status: u16,
    /// The `location` header, if any.
    pub location: Option<String>,
    /// The `x-backend` header set by the echo backends.
    pub backend: Option<String>,
    /// The body.
    pub body: String,
    /// The subject names of the certificate the server presented (TLS only).
    pub server_names: Vec<String>,
    /// The response headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn failed(error: String) -> Reply {
        Reply {
            body: error,
            ..Reply::default()
        }
    }

    /// Whether the request reached the echo backend `name`.
    pub fn from(&self, name: &str) -> bool {
        self.status == 200 && self.backend.as_deref() == Some(name)
    }

    /// The values of the response header `name` (lower case).
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path and query the echo backend saw.
    pub fn echoed_path(&self) -> Option<&str> {
        self.body.lines().next()?.split_once(' ').map(|(_, p)| p)
    }

    /// The values of the request header `name` (lower case) as the echo backend saw them.
    pub fn echoed_header(&self, name: &str) -> Vec<&str> {
        self.body
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(": "))
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .collect()
    }
}

/// Polls `check` until it returns true or `patience` runs out.
pub async fn eventually<F, Fut>(patience: Duration, check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + patience;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send<IO>(io: IO, host: &str, path: &str, headers: &[(&str, &str)]) -> Result<Reply, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut request = Request::get(path)
        .header("host", host)
        .header("connection", "close");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let status = response.status().as_u16();
    let location = header("location");
    let backend = header("x-backend");
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Reply {
        status,
        location,
        backend,
        body: String::from_utf8_lossy(&body).into_owned(),
        server_names: Vec::new(),
        headers,
    })
}

/// GET `path` from 127.0.0.1:`port` with a `Host` header.
pub async fn get_plain(port: u16, host: &str, path: &str) -> Result<Reply, String> {
    get_plain_with(port, host, path, &[]).await
}

/// As [`get_plain`], with extra request headers.
pub async fn get_plain_with(
    port: u16,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tokio::time::timeout(Duration::from_secs(10), send(stream, host, path, headers))
        .await
        .map_err(|_| "timed out".to_string())?
}

/// GET `path` over TLS from 127.0.0.1:`port` with SNI and `Host` set to `host`, trusting the
/// PEM CA `ca`.
pub async fn get_tls(port: u16, host: &str, path: &str, ca: &[u8]) -> Result<Reply, String> {
    get_tls_as(port, host, path, ca, None).await
}

/// As [`get_tls`], presenting the client certificate `client` (cert PEM, key PEM) if given.
pub async fn get_tls_as(
    port: u16,
    host: &str,
    path: &str,
    ca: &[u8],
    client: Option<(&str, &str)>,
) -> Result<Reply, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        let cert: CertificateDer<'static> = cert.map_err(|e| format!("ca: {e}"))?;
        roots.add(cert).map_err(|e| format!("ca: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let (chain, key) = identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client cert: {e}"))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, stream))
        .await
        .map_err(|_| "tls handshake timed out".to_string())?
        .map_err(|e| format!("tls: {e}"))?;
    let server_names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(subject_names)
        .unwrap_or_default();
    let mut reply = tokio::time::timeout(Duration::from_secs(10), send(tls, host, path, &[]))
        .await
        .map_err(|_| "timed out".to_string())??;
    reply.server_names = server_names;
    Ok(reply)
}

/// A certificate chain and its key, from PEM.
fn identity(
    cert: &str,
    key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| format!("key: {e}"))?;
    Ok((chain, key))
}

fn subject_names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(name) => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

/// An echo backend on 127.0.0.1: answers every request with `x-backend: <name>`, `x-echo: yes`
/// and a body naming the backend and the path and query on its first line, then one
/// `name: value` line per request header. It records the path and query of every request.
pub struct Backend {
    /// Its address.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    /// The path and query of every request received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an echo backend.
pub async fn backend(name: &str) -> Backend {
    use axum::extract::Request as AxumRequest;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("backend addr");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let owned = name.to_string();
    let app = axum::Router::new().fallback(move |req: AxumRequest| {
        let name = owned.clone();
        let seen = seen.clone();
        async move {
            seen.lock()
                .expect("requests lock")
                .push(req.uri().to_string());
            let mut body = format!("{name} {}\n", req.uri());
            for (header, value) in req.headers() {
                body.push_str(&format!(
                    "{header}: {}\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
            ([("x-backend", name), ("x-echo", "yes".to_string())], body)
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Backend {
        addr,
        requests,
        task,
    }
}

/// Starts a backend that speaks raw HTTP/1.1 on each connection, via `serve`, recording the
/// request line of every request.
async fn raw_backend<F, Fut>(serve: F) -> Backend
where
    F: Fn(TcpStream, Arc<Mutex<Vec<String>>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("backend addr");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, seen.clone()));
        }
    });
    Backend {
        addr,
        requests,
        task,
    }
}

/// Reads an HTTP/1.1 request head (up to the blank line) and returns its request target.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    head.split(' ').nth(1).map(str::to_string)
}

/// A backend that accepts any HTTP/1.1 upgrade with `101 Switching Protocols` (a WebSocket
/// handshake, as far as a proxy can tell) and then echoes every byte it receives.
pub async fn upgrade_backend() -> Backend {
    raw_backend(|mut stream, seen| async move {
        use tokio::io::AsyncWriteExt;
        let Some(target) = read_head(&mut stream).await else {
            return;
        };
        seen.lock().expect("requests lock").push(target);
        let switching = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
                         connection: Upgrade\r\n\
                         sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        if stream.write_all(switching.as_bytes()).await.is_err() {
            return;
        }
        let (mut read, mut write) = stream.split();
        let _ = tokio::io::copy(&mut read, &mut write).await;
    })
    .await
}

/// A backend on 127.0.0.1 that terminates TLS itself with `cert`/`key` (PEM) and answers each
/// connection's first request as the echo backend `name` would (without the headers).
pub async fn tls_backend(name: &str, cert: &str, key: &str) -> Backend {
    let (chain, key) = identity(cert, key).expect("backend identity");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("backend certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let name = name.to_string();
    raw_backend(move |stream, seen| {
        let (acceptor, name) = (acceptor.clone(), name.clone());
        async move {
            use tokio::io::AsyncWriteExt;
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let Some(target) = read_head(&mut tls).await else {
                return;
            };
            seen.lock().expect("requests lock").push(target.clone());
            let body = format!("{name} {target}\n");
            let reply = format!(
                "HTTP/1.1 200 OK\r\nx-backend: {name}\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(reply.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    })
    .await
}

/// The [`service`] manifests of several backends, as one multi-document YAML file.
pub fn services(backends: &[(&str, &Backend)]) -> String {
    services_in("default", backends)
}

/// As [`services`], in `namespace`.
pub fn services_in(namespace: &str, backends: &[(&str, &Backend)]) -> String {
    backends
        .iter()
        .map(|(name, backend)| service_in(namespace, name, backend))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A Service named `name` with one port 80 (named `http`) and an EndpointSlice pointing at
/// `backend`, as a JSON manifest.
pub fn service(name: &str, backend: &Backend) -> String {
    service_in("default", name, backend)
}

/// As [`service`], in `namespace`.
pub fn service_in(namespace: &str, name: &str, backend: &Backend) -> String {
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend.addr.port()}]}
    });
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-1"), "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [backend.addr.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": backend.addr.port(), "protocol": "TCP"}]
    });
    serde_json::to_string(
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [svc, slice]}),
    )
    .expect("json")
}

/// A CA and leaf certificates it signs.
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    /// A new CA.
    pub fn new() -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sesame e2e ca");
        let key = rcgen::KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        Pki {
            ca_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `hosts`, as (cert PEM, key PEM).
    pub fn leaf(&self, hosts: &[&str]) -> (String, String) {
        let params =
            rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }

    /// A `kubernetes.io/tls` Secret manifest holding a leaf for `hosts`.
    pub fn secret(&self, name: &str, hosts: &[&str]) -> String {
        let (cert, key) = self.leaf(hosts);
        tls_secret(name, cert.as_bytes(), key.as_bytes())
    }
}

/// A `kubernetes.io/tls` Secret manifest with the given bytes.
pub fn tls_secret(name: &str, cert: &[u8], key: &[u8]) -> String {
    tls_secret_in("default", name, cert, key)
}

/// As [`tls_secret`], in `namespace`.
pub fn tls_secret_in(namespace: &str, name: &str, cert: &[u8], key: &[u8]) -> String {
    secret_manifest(
        namespace,
        name,
        "kubernetes.io/tls",
        &[("tls.crt", cert), ("tls.key", key)],
    )
}

/// An Opaque Secret manifest holding a CA bundle under `ca.crt`.
pub fn ca_secret(namespace: &str, name: &str, ca: &[u8]) -> String {
    secret_manifest(namespace, name, "Opaque", &[("ca.crt", ca)])
}

fn secret_manifest(namespace: &str, name: &str, type_: &str, data: &[(&str, &[u8])]) -> String {
    use k8s_openapi::ByteString;
    let secret = k8s_openapi::api::core::v1::Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        type_: Some(type_.to_string()),
        data: Some(
            data.iter()
                .map(|(key, value)| (key.to_string(), ByteString(value.to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    let mut value = serde_json::to_value(&secret).expect("secret json");
    value["apiVersion"] = "v1".into();
    value["kind"] = "Secret".into();
    value.to_string()
}

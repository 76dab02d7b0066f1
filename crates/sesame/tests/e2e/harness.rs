//! The end-to-end harness: a real `sesame serve --manifests`, a real Envoy bootstrapped by
//! `sesame bootstrap`, echo backends and an HTTP(S) client, all on 127.0.0.1.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
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
        let deadline = Instant::now() + PATIENCE;
        loop {
            let reply = self.http(host, path).await;
            if check(&reply) {
                return reply;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: last reply for {host}{path}: {reply:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

async fn send<IO>(io: IO, host: &str, path: &str) -> Result<Reply, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = Request::get(path)
        .header("host", host)
        .header("connection", "close")
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
    })
}

/// GET `path` from 127.0.0.1:`port` with a `Host` header.
pub async fn get_plain(port: u16, host: &str, path: &str) -> Result<Reply, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tokio::time::timeout(Duration::from_secs(10), send(stream, host, path))
        .await
        .map_err(|_| "timed out".to_string())?
}

/// GET `path` over TLS from 127.0.0.1:`port` with SNI and `Host` set to `host`, trusting the
/// PEM CA `ca`.
pub async fn get_tls(port: u16, host: &str, path: &str, ca: &[u8]) -> Result<Reply, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(ca) {
        let cert: CertificateDer<'static> = cert.map_err(|e| format!("ca: {e}"))?;
        roots.add(cert).map_err(|e| format!("ca: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
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
    let mut reply = tokio::time::timeout(Duration::from_secs(10), send(tls, host, path))
        .await
        .map_err(|_| "timed out".to_string())??;
    reply.server_names = server_names;
    Ok(reply)
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

/// An echo backend on 127.0.0.1: answers every request with `x-backend: <name>` and a body
/// naming the backend and the path.
pub struct Backend {
    /// Its address.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
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
    let owned = name.to_string();
    let app = axum::Router::new().fallback(move |req: AxumRequest| {
        let name = owned.clone();
        async move {
            let body = format!("{name} {}", req.uri());
            ([("x-backend", name)], body)
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Backend { addr, task }
}

/// The [`service`] manifests of several backends, as one multi-document YAML file.
pub fn services(backends: &[(&str, &Backend)]) -> String {
    backends
        .iter()
        .map(|(name, backend)| service(name, backend))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A Service named `name` with one port 80 (named `http`) and an EndpointSlice pointing at
/// `backend`, as a JSON manifest.
pub fn service(name: &str, backend: &Backend) -> String {
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend.addr.port()}]}
    });
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-1"), "namespace": "default",
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
    use k8s_openapi::ByteString;
    let secret = k8s_openapi::api::core::v1::Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("default".to_string()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(
            [
                ("tls.crt".to_string(), ByteString(cert.to_vec())),
                ("tls.key".to_string(), ByteString(key.to_vec())),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let mut value = serde_json::to_value(&secret).expect("secret json");
    value["apiVersion"] = "v1".into();
    value["kind"] = "Secret".into();
    value.to_string()
}

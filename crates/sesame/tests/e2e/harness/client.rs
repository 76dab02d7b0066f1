//! The harness's HTTP(S) client: one request per connection to Envoy, Sesame or a backend,
//! plain or TLS (SNI, client certificates), and the reply as a test reads it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

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
    /// A request that failed with `error`: status 0, the error as the body.
    pub(crate) fn failed(error: String) -> Reply {
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

async fn send<IO>(
    io: IO,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut request = Request::builder()
        .method(method)
        .uri(path)
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
    request_plain(port, "GET", host, path, headers).await
}

/// A plain-HTTP request with any method, without a body, to 127.0.0.1:`port`.
pub async fn request_plain(
    port: u16,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
    request_plain_to((localhost, port), method, host, path, headers).await
}

/// As [`request_plain`], to any address (a Gateway's own, as `127.0.0.2`).
pub async fn request_plain_to(
    (ip, port): (std::net::IpAddr, u16),
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let stream = TcpStream::connect((ip, port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let reply = send(stream, method, host, path, headers);
    tokio::time::timeout(Duration::from_secs(10), reply)
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
    get_tls_with(port, host, path, ca, client, &[]).await
}

/// As [`get_tls_as`], with extra request headers.
pub async fn get_tls_with(
    port: u16,
    host: &str,
    path: &str,
    ca: &[u8],
    client: Option<(&str, &str)>,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    tls_request(port, (host, host), path, ca, client, headers).await
}

/// GET `path` over TLS with SNI `sni` and a `Host` header `host` that may differ from it.
pub async fn get_tls_sni(
    port: u16,
    sni: &str,
    host: &str,
    path: &str,
    ca: &[u8],
) -> Result<Reply, String> {
    tls_request(port, (sni, host), path, ca, None, &[]).await
}

/// A GET over TLS with this SNI and `Host` header.
async fn tls_request(
    port: u16,
    (sni, host): (&str, &str),
    path: &str,
    ca: &[u8],
    client: Option<(&str, &str)>,
    headers: &[(&str, &str)],
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
    let name = ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
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
    let mut reply = tokio::time::timeout(
        Duration::from_secs(10),
        send(tls, "GET", host, path, headers),
    )
    .await
    .map_err(|_| "timed out".to_string())??;
    reply.server_names = server_names;
    Ok(reply)
}

/// A certificate chain and its key, from PEM.
pub(crate) fn identity(
    cert: &str,
    key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| format!("key: {e}"))?;
    Ok((chain, key))
}

pub(crate) fn subject_names(cert: &CertificateDer<'_>) -> Vec<String> {
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

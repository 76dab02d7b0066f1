//! Backends on 127.0.0.1: the echo backend, an upgrade (WebSocket) backend and a TLS backend.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::*;

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
    backend_on(name, std::net::Ipv4Addr::LOCALHOST.into()).await
}

/// Starts an echo backend listening on `ip`.
pub async fn backend_on(name: &str, ip: std::net::IpAddr) -> Backend {
    use axum::extract::Request as AxumRequest;
    let listener = tokio::net::TcpListener::bind((ip, 0))
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
    // TCP_NODELAY, so that Nagle's algorithm and delayed ACKs never hold a reply back (the
    // benchmarks time replies to the millisecond).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut TcpStream| {
        let _ = tcp.set_nodelay(true);
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

/// A backend that answers every request `200 OK` with `x-backend: <name>` and one `Set-Cookie`
/// header per entry of `cookies`, in order.
pub async fn cookie_backend(name: &str, cookies: &[&str]) -> Backend {
    let mut head = format!("HTTP/1.1 200 OK\r\nx-backend: {name}\r\n");
    for cookie in cookies {
        head.push_str(&format!("set-cookie: {cookie}\r\n"));
    }
    raw_backend(move |mut stream, seen| {
        let head = head.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            let Some(target) = read_head(&mut stream).await else {
                return;
            };
            seen.lock().expect("requests lock").push(target);
            let reply = format!("{head}content-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    })
    .await
}

/// A backend that answers every request with `302 Found` to `location`, on a kept-alive
/// connection.
pub async fn redirect_backend(location: &str) -> Backend {
    let location = location.to_string();
    raw_backend(move |mut stream, seen| {
        let location = location.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            while let Some(target) = read_head(&mut stream).await {
                seen.lock().expect("requests lock").push(target);
                let reply = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\nx-backend: redirector\r\ncontent-length: 0\r\n\r\n"
                );
                if stream.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
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
/// connection's first request as the echo backend `name` would (without the headers), with the
/// server name the client sent in `x-sni`.
pub async fn tls_backend(name: &str, cert: &str, key: &str) -> Backend {
    tls_backend_verifying(name, cert, key, None).await
}

/// As [`tls_backend`], and with `client_ca` (PEM) it requires a client certificate from that
/// CA: its answer then has a second line, `client: ` and the certificate's DNS names.
pub async fn tls_backend_verifying(
    name: &str,
    cert: &str,
    key: &str,
    client_ca: Option<&str>,
) -> Backend {
    let (chain, key) = identity(cert, key).expect("backend identity");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(cert.expect("client ca")).expect("client ca");
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
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
            let mut body = format!("{name} {target}\n");
            if let Some(client) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                body.push_str(&format!("client: {}\n", subject_names(client).join(",")));
            }
            // The server name the client sent, as a header.
            let sni = (tls.get_ref().1.server_name())
                .map(|n| format!("x-sni: {n}\r\n"))
                .unwrap_or_default();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nx-backend: {name}\r\n{sni}content-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(reply.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    })
    .await
}

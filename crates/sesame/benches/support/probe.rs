//! The HTTP probe of the benches that drive a real Envoy: one kept-alive HTTP/1.1 connection
//! asking a fixture host which echo backend answers it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// An HTTP/1.1 client on one kept-alive TCP connection (TCP_NODELAY) to 127.0.0.1:`port`,
/// reconnecting only when the connection fails or Envoy closes it.
pub struct KeepAlive {
    port: u16,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl KeepAlive {
    pub fn new(port: u16) -> KeepAlive {
        KeepAlive { port, sender: None }
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// GET `/` with `Host: host`: the status and the `x-backend` header.
    pub async fn get(&mut self, host: &str) -> Result<(u16, Option<String>), String> {
        self.get_path(host, "/").await
    }

    /// GET `path` with `Host: host`: the status and the `x-backend` header.
    pub async fn get_path(
        &mut self,
        host: &str,
        path: &str,
    ) -> Result<(u16, Option<String>), String> {
        let result = tokio::time::timeout(Duration::from_secs(10), self.try_get(host, path))
            .await
            .unwrap_or_else(|_| Err("timed out".to_string()));
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn try_get(&mut self, host: &str, path: &str) -> Result<(u16, Option<String>), String> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await.map_err(|e| format!("ready: {e}"))?;
        let request = hyper::Request::get(path)
            .header("host", host)
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status().as_u16();
        let backend = response
            .headers()
            .get("x-backend")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let keep = !response
            .headers()
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?;
        if keep {
            self.sender = Some(sender);
        }
        Ok((status, backend))
    }

    /// Whether `host` answers 200 from the echo backend `name`.
    pub async fn routes(&mut self, host: &str, name: &str) -> bool {
        matches!(self.get(host).await, Ok((200, Some(b))) if b == name)
    }
}

/// The host of fixture number `i`.
pub fn fixture_host(i: usize) -> String {
    format!("app-{i}.bench.example.com")
}

/// Waits until every host in `hosts` routes to the echo backend `fixture`, polling the ones
/// not yet routed in rounds over one kept-alive connection; false if `patience` runs out.
pub async fn wait_routed(port: u16, mut hosts: Vec<usize>, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let mut client = KeepAlive::new(port);
    while !hosts.is_empty() {
        let mut left = Vec::with_capacity(hosts.len());
        for h in hosts {
            if !client.routes(&fixture_host(h), "fixture").await {
                left.push(h);
            }
        }
        hosts = left;
        if Instant::now() > deadline {
            return false;
        }
        if !hosts.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    true
}

/// How many of the N hosts route to `fixture` (each tried up to three times), over four
/// kept-alive connections.
pub async fn count_routed(port: u16, n: usize) -> usize {
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            tokio::spawn(async move {
                let mut client = KeepAlive::new(port);
                let mut ok = 0;
                for h in (t..n).step_by(4) {
                    for _ in 0..3 {
                        if client.routes(&fixture_host(h), "fixture").await {
                            ok += 1;
                            break;
                        }
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += task.await.unwrap_or(0);
    }
    ok
}

//! A small client for Envoy's admin interface, over a Unix socket or TCP.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// How long one admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where Envoy's admin interface listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminAddress {
    /// A Unix socket path, as Sesame's bootstrap writes by default (`/admin/admin.sock`).
    Unix(PathBuf),
    /// A `host:port` TCP address.
    Tcp(String),
}

impl FromStr for AdminAddress {
    type Err = String;

    /// `host:port` (the port all digits, no `/` anywhere) is TCP; anything else is a socket path.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.is_empty() {
            return Err("expected a Unix socket path or host:port".to_string());
        }
        let tcp = !value.contains('/')
            && value.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            });
        Ok(if tcp {
            AdminAddress::Tcp(value.to_string())
        } else {
            AdminAddress::Unix(PathBuf::from(value))
        })
    }
}

impl fmt::Display for AdminAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            AdminAddress::Tcp(addr) => f.write_str(addr),
        }
    }
}

/// A reply from the admin interface.
#[derive(Debug)]
pub struct AdminReply {
    /// The status code.
    pub status: StatusCode,
    /// The body, as text.
    pub body: String,
}

impl AdminAddress {
    /// Sends one request with an empty body and reads the whole reply.
    pub async fn request(&self, method: Method, path: &str) -> anyhow::Result<AdminReply> {
        let exchange = async {
            match self {
                AdminAddress::Unix(socket) => {
                    let stream = tokio::net::UnixStream::connect(socket)
                        .await
                        .with_context(|| format!("connecting to {}", socket.display()))?;
                    send(stream, method, path).await
                }
                AdminAddress::Tcp(addr) => {
                    let stream = tokio::net::TcpStream::connect(addr.as_str())
                        .await
                        .with_context(|| format!("connecting to {addr}"))?;
                    send(stream, method, path).await
                }
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{path} on {self} timed out"))?
    }
}

/// One HTTP/1.1 exchange on a fresh connection (Envoy's admin; also Sesame's debug port for
/// `sesame cli explain`).
pub(crate) async fn send<S>(stream: S, method: Method, path: &str) -> anyhow::Result<AdminReply>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("admin handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "envoy-admin")
        .header("connection", "close")
        .body(Empty::<Bytes>::new())
        .context("building the admin request")?;
    let response = sender
        .send_request(request)
        .await
        .context("admin request")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the admin reply")?
        .to_bytes();
    Ok(AdminReply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

impl AdminReply {
    /// The body, or an error naming the status when it is not 2xx.
    pub fn ok(self, what: &str) -> anyhow::Result<String> {
        if !self.status.is_success() {
            bail!(
                "{what}: Envoy answered {}: {}",
                self.status,
                self.body.trim()
            );
        }
        Ok(self.body)
    }
}

#[cfg(test)]
mod tests;

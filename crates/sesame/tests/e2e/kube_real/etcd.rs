//! etcd for the API server, on 127.0.0.1 with its data in a temporary directory, and the two
//! things a test does to it behind the API server's back: delete an object and compact the
//! history, through etcd's JSON gateway (`/v3/kv/...`, keys base64-encoded).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use k8s_openapi::ByteString;
use serde_json::{Value, json};

use super::daemon::Daemon;
use crate::harness::{PATIENCE, eventually, free_port};

/// Where kube-apiserver keeps its objects in etcd (its default `--etcd-prefix`).
const REGISTRY: &str = "/registry/";

/// A running etcd.
pub struct Etcd {
    daemon: Daemon,
    /// The client port on 127.0.0.1.
    pub port: u16,
}

impl Etcd {
    /// Starts `binary` with its data under `dir` and waits until `/health` says it is healthy.
    pub async fn start(binary: &Path, dir: &Path) -> Etcd {
        let (port, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut command = Command::new(binary);
        command
            .arg("--name=sesame-e2e")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=sesame-e2e={peer_url}"));
        let mut etcd = Etcd {
            daemon: Daemon::spawn("etcd", &mut command, dir.join("etcd.log")),
            port,
        };
        let healthy = eventually(PATIENCE, || async {
            matches!(get_json(port, "/health").await, Ok(v) if v["health"] == "true")
        })
        .await;
        etcd.daemon.assert_running();
        assert!(healthy, "etcd never became healthy\n{}", etcd.log());
        etcd
    }

    /// The end of etcd's log.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// The URL kube-apiserver reaches etcd at.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Deletes the stored object `namespace/name` of the resource whose storage path contains
    /// `resource` (kube-apiserver's keys are `/registry/<resource>/<namespace>/<name>`, with
    /// some resources stored under a singular or older name), and returns etcd's revision
    /// after the delete. Panics unless exactly one key matches.
    pub async fn delete_object(&self, resource: &str, namespace: &str, name: &str) -> i64 {
        let listed = self
            .call(
                "/v3/kv/range",
                json!({"key": base64(REGISTRY), "range_end": base64("/registry0"), "keys_only": true}),
            )
            .await;
        let suffix = format!("/{namespace}/{name}");
        let keys: Vec<String> = listed["kvs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|kv| unbase64(&kv["key"]))
            .filter(|k| k.ends_with(&suffix) && k[REGISTRY.len()..].contains(resource))
            .collect();
        assert_eq!(
            keys.len(),
            1,
            "etcd keys for {resource} {namespace}/{name}: {keys:?}"
        );
        let deleted = self
            .call("/v3/kv/deleterange", json!({"key": base64(&keys[0])}))
            .await;
        assert_eq!(
            deleted["deleted"].as_str(),
            Some("1"),
            "delete {}: {deleted}",
            keys[0]
        );
        revision(&deleted)
    }

    /// Compacts etcd's history up to `revision`, so that no watch can resume from before it.
    pub async fn compact(&self, revision: i64) {
        self.call(
            "/v3/kv/compaction",
            json!({"revision": revision.to_string(), "physical": true}),
        )
        .await;
    }

    async fn call(&self, path: &str, body: Value) -> Value {
        post_json(self.port, path, &body)
            .await
            .unwrap_or_else(|e| panic!("etcd {path} {body}: {e}\n{}", self.log()))
    }
}

/// The revision in a gateway reply's header (int64 values come as strings).
fn revision(reply: &Value) -> i64 {
    reply["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no revision in {reply}"))
}

fn base64(text: &str) -> Value {
    serde_json::to_value(ByteString(text.as_bytes().to_vec())).expect("base64")
}

fn unbase64(value: &Value) -> Option<String> {
    let ByteString(bytes) = serde_json::from_value(value.clone()).ok()?;
    String::from_utf8(bytes).ok()
}

async fn get_json(port: u16, path: &str) -> Result<Value, String> {
    request(port, "GET", path, Bytes::new()).await
}

async fn post_json(port: u16, path: &str, body: &Value) -> Result<Value, String> {
    request(port, "POST", path, Bytes::from(body.to_string())).await
}

/// One HTTP/1.1 request to etcd on 127.0.0.1; a JSON reply with status 200, or why not.
async fn request(port: u16, method: &str, path: &str, body: Bytes) -> Result<Value, String> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{port}"))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

//! `sesame envoy shutdown` and `sesame envoy shutdown-manager` draining a real Envoy while a
//! slow request is in flight.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::harness::{Cluster, PATIENCE, free_port, get_plain};

/// How long the slow backend takes to answer `/slow`.
const SLOW: Duration = Duration::from_secs(3);

/// A backend answering `/slow` after [`SLOW`] and anything else at once; `started` is notified
/// when a `/slow` request arrives.
async fn slow_backend() -> (SocketAddr, Arc<Notify>) {
    let started = Arc::new(Notify::new());
    let notify = started.clone();
    let app = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(move || {
                let notify = notify.clone();
                async move {
                    notify.notify_one();
                    tokio::time::sleep(SLOW).await;
                    "slow\n"
                }
            }),
        )
        .fallback(|| async { "fast\n" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind slow backend");
    let addr = listener.local_addr().expect("slow backend addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, started)
}

/// A Service `slow` and its EndpointSlice pointing at `addr`, and an Ingress routing
/// `drain.example.com` to it.
fn manifests(addr: SocketAddr) -> String {
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "slow", "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": addr.port()}]}
    });
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "slow-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "slow"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [addr.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": addr.port(), "protocol": "TCP"}]
    });
    let ingress = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "drain", "namespace": "default"},
        "spec": {"rules": [{"host": "drain.example.com", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "slow", "port": {"number": 80}}}
        }]}}]}
    });
    [svc, slice, ingress]
        .iter()
        .map(serde_json::Value::to_string)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Starts `sesame envoy <args>`, killed when dropped, its stderr in `log`.
fn sesame_envoy(args: &[&str], log: &Path) -> tokio::process::Child {
    let file = std::fs::File::create(log).expect("log file");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("envoy")
        .args(args)
        .env("SESAME_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sesame envoy")
}

/// When something happened, once it has.
#[derive(Default)]
struct Moments {
    unready: Option<Instant>,
    file: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_slow_request_then_releases_the_manager() {
    let (addr, started) = slow_backend().await;
    let cluster = Cluster::start(&[("drain.yaml", &manifests(addr))]).await;
    cluster
        .eventually_http(
            "drain.example.com",
            "/",
            "routes to the slow backend",
            |r| r.status == 200 && r.body == "fast\n",
        )
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ready_file = dir.path().join("admin/ok");
    let ready = ready_file.to_str().expect("utf-8 path").to_string();
    let logs = || {
        format!(
            "{}\n--- shutdown ---\n{}\n--- shutdown-manager ---\n{}",
            cluster.logs(),
            std::fs::read_to_string(dir.path().join("shutdown.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.path().join("manager.log")).unwrap_or_default(),
        )
    };

    // The shutdown manager, healthy, with a client already waiting on /shutdown.
    let manager_port = free_port();
    let _manager = sesame_envoy(
        &[
            "shutdown-manager",
            "--serve-address",
            "127.0.0.1",
            "--serve-port",
            &manager_port.to_string(),
            "--ready-file",
            &ready,
        ],
        &dir.path().join("manager.log"),
    );
    let deadline = Instant::now() + PATIENCE;
    while !matches!(get_plain(manager_port, "127.0.0.1", "/healthz").await,
                    Ok(r) if r.status == 200 && r.body == "OK")
    {
        assert!(
            Instant::now() < deadline,
            "manager never healthy\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A slow request in flight through Envoy.
    let slow_done = Arc::new(AtomicBool::new(false));
    let done = slow_done.clone();
    let notified = started.notified();
    let http = cluster.ports.http;
    let slow = tokio::spawn(async move {
        let reply = get_plain(http, "drain.example.com", "/slow").await;
        // The moment before the flag, so a poller that sees the flag sees an earlier moment.
        let finished = Instant::now();
        done.store(true, Ordering::SeqCst);
        (reply, finished)
    });
    tokio::time::timeout(PATIENCE, notified)
        .await
        .expect("the slow request never reached the backend");

    // /shutdown on the manager blocks until the ready file exists.
    let shutdown_done = Arc::new(AtomicBool::new(false));
    let done = shutdown_done.clone();
    let (file, slow_finished) = (ready_file.clone(), slow_done.clone());
    let waiting = tokio::spawn(async move {
        // The harness client gives up after 10 s; the drain takes about SLOW.
        let reply = get_plain(manager_port, "127.0.0.1", "/shutdown").await;
        done.store(true, Ordering::SeqCst);
        // What held at the moment the answer arrived, not when a poller next looked.
        (reply, file.exists(), slow_finished.load(Ordering::SeqCst))
    });

    let admin = format!("127.0.0.1:{}", cluster.ports.admin);
    let mut shutdown = sesame_envoy(
        &[
            "shutdown",
            "--log-format",
            "json",
            "--admin-address",
            &admin,
            "--check-interval",
            "500ms",
            "--ready-file",
            &ready,
        ],
        &dir.path().join("shutdown.log"),
    );
    let began = Instant::now();

    // Watch until the shutdown command exits.
    let mut moments = Moments::default();
    let stats = cluster.ports.stats;
    let exit = loop {
        assert!(
            Instant::now() < began + PATIENCE,
            "shutdown never finished\n{}",
            logs()
        );
        // The manager must not answer before the file exists: read its flag first.
        let manager_answered = shutdown_done.load(Ordering::SeqCst);
        // The file must not exist while the slow request is in flight: look at the file first.
        let file = ready_file.exists();
        let slow_finished = slow_done.load(Ordering::SeqCst);
        assert!(
            !file || slow_finished,
            "ready file written with the slow request in flight\n{}",
            logs()
        );
        assert!(
            !manager_answered || file,
            "/shutdown answered before the ready file existed\n{}",
            logs()
        );
        if file && moments.file.is_none() {
            moments.file = Some(Instant::now());
        }
        if moments.unready.is_none() {
            let reply = get_plain(stats, "127.0.0.1", "/ready").await;
            if !matches!(reply, Ok(ref r) if r.status == 200) {
                moments.unready = Some(Instant::now());
                assert!(
                    !slow_done.load(Ordering::SeqCst),
                    "Envoy turned unready only after the slow request finished\n{}",
                    logs()
                );
            }
        }
        if let Some(status) = shutdown.try_wait().expect("shutdown status") {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let exited = Instant::now();
    assert!(exit.success(), "shutdown failed: {exit}\n{}", logs());
    assert!(
        ready_file.exists(),
        "no ready file after shutdown\n{}",
        logs()
    );
    let file_seen = moments.file.unwrap_or(exited);

    let (reply, slow_finished) = slow.await.expect("slow request task");
    let reply = reply.expect("slow request");
    assert_eq!(reply.status, 200, "slow request: {reply:?}\n{}", logs());
    assert_eq!(reply.body, "slow\n");

    // That Envoy turned unready while the slow request was still in flight is asserted where
    // it was seen (the flag is read after the unready answer). Comparing the two timestamps
    // here would race: the request task takes its moment before raising its flag, so it can
    // predate a poll that still saw the flag down.
    assert!(moments.unready.is_some(), "Envoy never turned unready");
    assert!(
        slow_finished <= file_seen,
        "ready file only after the slow request"
    );

    let (reply, file_when_answered, slow_when_answered) = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("/shutdown never answered")
        .expect("/shutdown task");
    let reply = reply.expect("/shutdown request");
    assert_eq!(reply.status, 200, "/shutdown: {reply:?}\n{}", logs());
    assert!(
        file_when_answered,
        "/shutdown answered before the ready file existed\n{}",
        logs()
    );
    assert!(
        slow_when_answered,
        "/shutdown answered with the slow request still in flight\n{}",
        logs()
    );

    // Still healthy after answering /shutdown.
    let healthz = get_plain(manager_port, "127.0.0.1", "/healthz").await;
    assert!(
        matches!(healthz, Ok(ref r) if r.status == 200),
        "{healthz:?}"
    );
    // Each poll's count is logged.
    let log = std::fs::read_to_string(dir.path().join("shutdown.log")).unwrap_or_default();
    assert!(log.contains("\"open_connections\":1"), "{log}");
    assert!(log.contains("\"open_connections\":0"), "{log}");
}

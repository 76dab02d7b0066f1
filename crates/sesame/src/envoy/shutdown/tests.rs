use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::*;

#[test]
fn escapes_contours_filter() {
    assert_eq!(
        query_escape(prometheus::DOWNSTREAM_CX_ACTIVE_FILTER),
        "%5Ehttp%5C..%2A%5C.downstream_cx_active%24"
    );
}

#[test]
fn writes_the_ready_file_and_its_parents() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a/b/ok");
    write_ready_file(&file).expect("write");
    assert!(file.exists());
    // Writing again is fine.
    write_ready_file(&file).expect("write again");
}

/// A fake admin interface: `/healthcheck/fail` fails `failures` times, then `/stats/prometheus`
/// reports 2, 1, then 0 open ingress connections (and always one admin connection).
async fn fake_admin(failures: u32) -> (String, Arc<AtomicU32>) {
    let fails = Arc::new(AtomicU32::new(0));
    let polls = Arc::new(AtomicU32::new(0));
    let seen = fails.clone();
    let app = Router::new()
        .route(
            "/healthcheck/fail",
            post(move || {
                let seen = seen.clone();
                async move {
                    if seen.fetch_add(1, Ordering::SeqCst) < failures {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
        .route(
            "/stats/prometheus",
            get(move || {
                let polls = polls.clone();
                async move {
                    let open = 2u32.saturating_sub(polls.fetch_add(1, Ordering::SeqCst));
                    format!(
                        "envoy_http_downstream_cx_active{{envoy_http_conn_manager_prefix=\"admin\"}} 1\n\
                         envoy_http_downstream_cx_active{{envoy_http_conn_manager_prefix=\"ingress_http\"}} {open}\n"
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, fails)
}

fn args(admin: &str, ready_file: PathBuf) -> ShutdownArgs {
    ShutdownArgs {
        admin_address: admin.parse().expect("address"),
        drain_delay: Duration::ZERO,
        check_delay: Duration::ZERO,
        check_interval: Duration::from_millis(10),
        min_open_connections: 0,
        ready_file,
    }
}

#[tokio::test]
async fn drains_then_writes_the_ready_file() {
    let (admin, fails) = fake_admin(2).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("admin/ok");
    run(args(&admin, file.clone())).await.expect("shutdown");
    assert!(file.exists());
    assert_eq!(
        fails.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );
}

#[tokio::test]
async fn gives_up_after_four_failed_attempts() {
    let (admin, fails) = fake_admin(u32::MAX).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ok");
    let error = run(args(&admin, file.clone()))
        .await
        .expect_err("must fail");
    assert!(format!("{error:#}").contains("4 attempts"), "{error:#}");
    assert_eq!(fails.load(Ordering::SeqCst), FAIL_ATTEMPTS);
    assert!(!file.exists());
}

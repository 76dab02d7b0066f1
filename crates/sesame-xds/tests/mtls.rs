//! The xDS server over mutual TLS through real sockets: who is let in, for streams and unary
//! calls alike, and certificate rotation while a stream stays open.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arc_swap::ArcSwap;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_client::ClusterDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::util::pack_any;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use sesame_xds::tls::reload::{ReloadStats, watch};
use sesame_xds::tls::{TlsFiles, serve_tls};
use sesame_xds::{ResourceType, SnapshotStore};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A CA and what it signs.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let pem = params.clone().self_signed(&key).expect("ca").pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `name` (PEM certificate, PEM key); `expired` makes one that ended yesterday.
    fn leaf(&self, name: &str, expired: bool) -> (String, String) {
        let mut params = CertificateParams::new(vec![name.to_string()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(10);
            params.not_after = now - time::Duration::days(1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

/// One version of the server's files, as kubelet lays a Secret volume out: a timestamped
/// directory, `..data` pointing at it, and the files as symlinks through `..data`.
fn write_version(dir: &Path, version: &str, ca: &str, cert: &str, key: &str) {
    let data = dir.join(version);
    std::fs::create_dir_all(&data).expect("version dir");
    std::fs::write(data.join("ca.crt"), ca).expect("ca");
    std::fs::write(data.join("tls.crt"), cert).expect("cert");
    std::fs::write(data.join("tls.key"), key).expect("key");
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version, &tmp).expect("symlink");
    std::fs::rename(&tmp, dir.join("..data")).expect("swap ..data");
    for file in ["ca.crt", "tls.crt", "tls.key"] {
        let link = dir.join(file);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(PathBuf::from("..data").join(file), &link).expect("link");
        }
    }
}

fn files(dir: &Path) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.crt"),
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    }
}

struct Server {
    port: u16,
    store: SnapshotStore,
    stats: Arc<ReloadStats>,
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

async fn start(ca: &Ca) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = ca.leaf("sesame", false);
    write_version(dir.path(), "..v1", &ca.pem, &cert, &key);
    let files = files(dir.path());
    let config = Arc::new(ArcSwap::new(
        files.server_config().expect("first set loads"),
    ));
    let stats = Arc::new(ReloadStats::default());
    tokio::spawn(watch(
        files,
        config.clone(),
        stats.clone(),
        Duration::from_millis(300),
    ));
    let store = SnapshotStore::new();
    store.publish(vec![(
        ResourceType::Cluster,
        [(
            "one".to_string(),
            pack_any(Cluster {
                name: "one".into(),
                ..Default::default()
            }),
        )]
        .into(),
    )]);
    store.mark_ready();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(serve_tls(
        listener,
        config,
        store.clone(),
        std::future::pending(),
    ));
    let path = dir.path().to_path_buf();
    Server {
        port,
        store,
        stats,
        _dir: dir,
        dir: path,
    }
}

/// A channel to the server trusting `server_ca`, presenting `client` if given.
async fn channel(
    port: u16,
    server_ca: &str,
    client: Option<&(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_ca))
        .domain_name("sesame");
    if let Some((cert, key)) = client {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

fn request() -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: ResourceType::Cluster.type_url().to_string(),
        ..Default::default()
    }
}

/// Whether a unary fetch and an ADS stream both get clusters.
async fn admitted(port: u16, server_ca: &str, client: Option<&(String, String)>) -> (bool, bool) {
    let Ok(channel) = channel(port, server_ca, client).await else {
        return (false, false);
    };
    let unary = ClusterDiscoveryServiceClient::new(channel.clone())
        .fetch_clusters(request())
        .await
        .is_ok_and(|r| !r.get_ref().resources.is_empty());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let _ = tx.send(request()).await;
    let stream = async {
        let mut s = AggregatedDiscoveryServiceClient::new(channel)
            .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await?
            .into_inner();
        s.message().await
    };
    let streamed = matches!(tokio::time::timeout(Duration::from_secs(5), stream).await, Ok(Ok(Some(r))) if !r.resources.is_empty());
    (unary, streamed)
}

#[tokio::test]
async fn only_clients_with_a_certificate_from_the_ca_get_in() -> TestResult {
    let ca = Ca::new("sesame-ca");
    let server = start(&ca).await;
    let envoy = ca.leaf("envoy", false);
    assert_eq!(
        admitted(server.port, &ca.pem, Some(&envoy)).await,
        (true, true)
    );
    assert_eq!(
        admitted(server.port, &ca.pem, None).await,
        (false, false),
        "no client certificate"
    );
    let other = Ca::new("other-ca").leaf("envoy", false);
    assert_eq!(
        admitted(server.port, &ca.pem, Some(&other)).await,
        (false, false),
        "another CA"
    );
    let expired = ca.leaf("envoy", true);
    assert_eq!(
        admitted(server.port, &ca.pem, Some(&expired)).await,
        (false, false),
        "expired"
    );

    // Plain TCP (h2c) gets no gRPC answer either.
    let plain = Endpoint::from_shared(format!("http://127.0.0.1:{}", server.port))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await;
    let plain_ok = match plain {
        Ok(c) => ClusterDiscoveryServiceClient::new(c)
            .fetch_clusters(request())
            .await
            .is_ok(),
        Err(_) => false,
    };
    assert!(!plain_ok, "plain TCP was served");
    Ok(())
}

#[tokio::test]
async fn rotation_keeps_open_streams_and_new_handshakes_use_the_new_set() -> TestResult {
    let old = Ca::new("old-ca");
    let server = start(&old).await;
    let old_envoy = old.leaf("envoy", false);

    // A stream opened before the rotation.
    let channel = channel(server.port, &old.pem, Some(&old_envoy)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(request()).await?;
    let mut stream = AggregatedDiscoveryServiceClient::new(channel)
        .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let first = stream.message().await?.ok_or("no first response")?;

    let new = Ca::new("new-ca");
    let (cert, key) = new.leaf("sesame", false);
    write_version(&server.dir, "..v2", &new.pem, &cert, &key);
    let new_envoy = new.leaf("envoy", false);
    let rotated =
        wait(|| async { admitted(server.port, &new.pem, Some(&new_envoy)).await == (true, true) })
            .await;
    assert!(rotated, "the new set never took effect");
    assert_eq!(
        admitted(server.port, &old.pem, Some(&old_envoy)).await,
        (false, false),
        "the old chain is refused"
    );
    assert_eq!(server.stats.reloads.load(Ordering::Relaxed), 1);

    // The old stream is still open: it ACKs and receives the next push.
    tx.send(DiscoveryRequest {
        version_info: first.version_info.clone(),
        response_nonce: first.nonce.clone(),
        ..request()
    })
    .await?;
    server.store.publish(vec![(
        ResourceType::Cluster,
        [
            (
                "one".to_string(),
                pack_any(Cluster {
                    name: "one".into(),
                    ..Default::default()
                }),
            ),
            (
                "two".to_string(),
                pack_any(Cluster {
                    name: "two".into(),
                    ..Default::default()
                }),
            ),
        ]
        .into(),
    )]);
    let pushed = tokio::time::timeout(Duration::from_secs(5), stream.message()).await??;
    assert_eq!(
        pushed.map(|r| r.resources.len()),
        Some(2),
        "the open stream kept working"
    );

    // A corrupt set (key of another certificate) is refused; the last good set stays.
    let (_, wrong_key) = new.leaf("sesame", false);
    write_version(&server.dir, "..v3", &new.pem, &cert, &wrong_key);
    let refused = wait(|| async { server.stats.errors.load(Ordering::Relaxed) >= 1 }).await;
    assert!(refused, "the corrupt set was not noticed");
    assert_eq!(
        admitted(server.port, &new.pem, Some(&new_envoy)).await,
        (true, true),
        "last good set in force"
    );
    std::fs::write(server.dir.join("..v3").join("tls.crt"), "garbage")?;
    let refused = wait(|| async { server.stats.errors.load(Ordering::Relaxed) >= 2 }).await;
    assert!(refused, "the unparsable certificate was not noticed");
    assert_eq!(
        admitted(server.port, &new.pem, Some(&new_envoy)).await,
        (true, true),
        "still the last good set"
    );

    // A missing file (a version without its key) is refused once, not at every check.
    std::fs::remove_file(server.dir.join("..v3").join("tls.key"))?;
    let refused = wait(|| async { server.stats.errors.load(Ordering::Relaxed) >= 3 }).await;
    assert!(refused, "the missing key was not noticed");
    assert_eq!(
        admitted(server.port, &new.pem, Some(&new_envoy)).await,
        (true, true),
        "a missing file leaves the last good set"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        server.stats.errors.load(Ordering::Relaxed),
        3,
        "the same missing file was reported again"
    );
    Ok(())
}

#[test]
fn a_key_that_does_not_match_or_an_expired_certificate_is_refused() {
    let ca = Ca::new("ca");
    let dir = tempfile::tempdir().expect("dir");
    let (cert, _) = ca.leaf("sesame", false);
    let (_, other_key) = ca.leaf("sesame", false);
    write_version(dir.path(), "..v1", &ca.pem, &cert, &other_key);
    let err = files(dir.path()).server_config().expect_err("mismatch");
    assert!(err.to_string().contains("tls.crt"), "{err}");
    let (expired, key) = ca.leaf("sesame", true);
    write_version(dir.path(), "..v2", &ca.pem, &expired, &key);
    let err = files(dir.path()).server_config().expect_err("expired");
    assert!(err.to_string().contains("not valid now"), "{err}");
}

async fn wait<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

//! The secure split deployment end to end: `sesame serve` and a real Envoy talk xDS over mutual
//! TLS with certificates made by `sesame certgen`, mounted the way kubelet mounts Secrets; the
//! certificates rotate under load without a failed request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_client::ClusterDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::harness::{Cluster, PATIENCE, Pki, backend, eventually, get_plain, services};

const CLUSTER_TYPE: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

/// One run of `sesame certgen --pem`: the CA and both leaves, PEM.
struct Generation {
    ca: String,
    sesame: (String, String),
    envoy: (String, String),
}

fn certgen(dir: &Path) -> Generation {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("certgen")
        .arg(dir)
        .arg("--pem")
        .output()
        .expect("run sesame certgen");
    assert!(
        out.status.success(),
        "certgen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect(name);
    Generation {
        ca: read("cacert.pem"),
        sesame: (read("sesamecert.pem"), read("sesamekey.pem")),
        envoy: (read("envoycert.pem"), read("envoykey.pem")),
    }
}

/// Mounts one version of a Secret as kubelet does: the files in a new timestamped directory,
/// `..data` swapped to it with a rename, and `ca.crt`, `tls.crt`, `tls.key` as symlinks through
/// `..data`.
fn mount(dir: &Path, version: &str, ca: &str, (cert, key): (&str, &str)) {
    let data = dir.join(version);
    std::fs::create_dir_all(&data).expect("version dir");
    for (file, text) in [("ca.crt", ca), ("tls.crt", cert), ("tls.key", key)] {
        std::fs::write(data.join(file), text).expect("write mounted file");
    }
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version, &tmp).expect("symlink ..data_tmp");
    std::fs::rename(&tmp, dir.join("..data")).expect("swap ..data");
    for file in ["ca.crt", "tls.crt", "tls.key"] {
        let link = dir.join(file);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(PathBuf::from("..data").join(file), &link).expect("link");
        }
    }
}

fn mount_pair(dir: &Path, version: &str, ca: &str, pair: &(String, String)) {
    mount(dir, version, ca, (&pair.0, &pair.1));
}

/// Whether a client trusting `server_ca` and presenting `client` gets clusters from Sesame by
/// a unary fetch and by an ADS stream, each on a new connection.
async fn admitted(port: u16, server_ca: &str, client: Option<&(String, String)>) -> (bool, bool) {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_ca))
        .domain_name("sesame");
    if let Some((cert, key)) = client {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let endpoint = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls config")
        .connect_timeout(Duration::from_secs(5));
    let request = || DiscoveryRequest {
        type_url: CLUSTER_TYPE.to_string(),
        ..Default::default()
    };
    let unary = async {
        let channel = endpoint.connect().await.ok()?;
        let reply = ClusterDiscoveryServiceClient::new(channel)
            .fetch_clusters(request())
            .await
            .ok()?;
        Some(!reply.get_ref().resources.is_empty())
    };
    let stream = async {
        let channel = endpoint.connect().await.ok()?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tx.send(request()).await.ok()?;
        let mut stream = AggregatedDiscoveryServiceClient::new(channel)
            .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .ok()?
            .into_inner();
        let first = stream.message().await.ok()??;
        Some(!first.resources.is_empty())
    };
    let within = Duration::from_secs(10);
    let unary = matches!(tokio::time::timeout(within, unary).await, Ok(Some(true)));
    let stream = matches!(tokio::time::timeout(within, stream).await, Ok(Some(true)));
    (unary, stream)
}

/// A second CA Sesame is told to trust, and an `envoy` certificate it signed that expired
/// yesterday: refused for its dates alone.
fn trusted_ca_with_an_expired_leaf() -> (String, (String, String)) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA").pem();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params =
        rcgen::CertificateParams::new(vec!["envoy".to_string()]).expect("expired params");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(10);
    params.not_after = now - time::Duration::days(1);
    let key = rcgen::KeyPair::generate().expect("expired key");
    let cert = params.signed_by(&key, &issuer).expect("expired cert");
    (ca, (cert.pem(), key.serialize_pem()))
}

/// The value of one of Sesame's gauges or counters on `/metrics`.
async fn metric(cluster: &Cluster, name: &str) -> Option<f64> {
    cluster.sesame_metric(name).await
}

/// Waits until a Sesame metric reaches `at_least`.
async fn metric_reaches(cluster: &Cluster, name: &str, at_least: f64) {
    let reached = eventually(PATIENCE, || async {
        metric(cluster, name).await.is_some_and(|v| v >= at_least)
    })
    .await;
    assert!(
        reached,
        "{name} never reached {at_least} (now {:?})\n{}",
        metric(cluster, name).await,
        cluster.logs()
    );
}

/// Envoy's count of connections it opened to Sesame's xDS server (the bootstrap's `sesame`
/// cluster, whose stats go by `<namespace>_sesame_<port>`).
async fn xds_connections(cluster: &Cluster) -> u64 {
    let name = format!(
        "cluster.projectsesame_sesame_{}.upstream_cx_total",
        cluster.ports.xds
    );
    let counters = cluster.envoy_counters(&name).await;
    counters
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {name} among {counters:?}"))
}

fn ingress(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: echo\n            port:\n              number: 80\n"
    )
}

/// Requests through Envoy in a loop until stopped, counting answers from the backend and
/// anything else (with the first few failures kept).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(port: u16, host: &'static str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    match get_plain(port, host, "/").await {
                        Ok(reply) if reply.from("echo") => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => failures
                            .lock()
                            .expect("failures")
                            .push(format!("{other:?}")),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        Load {
            stop,
            ok,
            failures,
            task,
        }
    }

    /// Stops the loop: (answered, failures).
    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("load loop");
        let failures = self.failures.lock().expect("failures").clone();
        (self.ok.load(Ordering::Relaxed), failures)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_over_mtls_with_certgen_certificates_rotates_under_load() {
    let dir = tempfile::tempdir().expect("dir");
    let gen1 = certgen(&dir.path().join("gen1"));
    let (sesame_certs, envoy_certs) = (dir.path().join("sesame"), dir.path().join("envoy"));
    // Sesame's first CA bundle also trusts a test CA, whose only leaf has expired.
    let (expiring_ca, expired) = trusted_ca_with_an_expired_leaf();
    mount_pair(
        &sesame_certs,
        "..v1",
        &format!("{}{expiring_ca}", gen1.ca),
        &gen1.sesame,
    );
    mount_pair(&envoy_certs, "..v1", &gen1.ca, &gen1.envoy);
    let path = |d: &Path, f: &str| d.join(f).display().to_string();

    let echo = backend("echo").await;
    let (s_ca, s_cert, s_key) = (
        path(&sesame_certs, "ca.crt"),
        path(&sesame_certs, "tls.crt"),
        path(&sesame_certs, "tls.key"),
    );
    let mut cluster = Cluster::sesame_only(
        &[
            ("services.yaml", &services(&[("echo", &echo)])),
            ("one.yaml", &ingress("one", "one.example.com")),
        ],
        &[
            "--sesame-cafile",
            &s_ca,
            "--sesame-cert-file",
            &s_cert,
            "--sesame-key-file",
            &s_key,
        ],
    );
    let (e_ca, e_cert, e_key) = (
        path(&envoy_certs, "ca.crt"),
        path(&envoy_certs, "tls.crt"),
        path(&envoy_certs, "tls.key"),
    );
    let resources = dir.path().join("resources").display().to_string();
    cluster
        .start_envoy_with(&[
            "--envoy-cafile",
            &e_ca,
            "--envoy-cert-file",
            &e_cert,
            "--envoy-key-file",
            &e_key,
            "--resources-dir",
            &resources,
        ])
        .await;

    // Envoy got its configuration over mTLS and routes.
    cluster
        .eventually_http("one.example.com", "/", "routed over mTLS xDS", |r| {
            r.from("echo")
        })
        .await;
    let xds = cluster.ports.xds;

    // Who else gets in: Envoy's certificate does; none, another CA's, an expired one do not.
    assert_eq!(
        admitted(xds, &gen1.ca, Some(&gen1.envoy)).await,
        (true, true),
        "certgen's envoy certificate, unary and ADS"
    );
    assert_eq!(
        admitted(xds, &gen1.ca, None).await,
        (false, false),
        "no client certificate"
    );
    let foreign = Pki::new().leaf(&["envoy"]);
    assert_eq!(
        admitted(xds, &gen1.ca, Some(&foreign)).await,
        (false, false),
        "a certificate from another CA"
    );
    assert_eq!(
        admitted(xds, &gen1.ca, Some(&expired)).await,
        (false, false),
        "an expired certificate from a trusted CA"
    );
    let plain = tokio::net::TcpStream::connect(("127.0.0.1", xds))
        .await
        .expect("TCP connect");
    assert!(
        plain_h2c_refused(plain).await,
        "plain-text gRPC was answered on the TLS port"
    );

    // Rotation under load.
    let load = Load::start(cluster.ports.http, "one.example.com");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let connections_before = xds_connections(&cluster).await;
    assert_eq!(
        connections_before, 1,
        "Envoy's xDS connections before the rotation"
    );
    let reloads_before = metric(&cluster, "sesame_xds_tls_reloads")
        .await
        .unwrap_or(0.0);
    let errors_before = metric(&cluster, "sesame_xds_tls_reload_errors")
        .await
        .unwrap_or(0.0);
    let gen2 = certgen(&dir.path().join("gen2"));

    // Envoy's Secret first: its SDS files see the `..data` swap.
    mount_pair(&envoy_certs, "..v2", &gen2.ca, &gen2.envoy);
    // Sesame's Secret with a corrupt certificate: refused, the first set stays in force.
    mount(
        &sesame_certs,
        "..v2",
        &gen2.ca,
        ("-----BEGIN CERTIFICATE-----\nnot base64\n", &gen2.sesame.1),
    );
    metric_reaches(
        &cluster,
        "sesame_xds_tls_reload_errors",
        errors_before + 1.0,
    )
    .await;
    assert_eq!(
        admitted(xds, &gen1.ca, Some(&gen1.envoy)).await,
        (true, true),
        "after a corrupt set, the last good set is in force"
    );
    assert_eq!(
        admitted(xds, &gen2.ca, Some(&gen2.envoy)).await,
        (false, false),
        "the corrupt set was not half-applied"
    );

    // Sesame's Secret completed: new handshakes need the new chain.
    mount_pair(&sesame_certs, "..v3", &gen2.ca, &gen2.sesame);
    metric_reaches(&cluster, "sesame_xds_tls_reloads", reloads_before + 1.0).await;
    assert_eq!(
        admitted(xds, &gen2.ca, Some(&gen2.envoy)).await,
        (true, true),
        "the new chain gets in"
    );
    assert_eq!(
        admitted(xds, &gen1.ca, Some(&gen1.envoy)).await,
        (false, false),
        "the old chain no longer does"
    );

    // Envoy's stream opened before the rotation is still the one in use, and still delivers.
    cluster.write("two.yaml", &ingress("two", "two.example.com"));
    cluster
        .eventually_http(
            "two.example.com",
            "/",
            "pushed on the pre-rotation stream",
            |r| r.from("echo"),
        )
        .await;
    assert_eq!(
        xds_connections(&cluster).await,
        connections_before,
        "Envoy reconnected to Sesame during the rotation\n{}",
        cluster.logs()
    );

    // A restarted Sesame (new set only) accepts Envoy's reconnection: Envoy presents the rotated
    // certificate it read from its watched SDS files, without a restart of its own.
    cluster.restart_sesame();
    let reconnected = eventually(PATIENCE, || async {
        xds_connections(&cluster).await > connections_before
    })
    .await;
    assert!(reconnected, "Envoy never reconnected\n{}", cluster.logs());
    cluster.write("three.yaml", &ingress("three", "three.example.com"));
    cluster
        .eventually_http(
            "three.example.com",
            "/",
            "pushed after reconnecting with the new certificate",
            |r| r.from("echo"),
        )
        .await;

    let (answered, failures) = load.finish().await;
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during rotation: {:?}",
        failures.len(),
        answered as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(answered > 20, "the load loop hardly ran: {answered}");
}

/// Whether a plain-text HTTP/2 (h2c) gRPC attempt on the TLS port gets no answer.
async fn plain_h2c_refused(mut stream: tokio::net::TcpStream) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    if stream.write_all(preface).await.is_err() {
        return true;
    }
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
        // Closed, reset, or a TLS alert: never an HTTP/2 SETTINGS frame (type 4 at byte 3).
        Ok(Ok(n)) => n < 4 || buf[3] != 4,
        Ok(Err(_)) => true,
        Err(_) => true,
    }
}

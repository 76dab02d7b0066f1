//! Mutual TLS for the xDS server: Sesame's certificate, key and CA loaded and checked together,
//! a rustls server config that requires a client certificate chaining to the CA, and an accept
//! loop whose config can be swapped while it runs (certificate rotation without a restart;
//! connections already open keep the set they were made with).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::SnapshotStore;

pub mod reload;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The three files of the xDS server's mutual TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that client (Envoy) certificates must chain to.
    pub ca: PathBuf,
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

/// Why a set of TLS files was refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM of the expected kind.
    #[error("{}: {what}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The certificate has expired or is not valid yet.
    #[error("{}: certificate is not valid now ({what})", path.display())]
    NotValidNow {
        /// The certificate file.
        path: PathBuf,
        /// The validity period.
        what: String,
    },
    /// The key does not belong to the certificate, or rustls refuses the set.
    #[error("certificate {} and key {}: {what}", cert.display(), key.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        what: String,
    },
}

impl TlsFiles {
    /// Loads and checks the three files together and builds the server config: TLS 1.2 at
    /// least, ALPN `h2`, a client certificate required and verified against the CA.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let chain = certificates(&self.cert)?;
        let cas = certificates(&self.ca)?;
        let key = private_key(&self.key)?;
        valid_now(&self.cert, &chain[0])?;
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca).map_err(|e| TlsError::Pem {
                path: self.ca.clone(),
                what: format!("not a usable CA certificate: {e}"),
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsError::Pem {
                    path: self.ca.clone(),
                    what: format!("cannot verify clients with this CA: {e}"),
                })?;
        let mismatch = |what: String| TlsError::Mismatch {
            cert: self.cert.clone(),
            key: self.key.clone(),
            what,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| mismatch(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| mismatch(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            what: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            what: "no certificate".to_string(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        what: format!("no private key: {e}"),
    })
}

fn valid_now(path: &Path, cert: &CertificateDer<'_>) -> Result<(), TlsError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        what: format!("unparsable certificate: {e}"),
    })?;
    let now = UnixTime::now().as_secs() as i64;
    let validity = parsed.validity();
    if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
        return Err(TlsError::NotValidNow {
            path: path.to_path_buf(),
            what: format!("{} to {}", validity.not_before, validity.not_after),
        });
    }
    Ok(())
}

/// The server config in force, swapped on reload.
pub type SharedConfig = Arc<ArcSwap<rustls::ServerConfig>>;

/// Serves xDS over mutual TLS on `listener` until `shutdown` completes. Each connection is
/// handshaken off the accept loop with the config in force when it arrived; plain TCP and
/// clients without an acceptable certificate never reach a gRPC service.
pub async fn serve_tls(
    listener: TcpListener,
    config: SharedConfig,
    store: SnapshotStore,
    shutdown: impl Future<Output = ()>,
) -> Result<(), crate::Error> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<TlsStream<TcpStream>, std::io::Error>>(64);
    let accept = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "xds accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(config.load_full());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::info!(%peer, error = %e, "xds TLS handshake refused");
                    }
                    Err(_) => tracing::info!(%peer, "xds TLS handshake timed out"),
                }
            });
        }
    });
    let incoming = tokio_stream::wrappers::ReceiverStream::new(rx);
    let result = crate::serve_incoming(incoming, store, shutdown).await;
    accept.abort();
    result
}

//! TLS Secrets, CA bundles and certificate revocation lists: validated once per build so that
//! Envoy (BoringSSL) never sees a certificate, key or CRL it would refuse.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::dag::{Dag, TlsSecret};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::service::short_sha1;
use crate::snapshot::Snapshot;

/// The Secret type for TLS certificates.
const TLS_TYPE: &str = "kubernetes.io/tls";
/// The Secret key holding a PEM bundle of CA certificates (Contour's).
const CA_KEY: &str = "ca.crt";
/// The Secret key holding PEM certificate revocation lists (Contour's).
const CRL_KEY: &str = "crl.pem";
/// The PEM label of an X.509 certificate.
const CERTIFICATE_LABEL: &str = "CERTIFICATE";
/// The PEM label of an X.509 certificate revocation list.
const CRL_LABEL: &str = "X509 CRL";
/// The smallest RSA key BoringSSL in Envoy serves.
const MIN_RSA_BITS: usize = 2048;
/// OIDs of the named curves Envoy serves and Sesame can check.
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const P521: &str = "1.3.132.0.35";

/// Why a Secret cannot serve TLS.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum SecretError {
    /// No such Secret.
    #[error("secret not found")]
    NotFound,
    /// The Secret's type is neither `kubernetes.io/tls` nor `Opaque`.
    #[error("secret type is {0:?}, not \"kubernetes.io/tls\"")]
    WrongType(String),
    /// A key is missing from the Secret's data.
    #[error("secret has no {0} data")]
    MissingData(&'static str),
    /// A PEM block could not be read.
    #[error("failed to parse PEM block in {0}: {1}")]
    Pem(&'static str, String),
    /// `tls.crt` holds no certificate.
    #[error("tls.crt holds no PEM certificate")]
    NoCertificate,
    /// A certificate in `tls.crt` is not valid X.509.
    #[error("certificate {0} in tls.crt is not a valid X.509 certificate")]
    BadCertificate(usize),
    /// The leaf has neither a common name nor a subject alternative name.
    #[error("certificate has no common name or subject alt name")]
    NoName,
    /// `tls.key` holds no private key.
    #[error("tls.key holds no PEM private key")]
    NoPrivateKey,
    /// `tls.key` holds more than one private key.
    #[error("tls.key holds multiple private keys")]
    MultipleKeys,
    /// The private key is encrypted.
    #[error("tls.key is encrypted; Envoy needs an unencrypted private key")]
    EncryptedKey,
    /// A key type Envoy does not serve, or Sesame cannot check.
    #[error("{0}")]
    UnsupportedKey(String),
    /// The private key could not be loaded.
    #[error("tls.key cannot be used: {0}")]
    UnusableKey(String),
    /// The private key does not belong to the certificate.
    #[error("private key does not match the certificate")]
    KeyMismatch,
    /// A PEM block of another kind than the key holds (e.g. a private key in `ca.crt`).
    #[error("{key} holds a PEM block of type {label:?}, expected {expected:?}")]
    UnexpectedPemBlock {
        /// The Secret key.
        key: &'static str,
        /// The label of the PEM block found.
        label: String,
        /// The label every block there must have.
        expected: &'static str,
    },
    /// `ca.crt` holds no certificate.
    #[error("ca.crt holds no PEM certificate")]
    NoCaCertificate,
    /// A certificate in `ca.crt` is not valid X.509.
    #[error("certificate {0} in ca.crt is not a valid X.509 certificate")]
    BadCaCertificate(usize),
    /// `crl.pem` holds no certificate revocation list.
    #[error("crl.pem holds no PEM certificate revocation list")]
    NoCrl,
    /// A revocation list in `crl.pem` is not a valid X.509 CRL.
    #[error("revocation list {0} in crl.pem is not a valid X.509 CRL")]
    BadCrl(usize),
}

/// The verdicts on the Secrets looked up during one build, by `(namespace, name)`: one map per
/// use, since one Secret may hold a certificate and key, a CA bundle and a CRL at once.
#[derive(Default)]
pub(crate) struct Secrets<'a> {
    verdicts: Verdicts<'a, Arc<TlsSecret>>,
    cas: Verdicts<'a, Vec<u8>>,
    crls: Verdicts<'a, Vec<u8>>,
}

/// The verdict on each Secret looked up for one use.
type Verdicts<'a, T> = HashMap<(&'a str, &'a str), Result<T, SecretError>>;

impl<'a> Secrets<'a> {
    /// The validated TLS secret `namespace/name`, looked up and checked at most once per build.
    /// Records the lookup in `dag.references`.
    pub(crate) fn get(
        &mut self,
        snapshot: &Snapshot,
        namespace: &'a str,
        name: &'a str,
        dag: &mut Dag,
    ) -> &Result<Arc<TlsSecret>, SecretError> {
        verdict(
            &mut self.verdicts,
            snapshot,
            (namespace, name),
            dag,
            |s, key| validate(s, key).map(Arc::new),
        )
    }

    /// Records `verdict` as the TLS check of Secret `namespace/name`, checked beforehand, and
    /// the lookup in `dag.references`.
    pub(crate) fn seed(
        &mut self,
        namespace: &'a str,
        name: &'a str,
        verdict: Result<Arc<TlsSecret>, SecretError>,
        dag: &mut Dag,
    ) {
        let key = NamespacedName::new(namespace, name);
        dag.references.insert(ObjectKey::new(Kind::Secret, key));
        self.verdicts.insert((namespace, name), verdict);
    }

    /// The validated PEM CA bundle (`ca.crt`) of the Secret `namespace/name`, looked up and
    /// checked at most once per build. Records the lookup in `dag.references`.
    pub(crate) fn ca(
        &mut self,
        snapshot: &Snapshot,
        namespace: &'a str,
        name: &'a str,
        dag: &mut Dag,
    ) -> &Result<Vec<u8>, SecretError> {
        verdict(&mut self.cas, snapshot, (namespace, name), dag, |s, _| {
            validate_ca(s)
        })
    }

    /// The validated PEM revocation lists (`crl.pem`) of the Secret `namespace/name`, looked up
    /// and checked at most once per build. Records the lookup in `dag.references`.
    pub(crate) fn crl(
        &mut self,
        snapshot: &Snapshot,
        namespace: &'a str,
        name: &'a str,
        dag: &mut Dag,
    ) -> &Result<Vec<u8>, SecretError> {
        verdict(&mut self.crls, snapshot, (namespace, name), dag, |s, _| {
            validate_crl(s)
        })
    }
}

/// The cached verdict of `check` on the Secret `(namespace, name)`, computed on first lookup,
/// when the lookup is also recorded in `dag.references`.
fn verdict<'m, 'a, T>(
    verdicts: &'m mut Verdicts<'a, T>,
    snapshot: &Snapshot,
    (namespace, name): (&'a str, &'a str),
    dag: &mut Dag,
    check: impl FnOnce(&Secret, &NamespacedName) -> Result<T, SecretError>,
) -> &'m Result<T, SecretError> {
    verdicts.entry((namespace, name)).or_insert_with(|| {
        let key = NamespacedName::new(namespace, name);
        let verdict = match snapshot.secrets.get(&key) {
            Some(secret) => check(secret, &key),
            None => Err(SecretError::NotFound),
        };
        dag.references.insert(ObjectKey::new(Kind::Secret, key));
        verdict
    })
}

/// Checks that a Secret holds a certificate chain and its private key that Envoy will serve.
pub(crate) fn validate(secret: &Secret, name: &NamespacedName) -> Result<TlsSecret, SecretError> {
    check_type(secret)?;
    let crt = data(secret, "tls.crt")?;
    let key = data(secret, "tls.key")?;
    let chain = CertificateDer::pem_slice_iter(crt)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SecretError::Pem("tls.crt", e.to_string()))?;
    let Some(leaf_der) = chain.first() else {
        return Err(SecretError::NoCertificate);
    };
    for (i, der) in chain.iter().enumerate() {
        X509Certificate::from_der(der).map_err(|_| SecretError::BadCertificate(i + 1))?;
    }
    let (_, leaf) =
        X509Certificate::from_der(leaf_der).map_err(|_| SecretError::BadCertificate(1))?;
    check_names(&leaf)?;
    check_key_type(&leaf)?;
    let private_key = private_key(key)?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&private_key)
        .map_err(|e| SecretError::UnusableKey(e.to_string()))?;
    CertifiedKey::new(chain, signing_key)
        .keys_match()
        .map_err(|_| SecretError::KeyMismatch)?;
    Ok(TlsSecret {
        name: format!("{}/{}/{}", name.namespace, name.name, short_sha1(crt)),
        source: name.clone(),
        certificate_chain: crt.to_vec(),
        private_key: key.to_vec(),
    })
}

/// Checks that a Secret's `ca.crt` holds a PEM bundle of CA certificates Envoy will load: at
/// least one block, every block a certificate that parses as X.509. Returns the bundle as given.
pub(crate) fn validate_ca(secret: &Secret) -> Result<Vec<u8>, SecretError> {
    check_type(secret)?;
    let pem = data(secret, CA_KEY)?;
    validate_ca_pem(pem)?;
    Ok(pem.to_vec())
}

/// Checks that a Secret's `crl.pem` holds PEM certificate revocation lists Envoy will load: at
/// least one block, every block a CRL that parses as X.509. Returns the lists as given.
pub(crate) fn validate_crl(secret: &Secret) -> Result<Vec<u8>, SecretError> {
    validate_pem_list(
        secret,
        (CRL_KEY, CRL_LABEL),
        SecretError::NoCrl,
        |der| CertificateRevocationList::from_der(der).is_ok(),
        SecretError::BadCrl,
    )
}

/// The PEM blocks labelled `label` under `key`: at least one (`empty` otherwise), each accepted
/// by `parses` (`bad(n)` names the first that is not, from 1).
fn validate_pem_list(
    secret: &Secret,
    (key, label): (&'static str, &'static str),
    empty: SecretError,
    parses: impl Fn(&[u8]) -> bool,
    bad: fn(usize) -> SecretError,
) -> Result<Vec<u8>, SecretError> {
    check_type(secret)?;
    let pem = data(secret, key)?;
    check_pem_list(pem, (key, label), empty, parses, bad)?;
    Ok(pem.to_vec())
}

/// Checks that `pem` (the value of a ConfigMap's `ca.crt`) holds a PEM bundle of CA
/// certificates Envoy will load, as [`validate_ca`] does for a Secret's.
pub(crate) fn validate_ca_pem(pem: &[u8]) -> Result<(), SecretError> {
    if pem.is_empty() {
        return Err(SecretError::MissingData(CA_KEY));
    }
    check_pem_list(
        pem,
        (CA_KEY, CERTIFICATE_LABEL),
        SecretError::NoCaCertificate,
        |der| X509Certificate::from_der(der).is_ok(),
        SecretError::BadCaCertificate,
    )
}

/// Checks that `pem` holds at least one block labelled `label` (`empty` otherwise), each
/// accepted by `parses` (`bad(n)` names the first that is not, from 1).
fn check_pem_list(
    pem: &[u8],
    (key, label): (&'static str, &'static str),
    empty: SecretError,
    parses: impl Fn(&[u8]) -> bool,
    bad: fn(usize) -> SecretError,
) -> Result<(), SecretError> {
    let blocks = pem_blocks(pem, key, label)?;
    if blocks.is_empty() {
        return Err(empty);
    }
    if let Some(i) = blocks.iter().position(|der| !parses(der)) {
        return Err(bad(i + 1));
    }
    Ok(())
}

/// Accepts the Secret types that may hold certificates, CA bundles and CRLs: `Opaque`,
/// `kubernetes.io/tls` or none.
fn check_type(secret: &Secret) -> Result<(), SecretError> {
    match secret.type_.as_deref() {
        None | Some(TLS_TYPE) | Some("Opaque") => Ok(()),
        Some(other) => Err(SecretError::WrongType(other.to_string())),
    }
}

/// The DER contents of every PEM block in `pem` (the value of the Secret key `key`), each of
/// which must be labelled `expected`. Text outside the blocks is ignored, as BoringSSL does.
fn pem_blocks(
    pem: &[u8],
    key: &'static str,
    expected: &'static str,
) -> Result<Vec<Vec<u8>>, SecretError> {
    // The PEM reader skips blocks of labels it does not know, so check every label first.
    for line in pem.split(|b| *b == b'\n') {
        let Some(rest) = line.strip_prefix(b"-----BEGIN ") else {
            continue;
        };
        let label = rest.trim_ascii_end();
        let label = label.strip_suffix(b"-----").unwrap_or(label);
        if label != expected.as_bytes() {
            return Err(SecretError::UnexpectedPemBlock {
                key,
                label: String::from_utf8_lossy(label).into_owned(),
                expected,
            });
        }
    }
    <(SectionKind, Vec<u8>)>::pem_slice_iter(pem)
        .map(|section| {
            section
                .map(|(_, der)| der)
                .map_err(|e| SecretError::Pem(key, e.to_string()))
        })
        .collect()
}

fn data<'s>(secret: &'s Secret, key: &'static str) -> Result<&'s [u8], SecretError> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.as_bytes())
        })
        .filter(|b| !b.is_empty())
        .ok_or(SecretError::MissingData(key))
}

fn check_names(leaf: &X509Certificate<'_>) -> Result<(), SecretError> {
    let has_cn = leaf.subject().iter_common_name().next().is_some();
    let has_san = matches!(leaf.subject_alternative_name(), Ok(Some(san)) if !san.value.general_names.is_empty());
    if has_cn || has_san {
        Ok(())
    } else {
        Err(SecretError::NoName)
    }
}

/// RSA of at least 2048 bits, or ECDSA on P-256 or P-384.
fn check_key_type(leaf: &X509Certificate<'_>) -> Result<(), SecretError> {
    let spki = leaf.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa_bits(rsa.modulus);
            if bits < MIN_RSA_BITS {
                return Err(SecretError::UnsupportedKey(format!(
                    "RSA keys must have at least 2048 bits, this one has {bits}"
                )));
            }
            Ok(())
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some(P256 | P384) => Ok(()),
                Some(P521) => Err(SecretError::UnsupportedKey(
                    "ECDSA P-521 keys are not supported yet; use P-256 or P-384".into(),
                )),
                _ => Err(SecretError::UnsupportedKey(
                    "ECDSA keys must use curve P-256 or P-384".into(),
                )),
            }
        }
        _ => Err(SecretError::UnsupportedKey(
            "only RSA and ECDSA certificates are supported".into(),
        )),
    }
}

/// The size in bits of a big-endian RSA modulus.
fn rsa_bits(modulus: &[u8]) -> usize {
    let start = modulus
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(modulus.len());
    match modulus.get(start) {
        Some(first) => (modulus.len() - start) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// The one unencrypted private key in `tls.key`.
fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, SecretError> {
    if contains(pem, b"ENCRYPTED") {
        return Err(SecretError::EncryptedKey);
    }
    let mut found = None;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(|e| SecretError::Pem("tls.key", e.to_string()))?;
        if !matches!(
            kind,
            SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
        ) {
            continue;
        }
        if found.is_some() {
            return Err(SecretError::MultipleKeys);
        }
        found = PrivateKeyDer::from_pem(kind, der);
    }
    found.ok_or(SecretError::NoPrivateKey)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;

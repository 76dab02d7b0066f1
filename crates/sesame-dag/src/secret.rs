//! TLS Secrets: validated once per build so that Envoy (BoringSSL) never sees a certificate or
//! key it would refuse.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::dag::{Dag, TlsSecret};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::service::short_sha1;
use crate::snapshot::Snapshot;

/// The Secret type for TLS certificates.
const TLS_TYPE: &str = "kubernetes.io/tls";
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
}

/// The verdict on each Secret looked up during one build.
#[derive(Default)]
pub(crate) struct Secrets<'a> {
    verdicts: HashMap<(&'a str, &'a str), Result<Arc<TlsSecret>, SecretError>>,
}

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
        self.verdicts.entry((namespace, name)).or_insert_with(|| {
            let key = NamespacedName::new(namespace, name);
            let verdict = match snapshot.secrets.get(&key) {
                Some(secret) => validate(secret, &key).map(Arc::new),
                None => Err(SecretError::NotFound),
            };
            dag.references.insert(ObjectKey::new(Kind::Secret, key));
            verdict
        })
    }
}

/// Checks that a Secret holds a certificate chain and its private key that Envoy will serve.
pub(crate) fn validate(secret: &Secret, name: &NamespacedName) -> Result<TlsSecret, SecretError> {
    match secret.type_.as_deref() {
        None | Some(TLS_TYPE) | Some("Opaque") => {}
        Some(other) => return Err(SecretError::WrongType(other.to_string())),
    }
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

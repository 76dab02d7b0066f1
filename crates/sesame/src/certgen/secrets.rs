//! The Secrets that carry the certificates, in Contour's two layouts. Pure.

use std::collections::BTreeMap;

use clap::ValueEnum;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use super::pki::{Certificates, Pair};

/// The label every generated Secret carries, so they can be found and cleaned up.
pub const LABEL: (&str, &str) = ("app", "sesame-certgen");

/// How the certificates are laid out in Secrets (`--secrets-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SecretsFormat {
    /// `sesamecert` and `envoycert` (kubernetes.io/tls) plus `cacert` (Opaque, `cacert.pem`).
    #[default]
    Legacy,
    /// `sesamecert` and `envoycert` (kubernetes.io/tls), each with `ca.crt` too.
    Compact,
}

/// The Secrets for `certs`, in `namespace`, each name followed by `suffix`; sorted by name.
pub fn secrets(
    certs: &Certificates,
    format: SecretsFormat,
    namespace: &str,
    suffix: &str,
) -> Vec<Secret> {
    let secret = |name: &str, type_: &str, data: Vec<(&str, &str)>| Secret {
        metadata: ObjectMeta {
            name: Some(format!("{name}{suffix}")),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(LABEL.0.to_string(), LABEL.1.to_string())])),
            ..ObjectMeta::default()
        },
        type_: Some(type_.to_string()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    const TLS: &str = "kubernetes.io/tls";
    match format {
        SecretsFormat::Legacy => vec![
            secret("cacert", "Opaque", vec![("cacert.pem", certs.ca.as_str())]),
            secret("envoycert", TLS, tls(&certs.envoy, None)),
            secret("sesamecert", TLS, tls(&certs.sesame, None)),
        ],
        SecretsFormat::Compact => vec![
            secret("envoycert", TLS, tls(&certs.envoy, Some(&certs.ca))),
            secret("sesamecert", TLS, tls(&certs.sesame, Some(&certs.ca))),
        ],
    }
}

/// The data of a kubernetes.io/tls Secret, with `ca.crt` when `ca` is given.
fn tls<'a>(pair: &'a Pair, ca: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    let mut data = vec![
        ("tls.crt", pair.cert.as_str()),
        ("tls.key", pair.key.as_str()),
    ];
    if let Some(ca) = ca {
        data.push(("ca.crt", ca));
    }
    data
}

#[cfg(test)]
mod tests;

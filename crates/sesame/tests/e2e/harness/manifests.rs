//! Manifests the tests write: Services with EndpointSlices, TLS and CA Secrets, and the PKI
//! that signs their certificates.

use super::*;

/// The [`service`] manifests of several backends, as one multi-document YAML file.
pub fn services(backends: &[(&str, &Backend)]) -> String {
    services_in("default", backends)
}

/// As [`services`], in `namespace`.
pub fn services_in(namespace: &str, backends: &[(&str, &Backend)]) -> String {
    backends
        .iter()
        .map(|(name, backend)| service_in(namespace, name, backend))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A Service named `name` with one port 80 (named `http`) and an EndpointSlice pointing at
/// `backend`, as a JSON manifest.
pub fn service(name: &str, backend: &Backend) -> String {
    service_in("default", name, backend)
}

/// As [`service`], in `namespace`.
pub fn service_in(namespace: &str, name: &str, backend: &Backend) -> String {
    service_at(namespace, name, backend.addr)
}

/// A Service `namespace/name` with one port 80 (named `http`) and an EndpointSlice pointing at
/// `addr`, as a JSON manifest.
pub fn service_at(namespace: &str, name: &str, addr: SocketAddr) -> String {
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": addr.port()}]}
    });
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-1"), "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [addr.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": addr.port(), "protocol": "TCP"}]
    });
    serde_json::to_string(
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [svc, slice]}),
    )
    .expect("json")
}

/// A CA and leaf certificates it signs.
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    /// A new CA.
    pub fn new() -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sesame e2e ca");
        let key = rcgen::KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        Pki {
            ca_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `hosts`, as (cert PEM, key PEM).
    pub fn leaf(&self, hosts: &[&str]) -> (String, String) {
        let params =
            rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }

    /// A leaf certificate for `hosts` that also names the URI `uri` (a SPIFFE ID, say), as
    /// (cert PEM, key PEM).
    pub fn leaf_with_uri(&self, hosts: &[&str], uri: &str) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        let uri = rcgen::string::Ia5String::try_from(uri).expect("ASCII URI");
        params.subject_alt_names.push(rcgen::SanType::URI(uri));
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }

    /// A `kubernetes.io/tls` Secret manifest holding a leaf for `hosts`.
    pub fn secret(&self, name: &str, hosts: &[&str]) -> String {
        let (cert, key) = self.leaf(hosts);
        tls_secret(name, cert.as_bytes(), key.as_bytes())
    }
}

/// A `kubernetes.io/tls` Secret manifest with the given bytes.
pub fn tls_secret(name: &str, cert: &[u8], key: &[u8]) -> String {
    tls_secret_in("default", name, cert, key)
}

/// As [`tls_secret`], in `namespace`.
pub fn tls_secret_in(namespace: &str, name: &str, cert: &[u8], key: &[u8]) -> String {
    secret_manifest(
        namespace,
        name,
        "kubernetes.io/tls",
        &[("tls.crt", cert), ("tls.key", key)],
    )
}

/// An Opaque Secret manifest holding a CA bundle under `ca.crt`.
pub fn ca_secret(namespace: &str, name: &str, ca: &[u8]) -> String {
    secret_manifest(namespace, name, "Opaque", &[("ca.crt", ca)])
}

/// A ConfigMap manifest holding a CA bundle under `ca.crt` (Gateway API's
/// `caCertificateRefs`).
pub fn ca_config_map(namespace: &str, name: &str, ca: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"ca.crt": ca},
    })
    .to_string()
}

fn secret_manifest(namespace: &str, name: &str, type_: &str, data: &[(&str, &[u8])]) -> String {
    use k8s_openapi::ByteString;
    let secret = k8s_openapi::api::core::v1::Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        type_: Some(type_.to_string()),
        data: Some(
            data.iter()
                .map(|(key, value)| (key.to_string(), ByteString(value.to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    let mut value = serde_json::to_value(&secret).expect("secret json");
    value["apiVersion"] = "v1".into();
    value["kind"] = "Secret".into();
    value.to_string()
}

/// Manifest files held as owned `(name, text)` pairs, borrowed as [`Cluster::start`] takes them.
pub fn borrowed(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect()
}

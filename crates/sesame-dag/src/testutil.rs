//! Fixtures for the scenario tests: YAML manifests into a snapshot, and generated certificates.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::build::{BuildConfig, BuildOutput, build};
use crate::dag::{Route, RouteAction, VirtualHost};
use crate::object::{Kind, NamespacedName, Object, ObjectKey};
use crate::snapshot::{Change, Snapshot};
use crate::status::{ObjectStatus, Reason};

/// The objects of a multi-document YAML manifest.
pub(crate) fn objects(yaml: &str) -> Vec<Object> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).unwrap();
    docs.into_iter()
        .filter(|d| !d.is_null())
        .map(object)
        .collect()
}

/// One object from its JSON document, as a source decodes it (compact kinds converted).
pub(crate) fn object(doc: serde_json::Value) -> Object {
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    match kind.as_str() {
        "Ingress" => Object::Ingress(compact::<k8s_openapi::api::networking::v1::Ingress, _>(doc)),
        "Service" => Object::Service(compact::<k8s_openapi::api::core::v1::Service, _>(doc)),
        "Secret" => Object::Secret(decoded(doc)),
        "EndpointSlice" => {
            Object::EndpointSlice(compact::<k8s_openapi::api::discovery::v1::EndpointSlice, _>(doc))
        }
        "Endpoints" => Object::Endpoints(compact::<k8s_openapi::api::core::v1::Endpoints, _>(doc)),
        "HTTPProxy" => Object::HTTPProxy(decoded(doc)),
        "TLSCertificateDelegation" => Object::TLSCertificateDelegation(decoded(doc)),
        "IngressClass" => Object::IngressClass(decoded(doc)),
        "GatewayClass" => Object::GatewayClass(decoded(doc)),
        "Gateway" => Object::Gateway(decoded(doc)),
        "HTTPRoute" => Object::HTTPRoute(decoded(doc)),
        "ReferenceGrant" => Object::ReferenceGrant(decoded(doc)),
        "ExtensionService" => Object::ExtensionService(decoded(doc)),
        "GRPCRoute" => Object::GRPCRoute(decoded(doc)),
        "TLSRoute" => Object::TLSRoute(decoded(doc)),
        "TCPRoute" => Object::TCPRoute(decoded(doc)),
        "BackendTLSPolicy" => Object::BackendTLSPolicy(decoded(doc)),
        "ListenerSet" => Object::ListenerSet(decoded(doc)),
        "Namespace" => Object::Namespace(decoded(doc)),
        "ConfigMap" => Object::ConfigMap(decoded(doc)),
        other => panic!("unexpected kind {other}"),
    }
}

/// `doc` decoded as `T`, kept whole.
fn decoded<T: serde::de::DeserializeOwned>(doc: serde_json::Value) -> Arc<T> {
    Arc::new(serde_json::from_value(doc).unwrap())
}

/// `doc` decoded as the Kubernetes type `K`, kept in its compact form `C`.
fn compact<K: serde::de::DeserializeOwned, C: From<K>>(doc: serde_json::Value) -> Arc<C> {
    Arc::new(serde_json::from_value::<K>(doc).unwrap().into())
}

/// A snapshot holding `objects`, applied in order.
pub(crate) fn snapshot_of(objects: impl IntoIterator<Item = Object>) -> Snapshot {
    let mut snapshot = Snapshot::new();
    for object in objects {
        snapshot.apply(Change::Apply(object));
    }
    snapshot
}

/// Builds a YAML manifest with the default config.
pub(crate) fn build_yaml(yaml: &str) -> BuildOutput {
    build(&snapshot_of(objects(yaml)), &BuildConfig::default())
}

/// The key of an Ingress in `default`.
pub(crate) fn ingress_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Ingress, NamespacedName::new("default", name))
}

/// The status of an object, which must exist.
pub(crate) fn status_of<'a>(out: &'a BuildOutput, key: &ObjectKey) -> &'a ObjectStatus {
    out.status
        .objects
        .get(key)
        .unwrap_or_else(|| panic!("no status for {key}"))
}

/// The reasons of an object's errors.
pub(crate) fn error_reasons(out: &BuildOutput, key: &ObjectKey) -> Vec<Reason> {
    status_of(out, key)
        .errors
        .iter()
        .map(|p| p.reason)
        .collect()
}

/// The plain-HTTP virtual host for `host`, which must exist.
pub(crate) fn http_vhost<'a>(out: &'a BuildOutput, host: &str) -> &'a VirtualHost {
    out.dag.http.get(host).unwrap_or_else(|| {
        panic!(
            "no http vhost {host}: {:?}",
            out.dag.http.keys().collect::<Vec<_>>()
        )
    })
}

/// The name of the single cluster a route forwards to.
pub(crate) fn cluster_of(route: &Route) -> &str {
    match &route.action {
        RouteAction::Forward(f) => {
            assert_eq!(f.clusters.len(), 1);
            &f.clusters[0].name
        }
        other => panic!("route does not forward: {other:?}"),
    }
}

/// A Service `name` in `default` with one unnamed port 80 and one `http` port 8080.
pub(crate) fn service_yaml(name: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  ports:\n  - port: 80\n  - name: http\n    port: 8080\n"
    )
}

/// A certificate and key, both PEM.
pub(crate) struct Pem {
    /// The certificate chain.
    pub crt: String,
    /// The private key.
    pub key: String,
}

/// A self-signed P-256 certificate for `hosts`.
pub(crate) fn cert(hosts: &[&str]) -> Pem {
    let c =
        rcgen::generate_simple_self_signed(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .unwrap();
    Pem {
        crt: c.cert.pem(),
        key: c.signing_key.serialize_pem(),
    }
}

/// A `kubernetes.io/tls` Secret in `default`.
pub(crate) fn tls_secret(name: &str, crt: &str, key: &str) -> Object {
    let data = BTreeMap::from([
        ("tls.crt".to_string(), ByteString(crt.as_bytes().to_vec())),
        ("tls.key".to_string(), ByteString(key.as_bytes().to_vec())),
    ]);
    Object::Secret(Arc::new(Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data),
        ..Secret::default()
    }))
}

/// A ConfigMap `namespace/name` whose `ca.crt` is `ca`.
pub(crate) fn ca_config_map(namespace: &str, name: &str, ca: &str) -> Object {
    Object::ConfigMap(Arc::new(k8s_openapi::api::core::v1::ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("ca.crt".to_string(), ca.to_string())])),
        ..Default::default()
    }))
}

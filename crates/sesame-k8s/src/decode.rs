//! Typed objects from raw Kubernetes JSON: the one place every source (manifest files, later the
//! API-server watcher) turns a document into an [`Object`].
//!
//! Nothing here knows about files or watches: a [`serde_json::Value`] goes in, an [`Object`]
//! (or `None` for a kind Sesame does not read) comes out.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sesame_api::{ExtensionService, HTTPProxy, TLSCertificateDelegation};
use sesame_dag::object::{Kind, Object};
use sesame_gateway_api::{
    BackendTlsPolicy, Gateway, GatewayClass, GrpcRoute, HttpRoute, ListenerSet, ReferenceGrant,
    TcpRoute, TlsRoute,
};

/// The annotation `kubectl apply` keeps a full copy of the object in; dropped on receipt.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The namespace of an object that does not name one, as `kubectl apply` assumes.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Why a document could not be turned into an [`Object`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The document is not a mapping (a bare string, number or list).
    #[error("expected a kubernetes object, found {found}")]
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The object has no `apiVersion` or no `kind`.
    #[error("object {object} has no apiVersion or kind")]
    MissingTypeMeta {
        /// What the object says about itself.
        object: Box<TypeInfo>,
    },
    /// A kind Sesame reads, without `metadata.name`.
    #[error("{object} has no metadata.name")]
    MissingName {
        /// What the object says about itself.
        object: Box<TypeInfo>,
    },
    /// A kind Sesame reads that does not deserialize into its type.
    #[error("invalid {object}: {source}")]
    Invalid {
        /// What the object says about itself.
        object: Box<TypeInfo>,
        /// The serde error, with the path of the field that failed.
        source: serde_path_to_error::Error<serde_json::Error>,
    },
}

/// The identifying fields of an undecoded object, for messages about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeInfo {
    /// `apiVersion`, empty when absent.
    pub api_version: String,
    /// `kind`, empty when absent.
    pub kind: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.name`, empty when absent.
    pub name: String,
}

impl TypeInfo {
    /// Reads the identifying fields of a raw object; missing or non-string fields read as empty.
    pub fn of(value: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let meta = value.get("metadata");
        TypeInfo {
            api_version: text(value.get("apiVersion")),
            kind: text(value.get("kind")),
            namespace: meta
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .filter(|ns| !ns.is_empty())
                .map(str::to_string),
            name: text(meta.and_then(|m| m.get("name"))),
        }
    }
}

impl fmt::Display for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.kind.is_empty() {
            "object"
        } else {
            &self.kind
        };
        match &self.namespace {
            Some(ns) => write!(f, "{kind} {ns}/{}", self.name)?,
            None => write!(f, "{kind} {}", self.name)?,
        }
        if !self.api_version.is_empty() {
            write!(f, " ({})", self.api_version)?;
        }
        Ok(())
    }
}

/// The kind Sesame reads for an `apiVersion` and `kind`, if any.
pub fn known_kind(api_version: &str, kind: &str) -> Option<Kind> {
    match (api_version, kind) {
        ("networking.k8s.io/v1", "Ingress") => Some(Kind::Ingress),
        ("v1", "Service") => Some(Kind::Service),
        ("discovery.k8s.io/v1", "EndpointSlice") => Some(Kind::EndpointSlice),
        ("v1", "Endpoints") => Some(Kind::Endpoints),
        ("v1", "Secret") => Some(Kind::Secret),
        ("v1", "Namespace") => Some(Kind::Namespace),
        ("v1", "ConfigMap") => Some(Kind::ConfigMap),
        ("projectsesame.io/v1", "HTTPProxy") => Some(Kind::HTTPProxy),
        ("projectsesame.io/v1", "TLSCertificateDelegation") => Some(Kind::TLSCertificateDelegation),
        ("networking.k8s.io/v1", "IngressClass") => Some(Kind::IngressClass),
        // Gateway API serves v1beta1 of these with the v1 schema.
        ("gateway.networking.k8s.io/v1" | "gateway.networking.k8s.io/v1beta1", kind) => {
            match kind {
                "GatewayClass" => Some(Kind::GatewayClass),
                "Gateway" => Some(Kind::Gateway),
                "HTTPRoute" => Some(Kind::HTTPRoute),
                "ReferenceGrant" => Some(Kind::ReferenceGrant),
                "GRPCRoute" => Some(Kind::GRPCRoute),
                "TLSRoute" => Some(Kind::TLSRoute),
                "TCPRoute" => Some(Kind::TCPRoute),
                "BackendTLSPolicy" => Some(Kind::BackendTLSPolicy),
                "ListenerSet" => Some(Kind::ListenerSet),
                _ => None,
            }
        }
        ("projectsesame.io/v1alpha1", "ExtensionService") => Some(Kind::ExtensionService),
        _ => None,
    }
}

/// Decodes one raw object. Kinds Sesame does not read give `Ok(None)`.
///
/// The stored object is [`trim`]med, always has a namespace (`default` when the
/// document named none), and a Secret's `stringData` is merged into `data` (taking precedence,
/// as the API server does) and then dropped.
pub fn decode_object(mut value: Value) -> Result<Option<Object>, DecodeError> {
    if !value.is_object() {
        return Err(DecodeError::NotAnObject {
            found: json_type(&value),
        });
    }
    let object = TypeInfo::of(&value);
    if object.api_version.is_empty() || object.kind.is_empty() {
        return Err(DecodeError::MissingTypeMeta {
            object: Box::new(object),
        });
    }
    let Some(kind) = known_kind(&object.api_version, &object.kind) else {
        return Ok(None);
    };
    if object.name.is_empty() {
        return Err(DecodeError::MissingName {
            object: Box::new(object),
        });
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let decoded = match kind {
        Kind::Ingress => Object::Ingress(Arc::new(typed::<Ingress>(value, &object)?.into())),
        Kind::Service => Object::Service(Arc::new(typed::<Service>(value, &object)?.into())),
        Kind::EndpointSlice => {
            Object::EndpointSlice(Arc::new(typed::<EndpointSlice>(value, &object)?.into()))
        }
        Kind::Endpoints => Object::Endpoints(Arc::new(typed::<Endpoints>(value, &object)?.into())),
        Kind::Secret => Object::Secret(Arc::new(merge_string_data(typed(value, &object)?))),
        Kind::HTTPProxy => Object::HTTPProxy(Arc::new(typed(value, &object)?)),
        Kind::TLSCertificateDelegation => {
            Object::TLSCertificateDelegation(Arc::new(typed(value, &object)?))
        }
        Kind::ExtensionService => Object::ExtensionService(Arc::new(typed(value, &object)?)),
        Kind::IngressClass => {
            let mut class: IngressClass = typed(value, &object)?;
            class.metadata.namespace = None;
            Object::IngressClass(Arc::new(class))
        }
        Kind::GatewayClass => {
            let mut class: GatewayClass = typed(value, &object)?;
            class.metadata.namespace = None;
            Object::GatewayClass(Arc::new(class))
        }
        Kind::Gateway => Object::Gateway(Arc::new(typed(value, &object)?)),
        Kind::HTTPRoute => Object::HTTPRoute(Arc::new(typed(value, &object)?)),
        Kind::ReferenceGrant => Object::ReferenceGrant(Arc::new(typed(value, &object)?)),
        Kind::GRPCRoute => Object::GRPCRoute(Arc::new(typed(value, &object)?)),
        Kind::TLSRoute => Object::TLSRoute(Arc::new(typed(value, &object)?)),
        Kind::TCPRoute => Object::TCPRoute(Arc::new(typed(value, &object)?)),
        Kind::BackendTLSPolicy => Object::BackendTLSPolicy(Arc::new(typed(value, &object)?)),
        Kind::ListenerSet => Object::ListenerSet(Arc::new(typed(value, &object)?)),
        Kind::Namespace => Object::Namespace(Arc::new(labels_only(typed(value, &object)?))),
        Kind::ConfigMap => Object::ConfigMap(Arc::new(ca_only(typed(value, &object)?))),
    };
    Ok(Some(decoded))
}

/// A Namespace as the build reads it: its name and labels; the rest is dropped.
pub fn labels_only(namespace: Namespace) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: namespace.metadata.name,
            labels: namespace.metadata.labels,
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The ConfigMap key that holds a PEM CA bundle, for Gateway API's `caCertificateRefs`.
pub const CA_CERTIFICATE_KEY: &str = "ca.crt";

/// A ConfigMap as the build reads it: its name, namespace and `ca.crt`; the rest (other keys,
/// labels, annotations) is dropped, so that the many ConfigMaps of a cluster that no route
/// refers to cost little more than their names.
pub fn ca_only(config_map: ConfigMap) -> ConfigMap {
    let ca = config_map
        .data
        .and_then(|mut data| data.remove_entry(CA_CERTIFICATE_KEY));
    ConfigMap {
        metadata: ObjectMeta {
            name: config_map.metadata.name,
            namespace: config_map.metadata.namespace,
            ..ObjectMeta::default()
        },
        data: ca.map(|entry| [entry].into_iter().collect()),
        ..ConfigMap::default()
    }
}

/// Drops what Sesame never reads and what can be large: managed fields and kubectl's copy of
/// the last applied object.
pub fn trim(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Deserializes `value` as `T` and normalises its metadata.
fn typed<T>(value: Value, object: &TypeInfo) -> Result<T, DecodeError>
where
    T: DeserializeOwned + Meta,
{
    let mut typed: T =
        serde_path_to_error::deserialize(value).map_err(|source| DecodeError::Invalid {
            object: Box::new(object.clone()),
            source,
        })?;
    let meta = typed.meta_mut();
    trim(meta);
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some(DEFAULT_NAMESPACE.to_string());
    }
    Ok(typed)
}

/// Mutable access to the metadata of every type [`decode_object`] produces. k8s-openapi's
/// `Metadata` trait covers the built-in kinds but not Sesame's custom resources, whose metadata
/// kube's derive exposes through a different trait; this one covers both without a kube
/// dependency here.
trait Meta {
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

macro_rules! impl_meta {
    ($($ty:ty),* $(,)?) => {
        $(impl Meta for $ty {
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        })*
    };
}

impl_meta!(
    Ingress,
    Service,
    EndpointSlice,
    Endpoints,
    Secret,
    HTTPProxy,
    TLSCertificateDelegation,
    IngressClass,
    GatewayClass,
    Gateway,
    HttpRoute,
    ReferenceGrant,
    ExtensionService,
    GrpcRoute,
    TlsRoute,
    TcpRoute,
    BackendTlsPolicy,
    ListenerSet,
    Namespace,
    ConfigMap,
);

/// Merges `stringData` into `data`, as the API server does on write.
fn merge_string_data(mut secret: Secret) -> Secret {
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (key, value) in string_data {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
    secret
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "decode/gateway_tests.rs"]
mod gateway_tests;
#[cfg(test)]
mod tests;

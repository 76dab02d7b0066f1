//! Kinds kept as what the build and the status writer read of them and nothing else: Ingresses,
//! and the kinds Sesame only looks up (Services, EndpointSlices, Endpoints). A source converts
//! each object as it decodes it, so neither the snapshot nor a source's own state holds the
//! rest: a Kubernetes `Service` struct takes 824 bytes before any content, an `EndpointSlice`
//! endpoint 352, an `ObjectMeta` ~400 (an Ingress's labels, uid, timestamps and owner
//! references are not read).
//!
//! Two objects that differ only in what is dropped here compare equal, so such a change (a
//! Service's cluster IP, an endpoint's zone) costs no work at all.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as networking;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::snapshot::SERVICE_NAME_LABEL;

/// What Sesame keeps of a compact object's metadata, with `ObjectMeta`'s field names: a
/// Kubernetes `ObjectMeta` takes ~400 bytes even when nearly all of it is empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// `name`.
    pub name: Option<String>,
    /// `namespace` (the decoder fills in `default`).
    pub namespace: Option<String>,
    /// `generation`.
    pub generation: Option<i64>,
    /// `annotations`: kept for Services (they set upstream settings) and Ingresses, dropped
    /// otherwise.
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Meta {
    /// The object's namespace and name.
    pub fn key(&self) -> crate::object::NamespacedName {
        crate::object::NamespacedName::named(self.namespace.as_deref(), self.name.as_deref())
    }
}

/// What Sesame reads of an Ingress: the build reads its annotations and spec, the status
/// writer its load-balancer status and resource version.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ingress {
    /// Name, namespace, generation and annotations.
    pub metadata: Meta,
    /// `metadata.resourceVersion`: the status writer's precondition. Not in [`Meta`], which
    /// the other compact kinds share and do not need it in.
    pub resource_version: Option<String>,
    /// `spec`, whole: every field of it is read.
    pub spec: Option<networking::IngressSpec>,
    /// `status`: compared with the status Sesame would write.
    pub status: Option<networking::IngressStatus>,
}

impl Ingress {
    /// The Ingress class it asks for: an annotation, else `spec.ingressClassName`.
    pub(crate) fn class(&self) -> Option<&str> {
        let spec_class = (self.spec.as_ref()).and_then(|s| s.ingress_class_name.as_deref());
        crate::annotation::ingress_class(self.metadata.annotations.as_ref(), spec_class)
    }
}

impl From<networking::Ingress> for Ingress {
    fn from(mut ingress: networking::Ingress) -> Self {
        let resource_version = ingress.metadata.resource_version.take();
        Ingress {
            metadata: kept_meta(ingress.metadata, true),
            resource_version,
            spec: ingress.spec,
            status: ingress.status,
        }
    }
}

/// What Sesame reads of a Service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Service {
    /// Name, namespace, generation and annotations (the annotations set upstream settings).
    pub metadata: Meta,
    /// `spec.type` (`ExternalName` matters).
    pub type_: Option<String>,
    /// `spec.externalName`.
    pub external_name: Option<String>,
    /// `spec.ports`, without node ports.
    pub ports: Vec<core::ServicePort>,
    /// `status.loadBalancer.ingress` (read of the Envoy Service, for Ingress status).
    pub load_balancer: Vec<core::LoadBalancerIngress>,
}

impl From<core::Service> for Service {
    fn from(service: core::Service) -> Self {
        let spec = service.spec.unwrap_or_default();
        let ports = spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|port| core::ServicePort {
                node_port: None,
                ..port
            })
            .collect();
        let load_balancer = service
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default();
        Service {
            metadata: kept_meta(service.metadata, true),
            type_: spec.type_,
            external_name: spec.external_name,
            ports,
            load_balancer,
        }
    }
}

/// What Sesame reads of an EndpointSlice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointSlice {
    /// Name, namespace and generation.
    pub metadata: Meta,
    /// The `kubernetes.io/service-name` label: the Service the slice belongs to (empty when
    /// the label is missing). Kept apart from the metadata: a one-entry label map costs a
    /// whole B-tree node (~540 bytes).
    pub service_name: String,
    /// `addressType`: only `IPv4` and `IPv6` slices are served.
    pub address_type: String,
    /// The first address of each ready endpoint (an endpoint without conditions is ready),
    /// in order: the one address of an endpoint Envoy is sent, as in Contour.
    pub ready_addresses: Vec<String>,
    /// `ports`.
    pub ports: Vec<discovery::EndpointPort>,
}

impl From<discovery::EndpointSlice> for EndpointSlice {
    fn from(mut slice: discovery::EndpointSlice) -> Self {
        // Pushed into a Vec of its own: collecting the endpoints' iterator would reuse their
        // buffer in place, keeping 352 bytes per endpoint alive for a 24-byte address.
        let mut ready_addresses = Vec::with_capacity(slice.endpoints.len());
        for endpoint in slice.endpoints {
            if endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true)
                && let Some(address) = endpoint.addresses.into_iter().next()
            {
                ready_addresses.push(address);
            }
        }
        let ready_addresses = fitted(ready_addresses);
        let service_name = (slice.metadata.labels.as_mut())
            .and_then(|labels| labels.remove(SERVICE_NAME_LABEL))
            .unwrap_or_default();
        EndpointSlice {
            metadata: kept_meta(slice.metadata, false),
            service_name,
            address_type: slice.address_type,
            ready_addresses,
            ports: slice.ports.unwrap_or_default(),
        }
    }
}

/// What Sesame reads of an Endpoints object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Endpoints {
    /// Name, namespace and generation.
    pub metadata: Meta,
    /// `subsets`, each with its ready addresses only.
    pub subsets: Vec<EndpointSubset>,
}

/// One subset of an Endpoints object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointSubset {
    /// The IPs of `addresses` (the ready ones; `notReadyAddresses` are not kept).
    pub addresses: Vec<String>,
    /// `ports`.
    pub ports: Vec<core::EndpointPort>,
}

impl From<core::Endpoints> for Endpoints {
    fn from(endpoints: core::Endpoints) -> Self {
        let subsets = endpoints
            .subsets
            .unwrap_or_default()
            .into_iter()
            .map(|subset| EndpointSubset {
                addresses: fitted(
                    (subset.addresses.unwrap_or_default().into_iter())
                        .map(|a| a.ip)
                        .collect(),
                ),
                ports: subset.ports.unwrap_or_default(),
            })
            .collect();
        Endpoints {
            metadata: kept_meta(endpoints.metadata, false),
            subsets: fitted(subsets),
        }
    }
}

/// `items` without spare room. A `Vec` collected from another `Vec`'s iterator of larger items
/// reuses that buffer in place: shrinking frees what the smaller items do not need.
fn fitted<T>(mut items: Vec<T>) -> Vec<T> {
    items.shrink_to_fit();
    items
}

/// The metadata kept: name, namespace, generation, and the annotations if `annotations`.
fn kept_meta(meta: ObjectMeta, annotations: bool) -> Meta {
    let annotations = meta.annotations.filter(|a| annotations && !a.is_empty());
    Meta {
        name: meta.name,
        namespace: meta.namespace,
        generation: meta.generation,
        annotations,
    }
}

#[cfg(test)]
mod tests;

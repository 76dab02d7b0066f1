//! Backends: Ingress Service references resolved to Service ports and upstream clusters.

use std::collections::HashMap;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::networking::v1::IngressBackend;
use sha1::{Digest, Sha1};

use crate::annotation::{ServiceAnnotations, Warnings};
use crate::dag::{Cluster, Dag, LbPolicy, UpstreamProtocol};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::snapshot::Snapshot;
use crate::status::{ProblemKind, Reason, StatusReport};

/// Why a backend cannot be proxied to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BackendProblem {
    /// The area of the problem.
    pub kind: ProblemKind,
    /// The reason.
    pub reason: Reason,
    /// The message for the status.
    pub message: String,
}

impl BackendProblem {
    fn new(kind: ProblemKind, reason: Reason, message: String) -> Self {
        BackendProblem {
            kind,
            reason,
            message,
        }
    }
}

/// A Service looked up once per build, with its annotations parsed.
struct Resolved<'a> {
    service: &'a Service,
    name: NamespacedName,
    annotations: ServiceAnnotations,
}

/// Resolves backends to clusters, looking each Service up and parsing its annotations at most
/// once per build.
#[derive(Default)]
pub(crate) struct Services<'a> {
    services: HashMap<(&'a str, &'a str), Option<Resolved<'a>>>,
}

impl<'a> Services<'a> {
    /// The cluster for an Ingress backend in `namespace`, adding it to `dag.clusters`. Every
    /// Service looked up is recorded in `dag.references`; bad Service annotations are reported
    /// as warnings on the Service.
    pub(crate) fn cluster(
        &mut self,
        snapshot: &'a Snapshot,
        namespace: &'a str,
        backend: &'a IngressBackend,
        dag: &mut Dag,
        status: &mut StatusReport,
    ) -> Result<String, BackendProblem> {
        let Some(svc) = backend.service.as_ref() else {
            let what = if backend.resource.is_some() {
                "resource backends are not supported"
            } else {
                "backend names no service"
            };
            return Err(BackendProblem::new(
                ProblemKind::ServiceError,
                Reason::BackendNotValid,
                format!("{what}; use backend.service"),
            ));
        };
        let resolved = self
            .services
            .entry((namespace, svc.name.as_str()))
            .or_insert_with(|| lookup(snapshot, namespace, &svc.name, dag, status));
        let Some(resolved) = resolved.as_ref() else {
            return Err(BackendProblem::new(
                ProblemKind::ServiceError,
                Reason::ServiceUnresolvedReference,
                format!("service {namespace}/{} not found", svc.name),
            ));
        };
        let port = svc.port.as_ref();
        let ports = resolved
            .service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_deref())
            .unwrap_or_default();
        let found = match (
            port.and_then(|p| p.number),
            port.and_then(|p| p.name.as_deref()),
        ) {
            (Some(number), _) => ports
                .iter()
                .find(|p| p.port == number)
                .ok_or_else(|| format!("port {number}")),
            (None, Some(name)) => ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .ok_or_else(|| format!("port named {name:?}")),
            (None, None) => {
                return Err(BackendProblem::new(
                    ProblemKind::ServiceError,
                    Reason::BackendNotValid,
                    format!(
                        "backend service {namespace}/{} must name a port by number or name",
                        svc.name
                    ),
                ));
            }
        };
        let port = found.map_err(|what| {
            BackendProblem::new(
                ProblemKind::ServiceError,
                Reason::ServicePortInvalid,
                format!("service {} has no {what}", resolved.name),
            )
        })?;
        Ok(add_cluster(resolved, port, dag))
    }
}

fn lookup<'a>(
    snapshot: &'a Snapshot,
    namespace: &str,
    name: &str,
    dag: &mut Dag,
    status: &mut StatusReport,
) -> Option<Resolved<'a>> {
    let key = NamespacedName::new(namespace, name);
    let object = ObjectKey::new(Kind::Service, key.clone());
    let service = snapshot.services.get(&key).map(AsRef::as_ref);
    let resolved = service.map(|service| {
        let mut warnings = Warnings::new();
        let annotations = ServiceAnnotations::parse(&service.metadata, &mut warnings);
        if !warnings.ignored.is_empty() {
            let entry = status.entry(&object, service.metadata.generation);
            for ignored in warnings.ignored {
                entry.warning(
                    ProblemKind::AnnotationError,
                    Reason::AnnotationValueInvalid,
                    ignored.message,
                );
            }
        }
        Resolved {
            service,
            name: key,
            annotations,
        }
    });
    dag.references.insert(object);
    resolved
}

/// Adds the cluster for one port of a resolved Service (if new) and returns its name.
fn add_cluster(resolved: &Resolved<'_>, port: &ServicePort, dag: &mut Dag) -> String {
    let protocol = resolved.annotations.protocol(port);
    let name = cluster_name(&resolved.name, port.port, protocol);
    if !dag.clusters.contains_key(&name) {
        let port_name = port.name.clone().unwrap_or_default();
        let eds_name = if port_name.is_empty() {
            resolved.name.to_string()
        } else {
            format!("{}/{port_name}", resolved.name)
        };
        let cluster = Cluster {
            name: name.clone(),
            service: resolved.name.clone(),
            port: port.port,
            port_name,
            eds_name,
            protocol,
            circuit_breakers: resolved.annotations.circuit_breakers,
            lb_policy: LbPolicy::default(),
            health_check: None,
            upstream_validation: None,
            idle_connection_timeout: None,
        };
        dag.clusters.insert(name.clone(), cluster);
    }
    name
}

/// `<namespace>/<service>/<port>/<hash>`, the hash covering the settings that differ from a
/// plain cluster (so a plain cluster ends in `da39a3ee5e`, as in Contour).
pub(crate) fn cluster_name(
    service: &NamespacedName,
    port: i32,
    protocol: UpstreamProtocol,
) -> String {
    format!(
        "{}/{}/{port}/{}",
        service.namespace,
        service.name,
        settings_hash(protocol)
    )
}

/// The first 10 hex digits of the SHA-1 of the canonical per-cluster settings string.
fn settings_hash(protocol: UpstreamProtocol) -> &'static str {
    static HASHES: OnceLock<[String; 4]> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        [
            UpstreamProtocol::Http1,
            UpstreamProtocol::H2,
            UpstreamProtocol::H2c,
            UpstreamProtocol::Tls,
        ]
        .map(|p| short_sha1(settings(p).as_bytes()))
    });
    match protocol {
        UpstreamProtocol::Http1 => &hashes[0],
        UpstreamProtocol::H2 => &hashes[1],
        UpstreamProtocol::H2c => &hashes[2],
        UpstreamProtocol::Tls => &hashes[3],
    }
}

/// The canonical string of a cluster's settings: empty for a plain HTTP/1.1 cluster.
fn settings(protocol: UpstreamProtocol) -> &'static str {
    match protocol {
        UpstreamProtocol::Http1 => "",
        UpstreamProtocol::H2 => "h2",
        UpstreamProtocol::H2c => "h2c",
        UpstreamProtocol::Tls => "tls",
    }
}

/// The first 10 hex digits of the SHA-1 of `bytes`.
pub(crate) fn short_sha1(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    hex::encode(&digest[..5])
}

#[cfg(test)]
mod tests;

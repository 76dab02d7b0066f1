//! ExtensionServices: gRPC services Envoy calls itself (external authorization, global rate
//! limits), each checked into one cluster, `extension/<namespace>/<name>` (Contour's name),
//! whose endpoints are those of its Services, one weighted locality each.
//!
//! An ExtensionService is built on its own (its status, and its cluster when valid, as
//! Contour puts every valid one in the DAG), and again by each HTTPProxy that references it,
//! which records the reference: a change to it, or to a Service or Secret it reads, rebuilds
//! both.

use k8s_openapi::api::core::v1::ServicePort;
use sesame_api::ExtensionService;

use crate::build::Builder;
use crate::dag::{
    CircuitBreakers, Cluster, EdsTarget, LbPolicy, Timeout, UpstreamProtocol, UpstreamValidation,
};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::{ObjectStatus, ProblemKind, Reason};

/// The cluster name of an ExtensionService (Contour's `extension/<namespace>/<name>`).
pub fn cluster_name(name: &NamespacedName) -> String {
    format!("extension/{}/{}", name.namespace, name.name)
}

/// A valid ExtensionService, as a user of it needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Extension {
    /// Its cluster (in the DAG).
    pub cluster: String,
    /// The `:authority` of calls to it (see [`Authorization::authority`](crate::dag::Authorization)).
    pub authority: String,
    /// `timeoutPolicy.response`: the default timeout of calls to it.
    pub response_timeout: Option<Timeout>,
}

/// Why an ExtensionService cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// It does not exist.
    NotFound,
    /// It exists with errors (on its own status).
    Invalid,
}

impl<'a> Builder<'a> {
    /// Builds ExtensionService `name` on its own: its status, and its cluster when valid.
    pub(crate) fn extension_service(&mut self, name: &NamespacedName) {
        let Some((name, ext)) = self.snapshot.extension_services.get_key_value(name) else {
            return;
        };
        let mut status = ObjectStatus::valid(ext.metadata.generation);
        let _ = self.extension_cluster(name, ext, &mut status);
        let key = ObjectKey::new(Kind::ExtensionService, name.clone());
        self.status.objects.insert(key, status);
    }

    /// The ExtensionService `name` for a user of it: its cluster is added to the DAG and the
    /// reference recorded, so that a change to it rebuilds the user.
    pub(crate) fn extension(&mut self, name: &NamespacedName) -> Result<Extension, Unusable> {
        let key = ObjectKey::new(Kind::ExtensionService, name.clone());
        self.dag.references.insert(key);
        let Some((name, ext)) = self.snapshot.extension_services.get_key_value(name) else {
            return Err(Unusable::NotFound);
        };
        // Its problems are on its own status, built apart.
        let mut ignored = ObjectStatus::valid(None);
        self.extension_cluster(name, ext, &mut ignored)
            .ok_or(Unusable::Invalid)
    }

    /// Checks an ExtensionService, records its problems in `status` and, when it has no error,
    /// adds its cluster to the DAG.
    fn extension_cluster(
        &mut self,
        name: &'a NamespacedName,
        ext: &'a ExtensionService,
        status: &mut ObjectStatus,
    ) -> Option<Extension> {
        let spec = &ext.spec;
        let namespace: &'a str = &name.namespace;
        let protocol = match spec.protocol.as_deref() {
            None | Some("") | Some("h2") => UpstreamProtocol::H2,
            Some("h2c") => UpstreamProtocol::H2c,
            Some(other) => {
                status.error(
                    ProblemKind::SpecError,
                    Reason::UnsupportedProtocol,
                    format!("spec.protocol {other:?} is not h2 or h2c"),
                );
                UpstreamProtocol::H2
            }
        };
        if let Some(v) = spec.protocol_version.as_deref().filter(|v| *v != "v3") {
            status.error(
                ProblemKind::SpecError,
                Reason::UnsupportedProtocolVersion,
                format!("spec.protocolVersion {v:?} is not v3"),
            );
        }
        let timeouts = spec.timeout_policy.as_ref();
        let parse = |field: &str, value: Option<&String>, status: &mut ObjectStatus| {
            let value = value.filter(|v| !v.is_empty())?;
            match Timeout::parse(value) {
                Ok(t) => Some(t),
                Err(e) => {
                    status.error(
                        ProblemKind::SpecError,
                        Reason::TimeoutPolicyNotValid,
                        format!("spec.timeoutPolicy.{field} {value:?}: {e}"),
                    );
                    None
                }
            }
        };
        let response_timeout = parse(
            "response",
            timeouts.and_then(|t| t.response.as_ref()),
            status,
        );
        let idle_connection = parse(
            "idleConnection",
            timeouts.and_then(|t| t.idle_connection.as_ref()),
            status,
        );
        let lb_policy = extension_lb_policy(spec.load_balancer_policy.as_ref(), status);
        let validation = match &spec.upstream_validation {
            None => None,
            Some(_) if protocol == UpstreamProtocol::H2c => {
                status.error(
                    ProblemKind::SpecError,
                    Reason::InconsistentProtocol,
                    "spec.validation: upstream TLS validation is not supported with protocol h2c",
                );
                None
            }
            Some(v) => self.extension_validation(namespace, v, status),
        };
        let targets = self.extension_targets(name, ext, status);
        if !status.errors.is_empty() {
            return None;
        }
        let first = targets.first()?;
        let cluster_name = cluster_name(name);
        let sni = validation
            .as_ref()
            .and_then(|v: &UpstreamValidation| v.subject_names.first().cloned());
        let authority = sni
            .clone()
            .unwrap_or_else(|| format!("{}.{}", first.0.service.name, first.0.service.namespace));
        let cluster = Cluster {
            name: cluster_name.clone(),
            service: first.0.service.clone(),
            port: first.1,
            port_name: first.0.port_name.clone(),
            eds_name: cluster_name.clone(),
            protocol,
            circuit_breakers: CircuitBreakers::default(),
            lb_policy,
            health_check: None,
            slow_start: None,
            sni,
            upstream_validation: validation.map(Box::new),
            idle_connection_timeout: idle_connection,
            connect_timeout: self.config.upstream.connect_timeout,
            external_name: None,
            client_certificate: None,
            targets: targets.into_iter().map(|(t, _)| t).collect(),
            response_timeout,
        };
        self.dag.clusters.insert(cluster_name.clone(), cluster);
        Some(Extension {
            cluster: cluster_name,
            authority,
            response_timeout,
        })
    }

    /// The CA bundle and names an ExtensionService's certificate is checked against.
    fn extension_validation(
        &mut self,
        namespace: &'a str,
        v: &'a sesame_api::httpproxy::UpstreamValidation,
        status: &mut ObjectStatus,
    ) -> Option<UpstreamValidation> {
        let ca = v.ca_secret.as_deref().unwrap_or_default();
        if ca.is_empty() {
            status.error(
                ProblemKind::SpecError,
                Reason::TLSConfigNotValid,
                "spec.validation.caSecret must name a Secret",
            );
            return None;
        }
        let ca_pem = match self.ca_bundle(namespace, ca) {
            Ok(pem) => pem,
            Err((reason, message)) => {
                status.error(
                    ProblemKind::TLSError,
                    reason,
                    format!("spec.validation.caSecret {message}"),
                );
                return None;
            }
        };
        let mut subject_names: Vec<String> = Vec::new();
        for subject in v.subject_name.iter().chain(&v.subject_names) {
            if subject.is_empty() {
                continue;
            }
            if let Err(e) = sesame_api::header::value(subject) {
                status.error(
                    ProblemKind::SpecError,
                    Reason::TLSConfigNotValid,
                    format!("spec.validation subject name {subject:?}: {e}"),
                );
                return None;
            }
            if !subject_names.contains(subject) {
                subject_names.push(subject.clone());
            }
        }
        Some(UpstreamValidation {
            ca_pem,
            subject_names,
            subject_uris: Vec::new(),
        })
    }

    /// The Services of an ExtensionService that resolve, with their port numbers, recording
    /// every lookup; the others are errors in `status`.
    fn extension_targets(
        &mut self,
        name: &NamespacedName,
        ext: &ExtensionService,
        status: &mut ObjectStatus,
    ) -> Vec<(EdsTarget, i32)> {
        let services = &ext.spec.services;
        if services.is_empty() {
            status.error(
                ProblemKind::ServiceError,
                Reason::ServiceUnresolvedReference,
                "spec.services must name at least one Service",
            );
        }
        let any_weight = services.iter().any(|s| s.weight.is_some_and(|w| w > 0));
        let mut out = Vec::new();
        for (i, target) in services.iter().enumerate() {
            let field = format!("spec.services[{i}]");
            let service_name = target.name.as_deref().unwrap_or_default();
            let weight = match target.weight {
                None => None,
                Some(w) => match u32::try_from(w) {
                    Ok(w) => Some(w),
                    Err(_) => {
                        status.error(
                            ProblemKind::ServiceError,
                            Reason::WeightsNotValid,
                            format!("{field}.weight {w} is not from 0 to 4294967295"),
                        );
                        continue;
                    }
                },
            };
            let port = match target.port {
                Some(p @ 1..=65535) => p as i32,
                other => {
                    status.error(
                        ProblemKind::ServiceError,
                        Reason::ServicePortInvalid,
                        format!(
                            "{field}.port {} is not from 1 to 65535",
                            other.map_or("(none)".to_string(), |p| p.to_string())
                        ),
                    );
                    continue;
                }
            };
            if service_name.is_empty() {
                status.error(
                    ProblemKind::ServiceError,
                    Reason::ServiceUnresolvedReference,
                    format!("{field}.name must name a Service"),
                );
                continue;
            }
            let service = NamespacedName::new(name.namespace.clone(), service_name);
            let key = ObjectKey::new(Kind::Service, service.clone());
            self.dag.references.insert(key);
            let Some(found) = self.snapshot.services.get(&service) else {
                status.error(
                    ProblemKind::ServiceError,
                    Reason::ServiceUnresolvedReference,
                    format!("unresolved service {service}: not found"),
                );
                continue;
            };
            if found.type_.as_deref() == Some("ExternalName") {
                status.error(
                    ProblemKind::ServiceError,
                    Reason::UnsupportedServiceType,
                    format!("Service {service} is of unsupported type \"ExternalName\""),
                );
                continue;
            }
            let Some(port_spec) = found.ports.iter().find(|p| p.port == port && is_tcp(p)) else {
                status.error(
                    ProblemKind::ServiceError,
                    Reason::ServicePortInvalid,
                    format!("unresolved service {service}: no TCP port {port}"),
                );
                continue;
            };
            let weight = match (any_weight, weight) {
                // No weights at all: every Service gets an equal share.
                (false, _) => Some(1),
                (true, Some(0) | None) => None,
                (true, w) => w,
            };
            out.push((
                EdsTarget {
                    service,
                    port_name: port_spec.name.clone().unwrap_or_default(),
                    weight,
                },
                port,
            ));
        }
        out
    }
}

fn is_tcp(port: &ServicePort) -> bool {
    port.protocol.as_deref().is_none_or(|p| p == "TCP")
}

/// The load balancing of an ExtensionService's cluster: `RoundRobin`, `WeightedLeastRequest`
/// or `Random`; `Cookie` and `RequestHash` do not apply to Envoy's own calls and are ignored
/// with a warning, as in Contour.
fn extension_lb_policy(
    policy: Option<&sesame_api::httpproxy::LoadBalancerPolicy>,
    status: &mut ObjectStatus,
) -> LbPolicy {
    let strategy = policy
        .and_then(|p| p.strategy.as_deref())
        .unwrap_or_default();
    match strategy {
        "" | "RoundRobin" => LbPolicy::RoundRobin,
        "WeightedLeastRequest" => LbPolicy::LeastRequest,
        "Random" => LbPolicy::Random,
        other => {
            status.warning(
                ProblemKind::SpecError,
                Reason::IgnoredField,
                format!(
                    "ignoring field \"spec.loadBalancerPolicy\"; {other} load balancer policy is not supported for ExtensionServices"
                ),
            );
            LbPolicy::RoundRobin
        }
    }
}

#[cfg(test)]
mod tests;

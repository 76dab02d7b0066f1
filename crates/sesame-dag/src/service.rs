//! Backends: Service references resolved to Service ports and upstream clusters (fed by EDS,
//! or for an ExternalName Service, resolved by Envoy through DNS).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::networking::v1::IngressBackend;
use sha1::{Digest, Sha1};

use crate::annotation::{ServiceAnnotations, Warnings};
use crate::build::UpstreamConfig;
use crate::dag::{
    Cluster, Dag, ExternalName, HealthCheck, HealthChecker, LbPolicy, SlowStart, Timeout,
    TlsSecret, UpstreamProtocol, UpstreamValidation,
};
use crate::external_name;
use crate::object::compact::Service;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::secret::SecretError;
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
pub(crate) struct Services<'a> {
    services: HashMap<(&'a str, &'a str), Option<Resolved<'a>>>,
    upstream: Upstream<'a>,
}

/// What the installation says of every cluster.
struct Upstream<'a> {
    /// The config file's upstream settings.
    config: &'a UpstreamConfig,
    /// The certificate Envoy presents to TLS upstreams, if one is configured: the verdict on
    /// its Secret.
    client_certificate: Option<Result<Arc<TlsSecret>, SecretError>>,
}

impl<'a> Services<'a> {
    /// Resolves with the config's upstream settings and, when one is configured, the verdict on
    /// the client certificate's Secret.
    pub(crate) fn new(
        config: &'a UpstreamConfig,
        client_certificate: Option<Result<Arc<TlsSecret>, SecretError>>,
    ) -> Self {
        Services {
            services: HashMap::new(),
            upstream: Upstream {
                config,
                client_certificate,
            },
        }
    }

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
        let port = match (
            svc.port.as_ref().and_then(|p| p.number),
            svc.port.as_ref().and_then(|p| p.name.as_deref()),
        ) {
            (Some(number), _) => PortRef::Number(number),
            (None, Some(name)) => PortRef::Name(name),
            (None, None) => {
                // A missing Service is the first thing to report.
                self.resolve(
                    snapshot,
                    namespace,
                    &svc.name,
                    PortRef::Number(0),
                    &ClusterSettings::default(),
                    dag,
                    status,
                )
                .err()
                .filter(|p| p.reason == Reason::ServiceUnresolvedReference)
                .map_or(Ok(()), Err)?;
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
        self.resolve(
            snapshot,
            namespace,
            &svc.name,
            port,
            &ClusterSettings::default(),
            dag,
            status,
        )
    }

    /// The cluster for port `port` of Service `namespace/name` with `settings`, adding it to
    /// `dag.clusters`. The lookup is recorded in `dag.references`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the build's parts are borrowed separately"
    )]
    pub(crate) fn resolve(
        &mut self,
        snapshot: &'a Snapshot,
        namespace: &'a str,
        name: &'a str,
        port: PortRef<'_>,
        settings: &ClusterSettings,
        dag: &mut Dag,
        status: &mut StatusReport,
    ) -> Result<String, BackendProblem> {
        let resolved = self
            .services
            .entry((namespace, name))
            .or_insert_with(|| lookup(snapshot, namespace, name, dag, status));
        let Some(resolved) = resolved.as_ref() else {
            return Err(BackendProblem::new(
                ProblemKind::ServiceError,
                Reason::ServiceUnresolvedReference,
                format!("service {namespace}/{name} not found"),
            ));
        };
        let ports = &resolved.service.ports;
        let found = match port {
            PortRef::Number(number) => ports.iter().find(|p| p.port == number),
            PortRef::Name(wanted) => ports.iter().find(|p| p.name.as_deref() == Some(wanted)),
        };
        let Some(port_spec) = found else {
            return Err(BackendProblem::new(
                ProblemKind::ServiceError,
                Reason::ServicePortInvalid,
                format!("service {} has no {port}", resolved.name),
            ));
        };
        let external_name = self.upstream.external_name(resolved)?;
        self.upstream
            .add_cluster(resolved, port_spec, settings, external_name, dag)
    }
}

/// A Service port, by number or by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortRef<'p> {
    /// The port number.
    Number(i32),
    /// The port name.
    Name(&'p str),
}

impl std::fmt::Display for PortRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "port {n}"),
            PortRef::Name(name) => write!(f, "port named {name:?}"),
        }
    }
}

/// Settings a route asks of the clusters it uses, beyond what the Service itself says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClusterSettings {
    /// The protocol, overriding the Service's annotation.
    pub protocol: Option<UpstreamProtocol>,
    /// Whether the upstream speaks HTTP/2 whatever the Service says (a GRPCRoute's backends):
    /// HTTP/1.1 becomes h2c, TLS becomes h2.
    pub http2: bool,
    /// Whether the upstream speaks TLS whatever the Service says (a BackendTLSPolicy targets
    /// it): HTTP/1.1 becomes TLS, h2c becomes h2.
    pub tls: bool,
    /// The server name a TLS cluster sends in the handshake, whatever the Service is (a
    /// BackendTLSPolicy's `hostname`); `None` leaves it to `external_name_sni`.
    pub sni: Option<String>,
    /// The certificate a TLS cluster presents instead of the configured Envoy client
    /// certificate (a Gateway's `tls.backend.clientCertificateRef`).
    pub client_certificate: Option<Arc<TlsSecret>>,
    /// How an upstream host is picked.
    pub lb_policy: LbPolicy,
    /// Active health checking.
    pub health_check: Option<Box<HealthCheck>>,
    /// Ramping traffic up to new hosts.
    pub slow_start: Option<Box<SlowStart>>,
    /// Verification of the upstream's certificate.
    pub upstream_validation: Option<Box<UpstreamValidation>>,
    /// How long an upstream connection may stay idle.
    pub idle_connection_timeout: Option<Timeout>,
    /// The TLS server name sent to an ExternalName Service.
    pub external_name_sni: ExternalNameSni,
}

/// The server name a TLS cluster of an ExternalName Service sends in the handshake. As Contour:
/// HTTPProxy routes and TCP proxies send the external name, or the host the route rewrites
/// requests to; Ingress routes send none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum ExternalNameSni {
    /// No server name.
    #[default]
    Omit,
    /// The Service's external name.
    Target,
    /// This host (a `Host` rewrite of the route or service).
    Host(String),
}

impl ClusterSettings {
    /// The canonical text of the settings other than the protocol: empty when all are defaults,
    /// so a cluster without them keeps the name it has without them.
    fn canonical(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if self.lb_policy != LbPolicy::default() {
            let _ = write!(out, "|lb={:?}", self.lb_policy);
        }
        if let Some(hc) = &self.health_check {
            // An HTTP check keeps the text it had before TCP checks existed, so names are stable.
            let checker = match &hc.checker {
                HealthChecker::Http { path, host } => format!("{path:?}/{host:?}"),
                HealthChecker::Tcp => "tcp".to_string(),
            };
            let _ = write!(
                out,
                "|hc={checker}/{:?}/{:?}/{}/{}",
                hc.interval, hc.timeout, hc.unhealthy_threshold, hc.healthy_threshold
            );
        }
        if let Some(s) = &self.slow_start {
            let _ = write!(
                out,
                "|slowstart={:?}/{}/{}",
                s.window, s.aggression, s.min_weight_percent
            );
        }
        if let Some(v) = &self.upstream_validation {
            let _ = write!(
                out,
                "|ca={}|san={:?}",
                short_sha1(&v.ca_pem),
                v.subject_names
            );
            if !v.subject_uris.is_empty() {
                let _ = write!(out, "|uri={:?}", v.subject_uris);
            }
        }
        if let Some(t) = &self.idle_connection_timeout {
            let _ = write!(out, "|idle={t:?}");
        }
        if let Some(c) = &self.client_certificate {
            let _ = write!(out, "|client={}", c.name);
        }
        out
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
        let annotations =
            ServiceAnnotations::parse(service.metadata.annotations.as_ref(), &mut warnings);
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

impl Upstream<'_> {
    /// The ExternalName target of a Service of type ExternalName (`None` for any other type),
    /// refused unless the config enables ExternalName Services, and when it names the Envoy
    /// host itself.
    fn external_name(&self, resolved: &Resolved<'_>) -> Result<Option<String>, BackendProblem> {
        let service = resolved.service;
        if service.type_.as_deref() != Some("ExternalName") {
            return Ok(None);
        }
        let unresolved = |message: String| {
            BackendProblem::new(
                ProblemKind::ServiceError,
                Reason::ServiceUnresolvedReference,
                message,
            )
        };
        if !self.config.enable_external_name_service {
            return Err(unresolved(format!(
                "service {} is of type ExternalName, and ExternalName Services are disabled: \
                 an operator can enable them with enableExternalNameService in the config file",
                resolved.name
            )));
        }
        let raw = service.external_name.as_deref().unwrap_or_default();
        external_name::target(raw).map(Some).map_err(|e| {
            unresolved(format!(
                "service {} is of type ExternalName: {e}",
                resolved.name
            ))
        })
    }

    /// Adds the cluster for one port of a resolved Service (if new) and returns its name.
    /// A TLS cluster presents the configured client certificate; when that certificate cannot
    /// be used, the cluster is refused rather than sent without it.
    fn add_cluster(
        &self,
        resolved: &Resolved<'_>,
        port: &ServicePort,
        settings: &ClusterSettings,
        external_name: Option<String>,
        dag: &mut Dag,
    ) -> Result<String, BackendProblem> {
        let protocol = match settings
            .protocol
            .unwrap_or_else(|| resolved.annotations.protocol(port))
        {
            UpstreamProtocol::Http1 if settings.tls => UpstreamProtocol::Tls,
            UpstreamProtocol::H2c if settings.tls => UpstreamProtocol::H2,
            protocol => protocol,
        };
        let protocol = match protocol {
            UpstreamProtocol::Http1 if settings.http2 => UpstreamProtocol::H2c,
            UpstreamProtocol::Tls if settings.http2 => UpstreamProtocol::H2,
            protocol => protocol,
        };
        let tls = matches!(protocol, UpstreamProtocol::Tls | UpstreamProtocol::H2);
        let sni = match (&external_name, &settings.external_name_sni) {
            _ if !tls => None,
            _ if settings.sni.is_some() => settings.sni.clone(),
            (Some(host), ExternalNameSni::Target) => Some(host.trim_end_matches('.').to_string()),
            (Some(_), ExternalNameSni::Host(host)) => Some(host.clone()),
            _ => None,
        };
        let mut extra = settings.canonical();
        {
            use std::fmt::Write;
            if let Some(host) = &external_name {
                let _ = write!(extra, "|dns={host}");
            }
            if let Some(sni) = &sni {
                let _ = write!(extra, "|sni={sni}");
            }
            // A port that shares its number with an earlier port of the Service (TCP and UDP
            // on one number) is another upstream, with other endpoints: its name joins the
            // cluster's name, or both would be one cluster served with whichever came first.
            let shadowed = (resolved.service.ports.iter())
                .take_while(|p| !std::ptr::eq(*p, port))
                .any(|p| p.port == port.port);
            if shadowed {
                let _ = write!(extra, "|port={}", port.name.as_deref().unwrap_or_default());
            }
        }
        let name = if extra.is_empty() {
            cluster_name(&resolved.name, port.port, protocol)
        } else {
            let text = format!("{}{extra}", settings_text(protocol));
            format!(
                "{}/{}/{}/{}",
                resolved.name.namespace,
                resolved.name.name,
                port.port,
                short_sha1(text.as_bytes())
            )
        };
        if dag.clusters.contains_key(&name) {
            return Ok(name);
        }
        let client_certificate = match (&settings.client_certificate, &self.client_certificate) {
            (Some(secret), _) if tls => Some(secret),
            (None, Some(verdict)) if tls => Some(self.client_secret(verdict, resolved, port)?),
            _ => None,
        };
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
            lb_policy: settings.lb_policy,
            health_check: settings.health_check.clone(),
            slow_start: settings.slow_start.clone(),
            upstream_validation: settings.upstream_validation.clone(),
            idle_connection_timeout: settings.idle_connection_timeout,
            connect_timeout: self.config.connect_timeout,
            external_name: external_name.map(|host| {
                Box::new(ExternalName {
                    host,
                    dns_lookup_family: self.config.dns_lookup_family,
                })
            }),
            sni,
            client_certificate: client_certificate.map(|secret| {
                let sds_name = secret.name.clone();
                dag.secrets
                    .entry(sds_name.clone())
                    .or_insert_with(|| TlsSecret::clone(secret));
                sds_name
            }),
            targets: Vec::new(),
            response_timeout: None,
        };
        dag.clusters.insert(name.clone(), cluster);
        Ok(name)
    }

    /// The client certificate a TLS cluster presents, or why it cannot present it.
    fn client_secret<'v>(
        &self,
        verdict: &'v Result<Arc<TlsSecret>, SecretError>,
        resolved: &Resolved<'_>,
        port: &ServicePort,
    ) -> Result<&'v Arc<TlsSecret>, BackendProblem> {
        verdict.as_ref().map_err(|e| {
            let reason = if *e == SecretError::NotFound {
                Reason::SecretNotFound
            } else {
                Reason::SecretNotValid
            };
            let configured = self
                .config
                .client_certificate
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            BackendProblem::new(
                ProblemKind::TLSError,
                reason,
                format!(
                    "tls.envoy-client-certificate {configured}: {e}; service {} port {} speaks TLS \
                     and is not served without the client certificate",
                    resolved.name, port.port
                ),
            )
        })
    }
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
        .map(|p| short_sha1(settings_text(p).as_bytes()))
    });
    match protocol {
        UpstreamProtocol::Http1 => &hashes[0],
        UpstreamProtocol::H2 => &hashes[1],
        UpstreamProtocol::H2c => &hashes[2],
        UpstreamProtocol::Tls => &hashes[3],
    }
}

/// The canonical string of a cluster's settings: empty for a plain HTTP/1.1 cluster.
fn settings_text(protocol: UpstreamProtocol) -> &'static str {
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

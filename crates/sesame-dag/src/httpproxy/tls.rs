//! The TLS of a root HTTPProxy: its certificate (maybe delegated from another namespace), TLS
//! versions, client certificate validation, the fallback certificate, and TCP proxying with or
//! without termination.

use std::collections::HashSet;
use std::collections::btree_map::Entry;

use sesame_api::httpproxy::{HTTPProxy, TcpProxy as ApiTcpProxy, Tls};

use super::Proxies;
use super::cluster_policy::tcp_health_check;
use crate::build::Builder;
use crate::dag::{
    ClientValidation, ForwardClientCertificate, LbPolicy, TcpProxy, TlsVersion, WeightedCluster,
};
use crate::object::{NamespacedName, ObjectKey};
use crate::secret::Secrets;
use crate::service::{ClusterSettings, ExternalNameSni, PortRef};
use crate::status::{ProblemKind, Reason};
use crate::vhost::TlsHost;

/// How a root's host is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProxyTls {
    /// Plain HTTP only.
    Insecure,
    /// TLS terminated by Envoy.
    Terminate,
    /// TLS passed through to a TCP backend.
    Passthrough,
}

impl<'a> Builder<'a> {
    /// Sets up the TLS of a root. `None` when the root must not be served at all (its TLS is
    /// wrong: serving its routes in clear instead would be worse).
    pub(crate) fn proxy_tls(
        &mut self,
        key: &ObjectKey,
        host: &str,
        proxy: &'a HTTPProxy,
        proxies: &mut Proxies<'a>,
        reached: &mut HashSet<&'a NamespacedName>,
    ) -> Option<ProxyTls> {
        let name = &key.name;
        let namespace: &'a str = proxy.metadata.namespace.as_deref().unwrap_or("default");
        let vhost = proxy.spec.virtualhost.as_ref()?;
        let status = proxies.status(proxy_name(proxies, name)?);
        let Some(tls) = vhost.tls.as_ref() else {
            if proxy.spec.tcpproxy.is_some() {
                status.error(
                    ProblemKind::TCPProxyError,
                    Reason::TLSMustBeConfigured,
                    "Spec.TCPProxy needs Spec.VirtualHost.TLS: the TCP proxy is not served",
                );
            }
            return Some(ProxyTls::Insecure);
        };
        let secret_name = tls.secret_name.as_deref().filter(|s| !s.is_empty());
        if tls.passthrough {
            let conflict = if secret_name.is_some() {
                Some((
                    Reason::TLSConfigNotValid,
                    "Spec.VirtualHost.TLS: both passthrough and secretName were specified",
                ))
            } else if tls.client_validation.is_some() {
                Some((
                    Reason::TLSIncompatibleFeatures,
                    "Spec.VirtualHost.TLS: passthrough cannot be combined with clientValidation",
                ))
            } else if tls.enable_fallback_certificate {
                Some((
                    Reason::TLSIncompatibleFeatures,
                    "Spec.VirtualHost.TLS: passthrough cannot be combined with enableFallbackCertificate",
                ))
            } else if proxy.spec.tcpproxy.is_none() {
                Some((
                    Reason::TLSConfigNotValid,
                    "Spec.VirtualHost.TLS.passthrough needs Spec.TCPProxy",
                ))
            } else {
                None
            };
            if let Some((reason, message)) = conflict {
                status.error(ProblemKind::TLSError, reason, message);
                return None;
            }
            if let Some(existing) = self.tls.get(host) {
                let message = format!(
                    "fqdn {host:?} is already served with TLS termination by {}; it cannot also be passed through",
                    existing.origin
                );
                status.error(ProblemKind::TLSError, Reason::CertificateConflict, message);
                return None;
            }
            let tcp = self.tcp_proxy(
                key,
                namespace,
                proxy.spec.tcpproxy.as_ref()?,
                proxies,
                reached,
            )?;
            self.dag.passthrough.insert(host.to_string(), tcp);
            return Some(ProxyTls::Passthrough);
        }
        let Some(secret_name) = secret_name else {
            status.error(
                ProblemKind::TLSError,
                Reason::TLSConfigNotValid,
                "Spec.VirtualHost.TLS: one of secretName or passthrough must be specified",
            );
            return None;
        };
        if tls.enable_fallback_certificate && tls.client_validation.is_some() {
            status.error(
                ProblemKind::TLSError,
                Reason::TLSIncompatibleFeatures,
                "Spec.VirtualHost.TLS: enableFallbackCertificate cannot be combined with clientValidation",
            );
            return None;
        }
        let secret = match self.delegated(namespace, secret_name, Secrets::get) {
            Ok(secret) => secret,
            Err((reason, message)) => {
                status.error(
                    ProblemKind::TLSError,
                    reason,
                    format!("Spec.VirtualHost.TLS.secretName {message}"),
                );
                return None;
            }
        };
        let status = proxies.status(proxy_name(proxies, name)?);
        let (min, max) = match self.tls_version_range(tls) {
            Ok(range) => range,
            Err(message) => {
                status.error(ProblemKind::TLSError, Reason::TLSConfigNotValid, message);
                return None;
            }
        };
        let mut tls_host = TlsHost::new(secret, min, max, key.clone());
        if let Some(validation) = &tls.client_validation {
            match self.client_validation(namespace, validation) {
                Ok(v) => tls_host.client_validation = Some(Box::new(v)),
                Err((reason, message)) => {
                    status.error(ProblemKind::TLSError, reason, message);
                    return None;
                }
            }
        }
        if tls.enable_fallback_certificate {
            match self.fallback_certificate(namespace) {
                Ok(()) => tls_host.fallback_certificate = true,
                Err((reason, message)) => {
                    status.error(ProblemKind::TLSError, reason, message);
                    return None;
                }
            }
        }
        if let Some(tcp) = proxy.spec.tcpproxy.as_ref() {
            tls_host.tcp_proxy = Some(self.tcp_proxy(key, namespace, tcp, proxies, reached)?);
        }
        let status = proxies.status(proxy_name(proxies, name)?);
        match self.tls.entry(host.to_string()) {
            Entry::Vacant(v) => {
                v.insert(tls_host);
            }
            Entry::Occupied(o) => {
                status.error(
                    ProblemKind::TLSError,
                    Reason::CertificateConflict,
                    format!(
                        "fqdn {host:?} is already served with TLS by {}; this HTTPProxy is not served",
                        o.get().origin
                    ),
                );
                return None;
            }
        }
        Some(ProxyTls::Terminate)
    }

    /// The CA bundle of Secret `reference` (`name` or `namespace/name`), checked.
    pub(crate) fn ca_bundle(
        &mut self,
        namespace: &'a str,
        reference: &'a str,
    ) -> Result<Vec<u8>, (Reason, String)> {
        self.delegated(namespace, reference, Secrets::ca)
    }

    /// The effective TLS versions: the object's within the configured range.
    fn tls_version_range(&self, tls: &Tls) -> Result<(TlsVersion, TlsVersion), String> {
        let parse = |field: &str, value: &Option<String>| -> Result<Option<TlsVersion>, String> {
            match value.as_deref().filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => match TlsVersion::parse(v) {
                    Some(version @ (TlsVersion::V1_2 | TlsVersion::V1_3)) => Ok(Some(version)),
                    _ => Err(format!(
                        "Spec.VirtualHost.TLS.{field} {v:?} is not 1.2 or 1.3"
                    )),
                },
            }
        };
        let min = parse("minimumProtocolVersion", &tls.minimum_protocol_version)?
            .map_or(self.config.min_tls_version, |v| {
                v.max(self.config.min_tls_version)
            });
        let max = parse("maximumProtocolVersion", &tls.maximum_protocol_version)?
            .map_or(self.config.max_tls_version, |v| {
                v.min(self.config.max_tls_version)
            });
        if min > max {
            return Err(format!(
                "Spec.VirtualHost.TLS: the minimum TLS version {min:?} is above the maximum {max:?}"
            ));
        }
        Ok((min, max))
    }

    fn client_validation(
        &mut self,
        namespace: &'a str,
        v: &'a sesame_api::httpproxy::DownstreamValidation,
    ) -> Result<ClientValidation, (Reason, String)> {
        let ca = v.ca_secret.as_deref().filter(|s| !s.is_empty());
        let ca_pem = match (ca, v.skip_client_cert_validation) {
            (Some(ca), _) => self.ca_bundle(namespace, ca).map_err(|(reason, message)| {
                (
                    reason,
                    format!("Spec.VirtualHost.TLS.clientValidation.caSecret {message}"),
                )
            })?,
            (None, true) => Vec::new(),
            (None, false) => {
                return Err((
                    Reason::TLSConfigNotValid,
                    "Spec.VirtualHost.TLS.clientValidation: caSecret must be specified unless skipClientCertValidation is set".to_string(),
                ));
            }
        };
        let crl_pem = match v.crl_secret.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(reference) => Some(self.delegated(namespace, reference, Secrets::crl).map_err(
                |(reason, message)| {
                    (
                        reason,
                        format!("Spec.VirtualHost.TLS.clientValidation.crlSecret {message}"),
                    )
                },
            )?),
        };
        let forward = v
            .forward_client_certificate
            .as_ref()
            .map(|f| ForwardClientCertificate {
                subject: f.subject,
                cert: f.cert,
                chain: f.chain,
                dns: f.dns,
                uri: f.uri,
            })
            .unwrap_or_default();
        Ok(ClientValidation {
            ca_pem,
            crl_pem,
            crl_only_leaf: v.crl_only_verify_leaf_cert,
            optional: v.optional_client_certificate,
            skip_verification: v.skip_client_cert_validation,
            forward,
        })
    }

    /// Checks that the configured fallback certificate exists, is valid and is delegated to
    /// `namespace`, and marks it as served.
    fn fallback_certificate(&mut self, namespace: &str) -> Result<(), (Reason, String)> {
        let config: &'a crate::build::BuildConfig = self.config;
        let Some(fallback) = config.fallback_certificate.as_ref() else {
            return Err((
                Reason::FallbackNotPresent,
                "Spec.VirtualHost.TLS.enableFallbackCertificate: no fallback certificate is configured (tls.fallback-certificate)".to_string(),
            ));
        };
        if !self.permits(fallback, namespace) {
            return Err((
                Reason::FallbackNotDelegated,
                format!(
                    "Spec.VirtualHost.TLS.enableFallbackCertificate: fallback certificate {fallback} is not delegated to namespace {namespace:?}"
                ),
            ));
        }
        // Looked up through the build's Secret cache, so that the Secret appearing later
        // rebuilds.
        match self.secrets.get(
            self.snapshot,
            &fallback.namespace,
            &fallback.name,
            &mut self.dag,
        ) {
            Ok(secret) => {
                self.fallback = Some(secret.clone());
                Ok(())
            }
            Err(e) => Err((
                Reason::FallbackNotValid,
                format!(
                    "Spec.VirtualHost.TLS.enableFallbackCertificate: fallback certificate {fallback}: {e}"
                ),
            )),
        }
    }

    /// The TCP proxy of a root: its own services, or those of the HTTPProxy it includes.
    fn tcp_proxy(
        &mut self,
        key: &ObjectKey,
        namespace: &'a str,
        tcp: &'a ApiTcpProxy,
        proxies: &mut Proxies<'a>,
        reached: &mut HashSet<&'a NamespacedName>,
    ) -> Option<TcpProxy> {
        let name = proxy_name(proxies, &key.name)?;
        let include = tcp.include.as_ref().or(tcp.includes.as_ref());
        let (owner, owner_namespace, tcp) = match (tcp.services.is_empty(), include) {
            (false, None) => (name, namespace, tcp),
            (true, Some(include)) => {
                let child_namespace: &'a str = include
                    .namespace
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(namespace);
                let target = NamespacedName::new(
                    child_namespace,
                    include.name.as_deref().unwrap_or_default(),
                );
                let Some((child, child_proxy)) = proxies.objects.get_key_value(&target) else {
                    proxies.status(name).error(
                        ProblemKind::TCPProxyIncludeError,
                        Reason::IncludeNotFound,
                        format!("Spec.TCPProxy.include {target} not found"),
                    );
                    return None;
                };
                let (child, child_proxy): (&'a NamespacedName, &'a HTTPProxy) =
                    (child, child_proxy);
                if child_proxy.spec.virtualhost.is_some() {
                    proxies.status(name).error(
                        ProblemKind::TCPProxyIncludeError,
                        Reason::RootIncludesRoot,
                        format!("Spec.TCPProxy.include {target}: root HTTPProxy cannot include another root HTTPProxy"),
                    );
                    return None;
                }
                reached.insert(child);
                let Some(child_tcp) = child_proxy
                    .spec
                    .tcpproxy
                    .as_ref()
                    .filter(|t| !t.services.is_empty())
                else {
                    proxies.status(child).error(
                        ProblemKind::TCPProxyError,
                        Reason::NoServicesAndInclude,
                        "Spec.TCPProxy of an included HTTPProxy must list services",
                    );
                    return None;
                };
                (child, child_namespace, child_tcp)
            }
            (false, Some(_)) => {
                proxies.status(name).error(
                    ProblemKind::TCPProxyError,
                    Reason::NoServicesAndInclude,
                    "Spec.TCPProxy: cannot specify services and include in the same HTTPProxy",
                );
                return None;
            }
            (true, None) => {
                proxies.status(name).error(
                    ProblemKind::TCPProxyError,
                    Reason::NoServicesAndInclude,
                    "Spec.TCPProxy: either services or include must be specified",
                );
                return None;
            }
        };
        let status = proxies.status(owner);
        let lb_policy = match tcp
            .load_balancer_policy
            .as_ref()
            .and_then(|p| p.strategy.as_deref())
            .unwrap_or_default()
        {
            "" | "RoundRobin" => LbPolicy::RoundRobin,
            "WeightedLeastRequest" => LbPolicy::LeastRequest,
            "Random" => LbPolicy::Random,
            other => {
                let shown: String = other.chars().take(64).collect();
                status.warning(
                    ProblemKind::TCPProxyError,
                    Reason::LoadBalancerPolicyNotValid,
                    format!("Spec.TCPProxy.loadBalancerPolicy.strategy {shown:?} is not RoundRobin, WeightedLeastRequest or Random; using RoundRobin"),
                );
                LbPolicy::RoundRobin
            }
        };
        let health_check = match tcp.health_check_policy.as_ref().map(tcp_health_check) {
            None => None,
            Some(Ok(hc)) => Some(Box::new(hc)),
            Some(Err(e)) => {
                status.error(
                    ProblemKind::TCPProxyError,
                    Reason::HealthCheckPolicyNotValid,
                    format!("Spec.TCPProxy.{e}; the TCP proxy is not served"),
                );
                return None;
            }
        };
        if tcp.services.iter().any(|s| s.slow_start_policy.is_some()) {
            status.warning(
                ProblemKind::TCPProxyError,
                Reason::NotSupported,
                "Spec.TCPProxy services: slowStartPolicy applies to route services only (as in Contour) and was ignored",
            );
        }
        let settings = ClusterSettings {
            lb_policy,
            health_check,
            external_name_sni: ExternalNameSni::Target,
            ..ClusterSettings::default()
        };
        let equal = tcp.services.iter().all(|s| s.weight.is_none());
        let mut clusters = Vec::new();
        for service in &tcp.services {
            let service_name = service.name.as_deref().unwrap_or_default();
            let port = match service.port {
                Some(p @ 1..=65535) => p,
                _ => {
                    status.error(
                        ProblemKind::ServiceError,
                        Reason::ServicePortInvalid,
                        format!(
                            "Spec.TCPProxy service {service_name:?}: port must be from 1 to 65535"
                        ),
                    );
                    continue;
                }
            };
            let weight = match service.weight {
                _ if equal => 1,
                None => 0,
                Some(w @ 0..=1_000_000) => w as u32,
                Some(w) => {
                    status.error(
                        ProblemKind::ServiceError,
                        Reason::WeightsNotValid,
                        format!("Spec.TCPProxy service {service_name:?}: weight {w} is not from 0 to 1000000"),
                    );
                    continue;
                }
            };
            match self.services.resolve(
                self.snapshot,
                owner_namespace,
                service_name,
                PortRef::Number(port),
                &settings,
                &mut self.dag,
                &mut self.status,
            ) {
                Ok(cluster) => clusters.push(WeightedCluster::new(cluster, weight)),
                Err(p) => status.error(p.kind, p.reason, format!("Spec.TCPProxy: {}", p.message)),
            }
        }
        if clusters.len() == 1 {
            clusters[0].weight = 1;
        }
        if clusters.iter().all(|c| c.weight == 0) {
            status.error(
                ProblemKind::TCPProxyError,
                Reason::WeightsNotValid,
                "Spec.TCPProxy: no service can take connections (missing, or every weight is zero); the TCP proxy is not served",
            );
            return None;
        }
        Some(TcpProxy { clusters })
    }
}

/// The name as held by the proxies' map (borrowed for the whole build).
fn proxy_name<'a>(proxies: &Proxies<'a>, name: &NamespacedName) -> Option<&'a NamespacedName> {
    proxies.objects.get_key_value(name).map(|(k, _)| *k)
}

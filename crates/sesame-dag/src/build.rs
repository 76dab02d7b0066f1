//! `build`: the pure function from a [`Snapshot`] to a [`Dag`] and a [`StatusReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sesame_api::HTTPProxy;

use crate::annotation;
use crate::dag::{Dag, DnsLookupFamily, TlsSecret, TlsVersion};
use crate::object::compact::Ingress;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::policy::GlobalHeaders;
use crate::secret::{SecretError, Secrets};
use crate::service::Services;
use crate::snapshot::Snapshot;
use crate::status::StatusReport;
use crate::vhost::{self, HostPolicies, RouteTable, TlsHost};

/// The Ingress class served when no class names are configured.
pub const DEFAULT_INGRESS_CLASS: &str = "sesame";

/// The `spec.controller` of an IngressClass whose Ingresses Sesame serves.
pub const INGRESS_CONTROLLER: &str = "projectsesame.io/ingress-controller";

/// Installation-wide settings that shape the build.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildConfig {
    /// Ingress class names served (`--ingress-class-name`). Empty serves Ingresses with no class
    /// and with class `sesame`.
    pub ingress_class_names: Vec<String>,
    /// The lowest TLS version served unless an object asks for higher (config `tls.minimum-protocol-version`).
    pub min_tls_version: TlsVersion,
    /// The highest TLS version served unless an object asks for lower.
    pub max_tls_version: TlsVersion,
    /// Namespaces where root HTTPProxies may live (`--root-namespaces`); empty allows all.
    pub root_namespaces: Vec<String>,
    /// Ignore `permitInsecure` on HTTPProxy routes (config `disablePermitInsecure`).
    pub disable_permit_insecure: bool,
    /// The Secret served to clients without SNI by hosts that enable the fallback certificate
    /// (config `tls.fallback-certificate`).
    pub fallback_certificate: Option<NamespacedName>,
    /// How upstream clusters are reached.
    pub upstream: UpstreamConfig,
    /// Headers set and removed on every route (config `policy`).
    pub policy: GlobalHeaders,
    /// Gateway API (config `gateway`); `None` serves no Gateway.
    pub gateway: Option<GatewayConfig>,
    /// The global rate limit descriptors of virtual hosts that set none (config
    /// `rateLimitService.defaultGlobalRateLimitPolicy`, checked at start-up).
    pub default_global_rate_limit: Option<crate::dag::GlobalRateLimit>,
}

/// Which Gateway is served (config `gateway`).
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayConfig {
    /// The GatewayClass `spec.controllerName` Sesame answers for.
    pub controller_name: String,
    /// The one Gateway served (`gatewayRef`); `None` serves every Gateway of a class of
    /// Sesame's controller.
    pub gateway_ref: Option<NamespacedName>,
    /// Envoy ports Sesame's own listeners use (`ingress_http`, `ingress_https`, stats, admin):
    /// a Gateway listener mapped onto one of them is refused (`PortUnavailable`).
    pub reserved_ports: Vec<u16>,
    /// The addresses Envoy can bind for Gateways (config `gateway.addresses`): the usable
    /// static addresses, and the pool Gateways without one take theirs from. Empty, every
    /// Gateway binds `ingress_http`'s address.
    pub addresses: Vec<sesame_api::cidr::Cidr>,
}

impl Default for BuildConfig {
    /// Contour's defaults: no class filter beyond `sesame`, TLS 1.2 to 1.3.
    fn default() -> Self {
        BuildConfig {
            ingress_class_names: Vec::new(),
            min_tls_version: TlsVersion::V1_2,
            max_tls_version: TlsVersion::V1_3,
            root_namespaces: Vec::new(),
            disable_permit_insecure: false,
            fallback_certificate: None,
            upstream: UpstreamConfig::default(),
            policy: GlobalHeaders::default(),
            gateway: None,
            default_global_rate_limit: None,
        }
    }
}

/// Installation-wide settings of the upstream clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamConfig {
    /// How long Envoy waits for a connection to an upstream (config `timeouts.connect-timeout`).
    pub connect_timeout: Duration,
    /// Proxy to Services of type ExternalName (config `enableExternalNameService`).
    pub enable_external_name_service: bool,
    /// Which address families Envoy asks DNS for, for ExternalName Services (config
    /// `cluster.dns-lookup-family`).
    pub dns_lookup_family: DnsLookupFamily,
    /// The Secret whose certificate Envoy presents to TLS upstreams (config
    /// `tls.envoy-client-certificate`).
    pub client_certificate: Option<NamespacedName>,
}

impl Default for UpstreamConfig {
    /// Contour's defaults: a 2 s connect timeout, ExternalName Services refused
    /// (CVE-2021-32783), Envoy's `auto` DNS lookup family, no client certificate.
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout: sesame_api::config::TimeoutParameters::DEFAULT_CONNECT_TIMEOUT,
            enable_external_name_service: false,
            dns_lookup_family: DnsLookupFamily::Auto,
            client_certificate: None,
        }
    }
}

/// What a build produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildOutput {
    /// What Envoy should serve.
    pub dag: Dag,
    /// The status of every object considered.
    pub status: StatusReport,
}

/// Builds the DAG and the status of every object from a snapshot. Pure, infallible and
/// deterministic: the same snapshot and config always give the same output.
pub fn build(snapshot: &Snapshot, config: &BuildConfig) -> BuildOutput {
    let mut builder = Builder::new(snapshot, config);
    for (name, ingress) in &snapshot.ingresses {
        if !config.serves_ingress(ingress, snapshot) {
            continue;
        }
        builder.ingress(
            ObjectKey::new(Kind::Ingress, name.clone()),
            &name.namespace,
            ingress,
        );
    }
    let proxies = snapshot
        .httpproxies
        .iter()
        .filter(|(_, proxy)| config.serves_httpproxy(proxy, snapshot))
        .map(|(name, proxy)| (name, proxy.as_ref()))
        .collect();
    builder.httpproxies(proxies);
    for name in snapshot.extension_services.keys() {
        builder.extension_service(name);
    }
    crate::delegation::delegation_status(snapshot, &mut builder.status);
    builder.gateway();
    builder.finish()
}

/// Builds only `members` (Ingresses and HTTPProxies, all served by class, and
/// ExtensionServices), as [`build`] would
/// see them if they were the only ones, without the statuses of TLSCertificateDelegations.
/// Services, Secrets and delegations are still looked up in the whole snapshot. Members that
/// are absent are skipped. `client` is [`client_certificate`]`(snapshot, config)`. Also returns
/// the namespaces whose TLSCertificateDelegations the build read.
pub(crate) fn build_part(
    snapshot: &Snapshot,
    config: &BuildConfig,
    client: &ClientCertificate,
    members: &BTreeSet<ObjectKey>,
) -> (BuildOutput, BTreeSet<String>) {
    let mut builder = Builder::with_client_certificate(snapshot, config, client.clone());
    let mut proxies = BTreeMap::new();
    for key in members {
        match key.kind {
            Kind::Ingress => {
                if let Some((name, ingress)) = snapshot.ingresses.get_key_value(&key.name) {
                    builder.ingress(key.clone(), &name.namespace, ingress);
                }
            }
            Kind::HTTPProxy => {
                if let Some((name, proxy)) = snapshot.httpproxies.get_key_value(&key.name) {
                    proxies.insert(name, proxy.as_ref());
                }
            }
            Kind::ExtensionService => builder.extension_service(&key.name),
            _ => {}
        }
    }
    builder.httpproxies(proxies);
    let delegations = std::mem::take(&mut builder.delegations_read);
    (builder.finish(), delegations)
}

/// The Ingress class an HTTPProxy asks for: an annotation, else `spec.ingressClassName`.
pub(crate) fn httpproxy_class(proxy: &HTTPProxy) -> Option<&str> {
    let spec_class = proxy.spec.ingress_class_name.as_deref();
    annotation::ingress_class(proxy.metadata.annotations.as_ref(), spec_class)
}

impl BuildConfig {
    /// Whether an Ingress is served: its class (annotation or `spec.ingressClassName`) is.
    pub(crate) fn serves_ingress(&self, ingress: &Ingress, snapshot: &Snapshot) -> bool {
        self.serves_class(ingress.class(), snapshot)
    }

    /// Whether an HTTPProxy is served: its class (annotation or `spec.ingressClassName`) is.
    pub(crate) fn serves_httpproxy(&self, proxy: &HTTPProxy, snapshot: &Snapshot) -> bool {
        self.serves_class(httpproxy_class(proxy), snapshot)
    }

    /// Whether an object of Ingress class `class` (`None` when it names none) is served.
    ///
    /// With no class names configured: objects without a class, of class `sesame`, or of a
    /// class whose IngressClass names Sesame's controller
    /// (`spec.controller: projectsesame.io/ingress-controller`). With names configured: those
    /// classes only.
    pub fn serves_class(&self, class: Option<&str>, snapshot: &Snapshot) -> bool {
        if self.ingress_class_names.is_empty() {
            class.is_none_or(|c| {
                c == DEFAULT_INGRESS_CLASS
                    || snapshot
                        .ingress_classes
                        .get(&NamespacedName::new("", c))
                        .and_then(|ic| ic.spec.as_ref())
                        .and_then(|spec| spec.controller.as_deref())
                        == Some(INGRESS_CONTROLLER)
            })
        } else {
            class.is_some_and(|c| self.ingress_class_names.iter().any(|n| n == c))
        }
    }
}

/// The state of one build: what is built so far and what was looked up.
pub(crate) struct Builder<'a> {
    /// The objects.
    pub snapshot: &'a Snapshot,
    /// The installation's settings.
    pub config: &'a BuildConfig,
    /// Clusters, secrets and references so far (virtual hosts are placed at the end).
    pub dag: Dag,
    /// Status so far.
    pub status: StatusReport,
    /// Services looked up.
    pub services: Services<'a>,
    /// Secrets looked up and their verdicts.
    pub secrets: Secrets<'a>,
    /// Routes by host.
    pub hosts: BTreeMap<String, RouteTable>,
    /// The certificate of each host served with TLS (the first valid claim in key order).
    pub tls: BTreeMap<String, TlsHost>,
    /// The policies of the hosts that have some (from their root HTTPProxy).
    pub host_policies: BTreeMap<String, HostPolicies>,
    /// The fallback certificate, once a host has asked for it.
    pub fallback: Option<Arc<TlsSecret>>,
    /// The namespaces whose TLSCertificateDelegations were read (for Secrets in another
    /// namespace than the object's).
    pub delegations_read: BTreeSet<String>,
    /// The BackendTLSPolicies looked up for the Gateway API routes' backends.
    pub backend_tls_policies: crate::gateway::BackendTlsPolicies<'a>,
}

/// The verdict on the Envoy client certificate (config `tls.envoy-client-certificate`), when
/// one is configured: what every TLS cluster presents, or why none can.
pub(crate) type ClientCertificate = Option<Result<Arc<TlsSecret>, SecretError>>;

/// Checks the configured Envoy client certificate in `snapshot`.
pub(crate) fn client_certificate(snapshot: &Snapshot, config: &BuildConfig) -> ClientCertificate {
    let name = config.upstream.client_certificate.as_ref()?;
    Some(match snapshot.secrets.get(name) {
        Some(secret) => crate::secret::validate(secret, name).map(Arc::new),
        None => Err(SecretError::NotFound),
    })
}

impl<'a> Builder<'a> {
    fn new(snapshot: &'a Snapshot, config: &'a BuildConfig) -> Self {
        Self::with_client_certificate(snapshot, config, client_certificate(snapshot, config))
    }

    /// A builder whose client certificate was already checked (`client` is
    /// [`client_certificate`]`(snapshot, config)`).
    pub(crate) fn with_client_certificate(
        snapshot: &'a Snapshot,
        config: &'a BuildConfig,
        client: ClientCertificate,
    ) -> Self {
        let mut dag = Dag::default();
        let mut secrets = Secrets::default();
        // Recorded in the build's Secret cache, so that the Secret is fetched and its changes
        // rebuild; it is served only if a TLS cluster presents it.
        if let (Some(name), Some(verdict)) = (&config.upstream.client_certificate, &client) {
            secrets.seed(&name.namespace, &name.name, verdict.clone(), &mut dag);
        }
        Builder {
            snapshot,
            config,
            dag,
            status: StatusReport::default(),
            services: Services::new(&config.upstream, client),
            secrets,
            hosts: BTreeMap::new(),
            tls: BTreeMap::new(),
            host_policies: BTreeMap::new(),
            fallback: None,
            delegations_read: BTreeSet::new(),
            backend_tls_policies: Default::default(),
        }
    }

    pub(crate) fn finish(mut self) -> BuildOutput {
        vhost::place(&mut self.dag, self.hosts, &self.tls, &self.host_policies);
        let fallback_used = self.dag.https.values().any(|v| v.fallback_certificate);
        if let Some(fallback) = self.fallback.filter(|_| fallback_used) {
            self.dag
                .secrets
                .entry(fallback.name.clone())
                .or_insert_with(|| TlsSecret::clone(&fallback));
            self.dag.fallback_secret = Some(fallback.name.clone());
        }
        BuildOutput {
            dag: self.dag,
            status: self.status,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upstream_tests;

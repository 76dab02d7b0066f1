//! The upstream half of the DAG: clusters and what configures them (load balancing, health
//! checks, slow start, TLS to the upstream, circuit breakers).

use std::time::Duration;

use serde::Serialize;

use super::{DnsLookupFamily, Timeout};
use crate::object::NamespacedName;

/// An upstream cluster: one port of one Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cluster {
    /// The cluster name, `<namespace>/<service>/<port>/<hash>`.
    pub name: String,
    /// The Service.
    pub service: NamespacedName,
    /// The Service port number.
    pub port: i32,
    /// The Service port name (may be empty).
    pub port_name: String,
    /// The EDS service name, `<namespace>/<service>/<port-name>` (`<namespace>/<service>` when
    /// the port has no name).
    pub eds_name: String,
    /// The protocol spoken to the upstream.
    pub protocol: UpstreamProtocol,
    /// Circuit-breaker thresholds set on the Service; `None` keeps Envoy's default.
    pub circuit_breakers: CircuitBreakers,
    /// How an upstream host is picked.
    pub lb_policy: LbPolicy,
    /// Active health checking of the upstream hosts (HTTP for routes, TCP for TCP proxies), if
    /// any.
    pub health_check: Option<Box<HealthCheck>>,
    /// Ramping traffic up to newly added hosts (round robin and least request only), if any.
    pub slow_start: Option<Box<SlowStart>>,
    /// Verify the upstream's certificate (only for [`UpstreamProtocol::Tls`] and
    /// [`UpstreamProtocol::H2`]); `None` accepts any certificate.
    pub upstream_validation: Option<Box<UpstreamValidation>>,
    /// How long an upstream connection may be idle before Envoy closes it: `None` leaves
    /// Envoy's default (1 hour).
    pub idle_connection_timeout: Option<Timeout>,
    /// How long Envoy waits for a connection to an upstream host (config
    /// `timeouts.connect-timeout`, 2 s).
    pub connect_timeout: Duration,
    /// The DNS name Envoy resolves for an ExternalName Service, whose hosts come from DNS
    /// instead of EDS; `None` for every other Service.
    pub external_name: Option<Box<ExternalName>>,
    /// The server name sent in the TLS handshake with the upstream (only for
    /// [`UpstreamProtocol::Tls`] and [`UpstreamProtocol::H2`]); `None` sends none.
    pub sni: Option<String>,
    /// The SDS name (a key of [`Dag::secrets`]) of the certificate Envoy presents to the
    /// upstream (only for [`UpstreamProtocol::Tls`] and [`UpstreamProtocol::H2`]; config
    /// `tls.envoy-client-certificate`); `None` presents none.
    pub client_certificate: Option<String>,
    /// The Services whose endpoints the cluster balances over, one locality each, by weight
    /// (an ExtensionService's cluster); empty for a cluster of one Service port, whose
    /// endpoints are those of `eds_name`.
    pub targets: Vec<EdsTarget>,
    /// The default timeout of Envoy's own calls to this cluster (an ExtensionService's
    /// `timeoutPolicy.response`); `None` for route clusters, whose routes set theirs.
    pub response_timeout: Option<Timeout>,
}

/// One Service port whose endpoints are a locality of a cluster with several Services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EdsTarget {
    /// The Service.
    pub service: NamespacedName,
    /// The Service port name (may be empty).
    pub port_name: String,
    /// The locality's weight: `None` gets no traffic (another target has a weight).
    pub weight: Option<u32>,
}

/// The target of an ExternalName Service: resolved by Envoy, at the cluster's port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExternalName {
    /// The DNS name or IP address (`spec.externalName`, lower-cased), already checked not to
    /// name the Envoy host itself.
    pub host: String,
    /// Which address families Envoy asks DNS for (config `cluster.dns-lookup-family`).
    pub dns_lookup_family: DnsLookupFamily,
}

/// How a cluster picks an upstream host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LbPolicy {
    /// Each host in turn (Envoy's and Contour's default).
    #[default]
    RoundRobin,
    /// The host with the fewest active requests, of two picked at random.
    LeastRequest,
    /// A host at random.
    Random,
    /// Consistent hashing over the route's hash policies.
    RingHash,
}

/// Active health checking of a cluster's hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    /// What a check is: an HTTP request or a TCP connection.
    pub checker: HealthChecker,
    /// The time between two checks.
    pub interval: Duration,
    /// How long to wait for an answer.
    pub timeout: Duration,
    /// Failed checks in a row after which a host is unhealthy.
    pub unhealthy_threshold: u32,
    /// Passed checks in a row after which an unhealthy host is healthy again.
    pub healthy_threshold: u32,
}

/// What one health check does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum HealthChecker {
    /// An HTTP `GET` that must answer 200 (routes' `healthCheckPolicy`).
    Http {
        /// The path requested.
        path: String,
        /// The `Host` header sent.
        host: String,
    },
    /// A TCP connection that must be accepted (`tcpproxy.healthCheckPolicy`).
    Tcp,
}

impl HealthCheck {
    /// A check with Contour's timing defaults: every 5 s, 2 s timeout, 3 failures, 2 successes.
    pub fn new(checker: HealthChecker) -> Self {
        HealthCheck {
            checker,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            unhealthy_threshold: 3,
            healthy_threshold: 2,
        }
    }

    /// An HTTP check with Contour's defaults: `/`, host `sesame-envoy-healthcheck` (Contour's
    /// `contour-envoy-healthcheck`).
    pub fn http() -> Self {
        HealthCheck::new(HealthChecker::Http {
            path: "/".to_string(),
            host: DEFAULT_HEALTH_CHECK_HOST.to_string(),
        })
    }
}

/// The `Host` of an HTTP health check that names none (Contour's `contour-envoy-healthcheck`).
pub const DEFAULT_HEALTH_CHECK_HOST: &str = "sesame-envoy-healthcheck";

/// Envoy's slow start: a newly added host's share of traffic ramps up over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlowStart {
    /// How long the ramp lasts.
    pub window: Duration,
    /// How fast the ramp climbs (`1.0` is linear); finite and greater than zero.
    pub aggression: f64,
    /// The share of traffic, in percent (0–100), a new host starts with.
    pub min_weight_percent: u32,
}

/// `aggression` is always finite (checked in the build), so equality is total.
impl Eq for SlowStart {}

/// How Envoy verifies an upstream's certificate.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamValidation {
    /// The PEM bundle of CA certificates the upstream's chain must lead to (already validated).
    #[serde(skip)]
    pub ca_pem: Vec<u8>,
    /// DNS names, one of which the certificate must carry as a subject alternative name;
    /// empty (with `subject_uris` empty too) accepts any name.
    pub subject_names: Vec<String>,
    /// URIs (a SPIFFE ID, say), one of which the certificate may carry instead of a name of
    /// `subject_names` (a BackendTLSPolicy's `subjectAltNames` of type `URI`).
    pub subject_uris: Vec<String>,
}

impl std::fmt::Debug for UpstreamValidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamValidation")
            .field("ca_pem_len", &self.ca_pem.len())
            .field("subject_names", &self.subject_names)
            .field("subject_uris", &self.subject_uris)
            .finish()
    }
}

/// The protocol spoken to an upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum UpstreamProtocol {
    /// Plain HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2 over TLS.
    H2,
    /// HTTP/2 in clear text.
    H2c,
    /// HTTP/1.1 over TLS.
    Tls,
}

/// Circuit-breaker thresholds of a cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CircuitBreakers {
    /// Maximum connections.
    pub max_connections: Option<u32>,
    /// Maximum pending requests.
    pub max_pending_requests: Option<u32>,
    /// Maximum parallel requests.
    pub max_requests: Option<u32>,
    /// Maximum parallel retries.
    pub max_retries: Option<u32>,
}

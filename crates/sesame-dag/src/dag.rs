//! The DAG: what Envoy should serve, in Sesame's own terms. It knows nothing of Envoy protos;
//! `sesame-envoy` translates it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::object::{NamespacedName, ObjectKey};

/// The result of a build: virtual hosts, clusters and secrets, all in sorted maps.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dag {
    /// Virtual hosts served on the plain-HTTP listener, by hostname (`*` matches any host).
    pub http: BTreeMap<String, VirtualHost>,
    /// Virtual hosts served on the HTTPS listener, by the hostname matched on SNI.
    pub https: BTreeMap<String, SecureVirtualHost>,
    /// Upstream clusters, by cluster name.
    pub clusters: BTreeMap<String, Cluster>,
    /// TLS certificates served over SDS, by SDS name.
    pub secrets: BTreeMap<String, TlsSecret>,
    /// Every Service and Secret the build looked up, found or not. A change to a Service or
    /// Secret outside this set cannot change the DAG, so it rebuilds nothing.
    pub references: BTreeSet<ObjectKey>,
}

/// A set of routes for one hostname.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VirtualHost {
    /// The hostname: exact (`foo.com`), leading wildcard (`*.foo.com`), or `*` for any.
    pub hostname: String,
    /// The routes, most specific first.
    pub routes: Vec<Route>,
}

/// A virtual host served with TLS on the HTTPS listener.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecureVirtualHost {
    /// The hostname and its routes.
    pub virtual_host: VirtualHost,
    /// The SDS name of the certificate served for this hostname (a key of [`Dag::secrets`]).
    pub secret: String,
    /// The lowest TLS version accepted.
    pub min_tls_version: TlsVersion,
    /// The highest TLS version accepted.
    pub max_tls_version: TlsVersion,
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TlsVersion {
    /// TLS 1.1 (obsolete; accepted only where an operator insists).
    V1_1,
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    /// Parses `1.1`, `1.2` or `1.3`.
    pub fn parse(s: &str) -> Option<TlsVersion> {
        match s.trim() {
            "1.1" => Some(TlsVersion::V1_1),
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }
}

/// One route: a match and what to do with the requests it matches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Route {
    /// The path match.
    pub path: PathMatch,
    /// Header matches, all of which must hold.
    pub headers: Vec<HeaderMatch>,
    /// What the route does.
    pub action: RouteAction,
    /// The object the route came from.
    pub origin: ObjectKey,
}

/// How a route matches the request path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum PathMatch {
    /// Plain string prefix: `/b` matches `/b`, `/bc` and `/b/c`.
    Prefix(String),
    /// Segment-wise prefix (Ingress `pathType: Prefix`): `/b` matches `/b` and `/b/c`, not `/bc`.
    /// Never ends in `/`; the root `/` is expressed as `Prefix("/")`.
    SegmentPrefix(String),
    /// The whole path, exactly.
    Exact(String),
    /// An RE2 regular expression over the whole path, already validated.
    Regex(String),
}

impl PathMatch {
    /// The path or pattern text.
    pub fn value(&self) -> &str {
        match self {
            PathMatch::Prefix(s)
            | PathMatch::SegmentPrefix(s)
            | PathMatch::Exact(s)
            | PathMatch::Regex(s) => s,
        }
    }
}

/// A match on one request header.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct HeaderMatch {
    /// The header name, lower case.
    pub name: String,
    /// How its value is matched.
    pub value: HeaderValueMatch,
    /// Match when the condition does *not* hold.
    pub invert: bool,
}

/// How a header value is matched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HeaderValueMatch {
    /// The header is present, with any value.
    Present,
    /// The value equals this string.
    Exact(String),
    /// The value contains this string.
    Contains(String),
    /// The whole value matches this validated RE2 expression.
    Regex(String),
}

/// What a route does with a request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum RouteAction {
    /// Proxy to upstream clusters.
    Forward(Forward),
    /// Answer `301` with the same URL on `https`.
    HttpsRedirect,
    /// Answer directly with a status code and an optional body.
    DirectResponse {
        /// The HTTP status code.
        status: u16,
        /// The body, if any.
        body: Option<String>,
    },
}

/// Proxying to one or more clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Forward {
    /// The clusters, by name, with their weights. One entry means no split.
    pub clusters: Vec<WeightedCluster>,
    /// The response timeout: `None` leaves Envoy's default (15 s).
    pub timeout: Option<Timeout>,
    /// Retries, if any.
    pub retry: Option<RetryPolicy>,
    /// Allow the websocket upgrade.
    pub websocket: bool,
}

/// A cluster and its share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeightedCluster {
    /// The cluster name (a key of [`Dag::clusters`]).
    pub name: String,
    /// The relative weight.
    pub weight: u32,
}

/// A timeout that may be switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Timeout {
    /// No timeout at all.
    Infinite,
    /// A bounded timeout.
    After(Duration),
}

/// When and how often to retry a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Envoy retry conditions (validated names, e.g. `5xx`, `gateway-error`).
    pub retry_on: Vec<String>,
    /// How many retries.
    pub num_retries: u32,
    /// The timeout of each try.
    pub per_try_timeout: Option<Timeout>,
}

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

/// A validated TLS certificate and key, served over SDS.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TlsSecret {
    /// The SDS name, `<namespace>/<name>/<hash>`.
    pub name: String,
    /// The Secret it came from.
    pub source: NamespacedName,
    /// The PEM certificate chain.
    #[serde(skip)]
    pub certificate_chain: Vec<u8>,
    /// The PEM private key.
    #[serde(skip)]
    pub private_key: Vec<u8>,
}

impl std::fmt::Debug for TlsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSecret")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

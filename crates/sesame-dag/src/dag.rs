//! The DAG: what Envoy should serve, in Sesame's own terms. It knows nothing of Envoy protos;
//! `sesame-envoy` translates it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
pub use sesame_api::config::DnsLookupFamily;

use crate::object::{NamespacedName, ObjectKey};

mod cluster;
mod extension;
mod global_rate_limit;
mod headers;

mod cookie;
mod gateway;
mod jwt;

pub use cluster::*;
pub use cookie::*;
pub use extension::*;
pub use gateway::*;
pub use global_rate_limit::*;
pub use headers::*;
pub use jwt::*;

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
    /// Hosts whose TLS connections are passed through, not terminated, to TCP backends, by the
    /// hostname matched on SNI.
    pub passthrough: BTreeMap<String, TcpProxy>,
    /// The certificate served to clients that send no SNI, for the secure virtual hosts that
    /// enable it (a key of [`Dag::secrets`]); `None` when no host uses it.
    pub fallback_secret: Option<String>,
    /// Every Service and Secret the build looked up, found or not. A change to a Service or
    /// Secret outside this set cannot change the DAG, so it rebuilds nothing.
    pub references: BTreeSet<ObjectKey>,
    /// The listeners of the served Gateway (Gateway API), by Envoy listener name.
    pub gateway_listeners: BTreeMap<String, GatewayListener>,
}

/// A set of routes for one hostname.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VirtualHost {
    /// The hostname: exact (`foo.com`), leading wildcard (`*.foo.com`), or `*` for any.
    pub hostname: String,
    /// The routes, most specific first.
    pub routes: Vec<Route>,
    /// The cross-origin resource sharing policy Envoy answers preflights with, if any.
    pub cors: Option<Box<CorsPolicy>>,
    /// The local rate limit of every route without one of its own, if any.
    pub rate_limit: Option<Box<LocalRateLimit>>,
    /// The IP filter of every route without one of its own, if any.
    pub ip_filter: Option<Box<IpFilter>>,
    /// The global rate limit descriptors of every route without its own, if any.
    pub global_rate_limit: Option<Box<GlobalRateLimit>>,
}

/// An IP filter: which client addresses may (or may not) reach a virtual host or route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpFilter {
    /// Whether matching requests are the only ones allowed, or the ones denied.
    pub action: IpFilterAction,
    /// The rules; a request matches when any one does. Never empty.
    pub rules: Vec<IpFilterRule>,
}

/// What an [`IpFilter`] does with the requests its rules match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum IpFilterAction {
    /// Only matching requests are served; the others are answered 403 (`ipAllowPolicy`).
    Allow,
    /// Matching requests are answered 403 (`ipDenyPolicy`).
    Deny,
}

/// One rule of an [`IpFilter`]: a source address in a CIDR range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpFilterRule {
    /// Which address of the request is matched.
    pub source: IpSource,
    /// The network address of the range (its host bits zero).
    pub address: std::net::IpAddr,
    /// The prefix length: at most 32 for IPv4, 128 for IPv6.
    pub prefix_len: u8,
}

/// The address an [`IpFilterRule`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum IpSource {
    /// The address of the connection's peer (`Peer`).
    Peer,
    /// The client address Envoy derives, from `X-Forwarded-For` when trusted hops are
    /// configured (`Remote`).
    Remote,
}

/// A cross-origin resource sharing (CORS) policy: Envoy answers preflight requests from
/// allowed origins itself and adds the CORS headers to their actual responses. Every value is
/// validated (methods and header names are HTTP tokens, regexes are RE2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorsPolicy {
    /// The origins allowed; never empty.
    pub allow_origin: Vec<OriginMatch>,
    /// The methods allowed (`Access-Control-Allow-Methods`); never empty.
    pub allow_methods: Vec<String>,
    /// The request headers allowed (`Access-Control-Allow-Headers`).
    pub allow_headers: Vec<String>,
    /// The response headers exposed (`Access-Control-Expose-Headers`).
    pub expose_headers: Vec<String>,
    /// How long, in whole seconds, a preflight answer may be cached
    /// (`Access-Control-Max-Age`): `None` sends no header, `Some(0)` forbids caching.
    pub max_age: Option<u64>,
    /// Allow credentials (`Access-Control-Allow-Credentials: true`).
    pub allow_credentials: bool,
    /// Allow requests from public networks to private ones
    /// (`Access-Control-Allow-Private-Network: true`).
    pub allow_private_network: bool,
}

/// How an allowed origin is matched against the `Origin` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum OriginMatch {
    /// `*` (any origin) or exactly this `scheme://host[:port]`, compared case-insensitively.
    Exact(String),
    /// The whole origin matches this validated RE2 expression.
    Regex(String),
}

/// A local rate limit: a token bucket in each Envoy, refilled with `tokens_per_fill` tokens
/// every `fill_interval` up to `max_tokens`; a request without a token is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalRateLimit {
    /// The bucket's size: the requests per interval plus the burst (at least 1).
    pub max_tokens: u32,
    /// The tokens added each interval: the requests per interval (at least 1).
    pub tokens_per_fill: u32,
    /// The interval: a second, a minute or an hour.
    pub fill_interval: Duration,
    /// The status of refused requests; `None` leaves Envoy's 429. Always one of
    /// [`RATE_LIMIT_STATUS_CODES`].
    pub status: Option<u16>,
    /// Headers set on refused responses (only `set` is used).
    pub response_headers: HeadersPolicy,
}

/// The status codes a local rate limit may answer with: the 4xx and 5xx codes of Envoy's
/// `envoy.type.v3.StatusCode` enum, which accepts no other value.
pub const RATE_LIMIT_STATUS_CODES: &[u16] = &[
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421,
    422, 423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
];

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
    /// Client certificate verification, if any.
    pub client_validation: Option<Box<ClientValidation>>,
    /// Also serve this host's routes to clients that send no SNI, with [`Dag::fallback_secret`].
    pub fallback_certificate: bool,
    /// Proxy the decrypted connection to TCP backends instead of serving HTTP routes (the routes
    /// are then empty).
    pub tcp_proxy: Option<TcpProxy>,
    /// External authorization of every request, if any.
    pub authorization: Option<Box<Authorization>>,
    /// The JWT providers its routes may require, in name order.
    pub jwt_providers: Vec<JwtProvider>,
}

/// How a secure virtual host verifies client certificates.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ClientValidation {
    /// The PEM bundle of CA certificates a client chain must lead to (already validated); empty
    /// only when `skip_verification` is set (with it, the bundle is only offered to clients).
    #[serde(skip)]
    pub ca_pem: Vec<u8>,
    /// A PEM certificate revocation list, if any.
    #[serde(skip)]
    pub crl_pem: Option<Vec<u8>>,
    /// Check only the leaf certificate against the revocation list.
    pub crl_only_leaf: bool,
    /// Accept connections without a client certificate (a certificate sent is still verified).
    pub optional: bool,
    /// Accept a client certificate that does not verify (alone, a certificate is still
    /// required; with `optional`, any client is served: Gateway API's `AllowInsecureFallback`).
    pub skip_verification: bool,
    /// Which details of the client certificate are passed upstream in
    /// `x-forwarded-client-cert`; all false forwards none.
    pub forward: ForwardClientCertificate,
}

impl std::fmt::Debug for ClientValidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientValidation")
            .field("ca_pem_len", &self.ca_pem.len())
            .field("crl", &self.crl_pem.is_some())
            .field("crl_only_leaf", &self.crl_only_leaf)
            .field("optional", &self.optional)
            .field("skip_verification", &self.skip_verification)
            .field("forward", &self.forward)
            .finish()
    }
}

/// The client certificate details passed upstream in `x-forwarded-client-cert`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ForwardClientCertificate {
    /// The subject.
    pub subject: bool,
    /// The whole client certificate, URL-encoded PEM.
    pub cert: bool,
    /// The whole client chain, URL-encoded PEM.
    pub chain: bool,
    /// The DNS subject alternative names.
    pub dns: bool,
    /// The URI subject alternative names.
    pub uri: bool,
}

impl ForwardClientCertificate {
    /// Whether any detail is forwarded.
    pub fn any(&self) -> bool {
        self.subject || self.cert || self.chain || self.dns || self.uri
    }
}

/// Proxying whole TCP connections to one or more clusters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TcpProxy {
    /// The clusters, by name, with their weights (per-cluster rewrites do not apply).
    pub clusters: Vec<WeightedCluster>,
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
    /// Query parameter matches, all of which must hold.
    pub query_params: Vec<QueryParamMatch>,
    /// What the route does.
    pub action: RouteAction,
    /// The object the route came from.
    pub origin: ObjectKey,
    /// The route's own IP filter, replacing its virtual host's.
    pub ip_filter: Option<Box<IpFilter>>,
    /// The route's external authorization settings, on a host with [`Authorization`] (HTTPS
    /// only).
    pub authorization: Option<Box<RouteAuthorization>>,
    /// The JWT provider (of its secure virtual host) that must verify the request's token;
    /// `None` verifies none. Only ever set on the HTTPS listener.
    pub jwt_provider: Option<String>,
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
    /// Compare the value case-insensitively. Ignored for [`HeaderValueMatch::Present`] and
    /// [`HeaderValueMatch::Regex`] (Envoy rejects it there: write `(?i)` in the expression).
    pub ignore_case: bool,
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
    /// The value starts with this non-empty string.
    Prefix(String),
    /// The value ends with this non-empty string.
    Suffix(String),
}

/// A match on one query parameter of the request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct QueryParamMatch {
    /// The parameter name, as it appears in the query string.
    pub name: String,
    /// How its value is matched.
    pub value: QueryValueMatch,
    /// Compare the value case-insensitively. Ignored for [`QueryValueMatch::Present`] and
    /// [`QueryValueMatch::Regex`] (Envoy rejects it there: write `(?i)` in the expression).
    pub ignore_case: bool,
}

/// How a query parameter value is matched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum QueryValueMatch {
    /// The parameter is present, with any value.
    Present,
    /// The value equals this string.
    Exact(String),
    /// The value starts with this non-empty string.
    Prefix(String),
    /// The value ends with this non-empty string.
    Suffix(String),
    /// The value contains this non-empty string.
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
    /// Answer with a redirect built from the request URL.
    Redirect(Redirect),
}

/// A redirect: each part left `None` keeps that part of the request URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// The new scheme (`http` or `https`).
    pub scheme: Option<String>,
    /// The new host.
    pub host: Option<String>,
    /// The new port.
    pub port: Option<u32>,
    /// The new path, or the replacement of the matched prefix.
    pub path: Option<RedirectPath>,
    /// The status code: 301, 302, 303, 307 or 308 (anything else is answered as 301).
    pub status: u16,
}

/// How a redirect rewrites the path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RedirectPath {
    /// Replace the whole path.
    Full(String),
    /// Replace the prefix the route matched.
    Prefix(String),
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
    /// Rewrites, header policies, mirrors and hash policies: HTTPProxy features most routes do
    /// not use, boxed so a plain route stays small.
    pub policies: Option<Box<ForwardPolicies>>,
}

impl Forward {
    /// The route's policies (empty when it has none).
    pub fn policies(&self) -> &ForwardPolicies {
        static NONE: ForwardPolicies = ForwardPolicies::NONE;
        self.policies.as_deref().unwrap_or(&NONE)
    }

    /// The route's policies, to set them.
    pub fn policies_mut(&mut self) -> &mut ForwardPolicies {
        self.policies.get_or_insert_with(Box::default)
    }
}

/// What a forwarding route may do besides picking clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ForwardPolicies {
    /// How long a stream may be idle: `None` leaves Envoy's default (the listener's).
    pub idle_timeout: Option<Timeout>,
    /// Replace the matched path prefix with this before forwarding.
    pub prefix_rewrite: Option<String>,
    /// Replace the whole path (not the query) with this before forwarding (Gateway API
    /// `ReplaceFullPath`); never set with `prefix_rewrite`.
    pub path_rewrite: Option<String>,
    /// Replace the `Host` header with this before forwarding.
    pub host_rewrite: Option<String>,
    /// Headers set and removed on the request, whichever cluster it goes to.
    pub request_headers: HeadersPolicy,
    /// Headers set and removed on the response, whichever cluster it came from.
    pub response_headers: HeadersPolicy,
    /// Headers added to the request, after any value it already has (Gateway API `add`).
    pub request_headers_append: Vec<(String, HeaderValue)>,
    /// Headers added to the response, after any value it already has (Gateway API `add`).
    pub response_headers_append: Vec<(String, HeaderValue)>,
    /// Clusters that also get a copy of (a share of) the requests; their answers are dropped.
    pub mirrors: Vec<Mirror>,
    /// How to hash a request to pick an upstream host (for [`LbPolicy::RingHash`]), in order.
    pub hash_policies: Vec<HashPolicy>,
    /// The route's own local rate limit, replacing the virtual host's.
    pub rate_limit: Option<LocalRateLimit>,
    /// Redirects from the upstream that Envoy follows itself.
    pub internal_redirect: Option<InternalRedirect>,
    /// The route's own global rate limit setting, replacing its virtual host's.
    pub global_rate_limit: Option<RouteGlobalRateLimit>,
    /// Rewrites of the `Set-Cookie` headers of the responses, in cookie name order.
    pub cookie_rewrites: Vec<CookieRewrite>,
    /// The route's own CORS policy (Gateway API `CORS` filter), replacing its virtual host's.
    pub cors: Option<Box<CorsPolicy>>,
}

/// Redirects from the upstream that Envoy follows itself instead of passing them to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InternalRedirect {
    /// How many redirects one request may follow: `None` leaves Envoy's default (1).
    pub max_redirects: Option<u32>,
    /// The redirect status codes followed, sorted (empty: Envoy's default, 302 only).
    pub response_codes: Vec<u16>,
    /// Whether a redirect to another scheme (http ↔ https) is followed.
    pub cross_scheme: CrossScheme,
    /// Refuse a redirect to a route this request already went through.
    pub deny_repeated_route: bool,
}

/// Which redirects to another scheme are followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CrossScheme {
    /// Never (the default).
    Never,
    /// Always.
    Always,
    /// Only from http to https (Envoy's `safe_cross_scheme` predicate).
    SafeOnly,
}

impl ForwardPolicies {
    /// No policies at all.
    pub const NONE: ForwardPolicies = ForwardPolicies {
        idle_timeout: None,
        prefix_rewrite: None,
        path_rewrite: None,
        host_rewrite: None,
        request_headers: HeadersPolicy::NONE,
        response_headers: HeadersPolicy::NONE,
        request_headers_append: Vec::new(),
        response_headers_append: Vec::new(),
        mirrors: Vec::new(),
        hash_policies: Vec::new(),
        rate_limit: None,
        internal_redirect: None,
        global_rate_limit: None,
        cookie_rewrites: Vec::new(),
        cors: None,
    };
}

/// A cluster and its share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeightedCluster {
    /// The cluster name (a key of [`Dag::clusters`]).
    pub name: String,
    /// The relative weight.
    pub weight: u32,
    /// Per-cluster header policies and host rewrite, boxed: most clusters have none.
    pub rewrites: Option<Box<ClusterRewrites>>,
}

/// Header policies and a host rewrite applied to the requests sent to one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClusterRewrites {
    /// Headers set and removed on requests sent to this cluster.
    pub request_headers: HeadersPolicy,
    /// Headers set and removed on responses from this cluster.
    pub response_headers: HeadersPolicy,
    /// Headers added to requests sent to this cluster, after any value already there
    /// (Gateway API `add`).
    pub request_headers_append: Vec<(String, HeaderValue)>,
    /// Headers added to responses from this cluster, after any value already there.
    pub response_headers_append: Vec<(String, HeaderValue)>,
    /// Replace the `Host` header with this on requests sent to this cluster.
    pub host_rewrite: Option<String>,
    /// Rewrites of the `Set-Cookie` headers from this cluster, in cookie name order; they
    /// take precedence over the route's for the same cookie, attribute by attribute.
    pub cookie_rewrites: Vec<CookieRewrite>,
}

impl ClusterRewrites {
    /// No rewrites.
    pub const NONE: ClusterRewrites = ClusterRewrites {
        request_headers: HeadersPolicy::NONE,
        response_headers: HeadersPolicy::NONE,
        request_headers_append: Vec::new(),
        response_headers_append: Vec::new(),
        host_rewrite: None,
        cookie_rewrites: Vec::new(),
    };
}

impl WeightedCluster {
    /// A cluster with this weight and no per-cluster policies.
    pub fn new(name: impl Into<String>, weight: u32) -> WeightedCluster {
        WeightedCluster {
            name: name.into(),
            weight,
            rewrites: None,
        }
    }

    /// The cluster's rewrites (empty when it has none).
    pub fn rewrites(&self) -> &ClusterRewrites {
        static NONE: ClusterRewrites = ClusterRewrites::NONE;
        self.rewrites.as_deref().unwrap_or(&NONE)
    }

    /// The cluster's rewrites, to set them.
    pub fn rewrites_mut(&mut self) -> &mut ClusterRewrites {
        self.rewrites.get_or_insert_with(Box::default)
    }

    /// The cluster with these rewrites (none kept when they rewrite nothing).
    pub fn with_rewrites(mut self, rewrites: ClusterRewrites) -> WeightedCluster {
        self.rewrites = (rewrites != ClusterRewrites::NONE).then(|| Box::new(rewrites));
        self
    }

    /// Whether the cluster carries a policy of its own (headers, host or cookie rewrites).
    pub fn has_policies(&self) -> bool {
        let r = self.rewrites();
        !r.request_headers.is_empty()
            || !r.response_headers.is_empty()
            || !r.request_headers_append.is_empty()
            || !r.response_headers_append.is_empty()
            || r.host_rewrite.is_some()
            || !r.cookie_rewrites.is_empty()
    }
}

/// A cluster that receives a copy of a share of a route's requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mirror {
    /// The cluster name (a key of [`Dag::clusters`]).
    pub cluster: String,
    /// The share of requests mirrored, in millionths (0 to 1 000 000).
    pub per_million: u32,
}

/// One input of the hash that picks an upstream host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashPolicy {
    /// What is hashed.
    pub kind: HashPolicyKind,
    /// Stop at this policy if it yields a hash, ignoring the ones after it.
    pub terminal: bool,
}

/// What a hash policy hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum HashPolicyKind {
    /// The value of this request header.
    Header(String),
    /// The value of this query parameter.
    QueryParameter(String),
    /// The client's source IP address.
    SourceIp,
    /// The value of a cookie, which Envoy sets when absent and a `ttl` is given.
    Cookie {
        /// The cookie name.
        name: String,
        /// The lifetime of the cookie Envoy generates; `None` never generates one.
        ttl: Option<Duration>,
        /// The path of the cookie Envoy generates.
        path: Option<String>,
    },
}

/// A timeout that may be switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Timeout {
    /// No timeout at all.
    Infinite,
    /// A bounded timeout.
    After(Duration),
}

impl Timeout {
    /// Parses a timeout: `infinity` or `infinite` switch it off, anything else is a Go-style
    /// duration (`30s`, `1m30s`).
    pub fn parse(value: &str) -> Result<Timeout, sesame_api::duration::DurationError> {
        if sesame_api::duration::is_infinite(value) {
            Ok(Timeout::Infinite)
        } else {
            sesame_api::duration::parse_duration(value).map(Timeout::After)
        }
    }
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
    /// Status codes that are retried when `retry_on` holds `retriable-status-codes`.
    pub retriable_status_codes: Vec<u32>,
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

//! The `HTTPProxy` custom resource (`projectsesame.io/v1`): Contour's HTTPProxy under Sesame's
//! API group, field for field with the same JSON names.
//!
//! Every field may be absent, so a partial object still decodes: the API server checks little,
//! and Sesame's build reports each problem on the object's status. Unknown fields are ignored, as
//! the API server prunes them.

use k8s_openapi::api::core::v1::LoadBalancerStatus;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::DetailedCondition;
use crate::is_false;

mod authorization;

pub use authorization::{
    AuthorizationServer, AuthorizationServerBufferSettings, ExtensionServiceReference,
};
mod jwt;
mod ratelimit;
mod route;

pub use jwt::{JwtProvider, RemoteJwks};

pub use ratelimit::{
    GenericKeyDescriptor, GlobalRateLimitPolicy, LocalRateLimitPolicy, RateLimitDescriptor,
    RateLimitDescriptorEntry, RateLimitPolicy, RemoteAddressDescriptor, RequestHeaderDescriptor,
    RequestHeaderValueMatchDescriptor,
};
pub use route::{
    CookieDomainRewrite, CookiePathRewrite, CookieRewritePolicy, HeaderHashOptions, HeaderValue,
    HeadersPolicy, HttpDirectResponsePolicy, HttpHealthCheckPolicy, HttpInternalRedirectPolicy,
    HttpRequestRedirectPolicy, HttpStatusRange, JwtVerificationPolicy, LoadBalancerPolicy,
    PathRewritePolicy, QueryParameterHashOptions, ReplacePrefix, RequestHashPolicy, RetryPolicy,
    Route, RouteAuthorizationPolicy, Service, SlowStartPolicy, TimeoutPolicy, UpstreamValidation,
};

/// The desired state of an HTTPProxy: a root (with `virtualhost`) or an included child.
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) of kube's derive repeats `type_ = \"string\"`"
)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "projectsesame.io",
    version = "v1",
    kind = "HTTPProxy",
    plural = "httpproxies",
    singular = "httpproxy",
    shortname = "proxy",
    shortname = "proxies",
    namespaced,
    status = "HTTPProxyStatus",
    derive = "PartialEq",
    doc = "HTTPProxy is an Ingress resource: a virtual host with routes to Services, which may include routes from other HTTPProxies.",
    crates(kube_core = "::kube_core"),
    printcolumn(
        name = "FQDN",
        type_ = "string",
        json_path = ".spec.virtualhost.fqdn",
        description = "Fully qualified domain name"
    ),
    printcolumn(
        name = "TLS Secret",
        type_ = "string",
        json_path = ".spec.virtualhost.tls.secretName",
        description = "Secret with TLS credentials"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.currentStatus",
        description = "The current status of the HTTPProxy"
    ),
    printcolumn(
        name = "Status Description",
        type_ = "string",
        json_path = ".status.description",
        description = "Description of the current status"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct HTTPProxySpec {
    /// The virtual host this HTTPProxy serves; its presence makes the HTTPProxy a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<VirtualHost>,
    /// The HTTP routes. Ignored when `tcpproxy` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// TCP proxying of the virtual host's TLS connections (terminated or passed through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcpproxy: Option<TcpProxy>,
    /// Other HTTPProxies, possibly in other namespaces, whose routes are included here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<Include>,
    /// The ingress class this HTTPProxy belongs to; the `kubernetes.io/ingress.class`
    /// annotation takes precedence when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
}

/// A virtual host: the root of a tree of HTTPProxies, named by its fully qualified domain name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualHost {
    /// The fully qualified domain name (optionally a `*.` wildcard) every route below it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// TLS settings; the certificate must match `fqdn`, which is also the SNI name matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// The cross-origin resource sharing policy of the virtual host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_policy: Option<CorsPolicy>,
    /// The rate limits of every route of the virtual host; a route's own local limit replaces
    /// the virtual host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_policy: Option<RateLimitPolicy>,
    /// Requests from these addresses are allowed and all others denied (exclusive with
    /// `ipDenyPolicy`); a route may override it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_allow_policy: Vec<IpFilterPolicy>,
    /// Requests from these addresses are denied and all others allowed (exclusive with
    /// `ipAllowPolicy`); a route may override it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_deny_policy: Vec<IpFilterPolicy>,
    /// External authorization of every route (TLS virtual hosts only); a route's `authPolicy`
    /// may disable it or add context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationServer>,
    /// The JWT providers routes may require (TLS virtual hosts only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_providers: Vec<JwtProvider>,
}

/// TLS settings of a virtual host: terminate with `secretName`, or pass through.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    /// The TLS Secret, `name` or `namespace/name` (the latter needs a TLSCertificateDelegation).
    /// Exclusive with `passthrough`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The lowest TLS version negotiated: `1.2` (default) or `1.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_protocol_version: Option<String>,
    /// The highest TLS version negotiated: `1.2` or `1.3` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_protocol_version: Option<String>,
    /// Pass the encrypted connection through to the backend (needs `tcpproxy`). Exclusive with
    /// `secretName`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub passthrough: bool,
    /// Verify client certificates (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_validation: Option<DownstreamValidation>,
    /// Serve the installation's fallback certificate to clients that send no matching SNI.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_fallback_certificate: bool,
}

/// How client certificates are validated on a TLS virtual host.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownstreamValidation {
    /// The Secret holding the CA bundle (`ca.crt`) that client certificates must chain to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<String>,
    /// Ask for a client certificate but do not verify it (for an external authorization
    /// server that does).
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_client_cert_validation: bool,
    /// Which parts of the client certificate to forward in `X-Forwarded-Client-Cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_client_certificate: Option<ClientCertificateDetails>,
    /// The Secret holding a certificate revocation list (`crl.pem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_secret: Option<String>,
    /// Check the revocation list against the leaf certificate only, not the whole chain.
    #[serde(default, skip_serializing_if = "is_false")]
    pub crl_only_verify_leaf_cert: bool,
    /// Accept clients that present no certificate (those that do are still verified).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional_client_certificate: bool,
}

/// The parts of a client certificate forwarded to the backend in `X-Forwarded-Client-Cert`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCertificateDetails {
    /// The subject of the client certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub subject: bool,
    /// The whole client certificate, URL-encoded PEM.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cert: bool,
    /// The whole client certificate chain, URL-encoded PEM.
    #[serde(default, skip_serializing_if = "is_false")]
    pub chain: bool,
    /// The DNS subject alternative names of the client certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dns: bool,
    /// The URI subject alternative name of the client certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub uri: bool,
}

/// A cross-origin resource sharing (CORS) policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorsPolicy {
    /// Whether the resource allows credentials.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_credentials: bool,
    /// The origins allowed to make CORS requests (`*`, exact origins, or regular expressions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origin: Vec<String>,
    /// The methods allowed in CORS requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    /// The headers allowed in CORS requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    /// The headers exposed to the client in CORS responses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// How long the preflight response may be cached, as a duration (`10m`) or `0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Allow requests from public networks to private ones (the `Access-Control-Allow-Private-Network` header).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_private_network: bool,
}

/// One IP filter rule: requests whose source address is in `cidr` match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpFilterPolicy {
    /// Which address is matched: `Peer` (the connection's) or `Remote` (from `X-Forwarded-For`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// An IPv4 or IPv6 address or CIDR range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

/// An included HTTPProxy, whose routes are served under this one's conditions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Include {
    /// The name of the included HTTPProxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace of the included HTTPProxy (this HTTPProxy's namespace when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Conditions added (ANDed) to every route of the included HTTPProxy: at most one `prefix`,
    /// plus headers and query parameters; `exact` and `regex` are not allowed here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<MatchCondition>,
}

/// One match rule of a route or include: set exactly one of `prefix`, `exact`, `regex`,
/// `header` and `queryParameter`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchCondition {
    /// The request path starts with this prefix (segment-wise, as Contour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The request path is exactly this (not allowed on includes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// The request path matches this RE2 regular expression (not allowed on includes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// A request header matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderMatchCondition>,
    /// A query parameter matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_parameter: Option<QueryParameterMatchCondition>,
}

/// A match on a request header: `name` and exactly one of `present`, `notpresent`, `contains`,
/// `notcontains`, `exact`, `notexact` and `regex`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatchCondition {
    /// The header name (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The header is present, whatever its value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub present: bool,
    /// The header is absent.
    #[serde(default, rename = "notpresent", skip_serializing_if = "is_false")]
    pub not_present: bool,
    /// The header value contains this string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// The header value does not contain this string.
    #[serde(
        default,
        rename = "notcontains",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_contains: Option<String>,
    /// Compare `exact`, `notexact`, `contains` and `notcontains` case-insensitively.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_case: bool,
    /// The header value is exactly this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// The header value is not this.
    #[serde(default, rename = "notexact", skip_serializing_if = "Option::is_none")]
    pub not_exact: Option<String>,
    /// The header value matches this RE2 regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// For the negative matches only: treat a missing header as an empty value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub treat_missing_as_empty: bool,
}

/// A match on a query parameter: `name` and exactly one of `exact`, `prefix`, `suffix`, `regex`,
/// `contains` and `present`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterMatchCondition {
    /// The query parameter name (case-sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value is exactly this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// The value starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The value ends with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// The value matches this RE2 regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The value contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Compare `exact`, `prefix`, `suffix` and `contains` case-insensitively.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_case: bool,
    /// The query parameter is present, whatever its value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub present: bool,
}

/// TCP proxying: the virtual host's connections go to `services`, or to the `include`d
/// HTTPProxy's `tcpproxy`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpProxy {
    /// How connections are balanced across the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_policy: Option<LoadBalancerPolicy>,
    /// The Services connections are proxied to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// The HTTPProxy whose `tcpproxy` is used instead of `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<TcpProxyInclude>,
    /// Deprecated spelling of `include`, kept for compatibility with Contour's v1 API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<TcpProxyInclude>,
    /// Active TCP health checks of the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_policy: Option<TcpHealthCheckPolicy>,
}

/// The HTTPProxy a `tcpproxy` is delegated to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpProxyInclude {
    /// The name of the included HTTPProxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace of the included HTTPProxy (this HTTPProxy's namespace when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Active TCP health checks of a `tcpproxy`'s endpoints.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpHealthCheckPolicy {
    /// Seconds between health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i64>,
    /// Seconds to wait for a health check response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Failed checks before an endpoint is marked unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold_count: Option<i64>,
    /// Passed checks before an endpoint is marked healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold_count: Option<i64>,
}

/// The observed state of an HTTPProxy, written by Sesame.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HTTPProxyStatus {
    /// `valid`, `invalid`, `orphaned` or `NotReconciled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// A human-readable description of `currentStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The addresses of the load balancer in front of Envoy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerStatus>,
    /// The conditions of the HTTPProxy; Sesame maintains the `Valid` condition and leaves the
    /// others alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<DetailedCondition>,
}

#[cfg(test)]
mod tests;

//! The route part of an HTTPProxy: its conditions, upstream Services and per-route policies.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{IpFilterPolicy, MatchCondition, RateLimitPolicy};
use crate::is_false;

/// One route: requests matching all `conditions` go to `services`, or get a redirect or a direct
/// response.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// The match rules, ANDed together (and with those of the includes above this HTTPProxy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<MatchCondition>,
    /// The Services the traffic is proxied to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// Allow WebSocket upgrades on this route.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_websockets: bool,
    /// Serve this route over plain HTTP too, instead of redirecting to HTTPS.
    #[serde(default, skip_serializing_if = "is_false")]
    pub permit_insecure: bool,
    /// The external authorization settings of this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy: Option<RouteAuthorizationPolicy>,
    /// Request and idle timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_policy: Option<TimeoutPolicy>,
    /// When and how often a failed request is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Active HTTP health checks of the route's Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_policy: Option<HttpHealthCheckPolicy>,
    /// How requests are balanced across the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_policy: Option<LoadBalancerPolicy>,
    /// Rewrites of the request path before it is proxied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_rewrite_policy: Option<PathRewritePolicy>,
    /// Request headers set or removed for every Service of the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers_policy: Option<HeadersPolicy>,
    /// Response headers set or removed for every Service of the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers_policy: Option<HeadersPolicy>,
    /// Rewrites of `Set-Cookie` response headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookie_rewrite_policies: Vec<CookieRewritePolicy>,
    /// Answer with a redirect instead of proxying (exclusive with `services` and
    /// `directResponsePolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect_policy: Option<HttpRequestRedirectPolicy>,
    /// Answer with a fixed status and body instead of proxying (exclusive with `services` and
    /// `requestRedirectPolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response_policy: Option<HttpDirectResponsePolicy>,
    /// Let Envoy follow redirects from the upstream itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_redirect_policy: Option<HttpInternalRedirectPolicy>,
    /// JWT verification settings of this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_verification_policy: Option<JwtVerificationPolicy>,
    /// Requests from these addresses are allowed and all others denied; overrides the virtual
    /// host's IP filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_allow_policy: Vec<IpFilterPolicy>,
    /// Requests from these addresses are denied and all others allowed; overrides the virtual
    /// host's IP filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_deny_policy: Vec<IpFilterPolicy>,
    /// The rate limits of this route; its local limit replaces the virtual host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_policy: Option<RateLimitPolicy>,
}

/// A Kubernetes Service traffic is proxied to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// The name of the Service, in the HTTPProxy's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Service port (1 to 65535).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The port health checks go to (`port` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_port: Option<i32>,
    /// The protocol to the upstream, `h2`, `h2c` or `tls`; overrides the Service's annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The relative weight of this Service among the route's Services; for a mirror, the
    /// percentage of requests mirrored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// How the upstream's certificate is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<UpstreamValidation>,
    /// Send this Service a copy of the route's traffic and ignore its responses.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mirror: bool,
    /// Request headers set or removed for this Service (setting `Host` rewrites the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers_policy: Option<HeadersPolicy>,
    /// Response headers set or removed for this Service (`Host` may not be set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers_policy: Option<HeadersPolicy>,
    /// Rewrites of `Set-Cookie` headers from this Service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookie_rewrite_policies: Vec<CookieRewritePolicy>,
    /// Ramp traffic up to newly added endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_start_policy: Option<SlowStartPolicy>,
}

/// How an upstream's TLS certificate is verified.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamValidation {
    /// The Secret holding the CA bundle (`ca.crt`) the upstream certificate must chain to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<String>,
    /// The name the upstream certificate must carry (also sent as SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
    /// Names of which the upstream certificate must carry one; the first must equal
    /// `subjectName`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_names: Vec<String>,
}

/// Headers to set and to remove.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadersPolicy {
    /// Headers to set, replacing any value already there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<HeaderValue>,
    /// Names of headers to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A header name and value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderValue {
    /// The header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The header value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// External authorization settings of a route.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteAuthorizationPolicy {
    /// Skip external authorization for this route.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Key-value pairs sent to the authorization server with each check.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub context: std::collections::BTreeMap<String, String>,
}

/// Timeouts of a route, as durations (`300ms`, `5s`, `1m`) or `infinity`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutPolicy {
    /// How long to wait for the upstream's whole response (Envoy's default 15s when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// How long a request or stream may see no activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
    /// How long an upstream connection may stay idle (1h when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_connection: Option<String>,
}

/// Retries of failed requests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// The number of retries (1 when absent, -1 to disable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// The timeout of each try, as a duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<String>,
    /// Envoy retry conditions such as `5xx`, `gateway-error` or `retriable-status-codes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_on: Vec<String>,
    /// HTTP status codes retried under `retriable-status-codes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retriable_status_codes: Vec<i32>,
}

/// Active HTTP health checks of a route's Services.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpHealthCheckPolicy {
    /// The path requested by the health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The `Host` header of the health check request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
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
    /// The response statuses that count as healthy (only 200 when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_statuses: Vec<HttpStatusRange>,
}

/// A half-open range of HTTP status codes, `[start, end)`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpStatusRange {
    /// The first status code of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// The status code after the last one of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
}

/// How requests or connections are balanced across endpoints.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerPolicy {
    /// `RoundRobin` (default), `WeightedLeastRequest`, `Random`, `Cookie` or `RequestHash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// What the `RequestHash` strategy hashes, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_hash_policies: Vec<RequestHashPolicy>,
}

/// One input of the `RequestHash` strategy: set one of `headerHashOptions`,
/// `queryParameterHashOptions` and `hashSourceIP`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestHashPolicy {
    /// Stop at this input when it is present in the request.
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminal: bool,
    /// Hash a request header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_hash_options: Option<HeaderHashOptions>,
    /// Hash a query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_parameter_hash_options: Option<QueryParameterHashOptions>,
    /// Hash the client's source IP address.
    #[serde(default, rename = "hashSourceIP", skip_serializing_if = "is_false")]
    pub hash_source_ip: bool,
}

/// The request header hashed by the `RequestHash` strategy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderHashOptions {
    /// The header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
}

/// The query parameter hashed by the `RequestHash` strategy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterHashOptions {
    /// The query parameter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_name: Option<String>,
}

/// Rewrites of the request path.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathRewritePolicy {
    /// Prefix replacements; the one whose `prefix` matches the route's prefix applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_prefix: Vec<ReplacePrefix>,
}

/// Replace a matched path prefix.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplacePrefix {
    /// The prefix to replace; when absent, the route's own prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// What replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// A rewrite of `Set-Cookie` headers carrying a cookie name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CookieRewritePolicy {
    /// The name of the cookie to rewrite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new `Path` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_rewrite: Option<CookiePathRewrite>,
    /// The new `Domain` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_rewrite: Option<CookieDomainRewrite>,
    /// Add (`true`) or remove (`false`) the `Secure` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// The new `SameSite` attribute: `Strict`, `Lax` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
}

/// The new `Path` attribute of a cookie.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CookiePathRewrite {
    /// The path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The new `Domain` attribute of a cookie.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CookieDomainRewrite {
    /// The domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A redirect answered instead of proxying; unset parts keep the request's.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestRedirectPolicy {
    /// The scheme of the redirect, `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The host name of the redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The port of the redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The redirect status code: 301, 302 (default), 303, 307 or 308.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    /// Replace the whole path (exclusive with `prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Replace the matched prefix of the path (exclusive with `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// A fixed response answered instead of proxying.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpDirectResponsePolicy {
    /// The HTTP status code, 200 to 599.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    /// The response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Redirects from the upstream that Envoy follows itself.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpInternalRedirectPolicy {
    /// How many redirects one request may follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_internal_redirects: Option<i64>,
    /// The status codes followed (302 when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_response_codes: Vec<i32>,
    /// Follow redirects to another scheme: `Always`, `Never` (default) or `SafeOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_cross_scheme_redirect: Option<String>,
    /// Refuse a redirect to a route already visited by this request.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deny_repeated_route_redirect: bool,
}

/// JWT verification settings of a route.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtVerificationPolicy {
    /// The JWT provider that must verify the request's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<String>,
    /// Skip JWT verification for this route.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

/// Ramp traffic up to newly added endpoints.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlowStartPolicy {
    /// How long the ramp lasts, as a duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How fast traffic ramps up (`1.0` is linear), as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggression: Option<String>,
    /// The lowest share of traffic, in percent, a new endpoint gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_weight_percent: Option<i64>,
}

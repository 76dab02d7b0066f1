//! Route tables per host, kept in Sesame's route order, and their placement on the HTTP and
//! HTTPS listeners.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dag::{
    Authorization, ClientValidation, CorsPolicy, Dag, GlobalRateLimit, HeaderMatch, IpFilter,
    JwtProvider, LocalRateLimit, PathMatch, QueryParamMatch, Route, RouteAction,
    RouteAuthorization, SecureVirtualHost, TcpProxy, TlsSecret, TlsVersion, VirtualHost,
};
use crate::object::ObjectKey;

/// What a route matches. Ordered most specific first: exact paths, then regexes, then prefixes,
/// longer before shorter, then more header and query parameter matches first, then by value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteKey {
    /// The path match.
    pub path: PathMatch,
    /// The header matches.
    pub headers: Vec<HeaderMatch>,
    /// The query parameter matches.
    pub query_params: Vec<QueryParamMatch>,
}

impl RouteKey {
    /// A key matching on the path alone.
    pub fn path(path: PathMatch) -> RouteKey {
        RouteKey {
            path,
            headers: Vec::new(),
            query_params: Vec::new(),
        }
    }
}

fn rank(path: &PathMatch) -> (u8, u8) {
    match path {
        PathMatch::Exact(_) => (0, 0),
        PathMatch::Regex(_) => (1, 0),
        PathMatch::SegmentPrefix(_) => (2, 0),
        PathMatch::Prefix(_) => (2, 1),
    }
}

impl Ord for RouteKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.path.value(), other.path.value());
        rank(&self.path)
            .0
            .cmp(&rank(&other.path).0)
            .then_with(|| b.len().cmp(&a.len()))
            .then_with(|| other.headers.len().cmp(&self.headers.len()))
            .then_with(|| other.query_params.len().cmp(&self.query_params.len()))
            .then_with(|| a.cmp(b))
            .then_with(|| rank(&self.path).1.cmp(&rank(&other.path).1))
            .then_with(|| self.headers.cmp(&other.headers))
            .then_with(|| self.query_params.cmp(&other.query_params))
    }
}

impl PartialOrd for RouteKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A route waiting for placement.
#[derive(Clone, Debug)]
pub(crate) struct PendingRoute {
    /// What the route does on HTTPS (and on HTTP unless redirected).
    pub action: RouteAction,
    /// The object it came from.
    pub origin: ObjectKey,
    /// Serve it on plain HTTP.
    pub allow_http: bool,
    /// Answer plain HTTP with a redirect to HTTPS instead.
    pub force_ssl_redirect: bool,
    /// The route's own IP filter, on both listeners (the redirect included).
    pub ip_filter: Option<Box<IpFilter>>,
    /// The route's external authorization settings (HTTPS only).
    pub authorization: Option<Box<RouteAuthorization>>,
    /// The JWT provider that verifies the route's requests on HTTPS. A route with one is
    /// always redirected to HTTPS on plain HTTP (`force_ssl_redirect`).
    pub jwt_provider: Option<String>,
}

/// The routes of one host, in route order.
pub(crate) type RouteTable = BTreeMap<RouteKey, PendingRoute>;

/// The certificate and TLS versions a host is served with.
#[derive(Clone, Debug)]
pub(crate) struct TlsHost {
    /// The validated secret.
    pub secret: Arc<TlsSecret>,
    /// The lowest TLS version.
    pub min: TlsVersion,
    /// The highest TLS version.
    pub max: TlsVersion,
    /// The object whose TLS section claimed the host.
    pub origin: ObjectKey,
    /// Client certificate verification, if any.
    pub client_validation: Option<Box<ClientValidation>>,
    /// Also serve the host to clients without SNI, with the fallback certificate.
    pub fallback_certificate: bool,
    /// Proxy decrypted connections to TCP backends instead of serving routes.
    pub tcp_proxy: Option<TcpProxy>,
    /// External authorization of the host's requests.
    pub authorization: Option<Box<Authorization>>,
    /// The JWT providers the host's routes may require, in name order.
    pub jwt_providers: Vec<JwtProvider>,
}

impl TlsHost {
    /// A host served with this certificate and these versions, and nothing more.
    pub fn new(
        secret: Arc<TlsSecret>,
        min: TlsVersion,
        max: TlsVersion,
        origin: ObjectKey,
    ) -> Self {
        TlsHost {
            secret,
            min,
            max,
            origin,
            client_validation: None,
            fallback_certificate: false,
            tcp_proxy: None,
            authorization: None,
            jwt_providers: Vec::new(),
        }
    }
}

/// The policies of a host that apply to all of its routes, on both listeners.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HostPolicies {
    /// The CORS policy.
    pub cors: Option<Box<CorsPolicy>>,
    /// The local rate limit of the routes without their own.
    pub rate_limit: Option<Box<LocalRateLimit>>,
    /// The IP filter of the routes without their own.
    pub ip_filter: Option<Box<IpFilter>>,
    /// The global rate limit descriptors of the routes without their own.
    pub global_rate_limit: Option<Box<GlobalRateLimit>>,
}

impl HostPolicies {
    /// Whether the host has no policy at all.
    pub fn is_empty(&self) -> bool {
        self.cors.is_none()
            && self.rate_limit.is_none()
            && self.ip_filter.is_none()
            && self.global_rate_limit.is_none()
    }
}

/// Places every host's routes on the HTTP and HTTPS listeners of `dag`, dropping hosts left
/// without routes (unless a TCP proxy serves them), and adds the secrets of the secure hosts
/// that remain. A host's `policies` apply on both listeners.
pub(crate) fn place(
    dag: &mut Dag,
    mut hosts: BTreeMap<String, RouteTable>,
    tls: &BTreeMap<String, TlsHost>,
    policies: &BTreeMap<String, HostPolicies>,
) {
    for (host, tls) in tls {
        if tls.tcp_proxy.is_some() {
            hosts.entry(host.clone()).or_default();
        }
    }
    for (host, table) in hosts {
        let tls = if host == "*" { None } else { tls.get(&host) };
        let policies = policies.get(&host).cloned().unwrap_or_default();
        let terminate_http = tls.is_some_and(|t| t.tcp_proxy.is_none());
        let mut http = Vec::with_capacity(table.len());
        let mut https = Vec::new();
        for (key, pending) in table {
            if terminate_http {
                https.push(Route {
                    path: key.path.clone(),
                    headers: key.headers.clone(),
                    query_params: key.query_params.clone(),
                    action: pending.action.clone(),
                    origin: pending.origin.clone(),
                    ip_filter: pending.ip_filter.clone(),
                    authorization: pending.authorization.clone(),
                    jwt_provider: pending.jwt_provider.clone(),
                });
            }
            let redirect = pending.force_ssl_redirect || pending.jwt_provider.is_some();
            let action = match (redirect, pending.allow_http) {
                (true, _) => RouteAction::HttpsRedirect,
                (false, true) => pending.action,
                (false, false) => continue,
            };
            http.push(Route {
                path: key.path,
                headers: key.headers,
                query_params: key.query_params,
                action,
                origin: pending.origin,
                ip_filter: pending.ip_filter,
                authorization: None,
                // Plain HTTP has no JWT filter: such a route is only ever a redirect there.
                jwt_provider: None,
            });
        }
        if let Some(tls) = tls.filter(|t| !https.is_empty() || t.tcp_proxy.is_some()) {
            let secret = tls.secret.name.clone();
            dag.secrets
                .entry(secret.clone())
                .or_insert_with(|| TlsSecret::clone(&tls.secret));
            let virtual_host = VirtualHost {
                hostname: host.clone(),
                routes: https,
                cors: policies.cors.clone(),
                rate_limit: policies.rate_limit.clone(),
                ip_filter: policies.ip_filter.clone(),
                global_rate_limit: policies.global_rate_limit.clone(),
            };
            dag.https.insert(
                host.clone(),
                SecureVirtualHost {
                    virtual_host,
                    secret,
                    min_tls_version: tls.min,
                    max_tls_version: tls.max,
                    client_validation: tls.client_validation.clone(),
                    fallback_certificate: tls.fallback_certificate,
                    tcp_proxy: tls.tcp_proxy.clone(),
                    authorization: tls.authorization.clone(),
                    jwt_providers: tls.jwt_providers.clone(),
                },
            );
        }
        if !http.is_empty() {
            dag.http.insert(
                host.clone(),
                VirtualHost {
                    hostname: host,
                    routes: http,
                    cors: policies.cors,
                    rate_limit: policies.rate_limit,
                    ip_filter: policies.ip_filter,
                    global_rate_limit: policies.global_rate_limit,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests;

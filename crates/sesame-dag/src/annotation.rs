//! Annotations on Ingresses and Services, parsed strictly into typed values.
//!
//! A value that does not parse is never copied into the configuration: it is ignored, logged and
//! reported as a warning on the object that carries it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServicePort;
use thiserror::Error;

use crate::dag::{CircuitBreakers, RetryPolicy, Timeout, TlsVersion, UpstreamProtocol};

pub(crate) mod duration;

pub(crate) use duration::parse_timeout;

/// Sesame's annotation for the Ingress class; wins over [`KUBERNETES_CLASS`].
pub(crate) const SESAME_CLASS: &str = "projectsesame.io/ingress.class";
/// The legacy Kubernetes annotation for the Ingress class; wins over `spec.ingressClassName`.
pub(crate) const KUBERNETES_CLASS: &str = "kubernetes.io/ingress.class";
const FORCE_SSL_REDIRECT: &str = "ingress.kubernetes.io/force-ssl-redirect";
const ALLOW_HTTP: &str = "kubernetes.io/ingress.allow-http";
const RESPONSE_TIMEOUT: &str = "projectsesame.io/response-timeout";
const RETRY_ON: &str = "projectsesame.io/retry-on";
const NUM_RETRIES: &str = "projectsesame.io/num-retries";
const PER_TRY_TIMEOUT: &str = "projectsesame.io/per-try-timeout";
const WEBSOCKET_ROUTES: &str = "projectsesame.io/websocket-routes";
const TLS_MIN: &str = "projectsesame.io/tls-minimum-protocol-version";
const TLS_MAX: &str = "projectsesame.io/tls-maximum-protocol-version";
const UPSTREAM_H2: &str = "projectsesame.io/upstream-protocol.h2";
const UPSTREAM_H2C: &str = "projectsesame.io/upstream-protocol.h2c";
const UPSTREAM_TLS: &str = "projectsesame.io/upstream-protocol.tls";
const MAX_CONNECTIONS: &str = "projectsesame.io/max-connections";
const MAX_PENDING_REQUESTS: &str = "projectsesame.io/max-pending-requests";
const MAX_REQUESTS: &str = "projectsesame.io/max-requests";
const MAX_RETRIES: &str = "projectsesame.io/max-retries";

/// How much of a bad value is quoted back in logs and status.
const QUOTE_LIMIT: usize = 100;

/// Envoy's `retry_on` conditions.
pub(crate) const RETRY_ON_VALUES: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// Why an annotation value was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum AnnotationError {
    /// Not `true` or `false`.
    #[error("expected \"true\" or \"false\"")]
    NotBool,
    /// Not a whole number in range.
    #[error("expected a whole number from {min} to {max}")]
    NotNumber {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// Not a duration.
    #[error("{0}")]
    Duration(#[from] duration::DurationError),
    /// An unknown retry condition.
    #[error(
        "{0:?} is not an Envoy retry condition (such as 5xx, gateway-error, reset, connect-failure)"
    )]
    RetryOn(String),
    /// An empty list.
    #[error("expected a comma-separated list")]
    EmptyList,
    /// Not a TLS version Sesame serves.
    #[error("expected \"1.2\" or \"1.3\"")]
    TlsVersion,
    /// A websocket route that is not a path.
    #[error("{0:?} is not a path starting with '/'")]
    NotPath(String),
    /// A Service port that is neither a number nor a name.
    #[error("{0:?} is not a port number or port name")]
    NotPort(String),
}

/// An annotation whose value was ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ignored {
    /// The message for the status warning.
    pub message: String,
}

/// Collects ignored annotations for one object. They become status warnings; the build logs
/// nothing itself (the controller logs each status change once).
#[derive(Default)]
pub(crate) struct Warnings {
    /// The ignored annotations, in the order found.
    pub ignored: Vec<Ignored>,
}

impl Warnings {
    /// No warnings yet.
    pub(crate) fn new() -> Self {
        Warnings::default()
    }

    /// Records that `annotation`'s `value` was ignored because of `error`.
    fn ignore(&mut self, annotation: &str, value: &str, error: &AnnotationError) {
        let quoted = quote(value);
        self.ignored.push(Ignored {
            message: format!(
                "annotation {annotation} has invalid value {quoted}: {error}; ignored"
            ),
        });
    }

    /// Parses `annotation` if present; a bad value is recorded and dropped.
    fn parse<T>(
        &mut self,
        map: &BTreeMap<String, String>,
        annotation: &str,
        f: impl FnOnce(&str) -> Result<T, AnnotationError>,
    ) -> Option<T> {
        let value = map.get(annotation)?;
        match f(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.ignore(annotation, value, &e);
                None
            }
        }
    }
}

/// A value quoted for a message: escaped, and cut to about 100 characters.
fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &value[..cut], value.len()),
        None => format!("{value:?}"),
    }
}

/// The Ingress class an object asks for: Sesame's annotation, then Kubernetes', then
/// `spec.ingressClassName`.
pub(crate) fn ingress_class<'a>(
    annotations: Option<&'a BTreeMap<String, String>>,
    class_name: Option<&'a str>,
) -> Option<&'a str> {
    annotations
        .and_then(|a| a.get(SESAME_CLASS).or_else(|| a.get(KUBERNETES_CLASS)))
        .map(String::as_str)
        .or(class_name)
}

/// What an Ingress's annotations ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IngressAnnotations {
    /// Answer plain HTTP with a redirect to HTTPS.
    pub force_ssl_redirect: bool,
    /// Serve plain HTTP at all.
    pub allow_http: bool,
    /// The response timeout.
    pub timeout: Option<Timeout>,
    /// The retry policy.
    pub retry: Option<RetryPolicy>,
    /// Paths whose routes allow websocket upgrades.
    pub websocket_routes: Vec<String>,
    /// The lowest TLS version asked for.
    pub min_tls: Option<TlsVersion>,
    /// The highest TLS version asked for.
    pub max_tls: Option<TlsVersion>,
}

impl Default for IngressAnnotations {
    /// No annotations: plain HTTP allowed, no redirect, Envoy's timeouts, no retries.
    fn default() -> Self {
        IngressAnnotations {
            force_ssl_redirect: false,
            allow_http: true,
            timeout: None,
            retry: None,
            websocket_routes: Vec::new(),
            min_tls: None,
            max_tls: None,
        }
    }
}

impl IngressAnnotations {
    /// Parses an Ingress's annotations, recording every ignored value in `warnings`.
    pub(crate) fn parse(
        annotations: Option<&BTreeMap<String, String>>,
        warnings: &mut Warnings,
    ) -> Self {
        let mut out = IngressAnnotations::default();
        let Some(map) = annotations.filter(|m| !m.is_empty()) else {
            return out;
        };
        out.force_ssl_redirect = warnings
            .parse(map, FORCE_SSL_REDIRECT, parse_bool)
            .unwrap_or(false);
        out.allow_http = warnings.parse(map, ALLOW_HTTP, parse_bool).unwrap_or(true);
        out.timeout = warnings.parse(map, RESPONSE_TIMEOUT, |v| Ok(parse_timeout(v)?));
        if let Some(retry_on) = warnings.parse(map, RETRY_ON, parse_retry_on) {
            let num_retries = warnings
                .parse(map, NUM_RETRIES, parse_num_retries)
                .unwrap_or(1);
            let per_try_timeout = warnings.parse(map, PER_TRY_TIMEOUT, |v| Ok(parse_timeout(v)?));
            out.retry = Some(RetryPolicy {
                retry_on,
                num_retries,
                per_try_timeout,
                retriable_status_codes: Vec::new(),
            });
        }
        out.websocket_routes = warnings
            .parse(map, WEBSOCKET_ROUTES, parse_paths)
            .unwrap_or_default();
        out.min_tls = warnings.parse(map, TLS_MIN, parse_tls_version);
        out.max_tls = warnings.parse(map, TLS_MAX, parse_tls_version);
        out
    }

    /// Whether the route for `raw_path` (as written) or `value` (as matched) allows websockets.
    pub(crate) fn websocket(&self, raw_path: &str, value: &str) -> bool {
        !self.websocket_routes.is_empty()
            && self
                .websocket_routes
                .iter()
                .any(|p| p == raw_path || p == value)
    }
}

/// What a Service's annotations ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceAnnotations {
    /// Ports (by name or number) spoken to with each protocol; later entries win.
    protocols: Vec<(UpstreamProtocol, Vec<String>)>,
    /// Circuit-breaker thresholds.
    pub circuit_breakers: CircuitBreakers,
}

impl ServiceAnnotations {
    /// Parses a Service's annotations, recording every ignored value in `warnings`.
    pub(crate) fn parse(
        annotations: Option<&BTreeMap<String, String>>,
        warnings: &mut Warnings,
    ) -> Self {
        let mut out = ServiceAnnotations::default();
        let Some(map) = annotations.filter(|m| !m.is_empty()) else {
            return out;
        };
        for (protocol, annotation) in [
            (UpstreamProtocol::H2, UPSTREAM_H2),
            (UpstreamProtocol::H2c, UPSTREAM_H2C),
            (UpstreamProtocol::Tls, UPSTREAM_TLS),
        ] {
            if let Some(ports) = warnings.parse(map, annotation, parse_port_list) {
                out.protocols.push((protocol, ports));
            }
        }
        let mut u32_of = |annotation| {
            warnings.parse(map, annotation, |v| {
                parse_number(v, 0, u32::MAX.into()).map(|n| n as u32)
            })
        };
        out.circuit_breakers = CircuitBreakers {
            max_connections: u32_of(MAX_CONNECTIONS),
            max_pending_requests: u32_of(MAX_PENDING_REQUESTS),
            max_requests: u32_of(MAX_REQUESTS),
            max_retries: u32_of(MAX_RETRIES),
        };
        out
    }

    /// The protocol to speak to a Service port: its `appProtocol` when Sesame knows it, else
    /// the upstream-protocol annotations (tls over h2c over h2), else HTTP/1.1.
    pub(crate) fn protocol(&self, port: &ServicePort) -> UpstreamProtocol {
        match port.app_protocol.as_deref() {
            Some("kubernetes.io/h2c") => return UpstreamProtocol::H2c,
            Some("https" | "kubernetes.io/wss") => return UpstreamProtocol::Tls,
            Some("http" | "kubernetes.io/ws") => return UpstreamProtocol::Http1,
            _ => {}
        }
        let number = port.port.to_string();
        let name = port.name.as_deref().unwrap_or_default();
        self.protocols
            .iter()
            .rev()
            .find(|(_, ports)| {
                ports
                    .iter()
                    .any(|p| *p == number || (!name.is_empty() && p == name))
            })
            .map_or(UpstreamProtocol::Http1, |(protocol, _)| *protocol)
    }
}

/// `true` or `false`, exactly.
pub(crate) fn parse_bool(value: &str) -> Result<bool, AnnotationError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AnnotationError::NotBool),
    }
}

/// A decimal whole number within `min..=max`.
pub(crate) fn parse_number(value: &str, min: i64, max: i64) -> Result<i64, AnnotationError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or(AnnotationError::NotNumber { min, max })
}

/// A comma list of Envoy retry conditions.
pub(crate) fn parse_retry_on(value: &str) -> Result<Vec<String>, AnnotationError> {
    let mut out: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !RETRY_ON_VALUES.contains(&item) {
            return Err(AnnotationError::RetryOn(
                item.chars().take(QUOTE_LIMIT).collect(),
            ));
        }
        if !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
    if out.is_empty() {
        return Err(AnnotationError::EmptyList);
    }
    Ok(out)
}

/// Contour's retry count rule: `-1` means none, `0` and `1` mean one, otherwise `n`.
pub(crate) fn parse_num_retries(value: &str) -> Result<u32, AnnotationError> {
    match parse_number(value, -1, u32::MAX.into())? {
        -1 => Ok(0),
        0 | 1 => Ok(1),
        n => Ok(n as u32),
    }
}

/// `1.2` or `1.3`.
pub(crate) fn parse_tls_version(value: &str) -> Result<TlsVersion, AnnotationError> {
    match TlsVersion::parse(value) {
        Some(v @ (TlsVersion::V1_2 | TlsVersion::V1_3)) => Ok(v),
        _ => Err(AnnotationError::TlsVersion),
    }
}

/// A comma list of request paths; one bad entry refuses the whole list.
pub(crate) fn parse_paths(value: &str) -> Result<Vec<String>, AnnotationError> {
    let mut out = Vec::new();
    for path in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !path.starts_with('/') || path.contains(|c: char| c.is_control() || c.is_whitespace()) {
            return Err(AnnotationError::NotPath(
                path.chars().take(QUOTE_LIMIT).collect(),
            ));
        }
        out.push(path.to_string());
    }
    if out.is_empty() {
        return Err(AnnotationError::EmptyList);
    }
    Ok(out)
}

/// A comma list of Service port numbers or names.
pub(crate) fn parse_port_list(value: &str) -> Result<Vec<String>, AnnotationError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let is_number = item.parse::<u16>().is_ok_and(|n| n > 0);
        let is_name = item.len() <= 63
            && item.bytes().any(|b| b.is_ascii_lowercase())
            && item
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !item.starts_with('-')
            && !item.ends_with('-');
        if !is_number && !is_name {
            return Err(AnnotationError::NotPort(
                item.chars().take(QUOTE_LIMIT).collect(),
            ));
        }
        out.push(item.to_string());
    }
    if out.is_empty() {
        return Err(AnnotationError::EmptyList);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

//! The per-route policies of an HTTPProxy (timeouts, retries, load balancing, health checks,
//! prefix rewrites, redirects, direct responses), each checked so Envoy never refuses it.

use std::time::Duration;

use sesame_api::httpproxy::{
    HttpDirectResponsePolicy, HttpHealthCheckPolicy, HttpInternalRedirectPolicy,
    HttpRequestRedirectPolicy, LoadBalancerPolicy, PathRewritePolicy,
    RetryPolicy as ApiRetryPolicy, TimeoutPolicy,
};

use super::cluster_policy::HealthCheckTiming;
use super::header;
use crate::annotation::RETRY_ON_VALUES;
use crate::annotation::duration::parse_timeout;
use crate::dag::{
    CrossScheme, DEFAULT_HEALTH_CHECK_HOST, HashPolicy, HashPolicyKind, HealthCheck, HealthChecker,
    InternalRedirect, LbPolicy, PathMatch, Redirect, RedirectPath, RetryPolicy, RouteAction,
    Timeout,
};
use crate::hostname;
use crate::status::{ObjectStatus, ProblemKind, Reason};

/// The cookie Envoy sets for `Cookie` session affinity (Contour's `X-Contour-Session-Affinity`).
pub(crate) const SESSION_AFFINITY_COOKIE: &str = "X-Sesame-Session-Affinity";

/// The largest direct response body Envoy accepts by default.
const MAX_DIRECT_RESPONSE_BODY: usize = 4096;

/// A problem that keeps a route from being served.
#[derive(Debug)]
pub(super) struct RouteProblem {
    pub kind: ProblemKind,
    pub reason: Reason,
    pub message: String,
}

pub(super) fn problem(
    kind: ProblemKind,
    reason: Reason,
    message: impl Into<String>,
) -> RouteProblem {
    RouteProblem {
        kind,
        reason,
        message: message.into(),
    }
}

/// The route's timeouts.
pub(super) struct Timeouts {
    pub response: Option<Timeout>,
    pub idle: Option<Timeout>,
    pub idle_connection: Option<Timeout>,
}

pub(super) fn timeouts(policy: Option<&TimeoutPolicy>) -> Result<Timeouts, RouteProblem> {
    let parse = |field: &str, value: &Option<String>| -> Result<Option<Timeout>, RouteProblem> {
        match value.as_deref().filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_timeout(v).map(Some).map_err(|e| {
                problem(
                    ProblemKind::RouteError,
                    Reason::TimeoutPolicyNotValid,
                    format!("timeoutPolicy.{field} {v:?}: {e}"),
                )
            }),
        }
    };
    let Some(p) = policy else {
        return Ok(Timeouts {
            response: None,
            idle: None,
            idle_connection: None,
        });
    };
    Ok(Timeouts {
        response: parse("response", &p.response)?,
        idle: parse("idle", &p.idle)?,
        idle_connection: parse("idleConnection", &p.idle_connection)?,
    })
}

pub(super) fn retry_policy(p: &ApiRetryPolicy) -> Result<RetryPolicy, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::RouteError,
            Reason::RetryPolicyNotValid,
            message,
        )
    };
    let num_retries = match p.count {
        None | Some(0) | Some(1) => 1,
        Some(-1) => 0,
        Some(n @ 2..=1000) => n as u32,
        Some(n) => {
            return Err(invalid(format!(
                "retryPolicy.count {n} is not from -1 to 1000"
            )));
        }
    };
    let per_try_timeout = match p.per_try_timeout.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            parse_timeout(v)
                .map_err(|e| invalid(format!("retryPolicy.perTryTimeout {v:?}: {e}")))?,
        ),
    };
    let mut retry_on: Vec<String> = Vec::new();
    for condition in &p.retry_on {
        if !RETRY_ON_VALUES.contains(&condition.as_str()) {
            let shown: String = condition.chars().take(64).collect();
            return Err(invalid(format!(
                "retryPolicy.retryOn {shown:?} is not an Envoy retry condition"
            )));
        }
        if !retry_on.contains(condition) {
            retry_on.push(condition.clone());
        }
    }
    if retry_on.is_empty() {
        retry_on.push("5xx".to_string());
    }
    let mut retriable_status_codes = Vec::new();
    for code in &p.retriable_status_codes {
        match *code {
            c @ 100..=599 => retriable_status_codes.push(c as u32),
            c => {
                return Err(invalid(format!(
                    "retryPolicy.retriableStatusCodes {c} is not from 100 to 599"
                )));
            }
        }
    }
    Ok(RetryPolicy {
        retry_on,
        num_retries,
        per_try_timeout,
        retriable_status_codes,
    })
}

/// The load balancer policy and the hash policies it needs; an unknown strategy or unusable
/// hash policy is a warning, and round robin is used.
pub(super) fn lb_policy(
    policy: Option<&LoadBalancerPolicy>,
    status: &mut ObjectStatus,
) -> (LbPolicy, Vec<HashPolicy>) {
    let Some(policy) = policy else {
        return (LbPolicy::RoundRobin, Vec::new());
    };
    let mut warn = |message: String| {
        status.warning(
            ProblemKind::RouteError,
            Reason::LoadBalancerPolicyNotValid,
            message,
        );
    };
    match policy.strategy.as_deref().unwrap_or_default() {
        "" | "RoundRobin" => (LbPolicy::RoundRobin, Vec::new()),
        "WeightedLeastRequest" => (LbPolicy::LeastRequest, Vec::new()),
        "Random" => (LbPolicy::Random, Vec::new()),
        "Cookie" => (
            LbPolicy::RingHash,
            vec![HashPolicy {
                kind: HashPolicyKind::Cookie {
                    name: SESSION_AFFINITY_COOKIE.to_string(),
                    ttl: Some(Duration::ZERO),
                    path: Some("/".to_string()),
                },
                terminal: false,
            }],
        ),
        "RequestHash" => {
            let mut hashes = Vec::new();
            for (i, p) in policy.request_hash_policies.iter().enumerate() {
                let header = p
                    .header_hash_options
                    .as_ref()
                    .and_then(|h| h.header_name.as_deref());
                let query = p
                    .query_parameter_hash_options
                    .as_ref()
                    .and_then(|q| q.parameter_name.as_deref());
                let kind = match (header, query, p.hash_source_ip) {
                    (Some(h), None, false) => match header::name(h) {
                        Ok(name) => HashPolicyKind::Header(name),
                        Err(e) => {
                            warn(format!(
                                "loadBalancerPolicy.requestHashPolicies[{i}]: {e}; ignored"
                            ));
                            continue;
                        }
                    },
                    (None, Some(q), false) if !q.is_empty() && header::value(q).is_ok() => {
                        HashPolicyKind::QueryParameter(q.to_string())
                    }
                    (None, None, true) => HashPolicyKind::SourceIp,
                    _ => {
                        warn(format!(
                            "loadBalancerPolicy.requestHashPolicies[{i}] must set exactly one of headerHashOptions, queryParameterHashOptions or hashSourceIP; ignored"
                        ));
                        continue;
                    }
                };
                hashes.push(HashPolicy {
                    kind,
                    terminal: p.terminal,
                });
            }
            if hashes.is_empty() {
                warn("loadBalancerPolicy: strategy RequestHash has no usable requestHashPolicies; using RoundRobin".to_string());
                return (LbPolicy::RoundRobin, Vec::new());
            }
            (LbPolicy::RingHash, hashes)
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            warn(format!(
                "loadBalancerPolicy.strategy {shown:?} is not one of RoundRobin, WeightedLeastRequest, Random, Cookie or RequestHash; using RoundRobin"
            ));
            (LbPolicy::RoundRobin, Vec::new())
        }
    }
}

pub(super) fn health_check(
    p: &HttpHealthCheckPolicy,
    status: &mut ObjectStatus,
) -> Result<HealthCheck, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::RouteError,
            Reason::HealthCheckPolicyNotValid,
            message,
        )
    };
    let path = p.path.as_deref().unwrap_or_default();
    if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "healthCheckPolicy.path {path:?} must start with '/' and have no whitespace or control characters"
        )));
    }
    let mut host = DEFAULT_HEALTH_CHECK_HOST.to_string();
    if let Some(h) = p.host.as_deref().filter(|h| !h.is_empty()) {
        if h.chars().any(|c| c.is_control() || c.is_whitespace()) || h.len() > 253 {
            return Err(invalid(format!(
                "healthCheckPolicy.host {h:?} is not a host name"
            )));
        }
        host = h.to_string();
    }
    let mut hc = HealthCheck::new(HealthChecker::Http {
        path: path.to_string(),
        host,
    });
    HealthCheckTiming {
        interval_seconds: p.interval_seconds,
        timeout_seconds: p.timeout_seconds,
        unhealthy_threshold_count: p.unhealthy_threshold_count,
        healthy_threshold_count: p.healthy_threshold_count,
    }
    .apply(&mut hc)
    .map_err(invalid)?;
    if !p.expected_statuses.is_empty() {
        status.warning(
            ProblemKind::RouteError,
            Reason::NotSupported,
            "healthCheckPolicy.expectedStatuses is not supported by Sesame yet and was ignored; 200 is expected",
        );
    }
    Ok(hc)
}

/// The prefix rewrite of the route: the `replacePrefix` entry whose prefix is the route's, or
/// the one without a prefix.
pub(super) fn prefix_rewrite(
    p: &PathRewritePolicy,
    path: &PathMatch,
    status: &mut ObjectStatus,
) -> Result<Option<String>, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::PrefixReplaceError,
            Reason::PrefixReplaceNotValid,
            message,
        )
    };
    let mut seen: Vec<&str> = Vec::new();
    for entry in &p.replace_prefix {
        let prefix = entry.prefix.as_deref().unwrap_or_default();
        if seen.contains(&prefix) {
            return Err(invalid(format!(
                "pathRewritePolicy.replacePrefix: duplicate prefix {prefix:?}"
            )));
        }
        seen.push(prefix);
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(invalid(format!(
                "pathRewritePolicy.replacePrefix prefix {prefix:?} must start with '/'"
            )));
        }
        let replacement = entry.replacement.as_deref().unwrap_or_default();
        if !replacement.starts_with('/')
            || replacement
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(invalid(format!(
                "pathRewritePolicy.replacePrefix replacement {replacement:?} must start with '/' and have no whitespace, control characters, '?' or '#'"
            )));
        }
    }
    let route_prefix = match path {
        PathMatch::Prefix(p) | PathMatch::SegmentPrefix(p) | PathMatch::Exact(p) => p.as_str(),
        PathMatch::Regex(_) => {
            return Err(invalid(
                "pathRewritePolicy cannot rewrite the prefix of a regex route".to_string(),
            ));
        }
    };
    let chosen = p
        .replace_prefix
        .iter()
        .find(|e| e.prefix.as_deref() == Some(route_prefix))
        .or_else(|| {
            p.replace_prefix
                .iter()
                .find(|e| e.prefix.as_deref().unwrap_or_default().is_empty())
        });
    match chosen {
        Some(entry) => Ok(entry.replacement.clone()),
        None => {
            status.warning(
                ProblemKind::PrefixReplaceError,
                Reason::PrefixReplaceNotValid,
                format!("pathRewritePolicy: no replacePrefix entry matches the route prefix {route_prefix:?}; nothing is rewritten"),
            );
            Ok(None)
        }
    }
}

pub(super) fn redirect_action(
    p: &HttpRequestRedirectPolicy,
    path: &PathMatch,
) -> Result<RouteAction, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::RouteError,
            Reason::RedirectPolicyNotValid,
            message,
        )
    };
    let scheme = match p.scheme.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("http" | "https")) => Some(s.to_string()),
        Some(other) => {
            return Err(invalid(format!(
                "requestRedirectPolicy.scheme {other:?} is not http or https"
            )));
        }
    };
    let host = match p.hostname.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(raw) => match hostname::parse(raw) {
            Ok(h) if !hostname::is_wildcard(&h) => Some(h.into_owned()),
            Ok(_) => {
                return Err(invalid(format!(
                    "requestRedirectPolicy.hostname {raw:?} must not be a wildcard"
                )));
            }
            Err(e) => {
                return Err(invalid(format!(
                    "requestRedirectPolicy.hostname {raw:?}: {e}"
                )));
            }
        },
    };
    let port = match p.port {
        None | Some(0) => None,
        Some(port @ 1..=65535) => Some(port as u32),
        Some(port) => {
            return Err(invalid(format!(
                "requestRedirectPolicy.port {port} is not from 1 to 65535"
            )));
        }
    };
    let status = match p.status_code {
        None => 302,
        Some(code @ (301 | 302 | 303 | 307 | 308)) => code as u16,
        Some(code) => {
            return Err(invalid(format!(
                "requestRedirectPolicy.statusCode {code} is not 301, 302, 303, 307 or 308"
            )));
        }
    };
    let redirect_path = |field: &str, value: &str| {
        if !value.starts_with('/')
            || value
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '#')
        {
            return Err(invalid(format!(
                "requestRedirectPolicy.{field} {value:?} must start with '/' and have no whitespace, control characters or '#'"
            )));
        }
        Ok(value.to_string())
    };
    let path = match (
        p.path.as_deref().filter(|v| !v.is_empty()),
        p.prefix.as_deref().filter(|v| !v.is_empty()),
    ) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "requestRedirectPolicy: path and prefix are mutually exclusive".to_string(),
            ));
        }
        (Some(v), None) => Some(RedirectPath::Full(redirect_path("path", v)?)),
        (None, Some(v)) => {
            if matches!(path, PathMatch::Regex(_)) {
                return Err(invalid(
                    "requestRedirectPolicy.prefix cannot apply to a regex route".to_string(),
                ));
            }
            Some(RedirectPath::Prefix(redirect_path("prefix", v)?))
        }
        (None, None) => None,
    };
    Ok(RouteAction::Redirect(Redirect {
        scheme,
        host,
        port,
        path,
        status,
    }))
}

pub(super) fn direct_action(p: &HttpDirectResponsePolicy) -> Result<RouteAction, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::RouteError,
            Reason::DirectResponsePolicyNotValid,
            message,
        )
    };
    let status = match p.status_code {
        Some(code @ 200..=599) => code as u16,
        other => {
            return Err(invalid(format!(
                "directResponsePolicy.statusCode {} is not from 200 to 599",
                other.map_or("(none)".to_string(), |c| c.to_string())
            )));
        }
    };
    let body = p.body.clone().filter(|b| !b.is_empty());
    if let Some(b) = &body
        && b.len() > MAX_DIRECT_RESPONSE_BODY
    {
        return Err(invalid(format!(
            "directResponsePolicy.body is {} bytes long, the limit is {MAX_DIRECT_RESPONSE_BODY}",
            b.len()
        )));
    }
    Ok(RouteAction::DirectResponse { status, body })
}

/// A validated internal redirect policy (Contour's `internalRedirectPolicy`).
pub(super) fn internal_redirect(
    p: &HttpInternalRedirectPolicy,
) -> Result<InternalRedirect, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::RouteError,
            Reason::InternalRedirectPolicyNotValid,
            format!("internalRedirectPolicy.{message}"),
        )
    };
    let max_redirects = match p.max_internal_redirects {
        None => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| {
            invalid(format!(
                "maxInternalRedirects {n} is not from 0 to {}",
                u32::MAX
            ))
        })?),
    };
    let mut response_codes = Vec::new();
    for code in &p.redirect_response_codes {
        match *code {
            c @ (301 | 302 | 303 | 307 | 308) => {
                if response_codes.contains(&(c as u16)) {
                    return Err(invalid(format!("redirectResponseCodes: duplicate {c}")));
                }
                response_codes.push(c as u16);
            }
            c => {
                return Err(invalid(format!(
                    "redirectResponseCodes: {c} is not 301, 302, 303, 307 or 308"
                )));
            }
        }
    }
    response_codes.sort_unstable();
    let cross_scheme = match p.allow_cross_scheme_redirect.as_deref() {
        None | Some("") | Some("Never") => CrossScheme::Never,
        Some("Always") => CrossScheme::Always,
        Some("SafeOnly") => CrossScheme::SafeOnly,
        Some(other) => {
            return Err(invalid(format!(
                "allowCrossSchemeRedirect {other:?} is not Always, Never or SafeOnly"
            )));
        }
    };
    Ok(InternalRedirect {
        max_redirects,
        response_codes,
        cross_scheme,
        deny_repeated_route: p.deny_repeated_route_redirect,
    })
}

#[cfg(test)]
mod internal_redirect_tests {
    use super::*;

    #[test]
    fn values_are_checked_and_codes_sorted() {
        let p = HttpInternalRedirectPolicy {
            max_internal_redirects: Some(3),
            redirect_response_codes: vec![307, 301],
            allow_cross_scheme_redirect: Some("SafeOnly".into()),
            deny_repeated_route_redirect: true,
        };
        let r = internal_redirect(&p).unwrap();
        assert_eq!(r.max_redirects, Some(3));
        assert_eq!(r.response_codes, [301, 307]);
        assert_eq!(r.cross_scheme, CrossScheme::SafeOnly);
        assert!(r.deny_repeated_route);
        let defaults = internal_redirect(&HttpInternalRedirectPolicy::default()).unwrap();
        assert_eq!(defaults.max_redirects, None);
        assert_eq!(defaults.cross_scheme, CrossScheme::Never);
        for bad in [
            HttpInternalRedirectPolicy {
                max_internal_redirects: Some(-1),
                ..Default::default()
            },
            HttpInternalRedirectPolicy {
                max_internal_redirects: Some(1 << 40),
                ..Default::default()
            },
            HttpInternalRedirectPolicy {
                redirect_response_codes: vec![418],
                ..Default::default()
            },
            HttpInternalRedirectPolicy {
                redirect_response_codes: vec![302, 302],
                ..Default::default()
            },
            HttpInternalRedirectPolicy {
                allow_cross_scheme_redirect: Some("always".into()),
                ..Default::default()
            },
        ] {
            let err = internal_redirect(&bad).unwrap_err();
            assert_eq!(
                err.reason,
                Reason::InternalRedirectPolicyNotValid,
                "{bad:?}"
            );
        }
    }
}

//! What an HTTPProxy route does: forward to its services with its policies, redirect, or answer
//! directly. Every value is checked here, so Envoy never sees one it would refuse.

use std::time::Duration;

use sesame_api::httpproxy::{
    HttpDirectResponsePolicy, HttpHealthCheckPolicy, HttpRequestRedirectPolicy, LoadBalancerPolicy,
    PathRewritePolicy, RetryPolicy as ApiRetryPolicy, Route, Service, TimeoutPolicy,
};

use super::Root;
use super::conditions::{self, Matches};
use super::header::{self, Direction};
use crate::annotation::RETRY_ON_VALUES;
use crate::annotation::duration::parse_timeout;
use crate::build::Builder;
use crate::dag::{
    ClusterRewrites, Forward, HashPolicy, HashPolicyKind, HttpHealthCheck, LbPolicy, Mirror,
    PathMatch, Redirect, RedirectPath, RetryPolicy, RouteAction, Timeout, UpstreamProtocol,
    UpstreamValidation, WeightedCluster,
};
use crate::hostname;
use crate::object::ObjectKey;
use crate::service::{ClusterSettings, PortRef};
use crate::status::{ObjectStatus, ProblemKind, Reason};
use crate::vhost::PendingRoute;

/// The answer of a route none of whose services can be reached.
const UNAVAILABLE: RouteAction = RouteAction::DirectResponse {
    status: 503,
    body: None,
};

/// The cookie Envoy sets for `Cookie` session affinity (Contour's `X-Contour-Session-Affinity`).
pub(crate) const SESSION_AFFINITY_COOKIE: &str = "X-Sesame-Session-Affinity";

/// The largest direct response body Envoy accepts by default.
const MAX_DIRECT_RESPONSE_BODY: usize = 4096;

/// The longest health check interval or timeout accepted, in seconds (a day).
const MAX_HEALTH_CHECK_SECONDS: i64 = 86_400;

/// A problem that keeps a route from being served.
struct RouteProblem {
    kind: ProblemKind,
    reason: Reason,
    message: String,
}

fn problem(kind: ProblemKind, reason: Reason, message: impl Into<String>) -> RouteProblem {
    RouteProblem {
        kind,
        reason,
        message: message.into(),
    }
}

impl<'a> Builder<'a> {
    /// Adds one route of an HTTPProxy reached under `matches` to the root's host.
    pub(crate) fn proxy_route(
        &mut self,
        root: &Root<'_>,
        key: &ObjectKey,
        namespace: &'a str,
        matches: &Matches,
        route: &'a Route,
        status: &mut ObjectStatus,
    ) {
        let block = match conditions::route_block(&route.conditions) {
            Ok(block) => block,
            Err(e) => {
                status.error(ProblemKind::RouteError, e.reason(), format!("route: {e}"));
                return;
            }
        };
        for ignored in &block.ignored {
            status.warning(
                ProblemKind::RouteError,
                Reason::NotSupported,
                ignored.clone(),
            );
        }
        let route_key = match matches.route(&block) {
            Ok(k) => k,
            Err(e) => {
                status.error(ProblemKind::RouteError, e.reason(), format!("route: {e}"));
                return;
            }
        };
        let path = route_key.path.value().to_string();
        for (set, field) in [
            (route.auth_policy.is_some(), "authPolicy"),
            (
                route.jwt_verification_policy.is_some(),
                "jwtVerificationPolicy",
            ),
            (!route.ip_allow_policy.is_empty(), "ipAllowPolicy"),
            (!route.ip_deny_policy.is_empty(), "ipDenyPolicy"),
        ] {
            if set {
                // Access controls are never ignored: the route is not served rather than
                // served open.
                status.error(
                    ProblemKind::RouteError,
                    Reason::NotSupported,
                    format!("route {path:?}: {field} is not supported by Sesame yet; the route is not served"),
                );
                return;
            }
        }
        for (set, field) in [
            (
                !route.cookie_rewrite_policies.is_empty(),
                "cookieRewritePolicies",
            ),
            (
                route.internal_redirect_policy.is_some(),
                "internalRedirectPolicy",
            ),
        ] {
            if set {
                status.warning(
                    ProblemKind::RouteError,
                    Reason::NotSupported,
                    format!(
                        "route {path:?}: {field} is not supported by Sesame yet and was ignored"
                    ),
                );
            }
        }
        let action = match self.route_action(namespace, &route_key.path, route, status) {
            Ok(action) => action,
            Err(p) => {
                status.error(p.kind, p.reason, format!("route {path:?}: {}", p.message));
                return;
            }
        };
        let permit_insecure = route.permit_insecure && !self.config.disable_permit_insecure;
        let pending = PendingRoute {
            action,
            origin: key.clone(),
            allow_http: true,
            force_ssl_redirect: root.secure && !permit_insecure,
        };
        self.add_route(root, key, route_key, pending, status);
    }

    fn route_action(
        &mut self,
        namespace: &'a str,
        path: &PathMatch,
        route: &'a Route,
        status: &mut ObjectStatus,
    ) -> Result<RouteAction, RouteProblem> {
        let count = usize::from(!route.services.is_empty())
            + usize::from(route.request_redirect_policy.is_some())
            + usize::from(route.direct_response_policy.is_some());
        if count != 1 {
            return Err(problem(
                ProblemKind::RouteError,
                Reason::RouteActionCountNotValid,
                "must set exactly one of services, requestRedirectPolicy or directResponsePolicy",
            ));
        }
        if let Some(redirect) = &route.request_redirect_policy {
            return redirect_action(redirect, path);
        }
        if let Some(direct) = &route.direct_response_policy {
            return direct_action(direct);
        }
        self.forward(namespace, path, route, status)
    }

    fn forward(
        &mut self,
        namespace: &'a str,
        path: &PathMatch,
        route: &'a Route,
        status: &mut ObjectStatus,
    ) -> Result<RouteAction, RouteProblem> {
        let timeouts = timeouts(route.timeout_policy.as_ref())?;
        let retry = route.retry_policy.as_ref().map(retry_policy).transpose()?;
        let (lb_policy, hash_policies) = lb_policy(route.load_balancer_policy.as_ref(), status);
        let health_check = route
            .health_check_policy
            .as_ref()
            .map(|hc| health_check(hc, status))
            .transpose()?
            .map(Box::new);
        let prefix_rewrite = route
            .path_rewrite_policy
            .as_ref()
            .map(|p| prefix_rewrite(p, path, status))
            .transpose()?
            .flatten();
        let mut request_headers = Default::default();
        let mut host_rewrite = None;
        if let Some(p) = &route.request_headers_policy {
            (request_headers, host_rewrite) =
                header::policy("requestHeadersPolicy", p, Direction::Request)
                    .map_err(headers_problem)?;
        }
        let mut response_headers = Default::default();
        if let Some(p) = &route.response_headers_policy {
            (response_headers, _) = header::policy("responseHeadersPolicy", p, Direction::Response)
                .map_err(headers_problem)?;
        }
        let settings = ClusterSettings {
            protocol: None,
            lb_policy,
            health_check,
            upstream_validation: None,
            idle_connection_timeout: timeouts.idle_connection,
        };

        let mirrors: Vec<&Service> = route.services.iter().filter(|s| s.mirror).collect();
        if mirrors.len() > 1 {
            return Err(problem(
                ProblemKind::ServiceError,
                Reason::OnlyOneMirror,
                "only one service per route may be a mirror",
            ));
        }
        let primaries: Vec<&Service> = route.services.iter().filter(|s| !s.mirror).collect();
        if primaries.is_empty() {
            return Err(problem(
                ProblemKind::ServiceError,
                Reason::RouteActionCountNotValid,
                "a route needs at least one service that is not a mirror",
            ));
        }
        let weights = weights(&primaries)?;
        let mut clusters = Vec::with_capacity(primaries.len());
        for (service, weight) in primaries.iter().zip(weights) {
            let Some(name) = self.service_cluster(namespace, service, &settings, status)? else {
                continue;
            };
            let mut cluster = WeightedCluster::new(name, weight);
            service_rewrites(service, &mut cluster)?;
            clusters.push(cluster);
        }
        let mut mirror_policies = Vec::new();
        if let Some(mirror) = mirrors.first() {
            let percent = match mirror.weight {
                None | Some(0) => 100,
                Some(w @ 1..=100) => w as u32,
                Some(w) => {
                    return Err(problem(
                        ProblemKind::ServiceError,
                        Reason::WeightsNotValid,
                        format!(
                            "mirror service {:?}: weight {w} is not a percentage from 0 to 100",
                            service_name(mirror)
                        ),
                    ));
                }
            };
            if let Some(name) = self.service_cluster(namespace, mirror, &settings, status)? {
                mirror_policies.push(Mirror {
                    cluster: name,
                    percent,
                });
            }
        }
        if clusters.iter().map(|c| u64::from(c.weight)).sum::<u64>() == 0 {
            // Every service is missing (or only weight-0 ones remain): answer 503 and let the
            // status say why, rather than fall through to a shorter route.
            return Ok(UNAVAILABLE);
        }
        let mut forward = Forward {
            clusters,
            timeout: timeouts.response,
            retry,
            websocket: route.enable_websockets,
            policies: None,
        };
        let policies_needed = timeouts.idle.is_some()
            || prefix_rewrite.is_some()
            || host_rewrite.is_some()
            || !request_headers.is_empty()
            || !response_headers.is_empty()
            || !mirror_policies.is_empty()
            || !hash_policies.is_empty();
        if policies_needed {
            let p = forward.policies_mut();
            p.idle_timeout = timeouts.idle;
            p.prefix_rewrite = prefix_rewrite;
            p.host_rewrite = host_rewrite;
            p.request_headers = request_headers;
            p.response_headers = response_headers;
            p.mirrors = mirror_policies;
            p.hash_policies = hash_policies;
        }
        Ok(RouteAction::Forward(forward))
    }

    /// The cluster of one service, or `None` (with the problem in the status) when the Service
    /// or its port cannot be found.
    fn service_cluster(
        &mut self,
        namespace: &'a str,
        service: &'a Service,
        base: &ClusterSettings,
        status: &mut ObjectStatus,
    ) -> Result<Option<String>, RouteProblem> {
        let name = service_name(service);
        if name.is_empty() {
            return Err(problem(
                ProblemKind::ServiceError,
                Reason::ServiceUnresolvedReference,
                "a service must have a name",
            ));
        }
        let port = match service.port {
            Some(p @ 1..=65535) => p,
            other => {
                return Err(problem(
                    ProblemKind::ServiceError,
                    Reason::ServicePortInvalid,
                    format!(
                        "service {name:?}: port {} is not from 1 to 65535",
                        other.map_or("(none)".to_string(), |p| p.to_string())
                    ),
                ));
            }
        };
        let mut settings = base.clone();
        settings.protocol = match service.protocol.as_deref() {
            None | Some("") => None,
            Some("h2") => Some(UpstreamProtocol::H2),
            Some("h2c") => Some(UpstreamProtocol::H2c),
            Some("tls") => Some(UpstreamProtocol::Tls),
            Some(other) => {
                return Err(problem(
                    ProblemKind::ServiceError,
                    Reason::UnsupportedProtocol,
                    format!(
                        "service {name:?}: unsupported protocol {other:?} (use h2, h2c or tls)"
                    ),
                ));
            }
        };
        if let Some(validation) = &service.validation {
            if settings.protocol == Some(UpstreamProtocol::H2c) {
                return Err(problem(
                    ProblemKind::ServiceError,
                    Reason::UnsupportedProtocol,
                    format!("service {name:?}: validation needs protocol tls or h2, not h2c"),
                ));
            }
            let ca = validation.ca_secret.as_deref().unwrap_or_default();
            if ca.is_empty() {
                return Err(problem(
                    ProblemKind::ServiceError,
                    Reason::SecretNotValid,
                    format!("service {name:?}: validation.caSecret must name a Secret"),
                ));
            }
            let ca_pem = self.ca_bundle(namespace, ca).map_err(|(reason, message)| {
                problem(
                    ProblemKind::ServiceError,
                    reason,
                    format!("service {name:?}: validation.caSecret {message}"),
                )
            })?;
            let mut subject_names: Vec<String> = Vec::new();
            for subject in validation
                .subject_name
                .iter()
                .chain(validation.subject_names.iter())
            {
                if subject.is_empty() {
                    continue;
                }
                header::value(subject).map_err(|e| {
                    problem(
                        ProblemKind::ServiceError,
                        Reason::SecretNotValid,
                        format!("service {name:?}: validation subject name: {e}"),
                    )
                })?;
                if !subject_names.contains(subject) {
                    subject_names.push(subject.clone());
                }
            }
            settings.protocol.get_or_insert(UpstreamProtocol::Tls);
            settings.upstream_validation = Some(Box::new(UpstreamValidation {
                ca_pem,
                subject_names,
            }));
        }
        match self.services.resolve(
            self.snapshot,
            namespace,
            name,
            PortRef::Number(port),
            &settings,
            &mut self.dag,
            &mut self.status,
        ) {
            Ok(cluster) => Ok(Some(cluster)),
            Err(p) => {
                status.error(p.kind, p.reason, p.message);
                Ok(None)
            }
        }
    }
}

fn service_name(service: &Service) -> &str {
    service.name.as_deref().unwrap_or_default()
}

fn headers_problem(message: String) -> RouteProblem {
    problem(
        ProblemKind::RouteError,
        Reason::HeadersPolicyNotValid,
        message,
    )
}

/// Per-service header policies and host rewrite.
fn service_rewrites(service: &Service, cluster: &mut WeightedCluster) -> Result<(), RouteProblem> {
    let name = service_name(service);
    let mut rewrites = ClusterRewrites::default();
    if let Some(p) = &service.request_headers_policy {
        (rewrites.request_headers, rewrites.host_rewrite) = header::policy(
            &format!("service {name:?} requestHeadersPolicy"),
            p,
            Direction::Request,
        )
        .map_err(headers_problem)?;
    }
    if let Some(p) = &service.response_headers_policy {
        (rewrites.response_headers, _) = header::policy(
            &format!("service {name:?} responseHeadersPolicy"),
            p,
            Direction::Response,
        )
        .map_err(headers_problem)?;
    }
    if rewrites != ClusterRewrites::NONE {
        cluster.rewrites = Some(Box::new(rewrites));
    }
    Ok(())
}

/// The weights of the services: as written, `0` for the ones left out when some are written, all
/// equal when none is; a single service takes everything whatever its weight.
fn weights(services: &[&Service]) -> Result<Vec<u32>, RouteProblem> {
    if services.len() == 1 {
        return Ok(vec![1]);
    }
    if services.iter().all(|s| s.weight.is_none()) {
        return Ok(vec![1; services.len()]);
    }
    let mut out = Vec::with_capacity(services.len());
    for s in services {
        match s.weight.unwrap_or(0) {
            w @ 0..=1_000_000 => out.push(w as u32),
            w => {
                return Err(problem(
                    ProblemKind::ServiceError,
                    Reason::WeightsNotValid,
                    format!(
                        "service {:?}: weight {w} is not from 0 to 1000000",
                        service_name(s)
                    ),
                ));
            }
        }
    }
    if out.iter().all(|w| *w == 0) {
        return Err(problem(
            ProblemKind::ServiceError,
            Reason::WeightsNotValid,
            "the weights of the services sum to zero: no service would get traffic",
        ));
    }
    Ok(out)
}

/// The route's timeouts.
struct Timeouts {
    response: Option<Timeout>,
    idle: Option<Timeout>,
    idle_connection: Option<Timeout>,
}

fn timeouts(policy: Option<&TimeoutPolicy>) -> Result<Timeouts, RouteProblem> {
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

fn retry_policy(p: &ApiRetryPolicy) -> Result<RetryPolicy, RouteProblem> {
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
fn lb_policy(
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

fn health_check(
    p: &HttpHealthCheckPolicy,
    status: &mut ObjectStatus,
) -> Result<HttpHealthCheck, RouteProblem> {
    let invalid = |message: String| {
        problem(
            ProblemKind::RouteError,
            Reason::HealthCheckPolicyNotValid,
            message,
        )
    };
    let mut hc = HttpHealthCheck::default();
    let path = p.path.as_deref().unwrap_or_default();
    if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "healthCheckPolicy.path {path:?} must start with '/' and have no whitespace or control characters"
        )));
    }
    hc.path = path.to_string();
    if let Some(host) = p.host.as_deref().filter(|h| !h.is_empty()) {
        if host.chars().any(|c| c.is_control() || c.is_whitespace()) || host.len() > 253 {
            return Err(invalid(format!(
                "healthCheckPolicy.host {host:?} is not a host name"
            )));
        }
        hc.host = host.to_string();
    }
    let seconds = |field: &str, value: Option<i64>, default: Duration| match value {
        None | Some(0) => Ok(default),
        Some(s @ 1..=MAX_HEALTH_CHECK_SECONDS) => Ok(Duration::from_secs(s as u64)),
        Some(s) => Err(invalid(format!(
            "healthCheckPolicy.{field} {s} is not from 1 to {MAX_HEALTH_CHECK_SECONDS}"
        ))),
    };
    hc.interval = seconds("intervalSeconds", p.interval_seconds, hc.interval)?;
    hc.timeout = seconds("timeoutSeconds", p.timeout_seconds, hc.timeout)?;
    let count = |field: &str, value: Option<i64>, default: u32| match value {
        None | Some(0) => Ok(default),
        Some(n @ 1..=1000) => Ok(n as u32),
        Some(n) => Err(invalid(format!(
            "healthCheckPolicy.{field} {n} is not from 1 to 1000"
        ))),
    };
    hc.unhealthy_threshold = count(
        "unhealthyThresholdCount",
        p.unhealthy_threshold_count,
        hc.unhealthy_threshold,
    )?;
    hc.healthy_threshold = count(
        "healthyThresholdCount",
        p.healthy_threshold_count,
        hc.healthy_threshold,
    )?;
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
fn prefix_rewrite(
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

fn redirect_action(
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

fn direct_action(p: &HttpDirectResponsePolicy) -> Result<RouteAction, RouteProblem> {
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

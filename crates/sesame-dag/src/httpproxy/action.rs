//! What an HTTPProxy route does: forward to its services with its policies, redirect, or answer
//! directly. Every value is checked here, so Envoy never sees one it would refuse.

use sesame_api::httpproxy::{Route, Service};

use super::Root;
use super::conditions::{self, Matches};
use super::header::{self, Direction, Substitutions};
use super::policy::{
    RouteProblem, direct_action, health_check, internal_redirect, lb_policy, prefix_rewrite,
    problem, redirect_action, retry_policy, timeouts,
};
use super::{authorization, cluster_policy, cookie, ip_filter, jwt, rate_limit};
use crate::build::Builder;
use crate::dag::{
    ClusterRewrites, Forward, LocalRateLimit, Mirror, PathMatch, RouteAction, RouteGlobalRateLimit,
    UpstreamProtocol, UpstreamValidation, WeightedCluster,
};
use crate::object::ObjectKey;
use crate::service::{ClusterSettings, ExternalNameSni, PortRef};
use crate::status::{ObjectStatus, ProblemKind, Reason};
use crate::vhost::PendingRoute;

/// The answer of a route whose IP filter is invalid.
const FORBIDDEN: RouteAction = RouteAction::DirectResponse {
    status: 403,
    body: None,
};

/// The answer of a route none of whose services can be reached.
const UNAVAILABLE: RouteAction = RouteAction::DirectResponse {
    status: 503,
    body: None,
};

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
        let permit_insecure = route.permit_insecure && !self.config.disable_permit_insecure;
        let mut force_ssl_redirect = root.secure && !permit_insecure;
        let policy = route.jwt_verification_policy.as_ref();
        let jwt_provider = match jwt::route_provider(&root.jwt, policy) {
            Ok(provider) => provider,
            Err((reason, message)) => {
                // As for an invalid IP filter: answering 403 keeps a shorter route of the host
                // from answering this route's requests without the verification asked for.
                status.error(
                    ProblemKind::JWTVerificationError,
                    reason,
                    format!("route {path:?}: {message}; the route answers 403"),
                );
                self.add_route(
                    root,
                    key,
                    route_key,
                    forbidden(key, force_ssl_redirect),
                    status,
                );
                return;
            }
        };
        if jwt_provider.is_some() && !force_ssl_redirect {
            // Plain HTTP has no JWT filter: serving the route there would skip verification.
            status.warning(
                ProblemKind::JWTVerificationError,
                Reason::InvalidJWTVerificationPolicy,
                format!("route {path:?}: permitInsecure is ignored on a route that requires a JWT; plain HTTP is redirected to HTTPS"),
            );
            force_ssl_redirect = true;
        }
        let ip_filter =
            match ip_filter::ip_filter("", &route.ip_allow_policy, &route.ip_deny_policy) {
                Ok(filter) => filter.map(Box::new),
                Err(p) => {
                    // Dropping the route would let a shorter route of the host answer its requests,
                    // unfiltered: it answers 403 instead, so an invalid filter fails closed.
                    status.error(
                        ProblemKind::IPFilterError,
                        p.reason,
                        format!("route {path:?}: {}; the route answers 403", p.message),
                    );
                    self.add_route(
                        root,
                        key,
                        route_key,
                        forbidden(key, force_ssl_redirect),
                        status,
                    );
                    return;
                }
            };
        let action = match self.route_action(namespace, &route_key.path, route, status) {
            Ok(action) => action,
            Err(p) => {
                status.error(p.kind, p.reason, format!("route {path:?}: {}", p.message));
                return;
            }
        };
        let pending = PendingRoute {
            action,
            origin: key.clone(),
            allow_http: true,
            force_ssl_redirect,
            ip_filter,
            authorization: authorization::route_authorization(
                root.authorization,
                route.auth_policy.as_ref(),
            ),
            jwt_provider,
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
        let invalid_limit = |message| {
            problem(
                ProblemKind::RouteError,
                Reason::RateLimitPolicyNotValid,
                message,
            )
        };
        let rate_limit =
            rate_limit::local_limit("rateLimitPolicy", route.rate_limit_policy.as_ref())
                .map_err(invalid_limit)?;
        let global_rate_limit =
            crate::global_rate_limit::route_global_limit(route.rate_limit_policy.as_ref())
                .map_err(invalid_limit)?;
        if global_rate_limit.is_some() && route.services.is_empty() {
            status.warning(
                ProblemKind::RouteError,
                Reason::RateLimitPolicyNotValid,
                "rateLimitPolicy.global applies to routes with services only (as in Contour) and was ignored",
            );
        }
        if rate_limit.is_some() && route.services.is_empty() {
            status.warning(
                ProblemKind::RouteError,
                Reason::RateLimitPolicyNotValid,
                "rateLimitPolicy.local applies to routes with services only (as in Contour) and was ignored; the virtual host's limit applies",
            );
        }
        if !route.cookie_rewrite_policies.is_empty() && route.services.is_empty() {
            status.warning(
                ProblemKind::RouteError,
                Reason::CookieRewritePoliciesInvalid,
                "cookieRewritePolicies applies to routes with services only and was ignored",
            );
        }
        if route.internal_redirect_policy.is_some() && route.services.is_empty() {
            status.warning(
                ProblemKind::RouteError,
                Reason::InternalRedirectPolicyNotValid,
                "internalRedirectPolicy applies to routes with services only and was ignored",
            );
        }
        if let Some(redirect) = &route.request_redirect_policy {
            return redirect_action(redirect, path);
        }
        if let Some(direct) = &route.direct_response_policy {
            return direct_action(direct);
        }
        self.forward(
            namespace,
            path,
            route,
            (rate_limit, global_rate_limit),
            status,
        )
    }

    fn forward(
        &mut self,
        namespace: &'a str,
        path: &PathMatch,
        route: &'a Route,
        (rate_limit, global_rate_limit): (Option<LocalRateLimit>, Option<RouteGlobalRateLimit>),
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
        let internal_redirect = route
            .internal_redirect_policy
            .as_ref()
            .map(internal_redirect)
            .transpose()?;
        let cookie_rewrites =
            cookie::cookie_rewrites("cookieRewritePolicies", &route.cookie_rewrite_policies)
                .map_err(cookie_problem)?;
        let mut request_headers = Default::default();
        let mut host_rewrite = None;
        let subs = Substitutions {
            namespace,
            service: None,
        };
        if let Some(p) = &route.request_headers_policy {
            (request_headers, host_rewrite) =
                header::policy("requestHeadersPolicy", p, Direction::Request, Some(subs))
                    .map_err(headers_problem)?;
        }
        let mut response_headers = Default::default();
        if let Some(p) = &route.response_headers_policy {
            (response_headers, _) =
                header::policy("responseHeadersPolicy", p, Direction::Response, Some(subs))
                    .map_err(headers_problem)?;
        }
        let settings = ClusterSettings {
            lb_policy,
            health_check,
            idle_connection_timeout: timeouts.idle_connection,
            external_name_sni: ExternalNameSni::Target,
            ..ClusterSettings::default()
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
            let rewrites = self.service_rewrites(namespace, service);
            let settings = sni_settings(&settings, rewrites.as_ref().ok(), &host_rewrite);
            let Some(name) = self.service_cluster(namespace, service, &settings, status)? else {
                continue;
            };
            clusters.push(WeightedCluster::new(name, weight).with_rewrites(rewrites?));
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
            let rewrites = self.service_rewrites(namespace, mirror).ok();
            let settings = sni_settings(&settings, rewrites.as_ref(), &host_rewrite);
            if let Some(name) = self.service_cluster(namespace, mirror, &settings, status)? {
                mirror_policies.push(Mirror {
                    cluster: name,
                    per_million: percent * 10_000,
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
            || !hash_policies.is_empty()
            || rate_limit.is_some()
            || global_rate_limit.is_some()
            || internal_redirect.is_some()
            || !cookie_rewrites.is_empty();
        if policies_needed {
            let p = forward.policies_mut();
            p.idle_timeout = timeouts.idle;
            p.prefix_rewrite = prefix_rewrite;
            p.host_rewrite = host_rewrite;
            p.request_headers = request_headers;
            p.response_headers = response_headers;
            p.mirrors = mirror_policies;
            p.hash_policies = hash_policies;
            p.rate_limit = rate_limit;
            p.internal_redirect = internal_redirect;
            p.global_rate_limit = global_rate_limit;
            p.cookie_rewrites = cookie_rewrites;
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
        if let Some(p) = &service.slow_start_policy {
            let slow_start = cluster_policy::slow_start(p, settings.lb_policy).map_err(|e| {
                problem(
                    ProblemKind::ServiceError,
                    Reason::SlowStartInvalid,
                    format!("service {name:?}: {e}"),
                )
            })?;
            settings.slow_start = Some(Box::new(slow_start));
        }
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
                subject_uris: Vec::new(),
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

/// A route that answers 403 in place of one whose access control is invalid.
fn forbidden(key: &ObjectKey, force_ssl_redirect: bool) -> PendingRoute {
    PendingRoute {
        action: FORBIDDEN,
        origin: key.clone(),
        allow_http: true,
        force_ssl_redirect,
        ip_filter: None,
        authorization: None,
        jwt_provider: None,
    }
}

fn service_name(service: &Service) -> &str {
    service.name.as_deref().unwrap_or_default()
}

fn cookie_problem(message: String) -> RouteProblem {
    problem(
        ProblemKind::RouteError,
        Reason::CookieRewritePoliciesInvalid,
        message,
    )
}

fn headers_problem(message: String) -> RouteProblem {
    problem(
        ProblemKind::RouteError,
        Reason::HeadersPolicyNotValid,
        message,
    )
}

impl Builder<'_> {
    /// A service's own header policies and host rewrite, with the config's global policies
    /// merged in beneath them.
    /// `%SESAME_*%` variables take the HTTPProxy's namespace and the service's name and port.
    fn service_rewrites(
        &self,
        namespace: &str,
        service: &Service,
    ) -> Result<ClusterRewrites, RouteProblem> {
        let name = service_name(service);
        let mut rewrites = ClusterRewrites::default();
        let subs = Some(Substitutions {
            namespace,
            service: Some((name, service.port.unwrap_or_default())),
        });
        if let Some(p) = &service.request_headers_policy {
            (rewrites.request_headers, rewrites.host_rewrite) = header::policy(
                &format!("service {name:?} requestHeadersPolicy"),
                p,
                Direction::Request,
                subs,
            )
            .map_err(headers_problem)?;
        }
        if let Some(p) = &service.response_headers_policy {
            (rewrites.response_headers, _) = header::policy(
                &format!("service {name:?} responseHeadersPolicy"),
                p,
                Direction::Response,
                subs,
            )
            .map_err(headers_problem)?;
        }
        rewrites.cookie_rewrites = cookie::cookie_rewrites(
            &format!("service {name:?} cookieRewritePolicies"),
            &service.cookie_rewrite_policies,
        )
        .map_err(cookie_problem)?;
        self.config.policy.merge_into(&mut rewrites);
        Ok(rewrites)
    }
}

/// The cluster settings of one service: as Contour, the TLS server name of an ExternalName
/// Service is the host the service's policies rewrite to, else the route's, else the external
/// name itself.
fn sni_settings(
    base: &ClusterSettings,
    rewrites: Option<&ClusterRewrites>,
    route_host: &Option<String>,
) -> ClusterSettings {
    let host = rewrites
        .and_then(|r| r.host_rewrite.clone())
        .or_else(|| route_host.clone());
    ClusterSettings {
        external_name_sni: host.map_or(ExternalNameSni::Target, ExternalNameSni::Host),
        ..base.clone()
    }
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

//! GRPCRoutes, served beside HTTPRoutes on HTTP and HTTPS listeners: attachment, hostnames,
//! backends, header filters and statuses are the HTTPRoute's (see `route`); a match on a gRPC
//! `service` and `method` becomes a match on the request path `/<service>/<method>`, and the
//! backends' clusters speak HTTP/2 (h2c, or h2 over TLS) whatever the Service says.
//!
//! An HTTPRoute and a GRPCRoute may not share a hostname on a listener: of two such routes the
//! older (creation time, then namespace and name) attaches, the other is not accepted there.

use std::borrow::Cow;

use sesame_gateway_api::GrpcRoute;
use sesame_gateway_api::HttpRoute;
use sesame_gateway_api::grpcroute::{
    GrpcRouteRules, GrpcRouteRulesFilters, GrpcRouteRulesFiltersType as FilterType,
    GrpcRouteRulesMatches, GrpcRouteRulesMatchesHeadersType, GrpcRouteRulesMatchesMethod,
    GrpcRouteRulesMatchesMethodType,
};
use sesame_gateway_api::httproute::{HttpRouteRulesBackendRefs, HttpRouteRulesFilters};

use super::route::backend::{Backend, service_ref};
use super::route::{
    RouteId, RouteSpec, Rule, RuleResult, filter, header_matches, http_parent_ref, keys_of,
    unsupported_filter,
};
use super::{Listener, ListenerTables, convert, intersect};
use crate::build::Builder;
use crate::dag::{ForwardPolicies, PathMatch};
use crate::object::{Kind, NamespacedName};
use crate::status::gateway::{Condition, ConditionReason as R};
use crate::vhost::RouteKey;

/// The longest gRPC service or method name (the CRD's limit).
const MAX_NAME: usize = 1024;

/// A route of one of the kinds HTTP listeners serve.
pub(super) enum AnyRoute<'s> {
    /// An HTTPRoute.
    Http(&'s NamespacedName, &'s HttpRoute),
    /// A GRPCRoute.
    Grpc(&'s NamespacedName, &'s GrpcRoute),
}

/// The HTTPRoutes and GRPCRoutes of the snapshot, oldest first (creation time, then namespace
/// and name, then kind), the order in which they claim matches and hostnames.
pub(super) fn http_listener_routes(snapshot: &crate::Snapshot) -> Vec<AnyRoute<'_>> {
    let created = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.creation_timestamp.as_ref().map(|t| t.0)
    };
    let mut routes: Vec<_> = snapshot
        .http_routes
        .iter()
        .map(|(n, r)| {
            (
                (created(&r.metadata), n, Kind::HTTPRoute),
                AnyRoute::Http(n, r),
            )
        })
        .chain(snapshot.grpc_routes.iter().map(|(n, r)| {
            (
                (created(&r.metadata), n, Kind::GRPCRoute),
                AnyRoute::Grpc(n, r),
            )
        }))
        .collect();
    routes.sort_by(|a, b| a.0.cmp(&b.0));
    routes.into_iter().map(|(_, r)| r).collect()
}

impl Listener<'_> {
    /// Whether routes of `kind` may attach (`allowedRoutes.kinds`).
    pub(super) fn accepts(&self, kind: Kind) -> bool {
        match kind {
            Kind::HTTPRoute => self.accepts_http_routes,
            Kind::GRPCRoute => self.accepts_grpc_routes,
            _ => false,
        }
    }

    /// Whether a route of the other HTTP kind already attached to one of `hosts` (or a host
    /// intersecting one).
    pub(super) fn kind_conflict(&self, kind: Kind, hosts: &[String]) -> bool {
        let meet = |a: &str, b: &str| a == "*" || b == "*" || intersect(Some(a), b).is_some();
        self.route_hosts
            .iter()
            .any(|(k, h)| *k != kind && hosts.iter().any(|host| meet(h, host)))
    }
}

impl<'a> Builder<'a> {
    /// Attaches one GRPCRoute to the listeners its parentRefs name, adds its rules to their
    /// tables, and records its status for each parentRef that is a served Gateway (of
    /// `gateways`) or a ListenerSet of one.
    pub(crate) fn grpc_route(
        &mut self,
        gateways: &[&'a NamespacedName],
        name: &'a NamespacedName,
        route: &'a GrpcRoute,
        listeners: &mut [Listener<'_>],
        tables: &mut ListenerTables,
    ) {
        let id = RouteId {
            kind: Kind::GRPCRoute,
            name,
        };
        let parents = (route.spec.parent_refs.iter().flatten()).map(|p| http_parent_ref!(p));
        let spec = RouteSpec {
            id,
            parents: Cow::Owned(parents.collect()),
            hostnames: route.spec.hostnames.as_deref().unwrap_or_default(),
            generation: route.metadata.generation,
        };
        self.attach_route(
            gateways,
            spec,
            |b| b.grpc_rules(id, route),
            listeners,
            tables,
        );
    }

    /// Every rule's route keys and action (or why the rule is not served), and the
    /// `ResolvedRefs` condition when a backend did not resolve.
    fn grpc_rules(
        &mut self,
        id: RouteId<'a>,
        route: &'a GrpcRoute,
    ) -> (Vec<Rule>, Option<Condition>) {
        let mut resolved = None;
        let rules = (route.spec.rules.iter().flatten())
            .map(|rule| match rule_keys(rule) {
                Ok(keys) => (keys, self.grpc_rule_action(id, rule, &mut resolved)),
                Err(e) => (Vec::new(), Err(e)),
            })
            .collect();
        (rules, resolved)
    }

    /// What a rule does: a forward to its backends, with its header filters and mirrors.
    fn grpc_rule_action(
        &mut self,
        id: RouteId<'a>,
        rule: &'a GrpcRouteRules,
        resolved: &mut Option<Condition>,
    ) -> RuleResult {
        let mut policies = ForwardPolicies::default();
        for f in rule.filters.iter().flatten() {
            match &f.r#type {
                FilterType::RequestHeaderModifier | FilterType::ResponseHeaderModifier => {
                    filter::headers(&as_http_filter(f)?, &mut policies)?;
                }
                FilterType::RequestMirror => {
                    let Some(m) = f.request_mirror.as_ref() else {
                        return Err((
                            R::UnsupportedValue,
                            "filter RequestMirror has no requestMirror".to_string(),
                        ));
                    };
                    let fraction = m.fraction.as_ref().map(|f| (f.numerator, f.denominator));
                    let target = service_ref!(m.backend_ref);
                    let mirror = self.mirror(id, m.percent, fraction, target, resolved)?;
                    policies.mirrors.extend(mirror);
                }
                other => return Err(unsupported_filter(other)),
            }
        }
        let mut backends = Vec::new();
        for b in rule.backend_refs.iter().flatten() {
            // A backendRef's filters have the HTTPRoute's shape: read them as its.
            let http: HttpRouteRulesBackendRefs = convert(b, "backendRef")?;
            backends.push(Backend {
                service: service_ref!(b),
                weight: b.weight,
                rewrites: filter::backend_rewrites(&http)?,
            });
        }
        self.forward_to(id, policies, backends, (None, None), resolved)
    }
}

/// A GRPCRoute header filter as the HTTPRoute's of the same type.
fn as_http_filter(f: &GrpcRouteRulesFilters) -> Result<HttpRouteRulesFilters, (R, String)> {
    convert(f, "filter")
}

/// The route keys of a rule: one per match (a rule without matches matches every request).
fn rule_keys(rule: &GrpcRouteRules) -> Result<Vec<RouteKey>, (R, String)> {
    keys_of(rule.matches.as_deref(), route_key)
}

/// The route key of one match: its method as a path, and its headers, validated.
fn route_key(m: &GrpcRouteRulesMatches) -> Result<RouteKey, (R, String)> {
    let path = match &m.method {
        None => PathMatch::Prefix("/".to_string()),
        Some(method) => method_path(method)?,
    };
    let mut headers = Vec::new();
    let written = m.headers.iter().flatten().map(|h| {
        let regex = matches!(
            h.r#type,
            Some(GrpcRouteRulesMatchesHeadersType::RegularExpression)
        );
        (h.name.as_str(), regex, h.value.as_str())
    });
    header_matches(written, &mut headers)?;
    Ok(RouteKey {
        path,
        headers,
        query_params: Vec::new(),
    })
}

/// The path match of a method match: `Exact` (the default) takes the path `/<service>/<method>`,
/// the prefix `/<service>/` without a method, or any service's `<method>`; `RegularExpression`
/// takes the path whose service and method match their expressions (any, when not given).
fn method_path(m: &GrpcRouteRulesMatchesMethod) -> Result<PathMatch, (R, String)> {
    let service = m.service.as_deref().filter(|s| !s.is_empty());
    let method = m.method.as_deref().filter(|s| !s.is_empty());
    if service.is_none() && method.is_none() {
        return Err((
            R::UnsupportedValue,
            "a method match must give a service, a method or both".to_string(),
        ));
    }
    let too_long = [service, method]
        .into_iter()
        .flatten()
        .find(|v| v.len() > MAX_NAME);
    if let Some(value) = too_long {
        return Err((
            R::UnsupportedValue,
            format!("method match value of {} bytes is too long", value.len()),
        ));
    }
    let regex = matches!(
        m.r#type,
        Some(GrpcRouteRulesMatchesMethodType::RegularExpression)
    );
    if regex {
        // Each expression is checked alone, so neither can close the group that holds it.
        for (field, value) in [("service", service), ("method", method)] {
            if let Some(value) = value {
                crate::regex::validate(value).map_err(|e| {
                    (
                        R::UnsupportedValue,
                        format!("method match {field} {value:?}: {e}"),
                    )
                })?;
            }
        }
        let group = |v: Option<&str>| v.map_or("[^/]+".to_string(), |v| format!("(?:{v})"));
        let path = format!("/{}/{}", group(service), group(method));
        crate::regex::validate(&path).map_err(|e| {
            (
                R::UnsupportedValue,
                format!("method match expressions: {e}"),
            )
        })?;
        return Ok(PathMatch::Regex(path));
    }
    if let Some(service) = service
        && !is_service_name(service)
    {
        return Err((
            R::UnsupportedValue,
            format!("method match service {service:?} is not a valid gRPC service name"),
        ));
    }
    if let Some(method) = method
        && !is_identifier(method)
    {
        return Err((
            R::UnsupportedValue,
            format!("method match method {method:?} is not a valid gRPC method name"),
        ));
    }
    Ok(match (service, method) {
        (Some(service), Some(method)) => PathMatch::Exact(format!("/{service}/{method}")),
        (Some(service), None) => PathMatch::Prefix(format!("/{service}/")),
        // A method name is an identifier: nothing in it needs escaping.
        (None, Some(method)) => PathMatch::Regex(format!("/[^/]+/{method}")),
        (None, None) => PathMatch::Prefix("/".to_string()),
    })
}

/// Whether `name` is an identifier: a letter or `_`, then letters, digits and `_`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a gRPC service name as the CRD allows it: dot-separated identifiers,
/// optionally led by a dot.
fn is_service_name(name: &str) -> bool {
    name.strip_prefix('.')
        .unwrap_or(name)
        .split('.')
        .all(is_identifier)
}

#[cfg(test)]
mod tests;

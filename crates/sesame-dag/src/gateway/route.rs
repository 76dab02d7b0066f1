//! HTTPRoutes: attachment to the served Gateway's listeners through `parentRefs`, and each
//! rule's matches, filters and backends as routes.

use sesame_gateway_api::HttpRoute;
use sesame_gateway_api::httproute::{
    HttpRouteParentRefs, HttpRouteRules, HttpRouteRulesBackendRefs, HttpRouteRulesFilters,
    HttpRouteRulesFiltersType as FilterType, HttpRouteRulesMatches,
    HttpRouteRulesMatchesHeadersType, HttpRouteRulesMatchesPathType,
    HttpRouteRulesMatchesQueryParamsType,
};

use super::{GROUP, Listener, ListenerTables, allows_namespace, intersect};
use crate::build::Builder;
use crate::dag::{
    Forward, HeaderMatch, HeaderValueMatch, Mirror, PathMatch, QueryParamMatch, QueryValueMatch,
    RetryPolicy, RouteAction, Timeout, WeightedCluster,
};
use crate::hostname;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::service::{ClusterSettings, PortRef};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ParentRef,
    RouteParentStatus,
};
use crate::vhost::{PendingRoute, RouteKey};

mod cors;
mod filter;
mod redirect;

/// A reference to a Service port, as a backendRef or a mirror's backendRef writes it.
#[derive(Clone, Copy)]
pub(super) struct ServiceRef<'a> {
    /// The kind of the route that refers (what a ReferenceGrant must allow).
    pub route_kind: &'static str,
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub port: Option<i32>,
}

/// What a route rule does with a request once matched, or why it cannot be served.
type RuleResult = Result<RouteAction, (R, String)>;

impl<'a> Builder<'a> {
    /// Attaches one HTTPRoute to the listeners its parentRefs name, adds its rules to their
    /// tables, and records its status for each parentRef that is the served Gateway.
    pub(crate) fn http_route(
        &mut self,
        gateway: &NamespacedName,
        name: &'a NamespacedName,
        route: &'a HttpRoute,
        listeners: &mut [Listener<'_>],
        tables: &mut ListenerTables,
    ) {
        let key = ObjectKey::new(Kind::HTTPRoute, name.clone());
        let mut parents = Vec::new();
        // The rules are built once, whatever the parents: their verdicts do not depend on them.
        let mut built: Option<Vec<(Vec<RouteKey>, RuleResult)>> = None;
        let mut resolved =
            Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "every reference resolved");
        for parent in route.spec.parent_refs.iter().flatten() {
            let parent_ref = parent_ref(parent, &name.namespace);
            if !is_gateway(&parent_ref, gateway) {
                continue;
            }
            let rules = built.get_or_insert_with(|| {
                let (rules, refs) = self.rules(name, route);
                if let Some(refs) = refs {
                    resolved = refs;
                }
                rules
            });
            let accepted = attach(&key, gateway, name, route, parent, rules, listeners, tables);
            parents.push(RouteParentStatus {
                parent_ref,
                controller_name: self.controller_name(),
                conditions: accepted,
            });
        }
        if parents.is_empty() {
            return;
        }
        for parent in &mut parents {
            parent.conditions.push(resolved.clone());
        }
        let status = self.status.entry(&key, route.metadata.generation);
        status.gateway_api = Some(Box::new(GatewayApiStatus::Route { parents }));
    }

    /// The controller name written in route statuses.
    pub(super) fn controller_name(&self) -> String {
        self.config
            .gateway
            .as_ref()
            .map(|g| g.controller_name.clone())
            .unwrap_or_default()
    }

    /// Every rule's route keys and action (or why the rule is not served), and the
    /// `ResolvedRefs` condition when a backend did not resolve.
    fn rules(
        &mut self,
        name: &'a NamespacedName,
        route: &'a HttpRoute,
    ) -> (Vec<(Vec<RouteKey>, RuleResult)>, Option<Condition>) {
        let mut resolved = None;
        let rules = route
            .spec
            .rules
            .iter()
            .flatten()
            .map(|rule| {
                let keys = rule_keys(rule);
                let action = match keys {
                    Ok(_) => self.rule_action(name, rule, &mut resolved),
                    Err(ref e) => Err(e.clone()),
                };
                (keys.unwrap_or_default(), action)
            })
            .collect();
        (rules, resolved)
    }

    /// What a rule does: a redirect, or a forward to its backends with its header filters.
    fn rule_action(
        &mut self,
        name: &'a NamespacedName,
        rule: &'a HttpRouteRules,
        resolved: &mut Option<Condition>,
    ) -> RuleResult {
        let filters = rule.filters.as_deref().unwrap_or_default();
        let mut policies = crate::dag::ForwardPolicies::default();
        let mut redirect = None;
        for f in filters {
            match &f.r#type {
                FilterType::RequestHeaderModifier | FilterType::ResponseHeaderModifier => {
                    filter::headers(f, &mut policies)?
                }
                FilterType::RequestRedirect => redirect = Some(redirect::redirect_of(f, rule)?),
                FilterType::UrlRewrite => filter::rewrite(f, only_prefixes(rule), &mut policies)?,
                FilterType::RequestMirror => {
                    policies.mirrors.extend(self.mirror(name, f, resolved)?);
                }
                FilterType::Cors => policies.cors = Some(Box::new(cors::cors(f)?)),
                other => {
                    return Err((
                        R::UnsupportedValue,
                        format!("filter type {other:?} is not supported yet"),
                    ));
                }
            }
        }
        if let Some(redirect) = redirect {
            return Ok(RouteAction::Redirect(redirect));
        }
        let (timeout, retry) = timeouts(rule)?;
        let backends = rule.backend_refs.as_deref().unwrap_or_default();
        let mut rewrites = Vec::with_capacity(backends.len());
        for backend in backends {
            rewrites.push(filter::backend_rewrites(backend)?);
        }
        let mut clusters = Vec::new();
        let mut websocket = false;
        for (backend, rewrites) in backends.iter().zip(rewrites) {
            match self.backend(name, backend) {
                Ok(Some(cluster)) => {
                    websocket |= self.speaks_websocket(name, backend);
                    clusters.push(cluster.with_rewrites(rewrites));
                }
                Ok(None) => {}
                Err((reason, message)) => {
                    resolved.get_or_insert(Condition::no(T::ResolvedRefs, reason, message));
                }
            }
        }
        if clusters.is_empty() {
            return Ok(RouteAction::DirectResponse {
                status: 500,
                body: None,
            });
        }
        let has_policies = policies != crate::dag::ForwardPolicies::default();
        Ok(RouteAction::Forward(Forward {
            clusters,
            timeout,
            retry,
            websocket,
            policies: has_policies.then(|| Box::new(policies)),
        }))
    }

    /// The weighted cluster of one backendRef; `None` for a weight of zero.
    fn backend(
        &mut self,
        route: &'a NamespacedName,
        backend: &'a HttpRouteRulesBackendRefs,
    ) -> Result<Option<WeightedCluster>, (R, String)> {
        let cluster = self.service_ref(
            route,
            ServiceRef {
                route_kind: "HTTPRoute",
                group: backend.group.as_deref(),
                kind: backend.kind.as_deref(),
                name: &backend.name,
                namespace: backend.namespace.as_deref(),
                port: backend.port,
            },
        )?;
        match backend.weight.unwrap_or(1) {
            weight if weight <= 0 => Ok(None),
            weight => Ok(Some(WeightedCluster::new(cluster, weight as u32))),
        }
    }

    /// Whether a backendRef's Service port says it speaks WebSocket (`appProtocol`
    /// `kubernetes.io/ws` or `kubernetes.io/wss`): its rule then lets the upgrade through.
    fn speaks_websocket(&self, route: &NamespacedName, b: &HttpRouteRulesBackendRefs) -> bool {
        let namespace = b.namespace.as_deref().unwrap_or(&route.namespace);
        let service = NamespacedName::new(namespace, b.name.as_str());
        self.snapshot.services.get(&service).is_some_and(|s| {
            s.ports.iter().any(|p| {
                Some(p.port) == b.port
                    && matches!(
                        p.app_protocol.as_deref(),
                        Some("kubernetes.io/ws" | "kubernetes.io/wss")
                    )
            })
        })
    }

    /// The cluster of a reference to a Service port (a backendRef or a mirror's), checked:
    /// a Service, in the route's namespace or one whose ReferenceGrant allows it, with a port.
    pub(super) fn service_ref(
        &mut self,
        route: &'a NamespacedName,
        r: ServiceRef<'a>,
    ) -> Result<String, (R, String)> {
        let group = r.group.unwrap_or("");
        let kind = r.kind.unwrap_or("Service");
        if !group.is_empty() || kind != "Service" {
            return Err((
                R::InvalidKind,
                format!(
                    "backendRef {:?} is a {group}/{kind}; only Services are supported",
                    r.name
                ),
            ));
        }
        let namespace: &'a str = r.namespace.unwrap_or(&route.namespace);
        if namespace != &*route.namespace
            && !self.reference_granted(
                (r.route_kind, &route.namespace),
                ("Service", namespace, r.name),
            )
        {
            return Err((
                R::RefNotPermitted,
                format!(
                    "backendRef {namespace}/{} is in another namespace and no ReferenceGrant there allows it",
                    r.name
                ),
            ));
        }
        let Some(port) = r.port else {
            return Err((
                R::BackendNotFound,
                format!("backendRef {namespace}/{} must name a port", r.name),
            ));
        };
        self.services
            .resolve(
                self.snapshot,
                namespace,
                r.name,
                PortRef::Number(port),
                &ClusterSettings::default(),
                &mut self.dag,
                &mut self.status,
            )
            .map_err(|problem| (R::BackendNotFound, problem.message))
    }

    /// The mirror a RequestMirror filter asks for; `None` (and `ResolvedRefs=False`) when its
    /// backend does not resolve.
    fn mirror(
        &mut self,
        route: &'a NamespacedName,
        f: &'a HttpRouteRulesFilters,
        resolved: &mut Option<Condition>,
    ) -> Result<Option<Mirror>, (R, String)> {
        let Some(m) = f.request_mirror.as_ref() else {
            return Err((
                R::UnsupportedValue,
                "filter RequestMirror has no requestMirror".to_string(),
            ));
        };
        // The share in millionths: a fraction that is none is rounded to the nearest.
        let per_million = match (m.percent, m.fraction.as_ref()) {
            (Some(p @ 0..=100), None) => p as u32 * 10_000,
            (None, None) => 1_000_000,
            (None, Some(f)) => {
                let (n, d) = (
                    i64::from(f.numerator),
                    i64::from(f.denominator.unwrap_or(100)),
                );
                if d <= 0 || n < 0 || n > d {
                    return Err((
                        R::UnsupportedValue,
                        format!("mirror fraction {n}/{d} is not between 0 and 1"),
                    ));
                }
                ((n * 1_000_000 + d / 2) / d) as u32
            }
            _ => {
                return Err((
                    R::UnsupportedValue,
                    "mirror percent must be 0 to 100, and not given with a fraction".to_string(),
                ));
            }
        };
        let b = &m.backend_ref;
        let r = ServiceRef {
            route_kind: "HTTPRoute",
            group: b.group.as_deref(),
            kind: b.kind.as_deref(),
            name: &b.name,
            namespace: b.namespace.as_deref(),
            port: b.port,
        };
        match self.service_ref(route, r) {
            Ok(cluster) => Ok(Some(Mirror {
                cluster,
                per_million,
            })),
            Err((reason, message)) => {
                resolved.get_or_insert(Condition::no(T::ResolvedRefs, reason, message));
                Ok(None)
            }
        }
    }
}

/// A rule's `timeouts`: `request` is the route timeout, `backendRequest` the timeout of each
/// try (a retry policy without retries); `0s` switches either off. `backendRequest` may not
/// exceed a bounded `request`.
fn timeouts(rule: &HttpRouteRules) -> Result<(Option<Timeout>, Option<RetryPolicy>), (R, String)> {
    let parse = |field: &str, raw: Option<&str>| match raw {
        None => Ok(None),
        Some(raw) => match sesame_api::duration::parse_duration(raw) {
            Ok(d) if d.is_zero() => Ok(Some(Timeout::Infinite)),
            Ok(d) => Ok(Some(Timeout::After(d))),
            Err(e) => Err((
                R::UnsupportedValue,
                format!("timeouts.{field} {raw:?}: {e}"),
            )),
        },
    };
    let t = rule.timeouts.as_ref();
    let request = parse("request", t.and_then(|t| t.request.as_deref()))?;
    let backend = parse(
        "backendRequest",
        t.and_then(|t| t.backend_request.as_deref()),
    )?;
    if let (Some(Timeout::After(request)), Some(Timeout::After(backend))) = (request, backend)
        && backend > request
    {
        return Err((
            R::UnsupportedValue,
            "timeouts.backendRequest may not be longer than timeouts.request".to_string(),
        ));
    }
    let retry = match backend {
        Some(per_try @ Timeout::After(_)) => Some(RetryPolicy {
            retry_on: Vec::new(),
            num_retries: 0,
            per_try_timeout: Some(per_try),
            retriable_status_codes: Vec::new(),
        }),
        _ => None,
    };
    Ok((request, retry))
}

/// Whether a parentRef (defaults filled in) is the served Gateway.
pub(super) fn is_gateway(parent: &ParentRef, gateway: &NamespacedName) -> bool {
    parent.group == GROUP
        && parent.kind == "Gateway"
        && parent.namespace == *gateway.namespace
        && parent.name == *gateway.name
}

/// A parentRef with its defaults filled in.
pub(super) fn parent_ref(parent: &HttpRouteParentRefs, route_namespace: &str) -> ParentRef {
    ParentRef {
        group: parent.group.clone().unwrap_or_else(|| GROUP.to_string()),
        kind: parent.kind.clone().unwrap_or_else(|| "Gateway".to_string()),
        namespace: parent
            .namespace
            .clone()
            .unwrap_or_else(|| route_namespace.to_string()),
        name: parent.name.clone(),
        section_name: parent.section_name.clone(),
        port: parent.port,
    }
}

/// Attaches the route's rules to the listeners one parentRef selects, and returns the parent's
/// `Accepted` condition (and `PartiallyInvalid` when some rules are not served).
#[allow(
    clippy::too_many_arguments,
    reason = "the build's parts are borrowed separately"
)]
fn attach(
    key: &ObjectKey,
    gateway: &NamespacedName,
    name: &NamespacedName,
    route: &HttpRoute,
    parent: &HttpRouteParentRefs,
    rules: &[(Vec<RouteKey>, RuleResult)],
    listeners: &mut [Listener<'_>],
    tables: &mut ListenerTables,
) -> Vec<Condition> {
    let allowed = match allowed_listeners(listeners, gateway, &name.namespace, parent, |l| {
        l.accepts_http_routes
    }) {
        Ok(allowed) => allowed,
        Err(refused) => return vec![refused],
    };
    let mut route_hosts = Vec::new();
    for raw in route.spec.hostnames.iter().flatten() {
        match hostname::parse(raw) {
            Ok(h) => route_hosts.push(h.into_owned()),
            Err(e) => {
                return vec![Condition::no(
                    T::Accepted,
                    R::UnsupportedValue,
                    format!("hostname {raw:?}: {e}"),
                )];
            }
        }
    }
    let invalid: Vec<&(R, String)> = rules.iter().filter_map(|(_, a)| a.as_ref().err()).collect();
    if let Some((reason, message)) = invalid.first().filter(|_| invalid.len() == rules.len()) {
        return vec![Condition::no(T::Accepted, *reason, message.clone())];
    }
    let mut attached_any = false;
    for i in allowed {
        let hosts = listener_hosts(listeners, i, &route_hosts);
        let l = &mut listeners[i];
        if hosts.is_empty() {
            continue;
        }
        attached_any = true;
        l.attached += 1;
        let (https, port) = (l.spec.protocol == "HTTPS", l.spec.port);
        let listener_tables = tables.entry(l.route_config.clone()).or_default();
        for host in hosts {
            let table = listener_tables.entry(host).or_default();
            for (keys, action) in rules {
                let Ok(action) = action else { continue };
                for route_key in keys {
                    // The oldest route keeps a match another route repeats.
                    let seq = table.len();
                    table.entry(route_key.clone()).or_insert_with(|| {
                        let pending = PendingRoute {
                            action: redirect::for_listener(action, https, port),
                            origin: key.clone(),
                            allow_http: true,
                            force_ssl_redirect: false,
                            ip_filter: None,
                            jwt_provider: None,
                            authorization: None,
                        };
                        (seq, pending)
                    });
                }
            }
        }
    }
    if !attached_any {
        return vec![Condition::no(
            T::Accepted,
            R::NoMatchingListenerHostname,
            "no hostname of the route matches a listener of the Gateway",
        )];
    }
    match invalid.first() {
        None => vec![Condition::yes(
            T::Accepted,
            R::Accepted,
            "route is accepted",
        )],
        Some((reason, message)) => vec![
            Condition::yes(T::Accepted, R::Accepted, "route is accepted"),
            Condition::yes(
                T::PartiallyInvalid,
                *reason,
                format!("some rules are not served: {message}"),
            ),
        ],
    }
}

/// The listeners one parentRef selects (by `sectionName` and `port`) that let the route attach:
/// valid, accepting its kind (`accepts`) and its namespace. Otherwise the parent's `Accepted`
/// condition: `NoMatchingParent` when none is named, `NotAllowedByListeners` when none allows.
pub(super) fn allowed_listeners(
    listeners: &[Listener<'_>],
    gateway: &NamespacedName,
    route_namespace: &str,
    parent: &HttpRouteParentRefs,
    accepts: impl Fn(&Listener<'_>) -> bool,
) -> Result<Vec<usize>, Condition> {
    let named: Vec<usize> = (0..listeners.len())
        .filter(|i| {
            let l = &listeners[*i];
            parent
                .section_name
                .as_ref()
                .is_none_or(|s| *s == l.spec.name)
                && parent.port.is_none_or(|p| p == l.spec.port)
        })
        .collect();
    if named.is_empty() {
        return Err(Condition::no(
            T::Accepted,
            R::NoMatchingParent,
            "the parentRef's sectionName or port names no listener of the Gateway",
        ));
    }
    let allowed: Vec<usize> = named
        .into_iter()
        .filter(|i| {
            let l = &listeners[*i];
            l.valid && accepts(l) && allows_namespace(l, &gateway.namespace, route_namespace)
        })
        .collect();
    if allowed.is_empty() {
        return Err(Condition::no(
            T::Accepted,
            R::NotAllowedByListeners,
            "no listener of the Gateway allows this route (namespace, kind, or listener not valid)",
        ));
    }
    Ok(allowed)
}

/// The hosts a route serves on listener `i`: its hostnames intersected with the listener's
/// (none: the listener's, or any), less those another listener of the port owns, being more
/// specific (listener isolation).
pub(super) fn listener_hosts(
    listeners: &[Listener<'_>],
    i: usize,
    route_hosts: &[String],
) -> Vec<String> {
    let l = &listeners[i];
    let hosts: Vec<String> = if route_hosts.is_empty() {
        vec![l.hostname.clone().unwrap_or_else(|| "*".to_string())]
    } else {
        route_hosts
            .iter()
            .filter_map(|h| intersect(l.hostname.as_deref(), h))
            .collect()
    };
    hosts
        .into_iter()
        .filter(|h| !super::hosts::owned_elsewhere(listeners, i, h))
        .collect()
}

/// Whether every match of a rule is a path prefix (what `ReplacePrefixMatch` needs).
fn only_prefixes(rule: &HttpRouteRules) -> bool {
    rule_keys(rule).is_ok_and(|keys| {
        keys.iter()
            .all(|k| matches!(k.path, PathMatch::Prefix(_) | PathMatch::SegmentPrefix(_)))
    })
}

/// The route keys of a rule: one per match (a rule without matches matches every path).
fn rule_keys(rule: &HttpRouteRules) -> Result<Vec<RouteKey>, (R, String)> {
    match rule.matches.as_deref() {
        None | Some([]) => Ok(vec![RouteKey::path(PathMatch::Prefix("/".to_string()))]),
        Some(matches) => matches.iter().map(route_key).collect(),
    }
}

/// The route key of one match: its path, method, headers and query parameters, validated.
fn route_key(m: &HttpRouteRulesMatches) -> Result<RouteKey, (R, String)> {
    let path = match &m.path {
        None => PathMatch::Prefix("/".to_string()),
        Some(p) => {
            let value = p.value.as_deref().unwrap_or("/");
            let bad = |why: &str| Err((R::UnsupportedValue, format!("path {value:?}: {why}")));
            let plain = value.starts_with('/')
                && !value
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '?' || c == '#');
            match p
                .r#type
                .as_ref()
                .unwrap_or(&HttpRouteRulesMatchesPathType::PathPrefix)
            {
                HttpRouteRulesMatchesPathType::RegularExpression => {
                    match crate::regex::validate(value) {
                        Ok(()) => PathMatch::Regex(value.to_string()),
                        Err(e) => return bad(&e.to_string()),
                    }
                }
                _ if !plain => {
                    return bad("must start with '/' and hold no whitespace, '?' or '#'");
                }
                HttpRouteRulesMatchesPathType::Exact => PathMatch::Exact(value.to_string()),
                HttpRouteRulesMatchesPathType::PathPrefix => match value.trim_end_matches('/') {
                    "" => PathMatch::Prefix("/".to_string()),
                    trimmed => PathMatch::SegmentPrefix(trimmed.to_string()),
                },
            }
        }
    };
    let mut headers: Vec<HeaderMatch> = Vec::new();
    if let Some(method) = &m.method {
        let method = serde_json::to_value(method).ok();
        let method = method.as_ref().and_then(|v| v.as_str()).unwrap_or_default();
        headers.push(HeaderMatch {
            name: ":method".to_string(),
            value: HeaderValueMatch::Exact(method.to_string()),
            invert: false,
            ignore_case: false,
        });
    }
    for h in m.headers.iter().flatten() {
        let name = h.name.to_ascii_lowercase();
        if !filter::is_token(&name) {
            return Err((
                R::UnsupportedValue,
                format!("header name {:?} is not valid", h.name),
            ));
        }
        // The spec: the first match of a name wins, later ones are ignored.
        if headers.iter().any(|x| x.name == name) {
            continue;
        }
        let value = match h
            .r#type
            .as_ref()
            .unwrap_or(&HttpRouteRulesMatchesHeadersType::Exact)
        {
            HttpRouteRulesMatchesHeadersType::Exact => {
                filter::check_value(&h.name, &h.value)?;
                HeaderValueMatch::Exact(h.value.clone())
            }
            HttpRouteRulesMatchesHeadersType::RegularExpression => {
                crate::regex::validate(&h.value).map_err(|e| {
                    (
                        R::UnsupportedValue,
                        format!("header {:?} regex: {e}", h.name),
                    )
                })?;
                HeaderValueMatch::Regex(h.value.clone())
            }
        };
        headers.push(HeaderMatch {
            name,
            value,
            invert: false,
            ignore_case: false,
        });
    }
    let mut query_params: Vec<QueryParamMatch> = Vec::new();
    for q in m.query_params.iter().flatten() {
        if q.name.is_empty() || q.name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err((
                R::UnsupportedValue,
                format!("query parameter name {:?} is not valid", q.name),
            ));
        }
        if query_params.iter().any(|x| x.name == q.name) {
            continue;
        }
        let value = match q
            .r#type
            .as_ref()
            .unwrap_or(&HttpRouteRulesMatchesQueryParamsType::Exact)
        {
            HttpRouteRulesMatchesQueryParamsType::Exact => {
                filter::check_value(&q.name, &q.value)?;
                QueryValueMatch::Exact(q.value.clone())
            }
            HttpRouteRulesMatchesQueryParamsType::RegularExpression => {
                crate::regex::validate(&q.value).map_err(|e| {
                    (
                        R::UnsupportedValue,
                        format!("query parameter {:?} regex: {e}", q.name),
                    )
                })?;
                QueryValueMatch::Regex(q.value.clone())
            }
        };
        query_params.push(QueryParamMatch {
            name: q.name.clone(),
            value,
            ignore_case: false,
        });
    }
    Ok(RouteKey {
        path,
        headers,
        query_params,
    })
}

//! HTTPRoutes: attachment to the served Gateways' listeners through `parentRefs`, and each
//! rule's matches, filters and backends as routes. Attachment and backends serve every route
//! kind of HTTP listeners (GRPCRoutes too, see `grpc`).

use std::borrow::Cow;

use sesame_gateway_api::HttpRoute;
use sesame_gateway_api::httproute::{
    HttpRouteParentRefs, HttpRouteRules, HttpRouteRulesFilters,
    HttpRouteRulesFiltersType as FilterType, HttpRouteRulesMatches,
    HttpRouteRulesMatchesHeadersType, HttpRouteRulesMatchesPathType,
    HttpRouteRulesMatchesQueryParamsType,
};

use super::{GROUP, Listener, ListenerTables, allows_namespace, intersect};
use crate::build::Builder;
use crate::dag::{
    HeaderMatch, HeaderValueMatch, PathMatch, QueryParamMatch, QueryValueMatch, RetryPolicy,
    RouteAction, Timeout,
};
use crate::hostname;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ParentRef,
    RouteParentStatus,
};
use crate::vhost::{PendingRoute, RouteKey};

pub(super) mod backend;
mod cors;
pub(super) mod filter;
mod redirect;

use backend::{Backend, service_ref};

/// What a route rule does with a request once matched, or why it cannot be served.
pub(super) type RuleResult = Result<RouteAction, (R, String)>;

/// A rule's route keys (one per match) and what it does.
pub(super) type Rule = (Vec<RouteKey>, RuleResult);

/// The route whose rules are built: its kind (ReferenceGrants name it, a GRPCRoute's backends
/// speak HTTP/2) and its name.
#[derive(Clone, Copy)]
pub(super) struct RouteId<'a> {
    /// The kind.
    pub kind: Kind,
    /// The namespace and name.
    pub name: &'a NamespacedName,
}

/// A route of any kind served on HTTP listeners, as attachment reads it.
pub(super) struct RouteSpec<'a> {
    /// Its kind and name.
    pub id: RouteId<'a>,
    /// Its parentRefs (every kind's have the HTTPRoute's shape).
    pub parents: Cow<'a, [HttpRouteParentRefs]>,
    /// Its hostnames as written.
    pub hostnames: &'a [String],
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
}

impl<'a> Builder<'a> {
    /// Attaches one HTTPRoute to the listeners its parentRefs name, adds its rules to their
    /// tables, and records its status for each parentRef that is a served Gateway (of
    /// `gateways`) or a ListenerSet of one.
    pub(crate) fn http_route(
        &mut self,
        gateways: &[&'a NamespacedName],
        name: &'a NamespacedName,
        route: &'a HttpRoute,
        listeners: &mut [Listener<'_>],
        tables: &mut ListenerTables,
    ) {
        let id = RouteId {
            kind: Kind::HTTPRoute,
            name,
        };
        let spec = RouteSpec {
            id,
            parents: Cow::Borrowed(route.spec.parent_refs.as_deref().unwrap_or_default()),
            hostnames: route.spec.hostnames.as_deref().unwrap_or_default(),
            generation: route.metadata.generation,
        };
        self.attach_route(gateways, spec, |b| b.rules(id, route), listeners, tables);
    }

    /// Attaches a route of any kind to the listeners its parentRefs name, adds the rules
    /// `rules` builds (with the `ResolvedRefs` condition when a backend did not resolve) to
    /// their tables, and records its status for each parentRef that is a served Gateway (of
    /// `gateways`, in precedence order) or a ListenerSet of one. The rules are built once, for
    /// the Gateways the route names (see `backend_tls`).
    pub(super) fn attach_route(
        &mut self,
        gateways: &[&'a NamespacedName],
        route: RouteSpec<'a>,
        rules: impl FnOnce(&mut Self) -> (Vec<Rule>, Option<Condition>),
        listeners: &mut [Listener<'_>],
        tables: &mut ListenerTables,
    ) {
        let key = ObjectKey::new(route.id.kind, route.id.name.clone());
        let mut parents = Vec::new();
        // The rules are built once, whatever the parents: their verdicts do not depend on them.
        let mut rules = Some(rules);
        let mut built: Vec<Rule> = Vec::new();
        let mut resolved =
            Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "every reference resolved");
        let ours: Vec<(ParentRef, usize)> = (route.parents.iter())
            .map(|p| parent_ref(p, &route.id.name.namespace))
            .filter_map(|p| self.parent_gateway(gateways, &p).map(|g| (p, g)))
            .collect();
        let mut named: Vec<usize> = ours.iter().map(|(_, g)| *g).collect();
        named.sort_unstable();
        named.dedup();
        self.backend_tls_policies
            .set_route_gateways(named.iter().map(|g| (*g, gateways[*g])).collect());
        for (parent_ref, _) in ours {
            if let Some(rules) = rules.take() {
                let refs;
                (built, refs) = rules(self);
                if let Some(refs) = refs {
                    resolved = refs;
                }
            }
            let accepted = attach(&key, &parent_ref, &route, &built, listeners, tables);
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
        let status = self.status.entry(&key, route.generation);
        status.gateway_api = Some(Box::new(GatewayApiStatus::Route { parents }));
    }

    /// Every rule's route keys and action (or why the rule is not served), and the
    /// `ResolvedRefs` condition when a backend did not resolve.
    fn rules(&mut self, id: RouteId<'a>, route: &'a HttpRoute) -> (Vec<Rule>, Option<Condition>) {
        let mut resolved = None;
        let rules = route
            .spec
            .rules
            .iter()
            .flatten()
            .map(|rule| {
                let keys = rule_keys(rule);
                let action = match keys {
                    Ok(_) => self.rule_action(id, rule, &mut resolved),
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
        id: RouteId<'a>,
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
                    policies.mirrors.extend(self.http_mirror(id, f, resolved)?);
                }
                FilterType::Cors => policies.cors = Some(Box::new(cors::cors(f)?)),
                other => return Err(unsupported_filter(other)),
            }
        }
        if let Some(redirect) = redirect {
            return Ok(RouteAction::Redirect(redirect));
        }
        let timeouts = timeouts(rule)?;
        let mut backends = Vec::new();
        for b in rule.backend_refs.iter().flatten() {
            backends.push(Backend {
                service: service_ref!(b),
                weight: b.weight,
                rewrites: filter::backend_rewrites(b)?,
            });
        }
        self.forward_to(id, policies, backends, timeouts, resolved)
    }

    /// The mirror of an HTTPRoute's RequestMirror filter.
    fn http_mirror(
        &mut self,
        id: RouteId<'a>,
        f: &'a HttpRouteRulesFilters,
        resolved: &mut Option<Condition>,
    ) -> Result<Option<crate::dag::Mirror>, (R, String)> {
        let Some(m) = f.request_mirror.as_ref() else {
            return Err((
                R::UnsupportedValue,
                "filter RequestMirror has no requestMirror".to_string(),
            ));
        };
        let fraction = m.fraction.as_ref().map(|f| (f.numerator, f.denominator));
        let target = service_ref!(m.backend_ref);
        self.mirror(id, m.percent, fraction, target, resolved)
    }
}

/// Why a rule with a filter of a type Sesame does not serve is refused.
pub(super) fn unsupported_filter(filter_type: &impl std::fmt::Debug) -> (R, String) {
    (
        R::UnsupportedValue,
        format!("filter type {filter_type:?} is not supported yet"),
    )
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

/// A parentRef with its defaults filled in.
impl Builder<'_> {
    /// The controller name written in route statuses.
    pub(super) fn controller_name(&self) -> String {
        self.config
            .gateway
            .as_ref()
            .map(|g| g.controller_name.clone())
            .unwrap_or_default()
    }
}

/// Any route kind's parentRef as the HTTPRoute's: every kind's generated parentRef type has
/// the same fields.
macro_rules! http_parent_ref {
    ($p:expr) => {{
        let p = $p;
        sesame_gateway_api::httproute::HttpRouteParentRefs {
            group: p.group.clone(),
            kind: p.kind.clone(),
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            port: p.port,
            section_name: p.section_name.clone(),
        }
    }};
}
pub(in crate::gateway) use http_parent_ref;

/// Whether a parentRef (defaults filled in) is one of the served Gateways `gateways`.
pub(super) fn is_gateway(parent: &ParentRef, gateways: &[&NamespacedName]) -> bool {
    parent.group == GROUP
        && parent.kind == "Gateway"
        && gateways
            .iter()
            .any(|g| parent.namespace == *g.namespace && parent.name == *g.name)
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
    parent: &ParentRef,
    route: &RouteSpec<'_>,
    rules: &[Rule],
    listeners: &mut [Listener<'_>],
    tables: &mut ListenerTables,
) -> Vec<Condition> {
    let name = route.id.name;
    let kind = route.id.kind;
    let allowed = match allowed_listeners(listeners, &name.namespace, parent, |l| l.accepts(kind)) {
        Ok(allowed) => allowed,
        Err(refused) => return vec![refused],
    };
    let mut route_hosts = Vec::new();
    for raw in route.hostnames {
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
    let mut conflicted = false;
    for i in allowed {
        let hosts = listener_hosts(listeners, i, &route_hosts);
        let l = &mut listeners[i];
        if hosts.is_empty() {
            continue;
        }
        // An older route of the other HTTP kind on an intersecting host keeps the listener.
        if l.kind_conflict(route.id.kind, &hosts) {
            conflicted = true;
            continue;
        }
        attached_any = true;
        l.attached += 1;
        l.route_hosts
            .extend(hosts.iter().map(|h| (route.id.kind, h.clone())));
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
    if !attached_any && conflicted {
        return vec![Condition::no(
            T::Accepted,
            R::NotAllowedByListeners,
            "an older route of the other kind (HTTPRoute or GRPCRoute) already serves an \
             intersecting hostname on the listeners",
        )];
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

/// The hosts a route serves on listener `i`: its hostnames intersected with the listener's
/// (none: the listener's, or any), less those another listener of the port owns, being more
/// specific (listener isolation).
/// The listeners one parentRef selects (its Gateway's or ListenerSet's, by `sectionName` and
/// `port`) that let the route attach:
/// valid, accepting its kind (`accepts`) and its namespace. Otherwise the parent's `Accepted`
/// condition: `NoMatchingParent` when none is named, `NotAllowedByListeners` when none allows.
pub(super) fn allowed_listeners(
    listeners: &[Listener<'_>],
    route_namespace: &str,
    parent: &ParentRef,
    accepts: impl Fn(&Listener<'_>) -> bool,
) -> Result<Vec<usize>, Condition> {
    let named: Vec<usize> = (0..listeners.len())
        .filter(|i| {
            let l = &listeners[*i];
            l.owner.is(parent)
                && parent
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
            l.valid && accepts(l) && allows_namespace(l, route_namespace)
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

/// The hosts a route serves on listener `i`.
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
    keys_of(rule.matches.as_deref(), route_key)
}

/// The route keys of a rule of any kind, one per match, each `key` makes; a rule without
/// matches matches every request.
pub(super) fn keys_of<M>(
    matches: Option<&[M]>,
    key: impl Fn(&M) -> Result<RouteKey, (R, String)>,
) -> Result<Vec<RouteKey>, (R, String)> {
    match matches {
        None | Some([]) => Ok(vec![RouteKey::path(PathMatch::Prefix("/".to_string()))]),
        Some(matches) => matches.iter().map(key).collect(),
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
    let written = m.headers.iter().flatten().map(|h| {
        let regex = matches!(
            h.r#type,
            Some(HttpRouteRulesMatchesHeadersType::RegularExpression)
        );
        (h.name.as_str(), regex, h.value.as_str())
    });
    header_matches(written, &mut headers)?;
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

/// Adds header matches, each a name, whether its value is a regular expression, and the value,
/// to `headers`, validated: names are HTTP tokens, values hold no control characters,
/// expressions are RE2's. The first match of a name wins, later ones are ignored (the spec).
pub(super) fn header_matches<'m>(
    written: impl IntoIterator<Item = (&'m str, bool, &'m str)>,
    headers: &mut Vec<HeaderMatch>,
) -> Result<(), (R, String)> {
    for (raw, regex, value) in written {
        let name = raw.to_ascii_lowercase();
        if !filter::is_token(&name) {
            return Err((
                R::UnsupportedValue,
                format!("header name {raw:?} is not valid"),
            ));
        }
        if headers.iter().any(|x| x.name == name) {
            continue;
        }
        let value = if regex {
            crate::regex::validate(value)
                .map_err(|e| (R::UnsupportedValue, format!("header {raw:?} regex: {e}")))?;
            HeaderValueMatch::Regex(value.to_string())
        } else {
            filter::check_value(raw, value)?;
            HeaderValueMatch::Exact(value.to_string())
        };
        headers.push(HeaderMatch {
            name,
            value,
            invert: false,
            ignore_case: false,
        });
    }
    Ok(())
}

//! HTTPProxy processing: roots and their virtual hosts, the include tree below each root, and
//! the status of every HTTPProxy, with Contour's semantics.
//!
//! A root is an HTTPProxy with `spec.virtualhost`. Its routes, and the routes of the HTTPProxies
//! it includes (in any namespace, to any depth), are served on its fqdn, each include's
//! conditions joined to the routes below it. The include tree is walked with an explicit stack,
//! so a chain of any depth costs no native stack, and a cycle is refused where it closes.

use std::collections::{BTreeMap, HashSet};

use sesame_api::httpproxy::{HTTPProxy, Include, MatchCondition, VirtualHost};

use crate::build::Builder;
use crate::dag::{GlobalRateLimit, HeaderMatch, HeaderValueMatch, RouteAction};
use crate::hostname;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::{ObjectStatus, ProblemKind, Reason};
use crate::vhost::{HostPolicies, PendingRoute, RouteKey};

mod action;
mod authorization;
mod cluster_policy;
pub(crate) mod conditions;
mod cookie;
pub(crate) mod cors;
mod header;
mod ip_filter;
mod jwt;
mod policy;
mod rate_limit;
mod tls;

use conditions::Matches;
use jwt::RootJwt;
use tls::ProxyTls;

/// How many HTTPProxies (counted once per include path) one root may reach. A few objects that
/// include each other twice per level would otherwise expand exponentially.
pub(crate) const MAX_INCLUDE_VISITS: usize = 100_000;

/// How many HTTPProxies of a cycle or a chain a message names before it elides the rest.
const MAX_CHAIN_IN_MESSAGE: usize = 8;

/// The HTTPProxies served (selected by class) and the status of each, while they are processed.
pub(crate) struct Proxies<'a> {
    /// The HTTPProxies, by name.
    pub objects: BTreeMap<&'a NamespacedName, &'a HTTPProxy>,
    /// Their statuses.
    pub status: BTreeMap<&'a NamespacedName, ObjectStatus>,
}

impl<'a> Proxies<'a> {
    fn status(&mut self, name: &'a NamespacedName) -> &mut ObjectStatus {
        let objects = &self.objects;
        self.status.entry(name).or_insert_with(|| {
            ObjectStatus::valid(objects.get(name).and_then(|p| p.metadata.generation))
        })
    }
}

/// The root a route is being built for: its host and how the host is served.
pub(crate) struct Root<'r> {
    /// The host name (lower case, maybe a `*.` wildcard).
    pub host: &'r str,
    /// The `:authority` match a wildcard host needs.
    pub authority: Option<HeaderMatch>,
    /// Whether the host is served with TLS (terminated or passed through).
    pub secure: bool,
    /// The defaults of the routes' external authorization, when the host has it.
    pub authorization: Option<&'r authorization::HostAuthorization>,
    /// The JWT providers its routes may require.
    pub jwt: RootJwt,
}

/// One step of the include walk.
enum Step<'a> {
    /// Process an HTTPProxy reached with these accumulated conditions.
    Enter(&'a NamespacedName, Matches),
    /// The walk below an HTTPProxy is done: it leaves the include path.
    Leave,
}

impl<'a> Builder<'a> {
    /// Adds the HTTPProxies `objects` (those served, by name) and records the status of each.
    /// Includes are resolved among `objects` only.
    pub(crate) fn httpproxies(&mut self, objects: BTreeMap<&'a NamespacedName, &'a HTTPProxy>) {
        let mut proxies = Proxies {
            objects,
            status: BTreeMap::new(),
        };
        let mut reached: HashSet<&'a NamespacedName> = HashSet::new();
        let mut hosts: BTreeMap<String, Vec<&'a NamespacedName>> = BTreeMap::new();
        let objects: Vec<_> = proxies.objects.iter().map(|(n, p)| (*n, *p)).collect();
        for (name, proxy) in objects {
            let Some(vhost) = proxy.spec.virtualhost.as_ref() else {
                continue;
            };
            reached.insert(name);
            let status = proxies.status(name);
            if !self.config.root_namespaces.is_empty()
                && !self
                    .config
                    .root_namespaces
                    .iter()
                    .any(|n| **n == *name.namespace)
            {
                status.error(
                    ProblemKind::RootNamespaceError,
                    Reason::RootProxyNotAllowedInNamespace,
                    format!(
                        "root HTTPProxy cannot be defined in namespace {:?}: root namespaces are {}",
                        name.namespace,
                        self.config.root_namespaces.join(", ")
                    ),
                );
                continue;
            }
            let raw = vhost.fqdn.as_deref().unwrap_or_default();
            if raw.is_empty() {
                status.error(
                    ProblemKind::SpecError,
                    Reason::FQDNNotSpecified,
                    "Spec.VirtualHost.Fqdn must be specified",
                );
                continue;
            }
            match hostname::parse(raw) {
                Ok(host) => hosts.entry(host.into_owned()).or_default().push(name),
                Err(e) => status.error(
                    ProblemKind::VirtualHostError,
                    Reason::InvalidHostname,
                    format!("Spec.VirtualHost.Fqdn {raw:?} is not valid: {e}"),
                ),
            }
        }
        for (host, claimants) in hosts {
            if let [root] = claimants[..] {
                self.root(&host, root, &mut proxies, &mut reached);
                continue;
            }
            let names = claimants
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            for name in claimants {
                proxies.status(name).error(
                    ProblemKind::VirtualHostError,
                    Reason::DuplicateVhost,
                    format!("fqdn {host:?} is used in multiple HTTPProxies: {names}"),
                );
            }
        }
        let names: Vec<_> = proxies.objects.keys().copied().collect();
        for name in names {
            if !reached.contains(name) {
                proxies.status(name).orphan();
            }
        }
        for (name, status) in proxies.status {
            self.status
                .objects
                .insert(ObjectKey::new(Kind::HTTPProxy, name.clone()), status);
        }
    }

    /// Serves one root on `host`: its TLS, its TCP proxy and every route its include tree reaches.
    fn root(
        &mut self,
        host: &str,
        name: &'a NamespacedName,
        proxies: &mut Proxies<'a>,
        reached: &mut HashSet<&'a NamespacedName>,
    ) {
        let proxy = proxies.objects[name];
        let spec = &proxy.spec;
        if spec.routes.is_empty() && spec.includes.is_empty() && spec.tcpproxy.is_none() {
            proxies.status(name).error(
                ProblemKind::SpecError,
                Reason::NothingDefined,
                "HTTPProxy.Spec must have at least one Route, Include, or a TCPProxy",
            );
            return;
        }
        let Some(policies) = spec.virtualhost.as_ref().and_then(|vhost| {
            let default = self.config.default_global_rate_limit.as_ref();
            host_policies(vhost, default, proxies.status(name))
        }) else {
            return;
        };
        let Some(vhost) = spec.virtualhost.as_ref() else {
            return;
        };
        let Some(jwt) = self.jwt_host(&name.namespace, vhost, proxies.status(name)) else {
            return;
        };
        let key = ObjectKey::new(Kind::HTTPProxy, name.clone());
        let Ok(authorization) =
            self.host_authorization(&name.namespace, vhost, proxies.status(name))
        else {
            return;
        };
        let Some(tls) = self.proxy_tls(&key, host, proxy, proxies, reached) else {
            return;
        };
        let host_authorization = match (authorization, &tls) {
            (Some((filter, defaults)), ProxyTls::Terminate) => {
                if let Some(tls_host) = self.tls.get_mut(host) {
                    tls_host.authorization = Some(Box::new(filter));
                }
                Some(defaults)
            }
            _ => None,
        };
        let jwt = match tls {
            ProxyTls::Terminate => self.install_jwt(host, jwt),
            ProxyTls::Insecure | ProxyTls::Passthrough => RootJwt::default(),
        };
        if !policies.is_empty() {
            self.host_policies.insert(host.to_string(), policies);
        }
        let root = Root {
            host,
            authority: hostname::is_wildcard(host).then(|| HeaderMatch {
                name: ":authority".to_string(),
                value: HeaderValueMatch::Regex(hostname::authority_regex(host)),
                invert: false,
                ignore_case: false,
            }),
            secure: !matches!(tls, ProxyTls::Insecure),
            authorization: host_authorization.as_ref(),
            jwt,
        };
        self.walk(&root, name, proxies, reached);
    }

    /// Walks the include tree below `root_name`, adding the routes of every HTTPProxy reached.
    fn walk(
        &mut self,
        root: &Root<'_>,
        root_name: &'a NamespacedName,
        proxies: &mut Proxies<'a>,
        reached: &mut HashSet<&'a NamespacedName>,
    ) {
        let mut stack = vec![Step::Enter(root_name, Matches::default())];
        let mut path: Vec<&'a NamespacedName> = Vec::new();
        let mut on_path: HashSet<&'a NamespacedName> = HashSet::new();
        let mut visits = 0usize;
        while let Some(step) = stack.pop() {
            let (name, matches) = match step {
                Step::Leave => {
                    if let Some(left) = path.pop() {
                        on_path.remove(left);
                    }
                    continue;
                }
                Step::Enter(name, matches) => (name, matches),
            };
            visits += 1;
            if visits > MAX_INCLUDE_VISITS {
                proxies.status(root_name).error(
                    ProblemKind::IncludeError,
                    Reason::IncludeLimitExceeded,
                    format!(
                        "the includes below this root reach more than {MAX_INCLUDE_VISITS} HTTPProxies (counted once per include path); the rest are not served"
                    ),
                );
                return;
            }
            reached.insert(name);
            path.push(name);
            on_path.insert(name);
            stack.push(Step::Leave);
            let proxy = proxies.objects[name];
            let key = ObjectKey::new(Kind::HTTPProxy, name.clone());
            for route in &proxy.spec.routes {
                let status = proxies.status(name);
                self.proxy_route(root, &key, &name.namespace, &matches, route, status);
            }
            let mut seen: Vec<&[MatchCondition]> = Vec::new();
            // Pushed in reverse so that includes are walked in the order written.
            for include in proxy.spec.includes.iter().rev() {
                if seen.contains(&include.conditions.as_slice()) {
                    proxies.status(name).error(
                        ProblemKind::IncludeError,
                        Reason::DuplicateMatchConditions,
                        "duplicate conditions defined on an include",
                    );
                    continue;
                }
                seen.push(&include.conditions);
                if let Some(next) =
                    self.include(root, name, include, &matches, proxies, &on_path, &path)
                {
                    stack.push(next);
                }
            }
        }
    }

    /// Checks one include of `name` and returns the step that walks into it, if it is followed.
    #[allow(
        clippy::too_many_arguments,
        reason = "the walk's state is borrowed separately"
    )]
    fn include(
        &mut self,
        root: &Root<'_>,
        name: &'a NamespacedName,
        include: &'a Include,
        matches: &Matches,
        proxies: &mut Proxies<'a>,
        on_path: &HashSet<&'a NamespacedName>,
        path: &[&'a NamespacedName],
    ) -> Option<Step<'a>> {
        let Some(child_name) = include.name.as_deref().filter(|n| !n.is_empty()) else {
            proxies.status(name).error(
                ProblemKind::IncludeError,
                Reason::IncludeNotFound,
                "include must name an HTTPProxy",
            );
            return None;
        };
        let child_namespace = include
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&name.namespace);
        let target = NamespacedName::new(child_namespace, child_name);
        let merged = match conditions::include_block(&include.conditions)
            .and_then(|block| matches.join(&block))
        {
            Ok(merged) => merged,
            Err(e) => {
                proxies.status(name).error(
                    ProblemKind::IncludeError,
                    e.reason(),
                    format!("include {target}: {e}"),
                );
                return None;
            }
        };
        let Some((child, child_proxy)) = proxies.objects.get_key_value(&target) else {
            let status = proxies.status(name);
            status.error(
                ProblemKind::IncludeError,
                Reason::IncludeNotFound,
                format!("include {target} not found"),
            );
            // The include's conditions answer 502, as in Contour, rather than falling through
            // to a shorter route of the host.
            let key = ObjectKey::new(Kind::HTTPProxy, name.clone());
            let route = merged.prefix_route();
            self.add_route(
                root,
                &key,
                route,
                PendingRoute {
                    action: RouteAction::DirectResponse {
                        status: 502,
                        body: None,
                    },
                    origin: key.clone(),
                    allow_http: true,
                    force_ssl_redirect: root.secure,
                    ip_filter: None,
                    authorization: None,
                    jwt_provider: None,
                },
                status,
            );
            return None;
        };
        let (child, child_proxy): (&'a NamespacedName, &'a HTTPProxy) = (child, child_proxy);
        let status = proxies.status(name);
        if child_proxy.spec.virtualhost.is_some() {
            status.error(
                ProblemKind::IncludeError,
                Reason::RootIncludesRoot,
                format!("include {target}: root HTTPProxy cannot include another root HTTPProxy"),
            );
            return None;
        }
        if on_path.contains(child) {
            let start = path.iter().position(|n| *n == child).unwrap_or(0);
            status.error(
                ProblemKind::IncludeError,
                Reason::IncludeCreatesCycle,
                format!(
                    "include creates an include cycle: {}",
                    chain(&path[start..], child)
                ),
            );
            return None;
        }
        Some(Step::Enter(child, merged))
    }

    /// Adds a route to the root's host, refusing one that matches exactly what an earlier route
    /// of the host matches.
    pub(crate) fn add_route(
        &mut self,
        root: &Root<'_>,
        key: &ObjectKey,
        mut route: RouteKey,
        pending: PendingRoute,
        status: &mut ObjectStatus,
    ) {
        if let Some(authority) = &root.authority {
            route.headers.insert(0, authority.clone());
        }
        let table = match self.hosts.get_mut(root.host) {
            Some(table) => table,
            None => self.hosts.entry(root.host.to_string()).or_default(),
        };
        if let Some(existing) = table.get(&route) {
            let by = if existing.origin == *key {
                "earlier in this HTTPProxy".to_string()
            } else {
                format!("by {}", existing.origin)
            };
            status.error(
                ProblemKind::RouteError,
                Reason::DuplicateMatchConditions,
                format!(
                    "duplicate route for fqdn {:?} path {:?}: already served {by}",
                    root.host,
                    route.path.value()
                ),
            );
            return;
        }
        table.insert(route, pending);
    }
}

/// The policies of a root's virtual host. `None`, with the error in `status`, when one is
/// invalid: the host is then not served at all, as in Contour.
fn host_policies(
    vhost: &VirtualHost,
    default_global: Option<&GlobalRateLimit>,
    status: &mut ObjectStatus,
) -> Option<HostPolicies> {
    let cors = match vhost
        .cors_policy
        .as_ref()
        .map(cors::cors_policy)
        .transpose()
    {
        Ok(cors) => cors.map(Box::new),
        Err(message) => {
            status.error(ProblemKind::CORSError, Reason::PolicyDidNotParse, message);
            return None;
        }
    };
    let global_rate_limit = match crate::global_rate_limit::host_global_limit(
        vhost.rate_limit_policy.as_ref(),
        default_global,
    ) {
        Ok(limit) => limit.map(Box::new),
        Err(message) => {
            status.error(
                ProblemKind::VirtualHostError,
                Reason::RateLimitPolicyNotValid,
                message,
            );
            return None;
        }
    };
    let rate_limit = match rate_limit::local_limit(
        "Spec.VirtualHost.rateLimitPolicy",
        vhost.rate_limit_policy.as_ref(),
    ) {
        Ok(limit) => limit.map(Box::new),
        Err(message) => {
            status.error(
                ProblemKind::VirtualHostError,
                Reason::RateLimitPolicyNotValid,
                message,
            );
            return None;
        }
    };
    let ip_filter = match ip_filter::ip_filter(
        "Spec.VirtualHost",
        &vhost.ip_allow_policy,
        &vhost.ip_deny_policy,
    ) {
        Ok(filter) => filter.map(Box::new),
        Err(p) => {
            status.error(ProblemKind::IPFilterError, p.reason, p.message);
            return None;
        }
    };
    Some(HostPolicies {
        cors,
        rate_limit,
        ip_filter,
        global_rate_limit,
    })
}

/// `a -> b -> … -> a`, eliding the middle of a long chain.
fn chain(path: &[&NamespacedName], closing: &NamespacedName) -> String {
    let mut names: Vec<String> = Vec::new();
    if path.len() > MAX_CHAIN_IN_MESSAGE {
        let half = MAX_CHAIN_IN_MESSAGE / 2;
        names.extend(path[..half].iter().map(|n| n.to_string()));
        names.push(format!("… {} more …", path.len() - 2 * half));
        names.extend(path[path.len() - half..].iter().map(|n| n.to_string()));
    } else {
        names.extend(path.iter().map(|n| n.to_string()));
    }
    names.push(closing.to_string());
    names.join(" -> ")
}

#[cfg(test)]
mod tests;

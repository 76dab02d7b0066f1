//! TLS and TCP listeners of the served Gateways, and the routes that proxy whole connections
//! through them: TLSRoutes (matched on SNI; TLS passed through, or terminated with the
//! listener's certificate) and TCPRoutes (every connection of the port).
//!
//! TLS listeners share the Envoy listener of their port (`https-<port>`) with the HTTPS
//! listeners there, as Contour does: one filter chain per SNI name. A TCP listener is an Envoy
//! listener of its own (`tcp-<port>`) with one chain. A connection whose SNI no route serves
//! matches no chain and is closed. Routes are taken oldest first: the oldest route keeps an SNI
//! name (or a TCP listener) another route also asks for; both are accepted and counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sesame_gateway_api::gateway::{
    GatewayListeners, GatewayListenersAllowedRoutesKinds, GatewayListenersTlsMode,
};
use sesame_gateway_api::httproute::HttpRouteParentRefs;

use super::route::backend::{BackendRefError, ServiceRef};
use super::route::{RouteId, allowed_listeners, is_gateway, listener_hosts, parent_ref};
use super::{GROUP, Listener};
use crate::build::Builder;
use crate::dag::{
    GatewayListener, GatewayTcpRoute, GatewayTlsTermination, TcpProxy, WeightedCluster,
};
use crate::object::{NamespacedName, ObjectKey};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ParentRef,
    RouteParentStatus,
};

/// The connections served on each Envoy listener, by SNI name (`None`: every connection).
pub(super) type Served = BTreeMap<String, BTreeMap<Option<String>, GatewayTcpRoute>>;

/// A TLSRoute or a TCPRoute, in the terms both kinds share.
pub(super) struct StreamRoute<'a> {
    /// The route.
    pub key: ObjectKey,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
    /// Its parentRefs (in HTTPRoute's type, which has the same fields).
    pub parents: Vec<HttpRouteParentRefs>,
    /// Its hostnames, validated and lower-cased: the SNI names it serves (TLS); `None` for
    /// a TCPRoute, which takes every connection of its listeners.
    pub hostnames: Option<Vec<String>>,
    /// Why the route cannot be served at all, if it cannot.
    pub invalid: Option<(R, String)>,
    /// Its backendRefs, with their weights (1 when unset).
    pub backends: Vec<(ServiceRef<'a>, i32)>,
}

/// A TLSRoute or a TCPRoute as a [`StreamRoute`] of kind `$kind`, named `$name`, with these
/// `hostnames` and `invalid` (a problem already found): its parentRefs and its one rule's
/// backendRefs, whose generated types differ between the kinds while their fields do not. A
/// route with more or fewer than one rule is invalid.
macro_rules! as_stream_route {
    ($kind:expr, $name:expr, $route:expr, $hostnames:expr, $invalid:expr) => {{
        use $crate::status::gateway::ConditionReason as R;
        let (kind, route) = ($kind, $route);
        let mut invalid: Option<(R, String)> = $invalid;
        let rules = route.spec.rules.len();
        if rules != 1 {
            invalid.get_or_insert((
                R::UnsupportedValue,
                format!(
                    "a {} has exactly one rule; this one has {rules}",
                    kind.as_str()
                ),
            ));
        }
        let backends = route
            .spec
            .rules
            .first()
            .map(|rule| rule.backend_refs.as_slice());
        let backends = backends
            .unwrap_or_default()
            .iter()
            .map(|b| {
                let r = $crate::gateway::route::backend::service_ref!(b);
                (r, b.weight.unwrap_or(1))
            })
            .collect();
        let parents = route.spec.parent_refs.iter().flatten();
        let parents = parents.map(|p| $crate::gateway::route::http_parent_ref!(p));
        $crate::gateway::stream::StreamRoute {
            key: $crate::object::ObjectKey::new(kind, $name.clone()),
            generation: route.metadata.generation,
            parents: parents.collect(),
            hostnames: $hostnames,
            invalid,
            backends,
        }
    }};
}
pub(super) use as_stream_route;

/// The route kind a listener protocol serves here, if it is TLS or TCP.
fn route_kind(protocol: &str) -> Option<&'static str> {
    match protocol {
        "TLS" => Some("TLSRoute"),
        "TCP" => Some("TCPRoute"),
        _ => None,
    }
}

/// Whether listeners of two different protocols may share a port: HTTPS and TLS, told apart
/// by SNI on one Envoy listener.
pub(super) fn share_a_port(a: &str, b: &str) -> bool {
    matches!((a, b), ("HTTPS", "TLS") | ("TLS", "HTTPS"))
}

/// Whether a listener is a TLS listener that terminates TLS (mode `Terminate`, the default).
pub(super) fn terminates(spec: &GatewayListeners) -> bool {
    spec.protocol == "TLS"
        && spec
            .tls
            .as_ref()
            .is_some_and(|t| t.mode != Some(GatewayListenersTlsMode::Passthrough))
}

/// Why a TLS or TCP listener is not valid on its own, if it is not: a TLS listener needs `tls`
/// (its mode), a TCP listener takes neither a hostname nor `tls`.
pub(super) fn invalid(spec: &GatewayListeners) -> Option<(R, String)> {
    let message = match spec.protocol.as_str() {
        "TLS" if spec.tls.is_none() => "a TLS listener needs tls.mode (Passthrough or Terminate)",
        "TCP" if spec.hostname.as_deref().is_some_and(|h| !h.is_empty()) => {
            "a TCP listener takes every connection of its port: it may not have a hostname"
        }
        "TCP" if spec.tls.is_some() => "a TCP listener does not take tls",
        _ => return None,
    };
    Some((R::UnsupportedValue, message.to_string()))
}

/// For a TLS or TCP listener, the route kind it supports (TLSRoute or TCPRoute) unless its
/// `allowedRoutes.kinds` leave it out, and its `ResolvedRefs` condition (`InvalidRouteKinds`
/// when those kinds name another); `None` for other protocols.
pub(super) fn route_kinds(
    l: &mut Listener<'_>,
    kinds: Option<&Vec<GatewayListenersAllowedRoutesKinds>>,
) -> Option<Condition> {
    let kind = route_kind(&l.spec.protocol)?;
    l.accepts_http_routes = false;
    l.accepts_grpc_routes = false;
    let ours = |k: &GatewayListenersAllowedRoutesKinds| {
        k.kind == kind && k.group.as_deref().unwrap_or(GROUP) == GROUP
    };
    let kinds = kinds.filter(|k| !k.is_empty());
    if kinds.is_none_or(|k| k.iter().any(ours)) {
        l.supported_kinds.push(kind.to_string());
    }
    Some(match kinds {
        Some(k) if !k.iter().all(ours) => Condition::no(
            T::ResolvedRefs,
            R::InvalidRouteKinds,
            format!(
                "allowedRoutes.kinds names kinds a {} listener does not serve; only {kind}",
                l.spec.protocol
            ),
        ),
        _ => Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "every reference resolved"),
    })
}

/// The objects of a map, oldest first (creation time, then namespace and name): the order in
/// which routes claim what they share.
pub(super) fn oldest_first<O>(
    objects: &BTreeMap<NamespacedName, Arc<O>>,
    meta: impl Fn(&O) -> &ObjectMeta,
) -> Vec<(&NamespacedName, &O)> {
    let mut out: Vec<(&NamespacedName, &O)> =
        objects.iter().map(|(n, o)| (n, o.as_ref())).collect();
    out.sort_by(|a, b| {
        let created = |o: &O| meta(o).creation_timestamp.as_ref().map(|t| t.0);
        created(a.1).cmp(&created(b.1)).then_with(|| a.0.cmp(b.0))
    });
    out
}

impl<'a> Builder<'a> {
    /// Attaches the TLSRoutes and then the TCPRoutes to the Gateway's TLS and TCP listeners,
    /// oldest first, records their statuses, and adds what they serve to the DAG's Gateway
    /// listeners.
    pub(super) fn stream_routes(
        &mut self,
        gateways: &[&NamespacedName],
        listeners: &mut [Listener<'_>],
    ) {
        let mut served = Served::new();
        let snapshot = self.snapshot;
        for (name, route) in oldest_first(&snapshot.tls_routes, |r| &r.metadata) {
            let route = super::tls_route::stream_route(name, route);
            self.stream_route(gateways, name, route, listeners, &mut served);
        }
        for (name, route) in oldest_first(&snapshot.tcp_routes, |r| &r.metadata) {
            let route = super::tcp_route::stream_route(name, route);
            self.stream_route(gateways, name, route, listeners, &mut served);
        }
        for (envoy_name, routes) in served {
            let Some(l) = listeners.iter().find(|l| l.envoy_name == envoy_name) else {
                continue;
            };
            let (port, address) = (l.envoy_port, l.address);
            let out = self
                .dag
                .gateway_listeners
                .entry(envoy_name.clone())
                .or_insert_with(|| GatewayListener {
                    name: envoy_name,
                    address,
                    port,
                    virtual_hosts: BTreeMap::new(),
                    tls: Vec::new(),
                    tcp_routes: Vec::new(),
                });
            out.tcp_routes.extend(routes.into_values());
        }
    }

    /// Attaches one route to the listeners its parentRefs name and records its status for
    /// each parentRef that is a served Gateway (of `gateways`).
    fn stream_route(
        &mut self,
        gateways: &[&NamespacedName],
        name: &'a NamespacedName,
        route: StreamRoute<'a>,
        listeners: &mut [Listener<'_>],
        served: &mut Served,
    ) {
        let mut parents = Vec::new();
        // The backends resolve once, whatever the parents.
        let mut backends: Option<(Option<TcpProxy>, Condition)> = None;
        for parent in &route.parents {
            let parent_ref = parent_ref(parent, &name.namespace);
            if !is_gateway(&parent_ref, gateways) {
                continue;
            }
            let (proxy, resolved) =
                backends.get_or_insert_with(|| self.stream_backends(name, &route));
            let accepted = attach(&route, name, &parent_ref, proxy.as_ref(), listeners, served);
            parents.push(RouteParentStatus {
                parent_ref,
                controller_name: self.controller_name(),
                conditions: vec![accepted, resolved.clone()],
            });
        }
        if parents.is_empty() {
            return;
        }
        let status = self.status.entry(&route.key, route.generation);
        status.gateway_api = Some(Box::new(GatewayApiStatus::Route { parents }));
    }

    /// The clusters of a route's backendRefs (`None` when none of weight above 0 resolved) and
    /// its `ResolvedRefs` condition, which names the first backend that did not resolve.
    fn stream_backends(
        &mut self,
        name: &'a NamespacedName,
        route: &StreamRoute<'a>,
    ) -> (Option<TcpProxy>, Condition) {
        let mut resolved =
            Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "every reference resolved");
        let mut clusters = Vec::new();
        for (backend, weight) in &route.backends {
            let id = RouteId {
                kind: route.key.kind,
                name,
            };
            match self.service_ref(id, backend) {
                Ok(cluster) if *weight > 0 => {
                    clusters.push(WeightedCluster::new(cluster, *weight as u32));
                }
                Ok(_) => {}
                Err(BackendRefError::Ref(reason, message)) if resolved.status => {
                    resolved = Condition::no(T::ResolvedRefs, reason, message);
                }
                Err(_) => {}
            }
        }
        let proxy = (!clusters.is_empty()).then_some(TcpProxy { clusters });
        (proxy, resolved)
    }
}

/// Attaches a route to the listeners one parentRef selects and returns the parent's
/// `Accepted` condition. Each listener it attaches to counts it; it is served there for its
/// hostnames that meet the listener's (all of them for TCP) when its backends resolved and no
/// older route took them.
fn attach(
    route: &StreamRoute<'_>,
    name: &NamespacedName,
    parent: &ParentRef,
    proxy: Option<&TcpProxy>,
    listeners: &mut [Listener<'_>],
    served: &mut Served,
) -> Condition {
    let kind = route.key.kind.as_str();
    let accepts = |l: &Listener<'_>| l.supported_kinds.iter().any(|k| k == kind);
    let allowed = match allowed_listeners(listeners, &name.namespace, parent, accepts) {
        Ok(allowed) => allowed,
        Err(refused) => return refused,
    };
    if let Some((reason, message)) = &route.invalid {
        return Condition::no(T::Accepted, *reason, message.clone());
    }
    let mut attached_any = false;
    for i in allowed {
        let hosts: Vec<Option<String>> = match &route.hostnames {
            Some(hostnames) => listener_hosts(listeners, i, hostnames)
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None],
        };
        if hosts.is_empty() {
            continue;
        }
        attached_any = true;
        let l = &mut listeners[i];
        l.attached += 1;
        let Some(proxy) = proxy else { continue };
        let terminate = l.tls.as_ref().map(|tls| GatewayTlsTermination {
            secret: tls.secret.clone(),
            min_tls_version: tls.min_tls_version,
            max_tls_version: tls.max_tls_version,
        });
        let chains = served.entry(l.envoy_name.clone()).or_default();
        for host in hosts {
            // The oldest route keeps a name (or a TCP listener) another route repeats.
            chains
                .entry(host.clone())
                .or_insert_with(|| GatewayTcpRoute {
                    server_name: host,
                    terminate: terminate.clone(),
                    proxy: proxy.clone(),
                    origin: route.key.clone(),
                });
        }
    }
    if attached_any {
        Condition::yes(T::Accepted, R::Accepted, "route is accepted")
    } else {
        Condition::no(
            T::Accepted,
            R::NoMatchingListenerHostname,
            "no hostname of the route matches a listener of the Gateway",
        )
    }
}

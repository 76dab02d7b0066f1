//! Gateway API: the Gateways Sesame serves, their listeners, and the routes attached to them,
//! built into [`GatewayListener`]s of the DAG and Gateway API statuses.
//!
//! Only with `gateway` configured. The Gateways are `gateway.gatewayRef`, or else every
//! Gateway of a GatewayClass whose controller is Sesame's (see `served`), each on its own
//! address or `ingress_http`'s. Each listener is checked on its own: an invalid or conflicting
//! one gets its conditions and the others are still served. Listeners of several Gateways that
//! bind the same address and port follow the same-port rules, the older Gateway's winning.
//! Routes are taken oldest first (creation time, then namespace and name), so the oldest route
//! wins a conflict over the same match, as the spec says; a route attaches to every served
//! Gateway its parentRefs name.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use sesame_gateway_api::gateway::{GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom};
use sesame_gateway_api::{Gateway, GatewayClass};

use crate::build::{Builder, GatewayConfig};
use crate::dag::{GatewayTls, envoy_port, http_listener_name, https_listener_name, on_address};
use crate::hostname;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ListenerStatus,
};

mod backend_tls;
pub(crate) use backend_tls::BackendTlsPolicies;
mod ca;
mod frontend;
mod grpc;
mod hosts;
mod listener_set;
mod route;
mod selector;
mod served;
mod stream;
mod tcp_route;
mod tls;
mod tls_route;

/// The API group of Gateway API kinds.
const GROUP: &str = sesame_gateway_api::GROUP;

/// What a listener belongs to: a served Gateway, or a ListenerSet attached to one.
#[derive(Clone, Copy)]
pub(crate) struct Owner<'a> {
    /// `Gateway` or `ListenerSet`.
    pub kind: &'static str,
    /// Its namespace and name.
    pub name: &'a NamespacedName,
    /// The Gateway it is or belongs to.
    pub gateway: &'a NamespacedName,
}

impl Owner<'_> {
    /// Whether a route's parentRef (defaults filled in) names this owner.
    pub fn is(&self, parent: &crate::status::gateway::ParentRef) -> bool {
        parent.group == GROUP
            && parent.kind == self.kind
            && parent.namespace == *self.name.namespace
            && parent.name == *self.name.name
    }
}

/// A listener's certificate reference (`tls.certificateRefs[0]`), defaults not filled in.
#[derive(Clone, Copy)]
pub(crate) struct CertificateRef<'a> {
    /// `group`.
    pub group: Option<&'a str>,
    /// `kind`.
    pub kind: Option<&'a str>,
    /// `name`.
    pub name: &'a str,
    /// `namespace`.
    pub namespace: Option<&'a str>,
}

/// Reads the first certificate reference of a generated listener type's `tls`.
macro_rules! first_certificate {
    ($spec:expr) => {
        $spec
            .tls
            .as_ref()
            .and_then(|t| t.certificate_refs.as_deref())
            .and_then(<[_]>::first)
            .map(|c| CertificateRef {
                group: c.group.as_deref(),
                kind: c.kind.as_deref(),
                name: &c.name,
                namespace: c.namespace.as_deref(),
            })
    };
}
pub(crate) use first_certificate;

/// One listener of a served Gateway or of a ListenerSet attached to one, as checked.
pub(crate) struct Listener<'a> {
    /// The listener as written (a ListenerSet's, converted to the Gateway's type).
    pub spec: Cow<'a, GatewayListeners>,
    /// The Gateway or ListenerSet it belongs to.
    pub owner: Owner<'a>,
    /// Its first `tls.certificateRefs` entry, borrowed from the object as written.
    pub certificate: Option<CertificateRef<'a>>,
    /// Its hostname, validated and lower-cased; `None` matches any host.
    pub hostname: Option<String>,
    /// The address it binds, its Gateway's: `None` for `ingress_http`'s.
    pub address: Option<IpAddr>,
    /// The Envoy listener it becomes part of (`http-<port>`, `http-<port>-<address>`).
    pub envoy_name: String,
    /// The Envoy port.
    pub envoy_port: u16,
    /// The table its routes go to: the Envoy listener's for HTTP (listeners on one port
    /// share it), its own (`<Envoy listener>/<name>`) for HTTPS.
    pub route_config: String,
    /// Whether routes may attach (accepted, not conflicted).
    pub valid: bool,
    /// Whether it accepts HTTPRoutes (its `allowedRoutes.kinds` allow them).
    pub accepts_http_routes: bool,
    /// Whether it accepts GRPCRoutes (its `allowedRoutes.kinds` allow them).
    pub accepts_grpc_routes: bool,
    /// The hosts routes attached to, by route kind (an HTTPRoute and a GRPCRoute may not
    /// share one: see `grpc`).
    pub route_hosts: Vec<(Kind, String)>,
    /// How many routes attached.
    pub attached: u32,
    /// Its conditions.
    pub conditions: Vec<Condition>,
    /// The route kinds it supports.
    pub supported_kinds: Vec<String>,
    /// For HTTPS, its TLS termination, once its certificate resolved.
    pub tls: Option<GatewayTls>,
    /// With `allowedRoutes.namespaces.from: Selector`, the namespaces its selector picks.
    pub selected_namespaces: BTreeSet<String>,
}

/// The routes of each host of each route table (see [`Listener::route_config`]), as routes
/// attach.
pub(crate) type ListenerTables = BTreeMap<String, BTreeMap<String, hosts::RouteTable>>;

/// The Gateway API part of a build alone: what [`Builder::gateway`] adds, with the Services
/// and Secrets it looked up (`client` is the checked Envoy client certificate).
pub(crate) fn gateway_part(
    snapshot: &crate::Snapshot,
    config: &crate::BuildConfig,
    client: &crate::build::ClientCertificate,
) -> crate::BuildOutput {
    let mut builder = Builder::with_client_certificate(snapshot, config, client.clone());
    builder.gateway();
    builder.finish()
}

/// A served Gateway being built: what its status needs once routes attached.
struct Part<'a> {
    /// Its namespace and name.
    name: &'a NamespacedName,
    /// The object.
    gateway: &'a Gateway,
    /// Its ListenerSets.
    sets: Vec<listener_set::AttachedSet<'a>>,
    /// The address it binds of its own, if any.
    address: Option<IpAddr>,
    /// Why its address is not usable (its listeners are then not served), with how many of
    /// its listeners were valid before.
    not_usable: Option<(String, usize)>,
    /// Its `ResolvedRefs` condition, when it has references of its own.
    resolved: Option<Condition>,
}

impl<'a> Builder<'a> {
    /// Adds the served Gateways' listeners and routes to the build, with the statuses of the
    /// GatewayClasses, the Gateways and the routes.
    pub(crate) fn gateway(&mut self) {
        let Some(config) = self.config.gateway.as_ref() else {
            return;
        };
        let snapshot = self.snapshot;
        for (name, class) in &snapshot.gateway_classes {
            if class.spec.controller_name == config.controller_name {
                self.gateway_class_status(name, class);
            }
        }
        let served = served::served_gateways(snapshot, config);
        let addresses = served::addresses(&served, &config.addresses);
        let mut listeners: Vec<Listener<'a>> = Vec::new();
        let mut parts: Vec<Part<'a>> = Vec::new();
        for ((name, gateway), address) in served.into_iter().zip(addresses) {
            if self.refuse_parameters(name, gateway) {
                continue;
            }
            let (address, not_usable) = match address {
                Ok(address) => (address, None),
                Err((R::AddressNotUsable, message)) => (None, Some(message)),
                // UnsupportedAddress: the Gateway is refused.
                Err(problem) => {
                    self.refuse_gateway(name, gateway, problem);
                    continue;
                }
            };
            let start = listeners.len();
            self.add_gateway_listeners(name, gateway, address, &mut listeners);
            let sets = listener_set::add_listeners(
                snapshot,
                (name, gateway),
                (config, address),
                &mut listeners,
            );
            let not_usable =
                not_usable.map(|m| (m.clone(), not_serve(&mut listeners[start..], &m)));
            parts.push(Part {
                name,
                gateway,
                sets,
                address,
                not_usable,
                resolved: None,
            });
        }
        for listener in &mut listeners {
            let namespaces = listener
                .spec
                .allowed_routes
                .as_ref()
                .and_then(|a| a.namespaces.as_ref());
            if let Some(selector) = namespaces
                .filter(|n| n.from == Some(GatewayListenersAllowedRoutesNamespacesFrom::Selector))
                .and_then(|n| n.selector.as_ref())
            {
                listener.selected_namespaces = selector::selected_namespaces(snapshot, selector);
            }
        }
        for listener in listeners.iter_mut().filter(|l| l.valid) {
            if listener.spec.protocol == "HTTPS" || stream::terminates(&listener.spec) {
                self.listener_tls(listener);
                let gateway_name = listener.owner.gateway;
                if let Some(gateway) = snapshot.gateways.get(gateway_name) {
                    self.frontend_validation(gateway, &gateway_name.namespace, listener);
                }
            }
        }
        for part in &mut parts {
            part.resolved = self.gateway_client_certificate(part.name, part.gateway);
        }
        let gateways: Vec<&NamespacedName> = parts.iter().map(|p| p.name).collect();
        let mut tables = ListenerTables::new();
        for route in grpc::http_listener_routes(snapshot) {
            match route {
                grpc::AnyRoute::Http(n, r) => {
                    self.http_route(&gateways, n, r, &mut listeners, &mut tables)
                }
                grpc::AnyRoute::Grpc(n, r) => {
                    self.grpc_route(&gateways, n, r, &mut listeners, &mut tables)
                }
            }
        }
        self.gateway_listeners(&listeners, tables);
        self.stream_routes(&gateways, &mut listeners);
        self.backend_tls_statuses();
        self.gateway_statuses(parts, listeners);
    }

    /// Checks the listeners of one Gateway (bound to `address`) among themselves, then against
    /// those of the Gateways before it, and appends them to `listeners`.
    fn add_gateway_listeners(
        &mut self,
        name: &'a NamespacedName,
        gateway: &'a Gateway,
        address: Option<IpAddr>,
        listeners: &mut Vec<Listener<'a>>,
    ) {
        let Some(config) = self.config.gateway.as_ref() else {
            return;
        };
        let owner = Owner {
            kind: "Gateway",
            name,
            gateway: name,
        };
        let mut own = self::listeners(owner, gateway, config, address);
        for l in own.iter_mut().filter(|l| l.valid) {
            listener_set::settle_conflicts(l, listeners);
        }
        listeners.extend(own);
    }

    /// Records the status of each Gateway and its ListenerSets from their listeners.
    fn gateway_statuses(&mut self, parts: Vec<Part<'a>>, listeners: Vec<Listener<'a>>) {
        let mut by_gateway: BTreeMap<&NamespacedName, Vec<Listener<'a>>> = BTreeMap::new();
        for l in listeners {
            by_gateway.entry(l.owner.gateway).or_default().push(l);
        }
        for part in parts {
            let listeners = by_gateway.remove(part.name).unwrap_or_default();
            let (own, others): (Vec<Listener>, Vec<Listener>) = listeners
                .into_iter()
                .partition(|l| l.owner.kind == "Gateway");
            let attached_sets = self.listener_set_statuses(&part.sets, others);
            self.gateway_status(&part, own, attached_sets);
        }
    }

    /// Refuses a Gateway with `infrastructure.parametersRef` (Sesame reads no parameters kind,
    /// so the reference cannot resolve: the spec's `Accepted=False/InvalidParameters`); returns
    /// whether it did, in which case nothing of the Gateway is served.
    fn refuse_parameters(&mut self, name: &NamespacedName, gateway: &Gateway) -> bool {
        let infrastructure = gateway.spec.infrastructure.as_ref();
        let Some(parameters) = infrastructure.and_then(|i| i.parameters_ref.as_ref()) else {
            return false;
        };
        let message = format!(
            "infrastructure.parametersRef names {}/{} {:?}; Sesame supports no Gateway parameters",
            parameters.group, parameters.kind, parameters.name
        );
        self.refuse_gateway(name, gateway, (R::InvalidParameters, message));
        true
    }

    /// Records a Gateway that is not accepted (`Accepted=False` with `reason`,
    /// `Programmed=False`): nothing of it is served.
    fn refuse_gateway(
        &mut self,
        name: &NamespacedName,
        gateway: &Gateway,
        (reason, message): (R, String),
    ) {
        let key = ObjectKey::new(Kind::Gateway, name.clone());
        let status = self.status.entry(&key, gateway.metadata.generation);
        status.gateway_api = Some(Box::new(GatewayApiStatus::Gateway {
            conditions: vec![
                Condition::no(T::Accepted, reason, message.clone()),
                Condition::no(T::Programmed, R::Invalid, message),
            ],
            listeners: Vec::new(),
            attached_listener_sets: 0,
            addresses: Vec::new(),
        }));
    }

    fn gateway_class_status(&mut self, name: &NamespacedName, class: &GatewayClass) {
        let key = ObjectKey::new(Kind::GatewayClass, name.clone());
        let status = self.status.entry(&key, class.metadata.generation);
        status.gateway_api = Some(Box::new(GatewayApiStatus::GatewayClass {
            conditions: vec![Condition::yes(
                T::Accepted,
                R::Accepted,
                "GatewayClass is accepted by Sesame",
            )],
        }));
    }

    /// Records a Gateway's status: `Accepted` and `Programmed` from its `listeners` (and its
    /// address), and its `ResolvedRefs` when it has references of its own.
    fn gateway_status(&mut self, part: &Part<'_>, listeners: Vec<Listener>, attached_sets: u32) {
        let valid = match &part.not_usable {
            Some((_, valid_before)) => *valid_before,
            None => listeners.iter().filter(|l| l.valid).count(),
        };
        let accepted = if valid == listeners.len() {
            Condition::yes(T::Accepted, R::Accepted, "Gateway is accepted")
        } else if valid > 0 {
            Condition::yes(
                T::Accepted,
                R::ListenersNotValid,
                "some listeners are not valid, see their conditions; the others are served",
            )
        } else {
            Condition::no(
                T::Accepted,
                R::ListenersNotValid,
                "no listener is valid, see their conditions",
            )
        };
        let programmed = if let Some((message, _)) = &part.not_usable {
            Condition::no(T::Programmed, R::AddressNotUsable, message.clone())
        } else if valid > 0 {
            Condition::yes(T::Programmed, R::Programmed, "Gateway is programmed")
        } else {
            Condition::no(T::Programmed, R::Invalid, "no listener is valid")
        };
        let listeners = listeners.into_iter().map(Listener::into_status).collect();
        let mut conditions = vec![accepted, programmed];
        conditions.extend(part.resolved.clone());
        conditions.extend(frontend::insecure_mode_condition(part.gateway));
        let key = ObjectKey::new(Kind::Gateway, part.name.clone());
        let status = self.status.entry(&key, part.gateway.metadata.generation);
        status.gateway_api = Some(Box::new(GatewayApiStatus::Gateway {
            conditions,
            listeners,
            attached_listener_sets: attached_sets,
            addresses: part.address.into_iter().collect(),
        }));
    }
}

/// Takes the listeners of a Gateway whose address is not usable out of service (`Programmed`
/// false with `message`); returns how many were valid.
fn not_serve(listeners: &mut [Listener<'_>], message: &str) -> usize {
    let mut valid = 0;
    for l in listeners {
        valid += usize::from(l.valid);
        l.valid = false;
        set(
            &mut l.conditions,
            Condition::no(T::Programmed, R::Invalid, message),
        );
    }
    valid
}

impl Listener<'_> {
    /// Its entry in its Gateway's or ListenerSet's status.
    fn into_status(self) -> ListenerStatus {
        ListenerStatus {
            name: self.spec.name.clone(),
            attached_routes: self.attached,
            supported_kinds: self.supported_kinds,
            conditions: self.conditions,
        }
    }
}

/// Why two listeners cannot both be served, if they cannot: the same address and port with
/// different protocols, or the same address, port, protocol and hostname.
fn conflict(a: &Listener<'_>, b: &Listener<'_>) -> Option<R> {
    if a.spec.port != b.spec.port || a.address != b.address {
        None
    } else if a.spec.protocol != b.spec.protocol
        && !stream::share_a_port(&a.spec.protocol, &b.spec.protocol)
    {
        Some(R::ProtocolConflict)
    } else if a.hostname == b.hostname {
        Some(R::HostnameConflict)
    } else {
        None
    }
}

/// Checks every listener of the Gateway (bound to `address`): protocol, port, hostname, route
/// kinds, and conflicts between listeners that share a port.
fn listeners<'g>(
    owner: Owner<'g>,
    gateway: &'g Gateway,
    config: &GatewayConfig,
    address: Option<IpAddr>,
) -> Vec<Listener<'g>> {
    let mut out: Vec<Listener<'g>> = gateway
        .spec
        .listeners
        .iter()
        .map(|spec| {
            let certificate = first_certificate!(spec);
            listener(Cow::Borrowed(spec), certificate, owner, (config, address))
        })
        .collect();
    for i in 0..out.len() {
        let conflict = (0..out.len())
            .filter(|j| *j != i)
            .find_map(|j| conflict(&out[i], &out[j]));
        let l = &mut out[i];
        match conflict {
            Some(reason) => {
                l.valid = false;
                let message = format!(
                    "listener {:?} conflicts with another listener on port {}",
                    l.spec.name, l.spec.port
                );
                l.conditions
                    .push(Condition::yes(T::Conflicted, reason, message.clone()));
                set(
                    &mut l.conditions,
                    Condition::no(T::Programmed, R::Invalid, message),
                );
            }
            None => l
                .conditions
                .push(Condition::no(T::Conflicted, R::NoConflicts, "no conflicts")),
        }
    }
    out
}

/// One listener bound to `address`, checked on its own.
fn listener<'g>(
    spec: Cow<'g, GatewayListeners>,
    certificate: Option<CertificateRef<'g>>,
    owner: Owner<'g>,
    (config, address): (&GatewayConfig, Option<IpAddr>),
) -> Listener<'g> {
    let port = u16::try_from(spec.port).ok().filter(|p| *p > 0);
    let envoy_name = match spec.protocol.as_str() {
        "HTTPS" | "TLS" => https_listener_name(port.unwrap_or_default()),
        "TCP" => crate::dag::tcp_listener_name(port.unwrap_or_default()),
        _ => http_listener_name(port.unwrap_or_default()),
    };
    let envoy_name = on_address(envoy_name, address);
    let route_config = hosts::route_config_name(&spec, owner, &envoy_name);
    let mut l = Listener {
        owner,
        certificate,
        hostname: None,
        address,
        envoy_name,
        tls: None,
        selected_namespaces: BTreeSet::new(),
        route_config,
        envoy_port: port.map(envoy_port).unwrap_or_default(),
        valid: true,
        accepts_http_routes: true,
        accepts_grpc_routes: true,
        route_hosts: Vec::new(),
        attached: 0,
        conditions: Vec::new(),
        supported_kinds: Vec::new(),
        // Borrowed for a Gateway's own listeners; a ListenerSet's converted one is cloned once.
        spec: spec.clone(),
    };
    let mut problem: Option<(R, String)> = None;
    if !matches!(spec.protocol.as_str(), "HTTP" | "HTTPS" | "TLS" | "TCP") {
        problem = Some((
            R::UnsupportedProtocol,
            format!(
                "protocol {:?} is not supported yet; only HTTP, HTTPS, TLS and TCP are",
                spec.protocol
            ),
        ));
    } else if let Some(invalid) = stream::invalid(&spec) {
        problem = Some(invalid);
    } else if port.is_none() {
        problem = Some((
            R::PortUnavailable,
            format!("port {} is not a valid port", spec.port),
        ));
    } else if config.reserved_ports.contains(&l.envoy_port) {
        problem = Some((
            R::PortUnavailable,
            format!(
                "port {} maps to Envoy port {}, which one of Sesame's own listeners uses",
                spec.port, l.envoy_port
            ),
        ));
    }
    if let Some(raw) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        match hostname::parse(raw) {
            Ok(h) => l.hostname = Some(h.into_owned()),
            Err(e) => {
                problem.get_or_insert((R::InvalidHostname, format!("hostname {raw:?}: {e}")));
            }
        }
    }
    let kinds = spec.allowed_routes.as_ref().and_then(|a| a.kinds.as_ref());
    let mut resolved = Condition::yes(T::ResolvedRefs, R::ResolvedRefs, "every reference resolved");
    match kinds {
        Some(kinds) if !kinds.is_empty() => {
            let is = |k: &sesame_gateway_api::gateway::GatewayListenersAllowedRoutesKinds,
                      kind: &str| {
                k.kind == kind && k.group.as_deref().unwrap_or(GROUP) == GROUP
            };
            l.accepts_http_routes = kinds.iter().any(|k| is(k, "HTTPRoute"));
            l.accepts_grpc_routes = kinds.iter().any(|k| is(k, "GRPCRoute"));
            if kinds
                .iter()
                .any(|k| !is(k, "HTTPRoute") && !is(k, "GRPCRoute"))
            {
                resolved = Condition::no(
                    T::ResolvedRefs,
                    R::InvalidRouteKinds,
                    "allowedRoutes.kinds names kinds an HTTP listener does not serve; only HTTPRoute and GRPCRoute",
                );
            }
        }
        _ => {}
    }
    if l.accepts_http_routes && (spec.protocol == "HTTP" || spec.protocol == "HTTPS") {
        l.supported_kinds.push("HTTPRoute".to_string());
    }
    if l.accepts_grpc_routes && (spec.protocol == "HTTP" || spec.protocol == "HTTPS") {
        l.supported_kinds.push("GRPCRoute".to_string());
    }
    if let Some(stream_resolved) = stream::route_kinds(&mut l, kinds) {
        resolved = stream_resolved;
    }
    match problem {
        Some((reason, message)) => {
            l.valid = false;
            l.conditions
                .push(Condition::no(T::Accepted, reason, message.clone()));
            l.conditions
                .push(Condition::no(T::Programmed, R::Invalid, message));
        }
        None => {
            l.conditions.push(Condition::yes(
                T::Accepted,
                R::Accepted,
                "listener is accepted",
            ));
            l.conditions.push(Condition::yes(
                T::Programmed,
                R::Programmed,
                "listener is programmed",
            ));
        }
    }
    l.conditions.push(resolved);
    l
}

/// A value of one generated type read as the value of another with the same schema (the
/// Gateway API generates some shapes once per kind: a GRPCRoute's filters are an HTTPRoute's,
/// a ListenerSet's listeners a Gateway's). `what` names the value in the error.
pub(crate) fn convert<T: serde::de::DeserializeOwned>(
    value: &impl serde::Serialize,
    what: &str,
) -> Result<T, (R, String)> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|e| (R::UnsupportedValue, format!("{what}: {e}")))
}

/// Replaces the condition of the same type.
fn set(conditions: &mut Vec<Condition>, condition: Condition) {
    conditions.retain(|c| c.type_ != condition.type_);
    conditions.push(condition);
}

impl Builder<'_> {
    /// Whether a ReferenceGrant in `to_namespace` lets objects of kind `from_kind` in
    /// `from_namespace` refer to the core-group object `to_kind` named `name` there.
    pub(crate) fn reference_granted(
        &self,
        (from_kind, from_namespace): (&str, &str),
        (to_kind, to_namespace, name): (&str, &str, &str),
    ) -> bool {
        self.snapshot
            .reference_grants
            .iter()
            .filter(|(n, _)| &*n.namespace == to_namespace)
            .any(|(_, grant)| {
                grant.spec.from.iter().any(|f| {
                    f.group == GROUP && f.kind == from_kind && f.namespace == from_namespace
                }) && grant.spec.to.iter().any(|t| {
                    t.group.is_empty()
                        && t.kind == to_kind
                        && t.name.as_deref().is_none_or(|n| n == name)
                })
            })
    }
}

/// Whether a listener lets routes of `route_namespace` attach (`allowedRoutes.namespaces`):
/// `Same` (the default: its Gateway's or ListenerSet's namespace), `All`, or the namespaces
/// whose labels its `selector` matches.
pub(crate) fn allows_namespace(listener: &Listener<'_>, route_namespace: &str) -> bool {
    let from = listener
        .spec
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref())
        .and_then(|n| n.from.as_ref());
    match from {
        Some(GatewayListenersAllowedRoutesNamespacesFrom::All) => true,
        Some(GatewayListenersAllowedRoutesNamespacesFrom::Selector) => {
            listener.selected_namespaces.contains(route_namespace)
        }
        Some(GatewayListenersAllowedRoutesNamespacesFrom::Same) | None => {
            *listener.owner.name.namespace == *route_namespace
        }
    }
}

/// The hostname a route hostname and a listener hostname both match, if any: the more specific
/// of the two (`None` for the listener matches any host).
pub(crate) fn intersect(listener: Option<&str>, route: &str) -> Option<String> {
    let Some(listener) = listener else {
        return Some(route.to_string());
    };
    if listener == route {
        return Some(route.to_string());
    }
    if hostname::wildcard_covers(listener, route) {
        Some(route.to_string())
    } else if hostname::wildcard_covers(route, listener) {
        Some(listener.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod backend_tls_tests;
#[cfg(test)]
mod frontend_tests;
#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod isolation_tests;
#[cfg(test)]
mod listener_set_tests;
#[cfg(test)]
mod more_tests;
#[cfg(test)]
mod multi_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

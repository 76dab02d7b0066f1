//! Listener isolation: a request belongs to the most specific listener of its port whose
//! hostname matches its `Host` (and, over TLS, its SNI). Routes of a less specific listener
//! never serve a host another listener owns, every listener hostname has a virtual host even
//! without routes (so its requests get 404, not another listener's routes), and each HTTPS
//! listener's connections answer 421 Misdirected Request for hosts another listener owns.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use sesame_gateway_api::gateway::GatewayListeners;

use super::{Listener, ListenerTables, Owner};
use crate::build::Builder;
use crate::dag::{GatewayListener, PathMatch, Route, RouteAction, VirtualHost};
use crate::hostname;
use crate::object::{Kind, ObjectKey};
use crate::vhost::{PendingRoute, RouteKey};

/// The route table of a listener of the Envoy listener `envoy_name`: the Envoy listener's for
/// HTTP (`http-<port>`), its own for HTTPS (`https-<port>/<listener>`, or
/// `https-<port>/<namespace>/<ListenerSet>/<listener>` for a ListenerSet's, whose names may
/// repeat the Gateway's).
pub(super) fn route_config_name(
    spec: &GatewayListeners,
    owner: Owner<'_>,
    envoy_name: &str,
) -> String {
    if spec.protocol != "HTTPS" {
        return envoy_name.to_string();
    }
    if owner.kind == "Gateway" {
        format!("{envoy_name}/{}", spec.name)
    } else {
        format!(
            "{envoy_name}/{}/{}/{}",
            owner.name.namespace, owner.name.name, spec.name
        )
    }
}

/// Whether `more` is a more specific listener hostname than `less` (`None` matches any host).
fn more_specific(more: &str, less: Option<&str>) -> bool {
    match less {
        None => true,
        Some(less) => more != less && hostname::wildcard_covers(less, more),
    }
}

/// Whether another valid listener of listener `i`'s Envoy listener owns every request for
/// `host`: one more specific than listener `i` whose hostname is or covers `host`.
pub(super) fn owned_elsewhere(listeners: &[Listener<'_>], i: usize, host: &str) -> bool {
    let l = &listeners[i];
    listeners.iter().enumerate().any(|(j, m)| {
        j != i
            && m.valid
            && m.envoy_name == l.envoy_name
            && m.hostname.as_deref().is_some_and(|mh| {
                more_specific(mh, l.hostname.as_deref())
                    && (mh == host || hostname::wildcard_covers(mh, host))
            })
    })
}

impl Builder<'_> {
    /// The Envoy listeners of the valid Gateway listeners, with the virtual hosts of their
    /// route tables: HTTP listeners of a port share one; each HTTPS listener has its own,
    /// answering 421 for the other listeners' hostnames (and any other host when it has a
    /// hostname of its own).
    pub(super) fn gateway_listeners(
        &mut self,
        listeners: &[Listener<'_>],
        mut tables: ListenerTables,
    ) {
        // TLS and TCP listeners proxy connections: `stream_routes` serves them.
        let http =
            |l: &&Listener<'_>| l.valid && matches!(l.spec.protocol.as_str(), "HTTP" | "HTTPS");
        for l in listeners.iter().filter(http) {
            let mut hosts = virtual_hosts(tables.remove(&l.route_config).unwrap_or_default());
            if let Some(own) = &l.hostname {
                hosts.entry(own.clone()).or_insert_with(|| empty_host(own));
            }
            let out = self
                .dag
                .gateway_listeners
                .entry(l.envoy_name.clone())
                .or_insert_with(|| GatewayListener {
                    name: l.envoy_name.clone(),
                    address: l.address,
                    port: l.envoy_port,
                    virtual_hosts: BTreeMap::new(),
                    tls: Vec::new(),
                    tcp_routes: Vec::new(),
                });
            let Some(tls) = &l.tls else {
                // The port's listeners share the table: the first takes it whole.
                for (host, vhost) in hosts {
                    out.virtual_hosts.entry(host).or_insert(vhost);
                }
                continue;
            };
            let others = listeners
                .iter()
                .filter(|m| m.valid && m.envoy_name == l.envoy_name && m.spec.name != l.spec.name)
                .map(|m| m.hostname.clone().unwrap_or_else(|| "*".to_string()));
            let misdirected: Vec<String> = others
                .chain(l.hostname.is_some().then(|| "*".to_string()))
                .collect();
            let origin = ObjectKey::new(Kind::Gateway, l.owner.gateway.clone());
            for host in misdirected {
                hosts
                    .entry(host.clone())
                    .or_insert_with(|| misdirected_host(&host, &origin));
            }
            let mut tls = tls.clone();
            tls.virtual_hosts = hosts;
            out.tls.push(tls);
        }
    }
}

/// The routes of one host, each with its place in the order routes attached (oldest route
/// first, then rule and match order), which breaks ties of precedence.
pub(crate) type RouteTable = BTreeMap<RouteKey, (usize, PendingRoute)>;

/// The Gateway API precedence of a match, most specific first: an exact path, then a
/// regex, then the longest prefix; then a method match; then the most header matches; then
/// the most query parameter matches.
fn precedence(key: &RouteKey) -> impl Ord {
    let kind = match key.path {
        PathMatch::Exact(_) => 0,
        PathMatch::Regex(_) => 1,
        PathMatch::SegmentPrefix(_) | PathMatch::Prefix(_) => 2,
    };
    let method = key.headers.iter().any(|h| h.name == ":method");
    let headers = key.headers.len() - usize::from(method);
    (
        kind,
        Reverse(key.path.value().len()),
        Reverse(method),
        Reverse(headers),
        Reverse(key.query_params.len()),
    )
}

/// The virtual hosts of the route tables, their routes in precedence order.
fn virtual_hosts(tables: BTreeMap<String, RouteTable>) -> BTreeMap<String, VirtualHost> {
    tables
        .into_iter()
        .map(|(host, table)| {
            let mut entries: Vec<(RouteKey, (usize, PendingRoute))> = table.into_iter().collect();
            entries.sort_by(|(a, (a_seq, _)), (b, (b_seq, _))| {
                precedence(a).cmp(&precedence(b)).then(a_seq.cmp(b_seq))
            });
            let routes = entries
                .into_iter()
                .map(|(key, (_, pending))| Route {
                    path: key.path,
                    headers: key.headers,
                    query_params: key.query_params,
                    action: pending.action,
                    origin: pending.origin,
                    ip_filter: None,
                    jwt_provider: None,
                    authorization: None,
                })
                .collect();
            let vhost = VirtualHost {
                hostname: host.clone(),
                routes,
                ..Default::default()
            };
            (host, vhost)
        })
        .collect()
}

/// A listener hostname's virtual host without routes: its requests get 404.
fn empty_host(host: &str) -> VirtualHost {
    VirtualHost {
        hostname: host.to_string(),
        ..Default::default()
    }
}

/// A virtual host answering every request 421 Misdirected Request.
fn misdirected_host(host: &str, origin: &ObjectKey) -> VirtualHost {
    VirtualHost {
        hostname: host.to_string(),
        routes: vec![Route {
            path: PathMatch::Prefix("/".to_string()),
            headers: Vec::new(),
            query_params: Vec::new(),
            action: RouteAction::DirectResponse {
                status: 421,
                body: None,
            },
            origin: origin.clone(),
            ip_filter: None,
            jwt_provider: None,
            authorization: None,
        }],
        ..Default::default()
    }
}

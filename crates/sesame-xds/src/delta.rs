//! The incremental (delta) xDS protocol for one stream, as a sync state machine.
//!
//! The async shell feeds it every request ([`DeltaConnection::handle_request`]) and every store
//! change ([`DeltaConnection::handle_snapshot_update`]) and sends back whatever responses it
//! returns. Per resource type it keeps the subscription (wildcard and/or names), what the client
//! holds (name → content version) and the nonces awaiting an answer. The rules:
//! - nothing is answered before the store is ready; subscriptions made before are answered then;
//! - LDS and CDS subscribe to everything when the first request names nothing; `*` subscribes
//!   any type to everything; other names subscribe one resource each, and a VirtualHost name `N`
//!   (a route configuration's name) selects every `N/<host>` (namespace matching);
//! - Envoy's VHDS subscribes with namespace matching and, for that reason, names nothing at
//!   all (Envoy's delta mux keeps the route configuration name to itself): on ADS such a
//!   VirtualHost subscription follows the stream's RouteConfiguration subscription, selecting
//!   `N/<host>` for every route configuration `N` the client subscribed to; on a VHDS-only
//!   stream, where no route configuration is visible, it selects every virtual host;
//! - the first request's `initial_resource_versions` say what a reconnecting client holds:
//!   resources at that version are not sent again, and names that no longer exist are removed;
//! - a response carries only resources the client lacks or holds at another version, and
//!   `removed_resources` only for names the client holds; the first subscription of a type is
//!   answered even when there is nothing to send, so Envoy's initial fetch completes;
//! - subscribing again to a name on an open stream resends it; a VirtualHost name `N/host`
//!   that does not exist (Envoy's on-demand VHDS) is answered with an empty resource under
//!   that alias, as Envoy expects, and sent for real once it appears;
//! - an ACK or NACK names a nonce awaiting an answer; a NACK is logged and counted and the
//!   rejected content is not sent again (only a further change is); an unknown (stale) nonce's
//!   verdict is ignored, while subscription changes riding on it still apply;
//! - a store change sends only the changed resources of subscribed types, found from the
//!   store's change history, in ADS order (clusters, endpoints, secrets, listeners, routes,
//!   virtual hosts); removals of clusters and endpoints go last, after the listeners and routes
//!   that stopped using them ("make before break");
//! - a cluster sent as modified, or a new cluster whose ClusterLoadAssignment the client
//!   already holds, brings that ClusterLoadAssignment again, changed or not: Envoy warms the
//!   new cluster on an EDS watch it does not subscribe again, and would otherwise wait for its
//!   initial fetch timeout.
//! - a store change that sends clusters (new or modified) holds back listeners, route
//!   configurations and virtual hosts, and the removals of clusters and endpoints, until
//!   Envoy answers that cluster response. Envoy answers it only once those clusters have
//!   warmed (received their endpoints); a route applied earlier would name a cluster Envoy
//!   does not use yet, and requests to it would get 503 (`no_cluster`) meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3::ControlPlane;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use prost::Message;
use sesame_dag::collections::pack;
use sesame_envoy::ResourceType;

use crate::answer::DeltaAnswer;
use crate::connection::{CONTROL_PLANE, Scope, WILDCARD, names_clusters};
use crate::stats::Counters;
use crate::store::{Resource, StoreView};
use crate::version::Digest;

#[cfg(test)]
#[path = "delta/scope_tests.rs"]
mod scope_tests;
#[cfg(test)]
#[path = "delta/tests.rs"]
mod tests;
#[cfg(test)]
#[path = "delta/vhds_tests.rs"]
mod vhds_tests;

/// What to send for one type.
#[derive(Debug, Default)]
struct Diff {
    /// Resources the client lacks or holds at another version.
    upserts: Vec<(String, Arc<Resource>)>,
    /// Names the client holds that no longer exist.
    removals: Vec<String>,
    /// VHDS on demand: `<route config>/<host>` names asked for that do not exist, answered
    /// with an empty resource under that alias so Envoy stops waiting for them.
    unresolved: Vec<String>,
    /// Upserts the client held at another version (modifications, not additions).
    replaced: Vec<Arc<Resource>>,
}

impl Diff {
    /// Whether there is nothing to send.
    fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removals.is_empty() && self.unresolved.is_empty()
    }
}

/// The state of one type on one delta stream.
#[derive(Debug, Default)]
struct Subscription {
    /// Everything of the type is selected.
    wildcard: bool,
    /// Names subscribed explicitly (VirtualHost: also route configuration names).
    names: BTreeSet<String>,
    /// VirtualHost on ADS: the first request named nothing, so the subscription follows the
    /// route configurations subscribed on the same stream (see [`DeltaConnection`]).
    follows_routes: bool,
    /// The route configuration names a following VirtualHost subscription selects.
    implied: BTreeSet<String>,
    /// What the client holds as far as this stream knows: name → content digest (`None` for
    /// a version this server did not write, which never matches).
    known: BTreeMap<String, Option<Digest>>,
    /// Newly (re)subscribed names, to answer at the next response.
    pending: BTreeSet<String>,
    /// Compare everything selected at the next response (new subscription, added wildcard).
    full: bool,
    /// The generation of the store view this subscription last reconciled with.
    synced: Option<u64>,
    /// Whether a response of this type was sent on this stream.
    answered: bool,
    /// Nonces sent for this type that await an ACK or NACK.
    outstanding: BTreeSet<u64>,
}

impl Subscription {
    /// Whether the subscription selects the resource `name` of `ty`.
    fn selects(&self, ty: ResourceType, name: &str) -> bool {
        self.wildcard
            || self.names.contains(name)
            || (ty == ResourceType::VirtualHost
                && namespace(name)
                    .is_some_and(|ns| self.names.contains(ns) || self.implied.contains(ns)))
    }

    /// The existing names of `ty` that `names` select (VirtualHost: with namespace matching).
    fn expand<'a>(
        ty: ResourceType,
        names: impl IntoIterator<Item = &'a String>,
        view: &StoreView,
    ) -> BTreeSet<String> {
        let tables = view.delta_tables(ty);
        let mut out = BTreeSet::new();
        for name in names {
            if tables.iter().any(|t| t.resources().contains_key(name)) {
                out.insert(name.clone());
            }
            if ty == ResourceType::VirtualHost {
                let prefix = format!("{name}/");
                for t in &tables {
                    out.extend(
                        t.resources()
                            .range(prefix.clone()..)
                            .map(|(n, _)| n)
                            .take_while(|n| n.starts_with(&prefix))
                            .filter(|n| namespace(n) == Some(name.as_str()))
                            .cloned(),
                    );
                }
            }
        }
        out
    }

    /// Every existing name of `ty` this subscription selects.
    fn selected(&self, ty: ResourceType, view: &StoreView) -> BTreeSet<String> {
        if self.wildcard {
            view.delta_tables(ty)
                .iter()
                .flat_map(|t| t.resources().keys().cloned())
                .collect()
        } else {
            Self::expand(ty, self.names.iter().chain(&self.implied), view)
        }
    }

    /// Brings `known` up to date for `candidates`: what to send and what to remove.
    fn reconcile(
        &mut self,
        ty: ResourceType,
        candidates: BTreeSet<String>,
        view: &StoreView,
    ) -> Diff {
        let mut diff = Diff::default();
        let mut added = 0;
        for name in candidates {
            let selected = self.selects(ty, &name);
            // A following VHDS subscription may learn its route configurations after the
            // reconnecting client said what it holds: keep those versions until then.
            if !selected && self.follows_routes {
                continue;
            }
            let current = if selected {
                view.delta_resource(ty, &name)
            } else {
                None
            };
            match current {
                Some(r) => {
                    if self.known.get(&name) != Some(&Some(*r.digest())) {
                        match self.known.insert(name.clone(), Some(*r.digest())) {
                            Some(_) => diff.replaced.push(Arc::clone(r)),
                            None => added += 1,
                        }
                        diff.upserts.push((name, Arc::clone(r)));
                    }
                }
                None => {
                    if self.known.remove(&name).is_some() && selected {
                        diff.removals.push(name);
                    }
                }
            }
        }
        // Most of the map inserted one name at a time (a first answer): its B-tree nodes would
        // stay about half empty, per stream.
        if added * 2 > self.known.len() {
            pack(&mut self.known);
        }
        diff
    }

    /// The candidates of a full compare: everything selected and everything the client holds.
    fn everything(&self, ty: ResourceType, view: &StoreView) -> BTreeSet<String> {
        let mut all = self.selected(ty, view);
        all.extend(self.known.keys().cloned());
        all
    }
}

/// The connection's answers as its client decodes them: what the tests look at.
#[cfg(test)]
impl DeltaConnection {
    /// [`Self::handle_request`], decoded.
    fn decoded_request(
        &mut self,
        req: &DeltaDiscoveryRequest,
        view: &StoreView,
    ) -> Vec<DeltaDiscoveryResponse> {
        crate::testing::decoded(self.handle_request(req, view))
    }

    /// [`Self::handle_snapshot_update`], decoded.
    fn decoded_update(&mut self, view: &StoreView) -> Vec<DeltaDiscoveryResponse> {
        crate::testing::decoded(self.handle_snapshot_update(view))
    }
}

/// The namespace of a VHDS resource name: what comes before its last `/`.
fn namespace(name: &str) -> Option<&str> {
    name.rfind('/').map(|i| &name[..i])
}

/// The delta xDS protocol state of one stream.
#[derive(Debug)]
pub struct DeltaConnection {
    scope: Scope,
    counters: Arc<Counters>,
    node: Option<String>,
    next_nonce: u64,
    subscriptions: BTreeMap<ResourceType, Subscription>,
    /// Load assignments to send again, held or not: those of clusters sent as modified.
    refresh_endpoints: BTreeSet<String>,
    /// The nonce of the latest store-change response that sent clusters, until Envoy answers
    /// it (once those clusters have warmed): the types that name clusters wait for it.
    warming: Option<u64>,
    /// Removals of clusters and endpoints waiting to go after the held types.
    held_removals: Vec<(ResourceType, Vec<String>)>,
}

impl DeltaConnection {
    /// A new delta stream of `scope`, counting into `counters`.
    pub fn new(scope: Scope, counters: Arc<Counters>) -> Self {
        DeltaConnection {
            scope,
            counters,
            node: None,
            next_nonce: 0,
            subscriptions: BTreeMap::new(),
            refresh_endpoints: BTreeSet::new(),
            warming: None,
            held_removals: Vec::new(),
        }
    }

    /// The id of the Envoy node on the other end, once it said it.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The names of `ty` this stream believes its client holds, with their versions.
    pub fn client_versions(&self, ty: ResourceType) -> BTreeMap<String, Option<String>> {
        let Some(sub) = self.subscriptions.get(&ty) else {
            return BTreeMap::new();
        };
        sub.known
            .iter()
            .map(|(n, d)| (n.clone(), d.as_ref().map(crate::version::version_string)))
            .collect()
    }

    /// Handles one request from Envoy; returns the responses to send: zero or one, or for a
    /// RouteConfiguration request also the virtual hosts it brings to a following VHDS
    /// subscription.
    pub fn handle_request(
        &mut self,
        req: &DeltaDiscoveryRequest,
        view: &StoreView,
    ) -> Vec<DeltaAnswer> {
        crate::connection::note_node(&mut self.node, req.node.as_ref(), self.scope, "delta xDS");
        let Some(ty) = self.scope.request_type(&req.type_url, self.node.as_deref()) else {
            return Vec::new();
        };
        tracing::debug!(node = self.node.as_deref().unwrap_or_default(), type_url = ty.type_url(), subscribe = ?req.resource_names_subscribe, unsubscribe = ?req.resource_names_unsubscribe, initial = req.initial_resource_versions.len(), nonce = %req.response_nonce, nack = req.error_detail.is_some(), "delta xDS request");
        let first = !self.subscriptions.contains_key(&ty);
        let sub = self.subscriptions.entry(ty).or_default();
        if first {
            sub.full = true;
            let unnamed = req.resource_names_subscribe.is_empty();
            sub.wildcard = unnamed && ty.is_wildcard();
            if unnamed && ty == ResourceType::VirtualHost {
                match self.scope {
                    Scope::Aggregated => sub.follows_routes = true,
                    Scope::Single(_) => sub.wildcard = true,
                }
            }
            sub.known = req
                .initial_resource_versions
                .iter()
                .map(|(n, v)| (n.clone(), parse_version(v)))
                .collect();
        }
        let mut released = false;
        if !req.response_nonce.is_empty() {
            released = self.verdict(ty, req);
        }
        let sub = self.subscriptions.entry(ty).or_default();
        apply_interest(ty, sub, req, first);
        self.follow_routes();
        if !view.is_ready() {
            return Vec::new();
        }
        let mut out = self.answer_request(ty, view);
        if released {
            // The clusters have warmed: what waited for them goes now.
            out.extend(self.handle_snapshot_update(view));
        }
        out
    }

    /// The responses a request of `ty` is owed (see [`DeltaConnection::handle_request`]).
    fn answer_request(&mut self, ty: ResourceType, view: &StoreView) -> Vec<DeltaAnswer> {
        if ty == ResourceType::ClusterLoadAssignment {
            self.owe_endpoints();
        }
        let diff = self.reconcile_owed(ty, view);
        self.note_modified_clusters(ty, &diff);
        let mut out: Vec<_> = self.response(ty, diff, view).into_iter().collect();
        // Clusters sent as modified (on a reconnect) need their load assignments again.
        if ty == ResourceType::Cluster && self.owe_endpoints() {
            let diff = self.reconcile_owed(ResourceType::ClusterLoadAssignment, view);
            out.extend(self.response(ResourceType::ClusterLoadAssignment, diff, view));
        }
        // New route configurations bring their virtual hosts to a following VHDS subscription.
        if ty == ResourceType::RouteConfiguration
            && self.subscriptions.contains_key(&ResourceType::VirtualHost)
        {
            let diff = self.reconcile_owed(ResourceType::VirtualHost, view);
            out.extend(self.response(ResourceType::VirtualHost, diff, view));
        }
        out
    }

    /// Remembers the load assignments of the clusters `diff` sends as modified, and of new
    /// clusters whose load assignment the client already holds (a cluster renamed, its
    /// settings changed, over the same Service port): Envoy warms such a cluster with a new
    /// EDS watch on a name it already watches, which it does not subscribe again, so without a
    /// fresh ClusterLoadAssignment the cluster would wait for its initial fetch timeout
    /// (15 s) before serving.
    fn note_modified_clusters(&mut self, ty: ResourceType, diff: &Diff) {
        if ty != ResourceType::Cluster {
            return;
        }
        // Each cluster is decoded to find its load assignment's name: not at all while the
        // client holds no load assignment (the first CDS response, which brings every cluster).
        let held = (self.subscriptions.get(&ResourceType::ClusterLoadAssignment))
            .map(|eds| &eds.known)
            .filter(|known| !known.is_empty());
        let mut refresh: Vec<String> = Vec::new();
        if let Some(known) = held {
            let added = (diff.upserts.iter()).filter_map(|(_, r)| eds_service_name(r.value()));
            refresh.extend(added.filter(|name| known.contains_key(name)));
        }
        refresh.extend((diff.replaced.iter()).filter_map(|r| eds_service_name(r.value())));
        self.refresh_endpoints.extend(refresh);
    }

    /// Makes the ClusterLoadAssignment subscription owe the load assignments to refresh: they
    /// are forgotten as held and answered at its next response. Whether any are owed now.
    fn owe_endpoints(&mut self) -> bool {
        if self.refresh_endpoints.is_empty() {
            return false;
        }
        let Some(eds) = self
            .subscriptions
            .get_mut(&ResourceType::ClusterLoadAssignment)
        else {
            return false;
        };
        for name in std::mem::take(&mut self.refresh_endpoints) {
            if eds.selects(ResourceType::ClusterLoadAssignment, &name) {
                eds.known.remove(&name);
                eds.pending.insert(name);
            }
        }
        true
    }

    /// Keeps a VirtualHost subscription that follows the stream's route configurations in step
    /// with the RouteConfiguration subscription: added names are owed, dropped ones forgotten.
    fn follow_routes(&mut self) {
        let (all, routes) = match self.subscriptions.get(&ResourceType::RouteConfiguration) {
            Some(rds) => (rds.wildcard, rds.names.clone()),
            None => (false, BTreeSet::new()),
        };
        let Some(vhds) = self.subscriptions.get_mut(&ResourceType::VirtualHost) else {
            return;
        };
        if !vhds.follows_routes {
            return;
        }
        if all && !vhds.wildcard {
            vhds.wildcard = true;
            vhds.full = true;
        }
        if vhds.implied == routes {
            return;
        }
        let dropped = vhds.implied.difference(&routes).next().is_some();
        vhds.pending
            .extend(routes.difference(&vhds.implied).cloned());
        vhds.implied = routes;
        if dropped {
            let gone: Vec<String> = vhds
                .known
                .keys()
                .filter(|n| !vhds.selects(ResourceType::VirtualHost, n))
                .cloned()
                .collect();
            for name in gone {
                vhds.known.remove(&name);
            }
        }
    }

    /// Handles a change of the store; returns the responses to send, in ADS push order with
    /// removals of clusters and endpoints last.
    pub fn handle_snapshot_update(&mut self, view: &StoreView) -> Vec<DeltaAnswer> {
        if !view.is_ready() {
            return Vec::new();
        }
        let types: Vec<ResourceType> = self.subscriptions.keys().copied().collect();
        let mut out = Vec::new();
        for ty in types {
            // Held types keep their last reconciled view: the next pass sends all they missed.
            if self.warming.is_some() && names_clusters(ty) {
                continue;
            }
            if ty == ResourceType::ClusterLoadAssignment {
                self.owe_endpoints();
            }
            let mut diff = self.reconcile_changes(ty, view);
            self.note_modified_clusters(ty, &diff);
            let make_before_break = matches!(
                ty,
                ResourceType::Cluster | ResourceType::ClusterLoadAssignment
            );
            if make_before_break && !diff.removals.is_empty() {
                self.held_removals
                    .push((ty, std::mem::take(&mut diff.removals)));
            }
            let warms = ty == ResourceType::Cluster && !diff.upserts.is_empty();
            let response = self.response(ty, diff, view);
            if warms && response.is_some() {
                self.warming = Some(self.next_nonce);
            }
            out.extend(response);
        }
        if self.warming.is_none() {
            for (ty, removals) in std::mem::take(&mut self.held_removals) {
                let diff = Diff {
                    removals,
                    ..Default::default()
                };
                out.extend(self.response(ty, diff, view));
            }
        }
        out
    }

    /// Reconciles what a request made owed: everything for a new subscription, else the newly
    /// subscribed names.
    fn reconcile_owed(&mut self, ty: ResourceType, view: &StoreView) -> Diff {
        let Some(sub) = self.subscriptions.get_mut(&ty) else {
            return Default::default();
        };
        let pending = std::mem::take(&mut sub.pending);
        let candidates = if sub.full {
            sub.full = false;
            sub.synced = Some(view.generation());
            sub.everything(ty, view)
        } else {
            Subscription::expand(ty, &pending, view)
        };
        let mut diff = sub.reconcile(ty, candidates, view);
        if ty == ResourceType::VirtualHost {
            diff.unresolved = pending
                .into_iter()
                .filter(|n| namespace(n).is_some())
                .filter(|n| view.delta_resource(ResourceType::VirtualHost, n).is_none())
                .filter(|n| {
                    view.delta_resource(ResourceType::RouteConfiguration, n)
                        .is_none()
                })
                .collect();
        }
        diff
    }

    /// Reconciles a store change: the names changed since the subscription's last view (or
    /// everything, when that view is older than the store's history), plus anything owed.
    fn reconcile_changes(&mut self, ty: ResourceType, view: &StoreView) -> Diff {
        let Some(sub) = self.subscriptions.get_mut(&ty) else {
            return Default::default();
        };
        let changes = match sub.synced {
            Some(generation) if !sub.full => view.delta_changed_names(ty, generation),
            _ => None,
        };
        let mut candidates = match changes {
            Some(changed) => changed.into_iter().map(str::to_string).collect(),
            None => {
                sub.full = false;
                sub.everything(ty, view)
            }
        };
        let pending = std::mem::take(&mut sub.pending);
        candidates.extend(Subscription::expand(ty, &pending, view));
        sub.synced = Some(view.generation());
        sub.reconcile(ty, candidates, view)
    }

    /// The response for `ty` carrying `diff`, if it carries anything or is the type's first.
    fn response(&mut self, ty: ResourceType, diff: Diff, view: &StoreView) -> Option<DeltaAnswer> {
        let sub = self.subscriptions.get_mut(&ty)?;
        if diff.is_empty() && sub.answered {
            return None;
        }
        let Diff {
            upserts,
            removals,
            unresolved,
            ..
        } = diff;
        sub.answered = true;
        self.next_nonce += 1;
        sub.outstanding.insert(self.next_nonce);
        let version = view.delta_version(ty);
        tracing::debug!(
            node = self.node.as_deref().unwrap_or_default(),
            type_url = ty.type_url(),
            version,
            nonce = self.next_nonce,
            upserts = upserts.len(),
            removals = removals.len(),
            unresolved = unresolved.len(),
            "sending delta xDS response"
        );
        self.counters.response_sent(ty);
        self.counters.resources_sent(ty, upserts.len());
        let rest = DeltaDiscoveryResponse {
            type_url: ty.type_url().to_string(),
            removed_resources: removals,
            nonce: self.next_nonce.to_string(),
            control_plane: Some(ControlPlane {
                identifier: CONTROL_PLANE.to_string(),
            }),
            ..Default::default()
        };
        Some(DeltaAnswer::new(version, upserts, unresolved, rest))
    }

    /// Records an ACK or NACK of an awaited nonce; ignores a stale one. Returns whether it
    /// answered the cluster response the held types wait for.
    fn verdict(&mut self, ty: ResourceType, req: &DeltaDiscoveryRequest) -> bool {
        let node = self.node.as_deref().unwrap_or_default();
        let Some(sub) = self.subscriptions.get_mut(&ty) else {
            return false;
        };
        let nonce = req.response_nonce.parse::<u64>().ok();
        let Some(nonce) = nonce.filter(|n| sub.outstanding.contains(n)) else {
            tracing::debug!(node, type_url = ty.type_url(), nonce = %req.response_nonce, "ignoring the verdict of a stale nonce");
            return false;
        };
        let released = ty == ResourceType::Cluster && self.warming.is_some_and(|w| nonce >= w);
        if released {
            self.warming = None;
        }
        // Envoy answers responses in order: an answer settles the earlier ones too.
        sub.outstanding = sub.outstanding.split_off(&(nonce + 1));
        match &req.error_detail {
            None => self.counters.ack_received(ty),
            Some(error) => {
                self.counters.nack_received(ty);
                tracing::warn!(
                    node,
                    type_url = ty.type_url(),
                    nonce = %req.response_nonce,
                    code = error.code,
                    error = %error.message,
                    "Envoy rejected resources (delta NACK); not resending them until they change"
                );
            }
        }
        released
    }
}

/// Applies a request's unsubscriptions, then its subscriptions. Names subscribed again on an
/// open stream are forgotten from what the client holds, so they are sent again.
fn apply_interest(
    ty: ResourceType,
    sub: &mut Subscription,
    req: &DeltaDiscoveryRequest,
    first: bool,
) {
    if !req.resource_names_unsubscribe.is_empty() {
        for name in &req.resource_names_unsubscribe {
            if name == WILDCARD {
                sub.wildcard = false;
            } else {
                sub.names.remove(name);
                sub.pending.remove(name);
            }
        }
        let known = std::mem::take(&mut sub.known);
        sub.known = known
            .into_iter()
            .filter(|(n, _)| sub.selects(ty, n))
            .collect();
    }
    for name in &req.resource_names_subscribe {
        if name == WILDCARD {
            if !sub.wildcard {
                sub.wildcard = true;
                sub.full = true;
            }
            continue;
        }
        sub.names.insert(name.clone());
        sub.pending.insert(name.clone());
        if !first {
            let prefix = format!("{name}/");
            sub.known.retain(|n, _| {
                n != name && !(ty == ResourceType::VirtualHost && n.starts_with(&prefix))
            });
        }
    }
    // Envoy's first EDS request names every cluster, in no order: rebuilt in bulk, the set's
    // nodes are full.
    if req.resource_names_subscribe.len() * 2 > sub.names.len() {
        pack(&mut sub.names);
    }
}

/// The ClusterLoadAssignment name of an EDS cluster (its EDS service name, or its own name);
/// `None` for other clusters.
pub(crate) fn eds_service_name(cluster: &[u8]) -> Option<String> {
    let cluster = Cluster::decode(cluster).ok()?;
    let eds = cluster::DiscoveryType::Eds as i32;
    if cluster.cluster_discovery_type != Some(cluster::ClusterDiscoveryType::Type(eds)) {
        return None;
    }
    let service = cluster
        .eds_cluster_config
        .map(|c| c.service_name)
        .filter(|s| !s.is_empty());
    Some(service.unwrap_or(cluster.name))
}

/// The digest behind a version this server wrote (40 hex digits), if it is one.
fn parse_version(version: &str) -> Option<Digest> {
    let bytes = hex::decode(version).ok()?;
    Digest::try_from(bytes.as_slice()).ok()
}

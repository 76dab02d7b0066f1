//! The xDS state-of-the-world protocol for one stream, as a sync state machine.
//!
//! The async shell feeds it every request ([`Connection::handle_request`]) and every store change
//! ([`Connection::handle_snapshot_update`]) and sends back whatever responses it returns. Per
//! resource type it keeps the subscription, the last response sent (nonce, version, content
//! digest) and the last ACKed version. The rules:
//! - nothing is answered before the store is ready; subscriptions made before are answered then;
//! - a new subscription is answered at once with the current state (for named types, only the
//!   requested names that exist);
//! - an ACK or NACK is answered only if the requested names changed or the content did;
//! - a NACK is logged and counted, and the rejected content is not sent again: only a change of
//!   what this connection would receive causes a new response;
//! - a request with a nonce other than the last one sent for its type is stale and ignored;
//! - a store change is sent only for types whose content for this connection changed, in ADS
//!   push order (clusters, endpoints, secrets, listeners, routes);
//! - make before break: a change that brings new or modified clusters sends the clusters
//!   Envoy holds and the new ones together, and holds back the listeners and routes until
//!   Envoy answers that cluster response (it does once those clusters have warmed); the
//!   clusters no longer wanted go last, after the listeners and routes that stopped naming
//!   them. Every request is answered by the same pass over the latest store, so an ACK never
//!   jumps that order;
//! - virtual hosts (VHDS), scopes (SRDS) and the delta listener overlay are never served here:
//!   they are for delta clients only, so a state-of-the-world request for them is ignored with
//!   a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::{ControlPlane, Node};
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use sesame_envoy::ResourceType;

use crate::answer::SotwAnswer;
use crate::delta::eds_service_name;
use crate::stats::Counters;
use crate::store::{Resource, Resources, StoreView, TypeSnapshot, resources_digest};
use crate::version::{Digest, set_digest, version_string};

#[cfg(test)]
#[path = "connection/tests.rs"]
mod tests;

/// The control-plane identifier sent in every response.
pub(crate) const CONTROL_PLANE: &str = "sesame";

/// The resource name that means "all resources of this type".
pub(crate) const WILDCARD: &str = "*";

/// What a stream serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// ADS: every type, multiplexed on one stream.
    Aggregated,
    /// A single-type stream (LDS, RDS, CDS, EDS or SDS service).
    Single(ResourceType),
}

impl Scope {
    /// The resource type a request's type URL names, if a stream of this scope serves it;
    /// logs and refuses any other.
    pub(crate) fn request_type(self, type_url: &str, node: Option<&str>) -> Option<ResourceType> {
        let ty = match self {
            Scope::Aggregated => ResourceType::from_type_url(type_url),
            Scope::Single(ty) if type_url.is_empty() || type_url == ty.type_url() => Some(ty),
            Scope::Single(_) => None,
        };
        if ty.is_none() {
            tracing::warn!(node = node.unwrap_or_default(), type_url, scope = ?self, "ignoring request for a type this stream does not serve");
        }
        ty
    }
}

/// Remembers the id of the Envoy on a stream from the first request that carries one, and logs
/// the stream's `protocol` (`xDS` or `delta xDS`).
pub(crate) fn note_node(
    known: &mut Option<String>,
    node: Option<&Node>,
    scope: Scope,
    protocol: &str,
) {
    if known.is_some() {
        return;
    }
    if let Some(node) = node {
        tracing::info!(node = %node.id, cluster = %node.cluster, ?scope, "{protocol} stream from Envoy");
        *known = Some(node.id.clone());
    }
}

/// Which resources of a type a connection subscribed to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Names {
    /// All resources of the type.
    Wildcard,
    /// Only these names.
    Named(BTreeSet<String>),
}

impl Names {
    /// The subscription a request asks for: wildcard types (LDS, CDS) with no names, or any
    /// type with `*`, mean all resources; otherwise the listed names.
    fn from_request(ty: ResourceType, names: &[String]) -> Self {
        if names.iter().any(|n| n == WILDCARD) || (ty.is_wildcard() && names.is_empty()) {
            Names::Wildcard
        } else {
            Names::Named(names.iter().cloned().collect())
        }
    }
}

/// The last response sent for one type.
#[derive(Clone, Debug)]
struct Sent {
    nonce: String,
    version: String,
    digest: Digest,
}

/// The state of one type on one connection.
#[derive(Debug)]
struct Subscription {
    names: Names,
    /// A response is due regardless of content (new subscription or changed names).
    owed: bool,
    /// The last response sent, if any.
    sent: Option<Sent>,
    /// The last version Envoy accepted.
    acked_version: Option<String>,
    /// The serial of the type snapshot the content was last computed from, to skip unchanged
    /// types quickly.
    seen: Option<u64>,
}

impl Subscription {
    /// A fresh subscription, answered as soon as the store is ready.
    fn new(names: Names) -> Self {
        Subscription {
            names,
            owed: true,
            sent: None,
            acked_version: None,
            seen: None,
        }
    }
}

/// What Envoy said about the last response of a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// A (re)subscription: no nonce, or no response sent yet on this connection.
    Subscribe,
    /// The last response was accepted.
    Ack,
    /// The last response was rejected.
    Nack,
    /// The request answers an older response; ignore it.
    Stale,
}

/// The xDS protocol state of one stream.
#[derive(Debug)]
pub struct Connection {
    scope: Scope,
    counters: Arc<Counters>,
    node: Option<String>,
    next_nonce: u64,
    subscriptions: BTreeMap<ResourceType, Subscription>,
    /// The clusters of the last cluster response.
    sent_clusters: Resources,
    /// The clusters the routes Envoy holds may name: those of the last cluster response Envoy
    /// accepted, or of the last one sent without holding the routes back (a first answer, a
    /// set that only removes). New clusters of a response that holds the routes back are not
    /// among them until Envoy accepts it.
    routable_clusters: Resources,
    /// A store-change response brought new or modified clusters and Envoy has not answered
    /// the latest cluster response yet: the types that name clusters wait for that answer.
    warming: bool,
}

/// What a store change does to the clusters of a subscription.
enum ClusterChange {
    /// Nothing to send.
    None,
    /// New or modified clusters, sent with every cluster sent before: this response, and
    /// whether Envoy needs endpoints it already asked for sent again.
    Warms(Box<SotwAnswer>, bool),
    /// Only removals: they go after the types that name clusters.
    Removes,
}

impl Connection {
    /// A new stream of `scope`, counting into `counters`.
    pub fn new(scope: Scope, counters: Arc<Counters>) -> Self {
        Connection {
            scope,
            counters,
            node: None,
            next_nonce: 0,
            subscriptions: BTreeMap::new(),
            sent_clusters: Resources::new(),
            routable_clusters: Resources::new(),
            warming: false,
        }
    }

    /// The id of the Envoy node on the other end, once it said it.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The last version of `ty` this connection's Envoy ACKed.
    pub fn acked_version(&self, ty: ResourceType) -> Option<&str> {
        self.subscriptions.get(&ty)?.acked_version.as_deref()
    }

    /// Handles one request from Envoy; returns the responses to send (zero or one).
    pub fn handle_request(&mut self, req: &DiscoveryRequest, view: &StoreView) -> Vec<SotwAnswer> {
        note_node(&mut self.node, req.node.as_ref(), self.scope, "xDS");
        let Some(ty) = self.request_type(&req.type_url) else {
            return Vec::new();
        };
        let names = Names::from_request(ty, &req.resource_names);
        let sub = self
            .subscriptions
            .entry(ty)
            .or_insert_with(|| Subscription::new(names.clone()));
        let verdict = verdict(sub, req);
        match verdict {
            Verdict::Stale => {
                tracing::debug!(node = self.node.as_deref().unwrap_or_default(), type_url = ty.type_url(), nonce = %req.response_nonce, "ignoring request with stale nonce");
                return Vec::new();
            }
            Verdict::Subscribe => sub.owed = true,
            Verdict::Ack => {
                self.counters.ack_received(ty);
                sub.acked_version = Some(req.version_info.clone());
                if ty == ResourceType::Cluster {
                    self.routable_clusters = self.sent_clusters.clone();
                }
            }
            Verdict::Nack => {
                self.counters.nack_received(ty);
                log_nack(self.node.as_deref(), ty, sub, req);
            }
        }
        if sub.names != names {
            sub.names = names;
            sub.owed = true;
        }
        if ty == ResourceType::Cluster && matches!(verdict, Verdict::Ack | Verdict::Nack) {
            // The clusters of the last response have warmed (or were refused): what waited
            // for them may go.
            self.warming = false;
        }
        // One pass in push order answers this request along with any change not sent yet.
        self.handle_snapshot_update(view)
    }

    /// Handles a change of the store; returns the responses to send, in ADS push order.
    pub fn handle_snapshot_update(&mut self, view: &StoreView) -> Vec<SotwAnswer> {
        if !view.is_ready() {
            return Vec::new();
        }
        let types: Vec<ResourceType> = self.subscriptions.keys().copied().collect();
        let mut responses = Vec::new();
        let mut removals = false;
        for ty in types {
            if self.warming && names_clusters(ty) {
                // Held: the next pass sends the latest content.
                continue;
            }
            let had_clusters = ty == ResourceType::Cluster
                && self
                    .subscriptions
                    .get(&ty)
                    .is_some_and(|s| s.sent.is_some());
            let (response, refresh) = if had_clusters {
                match self.cluster_change(view) {
                    ClusterChange::None => (None, false),
                    ClusterChange::Warms(response, refresh) => (Some(*response), refresh),
                    ClusterChange::Removes => {
                        removals = true;
                        (None, false)
                    }
                }
            } else {
                (self.respond(ty, view), false)
            };
            let Some(response) = response else {
                continue;
            };
            responses.push(response);
            if refresh {
                self.owe_endpoints();
            }
        }
        if removals && !self.warming {
            responses.extend(self.respond(ResourceType::Cluster, view));
        }
        responses
    }

    /// What a store change does to the clusters of a subscription answered before. New or
    /// modified clusters are sent at once, together with the clusters dropped since the last
    /// response that the routes Envoy holds may still name; removals alone wait for the
    /// types that name clusters.
    ///
    /// A dropped cluster is kept only in a form routes may name (`routable_clusters`). One
    /// added or modified by a response Envoy has not answered yet (a burst of changes) is
    /// still warming, and no route sent names it in that form. Kept, it would go on warming on
    /// endpoints the store no longer has, and hold every route back for Envoy's initial fetch
    /// timeout (15 s).
    fn cluster_change(&mut self, view: &StoreView) -> ClusterChange {
        let Some(sub) = self.subscriptions.get_mut(&ResourceType::Cluster) else {
            return ClusterChange::None;
        };
        let set = view.get(ResourceType::Cluster);
        if sub.owed {
            return self
                .respond(ResourceType::Cluster, view)
                .map_or(ClusterChange::None, |r| {
                    ClusterChange::Warms(Box::new(r), true)
                });
        }
        if sub.seen == Some(set.serial()) {
            return ClusterChange::None;
        }
        let mut clusters = selection(set, &sub.names);
        let (mut warms, mut modified) = (false, false);
        let mut added = Vec::new();
        // Whether any cluster was dropped, and the dropped ones the union keeps.
        let (mut dropped, mut kept) = (false, Vec::new());
        for item in self.sent_clusters.diff(&clusters) {
            match item {
                imbl::ordmap::DiffItem::Remove(name, cluster) => {
                    dropped = true;
                    if (self.routable_clusters.get(name))
                        .is_some_and(|r| r.digest() == cluster.digest())
                    {
                        kept.push((name.clone(), Arc::clone(cluster)));
                    }
                }
                imbl::ordmap::DiffItem::Add(_, cluster) => {
                    warms = true;
                    added.push(Arc::clone(cluster));
                }
                // A modified cluster warms on the next endpoints Envoy receives.
                imbl::ordmap::DiffItem::Update { .. } => (warms, modified) = (true, true),
            }
        }
        match (warms, dropped) {
            (false, false) => {
                sub.seen = Some(set.serial());
                return ClusterChange::None;
            }
            (false, true) => return ClusterChange::Removes,
            (true, false) => sub.seen = Some(set.serial()),
            // The final set is still owed: the next pass compares again.
            (true, true) => sub.seen = None,
        }
        let digest = if kept.is_empty() {
            selection_digest(set, &sub.names, &clusters)
        } else {
            clusters.extend(kept);
            resources_digest(&clusters)
        };
        let refresh = modified || self.endpoints_held(&added);
        match self.send_clusters(clusters, digest) {
            Some(response) => {
                self.warming = true;
                ClusterChange::Warms(Box::new(response), refresh)
            }
            None => ClusterChange::None,
        }
    }

    /// Whether any of these new clusters reads endpoints Envoy subscribed to already: such a
    /// cluster adds no name to Envoy's endpoint subscription, so Envoy asks for nothing, and
    /// it warms only on endpoints sent again. A cluster with endpoints of its own makes Envoy
    /// ask for them, which answers it at once.
    fn endpoints_held(&self, added: &[Arc<crate::store::Resource>]) -> bool {
        let Some(eds) = self.subscriptions.get(&ResourceType::ClusterLoadAssignment) else {
            return false;
        };
        match &eds.names {
            Names::Wildcard => true,
            Names::Named(names) => added
                .iter()
                .filter_map(|c| eds_service_name(c.value()))
                .any(|name| names.contains(&name)),
        }
    }

    /// After a change of clusters, the endpoints are sent again even when they did not change:
    /// Envoy warms a modified cluster on the endpoints it receives next, and without them waits
    /// out its initial fetch timeout (15 s) before the cluster serves. Clusters go first in push
    /// order, so the endpoints follow in the same update.
    fn owe_endpoints(&mut self) {
        if let Some(eds) = self
            .subscriptions
            .get_mut(&ResourceType::ClusterLoadAssignment)
            && eds.sent.is_some()
        {
            eds.owed = true;
        }
    }

    /// The resource type a request is about, if this stream serves it over state of the world.
    fn request_type(&self, type_url: &str) -> Option<ResourceType> {
        let ty = self.scope.request_type(type_url, self.node.as_deref());
        if let Some(ty) = ty.filter(|t| t.is_delta_only()) {
            tracing::warn!(
                node = self.node.as_deref().unwrap_or_default(),
                type_url = ty.type_url(),
                "ignoring a state-of-the-world request for a type served over delta xDS only"
            );
            return None;
        }
        ty
    }

    /// The response for `ty` if one is owed or its content changed since the last one sent.
    fn respond(&mut self, ty: ResourceType, view: &StoreView) -> Option<SotwAnswer> {
        let sub = self.subscriptions.get_mut(&ty)?;
        let set = view.get(ty);
        if !sub.owed && sub.seen == Some(set.serial()) {
            return None;
        }
        sub.seen = Some(set.serial());
        if ty == ResourceType::Cluster {
            let clusters = selection(set, &sub.names);
            let digest = selection_digest(set, &sub.names, &clusters);
            // Sent without holding the routes back: the routes that go with it may name these.
            let response = self.send_clusters(clusters, digest)?;
            self.routable_clusters = self.sent_clusters.clone();
            return Some(response);
        }
        let (resources, digest) = select(set, &sub.names);
        self.send(ty, digest, || resources.into_iter().cloned().collect())
    }

    /// Sends `clusters` unless they are what was last sent and no response is owed, and
    /// remembers them as the clusters Envoy holds.
    fn send_clusters(&mut self, clusters: Resources, digest: Digest) -> Option<SotwAnswer> {
        let response = self.send(ResourceType::Cluster, digest, || {
            clusters.values().cloned().collect()
        })?;
        self.sent_clusters = clusters;
        Some(response)
    }

    /// Sends the resources of `ty` that `digest` stands for, listed by `resources`, unless they
    /// are what was last sent and no response is owed.
    fn send(
        &mut self,
        ty: ResourceType,
        digest: Digest,
        resources: impl FnOnce() -> Vec<Arc<Resource>>,
    ) -> Option<SotwAnswer> {
        let sub = self.subscriptions.get_mut(&ty)?;
        let unchanged = sub.sent.as_ref().is_some_and(|s| s.digest == digest);
        if !sub.owed && unchanged {
            return None;
        }
        sub.owed = false;
        self.next_nonce += 1;
        let sent = Sent {
            nonce: self.next_nonce.to_string(),
            version: version_string(&digest),
            digest,
        };
        let resources = resources();
        tracing::debug!(node = self.node.as_deref().unwrap_or_default(), type_url = ty.type_url(), version = %sent.version, nonce = %sent.nonce, count = resources.len(), "sending xDS response");
        self.counters.response_sent(ty);
        self.counters.resources_sent(ty, resources.len());
        let rest = DiscoveryResponse {
            type_url: ty.type_url().to_string(),
            nonce: sent.nonce.clone(),
            control_plane: Some(ControlPlane {
                identifier: CONTROL_PLANE.to_string(),
            }),
            ..Default::default()
        };
        let response = SotwAnswer::new(sent.version.clone(), resources, rest);
        sub.sent = Some(sent);
        Some(response)
    }
}

/// The connection's answers as its client decodes them: what the tests look at.
#[cfg(test)]
impl Connection {
    /// [`Self::handle_request`], decoded.
    pub(crate) fn decoded_request(
        &mut self,
        req: &DiscoveryRequest,
        view: &StoreView,
    ) -> Vec<DiscoveryResponse> {
        crate::testing::decoded(self.handle_request(req, view))
    }

    /// [`Self::handle_snapshot_update`], decoded.
    pub(crate) fn decoded_update(&mut self, view: &StoreView) -> Vec<DiscoveryResponse> {
        crate::testing::decoded(self.handle_snapshot_update(view))
    }
}

/// Whether resources of `ty` can name clusters (and so wait while clusters warm).
pub(crate) fn names_clusters(ty: ResourceType) -> bool {
    matches!(
        ty,
        ResourceType::Listener
            | ResourceType::RouteConfiguration
            | ResourceType::VirtualHost
            | ResourceType::ScopedRouteConfiguration
    )
}

/// How a request relates to the last response sent for its type.
fn verdict(sub: &Subscription, req: &DiscoveryRequest) -> Verdict {
    match &sub.sent {
        // No nonce: a new subscription. A nonce when nothing was sent on this stream: it answers
        // another server (before a restart), so treat it as a new subscription too.
        _ if req.response_nonce.is_empty() => Verdict::Subscribe,
        None => Verdict::Subscribe,
        Some(sent) if sent.nonce != req.response_nonce => Verdict::Stale,
        Some(_) if req.error_detail.is_some() => Verdict::Nack,
        Some(_) => Verdict::Ack,
    }
}

/// Logs a NACK with everything needed to find the rejected resource.
fn log_nack(node: Option<&str>, ty: ResourceType, sub: &Subscription, req: &DiscoveryRequest) {
    let rejected = sub.sent.as_ref().map(|s| s.version.as_str());
    let (code, message) = req
        .error_detail
        .as_ref()
        .map(|e| (e.code, e.message.as_str()))
        .unwrap_or_default();
    tracing::warn!(
        node = node.unwrap_or_default(),
        type_url = ty.type_url(),
        rejected_version = rejected.unwrap_or_default(),
        version_in_use = %req.version_info,
        nonce = %req.response_nonce,
        code,
        error = message,
        "Envoy rejected resources (NACK); not resending them until they change"
    );
}

/// The resources of `set` a subscription selects, as a table: for a wildcard, the whole of it
/// (a cheap clone).
fn selection(set: &TypeSnapshot, names: &Names) -> Resources {
    match names {
        Names::Wildcard => set.resources().clone(),
        Names::Named(names) => names
            .iter()
            .filter_map(|n| set.resources().get_key_value(n))
            .map(|(n, r)| (n.clone(), Arc::clone(r)))
            .collect(),
    }
}

/// The digest of a [`selection`]: for a wildcard, the type's.
fn selection_digest(set: &TypeSnapshot, names: &Names, selected: &Resources) -> Digest {
    match names {
        Names::Wildcard => *set.digest(),
        Names::Named(_) => resources_digest(selected),
    }
}

/// The resources a subscription selects and the digest of that selection. A wildcard selects
/// the whole type, so its digest is the type's version.
fn select<'a>(set: &'a TypeSnapshot, names: &Names) -> (Vec<&'a Arc<Resource>>, Digest) {
    match names {
        Names::Wildcard => (set.resources().values().collect(), *set.digest()),
        Names::Named(names) => {
            let selected: Vec<_> = names
                .iter()
                .filter_map(|n| set.resources().get_key_value(n))
                .collect();
            let digest = set_digest(selected.iter().map(|(n, r)| (n.as_str(), r.digest())));
            (selected.into_iter().map(|(_, r)| r).collect(), digest)
        }
    }
}

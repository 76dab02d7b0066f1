//! Incremental builds: after a change to a few objects, only the part of the output that
//! depends on them is built again, and the result equals a full [`build`](crate::build()).
//!
//! The Ingresses and HTTPProxies served are split into *parts*: objects that put routes or a
//! certificate on the same host (a duplicate fqdn, several Ingresses on one host, TLS claims),
//! or that are tied by an include (a child included by two roots ties both), are in one part,
//! directly or through others. A part's output (its virtual hosts, the statuses of its
//! objects, the clusters, Secrets and references it needs) depends only on its objects and on
//! the Services and Secrets it looks up in the snapshot. A change rebuilds the parts that held
//! the changed object, that it joins (by its new hosts and includes), or that looked the
//! changed Service or Secret up, with the same builder as [`build`](crate::build())
//! restricted to their objects, and splices the result into the output. Entries several parts share (clusters,
//! Secrets, references, the statuses of Services) are counted, and go when the last part
//! holding them does.
//!
//! An ExtensionService is a part of its own (its status and cluster); the parts that use it
//! record a reference to it, as to a Service, and are rebuilt with it.
//!
//! A TLSCertificateDelegation rebuilds the parts that read the delegations of its namespace
//! (for a Secret of that namespace used from another one), and its own status.
//!
//! An IngressClass rebuilds the objects that name its class (served or not), as if they had
//! changed: it decides whether they are served at all.
//!
//! The Gateway API objects (GatewayClasses, the served Gateway, its ListenerSets, every route
//! kind, ReferenceGrants, BackendTLSPolicies) and Namespaces (listener selectors read their
//! labels) make one more part, built on its own: a change to any of them, or to a Service or
//! Secret it looked up, rebuilds it (in the same splice as the other parts the change
//! rebuilds).
//!
//! A full build is done instead when the Secret of the Envoy client certificate changes
//! (`tls.envoy-client-certificate`, which every part checks for its TLS clusters). The
//! fallback certificate is an ordinary Secret here: only the parts whose hosts enable it look
//! it up. A new [`BuildConfig`] is a new [`IncrementalBuild`]. Changes to EndpointSlices and
//! Endpoints never change the output.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::build::{BuildConfig, BuildOutput, ClientCertificate, build_part, client_certificate};
use crate::collections::{VecSet, pack};
use crate::delegation;
use crate::object::{Kind, ObjectKey};
use crate::snapshot::Snapshot;
use crate::status::StatusReport;

mod partition;
mod splice;

use partition::Node;
use splice::{Counts, Keys, Splice};

/// A build kept up to date change by change, its output always equal to
/// [`build`](crate::build())`(snapshot, config)`.
///
/// A change to an Ingress, HTTPProxy, Service, Secret, TLSCertificateDelegation,
/// ExtensionService or IngressClass rebuilds only the objects that depend on it (see the [module](crate::incremental) docs);
/// EndpointSlices and Endpoints rebuild nothing. Only a change to the Secret of the Envoy
/// client certificate (config `tls.envoy-client-certificate`) builds everything again, as
/// [`IncrementalBuild::new`] does; the [`BuildDelta`] then says `full`.
#[derive(Clone, Debug)]
pub struct IncrementalBuild {
    /// The installation's settings (they never change: a new config is a new build).
    config: BuildConfig,
    /// The Envoy client certificate, checked once for every part.
    client: ClientCertificate,
    /// The output, the sum of the parts.
    output: BuildOutput,
    /// How many parts hold each entry of the output.
    counts: Counts,
    /// The parts, by id (boxed: a map bucket holds a pointer, not a whole part, and a map
    /// keeps about half its buckets empty).
    parts: HashMap<u64, Box<Part>>,
    /// The id the next part gets.
    next_id: u64,
    /// The part of each Ingress and HTTPProxy served, and of each ExtensionService.
    part_of: HashMap<ObjectKey, u64>,
    /// The part whose objects touch each node.
    owner: HashMap<Node, u64>,
    /// The parts that looked up each Service, Secret and ExtensionService.
    readers: HashMap<ObjectKey, VecSet<u64>>,
    /// The parts that read the TLSCertificateDelegations of each namespace.
    delegation_readers: HashMap<String, VecSet<u64>>,
    /// The Ingresses and HTTPProxies of the snapshot that name each class, served or not.
    classes: HashMap<String, BTreeSet<ObjectKey>>,
    /// The class each of them names.
    class_of: HashMap<ObjectKey, String>,
    /// What the Gateway API part (the served Gateway and its routes, built as one) put in the
    /// output; it is rebuilt when a Gateway API object, or a Service or Secret it looked up,
    /// changes.
    gateway: Keys,
}

/// Objects built together, and what they put in the output.
#[derive(Clone, Debug)]
struct Part {
    /// The Ingresses and HTTPProxies.
    members: Box<[ObjectKey]>,
    /// The nodes they touch, sorted.
    nodes: Box<[Node]>,
    /// The namespaces whose TLSCertificateDelegations they read.
    delegations: BTreeSet<String>,
    /// The keys of what they put in the output.
    keys: Keys,
}

/// What an [`IncrementalBuild::update`] changed: the keys of the entries of the output added,
/// changed or removed (an entry absent from the new output was removed). Exactly those: an
/// entry rebuilt to the same value is not named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildDelta {
    /// The whole output was built again (the sets still name only what differs).
    pub full: bool,
    /// Plain-HTTP virtual hosts, by hostname.
    pub http: BTreeSet<String>,
    /// Secure virtual hosts, by hostname.
    pub https: BTreeSet<String>,
    /// Passed-through hosts, by hostname.
    pub passthrough: BTreeSet<String>,
    /// Gateway listeners, by Envoy listener name.
    pub gateway_listeners: BTreeSet<String>,
    /// Clusters, by name.
    pub clusters: BTreeSet<String>,
    /// TLS Secrets, by SDS name.
    pub secrets: BTreeSet<String>,
    /// The fallback certificate's SDS name changed.
    pub fallback_secret: bool,
    /// Services and Secrets that became, or stopped being, referenced.
    pub references: BTreeSet<ObjectKey>,
    /// Object statuses.
    pub status: BTreeSet<ObjectKey>,
}

impl BuildDelta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
            && self.https.is_empty()
            && self.passthrough.is_empty()
            && self.gateway_listeners.is_empty()
            && self.clusters.is_empty()
            && self.secrets.is_empty()
            && !self.fallback_secret
            && self.references.is_empty()
            && self.status.is_empty()
    }

    /// Adds the changes of a later update: together they name what changed across both.
    pub fn merge(&mut self, later: BuildDelta) {
        self.full |= later.full;
        self.http.extend(later.http);
        self.https.extend(later.https);
        self.passthrough.extend(later.passthrough);
        self.gateway_listeners.extend(later.gateway_listeners);
        self.clusters.extend(later.clusters);
        self.secrets.extend(later.secrets);
        self.fallback_secret |= later.fallback_secret;
        self.references.extend(later.references);
        self.status.extend(later.status);
    }

    /// What differs between two outputs, entry by entry (`full` is left false).
    pub fn between(old: &BuildOutput, new: &BuildOutput) -> BuildDelta {
        BuildDelta {
            full: false,
            http: differ(&old.dag.http, &new.dag.http),
            https: differ(&old.dag.https, &new.dag.https),
            passthrough: differ(&old.dag.passthrough, &new.dag.passthrough),
            gateway_listeners: differ(&old.dag.gateway_listeners, &new.dag.gateway_listeners),
            clusters: differ(&old.dag.clusters, &new.dag.clusters),
            secrets: differ(&old.dag.secrets, &new.dag.secrets),
            fallback_secret: old.dag.fallback_secret != new.dag.fallback_secret,
            references: old
                .dag
                .references
                .symmetric_difference(&new.dag.references)
                .cloned()
                .collect(),
            status: differ(&old.status.objects, &new.status.objects),
        }
    }
}

/// The keys whose entries differ between two maps.
fn differ<K: Ord + Clone, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> BTreeSet<K> {
    let changed = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone());
    let added = b.keys().filter(|k| !a.contains_key(*k)).cloned();
    changed.chain(added).collect()
}

impl BuildOutput {
    /// Rebuilds the output's maps from their sorted entries. The first build fills them one
    /// key at a time in key order, which leaves each B-tree node a little over half full;
    /// built in bulk, the nodes are full, and the same entries take ~40 % less memory (a
    /// cluster's 296 bytes sit inline in its map's node).
    fn pack(&mut self) {
        let dag = &mut self.dag;
        pack(&mut dag.http);
        pack(&mut dag.https);
        pack(&mut dag.clusters);
        pack(&mut dag.secrets);
        pack(&mut dag.passthrough);
        pack(&mut dag.gateway_listeners);
        pack(&mut dag.references);
        pack(&mut self.status.objects);
    }
}

impl IncrementalBuild {
    /// A full build, keeping what incremental updates need.
    pub fn new(snapshot: &Snapshot, config: &BuildConfig) -> Self {
        let client = client_certificate(snapshot, config);
        let (mut base_output, _) = build_part(snapshot, config, &client, &BTreeSet::new());
        delegation::delegation_status(snapshot, &mut base_output.status);
        let mut incremental = IncrementalBuild {
            config: config.clone(),
            client,
            output: BuildOutput::default(),
            counts: Counts::default(),
            parts: HashMap::new(),
            next_id: 0,
            part_of: HashMap::new(),
            owner: HashMap::new(),
            readers: HashMap::new(),
            delegation_readers: HashMap::new(),
            classes: HashMap::new(),
            class_of: HashMap::new(),
            gateway: Keys::default(),
        };
        let named = snapshot
            .ingresses
            .keys()
            .map(|name| ObjectKey::new(Kind::Ingress, name.clone()))
            .chain(
                (snapshot.httpproxies.keys())
                    .map(|name| ObjectKey::new(Kind::HTTPProxy, name.clone())),
            );
        for key in named {
            incremental.track_class(snapshot, &key);
        }
        // What no part puts in the output: the statuses of TLSCertificateDelegations and the
        // reference to the client certificate. Only a full build changes them.
        let mut splice = Splice::new(
            &mut incremental.output,
            &mut incremental.counts,
            Vec::new(),
            None,
        );
        splice.add(base_output);
        splice.finish();
        let objects = partition::all_nodes(snapshot, config);
        incremental.rebuild(snapshot, Vec::new(), objects, true, None);
        incremental.output.pack();
        incremental
    }

    /// The current output (equal to [`build`](crate::build())`(snapshot, config)`).
    pub fn output(&self) -> &BuildOutput {
        &self.output
    }

    /// The config the build uses.
    pub fn config(&self) -> &BuildConfig {
        &self.config
    }

    /// Brings the output up to date after the objects `changed` changed in `snapshot` (the
    /// changes already applied, deletes included), and says what changed in it. `changed` must
    /// name every object changed since the last update; naming one that did not change only
    /// costs the rebuild of its part.
    pub fn update(&mut self, snapshot: &Snapshot, changed: &[ObjectKey]) -> BuildDelta {
        if changed.iter().any(|k| self.is_global(k)) {
            return self.full(snapshot);
        }
        // The objects of a changed IngressClass may have been served, or not, and may now be
        // the other way: they are rebuilt as if changed.
        let of_classes: Vec<ObjectKey> = changed
            .iter()
            .filter(|k| k.kind == Kind::IngressClass)
            .filter_map(|k| self.classes.get(&*k.name.name))
            .flatten()
            .cloned()
            .collect();
        let mut affected: BTreeSet<u64> = BTreeSet::new();
        let mut delegations: BTreeSet<&ObjectKey> = BTreeSet::new();
        let mut fresh: BTreeMap<&ObjectKey, Option<Vec<Node>>> = BTreeMap::new();
        for key in changed.iter().chain(&of_classes) {
            match key.kind {
                Kind::Ingress | Kind::HTTPProxy => {
                    self.track_class(snapshot, key);
                    affected.extend(self.part_of.get(key));
                    // The new nodes of an HTTPProxy hold its own name: the parts that include
                    // it are found by it.
                    let nodes = partition::nodes(snapshot, &self.config, key);
                    for node in nodes.iter().flatten() {
                        affected.extend(self.owner.get(node));
                    }
                    fresh.insert(key, nodes);
                }
                Kind::Service | Kind::Secret => {
                    affected.extend(self.readers.get(key).into_iter().flatten());
                }
                Kind::ExtensionService => {
                    // Its own part, and the parts of the HTTPProxies that use it.
                    affected.extend(self.part_of.get(key));
                    affected.extend(self.readers.get(key).into_iter().flatten());
                    fresh.insert(key, partition::nodes(snapshot, &self.config, key));
                }
                Kind::TLSCertificateDelegation => {
                    let readers = self.delegation_readers.get(&*key.name.namespace);
                    affected.extend(readers.into_iter().flatten());
                    delegations.insert(key);
                }
                Kind::EndpointSlice
                | Kind::Endpoints
                | Kind::IngressClass
                | Kind::GatewayClass
                | Kind::Gateway
                | Kind::HTTPRoute
                | Kind::ReferenceGrant
                | Kind::GRPCRoute
                | Kind::TLSRoute
                | Kind::TCPRoute
                | Kind::BackendTLSPolicy
                | Kind::ListenerSet
                | Kind::Namespace
                | Kind::ConfigMap => {}
            }
        }
        let mut delta = BuildDelta::default();
        let gateway = changed.iter().any(|k| self.gateway_reads(k));
        for key in delegations {
            let mut status = StatusReport::default();
            if let Some(delegation) = snapshot.tls_certificate_delegations.get(&key.name) {
                delegation::delegation_status_of(&key.name, delegation, &mut status);
            }
            let status = status.objects.remove(key);
            splice::set_status(&mut self.output, &mut self.counts, key, status, &mut delta);
        }
        let mut objects: BTreeMap<ObjectKey, Vec<Node>> = BTreeMap::new();
        for id in &affected {
            for member in self.parts.get(id).into_iter().flat_map(|p| &p.members) {
                // An object that did not change touches the same nodes as when it was built.
                if !fresh.contains_key(member) {
                    let nodes = partition::nodes(snapshot, &self.config, member);
                    objects.insert(member.clone(), nodes.unwrap_or_default());
                }
            }
        }
        for (key, nodes) in fresh {
            if let Some(nodes) = nodes {
                objects.insert(key.clone(), nodes);
            }
        }
        if affected.is_empty() && objects.is_empty() && !gateway {
            return delta;
        }
        self.rebuild(
            snapshot,
            affected.into_iter().collect(),
            objects,
            gateway,
            Some(&mut delta),
        );
        delta
    }

    /// Whether a change to `key` may change the Gateway API part: a Gateway API object, a
    /// Namespace (listeners select routes by namespace labels), or a Service, Secret or
    /// ConfigMap it looked up.
    fn gateway_reads(&self, key: &ObjectKey) -> bool {
        match key.kind {
            Kind::GatewayClass
            | Kind::Gateway
            | Kind::HTTPRoute
            | Kind::ReferenceGrant
            | Kind::GRPCRoute
            | Kind::TLSRoute
            | Kind::TCPRoute
            | Kind::BackendTLSPolicy
            | Kind::ListenerSet
            | Kind::Namespace => true,
            Kind::Service | Kind::Secret | Kind::ConfigMap => self.gateway.references.contains(key),
            _ => false,
        }
    }

    /// Whether a change to `key` may change every part: the Secret of the Envoy client
    /// certificate.
    fn is_global(&self, key: &ObjectKey) -> bool {
        key.kind == Kind::Secret
            && self.config.upstream.client_certificate.as_ref() == Some(&key.name)
    }

    /// Files the Ingress or HTTPProxy `key` under the class it names in `snapshot` (none when
    /// it is gone or names none).
    fn track_class(&mut self, snapshot: &Snapshot, key: &ObjectKey) {
        if let Some(old) = self.class_of.remove(key)
            && let Some(keys) = self.classes.get_mut(&old)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.classes.remove(&old);
            }
        }
        if let Some(class) = partition::class_of(snapshot, key) {
            self.classes
                .entry(class.clone())
                .or_default()
                .insert(key.clone());
            self.class_of.insert(key.clone(), class);
        }
    }

    /// Builds everything again, from scratch.
    fn full(&mut self, snapshot: &Snapshot) -> BuildDelta {
        let fresh = IncrementalBuild::new(snapshot, &self.config);
        let old = std::mem::replace(self, fresh);
        BuildDelta {
            full: true,
            ..BuildDelta::between(&old.output, &self.output)
        }
    }

    /// Replaces the parts `old` by parts built from `objects` (their members and the objects
    /// that joined them, with their nodes), grouped anew, and with `gateway` the Gateway API
    /// part too (in the same splice, so that an entry moving between parts is no change).
    fn rebuild(
        &mut self,
        snapshot: &Snapshot,
        old: Vec<u64>,
        objects: BTreeMap<ObjectKey, Vec<Node>>,
        gateway: bool,
        delta: Option<&mut BuildDelta>,
    ) {
        let mut old_keys: Vec<Keys> = old.iter().map(|id| self.forget(*id)).collect();
        if gateway {
            old_keys.push(std::mem::take(&mut self.gateway));
        }
        let groups = partition::groups(&objects);
        let mut objects = objects;
        // Each part goes into the output as soon as it is built: with thousands of parts (the
        // first build), holding every part's output at once would double the peak memory.
        let mut splice = Splice::new(&mut self.output, &mut self.counts, old_keys, delta);
        if gateway {
            let part = crate::gateway::gateway_part(snapshot, &self.config, &self.client);
            self.gateway = splice.add(part);
        }
        for members in groups {
            let (output, delegations) = build_part(snapshot, &self.config, &self.client, &members);
            let keys = splice.add(output);
            let id = self.next_id;
            self.next_id += 1;
            let mut nodes = BTreeSet::new();
            for member in &members {
                nodes.extend(objects.remove(member).unwrap_or_default());
                self.part_of.insert(member.clone(), id);
            }
            for node in &nodes {
                self.owner.insert(node.clone(), id);
            }
            for reference in &keys.references {
                self.readers
                    .entry(reference.clone())
                    .or_default()
                    .insert(id);
            }
            for namespace in &delegations {
                let readers = self.delegation_readers.entry(namespace.clone());
                readers.or_default().insert(id);
            }
            self.parts.insert(
                id,
                Box::new(Part {
                    members: members.into_iter().collect(),
                    nodes: nodes.into_iter().collect(),
                    delegations,
                    keys,
                }),
            );
        }
        splice.finish();
    }

    /// Removes part `id` from the indexes and returns the keys of what it put in the output.
    fn forget(&mut self, id: u64) -> Keys {
        let Some(part) = self.parts.remove(&id) else {
            return Keys::default();
        };
        for member in &part.members {
            self.part_of.remove(member);
        }
        for node in &part.nodes {
            if self.owner.get(node) == Some(&id) {
                self.owner.remove(node);
            }
        }
        for reference in &part.keys.references {
            if let Some(readers) = self.readers.get_mut(reference) {
                readers.remove(&id);
                if readers.is_empty() {
                    self.readers.remove(reference);
                }
            }
        }
        for namespace in &part.delegations {
            if let Some(readers) = self.delegation_readers.get_mut(namespace) {
                readers.remove(&id);
                if readers.is_empty() {
                    self.delegation_readers.remove(namespace);
                }
            }
        }
        part.keys
    }
}

#[cfg(test)]
mod random_tests;
#[cfg(test)]
mod tests;

//! What ties objects together in a build: the hosts they put routes or certificates on and the
//! HTTPProxies they include. Objects tied together, directly or through others, are built
//! together; everything else they read (Services, Secrets) they only look up.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::object::compact::Ingress;
use sesame_api::HTTPProxy;

use crate::build::BuildConfig;
use crate::hostname;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::snapshot::Snapshot;

/// Something two objects may both touch, which makes the build of one depend on the other.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Node {
    /// A host name (`*` for any host): its routes, its certificate and its fqdn claims.
    Host(String),
    /// An HTTPProxy by name, whether it exists or not: the object itself and its includers.
    Proxy(NamespacedName),
}

/// The nodes `key` touches as it is in `snapshot`, or `None` when it is absent, not served (by
/// class), or of a kind that is never built (Services and Secrets are only looked up). An
/// ExtensionService is built on its own and touches no node: its users find it by reference. A
/// superset of what the build touches: hosts of TLS sections with a bad Secret and includes of
/// unreached HTTPProxies count too.
pub(crate) fn nodes(
    snapshot: &Snapshot,
    config: &BuildConfig,
    key: &ObjectKey,
) -> Option<Vec<Node>> {
    match key.kind {
        Kind::Ingress => {
            let ingress = snapshot.ingresses.get(&key.name)?;
            config
                .serves_ingress(ingress, snapshot)
                .then(|| ingress_nodes(ingress))
        }
        Kind::HTTPProxy => {
            let proxy = snapshot.httpproxies.get(&key.name)?;
            config
                .serves_httpproxy(proxy, snapshot)
                .then(|| proxy_nodes(&key.name, proxy))
        }
        Kind::ExtensionService => snapshot
            .extension_services
            .contains_key(&key.name)
            .then(Vec::new),
        _ => None,
    }
}

/// The Ingress class `key` names (annotation or `spec.ingressClassName`), if it is an Ingress
/// or an HTTPProxy of `snapshot` that names one.
pub(crate) fn class_of(snapshot: &Snapshot, key: &ObjectKey) -> Option<String> {
    let class = match key.kind {
        Kind::Ingress => snapshot.ingresses.get(&key.name)?.class(),
        Kind::HTTPProxy => crate::build::httpproxy_class(snapshot.httpproxies.get(&key.name)?),
        _ => None,
    };
    class.map(str::to_string)
}

/// Every Ingress and HTTPProxy served, and every ExtensionService, with its nodes.
pub(crate) fn all_nodes(
    snapshot: &Snapshot,
    config: &BuildConfig,
) -> BTreeMap<ObjectKey, Vec<Node>> {
    let ingresses = snapshot
        .ingresses
        .iter()
        .filter(|(_, ingress)| config.serves_ingress(ingress, snapshot))
        .map(|(name, ingress)| {
            (
                ObjectKey::new(Kind::Ingress, name.clone()),
                ingress_nodes(ingress),
            )
        });
    let proxies = snapshot
        .httpproxies
        .iter()
        .filter(|(_, proxy)| config.serves_httpproxy(proxy, snapshot))
        .map(|(name, proxy)| {
            (
                ObjectKey::new(Kind::HTTPProxy, name.clone()),
                proxy_nodes(name, proxy),
            )
        });
    let extensions = snapshot.extension_services.keys().map(|name| {
        (
            ObjectKey::new(Kind::ExtensionService, name.clone()),
            Vec::new(),
        )
    });
    ingresses.chain(proxies).chain(extensions).collect()
}

fn host_node(raw: Option<&str>) -> Option<Node> {
    match raw {
        None | Some("") => Some(Node::Host("*".to_string())),
        Some(raw) => hostname::parse(raw)
            .ok()
            .map(|h| Node::Host(h.into_owned())),
    }
}

fn ingress_nodes(ingress: &Ingress) -> Vec<Node> {
    let mut nodes = Vec::new();
    let Some(spec) = ingress.spec.as_ref() else {
        return nodes;
    };
    if spec.default_backend.is_some() {
        nodes.push(Node::Host("*".to_string()));
    }
    for rule in spec.rules.iter().flatten() {
        nodes.extend(host_node(rule.host.as_deref()));
    }
    for section in spec.tls.iter().flatten() {
        for raw in section.hosts.iter().flatten() {
            // An empty or bare `*` TLS host claims nothing.
            if let Ok(host) = hostname::parse(raw) {
                nodes.push(Node::Host(host.into_owned()));
            }
        }
    }
    nodes.sort();
    nodes.dedup();
    nodes
}

fn proxy_nodes(name: &NamespacedName, proxy: &HTTPProxy) -> Vec<Node> {
    let mut nodes = vec![Node::Proxy(name.clone())];
    let spec = &proxy.spec;
    if let Some(fqdn) = spec.virtualhost.as_ref().and_then(|v| v.fqdn.as_deref())
        && let Ok(host) = hostname::parse(fqdn)
    {
        nodes.push(Node::Host(host.into_owned()));
    }
    let target = |namespace: Option<&str>, target: &str| {
        let namespace = namespace
            .filter(|n| !n.is_empty())
            .unwrap_or(&name.namespace);
        Node::Proxy(NamespacedName::new(namespace, target))
    };
    for include in &spec.includes {
        if let Some(child) = include.name.as_deref() {
            nodes.push(target(include.namespace.as_deref(), child));
        }
    }
    if let Some(tcp) = spec.tcpproxy.as_ref() {
        for include in [&tcp.include, &tcp.includes].into_iter().flatten() {
            let child = include.name.as_deref().unwrap_or_default();
            nodes.push(target(include.namespace.as_deref(), child));
        }
    }
    nodes.sort();
    nodes.dedup();
    nodes
}

/// Splits `objects` into groups tied by shared nodes (connected components), each in key
/// order, the groups in the order of their first member.
pub(crate) fn groups(objects: &BTreeMap<ObjectKey, Vec<Node>>) -> Vec<BTreeSet<ObjectKey>> {
    let keys: Vec<&ObjectKey> = objects.keys().collect();
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    let mut first: HashMap<&Node, usize> = HashMap::new();
    for (i, nodes) in objects.values().enumerate() {
        for node in nodes {
            match first.get(node) {
                Some(&j) => union(&mut parent, i, j),
                None => {
                    first.insert(node, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, BTreeSet<ObjectKey>> = BTreeMap::new();
    for (i, key) in keys.into_iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().insert(key.clone());
    }
    let mut groups: Vec<_> = groups.into_values().collect();
    groups.sort_by(|a, b| a.first().cmp(&b.first()));
    groups
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(parent, a), find(parent, b));
    if a != b {
        parent[a.max(b)] = a.min(b);
    }
}

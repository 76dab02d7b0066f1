//! Contour's HTTPProxy gauges: how many proxies each namespace holds, how many are roots, and
//! how many are valid, invalid or orphaned. Kept up to date from the statuses a build changed,
//! so a change costs what it touched, not a pass over every proxy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sesame_dag::status::Validity;
use sesame_dag::{BuildOutput, Kind, NamespacedName, ObjectKey, Snapshot};

/// A label naming a namespace.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabel {
    /// The namespace.
    pub namespace: String,
}

/// A label naming a namespace and a virtual host (empty for a proxy that is not a root).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VhostLabel {
    /// The namespace.
    pub namespace: String,
    /// The root proxy's fully qualified domain name, or empty.
    pub vhost: String,
}

/// What one HTTPProxy adds to the gauges.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Counted {
    namespace: String,
    /// Whether the proxy has a `virtualhost`.
    root: bool,
    /// The proxy's own `virtualhost.fqdn`, or empty.
    vhost: String,
    validity: Validity,
}

/// The HTTPProxy gauges and what each proxy adds to them.
#[derive(Clone, Default)]
pub struct ProxyGauges {
    total: Family<NamespaceLabel, Gauge>,
    root: Family<NamespaceLabel, Gauge>,
    valid: Family<VhostLabel, Gauge>,
    invalid: Family<VhostLabel, Gauge>,
    orphaned: Family<NamespaceLabel, Gauge>,
    counted: Arc<Mutex<HashMap<NamespacedName, Counted>>>,
}

impl ProxyGauges {
    /// Registers the gauges under Contour's names.
    pub fn register(&self, registry: &mut Registry) {
        for (name, help, family) in [
            ("httpproxy", "HTTPProxies, by namespace", &self.total),
            (
                "httpproxy_root",
                "Root HTTPProxies (with a virtual host), by namespace",
                &self.root,
            ),
            (
                "httpproxy_orphaned",
                "Orphaned HTTPProxies (no root includes them), by namespace",
                &self.orphaned,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        for (name, help, family) in [
            (
                "httpproxy_valid",
                "Valid HTTPProxies, by namespace and virtual host",
                &self.valid,
            ),
            (
                "httpproxy_invalid",
                "Invalid HTTPProxies, by namespace and virtual host",
                &self.invalid,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
    }

    /// Brings the gauges up to date with the statuses of `keys` after a build: every status
    /// after a full build, else the statuses the build changed.
    pub fn update<'a>(
        &self,
        snapshot: &Snapshot,
        output: &BuildOutput,
        keys: impl Iterator<Item = &'a ObjectKey>,
        full: bool,
    ) {
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        if full {
            for (_, was) in counted.drain() {
                self.add(&was, -1);
            }
        }
        for key in keys.filter(|k| k.kind == Kind::HTTPProxy) {
            let now = counted_of(snapshot, output, key);
            if counted.get(&key.name) == now.as_ref() {
                continue;
            }
            if let Some(was) = counted.remove(&key.name) {
                self.add(&was, -1);
            }
            if let Some(now) = now {
                self.add(&now, 1);
                counted.insert(key.name.clone(), now);
            }
        }
    }

    /// Adds one proxy's share (`by` = 1) or takes it away (`by` = -1); a series that falls to
    /// zero is removed, as Contour resets its gauges on each build.
    fn add(&self, proxy: &Counted, by: i64) {
        let namespace = NamespaceLabel {
            namespace: proxy.namespace.clone(),
        };
        bump(&self.total, &namespace, by);
        if proxy.root {
            bump(&self.root, &namespace, by);
        }
        let vhost = VhostLabel {
            namespace: proxy.namespace.clone(),
            vhost: proxy.vhost.clone(),
        };
        match proxy.validity {
            Validity::Valid => bump(&self.valid, &vhost, by),
            Validity::Invalid => bump(&self.invalid, &vhost, by),
            Validity::Orphaned => bump(&self.orphaned, &namespace, by),
        }
    }
}

/// What a proxy counts as now, or `None` when it is gone or has no status.
fn counted_of(snapshot: &Snapshot, output: &BuildOutput, key: &ObjectKey) -> Option<Counted> {
    let proxy = snapshot.httpproxies.get(&key.name)?;
    let status = output.status.objects.get(key)?;
    Some(Counted {
        namespace: key.name.namespace.to_string(),
        root: proxy.spec.virtualhost.is_some(),
        vhost: proxy
            .spec
            .virtualhost
            .as_ref()
            .and_then(|v| v.fqdn.clone())
            .unwrap_or_default(),
        validity: status.current,
    })
}

fn bump<L>(family: &Family<L, Gauge>, label: &L, by: i64)
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug,
{
    let after = family.get_or_create(label).inc_by(by) + by;
    if after <= 0 {
        family.remove(label);
    }
}

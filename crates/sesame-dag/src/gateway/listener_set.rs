//! ListenerSets: listeners other namespaces (or teams) add to a served Gateway.
//!
//! A ListenerSet whose `parentRef` is a served Gateway is attached when the Gateway's
//! `allowedListeners.namespaces` allow its namespace (`None`, the default, allows none; `Same`,
//! `All`, `Selector`). Its listeners join the Gateway's on the Envoy listeners of their ports and
//! are checked the same way, on their Gateway's address. Precedence decides conflicts: the
//! listeners of older Gateways (and their ListenerSets) first, then the Gateway's own
//! listeners, then its ListenerSets oldest first (creation time, then namespace and name), each listener
//! against every one before it; the later of two conflicting listeners is refused
//! (`Accepted=False`, `Conflicted=True`), the earlier one is served. Routes reach a ListenerSet's
//! listeners only through a parentRef of kind ListenerSet, and a parentRef to the Gateway only
//! its own listeners.

use std::borrow::Cow;
use std::net::IpAddr;

use sesame_gateway_api::gateway::{
    GatewayAllowedListenersNamespacesFrom as From, GatewayListeners,
};
use sesame_gateway_api::{Gateway, ListenerSet};

use super::{CertificateRef, GROUP, Listener, Owner, conflict, convert, listener, selector, set};
use crate::build::{Builder, GatewayConfig};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ParentRef,
};

/// A ListenerSet whose parent is a served Gateway, and whether the Gateway allows it.
pub(crate) struct AttachedSet<'a> {
    /// Its namespace and name.
    pub name: &'a NamespacedName,
    /// The object.
    pub set: &'a ListenerSet,
    /// Whether the Gateway's `allowedListeners` allow its namespace.
    pub allowed: bool,
}

/// Whether a ListenerSet's `parentRef` names the Gateway `gateway`.
fn parent_is(set_namespace: &str, set: &ListenerSet, gateway: &NamespacedName) -> bool {
    let parent = &set.spec.parent_ref;
    parent.group.as_deref().unwrap_or(GROUP) == GROUP
        && parent.kind.as_deref().unwrap_or("Gateway") == "Gateway"
        && parent.namespace.as_deref().unwrap_or(set_namespace) == &*gateway.namespace
        && parent.name == *gateway.name
}

/// The ListenerSets of the Gateway in precedence order, with their listeners (when allowed,
/// bound to the Gateway's `address`) appended to `listeners`, conflicts settled against every
/// listener before them.
pub(crate) fn add_listeners<'a>(
    snapshot: &'a crate::Snapshot,
    (gateway_name, gateway): (&'a NamespacedName, &'a Gateway),
    (config, address): (&GatewayConfig, Option<IpAddr>),
    listeners: &mut Vec<Listener<'a>>,
) -> Vec<AttachedSet<'a>> {
    let mut sets: Vec<(&NamespacedName, &ListenerSet)> = snapshot
        .listener_sets
        .iter()
        .filter(|(n, s)| parent_is(&n.namespace, s, gateway_name))
        .map(|(n, s)| (n, s.as_ref()))
        .collect();
    sets.sort_by(|a, b| {
        let created = |s: &ListenerSet| s.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a.1).cmp(&created(b.1)).then_with(|| a.0.cmp(b.0))
    });
    let allowed_namespaces = gateway
        .spec
        .allowed_listeners
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    let selected = allowed_namespaces
        .filter(|n| n.from == Some(From::Selector))
        .and_then(|n| n.selector.as_ref())
        .map(|s| selector::selected_namespaces(snapshot, s))
        .unwrap_or_default();
    let allows = |namespace: &str| match allowed_namespaces.and_then(|n| n.from.as_ref()) {
        Some(From::All) => true,
        Some(From::Same) => namespace == &*gateway_name.namespace,
        Some(From::Selector) => selected.contains(namespace),
        Some(From::None) | None => false,
    };
    let mut out = Vec::new();
    for (name, set) in sets {
        let allowed = allows(&name.namespace);
        out.push(AttachedSet { name, set, allowed });
        if !allowed {
            continue;
        }
        let owner = Owner {
            kind: "ListenerSet",
            name,
            gateway: gateway_name,
        };
        for spec in &set.spec.listeners {
            let mut l = match convert::<GatewayListeners>(spec, "listener").ok() {
                Some(converted) => listener(
                    Cow::Owned(converted),
                    super::first_certificate!(spec),
                    owner,
                    (config, address),
                ),
                None => continue,
            };
            if !settle_conflicts(&mut l, listeners) {
                l.conditions
                    .push(Condition::no(T::Conflicted, R::NoConflicts, "no conflicts"));
            }
            listeners.push(l);
        }
    }
    out
}

/// Refuses `l` when it conflicts with a valid listener before it; returns whether it did.
pub(super) fn settle_conflicts(l: &mut Listener<'_>, before: &[Listener<'_>]) -> bool {
    let reason = before
        .iter()
        .filter(|b| b.valid)
        .find_map(|b| conflict(l, b));
    let Some(reason) = reason else {
        return false;
    };
    l.valid = false;
    let message = format!(
        "listener {:?} conflicts with a listener of higher precedence on port {}",
        l.spec.name, l.spec.port
    );
    set(
        &mut l.conditions,
        Condition::no(T::Accepted, reason, message.clone()),
    );
    set(
        &mut l.conditions,
        Condition::no(T::Programmed, reason, message.clone()),
    );
    set(
        &mut l.conditions,
        Condition::yes(T::Conflicted, reason, message),
    );
    true
}

impl Builder<'_> {
    /// The served Gateway (of `gateways`, in precedence order) a route's parentRef names, or
    /// whose ListenerSet it names: its place in `gateways`; `None` when it names none.
    pub(crate) fn parent_gateway(
        &self,
        gateways: &[&NamespacedName],
        parent: &ParentRef,
    ) -> Option<usize> {
        if parent.group != GROUP {
            return None;
        }
        let name = NamespacedName::new(parent.namespace.as_str(), parent.name.as_str());
        match parent.kind.as_str() {
            "Gateway" => gateways.iter().position(|g| **g == name),
            "ListenerSet" => {
                let set = self.snapshot.listener_sets.get(&name)?;
                gateways
                    .iter()
                    .position(|g| parent_is(&name.namespace, set, g))
            }
            _ => None,
        }
    }

    /// Records each ListenerSet's status from its listeners (`listeners`: every ListenerSet
    /// listener, in the order [`add_listeners`] appended them); returns how many are attached.
    pub(super) fn listener_set_statuses(
        &mut self,
        sets: &[AttachedSet<'_>],
        listeners: Vec<Listener<'_>>,
    ) -> u32 {
        let mut listeners = listeners.into_iter().peekable();
        let mut attached = 0;
        for s in sets {
            let mut own = Vec::new();
            while let Some(l) = listeners.next_if(|l| l.owner.name == s.name) {
                own.push(l);
            }
            let valid = own.iter().filter(|l| l.valid).count();
            let conditions = if !s.allowed {
                let message = "the Gateway's allowedListeners do not allow this namespace";
                vec![
                    Condition::no(T::Accepted, R::NotAllowed, message),
                    Condition::no(T::Programmed, R::NotAllowed, message),
                ]
            } else if valid == 0 {
                let message = "no listener is valid, see their conditions";
                vec![
                    Condition::no(T::Accepted, R::ListenersNotValid, message),
                    Condition::no(T::Programmed, R::ListenersNotValid, message),
                ]
            } else {
                attached += 1;
                let accepted = if valid == own.len() {
                    Condition::yes(T::Accepted, R::Accepted, "ListenerSet is accepted")
                } else {
                    Condition::yes(
                        T::Accepted,
                        R::ListenersNotValid,
                        "some listeners are not valid, see their conditions; the others are served",
                    )
                };
                vec![
                    accepted,
                    Condition::yes(T::Programmed, R::Programmed, "ListenerSet is programmed"),
                ]
            };
            let key = ObjectKey::new(Kind::ListenerSet, s.name.clone());
            let status = self.status.entry(&key, s.set.metadata.generation);
            status.gateway_api = Some(Box::new(GatewayApiStatus::ListenerSet {
                conditions,
                listeners: own.into_iter().map(Listener::into_status).collect(),
            }));
        }
        attached
    }
}

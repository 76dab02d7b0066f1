//! Gateway API status in the spec's shape: GatewayClass conditions, Gateway conditions,
//! listeners and addresses, the `parents` Sesame owns on every route kind, and the `ancestors`
//! it owns on BackendTLSPolicies.
//!
//! Each condition carries the object's `metadata.generation` as `observedGeneration`; the
//! merge (see [`super::merge`]) keeps a condition's `lastTransitionTime` while its status is
//! unchanged, matching listeners by name and route parents by `parentRef`. Route `parents`
//! entries of other controllers are kept as they are.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::{Map, Value, json};
use sesame_dag::status::ObjectStatus;
use sesame_dag::status::gateway::{
    Condition, ConditionType, GatewayApiStatus, ListenerStatus, ParentRef, PolicyAncestorStatus,
    RouteParentStatus,
};
use sesame_dag::{Kind, NamespacedName, ObjectKey, Snapshot};
use sesame_gateway_api::{BackendTlsPolicy, GROUP, GrpcRoute, HttpRoute, TcpRoute, TlsRoute};

use super::{Address, json_of};

/// What Sesame maintains of one object's status, its current status and its resourceVersion.
pub(super) type Ours = (Value, Option<Value>, Option<String>);

/// One route kind, as the status writer reads it.
pub(super) struct RouteKind {
    /// The kind.
    pub kind: Kind,
    /// One route of the kind, if the snapshot holds it.
    pub get: for<'s> fn(&'s Snapshot, &NamespacedName) -> Option<&'s dyn Route>,
    /// Every route of the kind.
    pub all: for<'s> fn(&'s Snapshot) -> Vec<(&'s NamespacedName, &'s dyn Route)>,
}

/// The route kinds whose `parents` Sesame writes: one row per kind.
pub(super) const ROUTE_KINDS: [RouteKind; 4] = [
    RouteKind {
        kind: Kind::HTTPRoute,
        get: |s, n| s.http_routes.get(n).map(|r| r.as_ref() as &dyn Route),
        all: |s| {
            (s.http_routes.iter())
                .map(|(n, r)| (n, r.as_ref() as &dyn Route))
                .collect()
        },
    },
    RouteKind {
        kind: Kind::GRPCRoute,
        get: |s, n| s.grpc_routes.get(n).map(|r| r.as_ref() as &dyn Route),
        all: |s| {
            (s.grpc_routes.iter())
                .map(|(n, r)| (n, r.as_ref() as &dyn Route))
                .collect()
        },
    },
    RouteKind {
        kind: Kind::TLSRoute,
        get: |s, n| s.tls_routes.get(n).map(|r| r.as_ref() as &dyn Route),
        all: |s| {
            (s.tls_routes.iter())
                .map(|(n, r)| (n, r.as_ref() as &dyn Route))
                .collect()
        },
    },
    RouteKind {
        kind: Kind::TCPRoute,
        get: |s, n| s.tcp_routes.get(n).map(|r| r.as_ref() as &dyn Route),
        all: |s| {
            (s.tcp_routes.iter())
                .map(|(n, r)| (n, r.as_ref() as &dyn Route))
                .collect()
        },
    },
];

/// What the writer reads of a route of any kind.
pub(super) trait Route {
    /// Its metadata.
    fn meta(&self) -> &ObjectMeta;
    /// Its `spec.parentRefs`, as written.
    fn parent_refs(&self) -> Vec<Value>;
    /// Its current status.
    fn status(&self) -> Option<Value>;
    /// Whether its status has a `parents` entry of `controller`.
    fn has_parent_of(&self, controller: &str) -> bool;
}

macro_rules! route {
    ($($ty:ty),*) => {
        $(impl Route for $ty {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn parent_refs(&self) -> Vec<Value> {
                (self.spec.parent_refs.iter().flatten())
                    .filter_map(|p| json_of(p))
                    .collect()
            }
            fn status(&self) -> Option<Value> {
                self.status.as_ref().and_then(json_of)
            }
            fn has_parent_of(&self, controller: &str) -> bool {
                (self.status.iter())
                    .flat_map(|s| &s.parents)
                    .any(|p| p.controller_name == controller)
            }
        })*
    };
}

route!(HttpRoute, GrpcRoute, TlsRoute, TcpRoute);

/// What Sesame maintains of the status of a Gateway API object the build reported on.
pub(super) fn ours(
    snapshot: &Snapshot,
    key: &ObjectKey,
    status: &ObjectStatus,
    addresses: &[Address],
) -> Option<Ours> {
    let generation = status.observed_generation;
    match (key.kind, status.gateway_api.as_deref()?) {
        (Kind::GatewayClass, GatewayApiStatus::GatewayClass { conditions }) => {
            let class = snapshot.gateway_classes.get(&key.name)?;
            let ours = json!({ "conditions": conditions_json(conditions, generation) });
            let current = class.status.as_ref().and_then(json_of);
            Some((ours, current, class.metadata.resource_version.clone()))
        }
        (
            Kind::Gateway,
            GatewayApiStatus::Gateway {
                conditions,
                listeners,
                attached_listener_sets,
                addresses: own,
            },
        ) => {
            let gateway = snapshot.gateways.get(&key.name)?;
            let mut ours = json!({
                "conditions": conditions_json(conditions, generation),
                "listeners": listeners.iter().map(|l| listener_json(l, generation)).collect::<Vec<_>>(),
                "attachedListenerSets": attached_listener_sets,
            });
            // A Gateway on an address of its own shows it; the others the published ones.
            if !own.is_empty() {
                ours["addresses"] = (own.iter())
                    .map(|ip| json!({ "type": "IPAddress", "value": ip.to_string() }))
                    .collect();
            } else if !addresses.is_empty() {
                ours["addresses"] = addresses.iter().map(address_json).collect();
            }
            let current = gateway.status.as_ref().and_then(json_of);
            Some((ours, current, gateway.metadata.resource_version.clone()))
        }
        (
            Kind::ListenerSet,
            GatewayApiStatus::ListenerSet {
                conditions,
                listeners,
            },
        ) => {
            let set = snapshot.listener_sets.get(&key.name)?;
            let ours = json!({
                "conditions": conditions_json(conditions, generation),
                "listeners": listeners.iter().map(|l| listener_json(l, generation)).collect::<Vec<_>>(),
            });
            let current = set.status.as_ref().and_then(json_of);
            Some((ours, current, set.metadata.resource_version.clone()))
        }
        (kind, GatewayApiStatus::Route { parents }) => {
            let route = (ROUTE_KINDS.iter().find(|r| r.kind == kind)?.get)(snapshot, &key.name)?;
            let written = route.parent_refs();
            let parents: Vec<Value> = parents
                .iter()
                .map(|p| parent_json(p, &written, &key.name.namespace, generation))
                .collect();
            let ours = json!({ "parents": parents });
            Some((ours, route.status(), route.meta().resource_version.clone()))
        }
        (Kind::BackendTLSPolicy, GatewayApiStatus::Policy { ancestors }) => {
            let policy = snapshot.backend_tls_policies.get(&key.name)?;
            let ancestors: Vec<Value> = ancestors
                .iter()
                .map(|a| ancestor_json(a, generation))
                .collect();
            let ours = json!({ "ancestors": ancestors });
            let current = policy.status.as_ref().and_then(json_of);
            Some((ours, current, policy.metadata.resource_version.clone()))
        }
        _ => None,
    }
}

/// The BackendTLSPolicies whose status still has an `ancestors` entry of `controller` that the
/// build no longer reports (no route of the served Gateway uses its target any more): their
/// entries are to be removed.
pub(super) fn stale_policies<'s>(
    snapshot: &'s Snapshot,
    reported: impl Fn(&ObjectKey) -> bool,
    controller: &str,
) -> Vec<(ObjectKey, &'s BackendTlsPolicy)> {
    (snapshot.backend_tls_policies.iter())
        .filter(|(_, p)| {
            (p.status.iter())
                .flat_map(|s| &s.ancestors)
                .any(|a| a.controller_name == controller)
        })
        .map(|(name, p)| {
            (
                ObjectKey::new(Kind::BackendTLSPolicy, name.clone()),
                p.as_ref(),
            )
        })
        .filter(|(key, _)| !reported(key))
        .collect()
}

/// The routes whose status still has a `parents` entry of `controller` that the build no
/// longer reports (the route left the served Gateway): their entries are to be removed.
pub(super) fn stale_routes<'s>(
    snapshot: &'s Snapshot,
    reported: impl Fn(&ObjectKey) -> bool,
    controller: &str,
) -> Vec<(ObjectKey, &'s dyn Route)> {
    let mut stale = Vec::new();
    for kind in &ROUTE_KINDS {
        for (name, route) in (kind.all)(snapshot) {
            let key = ObjectKey::new(kind.kind, name.clone());
            if route.has_parent_of(controller) && !reported(&key) {
                stale.push((key, route));
            }
        }
    }
    stale
}

fn conditions_json(conditions: &[Condition], generation: Option<i64>) -> Vec<Value> {
    conditions
        .iter()
        .map(|c| {
            let mut condition = json!({
                "type": c.type_,
                "status": c.status_str(),
                "reason": c.reason,
                "message": c.message,
            });
            if let Some(generation) = generation {
                condition["observedGeneration"] = json!(generation);
            }
            condition
        })
        .collect()
}

fn listener_json(listener: &ListenerStatus, generation: Option<i64>) -> Value {
    json!({
        "name": listener.name,
        "supportedKinds": listener.supported_kinds.iter()
            .map(|kind| json!({ "group": GROUP, "kind": kind }))
            .collect::<Vec<_>>(),
        "attachedRoutes": listener.attached_routes,
        "conditions": conditions_json(&listener.conditions, generation),
    })
}

fn address_json(address: &Address) -> Value {
    match (&address.ip, &address.hostname) {
        (Some(ip), _) => json!({ "type": "IPAddress", "value": ip }),
        (None, hostname) => json!({ "type": "Hostname", "value": hostname }),
    }
}

/// A parent's status, its `parentRef` as the route wrote it (the DAG's has defaults filled in).
fn parent_json(
    parent: &RouteParentStatus,
    written: &[Value],
    namespace: &str,
    generation: Option<i64>,
) -> Value {
    let parent_ref = written
        .iter()
        .find(|w| defaulted(w, namespace).as_ref() == Some(&parent.parent_ref))
        .cloned()
        .or_else(|| json_of(&parent.parent_ref))
        .unwrap_or(Value::Null);
    json!({
        "parentRef": parent_ref,
        "controllerName": parent.controller_name,
        "conditions": conditions_json(&parent.conditions, generation),
    })
}

/// A policy's entry for one ancestor (the Gateway, named in full).
fn ancestor_json(ancestor: &PolicyAncestorStatus, generation: Option<i64>) -> Value {
    json!({
        "ancestorRef": json_of(&ancestor.ancestor_ref).unwrap_or(Value::Null),
        "controllerName": ancestor.controller_name,
        "conditions": conditions_json(&ancestor.conditions, generation),
    })
}

/// A parentRef as written, with the defaults the build fills in.
fn defaulted(written: &Value, namespace: &str) -> Option<ParentRef> {
    let text = |field: &str| written.get(field).and_then(Value::as_str);
    Some(ParentRef {
        group: text("group").unwrap_or(GROUP).to_string(),
        kind: text("kind").unwrap_or("Gateway").to_string(),
        namespace: text("namespace").unwrap_or(namespace).to_string(),
        name: text("name")?.to_string(),
        section_name: text("sectionName").map(str::to_string),
        port: written
            .get("port")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok()),
    })
}

/// Whether a condition `type` is one of the Gateway API condition types Sesame writes.
pub(super) fn is_gateway_api_type(type_: Option<&Value>) -> bool {
    let Some(type_) = type_.and_then(Value::as_str) else {
        return false;
    };
    ConditionType::ALL
        .iter()
        .any(|t| json!(t).as_str() == Some(type_))
}

/// Our conditions, each keeping the `lastTransitionTime` of the current condition of its type
/// while its status is unchanged, else stamped `now`.
pub(super) fn stamped(ours: &Value, current: Option<&Value>, now: &Time) -> Vec<Value> {
    let current: Vec<&Value> = current
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default();
    (ours.as_array().into_iter().flatten())
        .map(|condition| {
            let mut condition = condition.clone();
            let previous = current
                .iter()
                .find(|c| c.get("type") == condition.get("type"));
            let stamp = match previous {
                Some(p) if p.get("status") == condition.get("status") => {
                    p.get("lastTransitionTime").cloned()
                }
                _ => None,
            };
            condition["lastTransitionTime"] =
                stamp.unwrap_or_else(|| serde_json::to_value(now).unwrap_or(Value::Null));
            condition
        })
        .collect()
}

/// Our listeners, their conditions stamped against the current listener of the same name.
pub(super) fn listeners(ours: &Value, current: Option<&Value>, now: &Time) -> Value {
    let current = current.and_then(Value::as_array);
    let merged = (ours.as_array().into_iter().flatten())
        .map(|listener| {
            let previous =
                (current.into_iter().flatten()).find(|c| c.get("name") == listener.get("name"));
            with_stamped_conditions(listener, previous, now)
        })
        .collect();
    Value::Array(merged)
}

/// The current entries (route `parents` or policy `ancestors`) of other controllers,
/// untouched and in their order, then ours, their conditions stamped against our current
/// entry for the same reference (`reference` names its field: `parentRef`, `ancestorRef`).
/// `controller` is ours; without it, the controllers named in our entries are.
pub(super) fn controller_entries(
    ours: &Value,
    current: Option<&Value>,
    (controller, reference): (Option<&str>, &str),
    now: &Time,
) -> Value {
    let ours: Vec<&Value> = ours.as_array().into_iter().flatten().collect();
    let is_ours = |entry: &Value| match controller {
        Some(c) => entry.get("controllerName").and_then(Value::as_str) == Some(c),
        None => ours
            .iter()
            .any(|o| o.get("controllerName") == entry.get("controllerName")),
    };
    let current: Vec<&Value> = (current.and_then(Value::as_array).into_iter().flatten()).collect();
    let mut merged: Vec<Value> = (current.iter())
        .filter(|entry| !is_ours(entry))
        .map(|entry| (*entry).clone())
        .collect();
    for entry in &ours {
        let previous = (current.iter())
            .find(|c| is_ours(c) && c.get(reference) == entry.get(reference))
            .copied();
        merged.push(with_stamped_conditions(entry, previous, now));
    }
    Value::Array(merged)
}

fn with_stamped_conditions(ours: &Value, previous: Option<&Value>, now: &Time) -> Value {
    let mut entry: Map<String, Value> = ours.as_object().cloned().unwrap_or_default();
    let conditions = stamped(
        ours.get("conditions").unwrap_or(&Value::Null),
        previous.and_then(|p| p.get("conditions")),
        now,
    );
    entry.insert("conditions".to_string(), Value::Array(conditions));
    Value::Object(entry)
}

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;

//! Status for Kubernetes: what each object's `status` should say after a build, as the JSON the
//! API server stores, and only where it differs from what the object already says.
//!
//! Pure: the rebuild loop calls [`updates`] after each build with its snapshot; the writer
//! ([`writer`]) sends the result to the API server when this replica leads.

mod gateway;
pub mod kinds;
pub mod writer;

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};
use sesame_dag::status::ObjectStatus;
use sesame_dag::{BuildOutput, Kind, NamespacedName, ObjectKey, Snapshot};

/// One address of the load balancer in front of Envoy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Address {
    /// An IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// A host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl Address {
    /// An address from `--ingress-status-address`: an IP when it parses as one, else a host name.
    pub fn parse(text: &str) -> Address {
        let text = text.trim();
        if text.parse::<IpAddr>().is_ok() {
            Address {
                ip: Some(text.to_string()),
                hostname: None,
            }
        } else {
            Address {
                ip: None,
                hostname: Some(text.to_string()),
            }
        }
    }
}

/// The addresses to publish in `status.loadBalancer`: the configured ones, else those of the
/// Envoy Service's own `status.loadBalancer`.
pub fn load_balancer(
    configured: &[String],
    snapshot: &Snapshot,
    envoy_service: &NamespacedName,
) -> Vec<Address> {
    if !configured.is_empty() {
        return configured
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| Address::parse(a))
            .collect();
    }
    snapshot
        .services
        .get(envoy_service)
        .map(|s| {
            (s.load_balancer.iter())
                .map(|i| Address {
                    ip: i.ip.clone(),
                    hostname: i.hostname.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A status to write: the object, the version it was computed against, and the new status.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusUpdate {
    /// The object.
    pub key: ObjectKey,
    /// The `metadata.resourceVersion` the status was computed against (an optimistic lock).
    pub resource_version: Option<String>,
    /// The generation the status describes; never written over a newer one.
    pub observed_generation: Option<i64>,
    /// What Sesame maintains of the status (merged into a fresh status after a conflict).
    pub ours: Value,
    /// The whole status to write: `ours` merged into the object's current status.
    pub status: Value,
    /// For a Gateway API route: the controller whose `parents` entries are Sesame's (those of
    /// other controllers are kept as they are).
    pub controller: Option<String>,
}

/// Every object's status that differs from what its object says, by object.
pub type StatusUpdates = BTreeMap<ObjectKey, StatusUpdate>;

/// The status updates a build calls for: for every HTTPProxy, TLSCertificateDelegation,
/// served Ingress and Gateway API object whose status differs from what Sesame would write.
/// `gateway_controller` is the Gateway API controller name, when `gateway` is configured: a
/// route whose status still has an entry of it that the build no longer reports has the entry
/// removed.
pub fn updates(
    snapshot: &Snapshot,
    output: &BuildOutput,
    addresses: &[Address],
    now: &Time,
    gateway_controller: Option<&str>,
) -> StatusUpdates {
    let mut updates = StatusUpdates::new();
    let controller = gateway_controller.map(str::to_string);
    let mut add = |key: &ObjectKey, generation, (ours, current, version): gateway::Ours| {
        let mut update = StatusUpdate {
            key: key.clone(),
            resource_version: version,
            observed_generation: generation,
            ours,
            status: Value::Null,
            controller: controller.clone(),
        };
        if let Some(merged) = merge(current.as_ref(), &update, now) {
            update.status = merged;
            updates.insert(key.clone(), update);
        }
    };
    for (key, status) in &output.status.objects {
        if let Some(ours) = ours(snapshot, key, status, addresses) {
            add(key, status.observed_generation, ours);
        }
    }
    if let Some(controller) = gateway_controller {
        let reported = |key: &ObjectKey| {
            (output.status.objects.get(key)).is_some_and(|s| s.gateway_api.is_some())
        };
        for (key, route) in gateway::stale_routes(snapshot, reported, controller) {
            let current = route.status();
            let version = route.meta().resource_version.clone();
            add(&key, None, (json!({ "parents": [] }), current, version));
        }
        for (key, policy) in gateway::stale_policies(snapshot, reported, controller) {
            let current = policy.status.as_ref().and_then(json_of);
            let version = policy.metadata.resource_version.clone();
            add(&key, None, (json!({ "ancestors": [] }), current, version));
        }
    }
    updates
}

/// What Sesame maintains of one object's status, its current status and its resourceVersion.
fn ours(
    snapshot: &Snapshot,
    key: &ObjectKey,
    status: &ObjectStatus,
    addresses: &[Address],
) -> Option<(Value, Option<Value>, Option<String>)> {
    let lb = json!({ "ingress": addresses });
    match key.kind {
        Kind::HTTPProxy => {
            let object = snapshot.httpproxies.get(&key.name)?;
            let mut ours = status.httpproxy_status();
            ours.load_balancer = None;
            let mut ours = json_of(ours)?;
            if !addresses.is_empty() {
                ours["loadBalancer"] = lb;
            }
            let current = object.status.as_ref().and_then(|s| json_of(s.clone()));
            Some((ours, current, object.metadata.resource_version.clone()))
        }
        Kind::TLSCertificateDelegation => {
            let object = snapshot.tls_certificate_delegations.get(&key.name)?;
            let ours =
                json!({ "conditions": [status.valid_condition("TLSCertificateDelegation")] });
            let current = object.status.as_ref().and_then(|s| json_of(s.clone()));
            Some((ours, current, object.metadata.resource_version.clone()))
        }
        Kind::ExtensionService => {
            let object = snapshot.extension_services.get(&key.name)?;
            let ours = json!({ "conditions": [status.valid_condition("ExtensionService")] });
            let current = object.status.as_ref().and_then(|s| json_of(s.clone()));
            Some((ours, current, object.metadata.resource_version.clone()))
        }
        Kind::Ingress if !addresses.is_empty() => {
            let object = snapshot.ingresses.get(&key.name)?;
            let ours = json!({ "loadBalancer": lb });
            let current = object.status.as_ref().and_then(|s| json_of(s.clone()));
            Some((ours, current, object.resource_version.clone()))
        }
        _ if status.gateway_api.is_some() => gateway::ours(snapshot, key, status, addresses),
        _ => None,
    }
}

/// The status to write over `current`, or `None` when nothing would change or `current`
/// describes a newer generation. Sesame's fields replace the current ones; conditions of types
/// Sesame does not write are kept (one of a Gateway API type it no longer reports, such as
/// `InsecureFrontendValidationMode`, is removed); a condition keeps its `lastTransitionTime` while its `status` is unchanged
/// (in Gateway API `listeners`, matched by name, and route `parents`, matched by `parentRef`,
/// too); route `parents` of other controllers are kept.
pub fn merge(current: Option<&Value>, update: &StatusUpdate, now: &Time) -> Option<Value> {
    let empty = Map::new();
    let current_map = current.and_then(Value::as_object).unwrap_or(&empty);
    let current_conditions = conditions(current_map);
    if let (Some(ours), Some(theirs)) = (
        update.observed_generation,
        current_conditions
            .iter()
            .filter_map(|c| c.get("observedGeneration").and_then(Value::as_i64))
            .max(),
    ) && theirs > ours
    {
        return None;
    }
    let mut merged = current_map.clone();
    for (field, value) in update.ours.as_object().into_iter().flatten() {
        let previous = current_map.get(field);
        let value = match field.as_str() {
            "conditions" => {
                let mut list = gateway::stamped(value, previous, now);
                for other in &current_conditions {
                    let type_ = other.get("type");
                    if !list.iter().any(|c| c.get("type") == type_)
                        && !gateway::is_gateway_api_type(type_)
                    {
                        list.push((*other).clone());
                    }
                }
                Value::Array(list)
            }
            "listeners" => gateway::listeners(value, previous, now),
            "parents" => {
                let owner = (update.controller.as_deref(), "parentRef");
                gateway::controller_entries(value, previous, owner, now)
            }
            "ancestors" => {
                let owner = (update.controller.as_deref(), "ancestorRef");
                gateway::controller_entries(value, previous, owner, now)
            }
            _ => value.clone(),
        };
        merged.insert(field.clone(), value);
    }
    let merged = Value::Object(merged);
    (Some(&merged) != current).then_some(merged)
}

fn json_of<T: serde::Serialize>(value: T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

fn conditions(status: &Map<String, Value>) -> Vec<&Value> {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

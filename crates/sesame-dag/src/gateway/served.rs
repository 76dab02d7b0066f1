//! Which Gateways are served, in precedence order, and the address each binds.
//!
//! With `gateway.gatewayRef`, that Gateway alone; otherwise every Gateway whose GatewayClass
//! has Sesame's controller, oldest first (creation time, then namespace and name): the order
//! that settles conflicts between their listeners.
//!
//! Addresses: a Gateway's `spec.addresses` may ask for `IPAddress`es (the type by default)
//! only; another type refuses the Gateway (`Accepted=False/UnsupportedAddress`). An IP it may
//! have lies in config `gateway.addresses`; one outside (or any, without that config), or
//! more than one, leaves it accepted but not served (`Programmed=False/AddressNotUsable`). An
//! entry without a value asks for nothing. A Gateway without a static address takes, when
//! `gateway.addresses` is set, the first address of the pool no other served Gateway asks
//! for and no earlier one took; without the config it binds `ingress_http`'s address.

use std::collections::BTreeSet;
use std::net::IpAddr;

use sesame_api::cidr::Cidr;
use sesame_gateway_api::Gateway;

use crate::build::GatewayConfig;
use crate::object::NamespacedName;
use crate::status::gateway::ConditionReason as R;

/// Why a Gateway's address cannot be served: `UnsupportedAddress` (the Gateway is refused) or
/// `AddressNotUsable` (accepted, not served), with a message naming the address.
pub(super) type AddressProblem = (R, String);

/// The address a Gateway binds: its own, `None` for `ingress_http`'s, or why it has none.
pub(super) type Address = Result<Option<IpAddr>, AddressProblem>;

/// The Gateways served, in precedence order: `gatewayRef`, or every Gateway of a class of
/// Sesame's controller oldest first (creation time, then namespace and name).
pub(super) fn served_gateways<'s>(
    snapshot: &'s crate::Snapshot,
    config: &GatewayConfig,
) -> Vec<(&'s NamespacedName, &'s Gateway)> {
    let ours = |gateway: &Gateway| {
        snapshot
            .gateway_classes
            .get(&NamespacedName::new(
                "",
                gateway.spec.gateway_class_name.as_str(),
            ))
            .is_some_and(|c| c.spec.controller_name == config.controller_name)
    };
    match &config.gateway_ref {
        Some(name) => snapshot
            .gateways
            .get_key_value(name)
            .map(|(n, g)| (n, g.as_ref()))
            .filter(|(_, g)| ours(g))
            .into_iter()
            .collect(),
        None => super::stream::oldest_first(&snapshot.gateways, |g| &g.metadata)
            .into_iter()
            .filter(|(_, g)| ours(g))
            .collect(),
    }
}

/// The address of each Gateway (in the order given, their precedence), from their
/// `spec.addresses` and the pool `pool` (config `gateway.addresses`).
pub(super) fn addresses(gateways: &[(&NamespacedName, &Gateway)], pool: &[Cidr]) -> Vec<Address> {
    let requested: Vec<Address> = gateways.iter().map(|(_, g)| requested(g, pool)).collect();
    let mut taken: BTreeSet<IpAddr> = requested
        .iter()
        .filter_map(|a| a.as_ref().ok().copied().flatten())
        .collect();
    requested
        .into_iter()
        .map(|address| match address {
            Ok(None) if !pool.is_empty() => {
                let free = pool
                    .iter()
                    .flat_map(Cidr::hosts)
                    .find(|ip| !taken.contains(ip));
                let Some(free) = free else {
                    return Err((
                        R::AddressNotUsable,
                        "every address of config gateway.addresses is taken by another Gateway"
                            .to_string(),
                    ));
                };
                taken.insert(free);
                Ok(Some(free))
            }
            other => other,
        })
        .collect()
}

/// The static address a Gateway asks for in `spec.addresses` (`None`: none), or why it
/// cannot have it.
fn requested(gateway: &Gateway, pool: &[Cidr]) -> Address {
    let entries = gateway.spec.addresses.iter().flatten();
    let mut usable = Vec::new();
    let mut not_usable = None;
    for a in entries {
        let kind = a.r#type.as_deref().unwrap_or("IPAddress");
        if kind != "IPAddress" {
            return Err((
                R::UnsupportedAddress,
                format!("spec.addresses: type {kind:?} is not supported; only IPAddress is"),
            ));
        }
        let Some(value) = a.value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        match value.parse::<IpAddr>() {
            Ok(ip) if pool.iter().any(|c| c.contains(ip)) => usable.push(ip),
            Ok(ip) => {
                not_usable.get_or_insert(format!(
                    "spec.addresses: {ip} is not an address Sesame may bind: {}",
                    pool_text(pool)
                ));
            }
            Err(_) => {
                not_usable.get_or_insert(format!("spec.addresses: {value:?} is not an IP address"));
            }
        }
    }
    if let Some(message) = not_usable {
        return Err((R::AddressNotUsable, message));
    }
    match usable.as_slice() {
        [] => Ok(None),
        [ip] => Ok(Some(*ip)),
        more => Err((
            R::AddressNotUsable,
            format!(
                "spec.addresses asks for {} addresses; Sesame binds one per Gateway",
                more.len()
            ),
        )),
    }
}

/// What config `gateway.addresses` allows, for a message.
fn pool_text(pool: &[Cidr]) -> String {
    if pool.is_empty() {
        return "config gateway.addresses is empty, so no static address is usable".to_string();
    }
    let ranges: Vec<String> = pool.iter().map(ToString::to_string).collect();
    format!("config gateway.addresses allows {}", ranges.join(", "))
}

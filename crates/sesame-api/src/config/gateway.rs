//! Gateway API settings (`gateway:`), in Contour's shape: `gateway.gatewayRef` names the one
//! static Gateway served (unset: every Gateway of Sesame's classes); `gateway.controllerName` is the GatewayClass controller Sesame answers
//! for; `gateway.addresses` the addresses Gateways may bind.

use serde::Deserialize;

use super::ConfigError;
use crate::cidr::Cidr;

/// The GatewayClass `spec.controllerName` Sesame answers for unless the file names another.
pub const DEFAULT_GATEWAY_CONTROLLER: &str = "projectsesame.io/gateway-controller";

/// Gateway API settings (`gateway:`). Unset, Gateway API objects are read but nothing is served
/// from them.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayParameters {
    /// The GatewayClass controller name (`projectsesame.io/gateway-controller` when unset).
    #[serde(default)]
    pub controller_name: Option<String>,
    /// The one Gateway served, by namespace and name. Unset, every Gateway of a class of
    /// [`GatewayParameters::controller_name`] is served.
    #[serde(default)]
    pub gateway_ref: Option<GatewayRef>,
    /// The addresses Envoy can bind for Gateways, each an IP or a CIDR range: the static
    /// addresses (`spec.addresses`) a Gateway may ask for, and the pool a Gateway without one
    /// takes its address from. Empty (the default), every Gateway binds `ingress_http`'s
    /// address and no static address is usable.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// A Gateway, by namespace and name.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRef {
    /// The Gateway's namespace.
    pub namespace: String,
    /// The Gateway's name.
    pub name: String,
}

impl GatewayParameters {
    /// The controller name in effect.
    pub fn controller(&self) -> &str {
        self.controller_name
            .as_deref()
            .unwrap_or(DEFAULT_GATEWAY_CONTROLLER)
    }

    /// The ranges of [`GatewayParameters::addresses`], in order (those that do not parse,
    /// which [`GatewayParameters::validate`] refuses, left out).
    pub fn address_ranges(&self) -> Vec<Cidr> {
        self.addresses
            .iter()
            .filter_map(|a| Cidr::parse(a))
            .collect()
    }

    /// Checks the controller name (a domain-prefixed path, as the GatewayClass CRD requires)
    /// the Gateway reference (two object names) and the addresses (IPs or CIDR ranges).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.controller_name {
            let valid = name.len() <= 253
                && name.split_once('/').is_some_and(|(domain, path)| {
                    is_subdomain(domain)
                        && !path.is_empty()
                        && path
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c))
                });
            if !valid {
                return Err(ConfigError::invalid(
                    "gateway.controllerName",
                    name,
                    "expected a domain-prefixed path such as projectsesame.io/gateway-controller",
                ));
            }
        }
        if let Some(r) = &self.gateway_ref {
            for (key, value) in [
                ("gateway.gatewayRef.namespace", &r.namespace),
                ("gateway.gatewayRef.name", &r.name),
            ] {
                if !is_subdomain(value) {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        "expected a Kubernetes object name",
                    ));
                }
            }
        }
        if let Some(bad) = self.addresses.iter().find(|a| Cidr::parse(a).is_none()) {
            return Err(ConfigError::invalid(
                "gateway.addresses",
                bad,
                "expected an IP address or a CIDR range such as 127.0.0.2/31",
            ));
        }
        Ok(())
    }
}

/// Whether `name` is an RFC 1123 subdomain: dot-separated labels, at most 253 characters.
fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(crate::dns::is_label)
}

#[cfg(test)]
mod tests;

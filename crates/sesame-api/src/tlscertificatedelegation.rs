//! The `TLSCertificateDelegation` custom resource (`projectsesame.io/v1`): consent, given in the
//! Secret's namespace, for HTTPProxies in other namespaces to use a TLS Secret.

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::DetailedCondition;

/// The Secrets of this namespace that other namespaces may use.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "projectsesame.io",
    version = "v1",
    kind = "TLSCertificateDelegation",
    plural = "tlscertificatedelegations",
    singular = "tlscertificatedelegation",
    shortname = "tlscerts",
    namespaced,
    status = "TLSCertificateDelegationStatus",
    derive = "PartialEq",
    doc = "TLSCertificateDelegation lets HTTPProxies in other namespaces reference TLS Secrets of its namespace.",
    crates(kube_core = "::kube_core")
)]
#[serde(rename_all = "camelCase")]
pub struct TLSCertificateDelegationSpec {
    /// The delegated Secrets and the namespaces each one is delegated to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegations: Vec<CertificateDelegation>,
}

/// One Secret of this namespace and the namespaces allowed to reference it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDelegation {
    /// The name of a Secret in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The namespaces that may reference the Secret; `*` means every namespace, and an empty list
    /// delegates to none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_namespaces: Vec<String>,
}

/// The observed state of a TLSCertificateDelegation, written by Sesame.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TLSCertificateDelegationStatus {
    /// The conditions of the delegation; Sesame maintains the `Valid` condition and leaves the
    /// others alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<DetailedCondition>,
}

#[cfg(test)]
mod tests;

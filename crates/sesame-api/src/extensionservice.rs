//! The `ExtensionService` custom resource (`projectsesame.io/v1alpha1`): a gRPC service Envoy
//! calls on its own behalf (external authorization, global rate limits), in Contour's shape.

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::DetailedCondition;
use crate::httpproxy::{LoadBalancerPolicy, TimeoutPolicy, UpstreamValidation};

/// The Services that implement an extension and how Envoy talks to them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "projectsesame.io",
    version = "v1alpha1",
    kind = "ExtensionService",
    plural = "extensionservices",
    singular = "extensionservice",
    shortname = "extensionservice",
    shortname = "extensionservices",
    namespaced,
    status = "ExtensionServiceStatus",
    derive = "PartialEq",
    doc = "ExtensionService is a gRPC service Envoy calls to authorize requests or to apply global rate limits.",
    crates(kube_core = "::kube_core")
)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionServiceSpec {
    /// The Services of this namespace that serve the extension, with their weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ExtensionServiceTarget>,
    /// Verify the service's certificate (`caSecret`, `subjectName`); needs protocol `h2`.
    #[serde(
        default,
        rename = "validation",
        skip_serializing_if = "Option::is_none"
    )]
    pub upstream_validation: Option<UpstreamValidation>,
    /// `h2` (HTTP/2 over TLS, the default) or `h2c` (HTTP/2 in clear text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// How Envoy picks one of the service's endpoints (`Cookie` and `RequestHash` are ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_policy: Option<LoadBalancerPolicy>,
    /// `response` bounds each call to the service (unless the caller sets its own); `idle`
    /// closes idle connections to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_policy: Option<TimeoutPolicy>,
    /// The version of the extension's gRPC API: `v3`, the only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
}

/// One Service of an ExtensionService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionServiceTarget {
    /// The name of a Service in the ExtensionService's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Service port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// The share of calls this Service gets, relative to the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

/// The observed state of an ExtensionService, written by Sesame.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionServiceStatus {
    /// The conditions; Sesame maintains `Valid` and leaves the others alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<DetailedCondition>,
}

#[cfg(test)]
mod tests;

//! The status conditions Sesame writes on its custom resources: Contour's `DetailedCondition`, a
//! `metav1.Condition` with lists of error and warning sub-conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A `metav1.Condition` with two extra lists, `errors` and `warnings`, that give the detailed
/// reasons for its state. For the `Valid` condition, `status: "True"` means the object was
/// accepted with no errors (warnings may remain) and `status: "False"` means at least one entry
/// in `errors` made it invalid.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetailedCondition {
    /// The type of the condition, in `CamelCase` or `example.com/CamelCase`; Sesame writes `Valid`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// The status of the condition: `True`, `False` or `Unknown`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The `metadata.generation` of the object this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the condition last changed from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A machine-readable `CamelCase` reason for the condition's last transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A human-readable message with details about the transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Error sub-conditions: each one makes the condition fail. Empty when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<SubCondition>,
    /// Warning sub-conditions: problems that do not make the condition fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SubCondition>,
}

/// One error or warning inside a detailed condition, in abnormal-true polarity (its `type` is
/// of the form `RouteError`, `TLSError`, with `status: "True"` while the problem is present).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubCondition {
    /// The type of the problem, such as `IncludeError` or `ServiceError`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// The status of the sub-condition: `True`, `False` or `Unknown`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// A machine-readable `CamelCase` reason, such as `IncludeNotFound`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A human-readable message saying what is wrong and how to fix it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

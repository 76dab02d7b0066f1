//! External authorization of a virtual host (`virtualhost.authorization`), in Contour's shape:
//! an ExtensionService that Envoy asks, before each request, whether to let it through.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::route::RouteAuthorizationPolicy;
use crate::is_false;

/// The authorization server of a virtual host and how it is called.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationServer {
    /// The ExtensionService that authorizes requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<ExtensionServiceReference>,
    /// The default policy of the virtual host's routes (`disabled`, `context`); a route's own
    /// `authPolicy` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy: Option<RouteAuthorizationPolicy>,
    /// How long to wait for the server's answer: a duration or `infinity` (the
    /// ExtensionService's response timeout when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_timeout: Option<String>,
    /// Let requests through when the server cannot be reached or fails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fail_open: bool,
    /// Send the request body to the server too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_request_body: Option<AuthorizationServerBufferSettings>,
}

/// A reference to an ExtensionService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionServiceReference {
    /// `projectsesame.io/v1alpha1`, the only version (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The ExtensionService's namespace (the HTTPProxy's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The ExtensionService's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How much of a request body Envoy buffers and sends to the authorization server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationServerBufferSettings {
    /// The most bytes buffered (1024 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<i64>,
    /// Send the first `maxRequestBytes` of a longer body instead of answering 413.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_partial_message: bool,
    /// Send the body as raw bytes rather than as a UTF-8 string.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pack_as_bytes: bool,
}

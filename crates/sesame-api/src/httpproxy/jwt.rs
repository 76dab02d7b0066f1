//! JWT verification on a virtual host: the providers (`virtualhost.jwtProviders`) a route's
//! `jwtVerificationPolicy` names, in Contour's shape.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::UpstreamValidation;
use crate::is_false;

/// How to verify JWTs on requests: who issues them, for whom, and where the signing keys are.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtProvider {
    /// The unique name of the provider, which routes name in `jwtVerificationPolicy.require`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the provider applies to every route of the HTTPProxy and its includes that does
    /// not say otherwise. At most one provider is the default.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
    /// The issuer JWTs must have in their `iss` claim; not checked when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The audiences of which JWTs must have one in their `aud` claim; not checked when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Where the signing keys (a JWKS) are fetched from.
    #[serde(
        rename = "remoteJWKS",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub remote_jwks: Option<RemoteJwks>,
    /// Forward the JWT to the backend after it is verified (by default it is removed).
    #[serde(rename = "forwardJWT", default, skip_serializing_if = "is_false")]
    pub forward_jwt: bool,
}

/// A JWKS fetched over HTTP(S).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteJwks {
    /// The `http://` or `https://` URI of the JWKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// How the JWKS server's certificate is verified (`https` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<UpstreamValidation>,
    /// How long to wait for the JWKS server, as a duration (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// How long the JWKS is cached, as a duration (Envoy's default when absent, 10 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_duration: Option<String>,
    /// Which address families are looked up for the URI's host: `auto`, `v4`, `v6` or `all`
    /// (the configuration file's `cluster.dns-lookup-family` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_lookup_family: Option<String>,
}

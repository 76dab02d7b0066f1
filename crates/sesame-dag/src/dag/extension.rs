//! What ExtensionServices configure in the DAG: external authorization of secure virtual hosts
//! and of their routes. The extension's cluster itself is an ordinary [`Cluster`](super::Cluster)
//! whose endpoints come from several Services ([`EdsTarget`](super::EdsTarget)).

use std::collections::BTreeMap;

use serde::Serialize;

use super::Timeout;

/// External authorization of a secure virtual host: Envoy's ext_authz filter in its filter
/// chain, calling an ExtensionService over gRPC before each request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Authorization {
    /// The extension's cluster (a key of [`Dag::clusters`](super::Dag::clusters)).
    pub cluster: String,
    /// The `:authority` of the calls: the TLS server name when the ExtensionService verifies
    /// one, else `<first service>.<namespace>` (never the cluster name, whose `/`s strict
    /// HTTP/2 servers refuse).
    pub authority: String,
    /// How long to wait for an answer; `None` keeps Envoy's default (200 ms).
    pub timeout: Option<Timeout>,
    /// Let requests through when the server fails or cannot be reached (else 403).
    pub fail_open: bool,
    /// Send the request body too, if set.
    pub with_request_body: Option<AuthorizationBody>,
}

/// How much of the request body is buffered and sent to the authorization server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AuthorizationBody {
    /// The most bytes buffered (at least 1).
    pub max_request_bytes: u32,
    /// Send the first `max_request_bytes` of a longer body instead of answering 413.
    pub allow_partial_message: bool,
    /// Send the body as bytes rather than as a string.
    pub pack_as_bytes: bool,
}

/// What a route of a host with [`Authorization`] changes about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RouteAuthorization {
    /// Requests of this route are not checked.
    Disabled,
    /// Requests are checked with these context extensions (never empty).
    Context(BTreeMap<String, String>),
}

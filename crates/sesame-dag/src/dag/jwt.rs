//! JWT verification: the providers of a secure virtual host, which its routes name.

use std::time::Duration;

use serde::Serialize;

/// A JWT provider of a secure virtual host: Envoy verifies a route's requests against it when
/// the route names it (Contour's `jwtProviders[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JwtProvider {
    /// The provider's name, unique on its virtual host; routes name it.
    pub name: String,
    /// The `iss` claim tokens must carry; `None` checks none.
    pub issuer: Option<String>,
    /// Audiences of which a token's `aud` claim must hold one; empty checks none.
    pub audiences: Vec<String>,
    /// Where the signing keys come from.
    pub remote_jwks: RemoteJwks,
    /// Keep the `Authorization` header on the request sent upstream.
    pub forward_jwt: bool,
}

/// A JWKS Envoy fetches over HTTP(S), through a cluster of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemoteJwks {
    /// The absolute `http://` or `https://` URI, validated.
    pub uri: String,
    /// The cluster Envoy fetches it through (a key of [`Dag::clusters`](super::Dag::clusters)).
    pub cluster: String,
    /// How long a fetch may take.
    pub timeout: Duration,
    /// How long the keys are cached; `None` leaves Envoy's default (10 minutes).
    pub cache_duration: Option<Duration>,
}

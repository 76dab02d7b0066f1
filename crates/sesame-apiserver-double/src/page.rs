//! List pagination: the opaque `continue` token (base64 JSON of the first page's resource
//! version and the last key returned).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// What a `continue` token remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// The resource version of the first page, repeated on every later page.
    pub rv: u64,
    /// Namespace of the last item returned (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name of the last item returned.
    pub name: String,
}

impl ContinueToken {
    /// The token as it travels in `metadata.continue` and the `continue` query parameter.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a token; the error is a message for a 400 answer.
    pub fn decode(token: &str) -> Result<ContinueToken, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|e| format!("continue key is not valid: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("continue key is not valid: {e}"))
    }
}

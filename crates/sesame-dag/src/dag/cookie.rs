//! Rewrites of the attributes of `Set-Cookie` response headers (HTTPProxy's
//! `cookieRewritePolicies`).

use serde::Serialize;

/// How the `Set-Cookie` headers of one cookie are rewritten: each attribute set here replaces
/// the cookie's own (or is added); `None` keeps it. At least one is set. Every value is
/// validated: the name is an HTTP token, the path visible ASCII without `;`, the domain a DNS
/// name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CookieRewrite {
    /// The cookie's name.
    pub name: String,
    /// The new `Path` attribute.
    pub path: Option<String>,
    /// The new `Domain` attribute.
    pub domain: Option<String>,
    /// Add (`true`) or remove (`false`) the `Secure` attribute.
    pub secure: Option<bool>,
    /// The new `SameSite` attribute.
    pub same_site: Option<SameSite>,
}

/// A cookie's `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
}

impl SameSite {
    /// The attribute's value as it is written.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

//! Host names of virtual hosts: exact DNS names or one leading `*.` wildcard label.

use std::borrow::Cow;

use thiserror::Error;

/// The longest host name DNS allows.
const MAX_HOST_LEN: usize = 253;

/// Why a host name was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum HostnameError {
    /// The host is longer than 253 characters.
    #[error("host name is longer than 253 characters")]
    TooLong,
    /// The host has characters outside ASCII.
    #[error("host name must be ASCII (use the punycode form of internationalised names)")]
    NotAscii,
    /// `*` alone is not a host a rule may name.
    #[error("host name \"*\" is not allowed, leave the host empty to match any host")]
    BareWildcard,
    /// A `*` somewhere else than a whole leading label.
    #[error("a wildcard is only allowed as the whole leftmost label, as in *.example.com")]
    MisplacedWildcard,
    /// The host ends in a dot.
    #[error("host name must not end with a dot")]
    TrailingDot,
    /// A label is empty, too long or has characters DNS does not allow.
    #[error(
        "label {0:?} is not a valid DNS label (lower-case letters, digits and '-', at most 63, not starting or ending with '-')"
    )]
    InvalidLabel(String),
}

/// Lower-cases and validates a host name from a rule or a TLS section: an exact DNS-1123 name,
/// or `*.` followed by one. The empty host is the caller's business (it means `*`).
pub(crate) fn parse(raw: &str) -> Result<Cow<'_, str>, HostnameError> {
    if raw.len() > MAX_HOST_LEN {
        return Err(HostnameError::TooLong);
    }
    if !raw.is_ascii() {
        return Err(HostnameError::NotAscii);
    }
    if raw == "*" {
        return Err(HostnameError::BareWildcard);
    }
    let host: Cow<'_, str> = if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(raw.to_ascii_lowercase())
    } else {
        Cow::Borrowed(raw)
    };
    if host.ends_with('.') {
        return Err(HostnameError::TrailingDot);
    }
    let name = host.strip_prefix("*.").unwrap_or(&host);
    for label in name.split('.') {
        if label.contains('*') {
            return Err(HostnameError::MisplacedWildcard);
        }
        if !sesame_api::dns::is_label(label) {
            return Err(HostnameError::InvalidLabel(label.to_string()));
        }
    }
    Ok(host)
}

/// Whether a validated host is a leading wildcard (`*.foo.com`).
pub(crate) fn is_wildcard(host: &str) -> bool {
    host.starts_with("*.")
}

/// Whether the leading wildcard `wildcard` (`*.foo.com`) covers `host`: `host` ends with its
/// suffix and has at least one more character before it. False when `wildcard` is no wildcard.
pub(crate) fn wildcard_covers(wildcard: &str, host: &str) -> bool {
    wildcard.strip_prefix('*').is_some_and(|suffix| {
        !suffix.is_empty() && host.ends_with(suffix) && host.len() > suffix.len()
    })
}

/// The RE2 expression an `:authority` header must match for a wildcard host to match exactly one
/// label (Envoy's own `*.foo.com` domain matches any depth). `host` must be validated, so the
/// only character needing an escape is `.`.
pub(crate) fn authority_regex(host: &str) -> String {
    let suffix = host.strip_prefix('*').unwrap_or(host);
    let mut re = String::with_capacity(48 + suffix.len() * 2);
    re.push_str("(?i)^[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    for c in suffix.chars() {
        if c == '.' {
            re.push('\\');
        }
        re.push(c);
    }
    re.push_str("(:[0-9]+)?$");
    re
}

#[cfg(test)]
mod tests;

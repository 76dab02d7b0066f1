//! Header names and values from HTTPProxies, checked before they reach Envoy: names are RFC 9110
//! tokens, values carry no control characters (CR, LF and NUL above all).

use sesame_api::httpproxy::HeadersPolicy as ApiHeadersPolicy;
use thiserror::Error;

use crate::dag::HeadersPolicy;

/// The longest header value accepted (Envoy's default limit on all request headers is 60 KiB).
const MAX_VALUE_LEN: usize = 16 * 1024;

/// Why a header name or value was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum HeaderError {
    /// No name.
    #[error("header name must not be empty")]
    EmptyName,
    /// A name with a character outside the token set.
    #[error("header name {0:?} must only contain letters, digits and !#$%&'*+-.^_`|~")]
    BadName(String),
    /// A value with a control character.
    #[error("value must not contain control characters (CR, LF, NUL, …)")]
    BadValue,
    /// A value longer than the limit.
    #[error("value is {0} bytes long, the limit is 16384")]
    TooLong(usize),
}

/// A valid header name, lower-cased.
pub(crate) fn name(raw: &str) -> Result<String, HeaderError> {
    if raw.is_empty() {
        return Err(HeaderError::EmptyName);
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !raw.chars().all(token) {
        let shown: String = raw.chars().take(64).collect();
        return Err(HeaderError::BadName(shown.escape_debug().to_string()));
    }
    Ok(raw.to_ascii_lowercase())
}

/// Checks a header (or query parameter) value: no control characters but tab, bounded length.
pub(crate) fn value(raw: &str) -> Result<(), HeaderError> {
    if raw.len() > MAX_VALUE_LEN {
        return Err(HeaderError::TooLong(raw.len()));
    }
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(HeaderError::BadValue);
    }
    Ok(())
}

/// Which way a header policy applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// On requests: setting `Host` rewrites the host.
    Request,
    /// On responses: `Host` cannot be set.
    Response,
}

/// A validated header policy and, for requests, the host rewrite it asks for.
pub(crate) fn policy(
    field: &str,
    raw: &ApiHeadersPolicy,
    direction: Direction,
) -> Result<(HeadersPolicy, Option<String>), String> {
    let mut out = HeadersPolicy::default();
    let mut host = None;
    for entry in &raw.set {
        let raw_name = entry.name.as_deref().unwrap_or_default();
        let name = name(raw_name).map_err(|e| format!("{field}.set: {e}"))?;
        let value_text = entry.value.as_deref().unwrap_or_default();
        value(value_text).map_err(|e| format!("{field}.set {name:?}: {e}"))?;
        if out.set.iter().any(|(n, _)| *n == name) || (name == "host" && host.is_some()) {
            return Err(format!("{field}.set: duplicate header {name:?}"));
        }
        if name == "host" {
            if direction == Direction::Response {
                return Err(format!(
                    "{field}.set: the Host header cannot be set on responses"
                ));
            }
            if value_text.is_empty() {
                return Err(format!("{field}.set: the Host header needs a value"));
            }
            host = Some(value_text.to_string());
            continue;
        }
        out.set.push((name, value_text.to_string()));
    }
    for raw_name in &raw.remove {
        let name = name(raw_name).map_err(|e| format!("{field}.remove: {e}"))?;
        if name == "host" {
            return Err(format!("{field}.remove: the Host header cannot be removed"));
        }
        if !out.remove.contains(&name) {
            out.remove.push(name);
        }
    }
    Ok((out, host))
}

#[cfg(test)]
mod tests {
    use sesame_api::httpproxy::HeaderValue;

    use super::*;

    fn set(name: &str, value: &str) -> ApiHeadersPolicy {
        ApiHeadersPolicy {
            set: vec![HeaderValue {
                name: Some(name.to_string()),
                value: Some(value.to_string()),
            }],
            remove: Vec::new(),
        }
    }

    #[test]
    fn names_are_tokens_lower_cased() {
        assert_eq!(name("X-Foo").unwrap(), "x-foo");
        assert_eq!(name(""), Err(HeaderError::EmptyName));
        for bad in ["x foo", "x:foo", ":path", "x\r\nfoo", "x\0"] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_refuse_control_characters() {
        assert!(value("a b\tc").is_ok());
        for bad in ["a\rb", "a\nb", "a\0b", "\u{7f}"] {
            assert_eq!(value(bad), Err(HeaderError::BadValue), "{bad:?}");
        }
        assert_eq!(value(&"a".repeat(16385)), Err(HeaderError::TooLong(16385)));
    }

    #[test]
    fn host_on_requests_is_a_rewrite_and_on_responses_an_error() {
        let (policy, host) = policy(
            "requestHeadersPolicy",
            &set("Host", "b.com"),
            Direction::Request,
        )
        .unwrap();
        assert!(policy.is_empty());
        assert_eq!(host.as_deref(), Some("b.com"));
        let err = super::policy(
            "responseHeadersPolicy",
            &set("Host", "b.com"),
            Direction::Response,
        )
        .unwrap_err();
        assert!(err.contains("responseHeadersPolicy.set"), "{err}");
    }

    #[test]
    fn crlf_values_are_refused_naming_the_field() {
        let err = policy(
            "requestHeadersPolicy",
            &set("X-A", "v\r\nInjected: 1"),
            Direction::Request,
        )
        .unwrap_err();
        assert!(err.contains("requestHeadersPolicy.set \"x-a\""), "{err}");
    }
}

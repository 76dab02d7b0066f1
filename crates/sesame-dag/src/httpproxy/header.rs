//! Header policies from HTTPProxies, checked before they reach Envoy. Names and values are
//! checked by [`sesame_api::header`], the same check the configuration file's policies get.

use sesame_api::httpproxy::{HeaderValue, HeadersPolicy as ApiHeadersPolicy};

pub(crate) use sesame_api::header::{name, value};

use crate::dag::HeadersPolicy;

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
    let (mut out, host) = set_headers(&format!("{field}.set"), &raw.set, direction)?;
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

/// A policy that sets validated headers (`field` names them in messages): lower-cased names,
/// no duplicates, and, for requests, the host rewrite a `Host` entry asks for.
pub(crate) fn set_headers(
    field: &str,
    entries: &[HeaderValue],
    direction: Direction,
) -> Result<(HeadersPolicy, Option<String>), String> {
    let mut set: Vec<(String, String)> = Vec::new();
    let mut host = None;
    for entry in entries {
        let raw_name = entry.name.as_deref().unwrap_or_default();
        let name = name(raw_name).map_err(|e| format!("{field}: {e}"))?;
        let value_text = entry.value.as_deref().unwrap_or_default();
        value(value_text).map_err(|e| format!("{field} {name:?}: {e}"))?;
        if set.iter().any(|(n, _)| *n == name) || (name == "host" && host.is_some()) {
            return Err(format!("{field}: duplicate header {name:?}"));
        }
        if name == "host" {
            if direction == Direction::Response {
                return Err(format!(
                    "{field}: the Host header cannot be set on responses"
                ));
            }
            if value_text.is_empty() {
                return Err(format!("{field}: the Host header needs a value"));
            }
            host = Some(value_text.to_string());
            continue;
        }
        set.push((name, value_text.to_string()));
    }
    let policy = HeadersPolicy {
        set,
        remove: Vec::new(),
    };
    Ok((policy, host))
}

#[cfg(test)]
mod tests {
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

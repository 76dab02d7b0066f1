//! Header policies from HTTPProxies, checked before they reach Envoy. Names and values are
//! checked by [`sesame_api::header`], the same check the configuration file's policies get.

use sesame_api::httpproxy::{HeaderValue, HeadersPolicy as ApiHeadersPolicy};

pub(crate) use sesame_api::header::{name, value};

use crate::dag::{EnvoyVariable, HeaderValue as DagHeaderValue, HeaderValuePart, HeadersPolicy};

/// The values Sesame itself substitutes for its `%SESAME_*%` variables in a header policy
/// (Contour's `%CONTOUR_*%`): the namespace always, the service name and port in the policies of
/// a service only (as Contour, they are literal text in a route's policies).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Substitutions<'a> {
    /// The HTTPProxy's namespace, for `%SESAME_NAMESPACE%`.
    pub namespace: &'a str,
    /// The service's name and port, for `%SESAME_SERVICE_NAME%` and `%SESAME_SERVICE_PORT%`.
    pub service: Option<(&'a str, i32)>,
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
/// With `dynamic`, values may carry the dynamic header values of [`dynamic_value`].
pub(crate) fn policy(
    field: &str,
    raw: &ApiHeadersPolicy,
    direction: Direction,
    dynamic: Option<Substitutions<'_>>,
) -> Result<(HeadersPolicy, Option<String>), String> {
    let (mut out, host) = set_headers(&format!("{field}.set"), &raw.set, direction, dynamic)?;
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
/// no duplicates, and, for requests, the host rewrite a `Host` entry asks for (always literal).
/// Without `dynamic` every value is literal text.
pub(crate) fn set_headers(
    field: &str,
    entries: &[HeaderValue],
    direction: Direction,
    dynamic: Option<Substitutions<'_>>,
) -> Result<(HeadersPolicy, Option<String>), String> {
    let mut set: Vec<(String, DagHeaderValue)> = Vec::new();
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
        let value = match dynamic {
            Some(subs) => {
                dynamic_value(value_text, subs).map_err(|e| format!("{field} {name:?}: {e}"))?
            }
            None => DagHeaderValue::literal(value_text),
        };
        set.push((name, value));
    }
    let policy = HeadersPolicy {
        set,
        remove: Vec::new(),
    };
    Ok((policy, host))
}

/// A header value with Contour's dynamic header values: `%SESAME_NAMESPACE%` (and, for a
/// service, `%SESAME_SERVICE_NAME%`, `%SESAME_SERVICE_PORT%`) replaced by their values here, the
/// Envoy variables of [`EnvoyVariable`] and `%REQ(header-name)%` kept as typed parts for Envoy to
/// fill in, and every other `%` literal text. A `%REQ(` that does not continue with a header
/// name and `)%` is refused rather than sent on as text, since it is a variable misspelled.
pub(crate) fn dynamic_value(text: &str, subs: Substitutions<'_>) -> Result<DagHeaderValue, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match variable(after, subs)? {
            Some((Variable::Text(value), used)) => {
                literal.push_str(&value);
                rest = &after[used..];
            }
            Some((Variable::Part(part), used)) => {
                if !literal.is_empty() {
                    parts.push(HeaderValuePart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &after[used..];
            }
            None => {
                literal.push('%');
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() || parts.is_empty() {
        parts.push(HeaderValuePart::Literal(literal));
    }
    Ok(DagHeaderValue(parts))
}

/// What a `%` starts: text Sesame substitutes, or a part Envoy fills in.
enum Variable {
    Text(String),
    Part(HeaderValuePart),
}

/// The variable `after` (the text after a `%`) starts with and how many bytes it takes, up to
/// and including its closing `%`; `None` when the `%` is a literal percent sign.
fn variable(after: &str, subs: Substitutions<'_>) -> Result<Option<(Variable, usize)>, String> {
    if let Some(inner) = after.strip_prefix("REQ(") {
        let name_len = inner
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        if name_len == 0 || !inner[name_len..].starts_with(")%") {
            return Err(format!(
                "%REQ( must be followed by a header name (letters, digits, '-' and '_') and )%, as in %REQ(x-header)%: {:?}",
                truncated(after)
            ));
        }
        let part = HeaderValuePart::RequestHeader(inner[..name_len].to_string());
        return Ok(Some((
            Variable::Part(part),
            "REQ(".len() + name_len + ")%".len(),
        )));
    }
    let closed = |name: &str| after.strip_prefix(name).is_some_and(|r| r.starts_with('%'));
    let mut sesame = vec![("SESAME_NAMESPACE", subs.namespace.to_string())];
    if let Some((service, port)) = subs.service {
        sesame.push(("SESAME_SERVICE_NAME", service.to_string()));
        sesame.push(("SESAME_SERVICE_PORT", port.to_string()));
    }
    for (name, value) in sesame {
        if closed(name) {
            return Ok(Some((Variable::Text(value), name.len() + 1)));
        }
    }
    Ok(EnvoyVariable::ALL
        .into_iter()
        .find(|v| closed(v.name()))
        .map(|v| {
            (
                Variable::Part(HeaderValuePart::Envoy(v)),
                v.name().len() + 1,
            )
        }))
}

/// At most the first 40 characters of `text`, for a message.
fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
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
            None,
        )
        .unwrap();
        assert!(policy.is_empty());
        assert_eq!(host.as_deref(), Some("b.com"));
        let err = super::policy(
            "responseHeadersPolicy",
            &set("Host", "b.com"),
            Direction::Response,
            None,
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
            Some(SUBS),
        )
        .unwrap_err();
        assert!(err.contains("requestHeadersPolicy.set \"x-a\""), "{err}");
    }

    const SUBS: Substitutions<'static> = Substitutions {
        namespace: "team-a",
        service: Some(("web", 8080)),
    };

    fn parts(text: &str, subs: Substitutions<'_>) -> Vec<HeaderValuePart> {
        dynamic_value(text, subs).unwrap().0
    }

    #[test]
    fn sesame_variables_are_substituted_and_envoy_ones_kept_typed() {
        use HeaderValuePart::*;
        assert_eq!(
            parts(
                "%SESAME_NAMESPACE%/%SESAME_SERVICE_NAME%:%SESAME_SERVICE_PORT%",
                SUBS
            ),
            [Literal("team-a/web:8080".into())]
        );
        assert_eq!(
            parts(
                "ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% h=%REQ(X-Foo_1)%%HOSTNAME%",
                SUBS
            ),
            [
                Literal("ip=".into()),
                Envoy(EnvoyVariable::DownstreamRemoteAddressWithoutPort),
                Literal(" h=".into()),
                RequestHeader("X-Foo_1".into()),
                Envoy(EnvoyVariable::Hostname),
            ]
        );
        // A route's policies have no service: its variables stay text, as in Contour.
        let route = Substitutions {
            service: None,
            ..SUBS
        };
        assert_eq!(
            parts("%SESAME_SERVICE_NAME% in %SESAME_NAMESPACE%", route),
            [Literal("%SESAME_SERVICE_NAME% in team-a".into())]
        );
    }

    #[test]
    fn every_other_percent_is_literal_text() {
        use HeaderValuePart::*;
        for text in [
            "100%",
            "%FOO%",
            "%CONTOUR_NAMESPACE%",
            "%START_TIME%",
            "%%",
            "%hostname%",
            "%DOWNSTREAM_REMOTE_ADDRESS",
            "%ENVIRONMENT(HOME)%",
            "",
        ] {
            assert_eq!(parts(text, SUBS), [Literal(text.into())], "{text:?}");
        }
        // As Contour, `%%REQ(x)%%` is a percent sign around the header's value.
        assert_eq!(
            parts("%%REQ(x)%%", SUBS),
            [
                Literal("%".into()),
                RequestHeader("x".into()),
                Literal("%".into())
            ]
        );
    }

    #[test]
    fn a_misspelled_request_header_variable_is_refused() {
        for text in [
            "%REQ(x)",
            "%REQ()%",
            "%REQ(x y)%",
            "%REQ(x):10%",
            "%REQ(x?y)%",
            "%REQ(x",
        ] {
            let err = dynamic_value(text, SUBS).unwrap_err();
            assert!(err.contains("%REQ("), "{text:?}: {err}");
        }
    }
}

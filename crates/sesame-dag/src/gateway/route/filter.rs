//! The header filters of an HTTPRoute rule and the checks of the values they carry: names
//! must be HTTP tokens, values must hold no line breaks or NUL, and Envoy's own headers are
//! refused, so that nothing Envoy rejects reaches it.

use sesame_gateway_api::httproute::{
    HttpRouteRulesBackendRefs, HttpRouteRulesBackendRefsFiltersType as BackendFilterType,
    HttpRouteRulesFilters, HttpRouteRulesFiltersUrlRewritePathType as RewritePathType,
};

use crate::dag::{ClusterRewrites, ForwardPolicies, HeaderValue};
use crate::hostname;
use crate::status::gateway::ConditionReason as R;

/// Headers a filter may not touch: Envoy refuses to modify them (`host`) or they are
/// pseudo-headers (never tokens anyway).
const PROTECTED: &[&str] = &["host"];

/// Adds a RequestHeaderModifier or ResponseHeaderModifier to the rule's policies.
pub(in crate::gateway) fn headers(
    f: &HttpRouteRulesFilters,
    policies: &mut ForwardPolicies,
) -> Result<(), (R, String)> {
    let (set, add, remove, request) = if let Some(m) = &f.request_header_modifier {
        let set = m.set.iter().flatten().map(|h| (&h.name, &h.value));
        let add = m.add.iter().flatten().map(|h| (&h.name, &h.value));
        (
            set.collect::<Vec<_>>(),
            add.collect::<Vec<_>>(),
            &m.remove,
            true,
        )
    } else if let Some(m) = &f.response_header_modifier {
        let set = m.set.iter().flatten().map(|h| (&h.name, &h.value));
        let add = m.add.iter().flatten().map(|h| (&h.name, &h.value));
        (
            set.collect::<Vec<_>>(),
            add.collect::<Vec<_>>(),
            &m.remove,
            false,
        )
    } else {
        return Err((
            R::UnsupportedValue,
            format!("filter {:?} has no modifier", f.r#type),
        ));
    };
    let (policy, append) = if request {
        (
            &mut policies.request_headers,
            &mut policies.request_headers_append,
        )
    } else {
        (
            &mut policies.response_headers,
            &mut policies.response_headers_append,
        )
    };
    for (name, value) in set {
        let name = check_name(name)?;
        check_value(&name, value)?;
        policy.set.retain(|(n, _)| *n != name);
        policy.set.push((name, HeaderValue::literal(value.clone())));
    }
    for (name, value) in add {
        let name = check_name(name)?;
        check_value(&name, value)?;
        append.push((name, HeaderValue::literal(value.clone())));
    }
    for name in remove.iter().flatten() {
        let name = check_name(name)?;
        if !policy.remove.contains(&name) {
            policy.remove.push(name);
        }
    }
    Ok(())
}

/// The header modifiers of a backendRef's own filters, applied to the requests sent to (and
/// responses from) that backend only. Other filter types are refused there.
pub(in crate::gateway) fn backend_rewrites(
    backend: &HttpRouteRulesBackendRefs,
) -> Result<ClusterRewrites, (R, String)> {
    let mut policies = ForwardPolicies::default();
    for f in backend.filters.iter().flatten() {
        match f.r#type {
            BackendFilterType::RequestHeaderModifier
            | BackendFilterType::ResponseHeaderModifier => {
                // The backendRef filter has the same shape as the rule's: read it as one.
                let rule_filter = serde_json::to_value(f)
                    .and_then(serde_json::from_value::<HttpRouteRulesFilters>)
                    .map_err(|e| (R::UnsupportedValue, format!("backendRef filter: {e}")))?;
                headers(&rule_filter, &mut policies)?;
            }
            ref other => {
                return Err((
                    R::UnsupportedValue,
                    format!("filter type {other:?} on a backendRef is not supported"),
                ));
            }
        }
    }
    Ok(ClusterRewrites {
        request_headers: policies.request_headers,
        response_headers: policies.response_headers,
        request_headers_append: policies.request_headers_append,
        response_headers_append: policies.response_headers_append,
        ..ClusterRewrites::default()
    })
}

/// A header name a filter may set, lower-cased.
fn check_name(name: &str) -> Result<String, (R, String)> {
    let lower = name.to_ascii_lowercase();
    if !is_token(&lower) || PROTECTED.contains(&lower.as_str()) {
        return Err((
            R::UnsupportedValue,
            format!("header name {name:?} may not be modified"),
        ));
    }
    Ok(lower)
}

/// Whether `name` is an HTTP token (RFC 9110 `tchar`s, at least one).
pub(super) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks that a header (or query) value holds no line break, NUL or other control character
/// but tab, and is not longer than Envoy's limit.
pub(super) fn check_value(name: &str, value: &str) -> Result<(), (R, String)> {
    if value.len() > 16384 || value.chars().any(|c| c.is_control() && c != '\t') {
        return Err((
            R::UnsupportedValue,
            format!("the value of {name:?} holds control characters or is too long"),
        ));
    }
    Ok(())
}

/// Checks a path a redirect writes: absolute, without whitespace, control characters, `?` or `#`.
pub(super) fn check_path(value: &str) -> Result<(), (R, String)> {
    if !value.starts_with('/')
        || value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '?' || c == '#')
    {
        return Err((
            R::UnsupportedValue,
            format!(
                "redirect path {value:?} must start with '/' and hold no whitespace, '?' or '#'"
            ),
        ));
    }
    Ok(())
}

/// Adds a URLRewrite to the rule's policies: the host, and the whole path or its prefix (only
/// when every match of the rule is a prefix).
pub(super) fn rewrite(
    f: &HttpRouteRulesFilters,
    only_prefixes: bool,
    policies: &mut ForwardPolicies,
) -> Result<(), (R, String)> {
    let Some(r) = f.url_rewrite.as_ref() else {
        return Err((
            R::UnsupportedValue,
            "filter URLRewrite has no urlRewrite".to_string(),
        ));
    };
    if let Some(raw) = r.hostname.as_deref() {
        match hostname::parse(raw) {
            Ok(h) if !hostname::is_wildcard(&h) => policies.host_rewrite = Some(h.into_owned()),
            _ => {
                return Err((
                    R::UnsupportedValue,
                    format!("rewrite hostname {raw:?} is not valid"),
                ));
            }
        }
    }
    if let Some(path) = &r.path {
        match path.r#type {
            RewritePathType::ReplaceFullPath => {
                let value = path.replace_full_path.as_deref().unwrap_or("/");
                check_path(value)?;
                policies.prefix_rewrite = None;
                policies.path_rewrite = Some(value.to_string());
            }
            RewritePathType::ReplacePrefixMatch => {
                let value = path.replace_prefix_match.as_deref().unwrap_or("/");
                check_path(value)?;
                if !only_prefixes {
                    return Err((
                        R::UnsupportedValue,
                        "ReplacePrefixMatch needs every match of the rule to be a PathPrefix"
                            .to_string(),
                    ));
                }
                // `/foo` replaced by `/bar/` must give `/bar/x` for `/foo/x`, not `/bar//x`.
                let trimmed = value.trim_end_matches('/');
                policies.path_rewrite = None;
                policies.prefix_rewrite =
                    Some(if trimmed.is_empty() { "/" } else { trimmed }.to_string());
            }
        }
    }
    Ok(())
}

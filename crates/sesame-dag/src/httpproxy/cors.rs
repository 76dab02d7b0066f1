//! The CORS policy of a root's virtual host, checked as Contour checks it (and as its CRD's
//! patterns would), so Envoy never sees a value it would refuse or a header it would split.

use sesame_api::duration::parse_duration;
use sesame_api::httpproxy::CorsPolicy as ApiCorsPolicy;

use super::header;
use crate::dag::{CorsPolicy, OriginMatch};
use crate::regex;

/// The field path of the policy in messages.
const FIELD: &str = "Spec.VirtualHost.corsPolicy";

/// The validated CORS policy, or why it is refused.
pub(super) fn cors_policy(p: &ApiCorsPolicy) -> Result<CorsPolicy, String> {
    if p.allow_origin.is_empty() {
        return Err(format!("{FIELD}.allowOrigin must list at least one origin"));
    }
    let allow_origin = p
        .allow_origin
        .iter()
        .map(|o| origin(o).map_err(|e| format!("{FIELD}.allowOrigin {:?}: {e}", shown(o))))
        .collect::<Result<Vec<_>, _>>()?;
    if p.allow_methods.is_empty() {
        return Err(format!(
            "{FIELD}.allowMethods must list at least one method"
        ));
    }
    let max_age = match p.max_age.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let d = parse_duration(v).map_err(|e| format!("{FIELD}.maxAge {:?}: {e}", shown(v)))?;
            // Envoy takes whole seconds: rounded to the nearest, as Contour does.
            Some(((d.as_nanos() + 500_000_000) / 1_000_000_000) as u64)
        }
    };
    Ok(CorsPolicy {
        allow_origin,
        allow_methods: tokens("allowMethods", &p.allow_methods)?,
        allow_headers: tokens("allowHeaders", &p.allow_headers)?,
        expose_headers: tokens("exposeHeaders", &p.expose_headers)?,
        max_age,
        allow_credentials: p.allow_credentials,
        allow_private_network: p.allow_private_network,
    })
}

/// `*` and `scheme://host[:port]` are exact matches; anything else must be an RE2 regular
/// expression over the whole origin.
fn origin(raw: &str) -> Result<OriginMatch, String> {
    if raw == "*" || is_exact_origin(raw) {
        return Ok(OriginMatch::Exact(raw.to_string()));
    }
    regex::validate(raw).map_err(|e| {
        format!("neither an origin (scheme://host[:port]) nor a valid regular expression: {e}")
    })?;
    Ok(OriginMatch::Regex(raw.to_string()))
}

/// Whether `raw` is exactly `scheme://host[:port]`, as Go's URL parser (which Contour uses)
/// would give it back: a lower-case scheme, and a host with no path, query, user or
/// fragment.
pub(crate) fn is_exact_origin(raw: &str) -> bool {
    let Some((scheme, authority)) = raw.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    let port_ok = port.is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()));
    scheme_ok && host_ok && port_ok
}

/// Methods or header names: each an HTTP token (Contour's CRD pattern), kept as written.
fn tokens(field: &str, values: &[String]) -> Result<Vec<String>, String> {
    values
        .iter()
        .map(|v| {
            header::name(v).map(|_| v.clone()).map_err(|_| {
                format!(
                    "{FIELD}.{field} {:?} must only contain letters, digits and !#$%&'*+-.^_`|~",
                    shown(v)
                )
            })
        })
        .collect()
}

/// At most 64 characters of a user value, for a message.
fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_when_go_would_parse_them_back_else_regexes() {
        for exact in [
            "*",
            "https://a.com",
            "http://a.com:8080",
            "http://[::1]:80",
            "h2+x://a",
        ] {
            assert_eq!(
                origin(exact),
                Ok(OriginMatch::Exact(exact.into())),
                "{exact}"
            );
        }
        for regex in [
            r"https://.*\.a\.com",
            "HTTPS://a.com",
            "https://a.com/",
            "https://u@a.com",
            "a.com",
        ] {
            assert_eq!(
                origin(regex),
                Ok(OriginMatch::Regex(regex.into())),
                "{regex}"
            );
        }
        assert!(origin("https://(a.com").is_err());
        assert!(origin("*.a.com").is_err(), "a glob is not a regex");
    }

    #[test]
    fn max_age_rounds_to_whole_seconds_and_zero_disables_caching() {
        let with = |max_age: &str| {
            cors_policy(&ApiCorsPolicy {
                allow_origin: vec!["*".into()],
                allow_methods: vec!["GET".into()],
                max_age: Some(max_age.into()),
                ..Default::default()
            })
        };
        assert_eq!(with("10m").unwrap().max_age, Some(600));
        assert_eq!(with("1500ms").unwrap().max_age, Some(2));
        assert_eq!(with("0s").unwrap().max_age, Some(0));
        assert_eq!(with("0").unwrap().max_age, Some(0));
        assert_eq!(with("").unwrap().max_age, None);
        assert!(with("-1s").unwrap_err().contains("negative"));
        assert!(with("1fortnight").unwrap_err().contains("maxAge"));
    }
}

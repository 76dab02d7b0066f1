//! The CORS filter of an HTTPRoute rule, as the route's own CORS policy (the DAG's, as
//! HTTPProxy's `corsPolicy` builds it for a virtual host). Origins are `*`, an exact
//! `scheme://host[:port]`, or one with a `*` for the leftmost labels of the host (matched by
//! an anchored regex that allows any number of labels there).

use sesame_gateway_api::httproute::HttpRouteRulesFilters;

use super::filter::is_token;
use crate::dag::{CorsPolicy, OriginMatch};
use crate::status::gateway::ConditionReason as R;

/// The route's CORS policy of a `CORS` filter, or why it is refused.
pub(super) fn cors(f: &HttpRouteRulesFilters) -> Result<CorsPolicy, (R, String)> {
    let bad = |message: String| (R::UnsupportedValue, format!("CORS filter: {message}"));
    let Some(c) = f.cors.as_ref() else {
        return Err(bad("the filter has no cors".to_string()));
    };
    let allow_origin = c
        .allow_origins
        .iter()
        .flatten()
        .map(|o| origin(o).ok_or_else(|| bad(format!("allowOrigins {:?} is not valid", shown(o)))))
        .collect::<Result<Vec<_>, _>>()?;
    let list = |field: &str, values: &Option<Vec<String>>| {
        values
            .iter()
            .flatten()
            .map(|v| {
                if v == "*" || is_token(v) {
                    Ok(v.clone())
                } else {
                    Err(bad(format!("{field} {:?} is not an HTTP token", shown(v))))
                }
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let max_age = match c.max_age {
        None => None,
        Some(age) if age >= 0 => Some(age as u64),
        Some(age) => return Err(bad(format!("maxAge {age} is negative"))),
    };
    Ok(CorsPolicy {
        allow_origin,
        allow_methods: list("allowMethods", &c.allow_methods)?,
        allow_headers: list("allowHeaders", &c.allow_headers)?,
        expose_headers: list("exposeHeaders", &c.expose_headers)?,
        max_age,
        allow_credentials: c.allow_credentials.unwrap_or(false),
        allow_private_network: false,
    })
}

/// One allowed origin: `*`, exact, or with a leading `*` label in the host, as a regex.
fn origin(raw: &str) -> Option<OriginMatch> {
    if raw == "*" || crate::httpproxy::cors::is_exact_origin(raw) {
        return Some(OriginMatch::Exact(raw.to_string()));
    }
    let (scheme, authority) = raw.split_once("://")?;
    let rest = authority.strip_prefix("*.")?;
    // What follows the wildcard must itself be a valid origin.
    if !crate::httpproxy::cors::is_exact_origin(&format!("{scheme}://{rest}")) {
        return None;
    }
    Some(OriginMatch::Regex(format!(
        "{}://[A-Za-z0-9._~-]+\\.{}",
        regex_syntax::escape(scheme),
        regex_syntax::escape(rest)
    )))
}

/// At most 64 characters of a user value, for a message.
fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_origins_become_anchored_regexes_and_bad_ones_are_refused() {
        assert_eq!(origin("*"), Some(OriginMatch::Exact("*".into())));
        assert_eq!(
            origin("https://www.foo.com"),
            Some(OriginMatch::Exact("https://www.foo.com".into()))
        );
        let Some(OriginMatch::Regex(re)) = origin("https://*.bar.com") else {
            panic!("not a regex");
        };
        let re = regex_automata::meta::Regex::new(&format!("^(?:{re})$")).expect("valid");
        assert!(re.is_match("https://www.bar.com"));
        assert!(re.is_match("https://xpto.www.bar.com"));
        assert!(!re.is_match("https://bar.com"));
        assert!(!re.is_match("https://evil.com/.bar.com"));
        assert!(!re.is_match("http://www.bar.com"));
        for bad in [
            "https://a.*.com",
            "*.bar.com",
            "https://*.bar.com/x",
            "https://*.",
            "",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }
}

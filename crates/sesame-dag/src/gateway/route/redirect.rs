//! The RequestRedirect filter: the redirect as written, then completed for each listener the
//! route attaches to, since the port a redirect keeps is the listener's.

use sesame_gateway_api::httproute::{
    HttpRouteRules, HttpRouteRulesFilters,
    HttpRouteRulesFiltersRequestRedirectPathType as RedirectPathType,
    HttpRouteRulesFiltersRequestRedirectScheme as Scheme,
};

use super::{filter, only_prefixes};
use crate::dag::{Redirect, RedirectPath, RouteAction};
use crate::hostname;
use crate::status::gateway::ConditionReason as R;

/// The redirect a RequestRedirect filter asks for, before any listener: `port` is the port
/// written, if any.
pub(super) fn redirect_of(
    f: &HttpRouteRulesFilters,
    rule: &HttpRouteRules,
) -> Result<Redirect, (R, String)> {
    let Some(r) = f.request_redirect.as_ref() else {
        return Err((
            R::UnsupportedValue,
            "filter RequestRedirect has no requestRedirect".to_string(),
        ));
    };
    let status = match r.status_code.unwrap_or(302) {
        code @ (301 | 302 | 303 | 307 | 308) => code as u16,
        other => {
            return Err((
                R::UnsupportedValue,
                format!("redirect statusCode {other} is not supported"),
            ));
        }
    };
    let host = match r.hostname.as_deref() {
        None => None,
        Some(raw) => match hostname::parse(raw) {
            Ok(h) if !hostname::is_wildcard(&h) => Some(h.into_owned()),
            _ => {
                return Err((
                    R::UnsupportedValue,
                    format!("redirect hostname {raw:?} is not valid"),
                ));
            }
        },
    };
    let port = match r.port {
        None => None,
        Some(p @ 1..=65535) => Some(p as u32),
        Some(p) => {
            return Err((
                R::UnsupportedValue,
                format!("redirect port {p} is not valid"),
            ));
        }
    };
    let path = match &r.path {
        None => None,
        Some(p) => {
            let (value, prefix) = match p.r#type {
                RedirectPathType::ReplaceFullPath => (p.replace_full_path.as_deref(), false),
                RedirectPathType::ReplacePrefixMatch => (p.replace_prefix_match.as_deref(), true),
            };
            let value = value.unwrap_or("/");
            filter::check_path(value)?;
            if prefix {
                if !only_prefixes(rule) {
                    return Err((
                        R::UnsupportedValue,
                        "ReplacePrefixMatch needs every match of the rule to be a PathPrefix"
                            .to_string(),
                    ));
                }
                Some(RedirectPath::Prefix(value.to_string()))
            } else {
                Some(RedirectPath::Full(value.to_string()))
            }
        }
    };
    Ok(Redirect {
        scheme: r.scheme.as_ref().map(|s| match s {
            Scheme::Http => "http".to_string(),
            Scheme::Https => "https".to_string(),
        }),
        host,
        port,
        path,
        status,
    })
}

/// A rule's action on one listener: a redirect gets the port the spec gives it there. Without
/// a port, a redirect that keeps the scheme keeps the listener's port, one that changes it
/// goes to the new scheme's well-known port; a well-known port (80 for http, 443 for https) is
/// then left out of the `Location`. Any other action is unchanged.
pub(crate) fn for_listener(action: &RouteAction, https: bool, listener_port: i32) -> RouteAction {
    let RouteAction::Redirect(r) = action else {
        return action.clone();
    };
    let listener_scheme = if https { "https" } else { "http" };
    let scheme = r.scheme.as_deref().unwrap_or(listener_scheme);
    let port = match (r.port, r.scheme.is_some()) {
        (Some(port), _) => Some(port),
        (None, true) => None,
        (None, false) => u32::try_from(listener_port).ok(),
    };
    let well_known = match scheme {
        "https" => 443,
        _ => 80,
    };
    RouteAction::Redirect(Redirect {
        port: port.filter(|p| *p != well_known),
        ..r.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(scheme: Option<&str>, port: Option<u32>) -> RouteAction {
        RouteAction::Redirect(Redirect {
            scheme: scheme.map(str::to_string),
            host: Some("example.org".to_string()),
            port,
            path: None,
            status: 302,
        })
    }

    fn port_on(action: RouteAction, https: bool, listener: i32) -> Option<u32> {
        match for_listener(&action, https, listener) {
            RouteAction::Redirect(r) => r.port,
            other => panic!("{other:?}"),
        }
    }

    /// The cases of the upstream HTTPRouteRedirectPortAndScheme test, listener by listener.
    #[test]
    fn ports_default_as_the_upstream_redirect_port_and_scheme_test_expects() {
        let http80 = |s, p| port_on(redirect(s, p), false, 80);
        assert_eq!(http80(None, None), None);
        assert_eq!(http80(None, Some(80)), None);
        assert_eq!(http80(None, Some(8080)), Some(8080));
        assert_eq!(http80(Some("https"), None), None);
        assert_eq!(http80(Some("https"), Some(443)), None);
        assert_eq!(http80(Some("https"), Some(8443)), Some(8443));
        let http8080 = |s, p| port_on(redirect(s, p), false, 8080);
        assert_eq!(http8080(None, None), Some(8080));
        assert_eq!(http8080(None, Some(80)), None);
        assert_eq!(http8080(Some("https"), None), None);
        let https443 = |s, p| port_on(redirect(s, p), true, 443);
        assert_eq!(https443(None, None), None);
        assert_eq!(https443(None, Some(443)), None);
        assert_eq!(https443(None, Some(8443)), Some(8443));
        assert_eq!(https443(Some("http"), None), None);
        assert_eq!(https443(Some("http"), Some(80)), None);
        assert_eq!(https443(Some("http"), Some(8080)), Some(8080));
    }
}

//! The config file's `policy:`: headers set and removed on every route, beneath the routes' and
//! services' own header policies, with Contour's semantics.
//!
//! As in Contour, the global policy is merged into each service's (cluster's) policy, where a
//! header the service names keeps the service's value. The route's own policy applies after the
//! cluster's in Envoy, so it wins over both.

use sesame_api::config::{HeadersPolicyParameters, PolicyParameters};

use crate::dag::{ClusterRewrites, HeadersPolicy};

/// Headers set and removed on every HTTPProxy route, and on Ingress routes when
/// `apply_to_ingress` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalHeaders {
    /// Headers set on and removed from requests (lower-case names; `host` is the rewrite).
    pub request: HeadersPolicy,
    /// The host requests are rewritten to (`Host` in `policy.request-headers.set`).
    pub host_rewrite: Option<String>,
    /// Headers set on and removed from responses.
    pub response: HeadersPolicy,
    /// Also apply them to Ingress routes (`policy.applyToIngress`).
    pub apply_to_ingress: bool,
}

impl GlobalHeaders {
    /// The policies of a `policy:` block that [`sesame_api::Config::validate`] accepted, with
    /// names lower-cased.
    pub fn from_config(policy: &PolicyParameters) -> Self {
        let (request, host_rewrite) = headers(&policy.request_headers);
        let (response, _) = headers(&policy.response_headers);
        GlobalHeaders {
            request,
            host_rewrite,
            response,
            apply_to_ingress: policy.apply_to_ingress,
        }
    }

    /// Whether the policies set, remove and rewrite nothing.
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty() && self.host_rewrite.is_none()
    }

    /// Adds the global policies to a cluster's own: a header the cluster sets keeps its value,
    /// as does a host the cluster rewrites to.
    pub(crate) fn merge_into(&self, rewrites: &mut ClusterRewrites) {
        merge(&mut rewrites.request_headers, &self.request);
        merge(&mut rewrites.response_headers, &self.response);
        if rewrites.host_rewrite.is_none() {
            rewrites.host_rewrite = self.host_rewrite.clone();
        }
    }
}

/// A direction's policy, names lower-cased, and the value of `Host` in its `set`.
fn headers(raw: &HeadersPolicyParameters) -> (HeadersPolicy, Option<String>) {
    let mut out = HeadersPolicy::default();
    let mut host = None;
    for (name, value) in &raw.set {
        let name = name.to_ascii_lowercase();
        if name == "host" {
            host = Some(value.clone());
        } else {
            out.set.push((name, value.as_str().into()));
        }
    }
    for name in &raw.remove {
        let name = name.to_ascii_lowercase();
        if !out.remove.contains(&name) {
            out.remove.push(name);
        }
    }
    (out, host)
}

/// Adds what `global` sets and removes to `own`, leaving the headers `own` sets as they are.
fn merge(own: &mut HeadersPolicy, global: &HeadersPolicy) {
    for (name, value) in &global.set {
        if !own.set.iter().any(|(n, _)| n == name) {
            own.set.push((name.clone(), value.clone()));
        }
    }
    for name in &global.remove {
        if !own.remove.contains(name) {
            own.remove.push(name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn global() -> GlobalHeaders {
        GlobalHeaders::from_config(&PolicyParameters {
            request_headers: HeadersPolicyParameters {
                set: BTreeMap::from([
                    ("X-Env".to_string(), "prod".to_string()),
                    ("Host".to_string(), "internal.example.com".to_string()),
                ]),
                remove: vec!["X-Debug".into(), "x-debug".into()],
            },
            response_headers: HeadersPolicyParameters {
                set: BTreeMap::from([("X-Served-By".to_string(), "sesame".to_string())]),
                remove: vec!["Server".into()],
            },
            apply_to_ingress: false,
        })
    }

    #[test]
    fn config_names_are_lower_cased_and_host_is_the_rewrite() {
        let g = global();
        assert_eq!(g.request.set, [("x-env".to_string(), "prod".into())]);
        assert_eq!(g.request.remove, ["x-debug"]);
        assert_eq!(g.host_rewrite.as_deref(), Some("internal.example.com"));
        assert_eq!(g.response.remove, ["server"]);
        assert!(GlobalHeaders::default().is_empty() && !g.is_empty());
    }

    #[test]
    fn a_clusters_own_headers_and_host_win() {
        let mut plain = ClusterRewrites::default();
        global().merge_into(&mut plain);
        assert_eq!(plain.request_headers.set, [("x-env".into(), "prod".into())]);
        assert_eq!(plain.host_rewrite.as_deref(), Some("internal.example.com"));
        assert_eq!(
            plain.response_headers.set,
            [("x-served-by".into(), "sesame".into())]
        );

        let mut own = ClusterRewrites::default();
        own.request_headers.set = vec![("x-env".into(), "staging".into())];
        own.request_headers.remove = vec!["x-debug".into()];
        own.host_rewrite = Some("own.example.com".into());
        global().merge_into(&mut own);
        assert_eq!(
            own.request_headers.set,
            [("x-env".into(), "staging".into())]
        );
        assert_eq!(own.request_headers.remove, ["x-debug"]);
        assert_eq!(own.host_rewrite.as_deref(), Some("own.example.com"));

        let mut untouched = ClusterRewrites::default();
        GlobalHeaders::default().merge_into(&mut untouched);
        assert_eq!(untouched, ClusterRewrites::NONE);
    }
}

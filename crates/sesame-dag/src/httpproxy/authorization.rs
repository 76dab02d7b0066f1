//! External authorization of a root's virtual host (`virtualhost.authorization`) and of its
//! routes (`authPolicy`), as Contour builds them: TLS hosts only, an ExtensionService that
//! must exist and be valid, the host's policy the default of every route.

use std::collections::BTreeMap;

use sesame_api::httpproxy::{AuthorizationServer, RouteAuthorizationPolicy, VirtualHost};

use crate::build::Builder;
use crate::dag::{Authorization, AuthorizationBody, RouteAuthorization, Timeout};
use crate::extension::Unusable;
use crate::object::NamespacedName;
use crate::status::{ObjectStatus, ProblemKind, Reason};

/// The only `extensionRef.apiVersion` (Contour's `projectcontour.io/v1alpha1`).
pub(crate) const EXTENSION_API_VERSION: &str = "projectsesame.io/v1alpha1";

/// Envoy's ext_authz default of `withRequestBody.maxRequestBytes` (Contour's too).
const DEFAULT_MAX_REQUEST_BYTES: u32 = 1024;

/// What the routes of a host with authorization start from: the host's `authPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostAuthorization {
    /// Requests are not checked unless a route enables it.
    pub disabled: bool,
    /// Context extensions of every check, beneath a route's own.
    pub context: BTreeMap<String, String>,
}

impl<'a> Builder<'a> {
    /// Checks `virtualhost.authorization` of the root in `namespace`: `Ok(None)` when there is
    /// none, `Err(())` with the error in `status` when the host must not be served (as
    /// Contour, a host whose authorization is wrong is not served open).
    pub(crate) fn host_authorization(
        &mut self,
        namespace: &str,
        vhost: &VirtualHost,
        status: &mut ObjectStatus,
    ) -> Result<Option<(Authorization, HostAuthorization)>, ()> {
        let Some(auth) = vhost.authorization.as_ref() else {
            return Ok(None);
        };
        let mut fail = |kind: ProblemKind, reason: Reason, message: String| {
            status.error(kind, reason, message);
            Err(())
        };
        let tls = vhost.tls.as_ref();
        let terminated = tls.is_some_and(|t| {
            !t.passthrough && t.secret_name.as_deref().is_some_and(|s| !s.is_empty())
        });
        if !terminated {
            return fail(
                ProblemKind::AuthError,
                Reason::AuthNotPermitted,
                "Spec.VirtualHost.Authorization.ServiceRef can only be defined for root HTTPProxies that terminate TLS".to_string(),
            );
        }
        if tls.is_some_and(|t| t.enable_fallback_certificate) {
            return fail(
                ProblemKind::TLSError,
                Reason::TLSIncompatibleFeatures,
                "Spec.Virtualhost.TLS fallback & client authorization are incompatible".to_string(),
            );
        }
        let reference = match extension_ref(auth, namespace) {
            Ok(r) => r,
            Err(version) => {
                return fail(
                    ProblemKind::AuthError,
                    Reason::AuthBadResourceVersion,
                    format!(
                        "Spec.Virtualhost.Authorization.extensionRef specifies an unsupported resource version {version:?}"
                    ),
                );
            }
        };
        let extension = match self.extension(&reference) {
            Ok(e) => e,
            Err(why) => {
                let what = match why {
                    Unusable::NotFound => "not found",
                    Unusable::Invalid => "not valid (see its status)",
                };
                return fail(
                    ProblemKind::AuthError,
                    Reason::ExtensionServiceNotFound,
                    format!(
                        "Spec.Virtualhost.Authorization.ServiceRef extension service \"{reference}\" {what}"
                    ),
                );
            }
        };
        let timeout = match auth.response_timeout.as_deref().filter(|t| !t.is_empty()) {
            None => extension.response_timeout,
            Some(raw) => match Timeout::parse(raw) {
                Ok(t) => Some(t),
                Err(e) => {
                    return fail(
                        ProblemKind::AuthError,
                        Reason::AuthResponseTimeoutInvalid,
                        format!(
                            "Spec.Virtualhost.Authorization.ResponseTimeout {raw:?} is invalid: {e}"
                        ),
                    );
                }
            },
        };
        let with_request_body = match auth
            .with_request_body
            .as_ref()
            .map(request_body)
            .transpose()
        {
            Ok(body) => body,
            Err(message) => {
                return fail(
                    ProblemKind::AuthError,
                    Reason::AuthRequestBodyNotValid,
                    message,
                );
            }
        };
        let policy = auth.auth_policy.as_ref();
        Ok(Some((
            Authorization {
                cluster: extension.cluster,
                authority: extension.authority,
                timeout,
                fail_open: auth.fail_open,
                with_request_body,
            },
            HostAuthorization {
                disabled: policy.is_some_and(|p| p.disabled),
                context: policy.map(|p| p.context.clone()).unwrap_or_default(),
            },
        )))
    }
}

/// The ExtensionService an authorization names (in the HTTPProxy's namespace unless it says
/// another), or the unsupported `apiVersion` it names.
fn extension_ref(auth: &AuthorizationServer, namespace: &str) -> Result<NamespacedName, String> {
    let reference = auth.extension_ref.clone().unwrap_or_default();
    let version = reference
        .api_version
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| EXTENSION_API_VERSION.to_string());
    if version != EXTENSION_API_VERSION {
        return Err(version);
    }
    let ns = reference
        .namespace
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| namespace.to_string());
    Ok(NamespacedName::new(ns, reference.name.unwrap_or_default()))
}

/// `withRequestBody`, checked: `maxRequestBytes` from 1 to 2³²−1 (1024 when absent or 0, as
/// Contour).
fn request_body(
    body: &sesame_api::httpproxy::AuthorizationServerBufferSettings,
) -> Result<AuthorizationBody, String> {
    let max_request_bytes = match body.max_request_bytes {
        None | Some(0) => DEFAULT_MAX_REQUEST_BYTES,
        Some(n) => u32::try_from(n).map_err(|_| {
            format!(
                "Spec.Virtualhost.Authorization.WithRequestBody.MaxRequestBytes {n} is not from 1 to 4294967295"
            )
        })?,
    };
    Ok(AuthorizationBody {
        max_request_bytes,
        allow_partial_message: body.allow_partial_message,
        pack_as_bytes: body.pack_as_bytes,
    })
}

/// A route's authorization on a host with `host` defaults (`None` without authorization):
/// the route's `authPolicy.disabled` wins over the host's, and its `context` entries over the
/// host's of the same key (Contour's merge). `None` also when checks need nothing special.
pub(crate) fn route_authorization(
    host: Option<&HostAuthorization>,
    route: Option<&RouteAuthorizationPolicy>,
) -> Option<Box<RouteAuthorization>> {
    let host = host?;
    let disabled = route.map_or(host.disabled, |r| r.disabled);
    if disabled {
        return Some(Box::new(RouteAuthorization::Disabled));
    }
    let mut context = host.context.clone();
    if let Some(route) = route {
        context.extend(route.context.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    (!context.is_empty()).then(|| Box::new(RouteAuthorization::Context(context)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(disabled: bool, context: &[(&str, &str)]) -> RouteAuthorizationPolicy {
        RouteAuthorizationPolicy {
            disabled,
            context: context
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn routes_inherit_and_override_the_hosts_policy() {
        let host = HostAuthorization {
            disabled: false,
            context: [("tier".to_string(), "gold".to_string())].into(),
        };
        assert_eq!(route_authorization(None, Some(&policy(true, &[]))), None);
        assert_eq!(
            route_authorization(Some(&host), None).as_deref(),
            Some(&RouteAuthorization::Context(host.context.clone()))
        );
        let merged = route_authorization(
            Some(&host),
            Some(&policy(false, &[("tier", "silver"), ("app", "web")])),
        );
        let expected: BTreeMap<String, String> = [
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "silver".to_string()),
        ]
        .into();
        assert_eq!(
            merged.as_deref(),
            Some(&RouteAuthorization::Context(expected))
        );
        assert_eq!(
            route_authorization(Some(&host), Some(&policy(true, &[]))).as_deref(),
            Some(&RouteAuthorization::Disabled)
        );
        let off = HostAuthorization {
            disabled: true,
            context: BTreeMap::new(),
        };
        assert_eq!(
            route_authorization(Some(&off), None).as_deref(),
            Some(&RouteAuthorization::Disabled)
        );
        // A route may switch checks back on under a host that disables them.
        assert_eq!(
            route_authorization(Some(&off), Some(&policy(false, &[]))),
            None
        );
    }

    #[test]
    fn request_body_defaults_and_bounds() {
        let body = |n| sesame_api::httpproxy::AuthorizationServerBufferSettings {
            max_request_bytes: n,
            allow_partial_message: true,
            pack_as_bytes: false,
        };
        assert_eq!(request_body(&body(None)).unwrap().max_request_bytes, 1024);
        assert_eq!(
            request_body(&body(Some(0))).unwrap().max_request_bytes,
            1024
        );
        assert_eq!(request_body(&body(Some(10))).unwrap().max_request_bytes, 10);
        assert!(request_body(&body(Some(-1))).is_err());
        assert!(request_body(&body(Some(1 << 32))).is_err());
    }
}

//! Ingress processing: rules, paths, backends and TLS sections of one Ingress into routes.

use std::borrow::Cow;
use std::collections::btree_map::Entry;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, IngressBackend, IngressTLS};

use crate::annotation::{IngressAnnotations, Warnings};
use crate::build::Builder;
use crate::dag::{
    ClusterRewrites, Forward, HeaderMatch, HeaderValueMatch, RouteAction, TlsVersion,
    WeightedCluster,
};
use crate::hostname;
use crate::object::ObjectKey;
use crate::object::compact::Ingress;
use crate::path::{self, PathError};
use crate::secret::Secrets;
use crate::status::{ObjectStatus, ProblemKind, Reason};
use crate::vhost::{PendingRoute, RouteKey, TlsHost};

/// The answer of a route whose backend cannot be reached.
const UNAVAILABLE: RouteAction = RouteAction::DirectResponse {
    status: 503,
    body: None,
};

/// One Ingress being processed: the object, its parsed annotations and its status.
struct Context<'a, 'k> {
    key: &'k ObjectKey,
    namespace: &'a str,
    annotations: IngressAnnotations,
    status: ObjectStatus,
}

impl<'a> Builder<'a> {
    /// Adds one Ingress (already selected by class) to the build and records its status.
    pub(crate) fn ingress(&mut self, key: ObjectKey, namespace: &'a str, ingress: &'a Ingress) {
        let mut status = ObjectStatus::valid(ingress.metadata.generation);
        let mut warnings = Warnings::new();
        let annotations =
            IngressAnnotations::parse(ingress.metadata.annotations.as_ref(), &mut warnings);
        for ignored in warnings.ignored {
            status.warning(
                ProblemKind::AnnotationError,
                Reason::AnnotationValueInvalid,
                ignored.message,
            );
        }
        let mut cx = Context {
            key: &key,
            namespace,
            annotations,
            status,
        };
        if let Some(spec) = ingress.spec.as_ref() {
            if let Some(tls) = spec.tls.as_deref().filter(|t| !t.is_empty()) {
                self.tls_sections(&mut cx, tls);
            }
            if let Some(backend) = spec.default_backend.as_ref() {
                self.route(&mut cx, "*", None, None, backend);
            }
            for rule in spec.rules.iter().flatten() {
                let Some(http) = rule.http.as_ref() else {
                    continue;
                };
                let host = match rule.host.as_deref() {
                    None | Some("") => Cow::Borrowed("*"),
                    Some(raw) => match hostname::parse(raw) {
                        Ok(host) => host,
                        Err(e) => {
                            cx.status.error(
                                ProblemKind::VirtualHostError,
                                Reason::InvalidHostname,
                                format!("host {raw:?} is not valid: {e}"),
                            );
                            continue;
                        }
                    },
                };
                let authority = hostname::is_wildcard(&host).then(|| HeaderMatch {
                    name: ":authority".to_string(),
                    value: HeaderValueMatch::Regex(hostname::authority_regex(&host)),
                    invert: false,
                    ignore_case: false,
                });
                for path in &http.paths {
                    self.path(&mut cx, &host, authority.as_ref(), path);
                }
            }
        }
        let status = cx.status;
        self.status.objects.insert(key, status);
    }

    fn path(
        &mut self,
        cx: &mut Context<'a, '_>,
        host: &str,
        authority: Option<&HeaderMatch>,
        path: &'a HTTPIngressPath,
    ) {
        let path_type = Some(path.path_type.as_str()).filter(|t| !t.is_empty());
        self.route(
            cx,
            host,
            authority,
            Some((path.path.as_deref(), path_type)),
            &path.backend,
        );
    }

    /// Adds the route for one path (`None`: the default backend, `Prefix /`) of `host`.
    fn route(
        &mut self,
        cx: &mut Context<'a, '_>,
        host: &str,
        authority: Option<&HeaderMatch>,
        path: Option<(Option<&str>, Option<&str>)>,
        backend: &'a IngressBackend,
    ) {
        let (raw_path, path_type) = path.unwrap_or((Some("/"), Some("Prefix")));
        let path_match = match path::parse(raw_path, path_type) {
            Ok(m) => m,
            Err(e) => {
                let reason = match e {
                    PathError::UnknownType(_) => Reason::PathTypeNotValid,
                    PathError::Regex { .. } => Reason::RegexNotValid,
                    _ => Reason::PathNotValid,
                };
                cx.status.error(
                    ProblemKind::RouteError,
                    reason,
                    format!("host {host:?}: {e}"),
                );
                return;
            }
        };
        let key = RouteKey {
            headers: authority.into_iter().cloned().collect(),
            ..RouteKey::path(path_match)
        };
        let table = match self.hosts.get_mut(host) {
            Some(table) => table,
            None => self.hosts.entry(host.to_string()).or_default(),
        };
        if let Some(existing) = table.get(&key) {
            let by = if existing.origin == *cx.key {
                "earlier in this Ingress".to_string()
            } else {
                format!("by {}", existing.origin)
            };
            cx.status.error(
                ProblemKind::RouteError,
                Reason::DuplicateMatchConditions,
                format!(
                    "duplicate route for host {host:?} path {:?}: already served {by}",
                    key.path.value()
                ),
            );
            return;
        }
        let websocket = cx
            .annotations
            .websocket(raw_path.unwrap_or("/"), key.path.value());
        let action = self.action(cx, backend, websocket);
        let pending = PendingRoute {
            action,
            origin: cx.key.clone(),
            allow_http: cx.annotations.allow_http,
            force_ssl_redirect: cx.annotations.force_ssl_redirect,
            ip_filter: None,
            authorization: None,
            jwt_provider: None,
        };
        // The table's borrow ended for the service lookup: find it again.
        if let Some(table) = self.hosts.get_mut(host) {
            table.insert(key, pending);
        }
    }

    /// What a route to `backend` does: forward to its cluster, or answer 503 when the backend
    /// cannot be resolved (the status says why).
    fn action(
        &mut self,
        cx: &mut Context<'a, '_>,
        backend: &'a IngressBackend,
        websocket: bool,
    ) -> RouteAction {
        match self.services.cluster(
            self.snapshot,
            cx.namespace,
            backend,
            &mut self.dag,
            &mut self.status,
        ) {
            Ok(cluster) => RouteAction::Forward(Forward {
                clusters: vec![self.ingress_cluster(cluster)],
                timeout: cx.annotations.timeout,
                retry: cx.annotations.retry.clone(),
                websocket,
                ..Default::default()
            }),
            Err(problem) => {
                cx.status
                    .error(problem.kind, problem.reason, problem.message);
                UNAVAILABLE
            }
        }
    }

    /// The weighted cluster of an Ingress route, with the config's global header policies when
    /// they apply to Ingresses (`policy.applyToIngress`).
    fn ingress_cluster(&self, name: String) -> WeightedCluster {
        let cluster = WeightedCluster::new(name, 1);
        let policy = &self.config.policy;
        if !policy.apply_to_ingress {
            return cluster;
        }
        let mut rewrites = ClusterRewrites::default();
        policy.merge_into(&mut rewrites);
        cluster.with_rewrites(rewrites)
    }

    /// Claims the hosts of each TLS section whose Secret is valid.
    fn tls_sections(&mut self, cx: &mut Context<'a, '_>, sections: &'a [IngressTLS]) {
        let (min, max) = self.tls_versions(cx);
        for section in sections {
            let hosts = section.hosts.as_deref().unwrap_or_default();
            let Some(secret_name) = section.secret_name.as_deref().filter(|s| !s.is_empty()) else {
                continue;
            };
            // `namespace/name` names a Secret in another namespace, which needs a delegation.
            let secret = match self.delegated(cx.namespace, secret_name, Secrets::get) {
                Ok(secret) => secret,
                Err((reason, message)) => {
                    let unserved = if reason == Reason::DelegationNotPermitted {
                        String::new()
                    } else {
                        format!("; hosts {} are served without TLS", hosts.join(", "))
                    };
                    cx.status.error(
                        ProblemKind::TLSError,
                        reason,
                        format!("secret {message}{unserved}"),
                    );
                    continue;
                }
            };
            for raw in hosts {
                let host = match hostname::parse(raw) {
                    Ok(host) => host,
                    Err(hostname::HostnameError::BareWildcard) => continue,
                    Err(e) => {
                        cx.status.error(
                            ProblemKind::VirtualHostError,
                            Reason::InvalidHostname,
                            format!("tls host {raw:?} is not valid: {e}"),
                        );
                        continue;
                    }
                };
                match self.tls.entry(host.into_owned()) {
                    Entry::Vacant(v) => {
                        v.insert(TlsHost::new(secret.clone(), min, max, cx.key.clone()));
                    }
                    Entry::Occupied(o) if o.get().secret.name == secret.name => {}
                    Entry::Occupied(o) => cx.status.error(
                        ProblemKind::TLSError,
                        Reason::CertificateConflict,
                        format!(
                            "host {:?} is already served with secret {} by {}; secret {} ignored",
                            o.key(),
                            o.get().secret.source,
                            o.get().origin,
                            secret.source,
                        ),
                    ),
                }
            }
        }
    }

    /// The TLS versions of this Ingress's secure hosts: the annotations within the configured
    /// range, or the configured range when they contradict each other.
    fn tls_versions(&self, cx: &mut Context<'a, '_>) -> (TlsVersion, TlsVersion) {
        let (config_min, config_max) = (self.config.min_tls_version, self.config.max_tls_version);
        let min = cx
            .annotations
            .min_tls
            .map_or(config_min, |v| v.max(config_min));
        let max = cx
            .annotations
            .max_tls
            .map_or(config_max, |v| v.min(config_max));
        if min > max {
            cx.status.error(
                ProblemKind::TLSError,
                Reason::TLSConfigNotValid,
                format!("minimum TLS version {min:?} is above maximum TLS version {max:?}; using the defaults"),
            );
            return (config_min, config_max);
        }
        (min, max)
    }
}

#[cfg(test)]
mod tests;

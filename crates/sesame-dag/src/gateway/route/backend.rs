//! The backends of a route rule of any kind (HTTPRoute, GRPCRoute): references to Service
//! ports checked (kind, ReferenceGrant, port) and resolved to weighted clusters, mirrors, and
//! the forward action they make up.

use super::{RouteId, RuleResult};
use crate::build::Builder;
use crate::dag::{
    ClusterRewrites, Forward, ForwardPolicies, Mirror, RetryPolicy, RouteAction, Timeout,
    WeightedCluster,
};
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::service::{ClusterSettings, PortRef};
use crate::status::gateway::{Condition, ConditionReason as R, ConditionType as T};

/// A reference to a Service port, as a backendRef or a mirror's backendRef writes it.
#[derive(Clone, Copy)]
pub(in crate::gateway) struct ServiceRef<'a> {
    /// The group (`""` for core).
    pub group: Option<&'a str>,
    /// The kind (`Service`).
    pub kind: Option<&'a str>,
    /// The name.
    pub name: &'a str,
    /// The namespace (the route's when unset).
    pub namespace: Option<&'a str>,
    /// The port.
    pub port: Option<i32>,
}

/// The [`ServiceRef`] of any backendRef-shaped value (every route kind's backendRefs and
/// mirror backendRefs have these fields).
macro_rules! service_ref {
    ($b:expr) => {
        $crate::gateway::route::backend::ServiceRef {
            group: $b.group.as_deref(),
            kind: $b.kind.as_deref(),
            name: &$b.name,
            namespace: $b.namespace.as_deref(),
            port: $b.port,
        }
    };
}
pub(in crate::gateway) use service_ref;

/// Why a reference to a Service port gives no cluster.
#[derive(Debug)]
pub(in crate::gateway) enum BackendRefError {
    /// The reference does not resolve: the route's `ResolvedRefs=False`, with this reason.
    Ref(R, String),
    /// It resolves, but a refused BackendTLSPolicy applies to it: it is sent nothing (its
    /// requests get a 500) and the policy's status says why.
    Refused,
}

/// One backendRef of a rule: its Service port, weight and own header filters.
pub(in crate::gateway) struct Backend<'a> {
    /// The Service port.
    pub service: ServiceRef<'a>,
    /// Its weight (1 when unset; 0 sends it nothing).
    pub weight: Option<i32>,
    /// The header filters of this backend alone.
    pub rewrites: ClusterRewrites,
}

impl<'a> Builder<'a> {
    /// The forward action of a rule to its backends, with its policies and timeouts; a 500
    /// when no backend resolved (and `ResolvedRefs=False` says why).
    pub(in crate::gateway) fn forward_to(
        &mut self,
        route: RouteId<'a>,
        policies: ForwardPolicies,
        backends: Vec<Backend<'a>>,
        (timeout, retry): (Option<Timeout>, Option<RetryPolicy>),
        resolved: &mut Option<Condition>,
    ) -> RuleResult {
        let mut clusters = Vec::new();
        let mut websocket = false;
        for backend in backends {
            match self.service_ref(route, &backend.service) {
                Ok(cluster) => {
                    let weight = backend.weight.unwrap_or(1);
                    if weight <= 0 {
                        continue;
                    }
                    websocket |= route.kind == Kind::HTTPRoute
                        && self.speaks_websocket(route.name, &backend.service);
                    clusters.push(
                        WeightedCluster::new(cluster, weight as u32)
                            .with_rewrites(backend.rewrites),
                    );
                }
                Err(BackendRefError::Ref(reason, message)) => {
                    resolved.get_or_insert(Condition::no(T::ResolvedRefs, reason, message));
                }
                Err(BackendRefError::Refused) => {}
            }
        }
        if clusters.is_empty() {
            return Ok(RouteAction::DirectResponse {
                status: 500,
                body: None,
            });
        }
        let has_policies = policies != ForwardPolicies::default();
        Ok(RouteAction::Forward(Forward {
            clusters,
            timeout,
            retry,
            websocket,
            policies: has_policies.then(|| Box::new(policies)),
        }))
    }

    /// Whether a backendRef's Service port says it speaks WebSocket (`appProtocol`
    /// `kubernetes.io/ws` or `kubernetes.io/wss`): its rule then lets the upgrade through.
    fn speaks_websocket(&self, route: &NamespacedName, b: &ServiceRef<'_>) -> bool {
        let namespace = b.namespace.unwrap_or(&route.namespace);
        let service = NamespacedName::new(namespace, b.name);
        self.snapshot.services.get(&service).is_some_and(|s| {
            s.ports.iter().any(|p| {
                Some(p.port) == b.port
                    && matches!(
                        p.app_protocol.as_deref(),
                        Some("kubernetes.io/ws" | "kubernetes.io/wss")
                    )
            })
        })
    }

    /// The cluster of a reference to a Service port (a backendRef or a mirror's), checked:
    /// a Service, in the route's namespace or one whose ReferenceGrant allows it, with a port.
    /// A GRPCRoute's clusters speak HTTP/2 whatever the Service says.
    pub(in crate::gateway) fn service_ref(
        &mut self,
        route: RouteId<'a>,
        r: &ServiceRef<'a>,
    ) -> Result<String, BackendRefError> {
        let group = r.group.unwrap_or("");
        let kind = r.kind.unwrap_or("Service");
        if !group.is_empty() || kind != "Service" {
            return Err(BackendRefError::Ref(
                R::InvalidKind,
                format!(
                    "backendRef {:?} is a {group}/{kind}; only Services are supported",
                    r.name
                ),
            ));
        }
        let namespace: &'a str = r.namespace.unwrap_or(&route.name.namespace);
        if namespace != &*route.name.namespace
            && !self.reference_granted(
                (route.kind.as_str(), &route.name.namespace),
                ("Service", namespace, r.name),
            )
        {
            return Err(BackendRefError::Ref(
                R::RefNotPermitted,
                format!(
                    "backendRef {namespace}/{} is in another namespace and no ReferenceGrant there allows it",
                    r.name
                ),
            ));
        }
        let Some(port) = r.port else {
            return Err(BackendRefError::Ref(
                R::BackendNotFound,
                format!("backendRef {namespace}/{} must name a port", r.name),
            ));
        };
        let mut settings = ClusterSettings {
            http2: route.kind == Kind::GRPCRoute,
            ..ClusterSettings::default()
        };
        if matches!(route.kind, Kind::HTTPRoute | Kind::GRPCRoute) {
            let service = self
                .snapshot
                .services
                .get(&NamespacedName::new(namespace, r.name));
            let port_spec = (service.into_iter().flat_map(|s| &s.ports)).find(|p| p.port == port);
            let policy =
                port_spec.and_then(|p| self.backend_tls(namespace, r.name, p.name.as_deref()));
            match policy {
                None => {}
                Some(Ok(tls)) => {
                    settings.tls = true;
                    settings.sni = Some(tls.sni);
                    settings.upstream_validation = Some(Box::new(tls.validation));
                    settings.client_certificate = tls.client_certificate;
                }
                Some(Err(_)) => {
                    // Not resolved, yet read: its changes must rebuild the route.
                    let service = NamespacedName::new(namespace, r.name);
                    (self.dag.references).insert(ObjectKey::new(Kind::Service, service));
                    return Err(BackendRefError::Refused);
                }
            }
        }
        self.services
            .resolve(
                self.snapshot,
                namespace,
                r.name,
                PortRef::Number(port),
                &settings,
                &mut self.dag,
                &mut self.status,
            )
            .map_err(|problem| BackendRefError::Ref(R::BackendNotFound, problem.message))
    }

    /// The mirror a RequestMirror filter asks for (its `percent`, or its `fraction` as
    /// numerator and denominator); `None` (and `ResolvedRefs=False`) when its backend does not
    /// resolve.
    pub(in crate::gateway) fn mirror(
        &mut self,
        route: RouteId<'a>,
        percent: Option<i32>,
        fraction: Option<(i32, Option<i32>)>,
        target: ServiceRef<'a>,
        resolved: &mut Option<Condition>,
    ) -> Result<Option<Mirror>, (R, String)> {
        // The share in millionths: a fraction that is none is rounded to the nearest.
        let per_million = match (percent, fraction) {
            (Some(p @ 0..=100), None) => p as u32 * 10_000,
            (None, None) => 1_000_000,
            (None, Some((n, d))) => {
                let (n, d) = (i64::from(n), i64::from(d.unwrap_or(100)));
                if d <= 0 || n < 0 || n > d {
                    return Err((
                        R::UnsupportedValue,
                        format!("mirror fraction {n}/{d} is not between 0 and 1"),
                    ));
                }
                ((n * 1_000_000 + d / 2) / d) as u32
            }
            _ => {
                return Err((
                    R::UnsupportedValue,
                    "mirror percent must be 0 to 100, and not given with a fraction".to_string(),
                ));
            }
        };
        match self.service_ref(route, &target) {
            Ok(cluster) => Ok(Some(Mirror {
                cluster,
                per_million,
            })),
            Err(BackendRefError::Ref(reason, message)) => {
                resolved.get_or_insert(Condition::no(T::ResolvedRefs, reason, message));
                Ok(None)
            }
            Err(BackendRefError::Refused) => Ok(None),
        }
    }
}

//! BackendTLSPolicy: TLS from Envoy to the Services the served Gateway's HTTPRoutes and
//! GRPCRoutes send traffic to.
//!
//! A policy targets a Service (its `sectionName` a port name, or every port). Of the policies
//! that target the same Service and sectionName, the oldest (creation time, then namespace and
//! name) applies and the others are `Accepted=False/Conflicted`; a policy naming the port wins
//! over one naming the whole Service. A backend whose policy applies speaks TLS, sends the
//! policy's `hostname` as SNI and checks the backend's certificate against the policy's CA
//! bundle and names. A backend whose policy is refused (no valid CA certificate, an invalid
//! reference, an unsupported value) is sent nothing: its requests get a 500, never plain text.
//!
//! Policies get a status when a route uses a Service port they target: one ancestor per served
//! Gateway such a route attaches to. A route's rules are built once whatever its Gateways, so
//! the client certificate its backends get is that of the oldest served Gateway it names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sesame_gateway_api::BackendTlsPolicy;
use sesame_gateway_api::backendtlspolicy::BackendTlsPolicyValidationSubjectAltNamesType as SanType;

use super::ca::{CaRef, CaRefError};
use super::stream::oldest_first;
use super::tls::SecretRef;
use crate::build::Builder;
use crate::dag::{TlsSecret, UpstreamValidation};
use crate::hostname;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{
    Condition, ConditionReason as R, ConditionType as T, GatewayApiStatus, ParentRef,
    PolicyAncestorStatus,
};

/// The TLS a policy asks of the connections to its backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BackendTls {
    /// The server name sent in the handshake (`hostname`).
    pub sni: String,
    /// How the backend's certificate is checked.
    pub validation: UpstreamValidation,
    /// The certificate presented to the backend: the route's oldest Gateway's, if it has one.
    pub client_certificate: Option<Arc<TlsSecret>>,
}

/// The policies of each target (a Service, and a port name or `None` for every port), in
/// precedence order.
type Targets<'a> = BTreeMap<(NamespacedName, Option<&'a str>), Vec<&'a NamespacedName>>;

/// The policies of one build: which targets each Service port, and their verdicts.
#[derive(Debug, Default)]
pub(crate) struct BackendTlsPolicies<'a> {
    /// The policies of each target; indexed on first use.
    targets: Option<Targets<'a>>,
    /// The verdict on each policy that applies somewhere: its TLS, or why it gives none, and
    /// its conditions.
    verdicts: BTreeMap<&'a NamespacedName, (Result<BackendTls, String>, Vec<Condition>)>,
    /// The policies that target a Service port some route uses (they get a status), with
    /// whether they lost a conflict and the Gateways of those routes (with their precedence).
    used: BTreeMap<&'a NamespacedName, (bool, BTreeSet<Gateway<'a>>)>,
    /// The certificate each served Gateway presents to the backends (its
    /// `tls.backend.clientCertificateRef`), when it names a usable one.
    client_certificates: BTreeMap<&'a NamespacedName, Arc<TlsSecret>>,
    /// The served Gateways the route whose rules are being built attaches to, in precedence
    /// order.
    route_gateways: Vec<Gateway<'a>>,
}

/// A served Gateway: its place in precedence order, and its name.
pub(crate) type Gateway<'a> = (usize, &'a NamespacedName);

impl<'a> BackendTlsPolicies<'a> {
    /// Sets the served Gateways (in precedence order) of the route whose backends are looked up
    /// next: the policies they use get them as ancestors, and the first one's client
    /// certificate.
    pub(crate) fn set_route_gateways(&mut self, gateways: Vec<Gateway<'a>>) {
        self.route_gateways = gateways;
    }
}

impl<'a> Builder<'a> {
    /// The TLS to the Service port `namespace/name:port` (named `port_name`), when a policy
    /// targets it: `Some(Ok(..))` to use, `Some(Err(why))` when the policy applies but is
    /// refused (the backend must then get nothing).
    pub(in crate::gateway) fn backend_tls(
        &mut self,
        namespace: &'a str,
        name: &'a str,
        port_name: Option<&'a str>,
    ) -> Option<Result<BackendTls, String>> {
        let snapshot = self.snapshot;
        let targets = self
            .backend_tls_policies
            .targets
            .get_or_insert_with(|| index(snapshot));
        let service = NamespacedName::new(namespace, name);
        let mut winner = None;
        // The port's own policies first: one of them wins over the whole Service's.
        for section in [port_name.map(Some), Some(None)].into_iter().flatten() {
            let Some(policies) = targets.get(&(service.clone(), section)) else {
                continue;
            };
            let gateways = &self.backend_tls_policies.route_gateways;
            for (i, policy) in policies.iter().enumerate() {
                let lost = i > 0;
                let used = (self.backend_tls_policies.used.entry(policy))
                    .or_insert_with(|| (lost, BTreeSet::new()));
                used.0 &= lost;
                used.1.extend(gateways.iter().copied());
            }
            winner = winner.or(policies.first().copied());
        }
        let key = winner?;
        if !self.backend_tls_policies.verdicts.contains_key(key) {
            let verdict = self.backend_tls_verdict(key, &snapshot.backend_tls_policies[key]);
            self.backend_tls_policies.verdicts.insert(key, verdict);
        }
        let policies = &self.backend_tls_policies;
        let oldest = policies.route_gateways.first();
        let client_certificate =
            oldest.and_then(|(_, g)| policies.client_certificates.get(g).cloned());
        let verdict = self.backend_tls_policies.verdicts[key].0.clone();
        Some(verdict.map(|tls| BackendTls {
            client_certificate,
            ..tls
        }))
    }

    /// Resolves the certificate the Gateway `name` presents to TLS backends (its
    /// `tls.backend.clientCertificateRef`: a TLS Secret in its namespace or, with a
    /// ReferenceGrant, another); returns the Gateway's `ResolvedRefs` condition when it names
    /// one. An unusable reference leaves the Gateway accepted and presenting nothing.
    pub(in crate::gateway) fn gateway_client_certificate(
        &mut self,
        name: &'a NamespacedName,
        gateway: &'a sesame_gateway_api::Gateway,
    ) -> Option<Condition> {
        let tls = gateway.spec.tls.as_ref()?.backend.as_ref()?;
        let r = tls.client_certificate_ref.as_ref()?;
        let r = SecretRef {
            field: "tls.backend.clientCertificateRef",
            group: r.group.as_deref().unwrap_or(""),
            kind: r.kind.as_deref().unwrap_or("Secret"),
            name: &r.name,
            namespace: r.namespace.as_deref(),
        };
        let from = ("Gateway", &*name.namespace);
        match self.tls_secret_ref(from, r, R::InvalidClientCertificateRef) {
            Ok(secret) => {
                (self.backend_tls_policies.client_certificates).insert(name, secret);
                Some(Condition::yes(
                    T::ResolvedRefs,
                    R::ResolvedRefs,
                    "every reference resolved",
                ))
            }
            Err((reason, message)) => Some(Condition::no(T::ResolvedRefs, reason, message)),
        }
    }

    /// Checks a policy: its CA bundle, hostname and subject alternative names.
    fn backend_tls_verdict(
        &mut self,
        key: &'a NamespacedName,
        policy: &'a BackendTlsPolicy,
    ) -> (Result<BackendTls, String>, Vec<Condition>) {
        let validation = &policy.spec.validation;
        let refused = |reason, message: String| {
            let accepted = Condition::no(T::Accepted, reason, message.clone());
            (Err(message), vec![accepted])
        };
        if let Some(set) = validation.well_known_ca_certificates.as_deref() {
            return refused(
                R::Invalid,
                format!(
                    "wellKnownCACertificates {set:?} is not supported: name the CA bundle in caCertificateRefs"
                ),
            );
        }
        match hostname::parse(&validation.hostname) {
            Ok(host) if !hostname::is_wildcard(&host) => {}
            Ok(_) => {
                return refused(
                    R::Invalid,
                    "hostname must be a precise host name, not a wildcard".to_string(),
                );
            }
            Err(e) => return refused(R::Invalid, format!("hostname: {e}")),
        }
        let (mut subject_names, mut subject_uris) = (Vec::new(), Vec::new());
        for san in validation.subject_alt_names.iter().flatten() {
            let (value, list) = match san.r#type {
                SanType::Hostname => (san.hostname.as_ref(), &mut subject_names),
                SanType::Uri => (san.uri.as_ref(), &mut subject_uris),
            };
            match value.filter(|v| !v.is_empty()) {
                Some(v) => list.push(v.clone()),
                None => {
                    return refused(
                        R::Invalid,
                        format!("a subjectAltName of type {:?} has no value", san.r#type),
                    );
                }
            }
        }
        if subject_names.is_empty() && subject_uris.is_empty() {
            subject_names.push(validation.hostname.clone());
        }
        let refs = (validation.ca_certificate_refs.iter().flatten()).map(|r| CaRef {
            group: &r.group,
            kind: &r.kind,
            name: &r.name,
            namespace: None,
        });
        let (ca_pem, errors) = self.ca_certificate_refs(("BackendTLSPolicy", &key.namespace), refs);
        let invalid = errors.first().map(|e| {
            let reason = match e {
                CaRefError::InvalidKind(_) => R::InvalidKind,
                CaRefError::NotPermitted(_) | CaRefError::Invalid(_) => R::InvalidCACertificateRef,
            };
            (reason, e.to_string())
        });
        let accepted = if !ca_pem.is_empty() {
            Condition::yes(T::Accepted, R::Accepted, "BackendTLSPolicy is accepted")
        } else if invalid.is_some() {
            Condition::no(
                T::Accepted,
                R::NoValidCACertificate,
                "no caCertificateRef is valid: see ResolvedRefs",
            )
        } else {
            Condition::no(
                T::Accepted,
                R::NoValidCACertificate,
                "caCertificateRefs names no CA bundle",
            )
        };
        match invalid {
            Some((reason, message)) => {
                let resolved = Condition::no(T::ResolvedRefs, reason, message.clone());
                (Err(message), vec![accepted, resolved])
            }
            None if ca_pem.is_empty() => (Err(accepted.message.clone()), vec![accepted]),
            None => {
                let resolved = Condition::yes(
                    T::ResolvedRefs,
                    R::ResolvedRefs,
                    "every caCertificateRef resolved",
                );
                let tls = BackendTls {
                    sni: validation.hostname.clone(),
                    validation: UpstreamValidation {
                        ca_pem,
                        subject_names,
                        subject_uris,
                    },
                    client_certificate: None,
                };
                (Ok(tls), vec![accepted, resolved])
            }
        }
    }

    /// The statuses of the policies that apply where the served Gateways send traffic: one
    /// ancestor per Gateway whose routes use them, in precedence order.
    pub(in crate::gateway) fn backend_tls_statuses(&mut self) {
        let snapshot = self.snapshot;
        let used = std::mem::take(&mut self.backend_tls_policies.used);
        for (key, (lost, gateways)) in used {
            if gateways.is_empty() {
                continue;
            }
            let policy = &snapshot.backend_tls_policies[key];
            let conditions = if lost {
                vec![Condition::no(
                    T::Accepted,
                    R::Conflicted,
                    "an older BackendTLSPolicy targets the same Service and sectionName",
                )]
            } else {
                match self.backend_tls_policies.verdicts.get(key) {
                    Some((_, conditions)) => conditions.clone(),
                    None => self.backend_tls_verdict(key, policy).1,
                }
            };
            let ancestors = (gateways.into_iter())
                .map(|(_, gateway)| PolicyAncestorStatus {
                    ancestor_ref: ParentRef {
                        group: sesame_gateway_api::GROUP.to_string(),
                        kind: "Gateway".to_string(),
                        namespace: gateway.namespace.to_string(),
                        name: gateway.name.to_string(),
                        section_name: None,
                        port: None,
                    },
                    controller_name: self.controller_name(),
                    conditions: conditions.clone(),
                })
                .collect();
            let object = ObjectKey::new(Kind::BackendTLSPolicy, key.clone());
            let status = self.status.entry(&object, policy.metadata.generation);
            status.gateway_api = Some(Box::new(GatewayApiStatus::Policy { ancestors }));
        }
    }
}

/// The policies of every Service target, oldest first (creation time, then namespace and
/// name). Targets other than core Services are not Sesame's to apply.
fn index(snapshot: &crate::Snapshot) -> Targets<'_> {
    let mut targets = Targets::new();
    for (key, policy) in oldest_first(&snapshot.backend_tls_policies, |p| &p.metadata) {
        let mut seen = BTreeSet::new();
        for target in &policy.spec.target_refs {
            if !target.group.is_empty() || target.kind != "Service" {
                continue;
            }
            let target = (
                NamespacedName::new(key.namespace.clone(), target.name.as_str()),
                target.section_name.as_deref(),
            );
            if seen.insert(target.clone()) {
                targets.entry(target).or_default().push(key);
            }
        }
    }
    targets
}

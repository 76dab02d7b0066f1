//! Consent for cross-namespace references: the one check every reference to an object in
//! another namespace goes through.

use sesame_api::TLSCertificateDelegation;

use crate::build::Builder;
use crate::dag::Dag;
use crate::object::NamespacedName;
use crate::object::{Kind, ObjectKey};
use crate::secret::{SecretError, Secrets};
use crate::snapshot::Snapshot;
use crate::status::{ProblemKind, Reason, StatusReport};

/// The target namespace that stands for every namespace in a delegation.
const ALL_NAMESPACES: &str = "*";

/// Whether an object in `namespace` may use the TLS Secret `secret`: always within its own
/// namespace; across namespaces only when a TLSCertificateDelegation in the Secret's namespace
/// names the Secret and `namespace` (or `*`) among its targets.
pub(crate) fn permits_secret(
    snapshot: &Snapshot,
    secret: &NamespacedName,
    namespace: &str,
) -> bool {
    if *secret.namespace == *namespace {
        return true;
    }
    let start = NamespacedName::new(&*secret.namespace, "");
    snapshot
        .tls_certificate_delegations
        .range(start..)
        .take_while(|(key, _)| key.namespace == secret.namespace)
        .flat_map(|(_, delegation)| &delegation.spec.delegations)
        .any(|d| {
            d.secret_name.as_deref() == Some(&*secret.name)
                && d.target_namespaces
                    .iter()
                    .any(|t| t == namespace || t == ALL_NAMESPACES)
        })
}

/// The status of every TLSCertificateDelegation: valid unless it delegates nothing, or an
/// entry names no Secret; an entry with no target namespaces delegates nothing and says so.
pub(crate) fn delegation_status(snapshot: &Snapshot, status: &mut StatusReport) {
    for (name, delegation) in &snapshot.tls_certificate_delegations {
        delegation_status_of(name, delegation, status);
    }
}

/// Records the status of the TLSCertificateDelegation `name` (see [`delegation_status`]).
pub(crate) fn delegation_status_of(
    name: &NamespacedName,
    delegation: &TLSCertificateDelegation,
    status: &mut StatusReport,
) {
    let key = ObjectKey::new(Kind::TLSCertificateDelegation, name.clone());
    let entry = status.entry(&key, delegation.metadata.generation);
    if delegation.spec.delegations.is_empty() {
        entry.error(
            ProblemKind::SpecError,
            Reason::NothingDefined,
            "spec.delegations is empty: nothing is delegated",
        );
    }
    for (i, d) in delegation.spec.delegations.iter().enumerate() {
        if d.secret_name.as_deref().is_none_or(str::is_empty) {
            entry.error(
                ProblemKind::SpecError,
                Reason::NothingDefined,
                format!("spec.delegations[{i}].secretName is empty"),
            );
        } else if d.target_namespaces.is_empty() {
            entry.warning(
                ProblemKind::SpecError,
                Reason::NothingDefined,
                format!("spec.delegations[{i}].targetNamespaces is empty: the Secret is delegated to no namespace"),
            );
        }
    }
}

/// Splits a Secret reference into namespace and name: `namespace/name`, or `name` in
/// `default_namespace`.
pub(crate) fn split_ref<'r>(reference: &'r str, default_namespace: &'r str) -> (&'r str, &'r str) {
    reference
        .split_once('/')
        .unwrap_or((default_namespace, reference))
}

/// One of the build's cached Secret checks (`Secrets::get`, `Secrets::ca`, `Secrets::crl`).
pub(crate) type SecretLookup<'a, T> = for<'s> fn(
    &'s mut Secrets<'a>,
    &Snapshot,
    &'a str,
    &'a str,
    &mut Dag,
) -> &'s Result<T, SecretError>;

impl<'a> Builder<'a> {
    /// [`permits_secret`], remembering that the delegations of the Secret's namespace were read.
    pub(crate) fn permits(&mut self, secret: &NamespacedName, namespace: &str) -> bool {
        if *secret.namespace != *namespace {
            self.delegations_read.insert(secret.namespace.to_string());
        }
        permits_secret(self.snapshot, secret, namespace)
    }

    /// The Secret `reference` (`name`, or `namespace/name` when delegated) checked by `lookup`,
    /// for an object in `namespace`. The error carries the status reason and a message that
    /// starts with the Secret's name.
    pub(crate) fn delegated<T: Clone>(
        &mut self,
        namespace: &'a str,
        reference: &'a str,
        lookup: SecretLookup<'a, T>,
    ) -> Result<T, (Reason, String)> {
        let (secret_namespace, secret_name) = split_ref(reference, namespace);
        let secret = NamespacedName::new(secret_namespace, secret_name);
        if !self.permits(&secret, namespace) {
            return Err((
                Reason::DelegationNotPermitted,
                format!("{secret}: certificate delegation not permitted"),
            ));
        }
        match lookup(
            &mut self.secrets,
            self.snapshot,
            secret_namespace,
            secret_name,
            &mut self.dag,
        ) {
            Ok(value) => Ok(value.clone()),
            Err(e) => Err((secret_reason(e), format!("{secret}: {e}"))),
        }
    }
}

/// The status reason of a Secret that cannot be used.
pub(crate) fn secret_reason(e: &SecretError) -> Reason {
    if *e == SecretError::NotFound {
        Reason::SecretNotFound
    } else {
        Reason::SecretNotValid
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sesame_api::tlscertificatedelegation::{
        CertificateDelegation, TLSCertificateDelegation, TLSCertificateDelegationSpec,
    };

    use super::*;

    fn delegation(namespace: &str, secret: &str, targets: &[&str]) -> Snapshot {
        let mut snapshot = Snapshot::new();
        let mut object = TLSCertificateDelegation::new(
            "delegate",
            TLSCertificateDelegationSpec {
                delegations: vec![CertificateDelegation {
                    secret_name: Some(secret.to_string()),
                    target_namespaces: targets.iter().map(|t| t.to_string()).collect(),
                }],
            },
        );
        object.metadata.namespace = Some(namespace.to_string());
        snapshot
            .tls_certificate_delegations
            .insert(NamespacedName::new(namespace, "delegate"), Arc::new(object));
        snapshot
    }

    #[test]
    fn same_namespace_needs_no_delegation() {
        let snapshot = Snapshot::new();
        assert!(permits_secret(
            &snapshot,
            &NamespacedName::new("a", "s"),
            "a"
        ));
        assert!(!permits_secret(
            &snapshot,
            &NamespacedName::new("a", "s"),
            "b"
        ));
    }

    #[test]
    fn a_delegation_permits_its_targets_only() {
        let snapshot = delegation("certs", "wild", &["team-a"]);
        let secret = NamespacedName::new("certs", "wild");
        assert!(permits_secret(&snapshot, &secret, "team-a"));
        assert!(!permits_secret(&snapshot, &secret, "team-b"));
        assert!(!permits_secret(
            &snapshot,
            &NamespacedName::new("certs", "other"),
            "team-a"
        ));
    }

    #[test]
    fn a_delegation_in_another_namespace_permits_nothing() {
        let snapshot = delegation("elsewhere", "wild", &["*"]);
        assert!(!permits_secret(
            &snapshot,
            &NamespacedName::new("certs", "wild"),
            "team-a"
        ));
    }

    #[test]
    fn star_targets_every_namespace() {
        let snapshot = delegation("certs", "wild", &["*"]);
        let secret = NamespacedName::new("certs", "wild");
        assert!(permits_secret(&snapshot, &secret, "team-a"));
        assert!(permits_secret(&snapshot, &secret, "anything"));
    }

    #[test]
    fn secret_references_split_on_the_slash() {
        assert_eq!(split_ref("s", "ns"), ("ns", "s"));
        assert_eq!(split_ref("other/s", "ns"), ("other", "s"));
    }

    #[test]
    fn delegations_get_a_status() {
        let mut snapshot = delegation("certs", "wild", &["*"]);
        let mut empty = TLSCertificateDelegation::new(
            "empty",
            TLSCertificateDelegationSpec {
                delegations: vec![CertificateDelegation {
                    secret_name: Some("wild".into()),
                    target_namespaces: Vec::new(),
                }],
            },
        );
        empty.metadata.namespace = Some("certs".into());
        empty.metadata.generation = Some(3);
        snapshot.tls_certificate_delegations.insert(
            NamespacedName::new("certs", "empty"),
            std::sync::Arc::new(empty),
        );
        let mut status = StatusReport::default();
        delegation_status(&snapshot, &mut status);
        let key = |n: &str| {
            ObjectKey::new(
                Kind::TLSCertificateDelegation,
                NamespacedName::new("certs", n),
            )
        };
        assert!(status.objects[&key("delegate")].errors.is_empty());
        assert!(status.objects[&key("delegate")].warnings.is_empty());
        let empty = &status.objects[&key("empty")];
        assert_eq!(empty.observed_generation, Some(3));
        assert!(empty.errors.is_empty());
        assert!(
            empty.warnings[0]
                .message
                .contains("targetNamespaces is empty"),
            "{:?}",
            empty.warnings
        );
    }
}

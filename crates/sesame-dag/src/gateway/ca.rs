//! CA bundles that Gateway API objects refer to by `caCertificateRefs`: a ConfigMap's `ca.crt`
//! (the kind every implementation reads) or a Secret's, in the referring object's namespace or,
//! with a ReferenceGrant there, in another.

use std::fmt;

use crate::build::Builder;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::secret::{self, SecretError};

/// The key of a ConfigMap or Secret that holds a PEM CA bundle.
const CA_KEY: &str = "ca.crt";

/// One entry of a `caCertificateRefs` list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CaRef<'a> {
    /// The API group (`""` for core).
    pub group: &'a str,
    /// The kind (`ConfigMap` or `Secret`).
    pub kind: &'a str,
    /// The name.
    pub name: &'a str,
    /// The namespace, when the reference may leave the referrer's.
    pub namespace: Option<&'a str>,
}

/// Why a CA reference gives no bundle; each maps to the spec's reason on the referrer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CaRefError {
    /// Neither a core ConfigMap nor a core Secret.
    InvalidKind(String),
    /// In another namespace, and no ReferenceGrant there allows it.
    NotPermitted(String),
    /// Missing, or its `ca.crt` is absent or not a PEM bundle of certificates.
    Invalid(String),
}

impl fmt::Display for CaRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaRefError::InvalidKind(m) | CaRefError::NotPermitted(m) | CaRefError::Invalid(m) => {
                f.write_str(m)
            }
        }
    }
}

impl<'a> Builder<'a> {
    /// The PEM CA bundle that `r` names, referred to from a `from_kind` in `from_namespace`.
    /// Every lookup is recorded in `dag.references`, so that a change to the ConfigMap or
    /// Secret rebuilds the referrer.
    pub(crate) fn ca_certificate_ref(
        &mut self,
        (from_kind, from_namespace): (&str, &'a str),
        r: CaRef<'a>,
    ) -> Result<Vec<u8>, CaRefError> {
        let kind = match (r.group, r.kind) {
            ("", "ConfigMap") => Kind::ConfigMap,
            ("", "Secret") => Kind::Secret,
            (group, kind) => {
                let kind = if group.is_empty() {
                    kind.to_string()
                } else {
                    format!("{group}/{kind}")
                };
                return Err(CaRefError::InvalidKind(format!(
                    "caCertificateRef {:?} is a {kind}; only ConfigMaps and Secrets hold CA certificates",
                    r.name
                )));
            }
        };
        let namespace: &'a str = r.namespace.unwrap_or(from_namespace);
        let shown = format!("{} {namespace}/{}", kind.as_str(), r.name);
        if namespace != from_namespace
            && !self.reference_granted(
                (from_kind, from_namespace),
                (kind.as_str(), namespace, r.name),
            )
        {
            return Err(CaRefError::NotPermitted(format!(
                "caCertificateRef {shown} is in another namespace and no ReferenceGrant there allows it"
            )));
        }
        let invalid =
            |e: SecretError| CaRefError::Invalid(format!("caCertificateRef {shown}: {e}"));
        match kind {
            Kind::Secret => self
                .secrets
                .ca(self.snapshot, namespace, r.name, &mut self.dag)
                .clone()
                .map_err(invalid),
            _ => {
                let key = NamespacedName::new(namespace, r.name);
                let found = self.snapshot.config_maps.get(&key).map(|m| {
                    m.data
                        .as_ref()
                        .and_then(|d| d.get(CA_KEY))
                        .map(|pem| pem.as_bytes().to_vec())
                        .unwrap_or_default()
                });
                self.dag
                    .references
                    .insert(ObjectKey::new(Kind::ConfigMap, key));
                let pem = found.ok_or_else(|| {
                    CaRefError::Invalid(format!("caCertificateRef {shown} not found"))
                })?;
                secret::validate_ca_pem(&pem).map_err(invalid)?;
                Ok(pem)
            }
        }
    }

    /// The PEM bundle of every CA reference of `refs` that resolves (see
    /// [`Builder::ca_certificate_ref`]), each ending in a newline, and the errors of those that
    /// do not, in order.
    pub(crate) fn ca_certificate_refs(
        &mut self,
        from: (&str, &'a str),
        refs: impl IntoIterator<Item = CaRef<'a>>,
    ) -> (Vec<u8>, Vec<CaRefError>) {
        let mut bundle: Vec<u8> = Vec::new();
        let mut errors = Vec::new();
        for r in refs {
            match self.ca_certificate_ref(from, r) {
                Ok(pem) => {
                    bundle.extend_from_slice(&pem);
                    if !bundle.ends_with(b"\n") {
                        bundle.push(b'\n');
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        (bundle, errors)
    }
}

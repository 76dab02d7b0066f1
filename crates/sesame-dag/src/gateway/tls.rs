//! HTTPS listeners of the served Gateway and its ListenerSets: TLS terminated with the
//! listener's certificate, a Secret in the namespace of the Gateway (or ListenerSet) or, with a
//! ReferenceGrant there, in another.

use std::sync::Arc;

use sesame_gateway_api::gateway::GatewayListenersTlsMode;

use super::{Listener, set};
use crate::build::Builder;
use crate::dag::{GatewayTls, TlsSecret};
use crate::status::gateway::{Condition, ConditionReason as R, ConditionType as T};

impl<'a> Builder<'a> {
    /// Resolves the certificate of an HTTPS listener; on failure the listener is not valid and
    /// its conditions say why (`ResolvedRefs=False` with `InvalidCertificateRef` or
    /// `RefNotPermitted`).
    pub(crate) fn listener_tls(&mut self, l: &mut Listener<'a>) {
        match self.certificate(l) {
            Ok(secret) => {
                l.tls = Some(GatewayTls {
                    server_name: l.hostname.clone(),
                    secret: secret.name.clone(),
                    min_tls_version: self.config.min_tls_version,
                    max_tls_version: self.config.max_tls_version,
                    client_validation: None,
                    route_config: l.route_config.clone(),
                    virtual_hosts: std::collections::BTreeMap::new(),
                });
                self.dag
                    .secrets
                    .entry(secret.name.clone())
                    .or_insert_with(|| TlsSecret::clone(&secret));
            }
            Err((reason, message)) => {
                l.valid = false;
                set(
                    &mut l.conditions,
                    Condition::no(T::ResolvedRefs, reason, message.clone()),
                );
                set(
                    &mut l.conditions,
                    Condition::no(T::Programmed, R::Invalid, message),
                );
            }
        }
    }

    fn certificate(&mut self, l: &Listener<'a>) -> Result<Arc<TlsSecret>, (R, String)> {
        let tls = l.spec.tls.as_ref();
        if tls.and_then(|t| t.mode.as_ref()) == Some(&GatewayListenersTlsMode::Passthrough) {
            return Err((
                R::InvalidCertificateRef,
                "an HTTPS listener terminates TLS: tls.mode Passthrough is for TLS listeners"
                    .to_string(),
            ));
        }
        let Some(cert) = l.certificate else {
            return Err((
                R::InvalidCertificateRef,
                "an HTTPS listener needs tls.certificateRefs".to_string(),
            ));
        };
        // A ListenerSet's listener refers from the ListenerSet: its namespace, its grants.
        let owner = l.owner;
        let r = SecretRef {
            field: "certificateRef",
            group: cert.group.unwrap_or(""),
            kind: cert.kind.unwrap_or("Secret"),
            name: cert.name,
            namespace: cert.namespace,
        };
        self.tls_secret_ref(
            (owner.kind, &owner.name.namespace),
            r,
            R::InvalidCertificateRef,
        )
    }

    /// The TLS Secret `r` names, referred to from a `from_kind` in `from_namespace`: in that
    /// namespace or, with a ReferenceGrant there, in another. Another group or kind, or a
    /// Secret that is missing or not a usable certificate and key, is refused with `invalid`;
    /// another namespace without a grant with `RefNotPermitted`.
    pub(super) fn tls_secret_ref(
        &mut self,
        (from_kind, from_namespace): (&str, &'a str),
        r: SecretRef<'a>,
        invalid: R,
    ) -> Result<Arc<TlsSecret>, (R, String)> {
        let namespace: &'a str = r.namespace.unwrap_or(from_namespace);
        let shown = format!("{} {namespace}/{}", r.field, r.name);
        if !r.group.is_empty() || r.kind != "Secret" {
            let kind = if r.group.is_empty() {
                r.kind.to_string()
            } else {
                format!("{}/{}", r.group, r.kind)
            };
            return Err((
                invalid,
                format!("{shown} is a {kind}; only Secrets are supported"),
            ));
        }
        if namespace != from_namespace
            && !self.reference_granted((from_kind, from_namespace), ("Secret", namespace, r.name))
        {
            return Err((
                R::RefNotPermitted,
                format!("{shown} is in another namespace and no ReferenceGrant there allows it"),
            ));
        }
        self.secrets
            .get(self.snapshot, namespace, r.name, &mut self.dag)
            .clone()
            .map_err(|e| (invalid, format!("{shown}: {e}")))
    }
}

/// A reference to a TLS Secret: a listener's `certificateRefs` entry, a Gateway's
/// `tls.backend.clientCertificateRef`.
pub(super) struct SecretRef<'a> {
    /// The field it is written in, for messages.
    pub field: &'static str,
    /// The API group (`""` for core).
    pub group: &'a str,
    /// The kind.
    pub kind: &'a str,
    /// The name.
    pub name: &'a str,
    /// The namespace, when another than the referrer's.
    pub namespace: Option<&'a str>,
}

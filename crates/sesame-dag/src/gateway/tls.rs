//! HTTPS listeners of the served Gateway and its ListenerSets: TLS terminated with the
//! listener's certificate, a Secret in the namespace of the Gateway (or ListenerSet) or, with a
//! ReferenceGrant there, in another.

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

    fn certificate(&mut self, l: &Listener<'a>) -> Result<std::sync::Arc<TlsSecret>, (R, String)> {
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
        let group = cert.group.unwrap_or("");
        let kind = cert.kind.unwrap_or("Secret");
        if !group.is_empty() || kind != "Secret" {
            return Err((
                R::InvalidCertificateRef,
                format!(
                    "certificateRef {:?} is a {group}/{kind}; only Secrets are supported",
                    cert.name
                ),
            ));
        }
        // A ListenerSet's listener refers from the ListenerSet: its namespace, its grants.
        let owner = l.owner;
        let namespace: &'a str = cert.namespace.unwrap_or(&owner.name.namespace);
        if namespace != &*owner.name.namespace
            && !self.reference_granted(
                (owner.kind, &owner.name.namespace),
                ("Secret", namespace, cert.name),
            )
        {
            return Err((
                R::RefNotPermitted,
                format!(
                    "certificateRef {namespace}/{} is in another namespace and no ReferenceGrant there allows it",
                    cert.name
                ),
            ));
        }
        self.secrets
            .get(self.snapshot, namespace, cert.name, &mut self.dag)
            .clone()
            .map_err(|e| {
                (
                    R::InvalidCertificateRef,
                    format!("certificateRef {namespace}/{}: {e}", cert.name),
                )
            })
    }
}

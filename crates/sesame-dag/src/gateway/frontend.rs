//! Client certificate validation of the served Gateway's HTTPS listeners
//! (`spec.tls.frontend`, GEP-91).
//!
//! `default.validation` applies to every listener of protocol HTTPS (the Gateway's own and
//! those of the ListenerSets attached to it: they are served on the Gateway's ports, and a
//! ListenerSet must not open a way around the Gateway's client authentication) whose port no
//! `perPort` entry names; a `perPort` entry replaces the default on its port, even one without
//! `validation`. TLS listeners (TLSRoutes) do not serve HTTPS and are left alone.
//!
//! The `caCertificateRefs` are the Gateway's: looked up from the Gateway's namespace, across
//! namespaces with a ReferenceGrant there from the Gateway. Every invalid reference sets
//! `ResolvedRefs=False` on the listener (its reason is the first invalid one's); the valid ones
//! are bundled and the listener served. When none is valid the listener is refused
//! (`Accepted=False/NoValidCACertificate`), never served without client authentication.
//! `mode: AllowInsecureFallback` accepts clients with no or an untrusted certificate and marks
//! the Gateway `InsecureFrontendValidationMode=True/ConfigurationChanged`.

use sesame_gateway_api::Gateway;
use sesame_gateway_api::gateway::{
    GatewayTlsFrontendDefaultValidationMode as DefaultMode,
    GatewayTlsFrontendPerPortTlsValidationMode as PerPortMode,
};

use super::ca::{CaRef, CaRefError};
use super::{Listener, set};
use crate::build::Builder;
use crate::dag::{ClientValidation, ForwardClientCertificate};
use crate::status::gateway::{Condition, ConditionReason as R, ConditionType as T};

/// The frontend validation of one port, borrowed from the Gateway.
struct Validation<'g> {
    /// Where it is written, for messages: `spec.tls.frontend.default.validation` or the
    /// `perPort` entry's.
    field: String,
    /// Its `caCertificateRefs`.
    refs: Vec<CaRef<'g>>,
    /// `mode: AllowInsecureFallback`.
    insecure_fallback: bool,
}

/// Reads the `caCertificateRefs` of a generated validation type (`default`'s and `perPort`'s
/// are generated apart, with one schema).
macro_rules! ca_refs {
    ($validation:expr) => {
        $validation
            .ca_certificate_refs
            .iter()
            .map(|r| CaRef {
                group: &r.group,
                kind: &r.kind,
                name: &r.name,
                namespace: r.namespace.as_deref(),
            })
            .collect()
    };
}

/// The validation that applies to listeners on `port`: its `perPort` entry's, else the
/// default; `None` when there is none.
fn validation_of(gateway: &Gateway, port: i32) -> Option<Validation<'_>> {
    let frontend = gateway.spec.tls.as_ref()?.frontend.as_ref()?;
    let per_port = frontend.per_port.iter().flatten().find(|p| p.port == port);
    match per_port {
        Some(p) => p.tls.validation.as_ref().map(|v| Validation {
            field: format!("spec.tls.frontend.perPort[port {port}].tls.validation"),
            refs: ca_refs!(v),
            insecure_fallback: v.mode == Some(PerPortMode::AllowInsecureFallback),
        }),
        None => frontend.default.validation.as_ref().map(|v| Validation {
            field: "spec.tls.frontend.default.validation".to_string(),
            refs: ca_refs!(v),
            insecure_fallback: v.mode == Some(DefaultMode::AllowInsecureFallback),
        }),
    }
}

/// The Gateway's `InsecureFrontendValidationMode=True/ConfigurationChanged` condition, when
/// its default or a `perPort` entry has `mode: AllowInsecureFallback`.
pub(super) fn insecure_mode_condition(gateway: &Gateway) -> Option<Condition> {
    let frontend = gateway.spec.tls.as_ref()?.frontend.as_ref()?;
    let default = (frontend.default.validation.as_ref())
        .is_some_and(|v| v.mode == Some(DefaultMode::AllowInsecureFallback));
    let ports: Vec<String> = (frontend.per_port.iter().flatten())
        .filter(|p| {
            p.tls.validation.as_ref().and_then(|v| v.mode.as_ref())
                == Some(&PerPortMode::AllowInsecureFallback)
        })
        .map(|p| p.port.to_string())
        .collect();
    let message = match (default, ports.is_empty()) {
        (false, true) => return None,
        (true, true) => "spec.tls.frontend.default".to_string(),
        (false, false) => format!("spec.tls.frontend.perPort on port(s) {}", ports.join(", ")),
        (true, false) => format!(
            "spec.tls.frontend.default and perPort on port(s) {}",
            ports.join(", ")
        ),
    };
    Some(Condition::yes(
        T::InsecureFrontendValidationMode,
        R::ConfigurationChanged,
        format!(
            "{message} has mode AllowInsecureFallback: clients without a valid certificate are served"
        ),
    ))
}

/// The listener condition reason of a CA reference error.
fn reason(e: &CaRefError) -> R {
    match e {
        CaRefError::InvalidKind(_) => R::InvalidCACertificateKind,
        CaRefError::NotPermitted(_) => R::RefNotPermitted,
        CaRefError::Invalid(_) => R::InvalidCACertificateRef,
    }
}

impl<'a> Builder<'a> {
    /// Adds the Gateway's client certificate validation to an HTTPS listener whose certificate
    /// resolved (`l.tls` set); refuses the listener when no CA reference is valid.
    pub(crate) fn frontend_validation(
        &mut self,
        gateway: &'a Gateway,
        gateway_namespace: &'a str,
        l: &mut Listener<'a>,
    ) {
        if l.spec.protocol != "HTTPS" || l.tls.is_none() {
            return;
        }
        let Some(validation) = validation_of(gateway, l.spec.port) else {
            return;
        };
        let refs = validation.refs.iter().copied();
        let (bundle, errors) = self.ca_certificate_refs(("Gateway", gateway_namespace), refs);
        if let Some(first) = errors.first() {
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let message = format!("{}: {}", validation.field, problems.join("; "));
            set(
                &mut l.conditions,
                Condition::no(T::ResolvedRefs, reason(first), message),
            );
        }
        if bundle.is_empty() {
            let message = format!(
                "{}: no caCertificateRef is valid, so no client can be authenticated; the listener is not served",
                validation.field
            );
            l.valid = false;
            l.tls = None;
            set(
                &mut l.conditions,
                Condition::no(T::Accepted, R::NoValidCACertificate, message.clone()),
            );
            set(
                &mut l.conditions,
                Condition::no(T::Programmed, R::Invalid, message),
            );
            return;
        }
        if let Some(tls) = l.tls.as_mut() {
            tls.client_validation = Some(Box::new(ClientValidation {
                ca_pem: bundle,
                crl_pem: None,
                crl_only_leaf: false,
                optional: validation.insecure_fallback,
                skip_verification: validation.insecure_fallback,
                forward: ForwardClientCertificate::default(),
            }));
        }
    }
}

//! Gateway API status, in the spec's shape: conditions with typed types and reasons, for a
//! GatewayClass, a Gateway and its listeners, and each parent of a route.

use std::net::IpAddr;

use serde::Serialize;

/// The Gateway API status of one object, as the build found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum GatewayApiStatus {
    /// A GatewayClass whose controller is Sesame's.
    GatewayClass {
        /// `Accepted`.
        conditions: Vec<Condition>,
    },
    /// A Gateway Sesame serves.
    Gateway {
        /// `Accepted`, `Programmed`.
        conditions: Vec<Condition>,
        /// One entry per listener, in the Gateway's order.
        listeners: Vec<ListenerStatus>,
        /// How many ListenerSets are attached (accepted with at least one valid listener).
        attached_listener_sets: u32,
        /// The addresses it binds of its own (a static address or one of the pool of config
        /// `gateway.addresses`), each an `IPAddress` of its status; empty when it binds
        /// `ingress_http`'s address, whose published addresses its status shows instead.
        addresses: Vec<IpAddr>,
    },
    /// A ListenerSet whose parent is the Gateway Sesame serves.
    ListenerSet {
        /// `Accepted`, `Programmed`.
        conditions: Vec<Condition>,
        /// One entry per listener, in the ListenerSet's order (none when it is not allowed).
        listeners: Vec<ListenerStatus>,
    },
    /// A route with at least one parent that is the Gateway Sesame serves.
    Route {
        /// One entry per such parentRef, in the route's order.
        parents: Vec<RouteParentStatus>,
    },
    /// A policy (BackendTLSPolicy) that applies where the Gateway Sesame serves sends traffic.
    Policy {
        /// One entry per ancestor (the served Gateway).
        ancestors: Vec<PolicyAncestorStatus>,
    },
}

/// The status of a policy for one of its ancestors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAncestorStatus {
    /// The ancestor (a Gateway).
    pub ancestor_ref: ParentRef,
    /// The controller writing this entry.
    pub controller_name: String,
    /// `Accepted`, `ResolvedRefs`.
    pub conditions: Vec<Condition>,
}

/// The status of one listener of a Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    /// The listener's name.
    pub name: String,
    /// How many routes attached to it.
    pub attached_routes: u32,
    /// The route kinds it accepts (`HTTPRoute` for HTTP listeners).
    pub supported_kinds: Vec<String>,
    /// `Accepted`, `Programmed`, `ResolvedRefs`, `Conflicted`.
    pub conditions: Vec<Condition>,
}

/// The status of a route for one of its parents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteParentStatus {
    /// The parentRef as the route wrote it, defaults filled in.
    pub parent_ref: ParentRef,
    /// The controller writing this entry.
    pub controller_name: String,
    /// `Accepted`, `ResolvedRefs`.
    pub conditions: Vec<Condition>,
}

/// A parentRef with its defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// The group (`gateway.networking.k8s.io`).
    pub group: String,
    /// The kind (`Gateway`).
    pub kind: String,
    /// The namespace (the route's when unset).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The listener named, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// The port named, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// One condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: ConditionType,
    /// Whether it holds.
    pub status: bool,
    /// Why, machine-readable.
    pub reason: ConditionReason,
    /// Why, for a person: names the field and value at fault.
    pub message: String,
}

impl Condition {
    /// A condition that holds.
    pub fn yes(type_: ConditionType, reason: ConditionReason, message: impl Into<String>) -> Self {
        Condition {
            type_,
            status: true,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn no(type_: ConditionType, reason: ConditionReason, message: impl Into<String>) -> Self {
        Condition {
            type_,
            status: false,
            reason,
            message: message.into(),
        }
    }

    /// Kubernetes' `"True"`/`"False"`.
    pub fn status_str(&self) -> &'static str {
        if self.status { "True" } else { "False" }
    }
}

/// Gateway API condition types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ConditionType {
    /// The object is accepted by the controller.
    Accepted,
    /// The object is programmed into the data plane.
    Programmed,
    /// Every reference resolved.
    ResolvedRefs,
    /// A listener conflicts with another.
    Conflicted,
    /// Some rules of a route are not served; the others are.
    PartiallyInvalid,
    /// The Gateway accepts clients without a valid certificate (`spec.tls.frontend` mode
    /// `AllowInsecureFallback`).
    InsecureFrontendValidationMode,
}

impl ConditionType {
    /// Every condition type, so that a status writer can tell a condition Sesame no longer
    /// reports (to remove) from another writer's (to keep).
    pub const ALL: [ConditionType; 6] = [
        ConditionType::Accepted,
        ConditionType::Programmed,
        ConditionType::ResolvedRefs,
        ConditionType::Conflicted,
        ConditionType::PartiallyInvalid,
        ConditionType::InsecureFrontendValidationMode,
    ];
}

/// Gateway API condition reasons (the spec's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ConditionReason {
    /// Accepted.
    Accepted,
    /// Programmed.
    Programmed,
    /// Every reference resolved.
    ResolvedRefs,
    /// No conflict.
    NoConflicts,
    /// Some listeners are invalid; the others are served.
    ListenersNotValid,
    /// The Gateway's listeners are all invalid.
    Invalid,
    /// The listener's protocol is not supported.
    UnsupportedProtocol,
    /// The listener's port is taken by one of Sesame's own listeners.
    PortUnavailable,
    /// Two listeners on one port use different protocols.
    ProtocolConflict,
    /// Two listeners on one port and protocol have the same hostname.
    HostnameConflict,
    /// The listener allows route kinds Sesame does not serve there.
    InvalidRouteKinds,
    /// The listener's hostname is not valid.
    InvalidHostname,
    /// No listener of the parent allows the route (namespace or kind).
    NotAllowedByListeners,
    /// No hostname of the route matches a listener of the parent.
    NoMatchingListenerHostname,
    /// The parentRef's sectionName or port names no listener of the parent.
    NoMatchingParent,
    /// A value of the route is not supported (a filter, a match).
    UnsupportedValue,
    /// A backend's Service (or its port) does not exist.
    BackendNotFound,
    /// A reference to another namespace has no ReferenceGrant allowing it.
    RefNotPermitted,
    /// A reference names a kind Sesame does not support.
    InvalidKind,
    /// A listener's certificate reference is not a valid TLS Secret.
    InvalidCertificateRef,
    /// The Gateway's `allowedListeners` do not allow the ListenerSet.
    NotAllowed,
    /// The Gateway's `infrastructure.parametersRef` cannot be resolved.
    InvalidParameters,
    /// A policy targets what an older policy already targets.
    Conflicted,
    /// No CA certificate reference of a policy or a listener's client validation is valid.
    NoValidCACertificate,
    /// A CA certificate reference is missing or names no ConfigMap or Secret holding a CA
    /// bundle.
    InvalidCACertificateRef,
    /// A client validation CA certificate reference names a kind that holds no CA bundle.
    InvalidCACertificateKind,
    /// The Gateway's client validation mode was changed to `AllowInsecureFallback`.
    ConfigurationChanged,
    /// The Gateway's `tls.backend.clientCertificateRef` is not a usable TLS Secret.
    InvalidClientCertificateRef,
    /// An address of the Gateway's `spec.addresses` has a type Sesame does not support.
    UnsupportedAddress,
    /// An address of the Gateway's `spec.addresses` cannot be bound (not in config
    /// `gateway.addresses`), or no address of the pool is left.
    AddressNotUsable,
}

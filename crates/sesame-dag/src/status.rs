//! The status of every object a build read: an output of the build, written or served after it.

use std::collections::BTreeMap;

use serde::Serialize;
use sesame_api::{DetailedCondition, HTTPProxyStatus, SubCondition};

use crate::object::ObjectKey;

pub mod gateway;

/// The status of every object the build considered, in key order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StatusReport {
    /// Each object's status.
    pub objects: BTreeMap<ObjectKey, ObjectStatus>,
}

impl StatusReport {
    /// The status of one object, created valid on first use.
    pub fn entry(&mut self, key: &ObjectKey, generation: Option<i64>) -> &mut ObjectStatus {
        self.objects
            .entry(key.clone())
            .or_insert_with(|| ObjectStatus::valid(generation))
    }
}

/// One object's status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectStatus {
    /// The `metadata.generation` the status describes.
    pub observed_generation: Option<i64>,
    /// Valid, invalid or orphaned.
    pub current: Validity,
    /// Problems that kept all or part of the object from being served.
    pub errors: Vec<Problem>,
    /// Problems that were worked around (a value ignored, a default used).
    pub warnings: Vec<Problem>,
    /// The conditions of a Gateway API object, in the spec's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_api: Option<Box<gateway::GatewayApiStatus>>,
}

impl ObjectStatus {
    /// A valid status with nothing to report.
    pub fn valid(observed_generation: Option<i64>) -> Self {
        ObjectStatus {
            observed_generation,
            current: Validity::Valid,
            errors: Vec::new(),
            warnings: Vec::new(),
            gateway_api: None,
        }
    }

    /// Records an error: the object, or the part of it named in the message, is not served.
    /// The same problem found twice (an HTTPProxy included from two places) is recorded once.
    pub fn error(&mut self, kind: ProblemKind, reason: Reason, message: impl Into<String>) {
        if self.current == Validity::Valid {
            self.current = Validity::Invalid;
        }
        push_once(&mut self.errors, kind, reason, message.into());
    }

    /// Records a warning: something was ignored, the rest is served.
    pub fn warning(&mut self, kind: ProblemKind, reason: Reason, message: impl Into<String>) {
        push_once(&mut self.warnings, kind, reason, message.into());
    }

    /// Marks the object as reached by nothing (an HTTPProxy no root includes).
    pub fn orphan(&mut self) {
        self.current = Validity::Orphaned;
        push_once(
            &mut self.errors,
            ProblemKind::Orphaned,
            Reason::Orphaned,
            ORPHANED.to_string(),
        );
    }

    /// The status of an HTTPProxy in Contour's shape: `currentStatus`, `description`, and one
    /// `Valid` condition whose errors and warnings are typed sub-conditions.
    pub fn httpproxy_status(&self) -> HTTPProxyStatus {
        let condition = self.valid_condition("HTTPProxy");
        HTTPProxyStatus {
            current_status: Some(self.current.as_str().to_string()),
            description: Some(condition.message.clone()),
            load_balancer: None,
            conditions: vec![condition],
        }
    }

    /// The `Valid` condition, with errors and warnings as sub-conditions; `kind` names the
    /// object in the message of a valid one (`Valid HTTPProxy`).
    pub fn valid_condition(&self, kind: &str) -> DetailedCondition {
        let (status, reason, message) = match self.current {
            Validity::Valid => ("True", "Valid", format!("Valid {kind}")),
            Validity::Invalid => (
                "False",
                "ErrorPresent",
                "At least one error present, see Errors for details".to_string(),
            ),
            Validity::Orphaned => ("False", "Orphaned", ORPHANED.to_string()),
        };
        let sub = |problems: &[Problem]| {
            problems
                .iter()
                .map(|p| SubCondition {
                    type_: p.kind.as_str().to_string(),
                    status: "True".to_string(),
                    reason: p.reason.as_str().to_string(),
                    message: p.message.clone(),
                })
                .collect()
        };
        DetailedCondition {
            type_: "Valid".to_string(),
            status: status.to_string(),
            observed_generation: self.observed_generation,
            last_transition_time: None,
            reason: reason.to_string(),
            message,
            errors: sub(&self.errors),
            warnings: sub(&self.warnings),
        }
    }

    /// A one-line description, as a user reads it.
    pub fn description(&self) -> String {
        match (self.current, self.errors.first()) {
            (Validity::Valid, _) => "valid".to_string(),
            (_, Some(p)) => p.message.clone(),
            (v, None) => v.as_str().to_string(),
        }
    }
}

/// The description of an HTTPProxy no root includes (Contour's words).
pub const ORPHANED: &str = "this HTTPProxy is not part of a delegation chain from a root HTTPProxy";

fn push_once(problems: &mut Vec<Problem>, kind: ProblemKind, reason: Reason, message: String) {
    let problem = Problem {
        kind,
        reason,
        message,
    };
    if !problems.contains(&problem) {
        problems.push(problem);
    }
}

/// Whether an object is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// Everything in it is served.
    Valid,
    /// At least one part of it is not served; see the errors.
    Invalid,
    /// Nothing reaches it (an HTTPProxy no root includes).
    Orphaned,
}

impl Validity {
    /// Contour's `currentStatus` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Orphaned => "orphaned",
        }
    }
}

/// One problem found on an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The area of the problem (Contour's sub-condition type).
    #[serde(rename = "type")]
    pub kind: ProblemKind,
    /// The machine-readable reason.
    pub reason: Reason,
    /// What is wrong, naming the field and the value at fault.
    pub message: String,
}

/// The area a problem is in (Contour's sub-condition `type`, e.g. `TLSError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ProblemKind {
    /// The object's spec as a whole.
    SpecError,
    /// A host name or virtual host.
    VirtualHostError,
    /// TLS settings or certificates.
    TLSError,
    /// A referenced Service or its port.
    ServiceError,
    /// A route or path.
    RouteError,
    /// An annotation.
    AnnotationError,
    /// An include of an HTTPProxy.
    IncludeError,
    /// The object is reached by no root.
    Orphaned,
    /// A root HTTPProxy outside the root namespaces.
    RootNamespaceError,
    /// A TCP proxy.
    TCPProxyError,
    /// The include of a TCP proxy.
    TCPProxyIncludeError,
    /// A path prefix replacement.
    PrefixReplaceError,
    /// The CORS policy of a virtual host.
    CORSError,
    /// The IP filter of a virtual host or route.
    IPFilterError,
    /// The external authorization of a virtual host.
    AuthError,
    /// The JWT providers of a virtual host or the JWT verification policy of a route.
    JWTVerificationError,
}

impl ProblemKind {
    /// The type as it appears in status.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::SpecError => "SpecError",
            ProblemKind::VirtualHostError => "VirtualHostError",
            ProblemKind::TLSError => "TLSError",
            ProblemKind::ServiceError => "ServiceError",
            ProblemKind::RouteError => "RouteError",
            ProblemKind::AnnotationError => "AnnotationError",
            ProblemKind::IncludeError => "IncludeError",
            ProblemKind::Orphaned => "Orphaned",
            ProblemKind::RootNamespaceError => "RootNamespaceError",
            ProblemKind::TCPProxyError => "TCPProxyError",
            ProblemKind::CORSError => "CORSError",
            ProblemKind::IPFilterError => "IPFilterError",
            ProblemKind::AuthError => "AuthError",
            ProblemKind::JWTVerificationError => "JWTVerificationError",
            ProblemKind::TCPProxyIncludeError => "TCPProxyIncludeError",
            ProblemKind::PrefixReplaceError => "PrefixReplaceError",
        }
    }
}

/// Why an object, or part of it, was not served as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Reason {
    /// A host name is not a valid DNS name or wildcard.
    InvalidHostname,
    /// A path is not valid for its path type.
    PathNotValid,
    /// A regular expression is not accepted by RE2 or is too large.
    RegexNotValid,
    /// A path type Sesame does not know.
    PathTypeNotValid,
    /// The backend is not a Service (a resource backend, or nothing).
    BackendNotValid,
    /// The referenced Service does not exist.
    ServiceUnresolvedReference,
    /// The referenced Service has no such port.
    ServicePortInvalid,
    /// The Secret does not exist.
    SecretNotFound,
    /// The Secret exists but cannot serve TLS.
    SecretNotValid,
    /// TLS settings are inconsistent (e.g. minimum above maximum).
    TLSConfigNotValid,
    /// An annotation's value could not be parsed and was ignored.
    AnnotationValueInvalid,
    /// Two routes of the same host match exactly the same requests.
    DuplicateMatchConditions,
    /// A Secret in another namespace is referenced without a delegation that permits it.
    DelegationNotPermitted,
    /// A host is already served with a different certificate by an earlier object.
    CertificateConflict,
    /// A root HTTPProxy names no `virtualhost.fqdn`.
    FQDNNotSpecified,
    /// Several root HTTPProxies claim the same fqdn.
    DuplicateVhost,
    /// A root HTTPProxy outside the configured root namespaces.
    RootProxyNotAllowedInNamespace,
    /// An HTTPProxy with no routes, includes or TCP proxy.
    NothingDefined,
    /// An included HTTPProxy does not exist.
    IncludeNotFound,
    /// An include leads back to an HTTPProxy already on the include path.
    IncludeCreatesCycle,
    /// An include names another root HTTPProxy.
    RootIncludesRoot,
    /// Path conditions that are malformed or contradict each other.
    PathMatchConditionsNotValid,
    /// Header conditions that are malformed or contradict each other.
    HeaderMatchConditionsNotValid,
    /// Query parameter conditions that are malformed or contradict each other.
    QueryParameterMatchConditionsNotValid,
    /// Conditions an include may not have.
    IncludeMatchConditionsNotValid,
    /// An upstream protocol Sesame does not know.
    UnsupportedProtocol,
    /// More than one mirror service on a route.
    OnlyOneMirror,
    /// Service weights that are negative or sum to zero.
    WeightsNotValid,
    /// TLS features that cannot be combined.
    TLSIncompatibleFeatures,
    /// The fallback certificate is requested but none is configured.
    FallbackNotPresent,
    /// The fallback certificate is not delegated to the HTTPProxy's namespace.
    FallbackNotDelegated,
    /// The configured fallback certificate cannot serve TLS.
    FallbackNotValid,
    /// A TCP proxy without TLS on its virtual host.
    TLSMustBeConfigured,
    /// A TCP proxy with both services and an include, or neither.
    NoServicesAndInclude,
    /// A route with not exactly one of services, a redirect or a direct response.
    RouteActionCountNotValid,
    /// A timeout that cannot be parsed or is out of range.
    TimeoutPolicyNotValid,
    /// A retry policy Envoy would refuse.
    RetryPolicyNotValid,
    /// A header policy with a name or value Envoy would refuse.
    HeadersPolicyNotValid,
    /// A health check policy Envoy would refuse.
    HealthCheckPolicyNotValid,
    /// A slow start policy that cannot be parsed or does not fit the load balancer strategy.
    SlowStartInvalid,
    /// A load balancer policy Sesame does not know.
    LoadBalancerPolicyNotValid,
    /// A redirect policy Envoy would refuse.
    RedirectPolicyNotValid,
    /// A route's internal redirect policy has a value Envoy would refuse.
    InternalRedirectPolicyNotValid,
    /// A direct response policy Envoy would refuse.
    DirectResponsePolicyNotValid,
    /// A path prefix replacement that cannot apply.
    PrefixReplaceNotValid,
    /// A CORS policy with a missing or invalid value (Contour's reason for every CORS error).
    PolicyDidNotParse,
    /// A rate limit policy Envoy would refuse.
    RateLimitPolicyNotValid,
    /// Both `ipAllowPolicy` and `ipDenyPolicy` on one virtual host or route.
    IncompatibleIPAddressFilters,
    /// An IP filter `cidr` that is not an IPv4 or IPv6 address or CIDR range.
    InvalidCIDR,
    /// An IP filter rule with a missing or unknown `source`, or without a `cidr`.
    IPFilterPolicyNotValid,
    /// The includes of a root expand to more routes than Sesame follows.
    IncludeLimitExceeded,
    /// Authorization on a virtual host that does not terminate TLS.
    AuthNotPermitted,
    /// An authorization `extensionRef` with an `apiVersion` other than
    /// `projectsesame.io/v1alpha1`.
    AuthBadResourceVersion,
    /// An authorization `responseTimeout` that cannot be parsed.
    AuthResponseTimeoutInvalid,
    /// An authorization `withRequestBody` Envoy would refuse.
    AuthRequestBodyNotValid,
    /// The referenced ExtensionService does not exist or is not valid.
    ExtensionServiceNotFound,
    /// An ExtensionService target that is not a plain Service (an ExternalName Service).
    UnsupportedServiceType,
    /// An ExtensionService that validates TLS but speaks clear-text HTTP/2.
    InconsistentProtocol,
    /// An ExtensionService `protocolVersion` other than `v3`.
    UnsupportedProtocolVersion,
    /// A field that does not apply here and was ignored.
    IgnoredField,
    /// JWT providers on a virtual host that does not terminate TLS.
    JWTVerificationNotPermitted,
    /// Two JWT providers of a virtual host with one name.
    DuplicateProviderName,
    /// A JWT provider without a usable name.
    ProviderNameNotValid,
    /// More than one JWT provider marked `default`.
    MultipleDefaultProvidersSpecified,
    /// A JWT provider with no `remoteJWKS`.
    JWKSSourceMissing,
    /// A `remoteJWKS.uri` that is not an absolute http(s) URI Sesame accepts.
    RemoteJWKSURIInvalid,
    /// A `remoteJWKS.uri` whose scheme is not `http` or `https`.
    RemoteJWKSSchemeInvalid,
    /// A `remoteJWKS.validation` that is set for `http`, or names no usable CA.
    RemoteJWKSUpstreamValidationInvalid,
    /// A `remoteJWKS.validation.caSecret` in another namespace, not delegated.
    RemoteJWKSCACertificateNotDelegated,
    /// A `remoteJWKS.timeout` that is not a duration Sesame accepts.
    RemoteJWKSTimeoutInvalid,
    /// A `remoteJWKS.cacheDuration` that is not a duration Sesame accepts.
    RemoteJWKSCacheDurationInvalid,
    /// A `remoteJWKS.dnsLookupFamily` other than `auto`, `v4`, `v6` or `all`.
    RemoteJWKSDNSLookupFamilyInvalid,
    /// An `issuer` or `audiences` value Envoy would mishandle.
    JWTProviderNotValid,
    /// A route's `jwtVerificationPolicy` with both `require` and `disabled`.
    InvalidJWTVerificationPolicy,
    /// A route that requires a JWT provider its virtual host does not define.
    JWTProviderNotDefined,
    /// A `cookieRewritePolicies` entry with a bad name or value, a duplicate cookie, or nothing
    /// to rewrite.
    CookieRewritePoliciesInvalid,
    /// A field Sesame does not implement yet.
    NotSupported,
    /// No root HTTPProxy includes the object.
    Orphaned,
}

impl Reason {
    /// The reason as it appears in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidHostname => "InvalidHostname",
            Reason::PathNotValid => "PathNotValid",
            Reason::RegexNotValid => "RegexNotValid",
            Reason::PathTypeNotValid => "PathTypeNotValid",
            Reason::BackendNotValid => "BackendNotValid",
            Reason::ServiceUnresolvedReference => "ServiceUnresolvedReference",
            Reason::ServicePortInvalid => "ServicePortInvalid",
            Reason::SecretNotFound => "SecretNotFound",
            Reason::SecretNotValid => "SecretNotValid",
            Reason::TLSConfigNotValid => "TLSConfigNotValid",
            Reason::AnnotationValueInvalid => "AnnotationValueInvalid",
            Reason::DuplicateMatchConditions => "DuplicateMatchConditions",
            Reason::DelegationNotPermitted => "DelegationNotPermitted",
            Reason::CertificateConflict => "CertificateConflict",
            Reason::FQDNNotSpecified => "FQDNNotSpecified",
            Reason::DuplicateVhost => "DuplicateVhost",
            Reason::RootProxyNotAllowedInNamespace => "RootProxyNotAllowedInNamespace",
            Reason::NothingDefined => "NothingDefined",
            Reason::IncludeNotFound => "IncludeNotFound",
            Reason::IncludeCreatesCycle => "IncludeCreatesCycle",
            Reason::RootIncludesRoot => "RootIncludesRoot",
            Reason::PathMatchConditionsNotValid => "PathMatchConditionsNotValid",
            Reason::HeaderMatchConditionsNotValid => "HeaderMatchConditionsNotValid",
            Reason::QueryParameterMatchConditionsNotValid => {
                "QueryParameterMatchConditionsNotValid"
            }
            Reason::IncludeMatchConditionsNotValid => "IncludeMatchConditionsNotValid",
            Reason::UnsupportedProtocol => "UnsupportedProtocol",
            Reason::OnlyOneMirror => "OnlyOneMirror",
            Reason::WeightsNotValid => "WeightsNotValid",
            Reason::TLSIncompatibleFeatures => "TLSIncompatibleFeatures",
            Reason::FallbackNotPresent => "FallbackNotPresent",
            Reason::FallbackNotDelegated => "FallbackNotDelegated",
            Reason::FallbackNotValid => "FallbackNotValid",
            Reason::TLSMustBeConfigured => "TLSMustBeConfigured",
            Reason::NoServicesAndInclude => "NoServicesAndInclude",
            Reason::RouteActionCountNotValid => "RouteActionCountNotValid",
            Reason::TimeoutPolicyNotValid => "TimeoutPolicyNotValid",
            Reason::RetryPolicyNotValid => "RetryPolicyNotValid",
            Reason::HeadersPolicyNotValid => "HeadersPolicyNotValid",
            Reason::HealthCheckPolicyNotValid => "HealthCheckPolicyNotValid",
            Reason::SlowStartInvalid => "SlowStartInvalid",
            Reason::LoadBalancerPolicyNotValid => "LoadBalancerPolicyNotValid",
            Reason::RedirectPolicyNotValid => "RedirectPolicyNotValid",
            Reason::InternalRedirectPolicyNotValid => "InternalRedirectPolicyNotValid",
            Reason::DirectResponsePolicyNotValid => "DirectResponsePolicyNotValid",
            Reason::PrefixReplaceNotValid => "PrefixReplaceNotValid",
            Reason::PolicyDidNotParse => "PolicyDidNotParse",
            Reason::RateLimitPolicyNotValid => "RateLimitPolicyNotValid",
            Reason::IncompatibleIPAddressFilters => "IncompatibleIPAddressFilters",
            Reason::InvalidCIDR => "InvalidCIDR",
            Reason::IPFilterPolicyNotValid => "IPFilterPolicyNotValid",
            Reason::IncludeLimitExceeded => "IncludeLimitExceeded",
            Reason::AuthNotPermitted => "AuthNotPermitted",
            Reason::AuthBadResourceVersion => "AuthBadResourceVersion",
            Reason::AuthResponseTimeoutInvalid => "AuthResponseTimeoutInvalid",
            Reason::AuthRequestBodyNotValid => "AuthRequestBodyNotValid",
            Reason::ExtensionServiceNotFound => "ExtensionServiceNotFound",
            Reason::UnsupportedServiceType => "UnsupportedServiceType",
            Reason::InconsistentProtocol => "InconsistentProtocol",
            Reason::UnsupportedProtocolVersion => "UnsupportedProtocolVersion",
            Reason::IgnoredField => "IgnoredField",
            Reason::JWTVerificationNotPermitted => "JWTVerificationNotPermitted",
            Reason::DuplicateProviderName => "DuplicateProviderName",
            Reason::ProviderNameNotValid => "ProviderNameNotValid",
            Reason::MultipleDefaultProvidersSpecified => "MultipleDefaultProvidersSpecified",
            Reason::JWKSSourceMissing => "JWKSSourceMissing",
            Reason::RemoteJWKSURIInvalid => "RemoteJWKSURIInvalid",
            Reason::RemoteJWKSSchemeInvalid => "RemoteJWKSSchemeInvalid",
            Reason::RemoteJWKSUpstreamValidationInvalid => "RemoteJWKSUpstreamValidationInvalid",
            Reason::RemoteJWKSCACertificateNotDelegated => "RemoteJWKSCACertificateNotDelegated",
            Reason::RemoteJWKSTimeoutInvalid => "RemoteJWKSTimeoutInvalid",
            Reason::RemoteJWKSCacheDurationInvalid => "RemoteJWKSCacheDurationInvalid",
            Reason::RemoteJWKSDNSLookupFamilyInvalid => "RemoteJWKSDNSLookupFamilyInvalid",
            Reason::JWTProviderNotValid => "JWTProviderNotValid",
            Reason::InvalidJWTVerificationPolicy => "InvalidJWTVerificationPolicy",
            Reason::JWTProviderNotDefined => "JWTProviderNotDefined",
            Reason::CookieRewritePoliciesInvalid => "CookieRewritePoliciesInvalid",
            Reason::NotSupported => "NotSupported",
            Reason::Orphaned => "Orphaned",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn httpproxy_status_has_contours_shape() {
        let mut status = ObjectStatus::valid(Some(4));
        let valid = status.httpproxy_status();
        assert_eq!(valid.current_status.as_deref(), Some("valid"));
        assert_eq!(valid.description.as_deref(), Some("Valid HTTPProxy"));
        assert_eq!(valid.conditions[0].status, "True");
        assert_eq!(valid.conditions[0].observed_generation, Some(4));

        status.error(
            ProblemKind::IncludeError,
            Reason::IncludeCreatesCycle,
            "include creates an include cycle: a -> b -> a",
        );
        let invalid = status.httpproxy_status();
        assert_eq!(invalid.current_status.as_deref(), Some("invalid"));
        let condition = &invalid.conditions[0];
        assert_eq!(
            (condition.type_.as_str(), condition.status.as_str()),
            ("Valid", "False")
        );
        assert_eq!(condition.reason, "ErrorPresent");
        assert_eq!(condition.errors[0].type_, "IncludeError");
        assert_eq!(condition.errors[0].reason, "IncludeCreatesCycle");
        assert!(condition.errors[0].message.contains("a -> b -> a"));

        let mut orphan = ObjectStatus::valid(None);
        orphan.orphan();
        let orphaned = orphan.httpproxy_status();
        assert_eq!(orphaned.current_status.as_deref(), Some("orphaned"));
        assert_eq!(orphaned.description.as_deref(), Some(ORPHANED));
        assert_eq!(orphaned.conditions[0].errors[0].type_, "Orphaned");
    }
}

//! Header policies: the headers a route sets and removes, and the values, which may hold
//! Envoy's request-time variables as typed parts (never as text templated by Sesame).

use serde::Serialize;

/// Headers to set and remove on a request or a response. Names are lower case and, like the
/// values, validated upstream of translation (Envoy rejects `host` and `:`-prefixed names here).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HeadersPolicy {
    /// Headers to set, by name: each overwrites the header if present, or adds it.
    pub set: Vec<(String, HeaderValue)>,
    /// Names of headers to remove.
    pub remove: Vec<String>,
}

impl HeadersPolicy {
    /// A policy that sets and removes nothing.
    pub const NONE: HeadersPolicy = HeadersPolicy {
        set: Vec::new(),
        remove: Vec::new(),
    };

    /// Whether the policy neither sets nor removes anything.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// A header value to set: literal text and values Envoy fills in per request. The parts are
/// typed so that only the variables Sesame lets through ever reach Envoy's formatter; every
/// literal part is escaped when translated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderValue(pub Vec<HeaderValuePart>);

/// One part of a [`HeaderValue`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum HeaderValuePart {
    /// Text sent as it is (a `%` in it is a percent sign).
    Literal(String),
    /// A value of the request or connection, one of [`EnvoyVariable`].
    Envoy(EnvoyVariable),
    /// The value of a request header (Envoy's `%REQ(name)%`), by a validated name.
    RequestHeader(String),
}

impl HeaderValue {
    /// A value made of literal text only.
    pub fn literal(text: impl Into<String>) -> Self {
        HeaderValue(vec![HeaderValuePart::Literal(text.into())])
    }

    /// The literal text of the value when it has no dynamic part.
    pub fn as_literal(&self) -> Option<String> {
        self.0
            .iter()
            .map(|p| match p {
                HeaderValuePart::Literal(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl From<&str> for HeaderValue {
    fn from(text: &str) -> Self {
        HeaderValue::literal(text)
    }
}

impl From<String> for HeaderValue {
    fn from(text: String) -> Self {
        HeaderValue::literal(text)
    }
}

impl Serialize for HeaderValue {
    /// A literal value as its text (as before dynamic values), else as its parts.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_literal() {
            Some(text) => serializer.serialize_str(&text),
            None => self.0.serialize(serializer),
        }
    }
}

/// The Envoy request and connection values a header value may carry: Contour's list of
/// "known good" Envoy dynamic header values, each translated to Envoy's `%NAME%` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EnvoyVariable {
    /// `%DOWNSTREAM_REMOTE_ADDRESS%`
    DownstreamRemoteAddress,
    /// `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`
    DownstreamRemoteAddressWithoutPort,
    /// `%DOWNSTREAM_LOCAL_ADDRESS%`
    DownstreamLocalAddress,
    /// `%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%`
    DownstreamLocalAddressWithoutPort,
    /// `%DOWNSTREAM_LOCAL_PORT%`
    DownstreamLocalPort,
    /// `%DOWNSTREAM_LOCAL_URI_SAN%`
    DownstreamLocalUriSan,
    /// `%DOWNSTREAM_PEER_URI_SAN%`
    DownstreamPeerUriSan,
    /// `%DOWNSTREAM_LOCAL_SUBJECT%`
    DownstreamLocalSubject,
    /// `%DOWNSTREAM_PEER_SUBJECT%`
    DownstreamPeerSubject,
    /// `%DOWNSTREAM_PEER_ISSUER%`
    DownstreamPeerIssuer,
    /// `%DOWNSTREAM_TLS_SESSION_ID%`
    DownstreamTlsSessionId,
    /// `%DOWNSTREAM_TLS_CIPHER%`
    DownstreamTlsCipher,
    /// `%DOWNSTREAM_TLS_VERSION%`
    DownstreamTlsVersion,
    /// `%DOWNSTREAM_PEER_FINGERPRINT_256%`
    DownstreamPeerFingerprint256,
    /// `%DOWNSTREAM_PEER_FINGERPRINT_1%`
    DownstreamPeerFingerprint1,
    /// `%DOWNSTREAM_PEER_SERIAL%`
    DownstreamPeerSerial,
    /// `%DOWNSTREAM_PEER_CERT%`
    DownstreamPeerCert,
    /// `%DOWNSTREAM_PEER_CERT_V_START%`
    DownstreamPeerCertVStart,
    /// `%DOWNSTREAM_PEER_CERT_V_END%`
    DownstreamPeerCertVEnd,
    /// `%HOSTNAME%`
    Hostname,
    /// `%PROTOCOL%`
    Protocol,
    /// `%UPSTREAM_REMOTE_ADDRESS%`
    UpstreamRemoteAddress,
    /// `%RESPONSE_FLAGS%`
    ResponseFlags,
    /// `%RESPONSE_CODE_DETAILS%`
    ResponseCodeDetails,
}

impl EnvoyVariable {
    /// Every variable, for lookups by name.
    pub const ALL: [EnvoyVariable; 24] = [
        EnvoyVariable::DownstreamRemoteAddress,
        EnvoyVariable::DownstreamRemoteAddressWithoutPort,
        EnvoyVariable::DownstreamLocalAddress,
        EnvoyVariable::DownstreamLocalAddressWithoutPort,
        EnvoyVariable::DownstreamLocalPort,
        EnvoyVariable::DownstreamLocalUriSan,
        EnvoyVariable::DownstreamPeerUriSan,
        EnvoyVariable::DownstreamLocalSubject,
        EnvoyVariable::DownstreamPeerSubject,
        EnvoyVariable::DownstreamPeerIssuer,
        EnvoyVariable::DownstreamTlsSessionId,
        EnvoyVariable::DownstreamTlsCipher,
        EnvoyVariable::DownstreamTlsVersion,
        EnvoyVariable::DownstreamPeerFingerprint256,
        EnvoyVariable::DownstreamPeerFingerprint1,
        EnvoyVariable::DownstreamPeerSerial,
        EnvoyVariable::DownstreamPeerCert,
        EnvoyVariable::DownstreamPeerCertVStart,
        EnvoyVariable::DownstreamPeerCertVEnd,
        EnvoyVariable::Hostname,
        EnvoyVariable::Protocol,
        EnvoyVariable::UpstreamRemoteAddress,
        EnvoyVariable::ResponseFlags,
        EnvoyVariable::ResponseCodeDetails,
    ];

    /// Envoy's name of the variable, without the `%`s.
    pub fn name(self) -> &'static str {
        use EnvoyVariable::*;
        match self {
            DownstreamRemoteAddress => "DOWNSTREAM_REMOTE_ADDRESS",
            DownstreamRemoteAddressWithoutPort => "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
            DownstreamLocalAddress => "DOWNSTREAM_LOCAL_ADDRESS",
            DownstreamLocalAddressWithoutPort => "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
            DownstreamLocalPort => "DOWNSTREAM_LOCAL_PORT",
            DownstreamLocalUriSan => "DOWNSTREAM_LOCAL_URI_SAN",
            DownstreamPeerUriSan => "DOWNSTREAM_PEER_URI_SAN",
            DownstreamLocalSubject => "DOWNSTREAM_LOCAL_SUBJECT",
            DownstreamPeerSubject => "DOWNSTREAM_PEER_SUBJECT",
            DownstreamPeerIssuer => "DOWNSTREAM_PEER_ISSUER",
            DownstreamTlsSessionId => "DOWNSTREAM_TLS_SESSION_ID",
            DownstreamTlsCipher => "DOWNSTREAM_TLS_CIPHER",
            DownstreamTlsVersion => "DOWNSTREAM_TLS_VERSION",
            DownstreamPeerFingerprint256 => "DOWNSTREAM_PEER_FINGERPRINT_256",
            DownstreamPeerFingerprint1 => "DOWNSTREAM_PEER_FINGERPRINT_1",
            DownstreamPeerSerial => "DOWNSTREAM_PEER_SERIAL",
            DownstreamPeerCert => "DOWNSTREAM_PEER_CERT",
            DownstreamPeerCertVStart => "DOWNSTREAM_PEER_CERT_V_START",
            DownstreamPeerCertVEnd => "DOWNSTREAM_PEER_CERT_V_END",
            Hostname => "HOSTNAME",
            Protocol => "PROTOCOL",
            UpstreamRemoteAddress => "UPSTREAM_REMOTE_ADDRESS",
            ResponseFlags => "RESPONSE_FLAGS",
            ResponseCodeDetails => "RESPONSE_CODE_DETAILS",
        }
    }
}

//! The listener side of the configuration file: the timeouts of Envoy's HTTP connection
//! managers (`timeouts:`), access logs (`accesslog-format`, `json-fields`), `network:` and
//! `tls.cipher-suites`.
//!
//! The keys keep Contour's names and meanings. Values stay as written; the typed accessors
//! here give what the translation needs once [`Config::validate`](super::Config::validate)
//! has passed.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::duration::{is_infinite, parse_duration};

/// Timeouts of the HTTP connection managers of `ingress_http` and `ingress_https`, and the
/// upstream connect timeout
/// (`timeouts:`). Each is a Go duration, or `infinity`/`infinite` for none; an unset one keeps
/// Sesame's default (Envoy's own, except the connection idle timeout: 60s, as Contour).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutParameters {
    /// How long a whole request may take (HCM `request_timeout`; unset: none).
    #[serde(default, rename = "request-timeout")]
    pub request_timeout: Option<String>,
    /// How long a connection may stay without requests (HCM
    /// `common_http_protocol_options.idle_timeout`; unset: 60s).
    #[serde(default, rename = "connection-idle-timeout")]
    pub connection_idle_timeout: Option<String>,
    /// How long a stream may stay without activity (HCM `stream_idle_timeout`; Envoy: 5m).
    #[serde(default, rename = "stream-idle-timeout")]
    pub stream_idle_timeout: Option<String>,
    /// How long a connection may live at all (HCM
    /// `common_http_protocol_options.max_connection_duration`; unset: none).
    #[serde(default, rename = "max-connection-duration")]
    pub max_connection_duration: Option<String>,
    /// How long Envoy waits for the client to close after its response (HCM
    /// `delayed_close_timeout`; Envoy: 1s).
    #[serde(default, rename = "delayed-close-timeout")]
    pub delayed_close_timeout: Option<String>,
    /// How long between the HTTP/2 GOAWAY "drain" notice and the final GOAWAY (HCM
    /// `drain_timeout`; Envoy: 5s).
    #[serde(default, rename = "connection-shutdown-grace-period")]
    pub connection_shutdown_grace_period: Option<String>,
    /// How long Envoy waits for a connection to an upstream (every cluster's
    /// `connect_timeout`; `2s` by default, as Contour).
    #[serde(default, rename = "connect-timeout", alias = "connectTimeout")]
    pub connect_timeout: Option<String>,
}

impl TimeoutParameters {
    /// The upstream connect timeout when none is configured (Contour's).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

    /// The upstream connect timeout: the configured one, else 2 s.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
            .as_deref()
            .and_then(|v| parse_duration(v).ok())
            .unwrap_or(Self::DEFAULT_CONNECT_TIMEOUT)
    }

    /// `connect-timeout` must be a positive duration: an upstream connect cannot wait forever.
    pub(super) fn validate_connect_timeout(&self) -> Result<(), ConfigError> {
        if let Some(v) = &self.connect_timeout
            && !parse_duration(v).is_ok_and(|d| !d.is_zero())
        {
            return Err(ConfigError::invalid(
                "timeouts.connect-timeout",
                v,
                "expected a positive duration such as 2s (infinity is not allowed)",
            ));
        }
        Ok(())
    }

    /// Every timeout of the HTTP connection managers with its dotted key.
    pub fn entries(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("timeouts.request-timeout", &self.request_timeout),
            (
                "timeouts.connection-idle-timeout",
                &self.connection_idle_timeout,
            ),
            ("timeouts.stream-idle-timeout", &self.stream_idle_timeout),
            (
                "timeouts.max-connection-duration",
                &self.max_connection_duration,
            ),
            (
                "timeouts.delayed-close-timeout",
                &self.delayed_close_timeout,
            ),
            (
                "timeouts.connection-shutdown-grace-period",
                &self.connection_shutdown_grace_period,
            ),
        ]
        .map(|(key, value)| (key, value.as_deref()))
    }
}

/// Envoy network settings (`network:`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkParameters {
    /// How many proxies in front of Envoy append to `X-Forwarded-For` (HCM
    /// `xff_num_trusted_hops`; 0 by default: the client is the connection's peer).
    #[serde(default, rename = "num-trusted-hops")]
    pub num_trusted_hops: Option<i64>,
    /// The port of the read-only admin listener `envoy-admin` on 127.0.0.1. Unset or 0: no
    /// such listener (Contour's default is 9001, where `sesame bootstrap` puts Envoy's admin).
    #[serde(default, rename = "admin-port")]
    pub admin_port: Option<i64>,
}

impl NetworkParameters {
    /// `num-trusted-hops`, 0 when unset.
    pub fn num_trusted_hops(&self) -> u32 {
        self.num_trusted_hops
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    }

    /// The port of the read-only admin listener, if there is to be one.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
    }
}

/// How Envoy writes its access log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// Envoy's default text format.
    #[default]
    Envoy,
    /// One JSON object a line, with the fields of `json-fields`.
    Json,
}

impl FromStr for AccessLogFormat {
    type Err = String;

    /// Parses `envoy` or `json`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "envoy" => Ok(AccessLogFormat::Envoy),
            "json" => Ok(AccessLogFormat::Json),
            other => Err(format!(
                "unknown access log format {other:?}: expected envoy or json"
            )),
        }
    }
}

/// The fields of a JSON access log line when `json-fields` is unset (Contour's).
pub const DEFAULT_JSON_FIELDS: [&str; 23] = [
    "@timestamp",
    "authority",
    "bytes_received",
    "bytes_sent",
    "downstream_local_address",
    "downstream_remote_address",
    "duration",
    "method",
    "path",
    "protocol",
    "request_id",
    "requested_server_name",
    "response_code",
    "response_flags",
    "uber_trace_id",
    "upstream_cluster",
    "upstream_host",
    "upstream_local_address",
    "upstream_service_time",
    "user_agent",
    "x_forwarded_for",
    "grpc_status",
    "grpc_status_number",
];

/// Field names with a format of their own (Contour's canonical table; its TLS fingerprint
/// and route-metadata fields are left out: Sesame sets neither).
const NAMED_FIELDS: [(&str, &str); 11] = [
    ("@timestamp", "%START_TIME%"),
    ("ts", "%START_TIME%"),
    ("authority", "%REQ(:AUTHORITY)%"),
    ("method", "%REQ(:METHOD)%"),
    ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
    ("request_id", "%REQ(X-REQUEST-ID)%"),
    ("uber_trace_id", "%REQ(UBER-TRACE-ID)%"),
    (
        "upstream_service_time",
        "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    ),
    ("user_agent", "%REQ(USER-AGENT)%"),
    ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
    ("x_trace_id", "%REQ(X-TRACE-ID)%"),
];

/// Envoy command operators that take no argument; a field of that name (any case) logs the
/// operator (Contour's list).
const SIMPLE_OPERATORS: [&str; 79] = [
    "BYTES_RECEIVED",
    "BYTES_SENT",
    "CONNECTION_ID",
    "CONNECTION_TERMINATION_DETAILS",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_DIRECT_REMOTE_PORT",
    "DOWNSTREAM_HEADER_BYTES_RECEIVED",
    "DOWNSTREAM_HEADER_BYTES_SENT",
    "DOWNSTREAM_LOCAL_ADDRESS",
    "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_LOCAL_PORT",
    "DOWNSTREAM_LOCAL_SUBJECT",
    "DOWNSTREAM_LOCAL_URI_SAN",
    "DOWNSTREAM_PEER_CERT",
    "DOWNSTREAM_PEER_CERT_V_END",
    "DOWNSTREAM_PEER_CERT_V_START",
    "DOWNSTREAM_PEER_FINGERPRINT_1",
    "DOWNSTREAM_PEER_FINGERPRINT_256",
    "DOWNSTREAM_PEER_ISSUER",
    "DOWNSTREAM_PEER_SERIAL",
    "DOWNSTREAM_PEER_SUBJECT",
    "DOWNSTREAM_PEER_URI_SAN",
    "DOWNSTREAM_REMOTE_ADDRESS",
    "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_REMOTE_PORT",
    "DOWNSTREAM_TLS_CIPHER",
    "DOWNSTREAM_TLS_SESSION_ID",
    "DOWNSTREAM_TLS_VERSION",
    "DOWNSTREAM_WIRE_BYTES_RECEIVED",
    "DOWNSTREAM_WIRE_BYTES_SENT",
    "DURATION",
    "FILTER_CHAIN_NAME",
    "GRPC_STATUS",
    "GRPC_STATUS_NUMBER",
    "HOSTNAME",
    "LOCAL_REPLY_BODY",
    "PROTOCOL",
    "REQUEST_HEADERS_BYTES",
    "REQUESTED_SERVER_NAME",
    "REQUEST_DURATION",
    "REQUEST_TX_DURATION",
    "RESPONSE_CODE",
    "RESPONSE_CODE_DETAILS",
    "RESPONSE_DURATION",
    "RESPONSE_FLAGS",
    "RESPONSE_HEADERS_BYTES",
    "RESPONSE_TRAILERS_BYTES",
    "RESPONSE_TX_DURATION",
    "ROUTE_NAME",
    "SPAN_ID",
    "START_TIME",
    "TLS_JA3_FINGERPRINT",
    "TLS_JA4_FINGERPRINT",
    "TRACE_ID",
    "UPSTREAM_CLUSTER",
    "UPSTREAM_FILTER_STATE",
    "UPSTREAM_HEADER_BYTES_RECEIVED",
    "UPSTREAM_HEADER_BYTES_SENT",
    "UPSTREAM_HOST",
    "UPSTREAM_LOCAL_ADDRESS",
    "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    "UPSTREAM_LOCAL_PORT",
    "UPSTREAM_PEER_CERT",
    "UPSTREAM_PEER_CERT_V_END",
    "UPSTREAM_PEER_CERT_V_START",
    "UPSTREAM_PEER_ISSUER",
    "UPSTREAM_PEER_SUBJECT",
    "UPSTREAM_PROTOCOL",
    "UPSTREAM_REMOTE_ADDRESS",
    "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    "UPSTREAM_REMOTE_PORT",
    "UPSTREAM_REQUEST_ATTEMPT_COUNT",
    "UPSTREAM_TLS_CIPHER",
    "UPSTREAM_TLS_SESSION_ID",
    "UPSTREAM_TLS_VERSION",
    "UPSTREAM_TRANSPORT_FAILURE_REASON",
    "UPSTREAM_WIRE_BYTES_RECEIVED",
    "UPSTREAM_WIRE_BYTES_SENT",
];

/// Envoy command operators that take an argument in parentheses (`%REQ(USER-AGENT)%`);
/// `START_TIME`'s is optional and it takes no truncation length.
const ARGUMENT_OPERATORS: [&str; 7] = [
    "ENVIRONMENT",
    "METADATA",
    "REQ",
    "REQ_WITHOUT_QUERY",
    "RESP",
    "START_TIME",
    "TRAILER",
];

/// The cipher suites Envoy's downstream TLS accepts by name (Contour's allow list). A
/// `tls.cipher-suites` entry is one of them, or an equal-preference group `[A|B|…]` of them.
pub const VALID_CIPHER_SUITES: [&str; 14] = [
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA",
];

impl Config {
    /// The access log format of the file, `envoy` when unset.
    pub fn access_log_format(&self) -> AccessLogFormat {
        self.accesslog_format
            .as_deref()
            .and_then(|f| f.parse().ok())
            .unwrap_or_default()
    }

    /// The fields of a JSON access log line by name, each with its Envoy format
    /// (`%REQ(:METHOD)%`): `json-fields`, or [`DEFAULT_JSON_FIELDS`] when unset. A name given
    /// twice keeps its last format.
    pub fn json_fields(&self) -> BTreeMap<String, String> {
        let default = DEFAULT_JSON_FIELDS.map(String::from);
        let fields = self.json_fields.as_deref().unwrap_or(&default);
        fields
            .iter()
            .filter_map(|field| json_field(field).ok())
            .collect()
    }

    /// The cipher suites of `tls.cipher-suites`, trimmed, each once, in the order given;
    /// `None` when unset or empty (the translation's default list applies).
    pub fn cipher_suites(&self) -> Option<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for suite in self.tls.cipher_suites.iter().flatten() {
            let suite = suite.trim();
            if !out.iter().any(|s| s == suite) {
                out.push(suite.to_string());
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Checks the listener-side keys.
    pub(super) fn validate_listener(&self) -> Result<(), ConfigError> {
        for (key, value) in self.timeouts.entries() {
            if let Some(v) = value
                && !is_infinite(v)
                && parse_duration(v).is_err()
            {
                return Err(ConfigError::invalid(
                    key,
                    v,
                    "expected a duration such as 60s, or infinity",
                ));
            }
        }
        if let Some(format) = &self.accesslog_format
            && format.parse::<AccessLogFormat>().is_err()
        {
            return Err(ConfigError::invalid(
                "accesslog-format",
                format,
                "expected envoy or json",
            ));
        }
        if let Some(fields) = &self.json_fields {
            if fields.is_empty() {
                return Err(ConfigError::invalid(
                    "json-fields",
                    "[]",
                    "expected at least one field",
                ));
            }
            for field in fields {
                json_field(field)
                    .map_err(|reason| ConfigError::invalid("json-fields", field, reason))?;
            }
        }
        let network = [
            (
                "network.num-trusted-hops",
                self.network.num_trusted_hops,
                i64::from(u32::MAX),
                "expected a number of proxies from 0 to 4294967295",
            ),
            (
                "network.admin-port",
                self.network.admin_port,
                i64::from(u16::MAX),
                "expected a port from 1 to 65535, or 0 for no admin listener",
            ),
        ];
        for (key, value, max, reason) in network {
            if let Some(n) = value
                && !(0..=max).contains(&n)
            {
                return Err(ConfigError::invalid(key, &n.to_string(), reason));
            }
        }
        for suite in self.tls.cipher_suites.iter().flatten() {
            if !valid_cipher_suite(suite.trim()) {
                return Err(ConfigError::invalid(
                    "tls.cipher-suites",
                    suite,
                    "unknown cipher suite: expected one of Envoy's, such as ECDHE-RSA-AES256-GCM-SHA384, or an equal-preference group [A|B] of them",
                ));
            }
        }
        Ok(())
    }
}

/// One `json-fields` entry as a name and its Envoy format: `name=FORMAT` as written, a name
/// of [`NAMED_FIELDS`], or the name of a [`SIMPLE_OPERATORS`] entry in any case.
fn json_field(field: &str) -> Result<(String, String), &'static str> {
    if let Some((name, format)) = field.split_once('=') {
        if name.is_empty() {
            return Err("expected name=format with a non-empty name");
        }
        check_format(format)?;
        return Ok((name.to_string(), format.to_string()));
    }
    if let Some((_, format)) = NAMED_FIELDS.iter().find(|(n, _)| *n == field) {
        return Ok((field.to_string(), format.to_string()));
    }
    let upper = field.to_ascii_uppercase();
    if SIMPLE_OPERATORS.contains(&upper.as_str()) {
        return Ok((field.to_string(), format!("%{upper}%")));
    }
    Err(
        "unknown field: use a field Contour names, an Envoy command operator without arguments, or name=%OPERATOR(ARG)%",
    )
}

/// Checks the command operators of an access log format as Contour does: every `%` starts
/// an operator `%NAME%`, `%NAME(ARG)%` or `%NAME(ARG):LENGTH%` that Envoy knows, with an
/// argument where it needs one.
fn check_format(format: &str) -> Result<(), &'static str> {
    let mut rest = format;
    while let Some(start) = rest.find('%') {
        let (operator, after) = command_operator(&rest[start + 1..])
            .ok_or("a % that starts no Envoy command operator")?;
        let takes_argument = ARGUMENT_OPERATORS.contains(&operator.name);
        if !takes_argument && !SIMPLE_OPERATORS.contains(&operator.name) {
            return Err("unknown Envoy command operator");
        }
        if takes_argument && operator.name != "START_TIME" && !operator.argument {
            return Err("this Envoy command operator needs an argument: %NAME(ARG)%");
        }
        if operator.name == "START_TIME" && operator.truncated {
            return Err("START_TIME takes no truncation length");
        }
        rest = after;
    }
    Ok(())
}

/// A command operator in an access log format.
struct CommandOperator<'a> {
    name: &'a str,
    argument: bool,
    truncated: bool,
}

/// The operator that `s` (the text after a `%`) starts, up to its closing `%`, and the text
/// after it.
fn command_operator(s: &str) -> Option<(CommandOperator<'_>, &str)> {
    let name_end = s
        .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .unwrap_or(s.len());
    let (name, mut rest) = s.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let mut operator = CommandOperator {
        name,
        argument: false,
        truncated: false,
    };
    if let Some(args) = rest.strip_prefix('(') {
        let close = args.find(')').filter(|i| *i > 0)?;
        operator.argument = true;
        rest = &args[close + 1..];
        if let Some(length) = rest.strip_prefix(':') {
            let digits = length
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(length.len());
            if digits > 0 {
                operator.truncated = true;
                rest = &length[digits..];
            }
        }
    }
    rest.strip_prefix('%').map(|after| (operator, after))
}

/// Whether a `tls.cipher-suites` entry is a suite of [`VALID_CIPHER_SUITES`] or a bracketed
/// group of them.
fn valid_cipher_suite(suite: &str) -> bool {
    match suite.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(group) => group.split('|').all(|s| VALID_CIPHER_SUITES.contains(&s)),
        None => VALID_CIPHER_SUITES.contains(&suite),
    }
}

#[cfg(test)]
mod tests;

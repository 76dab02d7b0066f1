//! Access logs of the ingress listeners: a file per listener, in Envoy's default text format
//! or one JSON object a line.

use std::collections::{BTreeMap, HashMap};

use envoy_types::pb::envoy::config::accesslog::v3 as accesslog_v3;
use envoy_types::pb::envoy::extensions::access_loggers::file::v3 as file_v3;
use envoy_types::pb::google::protobuf::{Any, Struct, Value, value::Kind};
use prost::{Message, Name};

/// The name of Envoy's file access logger.
const FILE_ACCESS_LOG: &str = "envoy.access_loggers.file";

/// Where and how the ingress listeners log requests (`--envoy-http-access-log`,
/// `--envoy-https-access-log`, `accesslog-format`, `json-fields`).
#[derive(Clone, Debug, PartialEq)]
pub struct AccessLog {
    /// The line format.
    pub format: AccessLogFormat,
    /// The file of `ingress_http`'s log.
    pub http_path: String,
    /// The file of `ingress_https`'s log: its HTTP connection managers and TCP proxies.
    pub https_path: String,
}

impl Default for AccessLog {
    /// Contour's: Envoy's text format on standard output.
    fn default() -> Self {
        AccessLog {
            format: AccessLogFormat::Envoy,
            http_path: "/dev/stdout".to_string(),
            https_path: "/dev/stdout".to_string(),
        }
    }
}

/// The format of access log lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum AccessLogFormat {
    /// Envoy's default text format.
    #[default]
    Envoy,
    /// A JSON object a line: each field name with its Envoy format (`%REQ(:METHOD)%`).
    Json(BTreeMap<String, String>),
}

/// A file access log to `path` in `format`.
pub(crate) fn file_access_log(path: &str, format: &AccessLogFormat) -> accesslog_v3::AccessLog {
    let file = file_v3::FileAccessLog {
        path: path.to_string(),
        access_log_format: None,
    };
    let mut value = file.encode_to_vec();
    if let AccessLogFormat::Json(fields) = format {
        value.extend(json_log_format(fields));
    }
    accesslog_v3::AccessLog {
        name: FILE_ACCESS_LOG.to_string(),
        config_type: Some(accesslog_v3::access_log::ConfigType::TypedConfig(Any {
            type_url: file_v3::FileAccessLog::type_url(),
            value,
        })),
        ..Default::default()
    }
}

/// The key of `FileAccessLog.log_format` (field 5, length-delimited).
const LOG_FORMAT_KEY: u8 = 5 << 3 | 2;
/// The key of `SubstitutionFormatString.json_format` (field 2, length-delimited).
const JSON_FORMAT_KEY: u8 = 2 << 3 | 2;

/// The encoded `log_format` field of a `FileAccessLog`: a `SubstitutionFormatString` whose
/// `json_format` maps each field name to its format, as a string. Encoded by hand, entry by
/// entry in name order: prost encodes a `Struct`'s map in `HashMap` order, which changes from
/// one run to the next, and the same settings must always give the same bytes.
fn json_log_format(fields: &BTreeMap<String, String>) -> Vec<u8> {
    let mut json = Vec::new();
    for (name, format) in fields {
        // A map field is a run of entries: a one-entry Struct encodes exactly one.
        let entry = Struct {
            fields: HashMap::from([(
                name.clone(),
                Value {
                    kind: Some(Kind::StringValue(format.clone())),
                },
            )]),
        };
        json.extend(entry.encode_to_vec());
    }
    let substitution = length_delimited(JSON_FORMAT_KEY, &json);
    length_delimited(LOG_FORMAT_KEY, &substitution)
}

/// One length-delimited field: its key, the length, the bytes.
fn length_delimited(key: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![key];
    // Writing into a `Vec` cannot run out of room, the only way this fails.
    let _ = prost::encode_length_delimiter(bytes.len(), &mut out);
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use pretty_assertions::assert_eq;

use super::*;
use crate::testutil::decode;

fn file(log: &accesslog_v3::AccessLog) -> (file_v3::FileAccessLog, Vec<u8>) {
    assert_eq!(log.name, "envoy.access_loggers.file");
    match &log.config_type {
        Some(accesslog_v3::access_log::ConfigType::TypedConfig(any)) => {
            (decode(any), any.value.clone())
        }
        other => panic!("access log without typed config: {other:?}"),
    }
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn envoy_format_is_a_plain_file_log() {
    let (log, bytes) = file(&file_access_log(
        "/var/log/http.log",
        &AccessLogFormat::Envoy,
    ));
    let want = file_v3::FileAccessLog {
        path: "/var/log/http.log".into(),
        access_log_format: None,
    };
    assert_eq!(log, want);
    assert_eq!(bytes, want.encode_to_vec());
}

#[test]
fn json_format_maps_each_field_to_its_operator() {
    let format = AccessLogFormat::Json(fields(&[
        ("method", "%REQ(:METHOD)%"),
        ("@timestamp", "%START_TIME%"),
        ("code", "%RESPONSE_CODE%"),
    ]));
    let (log, _) = file(&file_access_log("/tmp/a.log", &format));
    let string = |s: &str| Value {
        kind: Some(Kind::StringValue(s.into())),
    };
    let want = file_v3::FileAccessLog {
        path: "/tmp/a.log".into(),
        access_log_format: Some(file_v3::file_access_log::AccessLogFormat::LogFormat(
            core_v3::SubstitutionFormatString {
                format: Some(core_v3::substitution_format_string::Format::JsonFormat(
                    Struct {
                        fields: HashMap::from([
                            ("method".to_string(), string("%REQ(:METHOD)%")),
                            ("@timestamp".to_string(), string("%START_TIME%")),
                            ("code".to_string(), string("%RESPONSE_CODE%")),
                        ]),
                    },
                )),
                ..Default::default()
            },
        )),
    };
    assert_eq!(log, want);
}

/// prost would encode the `Struct` in `HashMap` order; the hand encoding is the same every
/// time, in name order, whatever the order the fields were given in.
#[test]
fn json_format_encodes_byte_for_byte_the_same() {
    let names: Vec<String> = (0..40).map(|i| format!("field{i:02}")).collect();
    let forward: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), "%DURATION%".to_string()))
        .collect();
    let backward: BTreeMap<String, String> = names
        .iter()
        .rev()
        .map(|n| (n.clone(), "%DURATION%".to_string()))
        .collect();
    let (_, a) = file(&file_access_log("/p", &AccessLogFormat::Json(forward)));
    let (_, b) = file(&file_access_log("/p", &AccessLogFormat::Json(backward)));
    assert_eq!(a, b);
    let text = String::from_utf8_lossy(&a);
    let positions: Vec<usize> = names.iter().filter_map(|n| text.find(n.as_str())).collect();
    assert_eq!(positions.len(), names.len());
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in name order");
}

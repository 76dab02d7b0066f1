use std::collections::BTreeMap;

use super::*;

/// The message of the error a file gives, which must name `key` and `value`.
fn refused(text: &str, key: &str, value: &str) -> String {
    let err = match Config::from_yaml(text) {
        Ok(config) => panic!("accepted {text:?}: {config:?}"),
        Err(e) => e,
    };
    let message = err.to_string();
    assert!(
        matches!(&err, ConfigError::InvalidValue { key: k, value: v, .. } if *k == key && v == value),
        "{text:?} gave {err:?}"
    );
    assert!(
        message.contains(key) && message.contains(value),
        "{message}"
    );
    message
}

fn load(text: &str) -> Config {
    match Config::from_yaml(text) {
        Ok(config) => config,
        Err(e) => panic!("refused {text:?}: {e}"),
    }
}

#[test]
fn every_timeout_loads_as_written() {
    let config = load(
        "timeouts:\n  request-timeout: 30s\n  connection-idle-timeout: infinity\n  stream-idle-timeout: 1m30s\n  max-connection-duration: infinite\n  delayed-close-timeout: 500ms\n  connection-shutdown-grace-period: 10s\n",
    );
    assert_eq!(
        config.timeouts.entries(),
        [
            ("timeouts.request-timeout", Some("30s")),
            ("timeouts.connection-idle-timeout", Some("infinity")),
            ("timeouts.stream-idle-timeout", Some("1m30s")),
            ("timeouts.max-connection-duration", Some("infinite")),
            ("timeouts.delayed-close-timeout", Some("500ms")),
            ("timeouts.connection-shutdown-grace-period", Some("10s")),
        ]
    );
    assert_eq!(
        Config::default().timeouts.entries().map(|(_, v)| v),
        [None; 6]
    );
}

#[test]
fn a_bad_timeout_is_refused_naming_key_and_value() {
    for key in [
        "request-timeout",
        "connection-idle-timeout",
        "stream-idle-timeout",
        "max-connection-duration",
        "delayed-close-timeout",
        "connection-shutdown-grace-period",
    ] {
        let message = refused(
            &format!("timeouts:\n  {key}: soon\n"),
            &format!("timeouts.{key}"),
            "soon",
        );
        assert!(message.contains("infinity"), "{message}");
    }
    refused(
        "timeouts:\n  request-timeout: -5s\n",
        "timeouts.request-timeout",
        "-5s",
    );
    refused(
        "timeouts:\n  stream-idle-timeout: \"10\"\n",
        "timeouts.stream-idle-timeout",
        "10",
    );
}

#[test]
fn unknown_keys_in_the_new_sections_are_named() {
    for (text, key) in [
        ("timeouts:\n  idle-timeout: 5s\n", "idle-timeout"),
        (
            "network:\n  strip-trailing-dot: true\n",
            "strip-trailing-dot",
        ),
    ] {
        let err = Config::from_yaml(text).unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn access_log_format_is_envoy_or_json() {
    assert_eq!(
        Config::default().access_log_format(),
        AccessLogFormat::Envoy
    );
    assert_eq!(
        load("accesslog-format: json\n").access_log_format(),
        AccessLogFormat::Json
    );
    assert_eq!(
        load("accesslog-format: envoy\n").access_log_format(),
        AccessLogFormat::Envoy
    );
    refused("accesslog-format: xml\n", "accesslog-format", "xml");
    assert_eq!("json".parse(), Ok(AccessLogFormat::Json));
    assert!("JSON".parse::<AccessLogFormat>().is_err());
}

#[test]
fn default_json_fields_are_contours() {
    let fields = Config::default().json_fields();
    assert_eq!(fields.len(), 23);
    let expect = [
        ("@timestamp", "%START_TIME%"),
        ("authority", "%REQ(:AUTHORITY)%"),
        ("bytes_received", "%BYTES_RECEIVED%"),
        ("bytes_sent", "%BYTES_SENT%"),
        ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
        ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
        ("duration", "%DURATION%"),
        ("grpc_status", "%GRPC_STATUS%"),
        ("grpc_status_number", "%GRPC_STATUS_NUMBER%"),
        ("method", "%REQ(:METHOD)%"),
        ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
        ("protocol", "%PROTOCOL%"),
        ("request_id", "%REQ(X-REQUEST-ID)%"),
        ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
        ("response_code", "%RESPONSE_CODE%"),
        ("response_flags", "%RESPONSE_FLAGS%"),
        ("uber_trace_id", "%REQ(UBER-TRACE-ID)%"),
        ("upstream_cluster", "%UPSTREAM_CLUSTER%"),
        ("upstream_host", "%UPSTREAM_HOST%"),
        ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
        (
            "upstream_service_time",
            "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
        ),
        ("user_agent", "%REQ(USER-AGENT)%"),
        ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
    ];
    let expect: BTreeMap<String, String> = expect
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(fields, expect);
}

#[test]
fn json_fields_take_names_operators_and_custom_formats() {
    let config = load(
        "accesslog-format: json\njson-fields:\n  - method\n  - Response_Code\n  - ts\n  - ua=%REQ(USER-AGENT):10%\n  - when=%START_TIME(%s)% took %DURATION%ms\n  - env=%ENVIRONMENT(HOME)%\n  - method=%REQ(:METHOD)%!\n",
    );
    let fields: Vec<(String, String)> = config.json_fields().into_iter().collect();
    let expect = [
        ("Response_Code", "%RESPONSE_CODE%"),
        ("env", "%ENVIRONMENT(HOME)%"),
        ("method", "%REQ(:METHOD)%!"),
        ("ts", "%START_TIME%"),
        ("ua", "%REQ(USER-AGENT):10%"),
        ("when", "%START_TIME(%s)% took %DURATION%ms"),
    ];
    assert_eq!(
        fields,
        expect.map(|(k, v)| (k.to_string(), v.to_string())).to_vec(),
        "a repeated name keeps its last format"
    );
}

#[test]
fn bad_json_fields_are_refused_naming_the_field() {
    let message = refused(
        "json-fields:\n  - method\n  - not_a_field\n",
        "json-fields",
        "not_a_field",
    );
    assert!(message.contains("unknown field"), "{message}");
    for (field, reason) in [
        ("x=%NOT_AN_OPERATOR%", "unknown Envoy command operator"),
        ("x=%REQ%", "needs an argument"),
        ("x=%START_TIME(%s):3%", "no truncation length"),
        ("x=100%", "starts no Envoy command operator"),
        ("x=%req(host)%", "starts no Envoy command operator"),
        ("x=%REQ()%", "starts no Envoy command operator"),
        ("=%DURATION%", "non-empty name"),
    ] {
        let message = refused(
            &format!("json-fields:\n  - \"{field}\"\n"),
            "json-fields",
            field,
        );
        assert!(message.contains(reason), "{field}: {message}");
    }
    refused("json-fields: []\n", "json-fields", "[]");
}

#[test]
fn network_settings_load_and_are_range_checked() {
    let config = load("network:\n  num-trusted-hops: 2\n  admin-port: 9101\n");
    assert_eq!(config.network.num_trusted_hops(), 2);
    assert_eq!(config.network.admin_port(), Some(9101));
    assert_eq!(Config::default().network.num_trusted_hops(), 0);
    assert_eq!(Config::default().network.admin_port(), None);
    assert_eq!(
        load("network:\n  admin-port: 0\n").network.admin_port(),
        None
    );
    refused(
        "network:\n  num-trusted-hops: -1\n",
        "network.num-trusted-hops",
        "-1",
    );
    refused(
        "network:\n  admin-port: 65536\n",
        "network.admin-port",
        "65536",
    );
    refused("network:\n  admin-port: -3\n", "network.admin-port", "-3");
}

#[test]
fn cipher_suites_accept_contours_allow_list_and_groups() {
    assert_eq!(Config::default().cipher_suites(), None);
    assert_eq!(load("tls:\n  cipher-suites: []\n").cipher_suites(), None);
    let all = VALID_CIPHER_SUITES
        .iter()
        .map(|s| format!("    - {s}\n"))
        .collect::<String>();
    let config = load(&format!("tls:\n  cipher-suites:\n{all}"));
    assert_eq!(
        config.cipher_suites(),
        Some(VALID_CIPHER_SUITES.map(String::from).to_vec())
    );
    let config = load(
        "tls:\n  cipher-suites:\n    - \"[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]\"\n    - \" AES256-SHA \"\n    - AES256-SHA\n",
    );
    assert_eq!(
        config.cipher_suites(),
        Some(vec![
            "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]".to_string(),
            "AES256-SHA".to_string(),
        ]),
        "trimmed, each once, in order"
    );
}

#[test]
fn an_unknown_cipher_suite_is_refused_naming_it() {
    let message = refused(
        "tls:\n  cipher-suites:\n    - AES256-SHA\n    - DES-CBC3-SHA\n",
        "tls.cipher-suites",
        "DES-CBC3-SHA",
    );
    assert!(message.contains("unknown cipher suite"), "{message}");
    refused(
        "tls:\n  cipher-suites:\n    - \"[AES256-SHA|RC4-MD5]\"\n",
        "tls.cipher-suites",
        "[AES256-SHA|RC4-MD5]",
    );
    refused(
        "tls:\n  cipher-suites:\n    - \"[AES256-SHA\"\n",
        "tls.cipher-suites",
        "[AES256-SHA",
    );
}

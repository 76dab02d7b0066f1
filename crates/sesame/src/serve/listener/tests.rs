use std::time::Duration;

use sesame_envoy::DEFAULT_CIPHER_SUITES;

use super::*;

fn flags(format: Option<FileFormat>) -> AccessLogArgs {
    AccessLogArgs {
        accesslog_format: format,
        envoy_http_access_log: "/dev/stdout".into(),
        envoy_https_access_log: "/dev/stdout".into(),
    }
}

fn config(text: &str) -> Config {
    match Config::from_yaml(text) {
        Ok(c) => c,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

#[test]
fn no_config_file_gives_the_translation_defaults() {
    let settings = flags(None)
        .listener_settings(&Config::default())
        .expect("settings");
    assert_eq!(settings, ListenerSettings::default());
}

#[test]
fn the_file_sets_every_listener_setting() {
    let file = config(
        "timeouts:\n  request-timeout: 30s\n  connection-idle-timeout: infinity\n  stream-idle-timeout: 5m\n  max-connection-duration: 1h\n  delayed-close-timeout: 500ms\n  connection-shutdown-grace-period: infinite\naccesslog-format: json\njson-fields: [method, code=%RESPONSE_CODE%]\nnetwork:\n  num-trusted-hops: 1\n  admin-port: 9101\ntls:\n  cipher-suites: [AES256-SHA]\n",
    );
    let mut args = flags(None);
    args.envoy_http_access_log = "/var/log/http.log".into();
    let settings = args.listener_settings(&file).expect("settings");
    let after = |d| Some(Timeout::After(d));
    assert_eq!(
        settings,
        ListenerSettings {
            timeouts: HttpTimeouts {
                request_timeout: after(Duration::from_secs(30)),
                connection_idle_timeout: Some(Timeout::Infinite),
                stream_idle_timeout: after(Duration::from_secs(300)),
                max_connection_duration: after(Duration::from_secs(3600)),
                delayed_close_timeout: after(Duration::from_millis(500)),
                connection_shutdown_grace_period: Some(Timeout::Infinite),
            },
            num_trusted_hops: 1,
            access_log: AccessLog {
                format: AccessLogFormat::Json(
                    [("code", "%RESPONSE_CODE%"), ("method", "%REQ(:METHOD)%")]
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .into(),
                ),
                http_path: "/var/log/http.log".into(),
                https_path: "/dev/stdout".into(),
            },
            admin_port: Some(9101),
            cipher_suites: vec!["AES256-SHA".into()],
            rate_limit: None,
        }
    );
}

#[test]
fn the_rate_limit_service_reaches_the_listeners() {
    let file = config(
        "rateLimitService:\n  extensionService: projectsesame/ratelimit\n  domain: sesame\n  failOpen: true\n  enableXRateLimitHeaders: true\n",
    );
    let settings = flags(None).listener_settings(&file).expect("settings");
    let rate_limit = settings.rate_limit.expect("rate limit settings");
    assert_eq!(rate_limit.cluster, "extension/projectsesame/ratelimit");
    assert_eq!(rate_limit.authority, "ratelimit.projectsesame");
    assert_eq!(rate_limit.domain, "sesame");
    assert!(rate_limit.fail_open && rate_limit.x_rate_limit_headers);
    assert!(!rate_limit.resource_exhausted);
}

#[test]
fn unset_keys_keep_their_defaults() {
    let settings = flags(None)
        .listener_settings(&config("timeouts:\n  request-timeout: 1s\n"))
        .expect("settings");
    assert_eq!(
        settings.timeouts.connection_idle_timeout,
        Some(Timeout::After(Duration::from_secs(60)))
    );
    assert_eq!(
        settings.cipher_suites,
        DEFAULT_CIPHER_SUITES.map(String::from)
    );
    assert_eq!(settings.admin_port, None);
}

#[test]
fn the_format_flag_wins_over_the_file() {
    let json_file = config("accesslog-format: json\n");
    let settings = flags(Some(FileFormat::Envoy))
        .listener_settings(&json_file)
        .expect("settings");
    assert_eq!(settings.access_log.format, AccessLogFormat::Envoy);
    let settings = flags(Some(FileFormat::Json))
        .listener_settings(&Config::default())
        .expect("settings");
    assert_eq!(
        settings.access_log.format,
        AccessLogFormat::Json(Config::default().json_fields()),
        "Contour's default fields"
    );
}

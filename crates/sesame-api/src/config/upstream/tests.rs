//! The upstream keys of the configuration file: good values load, bad ones name key and value.

use std::time::Duration;

use super::*;
use crate::config::TimeoutParameters;

/// The message of the error `text` fails with.
fn refusal(text: &str) -> String {
    match Config::from_yaml(text) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `text` fails with an `InvalidValue` naming `key` and `value`.
fn refused(text: &str, key: &str, value: &str) {
    let Err(ConfigError::InvalidValue {
        key: k, value: v, ..
    }) = Config::from_yaml(text)
    else {
        panic!(
            "{text:?}: expected an invalid value, got {:?}",
            Config::from_yaml(text)
        );
    };
    assert_eq!((k, v.as_str()), (key, value), "{text:?}");
    let message = refusal(text);
    // The value is quoted, control characters escaped.
    let quoted = format!("{value:?}");
    assert!(
        message.contains(key) && message.contains(&quoted),
        "{message}"
    );
}

#[test]
fn defaults_are_contours() {
    let config = Config::from_yaml("").unwrap();
    assert!(!config.enable_external_name_service);
    assert_eq!(config.cluster.dns_lookup_family(), DnsLookupFamily::Auto);
    assert_eq!(config.timeouts.connect_timeout(), Duration::from_secs(2));
    assert_eq!(config.policy, PolicyParameters::default());
    assert!(!config.policy.apply_to_ingress);
    assert_eq!(config.tls.envoy_client_certificate, None);
}

#[test]
fn connect_timeout_loads_and_bad_values_are_named() {
    let config = Config::from_yaml("timeouts:\n  connect-timeout: 1500ms\n").unwrap();
    assert_eq!(
        config.timeouts.connect_timeout(),
        Duration::from_millis(1500)
    );
    for bad in ["soon", "0s", "infinity", "-1s"] {
        refused(
            &format!("timeouts:\n  connect-timeout: {bad}\n"),
            "timeouts.connect-timeout",
            bad,
        );
    }
    assert_eq!(
        TimeoutParameters::default().connect_timeout(),
        TimeoutParameters::DEFAULT_CONNECT_TIMEOUT
    );
    let err = refusal("timeouts:\n  connect-timeuot: 1s\n");
    assert!(err.contains("connect-timeuot"), "{err}");
}

#[test]
fn external_name_switch_loads() {
    let config = Config::from_yaml("enableExternalNameService: true\n").unwrap();
    assert!(config.enable_external_name_service);
    let err = refusal("enableExternalNameService: sometimes\n");
    assert!(err.contains("enableExternalNameService"), "{err}");
}

#[test]
fn dns_lookup_family_loads_and_bad_values_are_named() {
    for (text, family) in [
        ("auto", DnsLookupFamily::Auto),
        ("v4", DnsLookupFamily::V4),
        ("v6", DnsLookupFamily::V6),
        ("all", DnsLookupFamily::All),
    ] {
        let config =
            Config::from_yaml(&format!("cluster:\n  dns-lookup-family: {text}\n")).unwrap();
        assert_eq!(config.cluster.dns_lookup_family(), family);
    }
    refused(
        "cluster:\n  dns-lookup-family: V4\n",
        "cluster.dns-lookup-family",
        "V4",
    );
    refused(
        "cluster:\n  dns-lookup-family: ipv4\n",
        "cluster.dns-lookup-family",
        "ipv4",
    );
    let err = refusal("cluster:\n  max-requests-per-connection: 3\n");
    assert!(err.contains("max-requests-per-connection"), "{err}");
}

#[test]
fn parse_dns_lookup_family() {
    assert_eq!("all".parse(), Ok(DnsLookupFamily::All));
    assert_eq!(
        "V4".parse::<DnsLookupFamily>(),
        Err(UnknownDnsLookupFamily("V4".into()))
    );
    assert_eq!(
        UnknownDnsLookupFamily("x".into()).to_string(),
        "unknown dns lookup family \"x\": expected auto, v4, v6 or all"
    );
}

#[test]
fn header_policies_load() {
    let config = Config::from_yaml(
        "policy:\n  request-headers:\n    set: {X-Env: prod, Host: internal.example.com}\n    remove: [X-Debug]\n  response-headers:\n    set: {Strict-Transport-Security: max-age=31536000}\n    remove: [Server]\n  applyToIngress: true\n",
    )
    .unwrap();
    let p = &config.policy;
    assert!(p.apply_to_ingress);
    assert_eq!(p.request_headers.set["X-Env"], "prod");
    assert_eq!(p.request_headers.set["Host"], "internal.example.com");
    assert_eq!(p.request_headers.remove, ["X-Debug"]);
    assert_eq!(
        p.response_headers.set["Strict-Transport-Security"],
        "max-age=31536000"
    );
    assert_eq!(p.response_headers.remove, ["Server"]);
}

#[test]
fn bad_header_names_and_values_are_named() {
    refused(
        "policy:\n  request-headers:\n    set: {\"X Bad\": v}\n",
        "policy.request-headers.set",
        "X Bad",
    );
    refused(
        "policy:\n  request-headers:\n    set: {\":authority\": v}\n",
        "policy.request-headers.set",
        ":authority",
    );
    refused(
        "policy:\n  request-headers:\n    set: {X-A: \"v\\r\\nInjected: 1\"}\n",
        "policy.request-headers.set",
        "v\r\nInjected: 1",
    );
    refused(
        "policy:\n  request-headers:\n    set: {X-A: a, x-a: b}\n",
        "policy.request-headers.set",
        "x-a",
    );
    refused(
        "policy:\n  request-headers:\n    remove: [\"x:y\"]\n",
        "policy.request-headers.remove",
        "x:y",
    );
    refused(
        "policy:\n  response-headers:\n    set: {\"\": v}\n",
        "policy.response-headers.set",
        "",
    );
    refused(
        "policy:\n  response-headers:\n    remove: [\"a b\"]\n",
        "policy.response-headers.remove",
        "a b",
    );
}

#[test]
fn host_is_a_request_rewrite_only() {
    refused(
        "policy:\n  response-headers:\n    set: {Host: a.com}\n",
        "policy.response-headers.set",
        "Host",
    );
    refused(
        "policy:\n  request-headers:\n    set: {host: \"\"}\n",
        "policy.request-headers.set",
        "host",
    );
    refused(
        "policy:\n  request-headers:\n    remove: [Host]\n",
        "policy.request-headers.remove",
        "Host",
    );
    let err = refusal("policy:\n  request-headers:\n    add: {X-A: b}\n");
    assert!(err.contains("add"), "{err}");
}

#[test]
fn envoy_client_certificate_loads_and_bad_names_are_named() {
    let config = Config::from_yaml(
        "tls:\n  envoy-client-certificate:\n    name: envoy-client\n    namespace: projectsesame\n",
    )
    .unwrap();
    let client = config.tls.envoy_client_certificate.unwrap();
    assert_eq!(
        (client.name.as_str(), client.namespace.as_str()),
        ("envoy-client", "projectsesame")
    );
    refused(
        "tls:\n  envoy-client-certificate:\n    name: \"\"\n    namespace: ns\n",
        "tls.envoy-client-certificate.name",
        "",
    );
    refused(
        "tls:\n  envoy-client-certificate:\n    name: a/b\n    namespace: ns\n",
        "tls.envoy-client-certificate.name",
        "a/b",
    );
    let err = refusal("tls:\n  envoy-client-certificate:\n    name: a\n");
    assert!(err.contains("namespace"), "{err}");
}

use super::*;

#[test]
fn empty_file_is_all_defaults() {
    assert_eq!(Config::from_yaml("").unwrap(), Config::default());
}

#[test]
fn seed_release_sample_loads() {
    let text = "incluster: true\nkubeconfig: /root/.kube/config\ndisablePermitInsecure: false\ntls:\n  minimumProtocolVersion: \"1.1\"\nleaderelection:\n  configmap-name: leader-elect\n  configmap-namespace: projectsesame\n";
    let config = Config::from_yaml(text).unwrap();
    assert!(config.incluster);
    assert_eq!(config.tls.minimum_protocol_version.as_deref(), Some("1.1"));
    assert_eq!(
        config.leaderelection.configmap_name.as_deref(),
        Some("leader-elect")
    );
}

#[test]
fn unknown_key_is_named() {
    let err = Config::from_yaml("incluster: true\nnot-a-key: 3\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-a-key"), "{err}");
}

#[test]
fn bad_tls_version_is_named() {
    let err = Config::from_yaml("tls:\n  minimum-protocol-version: \"1.7\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tls.minimum-protocol-version") && err.contains("1.7"),
        "{err}"
    );
}

#[test]
fn wrong_type_fails() {
    assert!(Config::from_yaml("incluster: maybe\n").is_err());
}

#[test]
fn leader_election_block_loads_and_bad_durations_are_named() {
    let config = Config::from_yaml(
        "leaderelection:\n  configmap-name: lock\n  lease-duration: 20s\n  renew-deadline: 12s\n  retry-period: 3s\n  xdsLeaderOnly: true\n",
    )
    .unwrap();
    assert_eq!(config.leaderelection.lease_duration.as_deref(), Some("20s"));
    assert_eq!(config.leaderelection.xds_leader_only, Some(true));
    let err = Config::from_yaml("leaderelection:\n  retry-period: soon\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("leaderelection.retry-period") && err.contains("soon"),
        "{err}"
    );
}

#[test]
fn envoy_service_keys_load_and_bad_names_are_named() {
    let config =
        Config::from_yaml("envoy-service-name: edge\nenvoy-service-namespace: ingress\n").unwrap();
    assert_eq!(config.envoy_service_name.as_deref(), Some("edge"));
    assert_eq!(config.envoy_service_namespace.as_deref(), Some("ingress"));
    for (text, key, value) in [
        (
            "envoy-service-name: Edge_1\n",
            "envoy-service-name",
            "Edge_1",
        ),
        (
            "envoy-service-namespace: \"\"\n",
            "envoy-service-namespace",
            "\"\"",
        ),
    ] {
        let err = Config::from_yaml(text).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains(value), "{err}");
    }
}

#[test]
fn rate_limit_service_loads_in_contours_shape_and_is_checked() {
    let text = "rateLimitService:\n  extensionService: projectsesame/ratelimit\n  domain: sesame\n  failOpen: true\n  enableXRateLimitHeaders: true\n  enableResourceExhaustedCode: true\n  defaultGlobalRateLimitPolicy:\n    descriptors:\n    - entries:\n      - remoteAddress: {}\n";
    let config = Config::from_yaml(text).unwrap();
    let rls = config.rate_limit_service.as_ref().unwrap();
    assert_eq!(
        rls.extension_service(),
        Some(("projectsesame", "ratelimit"))
    );
    assert_eq!(rls.domain, "sesame");
    assert!(rls.fail_open && rls.enable_x_rate_limit_headers && rls.enable_resource_exhausted_code);
    let default = rls.default_global_rate_limit_policy.as_ref().unwrap();
    assert_eq!(default.descriptors.len(), 1);
    for (bad, key) in [
        (
            "rateLimitService:\n  extensionService: ratelimit\n  domain: d\n",
            "extensionService",
        ),
        (
            "rateLimitService:\n  extensionService: a/b/c\n  domain: d\n",
            "extensionService",
        ),
        ("rateLimitService:\n  extensionService: a/b\n", "domain"),
    ] {
        let err = Config::from_yaml(bad).unwrap_err().to_string();
        assert!(err.contains(key), "{bad}: {err}");
    }
    let err =
        Config::from_yaml("rateLimitService:\n  extensionService: a/b\n  domain: d\n  bogus: 1\n")
            .unwrap_err()
            .to_string();
    assert!(err.contains("bogus"), "{err}");
}

use crate::config::{Config, ConfigError, DEFAULT_GATEWAY_CONTROLLER};

#[test]
fn gateway_ref_and_controller_name_are_read() {
    let config = Config::from_yaml(
        "gateway:\n  controllerName: example.com/gw\n  gatewayRef:\n    namespace: infra\n    name: edge\n",
    )
    .unwrap();
    config.validate().unwrap();
    let gateway = config.gateway.unwrap();
    assert_eq!(gateway.controller(), "example.com/gw");
    let r = gateway.gateway_ref.unwrap();
    assert_eq!((r.namespace.as_str(), r.name.as_str()), ("infra", "edge"));
}

#[test]
fn controller_name_defaults_to_sesames() {
    let config = Config::from_yaml("gateway:\n  gatewayRef: {namespace: a, name: b}\n").unwrap();
    assert_eq!(
        config.gateway.unwrap().controller(),
        DEFAULT_GATEWAY_CONTROLLER
    );
}

#[test]
fn unknown_gateway_keys_fail() {
    let err = Config::from_yaml("gateway:\n  gatewayRefs: {namespace: a, name: b}\n").unwrap_err();
    assert!(matches!(err, ConfigError::Parse(_)), "{err}");
}

#[test]
fn invalid_gateway_values_fail_validation() {
    for (yaml, key) in [
        (
            "gateway:\n  gatewayRef: {namespace: A_B, name: b}\n",
            "gateway.gatewayRef.namespace",
        ),
        (
            "gateway:\n  gatewayRef: {namespace: a, name: ''}\n",
            "gateway.gatewayRef.name",
        ),
        (
            "gateway:\n  controllerName: nodomain\n",
            "gateway.controllerName",
        ),
        (
            "gateway:\n  addresses: [127.0.0.2/31, 10.0.0.300]\n",
            "gateway.addresses",
        ),
        (
            "gateway:\n  addresses: [10.0.0.0/33]\n",
            "gateway.addresses",
        ),
    ] {
        let err = Config::from_yaml(yaml).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidValue { key: k, .. } if k == key),
            "{yaml}: {err}"
        );
    }
}

#[test]
fn addresses_are_read_as_ranges() {
    let config =
        Config::from_yaml("gateway:\n  addresses: [127.0.0.2/31, 10.1.2.3, 'fd00::/64']\n")
            .unwrap();
    let ranges: Vec<String> = config
        .gateway
        .unwrap()
        .address_ranges()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ranges, ["127.0.0.2/31", "10.1.2.3/32", "fd00::/64"]);
}

//! Global rate limits of virtual hosts and routes, and the installation's default policy.

use pretty_assertions::assert_eq;

use super::policies::root_with;
use super::*;
use crate::dag::{DescriptorEntry, GlobalRateLimit, RateLimitDescriptor, RouteGlobalRateLimit};

fn generic(value: &str) -> GlobalRateLimit {
    GlobalRateLimit {
        descriptors: vec![RateLimitDescriptor {
            entries: vec![DescriptorEntry::GenericKey {
                key: None,
                value: value.into(),
            }],
        }],
    }
}

fn config_with_default() -> BuildConfig {
    BuildConfig {
        default_global_rate_limit: Some(generic("default")),
        ..BuildConfig::default()
    }
}

#[test]
fn hosts_and_routes_carry_their_descriptors_and_the_default_fills_in() {
    let routes = "  - conditions: [{prefix: /own}]\n    services: [{name: s1, port: 80}]\n    rateLimitPolicy: {global: {descriptors: [{entries: [{requestHeader: {headerName: X-User, descriptorKey: user}}]}]}}\n  - conditions: [{prefix: /free}]\n    services: [{name: s1, port: 80}]\n    rateLimitPolicy: {global: {disabled: true}}\n  - services: [{name: s1, port: 80}]\n";
    let own = "    rateLimitPolicy:\n      global: {descriptors: [{entries: [{genericKey: {key: k, value: v}}, {remoteAddress: {}}]}]}\n";
    let off = "    rateLimitPolicy:\n      global: {disabled: true}\n";
    let yaml = format!(
        "{}{}{}{}",
        svc("default", "s1"),
        root_with("own", "own.com", own, routes),
        root_with("optout", "optout.com", off, TO_S1),
        root("plain", "plain.com", TO_S1),
    );
    let out = build_config(&yaml, &config_with_default());
    for name in ["own", "optout", "plain"] {
        assert_eq!(
            current(&out, &key("default", name)),
            Validity::Valid,
            "{name}"
        );
    }
    let vh = http_vhost(&out, "own.com");
    assert_eq!(
        vh.global_rate_limit.as_deref(),
        Some(&GlobalRateLimit {
            descriptors: vec![RateLimitDescriptor {
                entries: vec![
                    DescriptorEntry::GenericKey {
                        key: Some("k".into()),
                        value: "v".into()
                    },
                    DescriptorEntry::RemoteAddress
                ]
            }]
        })
    );
    let route_limit = |path: &str| {
        vh.routes
            .iter()
            .find(|r| r.path.value() == path)
            .map(|r| forward(r).policies().global_rate_limit.clone())
            .unwrap()
    };
    assert!(matches!(
        route_limit("/own"),
        Some(RouteGlobalRateLimit::Descriptors(GlobalRateLimit { ref descriptors }))
            if descriptors[0].entries == [DescriptorEntry::RequestHeader { header: "x-user".into(), key: "user".into() }]
    ));
    assert_eq!(route_limit("/free"), Some(RouteGlobalRateLimit::Disabled));
    assert_eq!(route_limit("/"), None);
    // `disabled` on the host opts out of the default; a host with no policy takes it.
    assert_eq!(http_vhost(&out, "optout.com").global_rate_limit, None);
    assert_eq!(
        http_vhost(&out, "plain.com").global_rate_limit.as_deref(),
        Some(&generic("default"))
    );
    // Without a default, a host without a policy has none.
    let out = build_config(&yaml, &BuildConfig::default());
    assert_eq!(http_vhost(&out, "plain.com").global_rate_limit, None);
}

#[test]
fn invalid_global_limits_refuse_the_host_or_the_route() {
    let bad_host = "    rateLimitPolicy:\n      global: {descriptors: [{entries: [{genericKey: {value: v}, remoteAddress: {}}]}]}\n";
    let yaml = format!(
        "{}{}{}",
        svc("default", "s1"),
        root("good", "good.com", TO_S1),
        root_with("bad", "bad.com", bad_host, TO_S1)
    );
    let out = build_yaml(&yaml);
    let bad = key("default", "bad");
    assert_eq!(
        status_of(&out, &bad).errors[0].kind,
        ProblemKind::VirtualHostError
    );
    assert_eq!(error_reasons(&out, &bad), [Reason::RateLimitPolicyNotValid]);
    assert!(messages(&out, &bad).contains("exactly one field"));
    assert!(!out.dag.http.contains_key("bad.com"));
    assert_eq!(current(&out, &key("default", "good")), Validity::Valid);

    let bad_route = "  - conditions: [{prefix: /x}]\n    services: [{name: s1, port: 80}]\n    rateLimitPolicy: {global: {descriptors: [{entries: [{requestHeader: {headerName: 'bad header', descriptorKey: k}}]}]}}\n  - services: [{name: s1, port: 80}]\n";
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root_with("bad", "bad.com", "", bad_route)
    ));
    assert_eq!(error_reasons(&out, &bad), [Reason::RateLimitPolicyNotValid]);
    assert!(messages(&out, &bad).contains("headerName"));
    let vh = http_vhost(&out, "bad.com");
    assert_eq!(vh.routes.len(), 1, "only the valid route is served");
}

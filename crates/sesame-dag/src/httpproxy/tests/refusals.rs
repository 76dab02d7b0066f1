//! Values refused on their own HTTPProxy, with the reason and a message naming the field, while
//! the rest keeps being served.

use pretty_assertions::assert_eq;

use super::*;

/// Builds `good` plus one HTTPProxy `bad` with `route`, checks `bad` is invalid for `reason`
/// with a message containing `needle`, and that the good host is served exactly as alone.
fn assert_refused(route: &str, reason: Reason, needle: &str) {
    let good = format!(
        "{}{}",
        svc("default", "s1"),
        root("good", "good.com", TO_S1)
    );
    let alone = build_yaml(&good);
    let out = build_yaml(&format!("{good}{}", root("bad", "bad.com", route)));
    let bad = key("default", "bad");
    assert_eq!(current(&out, &bad), Validity::Invalid, "{route}");
    assert!(
        error_reasons(&out, &bad).contains(&reason),
        "{route}: {:?}",
        status_of(&out, &bad).errors
    );
    assert!(
        messages(&out, &bad).contains(needle),
        "{route}: {}",
        messages(&out, &bad)
    );
    assert_eq!(out.dag.http.get("good.com"), alone.dag.http.get("good.com"));
    assert!(!out.dag.http.contains_key("bad.com"), "{route}");
}

#[test]
fn condition_errors_are_reported_on_the_route() {
    for (route, reason, needle) in [
        (
            "  - conditions: [{prefix: /a}, {prefix: /b}]\n    services: [{name: s1, port: 80}]\n",
            Reason::PathMatchConditionsNotValid,
            "more than one prefix",
        ),
        (
            "  - conditions: [{header: {name: x, present: true}}, {header: {name: x, notpresent: true}}]\n    services: [{name: s1, port: 80}]\n",
            Reason::HeaderMatchConditionsNotValid,
            "contradictory 'present' and 'notpresent'",
        ),
        (
            "  - conditions: [{header: {name: x, exact: a}}, {header: {name: X, notexact: a}}]\n    services: [{name: s1, port: 80}]\n",
            Reason::HeaderMatchConditionsNotValid,
            "contradictory 'exact' and 'notexact'",
        ),
        (
            "  - conditions: [{header: {name: x, exact: a}}, {header: {name: x, exact: b}}]\n    services: [{name: s1, port: 80}]\n",
            Reason::HeaderMatchConditionsNotValid,
            "duplicate header 'exact match'",
        ),
        (
            "  - conditions: [{header: {name: x, exact: a, contains: b}}]\n    services: [{name: s1, port: 80}]\n",
            Reason::HeaderMatchConditionsNotValid,
            "exactly one of",
        ),
        (
            "  - conditions: [{queryParameter: {name: q, exact: a, prefix: b}}]\n    services: [{name: s1, port: 80}]\n",
            Reason::QueryParameterMatchConditionsNotValid,
            "exactly one of",
        ),
        (
            "  - conditions: [{queryParameter: {name: q, exact: a}}, {queryParameter: {name: q, exact: b}}]\n    services: [{name: s1, port: 80}]\n",
            Reason::QueryParameterMatchConditionsNotValid,
            "duplicate query parameter 'exact match'",
        ),
    ] {
        assert_refused(route, reason, needle);
    }
}

#[test]
fn hostile_values_are_refused_on_their_own_object() {
    let big_regex = "'/(((a{100}){100}){100})'";
    for (route, reason, needle) in [
        (
            "  - services: [{name: s1, port: 80}]\n    requestHeadersPolicy: {set: [{name: X-A, value: \"v\\r\\nInjected: yes\"}]}\n".to_string(),
            Reason::HeadersPolicyNotValid,
            "control characters",
        ),
        (
            "  - services: [{name: s1, port: 80}]\n    responseHeadersPolicy: {set: [{name: \"X\\0B\", value: v}]}\n".to_string(),
            Reason::HeadersPolicyNotValid,
            "header name",
        ),
        (
            "  - services: [{name: s1, port: 80}]\n    requestHeadersPolicy: {set: [{name: \"X B\", value: v}]}\n".to_string(),
            Reason::HeadersPolicyNotValid,
            "header name",
        ),
        (
            "  - conditions: [{header: {name: x, exact: \"a\\nb\"}}]\n    services: [{name: s1, port: 80}]\n".to_string(),
            Reason::HeaderMatchConditionsNotValid,
            "control characters",
        ),
        (
            "  - conditions: [{regex: '/(?<=a)b'}]\n    services: [{name: s1, port: 80}]\n".to_string(),
            Reason::PathMatchConditionsNotValid,
            "regex condition",
        ),
        (
            format!("  - conditions: [{{regex: {big_regex}}}]\n    services: [{{name: s1, port: 80}}]\n"),
            Reason::PathMatchConditionsNotValid,
            "repeats too much",
        ),
        (
            "  - conditions: [{header: {name: x, regex: '(a'}}]\n    services: [{name: s1, port: 80}]\n".to_string(),
            Reason::HeaderMatchConditionsNotValid,
            "invalid regular expression",
        ),
        (
            "  - services: [{name: s1, port: 80}]\n    timeoutPolicy: {response: 9999999999999h}\n".to_string(),
            Reason::TimeoutPolicyNotValid,
            "timeoutPolicy.response",
        ),
        (
            "  - services: [{name: s1, port: 80}]\n    retryPolicy: {perTryTimeout: -1s}\n".to_string(),
            Reason::RetryPolicyNotValid,
            "perTryTimeout",
        ),
        (
            "  - services: [{name: s1, port: 80, weight: 0}, {name: s1, port: 80, weight: 0}]\n".to_string(),
            Reason::WeightsNotValid,
            "sum to zero",
        ),
        (
            "  - conditions: [{prefix: api}]\n    services: [{name: s1, port: 80}]\n".to_string(),
            Reason::PathMatchConditionsNotValid,
            "must start with /",
        ),
        (
            "  - conditions: [{prefix: /a/../b}]\n    services: [{name: s1, port: 80}]\n".to_string(),
            Reason::PathMatchConditionsNotValid,
            "'..'",
        ),
        (
            "  - conditions: [{prefix: /a%2Fb}]\n    services: [{name: s1, port: 80}]\n".to_string(),
            Reason::PathMatchConditionsNotValid,
            "encoded slash",
        ),
        (
            "  - services: [{name: s1, port: 80}]\n    pathRewritePolicy: {replacePrefix: [{replacement: \"/x\\r\\n\"}]}\n".to_string(),
            Reason::PrefixReplaceNotValid,
            "replacement",
        ),
        (
            "  - requestRedirectPolicy: {hostname: \"evil.com\\r\\nx: y\"}\n".to_string(),
            Reason::RedirectPolicyNotValid,
            "hostname",
        ),
        (
            format!("  - directResponsePolicy: {{statusCode: 200, body: {}}}\n", "x".repeat(5000)),
            Reason::DirectResponsePolicyNotValid,
            "limit is 4096",
        ),
        (
            "  - directResponsePolicy: {statusCode: 99}\n".to_string(),
            Reason::DirectResponsePolicyNotValid,
            "statusCode 99",
        ),
        (
            "  - services: [{name: s1, port: 80, protocol: h3}]\n".to_string(),
            Reason::UnsupportedProtocol,
            "\"h3\"",
        ),
        (
            "  - services: [{name: s1, port: 80}, {name: s1, port: 80, mirror: true}, {name: s1, port: 80, mirror: true}]\n".to_string(),
            Reason::OnlyOneMirror,
            "mirror",
        ),
        (
            "  - services: [{name: s1, port: 80}]\n    requestRedirectPolicy: {scheme: https}\n".to_string(),
            Reason::RouteActionCountNotValid,
            "exactly one of",
        ),
    ] {
        assert_refused(&route, reason, needle);
    }
}

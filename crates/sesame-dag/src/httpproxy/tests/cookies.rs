//! Cookie rewrites: route and service policies reach the DAG in name order; invalid ones
//! refuse the route with `CookieRewritePoliciesInvalid`.

use pretty_assertions::assert_eq;

use super::*;
use crate::dag::{CookieRewrite, SameSite};

#[test]
fn route_and_service_cookie_rewrites_reach_the_dag() {
    let route = "  - services:\n    - name: s1\n      port: 80\n      cookieRewritePolicies:\n      - {name: svc, secure: false}\n    cookieRewritePolicies:\n    - {name: session, pathRewrite: {value: /app}, domainRewrite: {value: a.example.com}, secure: true, sameSite: Strict}\n    - {name: another, sameSite: None}\n";
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root("web", "a.com", route)
    ));
    let web = key("default", "web");
    assert_eq!(
        current(&out, &web),
        Validity::Valid,
        "{}",
        messages(&out, &web)
    );
    let f = forward(&routes(&out, "a.com")[0]);
    let names: Vec<_> = f
        .policies()
        .cookie_rewrites
        .iter()
        .map(|c| &c.name)
        .collect();
    assert_eq!(names, ["another", "session"]);
    assert_eq!(
        f.policies().cookie_rewrites[1],
        CookieRewrite {
            name: "session".into(),
            path: Some("/app".into()),
            domain: Some("a.example.com".into()),
            secure: Some(true),
            same_site: Some(SameSite::Strict),
        }
    );
    assert_eq!(
        f.clusters[0].rewrites().cookie_rewrites,
        [CookieRewrite {
            name: "svc".into(),
            path: None,
            domain: None,
            secure: Some(false),
            same_site: None,
        }]
    );
    assert!(f.clusters[0].has_policies());
}

#[test]
fn invalid_cookie_rewrites_refuse_the_route_only() {
    for bad in [
        "{name: 'a b', secure: true}",
        "{name: 'a;b', secure: true}",
        "{name: a, pathRewrite: {value: '/x;Domain=evil.com'}}",
        "{name: a, pathRewrite: {value: \"/x\\r\\nSet-Cookie: y=1\"}}",
        "{name: a, domainRewrite: {value: 'Evil.com'}}",
        "{name: a, sameSite: strict}",
        "{name: a}",
    ] {
        for route in [
            format!(
                "  - conditions: [{{prefix: /bad}}]\n    services: [{{name: s1, port: 80}}]\n    cookieRewritePolicies: [{bad}]\n"
            ),
            format!(
                "  - conditions: [{{prefix: /bad}}]\n    services: [{{name: s1, port: 80, cookieRewritePolicies: [{bad}]}}]\n"
            ),
        ] {
            let out = build_yaml(&format!(
                "{}{}",
                svc("default", "s1"),
                root("web", "a.com", &format!("{route}{TO_S1}"))
            ));
            let web = key("default", "web");
            assert_eq!(
                error_reasons(&out, &web),
                [Reason::CookieRewritePoliciesInvalid],
                "{route}"
            );
            assert_eq!(
                paths(&out, "a.com"),
                [PathMatch::Prefix("/".into())],
                "{route}"
            );
        }
    }
    let out = build_yaml(&format!(
        "{}{}",
        svc("default", "s1"),
        root(
            "web",
            "a.com",
            "  - cookieRewritePolicies: [{name: a, secure: true}, {name: a, secure: false}]\n    services: [{name: s1, port: 80}]\n"
        )
    ));
    assert_eq!(
        error_reasons(&out, &key("default", "web")),
        [Reason::CookieRewritePoliciesInvalid]
    );
}

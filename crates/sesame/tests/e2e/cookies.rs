//! Cookie rewrites through a real Envoy: a backend's `Set-Cookie` headers rewritten by route and
//! service policies, and hostile policies that must become status conditions, never NACKs (and
//! never text in a script).

use serde_json::json;

use crate::harness::{Cluster, backend, borrowed, cookie_backend, services};
use crate::httpproxy::{key, proxy, refused_then_canary};

const COOKIES: &[&str] = &[
    "session=abc123; Path=/old; Domain=old.example.com; HttpOnly; SameSite=Lax",
    "theme=dark",
    "svc=1; Secure; Path=/",
    "untouched=2; Path=/keep",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_and_service_policies_rewrite_the_backends_cookies() {
    let cookies = cookie_backend("cookies", COOKIES).await;
    let spec = "{virtualhost: {fqdn: cookies.test}, routes: [\
        {conditions: [{prefix: /lua}], services: [{name: svc-cookies, port: 80}], \
         cookieRewritePolicies: [{name: theme, pathRewrite: {value: '/x\"]] os.exit(1) --[['}}]}, \
        {conditions: [{prefix: /service}], \
         services: [{name: svc-cookies, port: 80, cookieRewritePolicies: [\
           {name: svc, secure: false, sameSite: Strict}, {name: session, pathRewrite: {value: /svc}}]}], \
         cookieRewritePolicies: [{name: session, domainRewrite: {value: new.example.com}}]}, \
        {services: [{name: svc-cookies, port: 80}], cookieRewritePolicies: [\
          {name: session, pathRewrite: {value: /app}, domainRewrite: {value: app.example.com}, \
           secure: true, sameSite: None}, \
          {name: theme, pathRewrite: {value: '/'}}]}]}";
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-cookies", &cookies)])),
        ("proxy.yaml", &proxy("default", "cookies", spec)),
    ])
    .await;
    let reply = cluster
        .eventually_http("cookies.test", "/page", "cookies served", |r| {
            r.backend.as_deref() == Some("cookies")
        })
        .await;
    // The route's policies: attributes replaced in place, missing ones appended, others kept.
    assert_eq!(
        reply.header("set-cookie"),
        [
            "session=abc123; Path=/app; Domain=app.example.com; HttpOnly; SameSite=None; Secure",
            "theme=dark; Path=/",
            "svc=1; Secure; Path=/",
            "untouched=2; Path=/keep",
        ],
        "{reply:?}"
    );
    // A service's policies, over its route's: the service's attributes win, the route's others
    // stay, and `secure: false` removes the attribute.
    let reply = cluster.http("cookies.test", "/service/x").await;
    assert_eq!(
        reply.header("set-cookie"),
        [
            "session=abc123; Path=/svc; Domain=new.example.com; HttpOnly; SameSite=Lax",
            "theme=dark",
            "svc=1; Path=/; SameSite=Strict",
            "untouched=2; Path=/keep",
        ],
        "{reply:?}"
    );
    // A value that looks like Lua is only ever data: it lands in the header as written.
    let reply = cluster.http("cookies.test", "/lua").await;
    assert_eq!(
        reply.header("set-cookie")[1],
        "theme=dark; Path=/x\"]] os.exit(1) --[[",
        "{reply:?}"
    );
    assert!(cluster.http("cookies.test", "/page").await.from("cookies"));
    let status = cluster
        .eventually_status(key("default", "cookies"), "cookies status", |_| true)
        .await;
    assert_eq!(status["current"], "valid", "{status}");
    cluster.assert_no_update_rejected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cookie_policies_become_invalid_status_and_never_reach_envoy() {
    let a = backend("a").await;
    let cases = [
        (
            "lua-name",
            json!({"name": "a\") os.exit(1) --", "secure": true}),
        ),
        (
            "crlf-path",
            json!({"name": "a", "pathRewrite": {"value": "/x\r\nset-cookie: evil=1"}}),
        ),
        (
            "semicolon-path",
            json!({"name": "a", "pathRewrite": {"value": "/x; Domain=evil.com"}}),
        ),
        (
            "bad-domain",
            json!({"name": "a", "domainRewrite": {"value": "evil.com; Secure"}}),
        ),
        ("bad-samesite", json!({"name": "a", "sameSite": "lax"})),
        ("nothing", json!({"name": "a"})),
    ];
    let mut files = vec![("svc.yaml".to_string(), services(&[("svc-a", &a)]))];
    for (name, policy) in &cases {
        let manifest = json!({
            "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"virtualhost": {"fqdn": format!("{name}.cookie-hostile.test")}, "routes": [
                {"conditions": [{"prefix": "/bad"}], "cookieRewritePolicies": [policy],
                 "services": [{"name": "svc-a", "port": 80}]},
                {"services": [{"name": "svc-a", "port": 80}]},
            ]},
        });
        files.push((format!("{name}.json"), manifest.to_string()));
    }
    let cluster = Cluster::start(&borrowed(&files)).await;
    let refused: Vec<(&str, &str)> = cases
        .iter()
        .map(|(name, _)| (*name, "CookieRewritePoliciesInvalid"))
        .collect();
    refused_then_canary(&cluster, &refused).await;
    cluster.assert_no_update_rejected().await;
    // Only the route with the bad policy is refused: the host's other route still serves.
    let reply = cluster
        .http("semicolon-path.cookie-hostile.test", "/")
        .await;
    assert!(reply.from("a"), "{reply:?}");
}

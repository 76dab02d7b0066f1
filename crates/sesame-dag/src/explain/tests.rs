//! Explanations of requests against DAGs built from manifests.

use pretty_assertions::assert_eq;

use super::*;
use crate::object::{Kind, NamespacedName};
use crate::testutil::*;

fn services() -> String {
    ["web", "api", "beta", "old"]
        .iter()
        .map(|name| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  ports:\n  - port: 80\n"
            )
        })
        .collect()
}

const PROXY: &str = "
---
apiVersion: projectsesame.io/v1
kind: HTTPProxy
metadata: {name: shop, namespace: default}
spec:
  virtualhost: {fqdn: shop.example.com}
  routes:
  - conditions: [{prefix: /api}, {header: {name: x-beta, present: true}}]
    services: [{name: beta, port: 80}]
  - conditions: [{prefix: /api}]
    services: [{name: api, port: 80, weight: 90}, {name: old, port: 80, weight: 10}]
  - services: [{name: web, port: 80}]
";

const INGRESS: &str = "
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: wild, namespace: default}
spec:
  rules:
  - host: '*.example.org'
    http:
      paths:
      - {path: /docs, pathType: Exact, backend: {service: {name: web, port: {number: 80}}}}
";

fn dag() -> Dag {
    build_yaml(&format!("{}{PROXY}{INGRESS}", services())).dag
}

fn get(host: &str, path: &str, headers: &[(&str, &str)]) -> Explanation {
    let mut request = Request::get(host, path);
    request.headers = headers
        .iter()
        .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
        .collect();
    explain(&dag(), &request)
}

fn services_of(outcome: &Outcome) -> Vec<(Option<String>, f64)> {
    match outcome {
        Outcome::Forward { backends } => backends
            .iter()
            .map(|b| (b.service.clone(), b.percent))
            .collect(),
        other => panic!("not forwarded: {other:?}"),
    }
}

#[test]
fn the_first_matching_route_wins_and_the_skipped_ones_say_why() {
    let shop = ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("default", "shop"));
    let plain = get("Shop.Example.com:8080", "/api/items", &[]);
    assert_eq!(plain.virtual_host.as_deref(), Some("shop.example.com"));
    assert_eq!(plain.routes.len(), 2, "{plain:#?}");
    assert!(!plain.routes[0].matched);
    assert_eq!(plain.routes[0].reason, "the header x-beta does not match");
    assert!(plain.routes[1].matched);
    assert_eq!(plain.routes[1].origin, shop);
    assert_eq!(
        services_of(&plain.outcome),
        [
            (Some("default/api".to_string()), 90.0),
            (Some("default/old".to_string()), 10.0)
        ]
    );

    let beta = get("shop.example.com", "/api/items", &[("X-Beta", "1")]);
    assert_eq!(beta.routes.len(), 1);
    assert_eq!(
        services_of(&beta.outcome),
        [(Some("default/beta".to_string()), 100.0)]
    );

    let root = get("shop.example.com", "/cart", &[]);
    assert_eq!(
        root.routes.last().map(|r| r.matched),
        Some(true),
        "{root:#?}"
    );
    assert_eq!(
        services_of(&root.outcome),
        [(Some("default/web".to_string()), 100.0)]
    );
}

#[test]
fn wildcard_hosts_exact_paths_and_misses() {
    let docs = get("a.example.org", "/docs", &[]);
    assert_eq!(docs.virtual_host.as_deref(), Some("*.example.org"));
    assert!(docs.why.contains("wildcard"), "{}", docs.why);
    assert_eq!(
        services_of(&docs.outcome),
        [(Some("default/web".to_string()), 100.0)]
    );

    let deeper = get("a.example.org", "/docs/intro", &[]);
    assert_eq!(deeper.outcome, Outcome::NoRoute);
    assert_eq!(
        deeper.routes[0].reason,
        "the path \"/docs/intro\" does not match"
    );

    // The wildcard needs a label of its own before the suffix.
    let bare = get("example.org", "/docs", &[]);
    assert_eq!(bare.outcome, Outcome::NoVirtualHost);
    assert_eq!(bare.virtual_host, None);

    // No HTTPS host exists: over TLS nothing serves it.
    let mut request = Request::get("shop.example.com", "/");
    request.secure = true;
    let secure = explain(&dag(), &request);
    assert_eq!(secure.listener, "ingress_https");
    assert_eq!(secure.outcome, Outcome::NoVirtualHost);
}

#[test]
fn sources_name_the_objects_behind_clusters_route_tables_and_hosts() {
    let dag = dag();
    let key = |kind, name| ObjectKey::new(kind, NamespacedName::new("default", name));
    let api = dag
        .clusters
        .keys()
        .find(|name| name.starts_with("default/api/"))
        .expect("the api cluster")
        .clone();
    let traced = sources(&dag, &Resource::Cluster(api));
    assert!(traced.found);
    assert_eq!(
        traced.objects.into_iter().collect::<Vec<_>>(),
        [key(Kind::Service, "api"), key(Kind::HTTPProxy, "shop")]
    );
    // The web Service is used by the HTTPProxy and the Ingress alike.
    let web = dag
        .clusters
        .keys()
        .find(|name| name.starts_with("default/web/"))
        .expect("the web cluster")
        .clone();
    assert_eq!(
        sources(&dag, &Resource::Cluster(web))
            .objects
            .into_iter()
            .collect::<Vec<_>>(),
        [
            key(Kind::Ingress, "wild"),
            key(Kind::Service, "web"),
            key(Kind::HTTPProxy, "shop")
        ]
    );
    let table = sources(&dag, &Resource::RouteConfiguration("ingress_http".into()));
    assert_eq!(table.objects.len(), 2);
    let host = sources(&dag, &Resource::VirtualHost("*.example.org".into()));
    assert_eq!(
        host.objects.into_iter().collect::<Vec<_>>(),
        [key(Kind::Ingress, "wild")]
    );
    let missing = sources(&dag, &Resource::Cluster("default/nothing/80/x".into()));
    assert!(!missing.found);
    assert!(missing.objects.is_empty());
}

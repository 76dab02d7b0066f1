//! ListenerSets through a real Envoy (file mode): a ListenerSet adds a listener to the served
//! Gateway that only routes naming the ListenerSet reach; a later ListenerSet repeating the
//! Gateway's hostname is refused without disturbing it, and Envoy rejects nothing.

use crate::gateway_http::{condition_strings, start};
use crate::harness::{Reply, backend, free_port, request_plain, services};

/// GatewayClass, Gateway `default/gw` (one HTTP listener for `gw.example.com` on `port`,
/// ListenerSets from every namespace allowed), two ListenerSets and two routes.
fn manifests(port: u16) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: sesame}}
spec: {{controllerName: projectsesame.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: sesame
  allowedListeners: {{namespaces: {{from: All}}}}
  listeners:
  - {{name: web, port: {port}, protocol: HTTP, hostname: gw.example.com}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {{name: team, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}}
spec:
  parentRef: {{name: gw}}
  listeners:
  - {{name: team, port: {port}, protocol: HTTP, hostname: team.example.com}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {{name: clash, namespace: default, creationTimestamp: "2026-01-02T00:00:00Z"}}
spec:
  parentRef: {{name: gw}}
  listeners:
  - {{name: web, port: {port}, protocol: HTTP, hostname: gw.example.com}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: gw-route, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  rules: [{{matches: [{{path: {{type: PathPrefix, value: /gw}}}}], backendRefs: [{{name: svc-a, port: 80}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: team-route, namespace: default}}
spec:
  parentRefs: [{{kind: ListenerSet, name: team}}]
  rules: [{{matches: [{{path: {{type: PathPrefix, value: /team}}}}], backendRefs: [{{name: svc-b, port: 80}}]}}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_set_adds_a_listener_only_its_routes_reach() {
    let (a, b) = (backend("a").await, backend("b").await);
    let envoy_port = free_port();
    let gateway_port = envoy_port - 8000;
    let svcs = services(&[("svc-a", &a), ("svc-b", &b)]);
    let objects = manifests(gateway_port);
    let (cluster, _dir) = start(&[("svc.yaml", &svcs), ("gateway.yaml", &objects)]).await;
    let get = |host: &'static str, path: &'static str| async move {
        request_plain(envoy_port, "GET", host, path, &[])
            .await
            .unwrap_or_else(Reply::failed)
    };
    cluster
        .eventually_reply(
            "the ListenerSet's listener serves its route",
            || get("team.example.com", "/team"),
            |r| r.from("b"),
        )
        .await;
    assert!(get("gw.example.com", "/gw").await.from("a"));
    // Each host reaches only the routes of its own listener's parent.
    assert_eq!(get("team.example.com", "/gw").await.status, 404);
    assert_eq!(get("gw.example.com", "/team").await.status, 404);

    let gw = cluster
        .object_status("Gateway", "default", "gw")
        .await
        .expect("gateway status");
    assert_eq!(
        gw["gateway_api"]["gateway"]["attachedListenerSets"], 1,
        "{gw}"
    );
    let team = cluster
        .object_status("ListenerSet", "default", "team")
        .await
        .expect("ListenerSet status");
    let team = &team["gateway_api"]["listenerSet"];
    assert_eq!(
        condition_strings(&team["conditions"]),
        ["Accepted=true/Accepted", "Programmed=true/Programmed"]
    );
    assert_eq!(team["listeners"][0]["attachedRoutes"], 1);
    let clash = cluster
        .object_status("ListenerSet", "default", "clash")
        .await
        .expect("ListenerSet status");
    let clash = &clash["gateway_api"]["listenerSet"];
    assert_eq!(
        condition_strings(&clash["conditions"]),
        [
            "Accepted=false/ListenersNotValid",
            "Programmed=false/ListenersNotValid"
        ]
    );
    assert!(
        condition_strings(&clash["listeners"][0]["conditions"])
            .contains(&"Conflicted=true/HostnameConflict".to_string()),
        "{clash}"
    );
    let route = cluster
        .object_status("HTTPRoute", "default", "team-route")
        .await
        .expect("route status");
    assert_eq!(
        route["gateway_api"]["route"]["parents"][0]["parentRef"]["kind"],
        "ListenerSet"
    );
    cluster.assert_no_update_rejected().await;
}

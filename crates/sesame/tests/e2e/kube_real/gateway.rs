//! Gateway API against the real API server: the upstream CRDs of `examples/gateway/`, a
//! GatewayClass, a Gateway and an HTTPRoute created through the API route through Envoy, and
//! the statuses Sesame writes pass the CRDs' schemas and validation rules.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::control_plane::ControlPlane;
use crate::harness::{Cluster, PATIENCE, free_port};
use crate::kube::ELECTION;
use crate::kube_gateway::{
    GATEWAY_API, config, gateway, gateway_class, get_gateway, holds, http_route, our_parent,
};

/// Installs the Gateway API CRDs, serves a Gateway from the API and checks its statuses.
pub async fn gateway_api_statuses(plane: &ControlPlane, kubeconfig: &Path) {
    plane.install_gateway_crds().await;
    let api = &plane.objects;
    let envoy_port = free_port();
    api.create(gateway_class("real")).await;
    api.create(gateway(envoy_port - 8000, false)).await;
    api.create(http_route("gw.kube.test", "svc-a")).await;
    let (_dir, config) = config();
    let mut extra = vec![
        "--config-path",
        &config,
        "--ingress-status-address",
        "192.0.2.10",
    ];
    extra.extend(ELECTION);
    let mut cluster = Cluster::sesame_watching(kubeconfig, &extra);
    cluster.start_envoy().await;
    cluster
        .eventually_reply(
            "an HTTPRoute of the real API server serves on the Gateway listener",
            || get_gateway(envoy_port, "gw.kube.test"),
            |r| r.from("a"),
        )
        .await;

    let get = |kind: &'static str, name: &'static str| (kind, name);
    eventually(plane, &cluster, get("GatewayClass", "sesame"), |o| {
        holds(
            &o["status"]["conditions"],
            "Accepted",
            &o["metadata"]["generation"],
        )
    })
    .await;
    let gw = eventually(plane, &cluster, get("Gateway", "gw"), |o| {
        let generation = &o["metadata"]["generation"];
        holds(&o["status"]["conditions"], "Accepted", generation)
            && holds(&o["status"]["conditions"], "Programmed", generation)
            && o["status"]["listeners"][0]["attachedRoutes"] == 1
    })
    .await;
    assert_eq!(
        gw["status"]["addresses"],
        json!([{"type": "IPAddress", "value": "192.0.2.10"}]),
        "{gw:#}"
    );
    eventually(plane, &cluster, get("HTTPRoute", "web"), |o| {
        let ours = our_parent(o);
        holds(&ours["conditions"], "Accepted", &json!(1))
            && holds(&ours["conditions"], "ResolvedRefs", &json!(1))
    })
    .await;

    // An edit moves traffic and bumps the route's observedGeneration.
    api.edit((GATEWAY_API, "HTTPRoute", "web"), |route| {
        route["spec"]["rules"][0]["backendRefs"][0]["name"] = json!("svc-b");
    })
    .await;
    cluster
        .eventually_reply(
            "the edited HTTPRoute moves traffic",
            || get_gateway(envoy_port, "gw.kube.test"),
            |r| r.from("b"),
        )
        .await;
    eventually(plane, &cluster, get("HTTPRoute", "web"), |o| {
        holds(&our_parent(o)["conditions"], "Accepted", &json!(2))
    })
    .await;
    cluster.assert_no_update_rejected().await;
}

/// Polls the object (GatewayClasses are cluster-scoped, the rest in `default`) until `check`
/// holds; panics with it and the logs if it never does.
async fn eventually(
    plane: &ControlPlane,
    cluster: &Cluster,
    (kind, name): (&str, &str),
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let object = plane.objects.get(GATEWAY_API, kind, "default", name).await;
        if check(&object) {
            return object;
        }
        if Instant::now() > deadline {
            panic!(
                "{kind} {name} never reached the expected status: {object:#}\n{}\n{}",
                cluster.logs(),
                plane.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

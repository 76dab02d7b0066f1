//! Gateway API against the real API server: the upstream CRDs of `examples/gateway/`, a
//! GatewayClass, a Gateway and an HTTPRoute created through the API route through Envoy, and
//! the statuses Sesame writes pass the CRDs' schemas and validation rules, a BackendTLSPolicy's
//! `ancestors` included.

use std::path::Path;

use serde_json::{Value, json};

use super::control_plane::ControlPlane;
use super::eventually_status;
use crate::harness::{Cluster, Pki, free_port};
use crate::kube_gateway::{
    GATEWAY_API, class_accepted, gateway, gateway_answers, gateway_class, gateway_ready, holds,
    http_route, route_accepted, serve_gateway,
};

/// Installs the Gateway API CRDs, serves a Gateway from the API and checks its statuses.
pub async fn gateway_api_statuses(plane: &ControlPlane, kubeconfig: &Path) {
    plane.install_gateway_crds().await;
    let api = &plane.objects;
    let envoy_port = free_port();
    api.create(gateway_class("real")).await;
    // An address without a value (GatewayOptionalAddressValue): the Gateway is served and
    // gets the published address.
    let mut gw = gateway(envoy_port - 8000, false);
    gw["spec"]["addresses"] = json!([{"type": "IPAddress"}]);
    api.create(gw).await;
    api.create(http_route("gw.kube.test", "svc-a")).await;
    let (_dir, cluster) = serve_gateway(
        |extra| Cluster::sesame_watching(kubeconfig, extra),
        envoy_port,
    )
    .await;
    let status = |kind, name, check: fn(&Value, i64) -> bool, generation| {
        eventually_status(plane, &cluster, ((GATEWAY_API, kind), name), move |s| {
            check(s, generation)
        })
    };
    status("GatewayClass", "sesame", class_accepted, 1).await;
    let gw = status("Gateway", "gw", gateway_ready, 1).await;
    assert_eq!(
        gw["status"]["addresses"],
        json!([{"type": "IPAddress", "value": "192.0.2.10"}]),
        "{gw:#}"
    );
    status("HTTPRoute", "web", route_accepted, 1).await;

    // An edit moves traffic and bumps the route's observedGeneration.
    api.edit((GATEWAY_API, "HTTPRoute", "web"), |route| {
        route["spec"]["rules"][0]["backendRefs"][0]["name"] = json!("svc-b");
    })
    .await;
    gateway_answers(
        &cluster,
        envoy_port,
        "gw.kube.test",
        "b",
        "the edited HTTPRoute moves traffic",
    )
    .await;
    status("HTTPRoute", "web", route_accepted, 2).await;

    // A ListenerSet the Gateway allows: its status and the Gateway's attachedListenerSets
    // pass the CRDs' validation.
    api.edit((GATEWAY_API, "Gateway", "gw"), |gw| {
        gw["spec"]["allowedListeners"] = json!({"namespaces": {"from": "Same"}});
    })
    .await;
    api.create(json!({
        "apiVersion": GATEWAY_API, "kind": "ListenerSet",
        "metadata": {"name": "team", "namespace": "default"},
        "spec": {
            "parentRef": {"name": "gw"},
            "listeners": [{"name": "team", "port": envoy_port - 8000, "protocol": "HTTP",
                           "hostname": "team.kube.test"}],
        },
    }))
    .await;
    status("ListenerSet", "team", set_accepted, 1).await;
    status(
        "Gateway",
        "gw",
        |s, g| gateway_ready(s, g) && s["attachedListenerSets"] == 1,
        2,
    )
    .await;

    // A BackendTLSPolicy on the route's backend, its CA bundle in a ConfigMap created later:
    // refused first, then accepted; both statuses pass the CRD's validation.
    api.create(json!({
        "apiVersion": GATEWAY_API, "kind": "BackendTLSPolicy",
        "metadata": {"name": "svc-b-tls", "namespace": "default"},
        "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "svc-b"}],
            "validation": {"hostname": "svc-b.kube.test",
                           "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "backend-ca"}]},
        },
    }))
    .await;
    status("BackendTLSPolicy", "svc-b-tls", policy_refused, 1).await;
    api.create(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "backend-ca", "namespace": "default"},
        "data": {"ca.crt": Pki::new().ca_pem},
    }))
    .await;
    status("BackendTLSPolicy", "svc-b-tls", policy_accepted, 1).await;
    // An edit bumps the generation the policy's conditions observe.
    api.edit((GATEWAY_API, "BackendTLSPolicy", "svc-b-tls"), |policy| {
        policy["spec"]["validation"]["hostname"] = json!("other.kube.test");
    })
    .await;
    status("BackendTLSPolicy", "svc-b-tls", policy_accepted, 2).await;
    cluster.assert_no_update_rejected().await;
}

/// The entry of a BackendTLSPolicy's status for the served Gateway, if any.
fn policy_ancestor(status: &Value) -> Option<&Value> {
    (status["ancestors"].as_array().into_iter().flatten())
        .find(|a| a["ancestorRef"]["name"] == "gw" && a["ancestorRef"]["kind"] == "Gateway")
}

/// Whether a BackendTLSPolicy is accepted with its references resolved, for `generation`.
fn policy_accepted(status: &Value, generation: i64) -> bool {
    let generation = json!(generation);
    policy_ancestor(status).is_some_and(|a| {
        holds(&a["conditions"], "Accepted", &generation)
            && holds(&a["conditions"], "ResolvedRefs", &generation)
    })
}

/// Whether a BackendTLSPolicy is refused for want of a CA bundle, for `generation`.
fn policy_refused(status: &Value, generation: i64) -> bool {
    policy_ancestor(status).is_some_and(|a| {
        (a["conditions"].as_array().into_iter().flatten()).any(|c| {
            c["type"] == "Accepted"
                && c["status"] == "False"
                && c["reason"] == "NoValidCACertificate"
                && c["observedGeneration"] == generation
        })
    })
}

/// Whether a ListenerSet's status says accepted and programmed for `generation`, with its
/// listener listed.
fn set_accepted(status: &Value, generation: i64) -> bool {
    let generation = json!(generation);
    holds(&status["conditions"], "Accepted", &generation)
        && holds(&status["conditions"], "Programmed", &generation)
        && status["listeners"][0]["name"] == "team"
}

//! Gateway API over the Kubernetes API (the in-process double, over real HTTP): a
//! GatewayClass, a Gateway and an HTTPRoute created through the API route real requests through
//! Envoy, and their statuses are written back to the API objects in the spec's shape; missing
//! Gateway API CRDs do not stop Sesame from syncing and serving, and CRDs installed later are
//! watched.

use std::path::PathBuf;

use serde_json::{Value, json};
use sesame_apiserver_double::{ApiServer, Resource};

use crate::harness::{
    Cluster, PATIENCE, Reply, backend, eventually, free_port, get_plain_with, services,
};
use crate::kube::{ELECTION, gateway_only, granted_permissions, ingress, load, used_permissions};

pub(crate) const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
pub(crate) const CONTROLLER: &str = "projectsesame.io/gateway-controller";

/// A config file serving `default/gw`, in a directory that lives as long as the test.
fn config() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("config dir");
    let path: PathBuf = dir.path().join("sesame.yaml");
    std::fs::write(
        &path,
        "gateway:\n  gatewayRef: {namespace: default, name: gw}\n",
    )
    .expect("write config");
    let path = path.to_str().expect("utf-8 path").to_string();
    (dir, path)
}

pub(crate) fn gateway_class(description: &str) -> Value {
    json!({
        "apiVersion": GATEWAY_API, "kind": "GatewayClass",
        "metadata": {"name": "sesame"},
        "spec": {"controllerName": CONTROLLER, "description": description},
    })
}

/// Gateway `default/gw` with an HTTP listener `web` on `port` and, if `extra`, a second one.
pub(crate) fn gateway(port: u16, extra: bool) -> Value {
    let mut listeners = vec![json!({"name": "web", "port": port, "protocol": "HTTP"})];
    if extra {
        listeners.push(json!({"name": "other", "port": port, "protocol": "HTTP",
                              "hostname": "other.kube.test"}));
    }
    json!({
        "apiVersion": GATEWAY_API, "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "default"},
        "spec": {"gatewayClassName": "sesame", "listeners": listeners},
    })
}

pub(crate) fn http_route(host: &str, service: &str) -> Value {
    json!({
        "apiVersion": GATEWAY_API, "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": [host],
            "rules": [{"backendRefs": [{"name": service, "port": 80}]}],
        },
    })
}

fn get(api: &ApiServer, kind: &str, namespace: Option<&str>, name: &str) -> Value {
    api.get(GATEWAY_API, kind, namespace, name)
        .unwrap_or(Value::Null)
}

/// Waits until `check` holds for the object; panics with it and the logs if it never does.
async fn eventually_object(
    api: &ApiServer,
    (kind, namespace, name): (&str, Option<&str>, &str),
    what: &str,
    check: impl Fn(&Value) -> bool,
    cluster: &Cluster,
) -> Value {
    let ok = eventually(PATIENCE, || async {
        check(&get(api, kind, namespace, name))
    })
    .await;
    let object = get(api, kind, namespace, name);
    assert!(ok, "{kind} {name}: {what}: {object:#}\n{}", cluster.logs());
    object
}

/// The condition of `type_` in a list of conditions.
pub(crate) fn condition<'v>(conditions: &'v Value, type_: &str) -> &'v Value {
    (conditions.as_array().into_iter().flatten())
        .find(|c| c["type"] == type_)
        .unwrap_or(&Value::Null)
}

/// Whether the condition of `type_` is `True` for `generation`.
pub(crate) fn holds(conditions: &Value, type_: &str, generation: &Value) -> bool {
    let c = condition(conditions, type_);
    c["status"] == "True" && c["observedGeneration"] == *generation
}

/// Our entry in a route's `parents`.
pub(crate) fn our_parent(status: &Value) -> &Value {
    (status["parents"].as_array().into_iter().flatten())
        .find(|p| p["controllerName"] == CONTROLLER)
        .unwrap_or(&Value::Null)
}

/// Whether a GatewayClass's status says accepted, for `generation`.
pub(crate) fn class_accepted(status: &Value, generation: i64) -> bool {
    holds(&status["conditions"], "Accepted", &json!(generation))
}

/// Whether a Gateway's status says accepted and programmed for `generation`, with one route
/// attached to its first listener.
pub(crate) fn gateway_ready(status: &Value, generation: i64) -> bool {
    let generation = json!(generation);
    holds(&status["conditions"], "Accepted", &generation)
        && holds(&status["conditions"], "Programmed", &generation)
        && status["listeners"][0]["attachedRoutes"] == 1
}

/// Whether a route's status has our parent accepted with resolved references, for
/// `generation`.
pub(crate) fn route_accepted(status: &Value, generation: i64) -> bool {
    let (ours, generation) = (our_parent(status), json!(generation));
    holds(&ours["conditions"], "Accepted", &generation)
        && holds(&ours["conditions"], "ResolvedRefs", &generation)
}

/// Starts Sesame with `start` (given its flags: the config serving `default/gw`, the load
/// balancer address 192.0.2.10 and short election timings) and Envoy, and waits until
/// `gw.kube.test` answers from backend `a` on the Gateway listener's Envoy port. Returns the
/// config's directory (keep it) and the cluster.
pub(crate) async fn serve_gateway(
    start: impl FnOnce(&[&str]) -> Cluster,
    envoy_port: u16,
) -> (tempfile::TempDir, Cluster) {
    let (dir, config) = config();
    let mut extra = vec![
        "--config-path",
        &config,
        "--ingress-status-address",
        "192.0.2.10",
    ];
    extra.extend(ELECTION);
    let mut cluster = start(&extra);
    cluster.start_envoy().await;
    gateway_answers(
        &cluster,
        envoy_port,
        "gw.kube.test",
        "a",
        "the HTTPRoute from the API serves on the Gateway listener",
    )
    .await;
    (dir, cluster)
}

/// Waits until `host` answers from `backend` on the Gateway listener's Envoy `port`.
pub(crate) async fn gateway_answers(
    cluster: &Cluster,
    port: u16,
    host: &'static str,
    backend: &str,
    what: &str,
) {
    cluster
        .eventually_reply(what, || get_gateway(port, host), |r| r.from(backend))
        .await;
}

async fn get_gateway(port: u16, host: &str) -> Reply {
    get_plain_with(port, host, "/", &[])
        .await
        .unwrap_or_else(Reply::failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_objects_from_the_api_route_and_get_their_status() {
    let api = ApiServer::start().await.expect("api server");
    let (a, b) = (backend("a").await, backend("b").await);
    load(&api, &services(&[("svc-a", &a), ("svc-b", &b)]));
    let envoy_port = free_port();
    let port = envoy_port - 8000;
    api.apply(gateway_class("first"));
    // An address without a value (GatewayOptionalAddressValue): served, and given the
    // published address.
    let mut gw = gateway(port, false);
    gw["spec"]["addresses"] = json!([{"type": "IPAddress"}]);
    api.apply(gw);
    api.apply(http_route("gw.kube.test", "svc-a"));
    // Another controller's entry in the route's parents: kept untouched.
    let foreign = json!({
        "parentRef": {"name": "elsewhere"},
        "controllerName": "example.com/other-controller",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                        "message": "theirs", "lastTransitionTime": "2020-01-01T00:00:00Z"}],
    });
    let mut route = get(&api, "HTTPRoute", Some("default"), "web");
    route["status"] = json!({"parents": [foreign.clone()]});
    api.update_status(route).expect("foreign status");

    let (_dir, cluster) = serve_gateway(|extra| Cluster::sesame_on(&api, extra), envoy_port).await;

    let class = eventually_object(
        &api,
        ("GatewayClass", None, "sesame"),
        "accepted",
        |o| class_accepted(&o["status"], 1),
        &cluster,
    )
    .await;
    assert_eq!(
        condition(&class["status"]["conditions"], "Accepted")["reason"],
        "Accepted"
    );
    let gw = eventually_object(
        &api,
        ("Gateway", Some("default"), "gw"),
        "accepted and programmed, one route attached",
        |o| gateway_ready(&o["status"], 1),
        &cluster,
    )
    .await;
    let listener = &gw["status"]["listeners"][0];
    assert_eq!(listener["name"], "web");
    assert_eq!(
        listener["supportedKinds"],
        json!([
            {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
            {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}
        ])
    );
    assert!(
        holds(&listener["conditions"], "Accepted", &json!(1)),
        "{gw:#}"
    );
    assert_eq!(
        gw["status"]["addresses"],
        json!([{"type": "IPAddress", "value": "192.0.2.10"}])
    );
    let route = eventually_object(
        &api,
        ("HTTPRoute", Some("default"), "web"),
        "accepted with resolved references",
        |o| route_accepted(&o["status"], 1),
        &cluster,
    )
    .await;
    assert_eq!(route["status"]["parents"][0], foreign, "{route:#}");
    assert_eq!(
        our_parent(&route["status"])["parentRef"],
        json!({"name": "gw"}),
        "echoed as written"
    );
    let accepted_at =
        condition(&our_parent(&route["status"])["conditions"], "Accepted")["lastTransitionTime"]
            .clone();

    // Spec changes bump each object's generation: every condition follows, and a condition
    // whose status did not change keeps its transition time.
    api.apply(gateway_class("second"));
    api.apply(gateway(port, true));
    api.apply(http_route("gw.kube.test", "svc-b"));
    gateway_answers(
        &cluster,
        envoy_port,
        "gw.kube.test",
        "b",
        "the edited HTTPRoute moves traffic",
    )
    .await;
    eventually_object(
        &api,
        ("GatewayClass", None, "sesame"),
        "observedGeneration 2",
        |o| holds(&o["status"]["conditions"], "Accepted", &json!(2)),
        &cluster,
    )
    .await;
    eventually_object(
        &api,
        ("Gateway", Some("default"), "gw"),
        "observedGeneration 2 on the Gateway and both listeners",
        |o| {
            let s = &o["status"];
            holds(&s["conditions"], "Accepted", &json!(2))
                && holds(&s["conditions"], "Programmed", &json!(2))
                && s["listeners"].as_array().is_some_and(|l| {
                    l.len() == 2
                        && l.iter()
                            .all(|l| holds(&l["conditions"], "Accepted", &json!(2)))
                })
        },
        &cluster,
    )
    .await;
    let route = eventually_object(
        &api,
        ("HTTPRoute", Some("default"), "web"),
        "observedGeneration 2",
        |o| {
            holds(
                &our_parent(&o["status"])["conditions"],
                "Accepted",
                &json!(2),
            )
        },
        &cluster,
    )
    .await;
    assert_eq!(
        condition(&our_parent(&route["status"])["conditions"], "Accepted")["lastTransitionTime"],
        accepted_at,
        "still accepted: the transition time is kept"
    );
    assert_eq!(route["status"]["parents"][0], foreign);

    // A rebuild that changes no Gateway API status writes none.
    let writes = || {
        (api.requests().iter())
            .filter(|r| {
                r.method == "PATCH"
                    && r.path.starts_with("/apis/gateway.networking.k8s.io/")
                    && r.path.ends_with("/status")
            })
            .count()
    };
    let before = writes();
    api.apply(ingress("unrelated", "unrelated.kube.test", "svc-a"));
    cluster
        .eventually_http("unrelated.kube.test", "/", "an unrelated Ingress", |r| {
            r.from("a")
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(writes(), before, "unchanged statuses are not written again");
    cluster.assert_no_update_rejected().await;
    rbac_grants_what_sesame_uses_for_gateway_api(&api);
}

/// Every request Sesame made is granted by `examples/sesame/02-rbac.yaml`, and every list and
/// watch it grants for Gateway API (and Namespaces) is made.
fn rbac_grants_what_sesame_uses_for_gateway_api(api: &ApiServer) {
    let used = used_permissions(api);
    let granted = granted_permissions();
    let refused: Vec<_> = used.difference(&granted).collect();
    assert!(refused.is_empty(), "used but not granted: {refused:?}");
    let unused: Vec<_> = (granted.iter())
        .filter(|p| gateway_only(p) && matches!(p.2.as_str(), "list" | "watch"))
        .filter(|p| !used.contains(*p))
        .collect();
    assert!(unused.is_empty(), "granted but never used: {unused:?}");
    for status in [
        "gatewayclasses/status",
        "gateways/status",
        "httproutes/status",
    ] {
        let patch = (
            "gateway.networking.k8s.io".to_string(),
            status.to_string(),
            "patch".to_string(),
        );
        assert!(used.contains(&patch), "{status} written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_gateway_crds_do_not_block_sync_and_are_watched_once_installed() {
    let api = ApiServer::without(&Resource::GATEWAY_API)
        .await
        .expect("api server");
    let a = backend("a").await;
    load(&api, &services(&[("svc-a", &a)]));
    api.apply(ingress("plain", "plain.kube.test", "svc-a"));
    let (_dir, config) = config();
    let mut extra = vec!["--config-path", &config, "--gateway-crd-recheck", "1s"];
    extra.extend(ELECTION);
    let mut cluster = Cluster::sesame_on(&api, &extra);
    cluster.start_envoy().await;
    cluster
        .eventually_http(
            "plain.kube.test",
            "/",
            "Ingress served without the CRDs",
            |r| r.from("a"),
        )
        .await;
    let logs = cluster.logs();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("CRD is not installed"))
        .collect();
    assert!(
        warnings.iter().any(|l| l.contains("HTTPRoute")) && warnings.len() == 9,
        "one warning per missing kind: {warnings:#?}"
    );

    api.install(&Resource::GATEWAY_API);
    let envoy_port = free_port();
    api.apply(gateway_class("installed later"));
    api.apply(gateway(envoy_port - 8000, false));
    api.apply(http_route("late.kube.test", "svc-a"));
    gateway_answers(
        &cluster,
        envoy_port,
        "late.kube.test",
        "a",
        "CRDs installed later are watched",
    )
    .await;
    eventually_object(
        &api,
        ("HTTPRoute", Some("default"), "web"),
        "accepted",
        |o| {
            holds(
                &our_parent(&o["status"])["conditions"],
                "Accepted",
                &json!(1),
            )
        },
        &cluster,
    )
    .await;
    assert!(cluster.logs().contains("serves this kind now"));
}

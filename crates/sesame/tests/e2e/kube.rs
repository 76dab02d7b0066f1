//! `sesame serve` against a Kubernetes API server (the in-process double, over real HTTP):
//! objects created through the API reach a real Envoy, statuses are written by the leader only,
//! a broken watch relists, and a second replica takes over when the leader dies.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sesame_apiserver_double::ApiServer;

use crate::harness::{Cluster, PATIENCE, Pki, backend, eventually, get_plain, services};

/// Short election timings, so fail-over tests take seconds: lease, renew deadline, retry period.
pub(crate) const LEASE: Duration = Duration::from_secs(3);
pub(crate) const ELECTION: [&str; 6] = [
    "--leader-election-lease-duration",
    "3s",
    "--leader-election-renew-deadline",
    "2s",
    "--leader-election-retry-period",
    "500ms",
];
pub(crate) const RETRY: Duration = Duration::from_millis(500);

/// Stores every object of a YAML or JSON manifest (a `List`'s items one by one) in the API.
pub fn load(api: &ApiServer, text: &str) {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("manifest");
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        match doc["kind"].as_str() {
            Some("List") => doc["items"]
                .as_array()
                .into_iter()
                .flatten()
                .for_each(|item| {
                    api.apply(item.clone());
                }),
            _ => {
                api.apply(doc);
            }
        }
    }
}

pub(crate) fn ingress(name: &str, host: &str, service: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"rules": [{"host": host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}
    })
}

pub(crate) fn proxy(name: &str, fqdn: &str, service: &str) -> Value {
    json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"virtualhost": {"fqdn": fqdn},
                 "routes": [{"services": [{"name": service, "port": 80}]}]}
    })
}

fn get(api: &ApiServer, api_version: &str, kind: &str, name: &str) -> Value {
    api.get(api_version, kind, Some("default"), name)
        .unwrap_or(Value::Null)
}

/// Waits until `check` holds for the object's status; panics with the object if it never does.
async fn eventually_object(
    api: &ApiServer,
    (api_version, kind, name): (&str, &str, &str),
    check: impl Fn(&Value) -> bool,
    cluster: &Cluster,
) -> Value {
    let ok = eventually(PATIENCE, || async {
        check(&get(api, api_version, kind, name)["status"])
    })
    .await;
    let object = get(api, api_version, kind, name);
    assert!(
        ok,
        "{kind} {name} never reached the expected status: {object:#}\n{}",
        cluster.logs()
    );
    object
}

pub(crate) async fn debug_status(cluster: &Cluster) -> Value {
    serde_json::from_str(&cluster.debug("/status").await.body).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_from_the_api_route_and_their_status_is_written() {
    let api = ApiServer::start().await.expect("api server");
    let (a, b) = (backend("a").await, backend("b").await);
    let pki = Pki::new();
    load(&api, &services(&[("svc-a", &a), ("svc-b", &b)]));
    load(&api, &pki.secret("cert", &["secure.kube.test"]));
    for i in 0..3 {
        // Unrelated Secrets and a Helm release: never fetched, never held.
        api.apply(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": format!("unrelated-{i}"), "namespace": "default"},
            "data": {"blob": "AAAA"}}),
        );
    }
    api.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.app.v1", "namespace": "default"},
        "data": {"release": "AAAA"}}),
    );
    api.apply(ingress("plain", "plain.kube.test", "svc-a"));
    let mut secure = ingress("secure", "secure.kube.test", "svc-b");
    secure["spec"]["tls"] = json!([{"hosts": ["secure.kube.test"], "secretName": "cert"}]);
    api.apply(secure);
    api.apply(proxy("web", "proxy.kube.test", "svc-b"));
    api.apply(
        json!({"apiVersion": "projectsesame.io/v1", "kind": "TLSCertificateDelegation",
        "metadata": {"name": "share", "namespace": "default"},
        "spec": {"delegations": [{"secretName": "cert", "targetNamespaces": ["team-a"]}]}}),
    );
    api.apply(
        json!({"apiVersion": "projectsesame.io/v1alpha1", "kind": "ExtensionService",
        "metadata": {"name": "authz", "namespace": "default"},
        "spec": {"protocol": "h2c", "services": [{"name": "svc-a", "port": 80}]}}),
    );
    // The first status write meets a conflict (someone else wrote the object meanwhile).
    api.fail_status_updates_with_conflict(1);

    let mut extra = vec!["--ingress-status-address", "192.0.2.10"];
    extra.extend(ELECTION);
    let mut cluster = Cluster::sesame_on(&api, &extra);
    cluster.start_envoy().await;

    plain_proxy_and_secure_hosts_answer(&cluster, &pki).await;

    // Statuses: Contour's shapes, observedGeneration, and the load balancer address.
    let web = eventually_object(
        &api,
        ("projectsesame.io/v1", "HTTPProxy", "web"),
        |s| s["currentStatus"] == "valid",
        &cluster,
    )
    .await;
    let condition = &web["status"]["conditions"][0];
    assert_eq!(condition["type"], "Valid");
    assert_eq!(
        condition["observedGeneration"],
        web["metadata"]["generation"]
    );
    assert_eq!(
        web["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.10"
    );
    eventually_object(
        &api,
        ("networking.k8s.io/v1", "Ingress", "plain"),
        |s| s["loadBalancer"]["ingress"][0]["ip"] == "192.0.2.10",
        &cluster,
    )
    .await;
    eventually_object(
        &api,
        ("projectsesame.io/v1", "TLSCertificateDelegation", "share"),
        |s| s["conditions"][0]["status"] == "True",
        &cluster,
    )
    .await;
    eventually_object(
        &api,
        ("projectsesame.io/v1alpha1", "ExtensionService", "authz"),
        |s| s["conditions"][0]["status"] == "True" && s["conditions"][0]["reason"] == "Valid",
        &cluster,
    )
    .await;

    // Only referenced Secrets are read; the Helm release is not even listed.
    let page = debug_status(&cluster).await;
    assert_eq!(page["leading"], true, "{page:#}");
    assert_eq!(page["api"]["secrets_known"], 4, "{page:#}");
    assert_eq!(page["api"]["secrets_loaded"], 1, "{page:#}");
    let secret_gets: BTreeSet<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/namespaces/default/secrets/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        secret_gets,
        BTreeSet::from(["/api/v1/namespaces/default/secrets/cert".to_string()])
    );

    // The conflict was retried on a fresh copy of the object.
    let requests = api.requests();
    let conflict = requests
        .iter()
        .position(|r| r.status == 409)
        .expect("a 409 happened");
    let conflicted = requests[conflict]
        .path
        .trim_end_matches("/status")
        .to_string();
    assert!(
        requests[conflict..]
            .iter()
            .any(|r| r.method == "GET" && r.path == conflicted),
        "no fresh read of {conflicted} after the conflict"
    );

    // An edit through the API moves traffic; a status is written once per change, not again.
    let mut moved = get(&api, "networking.k8s.io/v1", "Ingress", "plain");
    moved["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!("svc-b");
    api.update(moved).expect("update");
    cluster
        .eventually_http("plain.kube.test", "/", "edited Ingress", |r| r.from("b"))
        .await;
    let mut broken = get(&api, "projectsesame.io/v1", "HTTPProxy", "web");
    broken["spec"]["routes"][0]["services"][0]["name"] = json!("ghost");
    api.update(broken).expect("update");
    let web = eventually_object(
        &api,
        ("projectsesame.io/v1", "HTTPProxy", "web"),
        |s| s["currentStatus"] == "invalid",
        &cluster,
    )
    .await;
    assert_eq!(web["status"]["conditions"][0]["observedGeneration"], 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let writes = api
        .requests()
        .iter()
        .filter(|r| {
            r.method == "PATCH"
                && r.path == "/apis/projectsesame.io/v1/namespaces/default/httpproxies/web/status"
                && r.status == 200
        })
        .count();
    assert_eq!(
        writes, 2,
        "one write per status change (valid, then invalid)"
    );

    // Conflicts on the other kinds with a status, for the RBAC check below.
    for (api_version, kind, name, edit) in [
        (
            "projectsesame.io/v1alpha1",
            "ExtensionService",
            "authz",
            json!({"protocol": "h2c", "services": [{"name": "svc-missing", "port": 80}]}),
        ),
        (
            "projectsesame.io/v1",
            "TLSCertificateDelegation",
            "share",
            json!({"delegations": [{"secretName": "cert", "targetNamespaces": ["team-b"]}]}),
        ),
        (
            "projectsesame.io/v1",
            "HTTPProxy",
            "web",
            json!({"virtualhost": {"fqdn": "proxy.kube.test"}, "routes": [{"services": [{"name": "svc-a", "port": 80}]}]}),
        ),
    ] {
        api.fail_status_updates_with_conflict(1);
        let mut object = get(&api, api_version, kind, name);
        object["spec"] = edit;
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        api.update(object).expect("update");
        eventually_object(
            &api,
            (api_version, kind, name),
            |s| s["conditions"][0]["observedGeneration"] == generation,
            &cluster,
        )
        .await;
    }
    cluster
        .eventually_http("proxy.kube.test", "/", "HTTPProxy fixed", |r| r.from("a"))
        .await;

    // The status metrics count what reached the API server: every 200 on an HTTPProxy's
    // status is a success, and the three conflicts forced above were each counted.
    let proxy_writes = api
        .requests()
        .iter()
        .filter(|r| {
            r.method == "PATCH"
                && r.path.starts_with("/apis/projectsesame.io/v1/namespaces/")
                && r.path.contains("/httpproxies/")
                && r.status == 200
        })
        .count() as f64;
    let success = cluster
        .sesame_metric("sesame_status_update_success_total{kind=\"HTTPProxy\"}")
        .await;
    assert_eq!(success, Some(proxy_writes));
    let mut conflicts = 0.0;
    for kind in ["HTTPProxy", "TLSCertificateDelegation", "Ingress"] {
        let series = format!("sesame_status_update_conflict_total{{kind=\"{kind}\"}}");
        conflicts += cluster.sesame_metric(&series).await.unwrap_or(0.0);
    }
    assert_eq!(conflicts, 3.0, "conflicts counted");

    // Deleting through the API removes the route.
    api.delete("projectsesame.io/v1", "HTTPProxy", Some("default"), "web")
        .expect("delete");
    cluster
        .eventually_http("proxy.kube.test", "/", "deleted HTTPProxy", |r| {
            r.status == 404
        })
        .await;

    rbac_lists_exactly_what_sesame_uses(&api);
}

/// The three routes both API scenarios create answer through Envoy: `plain.kube.test` (an
/// Ingress to backend `a`), `proxy.kube.test` (an HTTPProxy to `b`) and `secure.kube.test` (a
/// TLS Ingress to `b`, with a certificate from `pki`).
pub(crate) async fn plain_proxy_and_secure_hosts_answer(cluster: &Cluster, pki: &Pki) {
    cluster
        .eventually_http("plain.kube.test", "/", "Ingress from the API", |r| {
            r.from("a")
        })
        .await;
    cluster
        .eventually_http("proxy.kube.test", "/", "HTTPProxy from the API", |r| {
            r.from("b")
        })
        .await;
    let ca = pki.ca_pem.as_bytes();
    cluster
        .eventually_reply(
            "TLS Ingress from the API",
            || cluster.https("secure.kube.test", "/", ca),
            |r| r.from("b"),
        )
        .await;
}

/// With the API server gone: `/status` says so, `/healthz` stays 200, and the last good
/// configuration (`x.kube.test` to backend `a`) is still served.
pub(crate) async fn blind_but_serving(cluster: &Cluster) {
    let noticed = eventually(PATIENCE, || async {
        debug_status(cluster).await["api"]["reachable"] == false
    })
    .await;
    assert!(
        noticed,
        "the API never showed as unreachable\n{}",
        cluster.logs()
    );
    let health = get_plain(cluster.ports.metrics, "127.0.0.1", "/healthz").await;
    assert!(
        matches!(&health, Ok(r) if r.status == 200),
        "healthz while the API is down: {health:?}"
    );
    assert!(
        cluster.http("x.kube.test", "/").await.from("a"),
        "the last good configuration is served"
    );
}

/// The verbs and resources of the requests Sesame made must be exactly those the ClusterRole
/// and Role in `examples/sesame/02-rbac.yaml` grant.
fn rbac_lists_exactly_what_sesame_uses(api: &ApiServer) {
    let granted: BTreeSet<_> = granted_permissions()
        .into_iter()
        .filter(|p| !gateway_only(p))
        .collect();
    assert_eq!(
        used_permissions(api),
        granted,
        "requests made (left) vs. RBAC granted (right), Gateway API aside"
    );
}

/// A (group, resource, verb).
pub(crate) type Permission = (String, String, String);

/// Whether a permission is needed only with `gateway` configured (checked in kube_gateway.rs).
pub(crate) fn gateway_only((group, resource, _): &Permission) -> bool {
    group == "gateway.networking.k8s.io"
        || (group.is_empty() && matches!(resource.as_str(), "namespaces" | "configmaps"))
}

/// What the requests Sesame made to `api` needed.
pub(crate) fn used_permissions(api: &ApiServer) -> BTreeSet<Permission> {
    api.requests()
        .iter()
        .filter_map(|r| {
            let watch = r
                .query
                .split('&')
                .any(|q| q == "watch=true" || q == "watch=1");
            permission(&r.method, &r.path, watch)
        })
        .collect()
}

/// What `examples/sesame/02-rbac.yaml` grants.
pub(crate) fn granted_permissions() -> BTreeSet<Permission> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sesame/02-rbac.yaml"
    ))
    .expect("rbac file");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rbac yaml");
    let mut granted = BTreeSet::new();
    for doc in docs
        .iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role")))
    {
        for rule in doc["rules"].as_array().into_iter().flatten() {
            for group in rule["apiGroups"].as_array().into_iter().flatten() {
                for resource in rule["resources"].as_array().into_iter().flatten() {
                    for verb in rule["verbs"].as_array().into_iter().flatten() {
                        granted.insert((
                            group.as_str().unwrap_or("").to_string(),
                            resource.as_str().unwrap_or("").to_string(),
                            verb.as_str().unwrap_or("").to_string(),
                        ));
                    }
                }
            }
        }
    }
    granted
}

/// The (group, resource, verb) a request needs.
fn permission(method: &str, path: &str, watch: bool) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let rest: &[&str] = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let (resource, named) = match rest {
        [plural] => (plural.to_string(), false),
        [plural, _name] => (plural.to_string(), true),
        [plural, _name, sub] => (format!("{plural}/{sub}"), true),
        _ => return None,
    };
    let verb = match (method, named, watch) {
        ("GET", false, true) => "watch",
        ("GET", false, false) => "list",
        ("GET", true, _) => "get",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", _, _) => "delete",
        _ => return None,
    };
    Some((group.to_string(), resource, verb.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_watch_keeps_serving_and_its_relist_deletes_what_vanished() {
    let api = ApiServer::start().await.expect("api server");
    let (a, b) = (backend("a").await, backend("b").await);
    load(&api, &services(&[("svc-a", &a), ("svc-b", &b)]));
    api.apply(ingress("x", "x.kube.test", "svc-a"));
    api.apply(ingress("y", "y.kube.test", "svc-b"));
    let mut cluster = Cluster::sesame_on(&api, &["--disable-leader-election"]);
    cluster.start_envoy().await;
    cluster
        .eventually_http("x.kube.test", "/", "x", |r| r.from("a"))
        .await;
    cluster
        .eventually_http("y.kube.test", "/", "y", |r| r.from("b"))
        .await;

    api.set_unreachable(true);
    blind_but_serving(&cluster).await;

    // While Sesame is blind, x is deleted and the history it would resume from is compacted.
    api.delete("networking.k8s.io/v1", "Ingress", Some("default"), "x")
        .expect("delete");
    api.compact();
    api.set_unreachable(false);
    cluster
        .eventually_http("x.kube.test", "/", "x after the relist", |r| {
            r.status == 404
        })
        .await;
    assert!(
        cluster.http("y.kube.test", "/").await.from("b"),
        "y kept serving across the relist"
    );
    let relisted = api
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with("/ingresses") && !r.query.contains("watch"));
    assert!(relisted);
    // Every watch resumes on its own: one whose history was compacted too may still report
    // its expired resource version for a moment after the Ingresses have relisted.
    let recovered = eventually(PATIENCE, || async {
        debug_status(&cluster).await["api"]["reachable"] == true
    })
    .await;
    let page = debug_status(&cluster).await;
    assert!(
        recovered,
        "the API never showed as reachable again: {page:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_served_before_every_watch_has_listed() {
    let api = ApiServer::start().await.expect("api server");
    let a = backend("a").await;
    load(&api, &services(&[("svc-a", &a)]));
    api.apply(ingress("x", "x.kube.test", "svc-a"));
    api.set_unreachable(true);
    let mut cluster = Cluster::sesame_on(&api, &["--disable-leader-election"]);
    // Sesame is up but has listed nothing: no build, so xDS has nothing to answer with.
    let up = eventually(PATIENCE, || async {
        cluster.debug("/status").await.status == 503
    })
    .await;
    assert!(up, "sesame never answered /status\n{}", cluster.logs());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let page = debug_status(&cluster).await;
    assert_eq!(page["api"]["synced"], false, "{page:#}");
    assert_eq!(
        page["objects"],
        Value::Null,
        "no build before the initial list: {page:#}"
    );

    api.set_unreachable(false);
    cluster.start_envoy().await;
    cluster
        .eventually_http("x.kube.test", "/", "x once listed", |r| r.from("a"))
        .await;
}

/// Waits until exactly one of two replicas leads, and says which.
async fn one_leader(one: &Cluster, two: &Cluster) -> usize {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(i) = leader_of(&[one, two]).await {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no single leader\n{}\n{}", one.logs(), two.logs());
}

/// Which of two replicas leads, by their `/status`.
async fn leader_of(replicas: &[&Cluster]) -> Option<usize> {
    let mut leaders = Vec::new();
    for (i, c) in replicas.iter().enumerate() {
        if debug_status(c).await["leading"] == true {
            leaders.push(i);
        }
    }
    (leaders.len() == 1).then(|| leaders[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_replica_writes_status_when_the_leader_dies_and_envoy_keeps_routing() {
    let api = ApiServer::start().await.expect("api server");
    let a = backend("a").await;
    load(&api, &services(&[("svc-a", &a)]));
    api.apply(proxy("first", "first.kube.test", "svc-a"));
    let mut one = Cluster::sesame_on(&api, &ELECTION);
    let mut two = Cluster::sesame_on(&api, &ELECTION);
    let leader = one_leader(&one, &two).await;
    let (dying, survivor) = if leader == 0 {
        (&mut one, &mut two)
    } else {
        (&mut two, &mut one)
    };
    eventually_object(
        &api,
        ("projectsesame.io/v1", "HTTPProxy", "first"),
        |s| s["currentStatus"] == "valid",
        dying,
    )
    .await;
    // Envoy is connected to the leader, which is about to die.
    dying.start_envoy().await;
    dying
        .eventually_http("first.kube.test", "/", "first", |r| r.from("a"))
        .await;

    let failures = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = dying.ports.http;
    let load = {
        let (failures, sent, stop) = (failures.clone(), sent.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = matches!(get_plain(port, "first.kube.test", "/").await, Ok(r) if r.status == 200);
                sent.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    dying.sesame.kill();
    let killed = Instant::now();
    api.apply(proxy("second", "second.kube.test", "svc-a"));
    eventually_object(
        &api,
        ("projectsesame.io/v1", "HTTPProxy", "second"),
        |s| s["currentStatus"] == "valid",
        survivor,
    )
    .await;
    let took = killed.elapsed();
    // The survivor must first see the dead leader's Lease unchanged for a whole lease duration.
    let bound = LEASE + RETRY + Duration::from_secs(2);
    assert!(
        took <= bound,
        "status written {took:?} after the leader died (bound {bound:?})\n{}",
        survivor.logs()
    );
    assert_eq!(debug_status(survivor).await["leading"], true);

    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load loop");
    assert!(sent.load(Ordering::Relaxed) > 20, "the load loop ran");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "Envoy stopped routing while its Sesame was dead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_xds_leader_only_only_the_leader_opens_its_xds_port() {
    let api = ApiServer::start().await.expect("api server");
    let mut flags = ELECTION.to_vec();
    flags.push("--xds-leader-only");
    let mut one = Cluster::sesame_on(&api, &flags);
    let mut two = Cluster::sesame_on(&api, &flags);
    let open = |port: u16| async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    };
    let leader = one_leader(&one, &two).await;
    let (dying, survivor) = if leader == 0 {
        (&mut one, &mut two)
    } else {
        (&mut two, &mut one)
    };
    assert!(
        eventually(PATIENCE, || open(dying.ports.xds)).await,
        "the leader's xDS port is closed"
    );
    assert!(
        !open(survivor.ports.xds).await,
        "a follower opened its xDS port"
    );
    dying.sesame.kill();
    assert!(
        eventually(PATIENCE, || open(survivor.ports.xds)).await,
        "the new leader never opened its xDS port\n{}",
        survivor.logs()
    );
}

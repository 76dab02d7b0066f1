//! Create, read, replace, patch, delete and list through `kube::Api`.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Secret, Service, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    Ingress, IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressSpec, IngressStatus,
};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt as _};
use serde_json::json;

use crate::support::{create_services, is_conflict, meta, secret, service, start};

#[tokio::test]
async fn service_create_get_replace_delete() {
    let (server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let created = api
        .create(&PostParams::default(), &service("web"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(created.metadata.generation, Some(1));
    let fetched = api.get("web").await.unwrap();
    assert_eq!(fetched.resource_version(), created.resource_version());

    let mut changed = fetched.clone();
    changed.spec = Some(ServiceSpec {
        type_: Some("ClusterIP".into()),
        ..ServiceSpec::default()
    });
    let replaced = api
        .replace("web", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    assert_ne!(replaced.resource_version(), created.resource_version());

    let stale = api
        .replace("web", &PostParams::default(), &fetched)
        .await
        .unwrap_err();
    assert!(is_conflict(&stale), "{stale:?}");

    let deleted = api.delete("web", &DeleteParams::default()).await.unwrap();
    assert_eq!(deleted.left().map(|s| s.name_any()), Some("web".to_owned()));
    assert!(api.get_opt("web").await.unwrap().is_none());
    assert!(server.get("v1", "Service", Some("ns"), "web").is_none());
    let missing = api.get("web").await.unwrap_err();
    assert!(matches!(missing, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"));
}

#[tokio::test]
async fn lease_replace_with_a_stale_resource_version_conflicts() {
    let (_server, client) = start().await;
    let api: Api<Lease> = Api::namespaced(client, "ns");
    let spec = |holder: &str| LeaseSpec {
        holder_identity: Some(holder.into()),
        ..LeaseSpec::default()
    };
    let lease = Lease {
        metadata: meta("leader"),
        spec: Some(spec("a")),
    };
    let created = api.create(&PostParams::default(), &lease).await.unwrap();
    let mut mine = created.clone();
    mine.spec = Some(spec("b"));
    let taken = api
        .replace("leader", &PostParams::default(), &mine)
        .await
        .unwrap();
    assert_eq!(taken.spec.and_then(|s| s.holder_identity), Some("b".into()));
    let mut theirs = created;
    theirs.spec = Some(spec("c"));
    let error = api
        .replace("leader", &PostParams::default(), &theirs)
        .await
        .unwrap_err();
    assert!(is_conflict(&error), "{error:?}");
}

fn ingress_status(ip: &str) -> IngressStatus {
    let ingress = IngressLoadBalancerIngress {
        ip: Some(ip.into()),
        ..IngressLoadBalancerIngress::default()
    };
    IngressStatus {
        load_balancer: Some(IngressLoadBalancerStatus {
            ingress: Some(vec![ingress]),
        }),
    }
}

#[tokio::test]
async fn status_writes_bump_the_resource_version_but_not_the_generation() {
    let (_server, client) = start().await;
    let api: Api<Ingress> = Api::namespaced(client, "ns");
    let ingress = Ingress {
        metadata: meta("i"),
        spec: Some(IngressSpec::default()),
        status: None,
    };
    let created = api.create(&PostParams::default(), &ingress).await.unwrap();

    let mut with_status = created.clone();
    with_status.status = Some(ingress_status("1.2.3.4"));
    let replaced = api
        .replace_status("i", &PostParams::default(), &with_status)
        .await
        .unwrap();
    assert_eq!(replaced.status, with_status.status);
    assert_eq!(replaced.metadata.generation, Some(1));
    assert_ne!(replaced.resource_version(), created.resource_version());

    let patch = Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}}));
    let patched = api
        .patch_status("i", &PatchParams::default(), &patch)
        .await
        .unwrap();
    assert_eq!(patched.status, Some(ingress_status("5.6.7.8")));
    assert_eq!(patched.metadata.generation, Some(1));
    assert_ne!(patched.resource_version(), replaced.resource_version());

    // The main resource ignores status and counts spec changes.
    let spec = Patch::Merge(json!({"spec": {"ingressClassName": "sesame"}, "status": null}));
    let respecced = api
        .patch("i", &PatchParams::default(), &spec)
        .await
        .unwrap();
    assert_eq!(respecced.metadata.generation, Some(2));
    assert_eq!(respecced.status, Some(ingress_status("5.6.7.8")));
}

#[tokio::test]
async fn injected_status_conflicts_fail_the_next_write_only() {
    let (server, client) = start().await;
    let api: Api<Ingress> = Api::namespaced(client, "ns");
    let ingress = Ingress {
        metadata: meta("i"),
        ..Ingress::default()
    };
    let created = api.create(&PostParams::default(), &ingress).await.unwrap();
    server.fail_status_updates_with_conflict(1);
    let patch = Patch::Merge(json!({"status": {"loadBalancer": {}}}));
    let error = api
        .patch_status("i", &PatchParams::default(), &patch)
        .await
        .unwrap_err();
    assert!(is_conflict(&error), "{error:?}");
    let bumped = api.get("i").await.unwrap();
    assert_ne!(bumped.resource_version(), created.resource_version());
    assert_eq!(bumped.metadata.generation, Some(1));
    api.patch_status("i", &PatchParams::default(), &patch)
        .await
        .unwrap();
}

#[tokio::test]
async fn paginated_list_returns_everything() {
    let (_server, client) = start().await;
    create_services(&client, &["e", "c", "a", "d", "b"]).await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let mut params = ListParams::default().limit(2);
    let (mut names, mut pages, mut versions) = (Vec::new(), 0, Vec::new());
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().map(|o| o.name_any()));
        versions.push(page.metadata.resource_version.clone());
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
}

#[tokio::test]
async fn field_selector_filters_secrets_in_lists() {
    let (_server, client) = start().await;
    let api: Api<Secret> = Api::namespaced(client.clone(), "ns");
    for (name, type_) in [
        ("tls", "kubernetes.io/tls"),
        ("helm", "helm.sh/release.v1"),
        ("sa", "kubernetes.io/service-account-token"),
    ] {
        api.create(&PostParams::default(), &secret(name, type_))
            .await
            .unwrap();
    }
    let all: Api<Secret> = Api::all(client);
    let params = ListParams::default()
        .fields("type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token");
    let listed = all.list(&params).await.unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|o| o.name_any())
            .collect::<Vec<_>>(),
        ["tls"]
    );
    let bad = all
        .list(&ListParams::default().fields("data.x=1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, kube::Error::Api(s) if s.code == 400),
        "{bad:?}"
    );
}

#[tokio::test]
async fn apply_and_json_patches() {
    let (server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client.clone(), "ns");
    let applied = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "ClusterIP"}});
    let created = api
        .patch(
            "web",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let ops = json!([
        {"op": "test", "path": "/spec/type", "value": "ClusterIP"},
        {"op": "add", "path": "/metadata/labels", "value": {"app": "web"}}
    ]);
    let request = hyper::Request::patch("/api/v1/namespaces/ns/services/web")
        .header("content-type", "application/json-patch+json")
        .body(serde_json::to_vec(&ops).unwrap())
        .unwrap();
    let patched: Service = client.request(request).await.unwrap();
    assert_eq!(patched.labels().get("app").map(String::as_str), Some("web"));
    assert_eq!(patched.metadata.generation, Some(1));
    let stored = server.get("v1", "Service", Some("ns"), "web").unwrap();
    assert_eq!(stored["metadata"]["labels"]["app"], "web");
}

#[tokio::test]
async fn direct_store_access_and_http_see_the_same_objects() {
    let (server, client) = start().await;
    server.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "direct", "namespace": "ns"}}));
    let api: Api<Service> = Api::namespaced(client, "ns");
    assert_eq!(api.get("direct").await.unwrap().name_any(), "direct");
    api.create(&PostParams::default(), &service("http"))
        .await
        .unwrap();
    let names: Vec<_> = server
        .list("v1", "Service")
        .iter()
        .map(|o| o["metadata"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("direct"), json!("http")]);
    let requests = server.requests();
    let first = &requests[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str(), first.status),
        ("GET", "/api/v1/namespaces/ns/services/direct", 200)
    );
    assert_eq!(requests[1].status, 201);
}

#[tokio::test]
async fn the_kubeconfig_points_kube_at_the_double() {
    let (server, _client) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    assert_eq!(
        config.cluster_url.to_string().trim_end_matches('/'),
        server.url()
    );
    let client = kube::Client::try_from(config).unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );
}

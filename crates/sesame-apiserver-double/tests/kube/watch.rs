//! `kube::runtime::watcher`, `metadata_watcher` and raw `Api::watch` streams.

use std::fmt::Debug;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::support::{PATIENCE, create_services, next, secret, service, start};

/// The next successful watcher event, skipping errors (reconnects, 410s).
async fn next_ok<K: Debug, S>(stream: &mut S) -> Event<K>
where
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    loop {
        if let Ok(event) = next(stream).await {
            return event;
        }
    }
}

/// Expects `Init`, collects `InitApply` names until `InitDone`.
async fn initial_names<K: ResourceExt + Debug, S>(stream: &mut S) -> Vec<String>
where
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    let first = next_ok(stream).await;
    assert!(matches!(first, Event::Init), "expected Init, got {first:?}");
    let mut names = Vec::new();
    loop {
        match next_ok(stream).await {
            Event::InitApply(object) => names.push(object.name_any()),
            Event::InitDone => return names,
            other => panic!("unexpected event during init: {other:?}"),
        }
    }
}

fn applied<K: ResourceExt + Debug>(event: Event<K>) -> String {
    match event {
        Event::Apply(object) => object.name_any(),
        other => panic!("expected Apply, got {other:?}"),
    }
}

fn deleted<K: ResourceExt + Debug>(event: Event<K>) -> String {
    match event {
        Event::Delete(object) => object.name_any(),
        other => panic!("expected Delete, got {other:?}"),
    }
}

fn service_json(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"}})
}

#[tokio::test]
async fn watcher_lists_in_pages_then_streams_changes() {
    let (server, client) = start().await;
    create_services(&client, &["a", "b", "c"]).await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let mut events = watcher(api.clone(), watcher::Config::default().page_size(2)).boxed();
    assert_eq!(initial_names(&mut events).await, ["a", "b", "c"]);
    api.create(&PostParams::default(), &service("d"))
        .await
        .unwrap();
    assert_eq!(applied(next_ok(&mut events).await), "d");
    server.delete("v1", "Service", Some("ns"), "a").unwrap();
    assert_eq!(deleted(next_ok(&mut events).await), "a");
    let lists: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with("/services") && !r.query.contains("watch")
        })
        .collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(lists[1].query.contains("continue="), "{lists:?}");
}

#[tokio::test]
async fn watcher_resumes_after_dropped_connections() {
    let (server, client) = start().await;
    create_services(&client, &["a"]).await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    assert_eq!(initial_names(&mut events).await, ["a"]);
    // A first change proves the watch is established before the connections go.
    server.apply(service_json("live"));
    assert_eq!(applied(next_ok(&mut events).await), "live");
    server.drop_connections();
    server.apply(service_json("b"));
    // Resumed from its resource version: no new list, the missed event is replayed.
    assert_eq!(applied(next_ok(&mut events).await), "b");
    server.drop_connections();
    server.delete("v1", "Service", Some("ns"), "a").unwrap();
    assert_eq!(deleted(next_ok(&mut events).await), "a");
    let requests = server.requests();
    let watches = requests
        .iter()
        .filter(|r| r.query.contains("watch=true"))
        .count();
    let lists = requests
        .iter()
        .filter(|r| !r.query.contains("watch=true"))
        .count();
    assert!(watches >= 3, "{requests:?}");
    assert_eq!(lists, 2, "one create, one list: {requests:?}");
}

#[tokio::test]
async fn watcher_relists_after_compaction() {
    let (server, client) = start().await;
    create_services(&client, &["a", "b", "c"]).await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let mut events = watcher(api, watcher::Config::default().page_size(2))
        .default_backoff()
        .boxed();
    assert_eq!(initial_names(&mut events).await, ["a", "b", "c"]);
    server.set_unreachable(true);
    server.delete("v1", "Service", Some("ns"), "a").unwrap();
    server.compact();
    server.set_unreachable(false);
    assert_eq!(initial_names(&mut events).await, ["b", "c"]);
    let gone = server
        .requests()
        .into_iter()
        .any(|r| r.query.contains("watch=true") && r.status == 200);
    assert!(gone);
}

#[tokio::test]
async fn watch_from_a_compacted_version_gets_410_gone() {
    let (server, client) = start().await;
    create_services(&client, &["a", "b"]).await;
    server.compact();
    let api: Api<Service> = Api::namespaced(client, "ns");
    let mut stream = api
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert_eq!(status.message, "too old resource version: 1 (3)");
        }
        other => panic!("expected an ERROR event, got {other:?}"),
    }
    let end = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn bookmarks_on_request_and_only_when_asked() {
    let (server, client) = start().await;
    create_services(&client, &["a"]).await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let rv = server.resource_version();
    let mut with = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let mut without = api
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    server.send_bookmarks();
    match next(&mut with).await.unwrap() {
        WatchEvent::Bookmark(bookmark) => assert_eq!(bookmark.metadata.resource_version, rv),
        other => panic!("expected a BOOKMARK, got {other:?}"),
    }
    server.apply(service_json("b"));
    assert!(
        matches!(next(&mut without).await.unwrap(), WatchEvent::Added(s) if s.name_any() == "b")
    );
    // Periodic bookmarks carry the newest resource version.
    loop {
        match next(&mut with).await.unwrap() {
            WatchEvent::Bookmark(b) if b.metadata.resource_version == server.resource_version() => {
                break;
            }
            WatchEvent::Bookmark(_) | WatchEvent::Added(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn watch_ends_cleanly_at_its_timeout() {
    let (_server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let started = tokio::time::Instant::now();
    let mut stream = api
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    let end = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn field_selector_filters_secrets_in_watches() {
    let (_server, client) = start().await;
    let api: Api<Secret> = Api::namespaced(client, "ns");
    let config = watcher::Config::default().fields("type!=helm.sh/release.v1");
    let mut events = watcher(api.clone(), config).boxed();
    assert!(initial_names(&mut events).await.is_empty());
    api.create(
        &PostParams::default(),
        &secret("helm", "helm.sh/release.v1"),
    )
    .await
    .unwrap();
    api.create(&PostParams::default(), &secret("tls", "kubernetes.io/tls"))
        .await
        .unwrap();
    assert_eq!(applied(next_ok(&mut events).await), "tls");
}

#[tokio::test]
async fn label_selector_transitions_become_added_and_deleted() {
    let (_server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(
            &WatchParams::default().labels("app=web").disable_bookmarks(),
            &rv,
        )
        .await
        .unwrap()
        .boxed();
    let label = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    api.create(&PostParams::default(), &service("s"))
        .await
        .unwrap();
    api.patch("s", &PatchParams::default(), &label("web"))
        .await
        .unwrap();
    api.patch("s", &PatchParams::default(), &label("api"))
        .await
        .unwrap();
    assert!(
        matches!(next(&mut stream).await.unwrap(), WatchEvent::Added(s) if s.labels()["app"] == "web")
    );
    match next(&mut stream).await.unwrap() {
        WatchEvent::Deleted(s) => assert_eq!(s.labels()["app"], "web"),
        other => panic!("expected DELETED, got {other:?}"),
    }
}

#[tokio::test]
async fn metadata_watcher_gets_metadata_only() {
    let (server, client) = start().await;
    let api: Api<Secret> = Api::namespaced(client.clone(), "ns");
    let mut with_data = secret("a", "Opaque");
    with_data.string_data = None;
    with_data.data = Some([("key".to_owned(), k8s_openapi::ByteString(b"value".to_vec()))].into());
    api.create(&PostParams::default(), &with_data)
        .await
        .unwrap();
    let metadata: Api<PartialObjectMeta<Secret>> = Api::namespaced(client.clone(), "ns");
    let mut events = watcher(metadata, watcher::Config::default()).boxed();
    #[allow(deprecated)]
    let mut legacy =
        kube::runtime::metadata_watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(initial_names(&mut legacy).await, ["a"]);
    assert_eq!(initial_names(&mut events).await, ["a"]);
    server.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": "ns"}, "data": {"k": "dg=="}}));
    match next_ok(&mut events).await {
        Event::Apply(partial) => {
            assert_eq!(partial.name_any(), "b");
            let types = partial.types.unwrap();
            assert_eq!(
                (types.api_version.as_str(), types.kind.as_str()),
                ("meta.k8s.io/v1", "PartialObjectMetadata")
            );
        }
        other => panic!("expected Apply, got {other:?}"),
    }
    match next_ok(&mut legacy).await {
        Event::Apply(partial) => {
            assert_eq!(partial.name_any(), "b");
            let types = partial.types.unwrap();
            assert_eq!(
                (types.api_version.as_str(), types.kind.as_str()),
                ("meta.k8s.io/v1", "PartialObjectMetadata")
            );
        }
        other => panic!("expected Apply, got {other:?}"),
    }
    let raw = hyper::Request::get("/api/v1/namespaces/ns/secrets")
        .header(
            "accept",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )
        .body(Vec::new())
        .unwrap();
    let text = client.request_text(raw).await.unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert!(!text.contains("\"data\""), "{text}");
}

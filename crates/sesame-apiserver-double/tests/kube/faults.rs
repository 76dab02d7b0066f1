//! Injected faults: an unreachable server and dropped watch connections.

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::WatchParams;

use crate::support::{PATIENCE, create_services, start};

#[tokio::test]
async fn unreachable_server_fails_requests_until_it_is_back() {
    let (server, client) = start().await;
    create_services(&client, &["a"]).await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    server.set_unreachable(true);
    let error = api.get("a").await.unwrap_err();
    assert!(!matches!(error, kube::Error::Api(_)), "{error:?}");
    server.set_unreachable(false);
    assert!(api.get("a").await.is_ok());
}

#[tokio::test]
async fn dropped_connections_end_watch_streams_abruptly() {
    let (server, client) = start().await;
    let api: Api<Service> = Api::namespaced(client, "ns");
    let mut stream = api
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    server.drop_connections();
    let end = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");
}

#[test]
fn the_handle_can_be_shared_between_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<sesame_apiserver_double::ApiServer>();
}

//! Shared setup: a started double and a kube client pointed at it.

use std::fmt::Debug;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, Config};
use sesame_apiserver_double::ApiServer;

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start() -> (ApiServer, Client) {
    let server = ApiServer::start().await.expect("start the double");
    let config = Config::new(server.url().parse().expect("a valid url"));
    let client = Client::try_from(config).expect("a client");
    (server, client)
}

pub fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("ns".into()),
        ..ObjectMeta::default()
    }
}

pub fn service(name: &str) -> Service {
    Service {
        metadata: meta(name),
        ..Service::default()
    }
}

pub fn secret(name: &str, type_: &str) -> Secret {
    Secret {
        metadata: meta(name),
        type_: Some(type_.into()),
        ..Secret::default()
    }
}

pub async fn create_services(client: &Client, names: &[&str]) {
    let api: Api<Service> = Api::namespaced(client.clone(), "ns");
    for name in names {
        api.create(&PostParams::default(), &service(name))
            .await
            .expect("create a service");
    }
}

/// The next item of a stream, failing the test if it takes longer than [`PATIENCE`].
pub async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item
where
    S::Item: Debug,
{
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("the stream produced nothing in time")
        .expect("the stream ended")
}

pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

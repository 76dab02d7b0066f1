//! The Gateway API streams against the API-server double: real HTTP, a real kube client.

use std::time::Duration;

use serde_json::json;
use sesame_apiserver_double::{ApiServer, Resource as Served};
use sesame_dag::{Change, Kind, Object};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::super::{ApiHealth, WatchConfig, run};
use crate::SourceEvent;

/// How long to wait for something expected to happen eventually.
const EVENTUALLY: Duration = Duration::from_secs(10);

fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("url"));
    kube::Client::try_from(config).expect("client")
}

/// Receives events until one satisfies `found`; panics after [`EVENTUALLY`].
async fn until(
    events: &mut mpsc::Receiver<SourceEvent>,
    seen: &mut Vec<SourceEvent>,
    found: impl Fn(&SourceEvent) -> bool,
) {
    let wait = async {
        while let Some(event) = events.recv().await {
            let done = found(&event);
            seen.push(event);
            if done {
                return;
            }
        }
    };
    if timeout(EVENTUALLY, wait).await.is_err() {
        panic!("never came; seen: {seen:#?}");
    }
}

fn applies(event: &SourceEvent, kind: Kind) -> Vec<&Object> {
    match event {
        SourceEvent::Changes(changes) => (changes.iter())
            .filter_map(|c| match c {
                Change::Apply(o) if o.key().kind == kind => Some(o),
                _ => None,
            })
            .collect(),
        SourceEvent::Synced => Vec::new(),
    }
}

#[tokio::test]
async fn missing_crds_sync_as_empty_and_are_watched_once_installed() {
    let api = ApiServer::without(&Served::GATEWAY_API)
        .await
        .expect("api server");
    api.apply(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team", "labels": {"env": "prod"}, "annotations": {"note": "x"}},
    }));
    let (tx, mut events) = mpsc::channel(16);
    let (_requests_tx, requests) = mpsc::channel(1);
    let (health, _) = watch::channel(ApiHealth::default());
    let config = WatchConfig {
        gateway: true,
        crd_recheck: Duration::from_millis(200),
        ..WatchConfig::default()
    };
    let source = tokio::spawn(run(client(&api.url()), config, tx, requests, health));

    let mut seen = Vec::new();
    until(&mut events, &mut seen, |e| *e == SourceEvent::Synced).await;
    let namespaces: Vec<&Object> = seen
        .iter()
        .flat_map(|e| applies(e, Kind::Namespace))
        .collect();
    let [Object::Namespace(team)] = namespaces.as_slice() else {
        panic!("one Namespace: {seen:#?}");
    };
    assert_eq!(team.metadata.name.as_deref(), Some("team"));
    assert_eq!(
        team.metadata.labels.as_ref().and_then(|l| l.get("env")),
        Some(&"prod".to_string())
    );
    assert_eq!(team.metadata.annotations, None, "name and labels only");

    api.install(&Served::GATEWAY_API);
    api.apply(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "team"},
        "spec": {"parentRefs": [{"name": "gw"}]},
    }));
    until(&mut events, &mut seen, |e| {
        !applies(e, Kind::HTTPRoute).is_empty()
    })
    .await;
    source.abort();
}

//! The API-server source: kube-rs watchers on every kind Sesame reads, turned into
//! [`Change`]s for the rebuild loop.
//!
//! One task owns all the state: the per-stream relist state ([`relist`]) and the Secret index
//! ([`secrets`]). Watch streams are merged and handled one event at a time; a relist is sent as
//! one batch; [`SourceEvent::Synced`] goes out once every stream has completed its first list.
//! Broken watches are resumed by kube-rs with backoff, and a `410 Gone` becomes a relist.

mod gateway;
mod relist;
mod secrets;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, SelectAll, StreamExt};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use sesame_api::{ExtensionService, HTTPProxy, TLSCertificateDelegation};
use sesame_dag::{Change, Kind, NamespacedName, Object, ObjectKey};
use tokio::sync::{mpsc, oneshot, watch};

use crate::decode::trim;
use crate::source::SourceEvent;
use relist::{StreamState, Update};
use secrets::{Fetched, SecretIndex};

/// Secrets Sesame never lists: Helm release records and service-account tokens.
pub const SECRET_FIELD_SELECTOR: &str =
    "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token";

/// How long one Secret fetch may take before it is given up (and retried on the next build).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// How many Secrets are fetched at once.
const FETCH_CONCURRENCY: usize = 16;

/// How often a Gateway API kind whose CRD is not installed is listed again.
pub const CRD_RECHECK: Duration = Duration::from_secs(60);

/// What the API-server source watches.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// Limit every watch to these namespaces; empty: all namespaces.
    pub namespaces: Vec<String>,
    /// Watch the Gateway API kinds and Namespaces (the config has a `gateway` section).
    pub gateway: bool,
    /// How often a kind whose CRD is not installed is listed again.
    pub crd_recheck: Duration,
}

impl Default for WatchConfig {
    /// All namespaces, no Gateway API, CRDs rechecked every [`CRD_RECHECK`] (a minute:
    /// installing CRDs is rare, and a list a minute per missing kind costs the API server
    /// nothing).
    fn default() -> Self {
        WatchConfig {
            namespaces: Vec::new(),
            gateway: false,
            crd_recheck: CRD_RECHECK,
        }
    }
}

/// A request from the rebuild loop: the Secrets its last build referenced. The source fetches
/// those it does not hold, sends them as changes, then answers on `done`.
#[derive(Debug)]
pub struct SecretRequest {
    /// Every Secret the build looked up.
    pub wanted: BTreeSet<NamespacedName>,
    /// Answered once the fetched Secrets have been sent (or could not be fetched).
    pub done: oneshot::Sender<()>,
}

/// How the connection to the API server is doing, for `/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApiHealth {
    /// Every watch has completed its first list.
    pub synced: bool,
    /// The last request to the API server succeeded.
    pub reachable: bool,
    /// The last error, if the API server is unreachable.
    pub last_error: Option<String>,
    /// Secrets listed (metadata only).
    pub secrets_known: usize,
    /// Secrets held with their data, because a build references them.
    pub secrets_loaded: usize,
}

/// Why the source stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rebuild loop is gone.
    #[error("the rebuild loop stopped receiving changes")]
    Closed,
}

/// One item of the merged watch streams.
enum Item {
    /// An event of an object stream.
    Object(
        usize,
        Result<Event<(NamespacedName, Object)>, watcher::Error>,
    ),
    /// An event of a Secret metadata stream.
    SecretMeta(
        usize,
        Result<Event<(NamespacedName, String)>, watcher::Error>,
    ),
    /// An object stream's kind is not served (its CRD is not installed): it lists as empty.
    Missing(usize),
}

/// Watches the API server until the rebuild loop goes away.
pub async fn run(
    client: Client,
    config: WatchConfig,
    events: mpsc::Sender<SourceEvent>,
    mut requests: mpsc::Receiver<SecretRequest>,
    health: watch::Sender<ApiHealth>,
) -> Result<(), Error> {
    let (mut streams, kinds, secret_streams) = streams(&client, &config);
    let mut object_states: Vec<StreamState<Object>> =
        kinds.iter().map(|_| StreamState::default()).collect();
    let mut secret_states: Vec<StreamState<String>> = (0..secret_streams)
        .map(|_| StreamState::default())
        .collect();
    let mut index = SecretIndex::default();
    let mut synced = false;
    // The kinds found not installed, each with the streams that found it so.
    let mut missing: BTreeMap<Kind, BTreeSet<usize>> = BTreeMap::new();
    loop {
        tokio::select! {
            item = streams.next() => {
                let Some(item) = item else { return Ok(()) };
                let (changes, fetch) = match item {
                    Item::Object(id, Ok(event)) => {
                        reachable(&health);
                        installed(&mut missing, kinds[id], id);
                        let updates = object_states[id].on_event(event);
                        (object_changes(kinds[id], updates), Vec::new())
                    }
                    Item::Missing(id) => {
                        reachable(&health);
                        not_installed(&mut missing, kinds[id], id, config.crd_recheck);
                        let state = &mut object_states[id];
                        let mut updates = state.on_event(Event::Init);
                        updates.extend(state.on_event(Event::InitDone));
                        (object_changes(kinds[id], updates), Vec::new())
                    }
                    Item::SecretMeta(id, Ok(event)) => {
                        reachable(&health);
                        let work = index.on_updates(secret_states[id].on_event(event));
                        (work.changes, work.fetch)
                    }
                    Item::Object(_, Err(e)) | Item::SecretMeta(_, Err(e)) => {
                        unreachable_now(&health, &e);
                        continue;
                    }
                };
                let mut changes = changes;
                changes.extend(fetch_secrets(&client, &mut index, fetch).await);
                send(&events, changes).await?;
                if !synced
                    && object_states.iter().all(StreamState::synced)
                    && secret_states.iter().all(StreamState::synced)
                {
                    synced = true;
                    health.send_modify(|h| h.synced = true);
                    tracing::info!("every watch has completed its initial list");
                    events.send(SourceEvent::Synced).await.map_err(|_| Error::Closed)?;
                }
                count_secrets(&health, &index);
            }
            request = requests.recv() => {
                let Some(request) = request else { return Ok(()) };
                let work = index.want(request.wanted);
                let mut changes = work.changes;
                changes.extend(fetch_secrets(&client, &mut index, work.fetch).await);
                send(&events, changes).await?;
                count_secrets(&health, &index);
                let _ = request.done.send(());
            }
        }
    }
}

/// The merged watch streams, the kind of each object stream, and the number of Secret streams.
fn streams(
    client: &Client,
    config: &WatchConfig,
) -> (SelectAll<BoxStream<'static, Item>>, Vec<Kind>, usize) {
    let mut all = SelectAll::new();
    let mut kinds = Vec::new();
    let namespaces: Vec<Option<&str>> = if config.namespaces.is_empty() {
        vec![None]
    } else {
        config.namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let default = watcher::Config::default();
    let mut push =
        |kinds: &mut Vec<Kind>, kind: Kind, make: &dyn Fn(usize) -> BoxStream<'static, Item>| {
            all.push(make(kinds.len()));
            kinds.push(kind);
        };
    // IngressClasses are cluster-scoped: one watch whatever the namespaces.
    push(&mut kinds, Kind::IngressClass, &|id| {
        objects::<IngressClass>(Api::all(client.clone()), default.clone(), id, |o| {
            Object::IngressClass(Arc::new(o))
        })
    });
    for ns in &namespaces {
        let ns = *ns;
        push(&mut kinds, Kind::Ingress, &|id| {
            objects::<Ingress>(api(client, ns), default.clone(), id, |o| {
                Object::Ingress(Arc::new(o.into()))
            })
        });
        push(&mut kinds, Kind::Service, &|id| {
            objects::<Service>(api(client, ns), default.clone(), id, |o| {
                Object::Service(Arc::new(o.into()))
            })
        });
        push(&mut kinds, Kind::EndpointSlice, &|id| {
            objects::<EndpointSlice>(api(client, ns), default.clone(), id, |o| {
                Object::EndpointSlice(Arc::new(o.into()))
            })
        });
        push(&mut kinds, Kind::HTTPProxy, &|id| {
            objects::<HTTPProxy>(api(client, ns), default.clone(), id, |o| {
                Object::HTTPProxy(Arc::new(o))
            })
        });
        push(&mut kinds, Kind::TLSCertificateDelegation, &|id| {
            objects::<TLSCertificateDelegation>(api(client, ns), default.clone(), id, |o| {
                Object::TLSCertificateDelegation(Arc::new(o))
            })
        });
        push(&mut kinds, Kind::ExtensionService, &|id| {
            objects::<ExtensionService>(api(client, ns), default.clone(), id, |o| {
                Object::ExtensionService(Arc::new(o))
            })
        });
    }
    if config.gateway {
        let settings = gateway::Settings {
            watcher: default.clone(),
            recheck: config.crd_recheck,
        };
        for watched in &gateway::WATCHED {
            let scopes: &[Option<&str>] = if watched.namespaced {
                &namespaces
            } else {
                &[None]
            };
            for ns in scopes {
                push(&mut kinds, watched.kind, &|id| {
                    (watched.start)(client, *ns, &settings, id)
                });
            }
        }
    }
    let secret_config = watcher::Config::default().fields(SECRET_FIELD_SELECTOR);
    let mut secret_streams = 0;
    for ns in &namespaces {
        let api: Api<PartialObjectMeta<Secret>> = api(client, *ns);
        let id = secret_streams;
        secret_streams += 1;
        all.push(
            watcher(api, secret_config.clone())
                .map(move |r| {
                    Item::SecretMeta(
                        id,
                        r.map(|event| {
                            map_event(event, |meta: PartialObjectMeta<Secret>| {
                                let version =
                                    meta.metadata.resource_version.clone().unwrap_or_default();
                                (NamespacedName::of(&meta.metadata), version)
                            })
                        }),
                    )
                })
                .boxed(),
        );
    }
    (all, kinds, secret_streams)
}

/// An `Api` over one namespace, or all.
fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A watcher with backoff, resuming after errors.
fn watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl futures::Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher::watcher(api, config).default_backoff()
}

/// One object stream: watched, trimmed, and wrapped as an [`Object`].
fn objects<K>(
    api: Api<K>,
    config: watcher::Config,
    id: usize,
    wrap: fn(K) -> Object,
) -> BoxStream<'static, Item>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(api, config)
        .map(move |r| {
            Item::Object(
                id,
                r.map(|event| {
                    map_event(event, |mut object: K| {
                        trim(object.meta_mut());
                        let object = wrap(object);
                        (object.key().name, object)
                    })
                }),
            )
        })
        .boxed()
}

/// A stream of `kind` found it not installed: warn once for the kind.
fn not_installed(
    missing: &mut BTreeMap<Kind, BTreeSet<usize>>,
    kind: Kind,
    stream: usize,
    recheck: Duration,
) {
    let streams = missing.entry(kind).or_default();
    if streams.is_empty() {
        tracing::warn!(
            kind = kind.as_str(),
            recheck_secs = recheck.as_secs_f64(),
            "the API server does not serve this kind (its CRD is not installed): treating it as empty and checking again periodically"
        );
    }
    streams.insert(stream);
}

/// A stream of `kind` listed it: the kind is installed now, if it was missing.
fn installed(missing: &mut BTreeMap<Kind, BTreeSet<usize>>, kind: Kind, stream: usize) {
    if let Some(streams) = missing.get_mut(&kind)
        && streams.remove(&stream)
        && streams.is_empty()
    {
        missing.remove(&kind);
        tracing::info!(
            kind = kind.as_str(),
            "the API server serves this kind now: watching it"
        );
    }
}

fn map_event<K, V>(event: Event<K>, f: impl FnOnce(K) -> V) -> Event<V> {
    match event {
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
        Event::InitApply(k) => Event::InitApply(f(k)),
        Event::Apply(k) => Event::Apply(f(k)),
        Event::Delete(k) => Event::Delete(f(k)),
    }
}

fn object_changes(kind: Kind, updates: Vec<Update<Object>>) -> Vec<Change> {
    updates
        .into_iter()
        .map(|u| match u {
            Update::Apply(_, object) => Change::Apply(object),
            Update::Delete(name) => Change::Delete(ObjectKey::new(kind, name)),
        })
        .collect()
}

/// Fetches Secrets' data, a few at a time, and records what is now held.
async fn fetch_secrets(
    client: &Client,
    index: &mut SecretIndex,
    names: Vec<NamespacedName>,
) -> Vec<Change> {
    if names.is_empty() {
        return Vec::new();
    }
    let fetched: Vec<(NamespacedName, Result<Option<Secret>, String>)> = stream::iter(names)
        .map(|name| {
            let api: Api<Secret> = Api::namespaced(client.clone(), &name.namespace);
            async move {
                let result =
                    match tokio::time::timeout(FETCH_TIMEOUT, api.get_opt(&name.name)).await {
                        Ok(Ok(secret)) => Ok(secret),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("timed out".to_string()),
                    };
                (name, result)
            }
        })
        .buffer_unordered(FETCH_CONCURRENCY)
        .collect()
        .await;
    let mut changes = Vec::new();
    for (name, result) in fetched {
        match result {
            Ok(Some(mut secret)) => {
                let version = secret.metadata.resource_version.clone().unwrap_or_default();
                if index.fetched(&name, Some(version)) == Fetched::Keep {
                    trim(&mut secret.metadata);
                    changes.push(Change::Apply(Object::Secret(Arc::new(secret))));
                }
            }
            Ok(None) => {
                if index.fetched(&name, None) == Fetched::Delete {
                    changes.push(Change::Delete(ObjectKey::new(Kind::Secret, name)));
                }
            }
            Err(error) => {
                tracing::warn!(secret = %name, %error, "cannot fetch a referenced Secret; will retry on the next build");
            }
        }
    }
    changes
}

async fn send(events: &mpsc::Sender<SourceEvent>, changes: Vec<Change>) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    events
        .send(SourceEvent::Changes(changes))
        .await
        .map_err(|_| Error::Closed)
}

fn reachable(health: &watch::Sender<ApiHealth>) {
    health.send_if_modified(|h| {
        let changed = !h.reachable || h.last_error.is_some();
        if changed && h.last_error.is_some() {
            tracing::info!("the API server is reachable again");
        }
        h.reachable = true;
        h.last_error = None;
        changed
    });
}

fn unreachable_now(health: &watch::Sender<ApiHealth>, error: &watcher::Error) {
    tracing::warn!(%error, "watch failed; retrying with backoff, serving the last good configuration");
    health.send_modify(|h| {
        h.reachable = false;
        h.last_error = Some(error.to_string());
    });
}

fn count_secrets(health: &watch::Sender<ApiHealth>, index: &SecretIndex) {
    let (known, loaded) = index.counts();
    health.send_if_modified(|h| {
        let changed = h.secrets_known != known || h.secrets_loaded != loaded;
        h.secrets_known = known;
        h.secrets_loaded = loaded;
        changed
    });
}

//! The Gateway API kinds, Namespaces and ConfigMaps, watched only when the config has a `gateway` section:
//! one table entry per kind, so that adding a kind is adding a row.
//!
//! The Gateway API kinds are CRDs a cluster may not have installed. A list answered `404 Not
//! Found` does not stall the source: the stream reports the kind missing (the loop treats it
//! as listed and empty), then lists again every `crd_recheck`, so CRDs installed later are
//! picked up without a restart.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::Api;
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use sesame_dag::{Kind, Object};
use sesame_gateway_api::{BackendTlsPolicy, GatewayClass};

use super::{Item, api, objects};
use crate::decode::{ca_only, labels_only};

/// How a watched kind's streams are started, per namespace or once for the cluster.
type Start = fn(&Client, Option<&str>, &Settings, usize) -> BoxStream<'static, Item>;

/// What every stream of the table shares.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    /// The watcher's configuration.
    pub watcher: watcher::Config,
    /// How long to wait before listing a missing kind again.
    pub recheck: Duration,
}

/// One watched kind.
pub(super) struct Watched {
    /// The kind.
    pub kind: Kind,
    /// Whether its objects live in namespaces (one stream per watched namespace).
    pub namespaced: bool,
    /// Starts one stream of it.
    pub start: Start,
}

/// Every kind watched for Gateway API, in the order the streams are opened.
pub(super) const WATCHED: [Watched; 11] = [
    Watched {
        kind: Kind::GatewayClass,
        namespaced: false,
        start: |c, _, s, id| {
            crd(Api::all(c.clone()), s, id, |mut o: GatewayClass| {
                o.metadata.namespace = None;
                Object::GatewayClass(Arc::new(o))
            })
        },
    },
    Watched {
        kind: Kind::Gateway,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::Gateway(Arc::new(o))),
    },
    Watched {
        kind: Kind::HTTPRoute,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::HTTPRoute(Arc::new(o))),
    },
    Watched {
        kind: Kind::GRPCRoute,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::GRPCRoute(Arc::new(o))),
    },
    Watched {
        kind: Kind::TLSRoute,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::TLSRoute(Arc::new(o))),
    },
    Watched {
        kind: Kind::TCPRoute,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::TCPRoute(Arc::new(o))),
    },
    Watched {
        kind: Kind::BackendTLSPolicy,
        namespaced: true,
        start: |c, ns, s, id| {
            crd(api(c, ns), s, id, |o: BackendTlsPolicy| {
                Object::BackendTLSPolicy(Arc::new(o))
            })
        },
    },
    Watched {
        kind: Kind::ListenerSet,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::ListenerSet(Arc::new(o))),
    },
    Watched {
        kind: Kind::ReferenceGrant,
        namespaced: true,
        start: |c, ns, s, id| crd(api(c, ns), s, id, |o| Object::ReferenceGrant(Arc::new(o))),
    },
    // Namespaces for `allowedRoutes.namespaces.selector`: their names and labels only.
    Watched {
        kind: Kind::Namespace,
        namespaced: false,
        start: |c, _, s, id| {
            objects(
                Api::<Namespace>::all(c.clone()),
                s.watcher.clone(),
                id,
                |n| Object::Namespace(Arc::new(labels_only(n))),
            )
        },
    },
    // ConfigMaps for `caCertificateRefs` (BackendTLSPolicy, frontend client certificate
    // validation): their names and `ca.crt` only.
    Watched {
        kind: Kind::ConfigMap,
        namespaced: true,
        start: |c, ns, s, id| {
            objects(api::<ConfigMap>(c, ns), s.watcher.clone(), id, |m| {
                Object::ConfigMap(Arc::new(ca_only(m)))
            })
        },
    },
];

/// Where a CRD stream stands.
enum Phase {
    /// Watching (listing first).
    Watching(BoxStream<'static, Item>),
    /// The last list found no such resource: wait, then list again.
    Missing,
}

/// The stream of a kind that may not be installed: its objects, or [`Item::Missing`] after a
/// `404` on list, then a new attempt every `recheck`.
fn crd<K>(
    api: Api<K>,
    settings: &Settings,
    id: usize,
    wrap: fn(K) -> Object,
) -> BoxStream<'static, Item>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let recheck = settings.recheck;
    let config = settings.watcher.clone();
    let watch = move || objects(api.clone(), config.clone(), id, wrap);
    let first = Phase::Watching(watch());
    stream::unfold(first, move |phase| {
        let watch = watch.clone();
        async move {
            let mut inner = match phase {
                Phase::Watching(inner) => inner,
                Phase::Missing => {
                    tokio::time::sleep(recheck).await;
                    watch()
                }
            };
            match inner.next().await? {
                Item::Object(id, Err(e)) if not_installed(&e) => {
                    Some((Item::Missing(id), Phase::Missing))
                }
                item => Some((item, Phase::Watching(inner))),
            }
        }
    })
    .boxed()
}

/// Whether a watch error says the resource does not exist (its CRD is not installed).
pub(super) fn not_installed(error: &watcher::Error) -> bool {
    matches!(
        error,
        watcher::Error::InitialListFailed(kube::Error::Api(status))
            if status.is_not_found()
    )
}

#[cfg(test)]
mod tests;

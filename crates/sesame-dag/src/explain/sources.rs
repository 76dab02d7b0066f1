//! Provenance: which Kubernetes objects an xDS resource was built from. A pure function of the
//! DAG, for `sesame cli sources`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::dag::{Dag, RouteAction, VirtualHost};
use crate::object::{Kind, ObjectKey};

/// The prefix of the route configuration of a secure host (`https/<host>`).
const HTTPS_ROUTES: &str = "https/";
/// The route configuration and listener of the plain-HTTP hosts.
const HTTP_ROUTES: &str = "ingress_http";

/// A resource to trace, by its xDS type and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A cluster, by name.
    Cluster(String),
    /// A TLS secret, by SDS name.
    Secret(String),
    /// A route configuration: `ingress_http` or `https/<host>`.
    RouteConfiguration(String),
    /// A virtual host, by host name (plain HTTP first, then HTTPS).
    VirtualHost(String),
}

/// The objects behind a resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    /// Whether the DAG has the resource at all.
    pub found: bool,
    /// The objects, each once, in key order.
    pub objects: BTreeSet<ObjectKey>,
}

/// The objects `resource` was built from: the Ingresses and HTTPProxies whose routes make it or
/// use it, and the Service or Secret it stands for.
pub fn sources(dag: &Dag, resource: &Resource) -> Sources {
    let mut objects = BTreeSet::new();
    let found = match resource {
        Resource::Cluster(name) => match dag.clusters.get(name) {
            Some(cluster) => {
                objects.insert(ObjectKey::new(Kind::Service, cluster.service.clone()));
                for host in hosts(dag) {
                    for route in &host.routes {
                        if let RouteAction::Forward(forward) = &route.action
                            && forward.clusters.iter().any(|c| &c.name == name)
                        {
                            objects.insert(route.origin.clone());
                        }
                    }
                }
                true
            }
            None => false,
        },
        Resource::Secret(name) => match dag.secrets.get(name) {
            Some(secret) => {
                objects.insert(ObjectKey::new(Kind::Secret, secret.source.clone()));
                for host in dag.https.values() {
                    let uses = &host.secret == name
                        || (host.fallback_certificate
                            && dag.fallback_secret.as_ref() == Some(name));
                    if uses {
                        origins(&host.virtual_host, &mut objects);
                    }
                }
                true
            }
            None => false,
        },
        Resource::RouteConfiguration(name) if name == HTTP_ROUTES => {
            dag.http.values().for_each(|h| origins(h, &mut objects));
            true
        }
        Resource::RouteConfiguration(name) => {
            match name
                .strip_prefix(HTTPS_ROUTES)
                .and_then(|h| dag.https.get(h))
            {
                Some(host) => {
                    origins(&host.virtual_host, &mut objects);
                    true
                }
                None => false,
            }
        }
        Resource::VirtualHost(name) => {
            match dag
                .http
                .get(name)
                .or_else(|| dag.https.get(name).map(|h| &h.virtual_host))
            {
                Some(host) => {
                    origins(host, &mut objects);
                    true
                }
                None => false,
            }
        }
    };
    Sources { found, objects }
}

fn hosts(dag: &Dag) -> impl Iterator<Item = &VirtualHost> {
    dag.http
        .values()
        .chain(dag.https.values().map(|h| &h.virtual_host))
}

fn origins(host: &VirtualHost, objects: &mut BTreeSet<ObjectKey>) {
    objects.extend(host.routes.iter().map(|r| r.origin.clone()));
}

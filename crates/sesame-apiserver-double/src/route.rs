//! URL paths to targets: `/version`, collections and objects (optionally `/status`) of the
//! served kinds, under `/api/v1` and `/apis/{group}/{version}`.

use crate::resources::Resource;
use crate::store::Subresource;

#[cfg(test)]
mod tests;

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `GET /version`.
    Version,
    /// A collection, in one namespace or across all of them (or cluster-scoped).
    Collection {
        /// The kind.
        resource: Resource,
        /// The namespace from the path.
        namespace: Option<String>,
    },
    /// One object, or its status subresource.
    Object {
        /// The kind.
        resource: Resource,
        /// The namespace from the path (`None` for cluster-scoped kinds).
        namespace: Option<String>,
        /// The name.
        name: String,
        /// Which part the request targets.
        sub: Subresource,
    },
}

impl Target {
    /// The kind the target names, if any.
    pub fn resource(&self) -> Option<Resource> {
        match self {
            Target::Version => None,
            Target::Collection { resource, .. } | Target::Object { resource, .. } => {
                Some(*resource)
            }
        }
    }
}

fn object(
    resource: Resource,
    namespace: Option<&str>,
    name: &str,
    rest: &[&str],
) -> Option<Target> {
    let sub = match rest {
        [] => Subresource::Main,
        ["status"] => Subresource::Status,
        _ => return None,
    };
    let namespace = namespace.map(str::to_owned);
    Some(Target::Object {
        resource,
        namespace,
        name: name.to_owned(),
        sub,
    })
}

/// The target of `path` (without query), or `None` for anything the double does not serve.
pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Some(Target::Version),
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let lookup = |plural: &str| Resource::from_path(group, version, plural);
    let scoped = |plural: &str, namespaced: bool| {
        lookup(plural).filter(|r| r.descriptor().namespaced == namespaced)
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] if scoped(plural, true).is_some() => {
            let resource = scoped(plural, true)?;
            match tail {
                [] => Some(Target::Collection {
                    resource,
                    namespace: Some((*ns).to_owned()),
                }),
                [name, rest @ ..] => object(resource, Some(ns), name, rest),
            }
        }
        [plural] => {
            let resource = lookup(plural)?;
            Some(Target::Collection {
                resource,
                namespace: None,
            })
        }
        [plural, name, rest @ ..] => object(scoped(plural, false)?, None, name, rest),
        _ => None,
    }
}

//! Sesame's pure core: objects in, a DAG and a status report out.
//!
//! Stage: `Change` → [`Snapshot`] → [`build()`] → [`Dag`] + [`StatusReport`]. Everything here is
//! synchronous, deterministic and free of I/O: no tokio, no kube client, no tonic, no clocks.
//! [`IncrementalBuild`] keeps that output up to date change by change, rebuilding only what
//! depends on the changed objects, with the same result as a full build.
//! The Envoy translation (`sesame-envoy`) reads the [`Dag`]; the xDS server never sees
//! Kubernetes objects.

pub mod build;
pub mod collections;
pub mod dag;
pub mod endpoints;
pub mod explain;
pub mod incremental;
pub mod object;
pub mod policy;
pub mod snapshot;
pub mod status;

mod annotation;
mod delegation;
pub mod extension;
mod external_name;
mod gateway;
pub mod global_rate_limit;
mod hostname;
mod httpproxy;
mod ingress;
mod path;
mod regex;
mod secret;
mod service;
mod vhost;

#[cfg(test)]
mod testutil;

pub use build::{BuildConfig, BuildOutput, GatewayConfig, UpstreamConfig, build};
pub use dag::Dag;
pub use incremental::{BuildDelta, IncrementalBuild};
pub use object::{Kind, NamespacedName, Object, ObjectKey};
pub use snapshot::{Change, Impact, Snapshot, Touched};
pub use status::StatusReport;

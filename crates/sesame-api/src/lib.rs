//! Sesame's API types: the custom resources (`HTTPProxy`, `TLSCertificateDelegation`, group
//! `projectsesame.io/v1`; `ExtensionService`, `projectsesame.io/v1alpha1`), their CRDs, and the configuration file schema.
//!
//! Stage: shared vocabulary for every other crate. Depends only on serde, schemars, k8s-openapi
//! and kube's core and derive crates; it must not depend on tokio, kube-client or tonic.

pub mod cidr;
pub mod condition;
pub mod config;
pub mod crd;
pub mod dns;
pub mod duration;
pub mod extensionservice;
pub mod header;
pub mod httpproxy;
pub mod tlscertificatedelegation;

pub use condition::{DetailedCondition, SubCondition};
pub use config::{Config, ConfigError};
pub use crd::{crds, crds_yaml};
pub use extensionservice::{ExtensionService, ExtensionServiceSpec, ExtensionServiceStatus};
pub use httpproxy::{HTTPProxy, HTTPProxySpec, HTTPProxyStatus};
pub use tlscertificatedelegation::{
    TLSCertificateDelegation, TLSCertificateDelegationSpec, TLSCertificateDelegationStatus,
};

/// For `skip_serializing_if`: leaves a `false` flag out, as Go's `omitempty` does.
fn is_false(value: &bool) -> bool {
    !*value
}

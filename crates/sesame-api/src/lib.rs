//! Sesame's API types: the configuration file schema (and, later, the CRDs).
//!
//! Stage: shared vocabulary for every other crate. Depends only on serde and schemars; it must
//! not depend on tokio, kube-client or tonic.

pub mod config;

pub use config::{Config, ConfigError};

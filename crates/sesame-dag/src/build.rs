//! `build`: the pure function from a [`Snapshot`] to a [`Dag`] and a [`StatusReport`].

use crate::dag::{Dag, TlsVersion};
use crate::snapshot::Snapshot;
use crate::status::StatusReport;

/// Installation-wide settings that shape the build.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildConfig {
    /// Ingress class names served (`--ingress-class-name`). Empty serves Ingresses with no class
    /// and with class `sesame`.
    pub ingress_class_names: Vec<String>,
    /// The lowest TLS version served unless an object asks for higher (config `tls.minimum-protocol-version`).
    pub min_tls_version: TlsVersion,
    /// The highest TLS version served unless an object asks for lower.
    pub max_tls_version: TlsVersion,
}

impl Default for BuildConfig {
    /// Contour's defaults: no class filter beyond `sesame`, TLS 1.2 to 1.3.
    fn default() -> Self {
        BuildConfig { ingress_class_names: Vec::new(), min_tls_version: TlsVersion::V1_2, max_tls_version: TlsVersion::V1_3 }
    }
}

/// What a build produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildOutput {
    /// What Envoy should serve.
    pub dag: Dag,
    /// The status of every object considered.
    pub status: StatusReport,
}

/// Builds the DAG and the status of every object from a snapshot. Pure, infallible and
/// deterministic: the same snapshot and config always give the same output.
pub fn build(snapshot: &Snapshot, config: &BuildConfig) -> BuildOutput {
    let _ = (snapshot, config);
    BuildOutput::default()
}

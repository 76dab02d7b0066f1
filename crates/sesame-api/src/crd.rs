//! The CustomResourceDefinitions of Sesame's API, generated from the Rust types so the installed
//! schema can never drift from what Sesame decodes. `examples/crds/sesame-crds.yaml` and its copy
//! among the install manifests, `examples/sesame/01-crds.yaml`, are this module's output,
//! checked by a test.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSON,
};
use kube_core::crd::v1::CustomResourceExt;

use crate::extensionservice::ExtensionService;
use crate::httpproxy::HTTPProxy;
use crate::tlscertificatedelegation::TLSCertificateDelegation;

/// The first line of [`crds_yaml`]: where the text comes from and how to refresh it.
pub const CRDS_YAML_HEADER: &str = "# Generated from sesame-api's Rust types by sesame_api::crds_yaml(); do not edit.\n\
# Refresh with: SESAME_UPDATE_CRDS=1 cargo test -p sesame-api crds\n";

/// Every CustomResourceDefinition Sesame reads, in a fixed order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut httpproxy = HTTPProxy::crd();
    set_status_default(&mut httpproxy);
    vec![
        httpproxy,
        TLSCertificateDelegation::crd(),
        ExtensionService::crd(),
    ]
}

/// The CRDs as one multi-document YAML text, for `kubectl apply -f`.
pub fn crds_yaml() -> String {
    let mut text = CRDS_YAML_HEADER.to_string();
    for crd in crds() {
        text.push_str("---\n");
        // A CRD is plain data with string keys; serializing it cannot fail.
        let doc = serde_saphyr::to_string(&crd).expect("a CustomResourceDefinition serializes");
        text.push_str(&doc);
        if !doc.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// Gives a new HTTPProxy the status Contour's CRD gives it, so `kubectl get httpproxy` shows
/// `NotReconciled` until Sesame writes the real one.
fn set_status_default(crd: &mut CustomResourceDefinition) {
    let status = crd
        .spec
        .versions
        .iter_mut()
        .filter_map(|v| v.schema.as_mut())
        .filter_map(|s| s.open_api_v3_schema.as_mut())
        .filter_map(|s| s.properties.as_mut())
        .filter_map(|p| p.get_mut("status"));
    for status in status {
        status.default = Some(JSON(serde_json::json!({
            "currentStatus": "NotReconciled",
            "description": "Waiting for controller",
        })));
    }
}

#[cfg(test)]
mod tests;

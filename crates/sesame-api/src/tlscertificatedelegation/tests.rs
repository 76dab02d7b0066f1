use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

const DELEGATION: &str = r#"
apiVersion: projectsesame.io/v1
kind: TLSCertificateDelegation
metadata:
  name: wildcard
  namespace: certs
spec:
  delegations:
  - secretName: example-com-wildcard
    targetNamespaces:
    - marketing
    - shop
  - secretName: shared
    targetNamespaces: ["*"]
status:
  conditions:
  - type: Valid
    status: "True"
    reason: Valid
    message: Valid TLSCertificateDelegation
"#;

#[test]
fn decodes_and_round_trips() {
    let delegation: TLSCertificateDelegation = serde_saphyr::from_str(DELEGATION).unwrap();
    assert_eq!(
        delegation.spec.delegations,
        [
            CertificateDelegation {
                secret_name: Some("example-com-wildcard".into()),
                target_namespaces: vec!["marketing".into(), "shop".into()],
            },
            CertificateDelegation {
                secret_name: Some("shared".into()),
                target_namespaces: vec!["*".into()],
            },
        ]
    );
    let status = delegation.status.as_ref().unwrap();
    assert_eq!(status.conditions[0].type_, "Valid");

    let value = serde_json::to_value(&delegation).unwrap();
    assert_eq!(value["apiVersion"], "projectsesame.io/v1");
    assert_eq!(value["kind"], "TLSCertificateDelegation");
    assert_eq!(
        value["spec"]["delegations"][1]["targetNamespaces"],
        json!(["*"])
    );
    let back: TLSCertificateDelegation = serde_json::from_value(value).unwrap();
    assert_eq!(back, delegation);
}

#[test]
fn empty_spec_and_unknown_fields_decode() {
    let delegation: TLSCertificateDelegation = serde_json::from_value(json!({
        "apiVersion": "projectsesame.io/v1",
        "kind": "TLSCertificateDelegation",
        "metadata": {"name": "d"},
        "spec": {"delegations": [{"secretName": "s", "somethingNew": 1}]},
    }))
    .unwrap();
    assert_eq!(
        delegation.spec.delegations[0].target_namespaces,
        Vec::<String>::new()
    );
}

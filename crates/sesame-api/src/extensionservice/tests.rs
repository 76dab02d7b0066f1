use pretty_assertions::assert_eq;

use super::*;

const EXTENSION: &str = r#"
apiVersion: projectsesame.io/v1alpha1
kind: ExtensionService
metadata:
  name: authz
  namespace: auth
spec:
  protocol: h2
  protocolVersion: v3
  services:
  - name: authz-a
    port: 9443
    weight: 80
  - name: authz-b
    port: 9443
  validation:
    caSecret: authz-ca
    subjectName: authz.auth
  timeoutPolicy:
    response: 1s
  loadBalancerPolicy:
    strategy: Random
status:
  conditions:
  - type: Valid
    status: "True"
    reason: Valid
    message: Valid ExtensionService
"#;

#[test]
fn decodes_contours_shape_and_round_trips() {
    let ext: ExtensionService = serde_saphyr::from_str(EXTENSION).unwrap();
    assert_eq!(ext.spec.services.len(), 2);
    assert_eq!(
        ext.spec.services[0],
        ExtensionServiceTarget {
            name: Some("authz-a".into()),
            port: Some(9443),
            weight: Some(80),
        }
    );
    let validation = ext.spec.upstream_validation.as_ref().unwrap();
    assert_eq!(validation.ca_secret.as_deref(), Some("authz-ca"));
    assert_eq!(ext.spec.protocol.as_deref(), Some("h2"));
    assert_eq!(ext.spec.protocol_version.as_deref(), Some("v3"));
    assert_eq!(
        ext.spec
            .timeout_policy
            .as_ref()
            .unwrap()
            .response
            .as_deref(),
        Some("1s")
    );
    assert_eq!(ext.status.as_ref().unwrap().conditions[0].reason, "Valid");
    let json = serde_json::to_value(&ext).unwrap();
    assert_eq!(json["spec"]["validation"]["subjectName"], "authz.auth");
    let back: ExtensionService = serde_json::from_value(json).unwrap();
    assert_eq!(back, ext);
}

use serde_json::json;

use super::*;

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_735_787_045), "2025-01-02T03:04:05Z");
}

#[test]
fn partial_keeps_only_metadata() {
    let secret = json!({"kind": "Secret", "metadata": {"name": "a"}, "data": {"k": "dg=="}});
    assert_eq!(
        partial(&secret),
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "a"}})
    );
}

#[test]
fn metadata_mut_creates_what_is_missing() {
    let mut object = json!(null);
    set_resource_version(&mut object, 7);
    assert_eq!(object, json!({"metadata": {"resourceVersion": "7"}}));
    assert_eq!(resource_version(&object), Some("7"));
}

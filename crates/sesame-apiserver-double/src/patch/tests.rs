use serde_json::json;

use super::*;

#[test]
fn merge_patch_follows_rfc_7386() {
    let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]});
    merge(
        &mut doc,
        &json!({"a": "z", "c": {"f": null}, "list": [3], "new": {"x": 1}}),
    );
    assert_eq!(
        doc,
        json!({"a": "z", "c": {"d": "e"}, "list": [3], "new": {"x": 1}})
    );
}

#[test]
fn merge_flavours_reject_non_objects() {
    let mut doc = json!({});
    assert!(apply(PatchKind::Merge, &mut doc, &json!([1])).is_err());
    assert!(apply(PatchKind::Apply, &mut doc, &json!({"spec": {}})).is_ok());
    assert_eq!(doc, json!({"spec": {}}));
}

#[test]
fn json_patch_operations() {
    let mut doc = json!({"metadata": {"labels": {"a/b": "1"}}, "spec": {"ports": [1, 3]}});
    let patch = json!([
        {"op": "test", "path": "/metadata/labels/a~1b", "value": "1"},
        {"op": "add", "path": "/spec/ports/1", "value": 2},
        {"op": "add", "path": "/spec/ports/-", "value": 4},
        {"op": "replace", "path": "/metadata/labels/a~1b", "value": "2"},
        {"op": "copy", "from": "/spec/ports", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/copy", "path": "/moved"},
        {"op": "remove", "path": "/spec/ports/0"}
    ]);
    assert_eq!(json_patch(&mut doc, &patch), Ok(()));
    assert_eq!(
        doc,
        json!({"metadata": {"labels": {"a/b": "2"}}, "spec": {"ports": [2, 3, 4]}, "moved": [1, 2, 3, 4]})
    );
}

#[test]
fn json_patch_failures() {
    let mut doc = json!({"a": 1});
    assert!(json_patch(&mut doc, &json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
    assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/b"}])).is_err());
    assert!(
        json_patch(
            &mut doc,
            &json!([{"op": "replace", "path": "/b", "value": 1}])
        )
        .is_err()
    );
    assert!(
        json_patch(
            &mut doc,
            &json!([{"op": "add", "path": "/x/y", "value": 1}])
        )
        .is_err()
    );
    assert!(json_patch(&mut doc, &json!({"op": "add"})).is_err());
    assert!(json_patch(&mut doc, &json!([{"op": "frobnicate", "path": "/a"}])).is_err());
}

#[test]
fn content_types() {
    assert_eq!(
        PatchKind::from_content_type("application/merge-patch+json; charset=utf-8"),
        Some(PatchKind::Merge)
    );
    assert_eq!(
        PatchKind::from_content_type("application/apply-patch+yaml"),
        Some(PatchKind::Apply)
    );
    assert_eq!(PatchKind::from_content_type("application/json"), None);
}

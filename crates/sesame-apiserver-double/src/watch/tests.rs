use serde_json::json;

use super::*;
use crate::resources::Resource;
use crate::selector::LabelSelector;

fn secret(app: &str, rv: u64) -> Value {
    json!({"metadata": {"name": "s", "namespace": "ns", "labels": {"app": app}, "resourceVersion": rv.to_string()}})
}

fn event(kind: EventType, object: Value, previous: Option<Value>, rv: u64) -> Event {
    Event {
        rv,
        resource: Resource::Secret,
        kind,
        object,
        previous,
    }
}

fn web_filter() -> Filter {
    let mut filter = Filter::all(Resource::Secret, None);
    filter.labels = LabelSelector::parse("app=web").unwrap_or_default();
    filter
}

#[test]
fn selector_transitions() {
    let filter = web_filter();
    let web = secret("web", 1);
    let api = secret("api", 2);
    let leaves = event(EventType::Modified, api.clone(), Some(web.clone()), 2);
    let (t, object) = translate(&leaves, &filter).unwrap_or(("none", json!(null)));
    assert_eq!(t, "DELETED");
    assert_eq!(object.pointer("/metadata/labels/app"), Some(&json!("web")));
    assert_eq!(meta::resource_version(&object), Some("2"));

    let joins = event(EventType::Modified, web.clone(), Some(api.clone()), 3);
    assert_eq!(translate(&joins, &filter).map(|(t, _)| t), Some("ADDED"));
    let stays = event(EventType::Modified, web.clone(), Some(web.clone()), 4);
    assert_eq!(translate(&stays, &filter).map(|(t, _)| t), Some("MODIFIED"));
    let outside = event(EventType::Modified, api.clone(), Some(api.clone()), 5);
    assert_eq!(translate(&outside, &filter), None);
    assert_eq!(
        translate(&event(EventType::Deleted, api, None, 6), &filter),
        None
    );
    assert_eq!(
        translate(&event(EventType::Added, web, None, 7), &filter).map(|(t, _)| t),
        Some("ADDED")
    );
}

#[test]
fn other_kinds_are_invisible() {
    let mut e = event(EventType::Added, secret("web", 1), None, 1);
    e.resource = Resource::ConfigMap;
    assert_eq!(translate(&e, &web_filter()), None);
}

#[test]
fn lines_and_bookmarks() {
    let request = WatchRequest {
        filter: web_filter(),
        bookmarks: true,
        timeout: None,
        metadata_only: false,
    };
    let bookmark = request.bookmark_line(9);
    assert!(bookmark.ends_with(b"}\n"));
    let parsed: Value = serde_json::from_slice(&bookmark).unwrap_or_default();
    let object =
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"resourceVersion": "9"}});
    assert_eq!(parsed, json!({"type": "BOOKMARK", "object": object}));
    let request = WatchRequest {
        metadata_only: true,
        ..request
    };
    let added = event(
        EventType::Added,
        json!({"metadata": {"labels": {"app": "web"}}, "data": {}}),
        None,
        1,
    );
    let line = request.event_line(&added).unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&line).unwrap_or_default();
    assert_eq!(parsed["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(parsed["object"].get("data"), None);
}

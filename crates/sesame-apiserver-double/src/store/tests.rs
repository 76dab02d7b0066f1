use serde_json::json;

use super::*;

fn service(name: &str, port: u16) -> Value {
    json!({"metadata": {"name": name}, "spec": {"ports": [{"port": port}]}})
}

fn key(name: &str) -> Key {
    Key::new(Resource::Service, Some("ns"), name)
}

fn rv(object: &Value) -> u64 {
    meta::resource_version(object)
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_default()
}

fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or_default()
}

#[test]
fn create_fills_in_server_fields() {
    let store = Store::default();
    let created = store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    assert_eq!(created["apiVersion"], "v1");
    assert_eq!(created["kind"], "Service");
    assert_eq!(created["metadata"]["namespace"], "ns");
    assert_eq!(generation(&created), 1);
    assert_eq!(rv(&created), 2);
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        store.create(Resource::Service, Some("ns"), service("a", 80)),
        Err(Error::AlreadyExists)
    );
    let nameless = json!({"metadata": {"generateName": "ev-"}});
    let generated = store
        .create(Resource::Event, Some("ns"), nameless)
        .unwrap_or_default();
    assert!(meta::name(&generated).starts_with("ev-") && meta::name(&generated).len() == 8);
    assert!(matches!(
        store.create(Resource::Service, Some("ns"), json!({})),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn status_is_dropped_on_create_for_kinds_with_a_status_subresource() {
    let store = Store::default();
    let mut ingress = service("i", 80);
    ingress["status"] = json!({"loadBalancer": {}});
    let created = store
        .create(Resource::Ingress, Some("ns"), ingress.clone())
        .unwrap_or_default();
    assert_eq!(created.get("status"), None);
    let created = store
        .create(Resource::Namespace, None, ingress)
        .unwrap_or_default();
    assert_eq!(created["status"], json!({"loadBalancer": {}}));
    assert_eq!(created["metadata"].get("namespace"), None);
}

#[test]
fn replace_bumps_generation_only_for_spec_changes() {
    let store = Store::default();
    let created = store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    let mut labelled = created.clone();
    labelled["metadata"]["labels"] = json!({"x": "y"});
    let labelled = store
        .replace(&key("a"), labelled, Subresource::Main)
        .unwrap_or_default();
    assert_eq!((rv(&labelled), generation(&labelled)), (3, 1));
    let changed = store
        .replace(&key("a"), service("a", 81), Subresource::Main)
        .unwrap_or_default();
    assert_eq!((rv(&changed), generation(&changed)), (4, 2));
    assert_eq!(changed["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(changed["metadata"].get("labels"), None);
    // No-op writes change nothing, not even the resource version.
    let same = store
        .replace(&key("a"), changed.clone(), Subresource::Main)
        .unwrap_or_default();
    assert_eq!(same, changed);
    assert_eq!(store.rv(), 4);
    assert_eq!(
        store.replace(&key("a"), created, Subresource::Main),
        Err(Error::Conflict)
    );
    assert_eq!(
        store.replace(&key("b"), service("b", 1), Subresource::Main),
        Err(Error::NotFound)
    );
}

#[test]
fn status_writes_touch_only_status() {
    let store = Store::default();
    store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    let mut body = service("a", 99);
    body["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
    let written = store
        .replace(&key("a"), body.clone(), Subresource::Status)
        .unwrap_or_default();
    assert_eq!(written["spec"]["ports"][0]["port"], 80);
    assert_eq!(written["status"], body["status"]);
    assert_eq!((rv(&written), generation(&written)), (3, 1));
    // The main resource keeps the stored status.
    let replaced = store
        .replace(&key("a"), service("a", 81), Subresource::Main)
        .unwrap_or_default();
    assert_eq!(replaced["status"], body["status"]);
    assert_eq!(generation(&replaced), 2);
    let secret = Key::new(Resource::Secret, Some("ns"), "s");
    assert_eq!(
        store.replace(&secret, json!({}), Subresource::Status),
        Err(Error::NotFound)
    );
}

#[test]
fn injected_status_conflicts() {
    let store = Store::default();
    let created = store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    store.fail_status_updates_with_conflict(1);
    let status = json!({"status": {"x": 1}});
    assert_eq!(
        store.replace(&key("a"), status.clone(), Subresource::Status),
        Err(Error::Conflict)
    );
    assert_eq!(store.get(&key("a")).map(|o| rv(&o)), Some(rv(&created) + 1));
    assert!(
        store
            .replace(&key("a"), status, Subresource::Status)
            .is_ok()
    );
}

#[test]
fn patches() {
    let store = Store::default();
    store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    let merge = json!({"metadata": {"labels": {"a": "b"}}, "status": {"ignored": true}});
    let patched = store
        .patch(&key("a"), PatchKind::Merge, &merge, Subresource::Main)
        .unwrap_or_default();
    assert_eq!(patched["metadata"]["labels"]["a"], "b");
    assert_eq!(patched.get("status"), None);
    let stale = json!({"metadata": {"resourceVersion": "1"}, "spec": {}});
    assert_eq!(
        store.patch(&key("a"), PatchKind::Merge, &stale, Subresource::Main),
        Err(Error::Conflict)
    );
    let json_patch = json!([{"op": "replace", "path": "/spec/ports/0/port", "value": 8080}]);
    let patched = store
        .patch(&key("a"), PatchKind::Json, &json_patch, Subresource::Main)
        .unwrap_or_default();
    assert_eq!(
        (
            patched["spec"]["ports"][0]["port"].as_i64(),
            generation(&patched)
        ),
        (Some(8080), 2)
    );
    let bad = json!([{"op": "test", "path": "/spec/ports/0/port", "value": 1}]);
    assert!(matches!(
        store.patch(&key("a"), PatchKind::Json, &bad, Subresource::Main),
        Err(Error::Invalid(_))
    ));
    let status = json!({"status": {"loadBalancer": {}}});
    let patched = store
        .patch(&key("a"), PatchKind::Merge, &status, Subresource::Status)
        .unwrap_or_default();
    assert_eq!(
        (patched["status"].clone(), generation(&patched)),
        (json!({"loadBalancer": {}}), 2)
    );
    assert_eq!(
        store.patch(&key("b"), PatchKind::Merge, &status, Subresource::Main),
        Err(Error::NotFound)
    );
    let applied = store
        .patch(
            &key("b"),
            PatchKind::Apply,
            &service("b", 1),
            Subresource::Main,
        )
        .unwrap_or_default();
    assert_eq!((meta::name(&applied), generation(&applied)), ("b", 1));
}

#[test]
fn delete_emits_an_event_with_a_new_resource_version() {
    let store = Store::default();
    let created = store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    let start = store.watch(Resource::Service, Some(1)).ok();
    let deleted = store.delete(&key("a"));
    assert_eq!(deleted.as_ref(), Ok(&created));
    assert_eq!(store.delete(&key("a")), Err(Error::NotFound));
    let event = start.and_then(|mut s| s.live.try_recv().ok());
    assert_eq!(
        event.map(|e| (e.kind, rv(&e.object))),
        Some((EventType::Deleted, 3))
    );
}

#[test]
fn list_pages_and_compaction() {
    let store = Store::default();
    for (ns, name) in [("b", "x"), ("a", "y"), ("a", "x")] {
        store
            .create(Resource::Service, Some(ns), service(name, 80))
            .unwrap_or_default();
    }
    store
        .create(Resource::Secret, Some("a"), service("s", 1))
        .unwrap_or_default();
    let filter = Filter::all(Resource::Service, None);
    let first = store
        .list(&filter, Some(2), None)
        .unwrap_or_else(|_| unreachable!());
    let names: Vec<_> = first
        .items
        .iter()
        .map(|o| (meta::namespace(o), meta::name(o)))
        .collect();
    assert_eq!(names, [("a", "x"), ("a", "y")]);
    assert_eq!(first.rv, 5);
    store
        .create(Resource::Service, Some("c"), service("z", 80))
        .unwrap_or_default();
    let second = store
        .list(&filter, Some(2), first.continue_token.as_deref())
        .unwrap_or_else(|_| unreachable!());
    let names: Vec<_> = second
        .items
        .iter()
        .map(|o| (meta::namespace(o), meta::name(o)))
        .collect();
    assert_eq!(
        (names, second.rv, second.continue_token.is_none()),
        (vec![("b", "x"), ("c", "z")], 5, true)
    );
    store.compact();
    assert_eq!(
        store.list(&filter, Some(2), first.continue_token.as_deref()),
        Err(ListError::Expired)
    );
    assert!(matches!(
        store.list(&filter, None, Some("junk")),
        Err(ListError::BadToken(_))
    ));
    assert_eq!(
        store
            .list(
                &Filter::all(Resource::Service, Some("a".into())),
                None,
                None
            )
            .map(|p| p.items.len()),
        Ok(2)
    );
}

#[test]
fn watch_replays_history_and_refuses_compacted_versions() {
    let store = Store::default();
    store
        .create(Resource::Service, Some("ns"), service("a", 80))
        .unwrap_or_default();
    store
        .create(Resource::Secret, Some("ns"), service("s", 80))
        .unwrap_or_default();
    store
        .create(Resource::Service, Some("ns"), service("b", 80))
        .unwrap_or_default();
    let start = store.watch(Resource::Service, Some(2)).ok();
    assert_eq!(
        start.map(|s| (s.replay.iter().map(|e| e.rv).collect::<Vec<_>>(), s.rv)),
        Some((vec![4], 4))
    );
    store.compact();
    assert_eq!(store.watch(Resource::Service, Some(3)).err(), Some(4));
    assert!(store.watch(Resource::Service, Some(4)).is_ok());
    assert!(
        store
            .watch(Resource::Service, None)
            .is_ok_and(|s| s.replay.is_empty())
    );
}

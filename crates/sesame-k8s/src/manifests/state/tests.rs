use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;
use sesame_dag::object::{Kind, NamespacedName, Object, ObjectKey};
use sesame_dag::snapshot::Change;

use super::*;
use crate::testutil::port_suffix;

const DIR_A: &str = "/manifests/a";
const DIR_B: &str = "/manifests/b";

fn state() -> ManifestState {
    ManifestState::new(vec![PathBuf::from(DIR_A), PathBuf::from(DIR_B)])
}

fn file(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(name)
}

fn service_yaml(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: {port}}}]}}\n"
    )
}

fn key(kind: Kind, ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(kind, NamespacedName::new(ns, name))
}

/// The changes as short strings: `+Service default/a:80` (apply, with the service's first
/// port) or `-Service default/a` (delete).
fn summary(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c {
            Change::Apply(o) => format!("+{}{}", o.key(), port_suffix(o)),
            Change::Delete(k) => format!("-{k}"),
        })
        .collect()
}

fn in_force(state: &ManifestState) -> Vec<String> {
    state
        .objects()
        .iter()
        .map(|o| format!("{}{}", o.key(), port_suffix(o)))
        .collect()
}

#[test]
fn multi_document_file_applies_every_object_in_key_order() {
    let mut state = state();
    let text = format!(
        "{}---\n{}---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web, namespace: shop}}\n",
        service_yaml("b", 80),
        service_yaml("a", 81)
    );
    let changes = state.reload_file(&file(DIR_A, "all.yaml"), Some(&text));
    assert_eq!(
        summary(&changes),
        vec![
            "+Ingress shop/web",
            "+Service default/a:81",
            "+Service default/b:80"
        ]
    );
}

#[test]
fn list_in_yaml_and_json() {
    let mut state = state();
    let yaml = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: y}}\n";
    let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"j"}}]}"#;
    let changes = state.reload_files([
        (file(DIR_A, "l.yml"), Some(yaml)),
        (file(DIR_A, "l.json"), Some(json)),
    ]);
    assert!(state.errors().is_empty(), "{:?}", state.errors());
    assert_eq!(
        summary(&changes),
        vec!["+Service default/j", "+Service default/y"]
    );
}

#[test]
fn unknown_kind_is_skipped_and_the_rest_applied() {
    let mut state = state();
    let text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\n---\n{}",
        service_yaml("a", 80)
    );
    let changes = state.reload_file(&file(DIR_A, "x.yaml"), Some(&text));
    assert_eq!(summary(&changes), vec!["+Service default/a:80"]);
    assert!(state.errors().is_empty());
}

#[test]
fn parse_error_keeps_previous_objects_then_recovers() {
    let mut state = state();
    let path = file(DIR_A, "svc.yaml");
    let good = format!("{}---\n{}", service_yaml("a", 80), service_yaml("b", 80));
    state.reload_file(&path, Some(&good));

    // Broken YAML: nothing changes, the error is recorded with its line.
    let broken = format!("{}---\nkind: [\n", service_yaml("a", 99));
    assert_eq!(
        summary(&state.reload_file(&path, Some(&broken))),
        Vec::<String>::new()
    );
    assert_eq!(
        in_force(&state),
        vec!["Service default/a:80", "Service default/b:80"]
    );
    let errors = state.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, path);
    assert!(errors[0].1.line() >= 6, "{}", errors[0].1);

    // A known kind that does not deserialize: same, and the line is the document's start.
    let undecodable = format!(
        "{}---\n{}",
        service_yaml("a", 99),
        "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: x}]}\n"
    );
    assert_eq!(
        summary(&state.reload_file(&path, Some(&undecodable))),
        Vec::<String>::new()
    );
    assert_eq!(state.errors()[0].1.line(), 6);
    assert_eq!(
        in_force(&state),
        vec!["Service default/a:80", "Service default/b:80"]
    );

    // Fixed: the diff is against the objects kept in force, and the error is gone.
    let fixed = service_yaml("a", 81);
    let changes = state.reload_file(&path, Some(&fixed));
    assert_eq!(
        summary(&changes),
        vec!["+Service default/a:81", "-Service default/b"]
    );
    assert!(state.errors().is_empty());
}

#[test]
fn a_file_broken_from_the_start_defines_nothing_until_fixed() {
    let mut state = state();
    let path = file(DIR_A, "svc.yaml");
    assert!(state.reload_file(&path, Some("a: [\n")).is_empty());
    assert_eq!(state.known_files(0), vec![path.clone()]);
    assert_eq!(
        summary(&state.reload_file(&path, Some(&service_yaml("a", 80)))),
        vec!["+Service default/a:80"]
    );
}

#[test]
fn modify_applies_only_changed_objects() {
    let mut state = state();
    let path = file(DIR_A, "svc.yaml");
    let v1 = format!(
        "{}---\n{}---\n{}",
        service_yaml("a", 80),
        service_yaml("b", 80),
        service_yaml("c", 80)
    );
    state.reload_file(&path, Some(&v1));
    // Reordered and with b changed: only b is applied.
    let v2 = format!(
        "{}---\n{}---\n{}",
        service_yaml("c", 80),
        service_yaml("b", 90),
        service_yaml("a", 80)
    );
    assert_eq!(
        summary(&state.reload_file(&path, Some(&v2))),
        vec!["+Service default/b:90"]
    );
    // The same text again: nothing.
    assert!(state.reload_file(&path, Some(&v2)).is_empty());
}

#[test]
fn deleted_file_deletes_its_objects() {
    let mut state = state();
    let path = file(DIR_A, "svc.yaml");
    state.reload_file(
        &path,
        Some(&format!(
            "{}---\n{}",
            service_yaml("a", 80),
            service_yaml("b", 80)
        )),
    );
    state.reload_file(&file(DIR_A, "other.yaml"), Some(&service_yaml("c", 80)));
    let changes = state.reload_file(&path, None);
    assert_eq!(
        summary(&changes),
        vec!["-Service default/a", "-Service default/b"]
    );
    assert_eq!(in_force(&state), vec!["Service default/c:80"]);
    assert_eq!(state.known_files(0), vec![file(DIR_A, "other.yaml")]);
    // Deleting it again, or a file never seen, changes nothing.
    assert!(state.reload_file(&path, None).is_empty());
    assert!(
        state
            .reload_file(&file(DIR_A, "never.yaml"), None)
            .is_empty()
    );
}

#[test]
fn deleting_a_broken_file_deletes_the_objects_it_kept() {
    let mut state = state();
    let path = file(DIR_A, "svc.yaml");
    state.reload_file(&path, Some(&service_yaml("a", 80)));
    state.reload_file(&path, Some("a: [\n"));
    assert_eq!(
        summary(&state.reload_file(&path, None)),
        vec!["-Service default/a"]
    );
    assert!(state.errors().is_empty());
}

#[test]
fn object_moved_between_files() {
    let mut state = state();
    let from = file(DIR_A, "one.yaml");
    let to = file(DIR_A, "two.yaml");
    state.reload_file(&from, Some(&service_yaml("a", 80)));

    // In one batch: nothing changes for the same definition.
    let changes = state.reload_files([
        (from.clone(), None),
        (to.clone(), Some(service_yaml("a", 80))),
    ]);
    assert!(changes.is_empty(), "{:?}", summary(&changes));
    assert_eq!(in_force(&state), vec!["Service default/a:80"]);

    // Back, in two steps with a change on the way: added to `one` first (which `two` shadows),
    // then removed from `two`.
    assert!(
        state
            .reload_file(&from, Some(&service_yaml("a", 81)))
            .is_empty()
    );
    assert_eq!(
        summary(&state.reload_file(&to, Some(""))),
        vec!["+Service default/a:81"]
    );
}

#[test]
fn duplicate_definitions_last_file_wins_and_deletes_fall_back() {
    let mut state = state();
    let a1 = file(DIR_A, "1.yaml");
    let a2 = file(DIR_A, "2.yaml");
    let b0 = file(DIR_B, "0.yaml");
    // Loaded in any order, the winner is the later directory, then the later name.
    let changes = state.reload_files([
        (b0.clone(), Some(service_yaml("s", 3))),
        (a2.clone(), Some(service_yaml("s", 2))),
        (a1.clone(), Some(service_yaml("s", 1))),
    ]);
    assert_eq!(summary(&changes), vec!["+Service default/s:3"]);

    // Editing a shadowed file changes nothing.
    assert!(
        state
            .reload_file(&a2, Some(&service_yaml("s", 22)))
            .is_empty()
    );
    // Deleting the winner falls back to the next one.
    assert_eq!(
        summary(&state.reload_file(&b0, None)),
        vec!["+Service default/s:22"]
    );
    // Deleting a shadowed file changes nothing.
    state.reload_file(&b0, Some(&service_yaml("s", 3)));
    assert!(state.reload_file(&a1, None).is_empty());
    assert!(state.reload_file(&a2, None).is_empty());
    assert_eq!(
        summary(&state.reload_file(&b0, None)),
        vec!["-Service default/s"]
    );
}

#[test]
fn duplicate_definitions_are_deterministic_in_any_load_order() {
    let files = [
        (file(DIR_B, "a.yaml"), service_yaml("s", 3)),
        (file(DIR_A, "z.yaml"), service_yaml("s", 2)),
        (file(DIR_A, "y.json"), r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":1}]}}"#.to_string()),
    ];
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]] {
        let mut state = state();
        for i in order {
            state.reload_file(&files[i].0, Some(&files[i].1));
        }
        assert_eq!(in_force(&state), vec!["Service default/s:3"], "{order:?}");
    }
}

#[test]
fn same_directory_twice_keeps_its_first_position() {
    let state = ManifestState::new(vec![
        PathBuf::from(DIR_A),
        PathBuf::from(DIR_B),
        PathBuf::from(DIR_A),
    ]);
    assert_eq!(state.dirs(), &[PathBuf::from(DIR_A), PathBuf::from(DIR_B)]);
}

#[test]
fn secret_string_data_namespace_default_and_managed_fields() {
    let mut state = state();
    let text = "\
apiVersion: v1
kind: Secret
metadata:
  name: tls
  managedFields:
  - manager: kubectl
    operation: Apply
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
stringData:
  tls.key: key
";
    let changes = state.reload_file(&file(DIR_A, "secret.yaml"), Some(text));
    let [Change::Apply(Object::Secret(secret))] = changes.as_slice() else {
        panic!("expected one secret, got {changes:?}");
    };
    assert_eq!(secret.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(secret.metadata.managed_fields, None);
    let data = secret.data.clone().unwrap_or_default();
    assert_eq!(
        data.get("tls.crt").map(|b| b.0.as_slice()),
        Some(&b"cert"[..])
    );
    assert_eq!(
        data.get("tls.key").map(|b| b.0.as_slice()),
        Some(&b"key"[..])
    );
    assert_eq!(secret.string_data, None);
    assert_eq!(changes[0].key(), key(Kind::Secret, "default", "tls"));
}

#[test]
fn explicit_and_defaulted_namespace_are_the_same_object() {
    let mut state = state();
    let path = file(DIR_A, "svc.yaml");
    state.reload_file(&path, Some(&service_yaml("a", 80)));
    let explicit = service_yaml("a", 80).replace("{name: a}", "{name: a, namespace: default}");
    assert!(state.reload_file(&path, Some(&explicit)).is_empty());
}

#[test]
fn files_that_are_not_manifests_are_ignored() {
    let mut state = state();
    let text = service_yaml("a", 80);
    for path in [
        file(DIR_A, ".hidden.yaml"),
        file(DIR_A, "..data"),
        file(DIR_A, "svc.yaml~"),
        file(DIR_A, "svc.yaml.swp"),
        file(DIR_A, "#svc.yaml#"),
        file(DIR_A, "notes.txt"),
        file("/elsewhere", "svc.yaml"),
        file(&format!("{DIR_A}/sub"), "svc.yaml"),
    ] {
        assert!(
            state.reload_file(&path, Some(&text)).is_empty(),
            "{}",
            path.display()
        );
    }
    assert!(state.objects().is_empty());
}

#[test]
fn manifest_names() {
    use std::ffi::OsStr;
    assert_eq!(manifest_format(OsStr::new("a.yaml")), Some(Format::Yaml));
    assert_eq!(manifest_format(OsStr::new("a.b.yml")), Some(Format::Yaml));
    assert_eq!(manifest_format(OsStr::new("a.json")), Some(Format::Json));
    for name in [
        ".a.yaml",
        "..data",
        "..2024_01_01",
        "a.yaml~",
        "#a.yaml#",
        ".#a.yaml",
        "yaml",
        "a.YAML",
        "a.yaml.tmp",
        "4913",
    ] {
        assert_eq!(manifest_format(OsStr::new(name)), None, "{name}");
    }
}

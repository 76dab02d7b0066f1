use pretty_assertions::assert_eq;
use sesame_dag::object::{Kind, NamespacedName, ObjectKey};

use super::*;

fn keys(parsed: &Parsed) -> Vec<String> {
    parsed.objects.keys().map(ToString::to_string).collect()
}

fn service(ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Service, NamespacedName::new(ns, name))
}

#[test]
fn multi_document_yaml_skips_empty_documents() {
    let text = "\
---
# only a comment
---
apiVersion: v1
kind: Service
metadata: {name: a}
---
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
...
";
    let parsed = parse(text, Format::Yaml).expect("valid yaml");
    assert_eq!(keys(&parsed), vec!["Ingress shop/web", "Service default/a"]);
    assert!(parsed.skipped.is_empty());
}

#[test]
fn yaml_list_items_are_objects() {
    let text = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- apiVersion: v1
  kind: Secret
  metadata: {name: s, namespace: x}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d}
";
    let parsed = parse(text, Format::Yaml).expect("valid yaml");
    assert_eq!(keys(&parsed), vec!["Service default/a", "Secret x/s"]);
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].kind, "Deployment");
}

#[test]
fn typed_lists_and_nested_lists_are_flattened() {
    let text = r#"{"apiVersion": "v1", "kind": "ServiceList", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}
        ]}
    ]}"#;
    let parsed = parse(text, Format::Json).expect("valid json");
    assert_eq!(
        keys(&parsed),
        vec!["Service default/a", "Service default/b"]
    );
}

#[test]
fn json_list_and_concatenated_values() {
    let text = r#"
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
]}
null
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}
"#;
    let parsed = parse(text, Format::Json).expect("valid json");
    assert_eq!(
        keys(&parsed),
        vec!["Service default/a", "Service default/b"]
    );
}

#[test]
fn empty_files_define_nothing() {
    for (text, format) in [
        ("", Format::Yaml),
        ("# nothing\n", Format::Yaml),
        ("---\n", Format::Yaml),
        ("", Format::Json),
    ] {
        let parsed = parse(text, format).expect("empty is valid");
        assert!(parsed.objects.is_empty(), "{text:?}");
    }
}

#[test]
fn yaml_syntax_error_has_its_line() {
    let text = "\
apiVersion: v1
kind: Service
metadata:
  name: a
  labels: {x: [1, 2}
";
    let err = parse(text, Format::Yaml).expect_err("broken yaml");
    assert!(matches!(err, ParseError::Syntax { .. }), "{err:?}");
    assert_eq!(err.line(), 5, "{err}");
}

#[test]
fn json_syntax_error_has_its_line() {
    let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Service\",\n  oops\n}\n";
    let err = parse(text, Format::Json).expect_err("broken json");
    assert!(matches!(err, ParseError::Syntax { .. }), "{err:?}");
    assert_eq!(err.line(), 4, "{err}");
}

#[test]
fn undecodable_known_kind_names_the_document_line() {
    let text = "\
apiVersion: v1
kind: Service
metadata: {name: good}
---
# the broken one
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  ports:
  - port: eighty
";
    let err = parse(text, Format::Yaml).expect_err("string port");
    let ParseError::Document {
        line,
        item,
        ref source,
    } = err
    else {
        panic!("expected a document error, got {err:?}");
    };
    assert_eq!((line, item), (6, None), "{err}");
    let message = source.to_string();
    assert!(message.contains("Service bad"), "{message}");
    assert!(message.contains("spec.ports[0].port"), "{message}");
}

#[test]
fn undecodable_list_item_names_the_list_line_and_index() {
    let text = "{\"a\": 1}\n\n  {\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}},\n  {\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"}, \"data\": {\"k\": \"!!\"}}\n]}\n";
    // The first value has no kind: it fails first, at line 1.
    let err = parse(text, Format::Json).expect_err("no kind");
    assert_eq!(err.line(), 1, "{err}");
    let text = text.replacen("{\"a\": 1}", "", 1);
    let err = parse(&text, Format::Json).expect_err("bad base64");
    let ParseError::Document { line, item, .. } = err else {
        panic!("expected a document error, got {err:?}");
    };
    assert_eq!((line, item), (3, Some(1)), "{err}");
}

#[test]
fn a_bare_scalar_document_is_an_error() {
    let err = parse("just text\n", Format::Yaml).expect_err("not an object");
    assert!(
        err.to_string().contains("expected a kubernetes object"),
        "{err}"
    );
}

#[test]
fn duplicate_in_one_file_last_wins() {
    let text = "\
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec: {ports: [{port: 81}]}
";
    let parsed = parse(text, Format::Yaml).expect("valid");
    assert_eq!(parsed.duplicates, vec![service("default", "a")]);
    let Some(Object::Service(svc)) = parsed.objects.get(&service("default", "a")) else {
        panic!("service missing");
    };
    assert_eq!(svc.ports.first().map(|p| p.port), Some(81));
}

#[test]
fn yaml_scalars_keep_their_types() {
    let text = "\
apiVersion: v1
kind: Service
metadata:
  name: a
  annotations:
    quoted-number: \"80\"
    timestamp-like: 2024-01-01T00:00:00Z
spec:
  ports:
  - port: 80
    targetPort: http
  - port: 443
    targetPort: 8443
";
    let parsed = parse(text, Format::Yaml).expect("valid");
    let Some(Object::Service(svc)) = parsed.objects.get(&service("default", "a")) else {
        panic!("service missing");
    };
    let annotations = svc.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.get("quoted-number").map(String::as_str),
        Some("80")
    );
    assert_eq!(
        annotations.get("timestamp-like").map(String::as_str),
        Some("2024-01-01T00:00:00Z")
    );
    let ports = &svc.ports;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(
        ports[0].target_port,
        Some(IntOrString::String("http".into()))
    );
    assert_eq!(ports[1].target_port, Some(IntOrString::Int(8443)));
}

#[test]
fn yaml_1_1_booleans_stay_strings() {
    let text = "\
apiVersion: projectsesame.io/v1
kind: HTTPProxy
metadata:
  name: y
  labels: {country: NO, mode: on}
spec:
  routes:
  - permitInsecure: true
";
    let parsed = parse(text, Format::Yaml).expect("valid");
    let key = ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("default", "y"));
    let Some(Object::HTTPProxy(proxy)) = parsed.objects.get(&key) else {
        panic!("proxy y missing: {:?}", keys(&parsed));
    };
    let labels = proxy.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("country").map(String::as_str), Some("NO"));
    assert_eq!(labels.get("mode").map(String::as_str), Some("on"));
    assert!(proxy.spec.routes[0].permit_insecure);
}

#[test]
fn list_items_read_before_the_kind_are_still_objects() {
    let text = r#"{"items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}}
    ], "apiVersion": "v1", "kind": "List"}"#;
    let parsed = parse(text, Format::Json).expect("parses");
    assert_eq!(keys(&parsed), ["Service x/a"]);
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].kind, "Pod");
}

#[test]
fn items_of_an_object_that_is_not_a_list_are_not_objects() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: b}}\n";
    let parsed = parse(text, Format::Yaml).expect("parses");
    assert_eq!(keys(&parsed), ["Service default/a"]);
}

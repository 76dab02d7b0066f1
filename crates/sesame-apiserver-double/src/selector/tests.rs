use serde_json::json;

use super::*;

fn labelled(labels: serde_json::Value) -> serde_json::Value {
    json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "type": "Opaque"})
}

#[test]
fn equality_based_label_selectors() {
    let obj = labelled(json!({"app": "web", "tier": "front"}));
    let ok = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(&obj));
    assert_eq!(ok("app=web"), Ok(true));
    assert_eq!(ok("app==web,tier=front"), Ok(true));
    assert_eq!(ok("app!=web"), Ok(false));
    assert_eq!(ok("missing!=x"), Ok(true));
    assert_eq!(ok("app"), Ok(true));
    assert_eq!(ok("!app"), Ok(false));
    assert_eq!(ok("!missing"), Ok(true));
    assert_eq!(ok(""), Ok(true));
}

#[test]
fn set_based_label_selectors() {
    let obj = labelled(json!({"app": "web"}));
    let ok = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(&obj));
    assert_eq!(ok("app in (api, web)"), Ok(true));
    assert_eq!(ok("app notin (api,web)"), Ok(false));
    assert_eq!(ok("other notin (x),app in (web)"), Ok(true));
    assert!(ok("app in web").is_err());
    assert!(ok("a b").is_err());
}

#[test]
fn field_selectors_on_secrets() {
    let obj = labelled(json!({}));
    let sel = FieldSelector::parse(
        Resource::Secret,
        "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token",
    );
    assert_eq!(sel.map(|s| s.matches(&obj)), Ok(true));
    let sel = FieldSelector::parse(Resource::Secret, "metadata.name=a,metadata.namespace==ns");
    assert_eq!(sel.map(|s| s.matches(&obj)), Ok(true));
    let sel = FieldSelector::parse(Resource::Secret, "type=kubernetes.io/tls");
    assert_eq!(sel.map(|s| s.matches(&obj)), Ok(false));
}

#[test]
fn unsupported_fields_are_refused() {
    assert!(FieldSelector::parse(Resource::Service, "type=ClusterIP").is_err());
    assert!(FieldSelector::parse(Resource::Secret, "spec.x=1").is_err());
    assert!(FieldSelector::parse(Resource::Secret, "nonsense").is_err());
}

#[test]
fn filter_applies_namespace_and_selectors() {
    let obj = labelled(json!({"app": "web"}));
    let mut filter = Filter::all(Resource::Secret, Some("ns".into()));
    assert!(filter.matches(&obj));
    filter.labels = LabelSelector::parse("app=api").unwrap_or_default();
    assert!(!filter.matches(&obj));
    assert!(!Filter::all(Resource::Secret, Some("other".into())).matches(&obj));
}

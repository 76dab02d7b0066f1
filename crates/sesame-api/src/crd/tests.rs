use std::path::PathBuf;

use serde_json::Value;

use super::*;

/// The checked-in copies of [`crds_yaml`]: the CRDs alone, and the install manifests' copy.
fn checked_in_paths() -> [PathBuf; 2] {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    [
        examples.join("crds/sesame-crds.yaml"),
        examples.join("sesame/01-crds.yaml"),
    ]
}

#[test]
fn checked_in_crds_match_the_types() {
    let generated = crds_yaml();
    for path in checked_in_paths() {
        if std::env::var_os("SESAME_UPDATE_CRDS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} is stale: the API types changed. Refresh it with \
             `SESAME_UPDATE_CRDS=1 cargo test -p sesame-api crds`, run \
             scripts/render-manifests.sh and commit the result",
            path.display()
        );
    }
}

#[test]
fn crds_yaml_parses_back_to_the_same_crds() {
    let text = crds_yaml();
    let docs: Vec<CustomResourceDefinition> = text
        .split("\n---\n")
        .skip(1)
        .map(|doc| serde_saphyr::from_str(doc).unwrap())
        .collect();
    assert_eq!(docs, crds());
}

#[test]
fn crds_have_contours_names_under_sesames_group() {
    let crds = crds();
    let names: Vec<_> = crds
        .iter()
        .map(|c| {
            (
                c.metadata.name.clone().unwrap(),
                c.spec.names.kind.clone(),
                c.spec.names.short_names.clone().unwrap_or_default(),
                c.spec.scope.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "httpproxies.projectsesame.io".to_string(),
                "HTTPProxy".to_string(),
                vec!["proxy".to_string(), "proxies".to_string()],
                "Namespaced".to_string(),
            ),
            (
                "tlscertificatedelegations.projectsesame.io".to_string(),
                "TLSCertificateDelegation".to_string(),
                vec!["tlscerts".to_string()],
                "Namespaced".to_string(),
            ),
            (
                "extensionservices.projectsesame.io".to_string(),
                "ExtensionService".to_string(),
                vec![
                    "extensionservice".to_string(),
                    "extensionservices".to_string()
                ],
                "Namespaced".to_string(),
            ),
        ]
    );
    for crd in &crds {
        assert_eq!(crd.spec.group, "projectsesame.io");
        let [version] = crd.spec.versions.as_slice() else {
            panic!("one version expected");
        };
        let expected = if crd.spec.names.kind == "ExtensionService" {
            "v1alpha1"
        } else {
            "v1"
        };
        assert_eq!(version.name, expected);
        assert!(version.served && version.storage);
        let status = version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref());
        assert!(
            status.is_some(),
            "{:?} has no status subresource",
            crd.metadata.name
        );
    }
    let columns: Vec<_> = crds[0].spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("FQDN", ".spec.virtualhost.fqdn"),
            ("TLS Secret", ".spec.virtualhost.tls.secretName"),
            ("Status", ".status.currentStatus"),
            ("Status Description", ".status.description"),
        ]
    );
}

/// Checks that a schema is structural, as apiextensions v1 requires: every node has a `type`
/// (or is int-or-string / preserves unknown fields), no `$ref`s or definitions, and no
/// `anyOf`/`oneOf`/`allOf`/`not` that carry types of their own.
fn assert_structural(schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(node) = schema.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    for key in ["$ref", "definitions", "$defs", "$schema"] {
        if node.contains_key(key) {
            problems.push(format!("{path}: has {key}"));
        }
    }
    let typed = node.contains_key("type")
        || node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !typed {
        problems.push(format!("{path}: no type"));
    }
    for key in ["anyOf", "oneOf", "allOf", "not"] {
        if let Some(sub) = node.get(key) {
            let subs: Vec<&Value> = match sub {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for s in subs {
                if s.get("type").is_some() || s.get("properties").is_some() {
                    problems.push(format!("{path}.{key}: carries a type or properties"));
                }
            }
        }
    }
    if let Some(Value::Object(props)) = node.get("properties") {
        for (name, prop) in props {
            assert_structural(prop, &format!("{path}.{name}"), problems);
        }
    }
    if let Some(items) = node.get("items") {
        assert_structural(items, &format!("{path}[]"), problems);
    }
    if let Some(extra @ Value::Object(_)) = node.get("additionalProperties") {
        assert_structural(extra, &format!("{path}{{}}"), problems);
    }
}

#[test]
fn crd_schemas_are_structural() {
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        for version in &crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .unwrap_or_else(|| panic!("{name} has no schema"));
            let value = serde_json::to_value(schema).unwrap();
            let mut problems = Vec::new();
            assert_structural(&value, &name, &mut problems);
            assert!(problems.is_empty(), "{problems:#?}");
        }
    }
    let text = crds_yaml();
    for needle in ["$ref", "definitions:", "$schema"] {
        assert!(!text.contains(needle), "CRD YAML contains {needle}");
    }
}

#[test]
fn every_schema_property_has_a_description() {
    fn walk(schema: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                if prop.get("description").is_none() && !matches!(name.as_str(), "metadata") {
                    missing.push(here.clone());
                }
                walk(prop, &here, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"), missing);
        }
    }
    let mut missing = Vec::new();
    for crd in crds() {
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        walk(
            &schema["openAPIV3Schema"],
            &crd.spec.names.kind,
            &mut missing,
        );
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn httpproxy_status_defaults_to_not_reconciled() {
    let crd = &crds()[0];
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .unwrap();
    let status = &schema.properties.as_ref().unwrap()["status"];
    assert_eq!(
        status.default.as_ref().map(|d| &d.0),
        Some(
            &serde_json::json!({"currentStatus": "NotReconciled", "description": "Waiting for controller"})
        )
    );
}

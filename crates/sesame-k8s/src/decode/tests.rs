use pretty_assertions::assert_eq;
use serde_json::json;
use sesame_dag::object::{Kind, NamespacedName, Object, ObjectKey};

use super::*;

fn decode(value: Value) -> Object {
    match decode_object(value) {
        Ok(Some(object)) => object,
        other => panic!("expected an object, got {other:?}"),
    }
}

#[test]
fn decodes_each_known_kind() {
    let cases = [
        (
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a", "namespace": "ns"}}),
            Kind::Ingress,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "ns"}, "spec": {"ports": [{"port": 80}]}}),
            Kind::Service,
        ),
        (
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "a", "namespace": "ns"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]}),
            Kind::EndpointSlice,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a", "namespace": "ns"}}),
            Kind::Endpoints,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "ns"}}),
            Kind::Secret,
        ),
        (
            json!({"apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy", "metadata": {"name": "a", "namespace": "ns"}, "spec": {}}),
            Kind::HTTPProxy,
        ),
        (
            json!({"apiVersion": "projectsesame.io/v1", "kind": "TLSCertificateDelegation", "metadata": {"name": "a", "namespace": "ns"}, "spec": {}}),
            Kind::TLSCertificateDelegation,
        ),
        (
            json!({"apiVersion": "projectsesame.io/v1alpha1", "kind": "ExtensionService", "metadata": {"name": "a", "namespace": "ns"}, "spec": {"services": [{"name": "s", "port": 9000}]}}),
            Kind::ExtensionService,
        ),
    ];
    for (value, kind) in cases {
        let object = decode(value);
        assert_eq!(
            object.key(),
            ObjectKey::new(kind, NamespacedName::new("ns", "a"))
        );
    }
}

#[test]
fn unknown_kinds_and_versions_are_skipped() {
    for (api_version, kind) in [
        ("apps/v1", "Deployment"),
        ("networking.k8s.io/v1beta1", "Ingress"),
        ("v1", "Pod"),
        ("projectcontour.io/v1", "HTTPProxy"),
        ("projectcontour.io/v1", "TLSCertificateDelegation"),
        ("projectsesame.io/v1alpha1", "HTTPProxy"),
        ("projectsesame.io/v1", "ExtensionService"),
    ] {
        let value = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        assert!(
            matches!(decode_object(value), Ok(None)),
            "{api_version} {kind}"
        );
    }
}

/// The metadata kept of a decoded Ingress.
fn ingress_meta(object: Object) -> sesame_dag::object::compact::Meta {
    match object {
        Object::Ingress(ingress) => ingress.metadata.clone(),
        other => panic!("not an Ingress: {other:?}"),
    }
}

#[test]
fn missing_namespace_becomes_default() {
    let ingress = |metadata| json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata});
    let object = decode(ingress(json!({"name": "a"})));
    assert_eq!(ingress_meta(object).namespace.as_deref(), Some("default"));
    let object = decode(ingress(json!({"name": "a", "namespace": ""})));
    assert_eq!(ingress_meta(object).namespace.as_deref(), Some("default"));
}

#[test]
fn managed_fields_are_dropped() {
    // An HTTPProxy is kept whole, metadata and all, but for its managed fields.
    let object = decode(json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
        "metadata": {"name": "a", "namespace": "ns", "managedFields": [
            {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}
        ]},
        "spec": {},
    }));
    let Object::HTTPProxy(proxy) = object else {
        panic!("not an HTTPProxy: {object:?}");
    };
    assert_eq!(proxy.metadata.name.as_deref(), Some("a"));
    assert_eq!(proxy.metadata.managed_fields, None);
}

#[test]
fn secret_data_is_base64_and_string_data_is_merged_over_it() {
    let object = decode(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "b2xk"},
        "stringData": {"tls.key": "new", "ca.crt": "ca"},
    }));
    let Object::Secret(secret) = object else {
        panic!("not a secret")
    };
    let data: Vec<(&str, &[u8])> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.0.as_slice()))
        .collect();
    assert_eq!(
        data,
        vec![
            ("ca.crt", &b"ca"[..]),
            ("tls.crt", b"cert"),
            ("tls.key", b"new")
        ]
    );
    assert_eq!(secret.string_data, None);
}

#[test]
fn secret_with_only_string_data() {
    let Object::Secret(secret) = decode(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "stringData": {"k": "v"},
    })) else {
        panic!("not a secret")
    };
    assert_eq!(
        secret
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(|v| v.0.as_slice()),
        Some(&b"v"[..])
    );
}

#[test]
fn invalid_known_kind_names_the_object_and_the_field() {
    let err = decode_object(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ports": [{"port": "eighty"}]},
    }))
    .expect_err("a string port must not decode");
    let message = err.to_string();
    assert!(message.contains("Service shop/web"), "{message}");
    assert!(message.contains("spec.ports[0].port"), "{message}");
    assert!(matches!(err, DecodeError::Invalid { .. }));
}

#[test]
fn invalid_base64_in_a_secret_is_an_error() {
    let err = decode_object(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"},
    }))
    .expect_err("bad base64 must not decode");
    assert!(err.to_string().contains("data.k"), "{err}");
}

#[test]
fn malformed_documents_are_errors() {
    assert!(matches!(
        decode_object(json!("text")),
        Err(DecodeError::NotAnObject { found: "a string" })
    ));
    assert!(matches!(
        decode_object(json!({"metadata": {"name": "a"}})),
        Err(DecodeError::MissingTypeMeta { .. })
    ));
    assert!(matches!(
        decode_object(json!({"apiVersion": "v1", "kind": "Service", "metadata": {}})),
        Err(DecodeError::MissingName { .. })
    ));
}

#[test]
fn type_info_display() {
    let info = TypeInfo::of(
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}}),
    );
    assert_eq!(info.to_string(), "Deployment x/d (apps/v1)");
}

/// A root HTTPProxy as Contour's documentation writes them: includes, conditions, weighted
/// services and route policies; no namespace, and managedFields as the API server returns them.
const ROOT_PROXY: &str = r#"
apiVersion: projectsesame.io/v1
kind: HTTPProxy
metadata:
  name: root
  managedFields:
  - manager: kubectl
    operation: Apply
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {}}
spec:
  virtualhost:
    fqdn: www.example.com
    tls:
      secretName: certs/www
      minimumProtocolVersion: "1.3"
  includes:
  - name: blog
    namespace: marketing
    conditions:
    - prefix: /blog
  routes:
  - conditions:
    - prefix: /api
    - header:
        name: x-canary
        exact: "true"
    services:
    - name: api
      port: 8080
      weight: 80
    - name: api-canary
      port: 8080
      weight: 20
    timeoutPolicy:
      response: 5s
    retryPolicy:
      count: 2
      perTryTimeout: 1s
    loadBalancerPolicy:
      strategy: Cookie
    requestHeadersPolicy:
      set:
      - name: X-Forwarded-Prefix
        value: /api
    responseHeadersPolicy:
      remove: [Server]
  - conditions:
    - prefix: /
    services:
    - name: web
      port: 80
    permitInsecure: true
    enableWebsockets: true
    pathRewritePolicy:
      replacePrefix:
      - replacement: /site
"#;

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

#[test]
fn a_root_httpproxy_decodes_with_normalised_metadata() {
    let object = decode(yaml(ROOT_PROXY));
    assert_eq!(
        object.key(),
        ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("default", "root"))
    );
    let Object::HTTPProxy(proxy) = object else {
        panic!("not an HTTPProxy")
    };
    assert_eq!(proxy.metadata.managed_fields, None);
    assert_eq!(proxy.metadata.namespace.as_deref(), Some("default"));

    let spec = &proxy.spec;
    let vhost = spec.virtualhost.as_ref().unwrap();
    assert_eq!(vhost.fqdn.as_deref(), Some("www.example.com"));
    let tls = vhost.tls.as_ref().unwrap();
    assert_eq!(tls.secret_name.as_deref(), Some("certs/www"));
    assert_eq!(tls.minimum_protocol_version.as_deref(), Some("1.3"));
    assert_eq!(spec.includes[0].namespace.as_deref(), Some("marketing"));
    assert_eq!(
        spec.includes[0].conditions[0].prefix.as_deref(),
        Some("/blog")
    );

    let [api, web] = spec.routes.as_slice() else {
        panic!("two routes expected")
    };
    assert_eq!(
        api.conditions[1]
            .header
            .as_ref()
            .and_then(|h| h.exact.as_deref()),
        Some("true")
    );
    let weights: Vec<_> = api
        .services
        .iter()
        .map(|s| (s.name.as_deref().unwrap_or_default(), s.port, s.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("api", Some(8080), Some(80)),
            ("api-canary", Some(8080), Some(20))
        ]
    );
    assert_eq!(api.retry_policy.as_ref().and_then(|r| r.count), Some(2));
    assert_eq!(
        api.load_balancer_policy
            .as_ref()
            .and_then(|l| l.strategy.as_deref()),
        Some("Cookie")
    );
    assert_eq!(
        api.response_headers_policy
            .as_ref()
            .map(|p| p.remove.clone()),
        Some(vec!["Server".to_string()])
    );
    assert!(web.permit_insecure && web.enable_websockets && !api.permit_insecure);
    assert_eq!(
        web.path_rewrite_policy.as_ref().unwrap().replace_prefix[0]
            .replacement
            .as_deref(),
        Some("/site")
    );
}

#[test]
fn a_tls_certificate_delegation_decodes() {
    let object = decode(yaml(
        r#"
apiVersion: projectsesame.io/v1
kind: TLSCertificateDelegation
metadata:
  name: delegation
  namespace: certs
spec:
  delegations:
  - secretName: www
    targetNamespaces: [default, marketing]
  - secretName: wildcard
    targetNamespaces: ["*"]
"#,
    ));
    assert_eq!(
        object.key(),
        ObjectKey::new(
            Kind::TLSCertificateDelegation,
            NamespacedName::new("certs", "delegation")
        )
    );
    let Object::TLSCertificateDelegation(delegation) = object else {
        panic!("not a TLSCertificateDelegation")
    };
    let delegations: Vec<_> = delegation
        .spec
        .delegations
        .iter()
        .map(|d| {
            (
                d.secret_name.as_deref().unwrap_or_default(),
                d.target_namespaces.clone(),
            )
        })
        .collect();
    assert_eq!(
        delegations,
        [
            ("www", vec!["default".to_string(), "marketing".to_string()]),
            ("wildcard", vec!["*".to_string()]),
        ]
    );
}

#[test]
fn unknown_fields_in_a_custom_resource_are_ignored() {
    // The API server prunes fields its schema does not know; Sesame does the same.
    let object = decode(json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy", "metadata": {"name": "p"},
        "spec": {
            "notAField": true,
            "routes": [{"services": [{"name": "s", "port": 80, "slowStart": "later"}]}],
        },
    }));
    let Object::HTTPProxy(proxy) = object else {
        panic!("not an HTTPProxy")
    };
    assert_eq!(proxy.spec.routes[0].services[0].port, Some(80));
}

#[test]
fn a_mistyped_httpproxy_field_names_the_object_and_the_path() {
    let err = decode_object(json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"routes": [{"services": [{"name": "s", "port": "http"}]}]},
    }))
    .expect_err("a string port must not decode");
    let message = err.to_string();
    assert!(message.contains("HTTPProxy shop/p"), "{message}");
    assert!(
        message.contains("spec.routes[0].services[0].port"),
        "{message}"
    );
}

#[test]
fn an_httpproxy_without_spec_is_invalid_as_the_api_server_says() {
    let err = decode_object(json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy", "metadata": {"name": "p"},
    }))
    .expect_err("spec is required");
    assert!(err.to_string().contains("spec"), "{err}");
}

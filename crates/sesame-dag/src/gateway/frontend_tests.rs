//! Client certificate validation of the served Gateway (`spec.tls.frontend`): the upstream
//! GatewayFrontendClientCertificateValidation scenarios (default and perPort, insecure
//! fallback, invalid default, invalid references) replayed on the build.

use pretty_assertions::assert_eq;

use super::tests::{config, listeners_of};
use crate::build::{BuildOutput, build};
use crate::dag::ClientValidation;
use crate::object::{Kind, NamespacedName, Object, ObjectKey};
use crate::status::gateway::{ConditionReason as R, ConditionType as T, GatewayApiStatus};
use crate::testutil::{Pem, ca_config_map, cert, objects, snapshot_of, tls_secret};

/// The class, the Services of the routes, and a grant letting the Gateway (and ListenerSets
/// in its namespace) use the server certificate in `default`.
const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sesame}
spec: {controllerName: projectsesame.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: server-cert, namespace: default}
spec:
  from:
  - {group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}
  - {group: gateway.networking.k8s.io, kind: ListenerSet, namespace: infra}
  to: [{group: "", kind: Secret, name: server}]
---
apiVersion: v1
kind: Service
metadata: {name: v1, namespace: infra}
spec: {ports: [{port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  hostnames: [example.org]
  rules: [{backendRefs: [{name: v1, port: 8080}]}]
"#;

/// An HTTPS listener on `port`, with the server certificate.
fn https(name: &str, port: u16, host: Option<&str>) -> String {
    let host = host.map(|h| format!(", hostname: {h}")).unwrap_or_default();
    format!(
        "{{name: {name}, port: {port}, protocol: HTTPS{host}, tls: {{certificateRefs: [{{name: server, namespace: default}}]}}}}"
    )
}

/// The Gateway `infra/gw` with `spec.tls.frontend` (YAML, indented for its place) and
/// `listeners` (YAML flow items).
fn gateway(frontend: &str, listeners: &[String]) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: sesame\n  tls:\n    frontend:\n{frontend}  listeners:\n{}\n",
        listeners
            .iter()
            .map(|l| format!("  - {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// A validation of `refs` (YAML flow items) with `mode` (none when empty), indented under
/// `indent` spaces.
fn validation(indent: usize, mode: &str, refs: &[&str]) -> String {
    let pad = " ".repeat(indent);
    let mode = if mode.is_empty() {
        String::new()
    } else {
        format!("{pad}  mode: {mode}\n")
    };
    format!(
        "{pad}validation:\n{mode}{pad}  caCertificateRefs: [{}]\n",
        refs.join(", ")
    )
}

/// `spec.tls.frontend` with a default validation and `per_port` entries (port, mode, refs).
fn frontend(default: (&str, &[&str]), per_port: &[(u16, &str, &[&str])]) -> String {
    let mut out = format!("      default:\n{}", validation(8, default.0, default.1));
    if !per_port.is_empty() {
        out.push_str("      perPort:\n");
        for (port, mode, refs) in per_port {
            out.push_str(&format!(
                "      - port: {port}\n        tls:\n{}",
                validation(10, mode, refs)
            ));
        }
    }
    out
}

/// A reference to the ConfigMap `name` in the Gateway's namespace.
const CA_ONE: &str = "{kind: ConfigMap, group: \"\", name: ca-one}";
const CA_TWO: &str = "{kind: ConfigMap, group: \"\", name: ca-two}";

/// Two CA bundles, as ConfigMaps `infra/ca-one` and `infra/ca-two`.
struct Cas {
    one: Pem,
    two: Pem,
}

impl Cas {
    fn new() -> Self {
        Cas {
            one: cert(&["ca-one.example"]),
            two: cert(&["ca-two.example"]),
        }
    }

    fn config_maps(&self) -> Vec<Object> {
        vec![
            ca_config_map("infra", "ca-one", &self.one.crt),
            ca_config_map("infra", "ca-two", &self.two.crt),
        ]
    }
}

fn build_docs(docs: &[String], extra: Vec<Object>) -> BuildOutput {
    let server = cert(&["example.org", "second-example.org"]);
    let mut objs = objects(&format!("{BASE}---\n{}", docs.join("---\n")));
    objs.push(tls_secret("server", &server.crt, &server.key));
    objs.extend(extra);
    build(&snapshot_of(objs), &config())
}

/// A listener's `ResolvedRefs`, `Accepted` and `Programmed` as (status, reason): what the
/// upstream tests check.
fn checks(out: &BuildOutput, listener: &str) -> [(bool, R); 3] {
    let listeners = listeners_of(out);
    let l = listeners
        .iter()
        .find(|l| l.name == listener)
        .unwrap_or_else(|| panic!("no listener {listener}"));
    [T::ResolvedRefs, T::Accepted, T::Programmed].map(|t| {
        let c = l
            .conditions
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition");
        (c.status, c.reason)
    })
}

const SERVED: [(bool, R); 3] = [
    (true, R::ResolvedRefs),
    (true, R::Accepted),
    (true, R::Programmed),
];

fn refused(reason: R) -> [(bool, R); 3] {
    [
        (false, reason),
        (false, R::NoValidCACertificate),
        (false, R::Invalid),
    ]
}

/// The client validation of the only TLS entry of Envoy listener `name`.
fn validation_of<'o>(out: &'o BuildOutput, name: &str) -> &'o ClientValidation {
    let l = (out.dag.gateway_listeners.get(name)).unwrap_or_else(|| panic!("no listener {name}"));
    assert_eq!(l.tls.len(), 1);
    l.tls[0]
        .client_validation
        .as_deref()
        .expect("client validation")
}

/// The Gateway's conditions as (type, status, reason).
fn gateway_conditions(out: &BuildOutput) -> Vec<(T, bool, R)> {
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", "gw"));
    match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Gateway { conditions, .. }) => conditions
            .iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect(),
        other => panic!("not a gateway status: {other:?}"),
    }
}

#[test]
fn the_default_applies_to_https_listeners_and_per_port_overrides_it() {
    let cas = Cas::new();
    let gw = gateway(
        &frontend(("", &[CA_ONE]), &[(8443, "", &[CA_TWO])]),
        &[
            https("https", 443, None),
            https("https-with-hostname", 8443, Some("second-example.org")),
            "{name: http, port: 80, protocol: HTTP}".to_string(),
        ],
    );
    let out = build_docs(&[gw], cas.config_maps());
    for listener in ["https", "https-with-hostname", "http"] {
        assert_eq!(checks(&out, listener), SERVED, "{listener}");
    }
    let default = validation_of(&out, "https-443");
    assert_eq!(default.ca_pem, cas.one.crt.as_bytes());
    assert!(!default.optional && !default.skip_verification);
    let per_port = validation_of(&out, "https-8443");
    assert_eq!(per_port.ca_pem, cas.two.crt.as_bytes());
    assert!(!per_port.optional && !per_port.skip_verification);
    // Plain HTTP has no TLS to validate clients on.
    assert!(out.dag.gateway_listeners["http-80"].tls.is_empty());
    assert_eq!(
        gateway_conditions(&out),
        [
            (T::Accepted, true, R::Accepted),
            (T::Programmed, true, R::Programmed)
        ]
    );
}

#[test]
fn insecure_fallback_serves_any_client_and_is_reported_on_the_gateway() {
    let cas = Cas::new();
    let listeners = [
        https("https", 443, None),
        https("https-with-hostname", 8443, Some("second-example.org")),
    ];
    let insecure = gateway(
        &frontend(
            ("AllowInsecureFallback", &[CA_ONE]),
            &[(8443, "AllowInsecureFallback", &[CA_TWO])],
        ),
        &listeners,
    );
    let out = build_docs(&[insecure], cas.config_maps());
    for name in ["https-443", "https-8443"] {
        let v = validation_of(&out, name);
        assert!(v.optional && v.skip_verification, "{name}");
    }
    assert_eq!(
        gateway_conditions(&out)[2],
        (
            T::InsecureFrontendValidationMode,
            true,
            R::ConfigurationChanged
        )
    );
    // A per-port override alone is enough for the condition; back to AllowValidOnly
    // everywhere, it is gone.
    let per_port_only = gateway(
        &frontend(
            ("", &[CA_ONE]),
            &[(8443, "AllowInsecureFallback", &[CA_TWO])],
        ),
        &listeners,
    );
    let out = build_docs(&[per_port_only], cas.config_maps());
    assert!(!validation_of(&out, "https-443").optional);
    assert!(validation_of(&out, "https-8443").optional);
    assert!(gateway_conditions(&out).contains(&(
        T::InsecureFrontendValidationMode,
        true,
        R::ConfigurationChanged
    )));
    let valid_only = gateway(
        &frontend(
            ("AllowValidOnly", &[CA_ONE]),
            &[(8443, "AllowValidOnly", &[CA_TWO])],
        ),
        &listeners,
    );
    let out = build_docs(&[valid_only], cas.config_maps());
    assert!(!(gateway_conditions(&out).iter()).any(|c| c.0 == T::InsecureFrontendValidationMode));
}

#[test]
fn an_invalid_default_refuses_the_https_listener_and_not_the_http_one() {
    // The upstream GatewayFrontendInvalidDefaultClientCertificateValidation: a perPort entry
    // on the HTTP listener's port changes nothing there.
    let cas = Cas::new();
    let gw = gateway(
        &frontend(
            (
                "",
                &["{kind: ConfigMap, group: \"\", name: does-not-exist}"],
            ),
            &[(80, "", &[CA_TWO])],
        ),
        &[
            https("https", 443, None),
            "{name: http, port: 80, protocol: HTTP}".to_string(),
        ],
    );
    let out = build_docs(&[gw], cas.config_maps());
    assert_eq!(checks(&out, "http"), SERVED);
    assert_eq!(checks(&out, "https"), refused(R::InvalidCACertificateRef));
    // Never served without client authentication.
    assert!(!out.dag.gateway_listeners.contains_key("https-443"));
    let http = &out.dag.gateway_listeners["http-80"];
    assert!(http.virtual_hosts.contains_key("example.org"));
    assert_eq!(
        gateway_conditions(&out),
        [
            (T::Accepted, true, R::ListenersNotValid),
            (T::Programmed, true, R::Programmed)
        ]
    );
}

#[test]
fn invalid_references_refuse_their_listeners_with_the_spec_reasons() {
    // The upstream GatewayInvalidFrontendClientCertificateValidation.
    let cas = Cas::new();
    let gw = gateway(
        &frontend(
            ("", &[CA_ONE]),
            &[
                (
                    7443,
                    "",
                    &["{kind: ConfigMap, group: \"\", name: non-existing-cm}"],
                ),
                (
                    8443,
                    "",
                    &["{kind: Service, group: \"\", name: infra-backend-v2}"],
                ),
                (
                    6443,
                    "",
                    &["{kind: ConfigMap, group: \"\", name: web-cm, namespace: web}"],
                ),
            ],
        ),
        &[
            https("https", 443, None),
            https("https-unresolved", 7443, Some("first-example.org")),
            https("https-invalid-kind", 8443, Some("second-example.org")),
            https("https-grant-missing", 6443, Some("fourth-example.org")),
        ],
    );
    let mut extra = cas.config_maps();
    extra.push(ca_config_map("web", "web-cm", &cas.two.crt));
    let out = build_docs(std::slice::from_ref(&gw), extra.clone());
    assert_eq!(checks(&out, "https"), SERVED);
    assert_eq!(
        checks(&out, "https-unresolved"),
        refused(R::InvalidCACertificateRef)
    );
    assert_eq!(
        checks(&out, "https-invalid-kind"),
        refused(R::InvalidCACertificateKind)
    );
    assert_eq!(
        checks(&out, "https-grant-missing"),
        refused(R::RefNotPermitted)
    );
    assert_eq!(
        out.dag.gateway_listeners.keys().collect::<Vec<_>>(),
        ["https-443"]
    );

    // With a grant in `web` for the Gateway, the ConfigMap there is trusted.
    let grant = "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: ca, namespace: web}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]\n  to: [{group: \"\", kind: ConfigMap, name: web-cm}]\n".to_string();
    let out = build_docs(&[gw, grant], extra);
    assert_eq!(checks(&out, "https-grant-missing"), SERVED);
    assert_eq!(
        validation_of(&out, "https-6443").ca_pem,
        cas.two.crt.as_bytes()
    );
}

#[test]
fn valid_references_are_bundled_and_invalid_ones_reported() {
    let cas = Cas::new();
    let gw = gateway(
        &frontend(
            (
                "",
                &[
                    CA_ONE,
                    "{kind: ConfigMap, group: \"\", name: garbage}",
                    CA_TWO,
                ],
            ),
            &[],
        ),
        &[https("https", 443, None)],
    );
    let mut extra = cas.config_maps();
    extra.push(ca_config_map("infra", "garbage", "not a certificate"));
    let out = build_docs(&[gw], extra);
    // Some CA is valid: the listener is served with the valid ones, and says one is not.
    assert_eq!(
        checks(&out, "https"),
        [
            (false, R::InvalidCACertificateRef),
            (true, R::Accepted),
            (true, R::Programmed)
        ]
    );
    let bundle = String::from_utf8(validation_of(&out, "https-443").ca_pem.clone()).unwrap();
    assert!(bundle.contains(cas.one.crt.trim()) && bundle.contains(cas.two.crt.trim()));
    assert!(!bundle.contains("not a certificate"));
}

#[test]
fn https_listeners_of_listener_sets_are_validated_too() {
    let cas = Cas::new();
    let mut gw = gateway(
        &frontend(
            ("", &["{kind: ConfigMap, group: \"\", name: missing}"]),
            &[(9443, "", &[CA_ONE])],
        ),
        &["{name: http, port: 80, protocol: HTTP}".to_string()],
    );
    gw = gw.replace(
        "  gatewayClassName: sesame\n",
        "  gatewayClassName: sesame\n  allowedListeners: {namespaces: {from: Same}}\n",
    );
    let set = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {{name: team, namespace: infra}}\nspec:\n  parentRef: {{name: gw}}\n  listeners:\n  - {}\n",
        https("team-https", 9443, None)
    );
    let out = build_docs(&[gw.clone(), set.clone()], cas.config_maps());
    assert_eq!(
        validation_of(&out, "https-9443").ca_pem,
        cas.one.crt.as_bytes()
    );
    // Its own port takes the (invalid) default: refused, never served unauthenticated.
    let set = set.replace("9443", "9444");
    let out = build_docs(&[gw, set], cas.config_maps());
    assert!(!out.dag.gateway_listeners.contains_key("https-9444"));
    assert!(out.dag.gateway_listeners.contains_key("http-80"));
}

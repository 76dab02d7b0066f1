use pretty_assertions::assert_eq;
use sesame_api::httpproxy::{Route, Service, VirtualHost};
use sesame_api::tlscertificatedelegation::CertificateDelegation;
use sesame_api::{HTTPProxySpec, TLSCertificateDelegationSpec};

use super::*;

fn proxy(namespace: &str, name: &str, fqdn: &str) -> Object {
    let mut proxy = HTTPProxy::new(
        name,
        HTTPProxySpec {
            virtualhost: Some(VirtualHost {
                fqdn: Some(fqdn.into()),
                ..Default::default()
            }),
            routes: vec![Route {
                services: vec![Service {
                    name: Some("s".into()),
                    port: Some(80),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    proxy.metadata.namespace = Some(namespace.into());
    Object::HTTPProxy(Arc::new(proxy))
}

fn delegation(namespace: &str, name: &str, targets: &[&str]) -> Object {
    let mut delegation = TLSCertificateDelegation::new(
        name,
        TLSCertificateDelegationSpec {
            delegations: vec![CertificateDelegation {
                secret_name: Some("cert".into()),
                target_namespaces: targets.iter().map(|t| t.to_string()).collect(),
            }],
        },
    );
    delegation.metadata.namespace = Some(namespace.into());
    Object::TLSCertificateDelegation(Arc::new(delegation))
}

#[test]
fn httpproxies_are_inserted_replaced_and_removed() {
    let mut snapshot = Snapshot::new();
    let first = proxy("ns", "root", "a.example.com");
    let key = first.key();
    assert_eq!(key.to_string(), "HTTPProxy ns/root");

    let touched = snapshot.apply(Change::Apply(first.clone()));
    assert_eq!(touched, Some(Touched::Object(key.clone())));
    assert_eq!(snapshot.httpproxies.len(), 1);
    assert_eq!(
        snapshot.apply(Change::Apply(first)),
        None,
        "same object again"
    );

    let changed = proxy("ns", "root", "b.example.com");
    assert_eq!(
        snapshot.apply(Change::Apply(changed)),
        Some(Touched::Object(key.clone()))
    );
    let stored = &snapshot.httpproxies[&key.name];
    assert_eq!(
        stored
            .spec
            .virtualhost
            .as_ref()
            .and_then(|v| v.fqdn.as_deref()),
        Some("b.example.com")
    );

    assert_eq!(
        snapshot.apply(Change::Delete(key.clone())),
        Some(Touched::Object(key.clone()))
    );
    assert!(snapshot.httpproxies.is_empty());
    assert_eq!(snapshot.apply(Change::Delete(key)), None, "already gone");
}

#[test]
fn tls_certificate_delegations_are_inserted_replaced_and_removed() {
    let mut snapshot = Snapshot::new();
    let first = delegation("certs", "d", &["a"]);
    let key = first.key();
    assert_eq!(key.kind, Kind::TLSCertificateDelegation);

    assert_eq!(
        snapshot.apply(Change::Apply(first.clone())),
        Some(Touched::Object(key.clone()))
    );
    assert_eq!(snapshot.apply(Change::Apply(first)), None);
    assert_eq!(
        snapshot.apply(Change::Apply(delegation("certs", "d", &["a", "b"]))),
        Some(Touched::Object(key.clone()))
    );
    assert_eq!(
        snapshot.tls_certificate_delegations[&key.name]
            .spec
            .delegations[0]
            .target_namespaces,
        ["a", "b"]
    );
    assert_eq!(
        snapshot.apply(Change::Delete(key.clone())),
        Some(Touched::Object(key))
    );
    assert!(snapshot.tls_certificate_delegations.is_empty());
}

#[test]
fn kinds_are_kept_apart() {
    let mut snapshot = Snapshot::new();
    snapshot.apply(Change::Apply(proxy("ns", "same", "a.example.com")));
    snapshot.apply(Change::Apply(delegation("ns", "same", &["*"])));
    assert_eq!(snapshot.httpproxies.len(), 1);
    assert_eq!(snapshot.tls_certificate_delegations.len(), 1);

    let key = ObjectKey::new(Kind::HTTPProxy, NamespacedName::new("ns", "same"));
    snapshot.apply(Change::Delete(key));
    assert!(snapshot.httpproxies.is_empty());
    assert_eq!(snapshot.tls_certificate_delegations.len(), 1);
}

#[test]
fn changes_to_the_new_kinds_rebuild() {
    let dag = Dag::default();
    for kind in [Kind::HTTPProxy, Kind::TLSCertificateDelegation] {
        let touched = Touched::Object(ObjectKey::new(kind, NamespacedName::new("ns", "x")));
        assert_eq!(touched.impact(&dag), Impact::Rebuild, "{kind}");
    }
}

#[test]
fn objects_name_their_kind() {
    let p = proxy("ns", "p", "a.example.com");
    let d = delegation("ns", "d", &[]);
    assert_eq!(
        (p.kind(), p.kind().as_str()),
        (Kind::HTTPProxy, "HTTPProxy")
    );
    assert_eq!(
        (d.kind(), d.kind().as_str()),
        (Kind::TLSCertificateDelegation, "TLSCertificateDelegation")
    );
    assert_eq!(&*p.key().name.name, "p");
    assert_eq!(&*d.key().name.namespace, "ns");
}

#[test]
fn a_status_write_is_stored_but_rebuilds_nothing() {
    let mut snapshot = Snapshot::new();
    let first = proxy("ns", "root", "a.example.com");
    snapshot.apply(Change::Apply(first.clone()));

    let Object::HTTPProxy(p) = &first else {
        unreachable!()
    };
    let mut written = HTTPProxy::clone(p);
    written.metadata.resource_version = Some("42".into());
    written.status = Some(sesame_api::HTTPProxyStatus {
        current_status: Some("valid".into()),
        ..Default::default()
    });
    assert_eq!(
        snapshot.apply(Change::Apply(Object::HTTPProxy(Arc::new(written)))),
        None,
        "only the status and resourceVersion changed"
    );
    let stored = &snapshot.httpproxies[&NamespacedName::new("ns", "root")];
    assert_eq!(
        stored
            .status
            .as_ref()
            .and_then(|s| s.current_status.as_deref()),
        Some("valid"),
        "the newest status is kept for comparison"
    );

    let mut annotated = HTTPProxy::clone(stored);
    annotated
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("kubernetes.io/ingress.class".into(), "other".into());
    let key = first.key();
    assert_eq!(
        snapshot.apply(Change::Apply(Object::HTTPProxy(Arc::new(annotated)))),
        Some(Touched::Object(key)),
        "annotations are read by the build"
    );
}

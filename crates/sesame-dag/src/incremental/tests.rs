//! Scenarios: one change at a time, the output equal to a full build and the delta naming
//! exactly what changed.

use pretty_assertions::assert_eq;

use super::*;
use crate::build::build;
use crate::object::NamespacedName;
use crate::snapshot::Change;
use crate::status::{Reason, Validity};
use crate::testutil::*;

/// A snapshot and its incremental build, checked against a full build at every step.
struct Harness {
    snapshot: Snapshot,
    config: BuildConfig,
    incremental: IncrementalBuild,
}

impl Harness {
    fn new(yaml: &str) -> Harness {
        let snapshot = snapshot_of(objects(yaml));
        let config = BuildConfig::default();
        let incremental = IncrementalBuild::new(&snapshot, &config);
        assert_eq!(*incremental.output(), build(&snapshot, &config));
        Harness {
            snapshot,
            config,
            incremental,
        }
    }

    /// Applies `changes`, updates, checks the output and the delta, and returns the delta.
    fn step(&mut self, changes: Vec<Change>) -> BuildDelta {
        let before = self.incremental.output().clone();
        let changed: Vec<ObjectKey> = changes
            .into_iter()
            .filter_map(|c| {
                let key = c.key();
                self.snapshot.apply(c).map(|_| key)
            })
            .collect();
        let delta = self.incremental.update(&self.snapshot, &changed);
        let expected = build(&self.snapshot, &self.config);
        assert_eq!(*self.incremental.output(), expected);
        assert_eq!(
            delta,
            BuildDelta {
                full: delta.full,
                ..BuildDelta::between(&before, &expected)
            }
        );
        delta
    }

    fn apply(&mut self, yaml: &str) -> BuildDelta {
        self.step(objects(yaml).into_iter().map(Change::Apply).collect())
    }

    fn delete(&mut self, kind: Kind, name: &str) -> BuildDelta {
        self.step(vec![Change::Delete(key(kind, name))])
    }

    fn part(&self, kind: Kind, name: &str) -> Option<u64> {
        self.incremental.part_of.get(&key(kind, name)).copied()
    }
}

fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, NamespacedName::new("default", name))
}

fn ingress(name: &str, host: &str, service: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n"
    )
}

fn proxy(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {{name: {name}, namespace: default}}\nspec:\n{spec}"
    )
}

fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_ingress_moves_from_one_host_to_another() {
    let mut h = Harness::new(&format!(
        "{}{}{}",
        service_yaml("s1"),
        ingress("a", "a.com", "s1"),
        ingress("b", "b.com", "s1")
    ));
    assert_ne!(h.part(Kind::Ingress, "a"), h.part(Kind::Ingress, "b"));
    let mut moved = ingress("a", "b.com", "s1");
    moved = moved.replace("path: /,", "path: /a,");
    let delta = h.apply(&moved);
    assert!(!delta.full);
    assert_eq!(delta.http, names(&["a.com", "b.com"]));
    assert!(delta.clusters.is_empty(), "the cluster is still used");
    assert!(!h.incremental.output().dag.http.contains_key("a.com"));
    assert_eq!(h.part(Kind::Ingress, "a"), h.part(Kind::Ingress, "b"));
    // And back: the part splits again.
    let delta = h.apply(&ingress("a", "a.com", "s1"));
    assert_eq!(delta.http, names(&["a.com", "b.com"]));
    assert_ne!(h.part(Kind::Ingress, "a"), h.part(Kind::Ingress, "b"));
}

#[test]
fn a_second_ingress_claiming_a_host_changes_only_its_own_status() {
    let mut h = Harness::new(&format!(
        "{}{}",
        service_yaml("s1"),
        ingress("a", "a.com", "s1")
    ));
    let delta = h.apply(&ingress("b", "a.com", "s1"));
    assert!(
        delta.http.is_empty(),
        "a.com is served as before: {delta:?}"
    );
    assert_eq!(delta.status, [key(Kind::Ingress, "b")].into());
    let out = h.incremental.output();
    assert_eq!(
        error_reasons(out, &key(Kind::Ingress, "b")),
        vec![Reason::DuplicateMatchConditions]
    );
    // The first one goes: the second one serves the host now.
    let delta = h.delete(Kind::Ingress, "a");
    assert_eq!(delta.http, names(&["a.com"]));
    assert_eq!(
        delta.status,
        [key(Kind::Ingress, "a"), key(Kind::Ingress, "b")].into()
    );
}

#[test]
fn an_include_added_and_removed_moves_a_child_in_and_out_of_orphanhood() {
    let root = |includes: &str| {
        proxy(
            "root",
            &format!(
                "  virtualhost: {{fqdn: r.com}}\n  routes:\n  - services: [{{name: s1, port: 80}}]\n{includes}"
            ),
        )
    };
    let child = proxy(
        "child",
        "  routes:\n  - conditions: [{prefix: /c}]\n    services: [{name: s1, port: 8080}]\n",
    );
    let mut h = Harness::new(&format!("{}{}{child}", service_yaml("s1"), root("")));
    let child_key = key(Kind::HTTPProxy, "child");
    assert_eq!(
        status_of(h.incremental.output(), &child_key).current,
        Validity::Orphaned
    );
    let delta = h.apply(&root(
        "  includes:\n  - name: child\n    conditions: [{prefix: /team}]\n",
    ));
    assert!(!delta.full);
    assert_eq!(delta.http, names(&["r.com"]));
    assert_eq!(delta.status, [child_key.clone()].into());
    assert_eq!(delta.clusters.len(), 1, "the child's cluster on port 8080");
    assert_eq!(
        status_of(h.incremental.output(), &child_key).current,
        Validity::Valid
    );
    let delta = h.apply(&root(""));
    assert_eq!(delta.status, [child_key.clone()].into());
    assert_eq!(delta.clusters.len(), 1);
    assert_eq!(
        status_of(h.incremental.output(), &child_key).current,
        Validity::Orphaned
    );
}

#[test]
fn an_include_of_a_missing_proxy_is_rebuilt_when_it_appears() {
    let mut h = Harness::new(&format!(
        "{}{}",
        service_yaml("s1"),
        proxy(
            "root",
            "  virtualhost: {fqdn: r.com}\n  includes:\n  - name: child\n    namespace: team\n",
        )
    ));
    let root_key = key(Kind::HTTPProxy, "root");
    assert_eq!(
        error_reasons(h.incremental.output(), &root_key),
        vec![Reason::IncludeNotFound]
    );
    let child = "---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {name: child, namespace: team}\nspec:\n  routes:\n  - services: [{name: s1, port: 80}]\n";
    let delta = h.apply(child);
    assert!(delta.status.contains(&root_key));
    assert_eq!(delta.http, names(&["r.com"]));
}

#[test]
fn a_secret_becoming_valid_serves_the_host_with_tls() {
    let pem = cert(&["a.com"]);
    let tls_ingress = format!(
        "{}  tls:\n  - hosts: [a.com]\n    secretName: t1\n",
        ingress("a", "a.com", "s1")
    );
    let mut h = Harness::new(&format!("{}{tls_ingress}", service_yaml("s1")));
    assert!(h.incremental.output().dag.https.is_empty());
    let mut snapshot_changes = vec![Change::Apply(tls_secret("t1", "garbage", "garbage"))];
    let delta = h.step(std::mem::take(&mut snapshot_changes));
    assert!(delta.https.is_empty() && delta.secrets.is_empty());
    assert_eq!(
        delta.status,
        [key(Kind::Ingress, "a")].into(),
        "not found → not valid"
    );
    let delta = h.step(vec![Change::Apply(tls_secret("t1", &pem.crt, &pem.key))]);
    assert!(!delta.full);
    assert_eq!(delta.https, names(&["a.com"]));
    assert_eq!(delta.secrets.len(), 1);
    assert_eq!(delta.status, [key(Kind::Ingress, "a")].into());
    assert!(delta.http.is_empty(), "plain HTTP still serves the route");
}

#[test]
fn a_deleted_service_removes_its_cluster_and_fails_the_route() {
    let mut h = Harness::new(&format!(
        "{}{}{}{}",
        service_yaml("s1"),
        service_yaml("s2"),
        ingress("a", "a.com", "s1"),
        ingress("b", "b.com", "s2")
    ));
    let delta = h.delete(Kind::Service, "s1");
    assert!(!delta.full);
    assert_eq!(delta.http, names(&["a.com"]), "b.com is not touched");
    assert_eq!(delta.clusters.len(), 1);
    assert!(delta.references.is_empty(), "s1 is still looked up");
    assert_eq!(
        error_reasons(h.incremental.output(), &key(Kind::Ingress, "a")),
        vec![Reason::ServiceUnresolvedReference]
    );
}

#[test]
fn changes_nothing_depends_on_rebuild_nothing() {
    let mut h = Harness::new(&format!(
        "{}{}",
        service_yaml("s1"),
        ingress("a", "a.com", "s1")
    ));
    assert!(h.apply(&service_yaml("unused")).is_empty());
    let slice = "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s1-1, namespace: default, labels: {kubernetes.io/service-name: s1}}\naddressType: IPv4\nendpoints: []\n";
    assert!(h.apply(slice).is_empty());
    // A re-sent object changes nothing either.
    let delta = h
        .incremental
        .update(&h.snapshot, &[key(Kind::Ingress, "a")]);
    assert!(delta.is_empty());
}

#[test]
fn a_delegation_rebuilds_only_the_parts_that_read_it() {
    let pem = cert(&["a.com"]);
    let tls_ingress = format!(
        "{}  tls:\n  - hosts: [a.com]\n    secretName: certs/wild\n",
        ingress("a", "a.com", "s1")
    );
    let secret = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: wild, namespace: certs}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: {:?}\n  tls.key: {:?}\n",
        pem.crt, pem.key
    );
    let mut h = Harness::new(&format!(
        "{}{tls_ingress}{}{secret}",
        service_yaml("s1"),
        ingress("b", "b.com", "s1")
    ));
    let a = key(Kind::Ingress, "a");
    assert_eq!(
        error_reasons(h.incremental.output(), &a),
        vec![Reason::DelegationNotPermitted]
    );
    let untouched = h.part(Kind::Ingress, "b");
    let delegation = "---\napiVersion: projectsesame.io/v1\nkind: TLSCertificateDelegation\nmetadata: {name: d, namespace: certs}\nspec:\n  delegations:\n  - {secretName: wild, targetNamespaces: [default]}\n";
    let delta = h.apply(delegation);
    assert!(!delta.full);
    assert_eq!(delta.https, names(&["a.com"]));
    let d = ObjectKey::new(
        Kind::TLSCertificateDelegation,
        NamespacedName::new("certs", "d"),
    );
    assert_eq!(delta.status, [a.clone(), d.clone()].into());
    assert_eq!(h.part(Kind::Ingress, "b"), untouched, "b was not rebuilt");
    let delta = h.step(vec![Change::Delete(d.clone())]);
    assert_eq!(delta.https, names(&["a.com"]));
    assert_eq!(delta.status, [a, d].into());
}

#[test]
fn an_ingress_class_rebuilds_the_objects_of_its_class() {
    let classy = ingress("a", "a.com", "s1").replace(
        "namespace: default}",
        "namespace: default, annotations: {kubernetes.io/ingress.class: ic}}",
    );
    let mut h = Harness::new(&format!(
        "{}{classy}{}",
        service_yaml("s1"),
        ingress("b", "b.com", "s1")
    ));
    assert!(!h.incremental.output().dag.http.contains_key("a.com"));
    let untouched = h.part(Kind::Ingress, "b");
    let class = |controller: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: ic}}\nspec: {{controller: {controller}}}\n"
        )
    };
    let delta = h.apply(&class(crate::build::INGRESS_CONTROLLER));
    assert!(!delta.full);
    assert_eq!(delta.http, names(&["a.com"]));
    assert_eq!(delta.status, [key(Kind::Ingress, "a")].into());
    assert_eq!(h.part(Kind::Ingress, "b"), untouched, "b was not rebuilt");
    let delta = h.apply(&class("example.com/other"));
    assert_eq!(delta.http, names(&["a.com"]));
    assert!(h.apply(&class("example.com/another")).is_empty());
}

#[test]
fn a_client_certificate_change_is_a_full_build() {
    let config = BuildConfig {
        upstream: crate::build::UpstreamConfig {
            client_certificate: Some(NamespacedName::new("default", "client")),
            ..Default::default()
        },
        ..BuildConfig::default()
    };
    let mut snapshot = snapshot_of(objects(&ingress("a", "a.com", "s1")));
    let mut incremental = IncrementalBuild::new(&snapshot, &config);
    let pem = cert(&["envoy"]);
    snapshot.apply(Change::Apply(tls_secret("client", &pem.crt, &pem.key)));
    let delta = incremental.update(&snapshot, &[key(Kind::Secret, "client")]);
    assert!(delta.full);
    assert_eq!(*incremental.output(), build(&snapshot, &config));
}

/// An ExtensionService is its own part: its status stays when HTTPProxies start using it, a
/// change to it rebuilds them, and a change to its Service rebuilds both.
#[test]
fn extension_services_rebuild_their_users() {
    let ext = |protocol: &str| {
        format!(
            "---\napiVersion: projectsesame.io/v1alpha1\nkind: ExtensionService\nmetadata: {{name: authz, namespace: default}}\nspec:\n  protocol: {protocol}\n  services: [{{name: authz, port: 80}}]\n"
        )
    };
    let pem = cert(&["a.com"]);
    let mut h = Harness::new(&format!(
        "{}{}{}",
        service_yaml("web"),
        service_yaml("authz"),
        ext("h2c")
    ));
    h.step(vec![Change::Apply(tls_secret("tls", &pem.crt, &pem.key))]);
    let key = ObjectKey::new(
        Kind::ExtensionService,
        NamespacedName::new("default", "authz"),
    );
    assert_eq!(
        h.incremental.output().status.objects[&key].current,
        Validity::Valid
    );
    h.apply(
        "---\napiVersion: projectsesame.io/v1\nkind: HTTPProxy\nmetadata: {name: web, namespace: default}\nspec:\n  virtualhost:\n    fqdn: a.com\n    tls: {secretName: tls}\n    authorization: {extensionRef: {name: authz}}\n  routes: [{services: [{name: web, port: 80}]}]\n",
    );
    assert!(h.incremental.output().status.objects.contains_key(&key));
    assert!(
        h.incremental.output().dag.https["a.com"]
            .authorization
            .is_some()
    );
    // The ExtensionService turns invalid: the host closes.
    let delta = h.apply(&ext("gopher"));
    assert!(delta.https.contains("a.com"), "{delta:?}");
    assert!(!h.incremental.output().dag.https.contains_key("a.com"));
    assert_eq!(
        h.incremental.output().status.objects[&key].current,
        Validity::Invalid
    );
    h.apply(&ext("h2c"));
    assert!(h.incremental.output().dag.https.contains_key("a.com"));
    // Its Service goes: both the ExtensionService and the host are rebuilt.
    h.delete(Kind::Service, "authz");
    assert_eq!(
        h.incremental.output().status.objects[&key].current,
        Validity::Invalid
    );
    assert!(!h.incremental.output().dag.https.contains_key("a.com"));
    h.delete(Kind::ExtensionService, "authz");
    assert!(!h.incremental.output().status.objects.contains_key(&key));
}

#[test]
fn a_jwks_cluster_two_hosts_share_stays_until_the_last_one_goes() {
    let pem = cert(&["a.com", "b.com"]);
    let jwt_root = |name: &str, host: &str, uri: &str| {
        proxy(
            name,
            &format!(
                "  virtualhost:\n    fqdn: {host}\n    tls: {{secretName: t1}}\n    jwtProviders:\n    - {{name: p, default: true, remoteJWKS: {{uri: '{uri}'}}}}\n  routes:\n  - services: [{{name: s1, port: 80}}]\n"
            ),
        )
    };
    let mut h = Harness::new(&format!(
        "{}{}{}",
        service_yaml("s1"),
        jwt_root("a", "a.com", "http://keys.example.com/a"),
        jwt_root("b", "b.com", "http://keys.example.com/b"),
    ));
    h.step(vec![Change::Apply(tls_secret("t1", &pem.crt, &pem.key))]);
    const JWKS: &str = "dnsname/http/keys.example.com:80";
    assert_ne!(h.part(Kind::HTTPProxy, "a"), h.part(Kind::HTTPProxy, "b"));
    assert!(h.incremental.output().dag.clusters.contains_key(JWKS));
    // One host stops using it: the other still does.
    let delta = h.apply(&jwt_root("a", "a.com", "http://other.example.com/a"));
    assert!(!delta.full);
    assert_eq!(delta.https, names(&["a.com"]));
    assert_eq!(
        delta.clusters,
        names(&["dnsname/http/other.example.com:80"]),
        "{JWKS} is still used by b.com"
    );
    // The last one goes: so does the cluster.
    let delta = h.delete(Kind::HTTPProxy, "b");
    assert!(delta.clusters.contains(JWKS));
    assert!(!h.incremental.output().dag.clusters.contains_key(JWKS));
    // A provider asking DNS for IPv6 only gets a cluster of its own beside the plain one.
    h.apply(&jwt_root("b", "b.com", "http://keys.example.com/b"));
    let verifying = jwt_root("a", "a.com", "https://keys.example.com/a")
        .replace("'}}", "', dnsLookupFamily: v6}}");
    let delta = h.apply(&verifying);
    let added: Vec<_> = delta.clusters.iter().collect();
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(h.incremental.output().dag.clusters.contains_key(JWKS));
}

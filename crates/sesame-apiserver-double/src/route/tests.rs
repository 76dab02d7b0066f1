use super::*;

fn obj(resource: Resource, ns: Option<&str>, name: &str, sub: Subresource) -> Option<Target> {
    Some(Target::Object {
        resource,
        namespace: ns.map(str::to_owned),
        name: name.into(),
        sub,
    })
}

#[test]
fn core_paths() {
    assert_eq!(parse("/version"), Some(Target::Version));
    assert_eq!(
        parse("/api/v1/services"),
        Some(Target::Collection {
            resource: Resource::Service,
            namespace: None
        })
    );
    assert_eq!(
        parse("/api/v1/namespaces/ns/secrets"),
        Some(Target::Collection {
            resource: Resource::Secret,
            namespace: Some("ns".into())
        })
    );
    assert_eq!(
        parse("/api/v1/namespaces/ns/services/a"),
        obj(Resource::Service, Some("ns"), "a", Subresource::Main)
    );
    assert_eq!(
        parse("/api/v1/namespaces/ns/services/a/status"),
        obj(Resource::Service, Some("ns"), "a", Subresource::Status)
    );
}

#[test]
fn namespaces_are_cluster_scoped_objects_too() {
    assert_eq!(
        parse("/api/v1/namespaces"),
        Some(Target::Collection {
            resource: Resource::Namespace,
            namespace: None
        })
    );
    assert_eq!(
        parse("/api/v1/namespaces/ns"),
        obj(Resource::Namespace, None, "ns", Subresource::Main)
    );
    assert_eq!(
        parse("/api/v1/namespaces/ns/status"),
        obj(Resource::Namespace, None, "ns", Subresource::Status)
    );
}

#[test]
fn group_paths() {
    assert_eq!(
        parse("/apis/networking.k8s.io/v1/namespaces/ns/ingresses/i/status"),
        obj(Resource::Ingress, Some("ns"), "i", Subresource::Status)
    );
    assert_eq!(
        parse("/apis/networking.k8s.io/v1/ingressclasses/sesame"),
        obj(Resource::IngressClass, None, "sesame", Subresource::Main)
    );
    assert_eq!(
        parse("/apis/projectsesame.io/v1/httpproxies"),
        Some(Target::Collection {
            resource: Resource::HttpProxy,
            namespace: None
        })
    );
    assert_eq!(
        parse("/apis/coordination.k8s.io/v1/namespaces/ns/leases/l"),
        obj(Resource::Lease, Some("ns"), "l", Subresource::Main)
    );
}

#[test]
fn unknown_paths() {
    for path in [
        "/",
        "/api",
        "/api/v1/pods",
        "/api/v1/namespaces/ns/pods",
        "/apis/apps/v1/deployments",
        "/apis/networking.k8s.io/v1/namespaces/ns/ingressclasses/x",
        "/apis/networking.k8s.io/v1/ingresses/x",
        "/api/v1/namespaces/ns/services/a/scale",
    ] {
        assert_eq!(parse(path), None, "{path}");
    }
}
